import type { ReactNode } from 'react'
import { endpoints, USER_SERVICE_LABELS, type ClientSettings } from '../api'
import { RootDownload } from '../components/TrustRoot'
import { Card, ErrorNote, Loading, NotAvailable, PageHeader, useApi } from '../components/ui'

/** One setting a client app asks for, its value selectable as it must be typed. */
function Setting({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="py-1 sm:flex sm:gap-3">
      <dt className="text-sm text-slate-700 sm:w-44 sm:shrink-0">{label}</dt>
      <dd className="break-all font-mono text-sm">{children}</dd>
    </div>
  )
}

function MailSettings({ mail }: { mail: NonNullable<ClientSettings['mail']> }) {
  return (
    <dl>
      <Setting label="Address">{mail.address}</Setting>
      {mail.aliases.length > 0 && <Setting label="Also your addresses">{mail.aliases.join(', ')}</Setting>}
      {mail.catch_all && <Setting label="Catch-all">mail to addresses nobody has comes to you too</Setting>}
      <Setting label="User name">{mail.login}</Setting>
      <Setting label="Incoming (IMAP)">
        {mail.imap.host}, port {mail.imap.port}, {mail.imap.security}
      </Setting>
      <Setting label="Outgoing (SMTP)">
        {mail.smtp.host}, port {mail.smtp.port}, {mail.smtp.security}
      </Setting>
      <Setting label="Password">your account password</Setting>
    </dl>
  )
}

export function MyServicesPage() {
  const settings = useApi(endpoints.clientSettings)
  const s = settings.data
  return (
    <div className="space-y-4">
      <PageHeader title="My services">What your apps need to use the cell's services, with your user name and password.</PageHeader>
      {settings.loading && !s ? (
        <Loading />
      ) : settings.error ? (
        <ErrorNote error={settings.error} />
      ) : s && (
        <>
          {s.services.length === 0 && (
            <NotAvailable>You have no services on this cell yet; an admin gives them on the Users page.</NotAvailable>
          )}
          <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
            {s.mail && (
              <Card title={USER_SERVICE_LABELS.mail}>
                <MailSettings mail={s.mail} />
              </Card>
            )}
            {s.calendar && (
              <Card title={USER_SERVICE_LABELS.calendar}>
                <dl>
                  <Setting label="CalDAV (calendars)">{s.calendar.caldav_url}</Setting>
                  <Setting label="CardDAV (contacts)">{s.calendar.carddav_url}</Setting>
                  <Setting label="User name">{s.calendar.login}</Setting>
                </dl>
              </Card>
            )}
            {s.files && (
              <Card title={USER_SERVICE_LABELS.files}>
                <dl>
                  <Setting label="WebDAV">{s.files.webdav_url}</Setting>
                  <Setting label="User name">{s.files.login}</Setting>
                </dl>
              </Card>
            )}
            {s.services.includes('vpn') && (
              <Card title={USER_SERVICE_LABELS.vpn}>
                <p className="text-sm">You may connect devices to the cell over WireGuard; an admin adds them for you.</p>
              </Card>
            )}
          </div>
        </>
      )}
      <Card title="The cell's root certificate">
        <p className="mb-3 text-sm">
          Your apps trust the cell's addresses once its root certificate is installed on the device.
        </p>
        <RootDownload href={endpoints.caRootUrl} />
      </Card>
    </div>
  )
}
