// The routes of the service pages (Network Services, WireGuard, Email, Calendar, Cell Network), each
// with its service's health, and the Logs page.
import { useState, type FormEvent } from 'react'
import { Link, Route, Routes } from 'react-router-dom'
import { endpoints, SERVICE_LABELS, type LogEntry, type ServiceName } from '../api'
import { normalizeServices } from '../normalize'
import { buttonPrimary, Card, ErrorNote, inputClass, Loading, PageHeader, useApi } from '../components/ui'
import { LogVerbosity } from '../components/LogVerbosity'
import { ServiceHealthList } from '../components/ServiceHealthList'
import { CalendarPage } from './Calendar'
import { CellNetworkPage } from './CellNetwork'
import { EmailPage } from './Email'
import { NetworkServicesPage } from './NetworkServices'
import { RunsTable } from './Runs'
import { WireGuardPage } from './WireGuard'

function ServiceHealth({ only }: { only: string[] }) {
  const services = useApi(endpoints.services)
  if (services.loading && !services.data) return <Loading />
  if (services.error) return <ErrorNote error={services.error} />
  const list = (services.data ? normalizeServices(services.data) : []).filter((s) => only.includes(s.name))
  if (!list.length) return <p className="text-sm text-slate-700">Not enabled on this cell. Turn it on in <Link className="text-teal-800 underline" to="/settings">Settings</Link>.</p>
  return <ServiceHealthList services={list} />
}

const LOG_SOURCES = ['api', 'dns', 'dhcp', 'ntp', 'wireguard', 'mail', 'calendar', 'files']
const LOG_LEVELS = ['', 'DEBUG', 'INFO', 'WARNING', 'ERROR']

function logTime(e: LogEntry): string {
  const v = e.time
  if (!v) return ''
  // journald gives microseconds since the epoch as a string of digits.
  const d = /^\d{13,}$/.test(v) ? new Date(Number(v) / 1000) : new Date(v)
  return isNaN(d.getTime()) ? String(v) : d.toLocaleString()
}

function Logs() {
  const runs = useApi(endpoints.runs)
  const [source, setSource] = useState('api')
  const [level, setLevel] = useState('')
  const [q, setQ] = useState('')
  const [query, setQuery] = useState({ source: 'api', level: '', q: '' })
  const logs = useApi(() => endpoints.logs({ ...query, limit: 200 }), [query])
  const entries = logs.data?.entries ?? []
  return (
    <div className="space-y-4">
      <PageHeader title="Logs">What the cell and its services have done.</PageHeader>
      <Card title="Service logs">
        <form
          className="mb-3 grid gap-3 sm:grid-cols-[auto_auto_1fr_auto] sm:items-end"
          onSubmit={(e: FormEvent) => {
            e.preventDefault()
            setQuery({ source, level, q: q.trim() })
          }}
          aria-label="Search the logs"
        >
          <div>
            <label htmlFor="log-source" className="block text-sm font-medium">Source</label>
            <select id="log-source" className={inputClass} value={source} onChange={(e) => setSource(e.target.value)}>
              {LOG_SOURCES.map((s) => (
                <option key={s} value={s}>{s === 'api' ? 'management API' : SERVICE_LABELS[s as ServiceName] ?? s}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="log-level" className="block text-sm font-medium">Lowest level</label>
            <select id="log-level" className={inputClass} value={level} onChange={(e) => setLevel(e.target.value)}>
              {LOG_LEVELS.map((l) => (
                <option key={l} value={l}>{l || 'any'}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="log-q" className="block text-sm font-medium">Containing</label>
            <input id="log-q" type="search" className={inputClass} value={q} onChange={(e) => setQ(e.target.value)} />
          </div>
          <button type="submit" className={buttonPrimary}>Search</button>
        </form>
        {logs.loading && !logs.data ? (
          <Loading />
        ) : logs.error ? (
          <ErrorNote error={logs.error} />
        ) : entries.length === 0 ? (
          <p className="text-sm text-slate-700">No log entries match.</p>
        ) : (
          <div className="max-h-[32rem] overflow-auto">
            <table className="min-w-full text-sm" data-testid="log-entries">
              <thead>
                <tr className="border-b border-slate-200 text-left">
                  <th className="py-1 pr-3">Time</th>
                  <th className="py-1 pr-3">Level</th>
                  <th className="py-1 pr-3">From</th>
                  <th className="py-1">Message</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e, i) => (
                  <tr key={i} className="border-b border-slate-100 align-top">
                    <td className="whitespace-nowrap py-1 pr-3">{logTime(e)}</td>
                    <td className="py-1 pr-3">{e.level ?? ''}</td>
                    <td className="py-1 pr-3">{e.unit ?? e.logger ?? ''}</td>
                    <td className="break-all py-1 font-mono text-xs">{e.message ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <LogVerbosity />
      <Card title="Run logs">
        {runs.loading && !runs.data ? <Loading /> : runs.error ? <ErrorNote error={runs.error} /> : <RunsTable runs={runs.data ?? []} />}
      </Card>
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
      <Route path="/network-services" element={<NetworkServicesPage />} />
      <Route path="/wireguard" element={<WireGuardPage health={<ServiceHealth only={['wireguard']} />} />} />
      <Route path="/email" element={<EmailPage health={<ServiceHealth only={['mail']} />} />} />
      <Route path="/calendar" element={<CalendarPage admin health={<ServiceHealth only={['calendar']} />} />} />
      <Route path="/cell-network" element={<CellNetworkPage />} />
      <Route path="/logs" element={<Logs />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  )
}
