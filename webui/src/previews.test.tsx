import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it, vi } from 'vitest'
import { CellNetworkPage } from './pages/CellNetwork'
import { ExitsCard } from './pages/Exits'
import { FirewallPage } from './pages/Firewall'
import { NetworkServicesPage } from './pages/NetworkServices'
import { AddPeerForm, ChangePeerForm } from './pages/Peers'
import { StorePage } from './pages/Store'
import { UsersPage } from './pages/Users'
import { routeFetch } from './test/fetch'
import { openedStream, useFakeEventSource } from './test/eventSource'

useFakeEventSource()

const RUN = { status: 200, body: { id: 'p1', status: 'running', tags: ['wireguard'], kind: 'preview', check: true } }

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

describe('previewing a change of peers and people', () => {
  it('an admin previews a new device: the check-mode run is shown, nothing is added', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/peers?preview=1' && init.method === 'POST') return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url.startsWith('/api/runs/')) return RUN
      return { status: 404, body: { error: 'not found' } }
    })
    const onAdded = vi.fn()
    render(<MemoryRouter><AddPeerForm existing={[]} onAdded={onAdded} canPreview /></MemoryRouter>)
    await userEvent.type(screen.getByLabelText('Device name'), 'tablet')
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }))
    const preview = await screen.findByRole('region', { name: 'Preview of the change' })
    expect(preview).toHaveTextContent('Preview (check mode, nothing is changed)')
    expect((await openedStream()).url).toBe('/api/runs/p1/events')
    const sent = calls.filter((c) => c.init.method === 'POST')
    expect(sent.map((c) => c.url)).toEqual(['/api/peers?preview=1'])
    expect(body(sent[0].init)).toEqual({ name: 'tablet', route: 'split' })
    expect(onAdded).not.toHaveBeenCalled()
    // the form keeps what was typed, for the add itself
    expect(screen.getByLabelText('Device name')).toHaveValue('tablet')
    await userEvent.click(within(preview).getByRole('button', { name: 'Close the preview' }))
    expect(screen.queryByRole('region', { name: 'Preview of the change' })).toBeNull()
  })

  it('a member adds at once: no preview offered', () => {
    routeFetch(() => ({ status: 404, body: {} }))
    render(<MemoryRouter><AddPeerForm existing={[]} onAdded={vi.fn()} /></MemoryRouter>)
    expect(screen.queryByRole('button', { name: 'Preview' })).toBeNull()
  })

  it('a device’s new route is previewed; the API’s field error lands at its field; nothing changed is said', async () => {
    let refuse = true
    const calls = routeFetch((url, init) => {
      if (url === '/api/peers/phone?preview=1' && init.method === 'PATCH') {
        if (refuse) return { status: 400, body: { error: 'invalid', fields: { name: 'a peer with this name exists' } } }
        return { status: 202, body: { run_id: 'p1', preview: true } }
      }
      if (url.startsWith('/api/runs/')) return RUN
      return { status: 404, body: { error: 'not found' } }
    })
    const peer = { name: 'phone', ip: '10.0.0.2', public_key: 'k', route: 'split' as const, created: '' }
    render(<MemoryRouter><ChangePeerForm peer={peer} existing={['phone']} onChanged={vi.fn()} onCancel={vi.fn()} canPreview /></MemoryRouter>)
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }))
    expect(await screen.findByText('Nothing changed: there is nothing to preview.')).toBeInTheDocument()
    await userEvent.click(screen.getByLabelText(/Full tunnel/))
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }))
    expect(await screen.findByText('a peer with this name exists')).toBeInTheDocument()
    refuse = false
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }))
    await screen.findByRole('region', { name: 'Preview of the change' })
    const patches = calls.filter((c) => c.init.method === 'PATCH')
    expect(patches.map((c) => c.url)).toEqual(['/api/peers/phone?preview=1', '/api/peers/phone?preview=1'])
    expect(body(patches[1].init)).toEqual({ route: 'full' })
  })

  it('a person’s add and a change of their services are previewed before they are made', async () => {
    const users = {
      users: [{ name: 'bob', role: 'peer', services: ['mail', 'calendar', 'files', 'vpn'], can_login: true, mail_aliases: [], mail_catch_all: false }],
    }
    const calls = routeFetch((url) => {
      if (url.endsWith('?preview=1')) return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url.startsWith('/api/runs/')) return RUN
      if (url === '/api/users') return { status: 200, body: users }
      return { status: 404, body: { error: 'not found' } }
    })
    render(<MemoryRouter><UsersPage me="admin" /></MemoryRouter>)
    await screen.findByTestId('user-bob')
    const form = screen.getByRole('form', { name: 'Add a person' })
    await userEvent.type(within(form).getByLabelText('User name'), 'carol')
    await userEvent.type(within(form).getByLabelText('Password'), 'correct-Horse-battery-9')
    await userEvent.click(within(form).getByRole('button', { name: 'Preview' }))
    await within(form).findByRole('region', { name: 'Preview of the change' })
    const add = calls.find((c) => c.url === '/api/users?preview=1')!
    expect(add.init.method).toBe('POST')
    expect(body(add.init).name).toBe('carol')
    expect(calls.some((c) => c.url === '/api/users' && c.init.method === 'POST')).toBe(false)

    await userEvent.click(within(screen.getByTestId('user-bob')).getByRole('button', { name: /Change|Edit/ }))
    const edit = screen.getByRole('form', { name: 'Role, services and addresses of bob' })
    await userEvent.click(within(edit).getByLabelText('Files'))
    await userEvent.click(within(edit).getByRole('button', { name: 'Preview' }))
    await within(edit).findByRole('region', { name: 'Preview of the change' })
    const change = calls.find((c) => c.url === '/api/users/bob?preview=1')!
    expect(change.init.method).toBe('PATCH')
    expect(body(change.init)).toEqual({ services: ['mail', 'calendar', 'vpn'] })
    expect(calls.some((c) => c.url === '/api/users/bob' && c.init.method === 'PATCH')).toBe(false)
  })
})

describe('previewing network services and firewall rules', () => {
  function api() {
    return routeFetch((url, init) => {
      if (url.endsWith('?preview=1') && init.method === 'POST') return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url.startsWith('/api/runs/')) return RUN
      if (url === '/api/dns/records') return { status: 200, body: { zone: 'home.cell', records: [] } }
      if (url === '/api/dhcp')
        return {
          status: 200,
          body: { enabled: true, lan_subnet: '192.168.50.0/24', lan_address: '192.168.50.1', dhcp_range: ['192.168.50.100', '192.168.50.200'], dhcp_lease_time: '12h', reservations: [], leases: [] },
        }
      if (url === '/api/ntp') return { status: 200, body: { enabled: true, servers: [], serves: [], clients: [] } }
      if (url === '/api/firewall') return { status: 200, body: { openings: [], forwards: [], cell_ports: [] } }
      return { status: 200, body: { services: [] } }
    })
  }
  const posted = (calls: ReturnType<typeof api>) => calls.filter((c) => c.init.method === 'POST').map((c) => [c.url, body(c.init)])

  it('a DNS record and a reservation are previewed before they are added', async () => {
    const calls = api()
    render(<MemoryRouter><NetworkServicesPage /></MemoryRouter>)
    const record = await screen.findByRole('form', { name: 'Add a DNS record' })
    await userEvent.type(within(record).getByLabelText('Name'), 'nas')
    await userEvent.type(within(record).getByLabelText('Value'), '192.168.50.9')
    await userEvent.click(within(record).getByRole('button', { name: 'Preview' }))
    await within(record).findByRole('region', { name: 'Preview of the change' })
    const reserve = screen.getByRole('form', { name: 'Reserve an address' })
    await userEvent.type(within(reserve).getByLabelText('Name'), 'tv')
    await userEvent.type(within(reserve).getByLabelText('MAC address'), '52:54:00:00:00:01')
    await userEvent.type(within(reserve).getByLabelText('Address'), '192.168.50.30')
    await userEvent.click(within(reserve).getByRole('button', { name: 'Preview' }))
    await within(reserve).findByRole('region', { name: 'Preview of the change' })
    expect(posted(calls)).toEqual([
      ['/api/dns/records?preview=1', { name: 'nas', type: 'A', value: '192.168.50.9' }],
      ['/api/dhcp/reservations?preview=1', { name: 'tv', mac: '52:54:00:00:00:01', ip: '192.168.50.30' }],
    ])
  })

  it('an opening and a port forward are previewed before they are made, a bad port checked first', async () => {
    const calls = api()
    render(<MemoryRouter><FirewallPage /></MemoryRouter>)
    const open = await screen.findByRole('form', { name: 'Open a port' })
    await userEvent.type(within(open).getByLabelText('Port'), '70000')
    await userEvent.click(within(open).getByRole('button', { name: 'Preview' }))
    expect(within(open).getByText('Enter a port from 1 to 65535.')).toBeInTheDocument()
    expect(posted(calls)).toEqual([])
    await userEvent.clear(within(open).getByLabelText('Port'))
    await userEvent.type(within(open).getByLabelText('Port'), '3000')
    await userEvent.click(within(open).getByRole('button', { name: 'Preview' }))
    await within(open).findByRole('region', { name: 'Preview of the change' })
    const fwd = screen.getByRole('form', { name: 'Add a port forward' })
    await userEvent.type(within(fwd).getByLabelText('Port of the cell'), '8080')
    await userEvent.type(within(fwd).getByLabelText('LAN host'), '192.168.50.20')
    await userEvent.click(within(fwd).getByRole('button', { name: 'Preview' }))
    await within(fwd).findByRole('region', { name: 'Preview of the change' })
    expect(posted(calls)).toEqual([
      ['/api/firewall/openings?preview=1', { protocol: 'tcp', port: 3000, zones: ['lan'] }],
      ['/api/firewall/forwards?preview=1', { protocol: 'tcp', port: 8080, zones: ['lan'], to: '192.168.50.20' }],
    ])
  })
})

describe('previewing what a linked cell may reach', () => {
  it('the new grants are previewed first: the check-mode run is shown, the link keeps its grants', async () => {
    const link = {
      name: 'away', cell_id: '0123456789abcdef', zone: 'away.cell', signing_key: 'k', public_key: 'p',
      endpoint: '203.0.113.8:51821', subnets: ['10.77.3.0/24'], dns: '10.77.3.1', port: 51821,
      grants: ['calendar'], offered: ['calendar'], created: '2026-12-05T10:00:00Z', interface: 'cl-0123456789ab', keys_stored: true,
      live: { unit: 'active', up: true, endpoint: '203.0.113.8:51821', latest_handshake: 0, rx: 0, tx: 0, now: 0 },
    }
    const calls = routeFetch((url, init) => {
      if (url === '/api/cells/links/0123456789abcdef?preview=1' && init.method === 'PUT') return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url.startsWith('/api/runs/')) return RUN
      if (url === '/api/cells/links') return { status: 200, body: { cell: { id: 'aaaabbbbccccdddd', signing_key: 's' }, links: [link], invitations: [] } }
      return { status: 404, body: { error: 'not found' } }
    })
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'What away may reach' })
    await userEvent.click(within(form).getByLabelText('Files (WebDAV)'))
    await userEvent.click(within(form).getByRole('button', { name: 'Preview' }))
    expect(await within(form).findByRole('region', { name: 'Preview of the change' })).toHaveTextContent('Preview (check mode, nothing is changed)')
    const sent = calls.filter((c) => c.init.method === 'PUT')
    expect(sent.map((c) => c.url)).toEqual(['/api/cells/links/0123456789abcdef?preview=1'])
    expect(body(sent[0].init)).toEqual({ grants: ['calendar', 'files'] })
    // nothing was changed: no notice of a change, and the form still holds the choice to save
    expect(screen.queryByTestId('link-run')).toBeNull()
    expect(within(form).getByRole('button', { name: 'Save access' })).toBeEnabled()
  })
})

describe('previewing an exit’s add and removal', () => {
  const KEY = 'InnGRSFD74kw7hta1Wgx1R7QFHB6MIbH8lo6F8EYfDo='
  const HOME = {
    name: 'home', kind: 'wireguard', endpoint: 'exit.example.net:51820', address: '10.66.66.2/32', dns: [],
    public_key: KEY, keepalive: 25, devices: [], keys_stored: true, preshared_key: false,
    live: { unit: 'active', up: true, endpoint: '', latest_handshake: 0, rx: 0, tx: 0, now: 0 },
  }
  function api() {
    return routeFetch((url, init) => {
      if (url.endsWith('?preview=1')) return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url.startsWith('/api/runs/')) return RUN
      if (url === '/api/exits' && (init.method ?? 'GET') === 'GET') return { status: 200, body: { exits: [HOME] } }
      return { status: 500, body: { error: 'not expected' } }
    })
  }

  it('a Tor exit’s add is previewed: its check-mode run is shown, nothing is added, the form keeps it', async () => {
    const calls = api()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByTestId('exit-list')
    const form = screen.getByRole('form', { name: 'Add an exit' })
    await userEvent.type(within(form).getByLabelText('Exit name'), 'onion')
    await userEvent.selectOptions(within(form).getByLabelText('Kind'), 'tor')
    await userEvent.click(within(form).getByRole('button', { name: 'Preview' }))
    expect(await within(form).findByRole('region', { name: 'Preview of the change' })).toHaveTextContent(
      'Preview (check mode, nothing is changed)',
    )
    const sent = calls.filter((c) => c.init.method === 'POST')
    expect(sent.map((c) => [c.url, body(c.init)])).toEqual([['/api/exits?preview=1', { name: 'onion', kind: 'tor' }]])
    expect(within(form).getByLabelText('Exit name')).toHaveValue('onion')
    expect(screen.queryByText(/Exit onion added/)).toBeNull()
  })

  it('a bad add is checked before its preview is asked for', async () => {
    const calls = api()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByTestId('exit-list')
    const form = screen.getByRole('form', { name: 'Add an exit' })
    await userEvent.type(within(form).getByLabelText('Exit name'), 'home')
    await userEvent.click(within(form).getByRole('button', { name: 'Preview' }))
    expect(within(form).getByText('An exit with this name exists.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toEqual([])
  })

  it('an exit’s removal is previewed: the run is shown and the exit stays listed', async () => {
    const calls = api()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await userEvent.click(await screen.findByRole('button', { name: 'Preview removing home' }))
    const preview = await screen.findByRole('region', { name: 'Preview of the change' })
    expect(calls.filter((c) => c.init.method === 'DELETE').map((c) => c.url)).toEqual(['/api/exits/home?preview=1'])
    expect(screen.getByTestId('exit-list')).toHaveTextContent('home')
    expect(screen.queryByText(/Exit home removed/)).toBeNull()
    await userEvent.click(within(preview).getByRole('button', { name: 'Close the preview' }))
    expect(screen.queryByRole('region', { name: 'Preview of the change' })).toBeNull()
  })
})

describe('previewing the store’s changes', () => {
  const HELLO = {
    id: 'hello', name: 'Hello', description: 'A tiny HTTP app.', latest: '1.0.0', versions: ['1.0.0'], installed: null,
    state: null, data: false, memory: 32, disk: 20, routes: [{ host: 'hello', port: 8000, login: false }],
  }
  const PLAN = {
    app: 'hello', name: 'Hello', version: '1.0.0', image: 'registry.example.org/hello@sha256:ab',
    ports: [{ port: 8000, protocol: 'tcp', address: '127.0.0.1' }], memory: 32, memory_available: 16, disk: 20,
    fits: false, problems: { memory: 'needs 32 MiB, 16 MiB available' }, routes: HELLO.routes, firewall: [],
    data: { path: '/var/lib/pic/apps/hello', found: true, kept: true },
  }
  function api(overview: object) {
    return routeFetch((url, init) => {
      if (url === '/api/store?preview=1' && init.method === 'PUT') return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url === '/api/store/apps?preview=1' && init.method === 'POST')
        return { status: 202, body: { run_id: 'p1', preview: true, plan: PLAN } }
      if (url === '/api/store/apps/hello?preview=1&purge=1' && init.method === 'DELETE')
        return {
          status: 202,
          body: { run_id: null, preview: true, plan: { app: 'hello', container: null, volumes: [], image: null, data: { path: '/var/lib/pic/apps/hello', found: true, kept: false } } },
        }
      if (url.startsWith('/api/runs/')) return RUN
      if (url === '/api/store') return { status: 200, body: overview }
      if (url === '/api/settings') return { status: 200, body: { domain: 'home.cell' } }
      return { status: 500, body: { error: 'not expected' } }
    })
  }
  const sent = (calls: ReturnType<typeof api>) => calls.filter((c) => c.init.method && c.init.method !== 'GET').map((c) => c.url)

  it('turning the store on is previewed: its check-mode run is shown, nothing is turned on', async () => {
    const calls = api({ enabled: false, index: '', installed: [], apps: [], error: null })
    render(<MemoryRouter><StorePage /></MemoryRouter>)
    await userEvent.click(await screen.findByRole('button', { name: 'Preview turning it on' }))
    expect(await screen.findByRole('region', { name: 'Preview of the change' })).toHaveTextContent('Preview (check mode, nothing is changed)')
    expect(sent(calls)).toEqual(['/api/store?preview=1'])
    expect(body(calls.find((c) => c.init.method === 'PUT')!.init)).toEqual({ enabled: true })
    expect(screen.getByRole('button', { name: 'Turn the store on' })).toBeEnabled()
  })

  it('an install is previewed: what it would do, that it does not fit and why, and the run of its route', async () => {
    const calls = api({ enabled: true, index: '', installed: [], apps: [HELLO], error: null })
    render(<MemoryRouter><StorePage /></MemoryRouter>)
    await userEvent.click(await screen.findByRole('button', { name: 'Preview install' }))
    const plan = await screen.findByTestId('app-plan')
    expect(screen.getByRole('heading', { name: 'Preview: installing Hello 1.0.0' })).toBeInTheDocument()
    expect(plan).toHaveTextContent('Pulls registry.example.org/hello@sha256:ab')
    expect(plan).toHaveTextContent('Publishes port 8000/tcp on 127.0.0.1')
    expect(plan).toHaveTextContent('Needs 32 MiB of memory (16 MiB available) and 20 MiB of disk')
    expect(plan).toHaveTextContent('Answers at https://hello.home.cell/')
    expect(plan).toHaveTextContent('Takes up the data of an earlier install in /var/lib/pic/apps/hello')
    expect(within(plan).getByRole('alert')).toHaveTextContent('It does not fit: memory: needs 32 MiB, 16 MiB available')
    expect(within(plan).getByRole('region', { name: 'Preview of the change' })).toBeInTheDocument()
    expect(sent(calls)).toEqual(['/api/store/apps?preview=1'])
    expect(body(calls.find((c) => c.init.method === 'POST')!.init)).toEqual({ app: 'hello', version: '1.0.0' })
  })

  it('a purge is previewed: its data would go; no run when the state does not change', async () => {
    const calls = api({ enabled: true, index: '', installed: [], apps: [{ ...HELLO, data: true }], error: null })
    render(<MemoryRouter><StorePage /></MemoryRouter>)
    await userEvent.click(await screen.findByRole('button', { name: 'Purge…' }))
    await userEvent.click(screen.getByRole('button', { name: 'Preview the purge' }))
    const plan = await screen.findByTestId('app-plan')
    expect(plan).toHaveTextContent('Deletes its data in /var/lib/pic/apps/hello')
    expect(within(plan).queryByRole('region', { name: 'Preview of the change' })).toBeNull()
    expect(sent(calls)).toEqual(['/api/store/apps/hello?preview=1&purge=1'])
    await userEvent.click(within(plan).getByRole('button', { name: 'Close the preview' }))
    expect(screen.queryByTestId('app-plan')).toBeNull()
  })
})
