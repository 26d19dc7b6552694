import { useState } from 'react'
import { endpoints, type RunStatus } from '../api'
import type { StateVersions as Versions } from '../generated/api'
import { RunView } from './RunView'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Loading, useApi, when } from './ui'

export type StateVersion = Versions['versions'][number]

/** The state's paths (GET /api/state/versions' `changed`) in a person's words. */
const PATH_WORDS: Record<string, string> = {
  setup_completed: 'setup',
  'cell.name': 'cell name',
  'cell.domain_mode': 'domain mode',
  'cell.domain': 'domain',
  'cell.timezone': 'time zone',
  'cell.acme_challenge': 'certificate challenge',
  services: 'services',
  peers: 'devices',
  exits: 'exits',
  users: 'users',
  'network.lan_interface': 'LAN interface',
  'network.lan_subnet': 'LAN subnet',
  'network.lan_address': 'LAN address',
  'network.dhcp_range': 'DHCP range',
  'network.dhcp_lease_time': 'DHCP lease time',
  'network.vpn_subnet': 'VPN subnet',
  'network.wireguard_port': 'WireGuard port',
  'network.upstream_dns': 'upstream DNS',
  'network.ntp_servers': 'NTP servers',
  'network.dns_server': 'DNS server',
  'network.wireguard_endpoint': 'WireGuard endpoint',
  'network.dns_records': 'DNS records',
  'network.dhcp_reservations': 'DHCP reservations',
  ca: 'certificates',
}
const SECTION_WORDS: Record<string, string> = { ddns: 'dynamic DNS', backup: 'backups', store: 'service store', network: 'network' }

/** What a version changed, in words: "changed time zone, upstream DNS"; the first version is the setup. */
export function describeChange(v: StateVersion, first: boolean): string {
  if (v.problem) return `does not load (${v.problem})`
  if (first) return 'the first version (setup)'
  if (!v.changed.length) return 'saved again, nothing changed'
  const words: string[] = []
  for (const path of v.changed) {
    const w = PATH_WORDS[path] ?? SECTION_WORDS[path.split('.')[0]] ?? path
    if (!words.includes(w)) words.push(w)
  }
  return `changed ${words.join(', ')}`
}

type Phase = { kind: 'list' } | { kind: 'preview' | 'apply'; version: number; runId: string; status: RunStatus | null }

/** The saved state versions, newest first, each with "Roll back…": a preview (check mode with
 * diffs) first, then Apply, the run shown live as the settings' save. */
export function StateVersions() {
  const versions = useApi(endpoints.stateVersions)
  const [phase, setPhase] = useState<Phase>({ kind: 'list' })
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  const start = async (version: number, preview: boolean) => {
    setError(null)
    setBusy(true)
    try {
      const res = await endpoints.rollback(version, preview)
      setPhase({ kind: preview ? 'preview' : 'apply', version, runId: res.run_id, status: null })
      if (!preview) versions.reload()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  const list = versions.data ?? []
  const current = list.length ? list[list.length - 1].version : 0
  const first = list.length ? list[0].version : 0
  const locked = busy || (phase.kind === 'apply' && phase.status === null)
  return (
    <div className="space-y-4">
      <Card title="Versions">
        <p className="mb-3 text-sm text-slate-700">
          Every change saves a new version of the cell’s settings. Rolling back saves an old version again as the newest and
          converges it; preview it first. Passwords are not rolled back.
        </p>
        {error != null && (
          <div className="mb-3">
            <ErrorNote error={error} />
          </div>
        )}
        {versions.loading && !versions.data ? (
          <Loading />
        ) : versions.error ? (
          <ErrorNote error={versions.error} />
        ) : (
          <ol className="divide-y divide-slate-200" data-testid="state-versions" aria-label="State versions">
            {[...list].reverse().map((v) => (
              <li key={v.version} data-version={v.version} className="flex flex-wrap items-center justify-between gap-2 py-2">
                <div className="min-w-0">
                  <div className="font-medium">
                    Version {v.version}
                    {v.version === current && <span className="ml-2 rounded bg-emerald-100 px-1.5 text-sm text-emerald-900">current</span>}
                  </div>
                  <div className="text-sm text-slate-700">
                    <time dateTime={v.saved_at}>{when(v.saved_at)}</time> · {describeChange(v, v.version === first)}
                  </div>
                </div>
                {v.version !== current && !v.problem && (
                  <button
                    type="button"
                    className={buttonSecondary}
                    disabled={locked}
                    aria-label={`Roll back to version ${v.version}`}
                    onClick={() => void start(v.version, true)}
                  >
                    Roll back…
                  </button>
                )}
              </li>
            ))}
          </ol>
        )}
      </Card>
      {phase.kind !== 'list' && (
        <Card>
          <RunView
            key={phase.runId}
            runId={phase.runId}
            title={
              phase.kind === 'preview'
                ? `Preview of rolling back to version ${phase.version} (check mode, nothing is changed)`
                : `Rolling back to version ${phase.version}`
            }
            onFinished={(st) => {
              setPhase((p) => (p.kind === 'list' ? p : { ...p, status: st }))
              if (phase.kind === 'apply') versions.reload()
            }}
          />
          <div className="mt-4 flex flex-wrap gap-2">
            {phase.kind === 'preview' && (
              <button
                type="button"
                className={buttonPrimary}
                disabled={busy || phase.status === null}
                onClick={() => void start(phase.version, false)}
              >
                Apply the rollback to version {phase.version}
              </button>
            )}
            {(phase.kind === 'preview' || phase.status !== null) && (
              <button type="button" className={buttonSecondary} disabled={busy} onClick={() => setPhase({ kind: 'list' })}>
                {phase.kind === 'preview' ? 'Cancel' : 'Close'}
              </button>
            )}
          </div>
          {phase.kind === 'preview' && phase.status === 'failed' && (
            <p className="mt-2 text-sm font-medium text-red-800">The preview found problems; rolling back will likely fail the same way.</p>
          )}
        </Card>
      )}
    </div>
  )
}
