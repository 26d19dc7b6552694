"""Which roles a change touches: the tags of the converge run for a change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["ALL_ROLES", "SERVICE_ROLES", "roles_for_services", "roles_for_diff"]

# Every role of site.yml, in converge order; each role's tag is its name.
ALL_ROLES = (
    "common", "firewall", "ca", "dnsmasq", "coredns", "chrony", "wireguard",
    "mailserver", "radicale", "webdav", "caddy", "api", "webui",
)

SERVICE_ROLES: dict[str, tuple[str, ...]] = {
    "dns": ("dnsmasq", "coredns"),
    "dhcp": ("dnsmasq",),
    "ntp": ("chrony",),
    "wireguard": ("wireguard", "firewall"),
    "mail": ("mailserver", "caddy", "ca"),
    "calendar": ("radicale", "caddy"),
    "files": ("webdav", "caddy"),
}


def _ordered(roles: Iterable[str]) -> list[str]:
    wanted = set(roles)
    return [r for r in ALL_ROLES if r in wanted]


def roles_for_services(services: Iterable[str]) -> list[str]:
    """Roles that serve the given services (plus the firewall, which opens their ports)."""
    roles: set[str] = {"firewall"}
    for svc in services:
        roles.update(SERVICE_ROLES.get(svc, ()))
    return _ordered(roles)


def roles_for_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """The roles whose configuration depends on what changed between two states."""
    if not old:
        return list(ALL_ROLES)
    roles: set[str] = set()
    oc, nc = old.get("cell", {}), new.get("cell", {})
    if oc != nc:
        if oc.get("timezone") != nc.get("timezone"):
            roles.update({"common", "chrony"})
        if any(oc.get(k) != nc.get(k) for k in ("name", "domain", "domain_mode")):
            return list(ALL_ROLES)
    on, nn = old.get("network", {}), new.get("network", {})
    for key in set(on) | set(nn):
        if on.get(key) == nn.get(key):
            continue
        if key in ("upstream_dns", "dns_server"):
            roles.update({"dnsmasq", "coredns"})
        elif key == "ntp_servers":
            roles.add("chrony")
        elif key in ("wireguard_port", "vpn_subnet"):
            roles.update({"wireguard", "firewall", "dnsmasq", "coredns"})
        else:
            roles.update({"firewall", "dnsmasq", "coredns", "chrony"})
    if old.get("services") != new.get("services"):
        changed = set(old.get("services", [])) ^ set(new.get("services", []))
        roles.update(roles_for_services(changed))
    if old.get("peers") != new.get("peers"):
        roles.update({"wireguard", "dnsmasq", "coredns"})
    if old.get("users") != new.get("users"):
        roles.update({"mailserver", "radicale", "webdav"})
    return _ordered(roles)
