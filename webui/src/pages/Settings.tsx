import { useEffect, useMemo, useState, type FormEvent } from 'react'
import { ALL_SERVICES, ApiError, endpoints, SERVICE_LABELS, type DomainMode, type RunStatus, type Settings } from '../api'
import type { SettingsChange } from '../generated/api'
import { RunView } from '../components/RunView'
import { StateVersions } from '../components/StateVersions'
import { TimezonePicker } from '../components/TimezonePicker'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, inputClass, Loading, PageHeader, useApi } from '../components/ui'
import { limits } from '../generated/api'
import { timeZones, validateCellName, validateDomain } from '../validation'

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/
const DOMAIN_RE = new RegExp(limits.Domain.pattern)
const LEASE_RE = new RegExp(limits.LeaseTime.pattern)
const LEASE_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

export interface SettingsForm {
  cell_name: string
  services: string[]
  timezone: string
  resolvers: string
  domain_mode: DomainMode
  domain: string
  ntp: string
  dhcp_start: string
  dhcp_end: string
  lease: string
}

export const MODE_LABELS: Record<DomainMode, string> = {
  internal: 'Internal only (<name>.cell, the cell’s own CA)',
  pic_ngo: 'PIC dynamic name (<name>.pic.ngo, published by the cell)',
  custom: 'My own domain',
}

/** The editable part of GET /api/settings. */
export function settingsToForm(s: Settings): SettingsForm {
  return {
    cell_name: s.cell_name,
    services: [...s.services],
    timezone: s.timezone,
    resolvers: s.upstream_dns.join('\n'),
    domain_mode: s.domain_mode,
    domain: s.domain_mode === 'custom' ? s.domain : '',
    ntp: s.ntp_servers.join('\n'),
    dhcp_start: s.dhcp_range[0],
    dhcp_end: s.dhcp_range[1],
    lease: s.dhcp_lease_time,
  }
}

const splitList = (text: string) => text.split(/[\s,]+/).filter(Boolean)

/** NTP servers: host names or IPv4 addresses (the API's Host type); none is fine (the cell's own clock). */
export function validateNtpServers(text: string): string | null {
  const list = splitList(text)
  const bad = list.find((h) => !IPV4.test(h) && !DOMAIN_RE.test(h.toLowerCase()))
  if (bad) return `"${bad}" is not a host name or IPv4 address.`
  if (new Set(list.map((h) => h.toLowerCase())).size !== list.length) return 'A server is listed twice.'
  return null
}

const ipNumber = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0)

/** The DHCP pool's two ends: addresses, start not after end (the API checks it lies inside the LAN). */
export function validateDhcpRange(start: string, end: string): string | null {
  const bad = [start.trim(), end.trim()].find((a) => !IPV4.test(a))
  if (bad !== undefined) return bad ? `"${bad}" is not an IPv4 address.` : 'Enter both ends of the DHCP pool.'
  if (ipNumber(start.trim()) > ipNumber(end.trim())) return 'The pool’s start must not be after its end.'
  return null
}

/** A lease time like 12h, 30m, 1d or infinite, from 2 minutes to 365 days (dnsmasq's and the API's bounds). */
export function validateLeaseTime(text: string): string | null {
  const t = text.trim()
  if (!LEASE_RE.test(t)) return 'Enter a lease time like 12h, 30m or 1d (or infinite).'
  if (t === 'infinite') return null
  const m = /^(\d+)([smhdw]?)$/.exec(t)!
  const seconds = Number(m[1]) * LEASE_UNITS[m[2]]
  return seconds < limits.LeaseTime.minimum || seconds > limits.LeaseTime.maximum ? 'A lease time must be from 2m to 365d.' : null
}

/** The upstream resolvers as the API takes them: IPv4 addresses, at most limits.UpstreamDns.maxItems;
 * none at all is allowed (the cell then asks the resolvers its host uses). */
export function validateResolvers(text: string): string | null {
  const list = text.split(/[\s,]+/).filter(Boolean)
  const bad = list.find((a) => !IPV4.test(a))
  if (bad) return `"${bad}" is not an IPv4 address.`
  if (list.length > limits.UpstreamDns.maxItems) return `At most ${limits.UpstreamDns.maxItems} resolvers.`
  return new Set(list).size < list.length ? 'A resolver is listed twice.' : null
}

export function formToBody(f: SettingsForm): SettingsChange {
  const body: SettingsChange = {
    cell_name: f.cell_name.trim(),
    services: ALL_SERVICES.filter((s) => f.services.includes(s)),
    timezone: f.timezone,
    upstream_dns: f.resolvers.split(/[\s,]+/).filter(Boolean),
    domain_mode: f.domain_mode,
    ntp_servers: splitList(f.ntp),
    dhcp_range: [f.dhcp_start.trim(), f.dhcp_end.trim()],
    dhcp_lease_time: f.lease.trim(),
  }
  if (f.domain_mode === 'custom') body.domain = f.domain.trim().toLowerCase()
  return body
}

/** The API's 400 fields as the form's: a list's entry ('ntp_servers[1]') is shown at its list. */
export function apiErrorsToForm(fields: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...fields }
  const first = (...keys: string[]) => keys.map((k) => fields[k]).find(Boolean)
  out.resolvers = first('upstream_dns', 'upstream_dns[0]', 'upstream_dns[1]', 'upstream_dns[2]')
  out.ntp = first('ntp_servers', ...Object.keys(fields).filter((k) => k.startsWith('ntp_servers[')))
  out.dhcp_range = first('dhcp_range', 'dhcp_range[0]', 'dhcp_range[1]')
  out.lease = fields.dhcp_lease_time
  return out
}

type Phase = { kind: 'edit' } | { kind: 'preview'; runId: string; status: RunStatus | null } | { kind: 'apply'; runId: string; status: RunStatus | null }

/** A list setting, one entry per line (the upstream resolvers, the NTP servers). */
function LinesField({ id, label, hint, error, disabled, value, onChange }: {
  id: string
  label: string
  hint: string
  error?: string
  disabled: boolean
  value: string
  onChange: (value: string) => void
}) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      <textarea
        id={id}
        rows={3}
        disabled={disabled}
        className={`${inputClass} font-mono text-sm`}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={[`${id}-hint`, error ? `${id}-error` : ''].filter(Boolean).join(' ')}
        onChange={(e) => onChange(e.target.value)}
      />
    </Field>
  )
}

/** What a rename moves, said before it is previewed: the addresses people use change with it. */
function RenameNote({ from, to }: { from: Settings; to: string }) {
  const zone = (name: string) => `${name}.cell`
  // the internal and pic_ngo domains are <name>.cell and <name>.pic.ngo; a custom domain stays
  const domain = from.domain_mode === 'custom' ? from.domain : (to || '…') + from.domain.slice(from.cell_name.length)
  return (
    <div className="mb-4 rounded border border-amber-300 bg-amber-50 p-3 text-sm text-slate-800" role="note">
      <p>
        Renaming moves every name of <b>{zone(from.cell_name)}</b> to <b>{zone(to || '…')}</b>: devices, services and the
        certificate. Mail addresses become <b>…@{domain}</b> and the mailboxes move with them.
      </p>
      <p className="mt-1">
        Once applied, open the cell at <b>https://{zone(to || '…')}/</b> (or at its LAN address) and sign in again. Linked cells
        would lose this cell’s names, so a cell with links or open invitations cannot be renamed.
      </p>
    </div>
  )
}

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
    setErrors((e) => ({ ...e, [k]: undefined, ...(k === 'dhcp_start' || k === 'dhcp_end' ? { dhcp_range: undefined } : {}) }))
    if (phase.kind === 'preview') setPhase({ kind: 'edit' })
  }

  const send = async (preview: boolean) => {
    setError(null)
    const errs: Record<string, string | undefined> = {}
    const name = validateCellName(form.cell_name.trim())
    if (name) errs.cell_name = name
    const r = validateResolvers(form.resolvers)
    if (r) errs.resolvers = r
    if (!form.services.length) errs.services = 'Choose at least one service.'
    if (!form.timezone) errs.timezone = 'Choose a time zone.'
    const ntp = validateNtpServers(form.ntp)
    if (ntp) errs.ntp = ntp
    const range = validateDhcpRange(form.dhcp_start, form.dhcp_end)
    if (range) errs.dhcp_range = range
    const lease = validateLeaseTime(form.lease)
    if (lease) errs.lease = lease
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
      if (e instanceof ApiError && (e.status === 400 || e.status === 409)) { // 409: a rename of a linked cell
        setErrors(apiErrorsToForm(e.fields))
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
          <Field id="settings-cell-name" label="Cell name" error={errors.cell_name}
            hint="Every name in the cell ends with it: <name>.cell, its devices, mail addresses and certificate.">
            <input
              id="settings-cell-name"
              className={inputClass}
              disabled={locked}
              value={form.cell_name}
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              aria-invalid={errors.cell_name ? true : undefined}
              onChange={(e) => change('cell_name', e.target.value.trim())}
            />
          </Field>
          {form.cell_name !== initial.cell_name && <RenameNote from={initial} to={form.cell_name} />}
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
          <LinesField id="settings-resolvers" label="Upstream DNS resolvers" hint="IPv4 addresses, one per line; none: the resolvers the host itself uses." error={errors.resolvers}
            disabled={locked} value={form.resolvers} onChange={(v) => change('resolvers', v)} />
          <LinesField id="settings-ntp" label="Upstream NTP servers" error={errors.ntp} disabled={locked} value={form.ntp}
            hint="Host names or IPv4 addresses, one per line. None: the cell keeps its networks in step with its own clock."
            onChange={(v) => change('ntp', v)} />
          <fieldset className="mb-4" disabled={locked}>
            <legend className="font-medium">DHCP on the LAN</legend>
            <p className="text-sm text-slate-700">
              The pool must lie inside the LAN subnet and leave out the cell’s own address and the reserved addresses.
            </p>
            <div className="mt-2 grid gap-x-4 sm:grid-cols-3">
              <Field id="settings-dhcp-start" label="Pool from" error={errors.dhcp_range}>
                <input
                  id="settings-dhcp-start"
                  className={`${inputClass} font-mono`}
                  value={form.dhcp_start}
                  aria-invalid={errors.dhcp_range ? true : undefined}
                  onChange={(e) => change('dhcp_start', e.target.value)}
                />
              </Field>
              <Field id="settings-dhcp-end" label="Pool to">
                <input
                  id="settings-dhcp-end"
                  className={`${inputClass} font-mono`}
                  value={form.dhcp_end}
                  aria-invalid={errors.dhcp_range ? true : undefined}
                  aria-describedby={errors.dhcp_range ? 'settings-dhcp-start-error' : undefined}
                  onChange={(e) => change('dhcp_end', e.target.value)}
                />
              </Field>
              <Field id="settings-lease" label="Lease time" error={errors.lease} hint="Like 12h, 30m or 1d (2m to 365d).">
                <input
                  id="settings-lease"
                  className={`${inputClass} font-mono`}
                  value={form.lease}
                  aria-invalid={errors.lease ? true : undefined}
                  aria-describedby={['settings-lease-hint', errors.lease ? 'settings-lease-error' : ''].filter(Boolean).join(' ')}
                  onChange={(e) => change('lease', e.target.value)}
                />
              </Field>
            </div>
          </fieldset>
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
