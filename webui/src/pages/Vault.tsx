import { ApiError, api, endpoints } from '../api'
import { buttonPrimary, Card, ErrorNote, Loading, NotAvailable, PageHeader, useApi } from '../components/ui'

const PLATFORMS: { name: string; steps: string[] }[] = [
  {
    name: 'Android',
    steps: [
      'Download the certificate on the phone.',
      'Open Settings › Security › Encryption & credentials › Install a certificate › CA certificate.',
      'Confirm, then choose the downloaded pic-root-ca.pem.',
    ],
  },
  {
    name: 'iPhone and iPad',
    steps: [
      'Download the certificate in Safari and allow the profile download.',
      'Open Settings › General › VPN & Device Management, choose the profile and tap Install.',
      'Open Settings › General › About › Certificate Trust Settings and turn on full trust for the cell’s root.',
    ],
  },
  {
    name: 'macOS',
    steps: [
      'Double-click the downloaded file; Keychain Access opens and adds it to the login keychain.',
      'Open the certificate, expand Trust and set “When using this certificate” to Always Trust.',
    ],
  },
  {
    name: 'Windows',
    steps: [
      'Rename the file to pic-root-ca.crt and double-click it, then choose Install Certificate.',
      'Choose Local Machine, then “Place all certificates in the following store” › Trusted Root Certification Authorities.',
    ],
  },
  {
    name: 'Debian and Ubuntu',
    steps: [
      'sudo cp pic-root-ca.pem /usr/local/share/ca-certificates/pic-root-ca.crt',
      'sudo update-ca-certificates',
    ],
  },
  {
    name: 'Firefox (any system)',
    steps: ['Open Settings › Privacy & Security › Certificates › View Certificates › Authorities › Import.', 'Choose the file and tick “Trust this CA to identify websites”.'],
  },
]

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
        <div className="grid gap-4 md:grid-cols-2">
          {PLATFORMS.map((p) => (
            <section key={p.name} aria-label={p.name}>
              <h3 className="font-semibold">{p.name}</h3>
              <ol className="ml-5 list-decimal text-sm">
                {p.steps.map((s) => (
                  <li key={s} className={s.startsWith('sudo') ? 'font-mono' : ''}>
                    {s}
                  </li>
                ))}
              </ol>
            </section>
          ))}
        </div>
      </Card>
    </div>
  )
}
