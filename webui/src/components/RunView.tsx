import { useEffect, useReducer, useRef, useState } from 'react'
import { Link } from 'react-router-dom'
import { endpoints, FINAL_STATUSES, type Run, type RunStatus } from '../api'
import {
  initialRunProgress,
  isFinished,
  outcome,
  progressPercent,
  runProgressReducer,
  stepLabel,
  type RunnerEvent,
  type TaskStatus,
} from '../runProgress'
import { StatusBadge } from './ui'

const POLL_MS = 1500

const TASK_STYLE: Record<TaskStatus, string> = {
  running: 'text-sky-800',
  ok: 'text-emerald-800',
  changed: 'text-amber-800',
  failed: 'text-red-800',
  unreachable: 'text-red-800',
  skipped: 'text-slate-600',
}

/** Roles a run is expected to touch: its tags ([] for the whole site, or a run without them). */
function expectedRoles(run: Run): string[] {
  return run.tags ?? []
}

function isRun(value: unknown): value is Run {
  return typeof value === 'object' && value !== null && typeof (value as Run).status === 'string'
}

/** A run's resource, read again until its status is final (null before the first answer or without a run). */
export function useRun(runId: string | null | undefined): Run | null {
  const [run, setRun] = useState<Run | null>(null)
  useEffect(() => {
    setRun(null)
    if (!runId) return
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async () => {
      try {
        const r: unknown = await endpoints.run(runId)
        if (stop) return
        // Only a run counts: after the wizard's run switches :8081 to HTTPS, the old origin answers
        // with the web UI's page (text, not a run) until the browser moves on.
        if (isRun(r)) {
          setRun(r)
          if (FINAL_STATUSES.includes(r.status)) return
        }
      } catch {
        // 401/428 navigate away through the api module; other errors: try again.
      }
      if (!stop) timer = setTimeout(poll, POLL_MS)
    }
    void poll()
    return () => {
      stop = true
      if (timer) clearTimeout(timer)
    }
  }, [runId])
  return run
}

/** A run's status, read again until it is final (null before the first answer or without a run). */
export function useRunStatus(runId: string | null | undefined): RunStatus | null {
  return useRun(runId)?.status ?? null
}

export interface RunViewProps {
  runId: string
  /** Called once when the run has reached a final status. */
  onFinished?: (status: RunStatus) => void
  /** Headline above the view. */
  title?: string
}

/**
 * The live view of one run: its ansible-runner events (replayed from the start, then live) turned
 * into progress by role and task, the current task, failures with task, host and message, and the
 * diffs a check-mode preview carries. Used by the setup wizard, the runs page and settings.
 */
export function RunView({ runId, onFinished, title }: RunViewProps) {
  const [state, dispatch] = useReducer(runProgressReducer, initialRunProgress)
  const finishedCalled = useRef(false)
  const streamRef = useRef<EventSource | null>(null)
  const finalRef = useRef(false)
  const [canceling, setCanceling] = useState(false)
  const [cancelError, setCancelError] = useState<string | null>(null)
  const onFinishedRef = useRef(onFinished)
  onFinishedRef.current = onFinished

  // Live events.
  useEffect(() => {
    dispatch({ type: 'reset' })
    finishedCalled.current = false
    const es = new EventSource(endpoints.runEventsUrl(runId), { withCredentials: true })
    streamRef.current = es
    es.onmessage = (msg) => {
      try {
        const ev = JSON.parse(msg.data) as RunnerEvent
        dispatch({ type: 'event', event: ev })
        if (typeof ev.status === 'string' && (FINAL_STATUSES as string[]).includes(ev.status)) es.close()
      } catch {
        // A keep-alive or a line that is not JSON: nothing to show.
      }
    }
    // When the API ends the stream of a finished run, EventSource would reconnect and get the whole
    // replay again: stop instead.
    es.onerror = () => {
      if (finalRef.current) es.close()
    }
    return () => {
      es.close()
      streamRef.current = null
    }
  }, [runId])

  // The run resource: its expected roles and its authoritative final status.
  const info = useRun(runId)
  useEffect(() => {
    if (!info) return
    const roles = expectedRoles(info)
    if (roles.length) dispatch({ type: 'expect', roles })
    if (FINAL_STATUSES.includes(info.status)) dispatch({ type: 'status', status: info.status })
  }, [info])

  const finalStatus = state.status
  finalRef.current = finalStatus !== null
  useEffect(() => {
    if (finalStatus && !finishedCalled.current) {
      finishedCalled.current = true
      onFinishedRef.current?.(finalStatus)
    }
  }, [finalStatus])

  const pct = progressPercent(state)
  const shown = outcome(state)
  const label = title ?? `Run ${runId}`

  return (
    <section aria-label={label} className="space-y-4" data-testid="run-view">
      <div className="flex flex-wrap items-center gap-3">
        <h2 className="text-lg font-semibold">{label}</h2>
        <StatusBadge status={shown} />
        {!isFinished(state) && (
          <button
            type="button"
            className="ml-auto rounded border border-slate-400 px-3 py-1 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-500 disabled:text-slate-500"
            disabled={canceling}
            onClick={async () => {
              setCanceling(true)
              setCancelError(null)
              try {
                await endpoints.cancelRun(runId)
              } catch (e) {
                setCancelError(e instanceof Error ? e.message : String(e))
                setCanceling(false)
              }
            }}
          >
            {canceling ? 'Canceling…' : 'Cancel run'}
          </button>
        )}
      </div>
      {cancelError && <p role="alert" className="text-sm text-red-800">Could not cancel: {cancelError}</p>}
      {info && <UndoNote run={info} />}

      <div>
        <div className="mb-1 flex justify-between text-sm text-slate-700">
          <span id={`run-${runId}-progress-label`}>Progress</span>
          <span>{pct}%</span>
        </div>
        <div
          role="progressbar"
          aria-labelledby={`run-${runId}-progress-label`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          className="h-3 w-full overflow-hidden rounded bg-slate-200"
        >
          <div
            className={`h-full transition-all ${state.status === 'failed' || state.failures.length ? 'bg-red-600' : 'bg-teal-700'}`}
            style={{ width: `${pct}%` }}
          />
        </div>
      </div>

      <p className="text-sm" aria-live="polite" data-testid="current-task">
        {state.currentTask ? (
          <>
            <span className="font-medium">Now: {stepLabel(state.currentTask.role)}</span>{' '}
            <span className="text-slate-600">({state.currentTask.name})</span>
          </>
        ) : isFinished(state) ? (
          <>Finished: {outcome(state)}.</>
        ) : state.events === 0 ? (
          <>Waiting for the run to start…</>
        ) : (
          <>Working…</>
        )}
      </p>

      {state.failures.length > 0 && (
        <div role="alert" className="rounded border border-red-300 bg-red-50 p-3" data-testid="run-failures">
          <h3 className="font-semibold text-red-900">
            {state.failures.length === 1 ? 'A task failed' : `${state.failures.length} tasks failed`}
          </h3>
          <ul className="mt-2 space-y-2">
            {state.failures.map((f, i) => (
              <li key={i} className="text-sm text-red-900">
                <div>
                  <span className="font-medium">{stepLabel(f.role)}:</span> {f.task}
                </div>
                <div>
                  <span className="font-medium">Host:</span> {f.host}
                  {f.unreachable ? ' (unreachable)' : ''}
                </div>
                <pre className="mt-1 whitespace-pre-wrap break-words font-mono text-xs">{f.message}</pre>
              </li>
            ))}
          </ul>
        </div>
      )}

      {state.roles.length > 0 && (
        <div>
          <h3 className="mb-2 font-semibold">Steps</h3>
          <ul className="grid gap-2 sm:grid-cols-2" data-testid="run-roles">
            {state.roles.map((r) => (
              <li key={r.name} className="rounded border border-slate-200 bg-white p-2 text-sm">
                <div className="flex items-center justify-between gap-2">
                  <span>
                    <span className="font-medium">{stepLabel(r.name)}</span>{' '}
                    <span className="text-xs text-slate-600">({r.name})</span>
                  </span>
                  <StatusBadge status={r.status} />
                </div>
                <div className="text-slate-700">
                  {r.tasks} task{r.tasks === 1 ? '' : 's'}, {r.changed} changed
                  {r.failed ? `, ${r.failed} failed` : ''}
                </div>
              </li>
            ))}
          </ul>
        </div>
      )}

      {state.diffs.length > 0 && info?.check && (
        <details data-testid="run-diffs">
          <summary className="cursor-pointer font-semibold">
            Changes this would make ({state.diffs.length} file{state.diffs.length === 1 ? '' : 's'} or settings)
          </summary>
          <ul className="mt-2 space-y-3">
            {state.diffs.map((d, i) => (
              <li key={i}>
                <div className="text-sm">
                  <span className="font-medium">{d.role}</span> › {d.task} on {d.host}
                </div>
                <pre className="mt-1 overflow-x-auto rounded bg-slate-900 p-2 font-mono text-xs text-slate-100">
                  {d.text.split('\n').map((line, j) => (
                    <span
                      key={j}
                      className={
                        line.startsWith('+') && !line.startsWith('+++')
                          ? 'text-emerald-300'
                          : line.startsWith('-') && !line.startsWith('---')
                            ? 'text-red-300'
                            : ''
                      }
                    >
                      {line}
                      {'\n'}
                    </span>
                  ))}
                </pre>
              </li>
            ))}
          </ul>
        </details>
      )}

      {state.stats && (
        <div className="overflow-x-auto">
          <h3 className="mb-2 font-semibold">Summary</h3>
          <table className="min-w-full text-sm">
            <thead>
              <tr className="text-left">
                <th className="pr-3">Host</th>
                <th className="pr-3">ok</th>
                <th className="pr-3">changed</th>
                <th className="pr-3">failed</th>
                <th className="pr-3">unreachable</th>
                <th>skipped</th>
              </tr>
            </thead>
            <tbody>
              {state.stats.map((h) => (
                <tr key={h.host}>
                  <td className="pr-3">{h.host}</td>
                  <td className="pr-3">{h.ok}</td>
                  <td className="pr-3">{h.changed}</td>
                  <td className="pr-3">{h.failures}</td>
                  <td className="pr-3">{h.unreachable}</td>
                  <td>{h.skipped}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {state.tasks.length > 0 && (
        <details>
          <summary className="cursor-pointer text-sm font-medium">All tasks ({state.tasks.length})</summary>
          <ol className="mt-2 space-y-1 text-sm">
            {state.tasks.map((t) => (
              <li key={t.key} className={TASK_STYLE[t.status]}>
                [{t.status}] {t.role} › {t.name}
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  )
}

/** A failed change the cell undid by itself, or a run that undoes one: what happened and what to do. */
function UndoNote({ run }: { run: Run }) {
  const [started, setStarted] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  if (run.undo_of) {
    return (
      <p className="rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="run-undo-of">
        This run undoes a change whose run failed: the cell goes back to the last settings that worked.{' '}
        <Link className="underline" to={`/runs/${encodeURIComponent(run.undo_of)}`}>See the failed run</Link>
      </p>
    )
  }
  if (!run.undone_by || run.state_version === null) return null
  const version = run.state_version
  const again = async (keep: boolean) => {
    setError(null)
    try {
      setStarted((await endpoints.rollback(version, false, keep)).run_id)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    }
  }
  const button =
    'rounded border border-slate-400 bg-white px-3 py-1 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-500'
  return (
    <div role="status" className="space-y-2 rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="run-undone">
      <p className="font-medium">This change failed, so the cell undid it by itself.</p>
      <p>
        It goes back to the last settings that worked, as the undo run shows:{' '}
        <Link className="underline" to={`/runs/${encodeURIComponent(run.undone_by)}`}>See the undo run</Link>. Fix
        what the failure below says, then try the change again, or keep the failed settings to repair them by hand.
      </p>
      {started ? (
        <p>
          Started: <Link className="underline" to={`/runs/${encodeURIComponent(started)}`}>follow the run</Link>.
        </p>
      ) : (
        <div className="flex flex-wrap gap-2">
          <button type="button" className={button} onClick={() => void again(false)}>Try the change again</button>
          <button type="button" className={button} onClick={() => void again(true)}>Keep the failed settings for repair</button>
        </div>
      )}
      {error && <p role="alert" className="text-red-800">Could not start it: {error}</p>}
    </div>
  )
}
