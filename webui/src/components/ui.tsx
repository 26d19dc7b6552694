import { useCallback, useEffect, useState, type ReactNode } from 'react'
import { ApiError } from '../api'

const BADGE: Record<string, string> = {
  successful: 'bg-emerald-100 text-emerald-900 border-emerald-300',
  ok: 'bg-emerald-100 text-emerald-900 border-emerald-300',
  healthy: 'bg-emerald-100 text-emerald-900 border-emerald-300',
  done: 'bg-emerald-100 text-emerald-900 border-emerald-300',
  running: 'bg-sky-100 text-sky-900 border-sky-300',
  pending: 'bg-slate-100 text-slate-800 border-slate-300',
  unknown: 'bg-slate-100 text-slate-800 border-slate-300',
  failed: 'bg-red-100 text-red-900 border-red-300',
  unhealthy: 'bg-red-100 text-red-900 border-red-300',
  down: 'bg-red-100 text-red-900 border-red-300',
  canceled: 'bg-amber-100 text-amber-900 border-amber-300',
  degraded: 'bg-amber-100 text-amber-900 border-amber-300',
  disabled: 'bg-slate-100 text-slate-800 border-slate-300',
}

export function StatusBadge({ status }: { status: string }) {
  const cls = BADGE[status] ?? BADGE.unknown
  return (
    <span className={`inline-block rounded border px-2 py-0.5 text-xs font-semibold ${cls}`} data-status={status}>
      {status}
    </span>
  )
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="mb-6">
      <h1 className="text-2xl font-bold">{title}</h1>
      {children && <div className="mt-1 text-slate-700">{children}</div>}
    </header>
  )
}

export function Card({ title, children, className = '' }: { title?: string; children: ReactNode; className?: string }) {
  return (
    <section className={`min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm ${className}`} aria-label={title}>
      {title && <h2 className="mb-3 text-lg font-semibold">{title}</h2>}
      {children}
    </section>
  )
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  const msg = error instanceof Error ? error.message : String(error)
  return (
    <p role="alert" className="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900">
      {msg}
    </p>
  )
}

/** A form's error above its fields (nothing without one). */
export function FormError({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <div className="mb-3">
      <ErrorNote error={error} />
    </div>
  )
}

export function NotAvailable({ children }: { children: ReactNode }) {
  return (
    <p className="rounded border border-slate-300 bg-slate-100 p-3 text-sm text-slate-800" data-testid="not-available">
      {children}
    </p>
  )
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="text-sm text-slate-700" role="status">
      {what}…
    </p>
  )
}

export const buttonPrimary =
  'inline-flex items-center justify-center rounded bg-teal-700 px-4 py-2 font-medium text-white hover:bg-teal-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:bg-slate-400'
export const buttonSecondary =
  'inline-flex items-center justify-center rounded border border-slate-400 bg-white px-4 py-2 font-medium text-slate-900 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:text-slate-500'
export const buttonDanger =
  'inline-flex items-center justify-center rounded bg-red-700 px-4 py-2 font-medium text-white hover:bg-red-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 focus-visible:ring-offset-2 disabled:bg-slate-400'
export const inputClass =
  'mt-1 block w-full rounded border border-slate-400 bg-white px-3 py-2 text-slate-900 focus:border-teal-600 focus:outline-none focus:ring-2 focus:ring-teal-500 aria-[invalid=true]:border-red-600'

/** A form's refusal by the API: a 400/409's fields at their inputs, and its message (or any error's). */
export function showRefusal(e: unknown, setErrors: (f: Record<string, string>) => void, setMessage: (m: string) => void) {
  if (e instanceof ApiError && (e.status === 400 || e.status === 409)) setErrors(e.fields)
  setMessage(e instanceof Error ? e.message : String(e))
}

/** Loads one API resource; `reload` fetches it again. 404 and 501 count as "not available". */
export function useApi<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  // A new function whenever deps change (useCallback(load, deps) would hand back the same module-level
  // function, such as an endpoint, and nothing would load again).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stableLoad = useCallback(() => load(), deps)
  useEffect(() => {
    let live = true
    setLoading(true)
    stableLoad().then(
      (d) => {
        if (!live) return
        setData(d)
        setError(null)
        setLoading(false)
      },
      (e) => {
        if (!live) return
        setError(e)
        setLoading(false)
      },
    )
    return () => {
      live = false
    }
  }, [stableLoad, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  const unavailable = error instanceof ApiError && (error.status === 404 || error.status === 501)
  return { data, error, loading, reload, unavailable }
}

export const LIVE_REFRESH_MS = 12_000 // how often a live state (WireGuard, exits) is read again

/** useApi for a live state: read again every `every` ms while the component is shown. */
export function useLiveApi<T>(load: () => Promise<T>, every = LIVE_REFRESH_MS) {
  const api = useApi(load)
  const { reload } = api
  useEffect(() => {
    const timer = setInterval(reload, every)
    return () => clearInterval(timer)
  }, [reload, every])
  return api
}

export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string
  label: string
  error?: string
  hint?: ReactNode
  children: ReactNode
}) {
  return (
    <div className="mb-4">
      <label htmlFor={id} className="block font-medium">
        {label}
      </label>
      {children}
      {hint && (
        <div id={`${id}-hint`} className="mt-1 text-sm text-slate-700">
          {hint}
        </div>
      )}
      {error && (
        <p id={`${id}-error`} className="mt-1 text-sm font-medium text-red-800">
          {error}
        </p>
      )}
    </div>
  )
}

/** A table of rows with column headings; it scrolls sideways on a narrow screen instead of the page
 * (relative: its visually hidden labels, absolutely placed, scroll with it rather than widen the page). */
export function Table({ columns, children, className = '' }: { columns: string[]; children: ReactNode; className?: string }) {
  return (
    <div className="relative overflow-x-auto">
      <table className={`w-full text-left ${className}`}>
        <thead>
          <tr className="text-sm text-slate-700">
            {columns.map((c, i) => (
              <th key={c} className={i < columns.length - 1 ? 'pr-3' : undefined}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}

/** An ISO time as the reader's locale writes it; "never" for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return 'never'
  const t = new Date(iso)
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString()
}

/** A button that puts a text on the clipboard and says so (an address, a DNS record's value). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [said, setSaid] = useState('')
  return (
    <button
      type="button"
      className="shrink-0 rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100"
      aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text)
          setSaid('Copied')
        } catch {
          // no clipboard for the page (plain HTTP before setup, a browser that refuses): the text is shown beside
          setSaid('Select and copy it')
        }
      }}
    >
      {said || 'Copy'}
    </button>
  )
}
