import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import type { Me } from './api'
import { Layout, navFor } from './components/Layout'
import { AccountPage } from './pages/Account'
import { MyServicesPage } from './pages/MyServices'
import { UsersPage } from './pages/Users'
import { routeFetch } from './test/fetch'

const GOOD = 'correct-Horse-battery-9'
const me = (role: 'admin' | 'peer'): Me => ({ user: { username: role === 'admin' ? 'admin' : 'bob', role, expires_at: 0 } })

function page(node: React.ReactNode) {
  return render(<MemoryRouter>{node}</MemoryRouter>)
}

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

describe('the menu', () => {
  it('shows a member only their own pages, an admin every page', () => {
    expect(navFor(me('peer')).map((n) => n.label)).toEqual(['My devices', 'WireGuard', 'My calendars', 'My files', 'My services', 'Account'])
    const admin = navFor(me('admin')).map((n) => n.label)
    expect(admin).toContain('Users')
    expect(admin).toContain('Settings')
    expect(admin).toContain('Account')
  })

  it('renders the member menu', () => {
    routeFetch(() => ({ status: 200, body: {} }))
    page(<Layout me={me('peer')}>x</Layout>)
    const nav = screen.getByRole('navigation', { name: 'Main' })
    expect(within(nav).getAllByRole('link').map((a) => a.textContent)).toEqual(['My devices', 'WireGuard', 'My calendars', 'My files', 'My services', 'Account'])
  })
})

const USERS = {
  users: [
    { name: 'admin', role: 'admin', services: ['calendar', 'vpn'], can_login: true, mail_aliases: [], mail_catch_all: false },
    { name: 'bob', role: 'peer', services: ['mail', 'calendar', 'files', 'vpn'], can_login: true, mail_aliases: [], mail_catch_all: false },
  ],
}

describe('the Users page', () => {
  it('adds a person with a role and services, checking the form first', async () => {
    const calls = routeFetch((_url, init) => {
      if (init.method === 'POST') return { status: 201, body: { user: { ...body(init), can_login: true }, run_id: 'r1' } }
      return { status: 200, body: USERS }
    })
    const user = userEvent.setup()
    page(<UsersPage me="admin" />)
    await screen.findByTestId('user-bob')
    const form = screen.getByRole('form', { name: 'Add a person' })
    await user.type(within(form).getByLabelText('User name'), 'bob')
    await user.type(within(form).getByLabelText('Password'), 'short')
    await user.click(within(form).getByRole('button', { name: 'Add person' }))
    expect(within(form).getByText('A person with this name exists.')).toBeInTheDocument()
    expect(within(form).getByLabelText('Password')).toHaveAttribute('aria-invalid', 'true')
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)

    await user.clear(within(form).getByLabelText('User name'))
    await user.type(within(form).getByLabelText('User name'), 'carol')
    await user.clear(within(form).getByLabelText('Password'))
    await user.type(within(form).getByLabelText('Password'), GOOD)
    await user.selectOptions(within(form).getByLabelText('Role'), 'admin')
    await user.click(within(form).getByLabelText('Files'))
    await user.click(within(form).getByRole('button', { name: 'Add person' }))
    expect(await screen.findByText('carol added.')).toBeInTheDocument()
    const post = calls.find((c) => c.init.method === 'POST')!
    expect(post.url).toBe('/api/users')
    expect(body(post.init)).toEqual({ name: 'carol', password: GOOD, role: 'admin', services: ['mail', 'calendar', 'vpn'] })
  })

  it('changes a person’s services, sets their password, shows the API’s field error, deletes them', async () => {
    const calls = routeFetch((_url, init) => {
      if (init.method === 'PATCH') return { status: 200, body: { user: { ...USERS.users[1], ...body(init) }, run_id: 'r2' } }
      if (init.method === 'POST' && body(init).password === 'refused-by-the-API-9')
        return { status: 400, body: { error: 'invalid password', fields: { password: 'too long' } } }
      if (init.method === 'POST') return { status: 200, body: { status: 'password set', run_id: 'r3' } }
      if (init.method === 'DELETE') return { status: 202, body: { run_id: 'r4' } }
      return { status: 200, body: USERS }
    })
    const user = userEvent.setup()
    page(<UsersPage me="admin" />)
    await user.click(await screen.findByRole('button', { name: 'Edit bob' }))
    const edit = screen.getByRole('form', { name: 'Role, services and addresses of bob' })
    await user.click(within(edit).getByLabelText('Mail'))
    await user.click(within(edit).getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('bob changed.')).toBeInTheDocument()
    const patch = calls.find((c) => c.init.method === 'PATCH')!
    expect(patch.url).toBe('/api/users/bob')
    expect(body(patch.init)).toEqual({ services: ['calendar', 'files', 'vpn'] })

    const pw = screen.getByRole('form', { name: 'Set a password for bob' })
    await user.type(within(pw).getByLabelText('New password for bob'), 'refused-by-the-API-9')
    await user.click(within(pw).getByRole('button', { name: 'Set password' }))
    expect(await within(pw).findByText('too long')).toBeInTheDocument()
    await user.clear(within(pw).getByLabelText('New password for bob'))
    await user.type(within(pw).getByLabelText('New password for bob'), GOOD)
    await user.click(within(pw).getByRole('button', { name: 'Set password' }))
    expect(await screen.findByText(/New password set for bob/)).toBeInTheDocument()
    expect(calls.filter((c) => c.url === '/api/users/bob/password').map((c) => body(c.init))).toEqual([
      { password: 'refused-by-the-API-9' },
      { password: GOOD },
    ])

    await user.click(screen.getByRole('button', { name: 'Delete bob' }))
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Delete bob' }))
    expect(await screen.findByText('bob deleted.')).toBeInTheDocument()
    expect(calls.some((c) => c.init.method === 'DELETE' && c.url === '/api/users/bob')).toBe(true)
  })

  it('gives a person more mail addresses and the catch-all, checking them first and showing the API’s refusal', async () => {
    const calls = routeFetch((_url, init) => {
      if (init.method === 'PATCH' && body(init).mail_aliases?.includes('sales'))
        return { status: 400, body: { error: 'refused', fields: { 'mail_aliases[1]': "'sales' is already an alias of carol", mail_aliases: "'sales' is already an alias of carol" } } }
      if (init.method === 'PATCH') return { status: 200, body: { user: { ...USERS.users[1], ...body(init) }, run_id: 'r5' } }
      return { status: 200, body: USERS }
    })
    const user = userEvent.setup()
    page(<UsersPage me="admin" />)
    await user.click(await screen.findByRole('button', { name: 'Edit bob' }))
    const edit = screen.getByRole('form', { name: 'Role, services and addresses of bob' })
    const aliases = within(edit).getByLabelText('Other mail addresses')
    await user.type(aliases, 'info, not an address!')
    await user.click(within(edit).getByRole('button', { name: 'Save' }))
    expect(await within(edit).findByText(/address! is not the part of an address before the @/)).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'PATCH')).toHaveLength(0)

    await user.clear(aliases)
    await user.type(aliases, 'Info, sales')
    await user.click(within(edit).getByRole('button', { name: 'Save' }))
    expect(await within(edit).findByText("'sales' is already an alias of carol")).toBeInTheDocument()

    await user.clear(aliases)
    await user.type(aliases, 'info robert')
    await user.click(within(edit).getByLabelText(/Catch-all/))
    await user.click(within(edit).getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('bob changed.')).toBeInTheDocument()
    const patches = calls.filter((c) => c.init.method === 'PATCH').map((c) => body(c.init))
    expect(patches).toEqual([{ mail_aliases: ['info', 'sales'] }, { mail_aliases: ['info', 'robert'], mail_catch_all: true }])
  })

  it('takes a person’s addresses away with their mailbox, and lists the addresses', async () => {
    const withAliases = { ...USERS.users[1], mail_aliases: ['info'], mail_catch_all: true }
    const calls = routeFetch((_url, init) => {
      if (init.method === 'PATCH') return { status: 200, body: { user: { ...withAliases, ...body(init) }, run_id: 'r6' } }
      return { status: 200, body: { users: [USERS.users[0], withAliases] } }
    })
    const user = userEvent.setup()
    page(<UsersPage me="admin" />)
    expect((await screen.findByTestId('user-bob')).textContent).toContain('Also: info · catch-all')
    await user.click(screen.getByRole('button', { name: 'Edit bob' }))
    const edit = screen.getByRole('form', { name: 'Role, services and addresses of bob' })
    await user.click(within(edit).getByLabelText('Mail'))
    expect(within(edit).queryByLabelText('Other mail addresses')).toBeNull()
    await user.click(within(edit).getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('bob changed.')).toBeInTheDocument()
    expect(body(calls.find((c) => c.init.method === 'PATCH')!.init)).toEqual({
      services: ['calendar', 'files', 'vpn'],
      mail_aliases: [],
      mail_catch_all: false,
    })
  })

  it('does not offer an admin their own role, password reset or deletion', async () => {
    routeFetch(() => ({ status: 200, body: USERS }))
    const user = userEvent.setup()
    page(<UsersPage me="admin" />)
    await user.click(await screen.findByRole('button', { name: 'Edit admin' }))
    expect(within(screen.getByRole('form', { name: 'Role, services and addresses of admin' })).getByLabelText('Role')).toBeDisabled()
    expect(screen.queryByRole('button', { name: 'Delete admin' })).toBeNull()
    expect(screen.queryByRole('button', { name: 'Set password' })).toBeNull()
  })
})

const SESSIONS = {
  sessions: [
    { id: 'aaaa', created_at: 1_800_000_000, expires_at: 1_800_040_000, remote: '10.0.0.2', agent: 'Firefox', current: true },
    { id: 'bbbb', created_at: 1_799_990_000, expires_at: 1_800_030_000, remote: '10.0.0.3', agent: 'Phone', current: false },
  ],
}

describe('the Account page', () => {
  it('changes the password: the current one is checked by the API, the new one here first', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/account/password' && body(init).current_password === 'wrong')
        return { status: 400, body: { error: 'the current password is wrong', fields: { current_password: 'wrong password' } } }
      if (url === '/api/account/password') return { status: 200, body: { status: 'password changed', run_id: 'r1' } }
      return { status: 200, body: SESSIONS }
    })
    const user = userEvent.setup()
    page(<AccountPage me="bob" />)
    const form = screen.getByRole('form', { name: 'Change your password' })
    await user.type(within(form).getByLabelText('New password'), GOOD)
    await user.type(within(form).getByLabelText('New password again'), 'something else')
    await user.click(within(form).getByRole('button', { name: 'Change password' }))
    expect(within(form).getByText('Enter your current password.')).toBeInTheDocument()
    expect(within(form).getByText('The passwords do not match.')).toBeInTheDocument()
    expect(calls.filter((c) => c.url === '/api/account/password')).toHaveLength(0)

    await user.type(within(form).getByLabelText('Current password'), 'wrong')
    await user.clear(within(form).getByLabelText('New password again'))
    await user.type(within(form).getByLabelText('New password again'), GOOD)
    await user.click(within(form).getByRole('button', { name: 'Change password' }))
    expect(await within(form).findByText('wrong password')).toBeInTheDocument()

    await user.clear(within(form).getByLabelText('Current password'))
    await user.type(within(form).getByLabelText('Current password'), 'bobs password')
    await user.click(within(form).getByRole('button', { name: 'Change password' }))
    expect(await within(form).findByText(/Password changed/)).toBeInTheDocument()
    expect(body(calls.filter((c) => c.url === '/api/account/password').at(-1)!.init)).toEqual({
      current_password: 'bobs password',
      new_password: GOOD,
    })
  })

  it('lists the sessions and ends one, then all others', async () => {
    const calls = routeFetch((_url, init) => {
      if (init.method === 'DELETE') return { status: 200, body: { ended: 1 } }
      return { status: 200, body: SESSIONS }
    })
    const user = userEvent.setup()
    page(<AccountPage me="bob" />)
    const rows = await screen.findAllByTestId('account-session')
    expect(rows).toHaveLength(2)
    expect(rows[0]).toHaveTextContent('This session from 10.0.0.2')
    expect(rows[1]).toHaveTextContent('Phone')
    await user.click(within(rows[1]).getByRole('button', { name: 'End' }))
    await user.click(screen.getByRole('button', { name: 'End all other sessions' }))
    await waitFor(() =>
      expect(calls.filter((c) => c.init.method === 'DELETE').map((c) => c.url)).toEqual([
        '/api/account/sessions/bbbb',
        '/api/account/sessions',
      ]),
    )
  })
})

describe('the My services page', () => {
  it('shows the settings of each service the person may use, and the root certificate', async () => {
    routeFetch(() => ({
      status: 200,
      body: {
        username: 'bob',
        domain: 'home.cell',
        services: ['mail', 'calendar'],
        mail: {
          address: 'bob@home.cell',
          aliases: ['info@home.cell', 'robert@home.cell'],
          catch_all: false,
          login: 'bob',
          imap: { host: 'mail.home.cell', port: 993, security: 'SSL/TLS' },
          smtp: { host: 'mail.home.cell', port: 587, security: 'STARTTLS' },
        },
        calendar: { caldav_url: 'https://calendar.home.cell/bob/', carddav_url: 'https://calendar.home.cell/bob/', login: 'bob' },
      },
    }))
    page(<MyServicesPage />)
    expect(await screen.findByText('mail.home.cell, port 993, SSL/TLS')).toBeInTheDocument()
    expect(screen.getByText('mail.home.cell, port 587, STARTTLS')).toBeInTheDocument()
    expect(screen.getByText('info@home.cell, robert@home.cell')).toBeInTheDocument()
    expect(screen.queryByText('Catch-all')).toBeNull()
    expect(screen.getAllByText('https://calendar.home.cell/bob/')).toHaveLength(2)
    expect(screen.queryByText('WebDAV')).toBeNull()
    expect(screen.getByRole('link', { name: 'Download root certificate' })).toHaveAttribute('href', '/api/ca/root.pem')
  })

  it('says when the person has no services', async () => {
    routeFetch(() => ({ status: 200, body: { username: 'bob', domain: 'home.cell', services: [] } }))
    page(<MyServicesPage />)
    expect(await screen.findByText(/no services on this cell yet/)).toBeInTheDocument()
  })
})
