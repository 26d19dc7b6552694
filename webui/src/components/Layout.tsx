import { useState, type ReactNode } from 'react'
import { NavLink, useNavigate } from 'react-router-dom'
import { endpoints, userName, type Me } from '../api'
import { forgetPassword } from '../webdav'
import { BackupKeyBanner } from './BackupKeyBanner'

/** The pages of the menu; a member (role peer) sees only those not marked admin, which the API
 * also lets them use (under their member label: the Peers page shows a member their own devices). */
export const NAV: { to: string; label: string; admin?: boolean; member?: string }[] = [
  { to: '/', label: 'Dashboard', admin: true },
  { to: '/users', label: 'Users', admin: true },
  { to: '/peers', label: 'Peers', member: 'My devices' },
  { to: '/network-services', label: 'Network Services', admin: true },
  { to: '/firewall', label: 'Firewall', admin: true },
  { to: '/wireguard', label: 'WireGuard' },
  { to: '/email', label: 'Email', admin: true },
  { to: '/calendar', label: 'Calendar', member: 'My calendars' },
  { to: '/files', label: 'Files', member: 'My files' },
  { to: '/routing', label: 'Routing', admin: true },
  { to: '/vault', label: 'Vault', admin: true },
  { to: '/containers', label: 'Containers', admin: true },
  { to: '/cell-network', label: 'Cell Network', admin: true },
  { to: '/connectivity', label: 'Connectivity', admin: true },
  { to: '/backups', label: 'Backups', admin: true },
  { to: '/store', label: 'Service Store', admin: true },
  { to: '/runs', label: 'Runs', admin: true },
  { to: '/logs', label: 'Logs', admin: true },
  { to: '/settings', label: 'Settings', admin: true },
  { to: '/my-services', label: 'My services' },
  { to: '/account', label: 'Account' },
]

export function isAdmin(me: Me | null | undefined): boolean {
  return me?.user.role === 'admin'
}

/** The menu of ``me``: everything for an admin, a member's own pages for a member. */
export function navFor(me: Me | null | undefined) {
  if (isAdmin(me)) return NAV
  return NAV.filter((n) => !n.admin).map((n) => ({ ...n, label: n.member ?? n.label }))
}

export function Layout({ me, children }: { me: Me | null; children: ReactNode }) {
  const [open, setOpen] = useState(false)
  const navigate = useNavigate()
  const who = userName(me)

  const logout = async () => {
    forgetPassword() // the Files page's, kept in this tab's memory
    try {
      await endpoints.logout()
    } finally {
      navigate('/login', { replace: true })
    }
  }

  return (
    <div className="min-h-screen md:flex">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <div className="flex items-center justify-between bg-teal-900 px-4 py-3 text-white md:hidden">
        <span className="font-bold">PIC</span>
        <button
          type="button"
          className="rounded border border-white/60 px-3 py-1 focus:outline-none focus-visible:ring-2 focus-visible:ring-white"
          aria-expanded={open}
          aria-controls="main-nav"
          onClick={() => setOpen((o) => !o)}
        >
          Menu
        </button>
      </div>
      <nav
        id="main-nav"
        aria-label="Main"
        className={`${open ? 'block' : 'hidden'} bg-teal-900 text-white md:block md:min-h-screen md:w-56 md:shrink-0`}
      >
        <div className="hidden px-4 py-4 text-lg font-bold md:block">PIC</div>
        <ul className="pb-2">
          {navFor(me).map((n) => (
            <li key={n.to}>
              <NavLink
                to={n.to}
                end={n.to === '/'}
                onClick={() => setOpen(false)}
                className={({ isActive }) =>
                  `block px-4 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-white ${isActive ? 'bg-teal-700 font-semibold' : 'hover:bg-teal-800'}`
                }
              >
                {n.label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="border-t border-white/20 px-4 py-3 text-sm">
          {who && <div className="mb-2">Signed in as {who}</div>}
          <button
            type="button"
            onClick={logout}
            className="rounded border border-white/60 px-3 py-1 hover:bg-teal-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-white"
          >
            Log out
          </button>
        </div>
      </nav>
      <main id="main" className="mx-auto w-full max-w-5xl flex-1 p-4 md:p-8">
        {isAdmin(me) && <BackupKeyBanner />}
        {children}
      </main>
    </div>
  )
}
