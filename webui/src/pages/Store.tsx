// The service store: turn it on, choose its index, and install, upgrade, remove or purge apps. Each
// change is a run (pull, start, health, then the converge that publishes the app's names and
// routes), shown live with the run view. Turning it on or off, its index, an install and a removal
// can be previewed first: the check-mode run, and for an app what it would do (its plan).
import { useState, type FormEvent } from 'react'
import { ApiError, endpoints, type CatalogApp, type StoreOverview } from '../api'
import { limits, type StorePlan, type StorePlanned } from '../generated/api'
import { ChangePreview } from '../components/ChangePreview'
import { RunView } from '../components/RunView'
import {
  buttonDanger,
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

const INDEX_RE = new RegExp(limits.IndexLocation.pattern)

/** Where an app's routes answer: https://<host>.<domain>/ or https://<domain><path>/. */
export function routeUrls(app: Pick<CatalogApp, 'routes'>, domain: string | undefined): string[] {
  if (!domain) return []
  return app.routes.map((r) => (r.host ? `https://${r.host}.${domain}/` : `https://${domain}${r.path}/`))
}

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const fields = Object.entries(e.fields).map(([k, v]) => `${k}: ${v}`)
    return fields.length ? `${e.message} (${fields.join('; ')})` : e.message
  }
  return e instanceof Error ? e.message : String(e)
}

export function StoreSettingsForm({ overview, onRun }: { overview: StoreOverview; onRun: (id: string, title: string) => void }) {
  const [index, setIndex] = useState(overview.index)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)

  async function send(body: { enabled?: boolean; index?: string }, title: string, previewOnly = false) {
    setBusy(true)
    setError(null)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewStore(body)).run_id)
        return
      }
      const { run_id } = await endpoints.saveStore(body)
      setPreview(null)
      onRun(run_id, title)
    } catch (e) {
      setError(e instanceof ApiError ? (e.fields.index ?? e.fields.enabled ?? e.message) : errorText(e))
    } finally {
      setBusy(false)
    }
  }

  function saveIndex(previewOnly: boolean) {
    const value = index.trim()
    if (value && !INDEX_RE.test(value)) {
      setError(`Enter ${limits.IndexLocation.description}.`)
      return
    }
    void send({ index: value }, 'Changing the store’s index', previewOnly)
  }
  const previewed = preview && <ChangePreview runId={preview} onClose={() => setPreview(null)} />

  if (!overview.enabled)
    return (
      <div>
        <p className="mb-3">
          The store runs apps as containers with podman. It is off: turning it on installs the container engine
          (a converge of the store role).
        </p>
        {error && <ErrorNote error={error} />}
        <div className="flex flex-wrap gap-2">
          <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void send({ enabled: true }, 'Turning the store on')}>
            Turn the store on
          </button>
          <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void send({ enabled: true }, '', true)}>
            Preview turning it on
          </button>
        </div>
        {previewed}
      </div>
    )
  return (
    <form
      onSubmit={(ev: FormEvent) => {
        ev.preventDefault()
        saveIndex(false)
      }}
      noValidate
    >
      <Field id="store-index" label="Index of apps" error={error ?? undefined} hint="An http(s) URL or a path on the cell; empty for the index the cell ships.">
        <input
          id="store-index"
          className={inputClass}
          value={index}
          onChange={(e) => setIndex(e.target.value)}
          aria-invalid={Boolean(error)}
          placeholder="https://apps.example.org/index.yml"
        />
      </Field>
      <div className="flex flex-wrap gap-2">
        <button type="submit" className={buttonPrimary} disabled={busy}>
          Save index
        </button>
        <button type="button" className={buttonSecondary} disabled={busy} onClick={() => saveIndex(true)}>
          Preview the index
        </button>
        <button
          type="button"
          className={buttonSecondary}
          disabled={busy || overview.installed.length > 0}
          title={overview.installed.length ? 'Remove the apps first' : undefined}
          onClick={() => void send({ enabled: false }, 'Turning the store off')}
        >
          Turn the store off
        </button>
        <button
          type="button"
          className={buttonSecondary}
          disabled={busy || overview.installed.length > 0}
          onClick={() => void send({ enabled: false }, '', true)}
        >
          Preview turning it off
        </button>
      </div>
      {previewed}
    </form>
  )
}

/** An app's install or removal previewed: the engine's plan and the check-mode run of its route. */
export type AppPreview = { title: string; planned: StorePlanned }

/** What an install or a removal would do, in words (the API's plan: nothing was pulled, started or removed). */
export function planLines(plan: StorePlan, domain: string | undefined): string[] {
  const lines: string[] = []
  if (plan.version) {
    // an install's plan (a removal's names no version)
    lines.push(`Pulls ${plan.image}`)
    for (const p of plan.ports ?? [])
      lines.push(`Publishes port ${p.port}/${p.protocol} on ${p.address === '127.0.0.1' ? '127.0.0.1 (behind the cell’s HTTPS only)' : 'every address'}`)
    const available = plan.memory_available == null ? '' : ` (${plan.memory_available} MiB available)`
    lines.push(`Needs ${plan.memory} MiB of memory${available} and ${plan.disk} MiB of disk`)
    lines.push(...routeUrls({ routes: plan.routes ?? [] }, domain).map((u) => `Answers at ${u}`))
    lines.push(plan.data.found ? `Takes up the data of an earlier install in ${plan.data.path}` : `Keeps its data in ${plan.data.path}`)
    return lines
  }
  if (plan.container) lines.push(`Stops and deletes the container ${plan.container}`)
  if (plan.volumes?.length) lines.push(`Deletes the engine’s volumes ${plan.volumes.join(', ')}`)
  if (plan.image) lines.push(`Deletes the image ${plan.image}`)
  lines.push(plan.data.kept ? `Keeps its data in ${plan.data.path}; a reinstall finds it` : `Deletes its data in ${plan.data.path}`)
  return lines
}

export function AppPreviewView({ preview, domain, onClose }: { preview: AppPreview; domain?: string; onClose: () => void }) {
  const { plan, run_id } = preview.planned
  const problems = Object.entries(plan.problems ?? {})
  return (
    <div data-testid="app-plan">
      <ul className="mb-2 list-disc pl-5 text-sm">
        {planLines(plan, domain).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      {plan.fits === false && (
        <ul className="mb-2 list-disc pl-5 text-sm text-red-800" role="alert">
          {problems.map(([field, why]) => (
            <li key={field}>{`It does not fit: ${field}: ${why}`}</li>
          ))}
        </ul>
      )}
      {plan.fits === true && <p className="mb-2 text-sm text-green-800">It fits this cell.</p>}
      {run_id ? (
        <ChangePreview runId={run_id} onClose={onClose} />
      ) : (
        <button type="button" className={buttonSecondary} onClick={onClose}>
          Close the preview
        </button>
      )}
    </div>
  )
}

export function AppRow({
  app,
  domain,
  recorded,
  onRun,
  onPreview,
}: {
  app: CatalogApp
  domain?: string
  /** the version the cell state records installed, if it does */
  recorded?: string
  onRun: (id: string, title: string) => void
  /** an install's or a removal's preview, shown by the page */
  onPreview?: (preview: AppPreview) => void
}) {
  const [version, setVersion] = useState(app.latest)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [confirmPurge, setConfirmPurge] = useState(false)

  async function act(fn: () => Promise<{ run_id: string }>, title: string) {
    setBusy(true)
    setError(null)
    try {
      const { run_id } = await fn()
      onRun(run_id, title)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }
  async function previewAct(fn: () => Promise<StorePlanned>, title: string) {
    setBusy(true)
    setError(null)
    try {
      onPreview?.({ title, planned: await fn() })
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  const installed = app.installed
  // recorded in the state but its container gone or stopped (a restore it did not come back in, a
  // broken container): Repair installs it again over its kept data
  const repairable = recorded !== undefined && (!installed || app.state !== 'running')
  return (
    <tr className="border-t border-slate-200 align-top" data-app={app.id}>
      <td className="py-2 pr-3">
        <div className="font-semibold">{app.name}</div>
        <div className="text-sm text-slate-700">{app.description}</div>
        <div className="text-xs text-slate-600">
          {app.memory} MiB memory, {app.disk} MiB disk
        </div>
        {installed &&
          routeUrls(app, domain).map((u) => (
            <a key={u} className="block break-all text-sm text-teal-800 underline" href={u} target="_blank" rel="noreferrer">
              {u}
            </a>
          ))}
      </td>
      <td className="py-2 pr-3">
        {installed ? (
          <span>
            {installed} <StatusBadge status={app.state === 'running' ? 'running' : app.state ?? 'unknown'} />
          </span>
        ) : recorded ? (
          <span>
            {recorded} <StatusBadge status="missing" /> <span className="text-sm text-slate-700">its container is gone; its data is kept</span>
          </span>
        ) : (
          <span className="text-slate-700">available{app.data ? ' (its data is kept)' : ''}</span>
        )}
      </td>
      <td className="py-2 pr-3">
        <label className="sr-only" htmlFor={`version-${app.id}`}>
          Version of {app.name}
        </label>
        <select id={`version-${app.id}`} className={inputClass} value={version} onChange={(e) => setVersion(e.target.value)}>
          {app.versions.map((v) => (
            <option key={v} value={v}>
              {v}
              {v === app.latest ? ' (newest)' : ''}
            </option>
          ))}
        </select>
      </td>
      <td className="py-2">
        <div className="flex flex-wrap gap-2">
          {repairable && (
            <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void act(() => endpoints.repairApp(app.id), `Repairing ${app.name} (its data kept)`)}>
              Repair
            </button>
          )}
          {!installed && !recorded && (
            <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void act(() => endpoints.installApp({ app: app.id, version }), `Installing ${app.name} ${version}`)}>
              Install
            </button>
          )}
          {!installed && !recorded && onPreview && (
            <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void previewAct(() => endpoints.previewInstallApp({ app: app.id, version }), `Preview: installing ${app.name} ${version}`)}>
              Preview install
            </button>
          )}
          {installed && version !== installed && (
            <button type="button" className={buttonPrimary} disabled={busy} onClick={() => void act(() => endpoints.upgradeApp(app.id, { version }), `Upgrading ${app.name} to ${version}`)}>
              {`Change to ${version}`}
            </button>
          )}
          {(installed || recorded) && (
            <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void act(() => endpoints.removeApp(app.id, false), `Removing ${app.name} (its data kept)`)}>
              Remove
            </button>
          )}
          {(installed || recorded) && onPreview && (
            <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void previewAct(() => endpoints.previewRemoveApp(app.id, false), `Preview: removing ${app.name} (its data kept)`)}>
              Preview removal
            </button>
          )}
          {(installed || recorded || app.data) &&
            (confirmPurge ? (
              <>
                <button type="button" className={buttonDanger} disabled={busy} onClick={() => void act(() => endpoints.removeApp(app.id, true), `Purging ${app.name}`)}>
                  Delete {app.name} and its data
                </button>
                {onPreview && (
                  <button type="button" className={buttonSecondary} disabled={busy} onClick={() => void previewAct(() => endpoints.previewRemoveApp(app.id, true), `Preview: purging ${app.name}`)}>
                    Preview the purge
                  </button>
                )}
              </>
            ) : (
              <button type="button" className={buttonSecondary} disabled={busy} onClick={() => setConfirmPurge(true)}>
                Purge…
              </button>
            ))}
        </div>
        {error && <ErrorNote error={error} />}
      </td>
    </tr>
  )
}

export function StorePage() {
  const overview = useApi(endpoints.store)
  const settings = useApi(endpoints.settings)
  const [run, setRun] = useState<{ id: string; title: string } | null>(null)
  const [preview, setPreview] = useState<AppPreview | null>(null)
  const onRun = (id: string, title: string) => {
    setPreview(null)
    setRun({ id, title })
  }

  return (
    <div className="space-y-4">
      <PageHeader title="Service Store">
        Extra apps for the cell, each in its own container, reached through the cell’s HTTPS names. Upgrades keep a
        snapshot of the app’s data and roll back when the new version does not come up; removing an app keeps its data
        unless you purge it.
      </PageHeader>
      {run && (
        <Card title={run.title}>
          <RunView runId={run.id} onFinished={() => overview.reload()} />
          <button type="button" className={`${buttonSecondary} mt-3`} onClick={() => setRun(null)}>
            Close
          </button>
        </Card>
      )}
      {preview && (
        <Card title={preview.title}>
          <AppPreviewView key={preview.planned.run_id ?? preview.title} preview={preview} domain={settings.data?.domain}
            onClose={() => setPreview(null)} />
        </Card>
      )}
      {overview.loading && !overview.data ? (
        <Loading />
      ) : overview.error ? (
        <ErrorNote error={overview.error} />
      ) : overview.data ? (
        <>
          <Card title="Store">
            <StoreSettingsForm key={`${overview.data.enabled}-${overview.data.index}`} overview={overview.data} onRun={onRun} />
          </Card>
          {overview.data.enabled && (
            <Card title="Apps">
              {overview.data.error && <ErrorNote error={overview.data.error} />}
              {!overview.data.error && !overview.data.apps.length && <NotAvailable>The index lists no app.</NotAvailable>}
              {overview.data.apps.length > 0 && (
                <Table columns={['App', 'Installed', 'Version', 'Actions']}>
                  {overview.data.apps.map((app) => (
                    <AppRow
                      key={app.id}
                      app={app}
                      domain={settings.data?.domain}
                      recorded={overview.data?.installed.find((a) => a.id === app.id)?.version}
                      onRun={onRun}
                      onPreview={setPreview}
                    />
                  ))}
                </Table>
              )}
            </Card>
          )}
        </>
      ) : null}
    </div>
  )
}
