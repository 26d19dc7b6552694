"""Wires the managers together for one cell (no Flask import)."""

from __future__ import annotations

import contextlib
import functools

import yaml

from .agent import actions
from .agent.client import AgentBackend, AgentClient
from .agent.server import local_call
from .config import Config
from .core import roles
from .logs import set_api_verbose
from .managers.ansible_backend import AnsibleRunnerBackend
from .managers.auth import AuthManager, RateLimiter
from .managers.backup import BackupOperations, BackupSettings
from .managers.calendars import Calendars
from .managers.certs import Certificates
from .managers.changes import ChangeManager
from .managers.ddns import DdnsManager
from .managers.errors import ManagerError
from .managers.exits import ExitManager
from .managers.health import HealthMonitor
from .managers.links import LinkManager
from .managers.logsearch import LogSearch
from .managers.mail import MailView
from .managers.netsvc import NetworkServicesManager
from .managers.peer_sync import PeerSync
from .managers.peers import PeerManager
from .managers.runs import Backend, RunManager
from .managers.settings import SettingsManager
from .managers.setup import SetupManager
from .managers.setupcode import SetupCode
from .managers.state import StateManager
from .managers.store import LocalEngine, StoreManager
from .managers.store_service import Engine, StoreService
from .managers.system import SystemFacts
from .managers.system import memory as system_memory
from .managers.users import UserManager
from .managers.wgstatus import WireGuardStatus


class Cell:
    """Every manager of one cell, built from a Config. ``backend`` replaces ansible-runner in tests."""

    def __init__(
        self,
        config: Config,
        backend: Backend | None = None,
        health: HealthMonitor | None = None,
        log_search: LogSearch | None = None,
        store_engine: Engine | None = None,
    ):
        self.config = config
        self.state = StateManager(config.state_file, config.state_dir, config.seed_file)
        # Without the agent (tests, the CLI) the root actions run in this process.
        self.agent = AgentClient(config.agent_socket) if config.runner == "agent" else None
        if backend is None and self.agent is not None:
            backend = AgentBackend(self.agent, config.run_dir / ".scratch")
        elif backend is None and config.runner == "ansible":
            backend = AnsibleRunnerBackend(config.project_dir, config.playbook, config.inventory_path, config.skip_tags)
        # without a backend (the CLI) this process runs no converge: the API's runs are not its to recover
        self.runs = RunManager(config.run_dir, backend, recover=backend is not None)
        self.roles = roles.load(config.project_dir)
        self.changes = ChangeManager(self.state, self.runs, self.roles, config.skip_tags.split(","))
        limiter = RateLimiter(config.login_max_failures, config.login_window, config.login_lockout)
        # the state's users are who may log in: a rollback takes the logins of later users with it
        self.auth = AuthManager(
            config.secrets_dir,
            config.session_hours,
            limiter,
            scrypt_n=config.scrypt_n,
            members=lambda: {u["name"]: u.get("role", "peer") for u in self.state.section("users")},
        )
        self.state.on_save.append(lambda state: self.auth.prune({u["name"] for u in state.get("users", [])}))
        # the API's own verbosity follows the state at once (the Logs page), from the start on
        self.state.on_save.append(lambda state: self._api_verbosity(state))
        with contextlib.suppress(ManagerError, ValueError, OSError, yaml.YAMLError):  # damaged: the configured level
            self._api_verbosity(self.state.load())
        self.setup_code = SetupCode(config.secrets_dir, limiter)
        self.setup = SetupManager(self.changes, self.auth, self.setup_code, config.bcrypt_rounds)
        self.users = UserManager(self.changes, self.auth, config.bcrypt_rounds)
        if self.agent is not None:
            public_key = self.agent.wg_public_key
        else:
            public_key = functools.partial(actions.wg_public_key, config.wg_private_key_file)
        self.ddns = DdnsManager(
            self.changes,
            config.ddns_credentials_file,
            config.ddns_config_file,
            config.ddns_status_file,
            config.wg_endpoint,
        )
        self.peers = PeerManager(
            self.changes, public_key, self.ddns.endpoint, self.agent.peer_apply if self.agent else None
        )
        # an exit's running tunnel is root's to read (as the WireGuard interface): the agent, or here
        self.exits = ExitManager(
            self.changes,
            config.exits_dir,
            self.agent.exit_status if self.agent else (
                lambda name, kind: actions.exit_status(name, config.exit_interface_prefix, kind=kind)),
            # asked by the API itself: binding a socket to the exit's interface needs no privilege
            seen_through=lambda name: self.ddns.seen_through(config.exit_interface_prefix + name),
        )
        # a link's running tunnel, as an exit's: the agent, or here
        self.links = LinkManager(self.changes, config.links_dir, self.ddns.endpoint,
                                 live=self.agent.link_status if self.agent else actions.link_status)
        self.peer_sync = PeerSync(self.links)
        self.settings = SettingsManager(self.changes, self.ddns.available, self.links.name_known_by)
        # dnsmasq's lease file is root's to read: through the agent, or here without one
        self.netsvc = NetworkServicesManager(
            self.changes,
            self.agent.dhcp_leases if self.agent else functools.partial(actions.dhcp_leases, config.dhcp_leases_file),
            # chronyd's client list is a command of its root-only socket
            self.agent.ntp_clients if self.agent else actions.ntp_clients,
        )
        # the mail domain's records file and Postfix's queue are root's to read: the agent, or here
        if self.agent is not None:
            mail_reads = (self.agent.mail_records, self.agent.mail_queue)
        else:
            mail_reads = (functools.partial(actions.mail_records, config.mail_records_file),
                          functools.partial(actions.mail_queue, config.postqueue))
        self.mail = MailView(self.changes, *mail_reads)
        # the running interface is root's to read (its dump holds the private key): the agent, or here
        self.wireguard = WireGuardStatus(
            self.changes,
            self.agent.wg_status if self.agent else functools.partial(actions.wg_status, config.wg_interface),
            self.ddns.endpoint,
            config.wg_interface,
        )
        self.backup = BackupSettings(self.changes)
        # the store's engine: the agent's store actions, or the same in this process (tests, the CLI)
        if store_engine is None:
            store_engine = self.agent or LocalEngine(lambda: StoreManager.for_file(config.store_config_file))
        self.store = StoreService(self.changes, store_engine)
        # without the agent the backup and CA actions run in this process, as the read actions do
        agent_call = self.agent.call if self.agent else local_call(config, backend)
        self.backups = BackupOperations(agent_call, self.runs, self.backup)
        self.certificates = Certificates(self.changes, config.ca_root_file, agent_call)
        self.system = SystemFacts(
            lambda: self.state.section("cell"),
            config.ca_root_file,
            config.tls_cert_file,
            config.acme_cert_file,
            memory=self.agent.memory if self.agent else system_memory,
        )
        self.calendars = Calendars(self.changes, agent_call)
        self.health = health or HealthMonitor(
            lambda: self.state.section("services"),
            lambda: self.state.section("network")["dns_server"],
            # systemctl is-active in this process: reading a unit's state needs no privilege, and a
            # check every 30 s through the agent would keep the socket-activated agent from exiting
            unit_check=None,
            interval=config.health_interval,
        )
        self.log_search = log_search or LogSearch(config.log_file, self.agent.journal if self.agent else None)

    def _api_verbosity(self, state: dict) -> None:
        set_api_verbose("api" in (state.get("logs") or {}).get("verbose", []), self.config.log_level)
