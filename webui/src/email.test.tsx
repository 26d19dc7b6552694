import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MailView, User } from './generated/api'
import { EmailPage, queuedAge } from './pages/Email'
import { routeFetch } from './test/fetch'

const DKIM = 'v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest'
const USERS: User[] = [
  { name: 'admin', role: 'admin', services: ['mail', 'calendar'], mail_aliases: ['info', 'hello'], mail_catch_all: true },
  { name: 'carol', role: 'peer', services: ['mail'], mail_aliases: [], mail_catch_all: false },
  { name: 'dave', role: 'peer', services: ['files'], mail_aliases: [], mail_catch_all: false },
]

function view(over: Partial<MailView> = {}): MailView {
  return {
    enabled: true,
    domain: 'home.cell',
    webmail_url: 'https://mail.home.cell/',
    records: [
      { name: 'home.cell', type: 'MX', value: '10 mail' },
      { name: 'home.cell', type: 'TXT', value: 'v=spf1 mx -all' },
      { name: 'mail._domainkey.home.cell', type: 'TXT', value: DKIM },
      { name: '_dmarc.home.cell', type: 'TXT', value: 'v=DMARC1; p=quarantine' },
    ],
    queue: [
      {
        queue_id: '4Fq3Kx0abcZ', queue_name: 'deferred', arrival_time: new Date(Date.now() - 2 * 3600_000).toISOString(),
        message_size: 1234, sender: 'admin@home.cell',
        recipients: [{ address: 'bob@example.org', delay_reason: 'connect to example.org[192.0.2.7]:25: Connection timed out' }],
      },
    ],
    ...over,
  }
}

function serve(mail: MailView, users: User[] = USERS) {
  return routeFetch((url) => (url.startsWith('/api/users') ? { status: 200, body: { users } } : { status: 200, body: mail }))
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('queuedAge', () => {
  it('says how long a message has waited', () => {
    expect(queuedAge('2025-12-05T16:00:00Z', Date.parse('2025-12-05T19:00:00Z') / 1000)).toBe('3 hours ago')
    expect(queuedAge(null, 0)).toBe('unknown')
  })
})

describe('the Email page', () => {
  it('shows the webmail, the addresses, the records to publish and the queue', async () => {
    const calls = serve(view())
    const user = userEvent.setup()
    render(<MemoryRouter><EmailPage health={<p>mail is up</p>} /></MemoryRouter>)
    expect(await screen.findByText('https://mail.home.cell/')).toHaveAttribute('href', 'https://mail.home.cell/')
    expect(screen.getByText('mail is up')).toBeInTheDocument()
    expect(calls.map((c) => c.url).sort()).toEqual(['/api/mail', '/api/users'])

    const admin = await screen.findByTestId('mailbox-admin')
    expect(admin.textContent).toContain('admin@home.cell')
    expect(admin.textContent).toContain('info@home.cell, hello@home.cell')
    expect(admin.textContent).toContain('catch-all')
    expect(screen.getByTestId('mailbox-carol').textContent).toContain('none')
    expect(screen.queryByTestId('mailbox-dave')).toBeNull() // no mail service
    expect(screen.getByTestId('catch-all').textContent).toContain('Mail to any other address at home.cell goes to admin.')

    const dkim = screen.getByTestId('record-mail._domainkey.home.cell-TXT')
    expect(dkim.textContent).toContain('DKIM')
    await user.click(within(dkim).getByRole('button', { name: /Copy the TXT mail._domainkey.home.cell value/ }))
    expect(await navigator.clipboard.readText()).toBe(DKIM)
    expect(within(dkim).getByRole('button', { name: /Copy/ }).textContent).toBe('Copied')
    expect(screen.getByTestId('record-home.cell-MX').textContent).toContain('10 mail')
    expect(screen.getByTestId('record-_dmarc.home.cell-TXT').textContent).toContain('DMARC')

    const queued = screen.getByTestId('queued-4Fq3Kx0abcZ')
    expect(queued.textContent).toContain('admin@home.cell')
    expect(queued.textContent).toContain('bob@example.org')
    expect(queued.textContent).toContain('2 hours ago')
    expect(queued.textContent).toContain('Connection timed out')
  })

  it('says when the queue is empty and nobody has a mailbox and no catch-all is set', async () => {
    serve(view({ queue: [] }), [USERS[2]])
    render(<MemoryRouter><EmailPage /></MemoryRouter>)
    expect(await screen.findByText('The queue is empty: every message has been delivered.')).toBeInTheDocument()
    expect(await screen.findByText(/Nobody has the mail service yet/)).toBeInTheDocument()
  })

  it('shows why the records or the queue could not be read, and the rest', async () => {
    serve(view({
      records: [], queue: [],
      records_error: 'the mail records could not be read: /etc/pic/dns/records.d/mailserver.yml does not exist',
      queue_error: 'the mail queue could not be read: postqueue could not be run',
    }))
    render(<MemoryRouter><EmailPage /></MemoryRouter>)
    expect(await screen.findByText(/mailserver.yml does not exist/)).toBeInTheDocument()
    expect(screen.getByText(/postqueue could not be run/)).toBeInTheDocument()
    expect(screen.queryByText(/The queue is empty/)).toBeNull()
    expect(await screen.findByTestId('mailbox-admin')).toBeInTheDocument()
    expect(screen.queryByRole('list', { name: 'DNS records' })).toBeNull()
  })

  it('shows a refusal of the whole view', async () => {
    routeFetch(() => ({ status: 403, body: { error: 'this needs an admin account' } }))
    render(<MemoryRouter><EmailPage /></MemoryRouter>)
    expect(await screen.findByText(/this needs an admin account/)).toBeInTheDocument()
  })
})
