import type { LanSettings } from '../api'
import { Field, inputClass } from './ui'

/** The wizard's LAN section: the network the cell found (interface, subnet, its address, the DHCP
 * pool), editable, and whether the cell serves DHCP there. When another DHCP server answered on
 * that LAN the cell's DHCP starts off, and the section says which server it heard. */
export function SetupLan({
  lan,
  onChange,
  dhcp,
  onDhcp,
  dhcpServers,
  errors,
}: {
  lan: LanSettings
  onChange: (lan: LanSettings) => void
  dhcp: boolean
  onDhcp: (on: boolean) => void
  dhcpServers: string[]
  errors: Record<string, string | undefined>
}) {
  const err = (k: string) => errors[k]
  const input = (id: keyof LanSettings | 'dhcp_start' | 'dhcp_end', value: string, set: (v: string) => void) => (
    <input
      id={`setup-${id}`}
      className={inputClass}
      value={value}
      autoComplete="off"
      spellCheck={false}
      inputMode={id === 'lan_interface' ? undefined : 'decimal'}
      aria-invalid={err(id) ? true : undefined}
      onChange={(e) => set(e.target.value.trim())}
    />
  )
  const rangeError = err('dhcp_range') ?? err('dhcp_range[0]') ?? err('dhcp_range[1]')
  return (
    <fieldset className="rounded-lg border border-slate-200 bg-white p-4" aria-label="Local network">
      <legend className="px-1 text-lg font-semibold">Local network</legend>
      <p className="mb-3 text-sm text-slate-700" data-testid="lan-found">
        Found on <span className="font-medium">{lan.lan_interface}</span>: the network{' '}
        <span className="font-medium">{lan.lan_subnet}</span>, where this cell is{' '}
        <span className="font-medium">{lan.lan_address}</span>. Change it only if the cell should serve another one.
      </p>
      <div className="grid gap-x-4 sm:grid-cols-2">
        <Field id="setup-lan_subnet" label="LAN subnet" error={err('lan_subnet')}>
          {input('lan_subnet', lan.lan_subnet, (v) => onChange({ ...lan, lan_subnet: v }))}
        </Field>
        <Field id="setup-lan_address" label="Cell address on the LAN" error={err('lan_address')}>
          {input('lan_address', lan.lan_address, (v) => onChange({ ...lan, lan_address: v }))}
        </Field>
      </div>
      <label className="flex items-start gap-2">
        <input
          id="setup-dhcp"
          type="checkbox"
          className="mt-1.5"
          checked={dhcp}
          onChange={(e) => onDhcp(e.target.checked)}
        />
        <span>
          <span className="font-medium">Serve DHCP on this network</span>
          <span className="block text-sm text-slate-700">
            {dhcpServers.length
              ? `Another DHCP server answers here (${dhcpServers.join(', ')}); two on one network hand out clashing addresses, so leave this off unless you turn that one off.`
              : 'No other DHCP server answered here: the cell can hand out addresses, with itself as DNS and NTP server.'}
          </span>
        </span>
      </label>
      {dhcp && (
        <div className="mt-3 grid gap-x-4 sm:grid-cols-2">
          <Field id="setup-dhcp_start" label="DHCP pool from" error={rangeError}>
            {input('dhcp_start', lan.dhcp_range[0], (v) => onChange({ ...lan, dhcp_range: [v, lan.dhcp_range[1]] }))}
          </Field>
          <Field id="setup-dhcp_end" label="DHCP pool to">
            {input('dhcp_end', lan.dhcp_range[1], (v) => onChange({ ...lan, dhcp_range: [lan.dhcp_range[0], v] }))}
          </Field>
        </div>
      )}
    </fieldset>
  )
}
