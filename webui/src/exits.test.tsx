import { act, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator, type Peer } from './api'
import { LIVE_REFRESH_MS } from './components/ui'
import type { ExitLive, ExitView } from './generated/api'
import { addressSummary, asksForPassword, configErrors, dnsSummary, exitBody, ExitsCard, tunnelSummary, validateExit } from './pages/Exits'
import { ChangePeerForm, changeBody, PeersPage } from './pages/Peers'
import { routeFetch } from './test/fetch'

const KEY = 'InnGRSFD74kw7hta1Wgx1R7QFHB6MIbH8lo6F8EYfDo='
const CONFIG = `[Interface]\nPrivateKey = ${KEY}\nAddress = 10.66.66.2/32\n\n[Peer]\nPublicKey = ${KEY}\nEndpoint = exit.example.net:51820\nAllowedIPs = 0.0.0.0/0\n`
const HOME: ExitView = {
  name: 'home', kind: 'wireguard', endpoint: 'exit.example.net:51820', address: '10.66.66.2/32', dns: [],
  public_key: KEY, keepalive: 25, devices: ['phone'], keys_stored: true, preshared_key: false,
  live: { unit: 'active', up: true, endpoint: '198.51.100.20:51820', latest_handshake: 1764931170, rx: 9340, tx: 12876, now: 1764931200 },
}
const DOWN: ExitLive = {
  unit: 'inactive', up: false, endpoint: '', latest_handshake: 0, rx: 0, tx: 0, now: 1764931200,
  reason: 'interface exit-work: Unable to access interface: No such device',
}
const OVPN = 'client\ndev tun\nremote vpn.example.net 1194\nauth-user-pass\n<ca>\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n</ca>\n'
const OFFICE: ExitView = {
  name: 'office', kind: 'openvpn', endpoint: 'vpn.example.net:1194', remotes: ['vpn.example.net:1194'], proto: 'udp',
  options: [], credentials: ['ca', 'auth-user-pass'], devices: [], keys_stored: true, preshared_key: false,
  live: { unit: 'active', up: true, endpoint: '', latest_handshake: 0, rx: 2048, tx: 1024, now: 1764931200, address: '10.77.77.2/24' },
}
const phone: Peer = { name: 'phone', public_key: KEY, ip: '10.0.0.2', route: 'full' }

beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

describe('tunnel summary', () => {
  it('tells a handshake that never happened, and a down tunnel without a reason', () => {
    expect(tunnelSummary({ ...HOME.live, latest_handshake: 0 })).toMatch(/last handshake never/)
    expect(tunnelSummary({ ...DOWN, unit: 'failed', reason: undefined })).toBe('Tunnel down (failed)')
  })

  it('says where the devices’ DNS goes', () => {
    expect(dnsSummary({ dns: ['10.66.66.1', '10.66.66.9'] })).toBe('DNS through the exit: 10.66.66.1')
    expect(dnsSummary({ dns: [] })).toMatch(/cell’s resolver/)
  })
})

describe('exit form checks', () => {
  it('asks for a short lower-case name and a config with both sections', () => {
    expect(validateExit({ name: 'home', config: CONFIG }, [])).toEqual({})
    expect(validateExit({ name: 'Home', config: CONFIG }, []).name).toMatch(/lower-case/)
    expect(validateExit({ name: 'waytoolongname', config: CONFIG }, []).name).toMatch(/at most 10/)
    expect(validateExit({ name: 'home', config: CONFIG }, ['home']).name).toMatch(/exists/)
    expect(validateExit({ name: 'home', config: '' }, []).config).toMatch(/Paste/)
    expect(validateExit({ name: 'home', config: '[Interface]\nPrivateKey = x\n' }, []).config).toMatch(/\[Peer\]/)
  })

  it('lists the API’s refused keys of the config by name', () => {
    expect(configErrors({ name: undefined, 'config.PrivateKey': 'not a key', 'config.Endpoint': 'host:port', config: 'x' }))
      .toEqual(['PrivateKey: not a key', 'Endpoint: host:port'])
  })
})

describe('exits card', () => {
  it('lists the exits with the devices using them', async () => {
    routeFetch(() => ({ status: 200, body: { exits: [HOME] } }))
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    const list = await screen.findByTestId('exit-list')
    expect(list).toHaveTextContent('home — WireGuard to exit.example.net:51820, address 10.66.66.2/32')
    expect(list).toHaveTextContent('Used by phone')
  })

  it('says how each exit’s tunnel runs: up with its handshake and transfer, or down and why', async () => {
    routeFetch(() => ({ status: 200, body: { exits: [HOME, { ...HOME, name: 'work', devices: [], live: DOWN }] } }))
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    expect(await screen.findByTestId('exit-live-home')).toHaveTextContent(
      'Tunnel up · last handshake 30 seconds ago · ↓ 9.1 KiB ↑ 13 KiB')
    expect(screen.getByTestId('exit-live-work')).toHaveTextContent(
      'Tunnel down (inactive): interface exit-work: Unable to access interface: No such device')
    expect(screen.getByTestId('exit-dns-home')).toHaveTextContent('cell’s resolver')
  })

  it('reads the tunnels again while the card is shown', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    try {
      let reads = 0
      const calls = routeFetch(() => ({ status: 200, body: { exits: [reads++ ? { ...HOME, live: DOWN } : HOME] } }))
      render(<MemoryRouter><ExitsCard /></MemoryRouter>)
      expect(await screen.findByTestId('exit-live-home')).toHaveTextContent('Tunnel up')
      await act(async () => {
        await vi.advanceTimersByTimeAsync(LIVE_REFRESH_MS)
      })
      await waitFor(() => expect(screen.getByTestId('exit-live-home')).toHaveTextContent('Tunnel down (inactive)'))
      expect(calls.filter((c) => c.url === '/api/exits').length).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('sends a pasted config and shows each key the API refused', async () => {
    const calls = routeFetch((_url, init) =>
      init.method === 'POST'
        ? { status: 400, body: { error: 'invalid exit configuration',
            fields: { 'config.PrivateKey': 'PrivateKey is not a WireGuard key', 'config.AllowedIPs': 'AllowedIPs must include 0.0.0.0/0' } } }
        : { status: 200, body: { exits: [] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'vpn')
    // paste, as an admin does (typing would read the brackets as key names)
    await user.click(screen.getByLabelText('WireGuard configuration file'))
    await user.paste(CONFIG.replace(KEY, 'nope'))
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    const refused = await screen.findByTestId('exit-config-errors')
    expect(refused).toHaveTextContent('PrivateKey: PrivateKey is not a WireGuard key')
    expect(refused).toHaveTextContent('AllowedIPs: AllowedIPs must include 0.0.0.0/0')
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(post.url).toBe('/api/exits')
    expect(JSON.parse(post.init.body as string)).toEqual({ name: 'vpn', kind: 'wireguard', config: CONFIG.replace(KEY, 'nope') })
  })

  it('does not send a config without its sections', async () => {
    const calls = routeFetch(() => ({ status: 200, body: { exits: [] } }))
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'vpn')
    await user.click(screen.getByLabelText('WireGuard configuration file'))
    await user.paste('PrivateKey = abc')
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    expect(await screen.findByText('A WireGuard configuration has an [Interface] and a [Peer] section.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)
  })

  it('adds an exit and says the run applies it', async () => {
    let added = false
    routeFetch((_url, init) => {
      if (init.method === 'POST') {
        added = true
        return { status: 202, body: { exit: { ...HOME, name: 'vpn' }, run_id: 'r7' } }
      }
      return { status: 200, body: { exits: added ? [{ ...HOME, name: 'vpn', devices: [] }] : [] } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'vpn')
    await user.click(screen.getByLabelText('WireGuard configuration file'))
    await user.paste(CONFIG)
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    expect(await screen.findByText(/Exit vpn added/)).toBeInTheDocument()
    expect(await screen.findByTestId('exit-list')).toHaveTextContent('Used by no device')
    expect(screen.getByLabelText('WireGuard configuration file')).toHaveValue('')
  })

  it('shows why an exit in use cannot be removed', async () => {
    routeFetch((_url, init) =>
      init.method === 'DELETE'
        ? { status: 409, body: { error: "exit 'home' is used by phone", fields: { name: 'used by phone' } } }
        : { status: 200, body: { exits: [HOME] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Remove home' }))
    expect(await screen.findByText(/exit 'home' is used by phone/)).toBeInTheDocument()
  })
})

describe('an OpenVPN exit', () => {
  it('asks for the username and password only when the .ovpn wants them', () => {
    expect(asksForPassword(OVPN)).toBe(true)
    expect(asksForPassword(OVPN.replace('auth-user-pass\n', ''))).toBe(false)
    expect(asksForPassword(OVPN + '<auth-user-pass>\nme\npw\n</auth-user-pass>\n')).toBe(false)
    const form = { name: 'office', kind: 'openvpn' as const, config: OVPN, username: '', password: '', dns: '' }
    expect(validateExit(form, [])).toEqual({
      username: 'The server asks for a username (auth-user-pass).',
      password: 'The server asks for a password (auth-user-pass).',
    })
    expect(validateExit({ ...form, username: 'me', password: 'pw' }, [])).toEqual({})
    expect(validateExit({ ...form, username: 'me', password: 'pw', dns: '10.0.0.300' }, []).dns).toMatch(/IPv4/)
    expect(validateExit({ ...form, config: 'client\ndev tun\n' }, []).config).toMatch(/remote/)
  })

  it('sends only what the kind takes', () => {
    const form = { name: ' office ', kind: 'openvpn' as const, config: OVPN, username: ' me ', password: 'pw', dns: '10.8.0.1' }
    expect(exitBody(form)).toEqual({ name: 'office', kind: 'openvpn', config: OVPN, username: 'me', password: 'pw', dns: ['10.8.0.1'] })
    expect(exitBody({ ...form, dns: '', username: '', password: '' })).toEqual({ name: 'office', kind: 'openvpn', config: OVPN })
    expect(exitBody({ ...form, kind: 'wireguard' })).toEqual({ name: 'office', kind: 'wireguard', config: OVPN })
  })

  it('is listed connected with its tunnel address, or not connected and why', async () => {
    expect(tunnelSummary({ ...OFFICE.live, up: false, unit: 'activating', reason: 'not connected' }, 'openvpn'))
      .toBe('Not connected (activating): not connected')
    expect(dnsSummary({ kind: 'openvpn', dns: [] })).toMatch(/pushes/)
    routeFetch(() => ({ status: 200, body: { exits: [OFFICE] } }))
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    expect(await screen.findByTestId('exit-list')).toHaveTextContent('office — OpenVPN to vpn.example.net:1194 (udp)')
    expect(screen.getByTestId('exit-live-office')).toHaveTextContent('Connected · address 10.77.77.2/24 · ↓ 2.0 KiB ↑ 1.0 KiB')
  })

  it('takes an uploaded .ovpn with its credentials and shows the refused directives', async () => {
    const calls = routeFetch((_url, init) =>
      init.method === 'POST'
        ? { status: 400, body: { error: 'invalid exit configuration',
            fields: { 'config.up': 'up runs a program: the cell runs its own script only', password: 'too long' } } }
        : { status: 200, body: { exits: [] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'office')
    await user.selectOptions(screen.getByLabelText('Kind'), 'openvpn')
    const file = new File([OVPN + 'up /bin/sh\n'], 'office.ovpn', { type: 'application/x-openvpn-profile' })
    await user.upload(screen.getByLabelText('Upload the file'), file)
    await waitFor(() => expect(screen.getByLabelText('OpenVPN configuration file (.ovpn)')).toHaveValue(OVPN + 'up /bin/sh\n'))
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    // the .ovpn asks for a password: nothing is sent without one
    expect(await screen.findByText('The server asks for a username (auth-user-pass).')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)
    await user.type(screen.getByLabelText('Username'), 'me')
    await user.type(screen.getByLabelText('Password'), 'secret pw')
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    const refused = await screen.findByTestId('exit-config-errors')
    expect(refused).toHaveTextContent('up: up runs a program: the cell runs its own script only')
    expect(screen.getByText('too long')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({
      name: 'office', kind: 'openvpn', config: OVPN + 'up /bin/sh\n', username: 'me', password: 'secret pw' })
  })

  it('takes a pasted .ovpn too', async () => {
    const calls = routeFetch((_url, init) =>
      init.method === 'POST' ? { status: 202, body: { exit: OFFICE, run_id: 'r9' } } : { status: 200, body: { exits: [] } })
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'office')
    await user.selectOptions(screen.getByLabelText('Kind'), 'openvpn')
    await user.click(screen.getByLabelText('OpenVPN configuration file (.ovpn)'))
    await user.paste(OVPN.replace('auth-user-pass\n', ''))
    await user.type(screen.getByLabelText('DNS server (optional)'), '10.8.0.1')
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    expect(await screen.findByText(/Exit office added/)).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({
      name: 'office', kind: 'openvpn', config: OVPN.replace('auth-user-pass\n', ''), dns: ['10.8.0.1'] })
  })
})

const ONION: ExitView = {
  name: 'onion', kind: 'tor', dns: [], devices: ['phone'], keys_stored: true, preshared_key: false,
  live: { unit: 'active', up: true, endpoint: '', latest_handshake: 0, rx: 0, tx: 0, now: 1764931200 },
}

describe('a Tor exit', () => {
  it('is a name only, one per cell', () => {
    expect(validateExit({ name: 'onion', kind: 'tor', config: '' }, [])).toEqual({})
    expect(validateExit({ name: 'second', kind: 'tor', config: '' }, ['onion'], 'onion').kind).toMatch(/already \(onion\)/)
    expect(exitBody({ name: ' onion ', kind: 'tor', config: 'ignored', dns: '10.0.0.9' })).toEqual({ name: 'onion', kind: 'tor' })
  })

  it('is listed with tor running or not, and where DNS goes', async () => {
    expect(tunnelSummary({ ...ONION.live, up: false, unit: 'inactive', reason: 'unit tor@default.service is inactive' }, 'tor'))
      .toBe('tor is not running (inactive): its devices’ traffic is dropped · unit tor@default.service is inactive')
    routeFetch(() => ({ status: 200, body: { exits: [ONION] } }))
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    expect(await screen.findByTestId('exit-list')).toHaveTextContent('onion — Tor, through the cell’s own tor (TCP and DNS only)')
    expect(screen.getByTestId('exit-live-onion')).toHaveTextContent('tor is running')
    expect(screen.getByTestId('exit-dns-onion')).toHaveTextContent(/tor’s DNSPort/)
  })

  it('is added without a file, and the API’s refusal shows by its field', async () => {
    const calls = routeFetch((_url, init) =>
      init.method === 'POST'
        ? { status: 400, body: { error: 'invalid exit', fields: { kind: 'the cell has a tor exit already (other)' } } }
        : { status: 200, body: { exits: [] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByText(/No exits yet/)
    await user.type(screen.getByLabelText('Exit name'), 'onion')
    await user.selectOptions(screen.getByLabelText('Kind'), 'tor')
    expect(screen.queryByLabelText('Upload the file')).toBeNull()
    expect(screen.getByTestId('exit-tor-hint')).toHaveTextContent(/dropped/)
    await user.click(screen.getByRole('button', { name: 'Add exit' }))
    expect(await screen.findByText('the cell has a tor exit already (other)')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({ name: 'onion', kind: 'tor' })
  })
})

describe('a device’s exit', () => {
  it('sends only what changed; a split route leaves the exit', () => {
    const form = { name: 'phone', route: 'full' as const, public_key: '' }
    expect(changeBody(phone, form, 'home')).toEqual({ exit: 'home' })
    expect(changeBody({ ...phone, exit: 'home' }, form, '')).toEqual({ exit: '' })
    expect(changeBody({ ...phone, exit: 'home' }, { ...form, route: 'split' }, 'home')).toEqual({ route: 'split', exit: '' })
    expect(changeBody({ ...phone, exit: 'home' }, form, 'home')).toEqual({})
  })

  it('is chosen where the route is, and the API’s refusal shows', async () => {
    const calls = routeFetch(() => ({ status: 400, body: { error: 'invalid peer change', fields: { exit: 'no exit' } } }))
    const user = userEvent.setup()
    render(<ChangePeerForm peer={phone} existing={['phone']} exits={['home', 'work']} onChanged={vi.fn()} onCancel={vi.fn()} />)
    await user.selectOptions(screen.getByLabelText('Exit'), 'work')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('no exit')).toBeInTheDocument()
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ exit: 'work' })
  })

  it('cannot be chosen for a split tunnel', async () => {
    render(<ChangePeerForm peer={{ ...phone, route: 'split' }} existing={['phone']} exits={['home']} onChanged={vi.fn()} onCancel={vi.fn()} />)
    expect(screen.getByLabelText('Exit')).toBeDisabled()
    expect(screen.getByText('An exit needs the full tunnel.')).toBeInTheDocument()
  })

  it('is offered to an admin on the Peers page, not to a member', async () => {
    const calls = routeFetch((url) =>
      url.startsWith('/api/exits') ? { status: 200, body: { exits: [HOME] } } : { status: 200, body: { peers: [{ ...phone, exit: 'home' }] } },
    )
    const user = userEvent.setup()
    const { unmount } = render(<MemoryRouter><PeersPage admin /></MemoryRouter>)
    expect(await screen.findByText(/via exit home/)).toBeInTheDocument()
    await user.click(await screen.findByRole('button', { name: 'Change phone' }))
    const form = screen.getByRole('form', { name: 'Change peer phone' })
    await waitFor(() => expect(within(form).getByLabelText('Exit')).toHaveValue('home'))
    unmount()
    calls.length = 0
    render(<MemoryRouter><PeersPage /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Change phone' }))
    expect(screen.queryByLabelText('Exit')).toBeNull()
    expect(calls.some((c) => c.url.startsWith('/api/exits'))).toBe(false)
  })
})

describe('an exit’s address as the internet sees it', () => {
  it('is asked when the admin checks, and says why when it cannot be told', async () => {
    let answers = 0
    const calls = routeFetch((url) =>
      url === '/api/exits/home/address'
        ? { status: 200, body: answers++
            ? { exit: 'home', address: '', source: '', reason: 'could not reach ip4.example.net: timed out (through exit-home)' }
            : { exit: 'home', address: '198.51.100.20', source: 'https://ip4.example.net/' } }
        : { status: 200, body: { exits: [HOME, ONION] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ExitsCard /></MemoryRouter>)
    await screen.findByTestId('exit-list')
    expect(calls.some((c) => c.url.endsWith('/address'))).toBe(false) // nothing is sent out until asked
    expect(screen.queryByRole('button', { name: 'Check onion’s address' })).toBeNull() // Tor's is a relay's
    await user.click(screen.getByRole('button', { name: 'Check home’s address' }))
    expect(await screen.findByTestId('exit-address-home'))
      .toHaveTextContent('Seen from the internet as 198.51.100.20 (asked https://ip4.example.net/)')
    await user.click(screen.getByRole('button', { name: 'Check home’s address' }))
    await waitFor(() => expect(screen.getByTestId('exit-address-home'))
      .toHaveTextContent('The address could not be told: could not reach ip4.example.net: timed out (through exit-home)'))
  })

  it('is summed up in one line', () => {
    expect(addressSummary({ exit: 'a', address: '', source: 'http://x/' })).toBe('The address could not be told: no answer')
  })
})
