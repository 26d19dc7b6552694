// Cell Network: this cell's links to other cells (site-to-site WireGuard), what each side may reach,
// and the three steps of linking: this cell invites (a signed token handed over by hand), the other
// cell joins with it and answers with a token of its own, and this cell completes the link with that
// answer. Each change is a state change and a converge (cell_link, dnsmasq, firewall); the page
// follows the run; each link's tunnel (handshake, transfer) is read again now and then. The API's 400 names the field (token.expires, token.subnets, grants[0], ...).
import { useState, type FormEvent, type ReactNode } from 'react'
import { Link as RouterLink } from 'react-router-dom'
import { endpoints } from '../api'
import { ChangeButtons } from '../components/ChangePreview'
import { ConfirmDialog, useConfirmed, type Notice } from '../components/Confirm'
import { useRunStatus } from '../components/RunView'
import {
  buttonPrimary,
  buttonSecondary,
  Card,
  CopyButton,
  ErrorNote,
  Field,
  FormError,
  inputClass,
  Loading,
  PageHeader,
  showRefusal,
  useLiveApi,
  when,
} from '../components/ui'
import { limits, type LinkList, type LinkService, type LinkView } from '../generated/api'
import { tunnelSummary } from './Exits'
import type { FieldErrors } from '../validation'

export const LINK_SERVICES: readonly LinkService[] = limits.LinkService.enum
export const LINK_SERVICE_LABELS: Record<LinkService, string> = {
  calendar: 'Calendar & contacts',
  files: 'Files (WebDAV)',
  mail: 'Mail',
}
const TOKEN_PREFIX = 'pic-link1.'

/** What a pasted token says about itself, read in the browser before it is sent (the API checks
 * its signature): its kind, the cell it comes from, the services it carries and its expiry. */
export type TokenPreview = { kind: 'invitation' | 'answer'; cell: string; zone: string; services: LinkService[]; expires: number }

export function readToken(text: string): TokenPreview | string {
  const token = text.trim()
  if (!token) return 'Paste the token the other cell’s admin gave you.'
  const parts = token.split('.')
  if (!token.startsWith(TOKEN_PREFIX) || parts.length !== 3)
    return 'This is not a token of cell linking: it starts with pic-link1. and has three parts. Paste it whole.'
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/')
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)))
    if ((json.kind !== 'invitation' && json.kind !== 'answer') || typeof json.cell?.name !== 'string') throw new Error('kind')
    return {
      kind: json.kind,
      cell: json.cell.name,
      zone: String(json.cell.zone ?? ''),
      services: Array.isArray(json.services) ? json.services.filter((s: string) => LINK_SERVICES.includes(s as LinkService)) : [],
      expires: Number(json.expires) || 0,
    }
  } catch {
    return 'The token is damaged: paste it whole, from pic-link1. to its last character.'
  }
}

/** The API names a token's refusal by the payload field (token.expires, token.subnets, ...); the page
 * has one token field, so they are shown there; other fields stay where they are. */
export function joinFieldErrors(fields: Record<string, string>): FieldErrors {
  const out: FieldErrors = {}
  for (const [key, message] of Object.entries(fields)) {
    const field = key === 'token' || key.startsWith('token.') ? 'token' : key.replace(/\[\d+\]$/, '')
    out[field] = out[field] ? `${out[field]} ${message}` : message
  }
  return out
}

/** "in 23 h", "in 12 min", "expired": how long an invitation holds, from the cell's epoch seconds. */
export function expiresIn(epoch: number, nowMs = Date.now()): string {
  const left = epoch - Math.floor(nowMs / 1000)
  if (left <= 0) return 'expired'
  if (left >= 3600) return `in ${Math.floor(left / 3600)} h${left % 3600 >= 60 ? ` ${Math.floor((left % 3600) / 60)} min` : ''}`
  return `in ${Math.max(1, Math.floor(left / 60))} min`
}

export function serviceNames(services: readonly string[] | undefined): string {
  const list = LINK_SERVICES.filter((s) => services?.includes(s))
  return list.length ? list.map((s) => LINK_SERVICE_LABELS[s]).join(', ') : 'nothing'
}

/** The change and how its converge goes: followed until the run ends. */
function RunProgress({ notice }: { notice: Notice }) {
  const status = useRunStatus(notice.runId)
  const failed = status === 'failed' || status === 'canceled'
  const tone = failed ? 'border-red-300 bg-red-50 text-red-900' : 'border-emerald-300 bg-emerald-50 text-emerald-900'
  return (
    <p role="status" data-testid="link-run" className={`rounded border p-2 text-sm ${tone}`}>
      {notice.text}{' '}
      {notice.runId && (
        <>
          {status === 'successful'
            ? 'Applied.'
            : failed
              ? 'The cell could not apply it; the run says why.'
              : 'Applying it now…'}{' '}
          <RouterLink className="underline" to={`/runs/${encodeURIComponent(notice.runId)}`}>
            Watch run {notice.runId}
          </RouterLink>
        </>
      )}
    </p>
  )
}

function ServiceChoice({ id, legend, value, onChange, error }: {
  id: string
  legend: string
  value: LinkService[]
  onChange: (v: LinkService[]) => void
  error?: string
}) {
  return (
    <fieldset className="mb-3" aria-describedby={error ? `${id}-error` : undefined}>
      <legend className="text-sm font-medium">{legend}</legend>
      <div className="flex flex-wrap gap-x-4 gap-y-1">
        {LINK_SERVICES.map((s) => (
          <label key={s} className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={value.includes(s)}
              onChange={(e) => onChange(LINK_SERVICES.filter((x) => (x === s ? e.target.checked : value.includes(x))))}
            />
            {LINK_SERVICE_LABELS[s]}
          </label>
        ))}
      </div>
      {error && <p id={`${id}-error`} className="text-sm font-medium text-red-800">{error}</p>}
    </fieldset>
  )
}

function TokenOut({ label, token, children }: { label: string; token: string; children?: ReactNode }) {
  return (
    <div className="mt-3 rounded border border-teal-300 bg-teal-50 p-3 text-sm" data-testid="token-out">
      <div className="mb-1 flex items-center justify-between gap-2">
        <span className="font-medium">{label}</span>
        <CopyButton text={token} label={`Copy the ${label.toLowerCase()}`} />
      </div>
      <textarea readOnly aria-label={label} className={`${inputClass} h-24 font-mono text-xs break-all`} value={token} onFocus={(e) => e.target.select()} />
      {children}
    </div>
  )
}

function InviteForm({ onDone }: { onDone: () => void }) {
  const [services, setServices] = useState<LinkService[]>(['calendar'])
  const [hours, setHours] = useState('24')
  const [endpoint, setEndpoint] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [made, setMade] = useState<{ token: string; expires: number } | null>(null)

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setFormError(null)
    const h = Number(hours)
    const errs: FieldErrors = { hours: /^\d+$/.test(hours.trim()) && h >= 1 && h <= 168 ? undefined : 'Enter 1 to 168 hours.' }
    setErrors(errs)
    if (errs.hours) return
    setBusy(true)
    try {
      const res = await endpoints.inviteCell({ services, hours: h, ...(endpoint.trim() ? { endpoint: endpoint.trim() } : {}) })
      setMade({ token: res.token, expires: res.expires })
      onDone()
    } catch (e) {
      showRefusal(e, (f) => setErrors(joinFieldErrors(f)), setFormError)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Invite a cell">
      <FormError error={formError} />
      <ServiceChoice id="invite-services" legend="Services of this cell offered to it" value={services} onChange={setServices} error={errors.services} />
      <div className="grid grid-cols-1 gap-x-3 sm:grid-cols-[10rem_1fr]">
        <Field id="invite-hours" label="Valid for (hours)" error={errors.hours}>
          <input id="invite-hours" className={inputClass} inputMode="numeric" value={hours} aria-invalid={Boolean(errors.hours)} onChange={(e) => setHours(e.target.value)} />
        </Field>
        <Field id="invite-endpoint" label="Host it dials (optional)" error={errors.endpoint} hint="Left empty: this cell’s public name or address.">
          <input id="invite-endpoint" className={inputClass} autoComplete="off" placeholder="cell.example.org" value={endpoint} aria-invalid={Boolean(errors.endpoint)} onChange={(e) => setEndpoint(e.target.value)} />
        </Field>
      </div>
      <button type="submit" className={buttonPrimary} disabled={busy}>
        {busy ? 'Making…' : 'Make invitation'}
      </button>
      {made && (
        <TokenOut label="Invitation token" token={made.token}>
          <p className="mt-1">
            Single use, expires {expiresIn(made.expires)} ({new Date(made.expires * 1000).toLocaleString()}). Give it to the
            other cell’s admin; they paste it under “Join a cell” and give you back an answer to paste here.
          </p>
        </TokenOut>
      )}
    </form>
  )
}

function JoinForm({ onDone }: { onDone: (n: Notice) => void }) {
  const [token, setToken] = useState('')
  const [grants, setGrants] = useState<LinkService[]>([])
  const [endpoint, setEndpoint] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [answer, setAnswer] = useState<{ token: string; cell: string } | null>(null)
  const preview = token.trim() ? readToken(token) : null

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setFormError(null)
    const read = readToken(token)
    if (typeof read === 'string') {
      setErrors({ token: read })
      return
    }
    setErrors({})
    setBusy(true)
    try {
      if (read.kind === 'invitation') {
        const res = await endpoints.redeemInvitation({ token: token.trim(), services: grants, ...(endpoint.trim() ? { endpoint: endpoint.trim() } : {}) })
        setAnswer({ token: res.answer, cell: res.link.name })
        onDone({ text: `Linked to cell ${res.link.name}.`, runId: res.run_id })
      } else {
        const res = await endpoints.acceptAnswer({ token: token.trim() })
        setAnswer(null)
        onDone({ text: `Linked to cell ${res.link.name}.`, runId: res.run_id })
      }
      setToken('')
      setGrants([])
    } catch (e) {
      showRefusal(e, (f) => setErrors(joinFieldErrors(f)), setFormError)
    } finally {
      setBusy(false)
    }
  }

  const kind = preview && typeof preview !== 'string' ? preview.kind : null
  return (
    <form onSubmit={submit} noValidate aria-label="Join a cell">
      <FormError error={formError} />
      <Field
        id="join-token"
        label="Token"
        error={errors.token}
        hint={
          preview && typeof preview !== 'string' ? (
            <span data-testid="token-preview">
              {preview.kind === 'invitation'
                ? `An invitation from cell ${preview.cell} (${preview.zone}), offering ${serviceNames(preview.services)}; expires ${expiresIn(preview.expires)}.`
                : `The answer of cell ${preview.cell} (${preview.zone}) to this cell’s invitation: completes the link.`}
            </span>
          ) : (
            'An invitation from another cell, or the answer to one of this cell’s invitations.'
          )
        }
      >
        <textarea
          id="join-token"
          className={`${inputClass} h-20 font-mono text-xs break-all`}
          value={token}
          spellCheck={false}
          autoComplete="off"
          placeholder="pic-link1.…"
          aria-invalid={Boolean(errors.token)}
          onChange={(e) => setToken(e.target.value)}
        />
      </Field>
      {kind === 'invitation' && (
        <>
          <ServiceChoice id="join-services" legend="Services of this cell granted to it" value={grants} onChange={setGrants} error={errors.services} />
          <Field id="join-endpoint" label="Host it dials (optional)" error={errors.endpoint} hint="Left empty: this cell’s public name or address.">
            <input id="join-endpoint" className={inputClass} autoComplete="off" value={endpoint} aria-invalid={Boolean(errors.endpoint)} onChange={(e) => setEndpoint(e.target.value)} />
          </Field>
        </>
      )}
      <button type="submit" className={buttonPrimary} disabled={busy}>
        {busy ? 'Linking…' : kind === 'answer' ? 'Complete link' : 'Join cell'}
      </button>
      {answer && (
        <TokenOut label="Answer token" token={answer.token}>
          <p className="mt-1">Give it back to cell {answer.cell}’s admin: they paste it on their Cell Network page to complete the link.</p>
        </TokenOut>
      )}
    </form>
  )
}

function GrantsForm({ link, onDone }: { link: LinkView; onDone: (n: Notice) => void }) {
  const [grants, setGrants] = useState<LinkService[]>(LINK_SERVICES.filter((s) => link.grants?.includes(s)))
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)
  const current = LINK_SERVICES.filter((s) => link.grants?.includes(s))
  const changed = grants.join() !== current.join()
  const id = `grants-${link.cell_id}`

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    setBusy(true)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewLinkGrants(link.cell_id, { grants })).run_id)
        return
      }
      setPreview(null)
      const res = await endpoints.setLinkGrants(link.cell_id, { grants })
      const revoked = current.filter((s) => !grants.includes(s))
      onDone({
        text: `Cell ${link.name} may now reach ${serviceNames(res.link.grants)}${revoked.length ? `; ${serviceNames(revoked)} closed when the run ends` : ''}.`,
        runId: res.run_id,
      })
    } catch (e) {
      showRefusal(e, (f) => setErrors(joinFieldErrors(f)), setFormError)
    } finally {
      setBusy(false)
    }
  }

  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    void send(false)
  }

  return (
    <form onSubmit={submit} noValidate aria-label={`What ${link.name} may reach`} className="mt-2">
      <FormError error={formError} />
      <ServiceChoice id={id} legend={`Services of this cell ${link.name} may reach`} value={grants} onChange={setGrants} error={errors.grants} />
      <ChangeButtons label="Save access" busyLabel="Saving…" busy={busy} disabled={!changed}
        onPreview={() => void send(true)} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

function LinkCard({ link, onDone, onRemove }: { link: LinkView; onDone: (n: Notice) => void; onRemove: () => void }) {
  return (
    <li className="rounded border border-slate-200 p-3" data-testid={`link-${link.name}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h3 className="font-semibold">
          {link.name} <span className="font-normal text-slate-700">({link.zone})</span>
        </h3>
        <span className={`rounded px-2 py-0.5 text-xs ${link.keys_stored && link.live.up ? 'bg-emerald-100 text-emerald-900' : 'bg-amber-100 text-amber-900'}`}>
          {!link.keys_stored ? 'key missing' : link.live.up ? 'up' : 'down'}
        </span>
      </div>
      <p className="mt-1 break-words text-sm text-slate-800" data-testid="link-live">
        {tunnelSummary(link.live)}
      </p>
      <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
        <dt className="text-slate-700">Subnets</dt>
        <dd className="break-all font-mono">{link.subnets.join(', ')}</dd>
        <dt className="text-slate-700">Its DNS</dt>
        <dd className="font-mono">{link.dns}</dd>
        <dt className="text-slate-700">Endpoint</dt>
        <dd className="break-all font-mono">{link.endpoint}</dd>
        <dt className="text-slate-700">Here</dt>
        <dd className="break-all font-mono">
          {link.interface}, port {link.port}
        </dd>
        <dt className="text-slate-700">It offers</dt>
        <dd>{serviceNames(link.offered)}</dd>
        <dt className="text-slate-700">Linked</dt>
        <dd>{when(link.created)}</dd>
        <dt className="text-slate-700">Last sync</dt>
        <dd data-testid="link-synced">
          {link.peer
            ? `${when(link.peer.synced)} (version ${link.peer.version}; its devices: ${link.peer.devices.length ? link.peer.devices.join(', ') : 'none'})`
            : 'not yet: the other cell sends what it shares after its next run'}
        </dd>
      </dl>
      <GrantsForm key={(link.grants ?? []).join()} link={link} onDone={onDone} />
      <div className="mt-3 border-t border-slate-100 pt-2 text-right">
        <button type="button" className={buttonSecondary} aria-label={`Remove the link to ${link.name}`} onClick={onRemove}>
          Remove link
        </button>
      </div>
    </li>
  )
}

export function CellNetworkPage() {
  const links = useLiveApi(endpoints.cellLinks) // the handshakes change: read again now and then
  const [notice, setNotice] = useState<Notice | null>(null)
  const [error, setError] = useState<unknown>(null)

  const done = (n: Notice) => {
    setNotice(n)
    links.reload()
  }
  const removal = useConfirmed(
    async (link: LinkView): Promise<Notice> => {
      const res = await endpoints.deleteLink(link.cell_id)
      const other = res.other_side.reached
        ? `Cell ${link.name} was told and removes its end too.`
        : `Cell ${link.name} could not be told (${res.other_side.error ?? 'no answer'}): its admin removes its end there.`
      return { text: `The link to cell ${link.name} is removed. ${other}`, runId: res.run_id }
    },
    done,
    setError,
  )

  const withdrawal = useConfirmed(
    async (inv: LinkList['invitations'][number]): Promise<Notice> => {
      await endpoints.cancelInvitation(inv.nonce)
      return { text: `The invitation on port ${inv.port} is withdrawn: its token is refused from now on.` }
    },
    done,
    setError,
  )

  const data = links.data

  return (
    <div className="space-y-4">
      <PageHeader title="Cell Network">
        Links between this cell and other cells: a WireGuard tunnel between the two, each cell’s names resolved on the
        other, and only the services each side grants reachable through it.
      </PageHeader>
      {notice && <RunProgress key={notice.runId ?? notice.text} notice={notice} />}
      <ErrorNote error={error} />
      {links.loading && !data ? (
        <Loading />
      ) : links.error || !data ? (
        <ErrorNote error={links.error} />
      ) : (
        <>
          <Card title="Links">
            {data.links.length ? (
              <ul className="space-y-3">
                {data.links.map((ln) => (
                  <LinkCard key={ln.cell_id} link={ln} onDone={done} onRemove={() => removal.ask(ln)} />
                ))}
              </ul>
            ) : (
              <p className="text-sm text-slate-700">This cell is linked to no other cell yet.</p>
            )}
            <p className="mt-3 break-all text-xs text-slate-700">This cell’s id: <span className="font-mono">{data.cell.id}</span></p>
          </Card>
          {data.invitations.length > 0 && (
            <Card title="Open invitations">
              <ul className="space-y-1 text-sm" data-testid="invitations">
                {data.invitations.map((inv) => (
                  <li key={inv.nonce} className="flex flex-wrap items-center justify-between gap-2">
                    <span>
                      Offering {serviceNames(inv.services)}, port {inv.port}; expires {expiresIn(inv.expires)}
                    </span>
                    <button type="button" className={buttonSecondary} onClick={() => withdrawal.ask(inv)}>
                      Withdraw the invitation on port {inv.port}
                    </button>
                  </li>
                ))}
              </ul>
            </Card>
          )}
          <Card title="Invite a cell">
            <InviteForm onDone={links.reload} />
          </Card>
          <Card title="Join a cell">
            <JoinForm onDone={done} />
          </Card>
        </>
      )}
      {withdrawal.pending && (
        <ConfirmDialog title={`Withdraw the invitation on port ${withdrawal.pending.port}?`} confirmLabel="Withdraw"
          busy={withdrawal.busy} onCancel={() => withdrawal.cancel()} onConfirm={() => void withdrawal.confirm()}>
          Its token is refused from now on. A cell that redeemed it already keeps a link waiting for this cell’s
          acceptance: remove it there.
        </ConfirmDialog>
      )}
      {removal.pending && (
        <ConfirmDialog title={`Remove the link to ${removal.pending.name}?`} confirmLabel="Remove" busy={removal.busy} onCancel={() => removal.cancel()} onConfirm={() => void removal.confirm()}>
          The tunnel to {removal.pending.name} ({removal.pending.zone}) is taken down here and its names no longer resolve. Linking again
          needs a new invitation.
        </ConfirmDialog>
      )}
    </div>
  )
}
