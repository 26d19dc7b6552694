import { endpoints } from '../api'
import { HttpsStep } from '../components/TrustRoot'
import { ErrorNote, Loading, useApi } from '../components/ui'

/**
 * The page :8081 leads to after setup, where plain HTTP serves no API: the cell's root certificate
 * with the steps to install it, then the cell's HTTPS addresses (/cell.json, written by caddy).
 */
export function TrustPage() {
  const cell = useApi(() => endpoints.cellHttps())
  return (
    <main id="main" className="mx-auto max-w-3xl space-y-4 p-4 md:p-8">
      <h1 className="text-2xl font-bold">This cell answers on HTTPS</h1>
      <p className="text-slate-700">
        The web UI and its login are served over HTTPS only. Install the cell’s root certificate first, then
        continue to its HTTPS address.
      </p>
      {cell.loading && !cell.data ? (
        <Loading what="Looking up the cell’s addresses" />
      ) : cell.error || !cell.data?.https?.length ? (
        <ErrorNote error={cell.error ?? 'The cell did not say its HTTPS addresses.'} />
      ) : (
        <HttpsStep urls={cell.data.https} />
      )}
    </main>
  )
}
