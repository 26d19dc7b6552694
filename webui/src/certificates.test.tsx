import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import { Certificates } from './components/Certificates'
import { routeFetch } from './test/fetch'

const NAS = { serial: '4F:0A', name: 'nas.home.cell', not_before: '2026-12-05T08:00:00+00:00', not_after: '2027-12-05T08:00:00+00:00', revoked: false }

function body(init: RequestInit) {
  return JSON.parse(init.body as string)
}

describe('the Vault’s certificates', () => {
  it('issues one after checking the form, shows its key once, and shows the API’s refusal at its field', async () => {
    let listed = [NAS]
    const made = { ...NAS, serial: '7A:01', name: 'printer.home.cell' }
    const calls = routeFetch((_url, init) => {
      if (init.method === 'POST' && body(init).name === 'taken.home.cell')
        return { status: 400, body: { error: 'invalid certificate', fields: { name: 'refused by the API' } } }
      if (init.method === 'POST') {
        listed = [made, NAS]
        return { status: 201, body: { certificate: made, certificate_pem: 'CERT', key_pem: 'KEY' } }
      }
      return { status: 200, body: { certificates: listed } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><Certificates /></MemoryRouter>)
    expect(await screen.findByRole('cell', { name: 'nas.home.cell' })).toBeInTheDocument()
    const form = screen.getByRole('form', { name: 'Issue a certificate' })
    await user.type(within(form).getByLabelText('Name'), 'Printer!')
    await user.clear(within(form).getByLabelText('Valid for (days)'))
    await user.type(within(form).getByLabelText('Valid for (days)'), '9000')
    await user.click(within(form).getByRole('button', { name: 'Issue certificate' }))
    expect(within(form).getByText(/Enter a DNS name/)).toBeInTheDocument()
    expect(within(form).getByText(/Enter how many days/)).toBeInTheDocument()
    expect(calls.filter((c) => c.init.method === 'POST')).toHaveLength(0)

    await user.clear(within(form).getByLabelText('Valid for (days)'))
    await user.type(within(form).getByLabelText('Valid for (days)'), '90')
    await user.clear(within(form).getByLabelText('Name'))
    await user.type(within(form).getByLabelText('Name'), 'taken.home.cell')
    await user.click(within(form).getByRole('button', { name: 'Issue certificate' }))
    expect(await within(form).findByText('refused by the API')).toBeInTheDocument()

    await user.clear(within(form).getByLabelText('Name'))
    await user.type(within(form).getByLabelText('Name'), 'printer.home.cell')
    await user.click(within(form).getByRole('button', { name: 'Issue certificate' }))
    const panel = await screen.findByTestId('certificate-issued')
    expect(within(panel).getByRole('button', { name: 'Download printer.home.cell.key.pem' })).toBeInTheDocument()
    expect(body(calls.filter((c) => c.init.method === 'POST').at(-1)!.init)).toEqual({ name: 'printer.home.cell', days: 90 })
    expect(await screen.findByRole('cell', { name: 'printer.home.cell' })).toBeInTheDocument()
    await user.click(within(panel).getByRole('button', { name: /I have saved them/ }))
    expect(screen.queryByTestId('certificate-issued')).toBeNull()
  })

  it('revokes one after a confirmation', async () => {
    let listed = [NAS]
    const calls = routeFetch((url) => {
      if (url === '/api/ca/certificates/4F%3A0A/revoke') {
        listed = [{ ...NAS, revoked: true }]
        return { status: 202, body: { certificate: listed[0], run_id: 'r7' } }
      }
      return { status: 200, body: { certificates: listed } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><Certificates /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Revoke nas.home.cell' }))
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Revoke' }))
    expect(await screen.findByText(/is revoked; the cell publishes its revocation list again/)).toBeInTheDocument()
    expect(await screen.findByText('revoked')).toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Revoke nas.home.cell' })).toBeNull()
    expect(calls.some((c) => c.init.method === 'POST')).toBe(true)
  })
})
