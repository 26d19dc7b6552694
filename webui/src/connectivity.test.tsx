import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import type { DdnsView } from './generated/api'
import { ConnectivityPage, formToBody, validateForm } from './pages/Connectivity'
import { useFakeEventSource } from './test/eventSource'
import { routeFetch } from './test/fetch'

const NEEDS = { none: [], pic_ngo: [], cloudflare: ['api_token'], duckdns: ['token'], noip: ['username', 'password'], freedns: ['token'] }

function view(over: Partial<DdnsView> = {}): DdnsView {
  return {
    settings: { provider: 'none', hostname: '', zone: '', ipv6: true, wireguard_endpoint: '', acme_challenge: 'http', acme_delegation: {} },
    domain_mode: 'internal',
    domain: 'home.cell',
    provider: 'none',
    hostname: '',
    endpoint: '192.168.1.2',
    credentials: {},
    needs: NEEDS,
    status: null,
    acme_names: [],
    acme_cnames: [],
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
              settings: { provider: 'noip', hostname: 'home.ddns.net', zone: '', ipv6: true, wireguard_endpoint: '', acme_challenge: 'http', acme_delegation: {} },
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
  const base = {
    provider: 'duckdns' as const, hostname: 'home.duckdns.org', zone: '', ipv6: false, endpoint: '', acme: 'http' as const,
    credentials: {}, delegate: false, tsigSecret: '',
    delegation: { server: '', port: '', zone: '', key_name: '', algorithm: 'hmac-sha256' as const },
  }
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

describe('CNAME delegation of _acme-challenge', () => {
  useFakeEventSource() // the run a save starts
  const noip = {
    settings: {
      provider: 'noip' as const, hostname: 'home.example.org', zone: '', ipv6: true, wireguard_endpoint: '',
      acme_challenge: 'http' as const, acme_delegation: {},
    },
    domain_mode: 'custom' as const,
    domain: 'home.example.org',
    provider: 'noip' as const,
    hostname: 'home.example.org',
    endpoint: 'home.example.org',
    credentials: { noip: { username: 'alice', password: true } },
  }

  it('shows the records to create, to copy as they are', async () => {
    routeFetch((url) =>
      url.startsWith('/api/ddns')
        ? {
            status: 200,
            body: view({
              ...noip,
              settings: {
                ...noip.settings,
                acme_challenge: 'dns',
                acme_delegation: { server: 'ns.example.net', zone: 'acme.example.net', key_name: 'cell-acme', algorithm: 'hmac-sha256' },
              },
              credentials: { ...noip.credentials, acme_delegation: { tsig_secret: true } },
              acme_names: ['home.example.org', 'calendar.home.example.org'],
              acme_cnames: [
                { name: '_acme-challenge.home.example.org.', type: 'CNAME', target: 'home.example.org.acme.example.net.' },
                { name: '_acme-challenge.calendar.home.example.org.', type: 'CNAME', target: 'calendar.home.example.org.acme.example.net.' },
              ],
            }),
          }
        : { status: 200, body: { peers: [] } },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><ConnectivityPage /></MemoryRouter>)
    const records = await screen.findByTestId('acme-cnames')
    const lines = [
      '_acme-challenge.home.example.org. CNAME home.example.org.acme.example.net.',
      '_acme-challenge.calendar.home.example.org. CNAME calendar.home.example.org.acme.example.net.',
    ].join('\n')
    expect(records.textContent).toBe(lines)
    // the saved delegation fills the form; its secret is only said to be stored
    expect(screen.getByLabelText('Answer DNS-01 through a CNAME delegation of _acme-challenge')).toBeChecked()
    expect(screen.getByLabelText('Zone the CNAMEs point into')).toHaveValue('acme.example.net')
    expect(screen.getByLabelText('TSIG secret')).toHaveValue('')
    expect(screen.getAllByText('Stored. Leave empty to keep it.')).toHaveLength(3) // No-IP's two and the TSIG secret
    await user.click(screen.getByRole('button', { name: 'Copy the records' }))
    expect(await navigator.clipboard.readText()).toBe(lines) // user-event's stand-in clipboard
    expect(await screen.findByRole('status')).toHaveTextContent('Copied.')
  })

  it('lets No-IP choose DNS-01 only with a delegation, and sends the delegation with its secret', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/ddns' && init?.method === 'PUT') return { status: 202, body: { run_id: 'r1' } }
      if (url.startsWith('/api/ddns')) return { status: 200, body: view(noip) }
      if (url.startsWith('/api/runs')) return { status: 200, body: { run_id: 'r1', status: 'running', events: [] } }
      return { status: 200, body: { peers: [] } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><ConnectivityPage /></MemoryRouter>)
    const dns01 = (await screen.findByRole('option', { name: 'DNS-01 through the DDNS provider' })) as HTMLOptionElement
    expect(dns01.disabled).toBe(true)
    await user.click(screen.getByLabelText('Answer DNS-01 through a CNAME delegation of _acme-challenge'))
    expect((screen.getByRole('option', { name: 'DNS-01 through the CNAME delegation' }) as HTMLOptionElement).disabled).toBe(false)
    await user.selectOptions(screen.getByLabelText('Certificates for home.example.org'), 'dns')
    await user.type(screen.getByLabelText('DNS server'), '198.51.100.53')
    await user.type(screen.getByLabelText('Zone the CNAMEs point into'), 'acme.example.net.')
    await user.type(screen.getByLabelText('TSIG key name'), 'cell-acme')
    await user.selectOptions(screen.getByLabelText('TSIG algorithm'), 'hmac-sha512')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(screen.getByText('Enter the TSIG key’s secret.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init?.method === 'PUT')).toHaveLength(0)
    await user.type(screen.getByLabelText('TSIG secret'), 'a2tra2tra2tra2tra2tra2tra2tra2tra2tra2trays=')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(calls.filter((c) => c.init?.method === 'PUT')).toHaveLength(1))
    const put = calls.find((c) => c.init?.method === 'PUT')!
    expect(JSON.parse(String(put.init.body))).toEqual({
      provider: 'noip', ipv6: true, wireguard_endpoint: '', hostname: 'home.example.org', acme_challenge: 'dns',
      acme_delegation: { server: '198.51.100.53', zone: 'acme.example.net', key_name: 'cell-acme', algorithm: 'hmac-sha512' },
      acme_delegation_secret: 'a2tra2tra2tra2tra2tra2tra2tra2tra2tra2trays=',
    })
  })

  it('checks the delegation before sending it', () => {
    const f = {
      provider: 'freedns' as const, hostname: 'home.example.org', zone: '', ipv6: true, endpoint: '', acme: 'dns' as const,
      credentials: {}, delegate: true, tsigSecret: 'not base64!',
      delegation: { server: 'bad server', port: '70000', zone: 'nodots', key_name: 'bad key', algorithm: 'hmac-sha256' as const },
    }
    expect(Object.keys(validateForm(f, [], { token: true })).sort()).toEqual([
      'acme_delegation.key_name', 'acme_delegation.port', 'acme_delegation.server', 'acme_delegation.zone', 'acme_delegation_secret',
    ])
    expect(validateForm({ ...f, delegate: false }, [], { token: true }).acme_challenge).toMatch(/CNAME delegation/)
    expect(formToBody({ ...f, delegate: false }, [], false).acme_delegation).toEqual({})
  })
})
