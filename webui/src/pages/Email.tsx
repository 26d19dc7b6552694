// The Email page (admins): the mail service's health and its webmail, every person's address with
// their aliases and who takes the catch-all (GET /api/users), the DNS records to publish for the mail
// domain and Postfix's queue (GET /api/mail). Nothing here is state of its own: addresses are
// changed on the Users page.
import { useEffect, useState, type ReactNode } from 'react'
import { Link } from 'react-router-dom'
import { endpoints } from '../api'
import type { MailQueued, MailRecord, MailView, User } from '../generated/api'
import { Card, CopyButton, ErrorNote, Loading, PageHeader, Table, useApi } from '../components/ui'
import { handshakeAgo } from './WireGuard'

/** What the record is for, as the admin's DNS provider asks for it. */
function purpose(r: MailRecord): string {
  if (r.type === 'MX') return 'MX (where mail is delivered)'
  if (r.value.startsWith('v=spf1')) return 'TXT (SPF: who may send)'
  if (r.value.startsWith('v=DKIM1')) return 'TXT (DKIM: the signing key)'
  if (r.value.startsWith('v=DMARC1')) return 'TXT (DMARC: the policy)'
  return r.type
}

/** How long a message has waited ("3 hours ago"), from its arrival time. */
export function queuedAge(arrival: string | null, now: number): string {
  const t = arrival ? Date.parse(arrival) : NaN
  return Number.isNaN(t) ? 'unknown' : handshakeAgo(Math.floor(t / 1000), now)
}

function Addresses({ users, domain }: { users: User[]; domain: string }) {
  const mailUsers = users.filter((u) => (u.services ?? []).includes('mail'))
  const catchAll = mailUsers.find((u) => u.mail_catch_all)
  if (!mailUsers.length)
    return <p className="text-sm text-slate-700">Nobody has the mail service yet. Give it to someone on the <Link className="text-teal-800 underline" to="/users">Users</Link> page.</p>
  return (
    <div className="space-y-2">
      <Table columns={['Person', 'Address', 'Aliases']} className="text-sm">
        {mailUsers.map((u) => (
          <tr key={u.name} className="border-t border-slate-100 align-top" data-testid={`mailbox-${u.name}`}>
            <td className="py-1 pr-3">{u.name}</td>
            <td className="break-all py-1 pr-3 font-mono">{`${u.name}@${domain}`}</td>
            <td className="break-all py-1 font-mono">
              {u.mail_aliases?.length ? u.mail_aliases.map((a) => `${a}@${domain}`).join(', ') : <span className="font-sans text-slate-700">none</span>}
              {u.mail_catch_all && <span className="ml-2 rounded bg-teal-50 px-1 font-sans text-xs text-teal-900">catch-all</span>}
            </td>
          </tr>
        ))}
      </Table>
      <p className="text-sm text-slate-700" data-testid="catch-all">
        {catchAll
          ? `Mail to any other address at ${domain} goes to ${catchAll.name}.`
          : `Mail to an address at ${domain} that nobody has is refused (no catch-all).`}{' '}
        Aliases and the catch-all are set on the <Link className="text-teal-800 underline" to="/users">Users</Link> page.
      </p>
    </div>
  )
}

function Records({ view }: { view: MailView }) {
  return (
    <div className="space-y-2">
      {view.records_error && <ErrorNote error={view.records_error} />}
      {view.records.length > 0 && (
        <p className="text-sm text-slate-700">
          Publish these for {view.domain} so that other mail servers deliver to this cell and trust its mail.
        </p>
      )}
      {view.records.length > 0 && (
        <ul className="divide-y divide-slate-100" aria-label="DNS records">
          {view.records.map((r) => (
            <li key={`${r.name} ${r.value}`} className="py-2 text-sm" data-testid={`record-${r.name}-${r.type}`}>
              <div className="flex flex-wrap items-center gap-2">
                <span className="font-medium">{purpose(r)}</span>
                <code className="break-all">{r.name}</code>
              </div>
              <div className="mt-1 flex items-start gap-2">
                <code className="min-w-0 flex-1 break-all rounded bg-slate-50 px-1">{r.value}</code>
                <CopyButton text={r.value} label={`Copy the ${purpose(r).split(' (')[0]} ${r.name} value`} />
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

function Queue({ queue, error, now }: { queue: MailQueued[]; error?: string; now: number }) {
  return (
    <div className="space-y-2">
      {error && <ErrorNote error={error} />}
      {!error && queue.length === 0 ? (
        <p className="text-sm text-slate-700">The queue is empty: every message has been delivered.</p>
      ) : queue.length > 0 && (
        <Table columns={['Id', 'From', 'To', 'Age', 'Why']} className="text-sm">
          {queue.map((m) => (
            <tr key={m.queue_id} className="border-t border-slate-100 align-top" data-testid={`queued-${m.queue_id}`}>
              <td className="py-1 pr-3 font-mono">{m.queue_id}</td>
              <td className="break-all py-1 pr-3">{m.sender || '(bounce)'}</td>
              <td className="break-all py-1 pr-3">{m.recipients.map((r) => r.address).join(', ')}</td>
              <td className="whitespace-nowrap py-1 pr-3">{queuedAge(m.arrival_time, now)}</td>
              <td className="py-1">{m.recipients.map((r) => r.delay_reason).filter(Boolean).join('; ') || m.queue_name}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  )
}

export function EmailPage({ health }: { health?: ReactNode }) {
  const mail = useApi(endpoints.mail)
  const users = useApi(endpoints.users)
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000))
  useEffect(() => setNow(Math.floor(Date.now() / 1000)), [mail.data])
  const view = mail.data
  return (
    <div className="space-y-4">
      <PageHeader title="Email">Mail for the cell's people (Postfix and Dovecot) and its webmail.</PageHeader>
      {health && <Card title="Health">{health}</Card>}
      {mail.loading && !view ? (
        <Loading />
      ) : mail.error ? (
        <ErrorNote error={mail.error} />
      ) : view ? (
        <>
          <Card title="Webmail">
            <p className="text-sm">
              Read and send mail in the browser at{' '}
              <a className="break-all text-teal-800 underline" href={view.webmail_url} target="_blank" rel="noreferrer">{view.webmail_url}</a>
              {' '}with the same name and password as the mail apps.
            </p>
          </Card>
          <Card title="Addresses">
            {users.loading && !users.data ? <Loading /> : users.error ? <ErrorNote error={users.error} /> : <Addresses users={users.data ?? []} domain={view.domain} />}
          </Card>
          <Card title="DNS records">
            <Records view={view} />
          </Card>
          <Card title="Queue">
            <Queue queue={view.queue} error={view.queue_error} now={now} />
          </Card>
        </>
      ) : null}
    </div>
  )
}
