import { describe, expect, it } from 'vitest'
import { passwordStrength, timeZones, validateCellName, validateDomain, validatePeer, validateSetup, type SetupForm } from './validation'
import { cellFacts, normalizeServices } from './normalize'
import { formToBody, settingsToForm, validateResolvers } from './pages/Settings'

const good: SetupForm = {
  cell_name: 'home',
  domain_mode: 'internal',
  domain: '',
  timezone: 'Europe/Berlin',
  admin_password: 'correct-Horse-battery-9',
  confirm_password: 'correct-Horse-battery-9',
  services: ['dns', 'wireguard'],
}

describe('setup validation', () => {
  it('accepts a good form', () => {
    expect(validateSetup(good, ['UTC', 'Europe/Berlin'])).toEqual({})
  })

  it('checks the cell name as a DNS label', () => {
    expect(validateCellName('home-1')).toBeNull()
    expect(validateCellName('a'.repeat(32))).toBeNull() // the API's limit, from its schema
    expect(validateCellName('')).toMatch(/Enter a name/)
    for (const bad of ['Home', '1home', 'home_1', 'a'.repeat(33), 'home-', 'ho me', 'home\n']) {
      expect(validateCellName(bad), bad).not.toBeNull()
    }
  })

  it('needs a domain only when the mode is not internal', () => {
    expect(validateSetup({ ...good, domain_mode: 'custom' }, []).domain).toMatch(/Enter the domain/)
    expect(validateSetup({ ...good, domain_mode: 'custom', domain: 'cell.example.org' }, [])).toEqual({})
    expect(validateSetup({ ...good, domain_mode: 'internal', domain: 'garbage!!' }, [])).toEqual({})
    expect(validateDomain('localhost')).toMatch(/full domain/)
    expect(validateDomain('a..b')).not.toBeNull()
    expect(validateDomain('ex ample.org')).not.toBeNull()
    expect(validateDomain('Cell.Example.org.')).toBeNull()
  })

  it('wants the time zone from the list', () => {
    expect(validateSetup({ ...good, timezone: 'Mars/Olympus' }, ['UTC']).timezone).toMatch(/from the list/)
    expect(validateSetup({ ...good, timezone: '' }, ['UTC']).timezone).toMatch(/Choose/)
  })

  it('wants a strong password, confirmed', () => {
    expect(validateSetup({ ...good, admin_password: 'short', confirm_password: 'short' }, []).admin_password).toMatch(/at least 8/)
    expect(validateSetup({ ...good, admin_password: 'aaaaaaaaaa', confirm_password: 'aaaaaaaaaa' }, []).admin_password).toMatch(/easy/)
    expect(validateSetup({ ...good, confirm_password: 'other' }, []).confirm_password).toMatch(/do not match/)
  })

  it('wants at least one service', () => {
    expect(validateSetup({ ...good, services: [] }, []).services).toBeTruthy()
  })
})

describe('password strength', () => {
  it('rises with length and variety', () => {
    const scores = ['', 'abc', 'abcdefghij', 'Abcdefgh1!', 'Abcdefgh1!xyzw', 'Tr0ub4dor&3-horse-staple'].map((p) => passwordStrength(p).score)
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThanOrEqual(scores[i - 1])
    expect(scores[0]).toBe(0)
    expect(scores[scores.length - 1]).toBe(4)
  })

  it('punishes common passwords and repeats', () => {
    expect(passwordStrength('password123456!A').score).toBe(0)
    expect(passwordStrength('Aaaaaaaa1!bc').score).toBeLessThan(passwordStrength('Abcdefgh1!bc').score)
  })
})

describe('peer validation', () => {
  it('checks the name, uniqueness and a pasted key', () => {
    expect(validatePeer({ name: 'phone', route: 'split', public_key: '' })).toEqual({})
    expect(validatePeer({ name: 'Phone', route: 'split', public_key: '' }).name).toBeTruthy()
    expect(validatePeer({ name: 'phone', route: 'split', public_key: '' }, ['phone']).name).toMatch(/exists/)
    expect(validatePeer({ name: 'phone', route: 'full', public_key: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=' })).toEqual({})
    expect(validatePeer({ name: 'phone', route: 'full', public_key: 'not-a-key' }).public_key).toMatch(/44 characters/)
  })
})

describe('time zones', () => {
  it('lists real zones including UTC', () => {
    const z = timeZones()
    expect(z).toContain('UTC')
    expect(z).toContain('Europe/Berlin')
  })
})

describe('service health from the API', () => {
  it('reads the API\'s units and ports, and leaves out disabled services', () => {
    const list = normalizeServices({
      checked_at: '2026-11-27T05:00:00Z',
      services: [
        { name: 'dns', enabled: true, status: 'ok', units: [{ name: 'dnsmasq', active: true }], ports: [{ port: 53, proto: 'tcp', open: true }] },
        { name: 'mail', enabled: true, status: 'degraded', units: [{ name: 'postfix', active: true }, { name: 'dovecot', active: false }], ports: [] },
        { name: 'files', enabled: false, status: 'disabled', units: [], ports: [] },
      ],
    })
    expect(list).toEqual([
      { name: 'dns', status: 'healthy', detail: 'dnsmasq: active, tcp/53: open' },
      { name: 'mail', status: 'degraded', detail: 'postfix: active, dovecot: not active' },
    ])
  })

  it('shows the facts the settings and the state carry', () => {
    const settings = { cell_name: 'home', domain_mode: 'internal', domain: 'home.cell', services: [], timezone: 'UTC', upstream_dns: [], ntp_servers: [],
      dhcp_range: ['192.168.50.100', '192.168.50.200'], dhcp_lease_time: '12h' } as const
    expect(cellFacts({ ...settings, services: [], upstream_dns: [], ntp_servers: [], dhcp_range: ['192.168.50.100', '192.168.50.200'] }, { version: 1, cell: { name: 'home' }, network: { vpn_subnet: '10.0.0.0/24' } })).toEqual([
      { label: 'Cell name', value: 'home' },
      { label: 'Domain', value: 'home.cell' },
      { label: 'Domain mode', value: 'internal' },
      { label: 'Time zone', value: 'UTC' },
      { label: 'VPN subnet', value: '10.0.0.0/24' },
    ])
  })
})

describe('settings form', () => {
  it('reads the settings and writes back a settings change', () => {
    const form = settingsToForm({ cell_name: 'home', domain_mode: 'internal', domain: 'home.cell', services: ['dns', 'mail'], timezone: 'UTC', upstream_dns: ['192.0.2.1'], ntp_servers: ['ntp.example.org'],
      dhcp_range: ['192.168.50.100', '192.168.50.200'], dhcp_lease_time: '12h' })
    expect(form).toEqual({ cell_name: 'home', services: ['dns', 'mail'], timezone: 'UTC', resolvers: '192.0.2.1', domain_mode: 'internal', domain: '',
      ntp: 'ntp.example.org', dhcp_start: '192.168.50.100', dhcp_end: '192.168.50.200', lease: '12h' })
    expect(formToBody({ ...form, services: ['mail', 'dns'], resolvers: '192.0.2.1\n 192.0.2.2, ' })).toEqual({
      cell_name: 'home',
      services: ['dns', 'mail'],
      timezone: 'UTC',
      upstream_dns: ['192.0.2.1', '192.0.2.2'],
      domain_mode: 'internal',
      ntp_servers: ['ntp.example.org'],
      dhcp_range: ['192.168.50.100', '192.168.50.200'],
      dhcp_lease_time: '12h',
    })
    // a custom domain is sent with its mode; the other modes' domain follows from the name (the API's rule)
    expect(formToBody({ ...form, domain_mode: 'custom', domain: ' Home.Example.org' })).toMatchObject({
      domain_mode: 'custom',
      domain: 'home.example.org',
    })
    expect(formToBody({ ...form, domain_mode: 'pic_ngo', domain: 'x.example.org' })).not.toHaveProperty('domain')
  })

  it('validates resolvers as IP addresses', () => {
    expect(validateResolvers('192.0.2.1\n198.51.100.53')).toBeNull()
    expect(validateResolvers('')).toBeNull() // none: the host's own resolvers, as the API allows
    expect(validateResolvers('2001:db8::53')).toMatch(/not an IPv4 address/) // the API takes IPv4 only
    expect(validateResolvers('192.0.2.1 192.0.2.1')).toMatch(/twice/)
    expect(validateResolvers(Array.from({ length: 9 }, (_, i) => `192.0.2.${i + 1}`).join('\n'))).toMatch(/At most 8/)
    expect(validateResolvers('dns.example.org')).toMatch(/not an IP/)
    expect(validateResolvers('300.1.1.1')).toMatch(/not an IP/)
  })
})
