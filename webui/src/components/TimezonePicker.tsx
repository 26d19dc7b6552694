import { useId, useMemo, useState } from 'react'
import { inputClass } from './ui'

/** A searchable list of time zones: type to filter, then pick with arrow keys or the mouse. */
export function TimezonePicker({
  id,
  value,
  onChange,
  zones,
  error,
}: {
  id: string
  value: string
  onChange: (tz: string) => void
  zones: string[]
  error?: string
}) {
  const [query, setQuery] = useState('')
  const searchId = useId()
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase().replace(/\s+/g, '_')
    const list = q ? zones.filter((z) => z.toLowerCase().includes(q)) : zones
    return value && !list.includes(value) ? [value, ...list] : list
  }, [query, zones, value])

  return (
    <div>
      <label htmlFor={searchId} className="block text-sm text-slate-700">
        Search time zones
      </label>
      <input
        id={searchId}
        type="search"
        className={inputClass}
        value={query}
        placeholder="e.g. Berlin, Tokyo, New_York"
        onChange={(e) => setQuery(e.target.value)}
        aria-controls={id}
      />
      <select
        id={id}
        size={6}
        className={`${inputClass} font-mono text-sm`}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      >
        {shown.map((z) => (
          <option key={z} value={z}>
            {z}
          </option>
        ))}
      </select>
      <p className="mt-1 text-sm text-slate-700">
        Selected: <span className="font-medium" data-testid="timezone-selected">{value || 'none'}</span>
        {query && ` — ${shown.length} match${shown.length === 1 ? '' : 'es'}`}
      </p>
    </div>
  )
}
