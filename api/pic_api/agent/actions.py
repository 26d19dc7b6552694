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


MAX_WG_PEERS = 5000


class WgDumpError(ValueError):
    """``wg show <interface> dump`` printed something that is not its dump format."""


def _wg_count(text: str, what: str) -> int:
    if not text.isdigit():
        raise WgDumpError(f"{what} is not a number")
    return int(text)


def parse_wg_dump(text: str) -> dict[str, Any]:
    """``wg show <interface> dump`` (wireguard-tools' show.c) as the interface's public key and port and
    each peer's public key, endpoint, allowed IPs, latest handshake (epoch seconds, 0: never) and
    rx/tx bytes.

    The dump is tab-separated: first the interface (private-key, public-key, listen-port, fwmark),
    then one line per peer (public-key, preshared-key, endpoint, allowed-ips, latest-handshake,
    transfer-rx, transfer-tx, persistent-keepalive), "(none)" for what is unset. The private key and
    the preshared keys are dropped here, column by position, so no secret leaves this function.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise WgDumpError("the dump is empty")
    head = lines[0].split("\t")
    if len(head) != 4 or not wgkeys.is_valid_key(head[1]):
        raise WgDumpError("the interface line is not private-key, public-key, listen-port, fwmark")
    interface = {"public_key": head[1], "listen_port": _wg_count(head[2], "the listen port")}
    peers: list[dict[str, Any]] = []
    for line in lines[1:MAX_WG_PEERS + 1]:
        cols = line.split("\t")
        if len(cols) != 8 or not wgkeys.is_valid_key(cols[0]):
            raise WgDumpError("a peer line is not the eight columns of wg's dump")
        endpoint, allowed = cols[2], cols[3]
        peers.append(
            {
                "public_key": cols[0],
                "endpoint": "" if endpoint == "(none)" else endpoint,
                "allowed_ips": [] if allowed == "(none)" else [str(ipaddress.ip_network(a, strict=False))
                                                               for a in allowed.split(",")],
                "latest_handshake": _wg_count(cols[4], "latest-handshake"),
                "rx": _wg_count(cols[5], "transfer-rx"),
                "tx": _wg_count(cols[6], "transfer-tx"),
            }
        )
    return {"interface": interface, "peers": peers}


def unit_state(unit: str, systemctl: str = "systemctl") -> str:
    """systemd's word for a unit's state (active, inactive, failed, activating, ...); "unknown" when
    systemctl cannot say."""
    try:
        out = subprocess.run([systemctl, "is-active", unit], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    word = out.stdout.strip()
    return word if re.fullmatch(r"[a-z-]{1,20}", word) else "unknown"


def exit_status(name: str, prefix: str = "exit-", wg: str = "wg", systemctl: str = "systemctl") -> dict[str, Any]:
    """An exit's tunnel as the exits role runs it (interface <prefix><name>, unit wg-quick@ of it):
    the unit's state, and from wg's dump the exit server's endpoint, latest handshake (epoch seconds,
    0: never) and transfer. ``up`` is true when the unit is active and its interface answers. No key
    leaves: ``wg_status`` drops the private and preshared keys, and only these fields are kept."""
    interface = f"{prefix}{name}"
    state = unit_state(f"wg-quick@{interface}.service", systemctl)
    live = wg_status(interface, wg)
    out: dict[str, Any] = {"unit": state, "up": state == "active" and bool(live["up"]), "endpoint": "",
                           "latest_handshake": 0, "rx": 0, "tx": 0}
    if live["up"]:
        peer = live["peers"][0] if live["peers"] else {}
        out.update({k: peer[k] for k in ("endpoint", "latest_handshake", "rx", "tx") if k in peer})
    else:
        out["reason"] = live["reason"]
    return out


def wg_status(interface: str, wg: str = "wg") -> dict[str, Any]:
    """The running WireGuard interface (``parse_wg_dump``) as ``{"up": True, "interface": ..., "peers":
    [...]}``, or ``{"up": False, "reason": ...}`` when it does not exist (the cell has not converged
    the wireguard role yet) or wg cannot say. Needs root: the dump holds the private key."""
    try:
        out = subprocess.run([wg, "show", interface, "dump"], capture_output=True, text=True, timeout=10,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"up": False, "reason": f"wg could not be run: {exc}"[:300]}
    if out.returncode != 0:
        # wg's own words ("Unable to access interface: No such device"), never the dump itself
        said = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit status {out.returncode}"
        return {"up": False, "reason": f"interface {interface}: {said}"[:300]}
    try:
        parsed = parse_wg_dump(out.stdout)
    except ValueError as exc:
        return {"up": False, "reason": f"interface {interface}: {exc}"[:300]}
    return {"up": True, **parsed}
