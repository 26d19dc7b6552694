// Firewall: what the cell opens by itself (its services' ports), and the admin's own openings (a
// port of the cell opened to some zones) and port forwards (a port of the cell sent on to a LAN
// host). Each change is a state change and a converge of the firewall role; the API's 400 names the
// field (a port the cell serves itself, a port taken twice, a target that is no LAN host).
import { useState, type FormEvent } from 'react'
import { endpoints } from '../api'
import { ChangeButtons } from '../components/ChangePreview'
import { ConfirmDialog, RunNotice, useConfirmed, type Notice } from '../components/Confirm'
import {
  buttonSecondary,
  Card,
  ErrorNote,
  Field,
  FormError,
  inputClass,
  Loading,
  PageHeader,
  showRefusal,
  Table,
  useApi,
} from '../components/ui'
import type { FirewallRule, Protocol, Zone } from '../generated/api'
import type { FieldErrors } from '../validation'

type Kind = 'opening' | 'forward'

const ZONES: { zone: Zone; label: string }[] = [
  { zone: 'lan', label: 'LAN' },
  { zone: 'vpn', label: 'VPN' },
  { zone: 'wan', label: 'Internet' },
]
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

export function zoneNames(zones: Zone[]): string {
  return ZONES.filter((z) => zones.includes(z.zone)).map((z) => z.label).join(', ')
}

function portError(text: string): string | undefined {
  const n = Number(text)
  return /^\d+$/.test(text) && n >= 1 && n <= 65535 ? undefined : 'Enter a port from 1 to 65535.'
}

type Draft = { protocol: Protocol; port: string; to: string; to_port: string; zones: Zone[] }
const EMPTY: Draft = { protocol: 'tcp', port: '', to: '', to_port: '', zones: ['lan'] }

function RuleForm({ kind, onAdded }: { kind: Kind; onAdded: (n: Notice) => void }) {
  const [form, setForm] = useState<Draft>(EMPTY)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)
  const forward = kind === 'forward'
  const id = (key: string) => `${kind}-${key}`

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const port = form.port.trim()
    const to = form.to.trim()
    const toPort = form.to_port.trim()
    const errs: FieldErrors = {
      port: portError(port),
      zones: form.zones.length ? undefined : 'Choose at least one zone.',
      ...(forward
        ? { to: IPV4_RE.test(to) ? undefined : 'Enter the LAN host’s address, such as 192.168.50.20.',
            to_port: toPort === '' ? undefined : portError(toPort) }
        : {}),
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      const base = { protocol: form.protocol, port: Number(port), zones: form.zones }
      const forwardBody = { ...base, to, ...(toPort ? { to_port: Number(toPort) } : {}) }
      if (previewOnly) {
        const started = forward ? await endpoints.previewAddPortForward(forwardBody) : await endpoints.previewAddFirewallOpening(base)
        setPreview(started.run_id)
        return
      }
      const res = forward ? await endpoints.addPortForward(forwardBody) : await endpoints.addFirewallOpening(base)
      setForm(EMPTY)
      setPreview(null)
      const r = res.rule
      onAdded({
        text: forward
          ? `${r.protocol} port ${r.port} now goes on to ${r.to}:${r.to_port}.`
          : `${r.protocol} port ${r.port} opened to ${zoneNames(r.zones)}.`,
        runId: res.run_id,
      })
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

  const text = (key: 'port' | 'to' | 'to_port', label: string, hint: string, placeholder: string) => (
    <Field id={id(key)} label={label} error={errors[key]} hint={hint}>
      <input
        id={id(key)}
        className={inputClass}
        value={form[key]}
        inputMode={key === 'to' ? 'decimal' : 'numeric'}
        autoComplete="off"
        placeholder={placeholder}
        aria-invalid={Boolean(errors[key])}
        onChange={(e) => setForm({ ...form, [key]: e.target.value })}
      />
    </Field>
  )

  return (
    <form onSubmit={submit} noValidate aria-label={forward ? 'Add a port forward' : 'Open a port'} className="mt-4 border-t border-slate-200 pt-3">
      <h3 className="mb-2 font-semibold">{forward ? 'Add a port forward' : 'Open a port'}</h3>
      <FormError error={formError} />
      <div className={`grid grid-cols-1 gap-x-3 ${forward ? 'sm:grid-cols-4' : 'sm:grid-cols-[auto_1fr]'}`}>
        <Field id={id('protocol')} label="Protocol" error={errors.protocol}>
          <select id={id('protocol')} className={inputClass} value={form.protocol} onChange={(e) => setForm({ ...form, protocol: e.target.value as Protocol })}>
            <option value="tcp">TCP</option>
            <option value="udp">UDP</option>
          </select>
        </Field>
        {text('port', forward ? 'Port of the cell' : 'Port', forward ? 'Connections to it…' : 'A program of yours listens there.', '8080')}
        {forward && text('to', 'LAN host', '…go on to this host…', '192.168.50.20')}
        {forward && text('to_port', 'Its port', '…on this port (the same if empty).', '80')}
      </div>
      <fieldset className="mb-3" aria-describedby={errors.zones ? id('zones-error') : undefined}>
        <legend className="text-sm font-medium">From</legend>
        <div className="flex flex-wrap gap-4">
          {ZONES.map(({ zone, label }) => (
            <label key={zone} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                checked={form.zones.includes(zone)}
                onChange={(e) =>
                  setForm({ ...form, zones: e.target.checked ? [...form.zones, zone] : form.zones.filter((z) => z !== zone) })
                }
              />
              {label}
            </label>
          ))}
        </div>
        {errors.zones && <p id={id('zones-error')} className="text-sm text-red-800">{errors.zones}</p>}
      </fieldset>
      <ChangeButtons label={forward ? 'Add port forward' : 'Open port'} busyLabel="Saving…" busy={busy}
        onPreview={() => void send(true)} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

function RuleRows({ rules, kind, onDelete }: { rules: FirewallRule[]; kind: Kind; onDelete: (r: FirewallRule) => void }) {
  if (!rules.length)
    return (
      <tr>
        <td colSpan={4} className="py-2 text-sm text-slate-700">
          {kind === 'forward' ? 'No port forwards.' : 'No openings of your own.'}
        </td>
      </tr>
    )
  return (
    <>
      {rules.map((r) => (
        <tr key={r.id} className="border-t border-slate-100 align-top" data-testid={`${kind}-${r.id}`}>
          <td className="py-1 pr-3 font-mono">
            {r.protocol} {r.port}
          </td>
          {kind === 'forward' && <td className="break-all py-1 pr-3 font-mono">{r.to}:{r.to_port}</td>}
          <td className="py-1 pr-3">{zoneNames(r.zones)}</td>
          <td className="py-1 text-right">
            <button type="button" className={buttonSecondary} aria-label={`Remove ${r.protocol} ${r.port}`} onClick={() => onDelete(r)}>
              Remove
            </button>
          </td>
        </tr>
      ))}
    </>
  )
}

export function FirewallPage() {
  const fw = useApi(endpoints.firewall)
  const [notice, setNotice] = useState<Notice | null>(null)
  const [error, setError] = useState<unknown>(null)

  const done = (n: Notice) => {
    setNotice(n)
    fw.reload()
  }
  const removal = useConfirmed(
    async ({ kind, rule }: { kind: Kind; rule: FirewallRule }): Promise<Notice> => {
      const res = kind === 'forward' ? await endpoints.deletePortForward(rule.id) : await endpoints.deleteFirewallOpening(rule.id)
      return { text: `${rule.protocol} port ${rule.port} ${kind === 'forward' ? 'no longer forwarded' : 'closed'}.`, runId: res.run_id }
    },
    done,
    setError,
  )

  const data = fw.data

  return (
    <div className="space-y-4">
      <PageHeader title="Firewall">What reaches the cell and the LAN from the LAN, the VPN and the internet.</PageHeader>
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={error} />
      {fw.loading && !data ? (
        <Loading />
      ) : fw.error || !data ? (
        <ErrorNote error={fw.error} />
      ) : (
        <>
          <Card title="The cell's own ports">
            <p className="mb-2 text-sm text-slate-700">
              Opened by the services the cell runs, to the zones each service is for (DNS and NTP never to the
              internet); no rule of yours can take them.
            </p>
            <ul className="flex flex-wrap gap-2 text-sm" data-testid="cell-ports">
              {data.cell_ports.map((p) => (
                <li key={`${p.protocol}-${p.port}`} className="rounded bg-slate-100 px-2 py-0.5">
                  <span className="font-mono">{p.protocol} {p.port}</span> {p.what}
                </li>
              ))}
            </ul>
          </Card>
          <Card title="Openings">
            <Table columns={['Port', 'From', '']} className="text-sm">
              <RuleRows rules={data.openings} kind="opening" onDelete={(rule) => removal.ask({ kind: 'opening', rule })} />
            </Table>
            <RuleForm kind="opening" onAdded={done} />
          </Card>
          <Card title="Port forwards">
            <Table columns={['Port', 'To', 'From', '']} className="text-sm">
              <RuleRows rules={data.forwards} kind="forward" onDelete={(rule) => removal.ask({ kind: 'forward', rule })} />
            </Table>
            <RuleForm kind="forward" onAdded={done} />
          </Card>
        </>
      )}
      {removal.pending && (
        <ConfirmDialog
          title={removal.pending.kind === 'forward' ? 'Remove this port forward?' : 'Close this port?'}
          confirmLabel={removal.pending.kind === 'forward' ? 'Remove' : 'Close'}
          busy={removal.busy}
          onCancel={() => removal.cancel()}
          onConfirm={() => void removal.confirm()}
        >
          {removal.pending.rule.protocol} port {removal.pending.rule.port} from {zoneNames(removal.pending.rule.zones)}
          {removal.pending.kind === 'forward' ? ` to ${removal.pending.rule.to}:${removal.pending.rule.to_port}` : ''}.
        </ConfirmDialog>
      )}
    </div>
  )
}
