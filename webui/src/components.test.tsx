import { act, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router-dom'
import { describe, expect, it, vi } from 'vitest'
import { setNavigator, type Peer } from './api'
import { RunView } from './components/RunView'
import { LoginPage } from './pages/Login'
import { AddPeerForm, ChangePeerForm, NewPeerPanel, PeersPage, QrImage } from './pages/Peers'
import { SetupCodeStep, SetupForm } from './pages/Setup'

import { FakeEventSource, useFakeEventSource } from './test/eventSource'
import { routeFetch } from './test/fetch'

useFakeEventSource()

/** Typing key by key re-renders the long time zone list each time; pasting is enough here. */
async function put(user: ReturnType<typeof userEvent.setup>, label: string, text: string) {
  await user.click(screen.getByLabelText(label))
  await user.paste(text)
}

async function fillSetup(user: ReturnType<typeof userEvent.setup>, name = 'home') {
  await put(user, 'Cell name', name)
  await put(user, 'Admin password', 'correct-Horse-battery-9')
  await put(user, 'Confirm password', 'correct-Horse-battery-9')
}

describe('setup code step', () => {
  it('asks for the code first and shows the API’s error when it is wrong', async () => {
    const calls = routeFetch(() => ({
      status: 403,
      body: { error: 'wrong setup code; `pic setup-code` on the cell prints it', fields: { setup_code: 'wrong setup code' } },
    }))
    const onAccepted = vi.fn()
    const user = userEvent.setup()
    render(<SetupCodeStep onAccepted={onAccepted} />)
    await user.click(screen.getByRole('button', { name: 'Continue' }))
    expect(screen.getByText('Enter the setup code.')).toBeInTheDocument()
    expect(calls).toHaveLength(0)
    await put(user, 'Setup code', 'AAAA-BBBB-CCCC-DDDD')
    await user.click(screen.getByRole('button', { name: 'Continue' }))
    expect(await screen.findByText(/wrong setup code; `pic setup-code` on the cell prints it/)).toBeInTheDocument()
    expect(screen.getByLabelText('Setup code')).toHaveAttribute('aria-invalid', 'true')
    expect(calls[0].url).toBe('/api/setup/code')
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ setup_code: 'AAAA-BBBB-CCCC-DDDD' })
    expect(onAccepted).not.toHaveBeenCalled()
  })

  it('goes on with the code the API accepted', async () => {
    routeFetch(() => ({ status: 200, body: { valid: true } }))
    const onAccepted = vi.fn()
    const user = userEvent.setup()
    render(<SetupCodeStep onAccepted={onAccepted} />)
    await put(user, 'Setup code', ' abcd-efgh-jklm-npqr ')
    await user.click(screen.getByRole('button', { name: 'Continue' }))
    await waitFor(() => expect(onAccepted).toHaveBeenCalledWith('abcd-efgh-jklm-npqr'))
  })
})

const OPTIONS = {
  services: ['dns', 'dhcp', 'ntp', 'wireguard', 'mail', 'calendar', 'files'],
  domain_modes: ['internal', 'pic_ngo', 'custom'],
  defaults: {
    cell_name: 'mycell',
    timezone: 'Etc/UTC',
    services: ['dns', 'ntp', 'wireguard', 'mail', 'calendar', 'files'],
    upstream_dns: [],
    lan: { lan_interface: 'enp1s0', lan_subnet: '192.168.1.0/24', lan_address: '192.168.1.37',
      dhcp_range: ['192.168.1.100', '192.168.1.200'] as [string, string] },
    lan_dhcp_servers: ['192.168.1.1'],
  },
} as const

describe('setup form: the LAN found', () => {
  it('shows the LAN, leaves DHCP off where another server answers, and sends what the person chose', async () => {
    const calls = routeFetch(() => ({ status: 202, body: { run_id: 'r2' } }))
    const onStarted = vi.fn()
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={onStarted} options={structuredClone(OPTIONS) as never} />)
    expect(screen.getByTestId('lan-found')).toHaveTextContent('enp1s0')
    expect(screen.getByTestId('lan-found')).toHaveTextContent('192.168.1.0/24')
    expect(screen.getByLabelText('LAN subnet')).toHaveValue('192.168.1.0/24')
    expect(screen.getByText(/Another DHCP server answers here \(192\.168\.1\.1\)/)).toBeInTheDocument()
    const dhcp = screen.getByLabelText(/Serve DHCP on this network/)
    expect(dhcp).not.toBeChecked()
    expect(screen.queryByLabelText('DHCP pool from')).toBeNull()
    await fillSetup(user)
    await user.click(dhcp)
    await user.clear(screen.getByLabelText('DHCP pool from'))
    await user.type(screen.getByLabelText('DHCP pool from'), '192.168.1.150')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(onStarted).toHaveBeenCalledWith('r2', []))
    const sent = JSON.parse(calls.find((c) => c.url === '/api/setup')!.init.body as string)
    expect(sent.services).toEqual(['dns', 'dhcp', 'ntp', 'wireguard', 'mail', 'calendar', 'files'])
    expect(sent).toMatchObject({ lan_interface: 'enp1s0', lan_subnet: '192.168.1.0/24', lan_address: '192.168.1.37',
      dhcp_range: ['192.168.1.150', '192.168.1.200'] })
  })

  it('shows the API’s 400 at the LAN field it names', async () => {
    routeFetch(() => ({ status: 400, body: { error: 'invalid', fields: { lan_address: 'LAN address must be a host address inside 192.168.1.0/24' } } }))
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} options={structuredClone(OPTIONS) as never} />)
    await fillSetup(user)
    await user.clear(screen.getByLabelText('Cell address on the LAN'))
    await user.type(screen.getByLabelText('Cell address on the LAN'), '10.0.0.5')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(await screen.findByText(/must be a host address inside/)).toBeInTheDocument()
    expect(screen.getByLabelText('Cell address on the LAN')).toHaveAttribute('aria-invalid', 'true')
  })

  it('without options keeps DHCP among the services and sends no LAN', async () => {
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} />)
    expect(screen.queryByTestId('lan-found')).toBeNull()
    expect(screen.getByLabelText('DHCP')).toBeChecked()
  })
})

describe('setup form', () => {
  it('shows inline errors and sends nothing while the form is invalid', async () => {
    const calls = routeFetch(() => ({ status: 500, body: {} }))
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} />)
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(screen.getByText('Enter a name for the cell.')).toBeInTheDocument()
    expect(screen.getByLabelText('Cell name')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByLabelText('Cell name')).toHaveFocus()
    expect(calls).toHaveLength(0)
  })

  it('asks for the domain only when it is not internal, and sends it', async () => {
    const calls = routeFetch(() => ({ status: 202, body: { run_id: 'r1', https: ['https://home.example.org/'] } }))
    const onStarted = vi.fn()
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={onStarted} />)
    expect(screen.queryByLabelText('Domain')).toBeNull()
    await user.click(screen.getByLabelText(/My own domain/))
    await fillSetup(user)
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(screen.getByText('Enter the domain.')).toBeInTheDocument()
    await put(user, 'Domain', 'Cell.Example.org')
    await user.selectOptions(screen.getByLabelText('Time zone'), 'Asia/Tokyo')
    await user.click(screen.getByLabelText('Mail'))
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(onStarted).toHaveBeenCalledWith('r1', ['https://home.example.org/']))
    expect(calls[0].url).toBe('/api/setup')
    expect(JSON.parse(calls[0].init.body as string)).toEqual({
      setup_code: 'ABCD-EFGH-JKLM-NPQR',
      cell_name: 'home',
      domain_mode: 'custom',
      domain: 'cell.example.org',
      timezone: 'Asia/Tokyo',
      admin_password: 'correct-Horse-battery-9',
      services: ['dns', 'dhcp', 'ntp', 'wireguard', 'calendar', 'files'],
    })
  })

  it('checks a pic_ngo name before the setup runs; a silent service does not block it', async () => {
    let available: boolean | null = false
    const calls = routeFetch((url) =>
      url.startsWith('/api/setup/name-available')
        ? available === null
          ? { status: 502, body: { error: 'bad gateway' } }
          : { status: 200, body: { name: 'home.pic.ngo', available, error: null } }
        : { status: 202, body: { run_id: 'r3' } },
    )
    const onStarted = vi.fn()
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={onStarted} />)
    await user.click(screen.getByLabelText(/PIC dynamic name/))
    expect(screen.queryByLabelText('Domain')).toBeNull()
    await fillSetup(user)
    expect(screen.getByTestId('pic-ngo-name')).toHaveTextContent('home.pic.ngo')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(await screen.findByText('home.pic.ngo is taken: choose another cell name.')).toBeInTheDocument()
    expect(calls.map((c) => c.url)).toEqual(['/api/setup/name-available?name=home'])
    available = null
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(onStarted).toHaveBeenCalledWith('r3', []))
    const sent = JSON.parse(calls.find((c) => c.url === '/api/setup')!.init.body as string)
    expect(sent.domain_mode).toBe('pic_ngo')
    expect(sent).not.toHaveProperty('domain')
  })

  it('filters the time zone list by search', async () => {
    routeFetch(() => ({ status: 500, body: {} }))
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} />)
    await put(user, 'Search time zones', 'new york')
    const options = [...(screen.getByLabelText('Time zone') as HTMLSelectElement).options].map((o) => o.value)
    expect(options).toContain('America/New_York')
    expect(options.filter((o) => o !== 'America/New_York').every((o) => o === options[0])).toBe(true)
    expect(options.length).toBeLessThanOrEqual(2) // the match, plus the current choice
  })

  it('shows the API’s 400 field errors at their fields', async () => {
    routeFetch(() => ({ status: 400, body: { error: 'invalid input', fields: { cell_name: 'this name is reserved' } } }))
    const onStarted = vi.fn()
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={onStarted} />)
    await fillSetup(user, 'taken')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(await screen.findByText('this name is reserved')).toBeInTheDocument()
    expect(screen.getByLabelText('Cell name')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByText('Please correct the marked fields.')).toBeInTheDocument()
    expect(onStarted).not.toHaveBeenCalled()
  })

  it('says so when the cell is set up already (409)', async () => {
    routeFetch(() => ({ status: 409, body: { error: 'setup already completed' } }))
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} />)
    await fillSetup(user)
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    expect(await screen.findByText('This cell is set up already.')).toBeInTheDocument()
  })

  it('gives password strength feedback as you type', async () => {
    routeFetch(() => ({ status: 500, body: {} }))
    const user = userEvent.setup()
    render(<SetupForm setupCode="ABCD-EFGH-JKLM-NPQR" onStarted={vi.fn()} />)
    const strength = screen.getByTestId('password-strength')
    expect(strength).toHaveTextContent('empty')
    await put(user, 'Admin password', 'abc')
    expect(strength).toHaveTextContent('too weak')
    await user.paste('DEF-ghi-42-xyzw-long')
    expect(strength).toHaveTextContent('strong')
  })
})

describe('new peer panel', () => {
  const base = {
    peer: { name: 'phone', ip: '10.0.0.2', public_key: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=' },
    config: '[Interface]',
    qr_svg: '',
    run_id: 'r9',
    private_key_included: true,
  }

  it('says the device can connect now when the cell applied it at once', () => {
    render(
      <MemoryRouter>
        <NewPeerPanel result={{ ...base, ready: true }} onClose={vi.fn()} />
      </MemoryRouter>,
    )
    expect(screen.getByTestId('peer-ready')).toHaveTextContent('Ready: the device can connect now.')
    expect(screen.getByText(/making it durable/)).toBeInTheDocument()
  })

  it('says it can connect when the run ends otherwise, and turns ready when its run has applied it', async () => {
    let status = 'running'
    routeFetch((url) => (url === '/api/runs/r9' ? { status: 200, body: { id: 'r9', status } } : { status: 404, body: {} }))
    render(
      <MemoryRouter>
        <NewPeerPanel result={{ ...base, ready: false, live_error: 'no agent' }} onClose={vi.fn()} />
      </MemoryRouter>,
    )
    expect(screen.queryByTestId('peer-ready')).toBeNull()
    expect(screen.getByText(/can connect when the cell has applied the change/)).toBeInTheDocument()
    status = 'successful'
    expect(await screen.findByTestId('peer-ready', {}, { timeout: 4000 })).toHaveTextContent('Ready: the device can connect now.')
    expect(screen.getByText(/Applied by its run/)).toBeInTheDocument()
  })

  it('says the device cannot connect yet when its run failed', async () => {
    routeFetch((url) => (url === '/api/runs/r9' ? { status: 200, body: { id: 'r9', status: 'failed' } } : { status: 404, body: {} }))
    render(
      <MemoryRouter>
        <NewPeerPanel result={{ ...base, ready: false }} onClose={vi.fn()} />
      </MemoryRouter>,
    )
    expect(await screen.findByTestId('peer-not-ready')).toHaveTextContent('could not apply the change')
    expect(screen.queryByTestId('peer-ready')).toBeNull()
  })
})

describe('add peer form', () => {
  it('sends name and route, and the key only when pasted', async () => {
    const calls = routeFetch(() => ({ status: 201, body: { peer: { name: 'phone', ip: '10.0.0.2' }, config: '[Interface]', qr_svg: '<svg/>' } }))
    const onAdded = vi.fn()
    const user = userEvent.setup()
    render(<AddPeerForm existing={[]} onAdded={onAdded} />)
    await user.type(screen.getByLabelText('Device name'), 'phone')
    await user.click(screen.getByLabelText(/Full tunnel/))
    await user.click(screen.getByRole('button', { name: 'Add peer' }))
    await waitFor(() => expect(onAdded).toHaveBeenCalled())
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ name: 'phone', route: 'full' })
    expect(onAdded.mock.calls[0][0].peer.ip).toBe('10.0.0.2')
  })

  it('refuses a bad key and a duplicate name before sending', async () => {
    const calls = routeFetch(() => ({ status: 201, body: {} }))
    const user = userEvent.setup()
    render(<AddPeerForm existing={['phone']} onAdded={vi.fn()} />)
    await user.type(screen.getByLabelText('Device name'), 'phone')
    await user.type(screen.getByLabelText('Public key (optional)'), 'abc')
    await user.click(screen.getByRole('button', { name: 'Add peer' }))
    expect(screen.getByText('A peer with this name exists already.')).toBeInTheDocument()
    expect(screen.getByText(/44 characters/)).toBeInTheDocument()
    expect(calls).toHaveLength(0)
  })

  it('shows an API conflict at the name', async () => {
    routeFetch(() => ({ status: 409, body: { error: 'peer exists', fields: { name: 'a peer with this name exists' } } }))
    const user = userEvent.setup()
    render(<AddPeerForm existing={[]} onAdded={vi.fn()} />)
    await user.type(screen.getByLabelText('Device name'), 'laptop')
    await user.type(screen.getByLabelText('Public key (optional)'), 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=')
    await user.click(screen.getByRole('button', { name: 'Add peer' }))
    expect(await screen.findByText('a peer with this name exists')).toBeInTheDocument()
  })

  it('renders the QR code as an image, so no script in the SVG can run', () => {
    render(<QrImage svg={'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'} label="QR" />)
    const img = screen.getByRole('img', { name: 'QR' })
    expect(img.getAttribute('src')).toMatch(/^data:image\/svg\+xml/)
    expect(document.querySelector('script')).toBeNull()
  })
})

describe('run view', () => {
  it('streams events into progress, shows the failure and reports the end', async () => {
    let status = 'running'
    routeFetch((url) => ({ status: 200, body: url === '/api/runs/9' ? { id: '9', status, tags: ['common', 'wireguard'] } : {} }))
    const onFinished = vi.fn()
    render(<RunView runId="9" onFinished={onFinished} />)
    const es = FakeEventSource.instances[0]
    expect(es.url).toBe('/api/runs/9/events')
    expect(es.withCredentials).toBe(true)
    expect(screen.getByTestId('current-task')).toHaveTextContent('Waiting')

    es.emit({ event: 'playbook_on_task_start', counter: 1, event_data: { role: 'common', task: 'Install base', task_uuid: 't1' } })
    expect(screen.getByTestId('current-task')).toHaveTextContent('Now: Preparing the host (Install base)')
    es.emit({ event: 'runner_on_ok', counter: 2, event_data: { role: 'common', task: 'Install base', task_uuid: 't1', host: 'cell', res: { changed: true } } })
    es.emit({ event: 'playbook_on_task_start', counter: 3, event_data: { role: 'wireguard', task: 'Start wg', task_uuid: 't2' } })
    await waitFor(() => expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '75'))
    es.emit({ event: 'runner_on_failed', counter: 4, event_data: { role: 'wireguard', task: 'Start wg', task_uuid: 't2', host: 'cell', res: { msg: 'wg-quick failed' } } })
    const alert = screen.getByTestId('run-failures')
    expect(alert).toHaveTextContent('Setting up the VPN: Start wg')
    expect(alert).toHaveTextContent('Host: cell')
    expect(alert).toHaveTextContent('wg-quick failed')
    expect(onFinished).not.toHaveBeenCalled()

    status = 'failed'
    es.emit({ event: 'pic_run_status', counter: 5, status: 'failed' })
    await waitFor(() => expect(onFinished).toHaveBeenCalledWith('failed'))
    expect(onFinished).toHaveBeenCalledTimes(1)
    expect(es.closed).toBe(true)
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100')
  })

  it('shows a preview’s diffs folded, and none of a real run', async () => {
    const diff = { event: 'runner_on_ok', counter: 2, event_data: { role: 'chrony', task: 'Write config', task_uuid: 't1', host: 'cell', res: { changed: true, diff: { before: 'a\n', after: 'b\n' } } } }
    routeFetch(() => ({ status: 200, body: { id: 'p', status: 'running', tags: ['chrony'], check: true } }))
    const { unmount } = render(<RunView runId="p" />)
    FakeEventSource.instances[0].emit(diff)
    const folded = await screen.findByTestId('run-diffs')
    expect(folded.tagName).toBe('DETAILS')
    expect(folded).not.toHaveAttribute('open')
    expect(folded).toHaveTextContent('Changes this would make (1 file or settings)')
    unmount()
    routeFetch(() => ({ status: 200, body: { id: 'r', status: 'running', tags: ['chrony'], check: false } }))
    render(<RunView runId="r" />)
    FakeEventSource.instances[1].emit(diff)
    await waitFor(() => expect(screen.getByTestId('run-roles')).toHaveTextContent('Setting up time (NTP)'))
    expect(screen.queryByTestId('run-diffs')).toBeNull()
  })

  it('says a failed change was undone and offers to try it again or keep it for repair', async () => {
    const failed = { id: 'f', status: 'failed', tags: ['common'], check: false, state_version: 4, undone_by: 'u', undo_of: null, error: 'x; undone' }
    const calls = routeFetch((url, init) => {
      if (url === '/api/runs/f') return { status: 200, body: failed }
      if (url === '/api/state/versions/4/rollback' && init.method === 'POST') return { status: 202, body: { run_id: 'again', version: 6 } }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><RunView runId="f" /></MemoryRouter>)
    const note = await screen.findByTestId('run-undone')
    expect(note).toHaveTextContent('This change failed, so the cell undid it by itself.')
    expect(within(note).getByRole('link', { name: 'See the undo run' })).toHaveAttribute('href', '/runs/u')
    await user.click(within(note).getByRole('button', { name: 'Keep the failed settings for repair' }))
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({ keep_if_failed: true })
    expect(await within(note).findByRole('link', { name: 'follow the run' })).toHaveAttribute('href', '/runs/again')
  })

  it('says which failed run an undo run undoes', async () => {
    routeFetch(() => ({ status: 200, body: { id: 'u', status: 'running', tags: ['common'], check: false, state_version: 5, undone_by: null, undo_of: 'f' } }))
    render(<MemoryRouter><RunView runId="u" /></MemoryRouter>)
    const note = await screen.findByTestId('run-undo-of')
    expect(within(note).getByRole('link', { name: 'See the failed run' })).toHaveAttribute('href', '/runs/f')
  })

  it('learns the end from the run resource when no final event comes', async () => {
    routeFetch(() => ({ status: 200, body: { id: '3', status: 'successful', tags: [] } }))
    const onFinished = vi.fn()
    render(<RunView runId="3" onFinished={onFinished} />)
    await waitFor(() => expect(onFinished).toHaveBeenCalledWith('successful'))
    // The stream of a finished run ends; the view must not reconnect to replay it again.
    const es = FakeEventSource.instances[0]
    act(() => es.onerror?.())
    expect(es.closed).toBe(true)
  })
})

describe('login page', () => {
  it('returns to the remembered page after login', async () => {
    routeFetch(() => ({ status: 200, body: { username: 'admin' } }))
    const user = userEvent.setup()
    render(
      <MemoryRouter initialEntries={['/login?next=%2Fpeers']}>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/peers" element={<p>peers page</p>} />
        </Routes>
      </MemoryRouter>,
    )
    expect(screen.getByText(/Your session ended/)).toBeInTheDocument()
    await user.type(screen.getByLabelText('Password'), 'secret-pass')
    await user.click(screen.getByRole('button', { name: 'Log in' }))
    expect(await screen.findByText('peers page')).toBeInTheDocument()
  })

  it('says when the password is wrong and stays', async () => {
    const toLogin = vi.fn()
    setNavigator({ toSetup: vi.fn(), toLogin })
    routeFetch(() => ({ status: 401, body: { error: 'invalid credentials' } }))
    const user = userEvent.setup()
    render(
      <MemoryRouter initialEntries={['/login']}>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
        </Routes>
      </MemoryRouter>,
    )
    await user.type(screen.getByLabelText('Password'), 'wrong')
    await user.click(screen.getByRole('button', { name: 'Log in' }))
    expect(await screen.findByText('Wrong user name or password.')).toBeInTheDocument()
    expect(toLogin).not.toHaveBeenCalled()
  })
})

describe('change a peer', () => {
  const phone: Peer = { name: 'phone', ip: '10.0.0.2', route: 'split', public_key: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', created: 'x' }

  it('sends only what changed, and shows the new configuration when the route changed', async () => {
    let peers = [phone]
    const calls = routeFetch((url, init) => {
      if (url === '/api/peers/phone' && init.method === 'PATCH') {
        peers = [{ ...phone, route: 'full' }]
        return { status: 200, body: { peer: peers[0], config: '[Interface]\nAllowedIPs = 0.0.0.0/0', qr_svg: '<svg/>', run_id: 'r9', ready: true } }
      }
      if (url === '/api/peers') return { status: 200, body: { peers } }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><PeersPage /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Change phone' }))
    const form = screen.getByRole('form', { name: 'Change peer phone' })
    await user.click(within(form).getByLabelText(/Full tunnel/))
    await user.click(within(form).getByRole('button', { name: 'Save' }))
    const panel = await screen.findByTestId('peer-changed')
    const patch = calls.find((c) => c.init.method === 'PATCH')!
    expect(JSON.parse(patch.init.body as string)).toEqual({ route: 'full' })
    expect(panel).toHaveTextContent('Applied: the device goes on with its keys.')
    expect(panel).toHaveTextContent('AllowedIPs = 0.0.0.0/0')
    expect(within(panel).getByRole('link', { name: 'watch run r9' })).toBeInTheDocument()
  })

  it('makes new keys after a confirmation and shows the new configuration once', async () => {
    const fresh = { ...phone, public_key: 'bmV3LWtleS1mb3ItdGhlLXBob25lLW9mLXRoZS1jZWw=' }
    const calls = routeFetch((url, init) => {
      if (url === '/api/peers/phone/keys' && init.method === 'POST')
        return { status: 200, body: { peer: fresh, config: '[Interface]\nPrivateKey = new', qr_svg: '<svg/>', run_id: 'r10', ready: true, private_key_included: true } }
      if (url === '/api/peers') return { status: 200, body: { peers: [phone] } }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><PeersPage /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Change phone' }))
    await user.click(screen.getByRole('button', { name: 'New keys for phone…' }))
    const dialog = screen.getByRole('alertdialog')
    expect(dialog).toHaveTextContent('stops working at once')
    expect(calls.some((c) => c.init.method === 'POST')).toBe(false)
    await user.click(within(dialog).getByRole('button', { name: 'Make new keys' }))
    expect(await screen.findByText('New keys for phone')).toBeInTheDocument()
    expect(screen.getByTestId('one-time-warning')).toHaveTextContent('It contains the device\'s private key')
    expect(screen.getByTestId('peer-ready')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({})
  })

  it('refuses a name another peer has before sending, and shows the API refusal at its field', async () => {
    const calls = routeFetch(() => ({ status: 400, body: { error: 'invalid peer change', fields: { name: 'reserved name' } } }))
    const user = userEvent.setup()
    render(<ChangePeerForm peer={phone} existing={['phone', 'laptop']} onChanged={vi.fn()} onCancel={vi.fn()} />)
    const name = screen.getByLabelText('Device name')
    await user.clear(name)
    await user.type(name, 'laptop')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(screen.getByText('A peer with this name exists already.')).toBeInTheDocument()
    expect(calls).toHaveLength(0)
    await user.clear(name)
    await user.type(name, 'tablet')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('reserved name')).toBeInTheDocument()
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ name: 'tablet' })
  })
})
