import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes } from 'react-router-dom'
import { describe, expect, it } from 'vitest'
import { BackupKeyBanner, keyUnsaved } from './components/BackupKeyBanner'
import type { BackupArchive, BackupView } from './generated/api'
import { initialSteps, stepReducer } from './components/StepRun'
import { BackupsPage, formatSize, validateForm } from './pages/Backups'
import { RunPage } from './pages/Runs'
import { FakeEventSource, openedStream, useFakeEventSource } from './test/eventSource'
import { routeFetch } from './test/fetch'

useFakeEventSource()

const DATA = ['/var/vmail', '/var/lib/radicale/collections', '/var/lib/pic/files']

function view(over: Partial<BackupView['settings']> = {}, initialised = true): BackupView {
  return {
    settings: { repository: '/mnt/b', schedule: 'daily', keep_daily: 7, keep_weekly: 4, keep_monthly: 6, key_confirmed: false, ...over },
    status: {
      repository: '/mnt/b',
      initialised,
      last: { ok: true, started_at: '2025-01-31T03:30:00+00:00', finished_at: '2025-01-31T03:30:05+00:00', archive: 'pic-2025-01-31T03:30:00' },
      check: { ok: false, started_at: '2025-01-31T04:00:00+00:00', finished_at: '2025-01-31T04:00:09+00:00', error: 'Finished full repository check, errors found.' },
      data_paths: DATA,
    },
    status_error: null,
  }
}
const ARCHIVES: BackupArchive[] = [
  { name: 'pic-2025-01-30T03:30:00', time: '2025-01-30T03:30:00', original_size: 1_500_000, compressed_size: 900_000, deduplicated_size: 20_000, nfiles: 10 },
  { name: 'pic-2025-01-31T03:30:00', time: '2025-01-31T03:30:00', original_size: 2_345_678_901, compressed_size: 1, deduplicated_size: 512, nfiles: 12 },
]

function api(v: BackupView, more: (url: string, init: RequestInit) => { status: number; body: unknown } | null = () => null) {
  return routeFetch((url, init) => {
    const extra = more(url, init)
    if (extra) return extra
    if (url === '/api/backup') return { status: 200, body: v }
    if (url === '/api/backup/archives') return { status: 200, body: { archives: ARCHIVES } }
    return { status: 404, body: { error: 'not here' } }
  })
}

describe('backups page', () => {
  it('shows the repository, the last backup and check, and the archives newest first with sizes', async () => {
    api(view())
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    const status = await screen.findByTestId('backup-status')
    expect(status).toHaveTextContent('/mnt/b')
    expect(status).toHaveTextContent('pic-2025-01-31T03:30:00')
    expect(status).toHaveTextContent('errors found')
    const rows = within(await screen.findByTestId('archives')).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-archive'))).toEqual(['pic-2025-01-31T03:30:00', 'pic-2025-01-30T03:30:00'])
    expect(rows[0]).toHaveTextContent('2.35 GB')
    expect(rows[1]).toHaveTextContent('1.50 MB')
  })

  it('backs up now and follows the run’s steps to the end', async () => {
    const calls = api(view(), (url, init) =>
      url === '/api/backup/runs' && init.method === 'POST' ? { status: 202, body: { run_id: 'r1', run: {} } } : null,
    )
    const user = userEvent.setup()
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    await user.click(await screen.findByRole('button', { name: 'Back up now' }))
    await waitFor(() => expect(FakeEventSource.instances.length).toBe(1))
    const post = calls.find((c) => c.url === '/api/backup/runs')!
    expect(new Headers(post.init.headers).has('Content-Type')).toBe(true)
    const es = FakeEventSource.instances[0]
    expect(es.url).toBe('/api/runs/r1/events')
    expect(screen.getByRole('button', { name: 'Back up now' })).toBeDisabled()
    es.emit({ seq: 1, run_id: 'r1', event: 'pic_step', step: 'create', message: 'archiving 9 paths as pic-x' })
    es.emit({ seq: 2, run_id: 'r1', event: 'pic_run_status', status: 'successful' })
    const run = screen.getByTestId('step-run')
    expect(run).toHaveTextContent('archiving 9 paths as pic-x')
    expect(within(run).getByText('successful')).toBeInTheDocument()
    expect(es.closed).toBe(true)
    await waitFor(() => expect(screen.getByRole('button', { name: 'Back up now' })).toBeEnabled())
  })

  it('reads the archives again when a backup ends', async () => {
    let archives: BackupArchive[] = []
    api(view(), (url, init) =>
      url === '/api/backup/runs' && init.method === 'POST'
        ? { status: 202, body: { run_id: 'r1', run: {} } }
        : url === '/api/backup/archives'
          ? { status: 200, body: { archives } }
          : null,
    )
    const user = userEvent.setup()
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    expect(await screen.findByText('No backup yet.')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Back up now' }))
    await waitFor(() => expect(FakeEventSource.instances.length).toBe(1))
    archives = [ARCHIVES[1]]
    FakeEventSource.instances[0].emit({ seq: 1, run_id: 'r1', event: 'pic_run_status', status: 'successful' })
    const rows = within(await screen.findByTestId('archives')).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-archive'))).toEqual(['pic-2025-01-31T03:30:00'])
  })

  it('restores one service’s data only after the confirmation', async () => {
    const calls = api(view(), (url) =>
      url === '/api/backup/restore' ? { status: 202, body: { run_id: 'r2', run: {} } } : null,
    )
    const user = userEvent.setup()
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    const rows = within(await screen.findByTestId('archives')).getAllByRole('row')
    await user.click(within(rows[1]).getByRole('button', { name: 'Restore…' }))
    const form = screen.getByRole('form', { name: 'Restore pic-2025-01-31T03:30:00' })
    await user.selectOptions(within(form).getByLabelText('What to restore'), '/var/vmail')
    const restore = within(form).getByRole('button', { name: 'Restore' })
    expect(restore).toBeDisabled()
    await user.click(within(form).getByRole('checkbox'))
    await user.click(restore)
    await waitFor(() => expect(calls.some((c) => c.url === '/api/backup/restore')).toBe(true))
    const body = JSON.parse(String(calls.find((c) => c.url === '/api/backup/restore')!.init.body))
    expect(body).toEqual({ archive: 'pic-2025-01-31T03:30:00', data: '/var/vmail' })
  })

  it('shows the API’s refusal of a setting next to its field', async () => {
    api(view(), (url, init) =>
      url === '/api/backup' && init.method === 'PUT'
        ? { status: 400, body: { error: 'invalid backup settings', fields: { repository: 'repository must be an absolute path or ssh://' } } }
        : null,
    )
    const user = userEvent.setup()
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    const field = await screen.findByLabelText('Repository')
    await user.clear(field)
    await user.type(field, '/mnt/other')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByText('repository must be an absolute path or ssh://')).toBeInTheDocument()
  })

  it('shows the passphrase after the password, and confirms it saved', async () => {
    const calls = api(view(), (url) =>
      url === '/api/backup/key'
        ? { status: 200, body: { repository: '/mnt/b', passphrase: 'abcde-fghij-klmno', key_export: 'BORG_KEY x', ssh_public_key: '' } }
        : url === '/api/backup/key/confirm'
          ? { status: 202, body: { run_id: 'r3' } }
          : null,
    )
    const user = userEvent.setup()
    render(<MemoryRouter><BackupsPage /></MemoryRouter>)
    await user.type(await screen.findByLabelText('Your password, to show it'), 'my password')
    await user.click(screen.getByRole('button', { name: 'Show the passphrase' }))
    expect(await screen.findByTestId('backup-passphrase')).toHaveTextContent('abcde-fghij-klmno')
    expect(JSON.parse(String(calls.find((c) => c.url === '/api/backup/key')!.init.body))).toEqual({ password: 'my password' })
    await user.click(screen.getByRole('button', { name: 'I saved it away from the cell' }))
    await waitFor(() => expect(calls.some((c) => c.url === '/api/backup/key/confirm')).toBe(true))
  })
})

describe('a run page', () => {
  it('shows a backup run as its steps, a converge as its roles', async () => {
    const run = (kind: string) => ({ id: 'r9', kind, status: 'running', tags: [], check: false, description: `a ${kind}`,
      state_version: null, created_at: '2025-01-01T00:00:00Z', started_at: null, finished_at: null, error: null })
    let kind = 'backup'
    routeFetch(() => ({ status: 200, body: run(kind) }))
    const page = () => (
      <MemoryRouter initialEntries={['/runs/r9']}>
        <Routes>
          <Route path="/runs/:id" element={<RunPage />} />
        </Routes>
      </MemoryRouter>
    )
    const { unmount } = render(page())
    await screen.findByTestId('step-run')
    const es = await openedStream()
    es.emit({ seq: 0, run_id: 'r9', event: 'pic_step', step: 'create', message: 'archiving 3 paths' })
    expect(screen.getByTestId('step-run')).toHaveTextContent('archiving 3 paths')
    expect(screen.queryByTestId('run-view')).toBeNull()
    unmount()
    kind = 'converge'
    render(page())
    await screen.findByTestId('run-view')
    expect(screen.queryByTestId('step-run')).toBeNull()
  })
})

describe('passphrase banner', () => {
  it('warns while backups are on and the key is not confirmed, and not otherwise', async () => {
    expect(keyUnsaved({ repository: '/mnt/b', key_confirmed: false })).toBe(true)
    expect(keyUnsaved({ repository: '/mnt/b', key_confirmed: true })).toBe(false)
    expect(keyUnsaved({ repository: '', key_confirmed: false })).toBe(false)
    api(view())
    render(<MemoryRouter initialEntries={['/peers']}><BackupKeyBanner /></MemoryRouter>)
    const banner = await screen.findByTestId('backup-key-banner')
    expect(within(banner).getByRole('link')).toHaveAttribute('href', '/backups')
  })

  it('stays away for a confirmed key', async () => {
    const calls = api(view({ key_confirmed: true }))
    render(<MemoryRouter><BackupKeyBanner /></MemoryRouter>)
    await waitFor(() => expect(calls.length).toBe(1))
    expect(screen.queryByTestId('backup-key-banner')).toBeNull()
  })
})

describe('pure parts', () => {
  it('reads steps, converge tasks and the final status from the events', () => {
    let s = stepReducer(initialSteps, { event: 'pic_step', step: 'open', message: 'opening /mnt/b' })
    s = stepReducer(s, { event: 'playbook_on_task_start', role: 'dnsmasq', task: 'Write configuration' })
    s = stepReducer(s, { event: 'pic_run_status', status: 'running' })
    expect(s.status).toBeNull()
    s = stepReducer(s, { event: 'pic_run_status', status: 'failed', error: 'wrong passphrase' })
    expect(s).toEqual({ steps: [{ step: 'open', message: 'opening /mnt/b' }], tasks: 1, currentTask: null, status: 'failed', error: 'wrong passphrase' })
  })

  it('checks the form as the API does', () => {
    const ok = { repository: 'ssh://borg@host/./pic', schedule: 'daily' as const, keep_daily: '7', keep_weekly: '0', keep_monthly: '0' }
    expect(validateForm(ok)).toEqual({})
    expect(Object.keys(validateForm({ ...ok, repository: 'relative' }))).toEqual(['repository'])
    expect(Object.keys(validateForm({ ...ok, keep_daily: '-1' }))).toEqual(['keep_daily'])
    expect(validateForm({ ...ok, keep_daily: '0' }).keep_daily).toMatch('at least one')
    expect(formatSize(999)).toBe('999 B')
    expect(formatSize(null)).toBe('–')
  })
})
