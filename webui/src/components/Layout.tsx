import { useState, type ReactNode } from 'react'
import { NavLink, useNavigate } from 'react-router-dom'
import { endpoints, userName, type Me } from '../api'
import { BackupKeyBanner } from './BackupKeyBanner'

export const NAV: { to: string; label: string }[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/peers', label: 'Peers' },
  { to: '/network-services', label: 'Network Services' },
  { to: '/wireguard', label: 'WireGuard' },
  { to: '/email', label: 'Email' },
  { to: '/calendar', label: 'Calendar' },
  { to: '/files', label: 'Files' },
  { to: '/routing', label: 'Routing' },
  { to: '/vault', label: 'Vault' },
  { to: '/containers', label: 'Containers' },
  { to: '/cell-network', label: 'Cell Network' },
  { to: '/connectivity', label: 'Connectivity' },
  { to: '/backups', label: 'Backups' },
  { to: '/store', label: 'Service Store' },
  { to: '/runs', label: 'Runs' },
  { to: '/logs', label: 'Logs' },
  { to: '/settings', label: 'Settings' },
]

export function Layout({ me, children }: { me: Me | null; children: ReactNode }) {
  const [open, setOpen] = useState(false)
  const navigate = useNavigate()
  const who = userName(me)

  const logout = async () => {
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
          {NAV.map((n) => (
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
        {me?.user.role === 'admin' && <BackupKeyBanner />}
        {children}
      </main>
    </div>
  )
}
