// Network Services: the cell's DNS records (the admin's, in the cell zone), the LAN's DHCP pool, its
// current leases and the reservations by MAC address; NTP's sources and the hosts it served. Every change is a state change and a converge
// of the DNS/DHCP roles; the API checks each field (its 400 names the field, shown next to it).
import { useState, type FormEvent, type ReactNode } from 'react'
import { Link } from 'react-router-dom'
import { endpoints, type DhcpLease, type DnsRecordType } from '../api'
import { ChangeButtons } from '../components/ChangePreview'
import { ConfirmDialog, RunNotice, useConfirmed, type Notice } from '../components/Confirm'
import { ServiceHealthList } from '../components/ServiceHealthList'
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
  when,
} from '../components/ui'
import { limits } from '../generated/api'
import { normalizeServices } from '../normalize'
import { validateName, type FieldErrors } from '../validation'

const RECORD_TYPES: readonly DnsRecordType[] = limits.DnsRecordType.enum
const RECORD_NAME_RE = new RegExp(limits.DnsRecordName.pattern)
const MAC_RE = new RegExp(limits.MacAddress.pattern)
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
// What each type's value looks like (the API checks it; this is the hint and the placeholder).
const VALUE_HINTS: Record<DnsRecordType, [string, string]> = {
  A: ['An IPv4 address.', '192.168.50.20'],
  AAAA: ['An IPv6 address.', 'fd00::20'],
  CNAME: ['Another name: relative to the zone, or a full name ending in a dot.', 'files'],
  MX: ['Preference, then the mail host.', '10 mail'],
  TXT: ['Text, without line breaks, backslashes or double quotes.', 'v=spf1 mx -all'],
  SRV: ['Priority, weight, port, then the host.', '0 1 5060 sip'],
}

function Rows({ empty, colSpan, children }: { empty: string; colSpan: number; children: ReactNode[] }) {
  if (children.length) return <>{children}</>
  return (
    <tr>
      <td colSpan={colSpan} className="py-2 text-sm text-slate-700">
        {empty}
      </td>
    </tr>
  )
}

function Health() {
  const services = useApi(endpoints.services)
  if (services.loading && !services.data) return <Loading />
  if (services.error) return <ErrorNote error={services.error} />
  const list = (services.data ? normalizeServices(services.data) : []).filter((s) => ['dns', 'dhcp', 'ntp'].includes(s.name))
  if (!list.length)
    return (
      <p className="text-sm text-slate-700">
        Not enabled on this cell. Turn it on in <Link className="text-teal-800 underline" to="/settings">Settings</Link>.
      </p>
    )
  return <ServiceHealthList services={list} />
}

function AddRecordForm({ zone, onAdded }: { zone: string; onAdded: (n: Notice) => void }) {
  const empty = { name: '', type: 'A' as DnsRecordType, value: '' }
  const [form, setForm] = useState(empty)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)
  const [hint, placeholder] = VALUE_HINTS[form.type]

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const name = form.name.trim()
    const value = form.value.trim()
    const errs: FieldErrors = {
      name: !name ? 'Enter a name (@ for the zone itself).' : RECORD_NAME_RE.test(name) ? undefined : `Enter ${limits.DnsRecordName.description}.`,
      value: !value
        ? 'Enter the value.'
        : form.type === 'A' && !IPV4_RE.test(value)
          ? 'Enter an IPv4 address, such as 192.168.50.20.'
          : undefined,
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewAddDnsRecord({ name, type: form.type, value })).run_id)
        return
      }
      const res = await endpoints.addDnsRecord({ name, type: form.type, value })
      setForm(empty)
      setPreview(null)
      onAdded({ text: `${res.record.name} ${res.record.type} added.`, runId: res.run_id })
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

  return (
    <form onSubmit={submit} noValidate aria-label="Add a DNS record" className="mt-4 border-t border-slate-200 pt-3">
      <h3 className="mb-2 font-semibold">Add a record</h3>
      <FormError error={formError} />
      <div className="grid grid-cols-1 gap-x-3 sm:grid-cols-[1fr_auto_2fr]">
        <Field id="record-name" label="Name" error={errors.name} hint={`Under ${zone || 'the zone'}; @ is the zone itself.`}>
          <input
            id="record-name"
            className={inputClass}
            value={form.name}
            autoCapitalize="none"
            autoComplete="off"
            placeholder="printer"
            aria-invalid={Boolean(errors.name)}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </Field>
        <Field id="record-type" label="Type" error={errors.type}>
          <select id="record-type" className={inputClass} value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value as DnsRecordType })}>
            {RECORD_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <Field id="record-value" label="Value" error={errors.value} hint={hint}>
          <input
            id="record-value"
            className={inputClass}
            value={form.value}
            autoCapitalize="none"
            autoComplete="off"
            placeholder={placeholder}
            aria-invalid={Boolean(errors.value)}
            onChange={(e) => setForm({ ...form, value: e.target.value })}
          />
        </Field>
      </div>
      <ChangeButtons label="Add record" busyLabel="Adding…" busy={busy}
        onPreview={() => void send(true)} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

export type ReservationDraft = { name: string; mac: string; ip: string }

function ReservationForm({ draft, onDraft, onAdded }: { draft: ReservationDraft; onDraft: (d: ReservationDraft) => void; onAdded: (n: Notice) => void }) {
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const body = { name: draft.name.trim(), mac: draft.mac.trim().toLowerCase(), ip: draft.ip.trim() }
    const errs: FieldErrors = {
      name: validateName(body.name, 'Give the device a name.') ?? undefined,
      mac: MAC_RE.test(body.mac) ? undefined : 'Enter a MAC address such as 52:54:00:12:34:56.',
      ip: IPV4_RE.test(body.ip) ? undefined : 'Enter an IPv4 address of the LAN.',
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewAddDhcpReservation(body)).run_id)
        return
      }
      const res = await endpoints.addDhcpReservation(body)
      onDraft({ name: '', mac: '', ip: '' })
      setPreview(null)
      onAdded({ text: `${res.reservation.ip} reserved for ${res.reservation.name}.`, runId: res.run_id })
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

  const input = (key: keyof ReservationDraft, label: string, hint: string, placeholder: string) => (
    <Field id={`reservation-${key}`} label={label} error={errors[key]} hint={hint}>
      <input
        id={`reservation-${key}`}
        className={inputClass}
        value={draft[key]}
        autoCapitalize="none"
        autoComplete="off"
        placeholder={placeholder}
        aria-invalid={Boolean(errors[key])}
        onChange={(e) => onDraft({ ...draft, [key]: e.target.value })}
      />
    </Field>
  )

  return (
    <form onSubmit={submit} noValidate aria-label="Reserve an address" className="mt-4 border-t border-slate-200 pt-3">
      <h3 className="mb-2 font-semibold">Reserve an address</h3>
      <FormError error={formError} />
      <div className="grid grid-cols-1 gap-x-3 sm:grid-cols-3">
        {input('name', 'Name', 'Also its name in the zone.', 'printer')}
        {input('mac', 'MAC address', 'The device’s network card.', '52:54:00:12:34:56')}
        {input('ip', 'Address', 'Inside the LAN, not the cell’s own.', '192.168.50.20')}
      </div>
      <ChangeButtons label="Reserve" busyLabel="Reserving…" busy={busy}
        onPreview={() => void send(true)} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

/** "21 s ago", "3 min ago", "2 h ago": how long since a host last asked the cell for the time. */
export function ago(seconds: number | null): string {
  if (seconds === null) return '—'
  if (seconds < 120) return `${seconds} s ago`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86400)} days ago`
}

function Ntp() {
  const ntp = useApi(endpoints.ntp)
  if (ntp.loading && !ntp.data) return <Loading />
  if (ntp.error) return <ErrorNote error={ntp.error} />
  const n = ntp.data
  if (!n) return null
  return (
    <div className="space-y-4">
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="ntp-facts">
        <dt className="font-medium">Service</dt>
        <dd>{n.enabled ? 'on' : 'off (turn it on in Settings)'}</dd>
        <dt className="font-medium">Time from</dt>
        <dd className="break-all">{n.servers.length ? n.servers.join(', ') : 'the cell’s own clock (no upstream servers set)'}</dd>
        <dt className="font-medium">Serves</dt>
        <dd className="break-all">{n.serves.join(', ')}</dd>
      </dl>
      <div>
        <h3 className="mb-1 font-semibold">Hosts it served</h3>
        {n.clients_error && <ErrorNote error={n.clients_error} />}
        <Table columns={['Address', 'Requests', 'Last asked']} className="text-sm">
          <Rows empty="No host has asked for the time since the service started." colSpan={3}>
            {n.clients.map((c) => (
              <tr key={c.address} className="border-t border-slate-100 align-top" data-testid={`ntp-client-${c.address}`}>
                <td className="break-all py-1 pr-3 font-mono">{c.address}</td>
                <td className="py-1 pr-3">{c.ntp_packets}</td>
                <td className="py-1 pr-3">{ago(c.last_seen)}</td>
              </tr>
            ))}
          </Rows>
        </Table>
        <p className="mt-2 text-sm text-slate-700">
          Upstream time servers are in <Link className="underline" to="/settings">Settings</Link>.
        </p>
      </div>
    </div>
  )
}

/** A name for a lease's device that the reservation form accepts (a Label), from its host name. */
function nameOf(lease: DhcpLease): string {
  const n = lease.hostname.toLowerCase().split('.')[0].replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '')
  return n.slice(0, limits.Label.maxLength) || `device-${lease.mac.slice(-5).replace(':', '')}`
}

type Pending = { what: 'record'; id: string; label: string } | { what: 'reservation'; id: string; label: string }

export function NetworkServicesPage() {
  const records = useApi(endpoints.dnsRecords)
  const dhcp = useApi(endpoints.dhcp)
  const [notice, setNotice] = useState<Notice | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [draft, setDraft] = useState<ReservationDraft>({ name: '', mac: '', ip: '' })

  const done = (n: Notice) => {
    setNotice(n)
    records.reload()
    dhcp.reload()
  }
  const removal = useConfirmed(
    async (p: Pending): Promise<Notice> => {
      const res = p.what === 'record' ? await endpoints.deleteDnsRecord(p.id) : await endpoints.deleteDhcpReservation(p.id)
      return { text: `${p.label} deleted.`, runId: res.run_id }
    },
    done,
    setError,
  )

  const zone = records.data?.zone ?? ''
  const d = dhcp.data

  return (
    <div className="space-y-4">
      <PageHeader title="Network Services">DNS, DHCP and time for the cell's LAN and VPN.</PageHeader>
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={error} />
      <Card title="Health">
        <Health />
      </Card>

      <Card title="DNS records">
        <p className="mb-2 text-sm text-slate-700">
          Names you add to the cell's zone{zone ? <> <span className="font-mono">{zone}</span></> : null}, answered for the LAN and the VPN
          beside the cell's own names. Upstream resolvers are in <Link className="underline" to="/settings">Settings</Link>.
        </p>
        {records.loading && !records.data ? (
          <Loading />
        ) : records.error ? (
          <ErrorNote error={records.error} />
        ) : (
          <Table columns={['Name', 'Type', 'Value', '']} className="text-sm">
            <Rows empty="No records added yet." colSpan={4}>
              {(records.data?.records ?? []).map((r) => (
                <tr key={r.id} className="border-t border-slate-100 align-top" data-testid={`record-${r.name}-${r.type}`}>
                  <td className="break-all py-1 pr-3 font-mono">{r.name === '@' ? zone : `${r.name}.${zone}`}</td>
                  <td className="py-1 pr-3">{r.type}</td>
                  <td className="break-all py-1 pr-3 font-mono">{r.value}</td>
                  <td className="py-1 text-right">
                    <button
                      type="button"
                      className={buttonSecondary}
                      aria-label={`Delete ${r.name} ${r.type}`}
                      onClick={() => removal.ask({ what: 'record', id: r.id, label: `${r.name} ${r.type} ${r.value}` })}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </Rows>
          </Table>
        )}
        <AddRecordForm zone={zone} onAdded={done} />
      </Card>

      <Card title="DHCP">
        {dhcp.loading && !d ? (
          <Loading />
        ) : dhcp.error ? (
          <ErrorNote error={dhcp.error} />
        ) : d ? (
          <div className="space-y-4">
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="dhcp-pool">
              <dt className="font-medium">Service</dt>
              <dd>{d.enabled ? 'on' : 'off (turn it on in Settings)'}</dd>
              <dt className="font-medium">LAN</dt>
              <dd className="break-all">
                {d.lan_subnet} (the cell is {d.lan_address})
              </dd>
              <dt className="font-medium">Range</dt>
              <dd className="break-all">
                {d.dhcp_range[0]} – {d.dhcp_range[1]}
              </dd>
              <dt className="font-medium">Lease time</dt>
              <dd>{d.dhcp_lease_time}</dd>
            </dl>

            <div>
              <h3 className="mb-1 font-semibold">Current leases</h3>
              {d.leases_error && <ErrorNote error={d.leases_error} />}
              <Table columns={['Device', 'MAC address', 'Address', 'Until', '']} className="text-sm">
                <Rows empty="No device holds a lease now." colSpan={5}>
                  {d.leases.map((l) => (
                    <tr key={l.mac} className="border-t border-slate-100 align-top" data-testid={`lease-${l.mac}`}>
                      <td className="break-all py-1 pr-3">{l.hostname || '—'}</td>
                      <td className="py-1 pr-3 font-mono">{l.mac}</td>
                      <td className="py-1 pr-3 font-mono">{l.ip}</td>
                      <td className="py-1 pr-3">{when(l.expires)}</td>
                      <td className="py-1 text-right">
                        {l.reserved ? (
                          <span className="text-slate-700">reserved</span>
                        ) : (
                          <button
                            type="button"
                            className={buttonSecondary}
                            aria-label={`Reserve ${l.ip} for ${l.mac}`}
                            onClick={() => setDraft({ name: nameOf(l), mac: l.mac, ip: l.ip })}
                          >
                            Reserve
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </Rows>
              </Table>
            </div>

            <div>
              <h3 className="mb-1 font-semibold">Reservations</h3>
              <Table columns={['Name', 'MAC address', 'Address', '']} className="text-sm">
                <Rows empty="No addresses reserved." colSpan={4}>
                  {d.reservations.map((r) => (
                    <tr key={r.mac} className="border-t border-slate-100 align-top" data-testid={`reservation-${r.name}`}>
                      <td className="break-all py-1 pr-3">{r.name}</td>
                      <td className="py-1 pr-3 font-mono">{r.mac}</td>
                      <td className="py-1 pr-3 font-mono">{r.ip}</td>
                      <td className="py-1 text-right">
                        <button
                          type="button"
                          className={buttonSecondary}
                          aria-label={`Delete the reservation of ${r.name}`}
                          onClick={() => removal.ask({ what: 'reservation', id: r.mac, label: `The reservation of ${r.name}` })}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </Rows>
              </Table>
              <ReservationForm draft={draft} onDraft={setDraft} onAdded={done} />
            </div>
          </div>
        ) : null}
      </Card>
      <Card title="Time (NTP)">
        <Ntp />
      </Card>
      {removal.pending && (
        <ConfirmDialog
          title={`Delete ${removal.pending.label}?`}
          confirmLabel="Delete"
          busy={removal.busy}
          onCancel={() => removal.cancel()}
          onConfirm={() => void removal.confirm()}
        >
          {removal.pending.what === 'record'
            ? 'The name stops answering once the change has been applied.'
            : 'The device gets an address from the pool when it next renews its lease.'}
        </ConfirmDialog>
      )}
    </div>
  )
}
