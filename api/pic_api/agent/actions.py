"""What the agent's read actions really do (as root), with fixed argv and validated arguments.

The API process uses the same functions directly only when no agent is configured (tests, the CLI).
"""

from __future__ import annotations

import json
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
