import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setNavigator } from './api'
import { LogVerbosity } from './components/LogVerbosity'
import { useFakeEventSource } from './test/eventSource'
import { routeFetch } from './test/fetch'

useFakeEventSource()

beforeEach(() => setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() }))
afterEach(() => {
  setNavigator(null)
  vi.unstubAllGlobals()
})

describe('the Logs page’s verbosity', () => {
  it('shows what is verbose, sends the chosen logs, follows the run and resets them all', async () => {
    let verbose: string[] = ['mail']
    const calls = routeFetch((url, init) => {
      if (url === '/api/logs/verbosity' && init.method === 'PUT') {
        verbose = JSON.parse(init.body as string).verbose
        return { status: 202, body: { verbose, run_id: 'r1' } }
      }
      if (url === '/api/logs/verbosity') return { status: 200, body: { verbose, logs: ['dns', 'dhcp', 'mail', 'api'] } }
      if (url === '/api/runs/r1') return { status: 200, body: { id: 'r1', status: 'running', tags: ['dnsmasq'] } }
      return { status: 404, body: {} }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><LogVerbosity /></MemoryRouter>)
    expect(await screen.findByTestId('verbose-now')).toHaveTextContent('Verbose now: mail.')
    expect(screen.getByLabelText(/Mail: Postfix and Dovecot debug/)).toBeChecked()
    await user.click(screen.getByLabelText(/DNS: every query/))
    await user.click(screen.getByRole('button', { name: 'Save verbosity' }))
    const put = calls.filter((c) => c.init.method === 'PUT')
    expect(JSON.parse(put[0].init.body as string)).toEqual({ verbose: ['mail', 'dns'] })
    expect(await screen.findByRole('region', { name: 'Applying the log verbosity' })).toBeInTheDocument()
    expect(await screen.findByText('Verbose now: mail, dns.')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Reset to normal' }))
    expect(JSON.parse(calls.filter((c) => c.init.method === 'PUT')[1].init.body as string)).toEqual({ verbose: [] })
    expect(await screen.findByText('Verbose now: none.')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Reset to normal' })).toBeDisabled()
  })

  it('says when nothing changed and shows the API’s refusal', async () => {
    let answer = { status: 200, body: { verbose: [], run_id: null } as unknown }
    routeFetch((url, init) => {
      if (url === '/api/logs/verbosity' && init.method === 'PUT') return answer
      return { status: 200, body: { verbose: [], logs: ['dns', 'api'] } }
    })
    const user = userEvent.setup()
    render(<MemoryRouter><LogVerbosity /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Save verbosity' }))
    expect(await screen.findByText('Nothing to change.')).toBeInTheDocument()
    answer = { status: 400, body: { error: 'invalid log verbosity', fields: { 'verbose[0]': 'not one of dns, api' } } }
    await user.click(screen.getByRole('button', { name: 'Save verbosity' }))
    expect(await screen.findByText(/invalid log verbosity/)).toBeInTheDocument()
  })
})
