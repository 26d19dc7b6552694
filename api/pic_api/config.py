"""API configuration: defaults for a cell, overridable by a YAML file and by PIC_* environment variables.

Every path is configurable so that tests run in temporary directories.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG_FILE = "/etc/pic/api.yml"


@dataclasses.dataclass
class Config:
    state_file: Path = Path("/etc/pic/cell.yml")
    state_dir: Path = Path("/var/lib/pic/state")  # every version of the state
    secrets_dir: Path = Path("/etc/pic")  # 0600 files: API passwords, session key
    seed_file: Path = Path("/etc/pic/seed.yml")  # partial state from the inventory (wizard defaults)
    run_dir: Path = Path("/var/lib/pic/runs")  # one directory per run: run.json, events.jsonl
    project_dir: Path = Path("/opt/pic/src")  # the repository copy with site.yml
    playbook: str = "site.yml"
    inventory: str = ""  # empty: <project_dir>/inventory/hosts.yml
    ca_root_file: Path = Path("/etc/pic/ca/root.crt")
    # The certificate of the cell's HTTPS name, for the dashboard's "expires in": the ca role's leaf
    # (internal mode; group pic-tls, so the API falls back to the CA's public copy beside its root)
    # and lego's (ACME by DNS-01).
    tls_cert_file: Path = Path("/etc/pic/tls/cell.crt")
    acme_cert_file: Path = Path("/etc/pic/tls/acme.crt")
    wg_private_key_file: Path = Path("/etc/wireguard/private.key")  # made by the wireguard role
    wg_public_key_file: Path = Path("/etc/pic/wireguard/public.key")  # its public half, as the role publishes it
    wg_endpoint: str = ""  # host clients dial when the state names no public one (its DDNS or custom name)
    # Where a peer change is applied at once (pic-agent's peer_apply): the running interface, the
    # hosts file the DNS server reads (its role writes it too) and the firewall's ruleset file.
    wg_interface: str = "wg0"
    dns_peers_file: Path = Path("/var/lib/pic-dns/peers.hosts")
    firewall_config_file: Path = Path("/etc/nftables.conf")
    # dnsmasq's leases (the Network Services page lists them; pic-agent reads them as root)
    dhcp_leases_file: Path = Path("/var/lib/misc/dnsmasq.leases")
    # The Email page: the records the mailserver role publishes for the mail domain (shared_dns_records_dir
    # of roles/shared, its mailserver.yml) and Postfix's queue command; pic-agent reads both.
    mail_records_file: Path = Path("/etc/pic/dns/records.d/mailserver.yml")
    postqueue: str = "postqueue"
    # Radicale's storage (the radicale role's radicale_storage_dir) and its user: pic-agent lists and
    # makes calendars and address books there (the Calendar page)
    radicale_storage_dir: Path = Path("/var/lib/radicale/collections")
    radicale_user: str = "radicale"  # '': what is made stays the process's own (a cell below a test folder)
    # Dynamic DNS: the providers' credentials (0600, written here), the updater's configuration (the
    # ddns role writes it: provider URLs, CA bundle, address sources) and its status (read here).
    ddns_credentials_file: Path = Path("/etc/pic/ddns-credentials.json")
    ddns_config_file: Path = Path("/etc/pic/ddns.json")
    ddns_status_file: Path = Path("/var/lib/pic/ddns/status.json")
    # Exits' private and preshared keys (<name>.key, <name>.psk; 0600, written here, read by the exits role).
    exits_dir: Path = Path("/etc/pic/exits")
    # An exit's interface is <prefix><name>, its unit wg-quick@<prefix><name> (the exits role's
    # exits_interface_prefix); pic-agent's exit_status reads them.
    exit_interface_prefix: str = "exit-"
    # Cell links' secrets (the cell's Ed25519 signing key, each link's WireGuard key <cell_id>.key,
    # pending invitations; 0600, written here, the keys read by the cell_link role).
    links_dir: Path = Path("/etc/pic/links")
    log_file: Path | None = Path("/var/log/pic/api.log")
    log_level: str = "INFO"
    log_levels: str = ""  # per area: "runner=DEBUG,auth=WARNING"
    health_interval: float = 30.0  # seconds between service checks; 0: no thread
    proxy_hops: int = 1  # reverse proxies in front (Caddy, on the loopback) trusted for X-Forwarded-For/-Proto
    # Login cookies are Secure whenever the request came over HTTPS (X-Forwarded-Proto from Caddy);
    # true marks them Secure also on plain HTTP (behind a TLS proxy that does not say so).
    cookie_secure: bool = False
    session_hours: float = 12.0
    login_max_failures: int = 5
    login_window: float = 900.0  # seconds in which failures count
    login_lockout: float = 900.0  # seconds locked out after too many failures
    # Converges started by the API never restart it, and never rebuild the UI: the UI is built where
    # Node.js is (the controller running site.yml), which a Debian 12 cell is not.
    skip_tags: str = "api,webui"
    scrypt_n: int = 16384  # cost of the API login hashes (a power of 2)
    bcrypt_rounds: int = 12  # cost of the service password hashes
    # agent: converges, unit status and journals, the WireGuard key through the privileged agent;
    # ansible: ansible-runner in this process (and systemctl, journalctl); none: no runner (tests)
    runner: str = "agent"
    agent_socket: Path = Path("/run/pic/agent.sock")  # 0660 root:<agent_user>
    agent_user: str = "pic"  # the only user besides root that may use the agent
    agent_work_dir: Path = Path("/run/pic-agent")  # the agent's private run files (tmpfs, 0700)
    # Socket-activated (systemd passed the socket), the agent exits after this many idle seconds and
    # systemd starts it again on the next connection; 0: it stays. An agent that bound its own socket stays.
    agent_idle_exit: float = 0.0
    backup_config_file: Path = Path("/etc/pic/backup.yml")  # written by the backup role
    backup_unit: str = "pic-backup.service"  # the backup role's unit: one backup, then prune and compact
    store_config_file: Path = Path("/etc/pic/store.yml")  # written by the store role
    # the checkout `pic update` converges from: the api role sets it when the cell is its own controller
    source_dir: str = ""

    @property
    def inventory_path(self) -> str:
        return self.inventory or str(self.project_dir / "inventory" / "hosts.yml")

    @classmethod
    def under(cls, root: Path, **overrides: Any) -> Config:
        """A cell whose files all live below ``root``, none shared with the host's cell: the tests,
        the browser tests' API and a development API use this one layout."""
        values: dict[str, Any] = {
            "state_file": root / "etc/cell.yml",
            "state_dir": root / "state",
            "secrets_dir": root / "etc",
            "seed_file": root / "etc/seed.yml",
            "run_dir": root / "runs",
            "ca_root_file": root / "etc/ca/root.crt",
            "tls_cert_file": root / "etc/tls/cell.crt",
            "acme_cert_file": root / "etc/tls/acme.crt",
            "wg_private_key_file": root / "etc/wireguard/private.key",
            "wg_public_key_file": root / "etc/pic-wireguard/public.key",
            "dns_peers_file": root / "dns/peers.hosts",
            "dhcp_leases_file": root / "dhcp/dnsmasq.leases",
            "mail_records_file": root / "dns/records.d/mailserver.yml",
            "radicale_storage_dir": root / "radicale/collections",
            "radicale_user": "",
            "ddns_credentials_file": root / "etc/ddns-credentials.json",
            "ddns_config_file": root / "etc/ddns.json",
            "ddns_status_file": root / "ddns/status.json",
            "exits_dir": root / "etc/exits",
            "links_dir": root / "etc/links",
            "log_file": root / "log/api.log",
        }
        return cls(**{**values, **overrides})

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults < config file (PIC_CONFIG or /etc/pic/api.yml, when present) < PIC_* env < overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = Path(env.get("PIC_CONFIG", DEFAULT_CONFIG_FILE))
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path} must be a mapping")
            values.update(data)
        for field in dataclasses.fields(cls):
            key = "PIC_" + field.name.upper()
            if key in env:
                values[field.name] = env[key]
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        kwargs: dict[str, Any] = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown configuration key: {name}")
            default = getattr(cls, name, None)
            if isinstance(default, bool):
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif isinstance(default, Path) or name == "log_file":
                value = Path(value) if value not in (None, "") else None
            kwargs[name] = value
        return cls(**kwargs)
