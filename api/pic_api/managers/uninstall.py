"""`pic uninstall`: stop the cell and remove PIC's own programs; the data stays unless purged.

What stays by default is what a later install (or a restore) would want back: the cell state and
its versions, the secrets (CA, WireGuard and DKIM keys, logins, the backup passphrase), mail,
calendars and files. Debian's packages stay installed: they are Debian's, and apt removes them.
The cell's firewall (nftables) keeps running: stopping it would open the host without a word.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from ..agent.protocol import UNITS
from ..config import Config
from .backup import BackupConfig, BackupError

# The units stopped and disabled, PIC's own first (the timer before a backup can start).
OWN_UNITS = ("pic-backup.timer", "pic-backup.service", "pic-api", "pic-agent")
KEPT_RUNNING = ("nftables",)
SERVICE_UNITS = tuple(u for u in (*UNITS, "opendkim") if u not in OWN_UNITS and u not in KEPT_RUNNING)
UI_DIR = Path("/var/www/pic")  # the webui role's webui_root
LOG_DIR = Path("/var/log/pic")


@dataclasses.dataclass
class Plan:
    units: list[str]
    remove_programs: list[Path]
    remove_data: list[Path]
    kept: list[Path]
    systemd_dir: Path


def _data_paths(config: Config) -> list[Path]:
    """Everything a backup holds (the backup role's lists) and the API's own directories."""
    paths = [Path(config.secrets_dir), Path(config.state_file), Path(config.state_dir).parent, Path(config.run_dir)]
    try:
        backup = BackupConfig.load(config.backup_config_file)
        paths += [Path(p) for p in (*backup.state_paths, *backup.data_paths)] + [backup.borg_dir.parent]
    except BackupError:
        pass  # the backup role never ran: its lists are not there, the directories above still are
    paths.append(LOG_DIR)
    out: list[Path] = []
    for p in paths:  # a path inside another one on the list goes with it
        if p not in out and not any(p.is_relative_to(q) for q in paths if q != p):
            out.append(p)
    return out


def plan(config: Config, purge: bool, systemd_dir: Path = Path("/etc/systemd/system"),
         root: Path = Path("/")) -> Plan:
    """What an uninstall does; every path under ``root`` (tests use a directory)."""

    def under(p: Path) -> Path:
        return root / Path(p).relative_to("/") if Path(p).is_absolute() else root / p

    units = [*OWN_UNITS, *SERVICE_UNITS]
    systemd_dir = under(systemd_dir)
    programs = [under(Path(config.project_dir).parent), under(UI_DIR)]
    programs += sorted(p for pattern in ("pic-*.service", "pic-*.timer") for p in systemd_dir.glob(pattern))
    data = [under(p) for p in _data_paths(config)]
    return Plan(units, programs, data if purge else [], [] if purge else data, systemd_dir)


def _systemctl(*args: str) -> None:
    subprocess.run(["systemctl", *args], check=False, capture_output=True, timeout=120)


def apply(plan: Plan, systemctl: Callable[..., None] | None = None) -> Iterator[str]:
    """Carries the plan out, saying what it did, line by line."""
    systemctl = systemctl or _systemctl
    for unit in plan.units:
        systemctl("disable", "--now", unit)
    yield f"Stopped and disabled: {', '.join(plan.units)} (the firewall keeps running)"
    for path in [*plan.remove_programs, *plan.remove_data]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        yield f"Removed {path}"
    systemctl("daemon-reload")
