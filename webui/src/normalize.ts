// The API's service health and cell facts, put in words for display. The shapes are the API's
// (src/generated/api.ts); nothing is invented when a value is missing.

import type { CellState, ServiceName, ServicesHealth, Settings } from './api'

export interface ServiceHealth {
  name: ServiceName
  status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown'
  detail: string
}

const STATUS: Record<string, ServiceHealth['status']> = { ok: 'healthy', degraded: 'degraded', down: 'unhealthy' }

/** The enabled services, their health and the units and ports behind it. */
export function normalizeServices(data: ServicesHealth): ServiceHealth[] {
  return data.services
    .filter((s) => s.enabled)
    .map((s) => ({
      name: s.name,
      status: STATUS[s.status] ?? 'unknown',
      detail: [
        ...s.units.map((u) => `${u.name}: ${u.active ? 'active' : 'not active'}`),
        ...s.ports.map((p) => `${p.proto}/${p.port}: ${p.open ? 'open' : 'closed'}`),
      ].join(', '),
    }))
}

export interface CellFact {
  label: string
  value: string
}

/** The cell's names from its settings, and its addresses from its state when that is known. */
export function cellFacts(settings: Settings, state?: CellState | null): CellFact[] {
  const net = state?.network ?? {}
  const facts: [string, string | number | undefined][] = [
    ['Cell name', settings.cell_name],
    ['Domain', settings.domain],
    ['Domain mode', settings.domain_mode],
    ['Time zone', settings.timezone],
    ['LAN address', net.lan_address],
    ['LAN subnet', net.lan_subnet],
    ['VPN subnet', net.vpn_subnet],
    ['WireGuard port', net.wireguard_port],
  ]
  return facts.filter(([, v]) => v !== undefined && v !== '').map(([label, v]) => ({ label, value: String(v) }))
}
