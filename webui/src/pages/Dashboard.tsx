import { Link } from 'react-router-dom'
import { endpoints } from '../api'
import { cellFacts, normalizeServices } from '../normalize'
import { Card, ErrorNote, Loading, PageHeader, useApi } from '../components/ui'
import { ServiceHealthList } from '../components/ServiceHealthList'
import { HostFacts } from '../components/HostFacts'
import { RunsTable } from './Runs'
import { onlineSummary, useWireGuardStatus } from './WireGuard'

export function DashboardPage() {
  const services = useApi(endpoints.services)
  const settings = useApi(endpoints.settings)
  const runs = useApi(endpoints.runs)
  // The full state adds the addresses (LAN, VPN) that the settings do not carry.
  const state = useApi(() => endpoints.state().catch(() => null))
  const wireguard = useWireGuardStatus()
  const host = useApi(endpoints.system)
  const facts = settings.data ? cellFacts(settings.data, state.data?.state) : []
  // the devices that shook hands lately, from the WireGuard page's status (absent while it cannot be read)
  if (facts.length && wireguard.data) facts.push({ label: 'Devices online', value: onlineSummary(wireguard.data) })

  return (
    <div>
      <PageHeader title="Dashboard" />
      <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
        <Card title="Services">
          {services.loading && !services.data ? (
            <Loading />
          ) : services.error ? (
            <ErrorNote error={services.error} />
          ) : (
            services.data && <ServiceHealthList services={normalizeServices(services.data)} />
          )}
        </Card>
        <Card title="This cell">
          {settings.loading && !settings.data ? (
            <Loading />
          ) : settings.error ? (
            <ErrorNote error={settings.error} />
          ) : facts.length ? (
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="cell-facts">
              {facts.map((f) => (
                <div key={f.label} className="contents">
                  <dt className="font-medium">{f.label}</dt>
                  <dd className="break-all">{f.value}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="text-sm text-slate-700">The API reported no names or addresses for this cell.</p>
          )}
        </Card>
        <Card title="This host" className="lg:col-span-2">
          {host.loading && !host.data ? (
            <Loading />
          ) : host.error ? (
            <ErrorNote error={host.error} />
          ) : (
            host.data && <HostFacts facts={host.data} />
          )}
        </Card>
        <Card title="Last runs" className="lg:col-span-2">
          {runs.loading && !runs.data ? (
            <Loading />
          ) : runs.error ? (
            <ErrorNote error={runs.error} />
          ) : (
            <>
              <RunsTable runs={(runs.data ?? []).slice(0, 5)} />
              <Link to="/runs" className="mt-3 inline-block text-teal-800 underline">
                All runs
              </Link>
            </>
          )}
        </Card>
      </div>
    </div>
  )
}
