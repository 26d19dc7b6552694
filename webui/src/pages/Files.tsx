import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react'
import { endpoints } from '../api'
import { ConfirmDialog } from '../components/Confirm'
import { buttonPrimary, buttonSecondary, Card, ErrorNote, Field, inputClass, Loading, NotAvailable, PageHeader, useApi } from '../components/ui'
import {
  DavClient,
  DavError,
  joinPath,
  nameProblem,
  parentOf,
  rememberedPassword,
  rememberPassword,
  type DavEntry,
} from '../webdav'
import { formatSize } from './Containers'
import { downloadBlob } from './Peers'

interface Upload {
  id: number
  name: string
  loaded: number
  total: number
  error?: string
  done: boolean
}

/** The password of the cell account, asked once per tab: WebDAV checks it on every request. */
function Unlock({ user, onOpen }: { user: string; onOpen: (c: DavClient) => void }) {
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (ev: FormEvent) => {
    ev.preventDefault()
    if (!password) {
      setError('Enter your password.')
      return
    }
    setBusy(true)
    setError(null)
    const client = new DavClient(user, password)
    try {
      await client.list('')
      rememberPassword(user, password)
      onOpen(client)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Card title="Open your files">
      <form onSubmit={submit} noValidate aria-label="Open your files">
        <p className="mb-3 text-sm text-slate-700">
          Your files are kept with your password, which the cell asks for every time: enter it once here. This tab keeps it until you
          log out or reload.
        </p>
        <Field id="files-password" label={`Password of ${user}`} error={error ?? undefined}>
          <input
            id="files-password"
            type="password"
            autoComplete="current-password"
            className={inputClass}
            value={password}
            disabled={busy}
            aria-invalid={error ? true : undefined}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <button type="submit" className={buttonPrimary} disabled={busy}>
          Open
        </button>
      </form>
    </Card>
  )
}

function Breadcrumbs({ folder, go }: { folder: string; go: (f: string) => void }) {
  const parts = folder.split('/').filter(Boolean)
  return (
    <nav aria-label="Folder" className="mb-3 flex flex-wrap items-center gap-1 text-sm">
      <button type="button" className="font-medium text-teal-800 underline" onClick={() => go('')}>
        My files
      </button>
      {parts.map((p, i) => (
        <span key={i} className="flex items-center gap-1 break-all">
          <span aria-hidden="true">/</span>
          {i === parts.length - 1 ? (
            <span aria-current="page">{p}</span>
          ) : (
            <button type="button" className="text-teal-800 underline" onClick={() => go(parts.slice(0, i + 1).join('/'))}>
              {p}
            </button>
          )}
        </span>
      ))}
    </nav>
  )
}

function sizeOf(e: DavEntry): string {
  return e.folder ? 'folder' : e.size === null ? '' : formatSize(e.size)
}

export function FileBrowser({ client, onLock }: { client: DavClient; onLock: () => void }) {
  const [folder, setFolder] = useState('')
  const [entries, setEntries] = useState<DavEntry[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [uploads, setUploads] = useState<Upload[]>([])
  const [newFolder, setNewFolder] = useState<string | null>(null)
  const [folderError, setFolderError] = useState<string | null>(null)
  const [renaming, setRenaming] = useState<{ entry: DavEntry; name: string; error?: string } | null>(null)
  const [deleting, setDeleting] = useState<DavEntry | null>(null)
  const [busy, setBusy] = useState(false)
  const fileInput = useRef<HTMLInputElement>(null)
  const nextId = useRef(1)

  const load = useCallback(
    async (f: string) => {
      try {
        setEntries(await client.list(f))
        setError(null)
      } catch (e) {
        if (e instanceof DavError && e.status === 401) onLock()
        setError(e instanceof Error ? e.message : String(e))
      }
    },
    [client, onLock],
  )

  useEffect(() => {
    setEntries(null)
    void load(folder)
  }, [folder, load])

  const act = async (fn: () => Promise<void>) => {
    setBusy(true)
    setError(null)
    try {
      await fn()
      await load(folder)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    } finally {
      setBusy(false)
    }
  }

  const upload = async (files: FileList | null) => {
    if (!files?.length) return
    const here = folder
    const taken = new Set((entries ?? []).map((e) => e.name))
    for (const file of Array.from(files)) {
      const id = nextId.current++
      const problem = nameProblem(file.name)
      const update = (u: Partial<Upload>) => setUploads((all) => all.map((x) => (x.id === id ? { ...x, ...u } : x)))
      setUploads((all) => [...all, { id, name: file.name, loaded: 0, total: file.size, done: false }])
      if (problem) {
        update({ error: problem, done: true })
        continue
      }
      if (taken.has(file.name) && !window.confirm(`${file.name} is already there. Replace it?`)) {
        update({ error: 'Not replaced.', done: true })
        continue
      }
      try {
        await client.upload(joinPath(here, file.name), file, (loaded, total) => update({ loaded, total }))
        update({ done: true })
      } catch (e) {
        update({ error: e instanceof Error ? e.message : String(e), done: true })
      }
    }
    if (fileInput.current) fileInput.current.value = ''
    await load(here)
  }

  const makeFolder = (ev: FormEvent) => {
    ev.preventDefault()
    const name = newFolder ?? ''
    const problem = nameProblem(name)
    if (problem) {
      setFolderError(problem)
      return
    }
    void act(async () => {
      try {
        await client.mkdir(joinPath(folder, name))
        setNewFolder(null)
      } catch (e) {
        setFolderError(e instanceof Error ? e.message : String(e))
      }
    })
  }

  const rename = (ev: FormEvent) => {
    ev.preventDefault()
    if (!renaming) return
    const problem = nameProblem(renaming.name)
    if (problem) {
      setRenaming({ ...renaming, error: problem })
      return
    }
    if (renaming.name === renaming.entry.name) {
      setRenaming(null)
      return
    }
    void act(async () => {
      try {
        await client.move(renaming.entry, joinPath(parentOf(renaming.entry.path), renaming.name))
        setRenaming(null)
      } catch (e) {
        setRenaming({ ...renaming, error: e instanceof Error ? e.message : String(e) })
      }
    })
  }

  const download = (entry: DavEntry) =>
    void act(async () => {
      downloadBlob(entry.name, await client.download(entry.path))
    })

  return (
    <Card>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <button type="button" className={buttonPrimary} disabled={busy} onClick={() => fileInput.current?.click()}>
          Upload files
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          className="sr-only"
          aria-label="Files to upload"
          tabIndex={-1}
          onChange={(e) => void upload(e.target.files)}
        />
        <button
          type="button"
          className={buttonSecondary}
          disabled={busy}
          onClick={() => {
            setNewFolder('')
            setFolderError(null)
          }}
        >
          New folder
        </button>
        <button type="button" className={buttonSecondary} onClick={onLock}>
          Lock
        </button>
      </div>
      {newFolder !== null && (
        <form onSubmit={makeFolder} noValidate aria-label="New folder" className="mb-3 flex flex-wrap items-start gap-2">
          <div className="min-w-0 flex-1">
            <Field id="files-new-folder" label="Name of the new folder" error={folderError ?? undefined}>
              <input
                id="files-new-folder"
                className={inputClass}
                value={newFolder}
                autoFocus
                aria-invalid={folderError ? true : undefined}
                onChange={(e) => {
                  setNewFolder(e.target.value)
                  setFolderError(null)
                }}
              />
            </Field>
          </div>
          <div className="flex gap-2 sm:mt-6">
            <button type="submit" className={buttonPrimary} disabled={busy}>
              Create
            </button>
            <button type="button" className={buttonSecondary} onClick={() => setNewFolder(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {uploads.length > 0 && (
        <ul className="mb-3 space-y-2" aria-label="Uploads" data-testid="uploads">
          {uploads.map((u) => (
            <li key={u.id} data-upload={u.name} data-done={u.done && !u.error ? 'yes' : undefined}>
              <div className="flex flex-wrap justify-between gap-2 text-sm">
                <span className="break-all">{u.name}</span>
                <span className={u.error ? 'font-medium text-red-800' : 'text-slate-700'}>
                  {u.error ?? (u.done ? 'uploaded' : `${formatSize(u.loaded)} of ${formatSize(u.total)}`)}
                </span>
              </div>
              {!u.error && (
                <progress
                  className="h-2 w-full"
                  max={Math.max(u.total, 1)}
                  value={u.done ? Math.max(u.total, 1) : u.loaded}
                  aria-label={`Upload of ${u.name}`}
                />
              )}
            </li>
          ))}
          {uploads.every((u) => u.done) && (
            <li>
              <button type="button" className="text-sm text-teal-800 underline" onClick={() => setUploads([])}>
                Clear the list
              </button>
            </li>
          )}
        </ul>
      )}
      <Breadcrumbs folder={folder} go={setFolder} />
      {error && (
        <div className="mb-3">
          <ErrorNote error={error} />
        </div>
      )}
      {entries === null ? (
        !error && <Loading />
      ) : entries.length === 0 ? (
        <p className="text-slate-700">This folder is empty.</p>
      ) : (
        <div data-testid="files-table" className="relative overflow-x-auto">
          <table className="w-full text-left">
            <thead>
              <tr className="text-sm text-slate-700">
                <th className="pr-3">Name</th>
                <th className="hidden pr-3 sm:table-cell">Size</th>
                <th className="hidden pr-3 md:table-cell">Changed</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
            {entries.map((e) => (
              <tr key={e.path} data-entry={e.name} className="border-t border-slate-200 align-top">
                <td className="min-w-[9rem] py-2 pr-3">
                  {renaming?.entry.path === e.path ? (
                    <form onSubmit={rename} noValidate aria-label={`Rename ${e.name}`}>
                      <label htmlFor="files-rename" className="sr-only">
                        New name of {e.name}
                      </label>
                      <input
                        id="files-rename"
                        className={inputClass}
                        value={renaming.name}
                        autoFocus
                        aria-invalid={renaming.error ? true : undefined}
                        onChange={(ev) => setRenaming({ ...renaming, name: ev.target.value, error: undefined })}
                      />
                      {renaming.error && <p className="mt-1 text-sm font-medium text-red-800">{renaming.error}</p>}
                      <div className="mt-1 flex gap-2">
                        <button type="submit" className={buttonPrimary} disabled={busy}>
                          Save
                        </button>
                        <button type="button" className={buttonSecondary} onClick={() => setRenaming(null)}>
                          Cancel
                        </button>
                      </div>
                    </form>
                  ) : e.folder ? (
                    <button type="button" className="break-words text-left font-medium text-teal-800 underline" onClick={() => setFolder(e.path)}>
                      {e.name}/
                    </button>
                  ) : (
                    <span className="break-words">{e.name}</span>
                  )}
                  {/* on a phone the size stands under the name, its column hidden */}
                  <span className="block text-sm text-slate-700 sm:hidden">{sizeOf(e)}</span>
                </td>
                <td className="hidden whitespace-nowrap py-2 pr-3 text-sm sm:table-cell">{sizeOf(e)}</td>
                <td className="hidden whitespace-nowrap py-2 pr-3 text-sm md:table-cell">{e.modified ? e.modified.toLocaleString() : ''}</td>
                <td className="py-2">
                  <div className="flex flex-wrap justify-end gap-1">
                    {!e.folder && (
                      <button type="button" className={buttonSecondary} disabled={busy} aria-label={`Download ${e.name}`} onClick={() => download(e)}>
                        Download
                      </button>
                    )}
                    <button
                      type="button"
                      className={buttonSecondary}
                      disabled={busy}
                      aria-label={`Rename ${e.name}`}
                      onClick={() => setRenaming({ entry: e, name: e.name })}
                    >
                      Rename
                    </button>
                    <button type="button" className={buttonSecondary} disabled={busy} aria-label={`Delete ${e.name}`} onClick={() => setDeleting(e)}>
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
            </tbody>
          </table>
        </div>
      )}
      {folder && (
        <button type="button" className="mt-3 text-sm text-teal-800 underline" onClick={() => setFolder(parentOf(folder))}>
          Up to {parentOf(folder) ? parentOf(folder).split('/').pop() : 'My files'}
        </button>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete"
          busy={busy}
          onCancel={() => setDeleting(null)}
          onConfirm={() =>
            void act(async () => {
              await client.remove(deleting)
              setDeleting(null)
            })
          }
        >
          {deleting.folder ? 'The folder and everything in it are deleted from the cell.' : 'The file is deleted from the cell.'} This cannot be
          undone.
        </ConfirmDialog>
      )}
    </Card>
  )
}

/** The Files page: the person's own folder of the cell's WebDAV storage (the admin's too). */
export function FilesPage() {
  const services = useApi(endpoints.clientSettings)
  const files = services.data?.files
  const [client, setClient] = useState<DavClient | null>(null)
  const user = files?.login

  useEffect(() => {
    if (!user) return
    const password = rememberedPassword(user)
    setClient(password === null ? null : new DavClient(user, password))
  }, [user])

  const lock = useCallback(() => {
    if (user) rememberPassword(user, null)
    setClient(null)
  }, [user])

  return (
    <div className="space-y-4">
      <PageHeader title="Files">Your own folder of the cell’s file storage: upload, download, make folders, rename and delete.</PageHeader>
      {services.loading && !services.data ? (
        <Loading />
      ) : services.error ? (
        <ErrorNote error={services.error} />
      ) : !files ? (
        <NotAvailable>You have no file storage on this cell: an admin gives it on the Users page (the service Files).</NotAvailable>
      ) : client ? (
        <FileBrowser client={client} onLock={lock} />
      ) : (
        <Unlock user={files.login} onOpen={setClient} />
      )}
      {files && (
        <p className="text-sm text-slate-700">
          Apps and computers reach the same folder over WebDAV at <span className="break-all font-mono">{files.webdav_url}</span> with your
          user name <span className="font-mono">{files.login}</span> and password.
        </p>
      )}
    </div>
  )
}
