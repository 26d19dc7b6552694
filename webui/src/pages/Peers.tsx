import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link } from 'react-router-dom'
import { endpoints, type NewPeerResponse, type Peer, type PeerChanged } from '../api'
import type { PeerChange } from '../generated/api'
import {
  buttonPrimary,
  buttonSecondary,
  Card,
  ErrorNote,
  FormError,
  Field,
  inputClass,
  Loading,
  PageHeader,
  showRefusal,
  useApi,
} from '../components/ui'
import { ChangeButtons } from '../components/ChangePreview'
import { ConfirmDialog, RunNotice } from '../components/Confirm'
import { useRunStatus } from '../components/RunView'
import { validatePeer, type FieldErrors, type PeerForm } from '../validation'

/** The QR code as the API drew it, shown as an image so no script in the SVG can run. */
export function QrImage({ svg, label }: { svg: string; label: string }) {
  const src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`
  return <img src={src} alt={label} className="h-64 w-64 max-w-full bg-white p-2" data-testid="peer-qr" />
}

export function downloadText(filename: string, text: string) {
  downloadBlob(filename, new Blob([text], { type: 'text/plain' }))
}

/** Saves ``blob`` as a file named ``filename`` (a download the page makes from memory). */
export function downloadBlob(filename: string, blob: Blob) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

type Route = PeerForm['route']

/** Split or full tunnel, as the add and the change forms ask it. */
function RouteChoice({ name, value, onChange }: { name: string; value: Route; onChange: (r: Route) => void }) {
  return (
    <fieldset className="mb-4">
      <legend className="font-medium">Route</legend>
      <label className="mt-1 flex items-start gap-2">
        <input type="radio" name={name} className="mt-1.5" checked={value === 'split'} onChange={() => onChange('split')} />
        <span>
          Split tunnel <span className="block text-sm text-slate-700">Only the cell's own addresses go through the VPN.</span>
        </span>
      </label>
      <label className="mt-1 flex items-start gap-2">
        <input type="radio" name={name} className="mt-1.5" checked={value === 'full'} onChange={() => onChange('full')} />
        <span>
          Full tunnel <span className="block text-sm text-slate-700">All the device's traffic goes through the cell.</span>
        </span>
      </label>
    </fieldset>
  )
}

/** ``canPreview``: an admin's form, which also offers the check-mode run of the add (a member's
 * device is added at once). */
export function AddPeerForm({ existing, onAdded, canPreview = false }: { existing: string[]; onAdded: (r: NewPeerResponse) => void; canPreview?: boolean }) {
  const [form, setForm] = useState<PeerForm>({ name: '', route: 'split', public_key: '' })
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)
  const set = <K extends keyof PeerForm>(k: K, v: PeerForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
  }

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const errs = validatePeer(form, existing)
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      const key = form.public_key.trim()
      const body = { name: form.name, route: form.route, ...(key ? { public_key: key } : {}) }
      if (previewOnly) {
        setPreview((await endpoints.previewAddPeer(body)).run_id)
        return
      }
      const res = await endpoints.addPeer(body)
      setForm({ name: '', route: 'split', public_key: '' })
      setPreview(null)
      onAdded(res)
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
    <form onSubmit={submit} noValidate aria-label="Add a peer">
      <FormError error={formError} />
      <Field id="peer-name" label="Device name" error={errors.name} hint="For example phone or laptop; it becomes the device's name in the cell.">
        <input
          id="peer-name"
          className={inputClass}
          value={form.name}
          autoCapitalize="none"
          autoComplete="off"
          spellCheck={false}
          aria-invalid={errors.name ? true : undefined}
          aria-describedby={['peer-name-hint', errors.name ? 'peer-name-error' : ''].filter(Boolean).join(' ')}
          onChange={(e) => set('name', e.target.value.trim())}
        />
      </Field>
      <RouteChoice name="peer-route" value={form.route} onChange={(r) => set('route', r)} />
      <Field
        id="peer-public_key"
        label="Public key (optional)"
        error={errors.public_key}
        hint="Paste the device's WireGuard public key to keep its private key on the device. Leave empty to let the cell generate a key pair."
      >
        <textarea
          id="peer-public_key"
          rows={2}
          className={`${inputClass} font-mono text-sm`}
          value={form.public_key}
          spellCheck={false}
          aria-invalid={errors.public_key ? true : undefined}
          aria-describedby={['peer-public_key-hint', errors.public_key ? 'peer-public_key-error' : ''].filter(Boolean).join(' ')}
          onChange={(e) => set('public_key', e.target.value)}
        />
      </Field>
      <ChangeButtons label="Add peer" busyLabel="Adding…" busy={busy}
        onPreview={canPreview ? () => void send(true) : undefined} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

export function NewPeerPanel({ result, onClose, title }: { result: NewPeerResponse; onClose: () => void; title?: string }) {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => ref.current?.focus(), [])
  const name = result.peer.name
  // not applied at once: ready when its run has applied it (followed until it ends)
  const runStatus = useRunStatus(result.ready ? null : result.run_id)
  const ready = result.ready || runStatus === 'successful'
  return (
    <Card title={title ?? `Peer ${name} added`}>
      <h3 ref={ref} tabIndex={-1} className="sr-only">
        Configuration for {name}
      </h3>
      <p role="alert" className="mb-4 rounded border border-amber-400 bg-amber-50 p-3 text-amber-950" data-testid="one-time-warning">
        <strong>Save this configuration now.</strong>{' '}
        {result.private_key_included === false
          ? "It has no private key: the device keeps its own, to be filled in where the file says. "
          : "It contains the device's private key, which the cell does not keep. "}
        It will not be shown again. Scan the QR code with the WireGuard app or download the file before closing
        this panel.
      </p>
      <div className="flex flex-col gap-4 sm:flex-row">
        {result.qr_svg ? <QrImage svg={result.qr_svg} label={`QR code of the WireGuard configuration for ${name}`} /> : null}
        <div className="min-w-0 flex-1 space-y-3">
          {result.peer.ip && (
            <p>
              Address in the cell: <span className="font-mono">{result.peer.ip}</span>
            </p>
          )}
          <button type="button" className={buttonPrimary} onClick={() => downloadText(`${name}.conf`, result.config)}>
            Download {name}.conf
          </button>
          <details>
            <summary className="cursor-pointer text-sm font-medium">Show the configuration text</summary>
            <pre className="mt-2 overflow-x-auto rounded bg-slate-900 p-2 font-mono text-xs text-slate-100">{result.config}</pre>
          </details>
          {ready ? (
            <p className="font-medium text-teal-900" data-testid="peer-ready">
              Ready: the device can connect now.
            </p>
          ) : runStatus === 'failed' || runStatus === 'canceled' ? (
            <p role="alert" className="font-medium text-red-800" data-testid="peer-not-ready">
              The cell could not apply the change: the device cannot connect yet. The run says why.
            </p>
          ) : null}
          {result.run_id && (
            <p className="text-sm">
              {result.ready
                ? 'The cell is making it durable: '
                : ready
                  ? 'Applied by its run: '
                  : 'The device can connect when the cell has applied the change: '}
              <Link className="text-teal-800 underline" to={`/runs/${encodeURIComponent(result.run_id)}`}>
                watch run {result.run_id}
              </Link>
              .
            </p>
          )}
          <button type="button" className={buttonSecondary} onClick={onClose}>
            I have saved it — close
          </button>
        </div>
      </div>
    </Card>
  )
}

export function PeerTable({
  peers,
  onDelete,
  onEdit,
}: {
  peers: Peer[]
  onDelete?: (name: string) => void
  onEdit?: (name: string) => void
}) {
  if (!peers.length) return <p className="text-sm text-slate-700">No peers yet.</p>
  return (
    // relative: the table's visually hidden (absolutely placed) labels scroll with it instead of
    // widening the page.
    <div className="relative overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="peers-table">
        <thead>
          <tr className="border-b border-slate-200 text-left">
            <th className="py-1 pr-3">Name</th>
            <th className="py-1 pr-3">Address</th>
            <th className="py-1 pr-3">Route</th>
            <th className="py-1 pr-3">Public key</th>
            {onDelete && (
              <th className="py-1">
                <span className="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {peers.map((p) => (
            <tr key={p.name} className="border-b border-slate-100">
              <td className="whitespace-nowrap py-2 pr-3 font-medium">{p.name}</td>
              <td className="py-2 pr-3 font-mono">{p.ip ?? ''}</td>
              <td className="py-2 pr-3">
                {p.route ?? ''}
                {p.exit ? ` via exit ${p.exit}` : ''}
              </td>
              <td className="py-2 pr-3 font-mono" title={p.public_key}>
                {/* A table cell ignores max-width; a block inside it does not. */}
                <span className="block max-w-[6rem] truncate sm:max-w-[12rem]">{p.public_key ?? ''}</span>
              </td>
              {onDelete && (
                <td className="whitespace-nowrap py-2 text-right">
                  {onEdit && (
                    <button type="button" className="rounded px-2 py-1 text-teal-800 underline hover:bg-teal-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-500" onClick={() => onEdit(p.name)}>
                      Change<span className="sr-only"> {p.name}</span>
                    </button>
                  )}
                  <button type="button" className="rounded px-2 py-1 text-red-800 underline hover:bg-red-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500" onClick={() => onDelete(p.name)}>
                    Delete<span className="sr-only"> {p.name}</span>
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** Where a full-route device's traffic leaves: the cell's own connection or one of the exits. */
function ExitChoice({ exits, value, route, onChange }: { exits: string[]; value: string; route: Route; onChange: (v: string) => void }) {
  return (
    <Field
      id="change-peer-exit"
      label="Exit"
      hint={route === 'full' ? 'Where its traffic leaves; when that exit is down, its traffic stops.' : 'An exit needs the full tunnel.'}
    >
      <select id="change-peer-exit" className={inputClass} value={value} disabled={route !== 'full'} onChange={(e) => onChange(e.target.value)}>
        <ExitOptions exits={exits} />
      </select>
    </Field>
  )
}

/** The choices of a device's exit: the cell's own connection ('') or one of the exits. */
export function ExitOptions({ exits }: { exits: string[] }) {
  return (
    <>
      <option value="">The cell’s own connection</option>
      {exits.map((name) => (
        <option key={name} value={name}>
          Exit {name}
        </option>
      ))}
    </>
  )
}

/** The change request: only what differs; a split route takes the device off its exit. */
export function changeBody(peer: Peer, form: PeerForm, exit: string): PeerChange {
  const want = form.route === 'full' ? exit : ''
  return {
    ...(form.name !== peer.name ? { name: form.name } : {}),
    ...(form.route !== peer.route ? { route: form.route } : {}),
    ...(want !== (peer.exit ?? '') ? { exit: want } : {}),
  }
}

/** A device's new name, route or exit; its keys and address stay, so it keeps its tunnel. */
export function ChangePeerForm({
  peer,
  existing,
  exits,
  onChanged,
  onCancel,
  canPreview = false,
}: {
  peer: Peer
  existing: string[]
  /** the cell's exits (an admin's view); null: no exit choice */
  exits?: string[] | null
  onChanged: (r: PeerChanged, routeChanged: boolean) => void
  onCancel: () => void
  /** an admin's form: it also offers the change's check-mode run */
  canPreview?: boolean
}) {
  const [form, setForm] = useState<PeerForm>({ name: peer.name, route: peer.route ?? 'split', public_key: '' })
  const [exit, setExit] = useState(peer.exit ?? '')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)
  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const errs = validatePeer(form, existing.filter((n) => n !== peer.name))
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    const body = changeBody(peer, form, exit)
    if (!Object.keys(body).length) {
      if (previewOnly) setFormError('Nothing changed: there is nothing to preview.')
      else onCancel()
      return
    }
    setBusy(true)
    try {
      if (previewOnly) setPreview((await endpoints.previewChangePeer(peer.name, body)).run_id)
      else onChanged(await endpoints.changePeer(peer.name, body), 'route' in body)
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
    <form onSubmit={submit} noValidate aria-label={`Change peer ${peer.name}`}>
      <FormError error={formError} />
      <Field id="change-peer-name" label="Device name" error={errors.name}>
        <input
          id="change-peer-name"
          className={inputClass}
          value={form.name}
          autoCapitalize="none"
          autoComplete="off"
          spellCheck={false}
          aria-invalid={errors.name ? true : undefined}
          onChange={(e) => {
            setForm((f) => ({ ...f, name: e.target.value.trim() }))
            setErrors((x) => ({ ...x, name: undefined }))
          }}
        />
      </Field>
      <RouteChoice name="change-peer-route" value={form.route} onChange={(route) => setForm((f) => ({ ...f, route }))} />
      {exits && (exits.length > 0 || peer.exit) ? (
        <ExitChoice exits={exits} value={form.route === 'full' ? exit : ''} route={form.route} onChange={setExit} />
      ) : null}
      {errors.exit && <p className="mb-3 text-sm text-red-800" role="alert">{errors.exit}</p>}
      <p className="mb-3 text-sm text-slate-700">The device keeps its keys and its address in the cell.</p>
      <ChangeButtons label="Save" busyLabel="Saving…" busy={busy}
        onPreview={canPreview ? () => void send(true) : undefined} preview={preview} onClosePreview={() => setPreview(null)}>
        <button type="button" className={buttonSecondary} onClick={onCancel}>
          Cancel
        </button>
      </ChangeButtons>
    </form>
  )
}

/** After a change: ready or not, and for a new route the configuration the device loads (its own key stays). */
export function ChangedPeerPanel({ result, routeChanged, onClose }: { result: PeerChanged; routeChanged: boolean; onClose: () => void }) {
  const name = result.peer.name
  const runStatus = useRunStatus(result.ready ? null : result.run_id)
  const ready = result.ready || runStatus === 'successful'
  return (
    <Card title={`Peer ${name} changed`}>
      <div className="space-y-3" data-testid="peer-changed">
        <p>
          {ready
            ? 'Applied: the device goes on with its keys.'
            : runStatus === 'failed' || runStatus === 'canceled'
              ? 'The cell could not apply the change; the run says why.'
              : 'The change takes effect when its run ends.'}{' '}
          <Link className="text-teal-800 underline" to={`/runs/${encodeURIComponent(result.run_id)}`}>
            watch run {result.run_id}
          </Link>
        </p>
        {routeChanged && (
          <>
            <p>
              The route changed: load this configuration on the device. It has no private key line; the device keeps
              its own, to be filled in where the file says.
            </p>
            <div className="flex flex-col gap-4 sm:flex-row">
              <QrImage svg={result.qr_svg} label={`QR code of the WireGuard configuration for ${name}`} />
              <div className="min-w-0 flex-1 space-y-3">
                <button type="button" className={buttonPrimary} onClick={() => downloadText(`${name}.conf`, result.config)}>
                  Download {name}.conf
                </button>
                <pre className="overflow-x-auto rounded bg-slate-900 p-2 font-mono text-xs text-slate-100">{result.config}</pre>
              </div>
            </div>
          </>
        )}
        <button type="button" className={buttonSecondary} onClick={onClose}>
          Close
        </button>
      </div>
    </Card>
  )
}

export function PeersPage({ admin = false }: { admin?: boolean }) {
  const peers = useApi(endpoints.peers)
  // an admin chooses a device's exit; a member's page does not ask (the exits are the admins')
  const exits = useApi(() => (admin ? endpoints.exits() : Promise.resolve(null)), [admin])
  const [added, setAdded] = useState<{ result: NewPeerResponse; title?: string } | null>(null)
  const [confirm, setConfirm] = useState<string | null>(null)
  const [rekey, setRekey] = useState<string | null>(null)
  const [editing, setEditing] = useState<string | null>(null)
  const [changed, setChanged] = useState<{ result: PeerChanged; routeChanged: boolean } | null>(null)
  const [deleting, setDeleting] = useState(false)
  const [notice, setNotice] = useState<{ text: string; runId?: string } | null>(null)
  const [error, setError] = useState<unknown>(null)

  const doDelete = async () => {
    if (!confirm) return
    setDeleting(true)
    setError(null)
    try {
      const res = await endpoints.deletePeer(confirm)
      setNotice({
        text: res?.ready ? `Peer ${confirm} deleted. It can no longer connect.` : `Peer ${confirm} deleted.`,
        runId: res?.run_id,
      })
      setConfirm(null)
      peers.reload()
    } catch (e) {
      setError(e)
      setConfirm(null)
    } finally {
      setDeleting(false)
    }
  }

  const doRekey = async () => {
    if (!rekey) return
    setDeleting(true)
    setError(null)
    try {
      const result = await endpoints.rekeyPeer(rekey)
      setEditing(null)
      setNotice(null)
      setAdded({ result, title: `New keys for ${rekey}` })
      peers.reload()
    } catch (e) {
      setError(e)
    } finally {
      setRekey(null)
      setDeleting(false)
    }
  }

  return (
    <div className="space-y-4">
      <PageHeader title="Peers">Devices that connect to the cell over WireGuard.</PageHeader>
      {added && <NewPeerPanel result={added.result} title={added.title} onClose={() => setAdded(null)} />}
      {changed && <ChangedPeerPanel {...changed} onClose={() => setChanged(null)} />}
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={error} />
      <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
        <Card title="Peers">
          {peers.loading && !peers.data ? (
            <Loading />
          ) : peers.error ? (
            <ErrorNote error={peers.error} />
          ) : (
            <PeerTable peers={peers.data ?? []} onDelete={setConfirm} onEdit={setEditing} />
          )}
        </Card>
        {editing && (peers.data ?? []).some((p) => p.name === editing) && (
          <Card title={`Change ${editing}`}>
            <ChangePeerForm
              key={editing}
              peer={(peers.data ?? []).find((p) => p.name === editing)!}
              existing={(peers.data ?? []).map((p) => p.name)}
              exits={exits.data ? exits.data.map((e) => e.name) : null}
              canPreview={admin}
              onCancel={() => setEditing(null)}
              onChanged={(result, routeChanged) => {
                setEditing(null)
                setNotice(null)
                setChanged({ result, routeChanged })
                peers.reload()
              }}
            />
            <div className="mt-4 border-t border-slate-200 pt-3">
              <p className="mb-2 text-sm text-slate-700">
                Lost the device, or its configuration got out? New keys make its current configuration useless at once.
              </p>
              <button type="button" className={buttonSecondary} onClick={() => setRekey(editing)}>
                New keys for {editing}…
              </button>
            </div>
          </Card>
        )}
        <Card title="Add a peer">
          <AddPeerForm
            existing={(peers.data ?? []).map((p) => p.name)}
            canPreview={admin}
            onAdded={(r) => {
              setNotice(null)
              setAdded({ result: r })
              peers.reload()
            }}
          />
        </Card>
      </div>
      {rekey && (
        <ConfirmDialog
          title={`New keys for ${rekey}?`}
          confirmLabel="Make new keys"
          busy={deleting}
          onCancel={() => setRekey(null)}
          onConfirm={doRekey}
        >
          The configuration {rekey} has now stops working at once. It keeps its name and address; load the new
          configuration shown next on the device (or on its replacement).
        </ConfirmDialog>
      )}
      {confirm && (
        <ConfirmDialog
          title={`Delete peer ${confirm}?`}
          confirmLabel={`Delete ${confirm}`}
          busy={deleting}
          onCancel={() => setConfirm(null)}
          onConfirm={doDelete}
        >
          The device will no longer be able to connect to the cell. This cannot be undone; to connect it again
          you will add it as a new peer.
        </ConfirmDialog>
      )}
    </div>
  )
}
