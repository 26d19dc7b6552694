import type { ReactNode } from 'react'
import { buttonPrimary, buttonSecondary } from './ui'
import { RunView } from './RunView'

/** The check-mode run of a change not made yet (?preview=1 on its request), under its form: what it
 * would change, in the run's own words and folded diffs. Closing it leaves the form as it was. */
export function ChangePreview({ runId, onClose }: { runId: string; onClose: () => void }) {
  return (
    <section className="mt-4 rounded border border-slate-200 p-3" aria-label="Preview of the change">
      <RunView key={runId} runId={runId} title="Preview (check mode, nothing is changed)" />
      <button type="button" className={`${buttonSecondary} mt-3`} onClick={onClose}>
        Close the preview
      </button>
    </section>
  )
}

/** A change form's buttons: the submit that makes the change, **Preview** beside it (when
 * ``onPreview`` is given: an admin's form), any further buttons (``children``), and under them the
 * preview ``preview`` names. */
export function ChangeButtons({
  label,
  busyLabel,
  busy,
  disabled = false,
  onPreview,
  preview,
  onClosePreview,
  children,
}: {
  label: string
  busyLabel: string
  busy: boolean
  disabled?: boolean
  onPreview?: () => void
  preview: string | null
  onClosePreview: () => void
  children?: ReactNode
}) {
  return (
    <>
      <div className="flex flex-wrap gap-2">
        <button type="submit" className={buttonPrimary} disabled={busy || disabled}>
          {busy ? busyLabel : label}
        </button>
        {onPreview && (
          <button type="button" className={buttonSecondary} disabled={busy || disabled} onClick={onPreview}>
            Preview
          </button>
        )}
        {children}
      </div>
      {preview && <ChangePreview runId={preview} onClose={onClosePreview} />}
    </>
  )
}
