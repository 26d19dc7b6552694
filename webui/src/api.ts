// The one module through which the web UI talks to the management API.
//
// - Every request sends credentials (the session cookie).
// - Every state-changing request (POST, PUT, PATCH, DELETE) carries the X-CSRF-Token header with
//   the value of the readable `pic_csrf` cookie (double-submit CSRF protection).
// - 428 (setup not done) sends the user to /setup; 401 (no or expired session) sends the user to the
//   login page, remembering the page they were on so login can return them there.
// - Other errors are thrown as ApiError with the API's {"error", "fields"} body.
// - A read (GET, HEAD) that fails on the network (a phone changing networks, a link that dropped
//   for a moment) is tried again a few times before its error shows; a write never is, as it may
//   have reached the cell.

export const CSRF_COOKIE = 'pic_csrf'
export const CSRF_HEADER = 'X-CSRF-Token'
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** Waits before each further try of a read that failed on the network (ms). */
export const READ_RETRY_DELAYS = [250, 1000, 2500]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** fetch, tried again after a network error (fetch's TypeError) when the request is a read. */
async function fetchRetrying(path: string, init: RequestInit, retries: readonly number[]): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(path, init)
    } catch (err) {
      if (!(err instanceof TypeError) || attempt >= retries.length) throw err
      await sleep(retries[attempt])
    }
  }
}

export class ApiError extends Error {
  status: number
  fields: Record<string, string>
  body: unknown

  constructor(status: number, message: string, fields: Record<string, string> = {}, body: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.fields = fields
    this.body = body
  }
}

export interface Navigator {
  /** Called on 428: the cell is not set up yet. */
  toSetup: () => void
  /** Called on 401: `from` is the page (path + query) the user was on. */
  toLogin: (from: string) => void
}

function currentPage(): string {
  return window.location.pathname + window.location.search
}

const defaultNavigator: Navigator = {
  toSetup: () => {
    if (window.location.pathname !== '/setup') window.location.assign('/setup')
  },
  toLogin: (from) => {
    if (window.location.pathname !== '/login') window.location.assign(loginPath(from))
  },
}

let navigator: Navigator = defaultNavigator

/** The app installs router-based navigation; tests install spies. */
export function setNavigator(nav: Navigator | null): void {
  navigator = nav ?? defaultNavigator
}

/** The login page's address, remembering where to go back to. */
export function loginPath(from: string): string {
  if (!from || from === '/' || from.startsWith('/login') || from.startsWith('/setup')) return '/login'
  return `/login?next=${encodeURIComponent(from)}`
}

/** Only same-site paths are accepted as a post-login destination. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return '/'
  return next
}

export function readCookie(name: string): string | null {
  const parts = document.cookie ? document.cookie.split(';') : []
  for (const part of parts) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return null
}

export interface RequestOptions {
  method?: string
  body?: unknown
  /** Do not navigate on 401 (the login form itself, the "who am I" probe). */
  noAuthRedirect?: boolean
  /** Expect text instead of JSON. */
  text?: boolean
}

export async function request<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = (opts.method ?? 'GET').toUpperCase()
  const headers: Record<string, string> = { Accept: opts.text ? '*/*' : 'application/json' }
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  if (UNSAFE_METHODS.has(method)) {
    const token = readCookie(CSRF_COOKIE)
    if (token) headers[CSRF_HEADER] = token
  }
  const init: RequestInit = {
    method,
    headers,
    credentials: 'include',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  }
  const safe = method === 'GET' || method === 'HEAD'
  const res = await fetchRetrying(path, init, safe ? READ_RETRY_DELAYS : [])

  if (res.ok) {
    if (res.status === 204) return undefined as T
    if (opts.text) return (await res.text()) as T
    const ct = res.headers.get('Content-Type') ?? ''
    if (!ct.includes('json')) return (await res.text()) as T
    return (await res.json()) as T
  }

  let body: unknown = null
  try {
    body = await res.json()
  } catch {
    body = null
  }
  const b = (body && typeof body === 'object' ? body : {}) as { error?: unknown; fields?: unknown }
  const message = typeof b.error === 'string' ? b.error : `${res.status} ${res.statusText || 'error'}`
  const fields =
    b.fields && typeof b.fields === 'object' ? (b.fields as Record<string, string>) : {}

  if (res.status === 428) {
    navigator.toSetup()
  } else if (res.status === 401 && !opts.noAuthRedirect) {
    navigator.toLogin(currentPage())
  }
  throw new ApiError(res.status, message, fields, body)
}

export const api = {
  get: <T = unknown>(path: string, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'GET' }),
  post: <T = unknown>(path: string, body?: unknown, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'POST', body }),
  put: <T = unknown>(path: string, body?: unknown, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'PUT', body }),
  patch: <T = unknown>(path: string, body?: unknown, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'PATCH', body }),
  del: <T = unknown>(path: string, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'DELETE' }),
}

// ---- Typed endpoints -------------------------------------------------------------------------
// The shapes are the API's own: src/generated/api.ts comes from its OpenAPI document (`make openapi`).

import type * as T from './generated/api'
import { limits } from './generated/api'

export type ServiceName = T.Service
export const ALL_SERVICES: readonly ServiceName[] = limits.Service.enum
export const SERVICE_LABELS: Record<ServiceName, string> = {
  dns: 'DNS',
  dhcp: 'DHCP',
  ntp: 'NTP (time)',
  wireguard: 'WireGuard VPN',
  mail: 'Mail',
  calendar: 'Calendar & contacts',
  files: 'Files (WebDAV)',
}

export type UserService = T.UserService
export const USER_SERVICES: readonly UserService[] = limits.UserService.enum
export const USER_SERVICE_LABELS: Record<UserService, string> = {
  mail: 'Mail',
  calendar: 'Calendar & contacts',
  files: 'Files',
  vpn: 'VPN (devices)',
}
export type Role = T.Role
/** The API's role "peer" is a member: one who uses the services given and changes only their own account. */
export const ROLE_LABELS: Record<Role, string> = { admin: 'Admin', peer: 'Member' }
export type UserEntry = T.UserEntry
export type AccountSession = T.AccountSession
export type ClientSettings = T.ClientSettings

export type DomainMode = T.DomainMode
export type SetupRequest = T.SetupRequest
/** The cell's LAN: what it found on its default interface, as the wizard may change it. */
export type LanSettings = T.Lan
export type SetupOptions = T.SetupOptions
export type Run = T.Run
export type RunStatus = T.Run['status']
export type RunEvent = T.RunEvent
/** /cell.json, which caddy serves on :8081 after setup (no API there then). */
export interface CellHttps {
  domain: string
  https: string[]
}
export const FINAL_STATUSES: RunStatus[] = ['successful', 'failed', 'canceled']
export type Peer = T.Peer
export type Certificate = T.Certificate
export type CertificateIssued = T.CertificateIssued
export type NewPeerResponse = T.PeerCreated
export type PeerChanged = T.PeerChanged
export type Me = T.Me
export type Settings = T.Settings
export type CellState = T.CellState
export type ServicesHealth = T.ServicesHealth
export type LogEntry = T.LogEntry
export type StoreOverview = T.StoreOverview
export type CatalogApp = T.CatalogApp
export type Container = T.Container
export type Volume = T.Volume
export type DnsRecordType = T.DnsRecordType
export type DnsRecordOne = T.DnsRecordOne
export type DhcpLease = T.DhcpLease
export type DhcpStatus = T.DhcpStatus

export function userName(me: Me | null | undefined): string | undefined {
  return me?.user.username
}

export const endpoints = {
  health: () => api.get<T.Health>('/health'),
  setupStatus: () => api.get<T.SetupStatus>('/api/setup/status'),
  setupOptions: () => api.get<SetupOptions>('/api/setup/options'),
  checkSetupCode: (setup_code: string) => api.post<T.CodeValid>('/api/setup/code', { setup_code }),
  setup: (req: SetupRequest) => api.post<T.SetupStarted>('/api/setup', req),
  /** The cell's HTTPS addresses, as caddy serves them on :8081 after setup (no API there then). */
  cellHttps: () => api.get<CellHttps>('/cell.json'),
  /**
   * Whether :8081 has switched to HTTPS only: the setup's own run reloads caddy, and from then on
   * plain HTTP answers every API path with a redirect to the page that leads to HTTPS (or, from
   * the WAN, not at all). True once the API no longer answers here.
   */
  switchedToHttps: async (): Promise<boolean> => {
    try {
      const res = await fetch('/api/setup/status', { redirect: 'manual', cache: 'no-store', credentials: 'include' })
      return res.type === 'opaqueredirect' || !(res.headers.get('Content-Type') ?? '').includes('json')
    } catch {
      return true // the firewall no longer lets this address reach :8081
    }
  },
  login: (username: string, password: string) =>
    api.post<Me>('/api/auth/login', { username, password } satisfies T.Login, { noAuthRedirect: true }),
  logout: () => api.post<T.LoggedOut>('/api/auth/logout', {}, { noAuthRedirect: true }),
  me: () => api.get<Me>('/api/auth/me', { noAuthRedirect: true }),
  runs: async () => (await api.get<T.RunList>('/api/runs')).runs,
  startRun: (body: T.RunRequest) => api.post<T.RunStarted>('/api/runs', body),
  cancelRun: (id: string) => api.post<Run>(`/api/runs/${encodeURIComponent(id)}/cancel`, {}),
  state: () => api.get<T.StateView>('/api/state'),
  stateVersions: async () => (await api.get<T.StateVersions>('/api/state/versions')).versions,
  /** Write state version ``version`` again and converge it (``preview``: a check-mode run that saves
   * nothing); ``keepIfFailed``: a failed converge keeps that state for repair instead of undoing it. */
  rollback: (version: number, preview: boolean, keepIfFailed = false) =>
    api.post<T.RollbackStarted>(`/api/state/versions/${version}/rollback${preview ? '?preview=1' : ''}`,
      keepIfFailed ? { keep_if_failed: true } : {}),
  users: async () => (await api.get<T.UserList>('/api/users')).users,
  addUser: (body: T.UserRequest) => api.post<T.UserCreated>('/api/users', body),
  changeUser: (name: string, body: T.UserChange) => api.patch<T.UserChanged>(`/api/users/${encodeURIComponent(name)}`, body),
  resetPassword: (name: string, password: string) =>
    api.post<T.PasswordReset>(`/api/users/${encodeURIComponent(name)}/password`, { password } satisfies T.UserPassword),
  deleteUser: (name: string) => api.del<T.RunId>(`/api/users/${encodeURIComponent(name)}`),
  changePassword: (body: T.PasswordChange) => api.post<T.PasswordChanged>('/api/account/password', body),
  sessions: async () => (await api.get<T.AccountSessions>('/api/account/sessions')).sessions,
  endSession: (id: string) => api.del<T.SessionsEnded>(`/api/account/sessions/${encodeURIComponent(id)}`),
  endOtherSessions: () => api.del<T.SessionsEnded>('/api/account/sessions'),
  clientSettings: () => api.get<T.ClientSettings>('/api/account/services'),
  logs: (params: { source?: string; q?: string; level?: string; limit?: number }) => {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v))
    const tail = qs.toString()
    return api.get<T.LogResult>(`/api/logs${tail ? `?${tail}` : ''}`)
  },
  logVerbosity: () => api.get<T.LogVerbosityView>('/api/logs/verbosity'),
  setLogVerbosity: (verbose: T.VerboseLog[]) => api.put<T.LogVerbosityChanged>('/api/logs/verbosity', { verbose }),
  run: (id: string) => api.get<Run>(`/api/runs/${encodeURIComponent(id)}`),
  runEventsUrl: (id: string) => `/api/runs/${encodeURIComponent(id)}/events`,
  peers: async () => (await api.get<T.PeerList>('/api/peers')).peers,
  addPeer: (body: T.PeerRequest) => api.post<NewPeerResponse>('/api/peers', body),
  changePeer: (name: string, body: T.PeerChange) => api.patch<T.PeerChanged>(`/api/peers/${encodeURIComponent(name)}`, body),
  rekeyPeer: (name: string, body: T.PeerKeys = {}) =>
    api.post<NewPeerResponse>(`/api/peers/${encodeURIComponent(name)}/keys`, body),
  deletePeer: (name: string) => api.del<T.PeerRemoved>(`/api/peers/${encodeURIComponent(name)}`),
  // An admin's preview of a change (?preview=1): its check-mode run; nothing is saved or applied.
  previewAddPeer: (body: T.PeerRequest) => api.post<T.PreviewStarted>('/api/peers?preview=1', body),
  previewChangePeer: (name: string, body: T.PeerChange) =>
    api.patch<T.PreviewStarted>(`/api/peers/${encodeURIComponent(name)}?preview=1`, body),
  previewAddUser: (body: T.UserRequest) => api.post<T.PreviewStarted>('/api/users?preview=1', body),
  previewChangeUser: (name: string, body: T.UserChange) =>
    api.patch<T.PreviewStarted>(`/api/users/${encodeURIComponent(name)}?preview=1`, body),
  previewAddDnsRecord: (body: T.DnsRecordRequest) => api.post<T.PreviewStarted>('/api/dns/records?preview=1', body),
  previewAddDhcpReservation: (body: T.DhcpReservationRequest) =>
    api.post<T.PreviewStarted>('/api/dhcp/reservations?preview=1', body),
  previewAddFirewallOpening: (body: T.FirewallOpeningRequest) =>
    api.post<T.PreviewStarted>('/api/firewall/openings?preview=1', body),
  previewAddPortForward: (body: T.PortForwardRequest) => api.post<T.PreviewStarted>('/api/firewall/forwards?preview=1', body),
  // the WireGuard page and the dashboard: the running interface and the devices online
  wireguardStatus: () => api.get<T.WireGuardStatus>('/api/wireguard/status'),
  calendars: () => api.get<T.CalendarList>('/api/calendars'),
  createCalendar: (body: T.CalendarRequest) => api.post<T.CalendarCollection>('/api/calendars', body),
  services: () => api.get<ServicesHealth>('/api/services'),
  // the dashboard: the host's disk use, memory and the end of the cell's HTTPS certificate (admins only)
  system: () => api.get<T.SystemFacts>('/api/system'),
  settings: () => api.get<Settings>('/api/settings'),
  saveSettings: (body: T.SettingsChange, preview: boolean) =>
    api.put<T.SettingsStarted>(`/api/settings${preview ? '?preview=1' : ''}`, body),
  nameAvailable: (name: string) => api.get<T.NameAvailable>(`/api/setup/name-available?name=${encodeURIComponent(name)}`),
  ddns: () => api.get<T.DdnsView>('/api/ddns'),
  saveDdns: (body: T.DdnsChange) => api.put<T.SettingsStarted>('/api/ddns', body),
  // the Email page: the mail domain, its webmail, the DNS records to publish and Postfix's queue
  mail: () => api.get<T.MailView>('/api/mail'),
  // the Network Services page: the admin's DNS records, DHCP leases and reservations
  dnsRecords: () => api.get<T.DnsRecordList>('/api/dns/records'),
  addDnsRecord: (body: T.DnsRecordRequest) => api.post<T.DnsRecordAdded>('/api/dns/records', body),
  deleteDnsRecord: (id: string) => api.del<T.NetworkChangeStarted>(`/api/dns/records/${encodeURIComponent(id)}`),
  dhcp: () => api.get<T.DhcpStatus>('/api/dhcp'),
  // NTP: the cell's time sources, the networks it serves and the hosts chronyd served
  ntp: () => api.get<T.NtpStatus>('/api/ntp'),
  addDhcpReservation: (body: T.DhcpReservationRequest) => api.post<T.DhcpReservationAdded>('/api/dhcp/reservations', body),
  deleteDhcpReservation: (mac: string) =>
    api.del<T.NetworkChangeStarted>(`/api/dhcp/reservations/${encodeURIComponent(mac)}`),
  firewall: () => api.get<T.FirewallView>('/api/firewall'),
  addFirewallOpening: (body: T.FirewallOpeningRequest) => api.post<T.FirewallRuleAdded>('/api/firewall/openings', body),
  deleteFirewallOpening: (id: string) =>
    api.del<T.NetworkChangeStarted>(`/api/firewall/openings/${encodeURIComponent(id)}`),
  addPortForward: (body: T.PortForwardRequest) => api.post<T.FirewallRuleAdded>('/api/firewall/forwards', body),
  deletePortForward: (id: string) => api.del<T.NetworkChangeStarted>(`/api/firewall/forwards/${encodeURIComponent(id)}`),
  peerConfig: (name: string) => api.get<T.PeerConfig>(`/api/peers/${encodeURIComponent(name)}/config`),
  // links to other cells (admins only)
  cellLinks: () => api.get<T.LinkList>('/api/cells/links'),
  inviteCell: (body: T.LinkInvitationRequest) => api.post<T.LinkInvitation>('/api/cells/invitations', body),
  redeemInvitation: (body: T.LinkRedeemRequest) => api.post<T.LinkRedeemed>('/api/cells/links', body),
  acceptAnswer: (body: T.LinkAcceptRequest) => api.post<T.LinkAccepted>('/api/cells/links/accept', body),
  setLinkGrants: (cellId: string, body: T.LinkGrantsRequest) =>
    api.put<T.LinkGrantsChanged>(`/api/cells/links/${encodeURIComponent(cellId)}`, body),
  previewLinkGrants: (cellId: string, body: T.LinkGrantsRequest) =>
    api.put<T.PreviewStarted>(`/api/cells/links/${encodeURIComponent(cellId)}?preview=1`, body),
  deleteLink: (cellId: string) => api.del<T.LinkRemoved>(`/api/cells/links/${encodeURIComponent(cellId)}`),
  cancelInvitation: (nonce: string) =>
    api.del<T.LinkInvitationCanceled>(`/api/cells/invitations/${encodeURIComponent(nonce)}`),
  // per-device exits (admins only)
  exits: async () => (await api.get<T.ExitList>('/api/exits')).exits,
  addExit: (body: T.ExitRequest) => api.post<T.ExitAdded>('/api/exits', body),
  deleteExit: (name: string) => api.del<T.ExitRemoved>(`/api/exits/${encodeURIComponent(name)}`),
  previewAddExit: (body: T.ExitRequest) => api.post<T.PreviewStarted>('/api/exits?preview=1', body),
  previewDeleteExit: (name: string) => api.del<T.PreviewStarted>(`/api/exits/${encodeURIComponent(name)}?preview=1`),
  exitAddress: (name: string) => api.get<T.ExitPublicAddress>(`/api/exits/${encodeURIComponent(name)}/address`),
  caRootUrl: '/api/ca/root.pem',
  caCrlUrl: '/api/ca/crl.pem',
  certificates: async () => (await api.get<T.CertificateList>('/api/ca/certificates')).certificates,
  issueCertificate: (body: T.CertificateRequest) => api.post<T.CertificateIssued>('/api/ca/certificates', body),
  revokeCertificate: (serial: string) =>
    api.post<T.CertificateRevoked>(`/api/ca/certificates/${encodeURIComponent(serial)}/revoke`),
  // the service store and its containers
  store: () => api.get<T.StoreOverview>('/api/store'),
  saveStore: (body: T.StoreSettings) => api.put<T.RunId>('/api/store', body),
  installApp: (body: T.StoreInstall) => api.post<T.RunId>('/api/store/apps', body),
  upgradeApp: (app: string, body: T.StoreUpgrade) =>
    api.post<T.RunId>(`/api/store/apps/${encodeURIComponent(app)}/upgrade`, body),
  repairApp: (app: string) => api.post<T.RunId>(`/api/store/apps/${encodeURIComponent(app)}/repair`, {}),
  removeApp: (app: string, purge: boolean) =>
    api.del<T.RunId>(`/api/store/apps/${encodeURIComponent(app)}${purge ? '?purge=1' : ''}`),
  // previews: the store role's check-mode run; an app's plan (nothing pulled, started or removed) and the
  // check-mode run of its route (run_id null when the state does not change)
  previewStore: (body: T.StoreSettings) => api.put<T.PreviewStarted>('/api/store?preview=1', body),
  previewInstallApp: (body: T.StoreInstall) => api.post<T.StorePlanned>('/api/store/apps?preview=1', body),
  previewRemoveApp: (app: string, purge: boolean) =>
    api.del<T.StorePlanned>(`/api/store/apps/${encodeURIComponent(app)}?preview=1${purge ? '&purge=1' : ''}`),
  containers: () => api.get<T.Containers>('/api/containers'),
  containerAction: (name: string, action: T.ContainerAction) =>
    api.post<T.ContainerState>(`/api/containers/${encodeURIComponent(name)}/${action}`, {}),
  containerLogs: (name: string, lines = 200) =>
    api.get<T.ContainerLogs>(`/api/containers/${encodeURIComponent(name)}/logs?lines=${lines}`),
  containerInspect: (name: string) => api.get<T.ContainerInspect>(`/api/containers/${encodeURIComponent(name)}/inspect`),
  pullImage: (reference: string) => api.post<T.RunId>('/api/containers/images', { reference } satisfies T.ImagePull),
  backup: () => api.get<T.BackupView>('/api/backup'),
  saveBackup: (body: T.BackupSettings) => api.put<T.RunId>('/api/backup', body),
  backupArchives: async () => (await api.get<T.BackupArchives>('/api/backup/archives')).archives,
  backupNow: () => api.post<T.RunStarted>('/api/backup/runs', {}),
  checkBackups: () => api.post<T.RunStarted>('/api/backup/check', {}),
  restoreBackup: (body: T.BackupRestore) => api.post<T.RunStarted>('/api/backup/restore', body),
  backupKey: (password: string) => api.post<T.BackupKey>('/api/backup/key', { password } satisfies T.BackupKeyRequest),
  confirmBackupKey: () => api.post<T.RunId>('/api/backup/key/confirm', {}),
  setupRestore: (body: T.SetupRestore) => api.post<T.RestoreStarted>('/api/setup/restore', body),
  setupRestoreEventsUrl: (id: string, token: string) =>
    `/api/setup/restore/${encodeURIComponent(id)}/events?token=${encodeURIComponent(token)}`,
}

/** Pages that change the backup settings say so; the passphrase banner listens. */
export const BACKUP_CHANGED = 'pic-backup-changed'
export function notifyBackupChanged(): void {
  window.dispatchEvent(new Event(BACKUP_CHANGED))
}
