import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import { FirewallPage } from './pages/Firewall'
import { routeFetch } from './test/fetch'

beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

const CELL_PORTS = [{ protocol: 'tcp', port: 443, what: 'HTTPS' }, { protocol: 'udp', port: 51820, what: 'WireGuard' }]

describe('the Firewall page', () => {
  it('opens a port to the zones chosen, shows the API’s refusal at its field, and closes it again', async () => {
    let openings: unknown[] = []
    const calls = routeFetch((url, init) => {
      if (url === '/api/firewall/openings' && init.method === 'POST') {
        const body = JSON.parse(init.body as string)
        if (body.port === 443)
          return { status: 400, body: { error: 'invalid firewall opening', fields: { port: "tcp port 443 is the cell's own (HTTPS)" } } }
        const rule = { id: `${body.protocol}-${body.port}`, ...body }
        openings = [rule]
        return { status: 202, body: { rule, run_id: 'r1' } }
      }
      if (url === '/api/firewall/openings/tcp-3000' && init.method === 'DELETE') {
        openings = []
        return { status: 202, body: { run_id: 'r2' } }
      }
      if (url === '/api/firewall') return { status: 200, body: { openings, forwards: [], cell_ports: CELL_PORTS } }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><FirewallPage /></MemoryRouter>)
    expect(await screen.findByTestId('cell-ports')).toHaveTextContent('tcp 443 HTTPS')
    const form = screen.getByRole('form', { name: 'Open a port' })
    await user.type(within(form).getByLabelText('Port'), '443')
    await user.click(within(form).getByRole('button', { name: 'Open port' }))
    expect(await within(form).findByText("tcp port 443 is the cell's own (HTTPS)")).toBeInTheDocument()
    await user.clear(within(form).getByLabelText('Port'))
    await user.type(within(form).getByLabelText('Port'), '3000')
    await user.click(within(form).getByLabelText('VPN'))
    await user.click(within(form).getByRole('button', { name: 'Open port' }))
    expect(await screen.findByText('tcp port 3000 opened to LAN, VPN.')).toBeInTheDocument()
    const posts = calls.filter((c) => c.init.method === 'POST')
    expect(JSON.parse(posts[1].init.body as string)).toEqual({ protocol: 'tcp', port: 3000, zones: ['lan', 'vpn'] })
    expect(await screen.findByTestId('opening-tcp-3000')).toHaveTextContent('LAN, VPN')
    await user.click(screen.getByRole('button', { name: 'Remove tcp 3000' }))
    await user.click(screen.getByRole('button', { name: 'Close' }))
    expect(await screen.findByText('tcp port 3000 closed.')).toBeInTheDocument()
    expect(await screen.findByText('No openings of your own.')).toBeInTheDocument()
  })

  it('checks a port forward before sending it and sends the LAN host and its port', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/firewall/forwards' && init.method === 'POST') {
        const body = JSON.parse(init.body as string)
        return { status: 202, body: { rule: { id: 'tcp-8080', to_port: body.port, ...body }, run_id: 'r3' } }
      }
      return { status: 200, body: { openings: [], forwards: [], cell_ports: CELL_PORTS } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><FirewallPage /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'Add a port forward' })
    await user.type(within(form).getByLabelText('Port of the cell'), '70000')
    await user.type(within(form).getByLabelText('LAN host'), 'nas')
    await user.click(within(form).getByLabelText('LAN'))  // no zone left
    await user.click(within(form).getByRole('button', { name: 'Add port forward' }))
    expect(within(form).getByText('Enter a port from 1 to 65535.')).toBeInTheDocument()
    expect(within(form).getByText(/Enter the LAN host’s address/)).toBeInTheDocument()
    expect(within(form).getByText('Choose at least one zone.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)
    await user.clear(within(form).getByLabelText('Port of the cell'))
    await user.type(within(form).getByLabelText('Port of the cell'), '8080')
    await user.clear(within(form).getByLabelText('LAN host'))
    await user.type(within(form).getByLabelText('LAN host'), '192.168.50.20')
    await user.click(within(form).getByLabelText('Internet'))
    await user.click(within(form).getByRole('button', { name: 'Add port forward' }))
    expect(await screen.findByText('tcp port 8080 now goes on to 192.168.50.20:8080.')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({ protocol: 'tcp', port: 8080, zones: ['wan'], to: '192.168.50.20' })
  })
})
