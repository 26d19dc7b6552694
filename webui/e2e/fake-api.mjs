// TEST DOUBLE — an in-memory stand-in for the PIC management API (docs/api.md), used only by the
// browser tests when they are not pointed at a real cell (PIC_UI_URL unset). It answers with the
// API's shapes (setup, auth with session + CSRF double-submit, runs whose events are the API's
// trimmed ansible-runner events over SSE with seq and pic_run_status, peers, services, settings,
// state, logs, CA) closely enough to drive every flow, and adds a few /__fake/* control endpoints
// that the tests use to create situations (a failed run, an expired session). It is never part of
// the built application.

import http from 'node:http'
import crypto from 'node:crypto'

const SERVICES = ['dns', 'dhcp', 'ntp', 'wireguard', 'mail', 'calendar', 'files']
const ROLE_OF = {
  dns: 'dnsmasq',
  dhcp: 'dnsmasq',
  ntp: 'chrony',
  wireguard: 'wireguard',
  mail: 'mailserver',
  calendar: 'radicale',
  files: 'webdav',
}
const ROOT_PEM = '-----BEGIN CERTIFICATE-----\nTEST DOUBLE\n-----END CERTIFICATE-----\n'
/** Where a cell's UI answers after setup: its name, then its LAN address (a documentation address here). */
const httpsOf = (domain) => [`https://${domain}/`, 'https://192.0.2.1/']
const EVENT_INTERVAL_MS = Number(process.env.FAKE_EVENT_INTERVAL_MS ?? 40)

function json(res, status, body, headers = {}) {
  const data = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...headers })
  res.end(data)
}

function parseCookies(req) {
  const out = {}
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

async function readBody(req) {
  const chunks = []
  for await (const c of req) chunks.push(c)
  if (!chunks.length) return {}
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return null
  }
}

/** ansible-runner-like events for a run over the given roles; `fail` = {role, task, host, msg}. */
function scriptEvents({ roles, check = false, fail = null, host = 'cell' }) {
  const ev = []
  let counter = 0
  // Trimmed as the API's trim_event does: the details at the top level, the result's changed/msg/diff.
  const push = (event, data = {}) => {
    const { res = {}, task_uuid: _u, ignore_errors: _i, ...details } = data
    const out = { event, counter: ++counter, created: new Date().toISOString(), stdout: '', ...details }
    if ('changed' in res) out.changed = Boolean(res.changed)
    if (event === 'runner_on_failed' || event === 'runner_on_unreachable') {
      out.failed = true
      if (res.msg) out.msg = res.msg
    }
    if (res.diff) out.diff = res.diff
    if (event === 'playbook_on_stats') {
      out.stats = {}
      for (const k of ['ok', 'changed', 'failures', 'dark', 'skipped', 'rescued']) {
        out.stats[k] = details[k] ?? {}
        delete out[k]
      }
    }
    ev.push(out)
  }
  push('playbook_on_start', { playbook: 'site.yml' })
  push('playbook_on_play_start', { play: 'Load the cell state' })
  const t0 = crypto.randomUUID()
  push('playbook_on_task_start', { task: 'Read /etc/pic/cell.yml', task_uuid: t0, play: 'Load the cell state' })
  push('runner_on_ok', { task: 'Read /etc/pic/cell.yml', task_uuid: t0, host, play: 'Load the cell state', res: { changed: false } })
  push('playbook_on_play_start', { play: 'Converge the cell' })
  const stats = { ok: 1, changed: 0, failures: 0, skipped: 0 }
  outer: for (const role of roles) {
    for (const [i, task] of ['Install packages', 'Write configuration', 'Enable and start the service'].entries()) {
      const uuid = crypto.randomUUID()
      const base = { task, task_uuid: uuid, role, host, play: 'Converge the cell' }
      push('playbook_on_task_start', { task, task_uuid: uuid, role, play: 'Converge the cell' })
      if (fail && fail.role === role && fail.task === task) {
        push('runner_on_failed', { ...base, ignore_errors: null, res: { changed: false, msg: fail.msg } })
        stats.failures += 1
        break outer
      }
      const changed = i === 1
      const res = { changed }
      if (check && changed) {
        res.diff = [
          {
            before_header: `/etc/${role}/${role}.conf`,
            after_header: `/etc/${role}/${role}.conf`,
            before: `# managed by PIC\nsetting = old\n`,
            after: `# managed by PIC\nsetting = new\n`,
          },
        ]
      }
      push('runner_on_ok', { ...base, res })
      stats.ok += 1
      if (changed) stats.changed += 1
    }
  }
  push('playbook_on_stats', {
    ok: { [host]: stats.ok },
    changed: { [host]: stats.changed },
    failures: stats.failures ? { [host]: stats.failures } : {},
    dark: {},
    skipped: {},
    rescued: {},
  })
  return ev
}

export function createFakeApi() {
  const state = {
    setupCompleted: false,
    cell: null,
    services: [...SERVICES],
    timezone: 'UTC',
    upstream_dns: ['192.0.2.53', '198.51.100.53'],
    users: new Map(),
    sessions: new Map(), // sid -> {user, csrf}
    // One device from the start, so every page (the phone width too) is seen with a filled peer table.
    peers: [{ name: 'laptop', ip: '10.0.0.2', public_key: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=', route: 'split' }],
    runs: new Map(),
    order: [],
    csrfRejections: 0,
    requests: [],
    // The one-time code a real cell keeps in /etc/pic/setup-code; the tests read it like a person
    // reads `pic setup-code` on the host (here from /__fake/setup-code).
    setupCode: 'HJK4-MN5P-QR6S-TV7W',
  }
  let nextRun = 1
  const normaliseCode = (c) => String(c ?? '').toUpperCase().replace(/[-\s]/g, '')
  /** null when the body's setup_code is right, else [status, error body] as the API answers. */
  const codeRefusal = (b) => {
    if (typeof b?.setup_code !== 'string' || !b.setup_code.trim())
      return [400, { error: 'the setup code is required: run `pic setup-code` on the cell', fields: { setup_code: 'required' } }]
    if (normaliseCode(b.setup_code) !== normaliseCode(state.setupCode))
      return [403, { error: 'wrong setup code; `pic setup-code` on the cell prints it', fields: { setup_code: 'wrong setup code' } }]
    return null
  }

  function startRun({ description, roles, check = false, fail = null, tags = [] }) {
    const id = `20261127T0500${String(nextRun++).padStart(2, '0')}-${crypto.randomBytes(4).toString('hex')}`
    const now = new Date().toISOString()
    const script = scriptEvents({ roles, check, fail })
    const run = {
      id,
      kind: check ? 'preview' : 'converge',
      status: 'running',
      tags,
      check,
      description,
      created_at: now,
      started_at: now,
      finished_at: null,
      error: null,
      events: [],
      listeners: new Set(),
    }
    state.runs.set(id, run)
    state.order.unshift(id)
    const publish = (e) => {
      const out = { seq: run.events.length, run_id: id, ...e }
      run.events.push(out)
      for (const l of run.listeners) l(out)
    }
    publish({ event: 'pic_run_status', status: 'running', created: now })
    let i = 0
    const tick = () => {
      if (run.status !== 'running') return
      if (i < script.length) {
        publish(script[i++])
        setTimeout(tick, EVENT_INTERVAL_MS)
        return
      }
      finish(fail ? 'failed' : 'successful')
    }
    const finish = (status) => {
      run.status = status
      run.finished_at = new Date().toISOString()
      publish({ event: 'pic_run_status', status, created: run.finished_at })
      for (const l of run.listeners) l(null)
      run.listeners.clear()
    }
    run.cancel = () => finish('canceled')
    setTimeout(tick, EVENT_INTERVAL_MS)
    return run
  }

  const rolesFor = (services) => [...new Set(services.map((s) => ROLE_OF[s]))].concat(['caddy'])

  function newSession(res, user) {
    const sid = crypto.randomBytes(16).toString('hex')
    const csrf = crypto.randomBytes(16).toString('hex')
    state.sessions.set(sid, { user, csrf })
    res.setHeader('Set-Cookie', [
      `pic_session=${sid}; Path=/; HttpOnly; SameSite=Lax`,
      `pic_csrf=${csrf}; Path=/; SameSite=Lax`,
    ])
  }

  function publicRun(r) {
    const { events: _e, listeners: _l, cancel: _c, ...rest } = r
    return rest
  }
  const userOf = (name) => ({ user: { username: name, role: 'admin', expires_at: new Date(Date.now() + 12 * 3600e3).toISOString() } })

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://fake')
    const path = url.pathname
    const method = req.method
    state.requests.push({ method, path, csrf: req.headers['x-csrf-token'] ?? null })
    const cookies = parseCookies(req)
    const session = state.sessions.get(cookies.pic_session)

    // ---- test controls (not part of the real API) ----
    if (path === '/__fake/state' && method === 'GET') {
      return json(res, 200, {
        setupCompleted: state.setupCompleted,
        peers: state.peers.map((p) => p.name),
        csrfRejections: state.csrfRejections,
        sessions: state.sessions.size,
        requests: state.requests,
      })
    }
    if (path === '/__fake/setup-code' && method === 'GET') return json(res, 200, { setup_code: state.setupCode })
    if (path === '/__fake/expire-sessions' && method === 'POST') {
      state.sessions.clear()
      return json(res, 200, { ok: true })
    }
    if (path === '/__fake/failed-run' && method === 'POST') {
      const run = startRun({
        description: 'converge',
        roles: ['dnsmasq', 'wireguard', 'mailserver'],
        fail: { role: 'wireguard', task: 'Enable and start the service', msg: 'Unable to start service wg-quick@wg0: Job failed. See "journalctl -xeu wg-quick@wg0".' },
      })
      return json(res, 201, { run_id: run.id })
    }

    if (path === '/health') return json(res, 200, { status: 'ok', setup_completed: state.setupCompleted, version: 'test-double' })
    // Files caddy serves on a cell, also on :8081 after setup: the root certificate, the HTTPS addresses.
    if (path === '/ca.crt' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/x-x509-ca-cert' })
      return res.end(ROOT_PEM)
    }
    if (path === '/cell.json' && method === 'GET') {
      const domain = state.cell?.domain ?? 'mycell.cell'
      return json(res, 200, { domain, https: httpsOf(domain) })
    }
    if (!path.startsWith('/api/')) return json(res, 404, { error: 'not found' })

    // CSRF double-submit on every state-changing request except /api/auth/* and /api/setup*.
    const csrfExempt = path.startsWith('/api/auth/') || path.startsWith('/api/setup')
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) && !csrfExempt) {
      if (!session || req.headers['x-csrf-token'] !== session.csrf) {
        state.csrfRejections += 1
        return json(res, 403, { error: 'CSRF token missing or wrong' })
      }
    }

    if (path === '/api/setup/status' && method === 'GET') return json(res, 200, { completed: state.setupCompleted })
    if (path === '/api/setup/options' && method === 'GET') {
      return json(res, 200, {
        services: SERVICES,
        domain_modes: ['internal', 'pic_ngo', 'custom'],
        defaults: {
          cell_name: 'mycell',
          timezone: 'Etc/UTC',
          services: SERVICES,
          upstream_dns: [],
          lan: { lan_interface: 'eth0', lan_subnet: '192.0.2.0/24', lan_address: '192.0.2.1', dhcp_range: ['192.0.2.100', '192.0.2.200'] },
          lan_dhcp_servers: [],
        },
      })
    }
    if (path === '/api/setup/code' && method === 'POST') {
      if (state.setupCompleted) return json(res, 409, { error: 'the cell is already set up' })
      const refused = codeRefusal(await readBody(req))
      return refused ? json(res, ...refused) : json(res, 200, { valid: true })
    }
    if (path === '/api/setup' && method === 'POST') {
      if (state.setupCompleted) return json(res, 409, { error: 'setup already completed' })
      const b = await readBody(req)
      if (!b) return json(res, 400, { error: 'invalid JSON' })
      const refused = codeRefusal(b)
      if (refused) return json(res, ...refused)
      const fields = {}
      if (!/^[a-z][a-z0-9-]{0,30}$/.test(b.cell_name ?? '')) fields.cell_name = 'invalid cell name'
      if (b.cell_name === 'taken') fields.cell_name = 'this name is reserved'
      if (!['internal', 'pic_ngo', 'custom'].includes(b.domain_mode)) fields.domain_mode = 'invalid domain mode'
      if (b.domain_mode !== 'internal' && !b.domain) fields.domain = 'required'
      if (!b.timezone) fields.timezone = 'required'
      if (typeof b.admin_password !== 'string' || b.admin_password.length < 10) fields.admin_password = 'too short'
      if (!Array.isArray(b.services) || b.services.some((s) => !SERVICES.includes(s))) fields.services = 'invalid'
      if (Object.keys(fields).length) return json(res, 400, { error: 'invalid input', fields })
      state.setupCompleted = true
      state.cell = { name: b.cell_name, domain_mode: b.domain_mode, domain: b.domain_mode === 'internal' ? `${b.cell_name}.cell` : b.domain }
      state.timezone = b.timezone
      state.services = b.services
      state.users.set('admin', b.admin_password)
      newSession(res, 'admin')
      const run = startRun({ description: 'first setup', roles: rolesFor(b.services) })
      return json(res, 202, { run_id: run.id, ...userOf('admin'), https: httpsOf(state.cell.domain) })
    }
    if (!state.setupCompleted) return json(res, 428, { error: 'setup required', redirect: '/setup' })

    if (path === '/api/auth/login' && method === 'POST') {
      const b = (await readBody(req)) ?? {}
      if (state.users.get(b.username) !== b.password) return json(res, 401, { error: 'invalid credentials' })
      newSession(res, b.username)
      return json(res, 200, userOf(b.username))
    }
    if (path === '/api/auth/logout' && method === 'POST') {
      if (session) state.sessions.delete(cookies.pic_session)
      return json(res, 200, { ok: true }, { 'Set-Cookie': 'pic_session=; Path=/; Max-Age=0' })
    }
    if (!session) return json(res, 401, { error: 'authentication required' })
    if (path === '/api/auth/me' && method === 'GET') return json(res, 200, userOf(session.user))

    if (path === '/api/runs' && method === 'GET') return json(res, 200, { runs: state.order.map((id) => publicRun(state.runs.get(id))) })
    if (path === '/api/runs' && method === 'POST') {
      const b = (await readBody(req)) ?? {}
      const run = startRun({ description: b.check ? 'preview of the whole cell' : 'converge of the whole cell', check: Boolean(b.check), roles: rolesFor(state.services), tags: b.tags ?? [] })
      return json(res, 202, { run_id: run.id })
    }
    let m = path.match(/^\/api\/runs\/([^/]+)\/cancel$/)
    if (m && method === 'POST') {
      const run = state.runs.get(decodeURIComponent(m[1]))
      if (!run) return json(res, 404, { error: 'no such run' })
      if (run.status !== 'running') return json(res, 409, { error: 'the run has ended' })
      run.cancel()
      return json(res, 202, { run_id: run.id })
    }
    m = path.match(/^\/api\/runs\/([^/]+)(\/events)?$/)
    if (m && method === 'GET') {
      const run = state.runs.get(decodeURIComponent(m[1]))
      if (!run) return json(res, 404, { error: 'no such run' })
      if (!m[2]) return json(res, 200, publicRun(run))
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
      const after = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? -1)
      const send = (e) => res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`)
      for (const e of run.events) if (e.seq > after) send(e)
      if (run.status !== 'running') return res.end()
      const listener = (e) => (e ? send(e) : res.end())
      run.listeners.add(listener)
      req.on('close', () => run.listeners.delete(listener))
      return
    }

    if (path === '/api/peers' && method === 'GET') return json(res, 200, { peers: state.peers })
    if (path === '/api/peers' && method === 'POST') {
      const b = (await readBody(req)) ?? {}
      if (!/^[a-z][a-z0-9-]{0,30}$/.test(b.name ?? '')) return json(res, 400, { error: 'invalid input', fields: { name: 'invalid name' } })
      if (state.peers.some((p) => p.name === b.name)) return json(res, 409, { error: 'peer exists', fields: { name: 'a peer with this name exists' } })
      const generated = !b.public_key
      const key = b.public_key || crypto.randomBytes(32).toString('base64')
      const peer = { name: b.name, ip: `10.0.0.${state.peers.length + 2}`, public_key: key, route: b.route ?? 'split' }
      state.peers.push(peer)
      const config = [
        '[Interface]',
        generated ? `PrivateKey = ${crypto.randomBytes(32).toString('base64')}` : 'PrivateKey = <the device keeps its own key>',
        `Address = ${peer.ip}/32`,
        `DNS = 10.0.0.1`,
        '',
        '[Peer]',
        `PublicKey = ${crypto.randomBytes(32).toString('base64')}`,
        `AllowedIPs = ${peer.route === 'full' ? '0.0.0.0/0, ::/0' : '10.0.0.0/24'}`,
        'Endpoint = 192.0.2.1:51820',
        '',
      ].join('\n')
      // Not a real QR code: a recognisable test pattern the page must show as an image.
      const qr_svg =
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21" width="210" height="210"><rect width="21" height="21" fill="#fff"/>' +
        '<rect x="0" y="0" width="7" height="7" fill="#000"/><rect x="14" y="0" width="7" height="7" fill="#000"/>' +
        '<rect x="0" y="14" width="7" height="7" fill="#000"/><rect x="9" y="9" width="3" height="3" fill="#000"/></svg>'
      const run = startRun({ description: `add peer ${peer.name}`, roles: ['wireguard', 'dnsmasq'], tags: ['wireguard', 'dnsmasq'] })
      return json(res, 201, { peer, config, qr_svg, run_id: run.id, private_key_included: generated })
    }
    m = path.match(/^\/api\/peers\/([^/]+)$/)
    if (m && method === 'DELETE') {
      const name = decodeURIComponent(m[1])
      const i = state.peers.findIndex((p) => p.name === name)
      if (i < 0) return json(res, 404, { error: 'no such peer' })
      state.peers.splice(i, 1)
      const run = startRun({ description: `delete peer ${name}`, roles: ['wireguard', 'dnsmasq'], tags: ['wireguard', 'dnsmasq'] })
      return json(res, 202, { run_id: run.id })
    }

    if (path === '/api/services' && method === 'GET') {
      const units = { dns: ['dnsmasq'], dhcp: ['dnsmasq'], ntp: ['chrony'], wireguard: ['wg-quick@wg0'], mail: ['postfix', 'dovecot'], calendar: ['radicale'], files: ['apache2'] }
      return json(res, 200, {
        checked_at: new Date().toISOString(),
        services: SERVICES.map((s) => {
          const enabled = state.services.includes(s)
          if (!enabled) return { name: s, enabled, status: 'disabled', units: [], ports: [] }
          // Mail is shown half up, so the page has a degraded service to show.
          const u = units[s].map((name) => ({ name, active: !(s === 'mail' && name === 'dovecot') }))
          return { name: s, enabled, status: s === 'mail' ? 'degraded' : 'ok', units: u, ports: [] }
        }),
      })
    }
    if (path === '/api/settings' && method === 'GET') {
      return json(res, 200, {
        cell_name: state.cell.name,
        domain_mode: state.cell.domain_mode,
        domain: state.cell.domain,
        services: state.services,
        timezone: state.timezone,
        upstream_dns: state.upstream_dns,
        ntp_servers: [],
      })
    }
    if (path === '/api/state' && method === 'GET') {
      return json(res, 200, {
        version: 3,
        state: {
          version: 1,
          setup_completed: true,
          cell: { ...state.cell, timezone: state.timezone },
          network: { lan_interface: 'eth0', lan_subnet: '192.168.50.0/24', lan_address: '192.168.50.1', vpn_subnet: '10.0.0.0/24', wireguard_port: 51820 },
          services: state.services,
          peers: state.peers,
          users: [{ name: 'admin', role: 'admin', password_hash: '********' }],
        },
      })
    }
    if (path === '/api/logs' && method === 'GET') {
      const source = url.searchParams.get('source') ?? 'api'
      const q = (url.searchParams.get('q') ?? '').toLowerCase()
      const entries =
        source === 'api'
          ? state.requests.slice(-20).map((r) => ({ time: new Date().toISOString(), level: 'INFO', logger: 'pic.http', message: `${r.method} ${r.path}` }))
          : [{ time: String(Date.now() * 1000), level: 'INFO', unit: `${source}.service`, message: `Started ${source}.` }]
      return json(res, 200, { source, entries: entries.filter((e) => !q || e.message.toLowerCase().includes(q)) })
    }
    if (path === '/api/settings' && method === 'PUT') {
      const b = (await readBody(req)) ?? {}
      const fields = {}
      if (!Array.isArray(b.upstream_dns) || !b.upstream_dns.length) fields.upstream_dns = 'at least one resolver'
      if (Object.keys(fields).length) return json(res, 400, { error: 'invalid input', fields })
      const preview = url.searchParams.get('preview') === '1'
      if (!preview) {
        state.services = b.services
        state.timezone = b.timezone
        state.upstream_dns = b.upstream_dns
      }
      const run = startRun({ description: preview ? 'preview of settings' : 'settings', check: preview, roles: rolesFor(b.services ?? state.services) })
      return json(res, 202, { run_id: run.id, preview })
    }
    if (path === '/api/ca/root.pem' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file' })
      return res.end(ROOT_PEM)
    }
    return json(res, 404, { error: 'not found' })
  })

  return { server, state }
}

// Run alone: `node e2e/fake-api.mjs [port]` (handy with `PIC_API_URL=http://127.0.0.1:<port> npm run dev`).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { server } = createFakeApi()
  const port = Number(process.argv[2] ?? 3999)
  server.listen(port, '127.0.0.1', () => console.log(`fake PIC API (test double) on http://127.0.0.1:${port}`))
}
