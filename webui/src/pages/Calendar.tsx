// The Calendar page: each person's calendars and address books with the address a CalDAV or CardDAV
// app takes, and a form to make one. An admin sees and makes everyone's; a member their own.
import { useState, type FormEvent, type ReactNode } from 'react'
import { endpoints } from '../api'
import type { CalendarCollection, CalendarKind, CalendarList } from '../generated/api'
import { limits } from '../generated/api'
import { buttonPrimary, buttonSecondary, Card, CopyButton, ErrorNote, Field, FormError, inputClass, Loading, NotAvailable, PageHeader, showRefusal, useApi } from '../components/ui'
import type { FieldErrors } from '../validation'

const NAME_RE = new RegExp(limits.Label.pattern)
const KIND_LABELS: Record<CalendarKind, string> = { calendar: 'Calendar (CalDAV)', addressbook: 'Address book (CardDAV)' }

/** A name for the collection's address from what people call it: "Family Trips" → "family-trips". */
export function slugFor(displayname: string): string {
  return displayname
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 32)
    .replace(/-+$/, '')
}

function Collection({ c }: { c: CalendarCollection }) {
  return (
    <li className="flex flex-wrap items-center gap-2 border-b border-slate-100 py-2" data-testid={`collection-${c.name}`}>
      {c.color && <span aria-hidden className="inline-block h-3 w-3 rounded-full" style={{ background: c.color }} />}
      <span className="font-medium">{c.displayname || c.name}</span>
      <span className="text-xs text-slate-700">{c.kind === 'calendar' ? 'calendar' : 'address book'}</span>
      {c.description && <span className="text-sm text-slate-700">{c.description}</span>}
      <code className="w-full break-all text-sm sm:w-auto">{c.url}</code>
      <CopyButton text={c.url} label={`Copy the address of ${c.displayname || c.name}`} />
    </li>
  )
}

function CreateForm({ people, admin, onMade }: { people: string[]; admin: boolean; onMade: () => void }) {
  const [owner, setOwner] = useState(people[0] ?? '')
  const [displayname, setDisplayname] = useState('')
  const [name, setName] = useState('')
  const [named, setNamed] = useState(false) // the address's name typed rather than derived
  const [kind, setKind] = useState<CalendarKind>('calendar')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [message, setMessage] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [made, setMade] = useState<string | null>(null)

  async function submit(e: FormEvent) {
    e.preventDefault()
    const errs: FieldErrors = {
      displayname: displayname.trim() ? undefined : 'Enter the name your apps show.',
      name: NAME_RE.test(name) ? undefined : `Enter ${limits.Label.description}.`,
    }
    setErrors(errs)
    setMessage(null)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      const c = await endpoints.createCalendar({ ...(admin ? { owner } : {}), name, displayname: displayname.trim(), kind })
      setMade(c.url)
      setDisplayname('')
      setName('')
      setNamed(false)
      onMade()
    } catch (err) {
      showRefusal(err, setErrors, setMessage)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Make a calendar or address book">
      <FormError error={message} />
      {made && <p className="mb-3 text-sm" role="status">Made: <code className="break-all">{made}</code></p>}
      <div className="grid grid-cols-1 gap-x-3 sm:grid-cols-2">
        {admin && (
          <Field id="cal-owner" label="Whose" error={errors.owner}>
            <select id="cal-owner" className={inputClass} value={owner} onChange={(e) => setOwner(e.target.value)}>
              {people.map((p) => (
                <option key={p} value={p}>{p}</option>
              ))}
            </select>
          </Field>
        )}
        <Field id="cal-kind" label="Kind" error={errors.kind}>
          <select id="cal-kind" className={inputClass} value={kind} onChange={(e) => setKind(e.target.value as CalendarKind)}>
            {(Object.keys(KIND_LABELS) as CalendarKind[]).map((k) => (
              <option key={k} value={k}>{KIND_LABELS[k]}</option>
            ))}
          </select>
        </Field>
        <Field id="cal-displayname" label="Name" error={errors.displayname}>
          <input
            id="cal-displayname"
            className={inputClass}
            value={displayname}
            maxLength={limits.CalendarName.maxLength}
            aria-invalid={errors.displayname ? true : undefined}
            onChange={(e) => {
              setDisplayname(e.target.value)
              if (!named) setName(slugFor(e.target.value))
            }}
          />
        </Field>
        <Field id="cal-name" label="In its address" error={errors.name} hint="The last part of its address: lower-case letters, digits and -">
          <input
            id="cal-name"
            className={inputClass}
            value={name}
            aria-invalid={errors.name ? true : undefined}
            onChange={(e) => {
              setName(e.target.value.trim())
              setNamed(true)
            }}
          />
        </Field>
      </div>
      <button type="submit" className={buttonPrimary} disabled={busy || (admin && !owner)}>
        {busy ? 'Making…' : 'Make it'}
      </button>
    </form>
  )
}

function Person({ user, url, children }: { user: string; url: string; children: ReactNode }) {
  return (
    <Card title={user}>
      <p className="mb-2 text-sm text-slate-700">
        Apps that find calendars themselves take <code className="break-all">{url}</code> <CopyButton text={url} label={`Copy the address of ${user}`} />
      </p>
      {children}
    </Card>
  )
}

export function CalendarView({ data, admin, reload }: { data: CalendarList; admin: boolean; reload: () => void }) {
  if (!data.enabled) return <NotAvailable>The calendar service is not enabled on this cell; an admin turns it on in Settings.</NotAvailable>
  if (!data.people.length) {
    return <NotAvailable>{admin ? 'Nobody has the calendar service yet; give it on the Users page.' : 'You have no calendar service; an admin gives it on the Users page.'}</NotAvailable>
  }
  return (
    <div className="space-y-4">
      {data.error && <ErrorNote error={new Error(data.error)} />}
      {data.people.map((p) => (
        <Person key={p.user} user={p.user} url={p.url}>
          {p.collections.length ? (
            <ul data-testid={`collections-${p.user}`}>
              {p.collections.map((c) => (
                <Collection key={c.name} c={c} />
              ))}
            </ul>
          ) : (
            <p className="text-sm text-slate-700">No calendars or address books yet.</p>
          )}
        </Person>
      ))}
      <Card title="Make a calendar or address book">
        <CreateForm people={data.people.map((p) => p.user)} admin={admin} onMade={reload} />
      </Card>
    </div>
  )
}

export function CalendarPage({ admin = false, health }: { admin?: boolean; health?: ReactNode }) {
  const list = useApi(endpoints.calendars)
  return (
    <div className="space-y-4">
      <PageHeader title="Calendar">
        {admin ? "Everyone's calendars and address books (CalDAV and CardDAV)." : 'Your calendars and address books (CalDAV and CardDAV).'}
      </PageHeader>
      {health && <Card title="Health">{health}</Card>}
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorNote error={list.error} />
      ) : (
        list.data && <CalendarView data={list.data} admin={admin} reload={list.reload} />
      )}
      <div>
        <button type="button" className={buttonSecondary} onClick={list.reload}>Refresh</button>
      </div>
    </div>
  )
}
