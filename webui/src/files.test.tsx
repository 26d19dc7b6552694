import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FilesPage } from './pages/Files'
import { DavClient, davErrorMessage, davPath, forgetPassword, nameProblem, parsePropfind } from './webdav'

// What Apache's mod_dav answers to PROPFIND (Depth: 1) of /alice/: the folder, a subfolder, a file
// whose name needs encoding; properties a folder lacks come in a 404 propstat.
const APACHE = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/alice/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:getlastmodified>Sat, 05 Dec 2026 18:00:00 GMT</lp1:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:getcontentlength/><D:getcontenttype/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:">
<D:href>/alice/Holiday%20photos/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:getlastmodified>Sat, 05 Dec 2026 17:00:00 GMT</lp1:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:">
<D:href>/alice/r%C3%A9sum%C3%A9%20%231.txt</D:href>
<D:propstat><D:prop><lp1:resourcetype/><lp1:getcontentlength>2048</lp1:getcontentlength>
<lp1:getlastmodified>Sat, 05 Dec 2026 16:00:00 GMT</lp1:getlastmodified><D:getcontenttype>text/plain</D:getcontenttype></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
<D:response><D:href>/alice/a.txt</D:href>
<D:propstat><D:prop><D:resourcetype/><D:getcontentlength>5</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
</D:multistatus>`

describe('parsePropfind', () => {
  it('reads Apache’s answer: folders first, names decoded, sizes and times, the folder itself left out', () => {
    const entries = parsePropfind(APACHE, 'alice', '')
    expect(entries.map((e) => [e.name, e.path, e.folder, e.size])).toEqual([
      ['Holiday photos', 'Holiday photos', true, null],
      ['a.txt', 'a.txt', false, 5],
      ['résumé #1.txt', 'résumé #1.txt', false, 2048],
    ])
    expect(entries[2].modified?.toISOString()).toBe('2026-12-05T16:00:00.000Z')
    expect(entries[2].type).toBe('text/plain')
    expect(entries[1].modified).toBeNull()
  })

  it('takes hrefs as full URLs or under /dav/, and leaves out a subfolder itself and others’ paths', () => {
    const xml = `<d:multistatus xmlns:d="DAV:">
      <d:response><d:href>https://cell.example/dav/alice/docs/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
      <d:response><d:href>/dav/alice/docs/x.pdf</d:href><d:propstat><d:prop><d:getcontentlength>10</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
      <d:response><d:href>/bob/secret.txt</d:href></d:response>
    </d:multistatus>`
    expect(parsePropfind(xml, 'alice', 'docs').map((e) => e.path)).toEqual(['docs/x.pdf'])
  })

  it('refuses what is not XML', () => {
    expect(() => parsePropfind('<html><body>Bad gateway', 'alice', '')).toThrow(/not WebDAV XML/)
  })
})

describe('names and paths', () => {
  it('checks names', () => {
    expect(nameProblem('')).toMatch(/Enter a name/)
    expect(nameProblem('a/b')).toMatch(/cannot hold/)
    expect(nameProblem('..')).toMatch(/another name/)
    expect(nameProblem(' x')).toMatch(/space/)
    expect(nameProblem('x'.repeat(256))).toMatch(/too long/)
    expect(nameProblem('é'.repeat(128))).toMatch(/too long/) // 256 bytes in UTF-8
    expect(nameProblem('report 2026 (final).pdf')).toBeNull()
  })

  it('encodes each segment under /dav/<user>/', () => {
    expect(davPath('alice', 'Holiday photos/#1?.jpg')).toBe('/dav/alice/Holiday%20photos/%231%3F.jpg')
    expect(davPath('alice', '', true)).toBe('/dav/alice/')
  })

  it('says what an answer means', () => {
    expect(davErrorMessage(401, 'x')).toMatch(/password is not right/)
    expect(davErrorMessage(412, 'Renaming a')).toMatch(/already there/)
    expect(davErrorMessage(413, 'Uploading a')).toMatch(/larger than the cell accepts/)
  })
})

/** fetch answering WebDAV requests from ``handler``; returns the requests made. */
function davFetch(handler: (method: string, url: string, headers: Record<string, string>) => { status: number; body?: string; json?: unknown }) {
  const calls: { method: string; url: string; headers: Record<string, string>; credentials?: RequestCredentials }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? 'GET'
      const headers = (init.headers ?? {}) as Record<string, string>
      calls.push({ method, url, headers, credentials: init.credentials })
      const r = handler(method, url, headers)
      const body = r.json !== undefined ? JSON.stringify(r.json) : (r.body ?? '')
      const type = r.json !== undefined ? 'application/json' : 'application/xml'
      return new Response(r.status === 204 ? null : body, { status: r.status, headers: { 'Content-Type': type } })
    }),
  )
  return calls
}

afterEach(() => {
  vi.unstubAllGlobals()
  forgetPassword()
})

describe('DavClient', () => {
  it('sends the account in Basic auth (UTF-8), PROPFIND with Depth 1, MOVE with a Destination on this site that replaces nothing', async () => {
    const calls = davFetch((method) => (method === 'PROPFIND' ? { status: 207, body: APACHE } : method === 'MOVE' ? { status: 412 } : { status: 201 }))
    const c = new DavClient('alice', 'pässword')
    expect(c.auth).toBe(`Basic ${btoa('alice:p\u00c3\u00a4ssword')}`)
    const entries = await c.list('')
    expect(calls[0]).toMatchObject({ method: 'PROPFIND', url: '/dav/alice/', headers: { Depth: '1', Authorization: c.auth } })
    await expect(c.move(entries[1], 'b.txt')).rejects.toThrow(/already there/)
    expect(calls[1]).toMatchObject({
      method: 'MOVE',
      url: '/dav/alice/a.txt',
      headers: { Destination: `${window.location.origin}/dav/alice/b.txt`, Overwrite: 'F' },
    })
    await c.mkdir('Holiday photos/new')
    expect(calls[2]).toMatchObject({ method: 'MKCOL', url: '/dav/alice/Holiday%20photos/new/' })
    await c.remove(entries[0])
    expect(calls[3]).toMatchObject({ method: 'DELETE', url: '/dav/alice/Holiday%20photos/' })
  })
})

/** An XMLHttpRequest that reports two progress steps, then answers ``status``. */
class FakeXhr {
  static sent: { method: string; url: string; headers: Record<string, string>; body: Blob }[] = []
  static status = 201
  upload: { onprogress?: (e: { loaded: number; total: number; lengthComputable: boolean }) => void } = {}
  onload?: () => void
  onerror?: () => void
  onabort?: () => void
  status = 0
  withCredentials = false
  private method = ''
  private url = ''
  private headers: Record<string, string> = {}
  open(method: string, url: string) {
    this.method = method
    this.url = url
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v
  }
  abort() {}
  send(body: Blob) {
    FakeXhr.sent.push({ method: this.method, url: this.url, headers: this.headers, body })
    setTimeout(() => {
      this.upload.onprogress?.({ loaded: body.size / 2, total: body.size, lengthComputable: true })
      setTimeout(() => {
        this.status = FakeXhr.status
        this.onload?.()
      }, 20)
    }, 20)
  }
}

describe('Files page', () => {
  const services = { services: ['files'], domain: 'home.cell', files: { webdav_url: 'https://files.home.cell/alice/', login: 'alice' } }

  it('asks for the password, says when it is wrong, then lists the folder and walks into a subfolder', async () => {
    const calls = davFetch((_method, url, headers) => {
      if (url === '/api/account/services') return { status: 200, json: services }
      if (headers.Authorization !== `Basic ${btoa('alice:right one')}`) return { status: 401 }
      if (url === '/dav/alice/') return { status: 207, body: APACHE }
      if (url === '/dav/alice/Holiday%20photos/') return { status: 207, body: '<d:multistatus xmlns:d="DAV:"/>' }
      return { status: 404 }
    })
    render(<MemoryRouter><FilesPage /></MemoryRouter>)
    const password = await screen.findByLabelText('Password of alice')
    await userEvent.type(password, 'wrong')
    await userEvent.click(screen.getByRole('button', { name: 'Open' }))
    expect(await screen.findByText(/password is not right/)).toBeInTheDocument()
    await userEvent.clear(password)
    await userEvent.type(password, 'right one')
    await userEvent.click(screen.getByRole('button', { name: 'Open' }))
    const table = await screen.findByTestId('files-table')
    expect(within(table).getAllByRole('row').slice(1).map((r) => r.getAttribute('data-entry'))).toEqual(['Holiday photos', 'a.txt', 'résumé #1.txt'])
    expect(within(table).getAllByText('2.0 KiB').length).toBeGreaterThan(0)
    // the UI's session cookie is not sent to WebDAV
    const dav = calls.filter((c) => c.url.startsWith('/dav/'))
    expect(dav.length).toBeGreaterThan(0)
    expect(dav.every((c) => c.credentials === 'omit')).toBe(true)
    await userEvent.click(within(table).getByRole('button', { name: 'Holiday photos/' }))
    await screen.findByText('This folder is empty.')
    expect(screen.getByRole('navigation', { name: 'Folder' })).toHaveTextContent('My files/Holiday photos')
  })

  it('uploads with progress, makes a folder, refuses a bad name before sending, renames and deletes after a confirmation', async () => {
    const { rememberPassword } = await import('./webdav')
    rememberPassword('alice', 'pw')
    let listing = APACHE
    const calls = davFetch((method, url) => {
      if (url === '/api/account/services') return { status: 200, json: services }
      if (method === 'PROPFIND') return { status: 207, body: listing }
      if (method === 'MKCOL') return { status: 201 }
      if (method === 'MOVE') return { status: 201 }
      if (method === 'DELETE') return { status: 204 }
      return { status: 404 }
    })
    FakeXhr.sent = []
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    render(<MemoryRouter><FilesPage /></MemoryRouter>)
    await screen.findByTestId('files-table')

    const file = new File(['hello world'], 'notes.txt', { type: 'text/plain' })
    await userEvent.upload(screen.getByLabelText('Files to upload'), file)
    await screen.findByLabelText('Upload of notes.txt')
    await waitFor(() => expect(screen.getByTestId('uploads').querySelector('[data-upload="notes.txt"]')).toHaveAttribute('data-done', 'yes'))
    expect(FakeXhr.sent).toHaveLength(1)
    expect(FakeXhr.sent[0]).toMatchObject({ method: 'PUT', url: '/dav/alice/notes.txt', headers: { 'Content-Type': 'text/plain' } })
    expect(FakeXhr.sent[0].headers.Authorization).toBe(`Basic ${btoa('alice:pw')}`)

    await userEvent.click(screen.getByRole('button', { name: 'New folder' }))
    await userEvent.type(screen.getByLabelText('Name of the new folder'), 'a/b')
    await userEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('A name cannot hold / or \\.')).toBeInTheDocument()
    expect(calls.some((c) => c.method === 'MKCOL')).toBe(false)
    await userEvent.clear(screen.getByLabelText('Name of the new folder'))
    await userEvent.type(screen.getByLabelText('Name of the new folder'), 'Taxes')
    await userEvent.click(screen.getByRole('button', { name: 'Create' }))
    await waitFor(() => expect(calls.some((c) => c.method === 'MKCOL' && c.url === '/dav/alice/Taxes/')).toBe(true))

    await userEvent.click(screen.getByRole('button', { name: 'Rename a.txt' }))
    const input = screen.getByLabelText('New name of a.txt')
    await userEvent.clear(input)
    await userEvent.type(input, 'b.txt')
    await userEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(calls.some((c) => c.method === 'MOVE')).toBe(true))
    expect(calls.find((c) => c.method === 'MOVE')?.headers.Destination).toBe(`${window.location.origin}/dav/alice/b.txt`)

    listing = APACHE
    await userEvent.click(await screen.findByRole('button', { name: 'Delete Holiday photos' }))
    const dialog = await screen.findByRole('alertdialog')
    expect(dialog).toHaveTextContent('everything in it')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === '/dav/alice/Holiday%20photos/')).toBe(true))
  })

  it('tells a person without file storage so', async () => {
    davFetch(() => ({ status: 200, json: { services: [], domain: 'home.cell' } }))
    render(<MemoryRouter><FilesPage /></MemoryRouter>)
    expect(await screen.findByText(/You have no file storage/)).toBeInTheDocument()
  })
})
