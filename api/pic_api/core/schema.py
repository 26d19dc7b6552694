"""The cell state schema (see docs/architecture.md): validation, defaults, and the pic_* variables.

``validate_state`` refuses a state with a :class:`StateError` whose ``fields`` maps a dotted path
(``peers[2].name``) to a message. ``apply_defaults`` fills what a state may leave out, and
``state_to_vars`` turns a valid state into the ``pic_*`` variables of playbooks/vars/cell_defaults.yml.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from . import addressing, backupsettings
from .validators import (
    ValidationError,
    check_bool,
    check_choice,
    check_domain,
    check_host,
    check_interface,
    check_ipv4,
    check_ipv4_cidr,
    check_label,
    check_lease_time,
    check_port,
    check_timezone,
    check_wg_key,
)

__all__ = [
    "SCHEMA_VERSION",
    "SERVICES",
    "USER_SERVICES",
    "DOMAIN_MODES",
    "ROUTES",
    "ROLES",
    "DNS_SERVERS",
    "DEFAULT_NETWORK",
    "StateError",
    "validate_state",
    "apply_defaults",
    "default_state",
    "state_to_vars",
    "domain_for",
]

SCHEMA_VERSION = 1
SERVICES = ("dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files")
USER_SERVICES = ("mail", "calendar", "files")
DOMAIN_MODES = ("internal", "pic_ngo", "custom")
ROUTES = ("split", "full")
ROLES = ("admin", "peer")
DNS_SERVERS = ("dnsmasq", "coredns")
PIC_NGO_SUFFIX = "pic.ngo"

DEFAULT_NETWORK: dict[str, Any] = {
    "lan_interface": "eth0",
    "lan_subnet": "192.168.50.0/24",
    "lan_address": "192.168.50.1",
    "dhcp_range": ["192.168.50.100", "192.168.50.200"],
    "dhcp_lease_time": "12h",
    "vpn_subnet": "10.0.0.0/24",
    "wireguard_port": 51820,
    "upstream_dns": [],
    "ntp_servers": [],
    "dns_server": "dnsmasq",
}

_TOP_KEYS = {"version", "setup_completed", "cell", "network", "services", "peers", "users", "backup"}
_CELL_KEYS = {"name", "domain_mode", "domain", "timezone"}
_PEER_KEYS = {"name", "public_key", "ip", "route", "created"}
_USER_KEYS = {"name", "role", "password_hash", "services"}
_BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
_CREATED_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?$")


class StateError(ValueError):
    """The state was refused. ``fields`` maps a dotted path to the message for that field."""

    def __init__(self, fields: dict[str, str], message: str = "invalid cell state"):
        self.fields = dict(fields)
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(self.fields.items()))
        super().__init__(f"{message}: {detail}" if detail else message)
        self.message = message


def domain_for(name: str, mode: str, domain: str | None = None) -> str:
    """The cell's domain for a domain mode: ``<name>.cell``, ``<name>.pic.ngo`` or the custom one."""
    if mode == "internal":
        return f"{name}.cell"
    if mode == "pic_ngo":
        return f"{name}.{PIC_NGO_SUFFIX}"
    return domain or ""


def default_state(cell_name: str = "mycell") -> dict[str, Any]:
    """A complete, valid state for a cell that has not been set up yet."""
    return apply_defaults({"version": SCHEMA_VERSION, "setup_completed": False, "cell": {"name": cell_name}})


def apply_defaults(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` with every optional part filled in. Does not validate."""
    out = copy.deepcopy(state) if isinstance(state, dict) else {}
    out.setdefault("version", SCHEMA_VERSION)
    out.setdefault("setup_completed", False)
    cell = out.setdefault("cell", {})
    if isinstance(cell, dict):
        cell.setdefault("domain_mode", "internal")
        cell.setdefault("timezone", "Etc/UTC")
        if "domain" not in cell and isinstance(cell.get("name"), str) and cell["domain_mode"] != "custom":
            cell["domain"] = domain_for(cell["name"], cell["domain_mode"])
    network = out.setdefault("network", {})
    if isinstance(network, dict):
        for key, value in DEFAULT_NETWORK.items():
            network.setdefault(key, copy.deepcopy(value))
    out.setdefault("services", list(SERVICES))
    out.setdefault("peers", [])
    out.setdefault("users", [])
    out["backup"] = backupsettings.with_defaults(out.get("backup"))
    for peer in out["peers"] if isinstance(out["peers"], list) else []:
        if isinstance(peer, dict):
            peer.setdefault("route", "split")
    return out


class _Collector:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, message)

    def check(self, path: str, fn: Any, value: Any, *args: Any) -> Any:
        try:
            return fn(value, *args)
        except ValidationError as exc:
            self.add(path, str(exc))
            return None

    def unknown(self, path: str, data: dict[str, Any], allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else str(key), "unknown field")


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def validate_state(state: Any) -> None:
    """Validate a cell state. Optional parts may be missing (see ``apply_defaults``).

    Raises :class:`StateError` naming every refused field.
    """
    c = _Collector()
    if not isinstance(state, dict):
        raise StateError({"": "the cell state must be a mapping"})
    c.unknown("", state, _TOP_KEYS)

    version = state.get("version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        c.add("version", f"version must be {SCHEMA_VERSION}")
    if "setup_completed" in state:
        c.check("setup_completed", check_bool, state["setup_completed"], "setup_completed")

    _validate_cell(c, state.get("cell"))
    network = _validate_network(c, state.get("network", {}))
    _validate_services(c, state.get("services", list(SERVICES)))
    _validate_peers(c, state.get("peers", []), network)
    _validate_users(c, state.get("users", []))
    for path, message in backupsettings.validate(state.get("backup", {})).items():
        c.add(path, message)
    if c.fields:
        raise StateError(c.fields)


def _validate_cell(c: _Collector, cell: Any) -> None:
    if not isinstance(cell, dict):
        c.add("cell", "cell must be a mapping with at least a name")
        return
    c.unknown("cell", cell, _CELL_KEYS)
    if "name" not in cell:
        c.add("cell.name", "cell name is required")
        name = None
    else:
        name = c.check("cell.name", check_label, cell["name"], "cell name")
    mode = cell.get("domain_mode", "internal")
    mode = c.check("cell.domain_mode", check_choice, mode, DOMAIN_MODES, "domain mode")
    domain = cell.get("domain")
    if domain is not None:
        domain = c.check("cell.domain", check_domain, domain, "domain")
    if mode == "custom" and "domain" not in cell:
        c.add("cell.domain", "a custom domain mode needs a domain")
    elif mode in ("internal", "pic_ngo") and name and domain and domain != domain_for(name, mode):
        c.add("cell.domain", f"with domain mode {mode} the domain must be {domain_for(name, mode)}")
    elif mode == "custom" and domain and (domain.endswith(".cell") or domain.endswith("." + PIC_NGO_SUFFIX)):
        c.add("cell.domain", "a custom domain must not be under .cell or .pic.ngo")
    if "timezone" in cell:
        c.check("cell.timezone", check_timezone, cell["timezone"])


def _validate_network(c: _Collector, network: Any) -> dict[str, Any]:
    """Validate the network part; returns the merged (defaults + given) values that were valid."""
    if not isinstance(network, dict):
        c.add("network", "network must be a mapping")
        return {}
    c.unknown("network", network, set(DEFAULT_NETWORK))
    net = {**DEFAULT_NETWORK, **network}
    ok: dict[str, Any] = {}
    p = "network."
    ok["lan_interface"] = c.check(p + "lan_interface", check_interface, net["lan_interface"], "LAN interface")
    lan = c.check(p + "lan_subnet", check_ipv4_cidr, net["lan_subnet"], "LAN subnet")
    vpn = c.check(p + "vpn_subnet", check_ipv4_cidr, net["vpn_subnet"], "VPN subnet")
    if vpn and ipaddress.IPv4Network(vpn).prefixlen > 29:
        c.add(p + "vpn_subnet", "VPN subnet must be /29 or larger")
        vpn = None
    ok["vpn_subnet"] = vpn
    lan_addr = c.check(p + "lan_address", check_ipv4, net["lan_address"], "LAN address")
    if lan and vpn and addressing.overlaps(lan, vpn):
        c.add(p + "vpn_subnet", f"VPN subnet {vpn} overlaps the LAN subnet {lan}")
    if lan and lan_addr:
        lan_net = ipaddress.IPv4Network(lan)
        a = ipaddress.IPv4Address(lan_addr)
        if a not in lan_net or a in (lan_net.network_address, lan_net.broadcast_address):
            c.add(p + "lan_address", f"LAN address must be a host address inside {lan}")
    rng = net["dhcp_range"]
    if not (isinstance(rng, list) and len(rng) == 2):
        c.add(p + "dhcp_range", "DHCP range must be a list of two addresses [start, end]")
    else:
        start = c.check(p + "dhcp_range[0]", check_ipv4, rng[0], "DHCP range start")
        end = c.check(p + "dhcp_range[1]", check_ipv4, rng[1], "DHCP range end")
        if start and end:
            s, e = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            if s > e:
                c.add(p + "dhcp_range", "DHCP range start must not be after its end")
            elif lan:
                lan_net = ipaddress.IPv4Network(lan)
                hosts = (lan_net.network_address, lan_net.broadcast_address)
                if s not in lan_net or e not in lan_net or s in hosts or e in hosts:
                    c.add(p + "dhcp_range", f"DHCP range must lie inside the LAN subnet {lan}")
                elif lan_addr and s <= ipaddress.IPv4Address(lan_addr) <= e:
                    c.add(p + "dhcp_range", "DHCP range must not contain the cell's LAN address")
    c.check(p + "dhcp_lease_time", check_lease_time, net["dhcp_lease_time"], "DHCP lease time")
    c.check(p + "wireguard_port", check_port, net["wireguard_port"], "WireGuard port")
    lists = (("upstream_dns", check_ipv4, "upstream resolver"), ("ntp_servers", check_host, "NTP server"))
    for key, fn, what in lists:
        value = net[key]
        if not isinstance(value, list):
            c.add(p + key, f"{key} must be a list")
            continue
        if len(value) > 8:
            c.add(p + key, f"at most 8 entries in {key}")
        for i, item in enumerate(value):
            c.check(f"{p}{key}[{i}]", fn, item, what)
        if len(set(map(str, value))) != len(value):
            c.add(p + key, f"{key} has duplicate entries")
    c.check(p + "dns_server", check_choice, net["dns_server"], DNS_SERVERS, "DNS server")
    return ok


def _validate_services(c: _Collector, services: Any) -> None:
    if not _is_list_of_str(services):
        c.add("services", "services must be a list of names")
        return
    for i, svc in enumerate(services):
        if svc not in SERVICES:
            c.add(f"services[{i}]", f"unknown service {svc!r}; choose from: {', '.join(SERVICES)}")
    if len(set(services)) != len(services):
        c.add("services", "services lists a service twice")


def _validate_peers(c: _Collector, peers: Any, network: dict[str, Any]) -> None:
    if not isinstance(peers, list):
        c.add("peers", "peers must be a list")
        return
    names: dict[str, int] = {}
    ips: dict[str, int] = {}
    keys: dict[str, int] = {}
    vpn = network.get("vpn_subnet")
    for i, peer in enumerate(peers):
        p = f"peers[{i}]"
        if not isinstance(peer, dict):
            c.add(p, "a peer must be a mapping")
            continue
        c.unknown(p, peer, _PEER_KEYS)
        for key in ("name", "public_key", "ip"):
            if key not in peer:
                c.add(f"{p}.{key}", f"peer {key} is required")
        name = c.check(p + ".name", check_label, peer["name"], "peer name") if "name" in peer else None
        key = c.check(p + ".public_key", check_wg_key, peer["public_key"]) if "public_key" in peer else None
        ip = c.check(p + ".ip", check_ipv4, peer["ip"], "peer address") if "ip" in peer else None
        if "route" in peer:
            c.check(p + ".route", check_choice, peer["route"], ROUTES, "route")
        created = peer.get("created")
        if "created" in peer and not (isinstance(created, str) and _CREATED_RE.match(created)):
            c.add(p + ".created", "created must be an ISO 8601 timestamp")
        if name:
            if name in names:
                c.add(p + ".name", f"peer name {name!r} is already used by peers[{names[name]}]")
            names.setdefault(name, i)
        if key:
            if key in keys:
                c.add(p + ".public_key", f"public key is already used by peers[{keys[key]}]")
            keys.setdefault(key, i)
        if ip:
            if vpn and not addressing.usable(ip, vpn):
                c.add(p + ".ip", f"peer address must be a host address inside {vpn} other than the cell's")
            elif ip in ips:
                c.add(p + ".ip", f"address {ip} is already used by peers[{ips[ip]}]")
            ips.setdefault(ip, i)


def _validate_users(c: _Collector, users: Any) -> None:
    if not isinstance(users, list):
        c.add("users", "users must be a list")
        return
    names: dict[str, int] = {}
    for i, user in enumerate(users):
        p = f"users[{i}]"
        if not isinstance(user, dict):
            c.add(p, "a user must be a mapping")
            continue
        c.unknown(p, user, _USER_KEYS)
        if "name" not in user:
            c.add(p + ".name", "user name is required")
        else:
            name = c.check(p + ".name", check_label, user["name"], "user name")
            if name in names:
                c.add(p + ".name", f"user name {name!r} is already used by users[{names[name]}]")
            if name:
                names.setdefault(name, i)
        c.check(p + ".role", check_choice, user.get("role", "peer"), ROLES, "role")
        h = user.get("password_hash")
        if h is not None and not (isinstance(h, str) and _BCRYPT_RE.match(h)):
            c.add(p + ".password_hash", "password_hash must be a bcrypt hash ($2b$...)")
        svcs = user.get("services", [])
        if not _is_list_of_str(svcs):
            c.add(p + ".services", "services must be a list of names")
        else:
            for j, svc in enumerate(svcs):
                if svc not in USER_SERVICES:
                    c.add(f"{p}.services[{j}]", f"user services are: {', '.join(USER_SERVICES)}")


def state_to_vars(state: dict[str, Any]) -> dict[str, Any]:
    """Validate ``state`` and map it to the ``pic_*`` variables the roles read.

    Only what the state says is returned, with the schema's defaults for network values it leaves
    out; so the result can be laid over the inventory defaults with set_fact.
    """
    validate_state(state)
    full = apply_defaults(state)
    cell, net = full["cell"], full["network"]
    peers = [
        {
            "name": p["name"],
            "public_key": p["public_key"],
            "ip": p["ip"],
            "route": p.get("route", "split"),
        }
        for p in full["peers"]
    ]
    users = [
        {
            "name": u["name"],
            "role": u.get("role", "peer"),
            "password_hash": u.get("password_hash", ""),
            "services": list(u.get("services", [])),
        }
        for u in full["users"]
    ]
    out: dict[str, Any] = {
        "pic_setup_completed": bool(full["setup_completed"]),
        "pic_cell_name": cell["name"],
        "pic_domain_mode": cell["domain_mode"],
        "pic_domain": cell.get("domain") or domain_for(cell["name"], cell["domain_mode"]),
        "pic_timezone": cell["timezone"],
        "pic_lan_subnet": net["lan_subnet"],
        "pic_lan_address": net["lan_address"],
        "pic_dhcp_range": list(net["dhcp_range"]),
        "pic_dhcp_lease_time": str(net["dhcp_lease_time"]),
        "pic_vpn_subnet": net["vpn_subnet"],
        "pic_vpn_address": addressing.cell_address(net["vpn_subnet"]),
        "pic_wireguard_port": check_port(net["wireguard_port"]),
        "pic_upstream_dns": list(net["upstream_dns"]),
        "pic_ntp_servers": list(net["ntp_servers"]),
        "pic_dns_server": net["dns_server"],
        "pic_services": list(full["services"]),
        "pic_peers": peers,
        "pic_users": users,
        **backupsettings.to_vars(full["backup"]),
    }
    # The LAN interface defaults to the host's default route interface in the inventory; only a
    # state that names one overrides it.
    if isinstance(state.get("network"), dict) and "lan_interface" in state["network"]:
        out["pic_lan_interface"] = net["lan_interface"]
    return out
