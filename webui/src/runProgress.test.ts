import { describe, expect, it } from 'vitest'
import {
  diffText,
  failureMessage,
  initialRunProgress,
  isFinished,
  outcome,
  progressPercent,
  runProgressReducer,
  type RunAction,
  type RunnerEvent,
  type RunProgress,
} from './runProgress'

let counter = 0
function ev(event: string, data: Record<string, unknown> = {}): RunnerEvent {
  return { event, counter: ++counter, event_data: data }
}
const taskStart = (role: string, task: string, uuid = `${role}-${task}`) =>
  ev('playbook_on_task_start', { role, task, task_uuid: uuid })
const ok = (role: string, task: string, res: Record<string, unknown> = {}, host = 'cell', uuid = `${role}-${task}`) =>
  ev('runner_on_ok', { role, task, task_uuid: uuid, host, res })

function play(events: RunnerEvent[], start: RunProgress = initialRunProgress): RunProgress {
  return events.reduce((s, e) => runProgressReducer(s, { type: 'event', event: e }), start)
}

describe('run progress reducer', () => {
  it('groups tasks by role and tracks the current task', () => {
    counter = 0
    const s = play([
      ev('playbook_on_play_start', { play: 'Converge the cell' }),
      taskStart('common', 'Install base packages'),
      ok('common', 'Install base packages', { changed: true }),
      taskStart('dnsmasq', 'Write dnsmasq.conf'),
    ])
    expect(s.roles.map((r) => [r.name, r.status, r.tasks, r.changed])).toEqual([
      ['common', 'done', 1, 1],
      ['dnsmasq', 'running', 1, 0],
    ])
    expect(s.currentTask).toEqual({ name: 'Write dnsmasq.conf', role: 'dnsmasq' })
    expect(s.tasks.map((t) => t.status)).toEqual(['changed', 'running'])
    expect(outcome(s)).toBe('running')
  })

  it('names tasks outside roles after their play', () => {
    counter = 0
    const s = play([
      ev('playbook_on_play_start', { play: 'Load the cell state' }),
      ev('playbook_on_task_start', { task: 'Read the state', task_uuid: 'u1' }),
    ])
    expect(s.roles[0].name).toBe('play: Load the cell state')
  })

  it('records a failure with task, host and message', () => {
    counter = 0
    const s = play([
      taskStart('wireguard', 'Start wg-quick'),
      ev('runner_on_failed', {
        role: 'wireguard',
        task: 'Start wg-quick',
        task_uuid: 'wireguard-Start wg-quick',
        host: 'cell1',
        res: { msg: 'Unable to start service wg-quick@wg0' },
      }),
    ])
    expect(s.failures).toEqual([
      { task: 'Start wg-quick', role: 'wireguard', host: 'cell1', message: 'Unable to start service wg-quick@wg0', unreachable: false },
    ])
    expect(s.roles[0].status).toBe('failed')
    expect(s.tasks[0].status).toBe('failed')
  })

  it('names the failed loop item instead of "One or more items failed"', () => {
    counter = 0
    const data = { role: 'dnsmasq', task: 'Check the extra DNS records', task_uuid: 'd1', host: 'cell' }
    const s = play([
      taskStart('dnsmasq', 'Check the extra DNS records', 'd1'),
      ev('runner_item_on_ok', { ...data, res: { msg: 'All assertions passed' } }),
      ev('runner_item_on_failed', { ...data, res: { failed: true, msg: 'DNS record broken BOGUS: type needed' } }),
      ev('runner_on_failed', { ...data, res: { failed: true, msg: 'One or more items failed' } }),
    ])
    expect(s.failures).toHaveLength(1)
    expect(s.failures[0]).toMatchObject({ task: 'Check the extra DNS records', message: 'DNS record broken BOGUS: type needed' })
  })

  it('does not count an ignored error as a failure', () => {
    counter = 0
    const s = play([
      taskStart('common', 'Probe'),
      ev('runner_on_failed', { role: 'common', task: 'Probe', task_uuid: 'common-Probe', host: 'cell', ignore_errors: true, res: { msg: 'no' } }),
    ])
    expect(s.failures).toEqual([])
    expect(s.tasks[0].status).toBe('ok')
  })

  it('reports unreachable hosts as failures', () => {
    counter = 0
    const s = play([
      taskStart('common', 'Gather facts'),
      ev('runner_on_unreachable', { role: 'common', task: 'Gather facts', task_uuid: 'common-Gather facts', host: 'cell', res: { msg: 'ssh: connect to host refused' } }),
    ])
    expect(s.failures[0]).toMatchObject({ host: 'cell', unreachable: true, message: 'ssh: connect to host refused' })
  })

  it('keeps per-host results and the worst one for the task', () => {
    counter = 0
    const s = play([
      taskStart('chrony', 'Configure'),
      ok('chrony', 'Configure', {}, 'a'),
      ok('chrony', 'Configure', { changed: true }, 'b'),
    ])
    expect(s.tasks[0].hosts).toEqual({ a: 'ok', b: 'changed' })
    expect(s.tasks[0].status).toBe('changed')
  })

  it('ignores events replayed after a reconnect', () => {
    counter = 0
    const events = [taskStart('common', 'A'), ok('common', 'A', { changed: true }), taskStart('common', 'B')]
    const once = play(events)
    const twice = play(events, once)
    expect(twice).toBe(once)
    expect(twice.roles[0].changed).toBe(1)
    expect(twice.roles[0].tasks).toBe(2)
  })

  it('collects check-mode diffs', () => {
    counter = 0
    const s = play([
      taskStart('dnsmasq', 'Write config'),
      ok('dnsmasq', 'Write config', {
        changed: true,
        diff: [{ before_header: '/etc/dnsmasq.conf', after_header: '/etc/dnsmasq.conf', before: 'a\nb\n', after: 'a\nc\n' }],
      }),
    ])
    expect(s.diffs).toHaveLength(1)
    expect(s.diffs[0]).toMatchObject({ role: 'dnsmasq', task: 'Write config', host: 'cell' })
    expect(s.diffs[0].text).toContain('-b')
    expect(s.diffs[0].text).toContain('+c')
    expect(s.diffs[0].text).not.toContain('-a')
  })

  it('finishes on playbook_on_stats with per-host counts', () => {
    counter = 0
    const s = play([
      taskStart('common', 'A'),
      ok('common', 'A'),
      ev('playbook_on_stats', { ok: { cell: 5 }, changed: { cell: 2 }, failures: {}, dark: {}, skipped: { cell: 1 } }),
    ])
    expect(isFinished(s)).toBe(true)
    expect(s.stats).toEqual([{ host: 'cell', ok: 5, changed: 2, failures: 0, unreachable: 0, skipped: 1 }])
    expect(s.currentTask).toBeNull()
    expect(s.roles[0].status).toBe('done')
    expect(outcome(s)).toBe('successful')
    expect(progressPercent(s)).toBe(100)
  })

  it('reads the outcome of stats with failures as failed', () => {
    counter = 0
    const s = play([ev('playbook_on_stats', { ok: { cell: 1 }, failures: { cell: 1 } })])
    expect(outcome(s)).toBe('failed')
  })

  it('takes a final status from a closing event or from the run resource', () => {
    counter = 0
    const byEvent = play([taskStart('common', 'A'), { event: 'pic_run_status', counter: ++counter, status: 'canceled' }])
    expect(byEvent.status).toBe('canceled')
    expect(byEvent.roles[0].status).toBe('done')
    const byStatus = runProgressReducer(play([taskStart('x', 'A')]), { type: 'status', status: 'failed' })
    expect(byStatus.status).toBe('failed')
    expect(runProgressReducer(initialRunProgress, { type: 'status', status: 'running' })).toBe(initialRunProgress)
  })

  it('does not turn a finished run back to running when the replay arrives late', () => {
    counter = 0
    const done = runProgressReducer(initialRunProgress, { type: 'status', status: 'successful' })
    const s = play([taskStart('common', 'A')], done)
    expect(s.currentTask).toBeNull()
    expect(s.roles[0].status).toBe('done')
    expect(progressPercent(s)).toBe(100)
  })

  it('measures progress against the expected roles', () => {
    counter = 0
    const actions: RunAction[] = [
      { type: 'expect', roles: ['common', 'dnsmasq', 'chrony', 'wireguard'] },
      { type: 'event', event: taskStart('common', 'A') },
      { type: 'event', event: taskStart('dnsmasq', 'A') },
    ]
    const s = actions.reduce(runProgressReducer, initialRunProgress)
    // common done (1) + dnsmasq half (0.5) of 4 roles
    expect(progressPercent(s)).toBe(38)
    const s2 = runProgressReducer(s, { type: 'event', event: taskStart('wireguard', 'A') })
    expect(progressPercent(s2)).toBe(63)
  })

  it('never shows 100% before the end without expected roles', () => {
    counter = 0
    const s = play([taskStart('a', 'x'), taskStart('b', 'x'), taskStart('c', 'x')])
    expect(progressPercent(s)).toBeLessThan(100)
    expect(progressPercent(s)).toBeGreaterThan(0)
    expect(progressPercent(initialRunProgress)).toBe(0)
  })

  it('reset keeps the expected roles and forgets the events', () => {
    counter = 0
    const s = play([taskStart('a', 'x')], runProgressReducer(initialRunProgress, { type: 'expect', roles: ['a'] }))
    const r = runProgressReducer(s, { type: 'reset' })
    expect(r.roles).toEqual([])
    expect(r.lastCounter).toBe(0)
    expect(r.expectedRoles).toEqual(['a'])
  })
})

describe('failure messages and diffs', () => {
  it('picks the most useful message', () => {
    expect(failureMessage({ msg: 'boom' })).toBe('boom')
    expect(failureMessage({ stderr: 'E: unable', rc: 100 })).toBe('E: unable')
    expect(failureMessage({ rc: 2 })).toBe('exit code 2')
    expect(failureMessage({ results: [{ failed: false, msg: 'fine' }, { failed: true, msg: 'item broke' }] })).toBe('item broke')
    expect(failureMessage(undefined)).toBe('failed')
  })

  it('prefers a prepared diff and skips empty ones', () => {
    expect(diffText({ prepared: '--- a\n+++ b\n-x\n+y' })).toBe('--- a\n+++ b\n-x\n+y')
    expect(diffText({ before: 'same', after: 'same' })).toBe('')
    expect(diffText([{ before: { state: 'absent' }, after: { state: 'present' } }])).toContain('"present"')
    expect(diffText(null)).toBe('')
  })
})

describe('the API\'s trimmed events', () => {
  // As the API sends them: details at the top level, `seq` from 0, `pic_run_status` around the run.
  const flat: RunnerEvent[] = [
    { seq: 0, event: 'pic_run_status', status: 'running' },
    { seq: 1, event: 'playbook_on_start', counter: 1 },
    { seq: 2, event: 'playbook_on_task_start', counter: 2, play: 'Converge the cell', role: 'common', task: 'Install the base packages' },
    { seq: 3, event: 'runner_on_ok', counter: 3, play: 'Converge the cell', role: 'common', task: 'Install the base packages', host: 'localhost', changed: true },
    { seq: 4, event: 'playbook_on_task_start', counter: 4, role: 'wireguard', task: 'Start wg-quick' },
    { seq: 5, event: 'runner_on_failed', counter: 5, role: 'wireguard', task: 'Start wg-quick', host: 'localhost', changed: false, failed: true, msg: 'Unable to start service' },
    { seq: 6, event: 'playbook_on_stats', counter: 6, stats: { ok: { localhost: 1 }, changed: { localhost: 1 }, failures: { localhost: 1 }, dark: {}, skipped: {}, rescued: {} } },
    { seq: 7, event: 'pic_run_status', status: 'failed' },
  ]

  it('reads tasks, results, failures, stats and the final status', () => {
    const s = play(flat)
    expect(s.roles.map((r) => [r.name, r.status, r.changed])).toEqual([
      ['common', 'done', 1],
      ['wireguard', 'failed', 0],
    ])
    expect(s.failures).toEqual([{ task: 'Start wg-quick', role: 'wireguard', host: 'localhost', message: 'Unable to start service', unreachable: false }])
    expect(s.stats).toEqual([{ host: 'localhost', ok: 1, changed: 1, failures: 1, unreachable: 0, skipped: 0 }])
    expect(s.status).toBe('failed')
    expect(s.events).toBe(8)
  })

  it('does not treat the opening "running" status as the end', () => {
    const s = play(flat.slice(0, 3))
    expect(s.status).toBeNull()
    expect(outcome(s)).toBe('running')
    expect(s.currentTask).toEqual({ name: 'Install the base packages', role: 'common' })
  })

  it('skips a replay by seq, starting from 0', () => {
    const once = play(flat.slice(0, 4))
    const again = play(flat.slice(0, 4), once)
    expect(again).toBe(once)
    expect(play(flat.slice(4), once).failures).toHaveLength(1)
  })

  it('carries preview diffs', () => {
    const s = play([
      { seq: 0, event: 'playbook_on_task_start', role: 'chrony', task: 'Write chrony.conf' },
      { seq: 1, event: 'runner_on_ok', role: 'chrony', task: 'Write chrony.conf', host: 'localhost', changed: true, diff: [{ before: 'pool a\n', after: 'pool b\n' }] },
    ])
    expect(s.diffs).toHaveLength(1)
    expect(s.diffs[0].text).toContain('+pool b')
  })
})
