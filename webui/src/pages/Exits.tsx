// Exits: upstreams a chosen device's traffic leaves the cell through instead of the cell's own
// uplink (a device chooses its exit on the Peers page). This slice knows one kind: an upstream
// WireGuard server, added by pasting the provider's wg-quick configuration. Its private and
// preshared keys go to files on the cell and are never shown again.
import { useState, type FormEvent } from 'react'
import { endpoints } from '../api'
import type { ExitLive, ExitView } from '../generated/api'
import { limits } from '../generated/api'
import { RunNotice } from '../components/Confirm'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, FormError, inputClass, Loading, showRefusal, useLiveApi } from '../components/ui'
import { formatSize } from './Containers'
import { handshakeAgo } from './WireGuard'

const NAME_RE = new RegExp(limits.ExitName.pattern)

export interface ExitForm {
  name: string
  config: string
}

/** Client-side checks of the obvious; the API parses the configuration and names each refused key. */
export function validateExit(f: ExitForm, existing: string[]): Record<string, string> {
  const errs: Record<string, string> = {}
  const name = f.name.trim()
  if (!NAME_RE.test(name)) errs.name = 'A lower-case letter, then letters or digits; at most 10 characters.'
  else if (existing.includes(name)) errs.name = 'An exit with this name exists.'
  const text = f.config.toLowerCase()
  if (!f.config.trim()) errs.config = 'Paste the provider’s WireGuard configuration.'
  else if (!text.includes('[interface]') || !text.includes('[peer]'))
    errs.config = 'A WireGuard configuration has an [Interface] and a [Peer] section.'
  return errs
}

/** The refused keys of the configuration ("config.PrivateKey": ...), as lines under the text box. */
export function configErrors(errors: Record<string, string | undefined>): string[] {
  return Object.entries(errors)
    .filter(([k, v]) => v && k.startsWith('config.'))
    .map(([k, v]) => `${k.slice('config.'.length)}: ${v}`)
}

/** How an exit's tunnel runs, in one line: up with its latest handshake and transfer, or down and why. */
export function tunnelSummary(live: ExitLive): string {
  if (live.up)
    return `Tunnel up · last handshake ${handshakeAgo(live.latest_handshake, live.now)} · ↓ ${formatSize(live.rx)} ↑ ${formatSize(live.tx)}`
  const why = live.reason ? `: ${live.reason}` : ''
  return `Tunnel down (${live.unit})${why}`
}

/** Where its devices' DNS goes: the exit's resolver through the tunnel, or the cell's when it names none. */
export function dnsSummary(e: Pick<ExitView, 'dns'>): string {
  return e.dns?.length
    ? `DNS through the exit: ${e.dns[0]}`
    : 'DNS: the cell’s resolver (the exit’s configuration names no DNS server)'
}

export function ExitsCard() {
  const exits = useLiveApi(endpoints.exits) // each exit's tunnel, live
  const [form, setForm] = useState<ExitForm>({ name: '', config: '' })
  const [errors, setErrors] = useState<Record<string, string | undefined>>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [notice, setNotice] = useState<{ text: string; runId?: string } | null>(null)
  const [removeError, setRemoveError] = useState<unknown>(null)
  const list: ExitView[] = exits.data ?? []

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setFormError(null)
    setNotice(null)
    const errs = validateExit(form, list.map((e) => e.name))
    setErrors(errs)
    if (Object.keys(errs).length) return
    setBusy(true)
    try {
      const res = await endpoints.addExit({ name: form.name.trim(), kind: 'wireguard', config: form.config })
      setForm({ name: '', config: '' })
      setNotice({ text: `Exit ${res.exit.name} added; its tunnel comes up when the run ends.`, runId: res.run_id })
      exits.reload()
    } catch (e) {
      showRefusal(e, setErrors, setFormError)
    } finally {
      setBusy(false)
    }
  }

  const remove = async (name: string) => {
    setRemoveError(null)
    setNotice(null)
    try {
      const res = await endpoints.deleteExit(name)
      setNotice({ text: `Exit ${name} removed.`, runId: res.run_id })
      exits.reload()
    } catch (e) {
      setRemoveError(e)
    }
  }

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
                <span className="font-medium">{e.name}</span> — WireGuard to {e.endpoint}, address {e.address}
                <span className="block text-slate-700">
                  {e.devices.length ? `Used by ${e.devices.join(', ')}` : 'Used by no device'}
                  {e.keys_stored ? '' : ' · its key file is missing: add it again'}
                </span>
                <span className="block text-slate-700" data-testid={`exit-dns-${e.name}`}>
                  {dnsSummary(e)}
                </span>
                <span
                  className={`block ${e.live.up ? 'text-green-800' : 'text-red-800'}`}
                  data-testid={`exit-live-${e.name}`}
                >
                  {tunnelSummary(e.live)}
                </span>
              </span>
              <button type="button" className={buttonSecondary} onClick={() => void remove(e.name)}>
                Remove {e.name}
              </button>
            </li>
          ))}
        </ul>
      )}
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
        <Field
          id="exit-config"
          label="WireGuard configuration file"
          error={errors.config}
          hint="Paste the wg-quick file as the provider gives it. Its keys are kept on the cell and never shown again."
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
              setErrors((x) => Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'config' && !k.startsWith('config.'))))
            }}
          />
        </Field>
        {keyErrors.length > 0 && (
          <ul className="mb-3 list-disc pl-5 text-sm text-red-800" role="alert" data-testid="exit-config-errors">
            {keyErrors.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        )}
        <button type="submit" className={buttonPrimary} disabled={busy}>
          {busy ? 'Adding…' : 'Add exit'}
        </button>
      </form>
    </Card>
  )
}
