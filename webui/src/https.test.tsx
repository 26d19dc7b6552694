// The way from the wizard on plain HTTP to the cell's HTTPS addresses: the root certificate first,
// then the addresses; the switch the setup run makes while the wizard watches it.
import { render, screen, waitFor, within } from '@testing-library/react'
import { MemoryRouter, Route, Routes } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HttpsStep } from './components/TrustRoot'
import { SetupPage } from './pages/Setup'
import { TrustPage } from './pages/Trust'
import { VaultPage } from './pages/Vault'
import { openedStream, useFakeEventSource } from './test/eventSource'

const URLS = ['https://home.cell/', 'https://192.168.1.5/']

/** fetch as :8081 answers it: JSON from the API until caddy switched, then the /trust page (HTML). */
function cellFetch(opts: { switched: () => boolean; runStatus?: () => string }) {
  const calls: { url: string; init?: RequestInit }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      calls.push({ url, init })
      if (opts.switched()) return new Response('<!doctype html><title>PIC</title>', { status: 200, headers: { 'Content-Type': 'text/html' } })
      const body =
        url === '/api/setup/status'
          ? { completed: true }
          : url.startsWith('/api/runs/')
            ? { id: 'r1', status: opts.runStatus?.() ?? 'running', tags: [] }
            : url === '/cell.json'
              ? { domain: 'home.cell', https: URLS }
              : {}
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
    }),
  )
  return calls
}

function renderSetup() {
  return render(
    <MemoryRouter initialEntries={['/setup']}>
      <Routes>
        <Route path="/setup" element={<SetupPage />} />
        <Route path="/" element={<p>dashboard</p>} />
      </Routes>
    </MemoryRouter>,
  )
}

useFakeEventSource()
beforeEach(() => {
  // The wizard started its run: the setup's answer named the HTTPS addresses.
  sessionStorage.setItem('pic_setup_run', 'r1')
  sessionStorage.setItem('pic_setup_https', JSON.stringify(URLS))
})
afterEach(() => {
  sessionStorage.clear()
})

function expectHttpsStep() {
  const step = screen.getByTestId('https-step')
  expect(within(step).getByRole('link', { name: 'Download root certificate' })).toHaveAttribute('href', '/ca.crt')
  for (const platform of ['Android', 'iPhone and iPad', 'macOS', 'Windows', 'Debian and Ubuntu']) {
    expect(within(step).getByRole('heading', { name: platform })).toBeInTheDocument()
  }
  const links = within(within(step).getByRole('list', { name: 'HTTPS addresses of the cell' })).getAllByRole('link')
  expect(links.map((a) => a.getAttribute('href'))).toEqual(URLS)
  // The root certificate comes before the addresses: trust first, then continue.
  const order = step.textContent ?? ''
  expect(order.indexOf('Download root certificate')).toBeLessThan(order.indexOf('Continue to https://home.cell/'))
}

describe('the wizard’s end', () => {
  it('when the run’s own caddy reload switches :8081, leads on to HTTPS with the root first', async () => {
    let switched = false
    const calls = cellFetch({ switched: () => switched })
    renderSetup()
    await screen.findByTestId('run-view')
    const es = await openedStream()
    es.emit({ event: 'playbook_on_task_start', counter: 1, event_data: { role: 'caddy', task: 'Write the Caddyfile', task_uuid: 't1' } })
    await new Promise((r) => setTimeout(r, 2500))
    expect(screen.queryByTestId('https-step')).toBeNull() // the API still answers: no switch yet

    switched = true
    expect(await screen.findByText('Your cell has switched to HTTPS.', {}, { timeout: 8000 })).toBeInTheDocument()
    expectHttpsStep()
    // The probe does not follow the redirect: it only asks whether there is one.
    const probe = calls.find((c) => c.url === '/api/setup/status' && c.init?.redirect === 'manual')
    expect(probe).toBeTruthy()
    expect(screen.queryByRole('button', { name: /dashboard/ })).toBeNull() // not on plain HTTP any more
  }, 15000)

  it('one failed probe is not taken for the switch', async () => {
    let answers = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (url === '/api/setup/status' && init?.redirect === 'manual' && answers++ === 0) throw new TypeError('network')
        return new Response(JSON.stringify(url.startsWith('/api/runs/') ? { id: 'r1', status: 'running', tags: [] } : { completed: true }),
          { status: 200, headers: { 'Content-Type': 'application/json' } })
      }),
    )
    renderSetup()
    await screen.findByTestId('run-view')
    await new Promise((r) => setTimeout(r, 6500))
    expect(answers).toBeGreaterThanOrEqual(2)
    expect(screen.queryByTestId('https-step')).toBeNull()
  }, 15000)

  it('a run that ends before the switch is seen says the cell is ready, then leads to HTTPS', async () => {
    let status = 'running'
    cellFetch({ switched: () => false, runStatus: () => status })
    renderSetup()
    await screen.findByTestId('run-view')
    status = 'successful'
    const es = await openedStream()
    es.emit({ event: 'pic_run_status', counter: 9, status: 'successful' })
    expect(await screen.findByText('Your cell is ready.')).toBeInTheDocument()
    expectHttpsStep()
  })

  it('a failed run keeps the dashboard on :8081 (caddy was not switched)', async () => {
    cellFetch({ switched: () => false, runStatus: () => 'failed' })
    renderSetup()
    expect(await screen.findByRole('button', { name: 'Go to the dashboard' })).toBeInTheDocument()
    expect(screen.queryByTestId('https-step')).toBeNull()
  })
})

describe('the page :8081 leads to after setup', () => {
  it('offers the root certificate, then the addresses caddy names in /cell.json', async () => {
    const calls = cellFetch({ switched: () => false })
    render(<TrustPage />)
    expect(await screen.findByRole('link', { name: 'Continue to https://home.cell/' })).toBeInTheDocument()
    expectHttpsStep()
    expect(calls.map((c) => c.url)).toEqual(['/cell.json']) // no API call: :8081 has none after setup
  })
})

describe('one list of install steps', () => {
  it('the vault shows the same platforms as the wizard’s end', async () => {
    cellFetch({ switched: () => false })
    render(
      <MemoryRouter>
        <VaultPage />
      </MemoryRouter>,
    )
    const vault = screen.getAllByRole('heading', { level: 3 }).map((h) => h.textContent)
    render(<HttpsStep urls={URLS} />)
    const step = within(screen.getByTestId('https-step')).getAllByRole('heading', { level: 3 }).map((h) => h.textContent)
    expect(vault).toEqual(step)
    await waitFor(() => expect(screen.getAllByRole('link', { name: 'Download root certificate' })).toHaveLength(2))
  })
})
