// Generated from the API's OpenAPI document by `make openapi`; do not edit.

/** a lower-case letter, then a-z, 0-9 or '-' (not at the end); at most 32 characters */
export type Label = string

/** the part of an address before the @: a-z and 0-9, single '.', '_' or '-' between them */
export type MailLocalPart = string

/** a DNS name, one label or more (printer, nas.home.cell): a-z, 0-9 and '-' (not at either end) */
export type CertName = string

/** a certificate's serial number as hex octets (0A:1B:...) */
export type CertSerial = string

/** a domain name of at least two labels, like example.org: each label 1-63 characters of a-z, 0-9 and '-' (not at either end), the last one starting with a letter */
export type Domain = string

/** an IPv4 address like 192.168.1.10 */
export type IPv4 = string

/** an IPv4 network in CIDR notation like 10.0.0.0/24, no host bits set, /8 to /30 */
export type IPv4Cidr = string

/** a domain name or an IPv4 address */
export type Host = IPv4 | Domain

/** a port number from 1 to 65535 */
export type Port = number

/** a WireGuard key: 44 characters of base64 ending in '=' */
export type WgKey = string

/** an IANA time zone name like Europe/Berlin */
export type Timezone = string

/** a network interface name like eth0 (at most 15 characters) */
export type Interface = string

/** from 2m to 365d: seconds, or a number with s, m, h, d or w (12h, 30m, 1d), or 'infinite' */
export type LeaseTime = string | number

/** at least 8 characters and at most 72 bytes, no control characters */
export type Password = string

/** a bcrypt hash ($2b$...) */
export type BcryptHash = string

/** a credential of at most 256 characters, no control characters or line breaks */
export type Secret = string

/** a borg repository: an absolute path (another disk) or ssh://user@host[:port]/path; empty for none */
export type Repository = string

/** a borg archive name: a letter or digit, then letters, digits and . _ : + - */
export type ArchiveName = string

/** an absolute path of data the backups hold (one service's), such as /var/vmail */
export type DataPath = string

/** an ISO 8601 timestamp */
export type Timestamp = string

/** a service of the cell */
export type Service = "dns" | "dhcp" | "ntp" | "wireguard" | "mail" | "calendar" | "files"

export type Services = Service[]

/** a service a user may have */
export type UserService = "mail" | "calendar" | "files" | "vpn"

export type UserServices = UserService[]

/** internal: <name>.cell; pic_ngo: <name>.pic.ngo; custom: your own domain */
export type DomainMode = "internal" | "pic_ngo" | "custom"

/** how a public certificate is proven (pic_ngo and custom domains): http (HTTP-01, port 80 reachable from outside) or dns (DNS-01 through the DDNS provider: pic_ngo, cloudflare or duckdns; any provider with a CNAME delegation of _acme-challenge) */
export type AcmeChallenge = "http" | "dns"

/** split: only the cell's networks go through the tunnel; full: everything */
export type Route = "split" | "full"

/** admin: may change the cell; peer: a member, who may use the services given and change only their own account */
export type Role = "admin" | "peer"

/** the DNS server the cell runs */
export type DnsServer = "dnsmasq" | "coredns"

/** who publishes the cell's public address: none, pic_ngo (<name>.pic.ngo, the pic_ngo domain mode), cloudflare, duckdns, noip or freedns */
export type DdnsProvider = "none" | "pic_ngo" | "cloudflare" | "duckdns" | "noip" | "freedns"

/** publish the AAAA record too where the cell has a public IPv6 address */
export type PublishIpv6 = boolean

/** the TSIG key's algorithm (hmac-sha256 when left out) */
export type TsigAlgorithm = "hmac-sha256" | "hmac-sha512" | "hmac-sha384" | "hmac-sha224" | "hmac-sha1"

/** a TSIG key's name as the DNS server knows it, like cell-acme or home.example.org */
export type TsigKeyName = string

/** the TSIG key's secret, base64 (the secret line of tsig-keygen's output); stored in a 0600 file beside the state, never shown again */
export type TsigSecret = string

/** DNS-01 through a zone the cell may update by RFC 2136 with a TSIG key, for a DDNS provider without a TXT API (noip, freedns): server (and port, 53 when left out), the zone the _acme-challenge CNAMEs point under, the key's name and algorithm; {} for none */
export type AcmeDelegation = {
  server?: Host
  port?: Port
  zone?: Domain
  key_name?: TsigKeyName
  algorithm?: TsigAlgorithm
}

export type Ddns = {
  provider?: DdnsProvider
  hostname?: Domain
  zone?: Domain
  ipv6?: PublishIpv6
  acme_delegation?: AcmeDelegation
}

/** the provider's credentials (No-IP: username and password; Duck DNS and FreeDNS: token; Cloudflare: api_token); stored in a 0600 file beside the state, never shown again */
export type DdnsCredentials = {
  username?: Secret
  password?: Secret
  token?: Secret
  api_token?: Secret
}

/** a list of two addresses [start, end] */
export type DhcpRange = [IPv4, IPv4]

/** a record type both DNS servers of the cell publish */
export type DnsRecordType = "A" | "AAAA" | "CNAME" | "MX" | "TXT" | "SRV"

/** a name relative to the cell's zone: @ (the zone itself), * or *.name (a wildcard), or labels of letters, digits, _ and - separated by dots, like printer or _sip._tcp */
export type DnsRecordName = string

/** A: an IPv4 address; AAAA: an IPv6 address; CNAME: a host name (relative to the zone, or ending in a dot); MX: '<preference> <host>'; SRV: '<priority> <weight> <port> <host>'; TXT: text (no line breaks, backslashes or double quotes) */
export type DnsRecordValue = string

export type DnsRecord = {
  name: DnsRecordName
  type: DnsRecordType
  value: DnsRecordValue
}

export type DnsRecords = DnsRecord[]

/** a MAC address like 52:54:00:12:34:56 (stored in lower case) */
export type MacAddress = string

export type DhcpReservation = {
  name: Label
  mac: MacAddress
  ip: IPv4
}

export type DhcpReservations = DhcpReservation[]

/** tcp or udp */
export type Protocol = "tcp" | "udp"

/** a port of the cell itself opened to some zones (a program of the admin's listens there) */
export type FirewallOpening = {
  port: Port
  protocol: Protocol
  zones: Zone[]
}

/** connections to a port of the cell from some zones, sent on to a LAN host's port */
export type PortForward = {
  protocol: Protocol
  port: Port
  to: IPv4
  to_port: Port
  zones: Zone[]
}

export type FirewallOpenings = FirewallOpening[]

export type PortForwards = PortForward[]

export type UpstreamDns = IPv4[]

export type NtpServers = Host[]

export type Cell = {
  name: Label
  domain_mode?: DomainMode
  domain?: Domain
  timezone?: Timezone
  acme_challenge?: AcmeChallenge
}

export type Network = {
  lan_interface?: Interface
  lan_subnet?: IPv4Cidr
  lan_address?: IPv4
  dhcp_range?: DhcpRange
  dhcp_lease_time?: LeaseTime
  vpn_subnet?: IPv4Cidr
  wireguard_port?: Port
  upstream_dns?: UpstreamDns
  ntp_servers?: NtpServers
  dns_server?: DnsServer
  wireguard_endpoint?: Host
  dns_records?: DnsRecords
  dhcp_reservations?: DhcpReservations
  firewall_openings?: FirewallOpenings
  port_forwards?: PortForwards
}

export type Peer = {
  name: Label
  public_key: WgKey
  ip: IPv4
  route?: Route
  created?: Timestamp
  owner?: Label
  exit?: ExitName
}

/** a lower-case letter, then a-z or 0-9; at most 10 characters (the exit's interface is exit-<name>) */
export type ExitName = string

/** wireguard: an upstream WireGuard server (a provider's wg-quick config); openvpn: an upstream OpenVPN server (a provider's .ovpn with its credentials); tor: the cell's own tor as a transparent proxy (TCP and DNS only) */
export type ExitKind = "wireguard" | "openvpn" | "tor"

/** the upstream server as host:port (a domain name or an IPv4 address) */
export type ExitEndpoint = string

/** the cell's address in the upstream's tunnel, IPv4 with its prefix length (10.66.0.2/32) */
export type ExitAddress = string

/** the exit's resolvers: the first answers its devices' DNS (wireguard: the config's DNS =; openvpn: none - the resolver the server pushes) */
export type ExitDNS = IPv4[]

export type Exit = {
  name: ExitName
  kind: ExitKind
  endpoint?: ExitEndpoint
  address?: ExitAddress
  dns?: ExitDNS
  public_key?: WgKey
  /** seconds between keepalives to the upstream; 0: none */
  keepalive?: number
  /** the exit interface's MTU; left out: 1420 */
  mtu?: number
  remotes?: ExitEndpoint[]
  /** the OpenVPN server's protocol (IPv4) */
  proto?: "udp" | "tcp"
  options?: string[]
  credentials?: ("ca" | "cert" | "key" | "tls-auth" | "tls-crypt" | "auth-user-pass")[]
}

/** a cell's id: 16 hex digits of the SHA-256 of its Ed25519 signing key */
export type CellId = string

/** an Ed25519 public key (32 bytes, base64) */
export type SigningKey = string

/** calendar and files: HTTPS (Caddy, 443); mail: SMTP and IMAP (25, 587, 993) and its webmail (mail.<domain>, 443) */
export type LinkService = "calendar" | "files" | "mail"

export type LinkServices = LinkService[]

export type LinkSubnets = IPv4Cidr[]

export type Link = {
  name: Label
  cell_id: CellId
  zone: Domain
  signing_key: SigningKey
  public_key: WgKey
  endpoint: ExitEndpoint
  subnets: LinkSubnets
  dns: IPv4
  port: Port
  grants?: LinkServices
  offered?: LinkServices
  created?: Timestamp
  peer?: LinkPeer
}

export type LinkPeer = {
  version: number
  zone: Domain
  devices: SharedDevices
  synced: Timestamp
}

export type SharedDevices = Label[]

export type PeerSyncMessage = {
  v: 1
  /** share: what the cell shares; remove: the link is removed */
  kind: "share" | "remove"
  from: CellId
  to: CellId
  version: number
  sent: number
  nonce: string
  share?: {
    zone: Domain
    services: LinkServices
    devices: SharedDevices
  }
}

export type LinkToken = {
  v: 1
  /** invitation: cell A's offer; answer: cell B's reply */
  kind: "invitation" | "answer"
  cell: {
    id: CellId
    name: Label
    zone: Domain
  }
  signing_key: SigningKey
  public_key: WgKey
  endpoint: ExitEndpoint
  subnets: LinkSubnets
  dns: IPv4
  services: LinkServices
  nonce: string
  expires: number
  to?: CellId
  invitation?: string
}

export type User = {
  name: Label
  role?: Role
  password_hash?: BcryptHash
  services?: UserServices
  mail_aliases?: MailAliases
  mail_catch_all?: MailCatchAll
}

/** more addresses (the part before the @) delivered to this person's mailbox, which they may send from too */
export type MailAliases = MailLocalPart[]

/** mail to an address of the domain that nobody has goes to this person (one person at most) */
export type MailCatchAll = boolean

/** how often the timer backs up; off: on demand only */
export type BackupSchedule = "hourly" | "daily" | "weekly" | "off"

/** archives kept by borg prune, 0 to 1000 */
export type BackupKeep = number

/** the repository's passphrase is saved away from the cell */
export type KeyConfirmed = boolean

export type Ca = {
  revoked?: CertSerial[]
}

/** how many days the certificate is valid, 1 to 825 (never past the root's end) */
export type CertDays = number

export type Backup = {
  repository?: Repository
  schedule?: BackupSchedule
  keep_daily?: BackupKeep
  keep_weekly?: BackupKeep
  keep_monthly?: BackupKeep
  key_confirmed?: KeyConfirmed
}

/** a version like 1.2.3 or 2.0-rc1 (numbers separated by dots, then an optional -label) */
export type AppVersion = string

/** an image with its registry and a tag or a digest: registry.example.org[:port]/name:tag or ...@sha256:<64 hex> */
export type PullRef = string

/** calendar: a CalDAV calendar (events, tasks); addressbook: a CardDAV address book */
export type CalendarKind = "calendar" | "addressbook"

/** the name clients show for a calendar or address book (1 to 100 characters, no line breaks) */
export type CalendarName = string

/** a description clients may show (at most 500 characters, no line breaks) */
export type CalendarText = string

/** a colour clients may show, #RRGGBB */
export type CalendarColor = string

/** a container's name or id: letters, digits and _ . - (at most 128 characters) */
export type ContainerName = string

/** what to do with a container */
export type ContainerAction = "start" | "stop" | "restart"

/** a display name: letters, digits, spaces and . _ + - (at most 64 characters) */
export type AppName = string

/** text of at most 500 characters, without control characters or < > */
export type AppText = string

/** an image pinned by digest, with its registry: registry.example.org[:port]/name@sha256:<64 hex> */
export type ImageRef = string

/** an absolute path inside the container, like /data */
export type ContainerPath = string

/** an HTTP path starting with /, of letters, digits and . _ ~ / - */
export type HttpPath = string

/** a path prefix of the cell's own site: / and a name (a lower-case letter, then a-z, 0-9, -) */
export type RoutePath = string

/** an environment variable name: upper-case letters, digits and _ */
export type EnvName = string

/** a value (at most 1024 characters, no control characters), or {secret: N}: N random characters made on install and kept with the app's data */
export type EnvValue = string | {
  secret: number
}

/** lan: the LAN; vpn: the WireGuard peers; wan: everything else */
export type Zone = "lan" | "vpn" | "wan"

/** how Caddy reaches the app: https://<host>.<domain>/ or https://<domain><path>/ (one of the two), proxied to 127.0.0.1:<port> */
export type StoreRoute = {
  host?: Label
  path?: RoutePath
  port: Port
  /** the cell's login (its users' passwords) protects the route */
  login?: boolean
}

/** a port of the app the cell's firewall opens in some zones (published on every address) */
export type StoreOpening = {
  port: Port
  protocol: "tcp" | "udp"
  zones: Zone[]
}

export type StoreVolume = {
  name: Label
  path: ContainerPath
}

/** an HTTP GET on 127.0.0.1:<port><path> that answers 2xx or 3xx when the app works */
export type StoreHealth = {
  port: Port
  path?: HttpPath
}

export type AppManifest = {
  id: Label
  name: AppName
  version: AppVersion
  description?: AppText
  image: ImageRef
  command?: string[]
  /** ports the app listens on, published on 127.0.0.1 with the same number */
  ports: Port[]
  routes?: StoreRoute[]
  firewall?: StoreOpening[]
  volumes?: StoreVolume[]
  environment?: Record<string, EnvValue>
  health: StoreHealth
  /** MiB of memory the app needs (its container's limit) */
  memory: number
  /** MiB of disk its image and data need; an install needs this much free */
  disk: number
}

/** an index of app manifests; an app may appear once per version */
export type AppIndex = {
  apps: AppManifest[]
}

/** an installed app: its version and what the cell's roles publish of it (from its manifest) */
export type StoreApp = {
  id: Label
  version: AppVersion
  routes?: StoreRoute[]
  firewall?: StoreOpening[]
}

/** where the index of apps is: an http(s) URL or an absolute path on the cell; empty for the index the cell ships */
export type IndexLocation = string

/** the container engine is installed and apps may be installed */
export type StoreEnabled = boolean

export type Store = {
  enabled?: StoreEnabled
  index?: IndexLocation
  apps?: StoreApp[]
}

/** a log that may be verbose: dns (every query), dhcp (every exchange), mail (Postfix and Dovecot debug), api (the management API's DEBUG lines) */
export type VerboseLog = "dns" | "dhcp" | "mail" | "api"

export type Logs = {
  verbose?: VerboseLog[]
}

export type CellState = {
  version: 1
  setup_completed?: boolean
  cell: Cell
  network?: Network
  services?: Services
  peers?: Peer[]
  exits?: Exit[]
  links?: Link[]
  users?: User[]
  ddns?: Ddns
  backup?: Backup
  store?: Store
  ca?: Ca
  logs?: Logs
}

export type BackupKeyRequest = {
  password: string
}

export type BackupRestore = {
  archive: ArchiveName
  data?: DataPath
}

export type BackupSettings = {
  repository?: Repository
  schedule?: BackupSchedule
  keep_daily?: BackupKeep
  keep_weekly?: BackupKeep
  keep_monthly?: BackupKeep
  key_confirmed?: KeyConfirmed
}

export type CalendarRequest = {
  owner?: Label
  name: Label
  displayname: CalendarName
  kind: CalendarKind
  description?: CalendarText
  color?: CalendarColor
}

export type CertificateRequest = {
  name: CertName
  days?: CertDays
  pkcs12_password?: Password
}

export type DdnsChange = {
  provider?: DdnsProvider
  hostname?: Domain
  zone?: Domain
  ipv6?: PublishIpv6
  acme_challenge?: AcmeChallenge
  acme_delegation?: AcmeDelegation
  credentials?: DdnsCredentials
  acme_delegation_secret?: TsigSecret
  /** a domain name or an IPv4 address devices dial from outside; empty: the DDNS or custom name */
  wireguard_endpoint?: Host | ""
}

export type DhcpReservationRequest = {
  name: Label
  mac: MacAddress
  ip: IPv4
}

export type DnsRecordRequest = {
  name: DnsRecordName
  type: DnsRecordType
  value: DnsRecordValue
}

export type ExitRequest = {
  name: ExitName
  kind?: ExitKind
  dns?: ExitDNS
  /** wireguard: the provider's wg-quick configuration: [Interface] PrivateKey, Address (DNS, MTU) and one [Peer] with PublicKey, Endpoint, AllowedIPs (0.0.0.0/0), PresharedKey and PersistentKeepalive. openvpn: the provider's .ovpn with remote, inline <ca> and <cert>/<key> (or auth-user-pass), <tls-auth> or <tls-crypt>; directives that run programs or change routes are refused. tor: none (the cell's own tor) */
  config?: string
  /** openvpn: the username auth-user-pass sends */
  username?: string
  /** openvpn: the password auth-user-pass sends */
  password?: string
}

export type FirewallOpeningRequest = {
  protocol: Protocol
  port: Port
  zones: Zone[]
}

export type ImagePull = {
  reference: PullRef
}

export type LinkAcceptRequest = {
  /** a signed token of cell linking (pic-link1.<payload>.<signature>) */
  token: string
}

export type LinkGrantsRequest = {
  grants: LinkServices
}

export type LinkInvitationRequest = {
  services?: LinkServices
  /** how long the invitation may be redeemed; left out: 24 */
  hours?: number
  endpoint?: Host
}

export type LinkRedeemRequest = {
  /** a signed token of cell linking (pic-link1.<payload>.<signature>) */
  token: string
  services?: LinkServices
  endpoint?: Host
}

export type LogVerbosity = {
  verbose: VerboseLog[]
}

export type Login = {
  username: string
  password: string
}

export type PasswordChange = {
  current_password: string
  new_password: Password
}

export type PeerChange = {
  name?: Label
  route?: Route
  owner?: Label
  /** where the device's traffic leaves the cell: an exit's name; empty: the cell's own uplink */
  exit?: ExitName | ""
}

export type PeerKeys = {
  public_key?: WgKey
}

export type PeerRequest = {
  name: Label
  route?: Route
  public_key?: WgKey
  owner?: Label
  exit?: ExitName
}

export type PeerSyncRequest = {
  /** a signed peer-sync message (pic-sync1.<payload>.<signature>) */
  message: string
}

export type PortForwardRequest = {
  protocol: Protocol
  port: Port
  zones: Zone[]
  to: IPv4
  to_port?: Port
}

export type RollbackRequest = {
  /** if its converge fails, keep that state for repair instead of undoing it */
  keep_if_failed?: boolean
}

export type RunRequest = {
  /** roles to converge */
  tags?: ("common" | "firewall" | "ca" | "chrony" | "wireguard" | "exits" | "cell_link" | "mailserver" | "webmail" | "radicale" | "webdav" | "ddns" | "caddy" | "coredns" | "dnsmasq" | "api" | "backup" | "store" | "webui")[]
  check?: boolean
}

export type SettingsChange = {
  cell_name?: Label
  services?: Services
  timezone?: Timezone
  upstream_dns?: UpstreamDns
  ntp_servers?: NtpServers
  dhcp_range?: DhcpRange
  dhcp_lease_time?: LeaseTime
  domain_mode?: DomainMode
  domain?: Domain
}

export type SetupCode = {
  setup_code: string
}

export type SetupRequest = {
  cell_name: Label
  domain_mode: DomainMode
  domain?: Domain
  timezone: Timezone
  services: Services
  upstream_dns?: UpstreamDns
  lan_interface?: Interface
  lan_subnet?: IPv4Cidr
  lan_address?: IPv4
  dhcp_range?: DhcpRange
  admin_password: Password
  setup_code: string
}

export type SetupRestore = {
  setup_code: string
  repository: unknown
  passphrase: Secret
  archive?: ArchiveName
  /** the old cell's backup ssh key (OpenSSH private key), for an ssh repository */
  ssh_key?: string
}

export type StoreInstall = {
  app: Label
  version?: AppVersion
}

export type StoreSettings = {
  enabled?: StoreEnabled
  index?: IndexLocation
}

export type StoreUpgrade = {
  version?: AppVersion
}

export type UserChange = {
  role?: Role
  services?: UserServices
  mail_aliases?: MailAliases
  mail_catch_all?: MailCatchAll
}

export type UserPassword = {
  password: Password
}

export type UserRequest = {
  name: Label
  role?: Role
  services?: UserServices
  mail_aliases?: MailAliases
  mail_catch_all?: MailCatchAll
  password: Password
}

export type Error = {
  error: string
  fields?: Record<string, string>
}

export type Health = {
  status: string
  setup_completed: boolean
  state: "ok" | "damaged"
  version: string
}

export type SetupStatus = {
  completed: boolean
}

export type Lan = {
  lan_interface: Interface
  lan_subnet: IPv4Cidr
  lan_address: IPv4
  dhcp_range: DhcpRange
}

export type SetupOptions = {
  services: Services
  domain_modes: DomainMode[]
  defaults: {
    cell_name: Label
    timezone: Timezone
    services: Services
    upstream_dns: UpstreamDns
    lan: Lan
    lan_dhcp_servers: IPv4[]
  }
}

export type CodeValid = {
  valid: boolean
}

export type SessionUser = {
  username: string
  role: Role
  /** Unix time */
  expires_at: number
}

export type Me = {
  user: SessionUser
}

export type SetupStarted = {
  run_id: string
  user: SessionUser
  /** where the UI answers once the run is done (the cell's name, then its LAN address): after setup :8081 only leads there */
  https: string[]
}

export type LoggedOut = {
  status: string
}

export type PasswordChanged = {
  status: string
  run_id: string | null
}

export type Run = {
  id: string
  kind: "converge" | "preview" | "backup" | "check" | "restore" | "store"
  status: "pending" | "running" | "successful" | "failed" | "canceled"
  tags: string[]
  check: boolean
  description: string
  state_version: number | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  error: string | null
  /** the failed run whose change this run undoes */
  undo_of: string | null
  /** the run that undid this failed change */
  undone_by: string | null
}

export type RunList = {
  runs: Run[]
}

export type RunId = {
  run_id: string
}

export type Certificate = {
  serial: CertSerial
  name: string
  not_before: string
  not_after: string
  revoked: boolean
}

export type CertificateList = {
  certificates: Certificate[]
}

export type CertificateIssued = {
  certificate: Certificate
  /** the certificate (PEM) */
  certificate_pem: string
  /** its private key (PEM), in this answer only: the cell keeps no copy */
  key_pem: string
  /** key, certificate and the cell's root as one PKCS#12 file protected by pkcs12_password (only when the request gave one), in this answer only */
  pkcs12?: string
}

export type CertificateRevoked = {
  certificate: Certificate
  run_id: string
}

export type RunStarted = {
  run_id: string
  run: Run
}

export type RestoreStarted = {
  run_id: string
  /** follows the run (its events) before login */
  token: string
  run: Run
}

/** One `data:` line of a run's event stream: an ansible-runner event trimmed to what the UI shows and scrubbed of secrets, or the API's own `pic_run_status` (status changes; the stream ends after the one with a final status). */
export type RunEvent = {
  /** 0, 1, 2, ... within the run; the SSE id */
  seq: number
  run_id: string
  /** pic_run_status, pic_step (a step of a backup, check or restore), or an ansible-runner event name */
  event: string
  /** pic_step only: open, create, prune, check, state, converge, data, health, done, ... */
  step?: string
  /** pic_step only: what the step does */
  message?: string
  created?: string | null
  /** pic_run_status only */
  status?: "pending" | "running" | "successful" | "failed" | "canceled"
  /** pic_run_status only: why the run failed */
  error?: string
  counter?: number | null
  stdout?: string
  playbook?: string
  play?: string
  task?: string
  task_action?: string
  role?: string
  host?: string
  changed?: boolean
  failed?: boolean
  /** the failed task's message */
  msg?: unknown
  /** the task's diff (check mode) */
  diff?: unknown
  /** playbook_on_stats only: per host counts */
  stats?: Record<string, Record<string, number>>
}

export type PeerList = {
  peers: Peer[]
}

export type ExitView = {
  name: ExitName
  kind: ExitKind
  endpoint?: ExitEndpoint
  address?: ExitAddress
  dns?: ExitDNS
  public_key?: WgKey
  /** seconds between keepalives to the upstream; 0: none */
  keepalive?: number
  /** the exit interface's MTU; left out: 1420 */
  mtu?: number
  remotes?: ExitEndpoint[]
  /** the OpenVPN server's protocol (IPv4) */
  proto?: "udp" | "tcp"
  options?: string[]
  credentials?: ("ca" | "cert" | "key" | "tls-auth" | "tls-crypt" | "auth-user-pass")[]
  /** the peers whose traffic leaves through this exit */
  devices: string[]
  /** its private key file (openvpn: every credential file) is on the cell */
  keys_stored: boolean
  /** a preshared key file is on the cell */
  preshared_key: boolean
  live: ExitLive
}

export type ExitLive = {
  /** the wg-quick (openvpn: openvpn-client) unit's state: active, inactive, failed, activating, ..., or unknown */
  unit: string
  /** the unit is active and its interface answers (openvpn: connected, its tun has the address the server gave) */
  up: boolean
  /** the exit server's address as the tunnel last saw it (wireguard) */
  endpoint: string
  /** openvpn: the cell's address in the tunnel (IPv4/prefix); empty while not connected */
  address?: string
  /** epoch seconds of the latest handshake; 0: never */
  latest_handshake: number
  /** bytes received from the exit server */
  rx: number
  /** bytes sent to the exit server */
  tx: number
  /** the cell's clock (epoch seconds), to tell the handshake's age */
  now: number
  /** why the tunnel is not up or could not be read */
  reason?: string
}

export type ExitPublicAddress = {
  /** the exit's name */
  exit: string
  /** the IPv4 address the source saw the request come from; empty when it could not be told */
  address: string
  /** the address source asked (the DDNS updater's ipv4_source) */
  source: string
  /** why the address could not be told */
  reason?: string
}

export type LinkInvitationCanceled = {
  nonce: string
  canceled: boolean
}

export type LinkView = {
  name: Label
  cell_id: CellId
  zone: Domain
  signing_key: SigningKey
  public_key: WgKey
  endpoint: ExitEndpoint
  subnets: LinkSubnets
  dns: IPv4
  port: Port
  grants?: LinkServices
  offered?: LinkServices
  created?: Timestamp
  peer?: LinkPeer
  /** the link's WireGuard interface (cl-<id>) */
  interface: string
  /** this end's private key file is on the cell */
  keys_stored: boolean
  live: ExitLive
}

export type LinkList = {
  cell: {
    id: CellId
    signing_key: SigningKey
  }
  links: LinkView[]
  invitations: {
    nonce: string
    expires: number
    services: LinkServices
    port: number
  }[]
}

export type LinkInvitation = {
  /** the signed invitation to hand to the other cell's admin (single use) */
  token: string
  nonce: string
  /** epoch seconds after which it is refused */
  expires: number
  cell: {
    id: CellId
    name: string
    zone: string
  }
}

export type LinkRedeemed = {
  link: Link
  /** the signed answer to hand back to the inviting cell (POST /api/cells/links/accept there) */
  answer: string
  run_id: string
}

export type LinkAccepted = {
  link: Link
  run_id: string
}

export type LinkRemoved = {
  run_id: string
  other_side: {
    /** the other cell took the signed remove and removes its end too */
    reached: boolean
    /** why the other cell was not reached (its end stays until its admin removes it) */
    error?: string
  }
}

export type PeerSyncTaken = {
  run_id: string
}

export type LinkGrantsChanged = {
  link: Link
  run_id: string
}

export type ExitList = {
  exits: ExitView[]
}

export type ExitOne = {
  exit: ExitView
}

export type ExitAdded = {
  exit: Exit
  run_id: string
}

export type ExitRemoved = {
  run_id: string
}

export type PeerRemoved = {
  run_id: string
  /** applied to the running cell: it can connect (or is cut off) now */
  ready: boolean
  /** wireguard, nat, dns: each part's outcome */
  live?: Record<string, string>
  /** why it was not applied at once (it is when its run ends) */
  live_error?: string
}

export type PeerOne = {
  peer: Peer
}

export type PeerCreated = {
  peer: Peer
  /** the device's wg-quick configuration */
  config: string
  /** the configuration as a QR code (SVG) */
  qr_svg: string
  run_id: string
  private_key_included: boolean
  /** applied to the running cell: it can connect (or is cut off) now */
  ready: boolean
  /** wireguard, nat, dns: each part's outcome */
  live?: Record<string, string>
  /** why it was not applied at once (it is when its run ends) */
  live_error?: string
}

export type PeerChanged = {
  peer: Peer
  /** the device's configuration now (a route change changes its AllowedIPs); the private key line is a placeholder for the key it has */
  config: string
  qr_svg: string
  run_id: string
  /** applied to the running cell: it can connect (or is cut off) now */
  ready: boolean
  /** wireguard, nat, dns: each part's outcome */
  live?: Record<string, string>
  /** why it was not applied at once (it is when its run ends) */
  live_error?: string
}

export type PeerConfig = {
  peer: Peer
  /** the host the configuration dials */
  endpoint: string
  /** wg-quick configuration; the private key line is a placeholder for the key the device already has */
  config: string
  qr_svg: string
}

/** What the cell's updater (pic-ddns) last did, in the provider's own words */
export type DdnsStatus = {
  provider: string
  hostname: string | null
  /** the public addresses last found, by family */
  public: Record<string, string> | null
  /** the addresses the provider accepted */
  accepted: Record<string, string> | null
  last_answer: string | null
  last_success: string | null
  last_error: string | null
  last_error_at: string | null
  checked_at: string | null
  failures: number | null
  /** stopped until the settings or credentials change (the provider said they are wrong) */
  blocked: boolean | null
  /** after an error: not before this */
  next_attempt: string | null
}

export type DdnsView = {
  settings: {
    provider: DdnsProvider
    hostname: string
    zone: string
    ipv6: boolean
    wireguard_endpoint: string
    acme_challenge: AcmeChallenge
    acme_delegation: AcmeDelegation
  }
  domain_mode: DomainMode
  domain: Domain
  provider: DdnsProvider
  /** the name published (pic_ngo: <name>.pic.ngo) */
  hostname: string
  /** the host devices dial from outside */
  endpoint: string
  /** per provider, the credentials stored: true (a secret) or the username */
  credentials: Record<string, Record<string, boolean | string>>
  /** the credentials each provider needs */
  needs: Record<string, string[]>
  status: DdnsStatus | null
  /** the names on the DNS-01 certificate */
  acme_names: string[]
  /** with a CNAME delegation: the records the owner of the names creates once */
  acme_cnames: AcmeCname[]
}

export type AcmeCname = {
  /** _acme-challenge.<name>. (absolute) */
  name: string
  type: "CNAME"
  /** <name>.<delegation zone>. (absolute) */
  target: string
}

export type NameAvailable = {
  name: string
  available: boolean | null
  error: string | null
}

export type UserEntry = {
  name: Label
  role: Role
  services: UserServices
  can_login: boolean
  mail_aliases: MailAliases
  mail_catch_all: MailCatchAll
}

export type UserList = {
  users: UserEntry[]
}

export type UserCreated = {
  user: UserEntry
  run_id: string
}

export type UserChanged = {
  user: UserEntry
  run_id: string
}

export type PasswordReset = {
  status: string
  run_id: string
}

export type AccountSession = {
  id: string
  /** Unix time */
  created_at: number
  /** Unix time */
  expires_at: number
  /** the address it logged in from */
  remote: string
  /** the browser's User-Agent at login */
  agent: string
  /** the session of this request */
  current: boolean
}

export type AccountSessions = {
  sessions: AccountSession[]
}

export type SessionsEnded = {
  ended: number
}

export type ClientSettings = {
  username: string
  domain: string
  services: UserServices
  mail?: {
    address: string
    /** more addresses, same mailbox */
    aliases: string[]
    /** unknown addresses of the domain land here */
    catch_all: boolean
    login: string
    imap: ClientServer
    smtp: ClientServer
  }
  calendar?: {
    caldav_url: string
    carddav_url: string
    login: string
  }
  files?: {
    webdav_url: string
    login: string
  }
}

export type ClientServer = {
  host: string
  port: number
  security: "SSL/TLS" | "STARTTLS"
}

export type Settings = {
  cell_name: Label
  domain_mode: DomainMode
  domain: Domain
  services: Services
  timezone: Timezone
  upstream_dns: UpstreamDns
  ntp_servers: NtpServers
  dhcp_range: DhcpRange
  dhcp_lease_time: string
}

export type SettingsStarted = {
  run_id: string
  preview: boolean
}

export type PreviewStarted = {
  run_id: string
  preview: true
}

export type StateView = {
  version: number
  /** password hashes masked */
  state: CellState
}

export type StateVersions = {
  versions: {
    version: number
    saved_at: string
    /** the state's paths this version changed */
    changed: string[]
    /** why this version does not load */
    problem?: string
  }[]
}

export type RollbackStarted = {
  run_id: string
  preview: boolean
  /** the version written (not in a preview) */
  version?: number
}

export type ServiceHealth = {
  name: Service
  enabled: boolean
  status: "ok" | "degraded" | "down" | "disabled"
  units: {
    name: string
    active: boolean
  }[]
  ports: {
    port: number
    proto: string
    open: boolean
  }[]
}

export type ServicesHealth = {
  checked_at: string
  services: ServiceHealth[]
}

export type LogEntry = {
  time?: string
  level?: string
  logger?: string
  unit?: string
  message?: string
}

export type LogResult = {
  source: string
  entries: LogEntry[]
}

export type LogVerbosityView = {
  verbose: VerboseLog[]
  logs: VerboseLog[]
}

export type LogVerbosityChanged = {
  verbose: VerboseLog[]
  /** null when nothing changed */
  run_id: string | null
}

export type CatalogApp = {
  id: Label
  name: AppName
  description: AppText
  latest: AppVersion
  versions: AppVersion[]
  /** the version the engine runs */
  installed: string | null
  /** its container's state */
  state: string | null
  /** the app has a data directory (kept by a remove) */
  data: boolean
  memory: number
  disk: number
  routes: StoreRoute[]
}

export type StoreOverview = {
  enabled: boolean
  index: IndexLocation
  installed: StoreApp[]
  apps: CatalogApp[]
  /** why the index or the engine could not be read */
  error: string | null
}

export type StorePlan = {
  app: Label
  name?: AppName
  version?: AppVersion
  image?: string
  ports?: {
    port: number
    protocol: string
    address: string
  }[]
  /** MiB the app needs */
  memory?: number
  /** MiB the host has available */
  memory_available?: number | null
  /** MiB of disk the app needs */
  disk?: number
  /** no port, disk or memory conflict */
  fits?: boolean
  /** what the install would refuse, by field (app, ports, disk, memory) */
  problems?: Record<string, string>
  routes?: StoreRoute[]
  firewall?: StoreOpening[]
  /** a removal: the container that goes */
  container?: string | null
  /** a removal: the engine's volumes that go */
  volumes?: string[]
  data: {
    path: string
    found: boolean
    kept: boolean
  }
}

export type StorePlanned = {
  /** the check-mode run of the state it changes */
  run_id: string | null
  preview: true
  plan: StorePlan
}

export type ContainerPort = {
  container_port: number
  protocol: string
  host_ip: string
  host_port: number
}

export type Container = {
  id: string
  name: string
  image: string
  state: string
  ports: ContainerPort[]
  started_at: string | null
  uptime_seconds: number | null
  /** the store's app it runs */
  app: string | null
  version: string | null
}

export type Volume = {
  name: string
  driver: string
  path: string
  app: string | null
  size_bytes: number
}

export type Containers = {
  enabled: boolean
  containers: Container[]
  volumes: Volume[]
}

export type ContainerState = {
  name: string
  state: string
}

export type ContainerLogs = {
  name: string
  lines: string[]
}

export type ContainerInspect = {
  name: string
  inspect: Record<string, unknown>
}

/** The outcome of the last backup or check (the agent's status files); null before the first */
export type BackupResult = {
  ok: boolean
  started_at: string
  finished_at?: string
  error?: string
  archive?: string
  repository?: string
  original_size?: number | null
  deduplicated_size?: number | null
  quiesced?: string[]
  quiesced_seconds?: number
}

export type BackupStatus = {
  repository: string
  /** the repository exists and this cell's passphrase opens it */
  initialised: boolean
  last: BackupResult | null
  check: BackupResult | null
  /** the data a restore may put back alone */
  data_paths: DataPath[]
}

export type BackupView = {
  settings: Backup
  status: BackupStatus | null
  /** why the agent could not say */
  status_error: string | null
}

export type BackupArchive = {
  name: ArchiveName
  time: string
  /** bytes backed up */
  original_size: number | null
  compressed_size: number | null
  /** bytes only this archive stores */
  deduplicated_size: number | null
  nfiles: number | null
}

export type BackupArchives = {
  archives: BackupArchive[]
}

export type BackupKey = {
  repository: string
  /** opens the repository: keep it away from the cell */
  passphrase: string
  /** borg key export, for a repository whose key is damaged */
  key_export: string
  /** what a backup server authorises */
  ssh_public_key: string
}

/** this document */
export type OpenApi = Record<string, unknown>

export type DnsRecordOne = {
  id: string
  name: DnsRecordName
  type: DnsRecordType
  value: DnsRecordValue
}

export type DnsRecordList = {
  /** the zone the names are relative to */
  zone: string
  records: DnsRecordOne[]
}

export type DnsRecordAdded = {
  record: DnsRecordOne
  run_id: string
}

export type NetworkChangeStarted = {
  run_id: string
}

export type FirewallRule = {
  id: string
  protocol: Protocol
  port: number
  zones: Zone[]
  /** port forwards only: the LAN host */
  to?: string
  /** port forwards only: the LAN host's port */
  to_port?: number
}

export type FirewallView = {
  openings: FirewallRule[]
  forwards: FirewallRule[]
  cell_ports: {
    protocol: Protocol
    port: number
    what: string
  }[]
}

export type FirewallRuleAdded = {
  rule: FirewallRule
  run_id: string
}

export type DhcpLease = {
  mac: string
  ip: string
  /** '' when the device sent none */
  hostname: string
  /** ISO 8601 UTC; null: never */
  expires: string | null
  /** a reservation names this MAC address */
  reserved: boolean
}

export type NtpStatus = {
  /** the cell runs its NTP service */
  enabled: boolean
  servers: string[]
  serves: IPv4Cidr[]
  clients: NtpClient[]
  /** why the hosts served could not be read */
  clients_error?: string
}

export type NtpClient = {
  address: string
  ntp_packets: number
  /** seconds since its last request */
  last_seen: number | null
}

export type DhcpStatus = {
  /** the cell runs its DHCP service */
  enabled: boolean
  lan_subnet: IPv4Cidr
  lan_address: IPv4
  dhcp_range: DhcpRange
  dhcp_lease_time: string
  reservations: DhcpReservation[]
  leases: DhcpLease[]
  /** why the leases could not be read */
  leases_error?: string
}

export type MailRecord = {
  /** the full name to publish the record under */
  name: string
  type: "MX" | "TXT"
  value: string
}

export type MailQueued = {
  queue_id: string
  /** Postfix's queue: active, deferred, hold, ... */
  queue_name: string
  /** ISO 8601 UTC */
  arrival_time: string | null
  message_size: number
  sender: string
  recipients: {
    address: string
    /** '' while not delayed */
    delay_reason: string
  }[]
}

export type MailView = {
  /** the cell runs its mail service */
  enabled: boolean
  /** the mail domain: addresses are <user>@<it> */
  domain: string
  webmail_url: string
  records: MailRecord[]
  /** why the records could not be read */
  records_error?: string
  queue: MailQueued[]
  /** why the queue could not be read */
  queue_error?: string
}

export type WireGuardDevice = {
  name: Label
  /** the person whose device it is; '' for the admins' */
  owner: string
  ip: IPv4
  route: Route
  /** where its latest packets came from (host:port); '' before any */
  endpoint: string
  /** epoch seconds; 0: never */
  latest_handshake: number
  /** bytes received from it */
  rx: number
  /** bytes sent to it */
  tx: number
  /** a handshake in the last online_window seconds */
  online: boolean
}

export type WireGuardStatus = {
  /** the interface is running and was read */
  up: boolean
  /** why the interface could not be read (up false) */
  reason?: string
  /** the cell's clock, epoch seconds (handshake ages count from it) */
  now: number
  online_window: number
  /** devices online */
  online: number
  /** devices listed */
  total: number
  devices: WireGuardDevice[]
  /** admin only */
  interface?: {
    name: string
    /** '' when the interface is not up */
    public_key: string
    listen_port: number
    /** host:port the cell's device configurations dial */
    endpoint: string
    subnet: IPv4Cidr
    address: IPv4
  }
}

export type CalendarCollection = {
  /** the collection's folder name, the last part of its address */
  name: string
  kind: CalendarKind
  displayname: string
  description: string
  /** #RRGGBB, or '' when none is set */
  color: string
  /** its CalDAV (calendar) or CardDAV (address book) address */
  url: string
}

export type CalendarList = {
  /** the cell runs the calendar service */
  enabled: boolean
  /** why the collections could not be read */
  error?: string
  people: {
    user: string
    /** the person's address, as My services gives it */
    url: string
    collections: CalendarCollection[]
  }[]
}

export type DhcpReservationAdded = {
  reservation: DhcpReservation
  run_id: string
}

export type DiskUse = {
  /** a path on the filesystem */
  path: string
  /** bytes */
  total?: number
  /** bytes */
  used?: number
  /** bytes free for unprivileged users */
  available?: number
  /** why it could not be read (no sizes then) */
  error?: string
}

export type SystemFacts = {
  disks: DiskUse[]
  memory: {
    /** bytes (MemTotal) */
    total?: number
    /** bytes (MemAvailable) */
    available?: number
    /** why it could not be read (no sizes then) */
    error?: string
  }
  certificate: {
    status: "ok" | "expiring" | "expired" | "unknown"
    /** ISO 8601, UTC */
    not_after?: string
    /** whole days until not_after (negative once ended) */
    days_left?: number
    /** who issued it: internal CA, ACME (DNS-01) */
    source?: string
    /** the file it was read from */
    file?: string
    /** why it is unknown */
    reason?: string
    /** fewer days left than this: expiring */
    warn_days: number
  }
}

/** The rules of each field type, as the API checks them (patterns are ECMAScript). */
export const limits = {
  "Label": {
    "pattern": "^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$",
    "minLength": 1,
    "maxLength": 32,
    "description": "a lower-case letter, then a-z, 0-9 or '-' (not at the end); at most 32 characters"
  },
  "MailLocalPart": {
    "pattern": "^[a-z0-9]+([._-][a-z0-9]+)*$",
    "minLength": 1,
    "maxLength": 64,
    "description": "the part of an address before the @: a-z and 0-9, single '.', '_' or '-' between them"
  },
  "CertName": {
    "pattern": "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "minLength": 1,
    "maxLength": 253,
    "description": "a DNS name, one label or more (printer, nas.home.cell): a-z, 0-9 and '-' (not at either end)"
  },
  "CertSerial": {
    "pattern": "^[0-9A-F]{2}(:[0-9A-F]{2}){0,20}$",
    "minLength": 2,
    "maxLength": 62,
    "description": "a certificate's serial number as hex octets (0A:1B:...)"
  },
  "Domain": {
    "pattern": "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
    "minLength": 1,
    "maxLength": 253,
    "description": "a domain name of at least two labels, like example.org: each label 1-63 characters of a-z, 0-9 and '-' (not at either end), the last one starting with a letter"
  },
  "IPv4": {
    "maxLength": 15,
    "description": "an IPv4 address like 192.168.1.10"
  },
  "IPv4Cidr": {
    "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
    "maxLength": 18,
    "description": "an IPv4 network in CIDR notation like 10.0.0.0/24, no host bits set, /8 to /30"
  },
  "Port": {
    "minimum": 1,
    "maximum": 65535,
    "description": "a port number from 1 to 65535"
  },
  "WgKey": {
    "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
    "minLength": 44,
    "maxLength": 44,
    "description": "a WireGuard key: 44 characters of base64 ending in '='"
  },
  "Timezone": {
    "pattern": "^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
    "minLength": 1,
    "maxLength": 64,
    "description": "an IANA time zone name like Europe/Berlin"
  },
  "Interface": {
    "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$",
    "minLength": 1,
    "maxLength": 15,
    "description": "a network interface name like eth0 (at most 15 characters)"
  },
  "LeaseTime": {
    "pattern": "^(infinite|[1-9][0-9]{0,6}[smhdw]?)$",
    "minimum": 120,
    "maximum": 31536000,
    "description": "from 2m to 365d: seconds, or a number with s, m, h, d or w (12h, 30m, 1d), or 'infinite'"
  },
  "Password": {
    "minLength": 8,
    "maxLength": 72,
    "description": "at least 8 characters and at most 72 bytes, no control characters"
  },
  "BcryptHash": {
    "pattern": "^\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$",
    "description": "a bcrypt hash ($2b$...)"
  },
  "Secret": {
    "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
    "minLength": 1,
    "maxLength": 256,
    "description": "a credential of at most 256 characters, no control characters or line breaks"
  },
  "Repository": {
    "maxLength": 255,
    "description": "a borg repository: an absolute path (another disk) or ssh://user@host[:port]/path; empty for none"
  },
  "ArchiveName": {
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$",
    "maxLength": 128,
    "description": "a borg archive name: a letter or digit, then letters, digits and . _ : + -"
  },
  "DataPath": {
    "pattern": "^(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}){1,16}$",
    "maxLength": 255,
    "description": "an absolute path of data the backups hold (one service's), such as /var/vmail"
  },
  "Timestamp": {
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?$",
    "maxLength": 40,
    "description": "an ISO 8601 timestamp"
  },
  "Service": {
    "enum": [
      "dns",
      "dhcp",
      "ntp",
      "wireguard",
      "mail",
      "calendar",
      "files"
    ],
    "description": "a service of the cell"
  },
  "Services": {
    "maxItems": 7
  },
  "UserService": {
    "enum": [
      "mail",
      "calendar",
      "files",
      "vpn"
    ],
    "description": "a service a user may have"
  },
  "UserServices": {
    "maxItems": 4
  },
  "DomainMode": {
    "enum": [
      "internal",
      "pic_ngo",
      "custom"
    ],
    "description": "internal: <name>.cell; pic_ngo: <name>.pic.ngo; custom: your own domain"
  },
  "AcmeChallenge": {
    "enum": [
      "http",
      "dns"
    ],
    "description": "how a public certificate is proven (pic_ngo and custom domains): http (HTTP-01, port 80 reachable from outside) or dns (DNS-01 through the DDNS provider: pic_ngo, cloudflare or duckdns; any provider with a CNAME delegation of _acme-challenge)"
  },
  "Route": {
    "enum": [
      "split",
      "full"
    ],
    "description": "split: only the cell's networks go through the tunnel; full: everything"
  },
  "Role": {
    "enum": [
      "admin",
      "peer"
    ],
    "description": "admin: may change the cell; peer: a member, who may use the services given and change only their own account"
  },
  "DnsServer": {
    "enum": [
      "dnsmasq",
      "coredns"
    ],
    "description": "the DNS server the cell runs"
  },
  "DdnsProvider": {
    "enum": [
      "none",
      "pic_ngo",
      "cloudflare",
      "duckdns",
      "noip",
      "freedns"
    ],
    "description": "who publishes the cell's public address: none, pic_ngo (<name>.pic.ngo, the pic_ngo domain mode), cloudflare, duckdns, noip or freedns"
  },
  "TsigAlgorithm": {
    "enum": [
      "hmac-sha256",
      "hmac-sha512",
      "hmac-sha384",
      "hmac-sha224",
      "hmac-sha1"
    ],
    "description": "the TSIG key's algorithm (hmac-sha256 when left out)"
  },
  "TsigKeyName": {
    "pattern": "^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\\.?$",
    "minLength": 1,
    "maxLength": 253,
    "description": "a TSIG key's name as the DNS server knows it, like cell-acme or home.example.org"
  },
  "TsigSecret": {
    "pattern": "^[A-Za-z0-9+/]+={0,2}$",
    "minLength": 16,
    "maxLength": 256,
    "description": "the TSIG key's secret, base64 (the secret line of tsig-keygen's output); stored in a 0600 file beside the state, never shown again"
  },
  "DhcpRange": {
    "minItems": 2,
    "maxItems": 2,
    "description": "a list of two addresses [start, end]"
  },
  "DnsRecordType": {
    "enum": [
      "A",
      "AAAA",
      "CNAME",
      "MX",
      "TXT",
      "SRV"
    ],
    "description": "a record type both DNS servers of the cell publish"
  },
  "DnsRecordName": {
    "pattern": "^(@|\\*|(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*)$",
    "minLength": 1,
    "maxLength": 253,
    "description": "a name relative to the cell's zone: @ (the zone itself), * or *.name (a wildcard), or labels of letters, digits, _ and - separated by dots, like printer or _sip._tcp"
  },
  "DnsRecordValue": {
    "pattern": "^[^\\x00-\\x1f\\x7f\\\\\"]+$",
    "minLength": 1,
    "maxLength": 1024,
    "description": "A: an IPv4 address; AAAA: an IPv6 address; CNAME: a host name (relative to the zone, or ending in a dot); MX: '<preference> <host>'; SRV: '<priority> <weight> <port> <host>'; TXT: text (no line breaks, backslashes or double quotes)"
  },
  "DnsRecords": {
    "maxItems": 500
  },
  "MacAddress": {
    "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$",
    "maxLength": 17,
    "description": "a MAC address like 52:54:00:12:34:56 (stored in lower case)"
  },
  "DhcpReservations": {
    "maxItems": 500
  },
  "Protocol": {
    "enum": [
      "tcp",
      "udp"
    ],
    "description": "tcp or udp"
  },
  "FirewallOpenings": {
    "maxItems": 32
  },
  "PortForwards": {
    "maxItems": 32
  },
  "UpstreamDns": {
    "maxItems": 8
  },
  "NtpServers": {
    "maxItems": 8
  },
  "ExitName": {
    "pattern": "^[a-z]([a-z0-9]{0,9})$",
    "minLength": 1,
    "maxLength": 10,
    "description": "a lower-case letter, then a-z or 0-9; at most 10 characters (the exit's interface is exit-<name>)"
  },
  "ExitKind": {
    "enum": [
      "wireguard",
      "openvpn",
      "tor"
    ],
    "description": "wireguard: an upstream WireGuard server (a provider's wg-quick config); openvpn: an upstream OpenVPN server (a provider's .ovpn with its credentials); tor: the cell's own tor as a transparent proxy (TCP and DNS only)"
  },
  "ExitEndpoint": {
    "pattern": "^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?:[0-9]{1,5}$",
    "maxLength": 260,
    "description": "the upstream server as host:port (a domain name or an IPv4 address)"
  },
  "ExitAddress": {
    "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
    "maxLength": 18,
    "description": "the cell's address in the upstream's tunnel, IPv4 with its prefix length (10.66.0.2/32)"
  },
  "ExitDNS": {
    "maxItems": 8,
    "description": "the exit's resolvers: the first answers its devices' DNS (wireguard: the config's DNS =; openvpn: none - the resolver the server pushes)"
  },
  "CellId": {
    "pattern": "^[0-9a-f]{16}$",
    "description": "a cell's id: 16 hex digits of the SHA-256 of its Ed25519 signing key"
  },
  "SigningKey": {
    "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
    "description": "an Ed25519 public key (32 bytes, base64)"
  },
  "LinkService": {
    "enum": [
      "calendar",
      "files",
      "mail"
    ],
    "description": "calendar and files: HTTPS (Caddy, 443); mail: SMTP and IMAP (25, 587, 993) and its webmail (mail.<domain>, 443)"
  },
  "LinkServices": {
    "maxItems": 3
  },
  "LinkSubnets": {
    "minItems": 1,
    "maxItems": 4
  },
  "SharedDevices": {
    "maxItems": 1024
  },
  "MailAliases": {
    "maxItems": 20,
    "description": "more addresses (the part before the @) delivered to this person's mailbox, which they may send from too"
  },
  "BackupSchedule": {
    "enum": [
      "hourly",
      "daily",
      "weekly",
      "off"
    ],
    "description": "how often the timer backs up; off: on demand only"
  },
  "BackupKeep": {
    "minimum": 0,
    "maximum": 1000,
    "description": "archives kept by borg prune, 0 to 1000"
  },
  "CertDays": {
    "minimum": 1,
    "maximum": 825,
    "description": "how many days the certificate is valid, 1 to 825 (never past the root's end)"
  },
  "AppVersion": {
    "pattern": "^[0-9]{1,6}(\\.[0-9]{1,6}){0,3}([-+][A-Za-z0-9.]{1,32})?$",
    "maxLength": 48,
    "description": "a version like 1.2.3 or 2.0-rc1 (numbers separated by dots, then an optional -label)"
  },
  "PullRef": {
    "pattern": "^[a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]([a-z0-9._/-]{0,200}[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$",
    "maxLength": 300,
    "description": "an image with its registry and a tag or a digest: registry.example.org[:port]/name:tag or ...@sha256:<64 hex>"
  },
  "CalendarKind": {
    "enum": [
      "calendar",
      "addressbook"
    ],
    "description": "calendar: a CalDAV calendar (events, tasks); addressbook: a CardDAV address book"
  },
  "CalendarName": {
    "pattern": "^[^\\x00-\\x1f\\x7f]+$",
    "minLength": 1,
    "maxLength": 100,
    "description": "the name clients show for a calendar or address book (1 to 100 characters, no line breaks)"
  },
  "CalendarText": {
    "pattern": "^[^\\x00-\\x1f\\x7f]*$",
    "maxLength": 500,
    "description": "a description clients may show (at most 500 characters, no line breaks)"
  },
  "CalendarColor": {
    "pattern": "^#[0-9A-Fa-f]{6}$",
    "description": "a colour clients may show, #RRGGBB"
  },
  "ContainerName": {
    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
    "maxLength": 128,
    "description": "a container's name or id: letters, digits and _ . - (at most 128 characters)"
  },
  "ContainerAction": {
    "enum": [
      "start",
      "stop",
      "restart"
    ],
    "description": "what to do with a container"
  },
  "AppName": {
    "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$",
    "minLength": 1,
    "maxLength": 64,
    "description": "a display name: letters, digits, spaces and . _ + - (at most 64 characters)"
  },
  "AppText": {
    "pattern": "^[^\\x00-\\x1f\\x7f<>]*$",
    "maxLength": 500,
    "description": "text of at most 500 characters, without control characters or < >"
  },
  "ImageRef": {
    "pattern": "^[a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]([a-z0-9._/-]{0,200}[a-z0-9])?@sha256:[a-f0-9]{64}$",
    "maxLength": 300,
    "description": "an image pinned by digest, with its registry: registry.example.org[:port]/name@sha256:<64 hex>"
  },
  "ContainerPath": {
    "pattern": "^/([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$",
    "maxLength": 200,
    "description": "an absolute path inside the container, like /data"
  },
  "HttpPath": {
    "pattern": "^/[A-Za-z0-9._~/-]*$",
    "maxLength": 200,
    "description": "an HTTP path starting with /, of letters, digits and . _ ~ / -"
  },
  "RoutePath": {
    "pattern": "^/[a-z]([a-z0-9-]{0,30}[a-z0-9])?$",
    "maxLength": 33,
    "description": "a path prefix of the cell's own site: / and a name (a lower-case letter, then a-z, 0-9, -)"
  },
  "EnvName": {
    "pattern": "^[A-Z_][A-Z0-9_]{0,63}$",
    "maxLength": 64,
    "description": "an environment variable name: upper-case letters, digits and _"
  },
  "Zone": {
    "enum": [
      "lan",
      "vpn",
      "wan"
    ],
    "description": "lan: the LAN; vpn: the WireGuard peers; wan: everything else"
  },
  "IndexLocation": {
    "pattern": "^(|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?|/([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+)$",
    "maxLength": 255,
    "description": "where the index of apps is: an http(s) URL or an absolute path on the cell; empty for the index the cell ships"
  },
  "VerboseLog": {
    "enum": [
      "dns",
      "dhcp",
      "mail",
      "api"
    ],
    "description": "a log that may be verbose: dns (every query), dhcp (every exchange), mail (Postfix and Dovecot debug), api (the management API's DEBUG lines)"
  }
} as const
