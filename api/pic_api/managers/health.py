"""Service health: a background thread checks each enabled service's units and ports."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..agent import actions
from ..core import schema

log = logging.getLogger("pic.health")

# service -> (systemd units, TCP ports some socket must listen on)
SERVICE_CHECKS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "dns": (("dnsmasq",), (53,)),
    "dhcp": (("dnsmasq",), ()),
    "ntp": (("chrony",), ()),
    "wireguard": (("wg-quick@wg0",), ()),
    # php8.2-fpm: the webmail (Roundcube, webmail role), which comes with the mail service
    "mail": (("postfix", "dovecot", "php8.2-fpm"), (25, 587, 993)),
    "calendar": (("radicale",), (5232,)),
    "files": (("apache2",), (8080,)),
}


# The kernel's socket tables of this process's network namespace (the host's): /proc/self stays
# visible under the API's ProcSubset=pid.
SOCKET_TABLES = ("/proc/self/net/tcp", "/proc/self/net/tcp6")
TCP_LISTEN = "0A"


def listening_ports(tables: str) -> set[int]:
    """The TCP ports some socket listens on, from the text of /proc/net/tcp and tcp6."""
    ports = set()
    for line in tables.splitlines():
        fields = line.split()
        # sl local_address rem_address st ...; local_address is <hex address>:<hex port>
        if len(fields) > 3 and fields[3] == TCP_LISTEN and ":" in fields[1]:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def tcp_listening(port: int) -> bool:
    """Whether a socket listens on the port. Read from the kernel, not by connecting: a connection
    every 30 s kept Postfix's smtpd and tlsmgr and Dovecot's login processes alive on an idle cell,
    and a connect proves no more (the kernel completes it for a listening socket by itself)."""
    text = ""
    for table in SOCKET_TABLES:
        try:
            with open(table) as f:
                text += f.read()
        except OSError:
            continue
    return port in listening_ports(text)


class HealthMonitor:
    def __init__(
        self,
        enabled_services: Callable[[], list[str]],
        dns_server: Callable[[], str] = lambda: "dnsmasq",
        unit_check: Callable[[str], bool] | None = None,
        port_check: Callable[[int], bool] = tcp_listening,
        interval: float = 30.0,
    ):
        self.enabled_services = enabled_services
        self.dns_server = dns_server
        # without a checker: systemctl is-active in this process (unprivileged: a unit's state is public)
        self.unit_check = unit_check or actions.unit_active
        self.port_check = port_check
        self.interval = interval
        self._result: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> dict[str, Any]:
        try:
            enabled = set(self.enabled_services())
        except Exception:  # the state may be unreadable: report every service unknown
            log.exception("cannot read the enabled services")
            enabled = set()
        dns_unit = "coredns" if self.dns_server() == "coredns" else "dnsmasq"
        services = []
        for name in schema.SERVICES:
            units, ports = SERVICE_CHECKS[name]
            if name == "dns":
                units = (dns_unit,)
            entry: dict[str, Any] = {"name": name, "enabled": name in enabled, "units": [], "ports": []}
            if name in enabled:
                entry["units"] = [{"name": u, "active": bool(self.unit_check(u))} for u in units]
                entry["ports"] = [{"port": p, "proto": "tcp", "open": bool(self.port_check(p))} for p in ports]
                checks = [u["active"] for u in entry["units"]] + [p["open"] for p in entry["ports"]]
                entry["status"] = "ok" if all(checks) else ("down" if not any(checks) else "degraded")
            else:
                entry["status"] = "disabled"
            services.append(entry)
        result = {"checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "services": services}
        with self._lock:
            self._result = result
        return result

    def status(self) -> dict[str, Any]:
        with self._lock:
            result = self._result
        return result if result is not None else self.check_once()

    def start(self) -> None:
        if self.interval <= 0 or (self._thread and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._loop, name="pic-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:
                log.exception("health check failed")
            self._stop.wait(self.interval)
