import { useEffect, useLayoutEffect, useState } from 'react'
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom'
import { ApiError, endpoints, loginPath, setNavigator, userName, type Me } from './api'
import { isAdmin, Layout } from './components/Layout'
import { Loading } from './components/ui'
import { SetupPage } from './pages/Setup'
import { LoginPage } from './pages/Login'
import { DashboardPage } from './pages/Dashboard'
import { PeersPage } from './pages/Peers'
import { RunsPage, RunPage } from './pages/Runs'
import { SettingsPage } from './pages/Settings'
import { ConnectivityPage } from './pages/Connectivity'
import { VaultPage } from './pages/Vault'
import { BackupsPage } from './pages/Backups'
import { TrustPage } from './pages/Trust'
import { StorePage } from './pages/Store'
import { ContainersPage } from './pages/Containers'
import { FirewallPage } from './pages/Firewall'
import { InfoPages } from './pages/Info'
import { UsersPage } from './pages/Users'
import { AccountPage } from './pages/Account'
import { MyServicesPage } from './pages/MyServices'
import { WireGuardPage } from './pages/WireGuard'
import { RoutingPage } from './pages/Routing'
import { CalendarPage } from './pages/Calendar'
import { FilesPage } from './pages/Files'

/** Installs router navigation into the api module (428 → /setup, 401 → login, keeping the page). */
function ApiNavigation() {
  const navigate = useNavigate()
  useLayoutEffect(() => {
    setNavigator({
      toSetup: () => {
        if (window.location.pathname !== '/setup') navigate('/setup', { replace: true })
      },
      toLogin: (from) => {
        if (window.location.pathname !== '/login') navigate(loginPath(from), { replace: true })
      },
    })
    return () => setNavigator(null)
  }, [navigate])
  return null
}

/** Pages behind login: checks setup and the session before showing the page. */
function Protected() {
  const location = useLocation()
  const navigate = useNavigate()
  const [me, setMe] = useState<Me | null>(null)
  const [checked, setChecked] = useState(false)

  useEffect(() => {
    let live = true
    ;(async () => {
      try {
        const st = await endpoints.setupStatus()
        if (!live) return
        if (!st.completed) {
          navigate('/setup', { replace: true })
          return
        }
        const who = await endpoints.me()
        if (!live) return
        setMe(who)
        setChecked(true)
      } catch (e) {
        if (!live) return
        if (e instanceof ApiError && e.status === 401) {
          navigate(loginPath(location.pathname + location.search), { replace: true })
        } else if (!(e instanceof ApiError && e.status === 428)) {
          setChecked(true)
        }
      }
    })()
    return () => {
      live = false
    }
    // Check once per mount; later expiries surface as 401 from any call.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [])

  if (!checked) return <Loading what="Checking your session" />
  const who = userName(me)
  if (me && !isAdmin(me)) {
    // A member's pages only: every other address leads to their services.
    return (
      <Layout me={me}>
        <Routes>
          <Route path="/account" element={<AccountPage me={who} />} />
          <Route path="/my-services" element={<MyServicesPage />} />
          <Route path="/peers" element={<PeersPage />} />
          <Route path="/wireguard" element={<WireGuardPage mine />} />
          <Route path="/calendar" element={<CalendarPage />} />
          <Route path="/files" element={<FilesPage />} />
          <Route path="/*" element={<Navigate to="/my-services" replace />} />
        </Routes>
      </Layout>
    )
  }
  return (
    <Layout me={me}>
      <Routes>
        <Route path="/" element={<DashboardPage />} />
        <Route path="/users" element={<UsersPage me={who} />} />
        <Route path="/account" element={<AccountPage me={who} />} />
        <Route path="/my-services" element={<MyServicesPage />} />
        <Route path="/peers" element={<PeersPage admin />} />
        <Route path="/runs" element={<RunsPage />} />
        <Route path="/runs/:id" element={<RunPage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="/routing" element={<RoutingPage />} />
        <Route path="/firewall" element={<FirewallPage />} />
        <Route path="/connectivity" element={<ConnectivityPage />} />
        <Route path="/vault" element={<VaultPage />} />
        <Route path="/store" element={<StorePage />} />
        <Route path="/containers" element={<ContainersPage />} />
        <Route path="/backups" element={<BackupsPage />} />
        <Route path="/files" element={<FilesPage />} />
        <Route path="/*" element={<InfoPages />} />
      </Routes>
    </Layout>
  )
}

export function App() {
  return (
    <>
      <ApiNavigation />
      <Routes>
        <Route path="/setup" element={<SetupPage />} />
        <Route path="/login" element={<LoginPage />} />
        <Route path="/trust" element={<TrustPage />} />
        <Route path="/dashboard" element={<Navigate to="/" replace />} />
        <Route path="/*" element={<Protected />} />
      </Routes>
    </>
  )
}
