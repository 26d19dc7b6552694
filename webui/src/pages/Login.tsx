import { useState, type FormEvent } from 'react'
import { useNavigate, useSearchParams } from 'react-router-dom'
import { ApiError, endpoints, safeNext } from '../api'
import { buttonPrimary, ErrorNote, Field, inputClass } from '../components/ui'

export function LoginPage() {
  const navigate = useNavigate()
  const [params] = useSearchParams()
  const next = safeNext(params.get('next'))
  const [username, setUsername] = useState('admin')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setError(null)
    if (!username || !password) {
      setError('Enter your user name and password.')
      return
    }
    setBusy(true)
    try {
      await endpoints.login(username, password)
      navigate(next, { replace: true })
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError('Wrong user name or password.')
      else if (e instanceof ApiError && e.status === 429) setError('Too many attempts. Wait a minute and try again.')
      else setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" className="mx-auto mt-8 max-w-sm p-4">
      <h1 className="mb-1 text-2xl font-bold">Log in to your cell</h1>
      {next !== '/' && <p className="mb-4 text-sm text-slate-700">Your session ended. Log in to continue where you were.</p>}
      <form onSubmit={submit} noValidate aria-label="Log in" className="mt-4 rounded-lg border border-slate-200 bg-white p-4">
        {error && (
          <div className="mb-4">
            <ErrorNote error={error} />
          </div>
        )}
        <Field id="login-username" label="User name">
          <input
            id="login-username"
            className={inputClass}
            autoComplete="username"
            autoCapitalize="none"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </Field>
        <Field id="login-password" label="Password">
          <input
            id="login-password"
            type="password"
            className={inputClass}
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <button type="submit" className={`${buttonPrimary} w-full`} disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
