// The dashboard's facts of the host (GET /api/system): disk use of the root and PIC's data
// filesystems, memory, and how long the certificate of the cell's HTTPS name has left.
import type { DiskUse, SystemFacts } from '../generated/api'
import { formatSize } from '../pages/Containers'

type Cert = SystemFacts['certificate']

/** "43% used: 12 GiB of 30 GiB, 16 GiB free", or why the filesystem could not be read. */
export function diskText(d: DiskUse): string {
  if (d.error || d.total === undefined || d.used === undefined || d.available === undefined) return `unknown: ${d.error ?? 'not read'}`
  // as df counts it: of what the services may fill (used + available; root's reserve is neither), rounded up
  const room = d.used + d.available
  const pct = room ? Math.ceil((100 * d.used) / room) : 0
  return `${pct}% used: ${formatSize(d.used)} of ${formatSize(d.total)}, ${formatSize(d.available)} free`
}

/** "2.1 GiB available of 7.8 GiB", or why it could not be read. */
export function memoryText(m: SystemFacts['memory']): string {
  if (m.error || m.total === undefined || m.available === undefined) return `unknown: ${m.error ?? 'not read'}`
  return `${formatSize(m.available)} available of ${formatSize(m.total)}`
}

/** How long the certificate has left, as a person says it, with its end date. */
export function certificateText(c: Cert): string {
  if (c.status === 'unknown' || c.days_left === undefined) return `unknown: ${c.reason ?? 'not read'}`
  const date = c.not_after ? new Date(c.not_after).toLocaleDateString() : ''
  if (c.status === 'expired') return `expired ${-c.days_left === 0 ? 'today' : `${-c.days_left} day${c.days_left === -1 ? '' : 's'} ago`} (${date})`
  const days = c.days_left === 0 ? 'today' : `in ${c.days_left} day${c.days_left === 1 ? '' : 's'}`
  return `expires ${days} (${date})`
}

const WARN: Record<string, string> = {
  expiring: 'border-amber-300 bg-amber-50 text-amber-900',
  expired: 'border-red-300 bg-red-50 text-red-900',
}

export function HostFacts({ facts }: { facts: SystemFacts }) {
  const cert = facts.certificate
  const rows: [string, string][] = [
    ...facts.disks.map((d): [string, string] => [`Disk ${d.path}`, diskText(d)]),
    ['Memory', memoryText(facts.memory)],
  ]
  return (
    <div className="space-y-3">
      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="host-facts">
        {rows.map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="font-medium">{label}</dt>
            <dd className="min-w-0 wrap-anywhere">{value}</dd>
          </div>
        ))}
        <div className="contents">
          <dt className="font-medium">HTTPS certificate</dt>
          <dd className="min-w-0 wrap-anywhere" data-testid="cert-expiry" data-status={cert.status}>
            {certificateText(cert)}
            {cert.source ? ` · ${cert.source}` : ''}
          </dd>
        </div>
      </dl>
      {WARN[cert.status] && (
        <p role="alert" className={`rounded border p-2 text-sm ${WARN[cert.status]}`} data-testid="cert-warning">
          {cert.status === 'expired'
            ? 'The cell’s HTTPS certificate has expired: browsers refuse the cell’s pages.'
            : `The cell’s HTTPS certificate ends in fewer than ${cert.warn_days} days.`}{' '}
          {cert.source === 'internal CA'
            ? 'A converge of the cell renews it: start one on the Runs page.'
            : 'Its renewal by ACME has not happened: the Logs say why.'}
        </p>
      )}
    </div>
  )
}
