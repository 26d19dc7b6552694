import { useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router-dom'
import { endpoints, type Run } from '../api'
import { RunView } from '../components/RunView'
import { StepRun } from '../components/StepRun'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Loading, PageHeader, StatusBadge, useApi } from '../components/ui'

function when(r: Run): string {
  const v = r.started_at ?? r.created_at
  const d = new Date(v)
  return isNaN(d.getTime()) ? v : d.toLocaleString()
}

function kind(r: Run): string {
  const text = r.description || r.kind
  return r.check && !/preview/i.test(text) ? `${text} (preview)` : text
}

export function RunsTable({ runs }: { runs: Run[] }) {
  if (!runs.length) return <p className="text-sm text-slate-700">No runs yet.</p>
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="runs-table">
        <thead>
          <tr className="border-b border-slate-200 text-left">
            <th className="py-1 pr-3">Run</th>
            <th className="py-1 pr-3">Status</th>
            <th className="py-1 pr-3">What</th>
            <th className="py-1">Started</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} className="border-b border-slate-100">
              <td className="py-1 pr-3">
                <Link to={`/runs/${encodeURIComponent(r.id)}`} className="text-teal-800 underline">
                  {r.id}
                </Link>
              </td>
              <td className="py-1 pr-3">
                <StatusBadge status={r.status} />
              </td>
              <td className="py-1 pr-3">{kind(r)}</td>
              <td className="py-1">{when(r)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function RunsPage() {
  const runs = useApi(endpoints.runs)
  const navigate = useNavigate()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const start = async (check: boolean) => {
    setBusy(true)
    setError(null)
    try {
      const r = await endpoints.startRun(check ? { check: true } : {})
      navigate(`/runs/${encodeURIComponent(r.run_id)}`)
    } catch (e) {
      setError(e)
      setBusy(false)
    }
  }
  return (
    <div>
      <PageHeader title="Runs">Every converge and preview of this cell. Open one to watch it live.</PageHeader>
      <div className="mb-4 flex flex-wrap gap-2">
        <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void start(true)}>
          Preview the whole cell
        </button>
        <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void start(false)}>
          Converge the whole cell now
        </button>
      </div>
      {error ? (
        <div className="mb-4">
          <ErrorNote error={error} />
        </div>
      ) : null}
      <Card>
        {runs.loading && !runs.data ? <Loading /> : runs.error ? <ErrorNote error={runs.error} /> : <RunsTable runs={runs.data ?? []} />}
      </Card>
    </div>
  )
}

/** Runs that are not converges: their events are steps (a backup, a check, a restore). */
const STEP_KINDS: Run['kind'][] = ['backup', 'check', 'restore']

export function RunPage() {
  const { id = '' } = useParams()
  const run = useApi(() => endpoints.run(id), [id])
  const steps = run.data && STEP_KINDS.includes(run.data.kind)
  return (
    <div>
      <PageHeader title={`Run ${id}`}>
        <Link to="/runs" className="text-teal-800 underline">
          All runs
        </Link>
      </PageHeader>
      <Card>
        {run.loading && !run.data ? (
          <Loading />
        ) : steps && run.data ? (
          <StepRun runId={id} title={run.data.description} />
        ) : (
          <RunView runId={id} title="Progress" />
        )}
      </Card>
    </div>
  )
}
