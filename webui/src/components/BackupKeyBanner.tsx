import { useEffect, useState } from 'react'
import { Link, useLocation } from 'react-router-dom'
import { BACKUP_CHANGED, endpoints } from '../api'

/** Whether the UI warns: backups are on and the passphrase has not been confirmed saved. */
export function keyUnsaved(settings: { repository?: string; key_confirmed?: boolean } | undefined): boolean {
  return !!settings?.repository && settings.key_confirmed !== true
}

/**
 * The warning across every page (for admins) while the backup passphrase has not been confirmed
 * saved away from the cell: without it no backup can be restored.
 */
export function BackupKeyBanner() {
  const [show, setShow] = useState(false)
  const { pathname } = useLocation()
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const again = () => setTick((t) => t + 1)
    window.addEventListener(BACKUP_CHANGED, again)
    return () => window.removeEventListener(BACKUP_CHANGED, again)
  }, [])
  useEffect(() => {
    let live = true
    endpoints.backup().then(
      (v) => live && setShow(keyUnsaved(v.settings)),
      () => live && setShow(false), // not an admin, or the API cannot say: no banner
    )
    return () => {
      live = false
    }
  }, [pathname, tick])
  if (!show) return null
  return (
    <div role="alert" className="mb-4 rounded border border-amber-400 bg-amber-50 p-3 text-sm text-amber-950" data-testid="backup-key-banner">
      <strong>Save the backup passphrase.</strong> Without it no backup of this cell can be restored, and it has not
      been confirmed saved yet.{' '}
      {pathname !== '/backups' && (
        <Link to="/backups" className="font-medium underline">
          Show it on the Backups page
        </Link>
      )}
    </div>
  )
}
