// The Logs page's verbosity: which logs say more (dnsmasq's queries and DHCP exchanges, the mail
// daemons' debug, the API's DEBUG lines), saved as the cell state's logs.verbose; reset sends [].
import { useState, type FormEvent } from 'react'
import { endpoints } from '../api'
import type { VerboseLog } from '../generated/api'
import { RunView } from './RunView'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Loading, useApi } from './ui'

const LABELS: Record<VerboseLog, string> = {
  dns: 'DNS: every query and its answer (dnsmasq)',
  dhcp: 'DHCP: every exchange with its options (dnsmasq)',
  mail: 'Mail: Postfix and Dovecot debug',
  api: 'Management API: its debug lines (at once)',
}

export function LogVerbosity() {
  const current = useApi(endpoints.logVerbosity)
  const [chosen, setChosen] = useState<VerboseLog[] | null>(null)
  const [runId, setRunId] = useState<string | null>(null)
  const [note, setNote] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  if (current.loading && !current.data) return <Card title="Verbosity"><Loading /></Card>
  if (current.error || !current.data) return <Card title="Verbosity"><ErrorNote error={current.error} /></Card>
  const { logs, verbose } = current.data
  const selected = chosen ?? verbose

  const save = async (want: VerboseLog[]) => {
    setBusy(true)
    setError(null)
    setNote(null)
    try {
      const res = await endpoints.setLogVerbosity(want)
      setChosen(null)
      setRunId(res.run_id)
      if (!res.run_id) setNote('Nothing to change.')
      current.reload()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Card title="Verbosity">
      <form
        aria-label="Log verbosity"
        className="space-y-3"
        onSubmit={(e: FormEvent) => {
          e.preventDefault()
          void save(selected)
        }}
      >
        <p className="text-sm text-slate-700">
          Verbose logs help find a problem; they grow fast, so reset them when done.{' '}
          <span data-testid="verbose-now">Verbose now: {verbose.length ? verbose.join(', ') : 'none'}.</span>
        </p>
        <fieldset className="space-y-1">
          <legend className="sr-only">Logs that say more</legend>
          {logs.map((name) => (
            <label key={name} className="flex items-start gap-2 text-sm">
              <input
                type="checkbox"
                className="mt-1"
                checked={selected.includes(name)}
                onChange={(e) =>
                  setChosen(e.target.checked ? [...selected, name] : selected.filter((x) => x !== name))
                }
              />
              <span>{LABELS[name] ?? name}</span>
            </label>
          ))}
        </fieldset>
        <div className="flex flex-wrap gap-2">
          <button type="submit" className={buttonPrimary} disabled={busy}>Save verbosity</button>
          <button type="button" className={buttonSecondary} disabled={busy || !verbose.length} onClick={() => void save([])}>
            Reset to normal
          </button>
        </div>
        {error !== null && <ErrorNote error={error} />}
        {note && <p role="status" className="text-sm text-slate-700">{note}</p>}
      </form>
      {runId && (
        <div className="mt-4">
          <RunView key={runId} runId={runId} title="Applying the log verbosity" />
        </div>
      )}
    </Card>
  )
}
