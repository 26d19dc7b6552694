import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { describeChange, StateVersions, type StateVersion } from './components/StateVersions'
import { routeFetch } from './test/fetch'
import { openedStream, useFakeEventSource } from './test/eventSource'

useFakeEventSource()

const V: StateVersion[] = [
  { version: 1, saved_at: '2026-12-01T10:00:00+00:00', changed: [] },
  { version: 2, saved_at: '2026-12-02T10:00:00+00:00', changed: ['cell.timezone', 'network.upstream_dns'] },
  { version: 3, saved_at: '2026-12-03T10:00:00+00:00', changed: ['users', 'ddns.hostname', 'ddns.zone'] },
]

describe('describeChange', () => {
  it('names the changed parts in words, each once, keeping an unknown path as it is', () => {
    expect(describeChange(V[1], false)).toBe('changed time zone, upstream DNS')
    expect(describeChange(V[2], false)).toBe('changed users, dynamic DNS')
    expect(describeChange({ ...V[1], changed: ['future.key'] }, false)).toBe('changed future.key')
    expect(describeChange(V[0], true)).toBe('the first version (setup)')
    expect(describeChange({ ...V[1], changed: [] }, false)).toBe('saved again, nothing changed')
    expect(describeChange({ ...V[1], problem: 'does not load' }, false)).toContain('does not load')
  })
})

describe('State versions', () => {
  it('lists versions newest first; rolls back only after a finished preview, each run shown live', async () => {
    const calls = routeFetch((url, init) => {
      if (url === '/api/state/versions') return { status: 200, body: { versions: V } }
      if (url === '/api/state/versions/2/rollback?preview=1' && init.method === 'POST')
        return { status: 202, body: { run_id: 'p1', preview: true } }
      if (url === '/api/state/versions/2/rollback' && init.method === 'POST')
        return { status: 202, body: { run_id: 'a1', preview: false, version: 4 } }
      if (url.startsWith('/api/runs/')) return { status: 200, body: { id: url.split('/').pop(), status: 'running', tags: ['common'] } }
      return { status: 404, body: { error: 'not found' } }
    })
    render(<StateVersions />)
    const list = await screen.findByTestId('state-versions')
    const items = within(list).getAllByRole('listitem')
    expect(items.map((li) => li.getAttribute('data-version'))).toEqual(['3', '2', '1'])
    expect(items[0]).toHaveTextContent('current')
    expect(items[0]).toHaveTextContent('users, dynamic DNS')
    // the current version has nothing to roll back to
    expect(within(items[0]).queryByRole('button')).toBeNull()
    expect(items[1]).toHaveTextContent('time zone, upstream DNS')

    await userEvent.click(screen.getByRole('button', { name: 'Roll back to version 2' }))
    expect(calls.some((c) => c.url === '/api/state/versions/2/rollback?preview=1')).toBe(true)
    await screen.findByText(/Preview of rolling back to version 2/)
    const applyButton = screen.getByRole('button', { name: 'Apply the rollback to version 2' })
    // Apply waits for the preview's end
    expect(applyButton).toBeDisabled()
    expect(calls.some((c) => c.url === '/api/state/versions/2/rollback')).toBe(false)
    const es = await openedStream()
    es.emit({ seq: 1, run_id: 'p1', event: 'pic_run_status', status: 'successful' })
    await waitFor(() => expect(applyButton).toBeEnabled())
    await userEvent.click(applyButton)
    await screen.findByText('Rolling back to version 2')
    expect(calls.filter((c) => c.url === '/api/state/versions/2/rollback')).toHaveLength(1)
    // the versions are read again once the rollback is saved
    await waitFor(() => expect(calls.filter((c) => c.url === '/api/state/versions').length).toBeGreaterThan(1))
  })

  it('shows the API’s refusal', async () => {
    routeFetch((url) => {
      if (url === '/api/state/versions') return { status: 200, body: { versions: V } }
      return { status: 400, body: { error: 'cannot roll back: state version 1 does not load' } }
    })
    render(<StateVersions />)
    await userEvent.click(await screen.findByRole('button', { name: 'Roll back to version 1' }))
    expect(await screen.findByText(/cannot roll back: state version 1 does not load/)).toBeInTheDocument()
  })
})
