import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it, vi } from 'vitest'
import { RestoreFromBackup, restoreBody, validateRestore } from './pages/SetupRestore'
import { FakeEventSource, useFakeEventSource } from './test/eventSource'
import { routeFetch } from './test/fetch'

useFakeEventSource()

async function fill(user: ReturnType<typeof userEvent.setup>, repository: string, passphrase: string) {
  await user.type(screen.getByLabelText('Repository'), repository)
  await user.type(screen.getByLabelText('Passphrase'), passphrase)
  await user.click(screen.getByRole('button', { name: 'Restore this cell' }))
}

describe('the wizard’s restore from a backup', () => {
  it('sends the repository and passphrase with the setup code, follows the run with its token, ends on HTTPS', async () => {
    const calls = routeFetch((url) =>
      url === '/api/setup/restore'
        ? { status: 202, body: { run_id: 'r1', token: 'tok en', run: {} } }
        : url === '/cell.json'
          ? { status: 200, body: { domain: 'home.cell', https: ['https://home.cell'] } }
          : { status: 404, body: {} },
    )
    const user = userEvent.setup()
    render(<MemoryRouter><RestoreFromBackup setupCode="ABCD-EFGH" onCodeRefused={vi.fn()} /></MemoryRouter>)
    await fill(user, '/mnt/old-disk/pic', 'abcde-fghij')
    await waitFor(() => expect(FakeEventSource.instances.length).toBe(1))
    const sent = JSON.parse(String(calls.find((c) => c.url === '/api/setup/restore')!.init.body))
    expect(sent).toEqual({ setup_code: 'ABCD-EFGH', repository: '/mnt/old-disk/pic', passphrase: 'abcde-fghij' })
    const es = FakeEventSource.instances[0]
    expect(es.url).toBe('/api/setup/restore/r1/events?token=tok%20en')
    es.emit({ seq: 1, run_id: 'r1', event: 'pic_step', step: 'state', message: 'putting the state and the secrets back' })
    expect(screen.getByTestId('step-run')).toHaveTextContent('putting the state and the secrets back')
    expect(screen.getByRole('button', { name: 'Restore this cell' })).toBeDisabled()
    es.emit({ seq: 2, run_id: 'r1', event: 'pic_run_status', status: 'successful' })
    expect(await screen.findByText('Your cell is back.')).toBeInTheDocument()
    await waitFor(() => expect(screen.getAllByText(/https:\/\/home\.cell/).length).toBeGreaterThan(0))
  })

  it('shows a refused field at its place, and hands a refused code back to the code step', async () => {
    let answer: { status: number; body: unknown } = {
      status: 400,
      body: { error: 'invalid restore', fields: { repository: 'repository must be an absolute path or ssh://user@host[:port]/path' } },
    }
    routeFetch(() => answer)
    const onCodeRefused = vi.fn()
    const user = userEvent.setup()
    render(<MemoryRouter><RestoreFromBackup setupCode="ABCD-EFGH" onCodeRefused={onCodeRefused} /></MemoryRouter>)
    await fill(user, '/mnt/a b', 'x')
    expect(await screen.findByText(/repository must be an absolute path/)).toBeInTheDocument()
    expect(FakeEventSource.instances.length).toBe(0)
    answer = { status: 403, body: { error: 'wrong setup code', fields: {} } }
    await user.click(screen.getByRole('button', { name: 'Restore this cell' }))
    await waitFor(() => expect(onCodeRefused).toHaveBeenCalledWith('wrong setup code'))
  })

  it('checks the form before asking', () => {
    const ok = { repository: 'ssh://borg@backup.example.org/./pic', passphrase: 'p', archive: '', ssh_key: '' }
    expect(validateRestore(ok)).toEqual({})
    expect(Object.keys(validateRestore({ ...ok, repository: '', passphrase: ' ' }))).toEqual(['repository', 'passphrase'])
    expect(Object.keys(validateRestore({ ...ok, ssh_key: 'ssh-ed25519 AAAA' }))).toEqual(['ssh_key'])
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----'
    expect(restoreBody({ ...ok, archive: ' pic-1 ', ssh_key: key }, 'C')).toEqual({
      setup_code: 'C', repository: ok.repository, passphrase: 'p', archive: 'pic-1', ssh_key: key + '\n' })
  })
})
