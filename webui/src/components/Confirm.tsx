import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Link } from 'react-router-dom'
import { buttonDanger, buttonSecondary } from './ui'

/** A modal question before something that cannot be undone (deleting a peer, a person). */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busy,
  onCancel,
  onConfirm,
}: {
  title: string
  children: ReactNode
  confirmLabel: string
  busy: boolean
  onCancel: () => void
  onConfirm: () => void
}) {
  const cancelRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    cancelRef.current?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onCancel])
  return (
    <div className="fixed inset-0 z-40 flex items-center justify-center bg-black/40 p-4">
      <div role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-desc" className="w-full max-w-md rounded-lg bg-white p-5 shadow-lg">
        <h2 id="confirm-title" className="text-lg font-semibold">
          {title}
        </h2>
        <p id="confirm-desc" className="mt-2 text-slate-800">
          {children}
        </p>
        <div className="mt-4 flex justify-end gap-2">
          <button ref={cancelRef} type="button" className={buttonSecondary} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className={buttonDanger} onClick={onConfirm} disabled={busy}>
            {busy ? 'Deleting…' : confirmLabel}
          </button>
        </div>
      </div>
    </div>
  )
}

/** What a change did, and the converge run it started. */
export type Notice = { text: string; runId?: string | null }

/**
 * A change asked for first (a removal): `ask(item)` opens the question, `confirm()` makes the change
 * and hands its notice to `done`, or its error to `fail`; either way the question closes.
 */
export function useConfirmed<T>(change: (item: T) => Promise<Notice>, done: (n: Notice) => void, fail: (e: unknown) => void) {
  const [pending, setPending] = useState<T | null>(null)
  const [busy, setBusy] = useState(false)
  const confirm = async () => {
    if (pending === null) return
    setBusy(true)
    fail(null)
    try {
      done(await change(pending))
    } catch (e) {
      fail(e)
    } finally {
      setPending(null)
      setBusy(false)
    }
  }
  return { pending, ask: setPending, cancel: () => setPending(null), busy, confirm }
}

/** What a change did, with a link to the converge run it started. */
export function RunNotice({ text, runId }: Notice) {
  return (
    <p role="status" className="rounded border border-emerald-300 bg-emerald-50 p-2 text-sm text-emerald-900">
      {text}{' '}
      {runId && (
        <Link className="underline" to={`/runs/${encodeURIComponent(runId)}`}>
          Watch run {runId}
        </Link>
      )}
    </p>
  )
}
