import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import { CellNetworkPage, expiresIn, joinFieldErrors, readToken, serviceNames } from './pages/CellNetwork'
import { routeFetch } from './test/fetch'

beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

const NOW = 1_800_000_000
/** A token as the API writes one: pic-link1.<base64url JSON>.<signature> (the browser never checks the signature). */
function token(payload: Record<string, unknown>): string {
  const b64 = btoa(JSON.stringify(payload)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  return `pic-link1.${b64}.c2lnbmF0dXJl`
}
const INVITATION = token({ v: 1, kind: 'invitation', cell: { id: '0123456789abcdef', name: 'away', zone: 'away.cell' }, services: ['calendar', 'files'], expires: NOW + 5400 })
const ANSWER = token({ v: 1, kind: 'answer', cell: { id: 'fedcba9876543210', name: 'away', zone: 'away.cell' }, services: ['files'], expires: NOW + 86400 })

const LINK = {
  name: 'away', cell_id: '0123456789abcdef', zone: 'away.cell', signing_key: 'k', public_key: 'p',
  endpoint: '203.0.113.8:51821', subnets: ['10.77.3.0/24'], dns: '10.77.3.1', port: 51821,
  grants: ['calendar', 'files'], offered: ['calendar'], created: '2026-12-05T10:00:00Z',
  interface: 'cl-0123456789ab', keys_stored: true,
  peer: { version: 1764928800, zone: 'away.cell', devices: ['laptop', 'phone'], synced: '2026-12-05T10:05:00Z' },
  live: { unit: 'active', up: true, endpoint: '203.0.113.8:51821', latest_handshake: NOW - 42, rx: 2048, tx: 1024, now: NOW },
}
const listing = (links: unknown[], invitations: unknown[] = []) => ({ cell: { id: 'aaaabbbbccccdddd', signing_key: 's' }, links, invitations })

describe('what the Cell Network page reads', () => {
  it('reads a pasted token’s kind, cell, services and expiry, and says why a damaged one is no token', () => {
    expect(readToken(`  ${INVITATION}\n`)).toEqual({ kind: 'invitation', cell: 'away', zone: 'away.cell', services: ['calendar', 'files'], expires: NOW + 5400 })
    expect(readToken(ANSWER)).toMatchObject({ kind: 'answer', cell: 'away' })
    expect(readToken('')).toMatch(/Paste the token/)
    expect(readToken('hello')).toMatch(/not a token of cell linking/)
    expect(readToken('pic-link1.%%%.x')).toMatch(/damaged/)
    expect(readToken(token({ kind: 'other', cell: { name: 'x' } }))).toMatch(/damaged/)
    // a service the page does not know is left out rather than shown
    expect(readToken(token({ kind: 'invitation', cell: { name: 'x', zone: 'x.cell' }, services: ['ssh', 'mail'], expires: 1 }))).toMatchObject({ services: ['mail'] })
  })

  it('puts every refusal of the token at the token field and keeps the others where they are', () => {
    expect(joinFieldErrors({ 'token.expires': 'the invitation has expired: ask for a new one', 'services[0]': 'not one of calendar, files, mail', endpoint: 'not a host' }))
      .toEqual({ token: 'the invitation has expired: ask for a new one', services: 'not one of calendar, files, mail', endpoint: 'not a host' })
    expect(joinFieldErrors({ token: 'a', 'token.subnets': 'b' })).toEqual({ token: 'a b' })
    expect(joinFieldErrors({ 'grants[1]': 'not one of calendar, files, mail' })).toEqual({ grants: 'not one of calendar, files, mail' })
  })

  it('tells an expiry in hours and minutes from now', () => {
    expect(expiresIn(NOW + 5400, NOW * 1000)).toBe('in 1 h 30 min')
    expect(expiresIn(NOW + 86400, NOW * 1000)).toBe('in 24 h')
    expect(expiresIn(NOW + 30, NOW * 1000)).toBe('in 1 min')
    expect(expiresIn(NOW, NOW * 1000)).toBe('expired')
    expect(serviceNames(['mail', 'calendar'])).toBe('Calendar & contacts, Mail')
    expect(serviceNames([])).toBe('nothing')
  })
})

describe('the Cell Network page', () => {
  it('lists a link, changes what it may reach in place and follows the run, then removes it after asking', async () => {
    let links: (typeof LINK)[] = [LINK]
    let runStatus = 'running'
    const calls = routeFetch((url, init) => {
      if (url === '/api/cells/links/0123456789abcdef' && init.method === 'PUT') {
        const { grants } = JSON.parse(init.body as string)
        links = [{ ...LINK, grants }]
        return { status: 202, body: { link: links[0], run_id: 'r1' } }
      }
      if (url === '/api/cells/links/0123456789abcdef' && init.method === 'DELETE') {
        links = []
        return { status: 202, body: { run_id: 'r2', other_side: { reached: false, error: 'timed out' } } }
      }
      if (url === '/api/runs/r1') return { status: 200, body: { id: 'r1', status: runStatus } }
      if (url === '/api/runs/r2') return { status: 200, body: { id: 'r2', status: 'successful' } }
      if (url === '/api/cells/links') return { status: 200, body: listing(links) }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const card = await screen.findByTestId('link-away')
    expect(card).toHaveTextContent('away (away.cell)')
    expect(card).toHaveTextContent('10.77.3.0/24')
    expect(card).toHaveTextContent('It offersCalendar & contacts')
    expect(within(card).getByTestId('link-live')).toHaveTextContent('Tunnel up · last handshake 42 seconds ago')
    expect(within(card).getByTestId('link-synced')).toHaveTextContent('its devices: laptop, phone')
    expect(card).toHaveTextContent(/^away \(away\.cell\)up/)
    const form = within(card).getByRole('form', { name: 'What away may reach' })
    const save = within(form).getByRole('button', { name: 'Save access' })
    expect(save).toBeDisabled() // nothing changed yet
    await user.click(within(form).getByLabelText('Files (WebDAV)'))
    await user.click(within(form).getByLabelText('Mail'))
    await user.click(save)
    const progress = await screen.findByTestId('link-run')
    expect(progress).toHaveTextContent('Cell away may now reach Calendar & contacts, Mail; Files (WebDAV) closed when the run ends.')
    expect(progress).toHaveTextContent('Applying it now…')
    const put = calls.find((c) => c.init.method === 'PUT')!
    expect(JSON.parse(put.init.body as string)).toEqual({ grants: ['calendar', 'mail'] })
    runStatus = 'successful'
    await waitFor(() => expect(screen.getByTestId('link-run')).toHaveTextContent('Applied.'), { timeout: 4000 })
    expect(screen.getByRole('link', { name: 'Watch run r1' })).toHaveAttribute('href', '/runs/r1')

    await user.click(screen.getByRole('button', { name: 'Remove the link to away' }))
    const dialog = screen.getByRole('alertdialog')
    expect(dialog).toHaveTextContent('Remove the link to away?')
    await user.click(within(dialog).getByRole('button', { name: 'Remove' }))
    expect(await screen.findByText(/The link to cell away is removed/)).toHaveTextContent(
      'Cell away could not be told (timed out): its admin removes its end there.')
    expect(await screen.findByText('This cell is linked to no other cell yet.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'DELETE')).toHaveLength(1)
  })

  it('shows the API’s refusal of a grants change at its field', async () => {
    routeFetch((_url, init) => {
      if (init.method === 'PUT') return { status: 400, body: { error: 'invalid grants', fields: { 'grants[0]': 'not one of calendar, files, mail' } } }
      return { status: 200, body: listing([{ ...LINK, live: { unit: 'failed', up: false, endpoint: '', latest_handshake: 0, rx: 0, tx: 0, now: NOW, reason: 'interface cl-0123456789ab: No such device' } }]) }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const card = await screen.findByTestId('link-away')
    expect(card).toHaveTextContent(/^away \(away\.cell\)down/)
    expect(within(card).getByTestId('link-live')).toHaveTextContent('Tunnel down (failed): interface cl-0123456789ab: No such device')
    expect(within(card).getByTestId('link-synced')).toHaveTextContent('version 1764928800; its devices: laptop, phone')
    const form = await screen.findByRole('form', { name: 'What away may reach' })
    await user.click(within(form).getByLabelText('Calendar & contacts'))
    await user.click(within(form).getByRole('button', { name: 'Save access' }))
    expect(await within(form).findByText('not one of calendar, files, mail')).toBeInTheDocument()
  })

  it('withdraws an open invitation after asking, and lists it no more', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW * 1000)
    let open = true
    const calls = routeFetch((url, init) => {
      if (url === '/api/cells/invitations/n1abcdefghijklmnop' && init.method === 'DELETE') {
        open = false
        return { status: 200, body: { nonce: 'n1abcdefghijklmnop', canceled: true } }
      }
      return { status: 200, body: listing([], open ? [{ nonce: 'n1abcdefghijklmnop', expires: NOW + 5400, services: ['calendar'], port: 51821 }] : []) }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const list = await screen.findByTestId('invitations')
    expect(list).toHaveTextContent('Offering Calendar & contacts, port 51821; expires in 1 h 30 min')
    await user.click(within(list).getByRole('button', { name: 'Withdraw the invitation on port 51821' }))
    const dialog = screen.getByRole('alertdialog')
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(calls.filter((c) => c.init.method === 'DELETE')).toHaveLength(0) // asked first, nothing sent
    await user.click(within(list).getByRole('button', { name: 'Withdraw the invitation on port 51821' }))
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Withdraw' }))
    expect(await screen.findByText(/The invitation on port 51821 is withdrawn/)).toBeInTheDocument()
    await waitFor(() => expect(screen.queryByTestId('invitations')).toBeNull())
    expect(calls.filter((c) => c.init.method === 'DELETE')).toHaveLength(1)
    vi.restoreAllMocks()
  })

  it('makes an invitation with the services offered and shows its token to copy and its expiry', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW * 1000)
    const calls = routeFetch((url, init) => {
      if (url === '/api/cells/invitations' && init.method === 'POST')
        return { status: 201, body: { token: INVITATION, nonce: 'n1', expires: NOW + 5400, cell: { id: 'aaaabbbbccccdddd', name: 'home', zone: 'home.cell' } } }
      return { status: 200, body: listing([]) }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'Invite a cell' })
    await user.click(within(form).getByLabelText('Files (WebDAV)'))
    await user.clear(within(form).getByLabelText('Valid for (hours)'))
    await user.type(within(form).getByLabelText('Valid for (hours)'), '200')
    await user.click(within(form).getByRole('button', { name: 'Make invitation' }))
    expect(within(form).getByText('Enter 1 to 168 hours.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)
    await user.clear(within(form).getByLabelText('Valid for (hours)'))
    await user.type(within(form).getByLabelText('Valid for (hours)'), '2')
    await user.click(within(form).getByRole('button', { name: 'Make invitation' }))
    const out = await within(form).findByTestId('token-out')
    expect(within(out).getByLabelText('Invitation token')).toHaveValue(INVITATION)
    expect(within(out).getByRole('button', { name: 'Copy the invitation token' })).toBeInTheDocument()
    expect(out).toHaveTextContent('Single use, expires in 1 h 30 min')
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(JSON.parse(post.init.body as string)).toEqual({ services: ['calendar', 'files'], hours: 2 })
    vi.restoreAllMocks()
  })

  it('joins with an invitation (the refusal at the token field), hands back the answer, and completes a link with an answer', async () => {
    let expired = true
    const calls = routeFetch((url, init) => {
      if (url === '/api/cells/links' && init.method === 'POST') {
        if (expired) return { status: 400, body: { error: 'the token was refused', fields: { 'token.expires': 'the invitation has expired: ask for a new one' } } }
        return { status: 202, body: { link: LINK, answer: ANSWER, run_id: 'r5' } }
      }
      if (url === '/api/cells/links/accept' && init.method === 'POST') return { status: 202, body: { link: { ...LINK, name: 'away' }, run_id: 'r6' } }
      if (url.startsWith('/api/runs/')) return { status: 200, body: { id: url.split('/').pop(), status: 'running' } }
      return { status: 200, body: listing([]) }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CellNetworkPage /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'Join a cell' })
    const field = within(form).getByLabelText('Token')
    await user.click(within(form).getByRole('button', { name: 'Join cell' }))
    expect(within(form).getByText(/Paste the token/)).toBeInTheDocument()
    await user.click(field)
    await user.paste(INVITATION)
    expect(within(form).getByTestId('token-preview')).toHaveTextContent('An invitation from cell away (away.cell), offering Calendar & contacts, Files (WebDAV)')
    await user.click(within(form).getByLabelText('Mail'))
    await user.click(within(form).getByRole('button', { name: 'Join cell' }))
    expect(await within(form).findByText('the invitation has expired: ask for a new one')).toBeInTheDocument()
    expect(field).toHaveAttribute('aria-invalid', 'true')
    expired = false
    await user.click(within(form).getByRole('button', { name: 'Join cell' }))
    const out = await within(form).findByTestId('token-out')
    expect(within(out).getByLabelText('Answer token')).toHaveValue(ANSWER)
    expect(out).toHaveTextContent('Give it back to cell away’s admin')
    expect(await screen.findByTestId('link-run')).toHaveTextContent('Linked to cell away. Applying it now…')
    const redeem = calls.filter((c) => c.url === '/api/cells/links' && c.init.method === 'POST').pop()!
    expect(JSON.parse(redeem.init.body as string)).toEqual({ token: INVITATION, services: ['mail'] })

    await user.click(field)
    await user.paste(ANSWER)
    expect(within(form).getByTestId('token-preview')).toHaveTextContent('The answer of cell away (away.cell)')
    expect(within(form).queryByText('Services of this cell granted to it')).not.toBeInTheDocument()
    await user.click(within(form).getByRole('button', { name: 'Complete link' }))
    expect(await screen.findByRole('link', { name: 'Watch run r6' })).toBeInTheDocument()
    const accept = calls.find((c) => c.url === '/api/cells/links/accept')!
    expect(JSON.parse(accept.init.body as string)).toEqual({ token: ANSWER })
  })
})
