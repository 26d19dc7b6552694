"""The ``backup`` section of the cell state: where backups go, how often, how many are kept, and
whether the admin confirmed that the repository's passphrase is saved away from the cell.

```yaml
backup:
  repository: ssh://borg@backup.example.org:22/./pic   # or a local path (another disk); "" = none
  schedule: daily                                     # hourly | daily | weekly | off (on demand only)
  keep_daily: 7
  keep_weekly: 4
  keep_monthly: 6
  key_confirmed: false
```

Kept apart from the rest of the schema so that the section stays one self-contained piece:
``validate`` names every refused field (``backup.repository``), ``with_defaults`` fills what a state
leaves out, ``to_vars`` gives the ``pic_backup_*`` variables the backup role reads. The passphrase
and the ssh key are secrets and never part of the state (0600 files in /etc/pic/backup).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

__all__ = ["SCHEDULES", "DEFAULTS", "check_repository", "validate", "with_defaults", "to_vars"]

SCHEDULES = ("hourly", "daily", "weekly", "off")
KEEP_MAX = 1000
DEFAULTS: dict[str, Any] = {
    "repository": "",
    "schedule": "daily",
    "keep_daily": 7,
    "keep_weekly": 4,
    "keep_monthly": 6,
    "key_confirmed": False,
}
_KEEP = ("keep_daily", "keep_weekly", "keep_monthly")

# A local repository: an absolute path of plain characters (another disk's mount point, usually).
_LOCAL_RE = re.compile(r"(/[A-Za-z0-9._+-]+)+/?")  # fullmatch: no trailing newline slips through
# A remote one, borg's ssh:// form: ssh://user@host[:port]/path (a path starting /./ or /~/ is relative
# to the remote user's home, as borg reads it).
_SSH_RE = re.compile(
    r"ssh://(?P<user>[a-z_][a-z0-9_-]{0,31})@(?P<host>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>(/[A-Za-z0-9._~+-]+)+/?)"
)
_HOST_LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def check_repository(value: Any) -> str | None:
    """Why ``value`` is not a repository borg may be given, or None when it is one ("" is none)."""
    if not isinstance(value, str):
        return "the repository must be a string"
    if value == "":
        return None
    if len(value) > 255:
        return "the repository must be at most 255 characters"
    if value.startswith("/"):
        if not _LOCAL_RE.fullmatch(value):
            return "a local repository is an absolute path of letters, digits and . _ + - only"
        if any(part in (".", "..") for part in value.split("/")):
            return "a local repository path must not contain . or .. parts"
        return None
    m = _SSH_RE.fullmatch(value)
    if not m:
        return "the repository must be an absolute path or ssh://user@host[:port]/path"
    host = m.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "the repository's host is not an IPv6 address"
    elif not all(_HOST_LABEL_RE.fullmatch(label) for label in host.rstrip(".").split(".")):
        return "the repository's host is not a host name or address"
    if m.group("port") is not None and not 1 <= int(m.group("port")) <= 65535:
        return "the repository's port must be from 1 to 65535"
    if ".." in m.group("path").split("/"):
        return "the repository's path must not contain .. parts"
    return None


def validate(section: Any, path: str = "backup") -> dict[str, str]:
    """The refused fields of a ``backup`` section (empty when it is valid); missing keys are fine.

    Fields are named ``<path>.<key>``, or ``<key>`` with an empty ``path`` (a request's body)."""
    if not isinstance(section, dict):
        return {path: "backup must be a mapping"}
    errors: dict[str, str] = {}
    path = path + "." if path else ""
    for key in section:
        if key not in DEFAULTS:
            errors[f"{path}{key}"] = "unknown field"
    if "repository" in section:
        problem = check_repository(section["repository"])
        if problem:
            errors[f"{path}repository"] = problem
    if "schedule" in section and section["schedule"] not in SCHEDULES:
        errors[f"{path}schedule"] = f"schedule must be one of: {', '.join(SCHEDULES)}"
    for key in _KEEP:
        value = section.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= KEEP_MAX:
            errors[f"{path}{key}"] = f"{key} must be a whole number from 0 to {KEEP_MAX}"
    if not any(f"{path}{k}" in errors for k in _KEEP) and not any(section.get(k, DEFAULTS[k]) for k in _KEEP):
        errors[f"{path}keep_daily"] = "keep at least one backup (keep_daily, keep_weekly or keep_monthly above 0)"
    if "key_confirmed" in section and not isinstance(section["key_confirmed"], bool):
        errors[f"{path}key_confirmed"] = "key_confirmed must be true or false"
    return errors


def with_defaults(section: Any) -> dict[str, Any]:
    """A copy of the section with every key it leaves out filled in. Does not validate."""
    out = copy.deepcopy(DEFAULTS)
    if isinstance(section, dict):
        out.update(copy.deepcopy(section))
    return out


def to_vars(section: Any) -> dict[str, Any]:
    """The ``pic_backup_*`` variables the backup role reads (key_confirmed is the UI's, no role's)."""
    full = with_defaults(section)
    return {
        "pic_backup_repository": full["repository"],
        "pic_backup_schedule": full["schedule"],
        "pic_backup_keep": {k.removeprefix("keep_"): full[k] for k in _KEEP},
    }
