import { useState, type FormEvent } from 'react'
import {
  endpoints,
  ROLE_LABELS,
  USER_SERVICE_LABELS,
  USER_SERVICES,
  type Role,
  type UserEntry,
  type UserService,
} from '../api'
import { ChangeButtons } from '../components/ChangePreview'
import { ConfirmDialog, RunNotice, useConfirmed, type Notice } from '../components/Confirm'
import { PasswordStrength } from '../components/PasswordStrength'
import {
  buttonSecondary,
  Card,
  ErrorNote,
  FormError,
  Field,
  inputClass,
  Loading,
  PageHeader,
  showRefusal,
  useApi,
} from '../components/ui'
import { parseAliases, validateAliases, validateName, validatePassword, type FieldErrors } from '../validation'

/** The services a person may use, as checkboxes (the API's list, in its order). */
export function ServiceChoice({
  id,
  value,
  onChange,
  error,
}: {
  id: string
  value: UserService[]
  onChange: (v: UserService[]) => void
  error?: string
}) {
  const toggle = (s: UserService, on: boolean) =>
    onChange(USER_SERVICES.filter((x) => (x === s ? on : value.includes(x))))
  return (
    <fieldset className="mb-4" aria-describedby={error ? `${id}-error` : undefined}>
      <legend className="font-medium">Services they may use</legend>
      <div className="mt-1 flex flex-wrap gap-x-4 gap-y-1">
        {USER_SERVICES.map((s) => (
          <label key={s} className="inline-flex items-center gap-2">
            <input type="checkbox" checked={value.includes(s)} onChange={(e) => toggle(s, e.target.checked)} />
            {USER_SERVICE_LABELS[s]}
          </label>
        ))}
      </div>
      {error && (
        <p id={`${id}-error`} className="mt-1 text-sm font-medium text-red-800">
          {error}
        </p>
      )}
    </fieldset>
  )
}

function RoleSelect({ id, value, onChange, disabled }: { id: string; value: Role; onChange: (r: Role) => void; disabled?: boolean }) {
  return (
    <select id={id} className={inputClass} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as Role)}>
      {(Object.keys(ROLE_LABELS) as Role[]).map((r) => (
        <option key={r} value={r}>
          {ROLE_LABELS[r]}
        </option>
      ))}
    </select>
  )
}

export function AddUserForm({ existing, onAdded }: { existing: string[]; onAdded: (n: Notice) => void }) {
  const empty = { name: '', password: '', role: 'peer' as Role, services: [...USER_SERVICES] }
  const [form, setForm] = useState(empty)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [preview, setPreview] = useState<string | null>(null)

  const send = async (previewOnly: boolean) => {
    setFormError(null)
    const errs: FieldErrors = {
      name: validateName(form.name, 'Give the person a user name.') ??
        (existing.includes(form.name) ? 'A person with this name exists.' : undefined),
      password: validatePassword(form.password) ?? undefined,
    }
    setErrors(errs)
    if (Object.values(errs).some(Boolean)) return
    setBusy(true)
    try {
      if (previewOnly) {
        setPreview((await endpoints.previewAddUser(form)).run_id)
        return
      }
      const res = await endpoints.addUser(form)
      setForm(empty)
      setPreview(null)
      onAdded({ text: `${res.user.name} added.`, runId: res.run_id })
    } catch (e) {
      showRefusal(e, setErrors, setFormError)
    } finally {
      setBusy(false)
    }
  }
  const submit = (ev: FormEvent) => {
    ev.preventDefault()
    void send(false)
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Add a person">
      <FormError error={formError} />
      <Field id="user-name" label="User name" error={errors.name} hint="Their login, and the first part of their mail address.">
        <input
          id="user-name"
          className={inputClass}
          value={form.name}
          autoCapitalize="none"
          autoComplete="off"
          aria-invalid={Boolean(errors.name)}
          onChange={(e) => setForm({ ...form, name: e.target.value })}
        />
      </Field>
      <Field id="user-password" label="Password" error={errors.password} hint="Tell it to them; they can change it on their Account page.">
        <input
          id="user-password"
          type="password"
          className={inputClass}
          value={form.password}
          autoComplete="new-password"
          aria-invalid={Boolean(errors.password)}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
        />
        <PasswordStrength password={form.password} id="user-password-strength" />
      </Field>
      <Field id="user-role" label="Role" error={errors.role} hint="A member uses their services; an admin also changes the cell.">
        <RoleSelect id="user-role" value={form.role} onChange={(role) => setForm({ ...form, role })} />
      </Field>
      <ServiceChoice id="user-services" value={form.services} error={errors.services} onChange={(services) => setForm({ ...form, services })} />
      <ChangeButtons label="Add person" busyLabel="Adding…" busy={busy}
        onPreview={() => void send(true)} preview={preview} onClosePreview={() => setPreview(null)} />
    </form>
  )
}

function EditUser({ user, self, onDone, onDelete }: { user: UserEntry; self: boolean; onDone: (n: Notice) => void; onDelete: () => void }) {
  const [role, setRole] = useState<Role>(user.role)
  const [services, setServices] = useState<UserService[]>(user.services)
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [message, setMessage] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [aliasText, setAliasText] = useState(user.mail_aliases.join(', '))
  const [catchAll, setCatchAll] = useState(user.mail_catch_all)
  const [preview, setPreview] = useState<string | null>(null)
  const id = `user-${user.name}`
  const hasMail = services.includes('mail')
  // without a mailbox a person has no addresses: taking mail away takes them away too
  const aliases = hasMail ? parseAliases(aliasText) : []
  const catchAllNow = hasMail && catchAll
  const aliasesChanged = aliases.join() !== user.mail_aliases.join()
  const changed =
    role !== user.role || services.join() !== user.services.join() || aliasesChanged || catchAllNow !== user.mail_catch_all

  const act = async (what: () => Promise<Notice>) => {
    setBusy(true)
    setErrors({})
    setMessage(null)
    try {
      onDone(await what())
    } catch (e) {
      showRefusal(e, setErrors, setMessage)
    } finally {
      setBusy(false)
    }
  }
  const body = () => ({
    ...(role !== user.role ? { role } : {}),
    ...(services.join() !== user.services.join() ? { services } : {}),
    ...(aliasesChanged ? { mail_aliases: aliases } : {}),
    ...(catchAllNow !== user.mail_catch_all ? { mail_catch_all: catchAllNow } : {}),
  })
  const checkAliases = () => {
    const bad = validateAliases(aliases)
    if (bad) setErrors({ mail_aliases: bad })
    return !bad
  }
  const save = (ev: FormEvent) => {
    ev.preventDefault()
    if (!checkAliases()) return
    setPreview(null)
    void act(async () => {
      const res = await endpoints.changeUser(user.name, body())
      return { text: `${user.name} changed.`, runId: res.run_id }
    })
  }
  const previewChange = async () => {
    if (!checkAliases()) return
    setBusy(true)
    setErrors({})
    setMessage(null)
    try {
      setPreview((await endpoints.previewChangeUser(user.name, body())).run_id)
    } catch (e) {
      showRefusal(e, setErrors, setMessage)
    } finally {
      setBusy(false)
    }
  }
  const reset = (ev: FormEvent) => {
    ev.preventDefault()
    const bad = validatePassword(password)
    if (bad) {
      setErrors({ password: bad })
      return
    }
    void act(async () => {
      const res = await endpoints.resetPassword(user.name, password)
      setPassword('')
      return { text: `New password set for ${user.name}; their sessions have ended.`, runId: res.run_id }
    })
  }

  return (
    <div className="mt-3 space-y-4 border-t border-slate-200 pt-3">
      {message && <ErrorNote error={message} />}
      <form onSubmit={save} noValidate aria-label={`Role, services and addresses of ${user.name}`}>
        <Field id={`${id}-role`} label="Role" error={errors.role} hint={self ? 'Another admin changes your role.' : undefined}>
          <RoleSelect id={`${id}-role`} value={role} onChange={setRole} disabled={self} />
        </Field>
        <ServiceChoice id={`${id}-services`} value={services} onChange={setServices} error={errors.services} />
        {hasMail && (
          <>
            <Field
              id={`${id}-aliases`}
              label="Other mail addresses"
              error={errors.mail_aliases}
              hint={`The part before the @, separated by commas: mail to them lands in ${user.name}'s mailbox, and ${user.name} may send from them.`}
            >
              <input
                id={`${id}-aliases`}
                className={inputClass}
                value={aliasText}
                placeholder="info, sales"
                aria-invalid={Boolean(errors.mail_aliases)}
                onChange={(e) => setAliasText(e.target.value)}
              />
            </Field>
            <div className="mb-4">
              <label className="inline-flex items-center gap-2">
                <input type="checkbox" checked={catchAll} onChange={(e) => setCatchAll(e.target.checked)} />
                Catch-all: mail to an address nobody has lands here
              </label>
              {errors.mail_catch_all && <p className="mt-1 text-sm font-medium text-red-800">{errors.mail_catch_all}</p>}
            </div>
          </>
        )}
        <ChangeButtons label="Save" busyLabel="Save" busy={busy} disabled={!changed}
          onPreview={() => void previewChange()} preview={preview} onClosePreview={() => setPreview(null)} />
      </form>
      {self ? (
        <p className="text-sm text-slate-700">Your own password and sessions are on your Account page.</p>
      ) : (
        <>
          <form onSubmit={reset} noValidate aria-label={`Set a password for ${user.name}`}>
            <Field id={`${id}-password`} label={`New password for ${user.name}`} error={errors.password}>
              <input
                id={`${id}-password`}
                type="password"
                className={inputClass}
                value={password}
                autoComplete="new-password"
                aria-invalid={Boolean(errors.password)}
                onChange={(e) => setPassword(e.target.value)}
              />
            </Field>
            <button type="submit" className={buttonSecondary} disabled={busy}>
              Set password
            </button>
          </form>
          <button type="button" className={buttonSecondary} onClick={onDelete}>
            Delete {user.name}
          </button>
        </>
      )}
    </div>
  )
}

export function UsersPage({ me }: { me?: string }) {
  const users = useApi(endpoints.users)
  const [open, setOpen] = useState<string | null>(null)
  const [notice, setNotice] = useState<Notice | null>(null)
  const [error, setError] = useState<unknown>(null)

  const done = (n: Notice) => {
    setNotice(n)
    users.reload()
  }
  const removal = useConfirmed(
    async (name: string): Promise<Notice> => {
      const res = await endpoints.deleteUser(name)
      setOpen(null)
      return { text: `${name} deleted.`, runId: res.run_id }
    },
    done,
    setError,
  )

  return (
    <div className="space-y-4">
      <PageHeader title="Users">The people of the cell: their logins, roles and the services they may use.</PageHeader>
      {notice && <RunNotice text={notice.text} runId={notice.runId} />}
      <ErrorNote error={error} />
      <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
        <Card title="People">
          {users.loading && !users.data ? (
            <Loading />
          ) : users.error ? (
            <ErrorNote error={users.error} />
          ) : (
            <ul className="divide-y divide-slate-200">
              {(users.data ?? []).map((u) => (
                <li key={u.name} className="py-3" data-testid={`user-${u.name}`}>
                  <div className="flex flex-wrap items-center justify-between gap-2">
                    <div className="min-w-0">
                      <span className="font-semibold">{u.name}</span>{' '}
                      <span className="rounded bg-slate-100 px-2 py-0.5 text-xs font-semibold text-slate-800">{ROLE_LABELS[u.role]}</span>
                      <div className="text-sm text-slate-700" data-testid="user-services">
                        {u.services.length ? u.services.map((s) => USER_SERVICE_LABELS[s]).join(', ') : 'no services'}
                      </div>
                      {(u.mail_aliases.length > 0 || u.mail_catch_all) && (
                        <div className="text-sm break-words text-slate-700" data-testid="user-mail">
                          {u.mail_aliases.length > 0 && `Also: ${u.mail_aliases.join(', ')}`}
                          {u.mail_aliases.length > 0 && u.mail_catch_all && ' · '}
                          {u.mail_catch_all && 'catch-all'}
                        </div>
                      )}
                    </div>
                    <button
                      type="button"
                      className={buttonSecondary}
                      aria-expanded={open === u.name}
                      onClick={() => setOpen(open === u.name ? null : u.name)}
                    >
                      {open === u.name ? 'Close' : `Edit ${u.name}`}
                    </button>
                  </div>
                  {open === u.name && (
                    <EditUser key={[u.role, u.services, u.mail_aliases, u.mail_catch_all].join('|')} user={u} self={u.name === me} onDone={done} onDelete={() => removal.ask(u.name)} />
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Add a person">
          <AddUserForm existing={(users.data ?? []).map((u) => u.name)} onAdded={done} />
        </Card>
      </div>
      {removal.pending && (
        <ConfirmDialog
          title={`Delete ${removal.pending}?`}
          confirmLabel={`Delete ${removal.pending}`}
          busy={removal.busy}
          onCancel={() => removal.cancel()}
          onConfirm={() => void removal.confirm()}
        >
          They can no longer log in to the web UI, nor to their mail, calendar and files. This cannot be undone.
        </ConfirmDialog>
      )}
    </div>
  )
}
