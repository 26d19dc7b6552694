// Backups: where to (a local path or an ssh repository), how often and how many to keep; the
// archives with their date and size; a backup or a borg check now, followed live; a restore of the
// whole cell or of one service's data, confirmed first; and the passphrase to save away from the cell.
import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, endpoints, notifyBackupChanged } from '../api'
import type { BackupArchive, BackupKey, BackupResult, BackupSchedule, BackupView } from '../generated/api'
import { limits } from '../generated/api'
import { RunView } from '../components/RunView'
import { StepRun } from '../components/StepRun'
import {
  buttonDanger,
  buttonPrimary,
  buttonSecondary,
  Card,
  ErrorNote,
  Field,
  inputClass,
  Loading,
  PageHeader,
  StatusBadge,
  useApi,
  when,
} from '../components/ui'
import { validateRepository } from '../validation'
import { downloadText } from './Peers'

export const SCHEDULE_LABELS: Record<BackupSchedule, string> = {
  hourly: 'Every hour',
  daily: 'Every night (03:30)',
  weekly: 'Every Sunday night',
  off: 'Only when I press "Back up now"',
}
/** What each data path of the backups holds, for people; an unknown one is shown as its path. */
const DATA_LABELS: [RegExp, string][] = [
  [/\/vmail$/, 'Mail'],
  [/\/radicale\/collections$/, 'Calendars and contacts'],
  [/\/files$/, 'Files (WebDAV)'],
]
export function dataLabel(path: string): string {
  const hit = DATA_LABELS.find(([rx]) => rx.test(path))
  return hit ? `${hit[1]} (${path})` : path
}

/** Bytes as people read them (1000-based, as borg prints them). */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '–'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = bytes
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

// ---- settings -----------------------------------------------------------------------------------
interface Form {
  repository: string
  schedule: BackupSchedule
  keep_daily: string
  keep_weekly: string
  keep_monthly: string
}
export function viewToForm(v: BackupView): Form {
  const s = v.settings
  return {
    repository: s.repository ?? '',
    schedule: s.schedule ?? 'daily',
    keep_daily: String(s.keep_daily ?? 7),
    keep_weekly: String(s.keep_weekly ?? 4),
    keep_monthly: String(s.keep_monthly ?? 6),
  }
}

/** Client-side checks; the API stays the authority (its 400 names the field the same way). */
export function validateForm(f: Form): Record<string, string> {
  const errs: Record<string, string> = {}
  const repository = validateRepository(f.repository, null)
  if (repository) errs.repository = repository
  const max = limits.BackupKeep.maximum
  for (const k of ['keep_daily', 'keep_weekly', 'keep_monthly'] as const) {
    if (!/^[0-9]{1,4}$/.test(f[k]) || Number(f[k]) > max) errs[k] = `A whole number from 0 to ${max}.`
  }
  if (!Object.keys(errs).length && !Number(f.keep_daily) && !Number(f.keep_weekly) && !Number(f.keep_monthly))
    errs.keep_daily = 'Keep at least one backup.'
  return errs
}

function SettingsCard({ view, onSaved }: { view: BackupView; onSaved: () => void }) {
  const [form, setForm] = useState<Form>(() => viewToForm(view))
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [error, setError] = useState<unknown>(null)
  const [runId, setRunId] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => setForm(viewToForm(view)), [view])
  const set = (k: keyof Form, v: string) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
  }
  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    const errs = validateForm(form)
    setErrors(errs)
    if (Object.keys(errs).length) return
    setBusy(true)
    try {
      const res = await endpoints.saveBackup({
        repository: form.repository.trim(),
        schedule: form.schedule,
        keep_daily: Number(form.keep_daily),
        keep_weekly: Number(form.keep_weekly),
        keep_monthly: Number(form.keep_monthly),
      })
      setRunId(res.run_id)
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) setErrors({ ...e.fields })
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  const keep = (k: 'keep_daily' | 'keep_weekly' | 'keep_monthly', label: string) => (
    <Field id={`backup-${k}`} label={label} error={errors[k]}>
      <input
        id={`backup-${k}`}
        inputMode="numeric"
        className={inputClass}
        value={form[k]}
        disabled={busy}
        aria-invalid={errors[k] ? true : undefined}
        onChange={(e) => set(k, e.target.value)}
      />
    </Field>
  )
  return (
    <Card title="Where and when">
      <form onSubmit={submit} noValidate aria-label="Backup settings">
        {error ? (
          <div className="mb-3">
            <ErrorNote error={error} />
          </div>
        ) : null}
        <Field
          id="backup-repository"
          label="Repository"
          error={errors.repository}
          hint="Another disk (/mnt/backup/pic) or a server you reach over ssh (ssh://borg@backup.example.org/./pic). Empty: no backups."
        >
          <input
            id="backup-repository"
            className={inputClass}
            value={form.repository}
            disabled={busy}
            aria-invalid={errors.repository ? true : undefined}
            onChange={(e) => set('repository', e.target.value)}
          />
        </Field>
        <Field id="backup-schedule" label="Schedule" error={errors.schedule}>
          <select
            id="backup-schedule"
            className={inputClass}
            value={form.schedule}
            disabled={busy}
            onChange={(e) => set('schedule', e.target.value)}
          >
            {limits.BackupSchedule.enum.map((s) => (
              <option key={s} value={s}>
                {SCHEDULE_LABELS[s]}
              </option>
            ))}
          </select>
        </Field>
        <div className="grid gap-x-4 sm:grid-cols-3">
          {keep('keep_daily', 'Daily backups kept')}
          {keep('keep_weekly', 'Weekly backups kept')}
          {keep('keep_monthly', 'Monthly backups kept')}
        </div>
        <button type="submit" className={buttonPrimary} disabled={busy}>
          Save
        </button>
      </form>
      {runId && (
        <div className="mt-4">
          <RunView key={runId} runId={runId} title="Applying the backup settings" onFinished={() => onSaved()} />
        </div>
      )}
    </Card>
  )
}

// ---- status, backup now, check ------------------------------------------------------------------
function Outcome({ label, result, what }: { label: string; result: BackupResult | null; what: string }) {
  return (
    <div className="contents">
      <dt className="font-medium">{label}</dt>
      <dd className="break-words">
        {!result ? (
          `no ${what} yet`
        ) : result.ok ? (
          <>
            <StatusBadge status="ok" /> {when(result.finished_at)}
            {result.archive ? ` (${result.archive})` : ''}
          </>
        ) : (
          <>
            <StatusBadge status="failed" /> {when(result.finished_at)}: {result.error}
          </>
        )}
      </dd>
    </div>
  )
}

function StatusCard({ view, onChanged }: { view: BackupView; onChanged: () => void }) {
  const [run, setRun] = useState<{ id: string; title: string } | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [running, setRunning] = useState(false)
  const st = view.status
  const start = async (what: 'backup' | 'check') => {
    setError(null)
    try {
      const res = what === 'backup' ? await endpoints.backupNow() : await endpoints.checkBackups()
      setRunning(true)
      setRun({ id: res.run_id, title: what === 'backup' ? 'Backing up' : 'Checking the repository' })
    } catch (e) {
      setError(e)
    }
  }
  const repository = view.settings.repository
  return (
    <Card title="Backups of this cell">
      {view.status_error && <ErrorNote error={`The cell could not say how its backups are: ${view.status_error}`} />}
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="backup-status">
        <dt className="font-medium">Repository</dt>
        <dd className="break-all">{repository || 'none: backups are off'}</dd>
        {st && (
          <>
            <dt className="font-medium">Ready</dt>
            <dd>{st.initialised ? 'yes' : 'not yet (the first backup makes it)'}</dd>
            <Outcome label="Last backup" result={st.last} what="backup" />
            <Outcome label="Last check" result={st.check} what="check" />
          </>
        )}
      </dl>
      <div className="mt-3 flex flex-wrap gap-2">
        <button type="button" className={buttonPrimary} disabled={!repository || running} onClick={() => void start('backup')}>
          Back up now
        </button>
        <button type="button" className={buttonSecondary} disabled={!repository || running} onClick={() => void start('check')}>
          Check the repository
        </button>
      </div>
      {error ? (
        <div className="mt-3">
          <ErrorNote error={error} />
        </div>
      ) : null}
      {run && (
        <StepRun
          key={run.id}
          runId={run.id}
          title={run.title}
          onFinished={() => {
            setRunning(false)
            onChanged()
          }}
        />
      )}
    </Card>
  )
}

// ---- archives and restore -----------------------------------------------------------------------
function RestoreForm({ archive, dataPaths, onDone }: { archive: BackupArchive; dataPaths: string[]; onDone: () => void }) {
  const [scope, setScope] = useState<string>('')
  const [sure, setSure] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [runId, setRunId] = useState<string | null>(null)
  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    try {
      const res = await endpoints.restoreBackup(scope ? { archive: archive.name, data: scope } : { archive: archive.name })
      setRunId(res.run_id)
    } catch (e) {
      setError(e)
    }
  }
  return (
    <form onSubmit={submit} aria-label={`Restore ${archive.name}`} className="mt-2 space-y-2 rounded border border-amber-300 bg-amber-50 p-3">
      <Field id={`restore-scope-${archive.name}`} label="What to restore">
        <select
          id={`restore-scope-${archive.name}`}
          className={inputClass}
          value={scope}
          disabled={runId !== null}
          onChange={(e) => setScope(e.target.value)}
        >
          <option value="">The whole cell (settings, keys, devices, then all data)</option>
          {dataPaths.map((p) => (
            <option key={p} value={p}>
              Only {dataLabel(p)}
            </option>
          ))}
        </select>
      </Field>
      <p className="text-sm text-amber-950">
        {scope
          ? `The files of ${dataLabel(scope)} become those of ${when(archive.time)}; the services that write there stop meanwhile.`
          : `The cell goes back to ${when(archive.time)}: its settings, devices, accounts and data. Changes made since are lost.`}
      </p>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={sure} disabled={runId !== null} onChange={(e) => setSure(e.target.checked)} />
        I understand: restore {archive.name}
      </label>
      <button type="submit" className={buttonDanger} disabled={!sure || runId !== null}>
        Restore
      </button>
      {error ? <ErrorNote error={error} /> : null}
      {runId && <StepRun runId={runId} title={`Restoring ${archive.name}`} onFinished={() => onDone()} />}
    </form>
  )
}

function ArchivesCard({ view, tick }: { view: BackupView; tick: number }) {
  const archives = useApi(endpoints.backupArchives, [tick])
  const [open, setOpen] = useState<string | null>(null)
  const list = [...(archives.data ?? [])].reverse() // newest first
  return (
    <Card title="Archives">
      {archives.loading && !archives.data ? (
        <Loading what="Reading the repository" />
      ) : archives.error ? (
        <ErrorNote error={archives.error} />
      ) : !list.length ? (
        <p className="text-sm text-slate-700">No backup yet.</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="archives">
            <thead>
              <tr className="border-b">
                <th className="py-2 pr-3">Date</th>
                <th className="py-2 pr-3">Size</th>
                <th className="hidden py-2 pr-3 sm:table-cell">Stored only here</th>
                <th className="py-2">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.name} className="border-b align-top" data-archive={a.name}>
                  <td className="py-2 pr-3">
                    <div>{when(a.time)}</div>
                    <div className="break-all text-xs text-slate-600">{a.name}</div>
                    {open === a.name && (
                      <RestoreForm archive={a} dataPaths={view.status?.data_paths ?? []} onDone={() => archives.reload()} />
                    )}
                  </td>
                  <td className="whitespace-nowrap py-2 pr-3">{formatSize(a.original_size)}</td>
                  <td className="hidden whitespace-nowrap py-2 pr-3 sm:table-cell">{formatSize(a.deduplicated_size)}</td>
                  <td className="py-2">
                    <button type="button" className={buttonSecondary} onClick={() => setOpen(open === a.name ? null : a.name)}>
                      {open === a.name ? 'Close' : 'Restore…'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  )
}

// ---- the passphrase -----------------------------------------------------------------------------
export function keyFile(k: BackupKey): string {
  return [
    `PIC backup key for ${k.repository}`,
    '',
    `Passphrase: ${k.passphrase}`,
    '',
    k.key_export ? `borg key export:\n${k.key_export.trim()}\n` : '',
    k.ssh_public_key ? `ssh public key the backup server authorises:\n${k.ssh_public_key}\n` : '',
  ].join('\n')
}

function KeyCard({ view, onConfirmed }: { view: BackupView; onConfirmed: () => void }) {
  const [password, setPassword] = useState('')
  const [key, setKey] = useState<BackupKey | null>(null)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const confirmed = view.settings.key_confirmed === true
  const show = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    setErrors({})
    setBusy(true)
    try {
      setKey(await endpoints.backupKey(password))
      setPassword('')
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) setErrors(e.fields)
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  const confirm = async () => {
    setError(null)
    try {
      await endpoints.confirmBackupKey()
      notifyBackupChanged()
      onConfirmed()
    } catch (e) {
      setError(e)
    }
  }
  return (
    <Card title="The passphrase">
      <p className="mb-3 text-sm">
        Every backup is encrypted. Without this passphrase no backup can be restored, not even by you: keep it away
        from this cell (a password manager, a sheet of paper in a drawer).{' '}
        {confirmed ? <strong>You said it is saved.</strong> : <strong>It has not been confirmed saved yet.</strong>}
      </p>
      {!key ? (
        <form onSubmit={show} noValidate aria-label="Show the passphrase" className="max-w-sm">
          <Field id="backup-key-password" label="Your password, to show it" error={errors.password}>
            <input
              id="backup-key-password"
              type="password"
              autoComplete="current-password"
              className={inputClass}
              value={password}
              disabled={busy}
              aria-invalid={errors.password ? true : undefined}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
          <button type="submit" className={buttonPrimary} disabled={busy || !password}>
            Show the passphrase
          </button>
        </form>
      ) : (
        <div className="space-y-3" data-testid="backup-key">
          <p className="text-sm">Passphrase:</p>
          <p className="break-all rounded bg-slate-100 p-2 font-mono text-lg" data-testid="backup-passphrase">
            {key.passphrase}
          </p>
          {key.ssh_public_key && (
            <>
              <p className="text-sm">The backup server authorises this ssh key:</p>
              <pre className="overflow-x-auto rounded bg-slate-100 p-2 text-xs">{key.ssh_public_key}</pre>
            </>
          )}
          <div className="flex flex-wrap gap-2">
            <button type="button" className={buttonSecondary} onClick={() => downloadText('pic-backup-key.txt', keyFile(key))}>
              Download as a file
            </button>
            {!confirmed && (
              <button type="button" className={buttonPrimary} onClick={() => void confirm()}>
                I saved it away from the cell
              </button>
            )}
          </div>
        </div>
      )}
      {error && !(error instanceof ApiError && error.status === 400) ? (
        <div className="mt-3">
          <ErrorNote error={error} />
        </div>
      ) : null}
    </Card>
  )
}

export function BackupsPage() {
  const view = useApi(endpoints.backup)
  const [tick, setTick] = useState(0)
  const changed = () => {
    view.reload()
    setTick((t) => t + 1)
  }
  return (
    <div className="space-y-4">
      <PageHeader title="Backups">Encrypted backups of the cell: its settings and keys, mail, calendars and files.</PageHeader>
      {view.loading && !view.data ? (
        <Loading />
      ) : view.error ? (
        <ErrorNote error={view.error} />
      ) : view.data ? (
        <>
          <StatusCard view={view.data} onChanged={changed} />
          {view.data.settings.repository ? <KeyCard view={view.data} onConfirmed={changed} /> : null}
          {view.data.settings.repository && view.data.status?.initialised ? (
            <ArchivesCard view={view.data} tick={tick} />
          ) : null}
          <SettingsCard
            view={view.data}
            onSaved={() => {
              notifyBackupChanged()
              changed()
            }}
          />
        </>
      ) : null}
    </div>
  )
}
