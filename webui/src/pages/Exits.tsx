// Exits: upstreams a chosen device's traffic leaves the cell through instead of the cell's own
// uplink (a device chooses its exit on the Peers page). Three kinds: an upstream WireGuard server,
// added by pasting the provider's wg-quick configuration; an upstream OpenVPN server, added by
// uploading (or pasting) the provider's .ovpn with its username and password; and Tor, the cell's
// own tor as a transparent proxy (a name only: nothing to upload, one per cell). Keys and
// credentials go to files on the cell and are never shown again.
import { useState, type ChangeEvent, type FormEvent } from 'react'
import { endpoints } from '../api'
import type { ExitKind, ExitLive, ExitPublicAddress, ExitRequest, ExitView } from '../generated/api'
import { limits } from '../generated/api'
import { ChangeButtons, ChangePreview } from '../components/ChangePreview'
import { RunNotice } from '../components/Confirm'
import { buttonSecondary, Card, ErrorNote, Field, FormError, inputClass, Loading, showRefusal, useLiveApi } from '../components/ui'
import { formatSize } from './Containers'
import { handshakeAgo } from './WireGuard'

const NAME_RE = new RegExp(limits.ExitName.pattern)
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const KIND_LABEL: Record<ExitKind, string> = { wireguard: 'WireGuard', openvpn: 'OpenVPN', tor: 'Tor' }
const CONFIG_LABEL: Record<ExitKind, string> = {
  wireguard: 'WireGuard configuration file',
  openvpn: 'OpenVPN configuration file (.ovpn)',
  tor: '', // a Tor exit has no file
}

export interface ExitForm {
  name: string
  config: string
  kind?: ExitKind // wireguard when left out
  username?: string // openvpn: what auth-user-pass sends
  password?: string
  dns?: string // openvpn: a resolver of the admin's choice instead of the one the server pushes
}

/** Whether a .ovpn asks for a username and password it does not hold itself. */
export function asksForPassword(config: string): boolean {
  return /^\s*auth-user-pass\s*$/m.test(config) && !/^\s*<auth-user-pass>/m.test(config)
}

/** Client-side checks of the obvious; the API parses the configuration and names each refused key.
 * ``torExit``: the cell's Tor exit, if it has one (a cell has one at most). */
export function validateExit(f: ExitForm, existing: string[], torExit?: string): Record<string, string> {
  const errs: Record<string, string> = {}
  const name = f.name.trim()
  if (!NAME_RE.test(name)) errs.name = 'A lower-case letter, then letters or digits; at most 10 characters.'
  else if (existing.includes(name)) errs.name = 'An exit with this name exists.'
  if (f.kind === 'tor') {
    if (torExit) errs.kind = `The cell has a Tor exit already (${torExit}).`
    return errs
  }
  const text = f.config.toLowerCase()
  if ((f.kind ?? 'wireguard') === 'wireguard') {
    if (!f.config.trim()) errs.config = 'Paste the provider’s WireGuard configuration.'
    else if (!text.includes('[interface]') || !text.includes('[peer]'))
      errs.config = 'A WireGuard configuration has an [Interface] and a [Peer] section.'
    return errs
  }
  if (!f.config.trim()) errs.config = 'Upload or paste the provider’s .ovpn file.'
  else if (!/^\s*remote\s/m.test(text)) errs.config = 'An OpenVPN configuration names its server with remote.'
  if (asksForPassword(f.config)) {
    if (!f.username?.trim()) errs.username = 'The server asks for a username (auth-user-pass).'
    if (!f.password) errs.password = 'The server asks for a password (auth-user-pass).'
  }
  if (f.dns?.trim() && !IPV4_RE.test(f.dns.trim())) errs.dns = 'An IPv4 address, or empty for the server’s.'
  return errs
}

/** The request for the API: only what the kind takes. */
export function exitBody(f: ExitForm): ExitRequest {
  const kind = f.kind ?? 'wireguard'
  if (kind === 'tor') return { name: f.name.trim(), kind }
  const body: ExitRequest = { name: f.name.trim(), kind, config: f.config }
  if (kind === 'openvpn') {
    if (f.username?.trim()) body.username = f.username.trim()
    if (f.password) body.password = f.password
    if (f.dns?.trim()) body.dns = [f.dns.trim()]
  }
  return body
}

/** The refused keys of the configuration ("config.PrivateKey": ...), as lines under the text box. */
export function configErrors(errors: Record<string, string | undefined>): string[] {
  return Object.entries(errors)
    .filter(([k, v]) => v && k.startsWith('config.'))
    .map(([k, v]) => `${k.slice('config.'.length)}: ${v}`)
}

/** What the internet sees through an exit, in one line: the address the cell's address source saw,
 * or why it could not be told. */
export function addressSummary(a: ExitPublicAddress): string {
  if (a.address) return `Seen from the internet as ${a.address} (asked ${a.source})`
  return `The address could not be told: ${a.reason ?? 'no answer'}`
}

/** How an exit's tunnel runs, in one line: up with its latest handshake and transfer (openvpn: connected
 * with its tunnel address), or down and why. */
export function tunnelSummary(live: ExitLive, kind: ExitKind = 'wireguard'): string {
  if (kind === 'tor') {
    if (live.up) return 'tor is running'
    return `tor is not running (${live.unit}): its devices’ traffic is dropped${live.reason ? ` · ${live.reason}` : ''}`
  }
  if (kind === 'openvpn') {
    if (live.up) return `Connected · address ${live.address ?? ''} · ↓ ${formatSize(live.rx)} ↑ ${formatSize(live.tx)}`
    return `Not connected (${live.unit})${live.reason ? `: ${live.reason}` : ''}`
  }
  if (live.up)
    return `Tunnel up · last handshake ${handshakeAgo(live.latest_handshake, live.now)} · ↓ ${formatSize(live.rx)} ↑ ${formatSize(live.tx)}`
  const why = live.reason ? `: ${live.reason}` : ''
  return `Tunnel down (${live.unit})${why}`
}

/** Where its devices' DNS goes: the exit's resolver through the tunnel, or the cell's when it names none
 * (an OpenVPN exit: the resolver its server pushes). */
export function dnsSummary(e: Pick<ExitView, 'dns'> & { kind?: ExitKind }): string {
  if (e.kind === 'tor') return 'DNS through Tor (tor’s DNSPort on the cell); other UDP, ICMP and IPv6 are dropped'
  if (e.dns?.length) return `DNS through the exit: ${e.dns[0]}`
  return e.kind === 'openvpn'
    ? 'DNS through the exit: the resolver its server pushes (none pushed: DNS is dropped)'
    : 'DNS: the cell’s resolver (the exit’s configuration names no DNS server)'
}

/** What the list says of an exit after its name. */
export function exitDescription(e: ExitView): string {
  if (e.kind === 'openvpn') return `OpenVPN to ${e.endpoint} (${e.proto ?? 'udp'})`
  if (e.kind === 'tor') return 'Tor, through the cell’s own tor (TCP and DNS only)'

  return `WireGuard to ${e.endpoint}, address ${e.address ?? ''}`
}

const EMPTY: ExitForm = { name: '', config: '', kind: 'wireguard', username: '', password: '', dns: '' }

export function ExitsCard() {
  const exits = useLiveApi(endpoints.exits) // each exit's tunnel, live
  const [form, setForm] = useState<ExitForm>(EMPTY)
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [notice, setNotice] = useState<{ text: string; runId?: string } | null>(null)
  const [removeError, setRemoveError] = useState<unknown>(null)
  // the check-mode runs of an add (under the form) and of a removal (under the list): nothing is changed
  const [preview, setPreview] = useState<string | null>(null)
  const [removePreview, setRemovePreview] = useState<string | null>(null)
  // each exit's address as the internet sees it, asked when the admin checks (it sends a request out)
  const [seen, setSeen] = useState<Record<string, { busy: boolean; text?: string; ok?: boolean }>>({})
  const list: ExitView[] = exits.data ?? []

  const check = async (name: string) => {
    setSeen((s) => ({ ...s, [name]: { busy: true } }))
    try {
      const a = await endpoints.exitAddress(name)
      setSeen((s) => ({ ...s, [name]: { busy: false, text: addressSummary(a), ok: Boolean(a.address) } }))
    } catch (e) {
      setSeen((s) => ({ ...s, [name]: { busy: false, text: `The address could not be told: ${e instanceof Error ? e.message : String(e)}`, ok: false } }))
    }
  }

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    setNotice(null)
    const errs = validateExit(form, list.map((e) => e.name), list.find((e) => e.kind === 'tor')?.name)
    setErrors(errs)
    if (Object.keys(errs).length) return
    setBusy(true)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewAddExit(exitBody(form))).run_id)
        return
      }
      const res = await endpoints.addExit(exitBody(form))
      setPreview(null)
      setForm({ ...EMPTY, kind: form.kind })
      setNotice({ text: `Exit ${res.exit.name} added; its tunnel comes up when the run ends.`, runId: res.run_id })
      exits.reload()
    } catch (e) {
      showRefusal(e, setErrors, setFormError)
    } finally {
      setBusy(false)
    }
  }

  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    void send(false)
  }

  const remove = async (name: string, previewOnly = false) => {
    setRemoveError(null)
    setNotice(null)
    try {
      if (previewOnly) {
        setRemovePreview((await endpoints.previewDeleteExit(name)).run_id)
        return
      }
      const res = await endpoints.deleteExit(name)
      setRemovePreview(null)
      setNotice({ text: `Exit ${name} removed.`, runId: res.run_id })
      exits.reload()
    } catch (e) {
      setRemoveError(e)
    }
  }

  const clearConfigErrors = () =>
    setErrors((x) => Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'config' && !k.startsWith('config.'))))
  // a file chosen is read here and shown in the text box: what is sent is what the admin sees
  const upload = async (ev: ChangeEvent<HTMLInputElement>) => {
    const file = ev.target.files?.[0]
    if (!file) return
    const text = await new Promise<string>((resolve, reject) => {
      const reader = new FileReader()
      reader.onload = () => resolve(String(reader.result ?? ''))
      reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'))
      reader.readAsText(file)
    })
    setForm((f) => ({ ...f, config: text }))
    clearConfigErrors()
  }
  const set = (key: keyof ExitForm) => (ev: ChangeEvent<HTMLInputElement>) => {
    const value = ev.target.value
    setForm((f) => ({ ...f, [key]: value }))
    setErrors((x) => ({ ...x, [key]: undefined }))
  }

  const kind = form.kind ?? 'wireguard'
  const keyErrors = configErrors(errors)
  return (
    <Card title="Exits">
      <p className="mb-3 text-sm text-slate-700">
        A device with an exit sends its traffic out through that upstream instead of the cell’s own internet
        connection; when the exit is down, its traffic stops rather than going out the cell’s connection. Choose a
        device’s exit on the Peers page (it needs the full route).
      </p>
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={removeError} />
      {exits.loading && !exits.data ? (
        <Loading />
      ) : exits.error ? (
        <ErrorNote error={exits.error} />
      ) : !list.length ? (
        <p className="text-sm text-slate-700">No exits yet: every device uses the cell’s own connection.</p>
      ) : (
        <ul className="mb-4 divide-y" data-testid="exit-list">
          {list.map((e) => (
            <li key={e.name} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
              <span>
                <span className="font-medium">{e.name}</span> — {exitDescription(e)}
                <span className="block text-slate-700">
                  {e.devices.length ? `Used by ${e.devices.join(', ')}` : 'Used by no device'}
                  {e.keys_stored ? '' : ` · ${e.kind === 'openvpn' ? 'a credential file' : 'its key file'} is missing: add it again`}
                </span>
                <span className="block text-slate-700" data-testid={`exit-dns-${e.name}`}>
                  {dnsSummary(e)}
                </span>
                <span
                  className={`block ${e.live.up ? 'text-green-800' : 'text-red-800'}`}
                  data-testid={`exit-live-${e.name}`}
                >
                  {tunnelSummary(e.live, e.kind)}
                </span>
                {seen[e.name]?.text && (
                  <span
                    className={`block ${seen[e.name].ok ? 'text-green-800' : 'text-red-800'}`}
                    data-testid={`exit-address-${e.name}`}
                  >
                    {seen[e.name].text}
                  </span>
                )}
              </span>
              <span className="flex flex-wrap gap-2">
                {e.kind !== 'tor' && (
                  <button
                    type="button"
                    className={buttonSecondary}
                    disabled={seen[e.name]?.busy}
                    onClick={() => void check(e.name)}
                  >
                    {seen[e.name]?.busy ? 'Checking…' : `Check ${e.name}’s address`}
                  </button>
                )}
                <button type="button" className={buttonSecondary} onClick={() => void remove(e.name, true)}>
                  Preview removing {e.name}
                </button>
                <button type="button" className={buttonSecondary} onClick={() => void remove(e.name)}>
                  Remove {e.name}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {removePreview && <ChangePreview runId={removePreview} onClose={() => setRemovePreview(null)} />}
      <form onSubmit={submit} noValidate aria-label="Add an exit">
        <FormError error={formError} />
        <Field id="exit-name" label="Exit name" error={errors.name} hint="Such as vpnhome: a-z and 0-9, at most 10.">
          <input
            id="exit-name"
            className={inputClass}
            value={form.name}
            autoCapitalize="none"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={errors.name ? true : undefined}
            onChange={(e) => {
              setForm((f) => ({ ...f, name: e.target.value }))
              setErrors((x) => ({ ...x, name: undefined }))
            }}
          />
        </Field>
        <Field id="exit-kind" label="Kind" error={errors.kind}
          hint="The kind of server the provider gave you, or Tor (the cell’s own; nothing to upload).">
          <select
            id="exit-kind"
            className={inputClass}
            value={kind}
            onChange={(e) => {
              setForm((f) => ({ ...f, kind: e.target.value as ExitKind }))
              setErrors({})
            }}
          >
            {limits.ExitKind.enum.map((k) => (
              <option key={k} value={k}>
                {KIND_LABEL[k as ExitKind]}
              </option>
            ))}
          </select>
        </Field>
        {kind === 'tor' ? (
          <p className="mb-3 text-sm text-slate-700" data-testid="exit-tor-hint">
            Its devices’ TCP connections and DNS go through tor on the cell; everything else they send (other UDP,
            ICMP, IPv6) is dropped, and while tor is down their traffic stops.
          </p>
        ) : (
        <>
        <Field id="exit-file" label="Upload the file" hint="Or paste it below.">
          <input
            id="exit-file"
            type="file"
            accept={kind === 'openvpn' ? '.ovpn,.conf,text/plain' : '.conf,text/plain'}
            className="block text-sm"
            onChange={(e) => void upload(e)}
          />
        </Field>
        <Field
          id="exit-config"
          label={CONFIG_LABEL[kind]}
          error={errors.config}
          hint={
            kind === 'openvpn'
              ? 'The .ovpn as the provider gives it, with its certificates and keys inline (<ca>, <cert>, <key>, <tls-crypt>). Directives that run programs or change routes are refused. Its credentials are kept on the cell and never shown again.'
              : 'Paste the wg-quick file as the provider gives it. Its keys are kept on the cell and never shown again.'
          }
        >
          <textarea
            id="exit-config"
            className={`${inputClass} font-mono text-xs`}
            rows={10}
            spellCheck={false}
            value={form.config}
            aria-invalid={errors.config || keyErrors.length ? true : undefined}
            onChange={(e) => {
              setForm((f) => ({ ...f, config: e.target.value }))
              clearConfigErrors()
            }}
          />
        </Field>
        </>
        )}
        {kind === 'openvpn' && (
          <>
            <Field id="exit-username" label="Username" error={errors.username} hint="When the server asks for one (auth-user-pass).">
              <input id="exit-username" className={inputClass} value={form.username} autoComplete="off"
                autoCapitalize="none" spellCheck={false} aria-invalid={errors.username ? true : undefined}
                onChange={set('username')} />
            </Field>
            <Field id="exit-password" label="Password" error={errors.password}>
              <input id="exit-password" type="password" className={inputClass} value={form.password}
                autoComplete="new-password" aria-invalid={errors.password ? true : undefined} onChange={set('password')} />
            </Field>
            <Field id="exit-dns" label="DNS server (optional)" error={errors.dns ?? errors['dns[0]']}
              hint="Leave empty to use the resolver the server pushes; its devices’ DNS goes there through the tunnel.">
              <input id="exit-dns" className={inputClass} value={form.dns} autoComplete="off" spellCheck={false}
                aria-invalid={errors.dns ? true : undefined} onChange={set('dns')} />
            </Field>
          </>
        )}
        {keyErrors.length > 0 && (
          <ul className="mb-3 list-disc pl-5 text-sm text-red-800" role="alert" data-testid="exit-config-errors">
            {keyErrors.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        )}
        <ChangeButtons label="Add exit" busyLabel="Adding…" busy={busy} onPreview={() => void send(true)}
          preview={preview} onClosePreview={() => setPreview(null)} />
      </form>
    </Card>
  )
}
