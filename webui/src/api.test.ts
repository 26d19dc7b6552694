import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, endpoints, loginPath, readCookie, safeNext, setNavigator } from './api'

type Call = { url: string; init: RequestInit }

function mockFetch(status: number, body: unknown, contentType = 'application/json') {
  const calls: Call[] = []
  const fn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, init })
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': contentType },
    })
  })
  vi.stubGlobal('fetch', fn)
  return calls
}

function headersOf(c: Call): Record<string, string> {
  return c.init.headers as Record<string, string>
}

function clearCookies() {
  for (const c of document.cookie.split(';')) {
    const name = c.split('=')[0].trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
}

describe('api module', () => {
  const nav = { toSetup: vi.fn(), toLogin: vi.fn() }

  beforeEach(() => {
    nav.toSetup.mockReset()
    nav.toLogin.mockReset()
    setNavigator(nav)
    clearCookies()
    window.history.pushState({}, '', '/peers?tab=1')
  })
  afterEach(() => {
    setNavigator(null)
    vi.unstubAllGlobals()
  })

  it('sends the CSRF cookie as X-CSRF-Token on POST, PUT, PATCH and DELETE', async () => {
    document.cookie = 'pic_csrf=tok%2Fen123; path=/'
    document.cookie = 'other=x; path=/'
    const calls = mockFetch(200, { ok: true })
    await api.post('/api/peers', { name: 'a' })
    await api.put('/api/settings', {})
    await api.patch('/api/x', {})
    await api.del('/api/peers/a')
    expect(calls).toHaveLength(4)
    for (const c of calls) expect(headersOf(c)['X-CSRF-Token']).toBe('tok/en123')
    expect(calls.map((c) => c.init.method)).toEqual(['POST', 'PUT', 'PATCH', 'DELETE'])
  })

  it('does not send the CSRF header on GET, and always sends credentials', async () => {
    document.cookie = 'pic_csrf=abc; path=/'
    const calls = mockFetch(200, { ok: true })
    await api.get('/api/peers')
    expect(headersOf(calls[0])['X-CSRF-Token']).toBeUndefined()
    expect(calls[0].init.credentials).toBe('include')
  })

  it('tries a read again after a network error, and never a write', async () => {
    vi.useFakeTimers()
    try {
      let calls = 0
      vi.stubGlobal('fetch', vi.fn(async () => {
        calls += 1
        if (calls < 3) throw new TypeError('Failed to fetch')
        return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { 'Content-Type': 'application/json' } })
      }))
      const read = api.get<{ ok: boolean }>('/api/backups/archives')
      await vi.runAllTimersAsync()
      expect(await read).toEqual({ ok: true })
      expect(calls).toBe(3)

      calls = 0
      vi.stubGlobal('fetch', vi.fn(async () => {
        calls += 1
        throw new TypeError('Failed to fetch')
      }))
      await expect(api.post('/api/backups/run', {})).rejects.toThrow('Failed to fetch')
      expect(calls).toBe(1)

      calls = 0
      const gone = api.get('/api/peers')
      const failed = expect(gone).rejects.toThrow('Failed to fetch')
      await vi.runAllTimersAsync()
      await failed
      expect(calls).toBe(4) // the first try and three more
    } finally {
      vi.useRealTimers()
    }
  })

  it('sends JSON bodies with a JSON content type', async () => {
    const calls = mockFetch(201, { peer: { name: 'a' } })
    const res = await api.post<{ peer: { name: string } }>('/api/peers', { name: 'a', route: 'split' })
    expect(res.peer.name).toBe('a')
    expect(headersOf(calls[0])['Content-Type']).toBe('application/json')
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ name: 'a', route: 'split' })
  })

  it('turns 428 into navigation to /setup and throws', async () => {
    mockFetch(428, { error: 'setup required', redirect: '/setup' })
    await expect(api.get('/api/peers')).rejects.toMatchObject({ status: 428 })
    expect(nav.toSetup).toHaveBeenCalledOnce()
    expect(nav.toLogin).not.toHaveBeenCalled()
  })

  it('turns 401 into the login page, remembering the page the user was on', async () => {
    mockFetch(401, { error: 'authentication required' })
    await expect(api.get('/api/runs')).rejects.toBeInstanceOf(ApiError)
    expect(nav.toLogin).toHaveBeenCalledWith('/peers?tab=1')
    expect(nav.toSetup).not.toHaveBeenCalled()
  })

  it('does not navigate on 401 from the login form itself', async () => {
    mockFetch(401, { error: 'invalid credentials' })
    await expect(endpoints.login('admin', 'x')).rejects.toMatchObject({ status: 401, message: 'invalid credentials' })
    expect(nav.toLogin).not.toHaveBeenCalled()
  })

  it('throws the API error with its field errors on 400', async () => {
    mockFetch(400, { error: 'invalid input', fields: { cell_name: 'bad name' } })
    const err = (await api.post('/api/setup', {}).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(400)
    expect(err.message).toBe('invalid input')
    expect(err.fields).toEqual({ cell_name: 'bad name' })
    expect(nav.toLogin).not.toHaveBeenCalled()
    expect(nav.toSetup).not.toHaveBeenCalled()
  })

  it('copes with an error body that is not JSON', async () => {
    mockFetch(502, '<html>bad gateway</html>', 'text/html')
    const err = (await api.get('/api/peers').catch((e: unknown) => e)) as ApiError
    expect(err.status).toBe(502)
    expect(err.fields).toEqual({})
  })

  it('reads the lists the API wraps', async () => {
    mockFetch(200, { runs: [{ id: '1', status: 'running' }] })
    expect(await endpoints.runs()).toEqual([{ id: '1', status: 'running' }])
    mockFetch(200, { peers: [{ name: 'phone' }] })
    expect(await endpoints.peers()).toEqual([{ name: 'phone' }])
  })

  it('asks for a preview with ?preview=1', async () => {
    const calls = mockFetch(202, { run_id: '7' })
    await endpoints.saveSettings({ timezone: 'UTC' }, true)
    await endpoints.saveSettings({ timezone: 'UTC' }, false)
    expect(calls.map((c) => c.url)).toEqual(['/api/settings?preview=1', '/api/settings'])
    expect(calls.every((c) => c.init.method === 'PUT')).toBe(true)
  })

  it('reads cookies by exact name', () => {
    document.cookie = 'xpic_csrf=no; path=/'
    document.cookie = 'pic_csrf=yes; path=/'
    expect(readCookie('pic_csrf')).toBe('yes')
    expect(readCookie('missing')).toBeNull()
  })
})

describe('login redirects', () => {
  it('remembers the page in ?next=', () => {
    expect(loginPath('/peers?x=1')).toBe('/login?next=%2Fpeers%3Fx%3D1')
    expect(loginPath('/')).toBe('/login')
    expect(loginPath('/login?next=%2Fa')).toBe('/login')
  })

  it('only returns to same-site paths', () => {
    expect(safeNext('/runs/3')).toBe('/runs/3')
    expect(safeNext('//evil.example/x')).toBe('/')
    expect(safeNext('https://evil.example/')).toBe('/')
    expect(safeNext(null)).toBe('/')
    expect(safeNext('/login')).toBe('/')
  })
})
