import { SERVICE_LABELS } from '../api'
import type { ServiceHealth } from '../normalize'
import { StatusBadge } from './ui'

export function ServiceHealthList({ services }: { services: ServiceHealth[] }) {
  if (!services.length) return <p className="text-sm text-slate-700">No services are enabled.</p>
  return (
    <ul className="divide-y divide-slate-200" data-testid="service-health">
      {services.map((s) => (
        <li key={s.name} className="flex items-center justify-between gap-3 py-2">
          <span>
            <span className="font-medium">{SERVICE_LABELS[s.name]}</span>
            {s.detail && s.detail !== s.status && <span className="block text-sm text-slate-700">{s.detail}</span>}
          </span>
          <StatusBadge status={s.status} />
        </li>
      ))}
    </ul>
  )
}
