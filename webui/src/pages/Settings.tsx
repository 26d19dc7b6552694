import { useEffect, useMemo, useState, type FormEvent } from 'react'
import { ALL_SERVICES, ApiError, endpoints, SERVICE_LABELS, type DomainMode, type RunStatus, type Settings } from '../api'
import type { SettingsChange } from '../generated/api'
import { RunView } from '../components/RunView'
import { StateVersions } from '../components/StateVersions'
import { TimezonePicker } from '../components/TimezonePicker'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, inputClass, Loading, PageHeader, useApi } from '../components/ui'
import { timeZones, validateDomain } from '../validation'

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/
const IPV6 = /^[0-9a-fA-F:]+$/

export interface SettingsForm {
  services: string[]
  timezone: string
  resolvers: string
  domain_mode: DomainMode
  domain: string
}

export const MODE_LABELS: Record<DomainMode, string> = {
  internal: 'Internal only (<name>.cell, the cell’s own CA)',
  pic_ngo: 'PIC dynamic name (<name>.pic.ngo, published by the cell)',
  custom: 'My own domain',
}

/** The editable part of GET /api/settings. */
export function settingsToForm(s: Settings): SettingsForm {
  return {
    services: [...s.services],
    timezone: s.timezone,
    resolvers: s.upstream_dns.join('\n'),
    domain_mode: s.domain_mode,
    domain: s.domain_mode === 'custom' ? s.domain : '',
  }
}

export function validateResolvers(text: string): string | null {
  const list = text.split(/[\s,]+/).filter(Boolean)
  if (!list.length) return 'Enter at least one upstream resolver.'
  const bad = list.find((a) => !IPV4.test(a) && !(a.includes(':') && IPV6.test(a)))
  return bad ? `"${bad}" is not an IP address.` : null
}

export function formToBody(f: SettingsForm): SettingsChange {
  const body: SettingsChange = {
    services: ALL_SERVICES.filter((s) => f.services.includes(s)),
    timezone: f.timezone,
    upstream_dns: f.resolvers.split(/[\s,]+/).filter(Boolean),
    domain_mode: f.domain_mode,
  }
  if (f.domain_mode === 'custom') body.domain = f.domain.trim().toLowerCase()
  return body
}

type Phase = { kind: 'edit' } | { kind: 'preview'; runId: string; status: RunStatus | null } | { kind: 'apply'; runId: string; status: RunStatus | null }

function SettingsEditor({ initial }: { initial: Settings }) {
  const zones = useMemo(() => timeZones(), [])
  const start = useMemo(() => settingsToForm(initial), [initial])
  const [form, setForm] = useState<SettingsForm>(start)
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [error, setError] = useState<string | null>(null)
  const [phase, setPhase] = useState<Phase>({ kind: 'edit' })
  const [busy, setBusy] = useState(false)

  useEffect(() => setForm(start), [start])

  const change = <K extends keyof SettingsForm>(k: K, v: SettingsForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
    if (phase.kind === 'preview') setPhase({ kind: 'edit' })
  }

  const send = async (preview: boolean) => {
    setError(null)
    const errs: Record<string, string | undefined> = {}
    const r = validateResolvers(form.resolvers)
    if (r) errs.resolvers = r
    if (!form.services.length) errs.services = 'Choose at least one service.'
    if (!form.timezone) errs.timezone = 'Choose a time zone.'
    if (form.domain_mode === 'custom') {
      const d = validateDomain(form.domain)
      if (d) errs.domain = d
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      const res = await endpoints.saveSettings(formToBody(form), preview)
      if (!res?.run_id) {
        setError(preview ? 'The API started no preview run.' : 'Saved; nothing needed to change.')
        return
      }
      setPhase({ kind: preview ? 'preview' : 'apply', runId: res.run_id, status: null })
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) {
        const f = { ...e.fields }
        if (f.upstream_dns) f.resolvers = f.upstream_dns
        setErrors(f)
      }
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    void send(true)
  }

  const locked = phase.kind === 'apply' || busy
  return (
    <div className="space-y-4">
      <Card title="Cell settings">
        <form onSubmit={submit} noValidate aria-label="Cell settings">
          {error && (
            <div className="mb-3">
              <ErrorNote error={error} />
            </div>
          )}
          <fieldset className="mb-4" disabled={locked}>
            <legend className="font-medium">Services</legend>
            <div className="mt-1 grid gap-2 sm:grid-cols-2">
              {ALL_SERVICES.map((s) => (
                <label key={s} className="flex items-center gap-2">
                  <input
                    type="checkbox"
                    checked={form.services.includes(s)}
                    onChange={() =>
                      change('services', form.services.includes(s) ? form.services.filter((x) => x !== s) : [...form.services, s])
                    }
                  />
                  {SERVICE_LABELS[s]}
                </label>
              ))}
            </div>
            {errors.services && <p className="mt-1 text-sm font-medium text-red-800">{errors.services}</p>}
          </fieldset>
          <fieldset className="mb-4" disabled={locked}>
            <legend className="font-medium">Time zone</legend>
            <TimezonePicker id="settings-timezone" value={form.timezone} zones={zones} error={errors.timezone} onChange={(tz) => change('timezone', tz)} />
            {errors.timezone && <p id="settings-timezone-error" className="mt-1 text-sm font-medium text-red-800">{errors.timezone}</p>}
          </fieldset>
          <fieldset className="mb-4" disabled={locked}>
            <legend className="font-medium">Domain</legend>
            {(Object.keys(MODE_LABELS) as DomainMode[]).map((m) => (
              <label key={m} className="mt-1 flex items-center gap-2">
                <input type="radio" name="settings-domain-mode" checked={form.domain_mode === m} onChange={() => change('domain_mode', m)} />
                {MODE_LABELS[m]}
              </label>
            ))}
            {errors.domain_mode && <p className="mt-1 text-sm font-medium text-red-800">{errors.domain_mode}</p>}
            {form.domain_mode !== initial.domain_mode && (
              <p className="mt-1 text-sm text-slate-700">Changing the domain converges every service that uses it; preview it first.</p>
            )}
          </fieldset>
          {form.domain_mode === 'custom' && (
            <Field id="settings-domain" label="Custom domain" error={errors.domain}>
              <input
                id="settings-domain"
                className={inputClass}
                disabled={locked}
                value={form.domain}
                aria-invalid={errors.domain ? true : undefined}
                onChange={(e) => change('domain', e.target.value)}
              />
            </Field>
          )}
          <Field id="settings-resolvers" label="Upstream DNS resolvers" error={errors.resolvers} hint="IP addresses, one per line.">
            <textarea
              id="settings-resolvers"
              rows={3}
              disabled={locked}
              className={`${inputClass} font-mono text-sm`}
              value={form.resolvers}
              aria-invalid={errors.resolvers ? true : undefined}
              aria-describedby={['settings-resolvers-hint', errors.resolvers ? 'settings-resolvers-error' : ''].filter(Boolean).join(' ')}
              onChange={(e) => change('resolvers', e.target.value)}
            />
          </Field>
          <div className="flex flex-wrap gap-2">
            <button type="submit" className={buttonSecondary} disabled={locked}>
              Preview changes
            </button>
            <button
              type="button"
              className={buttonPrimary}
              disabled={locked || phase.kind !== 'preview' || phase.status === null}
              onClick={() => void send(false)}
            >
              Apply
            </button>
          </div>
          {phase.kind === 'edit' && <p className="mt-2 text-sm text-slate-700">Preview first: it shows what would change, without changing anything.</p>}
          {phase.kind === 'preview' && phase.status === 'failed' && (
            <p className="mt-2 text-sm font-medium text-red-800">The preview found problems; applying will likely fail the same way.</p>
          )}
        </form>
      </Card>
      {phase.kind !== 'edit' && (
        <Card>
          <RunView
            key={phase.runId}
            runId={phase.runId}
            title={phase.kind === 'preview' ? 'Preview (check mode, nothing is changed)' : 'Applying'}
            onFinished={(st) => setPhase((p) => (p.kind === 'edit' ? p : { ...p, status: st }))}
          />
          {phase.kind === 'apply' && phase.status && (
            <button type="button" className={`${buttonSecondary} mt-4`} onClick={() => setPhase({ kind: 'edit' })}>
              Back to editing
            </button>
          )}
        </Card>
      )}
    </div>
  )
}

export function SettingsPage() {
  const settings = useApi(endpoints.settings)
  return (
    <div>
      <PageHeader title="Settings">Change what the cell runs. Every change is previewed first, then applied.</PageHeader>
      {settings.loading && !settings.data ? (
        <Loading />
      ) : settings.error ? (
        <ErrorNote error={settings.error} />
      ) : settings.data ? (
        <SettingsEditor initial={settings.data} />
      ) : null}
      <div className="mt-4">
        <StateVersions />
      </div>
    </div>
  )
}
