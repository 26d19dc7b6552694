import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import type { DdnsView } from './generated/api'
import { ConnectivityPage, formToBody, validateForm } from './pages/Connectivity'
import { routeFetch } from './test/fetch'

const NEEDS = { none: [], pic_ngo: [], cloudflare: ['api_token'], duckdns: ['token'], noip: ['username', 'password'], freedns: ['token'] }

function view(over: Partial<DdnsView> = {}): DdnsView {
  return {
    settings: { provider: 'none', hostname: '', zone: '', ipv6: true, wireguard_endpoint: '', acme_challenge: 'http' },
    domain_mode: 'internal',
    domain: 'home.cell',
    provider: 'none',
    hostname: '',
    endpoint: '192.168.1.2',
    credentials: {},
    needs: NEEDS,
    status: null,
    ...over,
  }
}


beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

describe('connectivity page', () => {
  it('shows the provider’s own words for the last failed update', async () => {
    routeFetch((url) =>
      url.startsWith('/api/ddns')
        ? {
            status: 200,
            body: view({
              settings: { provider: 'noip', hostname: 'home.ddns.net', zone: '', ipv6: true, wireguard_endpoint: '', acme_challenge: 'http' },
              provider: 'noip',
              hostname: 'home.ddns.net',
              endpoint: 'home.ddns.net',
              credentials: { noip: { username: 'alice', password: true } },
              status: {
                provider: 'noip', hostname: 'home.ddns.net', public: { ipv4: '203.0.113.7' }, accepted: {},
                last_answer: null, last_success: null, last_error: 'badauth: the username or password is wrong',
                last_error_at: '2025-01-01T12:00:00Z', checked_at: '2025-01-01T12:00:00Z', failures: 1, blocked: true,
                next_attempt: null,
              },
            }),
          }
        : { status: 200, body: { peers: [] } },
    )
    render(<MemoryRouter><ConnectivityPage /></MemoryRouter>)
    const alert = await screen.findByTestId('ddns-error')
    expect(alert).toHaveTextContent('badauth: the username or password is wrong')
    expect(alert).toHaveTextContent('stopped until the settings or credentials change')
    expect(screen.getByTestId('ddns-status')).toHaveTextContent('203.0.113.7')
    // a stored secret is never shown, only that it is there
    expect(screen.getByLabelText('Password')).toHaveValue('')
    expect(screen.getAllByText('Stored. Leave empty to keep it.')).toHaveLength(2)
    expect(screen.getByLabelText('Username')).toHaveAttribute('placeholder', 'alice')
  })

  it('sends the credentials once and shows the provider’s refusal at its field', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/ddns' && init?.method === 'PUT')
        return { status: 400, body: { error: 'noip refused', fields: { 'credentials.password': 'badauth: the username or password is wrong' } } }
      if (url.startsWith('/api/ddns')) return { status: 200, body: view() }
      return { status: 200, body: { peers: [] } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><ConnectivityPage /></MemoryRouter>)
    await user.selectOptions(await screen.findByLabelText('Provider'), 'noip')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(screen.getByText('Enter the password.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init?.method === 'PUT')).toHaveLength(0)
    await user.type(screen.getByLabelText('Name to publish'), 'home.ddns.net')
    await user.type(screen.getByLabelText('Username'), 'alice')
    await user.type(screen.getByLabelText('Password'), 'wrong-pass')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    await screen.findByText('badauth: the username or password is wrong')
    const put = calls.find((c) => c.init?.method === 'PUT')!
    expect(JSON.parse(String(put.init.body))).toEqual({
      provider: 'noip', ipv6: true, wireguard_endpoint: '', hostname: 'home.ddns.net',
      credentials: { username: 'alice', password: 'wrong-pass' },
    })
    await waitFor(() => expect(screen.getByLabelText('Password')).toHaveAttribute('aria-invalid', 'true'))
  })
})

describe('connectivity form', () => {
  const base = { provider: 'duckdns' as const, hostname: 'home.duckdns.org', zone: '', ipv6: false, endpoint: '', acme: 'http' as const, credentials: {} }
  it('keeps a stored secret when the field is left empty', () => {
    expect(formToBody(base, ['token'])).toEqual({ provider: 'duckdns', ipv6: false, wireguard_endpoint: '', hostname: 'home.duckdns.org' })
    expect(validateForm(base, ['token'], { token: true })).toEqual({})
    expect(validateForm(base, ['token'], {})).toEqual({ 'credentials.token': 'Enter the token.' })
  })
  it('names the ACME challenge only for a public domain', () => {
    expect(formToBody({ ...base, acme: 'dns' }, ['token'], false).acme_challenge).toBe('dns')
    expect(formToBody({ ...base, acme: 'dns' }, ['token'], true)).not.toHaveProperty('acme_challenge')
  })
  it('checks the name and the endpoint', () => {
    expect(validateForm({ ...base, hostname: 'home.example.org' }, ['token'], { token: true }).hostname).toMatch(/duckdns\.org/)
    expect(validateForm({ ...base, endpoint: 'bad host' }, ['token'], { token: true }).wireguard_endpoint).toBeTruthy()
    expect(validateForm({ ...base, endpoint: '198.51.100.20' }, ['token'], { token: true })).toEqual({})
  })
})
