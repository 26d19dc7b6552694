import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator, type CatalogApp, type Container } from './api'
import { ContainerRow, formatSize, formatUptime, PullForm } from './pages/Containers'
import { AppRow, routeUrls, StorePage } from './pages/Store'
import { routeFetch } from './test/fetch'

class SilentEventSource {
  onmessage = null
  onerror = null
  close() {}
}

beforeEach(() => {
  setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() })
  vi.stubGlobal('EventSource', SilentEventSource)
})
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

const HELLO: CatalogApp = {
  id: 'hello',
  name: 'Hello',
  description: 'A tiny HTTP app.',
  latest: '2.0.0',
  versions: ['2.0.0', '1.1.0', '1.0.0'],
  installed: null,
  state: null,
  data: false,
  memory: 32,
  disk: 20,
  routes: [
    { host: 'hello', port: 8000, login: false },
    { path: '/hello', port: 8000, login: true },
  ],
}

function inTable(node: React.ReactNode) {
  return render(
    <MemoryRouter>
      <table>
        <tbody>{node}</tbody>
      </table>
    </MemoryRouter>,
  )
}

describe('service store', () => {
  it('names where an app answers: its host under the domain, or a path of the cell’s site', () => {
    expect(routeUrls(HELLO, 'home.cell')).toEqual(['https://hello.home.cell/', 'https://home.cell/hello/'])
    expect(routeUrls(HELLO, undefined)).toEqual([])
  })

  it('turns the store on with a run', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/store' && init.method === 'PUT') return { status: 202, body: { run_id: 'r1' } }
      if (url === '/api/store') return { status: 200, body: { enabled: false, index: '', installed: [], apps: [], error: null } }
      if (url.startsWith('/api/runs/')) return { status: 200, body: { id: 'r1', status: 'running', tags: ['store'] } }
      return { status: 200, body: { domain: 'home.cell' } }
    })
    const user = userEvent.setup()
    render(
      <MemoryRouter>
        <StorePage />
      </MemoryRouter>,
    )
    await user.click(await screen.findByRole('button', { name: 'Turn the store on' }))
    await screen.findByRole('heading', { name: 'Turning the store on' })
    const put = calls.find((c) => c.init.method === 'PUT')
    expect(JSON.parse(String(put?.init.body))).toEqual({ enabled: true })
  })

  it('installs the chosen version and shows a conflict with the field the API names', async () => {
    const calls = routeFetch(() => ({
      status: 409,
      body: { error: 'hello 1.0.0 does not fit this cell', fields: { 'routes[0].host': "'hello' is the name of a peer" } },
    }))
    const onRun = vi.fn()
    const user = userEvent.setup()
    inTable(<AppRow app={HELLO} domain="home.cell" onRun={onRun} />)
    await user.selectOptions(screen.getByLabelText('Version of Hello'), '1.0.0')
    await user.click(screen.getByRole('button', { name: 'Install' }))
    expect(calls[0].url).toBe('/api/store/apps')
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ app: 'hello', version: '1.0.0' })
    await screen.findByText(/routes\[0\]\.host: 'hello' is the name of a peer/)
    expect(onRun).not.toHaveBeenCalled()
  })

  it('offers to change an installed app’s version, to remove it, and to purge only after asking', async () => {
    const calls = routeFetch(() => ({ status: 202, body: { run_id: 'r2' } }))
    const onRun = vi.fn()
    const user = userEvent.setup()
    inTable(<AppRow app={{ ...HELLO, installed: '1.0.0', state: 'running' }} domain="home.cell" onRun={onRun} />)
    expect(screen.getByRole('link', { name: 'https://hello.home.cell/' })).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Change to 2.0.0' }))
    expect(calls[0].url).toBe('/api/store/apps/hello/upgrade')
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ version: '2.0.0' })
    await user.click(screen.getByRole('button', { name: 'Remove' }))
    expect(calls[1].url).toBe('/api/store/apps/hello')
    expect(calls[1].init.method).toBe('DELETE')
    await user.click(screen.getByRole('button', { name: 'Purge…' }))
    await user.click(screen.getByRole('button', { name: 'Delete Hello and its data' }))
    expect(calls[2].url).toBe('/api/store/apps/hello?purge=1')
    await waitFor(() => expect(onRun).toHaveBeenCalledTimes(3))
  })

  it('offers Repair, not Install, for an app the state records whose container is gone (after a restore)', async () => {
    const calls = routeFetch(() => ({ status: 202, body: { run_id: 'r3' } }))
    const onRun = vi.fn()
    const user = userEvent.setup()
    inTable(<AppRow app={{ ...HELLO, data: true }} domain="home.cell" recorded="1.0.0" onRun={onRun} />)
    expect(screen.queryByRole('button', { name: 'Install' })).not.toBeInTheDocument()
    expect(screen.getByText(/its container is gone; its data is kept/)).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Repair' }))
    expect(calls[0].url).toBe('/api/store/apps/hello/repair')
    expect(calls[0].init.method).toBe('POST')
    await waitFor(() => expect(onRun).toHaveBeenCalledWith('r3', 'Repairing Hello (its data kept)'))
  })

  it('offers no Repair for a running app', () => {
    routeFetch(() => ({ status: 202, body: { run_id: 'r4' } }))
    inTable(<AppRow app={{ ...HELLO, installed: '1.0.0', state: 'running' }} recorded="1.0.0" onRun={vi.fn()} />)
    expect(screen.queryByRole('button', { name: 'Repair' })).not.toBeInTheDocument()
  })
})

const CONTAINER: Container = {
  id: '0123456789ab',
  name: 'pic-hello',
  image: 'registry.example.org/pic-test/hello@sha256:' + 'a'.repeat(64),
  state: 'running',
  ports: [{ container_port: 8000, protocol: 'tcp', host_ip: '127.0.0.1', host_port: 8000 }],
  started_at: '2026-01-01T00:00:00Z',
  uptime_seconds: 3725,
  app: 'hello',
  version: '1.0.0',
}

describe('containers', () => {
  it('formats uptimes and sizes', () => {
    expect(formatUptime(null)).toBe('—')
    expect(formatUptime(42)).toBe('42 s')
    expect(formatUptime(3725)).toBe('1 h 2 min')
    expect(formatUptime(90000)).toBe('1 d 1 h')
    expect(formatSize(512)).toBe('512 B')
    expect(formatSize(5 * 1024 * 1024)).toBe('5.0 MiB')
  })

  it('shows a container, stops it and reads its logs', async () => {
    const calls = routeFetch((url) =>
      url.endsWith('/logs?lines=200')
        ? { status: 200, body: { name: 'pic-hello', lines: ['started', 'listening'] } }
        : { status: 200, body: { name: 'pic-hello', state: 'exited' } },
    )
    const onChanged = vi.fn()
    const user = userEvent.setup()
    inTable(<ContainerRow container={CONTAINER} onChanged={onChanged} />)
    expect(screen.getByText('127.0.0.1:8000 → 8000/tcp')).toBeInTheDocument()
    expect(screen.getByText('1 h 2 min')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Stop' }))
    expect(calls[0].url).toBe('/api/containers/pic-hello/stop')
    expect(calls[0].init.method).toBe('POST')
    await waitFor(() => expect(onChanged).toHaveBeenCalled())
    await user.click(screen.getByRole('button', { name: 'Logs' }))
    expect((await screen.findByLabelText('Logs')).textContent).toBe('started\nlistening')
  })

  it('refuses an image without its registry before sending', async () => {
    const calls = routeFetch(() => ({ status: 202, body: { run_id: 'r3' } }))
    const onRun = vi.fn()
    const user = userEvent.setup()
    render(<PullForm onRun={onRun} />)
    await user.type(screen.getByLabelText('Image'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Pull' }))
    expect(screen.getByText(/with its registry and a tag or a digest: registry/)).toBeInTheDocument()
    expect(calls).toHaveLength(0)
    await user.clear(screen.getByLabelText('Image'))
    await user.type(screen.getByLabelText('Image'), 'registry.example.org/apps/hello:1.0')
    await user.click(screen.getByRole('button', { name: 'Pull' }))
    await waitFor(() => expect(onRun).toHaveBeenCalledWith('r3'))
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ reference: 'registry.example.org/apps/hello:1.0' })
  })
})
