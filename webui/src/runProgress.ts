// Turns the stream of ansible-runner events of one run into progress by role and task.
//
// ansible-runner gives no total task count up front, so the progress bar counts roles: the roles the
// run is expected to touch (the run's tags, when the API says) or, failing that, the roles seen so
// far. A role is done when a task of another role starts or the playbook ends.
//
// The API replays a run's events from the start on every (re)connect, so events carrying a
// sequence number (`seq`, else ansible-runner's `counter`) at or below the last one applied are
// ignored.
//
// Two shapes are accepted: ansible-runner's own event dicts (details under `event_data`, the result
// under `event_data.res`), and the API's trimmed events, which carry the same details at the top
// level (`task`, `role`, `host`, `changed`, `failed`, `msg`, `diff`, `stats`) plus `seq`, and
// `pic_run_status` events with the run's `status`.

import type { RunStatus } from './api'

export interface RunnerEvent {
  event?: string
  counter?: number | null
  seq?: number
  uuid?: string
  status?: string
  stdout?: string
  event_data?: {
    task?: string
    task_uuid?: string
    task_action?: string
    role?: string
    host?: string
    play?: string
    ignore_errors?: boolean | null
    res?: Record<string, unknown>
    ok?: Record<string, number>
    failures?: Record<string, number>
    dark?: Record<string, number>
    changed?: Record<string, number>
    skipped?: Record<string, number>
    [key: string]: unknown
  }
  [key: string]: unknown
}

export type TaskStatus = 'running' | 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable'
export type RoleStatus = 'running' | 'done' | 'failed'

export interface TaskProgress {
  key: string
  name: string
  role: string
  status: TaskStatus
  hosts: Record<string, TaskStatus>
}

export interface RoleProgress {
  name: string
  status: RoleStatus
  tasks: number
  changed: number
  failed: number
}

export interface Failure {
  task: string
  role: string
  host: string
  message: string
  unreachable: boolean
}

export interface DiffEntry {
  task: string
  role: string
  host: string
  text: string
}

export interface HostStats {
  host: string
  ok: number
  changed: number
  failures: number
  unreachable: number
  skipped: number
}

export interface RunProgress {
  lastCounter: number
  events: number
  play: string | null
  roles: RoleProgress[]
  tasks: TaskProgress[]
  currentTask: { name: string; role: string } | null
  failures: Failure[]
  diffs: DiffEntry[]
  stats: HostStats[] | null
  expectedRoles: string[] | null
  /** Per task key, the message of its first failed loop item: more telling than the task's own
   * "One or more items failed". */
  itemFailures: Record<string, string>
  /** The run's final status, from a final event or from the run resource. */
  status: RunStatus | null
}

export type RunAction =
  | { type: 'event'; event: RunnerEvent }
  | { type: 'status'; status: RunStatus }
  | { type: 'expect'; roles: string[] }
  | { type: 'reset' }

export const initialRunProgress: RunProgress = {
  lastCounter: 0,
  events: 0,
  play: null,
  roles: [],
  tasks: [],
  currentTask: null,
  failures: [],
  diffs: [],
  stats: null,
  expectedRoles: null,
  itemFailures: {},
  status: null,
}

const FINAL: RunStatus[] = ['successful', 'failed', 'canceled']
const RESULT_EVENTS: Record<string, TaskStatus> = {
  runner_on_ok: 'ok',
  runner_on_failed: 'failed',
  runner_on_skipped: 'skipped',
  runner_on_unreachable: 'unreachable',
}
const ITEM_EVENTS: Record<string, TaskStatus> = {
  runner_item_on_ok: 'ok',
  runner_item_on_failed: 'failed',
  runner_item_on_skipped: 'skipped',
}
/** The API's own event: the run's status (RunEvent in its OpenAPI document); the last one is final. */
const STATUS_EVENT = 'pic_run_status'
const FLAT_DETAILS = ['task', 'task_uuid', 'task_action', 'role', 'host', 'play', 'playbook', 'ignore_errors'] as const

/** The API's trimmed (flat) event in ansible-runner's shape; runner events pass through. */
export function normalizeEvent(ev: RunnerEvent): RunnerEvent {
  if (ev.event_data && typeof ev.event_data === 'object') return ev
  const data: Record<string, unknown> = {}
  for (const k of FLAT_DETAILS) if (ev[k] !== undefined && ev[k] !== null) data[k] = ev[k]
  const res: Record<string, unknown> = {}
  for (const k of ['changed', 'failed', 'msg', 'diff', 'stderr', 'rc']) if (ev[k] !== undefined) res[k] = ev[k]
  if (Object.keys(res).length) data.res = res
  if (ev.event === 'playbook_on_stats' && ev.stats && typeof ev.stats === 'object') Object.assign(data, ev.stats)
  return { ...ev, event_data: data as RunnerEvent['event_data'] }
}

function sequenceOf(ev: RunnerEvent): number | null {
  if (typeof ev.seq === 'number') return ev.seq
  if (typeof ev.counter === 'number') return ev.counter
  return null
}

/** The group a task belongs to: its role, or the play for tasks outside any role. */
export function groupOf(ev: RunnerEvent, play: string | null): string {
  const d = ev.event_data ?? {}
  if (d.role) return String(d.role)
  const p = d.play ?? play
  return p ? `play: ${p}` : 'playbook'
}

function taskKey(ev: RunnerEvent, group: string): string {
  const d = ev.event_data ?? {}
  return d.task_uuid ? String(d.task_uuid) : `${group}\u0000${d.task ?? ''}`
}

/** The message a failed result carries, in the order Ansible modules tend to fill them. */
export function failureMessage(res: Record<string, unknown> | undefined): string {
  if (!res) return 'failed'
  for (const k of ['msg', 'reason', 'stderr', 'module_stderr', 'stdout', 'exception']) {
    const v = res[k]
    if (typeof v === 'string' && v.trim()) return v.trim()
    if (Array.isArray(v) && v.length) return v.map(String).join('\n')
  }
  const results = res.results
  if (Array.isArray(results)) {
    const failed = results.find(
      (r) => r && typeof r === 'object' && (r as Record<string, unknown>).failed,
    ) as Record<string, unknown> | undefined
    if (failed) return failureMessage(failed)
  }
  if (typeof res.rc === 'number') return `exit code ${res.rc}`
  return 'failed'
}

/** A readable text of one diff as Ansible reports it in check mode with --diff. */
export function diffText(diff: unknown): string {
  const parts = Array.isArray(diff) ? diff : [diff]
  const out: string[] = []
  for (const p of parts) {
    if (!p || typeof p !== 'object') continue
    const d = p as Record<string, unknown>
    if (typeof d.prepared === 'string' && d.prepared) {
      out.push(d.prepared)
      continue
    }
    const before = d.before
    const after = d.after
    if (before === undefined && after === undefined) continue
    const bh = typeof d.before_header === 'string' ? d.before_header : 'before'
    const ah = typeof d.after_header === 'string' ? d.after_header : 'after'
    const fmt = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2) ?? '')
    const bl = fmt(before).split('\n')
    const al = fmt(after).split('\n')
    if (bl.join('\n') === al.join('\n')) continue
    const lines = [`--- ${bh}`, `+++ ${ah}`]
    const bset = new Set(bl)
    const aset = new Set(al)
    for (const l of bl) if (!aset.has(l)) lines.push(`-${l}`)
    for (const l of al) if (!bset.has(l)) lines.push(`+${l}`)
    out.push(lines.join('\n'))
  }
  return out.join('\n')
}

function closeRunningRoles(roles: RoleProgress[], except: string | null): RoleProgress[] {
  return roles.map((r) => (r.status === 'running' && r.name !== except ? { ...r, status: 'done' } : r))
}

function applyEvent(state: RunProgress, raw: RunnerEvent): RunProgress {
  const seq = sequenceOf(raw)
  if (seq !== null && state.events > 0 && seq <= state.lastCounter) return state
  const ev = normalizeEvent(raw)
  const s: RunProgress = {
    ...state,
    lastCounter: seq ?? state.lastCounter,
    events: state.events + 1,
  }
  const name = ev.event ?? ''
  const d = ev.event_data ?? {}

  // A final status carried by an event (added by the API at the end of the stream).
  if (typeof ev.status === 'string' && FINAL.includes(ev.status as RunStatus) && name === STATUS_EVENT) {
    return { ...s, status: ev.status as RunStatus, currentTask: null, roles: closeRunningRoles(s.roles, null) }
  }

  if (name === 'playbook_on_play_start') {
    return { ...s, play: d.play ? String(d.play) : s.play }
  }

  if (name === 'playbook_on_task_start' || name === 'playbook_on_handler_task_start') {
    const group = groupOf(ev, s.play)
    const key = taskKey(ev, group)
    const taskName = String(d.task ?? d.task_action ?? 'task')
    let roles = closeRunningRoles(s.roles, group)
    const idx = roles.findIndex((r) => r.name === group)
    if (idx < 0) roles = [...roles, { name: group, status: 'running', tasks: 1, changed: 0, failed: 0 }]
    else
      roles = roles.map((r, i) =>
        i === idx ? { ...r, tasks: r.tasks + 1, status: r.status === 'failed' ? 'failed' : 'running' } : r,
      )
    const tasks = s.tasks.some((t) => t.key === key)
      ? s.tasks
      : [...s.tasks, { key, name: taskName, role: group, status: 'running' as TaskStatus, hosts: {} }]
    return { ...s, roles, tasks, currentTask: { name: taskName, role: group } }
  }

  if (name in RESULT_EVENTS || name in ITEM_EVENTS) {
    const isItem = name in ITEM_EVENTS
    const group = groupOf(ev, s.play)
    const key = taskKey(ev, group)
    const host = String(d.host ?? d.remote_addr ?? 'localhost')
    const res = (d.res ?? {}) as Record<string, unknown>
    let status: TaskStatus = isItem ? ITEM_EVENTS[name] : RESULT_EVENTS[name]
    const ignored = Boolean(d.ignore_errors)
    if (status === 'failed' && ignored) status = 'ok'
    if (status === 'ok' && res.changed === true) status = 'changed'

    let s2 = s
    if (res.diff !== undefined && !isItem) {
      const text = diffText(res.diff)
      if (text) s2 = { ...s2, diffs: [...s2.diffs, { task: String(d.task ?? ''), role: group, host, text }] }
    }
    // Item results only feed the task's final result; the per-host result decides.
    if (isItem) {
      if (status === 'failed' && !(key in s2.itemFailures)) {
        s2 = { ...s2, itemFailures: { ...s2.itemFailures, [key]: failureMessage(res) } }
      }
      return s2
    }

    const failed = status === 'failed' || status === 'unreachable'
    let tasks = s2.tasks
    if (!tasks.some((t) => t.key === key)) {
      tasks = [...tasks, { key, name: String(d.task ?? 'task'), role: group, status: 'running', hosts: {} }]
    }
    tasks = tasks.map((t) => {
      if (t.key !== key) return t
      const hosts = { ...t.hosts, [host]: status }
      const vals = Object.values(hosts)
      const agg: TaskStatus = vals.includes('unreachable')
        ? 'unreachable'
        : vals.includes('failed')
          ? 'failed'
          : vals.includes('changed')
            ? 'changed'
            : vals.includes('ok')
              ? 'ok'
              : 'skipped'
      return { ...t, hosts, status: agg }
    })
    let roles = s2.roles
    if (!roles.some((r) => r.name === group)) {
      roles = [...roles, { name: group, status: 'running', tasks: 1, changed: 0, failed: 0 }]
    }
    roles = roles.map((r) =>
      r.name === group
        ? {
            ...r,
            changed: r.changed + (status === 'changed' ? 1 : 0),
            failed: r.failed + (failed ? 1 : 0),
            status: failed ? 'failed' : r.status,
          }
        : r,
    )
    const failures = failed
      ? [
          ...s2.failures,
          {
            task: String(d.task ?? ''),
            role: group,
            host,
            message: s2.itemFailures[key] ?? failureMessage(res),
            unreachable: status === 'unreachable',
          },
        ]
      : s2.failures
    return { ...s2, tasks, roles, failures }
  }

  if (name === 'playbook_on_stats') {
    const hosts = new Set<string>()
    for (const k of ['ok', 'changed', 'failures', 'dark', 'skipped'] as const) {
      for (const h of Object.keys(d[k] ?? {})) hosts.add(h)
    }
    const stats: HostStats[] = [...hosts].sort().map((h) => ({
      host: h,
      ok: d.ok?.[h] ?? 0,
      changed: d.changed?.[h] ?? 0,
      failures: d.failures?.[h] ?? 0,
      unreachable: d.dark?.[h] ?? 0,
      skipped: d.skipped?.[h] ?? 0,
    }))
    return { ...s, stats, currentTask: null, roles: closeRunningRoles(s.roles, null) }
  }

  return s
}

export function runProgressReducer(state: RunProgress, action: RunAction): RunProgress {
  switch (action.type) {
    case 'event': {
      const next = applyEvent(state, action.event)
      // Events replayed after the final status is known cannot make the run "running" again.
      if (state.status && next !== state) {
        return { ...next, currentTask: null, roles: closeRunningRoles(next.roles, null) }
      }
      return next
    }
    case 'status':
      if (!FINAL.includes(action.status)) return state
      return { ...state, status: action.status, currentTask: null, roles: closeRunningRoles(state.roles, null) }
    case 'expect':
      return { ...state, expectedRoles: action.roles.length ? [...action.roles] : null }
    case 'reset':
      return { ...initialRunProgress, expectedRoles: state.expectedRoles }
  }
}

/** Whether the run is over: a final status, or the playbook's closing statistics. */
export function isFinished(p: RunProgress): boolean {
  return p.status !== null || p.stats !== null
}

/** The outcome as far as the events tell, before the run resource confirms it. */
export function outcome(p: RunProgress): RunStatus | 'running' {
  if (p.status) return p.status
  if (p.stats) {
    return p.stats.some((h) => h.failures > 0 || h.unreachable > 0) || p.failures.length ? 'failed' : 'successful'
  }
  return 'running'
}

/** Progress in percent (0–100) by role. */
export function progressPercent(p: RunProgress): number {
  if (isFinished(p)) return 100
  const seen = p.roles.filter((r) => !r.name.startsWith('play: ') && r.name !== 'playbook')
  const expected = p.expectedRoles
  const total = expected
    ? Math.max(expected.length, seen.filter((r) => expected.includes(r.name)).length)
    : seen.length + 1 // the role after the ones seen so far, unknown until it starts
  if (total <= 0) return 0
  const counted = expected ? seen.filter((r) => expected.includes(r.name)) : seen
  const done = counted.filter((r) => r.status !== 'running').length
  const running = counted.some((r) => r.status === 'running') ? 0.5 : 0
  return Math.min(99, Math.round(((done + running) / total) * 100))
}

// What each role of site.yml does, in a person's words (a role not named here: "Setting up <role>").
const STEP_LABELS: Record<string, string> = {
  'Load the cell state': 'Reading the cell’s settings',
  'Converge the cell': 'Checking the host',
  common: 'Preparing the host',
  firewall: 'Setting up the firewall',
  ca: 'Setting up the certificate authority',
  chrony: 'Setting up time (NTP)',
  wireguard: 'Setting up the VPN',
  exits: 'Setting up exits',
  mailserver: 'Setting up mail',
  radicale: 'Setting up calendars and contacts',
  webdav: 'Setting up file storage',
  ddns: 'Setting up dynamic DNS',
  caddy: 'Setting up HTTPS',
  coredns: 'Setting up DNS',
  dnsmasq: 'Setting up DNS and DHCP',
  api: 'Updating the management API',
  backup: 'Setting up backups',
  store: 'Setting up the service store',
  webui: 'Updating the web interface',
}

/** A step of a run (a role, or a play outside the roles) in a person's words. */
export function stepLabel(role: string): string {
  return STEP_LABELS[role] ?? `Setting up ${role}`
}
