import { render, screen, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import { certificateText, diskText, memoryText } from './components/HostFacts'
import type { SystemFacts } from './generated/api'
import { DashboardPage } from './pages/Dashboard'
import { routeFetch } from './test/fetch'

const GIB = 1024 ** 3

function facts(cert: Partial<SystemFacts['certificate']> = {}): SystemFacts {
  return {
    disks: [
      { path: '/', total: 30 * GIB, used: 12 * GIB, available: 16 * GIB },
      { path: '/var/lib/pic', error: 'No such file or directory' },
    ],
    memory: { total: 8 * GIB, available: 2.5 * GIB },
    certificate: {
      status: 'ok', not_after: '2027-03-01T10:00:00+00:00', days_left: 86, source: 'internal CA',
      file: '/etc/pic/ca/issued/cell.crt', warn_days: 14, ...cert,
    },
  }
}

beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

describe('the host facts in words', () => {
  it('says a disk’s use, or why it is unknown', () => {
    expect(diskText(facts().disks[0])).toBe('43% used: 12 GiB of 30 GiB, 16 GiB free')
    expect(diskText(facts().disks[1])).toBe('unknown: No such file or directory')
    // df's Use%: root's reserved blocks count as neither used nor free
    expect(diskText({ path: '/', total: 252 * GIB, used: 37 * GIB, available: 65 * GIB })).toMatch(/^37% used/)
  })

  it('says the memory available of the total', () => {
    expect(memoryText(facts().memory)).toBe('2.5 GiB available of 8.0 GiB')
    expect(memoryText({ error: 'no MemAvailable' })).toBe('unknown: no MemAvailable')
  })

  it('says how long the certificate has left', () => {
    const date = new Date('2027-03-01T10:00:00+00:00').toLocaleDateString()
    expect(certificateText(facts().certificate)).toBe(`expires in 86 days (${date})`)
    expect(certificateText(facts({ status: 'expiring', days_left: 1 }).certificate)).toBe(`expires in 1 day (${date})`)
    expect(certificateText(facts({ status: 'expiring', days_left: 0 }).certificate)).toBe(`expires today (${date})`)
    expect(certificateText(facts({ status: 'expired', days_left: -3 }).certificate)).toBe(`expired 3 days ago (${date})`)
    expect(certificateText({ status: 'unknown', reason: 'caddy keeps it', warn_days: 14 })).toBe('unknown: caddy keeps it')
  })
})

function cell(system: { status: number; body: unknown }) {
  return routeFetch((url) => {
    if (url === '/api/system') return system
    if (url === '/api/services') return { status: 200, body: { checked_at: '', services: [] } }
    if (url === '/api/settings')
      return { status: 200, body: { cell_name: 'home', domain_mode: 'internal', domain: 'home.cell', services: [], timezone: 'Etc/UTC', upstream_dns: [], ntp_servers: [],
        dhcp_range: ['192.168.50.100', '192.168.50.200'], dhcp_lease_time: '12h' } }
    if (url === '/api/runs') return { status: 200, body: { runs: [] } }
    return { status: 404, body: { error: 'not found' } }
  })
}

describe('Dashboard', () => {
  it('shows the disks, the memory and the certificate’s days left', async () => {
    const calls = cell({ status: 200, body: facts() })
    render(<MemoryRouter><DashboardPage /></MemoryRouter>)
    const host = await screen.findByTestId('host-facts')
    expect(within(host).getByText('Disk /').nextSibling).toHaveTextContent('43% used: 12 GiB of 30 GiB, 16 GiB free')
    expect(within(host).getByText('Disk /var/lib/pic').nextSibling).toHaveTextContent('unknown: No such file or directory')
    expect(within(host).getByText('Memory').nextSibling).toHaveTextContent('2.5 GiB available of 8.0 GiB')
    expect(screen.getByTestId('cert-expiry')).toHaveTextContent(/^expires in 86 days \(.+\) · internal CA$/)
    expect(screen.queryByTestId('cert-warning')).toBeNull()
    expect(calls.some((c) => c.url === '/api/system')).toBe(true)
  })

  it('warns when the certificate has fewer than 14 days left', async () => {
    cell({ status: 200, body: facts({ status: 'expiring', days_left: 9 }) })
    render(<MemoryRouter><DashboardPage /></MemoryRouter>)
    const warning = await screen.findByTestId('cert-warning')
    expect(warning).toHaveTextContent('ends in fewer than 14 days')
    expect(warning).toHaveTextContent('start one on the Runs page')
    expect(screen.getByTestId('cert-expiry')).toHaveAttribute('data-status', 'expiring')
  })

  it('says an expired certificate, and an unknown one without a warning', async () => {
    cell({ status: 200, body: facts({ status: 'expired', days_left: -2 }) })
    const { unmount } = render(<MemoryRouter><DashboardPage /></MemoryRouter>)
    expect(await screen.findByTestId('cert-warning')).toHaveTextContent('has expired')
    unmount()
    cell({ status: 200, body: facts({ status: 'unknown', reason: 'caddy gets and renews it by ACME', days_left: undefined, source: undefined }) })
    render(<MemoryRouter><DashboardPage /></MemoryRouter>)
    expect(await screen.findByTestId('cert-expiry')).toHaveTextContent('unknown: caddy gets and renews it by ACME')
    expect(screen.queryByTestId('cert-warning')).toBeNull()
  })

  it('shows the API’s error in the card', async () => {
    cell({ status: 403, body: { error: 'admins only', fields: {} } })
    render(<MemoryRouter><DashboardPage /></MemoryRouter>)
    const card = await screen.findByRole('region', { name: 'This host' })
    expect(await within(card).findByText('admins only')).toBeInTheDocument()
  })
})
