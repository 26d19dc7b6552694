// Connectivity: how the cell is reached from outside. Dynamic DNS (provider, name, credentials and
// what the cell's updater last did, in the provider's own words), how its certificates are proven
// (HTTP-01, DNS-01 through the provider, or through a CNAME delegation of _acme-challenge, with the
// records the owner creates), the endpoint devices dial, and new configurations for existing devices
// after that endpoint changed (same keys); the exits devices may leave through (Exits.tsx).
import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, endpoints, type Peer, type RunStatus } from '../api'
import type { AcmeChallenge, AcmeCname, DdnsChange, DdnsProvider, DdnsView, PeerConfig, TsigAlgorithm } from '../generated/api'
import { limits } from '../generated/api'
import { RunView } from '../components/RunView'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, inputClass, Loading, PageHeader, useApi, when } from '../components/ui'
import { validateDomain } from '../validation'
import { ExitsCard } from './Exits'
import { downloadText, QrImage } from './Peers'

export const PROVIDER_LABELS: Record<DdnsProvider, string> = {
  none: 'None (devices dial the address set below, or the cell’s LAN address)',
  pic_ngo: 'pic_ngo (<name>.pic.ngo, the pic_ngo domain mode)',
  cloudflare: 'Cloudflare',
  duckdns: 'Duck DNS',
  noip: 'No-IP',
  freedns: 'FreeDNS (afraid.org)',
}
export const CREDENTIAL_LABELS: Record<string, string> = {
  username: 'Username',
  password: 'Password',
  token: 'Token',
  api_token: 'API token',
}
const SECRET_FIELDS = new Set(['password', 'token', 'api_token'])

export interface DdnsForm {
  provider: DdnsProvider
  hostname: string
  zone: string
  ipv6: boolean
  endpoint: string
  acme: AcmeChallenge
  credentials: Record<string, string>
  /** DNS-01 through a CNAME delegation of _acme-challenge into a zone updated by RFC 2136 */
  delegate: boolean
  delegation: { server: string; port: string; zone: string; key_name: string; algorithm: TsigAlgorithm }
  /** the delegation's TSIG secret; empty keeps the stored one */
  tsigSecret: string
}
/** Providers whose TXT records the cell can write for DNS-01 (the API's rule: DNS01_PROVIDERS); the
 * others answer it through a CNAME delegation. */
const DNS01 = new Set<DdnsProvider>(['pic_ngo', 'cloudflare', 'duckdns'])

export function viewToForm(v: DdnsView): DdnsForm {
  return {
    provider: v.settings.provider,
    hostname: v.settings.hostname,
    zone: v.settings.zone,
    ipv6: v.settings.ipv6,
    endpoint: v.settings.wireguard_endpoint,
    acme: v.settings.acme_challenge,
    credentials: {},
    delegate: Boolean(v.settings.acme_delegation?.zone),
    delegation: {
      server: v.settings.acme_delegation?.server ?? '',
      port: String(v.settings.acme_delegation?.port ?? ''),
      zone: v.settings.acme_delegation?.zone ?? '',
      key_name: v.settings.acme_delegation?.key_name ?? '',
      algorithm: v.settings.acme_delegation?.algorithm ?? 'hmac-sha256',
    },
    tsigSecret: '',
  }
}

/** The records as zone-file lines, to copy into the owner's DNS. */
export function cnameLines(records: AcmeCname[]): string {
  return records.map((r) => `${r.name} ${r.type} ${r.target}`).join('\n')
}

/** The request: only what the provider uses; an empty secret keeps the stored one. */
export function formToBody(f: DdnsForm, needs: string[], internal = true): DdnsChange {
  const body: DdnsChange = { provider: f.provider, ipv6: f.ipv6, wireguard_endpoint: f.endpoint.trim() }
  if (!internal) {
    body.acme_challenge = f.acme
    const d = f.delegation
    body.acme_delegation = f.delegate
      ? {
          server: d.server.trim().toLowerCase(),
          zone: d.zone.trim().toLowerCase().replace(/\.$/, ''),
          key_name: d.key_name.trim(),
          algorithm: d.algorithm,
          ...(d.port.trim() ? { port: Number(d.port.trim()) } : {}),
        }
      : {}
    if (f.delegate && f.tsigSecret.trim()) body.acme_delegation_secret = f.tsigSecret.trim()
  }
  if (f.provider !== 'none' && f.provider !== 'pic_ngo') body.hostname = f.hostname.trim().toLowerCase()
  if (f.provider === 'cloudflare' && f.zone.trim()) body.zone = f.zone.trim().toLowerCase()
  const creds = Object.fromEntries(needs.filter((k) => f.credentials[k]).map((k) => [k, f.credentials[k]]))
  if (Object.keys(creds).length) body.credentials = creds
  return body
}

/** Client-side checks; the API (and the provider it asks) stays the authority. */
export function validateForm(
  f: DdnsForm,
  needs: string[],
  stored: Record<string, unknown>,
  storedSecret = false,
): Record<string, string> {
  const errs: Record<string, string> = {}
  if (f.delegate) {
    const d = f.delegation
    const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(d.server.trim())
    if (!d.server.trim() || (!ipv4 && validateDomain(d.server))) errs['acme_delegation.server'] = 'Enter the DNS server’s name or IPv4 address.'
    const port = d.port.trim()
    if (port && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
      errs['acme_delegation.port'] = 'Enter a port from 1 to 65535, or leave it empty for 53.'

    const zone = validateDomain(d.zone.trim().replace(/\.$/, ''))
    if (zone) errs['acme_delegation.zone'] = zone
    if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?\.?$/.test(d.key_name.trim()))
      errs['acme_delegation.key_name'] = 'Enter the TSIG key’s name, such as cell-acme.'
    if (!f.tsigSecret.trim() && !storedSecret) errs.acme_delegation_secret = 'Enter the TSIG key’s secret.'
    else if (f.tsigSecret.trim() && !/^[A-Za-z0-9+/]{16,}={0,2}$/.test(f.tsigSecret.trim()))
      errs.acme_delegation_secret = 'The secret is base64, as in the secret line of tsig-keygen’s output.'
  } else if (f.acme === 'dns' && !DNS01.has(f.provider)) {
    errs.acme_challenge = 'This provider cannot publish the challenge itself: use a CNAME delegation.'
  }
  if (f.provider !== 'none' && f.provider !== 'pic_ngo') {
    const d = validateDomain(f.hostname)
    if (d) errs.hostname = d
    else if (f.provider === 'duckdns' && !f.hostname.trim().toLowerCase().endsWith('.duckdns.org'))
      errs.hostname = 'A Duck DNS name ends in .duckdns.org.'
  }
  for (const k of needs) {
    if (!f.credentials[k] && !stored[k]) errs[`credentials.${k}`] = `Enter the ${CREDENTIAL_LABELS[k].toLowerCase()}.`
  }
  if (f.endpoint.trim() && validateDomain(f.endpoint) && !/^\d{1,3}(\.\d{1,3}){3}$/.test(f.endpoint.trim()))
    errs.wireguard_endpoint = 'Enter a domain name or an IPv4 address, or leave it empty.'
  return errs
}

export function DdnsStatusCard({ view }: { view: DdnsView }) {
  const s = view.status
  const rows: [string, string][] = [
    ['Published name', view.provider === 'none' ? 'none (no dynamic DNS)' : view.hostname],
    ['Devices dial', view.endpoint],
  ]
  if (view.provider !== 'none') {
    rows.push(
      ['Public address', s?.public ? Object.values(s.public).join(', ') || 'not found' : 'not checked yet'],
      ['Accepted by the provider', s?.accepted ? Object.values(s.accepted).join(', ') || 'nothing yet' : 'nothing yet'],
      ['Last success', when(s?.last_success)],
      ['Last check', when(s?.checked_at)],
    )
  }
  return (
    <Card title="Reachable from outside">
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="ddns-status">
        {rows.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="font-medium">{k}</dt>
            <dd className="break-all">{v}</dd>
          </div>
        ))}
      </dl>
      {s?.last_error && (
        <div className="mt-3 rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900" role="alert" data-testid="ddns-error">
          <p className="font-medium">The last update failed{s.last_error_at ? ` (${when(s.last_error_at)})` : ''}:</p>
          <p className="mt-1 break-all font-mono">{s.last_error}</p>
          {s.blocked ? (
            <p className="mt-1">Updates are stopped until the settings or credentials change.</p>
          ) : s.next_attempt ? (
            <p className="mt-1">The next try is not before {when(s.next_attempt)}.</p>
          ) : null}
        </div>
      )}
      {view.provider !== 'none' && !s && (
        <p className="mt-3 text-sm text-slate-700">The cell has not published this name yet; it checks every 5 minutes.</p>
      )}
    </Card>
  )
}

const ALGORITHMS: readonly TsigAlgorithm[] = limits.TsigAlgorithm.enum

function DelegationFields(props: {
  form: DdnsForm
  errors: Record<string, string | undefined>
  locked: boolean
  storedSecret: boolean
  onToggle: (on: boolean) => void
  onChange: (k: keyof DdnsForm['delegation'], v: string) => void
  onSecret: (v: string) => void
}) {
  const { form, errors, locked, storedSecret, onToggle, onChange } = props
  const d = form.delegation
  const text = (k: 'server' | 'port' | 'zone' | 'key_name', label: string, hint?: string) => (
    <Field id={`ddns-delegation-${k}`} label={label} error={errors[`acme_delegation.${k}`]} hint={hint}>
      <input
        id={`ddns-delegation-${k}`}
        className={inputClass}
        disabled={locked}
        value={d[k]}
        inputMode={k === 'port' ? 'numeric' : undefined}
        aria-invalid={errors[`acme_delegation.${k}`] ? true : undefined}
        onChange={(e) => onChange(k, e.target.value)}
      />
    </Field>
  )
  return (
    <fieldset className="mb-4 rounded border border-slate-200 p-3">
      <label className="flex items-center gap-2">
        <input type="checkbox" disabled={locked} checked={form.delegate} onChange={(e) => onToggle(e.target.checked)} />
        Answer DNS-01 through a CNAME delegation of _acme-challenge
      </label>
      <p className="mt-1 text-sm text-slate-700">
        For a provider without a TXT record API (No-IP, FreeDNS): the challenge goes to a zone the cell may change with a
        TSIG key (RFC 2136), such as your own BIND server’s; you point each name’s _acme-challenge there once.
      </p>
      {errors.acme_delegation && <p className="mt-1 text-sm text-red-700">{errors.acme_delegation}</p>}
      {form.delegate && (
        <div className="mt-3">
          {text('server', 'DNS server', 'Its name or IPv4 address; it takes signed RFC 2136 updates.')}
          {text('port', 'Port (optional)', 'Empty: 53.')}
          {text('zone', 'Zone the CNAMEs point into', 'Such as acme.example.net: the cell publishes <name>.<zone> TXT there.')}
          {text('key_name', 'TSIG key name')}
          <Field id="ddns-delegation-algorithm" label="TSIG algorithm" error={errors['acme_delegation.algorithm']}>
            <select
              id="ddns-delegation-algorithm"
              className={inputClass}
              disabled={locked}
              value={d.algorithm}
              onChange={(e) => onChange('algorithm', e.target.value)}
            >
              {ALGORITHMS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="ddns-delegation-secret"
            label="TSIG secret"
            error={errors.acme_delegation_secret}
            hint={storedSecret ? 'Stored. Leave empty to keep it.' : 'Base64, the secret line of tsig-keygen’s output.'}
          >
            <input
              id="ddns-delegation-secret"
              type="password"
              autoComplete="off"
              className={inputClass}
              disabled={locked}
              value={form.tsigSecret}
              aria-invalid={errors.acme_delegation_secret ? true : undefined}
              onChange={(e) => props.onSecret(e.target.value)}
            />
          </Field>
        </div>
      )}
    </fieldset>
  )
}

/** The records the owner of the names creates once, from the saved delegation (the API's list). */
export function DelegationRecords({ view }: { view: DdnsView }) {
  const [copied, setCopied] = useState<string | null>(null)
  if (!view.acme_cnames?.length) return null
  const lines = cnameLines(view.acme_cnames)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(lines)
      setCopied('Copied.')
    } catch {
      setCopied('Select the records and copy them.')
    }
  }
  return (
    <Card title="CNAME records to create">
      <p className="mb-2 text-sm text-slate-700">
        Create these in the DNS of {view.domain}, once, then choose DNS-01. A certificate authority asks each name’s
        _acme-challenge for the proof; the CNAME sends it to the delegated zone, where the cell publishes it (one target
        per name, so the names never overwrite each other’s proof).
      </p>
      <pre className="overflow-x-auto rounded bg-slate-100 p-2 text-xs" data-testid="acme-cnames">
        {lines}
      </pre>
      <button type="button" className={`${buttonSecondary} mt-2`} onClick={() => void copy()}>
        Copy the records
      </button>
      {copied && (
        <span className="ml-2 text-sm" role="status">
          {copied}
        </span>
      )}
    </Card>
  )
}

type Phase = { kind: 'edit' } | { kind: 'apply'; runId: string; status: RunStatus | null }

export function DdnsEditor({ view, onSaved }: { view: DdnsView; onSaved: () => void }) {
  const [form, setForm] = useState<DdnsForm>(() => viewToForm(view))
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [error, setError] = useState<string | null>(null)
  const [phase, setPhase] = useState<Phase>({ kind: 'edit' })
  const [busy, setBusy] = useState(false)
  useEffect(() => setForm(viewToForm(view)), [view])

  const needs = view.needs[form.provider] ?? []
  const stored = view.credentials[form.provider] ?? {}
  const picNgoMode = view.provider === 'pic_ngo'
  const storedSecret = Boolean(view.credentials.acme_delegation?.tsig_secret)
  const setDelegation = (k: keyof DdnsForm['delegation'], v: string) => {
    setForm((f) => ({ ...f, delegation: { ...f.delegation, [k]: v } }))
    setErrors((e) => ({ ...e, [`acme_delegation.${k}`]: undefined, acme_delegation: undefined }))
  }
  const set = <K extends keyof DdnsForm>(k: K, v: DdnsForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k === 'endpoint' ? 'wireguard_endpoint' : k]: undefined }))
  }
  const setCred = (k: string, v: string) => {
    setForm((f) => ({ ...f, credentials: { ...f.credentials, [k]: v } }))
    setErrors((e) => ({ ...e, [`credentials.${k}`]: undefined, credentials: undefined }))
  }

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    const errs = validateForm(form, needs, stored, storedSecret)
    setErrors(errs)
    if (Object.keys(errs).length) return
    setBusy(true)
    try {
      const res = await endpoints.saveDdns(formToBody(form, needs, view.domain_mode === 'internal'))
      setPhase({ kind: 'apply', runId: res.run_id, status: null })
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) setErrors({ ...e.fields })
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  const locked = busy || (phase.kind === 'apply' && phase.status === null)
  const providers = limits.DdnsProvider.enum.filter((p) => (p === 'pic_ngo') === picNgoMode || (picNgoMode && p === 'none'))
  return (
    <div className="space-y-4">
      <Card title="Dynamic DNS">
        <form onSubmit={submit} noValidate aria-label="Dynamic DNS">
          {error && (
            <div className="mb-3">
              <ErrorNote error={error} />
            </div>
          )}
          {picNgoMode ? (
            <p className="mb-4 text-sm text-slate-700">
              In the pic_ngo domain mode the cell publishes {view.hostname} itself, with a key it made and registered.
            </p>
          ) : (
            <Field id="ddns-provider" label="Provider" error={errors.provider}>
              <select
                id="ddns-provider"
                className={inputClass}
                disabled={locked}
                value={form.provider}
                onChange={(e) => set('provider', e.target.value as DdnsProvider)}
              >
                {providers.map((p) => (
                  <option key={p} value={p}>
                    {PROVIDER_LABELS[p]}
                  </option>
                ))}
              </select>
            </Field>
          )}
          {form.provider !== 'none' && form.provider !== 'pic_ngo' && (
            <Field id="ddns-hostname" label="Name to publish" error={errors.hostname} hint="The full name, such as home.duckdns.org.">
              <input
                id="ddns-hostname"
                className={inputClass}
                disabled={locked}
                value={form.hostname}
                aria-invalid={errors.hostname ? true : undefined}
                onChange={(e) => set('hostname', e.target.value)}
              />
            </Field>
          )}
          {form.provider === 'cloudflare' && (
            <Field id="ddns-zone" label="Cloudflare zone" error={errors.zone} hint="Empty: the name's last two labels.">
              <input id="ddns-zone" className={inputClass} disabled={locked} value={form.zone} onChange={(e) => set('zone', e.target.value)} />
            </Field>
          )}
          {needs.map((k) => (
            <Field
              key={`${form.provider}-${k}`}
              id={`ddns-cred-${k}`}
              label={CREDENTIAL_LABELS[k]}
              error={errors[`credentials.${k}`] ?? (k === needs[needs.length - 1] ? errors.credentials : undefined)}
              hint={stored[k] ? 'Stored. Leave empty to keep it.' : undefined}
            >
              <input
                id={`ddns-cred-${k}`}
                type={SECRET_FIELDS.has(k) ? 'password' : 'text'}
                autoComplete="off"
                className={inputClass}
                disabled={locked}
                placeholder={typeof stored[k] === 'string' ? String(stored[k]) : undefined}
                value={form.credentials[k] ?? ''}
                aria-invalid={errors[`credentials.${k}`] ? true : undefined}
                onChange={(e) => setCred(k, e.target.value)}
              />
            </Field>
          ))}
          {form.provider !== 'none' && (
            <label className="mb-4 flex items-center gap-2">
              <input type="checkbox" disabled={locked} checked={form.ipv6} onChange={(e) => set('ipv6', e.target.checked)} />
              Publish the IPv6 address too, where the cell has one
            </label>
          )}
          {view.domain_mode !== 'internal' && (
            <Field
              id="ddns-acme"
              label={`Certificates for ${view.domain}`}
              error={errors.acme_challenge}
              hint="DNS-01 works behind CGNAT or a closed port 80; pic_ngo, Cloudflare and Duck DNS publish the challenge themselves, any other provider through a CNAME delegation."
            >
              <select
                id="ddns-acme"
                className={inputClass}
                disabled={locked}
                value={form.acme}
                onChange={(e) => {
                  const v = e.target.value as AcmeChallenge
                  setForm((f) => ({ ...f, acme: v }))
                  setErrors((x) => ({ ...x, acme_challenge: undefined }))
                }}
              >
                <option value="http">HTTP-01 (port 80 reachable from outside)</option>
                <option value="dns" disabled={!DNS01.has(form.provider) && !form.delegate}>
                  {form.delegate ? 'DNS-01 through the CNAME delegation' : 'DNS-01 through the DDNS provider'}
                </option>
              </select>
            </Field>
          )}
          {view.domain_mode !== 'internal' && (
            <DelegationFields
              form={form}
              errors={errors}
              locked={locked}
              storedSecret={storedSecret}
              onToggle={(on) => {
                setForm((f) => ({ ...f, delegate: on }))
                setErrors((e) => ({ ...e, acme_challenge: undefined }))
              }}
              onChange={setDelegation}
              onSecret={(v) => {
                setForm((f) => ({ ...f, tsigSecret: v }))
                setErrors((e) => ({ ...e, acme_delegation_secret: undefined }))
              }}
            />
          )}
          <Field
            id="ddns-endpoint"
            label="Address devices dial (optional)"
            error={errors.wireguard_endpoint}
            hint="A name or IPv4 address of your own, such as your router's port forward. Empty: the published name."
          >
            <input
              id="ddns-endpoint"
              className={inputClass}
              disabled={locked}
              value={form.endpoint}
              aria-invalid={errors.wireguard_endpoint ? true : undefined}
              onChange={(e) => set('endpoint', e.target.value)}
            />
          </Field>
          <button type="submit" className={buttonPrimary} disabled={locked}>
            Save
          </button>
          <p className="mt-2 text-sm text-slate-700">The provider is asked first: wrong credentials change nothing.</p>
        </form>
      </Card>
      {phase.kind === 'apply' && (
        <Card>
          <RunView
            key={phase.runId}
            runId={phase.runId}
            title="Applying"
            onFinished={(st) => {
              setPhase((p) => (p.kind === 'apply' ? { ...p, status: st } : p))
              onSaved()
            }}
          />
        </Card>
      )}
    </div>
  )
}

function DeviceConfigs({ endpoint }: { endpoint: string }) {
  const peers = useApi(endpoints.peers)
  const [shown, setShown] = useState<PeerConfig | null>(null)
  const [error, setError] = useState<unknown>(null)
  if (peers.loading && !peers.data) return <Loading />
  if (peers.error) return <ErrorNote error={peers.error} />
  const list: Peer[] = peers.data ?? []
  const open = async (name: string) => {
    setError(null)
    try {
      setShown(await endpoints.peerConfig(name))
    } catch (e) {
      setError(e)
    }
  }
  return (
    <Card title="Device configurations">
      <p className="mb-2 text-sm text-slate-700">
        Devices dial {endpoint}. After that changed, give a device its new configuration: it keeps its key, so put its
        own private key into the PrivateKey line.
      </p>
      {error ? <ErrorNote error={error} /> : null}
      {!list.length ? (
        <p className="text-sm text-slate-700">No devices yet.</p>
      ) : (
        <ul className="flex flex-wrap gap-2">
          {list.map((p) => (
            <li key={p.name}>
              <button type="button" className={buttonSecondary} onClick={() => void open(p.name)}>
                New configuration for {p.name}
              </button>
            </li>
          ))}
        </ul>
      )}
      {shown && (
        <div className="mt-4 space-y-2" data-testid="peer-config">
          <QrImage svg={shown.qr_svg} label={`Configuration of ${shown.peer.name}`} />
          <pre className="overflow-x-auto rounded bg-slate-100 p-2 text-xs">{shown.config}</pre>
          <button type="button" className={buttonPrimary} onClick={() => downloadText(`${shown.peer.name}.conf`, shown.config)}>
            Download {shown.peer.name}.conf
          </button>
        </div>
      )}
    </Card>
  )
}

export function ConnectivityPage() {
  const view = useApi(endpoints.ddns)
  return (
    <div className="space-y-4">
      <PageHeader title="Connectivity">
        How the cell is reached from outside: its public name and the address devices dial; and the exits devices may
        leave through.
      </PageHeader>
      {view.loading && !view.data ? (
        <Loading />
      ) : view.error ? (
        <ErrorNote error={view.error} />
      ) : view.data ? (
        <>
          <DdnsStatusCard view={view.data} />
          <DdnsEditor view={view.data} onSaved={view.reload} />
          <DelegationRecords view={view.data} />
          <DeviceConfigs endpoint={view.data.endpoint} />
          <ExitsCard />
        </>
      ) : null}
    </div>
  )
}
