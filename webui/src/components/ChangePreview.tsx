import { buttonSecondary } from './ui'
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
