import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import type { Peer } from './api'
import type { ExitView } from './generated/api'
import { RoutingPage } from './pages/Routing'
import { routeFetch } from './test/fetch'
import { FakeEventSource, useFakeEventSource } from './test/eventSource'

const KEY = 'InnGRSFD74kw7hta1Wgx1R7QFHB6MIbH8lo6F8EYfDo='
const HOME: ExitView = {
  name: 'home', kind: 'wireguard', endpoint: 'exit.example.net:51820', address: '10.66.66.2/32', dns: [],
  public_key: KEY, keepalive: 25, devices: [], keys_stored: true, preshared_key: false,
  live: { unit: 'active', up: true, endpoint: 'exit.example.net:51820', latest_handshake: 0, rx: 0, tx: 0, now: 0 },
}
const phone: Peer = { name: 'phone', public_key: KEY, ip: '10.0.0.2', route: 'split', owner: 'bob' }
const laptop: Peer = { name: 'laptop', public_key: KEY, ip: '10.0.0.3', route: 'full', exit: 'home' }
const CONF = '[Interface]\n# PrivateKey = (the private key that stays on the device)\n[Peer]\nAllowedIPs = 0.0.0.0/0\n'

useFakeEventSource()

/** The API of a cell with ``peers`` and the exit home; a PATCH answers ``patch`` (or applies the body). */
function cell(peers: Peer[], patch?: (name: string, body: Partial<Peer>) => { status: number; body: unknown }) {
  const now = [...peers]
  return routeFetch((url, init) => {
    if (url === '/api/exits') return { status: 200, body: { exits: [HOME] } }
    if (url === '/api/peers') return { status: 200, body: { peers: now } }
    if (url.startsWith('/api/runs/')) return { status: 200, body: { id: 'r9', status: 'running', tags: ['wireguard'] } }
    if (init.method === 'PATCH') {
      const name = decodeURIComponent(url.split('/').pop()!)
      const body = JSON.parse(init.body as string) as Partial<Peer>
      if (patch) return patch(name, body)
      const i = now.findIndex((p) => p.name === name)
      now[i] = { ...now[i], ...body, ...(body.exit === '' ? { exit: undefined } : {}) }
      return { status: 200, body: { peer: now[i], config: CONF, qr_svg: '<svg/>', run_id: 'r9', ready: true } }
    }
    return { status: 404, body: { error: 'not found' } }
  })
}

function row(name: string): HTMLElement {
  return screen.getByTestId('routing-table').querySelector(`tr[data-peer="${name}"]`) as HTMLElement
}

describe('Routing page', () => {
  it('lists each device with its owner, address, route and exit', async () => {
    cell([phone, laptop])
    render(<MemoryRouter><RoutingPage /></MemoryRouter>)
    await screen.findByTestId('routing-table')
    expect(row('phone')).toHaveTextContent('bob')
    expect(row('phone')).toHaveTextContent('10.0.0.2')
    expect(screen.getByLabelText('Route of phone')).toHaveValue('split')
    // a split tunnel has no exit to choose
    expect(screen.getByLabelText('Exit of phone')).toBeDisabled()
    expect(row('laptop')).toHaveTextContent('admin')
    expect(screen.getByLabelText('Route of laptop')).toHaveValue('full')
    await waitFor(() => expect(screen.getByLabelText('Exit of laptop')).toHaveValue('home'))
    // nothing changed yet: nothing to save
    expect(within(row('phone')).getByRole('button', { name: 'Save phone' })).toBeDisabled()
  })

  it('changes a route in place, shows the new configuration and follows the run', async () => {
    const calls = cell([phone, laptop])
    const user = userEvent.setup()
    render(<MemoryRouter><RoutingPage /></MemoryRouter>)
    await screen.findByTestId('routing-table')
    await user.selectOptions(screen.getByLabelText('Route of phone'), 'full')
    await waitFor(() => expect(screen.getByLabelText('Exit of phone')).toBeEnabled())
    await user.selectOptions(screen.getByLabelText('Exit of phone'), 'home')
    await user.click(screen.getByRole('button', { name: 'Save phone' }))
    const patch = calls.find((c) => c.init.method === 'PATCH')!
    expect(patch.url).toBe('/api/peers/phone')
    expect(JSON.parse(patch.init.body as string)).toEqual({ route: 'full', exit: 'home' })
    // a new route: the device loads a new configuration (the Peers page's panel)
    expect(await screen.findByTestId('peer-changed')).toHaveTextContent('AllowedIPs = 0.0.0.0/0')
    expect(await screen.findByTestId('run-view')).toHaveTextContent('Applying the route of phone')
    expect(FakeEventSource.instances.some((es) => es.url === '/api/runs/r9/events')).toBe(true)
    // the table shows the API's answer, with nothing left to save
    await waitFor(() => expect(screen.getByLabelText('Route of phone')).toHaveValue('full'))
    expect(screen.getByLabelText('Exit of phone')).toHaveValue('home')
    expect(within(row('phone')).getByRole('button', { name: 'Save phone' })).toBeDisabled()
  })

  it('moves a device off its exit without a new configuration', async () => {
    const calls = cell([laptop])
    const user = userEvent.setup()
    render(<MemoryRouter><RoutingPage /></MemoryRouter>)
    await waitFor(() => expect(screen.getByLabelText('Exit of laptop')).toHaveValue('home'))
    await user.selectOptions(screen.getByLabelText('Exit of laptop'), '')
    await user.click(screen.getByRole('button', { name: 'Save laptop' }))
    expect(await screen.findByText(/laptop now leaves through the cell’s own connection/)).toBeInTheDocument()
    expect(JSON.parse(calls.find((c) => c.init.method === 'PATCH')!.init.body as string)).toEqual({ exit: '' })
    expect(screen.queryByTestId('peer-changed')).toBeNull()
    expect(await screen.findByTestId('run-view')).toBeInTheDocument()
  })

  it('shows the API’s refusal at the field it names and keeps the choice', async () => {
    cell([laptop], () => ({ status: 409, body: { error: 'invalid peer change', fields: { exit: "exit 'home' is down" } } }))
    const user = userEvent.setup()
    render(<MemoryRouter><RoutingPage /></MemoryRouter>)
    await waitFor(() => expect(screen.getByLabelText('Exit of laptop')).toHaveValue('home'))
    await user.selectOptions(screen.getByLabelText('Route of laptop'), 'split')
    await user.click(screen.getByRole('button', { name: 'Save laptop' }))
    expect(await screen.findByText("exit 'home' is down")).toBeInTheDocument()
    expect(screen.getByLabelText('Exit of laptop')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByLabelText('Route of laptop')).toHaveValue('split')
    expect(screen.queryByTestId('run-view')).toBeNull()
  })

  it('points to the Peers page when there are no devices', async () => {
    cell([])
    render(<MemoryRouter><RoutingPage /></MemoryRouter>)
    expect(await screen.findByText(/No devices yet/)).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Peers' })).toHaveAttribute('href', '/peers')
  })
})
