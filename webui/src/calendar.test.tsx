import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CalendarList } from './generated/api'
import { CalendarPage, slugFor } from './pages/Calendar'
import { routeFetch } from './test/fetch'

const FAMILY = { name: 'family', kind: 'calendar' as const, displayname: 'Family', description: 'who picks whom up', color: '#3a7bd5', url: 'https://calendar.home.cell/carol/family/' }

function list(over: Partial<CalendarList> = {}): CalendarList {
  return {
    enabled: true,
    people: [
      { user: 'admin', url: 'https://calendar.home.cell/admin/', collections: [] },
      { user: 'carol', url: 'https://calendar.home.cell/carol/', collections: [FAMILY] },
    ],
    ...over,
  }
}

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('slugFor', () => {
  it('makes an address name from what people call it', () => {
    expect(slugFor('Family Trips')).toBe('family-trips')
    expect(slugFor('  2026 Holidays!')).toBe('holidays')
    expect(slugFor('Café')).toBe('cafe')
  })
})

describe('the Calendar page', () => {
  it("lists each person's collections with their addresses, copyable", async () => {
    routeFetch(() => ({ status: 200, body: list() }))
    const user = userEvent.setup()
    render(<MemoryRouter><CalendarPage admin /></MemoryRouter>)
    const family = await screen.findByTestId('collection-family')
    expect(family.textContent).toContain('Family')
    expect(family.textContent).toContain('https://calendar.home.cell/carol/family/')
    expect(family.textContent).toContain('who picks whom up')
    expect(screen.getByText('No calendars or address books yet.')).toBeInTheDocument()
    await user.click(within(family).getByRole('button', { name: 'Copy the address of Family' }))
    expect(await navigator.clipboard.readText()).toBe('https://calendar.home.cell/carol/family/') // user-event's stand-in clipboard
    expect(within(family).getByRole('button', { name: 'Copy the address of Family' }).textContent).toBe('Copied')
  })

  it('makes one for the person chosen, with the name derived, and shows the refusal at its field', async () => {
    let people = list().people
    const calls = routeFetch((_url, init) => {
      if (init.method === 'POST' && body(init).name === 'taken')
        return { status: 409, body: { error: 'carol has a collection taken already', fields: { name: 'exists already' } } }
      if (init.method === 'POST') {
        const made = { ...FAMILY, name: 'family-trips', displayname: 'Family Trips', url: 'https://calendar.home.cell/carol/family-trips/' }
        people = [people[0], { ...people[1], collections: [FAMILY, made] }]
        return { status: 201, body: made }
      }
      return { status: 200, body: list({ people }) }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><CalendarPage admin /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'Make a calendar or address book' })
    await user.click(within(form).getByRole('button', { name: 'Make it' }))
    expect(within(form).getByText('Enter the name your apps show.')).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)

    await user.selectOptions(within(form).getByLabelText('Whose'), 'carol')
    await user.type(within(form).getByLabelText('Name'), 'Family Trips')
    expect(within(form).getByLabelText('In its address')).toHaveValue('family-trips')
    await user.click(within(form).getByRole('button', { name: 'Make it' }))
    expect(await screen.findByTestId('collection-family-trips')).toBeInTheDocument()
    const posted = calls.filter((c) => c.init.method === 'POST')
    expect(posted).toHaveLength(1)
    expect(body(posted[0].init)).toEqual({ owner: 'carol', name: 'family-trips', displayname: 'Family Trips', kind: 'calendar' })

    await user.type(within(form).getByLabelText('Name'), 'Other')
    await user.clear(within(form).getByLabelText('In its address'))
    await user.type(within(form).getByLabelText('In its address'), 'taken')
    await user.click(within(form).getByRole('button', { name: 'Make it' }))
    expect(await within(form).findByText('exists already')).toBeInTheDocument()
  })

  it("a member's page has no owner to choose and sends none", async () => {
    const calls = routeFetch((_url, init) =>
      init.method === 'POST'
        ? { status: 201, body: { ...FAMILY, name: 'work', kind: 'addressbook', url: 'https://calendar.home.cell/carol/work/' } }
        : { status: 200, body: list({ people: [list().people[1]] }) },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><CalendarPage /></MemoryRouter>)
    const form = await screen.findByRole('form', { name: 'Make a calendar or address book' })
    expect(within(form).queryByLabelText('Whose')).toBeNull()
    await user.selectOptions(within(form).getByLabelText('Kind'), 'addressbook')
    await user.type(within(form).getByLabelText('Name'), 'Work')
    await user.click(within(form).getByRole('button', { name: 'Make it' }))
    expect(await screen.findByRole('status')).toHaveTextContent('https://calendar.home.cell/carol/work/')
    expect(body(calls.filter((c) => c.init.method === 'POST')[0].init)).toEqual({ name: 'work', displayname: 'Work', kind: 'addressbook' })
  })

  it('says so when the service is off, and why when the collections could not be read', async () => {
    routeFetch(() => ({ status: 200, body: list({ enabled: false, people: [] }) }))
    const { unmount } = render(<MemoryRouter><CalendarPage admin /></MemoryRouter>)
    expect(await screen.findByText(/not enabled on this cell/)).toBeInTheDocument()
    unmount()
    routeFetch(() => ({ status: 200, body: list({ error: 'the calendars could not be read: agent away' }) }))
    render(<MemoryRouter><CalendarPage admin /></MemoryRouter>)
    expect(await screen.findByText(/agent away/)).toBeInTheDocument()
  })
})
