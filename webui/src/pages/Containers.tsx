// The container manager: every container of the store's engine with its state, image, ports and
// uptime; start, stop, restart; its logs and the engine's view of it; pulling an image; the volumes
// with their sizes.
import { useState, type FormEvent } from 'react'
import { Link } from 'react-router-dom'
import { ApiError, endpoints, type Container } from '../api'
import { limits } from '../generated/api'
import { RunView } from '../components/RunView'
import {
  buttonPrimary,
  buttonSecondary,
  Card,
  ErrorNote,
  Field,
  inputClass,
  Loading,
  NotAvailable,
  PageHeader,
  StatusBadge,
  Table,
  useApi,
} from '../components/ui'

const PULL_RE = new RegExp(limits.PullRef.pattern)

export function formatUptime(seconds: number | null): string {
  if (seconds === null) return '—'
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

function portText(c: Container): string {
  return c.ports.map((p) => `${p.host_ip}:${p.host_port} → ${p.container_port}/${p.protocol}`).join(', ') || '—'
}

type Detail = { kind: 'logs'; lines: string[] } | { kind: 'inspect'; text: string }

export function ContainerRow({ container, onChanged }: { container: Container; onChanged: () => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [detail, setDetail] = useState<Detail | null>(null)

  async function act(action: 'start' | 'stop' | 'restart') {
    setBusy(true)
    setError(null)
    try {
      await endpoints.containerAction(container.name, action)
      onChanged()
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  async function show(kind: Detail['kind']) {
    setError(null)
    try {
      if (kind === 'logs') setDetail({ kind, lines: (await endpoints.containerLogs(container.name)).lines })
      else setDetail({ kind, text: JSON.stringify((await endpoints.containerInspect(container.name)).inspect, null, 2) })
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    }
  }

  const running = container.state === 'running'
  return (
    <>
      <tr className="border-t border-slate-200 align-top" data-container={container.name}>
        <td className="py-2 pr-3 font-medium">
          {container.name}
          {container.app && <div className="text-xs text-slate-600">app {container.app} {container.version}</div>}
        </td>
        <td className="py-2 pr-3">
          <StatusBadge status={container.state} />
        </td>
        <td className="max-w-xs break-all py-2 pr-3 text-sm">{container.image}</td>
        <td className="py-2 pr-3 text-sm">{portText(container)}</td>
        <td className="py-2 pr-3 text-sm">{formatUptime(container.uptime_seconds)}</td>
        <td className="py-2">
          <div className="flex flex-wrap gap-2">
            {running ? (
              <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void act('stop')}>
                Stop
              </button>
            ) : (
              <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void act('start')}>
                Start
              </button>
            )}
            <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void act('restart')}>
              Restart
            </button>
            <button type="button" className={buttonSecondary} onClick={() => void show('logs')}>
              Logs
            </button>
            <button type="button" className={buttonSecondary} onClick={() => void show('inspect')}>
              Inspect
            </button>
          </div>
          {error && <ErrorNote error={error} />}
        </td>
      </tr>
      {detail && (
        <tr>
          <td colSpan={6} className="pb-3">
            <div className="flex items-center justify-between">
              <h3 className="font-semibold">{detail.kind === 'logs' ? `Logs of ${container.name}` : `Inspect ${container.name}`}</h3>
              <button type="button" className="text-sm text-teal-800 underline" onClick={() => setDetail(null)}>
                Hide
              </button>
            </div>
            <pre className="max-h-80 overflow-auto rounded bg-slate-900 p-2 text-xs text-slate-100" aria-label={detail.kind === 'logs' ? 'Logs' : 'Inspect'}>
              {detail.kind === 'logs' ? detail.lines.join('\n') || '(no output)' : detail.text}
            </pre>
          </td>
        </tr>
      )}
    </>
  )
}

export function PullForm({ onRun }: { onRun: (id: string) => void }) {
  const [reference, setReference] = useState('')
  const [error, setError] = useState<string | null>(null)

  async function submit(ev: FormEvent) {
    ev.preventDefault()
    const value = reference.trim()
    if (!PULL_RE.test(value)) {
      setError(`Enter ${limits.PullRef.description}.`)
      return
    }
    setError(null)
    try {
      onRun((await endpoints.pullImage(value)).run_id)
    } catch (e) {
      setError(e instanceof ApiError ? (e.fields.reference ?? e.message) : String(e))
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <Field id="pull-reference" label="Image" error={error ?? undefined} hint="With its registry and a tag or a digest.">
        <input id="pull-reference" className={inputClass} value={reference} onChange={(e) => setReference(e.target.value)} aria-invalid={Boolean(error)} placeholder="registry.example.org/apps/hello:1.0" />
      </Field>
      <button type="submit" className={buttonPrimary}>
        Pull
      </button>
    </form>
  )
}

export function ContainersPage() {
  const data = useApi(endpoints.containers)
  const [pullRun, setPullRun] = useState<string | null>(null)

  return (
    <div className="space-y-4">
      <PageHeader title="Containers">The containers of the service store’s engine (podman), their logs and volumes.</PageHeader>
      {data.loading && !data.data ? (
        <Loading />
      ) : data.error ? (
        <ErrorNote error={data.error} />
      ) : data.data && !data.data.enabled ? (
        <NotAvailable>
          The service store is off, so the cell runs no container engine. Turn it on in the{' '}
          <Link className="text-teal-800 underline" to="/store">
            Service Store
          </Link>
          .
        </NotAvailable>
      ) : data.data ? (
        <>
          <Card title="Containers">
            {data.data.containers.length ? (
              <Table columns={['Name', 'State', 'Image', 'Ports', 'Up', 'Actions']}>
                {data.data.containers.map((c) => (
                  <ContainerRow key={c.id} container={c} onChanged={data.reload} />
                ))}
              </Table>
            ) : (
              <p className="text-sm text-slate-700">No container yet: install an app from the Service Store.</p>
            )}
          </Card>
          <Card title="Volumes">
            {data.data.volumes.length ? (
              <Table columns={['Name', 'App', 'Where', 'Size']} className="text-sm">
                {data.data.volumes.map((v) => (
                  <tr key={v.name} className="border-t border-slate-200" data-volume={v.name}>
                    <td className="py-1 pr-3">{v.name}</td>
                    <td className="py-1 pr-3">{v.app ?? '—'}</td>
                    <td className="break-all py-1 pr-3">{v.path}</td>
                    <td className="py-1">{formatSize(v.size_bytes)}</td>
                  </tr>
                ))}
              </Table>
            ) : (
              <p className="text-sm text-slate-700">No volume.</p>
            )}
          </Card>
          <Card title="Pull an image">
            {pullRun ? (
              <>
                <RunView runId={pullRun} onFinished={data.reload} />
                <button type="button" className={`${buttonSecondary} mt-3`} onClick={() => setPullRun(null)}>
                  Close
                </button>
              </>
            ) : (
              <PullForm onRun={setPullRun} />
            )}
          </Card>
        </>
      ) : null}
    </div>
  )
}
