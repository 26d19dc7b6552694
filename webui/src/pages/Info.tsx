// The seed pages whose features are still coming. Each shows what the API does report today and
// says plainly what is not yet available.
import { Link, Route, Routes } from 'react-router-dom'
import { endpoints } from '../api'
import { cellFacts, normalizeServices } from '../normalize'
import { Card, ErrorNote, Loading, NotAvailable, PageHeader, useApi } from '../components/ui'
import { ServiceHealthList } from '../components/ServiceHealthList'
import { PeerTable } from './Peers'
import { RunsTable } from './Runs'

function ServiceHealth({ only }: { only: string[] }) {
  const services = useApi(endpoints.services)
  if (services.loading && !services.data) return <Loading />
  if (services.unavailable) return <NotAvailable>Service health is not available from this API yet.</NotAvailable>
  if (services.error) return <ErrorNote error={services.error} />
  const list = normalizeServices(services.data).filter((s) => only.includes(s.name))
  if (!list.length) return <p className="text-sm text-slate-700">Not enabled on this cell. Turn it on in <Link className="text-teal-800 underline" to="/settings">Settings</Link>.</p>
  return <ServiceHealthList services={list} />
}

function CellFacts({ only }: { only?: string[] }) {
  const settings = useApi(endpoints.settings)
  if (settings.loading && !settings.data) return <Loading />
  if (settings.unavailable) return <NotAvailable>The cell's settings are not available from this API yet.</NotAvailable>
  if (settings.error) return <ErrorNote error={settings.error} />
  const facts = cellFacts(settings.data).filter((f) => !only || only.includes(f.label))
  if (!facts.length) return <p className="text-sm text-slate-700">The API reported nothing here.</p>
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
      {facts.map((f) => (
        <div key={f.label} className="contents">
          <dt className="font-medium">{f.label}</dt>
          <dd className="break-all">{f.value}</dd>
        </div>
      ))}
    </dl>
  )
}

function Peers() {
  const peers = useApi(endpoints.peers)
  if (peers.loading && !peers.data) return <Loading />
  if (peers.error) return <ErrorNote error={peers.error} />
  return <PeerTable peers={peers.data ?? []} />
}

function ServicePage({ title, intro, services, pending }: { title: string; intro: string; services: string[]; pending: string }) {
  return (
    <div className="space-y-4">
      <PageHeader title={title}>{intro}</PageHeader>
      <Card title="Health">
        <ServiceHealth only={services} />
      </Card>
      <NotAvailable>{pending}</NotAvailable>
    </div>
  )
}

function Pending({ title, intro, pending }: { title: string; intro: string; pending: string }) {
  return (
    <div className="space-y-4">
      <PageHeader title={title}>{intro}</PageHeader>
      <NotAvailable>{pending}</NotAvailable>
    </div>
  )
}

function NetworkServices() {
  return (
    <div className="space-y-4">
      <PageHeader title="Network Services">DNS, DHCP and time for the cell's LAN and VPN.</PageHeader>
      <Card title="Health">
        <ServiceHealth only={['dns', 'dhcp', 'ntp']} />
      </Card>
      <Card title="Addresses">
        <CellFacts only={['Domain', 'LAN address', 'LAN subnet', 'Time zone']} />
      </Card>
      <NotAvailable>
        DNS records, DHCP leases and reservations are not yet available. Upstream resolvers and the time zone are
        changed in <Link className="underline" to="/settings">Settings</Link>.
      </NotAvailable>
    </div>
  )
}

function WireGuard() {
  return (
    <div className="space-y-4">
      <PageHeader title="WireGuard">The cell's VPN.</PageHeader>
      <Card title="Health">
        <ServiceHealth only={['wireguard']} />
      </Card>
      <Card title="Tunnel">
        <CellFacts only={['VPN subnet', 'WireGuard port', 'WireGuard endpoint']} />
      </Card>
      <Card title="Peers">
        <Peers />
        <Link to="/peers" className="mt-3 inline-block text-teal-800 underline">
          Add or delete peers
        </Link>
      </Card>
      <NotAvailable>Live handshake and transfer statistics per peer are not yet available.</NotAvailable>
    </div>
  )
}

function Routing() {
  return (
    <div className="space-y-4">
      <PageHeader title="Routing">How each device's traffic leaves the cell.</PageHeader>
      <Card title="Peer routes">
        <p className="mb-2 text-sm text-slate-700">Split: only the cell's addresses go through the VPN. Full: all traffic does.</p>
        <Peers />
      </Card>
      <NotAvailable>Custom routes and exit rules are not yet available.</NotAvailable>
    </div>
  )
}

function Logs() {
  const runs = useApi(endpoints.runs)
  return (
    <div className="space-y-4">
      <PageHeader title="Logs">What the cell has done.</PageHeader>
      <Card title="Run logs">
        {runs.loading && !runs.data ? <Loading /> : runs.error ? <ErrorNote error={runs.error} /> : <RunsTable runs={runs.data ?? []} />}
      </Card>
      <NotAvailable>Service logs (journal) are not yet available in the web UI.</NotAvailable>
    </div>
  )
}

function NotFound() {
  return (
    <div>
      <PageHeader title="Page not found" />
      <Link to="/" className="text-teal-800 underline">
        Back to the dashboard
      </Link>
    </div>
  )
}

export function InfoPages() {
  return (
    <Routes>
      <Route path="/network-services" element={<NetworkServices />} />
      <Route path="/wireguard" element={<WireGuard />} />
      <Route
        path="/email"
        element={<ServicePage title="Email" intro="Mail for the cell's users (Postfix and Dovecot)." services={['mail']} pending="Mailboxes, aliases and client settings are not yet available in the web UI." />}
      />
      <Route
        path="/calendar"
        element={<ServicePage title="Calendar" intro="Calendars and contacts (CalDAV and CardDAV)." services={['calendar']} pending="Calendar and address book management is not yet available in the web UI." />}
      />
      <Route
        path="/files"
        element={<ServicePage title="Files" intro="File storage over WebDAV." services={['files']} pending="Browsing files and managing shares is not yet available in the web UI." />}
      />
      <Route path="/routing" element={<Routing />} />
      <Route path="/containers" element={<Pending title="Containers" intro="Apps from the service store run as containers." pending="Container management is not yet available." />} />
      <Route path="/cell-network" element={<Pending title="Cell Network" intro="Links between cells." pending="Linking this cell with other cells is not yet available." />} />
      <Route path="/connectivity" element={<Pending title="Connectivity" intro="How the cell reaches the internet and is reached from it." pending="Dynamic DNS and connectivity checks are not yet available." />} />
      <Route path="/store" element={<Pending title="Service Store" intro="Extra apps for the cell." pending="The service store is not yet available." />} />
      <Route path="/logs" element={<Logs />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  )
}
