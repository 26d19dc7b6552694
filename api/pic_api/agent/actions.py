"""What the agent's read actions really do (as root), with fixed argv and validated arguments.

The API process uses the same functions directly only when no agent is configured (tests, the CLI).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core import wgkeys
from ..managers.files import write_atomic


def unit_active(unit: str) -> bool:
    """True when systemd reports the unit active."""
    try:
        out = subprocess.run(["systemctl", "is-active", "--quiet", unit], timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def start_unit(unit: str) -> bool:
    """Start a unit without waiting for it to finish (a oneshot such as the backup); True when queued."""
    try:
        out = subprocess.run(["systemctl", "start", "--no-block", unit], timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def journal(units: Iterable[str], limit: int) -> list[dict[str, Any]]:
    """The last entries of some units' journals, each as time, level, unit and message."""
    argv = ["journalctl", "--no-pager", "-o", "json", "-n", str(limit)]
    for unit in units:
        argv += ["-u", unit]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    entries = []
    for line in out.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        prio = int(e.get("PRIORITY", 6)) if str(e.get("PRIORITY", "6")).isdigit() else 6
        level = "ERROR" if prio <= 3 else "WARNING" if prio == 4 else "INFO" if prio <= 6 else "DEBUG"
        msg = e.get("MESSAGE", "")
        entries.append(
            {
                "time": e.get("__REALTIME_TIMESTAMP"),
                "level": level,
                "unit": e.get("_SYSTEMD_UNIT", ""),
                "message": msg if isinstance(msg, str) else str(msg),
            }
        )
    return entries


def wg_public_key(key_file: Path, published: Path | None = None) -> str:
    """The cell's WireGuard public key; the private key (0600) is made when missing and never returned.

    The wireguard role publishes the public half (``published``); it is read from there when it is
    no older than the private key, so the key is derived here only before the role ran.
    """
    key_file = Path(key_file)
    if key_file.is_file():
        try:
            if published and published.stat().st_mtime >= key_file.stat().st_mtime:
                text = published.read_text().strip()
                if wgkeys.is_valid_key(text):
                    return text
        except OSError:
            pass
        return wgkeys.public_key(key_file.read_text().strip())
    private, public = wgkeys.generate_keypair()
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(key_file, private + "\n", 0o600)
    return public


MAX_LEASES = 5000
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def dhcp_leases(lease_file: Path) -> list[dict[str, Any]]:
    """dnsmasq's current IPv4 leases (``<expiry> <mac> <ip> <hostname|*> <client-id|*>`` lines) as
    mac, ip, hostname ('' when the client sent none) and expires (ISO 8601 UTC, None for infinite).
    A line that does not parse is left out: the file is dnsmasq's, what the API shows is checked."""
    try:
        text = Path(lease_file).read_text(errors="replace")
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].isdigit() or not _MAC.match(parts[1].lower()):
            continue  # the "duid" line, DHCPv6 leases, damage
        try:
            ip = str(ipaddress.IPv4Address(parts[2]))
        except ValueError:
            continue
        expiry = int(parts[0])
        out.append(
            {
                "mac": parts[1].lower(),
                "ip": ip,
                "hostname": parts[3] if parts[3] != "*" and _HOSTNAME.match(parts[3]) else "",
                "expires": dt.datetime.fromtimestamp(expiry, dt.UTC).isoformat(timespec="seconds").replace(
                    "+00:00", "Z") if expiry else None,
            }
        )
        if len(out) >= MAX_LEASES:
            break
    return out
