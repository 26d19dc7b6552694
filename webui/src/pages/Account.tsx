import { useState, type FormEvent } from 'react'
import { useNavigate } from 'react-router-dom'
import { endpoints, type AccountSession } from '../api'
import { PasswordStrength } from '../components/PasswordStrength'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, FormError, inputClass, Loading, PageHeader, showRefusal, useApi } from '../components/ui'
import { validatePassword, type FieldErrors } from '../validation'

export function ChangePasswordForm() {
  const empty = { current_password: '', new_password: '', confirm: '' }
  const [form, setForm] = useState(empty)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [message, setMessage] = useState<string | null>(null)
  const [done, setDone] = useState(false)
  const [busy, setBusy] = useState(false)
  const set = (k: keyof typeof empty, v: string) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
  }

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setMessage(null)
    setDone(false)
    const errs: FieldErrors = {
      current_password: form.current_password ? undefined : 'Enter your current password.',
      new_password: validatePassword(form.new_password) ?? undefined,
      confirm: form.confirm === form.new_password ? undefined : 'The passwords do not match.',
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      await endpoints.changePassword({ current_password: form.current_password, new_password: form.new_password })
      setForm(empty)
      setDone(true)
    } catch (e) {
      showRefusal(e, setErrors, setMessage)
    } finally {
      setBusy(false)
    }
  }

  const input = (k: keyof typeof empty, label: string, auto: string) => (
    <Field id={`account-${k}`} label={label} error={errors[k]}>
      <input
        id={`account-${k}`}
        type="password"
        className={inputClass}
        value={form[k]}
        autoComplete={auto}
        aria-invalid={Boolean(errors[k])}
        onChange={(e) => set(k, e.target.value)}
      />
      {k === 'new_password' && <PasswordStrength password={form.new_password} id="account-strength" />}
    </Field>
  )

  return (
    <form onSubmit={submit} noValidate aria-label="Change your password">
      <FormError error={message} />
      {done && (
        <p role="status" className="mb-3 rounded border border-emerald-300 bg-emerald-50 p-2 text-sm text-emerald-900">
          Password changed, for the web UI and for your mail, calendar and files. Your other sessions have ended.
        </p>
      )}
      {input('current_password', 'Current password', 'current-password')}
      {input('new_password', 'New password', 'new-password')}
      {input('confirm', 'New password again', 'new-password')}
      <button type="submit" className={buttonPrimary} disabled={busy}>
        {busy ? 'Changing…' : 'Change password'}
      </button>
    </form>
  )
}

function sessionTime(unix: number): string {
  return new Date(unix * 1000).toLocaleString()
}

export function SessionList() {
  const sessions = useApi(endpoints.sessions)
  const [error, setError] = useState<unknown>(null)
  const navigate = useNavigate()

  const end = async (s: AccountSession) => {
    setError(null)
    try {
      if (s.current) {
        await endpoints.logout() // ends this session and clears its cookies
        navigate('/login', { replace: true })
        return
      }
      await endpoints.endSession(s.id)
      sessions.reload()
    } catch (e) {
      setError(e)
    }
  }
  const endOthers = async () => {
    setError(null)
    try {
      await endpoints.endOtherSessions()
      sessions.reload()
    } catch (e) {
      setError(e)
    }
  }

  if (sessions.loading && !sessions.data) return <Loading />
  if (sessions.error) return <ErrorNote error={sessions.error} />
  const list = sessions.data ?? []
  return (
    <div>
      <ErrorNote error={error} />
      <ul className="divide-y divide-slate-200">
        {list.map((s) => (
          <li key={s.id} className="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="account-session">
            <div className="min-w-0 text-sm">
              <div className="font-medium">
                {s.current ? 'This session' : 'Another session'} {s.remote && <span>from {s.remote}</span>}
              </div>
              <div className="break-words text-slate-700">{s.agent || 'unknown browser'}</div>
              <div className="text-slate-700">
                Since {sessionTime(s.created_at)}, until {sessionTime(s.expires_at)}
              </div>
            </div>
            <button type="button" className={buttonSecondary} onClick={() => end(s)}>
              {s.current ? 'Log out here' : 'End'}
            </button>
          </li>
        ))}
      </ul>
      {list.length > 1 && (
        <button type="button" className={`${buttonSecondary} mt-3`} onClick={endOthers}>
          End all other sessions
        </button>
      )}
    </div>
  )
}

export function AccountPage({ me }: { me?: string }) {
  return (
    <div className="space-y-4">
      <PageHeader title="Account">{me ? `Your account, ${me}.` : 'Your account.'}</PageHeader>
      <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
        <Card title="Password">
          <p className="mb-3 text-sm text-slate-700">
            One password for the web UI and for your mail, calendar and files. Changing it ends your other sessions.
          </p>
          <ChangePasswordForm />
        </Card>
        <Card title="Sessions">
          <p className="mb-3 text-sm text-slate-700">Where you are logged in. End any you do not know.</p>
          <SessionList />
        </Card>
      </div>
    </div>
  )
}
