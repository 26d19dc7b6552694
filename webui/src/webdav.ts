// The Files page's WebDAV client. It speaks to the cell's own WebDAV server (Apache with mod_dav,
// the same one files.<domain> publishes) through the UI's own site at /dav/ (DAV_PREFIX), so no
// CORS is needed; the server authenticates each request with the person's cell account (HTTP
// Basic, the password their apps use). docs/architecture.md, "Files in the browser", has why.

/** Where the UI's site proxies WebDAV: /dav/<user>/... is https://files.<domain>/<user>/... */
export const DAV_PREFIX = '/dav'

export interface DavEntry {
  /** the decoded path below the user's folder, without a trailing slash ('' for the folder itself) */
  path: string
  name: string
  folder: boolean
  size: number | null
  modified: Date | null
  type: string | null
}

export class DavError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'DavError'
  }
}

/** A WebDAV answer's status in words a person can act on. */
export function davErrorMessage(status: number, what: string): string {
  switch (status) {
    case 401:
      return 'The password is not right (it is your cell account’s password).'
    case 403:
      return `Not allowed: ${what}.`
    case 404:
      return `${what}: it is not there any more.`
    case 405:
    case 412:
      return `${what}: a file or folder of that name is already there.`
    case 409:
      return `${what}: the folder it belongs in is not there.`
    case 413:
      return `${what}: the file is larger than the cell accepts.`
    case 423:
      return `${what}: it is locked by another app.`
    case 507:
      return `${what}: the cell’s storage is full.`
    case 0:
      return `${what}: the cell did not answer.`
    default:
      return `${what}: the cell answered ${status}.`
  }
}

/** Why ``name`` cannot be a file or folder name, or null. */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return 'Enter a name.'
  if (name !== name.trim()) return 'A name cannot start or end with a space.'
  if (name.includes('/') || name.includes('\\')) return 'A name cannot hold / or \\.'
  if (name === '.' || name === '..') return 'Choose another name.'
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'A name cannot hold control characters.'
  if (new TextEncoder().encode(name).length > 255) return 'The name is too long (at most 255 bytes).'
  return null
}

/** The URL path of ``path`` (segments joined by /) in ``user``'s folder, each segment encoded. */
export function davPath(user: string, path: string, folder = false): string {
  const parts = [user, ...path.split('/').filter(Boolean)].map(encodeURIComponent)
  return `${DAV_PREFIX}/${parts.join('/')}${folder ? '/' : ''}`
}

export function parentOf(path: string): string {
  const parts = path.split('/').filter(Boolean)
  parts.pop()
  return parts.join('/')
}

export function joinPath(folder: string, name: string): string {
  return folder ? `${folder}/${name}` : name
}

const DAV = 'DAV:'

function prop(el: Element, name: string): string | null {
  const found = el.getElementsByTagNameNS(DAV, name)[0]
  return found ? (found.textContent ?? '') : null
}

/** The entries of a PROPFIND (Depth: 1) answer of ``user``'s folder ``folder``: each child, folders
 * first then by name; the folder itself is left out. Hrefs are absolute paths or URLs, percent-encoded,
 * under /<user>/ (as the server has it) or under /dav/<user>/. */
export function parsePropfind(xml: string, user: string, folder: string): DavEntry[] {
  const doc = new DOMParser().parseFromString(xml, 'application/xml')
  if (doc.getElementsByTagName('parsererror').length) throw new DavError('The cell’s answer was not WebDAV XML.', 0)
  const own = folder.split('/').filter(Boolean).join('/')
  const out: DavEntry[] = []
  for (const response of Array.from(doc.getElementsByTagNameNS(DAV, 'response'))) {
    const href = prop(response, 'href')
    if (href === null) continue
    let pathname = href.trim()
    if (/^[a-z]+:\/\//i.test(pathname)) pathname = new URL(pathname).pathname
    const segments = pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s))
    if (segments[0] === DAV_PREFIX.slice(1) && segments[1] === user) segments.shift()
    if (segments[0] !== user) continue // not in this user's folder
    const path = segments.slice(1).join('/')
    if (path === own) continue // the folder itself
    // a response may hold several propstats; the 200 one has the properties
    const ok = Array.from(response.getElementsByTagNameNS(DAV, 'propstat')).find((p) => /\s200\s/.test(` ${prop(p, 'status') ?? ''} `))
    const props = ok ?? response
    const folderType = props.getElementsByTagNameNS(DAV, 'collection').length > 0
    const length = prop(props, 'getcontentlength')
    const modified = prop(props, 'getlastmodified')
    const date = modified ? new Date(modified) : null
    out.push({
      path,
      name: segments[segments.length - 1],
      folder: folderType,
      size: !folderType && length !== null && length !== '' && !Number.isNaN(Number(length)) ? Number(length) : null,
      modified: date && !Number.isNaN(date.getTime()) ? date : null,
      type: prop(props, 'getcontenttype') || null,
    })
  }
  return out.sort((a, b) => (a.folder === b.folder ? a.name.localeCompare(b.name) : a.folder ? -1 : 1))
}

const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:"><d:prop>' +
  '<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getcontenttype/></d:prop></d:propfind>'

export type Progress = (loaded: number, total: number) => void

/** One person's folder on the cell, reached with their user name and password. */
export class DavClient {
  readonly auth: string

  constructor(
    readonly user: string,
    password: string,
  ) {
    // btoa takes Latin-1: encode the password's UTF-8 bytes first (Apache compares bytes)
    const bytes = new TextEncoder().encode(`${user}:${password}`)
    this.auth = `Basic ${btoa(String.fromCharCode(...bytes))}`
  }

  private async send(method: string, url: string, what: string, init: RequestInit = {}, ok: number[] = []): Promise<Response> {
    let res: Response
    try {
      res = await fetch(url, {
        ...init,
        method,
        credentials: 'omit', // the UI's session cookie is not WebDAV's business
        headers: { Authorization: this.auth, ...(init.headers as Record<string, string> | undefined) },
      })
    } catch {
      throw new DavError(davErrorMessage(0, what), 0)
    }
    if (!res.ok && !ok.includes(res.status)) throw new DavError(davErrorMessage(res.status, what), res.status)
    return res
  }

  /** The folder's entries (PROPFIND, Depth: 1). */
  async list(folder: string): Promise<DavEntry[]> {
    const res = await this.send('PROPFIND', davPath(this.user, folder, true), folder ? `Opening ${folder}` : 'Opening your files', {
      headers: { Depth: '1', 'Content-Type': 'application/xml; charset=utf-8' },
      body: PROPFIND_BODY,
    })
    return parsePropfind(await res.text(), this.user, folder)
  }

  async mkdir(path: string): Promise<void> {
    await this.send('MKCOL', davPath(this.user, path, true), `New folder ${path}`)
  }

  async remove(entry: DavEntry): Promise<void> {
    await this.send('DELETE', davPath(this.user, entry.path, entry.folder), `Deleting ${entry.name}`)
  }

  /** Rename (MOVE) without replacing anything already there (Overwrite: F answers 412). */
  async move(entry: DavEntry, to: string): Promise<void> {
    await this.send('MOVE', davPath(this.user, entry.path, entry.folder), `Renaming ${entry.name}`, {
      headers: { Destination: `${window.location.origin}${davPath(this.user, to, entry.folder)}`, Overwrite: 'F' },
    })
  }

  /** The file's contents (GET). */
  async download(path: string): Promise<Blob> {
    const res = await this.send('GET', davPath(this.user, path), `Downloading ${path.split('/').pop()}`)
    return res.blob()
  }

  /** PUT a file, reporting the bytes sent (fetch cannot, XMLHttpRequest can). */
  upload(path: string, file: Blob, onProgress?: Progress, signal?: AbortSignal): Promise<void> {
    const what = `Uploading ${path.split('/').pop()}`
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open('PUT', davPath(this.user, path))
      xhr.withCredentials = false
      xhr.setRequestHeader('Authorization', this.auth)
      if (file.type) xhr.setRequestHeader('Content-Type', file.type)
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size)
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress?.(file.size, file.size)
          resolve()
        } else reject(new DavError(davErrorMessage(xhr.status, what), xhr.status))
      }
      xhr.onerror = () => reject(new DavError(davErrorMessage(0, what), 0))
      xhr.onabort = () => reject(new DavError(`${what}: stopped.`, 0))
      signal?.addEventListener('abort', () => xhr.abort())
      xhr.send(file)
    })
  }
}

// The password is kept in this tab's memory only, for the user it belongs to, until logout or reload.
let remembered: { user: string; password: string } | null = null
export function rememberedPassword(user: string): string | null {
  return remembered?.user === user ? remembered.password : null
}
export function rememberPassword(user: string, password: string | null): void {
  remembered = password === null ? null : { user, password }
}
/** At logout. */
export function forgetPassword(): void {
  remembered = null
}
