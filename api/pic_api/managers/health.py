"""Service health: a background thread checks each enabled service's units and ports."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from ..agent import actions
from ..core import schema

log = logging.getLogger("pic.health")

# service -> (systemd units, TCP ports probed on the loopback)
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


def tcp_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class HealthMonitor:
    def __init__(
        self,
        enabled_services: Callable[[], list[str]],
        dns_server: Callable[[], str] = lambda: "dnsmasq",
        unit_check: Callable[[str], bool] | None = None,
        port_check: Callable[[int], bool] = tcp_open,
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
