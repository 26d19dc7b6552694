import { buttonPrimary, buttonSecondary, Card } from './ui'

/** How to install the cell's root certificate, per platform (the Vault page, the wizard's end and
 * the page :8081 leads to after setup show the same steps). */
export const PLATFORMS: { name: string; steps: string[] }[] = [
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

/** The per-platform steps to install the root certificate. */
export function InstallSteps() {
  return (
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
  )
}

/** The address of the root certificate that caddy serves with the UI's files, on :8081 too (also
 * after setup, when :8081 serves no API). */
export const ROOT_CERT_FILE = '/ca.crt'

/**
 * The way from plain HTTP to the cell's HTTPS addresses: first the root certificate with the steps
 * to install it, then the addresses (the cell's name, its LAN address for a device that does not
 * use the cell's DNS). Shown at the wizard's end and on the page :8081 leads to after setup.
 */
/** The root certificate's download (from ``href``) and the steps to install it. */
export function RootDownload({ href, primary = false }: { href: string; primary?: boolean }) {
  return (
    <>
      <a className={primary ? buttonPrimary : buttonSecondary} href={href} download="pic-root-ca.pem">
        Download root certificate
      </a>
      <div className="mt-4">
        <InstallSteps />
      </div>
    </>
  )
}

export function HttpsStep({ urls }: { urls: string[] }) {
  return (
    <div className="space-y-4" data-testid="https-step">
      <Card title="1. Trust the cell’s certificate">
        <p className="mb-3">
          The cell’s own certificate authority signs its HTTPS certificates. Install its root certificate on this
          device once, and the browser trusts the cell without warnings. Only the public certificate is downloaded;
          its private key never leaves the cell.
        </p>
        <RootDownload href={ROOT_CERT_FILE} primary />
      </Card>
      <Card title="2. Continue on HTTPS">
        <p className="mb-3">
          From now on the cell answers on HTTPS only; this plain-HTTP address shows only this page. Use the cell’s
          name where its DNS answers (the LAN with the cell’s DHCP, the VPN), or its LAN address from any device on
          the LAN.
        </p>
        <ul className="flex flex-wrap gap-3" aria-label="HTTPS addresses of the cell">
          {urls.map((url, i) => (
            <li key={url}>
              <a className={i === 0 ? buttonPrimary : buttonSecondary} href={url}>
                Continue to {url}
              </a>
            </li>
          ))}
        </ul>
      </Card>
    </div>
  )
}
