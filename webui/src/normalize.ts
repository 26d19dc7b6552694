// The API's answers for services and settings, normalised for display. Only what the API says is
// shown; nothing is invented when a value is missing.

export interface ServiceHealth {
  name: string
  status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown'
  detail: string
}

function healthOf(v: unknown): ServiceHealth['status'] {
  if (v === true) return 'healthy'
  if (v === false) return 'unhealthy'
  if (typeof v === 'string') {
    const s = v.toLowerCase()
    if (['ok', 'healthy', 'up', 'active', 'running', 'pass'].includes(s)) return 'healthy'
    if (s === 'degraded') return 'degraded'
    if (['fail', 'failed', 'down', 'unhealthy', 'inactive', 'error', 'dead'].includes(s)) return 'unhealthy'
  }
  return 'unknown'
}

function one(name: string, v: unknown): ServiceHealth {
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const raw = o.healthy ?? o.status ?? o.state ?? o.ok ?? o.active
    let detail = [o.detail, o.message, o.error, o.unit].find((x) => typeof x === 'string') as string | undefined
    // The API's shape: units [{name, active}] and ports [{port, proto, open}].
    if (detail === undefined && (Array.isArray(o.units) || Array.isArray(o.ports))) {
      const parts: string[] = []
      for (const u of (o.units ?? []) as { name?: string; active?: boolean }[]) parts.push(`${u.name}: ${u.active ? 'active' : 'not active'}`)
      for (const p of (o.ports ?? []) as { port?: number; proto?: string; open?: boolean }[])
        parts.push(`${p.proto ?? 'tcp'}/${p.port}: ${p.open ? 'open' : 'closed'}`)
      detail = parts.join(', ')
    }
    return { name: String(o.name ?? name), status: healthOf(raw), detail: detail ?? '' }
  }
  return { name, status: healthOf(v), detail: typeof v === 'string' ? v : '' }
}

function isDisabled(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false
  const o = v as Record<string, unknown>
  return o.enabled === false || o.status === 'disabled'
}

/**
 * The enabled services and their health. Accepts [{name, status|healthy,...}], {"services": [...]}
 * (the API's shape, where disabled services say "enabled": false), or {"dns": {...} | "ok" | true}.
 */
export function normalizeServices(data: unknown): ServiceHealth[] {
  if (data && typeof data === 'object' && !Array.isArray(data) && 'services' in data) {
    return normalizeServices((data as { services: unknown }).services)
  }
  if (Array.isArray(data))
    return data.filter((v) => !isDisabled(v)).map((v, i) => one(String((v as { name?: unknown })?.name ?? `service ${i + 1}`), v))
  if (data && typeof data === 'object')
    return Object.entries(data)
      .filter(([, v]) => !isDisabled(v))
      .map(([k, v]) => one(k, v))
  return []
}

/** Look a value up by any of several dotted paths. */
export function pick(obj: unknown, ...paths: string[]): unknown {
  for (const p of paths) {
    let cur: unknown = obj
    for (const part of p.split('.')) {
      if (cur && typeof cur === 'object' && part in (cur as Record<string, unknown>)) cur = (cur as Record<string, unknown>)[part]
      else {
        cur = undefined
        break
      }
    }
    if (cur !== undefined && cur !== null && cur !== '') return cur
  }
  return undefined
}

export interface CellFact {
  label: string
  value: string
}

/** The cell's names and addresses as far as the settings say. */
export function cellFacts(settings: unknown): CellFact[] {
  const facts: [string, string[]][] = [
    ['Cell name', ['cell.name', 'cell_name', 'name']],
    ['Domain', ['cell.domain', 'domain']],
    ['Domain mode', ['cell.domain_mode', 'domain_mode']],
    ['Time zone', ['cell.timezone', 'timezone']],
    ['LAN address', ['network.lan_address', 'lan_address']],
    ['LAN subnet', ['network.lan_subnet', 'lan_subnet']],
    ['VPN subnet', ['network.vpn_subnet', 'vpn_subnet']],
    ['WireGuard port', ['network.wireguard_port', 'wireguard_port']],
    ['WireGuard endpoint', ['network.wireguard_endpoint', 'wireguard_endpoint', 'endpoint']],
  ]
  const out: CellFact[] = []
  for (const [label, paths] of facts) {
    const v = pick(settings, ...paths)
    if (v === undefined) continue
    out.push({ label, value: Array.isArray(v) ? v.join(', ') : String(v) })
  }
  return out
}
