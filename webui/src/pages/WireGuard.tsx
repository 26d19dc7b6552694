// The WireGuard page: the running interface and each device's latest handshake, transfer and
// whether it is online, from GET /api/wireguard/status, read again every few seconds.
import type { ReactNode } from 'react'
import { Link } from 'react-router-dom'
import { endpoints } from '../api'
import type { WireGuardDevice, WireGuardStatus } from '../generated/api'
import { Card, ErrorNote, Loading, PageHeader, useLiveApi } from '../components/ui'
import { formatSize } from './Containers'


/** How long ago a handshake was, as people say it ("2 minutes ago"); "never" for none. */
export function handshakeAgo(latest: number, now: number): string {
  if (!latest) return 'never'
  const s = Math.max(0, now - latest)
  const say = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`
  if (s < 60) return say(s, 'second')
  if (s < 3600) return say(Math.floor(s / 60), 'minute')
  if (s < 86400) return say(Math.floor(s / 3600), 'hour')
  return say(Math.floor(s / 86400), 'day')
}

/** "N of M" devices online, as the dashboard says it. */
export function onlineSummary(status: Pick<WireGuardStatus, 'online' | 'total'>): string {
  return `${status.online} of ${status.total}`
}

/** The status, read again every LIVE_REFRESH_MS while the page is open. */
export function useWireGuardStatus() {
  return useLiveApi(endpoints.wireguardStatus)
}

/** The online dot; the word beside it says the same for those who do not see colours. */
function OnlineDot({ online }: { online: boolean }) {
  return (
    <span aria-hidden="true" className={`inline-block h-2.5 w-2.5 shrink-0 rounded-full ${online ? 'bg-green-600' : 'bg-slate-400'}`} />
  )
}

function Interface({ status }: { status: WireGuardStatus }) {
  const iface = status.interface
  if (!iface) return null
  const facts: [string, string][] = [
    ['Interface', iface.name],
    ['Public key', iface.public_key || '—'],
    ['Listen port', String(iface.listen_port)],
    ['Endpoint', iface.endpoint],
    ['VPN subnet', iface.subnet],
    ['Cell address', iface.address],
  ]
  return (
    <>
      {!status.up && (
        <p className="mb-3 rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="wg-down">
          The interface is not running yet: {status.reason ?? 'no reason given'}. It starts when the cell converges
          WireGuard.
        </p>
      )}
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="wg-interface">
        {facts.map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="font-medium">{label}</dt>
            <dd className="break-all font-mono">{value}</dd>
          </div>
        ))}
      </dl>
    </>
  )
}

/** The devices' table; ``owners`` false leaves out whose each is (a member's page: all theirs). */
export function DeviceTable({ devices, now, owners = true }: { devices: WireGuardDevice[]; now: number; owners?: boolean }) {
  if (!devices.length) return <p className="text-sm text-slate-700">No devices yet.</p>
  return (
    // relative: as the peers' table, it scrolls sideways on a phone instead of widening the page
    <div className="relative overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="wg-devices">
        <thead>
          <tr className="border-b border-slate-200 text-left">
            <th className="py-1 pr-3">Device</th>
            <th className="py-1 pr-3">Last handshake</th>
            <th className="py-1 pr-3">Transfer</th>
            <th className="py-1">Endpoint</th>
          </tr>
        </thead>
        <tbody>
          {devices.map((d) => (
            <tr key={d.name} className="border-b border-slate-100 align-top" data-device={d.name}>
              {/* the status sits with the name, so a phone shows it without scrolling the table */}
              <td className="py-2 pr-3" data-online={d.online}>
                <span className="flex items-center gap-1.5 whitespace-nowrap font-medium">
                  <OnlineDot online={d.online} />
                  {d.name}
                </span>
                <span className="block whitespace-nowrap text-xs text-slate-700">
                  <span className={d.online ? 'text-green-800' : undefined}>{d.online ? 'online' : 'offline'}</span>
                  {' · '}
                  <span className="font-mono">{d.ip}</span>
                  {owners && d.owner ? ` · ${d.owner}` : ''}
                </span>
              </td>
              <td className="whitespace-nowrap py-2 pr-3" title={d.latest_handshake ? new Date(d.latest_handshake * 1000).toLocaleString() : undefined}>
                {handshakeAgo(d.latest_handshake, now)}
              </td>
              <td className="whitespace-nowrap py-2 pr-3">
                <span className="block">↓ {formatSize(d.rx)}</span>
                <span className="block">↑ {formatSize(d.tx)}</span>
              </td>
              <td className="py-2 font-mono text-xs">
                <span className="block max-w-[10rem] break-all sm:max-w-none">{d.endpoint || '—'}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/**
 * The page. An admin's answer has the interface's facts; a member's (``mine``) lists only their own
 * devices, as the API answers a member, with no interface facts.
 */
export function WireGuardPage({ health, mine = false }: { health?: ReactNode; mine?: boolean }) {
  const status = useWireGuardStatus()
  const data = status.data
  return (
    <div className="space-y-4">
      <PageHeader title="WireGuard">
        {mine ? 'Your devices on the cell’s VPN and which of them are connected.' : "The cell's VPN: its interface and which devices are connected."}
      </PageHeader>
      {health && <Card title="Health">{health}</Card>}
      {status.loading && !data ? (
        <Loading />
      ) : status.error && !data ? (
        <ErrorNote error={status.error} />
      ) : data ? (
        <>
          {data.interface ? (
            <Card title="Interface">
              <Interface status={data} />
            </Card>
          ) : !data.up ? (
            <p className="rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="wg-down">
              The cell’s VPN is not running right now: your devices cannot connect until it is back.
            </p>
          ) : null}
          <Card title={mine ? 'Your devices' : 'Devices'}>
            <p className="mb-2 text-sm text-slate-700" data-testid="wg-online">
              {onlineSummary(data)} online. A device is online when its last handshake is at most{' '}
              {Math.round(data.online_window / 60)} minutes old.
            </p>
            <DeviceTable devices={data.devices} now={data.now} owners={!mine} />
            <Link to="/peers" className="mt-3 inline-block text-teal-800 underline">
              {mine ? 'Add or delete your devices' : 'Add or delete devices'}
            </Link>
          </Card>
        </>
      ) : null}
    </div>
  )
}
