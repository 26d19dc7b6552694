import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import { NetworkServicesPage } from './pages/NetworkServices'
import { routeFetch } from './test/fetch'

const MAC = '52:54:00:12:34:56'
const RECORDS = { zone: 'home.cell', records: [{ id: 'aaaaaaaaaaaa', name: 'nas', type: 'A', value: '192.168.50.9' }] }
const DHCP = {
  enabled: true,
  lan_subnet: '192.168.50.0/24',
  lan_address: '192.168.50.1',
  dhcp_range: ['192.168.50.100', '192.168.50.200'],
  dhcp_lease_time: '12h',
  reservations: [{ name: 'tv', mac: '52:54:00:00:00:01', ip: '192.168.50.30' }],
  leases: [
    { mac: MAC, ip: '192.168.50.120', hostname: 'Laptop.home', expires: '2026-12-05T16:00:00Z', reserved: false },
    { mac: '52:54:00:00:00:01', ip: '192.168.50.30', hostname: 'tv', expires: null, reserved: true },
  ],
}

const NTP = {
  enabled: true,
  servers: [],
  serves: ['192.168.50.0/24', '10.64.3.0/24'],
  clients: [
    { address: '192.168.50.120', ntp_packets: 12, last_seen: 21 },
    { address: '10.64.3.2', ntp_packets: 3, last_seen: 5400 },
  ],
}

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

function api(extra?: (url: string, init: RequestInit) => { status: number; body: unknown } | undefined) {
  return routeFetch((url, init) => {
    const answer = extra?.(url, init)
    if (answer) return answer
    if (url.startsWith('/api/dns/records')) return { status: 200, body: RECORDS }
    if (url.startsWith('/api/dhcp')) return { status: 200, body: DHCP }
    if (url === '/api/ntp') return { status: 200, body: NTP }
    return { status: 200, body: { services: [] } }
  })
}

function page() {
  return render(
    <MemoryRouter>
      <NetworkServicesPage />
    </MemoryRouter>,
  )
}

describe('the Network Services page', () => {
  it('shows where the time comes from, the networks served and the hosts that asked', async () => {
    api()
    page()
    const facts = await screen.findByTestId('ntp-facts')
    expect(facts).toHaveTextContent('the cell’s own clock')
    expect(facts).toHaveTextContent('192.168.50.0/24, 10.64.3.0/24')
    expect(screen.getByTestId('ntp-client-192.168.50.120')).toHaveTextContent('12')
    expect(screen.getByTestId('ntp-client-192.168.50.120')).toHaveTextContent('21 s ago')
    expect(screen.getByTestId('ntp-client-10.64.3.2')).toHaveTextContent('90 min ago')
  })

  it('says why the hosts served cannot be read, and still shows the rest', async () => {
    api((url) => (url === '/api/ntp' ? { status: 200, body: { ...NTP, servers: ['ntp.example.org'], clients: [], clients_error: 'the hosts served could not be read: 506 Cannot talk to daemon' } } : undefined))
    page()
    expect(await screen.findByText(/506 Cannot talk to daemon/)).toBeInTheDocument()
    expect(screen.getByTestId('ntp-facts')).toHaveTextContent('ntp.example.org')
    expect(screen.getByText('No host has asked for the time since the service started.')).toBeInTheDocument()
  })

  it('lists the records, the pool, the leases and the reservations', async () => {
    api()
    page()
    const row = await screen.findByTestId('record-nas-A')
    expect(row).toHaveTextContent('nas.home.cell')
    expect(row).toHaveTextContent('192.168.50.9')
    expect(await screen.findByTestId('dhcp-pool')).toHaveTextContent('192.168.50.100 – 192.168.50.200')
    expect(screen.getByTestId('dhcp-pool')).toHaveTextContent('12h')
    expect(screen.getByTestId(`lease-${MAC}`)).toHaveTextContent('192.168.50.120')
    expect(within(screen.getByTestId('lease-52:54:00:00:00:01')).getByText('reserved')).toBeInTheDocument()
    expect(screen.getByTestId('reservation-tv')).toHaveTextContent('192.168.50.30')
  })

  it('adds a record, checking the form first and showing the API’s refusal at its field', async () => {
    let refuse = true
    const calls = api((url, init) => {
      if (url === '/api/dns/records' && init.method === 'POST') {
        if (refuse) {
          refuse = false
          return { status: 400, body: { error: 'invalid DNS record', fields: { name: "'mail' is a name of the cell itself" } } }
        }
        return { status: 202, body: { record: { id: 'bbbbbbbbbbbb', ...body(init) }, run_id: 'r1' } }
      }
    })
    const user = userEvent.setup()
    page()
    const form = await screen.findByRole('form', { name: 'Add a DNS record' })
    await user.click(within(form).getByRole('button', { name: 'Add record' }))
    expect(within(form).getByText('Enter a name (@ for the zone itself).')).toBeInTheDocument()
    await user.type(within(form).getByLabelText('Name'), 'mail')
    await user.type(within(form).getByLabelText('Value'), 'not-an-address')
    await user.click(within(form).getByRole('button', { name: 'Add record' }))
    expect(within(form).getByText('Enter an IPv4 address, such as 192.168.50.20.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)

    await user.clear(within(form).getByLabelText('Value'))
    await user.type(within(form).getByLabelText('Value'), '192.168.50.20')
    await user.click(within(form).getByRole('button', { name: 'Add record' }))
    expect(await within(form).findByText("'mail' is a name of the cell itself")).toBeInTheDocument()

    await user.clear(within(form).getByLabelText('Name'))
    await user.type(within(form).getByLabelText('Name'), 'printer')
    await user.selectOptions(within(form).getByLabelText('Type'), 'CNAME')
    await user.clear(within(form).getByLabelText('Value'))
    await user.type(within(form).getByLabelText('Value'), 'nas')
    await user.click(within(form).getByRole('button', { name: 'Add record' }))
    expect(await screen.findByText('printer CNAME added.')).toBeInTheDocument()
    const posts = calls.filter((c) => c.init.method === 'POST')
    expect(body(posts[posts.length - 1].init)).toEqual({ name: 'printer', type: 'CNAME', value: 'nas' })
  })

  it('deletes a record after asking', async () => {
    const calls = api((_url, init) => (init.method === 'DELETE' ? { status: 202, body: { run_id: 'r2' } } : undefined))
    const user = userEvent.setup()
    page()
    await user.click(await screen.findByRole('button', { name: 'Delete nas A' }))
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(calls.some((c) => c.init.method === 'DELETE' && c.url === '/api/dns/records/aaaaaaaaaaaa')).toBe(true))
  })

  it('fills a reservation from a lease with Reserve, and sends it', async () => {
    const calls = api((url, init) =>
      url === '/api/dhcp/reservations' && init.method === 'POST'
        ? { status: 202, body: { reservation: body(init), run_id: 'r3' } }
        : undefined,
    )
    const user = userEvent.setup()
    page()
    await user.click(await screen.findByRole('button', { name: `Reserve 192.168.50.120 for ${MAC}` }))
    const form = screen.getByRole('form', { name: 'Reserve an address' })
    expect(within(form).getByLabelText('Name')).toHaveValue('laptop')
    expect(within(form).getByLabelText('MAC address')).toHaveValue(MAC)
    expect(within(form).getByLabelText('Address')).toHaveValue('192.168.50.120')
    await user.click(within(form).getByRole('button', { name: 'Reserve' }))
    expect(await screen.findByText('192.168.50.120 reserved for laptop.')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(body(post.init)).toEqual({ name: 'laptop', mac: MAC, ip: '192.168.50.120' })
    expect(within(form).getByLabelText('MAC address')).toHaveValue('')
  })

  it('checks a reservation before sending it, and deletes one', async () => {
    const calls = api((_url, init) => (init.method === 'DELETE' ? { status: 202, body: { run_id: 'r4' } } : undefined))
    const user = userEvent.setup()
    page()
    const form = await screen.findByRole('form', { name: 'Reserve an address' })
    await user.type(within(form).getByLabelText('Name'), 'Bad Name')
    await user.type(within(form).getByLabelText('MAC address'), '52:54:00')
    await user.type(within(form).getByLabelText('Address'), '192.168.50')
    await user.click(within(form).getByRole('button', { name: 'Reserve' }))
    expect(within(form).getByText('Enter a MAC address such as 52:54:00:12:34:56.')).toBeInTheDocument()
    expect(within(form).getByText('Enter an IPv4 address of the LAN.')).toBeInTheDocument()
    expect(calls.some((c) => c.init.method === 'POST')).toBe(false)
    await user.click(screen.getByRole('button', { name: 'Delete the reservation of tv' }))
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Delete' }))
    await waitFor(() =>
      expect(calls.some((c) => c.init.method === 'DELETE' && c.url === `/api/dhcp/reservations/${encodeURIComponent('52:54:00:00:00:01')}`)).toBe(true),
    )
  })

  it('shows the pool even when the leases cannot be read', async () => {
    api((url) => (url === '/api/dhcp' ? { status: 200, body: { ...DHCP, leases: [], leases_error: 'the leases could not be read: agent away' } } : undefined))
    page()
    expect(await screen.findByText('the leases could not be read: agent away')).toBeInTheDocument()
    expect(screen.getByTestId('dhcp-pool')).toHaveTextContent('192.168.50.100')
  })
})
