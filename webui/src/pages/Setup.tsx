import { useEffect, useMemo, useState, type FormEvent } from 'react'
import { useNavigate } from 'react-router-dom'
import {
  ALL_SERVICES,
  ApiError,
  endpoints,
  SERVICE_LABELS,
  type DomainMode,
  type LanSettings,
  type RunStatus,
  type ServiceName,
  type SetupOptions,
  type SetupRequest,
} from '../api'
import { PasswordStrength } from '../components/PasswordStrength'
import { RunView } from '../components/RunView'
import { SetupLan } from '../components/SetupLan'
import { HttpsStep } from '../components/TrustRoot'
import { RestoreFromBackup } from './SetupRestore'
import { TimezonePicker } from '../components/TimezonePicker'
import { buttonPrimary, buttonSecondary, ErrorNote, Field, inputClass, Loading } from '../components/ui'
import { browserTimeZone, timeZones, validateSetup, type FieldErrors, type SetupForm as SetupFormData } from '../validation'

const DOMAIN_MODES: { value: DomainMode; label: string; hint: string }[] = [
  { value: 'internal', label: 'Internal only', hint: 'Names like phone.<cell>.cell, reachable through the VPN and on the LAN.' },
  { value: 'pic_ngo', label: 'PIC dynamic name', hint: 'A public name under the project’s dynamic DNS domain.' },
  { value: 'custom', label: 'My own domain', hint: 'A domain you control; point its DNS records at this cell.' },
]

/** The wizard's first step: the one-time code that proves the person can read the cell's own output. */
export function SetupCodeStep({ onAccepted }: { onAccepted: (code: string) => void }) {
  const [code, setCode] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    const typed = code.trim()
    if (!typed) {
      setError('Enter the setup code.')
      document.getElementById('setup-setup_code')?.focus()
      return
    }
    setBusy(true)
    setError(null)
    try {
      await endpoints.checkSetupCode(typed)
      onAccepted(typed)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e)) // the API's sentence: wrong code, or how long to wait
      document.getElementById('setup-setup_code')?.focus()
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Claim this cell" className="space-y-4">
      <fieldset className="rounded-lg border border-slate-200 bg-white p-4">
        <legend className="px-1 text-lg font-semibold">Setup code</legend>
        <p className="mb-3 text-sm text-slate-700">
          Only someone who installed this cell may set it up. The code is printed at the end of{' '}
          <code>ansible-playbook site.yml</code>; on the cell itself, <code>sudo /opt/pic/venv/bin/pic setup-code</code>{' '}
          prints it.
        </p>
        <Field id="setup-setup_code" label="Setup code" error={error ?? undefined}>
          <input
            id="setup-setup_code"
            className={inputClass}
            value={code}
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            placeholder="XXXX-XXXX-XXXX-XXXX"
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'setup-setup_code-error' : undefined}
            onChange={(e) => {
              setCode(e.target.value)
              setError(null)
            }}
          />
        </Field>
      </fieldset>
      <button type="submit" className={buttonPrimary} disabled={busy}>
        {busy ? 'Checking…' : 'Continue'}
      </button>
    </form>
  )
}

export function SetupForm({
  setupCode,
  onStarted,
  onCodeRefused,
  options,
}: {
  setupCode: string
  onStarted: (runId: string, https: string[]) => void
  onCodeRefused?: (message: string) => void
  /** The API's wizard options: with them the form shows the LAN found and starts from its defaults. */
  options?: SetupOptions | null
}) {
  const zones = useMemo(() => timeZones(), [])
  const [form, setForm] = useState<SetupFormData>(() => {
    const tz = browserTimeZone()
    return {
      cell_name: '',
      domain_mode: 'internal',
      domain: '',
      timezone: zones.includes(tz) ? tz : 'UTC',
      admin_password: '',
      confirm_password: '',
      services: [...ALL_SERVICES],
    }
  })
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [alreadyDone, setAlreadyDone] = useState(false)

  // ---- the LAN found (GET /api/setup/options); DHCP is chosen there ----
  const [lan, setLan] = useState<LanSettings | null>(null)
  useEffect(() => {
    const d = options?.defaults
    if (!d?.lan) return
    setLan(d.lan)
    if (Array.isArray(d.services)) setForm((f) => ({ ...f, services: ALL_SERVICES.filter((s) => d.services.includes(s)) }))
  }, [options])
  const changeLan = (next: LanSettings) => {
    setLan(next)
    setErrors((e) => ({ ...e, lan_subnet: undefined, lan_address: undefined, dhcp_range: undefined,
      'dhcp_range[0]': undefined, 'dhcp_range[1]': undefined }))
  }

  const set = <K extends keyof SetupFormData>(k: K, v: SetupFormData[K]) => {
    setForm((f) => ({ ...f, [k]: v }))
    setErrors((e) => ({ ...e, [k]: undefined }))
  }

  const toggleService = (s: ServiceName) =>
    set('services', form.services.includes(s) ? form.services.filter((x) => x !== s) : [...form.services, s])

  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    setFormError(null)
    const errs = validateSetup(form, zones)
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) {
      const first = Object.keys(errs).find((k) => errs[k])
      if (first) document.getElementById(`setup-${first}`)?.focus()
      return
    }
    const req: SetupRequest = {
      setup_code: setupCode,
      cell_name: form.cell_name,
      domain_mode: form.domain_mode,
      timezone: form.timezone,
      admin_password: form.admin_password,
      services: ALL_SERVICES.filter((s) => form.services.includes(s)),
    }
    if (form.domain_mode === 'custom') req.domain = form.domain.trim().toLowerCase()
    if (lan) Object.assign(req, lan)
    setBusy(true)
    try {
      if (form.domain_mode === 'pic_ngo') {
        // Asked before the setup runs; a service that does not answer (null) does not block the wizard.
        const free = await endpoints.nameAvailable(form.cell_name).catch(() => null)
        if (free?.available === false) {
          setErrors({ cell_name: `${free.name} is taken: choose another cell name.` })
          document.getElementById('setup-cell_name')?.focus()
          return
        }
      }
      const res = await endpoints.setup(req)
      onStarted(res.run_id, res.https ?? [])
    } catch (e) {
      if (e instanceof ApiError && e.fields.setup_code && onCodeRefused) {
        onCodeRefused(e.fields.setup_code)
      } else if (e instanceof ApiError && e.status === 400) {
        setErrors(e.fields)
        setFormError(Object.keys(e.fields).length ? 'Please correct the marked fields.' : e.message)
      } else if (e instanceof ApiError && e.status === 409) {
        setAlreadyDone(true)
      } else {
        setFormError(e instanceof Error ? e.message : String(e))
      }
    } finally {
      setBusy(false)
    }
  }

  if (alreadyDone) return <AlreadySetUp />

  const err = (k: string) => errors[k]
  const describedBy = (k: string, hint = false) =>
    [hint ? `setup-${k}-hint` : '', err(k) ? `setup-${k}-error` : ''].filter(Boolean).join(' ') || undefined

  return (
    <form onSubmit={submit} noValidate aria-label="Set up this cell" className="space-y-6">
      {formError && <ErrorNote error={formError} />}

      <fieldset className="rounded-lg border border-slate-200 bg-white p-4">
        <legend className="px-1 text-lg font-semibold">1. Name</legend>
        <Field
          id="setup-cell_name"
          label="Cell name"
          error={err('cell_name')}
          hint="Lowercase letters, digits and hyphens; it becomes part of every name in the cell."
        >
          <input
            id="setup-cell_name"
            className={inputClass}
            value={form.cell_name}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            aria-invalid={err('cell_name') ? true : undefined}
            aria-describedby={describedBy('cell_name', true)}
            onChange={(e) => set('cell_name', e.target.value.trim())}
          />
        </Field>
      </fieldset>

      <fieldset className="rounded-lg border border-slate-200 bg-white p-4">
        <legend className="px-1 text-lg font-semibold">2. Domain</legend>
        <div role="radiogroup" aria-label="Domain mode" className="space-y-2">
          {DOMAIN_MODES.map((m) => (
            <label key={m.value} className="flex items-start gap-2">
              <input
                type="radio"
                name="domain_mode"
                value={m.value}
                className="mt-1.5"
                checked={form.domain_mode === m.value}
                onChange={() => set('domain_mode', m.value)}
              />
              <span>
                <span className="font-medium">{m.label}</span>
                <span className="block text-sm text-slate-700">
                  {m.value === 'internal' && form.cell_name ? `Names like phone.${form.cell_name}.cell.` : m.hint}
                </span>
              </span>
            </label>
          ))}
        </div>
        {err('domain_mode') && <p className="mt-1 text-sm font-medium text-red-800">{err('domain_mode')}</p>}
        {form.domain_mode === 'pic_ngo' && (
          <p className="mt-2 text-sm text-slate-700" data-testid="pic-ngo-name">
            The cell will be {form.cell_name || '<name>'}.pic.ngo; the name is checked when you apply.
          </p>
        )}
        {form.domain_mode === 'custom' && (
          <div className="mt-4">
            <Field id="setup-domain" label="Domain" error={err('domain')}>
              <input
                id="setup-domain"
                className={inputClass}
                value={form.domain}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                inputMode="url"
                aria-invalid={err('domain') ? true : undefined}
                aria-describedby={describedBy('domain')}
                onChange={(e) => set('domain', e.target.value)}
              />
            </Field>
          </div>
        )}
      </fieldset>

      <fieldset className="rounded-lg border border-slate-200 bg-white p-4">
        <legend className="px-1 text-lg font-semibold">3. Time zone</legend>
        <label htmlFor="setup-timezone" className="sr-only">
          Time zone
        </label>
        <TimezonePicker
          id="setup-timezone"
          value={form.timezone}
          zones={zones}
          error={err('timezone')}
          onChange={(tz) => set('timezone', tz)}
        />
        {err('timezone') && (
          <p id="setup-timezone-error" className="mt-1 text-sm font-medium text-red-800">
            {err('timezone')}
          </p>
        )}
      </fieldset>

      <fieldset className="rounded-lg border border-slate-200 bg-white p-4">
        <legend className="px-1 text-lg font-semibold">4. Administrator</legend>
        <p className="mb-3 text-sm text-slate-700">
          You will log in as <span className="font-medium">admin</span> with this password.
        </p>
        <Field id="setup-admin_password" label="Admin password" error={err('admin_password')}>
          <input
            id="setup-admin_password"
            type="password"
            autoComplete="new-password"
            className={inputClass}
            value={form.admin_password}
            aria-invalid={err('admin_password') ? true : undefined}
            aria-describedby={['setup-password-strength', err('admin_password') ? 'setup-admin_password-error' : '']
              .filter(Boolean)
              .join(' ')}
            onChange={(e) => set('admin_password', e.target.value)}
          />
          <PasswordStrength id="setup-password-strength" password={form.admin_password} />
        </Field>
        <Field id="setup-confirm_password" label="Confirm password" error={err('confirm_password')}>
          <input
            id="setup-confirm_password"
            type="password"
            autoComplete="new-password"
            className={inputClass}
            value={form.confirm_password}
            aria-invalid={err('confirm_password') ? true : undefined}
            aria-describedby={describedBy('confirm_password')}
            onChange={(e) => set('confirm_password', e.target.value)}
          />
        </Field>
      </fieldset>

      <fieldset className="rounded-lg border border-slate-200 bg-white p-4" aria-describedby={err('services') ? 'setup-services-error' : undefined}>
        <legend className="px-1 text-lg font-semibold">5. Services</legend>
        <div className="grid gap-2 sm:grid-cols-2">
          {ALL_SERVICES.filter((s) => !(lan && s === 'dhcp')).map((s) => (
            <label key={s} className="flex items-center gap-2">
              <input
                id={s === ALL_SERVICES[0] ? 'setup-services' : undefined}
                type="checkbox"
                checked={form.services.includes(s)}
                onChange={() => toggleService(s)}
              />
              {SERVICE_LABELS[s]}
            </label>
          ))}
        </div>
        {err('services') && (
          <p id="setup-services-error" className="mt-2 text-sm font-medium text-red-800">
            {err('services')}
          </p>
        )}
      </fieldset>

      {lan && (
        <SetupLan
          lan={lan}
          onChange={changeLan}
          dhcp={form.services.includes('dhcp')}
          onDhcp={(on) => on !== form.services.includes('dhcp') && toggleService('dhcp')}
          dhcpServers={options?.defaults.lan_dhcp_servers ?? []}
          errors={errors}
        />
      )}

      <button type="submit" className={buttonPrimary} disabled={busy}>
        {busy ? 'Starting…' : 'Apply'}
      </button>
    </form>
  )
}

function AlreadySetUp() {
  return (
    <div className="space-y-3">
      <p>This cell is set up already.</p>
      <a className={buttonPrimary} href="/login">
        Log in
      </a>
    </div>
  )
}

const SWITCH_POLL_MS = 2000

/**
 * Whether :8081 has switched to HTTPS while the setup run is watched. The run itself reloads caddy,
 * which ends the run's event stream; from then on plain HTTP serves no API. Two answers in a row
 * say so, so one lost request is not taken for the switch.
 */
function useHttpsSwitch(active: boolean): boolean {
  const [switched, setSwitched] = useState(false)
  useEffect(() => {
    if (!active || switched) return
    let stop = false
    let seen = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const probe = async () => {
      const now = await endpoints.switchedToHttps()
      if (stop) return
      seen = now ? seen + 1 : 0
      if (seen >= 2) setSwitched(true)
      else timer = setTimeout(probe, SWITCH_POLL_MS)
    }
    timer = setTimeout(probe, SWITCH_POLL_MS)
    return () => {
      stop = true
      if (timer) clearTimeout(timer)
    }
  }, [active, switched])
  return switched
}

/** Where the UI answers after setup: the setup's answer, or this host over HTTPS. */
function storedHttps(): string[] {
  try {
    const urls = JSON.parse(sessionStorage.getItem('pic_setup_https') ?? '[]')
    if (Array.isArray(urls) && urls.length && urls.every((u) => typeof u === 'string' && u.startsWith('https://')))
      return urls
  } catch {
    // not JSON: fall through
  }
  return [`https://${window.location.hostname}/`]
}

export function SetupPage() {
  const navigate = useNavigate()
  const [runId, setRunId] = useState<string | null>(() => sessionStorage.getItem('pic_setup_run'))
  const [https, setHttps] = useState<string[]>(storedHttps)
  const [status, setStatus] = useState<RunStatus | null>(null)
  const [completed, setCompleted] = useState<boolean | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [setupCode, setSetupCode] = useState<string | null>(null)
  const [codeRefused, setCodeRefused] = useState<string | null>(null)
  const [options, setOptions] = useState<SetupOptions | null>(null)
  const [restoring, setRestoring] = useState(false)

  useEffect(() => {
    endpoints.setupStatus().then(
      (s) => setCompleted(s.completed),
      (e) => setError(e),
    )
    // Without the options the form still works, from its own defaults and without the LAN section.
    endpoints.setupOptions().then(setOptions, () => setOptions(null))
  }, [])

  const started = (id: string, urls: string[]) => {
    sessionStorage.setItem('pic_setup_run', id)
    sessionStorage.setItem('pic_setup_https', JSON.stringify(urls))
    setRunId(id)
    setHttps(storedHttps())
  }
  const finished = status === 'successful' || status === 'failed' || status === 'canceled'
  const switched = useHttpsSwitch(Boolean(runId) && !finished)

  let body
  if (runId) {
    body = (
      <div className="space-y-4">
        {switched && !finished && (
          <div className="rounded border border-emerald-300 bg-emerald-50 p-4" role="status">
            <p className="font-medium text-emerald-900">Your cell has switched to HTTPS.</p>
            <p className="mt-1 text-emerald-900">
              The setup run reloaded the cell’s web server: from now on this plain-HTTP address only leads to
              HTTPS. The run’s last steps and its result are on the Runs page there.
            </p>
          </div>
        )}
        {status === 'successful' && (
          <div className="rounded border border-emerald-300 bg-emerald-50 p-4" role="status">
            <p className="font-medium text-emerald-900">Your cell is ready.</p>
            <p className="mt-1 text-emerald-900">Its web UI now answers on HTTPS only.</p>
          </div>
        )}
        {(status === 'failed' || status === 'canceled') && (
          <div className="rounded border border-red-300 bg-red-50 p-4 text-red-900">
            <p className="mb-3">
              The setup run did not finish. The failed task is shown below; once the cause is fixed, the
              settings page can apply the configuration again.
            </p>
            {!switched && (
              <button
                type="button"
                className={buttonSecondary}
                onClick={() => {
                  sessionStorage.removeItem('pic_setup_run')
                  navigate('/', { replace: true })
                }}
              >
                Go to the dashboard
              </button>
            )}
          </div>
        )}
        {(switched || status === 'successful') && <HttpsStep urls={https} />}
        {/* what to do next first; the run's steps below it */}
        <RunView runId={runId} title="Setting up your cell" onFinished={setStatus} />
      </div>
    )
  } else if (error) {
    body = <ErrorNote error={error} />
  } else if (completed === null) {
    body = <Loading what="Checking the cell" />
  } else if (completed) {
    body = <AlreadySetUp />
  } else if (setupCode === null) {
    body = (
      <>
        {codeRefused && <ErrorNote error={`The setup code was refused: ${codeRefused}`} />}
        <SetupCodeStep onAccepted={setSetupCode} />
      </>
    )
  } else {
    const refused = (message: string) => {
      setCodeRefused(message)
      setSetupCode(null)
    }
    body = (
      <>
        <button type="button" className={`${buttonSecondary} mb-4`} onClick={() => setRestoring((r) => !r)}>
          {restoring ? 'Set up a new cell instead' : 'Restore from a backup instead'}
        </button>
        {restoring ? (
          <RestoreFromBackup setupCode={setupCode} onCodeRefused={refused} />
        ) : (
          <SetupForm setupCode={setupCode} onStarted={started} options={options} onCodeRefused={refused} />
        )}
      </>
    )
  }

  return (
    <main id="main" className="mx-auto max-w-2xl p-4 md:p-8">
      <h1 className="mb-2 text-2xl font-bold">Set up your Personal Internet Cell</h1>
      {!runId && completed === false && (
        <p className="mb-6 text-slate-700">
          {setupCode === null
            ? 'First, the one-time setup code that this cell printed when it was installed.'
            : restoring
              ? 'Bring back a cell whose backups you have: the repository and the passphrase you saved. Its settings, keys, devices, mail, calendars and files come back.'
              : 'Choose a name, how the cell is reached, its time zone, the administrator password and the services to run. Apply starts the installation and shows it live.'}
        </p>
      )}
      {body}
    </main>
  )
}
