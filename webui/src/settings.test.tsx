import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import type { Settings } from './api'
import { apiErrorsToForm, SettingsPage, validateDhcpRange, validateLeaseTime, validateNtpServers } from './pages/Settings'
import { routeFetch } from './test/fetch'
import { useFakeEventSource } from './test/eventSource'

useFakeEventSource()

const SETTINGS: Settings = {
  cell_name: 'home',
  domain_mode: 'internal',
  domain: 'home.cell',
  services: ['dns', 'dhcp', 'ntp'],
  timezone: 'Etc/UTC',
  upstream_dns: ['192.0.2.53'],
  ntp_servers: ['ntp.example.org'],
  dhcp_range: ['192.168.50.100', '192.168.50.200'],
  dhcp_lease_time: '12h',
}

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

describe('the DHCP and NTP checks of the settings form', () => {
  it('takes host names or addresses as NTP servers, none too', () => {
    expect(validateNtpServers('')).toBeNull()
    expect(validateNtpServers('ntp.example.org\n192.0.2.1')).toBeNull()
    expect(validateNtpServers('bad_host.example.org')).toMatch(/not a host name/)
    expect(validateNtpServers('300.1.1.1')).toMatch(/not a host name/)
    expect(validateNtpServers('ntp.example.org NTP.example.org')).toMatch(/twice/)
  })

  it('takes a pool of two addresses, start not after end', () => {
    expect(validateDhcpRange('192.168.50.10', '192.168.50.20')).toBeNull()
    expect(validateDhcpRange('192.168.50.10', '192.168.50.10')).toBeNull()
    expect(validateDhcpRange('192.168.50.20', '192.168.50.10')).toMatch(/start must not be after its end/)
    expect(validateDhcpRange('192.168.50.9', '192.168.50.10')).toBeNull() // compared as numbers, not text
    expect(validateDhcpRange('192.168.50.300', '192.168.50.10')).toMatch(/not an IPv4/)
    expect(validateDhcpRange('', '192.168.50.10')).toMatch(/both ends/)
  })

  it('takes a lease time from 2m to 365d, or infinite', () => {
    for (const ok of ['2m', '120', '12h', '1d', '365d', '52w', 'infinite']) expect(validateLeaseTime(ok)).toBeNull()
    for (const bad of ['1m', '119', '366d', '53w']) expect(validateLeaseTime(bad)).toMatch(/2m to 365d/)
    for (const bad of ['12x', '', '0', '-1h', '12 h']) expect(validateLeaseTime(bad)).toMatch(/like 12h/)
  })

  it('shows an API field error at its form field', () => {
    const f = apiErrorsToForm({ 'dhcp_range[1]': 'bad end', 'ntp_servers[2]': 'bad host', dhcp_lease_time: 'too long', upstream_dns: 'x' })
    expect(f).toMatchObject({ dhcp_range: 'bad end', ntp: 'bad host', lease: 'too long', resolvers: 'x' })
  })
})

// The page lists every time zone: typing into it is slow under jsdom.
describe('the Settings page', { timeout: 30000 }, () => {
  it('changes the NTP servers, the DHCP pool and lease time: previewed first, then applied', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/settings' && (init.method ?? 'GET') === 'GET') return { status: 200, body: SETTINGS }
      if (url.startsWith('/api/settings') && init.method === 'PUT')
        return { status: 202, body: { run_id: url.endsWith('preview=1') ? 'p1' : 'a1', preview: url.endsWith('preview=1') } }
      if (url.startsWith('/api/runs/')) return { status: 200, body: { id: 'p1', status: 'successful', tags: ['chrony', 'dnsmasq'], kind: 'preview', check: true } }
      if (url === '/api/state/versions') return { status: 200, body: { versions: [] } }
      return { status: 404, body: { error: 'not found' } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><SettingsPage /></MemoryRouter>)
    const ntp = await screen.findByLabelText('Upstream NTP servers')
    expect(ntp).toHaveValue('ntp.example.org')
    expect(screen.getByLabelText('Pool from')).toHaveValue('192.168.50.100')
    expect(screen.getByLabelText('Pool to')).toHaveValue('192.168.50.200')
    expect(screen.getByLabelText('Lease time')).toHaveValue('12h')
    await user.clear(ntp)
    await user.type(ntp, '192.0.2.123{enter}ntp2.example.org')
    await user.clear(screen.getByLabelText('Pool from'))
    await user.type(screen.getByLabelText('Pool from'), '192.168.50.20')
    await user.clear(screen.getByLabelText('Pool to'))
    await user.type(screen.getByLabelText('Pool to'), '192.168.50.90')
    await user.clear(screen.getByLabelText('Lease time'))
    await user.type(screen.getByLabelText('Lease time'), '2h')
    const apply = screen.getByRole('button', { name: 'Apply' })
    expect(apply).toBeDisabled()
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    await screen.findByText('Preview (check mode, nothing is changed)', {}, { timeout: 5000 })
    const puts = () => calls.filter((c) => c.init.method === 'PUT')
    expect(puts().map((c) => c.url)).toEqual(['/api/settings?preview=1'])
    expect(body(puts()[0].init)).toMatchObject({
      ntp_servers: ['192.0.2.123', 'ntp2.example.org'],
      dhcp_range: ['192.168.50.20', '192.168.50.90'],
      dhcp_lease_time: '2h',
    })
    await waitFor(() => expect(apply).toBeEnabled(), { timeout: 5000 })
    await user.click(apply)
    await screen.findByText('Applying', {}, { timeout: 5000 })
    expect(puts().map((c) => c.url)).toEqual(['/api/settings?preview=1', '/api/settings'])
    expect(body(puts()[1].init)).toEqual(body(puts()[0].init))
  })

  it('checks the fields before sending and shows the API’s refusal at its field; nothing is previewed', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/settings' && (init.method ?? 'GET') === 'GET') return { status: 200, body: SETTINGS }
      if (url.startsWith('/api/settings') && init.method === 'PUT')
        return { status: 400, body: { error: 'invalid settings', fields: { dhcp_range: 'DHCP range must lie inside the LAN subnet 192.168.50.0/24' } } }
      if (url === '/api/state/versions') return { status: 200, body: { versions: [] } }
      return { status: 404, body: { error: 'not found' } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><SettingsPage /></MemoryRouter>)
    const lease = await screen.findByLabelText('Lease time')
    await user.clear(lease)
    await user.type(lease, '1m')
    await user.clear(screen.getByLabelText('Upstream NTP servers'))
    await user.type(screen.getByLabelText('Upstream NTP servers'), 'ntp_1.example.org')
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    expect(await screen.findByText('A lease time must be from 2m to 365d.', {}, { timeout: 5000 })).toBeInTheDocument()
    expect(screen.getByText('"ntp_1.example.org" is not a host name or IPv4 address.')).toBeInTheDocument()
    expect(lease).toHaveAttribute('aria-invalid', 'true')
    expect(calls.filter((c) => c.init.method === 'PUT')).toHaveLength(0)
    // fixed here; the API refuses the pool (outside the LAN): its message is shown at the pool
    await user.clear(lease)
    await user.type(lease, '1d')
    await user.clear(screen.getByLabelText('Upstream NTP servers'))
    await user.clear(screen.getByLabelText('Pool from'))
    await user.type(screen.getByLabelText('Pool from'), '192.168.49.10')
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    expect(await screen.findAllByText('DHCP range must lie inside the LAN subnet 192.168.50.0/24', {}, { timeout: 5000 })).not.toHaveLength(0)
    expect(screen.getByLabelText('Pool from')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.queryByText('Preview (check mode, nothing is changed)')).toBeNull()
    const puts = calls.filter((c) => c.init.method === 'PUT')
    expect(puts).toHaveLength(1)
    expect(body(puts[0].init)).toMatchObject({ dhcp_range: ['192.168.49.10', '192.168.50.200'], dhcp_lease_time: '1d', ntp_servers: [] })
  })

  it('renames the cell: says where it will be, previews it, and shows a linked cell’s refusal at the name', async () => {
    let refuse = false
    const calls = routeFetch((url, init) => {
      if (url === '/api/settings' && (init.method ?? 'GET') === 'GET') return { status: 200, body: SETTINGS }
      if (url.startsWith('/api/settings') && init.method === 'PUT') {
        if (refuse) {
          const message = 'this cell is known as home to linked cell remote: remove the links and cancel the invitations before renaming it'
          return { status: 409, body: { error: message, fields: { cell_name: message } } }
        }
        return { status: 202, body: { run_id: 'p1', preview: true } }
      }
      if (url.startsWith('/api/runs/')) return { status: 200, body: { id: 'p1', status: 'successful', tags: [], kind: 'preview', check: true } }
      if (url === '/api/state/versions') return { status: 200, body: { versions: [] } }
      return { status: 404, body: { error: 'not found' } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><SettingsPage /></MemoryRouter>)
    const name = await screen.findByLabelText('Cell name')
    expect(name).toHaveValue('home')
    expect(screen.queryByRole('note')).toBeNull()
    await user.clear(name)
    await user.type(name, 'Attic')
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    expect(await screen.findByText(/Use lowercase letters/)).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'PUT')).toHaveLength(0)
    await user.clear(name)
    await user.type(name, 'attic')
    expect(screen.getByRole('note')).toHaveTextContent('https://attic.cell/')
    expect(screen.getByRole('note')).toHaveTextContent('…@attic.cell')
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    await screen.findByText('Preview (check mode, nothing is changed)', {}, { timeout: 5000 })
    const puts = () => calls.filter((c) => c.init.method === 'PUT')
    expect(body(puts()[0].init)).toMatchObject({ cell_name: 'attic' })
    refuse = true
    await user.type(name, 's')
    await user.click(screen.getByRole('button', { name: 'Preview changes' }))
    expect(await screen.findAllByText(/known as home to linked cell remote/, {}, { timeout: 5000 })).not.toHaveLength(0)
    expect(name).toHaveAttribute('aria-invalid', 'true')
  })
})
