// The Routing page: how each device's traffic leaves the cell. Every device (peer) with its owner,
// address, route (split or full tunnel) and exit (the cell's own connection or one of the exits),
// changed in place through the same PATCH /api/peers/<name> as the Peers page's Change; the run the
// change starts is shown live.
import { useState } from 'react'
import { Link } from 'react-router-dom'
import { ApiError, endpoints, type Peer, type PeerChanged } from '../api'
import { RunNotice } from '../components/Confirm'
import { RunView } from '../components/RunView'
import { buttonPrimary, Card, ErrorNote, Loading, PageHeader, Table, useApi } from '../components/ui'
import { changeBody, ChangedPeerPanel, ExitOptions } from './Peers'

type RouteName = NonNullable<Peer['route']>

const selectClass =
  'rounded border border-slate-400 bg-white px-2 py-1 text-sm text-slate-900 focus:border-teal-600 focus:outline-none focus:ring-2 focus:ring-teal-500 disabled:bg-slate-100 disabled:text-slate-500 aria-[invalid=true]:border-red-600'

/** One device's row: its route and exit as the admin is choosing them, saved with its own button. */
function RouteRow({ peer, exits, onChanged }: { peer: Peer; exits: string[]; onChanged: (r: PeerChanged, routeChanged: boolean) => void }) {
  const [route, setRoute] = useState<RouteName>(peer.route ?? 'split')
  const [exit, setExit] = useState(peer.exit ?? '')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<{ message: string; fields: Record<string, string> } | null>(null)
  // the same request the Peers page's Change sends: only what differs, a split route leaves its exit
  const body = changeBody(peer, { name: peer.name, route, public_key: '' }, exit)
  const dirty = Object.keys(body).length > 0
  // an exit that is gone from the list still shows as the device's own
  const choices = peer.exit && !exits.includes(peer.exit) ? [...exits, peer.exit] : exits
  const id = `routing-${peer.name}`

  const save = async () => {
    setBusy(true)
    setError(null)
    try {
      onChanged(await endpoints.changePeer(peer.name, body), 'route' in body)
    } catch (e) {
      setError({
        message: e instanceof Error ? e.message : String(e),
        fields: e instanceof ApiError ? e.fields : {},
      })
    } finally {
      setBusy(false)
    }
  }

  return (
    <tr className="border-b border-slate-100 align-top" data-peer={peer.name}>
      <td className="whitespace-nowrap py-2 pr-3 font-medium">{peer.name}</td>
      <td className="whitespace-nowrap py-2 pr-3">{peer.owner || 'admin'}</td>
      <td className="py-2 pr-3 font-mono text-sm">{peer.ip}</td>
      <td className="py-2 pr-3">
        <label htmlFor={`${id}-route`} className="sr-only">
          Route of {peer.name}
        </label>
        <select
          id={`${id}-route`}
          className={selectClass}
          value={route}
          aria-invalid={error?.fields.route ? true : undefined}
          onChange={(e) => setRoute(e.target.value as RouteName)}
        >
          <option value="split">Split</option>
          <option value="full">Full</option>
        </select>
        {error?.fields.route && <p className="mt-1 text-xs text-red-800">{error.fields.route}</p>}
      </td>
      <td className="py-2 pr-3">
        <label htmlFor={`${id}-exit`} className="sr-only">
          Exit of {peer.name}
        </label>
        <select
          id={`${id}-exit`}
          className={selectClass}
          value={route === 'full' ? exit : ''}
          disabled={route !== 'full'}
          title={route === 'full' ? undefined : 'An exit needs the full tunnel.'}
          aria-invalid={error?.fields.exit ? true : undefined}
          onChange={(e) => setExit(e.target.value)}
        >
          <ExitOptions exits={choices} />
        </select>
        {error?.fields.exit && <p className="mt-1 text-xs text-red-800">{error.fields.exit}</p>}
      </td>
      <td className="whitespace-nowrap py-2">
        <button type="button" className={`${buttonPrimary} px-3 py-1 text-sm`} disabled={!dirty || busy} onClick={() => void save()}>
          {busy ? 'Saving…' : 'Save'}
          <span className="sr-only"> {peer.name}</span>
        </button>
        {error && !error.fields.route && !error.fields.exit && (
          <p className="mt-1 max-w-[14rem] text-xs text-red-800" role="alert">
            {error.message}
          </p>
        )}
        {error && (error.fields.route || error.fields.exit) && <span className="sr-only" role="alert">{error.message}</span>}
      </td>
    </tr>
  )
}

export function RoutingPage() {
  const peers = useApi(endpoints.peers)
  const exits = useApi(endpoints.exits)
  const [changed, setChanged] = useState<{ result: PeerChanged; routeChanged: boolean } | null>(null)
  const list = peers.data ?? []
  const exitNames = (exits.data ?? []).map((e) => e.name)

  return (
    <div className="space-y-4">
      <PageHeader title="Routing">How each device's traffic leaves the cell.</PageHeader>
      {changed && (
        <>
          {changed.routeChanged ? (
            <ChangedPeerPanel {...changed} onClose={() => setChanged(null)} />
          ) : (
            <RunNotice
              text={`${changed.result.peer.name} now leaves through ${changed.result.peer.exit ? `exit ${changed.result.peer.exit}` : 'the cell’s own connection'}.`}
            />
          )}
          <Card>
            <RunView key={changed.result.run_id} runId={changed.result.run_id} title={`Applying the route of ${changed.result.peer.name}`} />
          </Card>
        </>
      )}
      <Card title="Devices">
        <p className="mb-3 text-sm text-slate-700">
          Split: only the cell's own addresses go through the VPN. Full: all the device's traffic does, and leaves
          through the cell's own connection or through an exit (an upstream VPN, added on the{' '}
          <Link className="text-teal-800 underline" to="/connectivity">
            Connectivity
          </Link>{' '}
          page); when that exit is down, its traffic stops.
        </p>
        {peers.loading && !peers.data ? (
          <Loading />
        ) : peers.error ? (
          <ErrorNote error={peers.error} />
        ) : !list.length ? (
          <p className="text-sm text-slate-700">
            No devices yet. Add one on the{' '}
            <Link className="text-teal-800 underline" to="/peers">
              Peers
            </Link>{' '}
            page.
          </p>
        ) : (
          <div data-testid="routing-table">
            <Table columns={['Device', 'Owner', 'Address', 'Route', 'Exit', '']} className="text-sm">
              {list.map((p) => (
                <RouteRow
                  // a new row (and so the saved choices) whenever the API's answer changes
                  key={`${p.name}:${p.route ?? ''}:${p.exit ?? ''}`}
                  peer={p}
                  exits={exitNames}
                  onChanged={(result, routeChanged) => {
                    setChanged({ result, routeChanged })
                    peers.reload()
                    exits.reload()
                  }}
                />
              ))}
            </Table>
          </div>
        )}
        {exits.error ? <ErrorNote error={exits.error} /> : null}
      </Card>
    </div>
  )
}
