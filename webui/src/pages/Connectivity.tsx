// Connectivity: how the cell is reached from outside. Dynamic DNS (provider, name, credentials and
// what the cell's updater last did, in the provider's own words), the endpoint devices dial, and new
// configurations for existing devices after that endpoint changed (same keys).
import { useEffect, useState, type FormEvent } from 'react'
import { ApiError, endpoints, type Peer, type RunStatus } from '../api'
import type { AcmeChallenge, DdnsChange, DdnsProvider, DdnsView, PeerConfig } from '../generated/api'
import { limits } from '../generated/api'
import { RunView } from '../components/RunView'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, inputClass, Loading, PageHeader, useApi, when } from '../components/ui'
import { validateDomain } from '../validation'
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
}
/** Providers whose TXT records the cell can write for DNS-01 (the API's rule: DNS01_PROVIDERS). */
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
  }
}

/** The request: only what the provider uses; an empty secret keeps the stored one. */
export function formToBody(f: DdnsForm, needs: string[], internal = true): DdnsChange {
  const body: DdnsChange = { provider: f.provider, ipv6: f.ipv6, wireguard_endpoint: f.endpoint.trim() }
  if (!internal) body.acme_challenge = f.acme
  if (f.provider !== 'none' && f.provider !== 'pic_ngo') body.hostname = f.hostname.trim().toLowerCase()
  if (f.provider === 'cloudflare' && f.zone.trim()) body.zone = f.zone.trim().toLowerCase()
  const creds = Object.fromEntries(needs.filter((k) => f.credentials[k]).map((k) => [k, f.credentials[k]]))
  if (Object.keys(creds).length) body.credentials = creds
  return body
}

/** Client-side checks; the API (and the provider it asks) stays the authority. */
export function validateForm(f: DdnsForm, needs: string[], stored: Record<string, unknown>): Record<string, string> {
  const errs: Record<string, string> = {}
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
    const errs = validateForm(form, needs, stored)
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
              hint="DNS-01 works behind CGNAT or a closed port 80; it needs pic_ngo, Cloudflare or Duck DNS."
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
                <option value="dns" disabled={!DNS01.has(form.provider)}>
                  DNS-01 through the DDNS provider
                </option>
              </select>
            </Field>
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
      <PageHeader title="Connectivity">How the cell is reached from outside: its public name and the address devices dial.</PageHeader>
      {view.loading && !view.data ? (
        <Loading />
      ) : view.error ? (
        <ErrorNote error={view.error} />
      ) : view.data ? (
        <>
          <DdnsStatusCard view={view.data} />
          <DdnsEditor view={view.data} onSaved={view.reload} />
          <DeviceConfigs endpoint={view.data.endpoint} />
        </>
      ) : null}
    </div>
  )
}
