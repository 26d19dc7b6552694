import { useState, type FormEvent } from 'react'
import { endpoints, type CertificateIssued } from '../api'
import { limits } from '../generated/api'
import { downloadBlob, downloadText } from '../pages/Peers'
import { ConfirmDialog, RunNotice } from './Confirm'
import { buttonPrimary, buttonSecondary, ErrorNote, Field, FormError, inputClass, Loading, showRefusal, useApi } from './ui'
import type { FieldErrors } from '../validation'

const NAME_RE = new RegExp(limits.CertName.pattern)

function day(iso: string): string {
  return iso.slice(0, 10)
}

/** The PKCS#12 file from the answer's base64, as phones and Windows import it. */
function pkcs12Blob(base64: string): Blob {
  return new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: 'application/x-pkcs12' })
}

/** The one-time panel after issuing: the key is in the page's memory only, until it is closed. */
function IssuedPanel({ made, onClose }: { made: CertificateIssued; onClose: () => void }) {
  const name = made.certificate.name
  return (
    <div className="mb-4 space-y-3 rounded border border-amber-400 bg-amber-50 p-3 text-amber-950" data-testid="certificate-issued">
      <p role="alert">
        <strong>Save the key now.</strong> The cell keeps no copy of the private key of {name}: download it (and
        the certificate) before closing this panel.
      </p>
      <div className="flex flex-wrap gap-2">
        <button type="button" className={buttonPrimary} onClick={() => downloadText(`${name}.key.pem`, made.key_pem)}>
          Download {name}.key.pem
        </button>
        <button type="button" className={buttonSecondary} onClick={() => downloadText(`${name}.crt.pem`, made.certificate_pem)}>
          Download {name}.crt.pem
        </button>
        {made.pkcs12 && (
          <button type="button" className={buttonSecondary} onClick={() => downloadBlob(`${name}.p12`, pkcs12Blob(made.pkcs12!))}>
            Download {name}.p12
          </button>
        )}
        <button type="button" className={buttonSecondary} onClick={onClose}>
          I have saved them — close
        </button>
      </div>
    </div>
  )
}

/** Certificates from the cell's CA for names people give: issue one, list them, revoke one. */
export function Certificates() {
  const list = useApi(endpoints.certificates)
  const [name, setName] = useState('')
  const [days, setDays] = useState('365')
  const [p12Password, setP12Password] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [made, setMade] = useState<CertificateIssued | null>(null)
  const [confirm, setConfirm] = useState<{ serial: string; name: string } | null>(null)
  const [notice, setNotice] = useState<{ text: string; runId: string } | null>(null)
  const [error, setError] = useState<unknown>(null)

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setFormError(null)
    const n = Number(days)
    const errs: FieldErrors = {
      name: !name ? 'Enter the name the certificate is for.' : NAME_RE.test(name) ? undefined : `Enter ${limits.CertName.description}.`,
      days:
        Number.isInteger(n) && n >= limits.CertDays.minimum && n <= limits.CertDays.maximum
          ? undefined
          : `Enter ${limits.CertDays.description}.`,
      pkcs12_password:
        !p12Password || p12Password.length >= limits.Password.minLength ? undefined : `Enter ${limits.Password.description}, or nothing.`,
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      setMade(await endpoints.issueCertificate({ name, days: n, ...(p12Password ? { pkcs12_password: p12Password } : {}) }))
      setName('')
      setP12Password('')
      list.reload()
    } catch (e) {
      showRefusal(e, setErrors, setFormError)
    } finally {
      setBusy(false)
    }
  }
  const revoke = async () => {
    if (!confirm) return
    setBusy(true)
    setError(null)
    try {
      const res = await endpoints.revokeCertificate(confirm.serial)
      setNotice({ text: `The certificate of ${confirm.name} is revoked; the cell publishes its revocation list again.`, runId: res.run_id })
      list.reload()
    } catch (e) {
      setError(e)
    } finally {
      setConfirm(null)
      setBusy(false)
    }
  }

  return (
    <div>
      {made && <IssuedPanel made={made} onClose={() => setMade(null)} />}
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={error} />
      <form onSubmit={submit} noValidate aria-label="Issue a certificate" className="mb-4">
        <FormError error={formError} />
        <div className="grid grid-cols-1 gap-x-3 sm:grid-cols-[1fr_8rem]">
          <Field id="cert-name" label="Name" error={errors.name} hint="The device's name, like printer.home.cell">
            <input
              id="cert-name"
              className={inputClass}
              value={name}
              autoCapitalize="none"
              spellCheck={false}
              aria-invalid={errors.name ? true : undefined}
              onChange={(e) => setName(e.target.value.trim())}
            />
          </Field>
          <Field id="cert-days" label="Valid for (days)" error={errors.days}>
            <input id="cert-days" className={inputClass} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
          </Field>
        </div>
        <Field
          id="cert-p12"
          label="PKCS#12 password (optional)"
          error={errors.pkcs12_password}
          hint="Phones and Windows import the key and certificate as one .p12 file this password protects. The cell keeps no copy of it."
        >
          <input
            id="cert-p12"
            type="password"
            autoComplete="new-password"
            className={inputClass}
            value={p12Password}
            aria-invalid={errors.pkcs12_password ? true : undefined}
            onChange={(e) => setP12Password(e.target.value)}
          />
        </Field>
        <button type="submit" className={buttonPrimary} disabled={busy}>
          {busy ? 'Issuing…' : 'Issue certificate'}
        </button>
      </form>
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorNote error={list.error} />
      ) : !list.data?.length ? (
        <p className="text-sm text-slate-700">No certificate issued yet.</p>
      ) : (
        <div className="relative overflow-x-auto">
          <table className="min-w-full text-sm" data-testid="certificates">
            <thead>
              <tr className="border-b border-slate-200 text-left">
                <th className="py-1 pr-3">Name</th>
                <th className="py-1 pr-3">Valid until</th>
                <th className="py-1 pr-3">Status</th>
                <th className="py-1">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((c) => (
                <tr key={c.serial} className="border-b border-slate-100">
                  <td className="py-2 pr-3 font-medium break-all" title={`serial ${c.serial}`}>
                    {c.name}
                  </td>
                  <td className="whitespace-nowrap py-2 pr-3">{day(c.not_after)}</td>
                  <td className="py-2 pr-3">{c.revoked ? 'revoked' : 'valid'}</td>
                  <td className="whitespace-nowrap py-2 text-right">
                    {!c.revoked && (
                      <button
                        type="button"
                        className="rounded px-2 py-1 text-red-800 underline hover:bg-red-50"
                        onClick={() => setConfirm({ serial: c.serial, name: c.name })}
                      >
                        Revoke<span className="sr-only"> {c.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="mt-3 text-sm text-slate-700">
        Devices that check revocation read the cell's list at{' '}
        <a className="text-teal-800 underline" href={endpoints.caCrlUrl}>
          {endpoints.caCrlUrl}
        </a>
        .
      </p>
      {confirm && (
        <ConfirmDialog
          title={`Revoke the certificate of ${confirm.name}?`}
          confirmLabel="Revoke"
          busy={busy}
          onCancel={() => setConfirm(null)}
          onConfirm={revoke}
        >
          Devices that check the cell's revocation list will refuse it. This cannot be undone; issue a new one if
          the name needs a certificate again.
        </ConfirmDialog>
      )}
    </div>
  )
}
