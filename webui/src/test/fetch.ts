import { vi } from 'vitest'

export type Handler = (url: string, init: RequestInit) => { status: number; body: unknown }

/** Replaces fetch with a handler of (url, init) → {status, body}; returns the calls made. */
export function routeFetch(handler: Handler) {
  const calls: { url: string; init: RequestInit }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      calls.push({ url, init })
      const { status, body } = handler(url, init)
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
    }),
  )
  return calls
}
