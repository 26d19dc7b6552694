// The wizard's other way: "restore from a backup". A fresh cell becomes the old one again from its
// repository and passphrase (and, for an ssh repository, the old cell's backup key); the run is
// followed with the token the API gives, since nobody can log in before the cell is set up.
import { useState, type FormEvent } from 'react'
import { ApiError, endpoints, type RunStatus } from '../api'
import type { SetupRestore } from '../generated/api'
import { StepRun } from '../components/StepRun'
import { HttpsStep } from '../components/TrustRoot'
import { buttonPrimary, ErrorNote, Field, inputClass } from '../components/ui'
import { validateRepository } from '../validation'

export interface RestoreForm {
  repository: string
  passphrase: string
  archive: string
  ssh_key: string
}

/** The request: what the person filled in, without the optional fields left empty. */
export function restoreBody(f: RestoreForm, setupCode: string): SetupRestore {
  const body: SetupRestore = { setup_code: setupCode, repository: f.repository.trim(), passphrase: f.passphrase.trim() }
  if (f.archive.trim()) body.archive = f.archive.trim()
  if (f.ssh_key.trim()) body.ssh_key = f.ssh_key.trim() + '\n'
  return body
}

export function validateRestore(f: RestoreForm): Record<string, string> {
  const errs: Record<string, string> = {}
  const repository = validateRepository(f.repository, 'Enter where the backups are.')
  if (repository) errs.repository = repository
  const r = f.repository.trim()
  if (!f.passphrase.trim()) errs.passphrase = 'Enter the passphrase you saved.'
  if (r.startsWith('ssh://') && f.ssh_key.trim() && !f.ssh_key.includes('BEGIN OPENSSH PRIVATE KEY'))
    errs.ssh_key = 'Paste the old cell’s key as it was saved (-----BEGIN OPENSSH PRIVATE KEY----- ...).'
  return errs
}

export function RestoreFromBackup({ setupCode, onCodeRefused }: { setupCode: string; onCodeRefused: (message: string) => void }) {
  const [form, setForm] = useState<RestoreForm>({ repository: '', passphrase: '', archive: '', ssh_key: '' })
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const [run, setRun] = useState<{ id: string; token: string } | null>(null)
  const [status, setStatus] = useState<RunStatus | null>(null)
  const [https, setHttps] = useState<string[]>([])
  const set = (k: keyof RestoreForm, v: string) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
  }
  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    const errs = validateRestore(form)
    setErrors(errs)
    if (Object.keys(errs).length) return
    setBusy(true)
    try {
      const res = await endpoints.setupRestore(restoreBody(form, setupCode))
      setStatus(null)
      setRun({ id: res.run_id, token: res.token })
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) onCodeRefused(e.message)
      else if (e instanceof ApiError && e.status === 400) setErrors({ ...e.fields })
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  const finished = (s: RunStatus) => {
    setStatus(s)
    if (s === 'successful') endpoints.cellHttps().then((c) => setHttps(c.https), () => setHttps([]))
  }
  const running = run !== null && status === null
  return (
    <div className="space-y-4">
      <form onSubmit={submit} noValidate aria-label="Restore from a backup" className="space-y-1">
        <Field
          id="restore-repository"
          label="Repository"
          error={errors.repository}
          hint="Where the old cell backed up to: a disk attached to this host (/mnt/backup/pic) or ssh://user@host/path."
        >
          <input id="restore-repository" className={inputClass} value={form.repository} disabled={running || busy}
            aria-invalid={errors.repository ? true : undefined} onChange={(e) => set('repository', e.target.value)} />
        </Field>
        <Field id="restore-passphrase" label="Passphrase" error={errors.passphrase} hint="The one you saved away from the old cell.">
          <input id="restore-passphrase" type="password" autoComplete="off" className={inputClass} value={form.passphrase}
            disabled={running || busy} aria-invalid={errors.passphrase ? true : undefined}
            onChange={(e) => set('passphrase', e.target.value)} />
        </Field>
        <Field id="restore-archive" label="Archive (optional)" error={errors.archive} hint="Empty: the newest backup.">
          <input id="restore-archive" className={inputClass} value={form.archive} disabled={running || busy}
            onChange={(e) => set('archive', e.target.value)} />
        </Field>
        <Field id="restore-ssh-key" label="The old cell’s backup ssh key (for an ssh repository)" error={errors.ssh_key}>
          <textarea id="restore-ssh-key" rows={4} className={`${inputClass} font-mono text-xs`} value={form.ssh_key}
            disabled={running || busy} aria-invalid={errors.ssh_key ? true : undefined}
            onChange={(e) => set('ssh_key', e.target.value)} />
        </Field>
        {error && !(error instanceof ApiError && (error.status === 400 || error.status === 403)) ? <ErrorNote error={error} /> : null}
        <button type="submit" className={buttonPrimary} disabled={running || busy || status === 'successful'}>
          Restore this cell
        </button>
      </form>
      {run && (
        <StepRun key={run.id} runId={run.id} title="Restoring your cell" onFinished={finished}
          eventsUrl={endpoints.setupRestoreEventsUrl(run.id, run.token)} />
      )}
      {running && (
        <p className="text-sm text-slate-700">
          The cell converges from the restored settings, then puts the data back. Near the end its web server
          switches to HTTPS; if this page stops moving then, open the cell at its name.
        </p>
      )}
      {status === 'failed' && <p className="text-sm text-red-900">Nothing was set up: correct what the run says and try again.</p>}
      {status === 'successful' && (
        <div className="space-y-3">
          <div className="rounded border border-emerald-300 bg-emerald-50 p-4" role="status">
            <p className="font-medium text-emerald-900">Your cell is back.</p>
            <p className="mt-1 text-emerald-900">Log in with the old cell’s admin password; devices connect as before.</p>
          </div>
          {https.length > 0 && <HttpsStep urls={https} />}
        </div>
      )}
    </div>
  )
}
