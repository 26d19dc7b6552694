import { act, render, screen, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { App } from './App'
import { setNavigator } from './api'
import type { WireGuardStatus } from './generated/api'
import { LIVE_REFRESH_MS } from './components/ui'
import { handshakeAgo, onlineSummary, WireGuardPage } from './pages/WireGuard'
import { routeFetch } from './test/fetch'

const NOW = 1_764_931_200

function status(over: Partial<WireGuardStatus> = {}): WireGuardStatus {
  return {
    up: true,
    now: NOW,
    online_window: 180,
    online: 1,
    total: 2,
    devices: [
      { name: 'phone', owner: '', ip: '10.0.0.2', route: 'split', endpoint: '198.51.100.7:51000', latest_handshake: NOW - 130, rx: 1_572_864, tx: 2048, online: true },
      { name: 'laptop', owner: 'bob', ip: '10.0.0.3', route: 'full', endpoint: '', latest_handshake: 0, rx: 0, tx: 0, online: false },
    ],
    interface: { name: 'wg0', public_key: 'zI2LGZ+K9dDBY3bSNOn6M6untUw/uZvJCmiR9MEU4CI=', listen_port: 51820, endpoint: 'vpn.example.org:51820', subnet: '10.0.0.0/24', address: '10.0.0.1' },
    ...over,
  }
}

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('handshakeAgo', () => {
  it('says how long ago, in the largest whole unit', () => {
    expect(handshakeAgo(0, NOW)).toBe('never')
    expect(handshakeAgo(NOW - 1, NOW)).toBe('1 second ago')
    expect(handshakeAgo(NOW - 59, NOW)).toBe('59 seconds ago')
    expect(handshakeAgo(NOW - 130, NOW)).toBe('2 minutes ago')
    expect(handshakeAgo(NOW - 3600, NOW)).toBe('1 hour ago')
    expect(handshakeAgo(NOW - 3 * 86400, NOW)).toBe('3 days ago')
    // a cell clock a little behind the handshake's is not "in the future"
    expect(handshakeAgo(NOW + 5, NOW)).toBe('0 seconds ago')
  })

  it('summarises the devices online', () => {
    expect(onlineSummary({ online: 1, total: 2 })).toBe('1 of 2')
  })
})

describe('WireGuard page', () => {
  it('shows the interface and each device with its dot, handshake, transfer and endpoint', async () => {
    routeFetch(() => ({ status: 200, body: status() }))
    render(<MemoryRouter><WireGuardPage /></MemoryRouter>)
    const table = await screen.findByTestId('wg-devices')
    const phone = within(table).getByText('phone').closest('tr') as HTMLElement
    expect(phone.textContent).toContain('online')
    expect(phone.textContent).toContain('2 minutes ago')
    expect(phone.textContent).toContain('↓ 1.5 MiB')
    expect(phone.textContent).toContain('↑ 2.0 KiB')
    expect(phone.textContent).toContain('198.51.100.7:51000')
    const laptop = within(table).getByText('laptop').closest('tr') as HTMLElement
    expect(laptop.querySelector('[data-online]')?.getAttribute('data-online')).toBe('false')
    expect(laptop.textContent).toContain('never')
    expect(laptop.textContent).toContain('bob')
    expect(screen.getByTestId('wg-online').textContent).toContain('1 of 2 online')
    expect(screen.getByTestId('wg-interface').textContent).toContain('vpn.example.org:51820')
    expect(screen.queryByTestId('wg-down')).toBeNull()
  })

  it('says why when the interface is not running', async () => {
    routeFetch(() => ({ status: 200, body: status({ up: false, reason: 'interface wg0: No such device', online: 0 }) }))
    render(<MemoryRouter><WireGuardPage /></MemoryRouter>)
    expect((await screen.findByTestId('wg-down')).textContent).toContain('interface wg0: No such device')
  })

  it('reads the status again while it is open', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true })
    let online = 0
    const calls = routeFetch(() => ({ status: 200, body: status({ online: online++ }) }))
    render(<MemoryRouter><WireGuardPage /></MemoryRouter>)
    await screen.findByText(/0 of 2 online/)
    await act(async () => {
      await vi.advanceTimersByTimeAsync(LIVE_REFRESH_MS)
    })
    await screen.findByText(/1 of 2 online/)
    expect(calls.filter((c) => c.url === '/api/wireguard/status').length).toBe(2)
  })
})

describe('a member’s WireGuard page', () => {
  // what the API answers a member: their own devices, no interface facts
  const mine = (over: Partial<WireGuardStatus> = {}) => {
    const { interface: _, ...rest } = status({ online: 0, total: 1 })
    return { ...rest, devices: [rest.devices[1]], ...over }
  }

  it('lists only their devices, without the interface or whose they are', async () => {
    routeFetch(() => ({ status: 200, body: mine() }))
    render(<MemoryRouter><WireGuardPage mine /></MemoryRouter>)
    const table = await screen.findByTestId('wg-devices')
    const laptop = within(table).getByText('laptop').closest('tr') as HTMLElement
    expect(laptop.textContent).toContain('offline · 10.0.0.3')
    expect(laptop.textContent).not.toContain('bob')
    expect(within(table).queryByText('phone')).toBeNull()
    expect(screen.getByTestId('wg-online').textContent).toContain('0 of 1 online')
    expect(screen.queryByTestId('wg-interface')).toBeNull()
    expect(screen.queryByRole('region', { name: 'Interface' })).toBeNull()
    expect(screen.getByRole('region', { name: 'Your devices' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Add or delete your devices' })).toHaveAttribute('href', '/peers')
  })

  it('says the VPN is down without the interface’s details', async () => {
    routeFetch(() => ({ status: 200, body: mine({ up: false, reason: 'interface wg0: No such device' }) }))
    render(<MemoryRouter><WireGuardPage mine /></MemoryRouter>)
    const down = await screen.findByTestId('wg-down')
    expect(down.textContent).toContain('not running right now')
    expect(down.textContent).not.toContain('wg0')
  })

  it('is in a member’s menu and at /wireguard', async () => {
    setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() })
    try {
      const calls = routeFetch((url) => {
        if (url === '/api/setup/status') return { status: 200, body: { completed: true } }
        if (url === '/api/auth/me') return { status: 200, body: { user: { username: 'bob', role: 'peer', expires_at: 0 } } }
        if (url === '/api/wireguard/status') return { status: 200, body: mine() }
        return { status: 403, body: { error: 'admins only', fields: {} } }
      })
      render(<MemoryRouter initialEntries={['/wireguard']}><App /></MemoryRouter>)
      expect(await screen.findByRole('heading', { name: 'WireGuard', level: 1 })).toBeInTheDocument()
      await screen.findByTestId('wg-devices')
      const nav = screen.getByRole('navigation', { name: 'Main' })
      expect(within(nav).getByRole('link', { name: 'WireGuard' })).toHaveAttribute('aria-current', 'page')
      // a member's page asks nothing an admin's does (the services' health)
      expect(calls.map((c) => c.url).filter((u) => u.startsWith('/api/services'))).toEqual([])
    } finally {
      setNavigator(null)
    }
  })
})
