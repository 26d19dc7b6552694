// A run of a backup, a check or a restore, followed by its events: its steps (pic_step), the tasks
// of a restore's converge, and its final status with the run's error.
import { useEffect, useRef, useState } from 'react'
import { endpoints, FINAL_STATUSES, type RunStatus } from '../api'
import type { RunEvent } from '../generated/api'
import { ErrorNote, StatusBadge } from './ui'

export interface StepProgress {
  steps: { step: string; message: string }[]
  tasks: number
  currentTask: string | null
  status: RunStatus | null
  error: string | null
}
export const initialSteps: StepProgress = { steps: [], tasks: 0, currentTask: null, status: null, error: null }

/** The run's events as steps (pic_step), the tasks of a restore's converge, and its final status. */
export function stepReducer(state: StepProgress, ev: Partial<RunEvent>): StepProgress {
  if (ev.event === 'pic_step') {
    return { ...state, steps: [...state.steps, { step: ev.step ?? '', message: ev.message ?? '' }] }
  }
  if (ev.event === 'playbook_on_task_start') {
    return { ...state, tasks: state.tasks + 1, currentTask: [ev.role, ev.task].filter(Boolean).join(' › ') }
  }
  if (ev.event === 'pic_run_status' && ev.status && (FINAL_STATUSES as string[]).includes(ev.status)) {
    return { ...state, status: ev.status, error: ev.error ?? null, currentTask: null }
  }
  return state
}

export function StepRun({
  runId,
  title,
  onFinished,
  eventsUrl,
}: {
  runId: string
  title: string
  onFinished?: (s: RunStatus) => void
  /** Where the events are (the wizard's restore: its own address, with its token). */
  eventsUrl?: string
}) {
  const [state, setState] = useState<StepProgress>(initialSteps)
  const done = useRef(onFinished)
  done.current = onFinished
  useEffect(() => {
    setState(initialSteps)
    let finished = false
    const es = new EventSource(eventsUrl ?? endpoints.runEventsUrl(runId), { withCredentials: true })
    es.onmessage = (msg) => {
      try {
        const ev = JSON.parse(msg.data) as RunEvent
        setState((s) => stepReducer(s, ev))
        if (ev.event === 'pic_run_status' && ev.status && (FINAL_STATUSES as string[]).includes(ev.status)) {
          finished = true
          es.close()
          done.current?.(ev.status)
        }
      } catch {
        // a keep-alive: nothing to show
      }
    }
    es.onerror = () => {
      if (finished) es.close()
    }
    return () => es.close()
  }, [runId, eventsUrl])
  return (
    <section aria-label={title} className="mt-3 space-y-2 rounded border border-slate-200 p-3" data-testid="step-run">
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-semibold">{title}</h3>
        <StatusBadge status={state.status ?? 'running'} />
      </div>
      <ol className="list-decimal space-y-1 pl-5 text-sm" aria-live="polite">
        {state.steps.map((s, i) => (
          <li key={i} data-step={s.step}>
            {s.message}
          </li>
        ))}
      </ol>
      {state.tasks > 0 && (
        <p className="text-sm text-slate-700">
          Converge: {state.tasks} tasks{state.currentTask ? `, now ${state.currentTask}` : ''}.
        </p>
      )}
      {state.status === null && state.steps.length === 0 && <p className="text-sm text-slate-700">Waiting to start…</p>}
      {state.error && <ErrorNote error={state.error} />}
    </section>
  )
}
