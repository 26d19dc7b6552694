import { ApiError, api, endpoints } from '../api'
import { Certificates } from '../components/Certificates'
import { InstallSteps } from '../components/TrustRoot'
import { buttonPrimary, Card, ErrorNote, Loading, NotAvailable, PageHeader, useApi } from '../components/ui'

export function VaultPage() {
  // Fetched first so that a missing certificate is said plainly instead of a failed download.
  const root = useApi(() => api.get<string>(endpoints.caRootUrl, { text: true }))
  const missing = root.error instanceof ApiError && root.error.status === 404
  return (
    <div className="space-y-4">
      <PageHeader title="Vault">The cell's certificate authority signs the HTTPS certificates of its services.</PageHeader>
      <Card title="Root certificate">
        <p className="mb-3">
          Install the cell's root certificate on each device once, and the browser and apps will trust the cell's
          services without warnings. Only the public certificate is downloaded; its private key never leaves the cell.
        </p>
        {root.loading && !root.data ? (
          <Loading what="Looking for the root certificate" />
        ) : missing ? (
          <NotAvailable>
            The cell has no root certificate yet: the certificate authority is made when the cell's CA is
            set up by a converge. Come back after the next successful run.
          </NotAvailable>
        ) : root.error ? (
          <ErrorNote error={root.error} />
        ) : (
          <a className={buttonPrimary} href={endpoints.caRootUrl} download="pic-root-ca.pem">
            Download root certificate
          </a>
        )}
      </Card>
      <Card title="How to install it">
        <InstallSteps />
      </Card>
      {!missing && (
        <Card title="Certificates for your devices">
          <Certificates />
        </Card>
      )}
    </div>
  )
}
