import { act, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, vi } from 'vitest'
import { setNavigator } from '../api'

/** A stand-in for the browser's EventSource that the test drives by hand. */
export class FakeEventSource {
  static instances: FakeEventSource[] = []
  url: string
  withCredentials: boolean
  closed = false
  onmessage: ((m: { data: string }) => void) | null = null
  onerror: (() => void) | null = null
  constructor(url: string, init?: { withCredentials?: boolean }) {
    this.url = url
    this.withCredentials = Boolean(init?.withCredentials)
    FakeEventSource.instances.push(this)
  }
  emit(data: unknown) {
    act(() => this.onmessage?.({ data: JSON.stringify(data) }))
  }
  close() {
    this.closed = true
  }
}

/** The first stream the page opened. It opens in an effect, which may run after the page's first
 * paint, so a test that found the page waits for it rather than reading ``instances[0]`` at once. */
export async function openedStream(): Promise<FakeEventSource> {
  await waitFor(() => {
    if (FakeEventSource.instances.length === 0) throw new Error('no EventSource opened yet')
  })
  return FakeEventSource.instances[0]
}

/** Each test of the file: spies for the api module's navigation and a fresh FakeEventSource. */
export function useFakeEventSource(): void {
  beforeEach(() => {
    setNavigator({ toSetup: vi.fn(), toLogin: vi.fn() })
    FakeEventSource.instances = []
    vi.stubGlobal('EventSource', FakeEventSource)
  })
  afterEach(() => {
    setNavigator(null)
    vi.unstubAllGlobals()
  })
}
