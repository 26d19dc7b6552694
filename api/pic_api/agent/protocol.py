"""The agent's wire format and its allow-list of actions, with the validation of their arguments.

One request per connection: a JSON line ``{"action": NAME, "args": {...}}``. The agent answers with
JSON lines: zero or more ``{"event": {...}}`` (a converge's scrubbed events), then one final
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "...", "fields": {...}}``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..core import schema, wgkeys
from ..core.schema import check_def
from ..core.validators import ValidationError, check_archive_name, check_data_path, check_label, check_repository
from ..managers.health import SERVICE_CHECKS

MAX_LINE = 64 * 1024  # bytes of one request line
RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")  # RunManager's run ids
PREVIEW_RE = re.compile(r"^proposed-state\.[A-Za-z0-9_]{1,32}$")  # RunManager.new_run_path names
# Units whose status and journal may be read: every unit the cell ships.
UNITS = tuple(
    sorted({u for units, _ in SERVICE_CHECKS.values() for u in units} | {"coredns", "caddy", "nftables"})
    + ["pic-agent", "pic-api"]
)
JOURNAL_MAX = 5000
PASSPHRASE_MAX = 1024
SSH_KEY_MAX = 16 * 1024
_SSH_KEY_RE = re.compile(
    r"^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,100}\n){1,200}-----END OPENSSH PRIVATE KEY-----\n?$"
)
# Arguments that are secrets: never written to the agent's log (the request is logged without them).
SECRET_ARGS = frozenset({"passphrase", "ssh_key"})


class AgentError(Exception):
    """A request the agent refuses (or could not carry out); nothing was run. ``status`` is the HTTP
    status the API answers with (404: no such app or container, 409: a conflict; 400 otherwise)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        self.status = status


Check = Callable[[Any], Any]  # returns the clean value or raises ValueError with the reason


def _run_id(value: Any) -> str:
    if not isinstance(value, str) or not RUN_ID_RE.match(value):
        raise ValueError("must be a run id (YYYYMMDDTHHMMSS-xxxxxxxx)")
    return value


def _tags(value: Any, roles: Sequence[str] = ()) -> list[str]:
    """Tags a converge may name: a role of site.yml, or 'always' (load and validate the state only)."""
    allowed = (*roles, "always")
    if not isinstance(value, list) or len(value) > len(allowed):
        raise ValueError("must be a list of role names")
    bad = [t for t in value if t not in allowed]
    if bad:
        raise ValueError(f"not a role of site.yml: {', '.join(map(str, bad))[:200]}")
    return list(dict.fromkeys(value))


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _preview(value: Any) -> str:
    if not isinstance(value, str) or not PREVIEW_RE.match(value):
        raise ValueError("must name a proposed state file the API wrote (proposed-state.*)")
    return value


def _unit(value: Any) -> str:
    if value not in UNITS:
        raise ValueError(f"not a unit of the cell; one of: {', '.join(UNITS)}")
    return str(value)


def _units(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= len(UNITS):
        raise ValueError("must be a list of 1 or more units of the cell")
    return [_unit(u) for u in value]


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= JOURNAL_MAX:
        raise ValueError(f"must be a whole number from 1 to {JOURNAL_MAX}")
    return value


def _op(value: Any) -> str:
    if value not in ("add", "remove"):
        raise ValueError("must be add or remove")
    return str(value)


def _peer_name(value: Any) -> str:
    try:
        return check_label(value, "peer name")
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def _repository(value: Any) -> str:
    if value == "":
        raise ValueError("required")
    try:
        return check_repository(value, "repository")
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def _wg_key(value: Any) -> str:
    if not isinstance(value, str) or not wgkeys.is_valid_key(value):
        raise ValueError("must be a WireGuard public key (44 characters of base64)")
    return value


def _ipv4(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(value if isinstance(value, str) else ""))
    except ValueError:
        raise ValueError("must be an IPv4 address") from None


def _route(value: Any) -> str:
    if value not in schema.ROUTES:
        raise ValueError(f"must be one of: {', '.join(schema.ROUTES)}")
    return str(value)


def _passphrase(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= PASSPHRASE_MAX:
        raise ValueError(f"must be a passphrase of 1 to {PASSPHRASE_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain line breaks or control characters")
    return value


def _archive(value: Any) -> str:
    try:
        return check_archive_name(value, "archive")
    except ValidationError:
        raise ValueError("must be an archive name (letters, digits and . _ : + -)") from None


def _data_path(value: Any) -> str:
    """The shape of a data path; which ones the backups hold is the backup configuration's to say."""
    try:
        return check_data_path(value, "data")
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def _ssh_key(value: Any) -> str:
    if not isinstance(value, str) or len(value) > SSH_KEY_MAX or not _SSH_KEY_RE.fullmatch(value):
        raise ValueError("must be an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY----- ...)")
    return value if value.endswith("\n") else value + "\n"


MAX_LISTED_USERS = 1000


def _users(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LISTED_USERS:
        raise ValueError(f"must be a list of at most {MAX_LISTED_USERS} user names")
    check = _typed("Label")
    return list(dict.fromkeys(check(u) for u in value))


def _typed(name: str) -> Check:
    """A check by a type of the state schema (core/schema.py DEFS): the same rule the API applies."""

    def check(value: Any) -> Any:
        try:
            return check_def(name, value, "value")
        except ValidationError as exc:
            raise ValueError(str(exc).removeprefix("value ")) from None

    return check


# action -> (required arguments, optional arguments with their defaults), each with its check
ACTIONS: dict[str, tuple[dict[str, Check], dict[str, tuple[Check, Any]]]] = {
    "converge": ({"run_id": _run_id, "tags": _tags, "check": _bool}, {"preview": (_preview, None)}),
    "cancel": ({"run_id": _run_id}, {}),
    "unit_status": ({"unit": _unit}, {}),
    "unit_journal": ({"units": _units}, {"limit": (_limit, 500)}),
    "wg_public_key": ({}, {}),
    # dnsmasq's lease file, read only (the Network Services page)
    "dhcp_leases": ({}, {}),
    # the hosts chronyd served the time to (chronyc clients: addresses and counts; the Network
    # Services page)
    "ntp_clients": ({}, {}),
    # the running WireGuard interface of the agent's configuration (wg show <it> dump), without its
    # private and preshared keys (the WireGuard page, the devices online)
    "wg_status": ({}, {}),
    # MemTotal and MemAvailable of /proc/meminfo (the dashboard): the API's own sandbox
    # (ProcSubset=pid) hides every file of /proc but its processes'
    "memory": ({}, {}),
    # the Email page: the records the mailserver role publishes for the mail domain (its file in the
    # shared records directory, only name, type and value of MX and TXT records) and Postfix's queue
    # (postqueue -j: ids, times, addresses, delay reasons; never a message)
    "mail_records": ({}, {}),
    "mail_queue": ({}, {}),
    # an exit's tunnel (the exits role's wg-quick@exit-<name> or openvpn-client@exit-<name>): its
    # unit's state, the exit server's latest handshake and transfer, or the tunnel's address; no key
    "exit_status": ({"name": _typed("ExitName")}, {"kind": (_typed("ExitKind"), "wireguard")}),
    # a cell link's tunnel (the cell_link role's wg-quick@cl-<id>), read as an exit's: no key
    "link_status": ({"cell_id": _typed("CellId")}, {}),
    # a peer added to or removed from the running cell at once; the agent also checks it against
    # the cell state on disk (an added peer must be there as given, a removed one gone)
    "peer_apply": ({"op": _op, "name": _peer_name, "public_key": _wg_key, "ip": _ipv4, "route": _route}, {}),
    # backups (managers/backup.py): start the backup unit, read its status, list the archives, show
    # what must leave the box (passphrase, key export, the ssh key's public half); restore a cell
    "backup_start": ({}, {}),
    "backup_status": ({}, {}),
    "backup_archives": ({}, {}),
    "backup_key": ({}, {}),
    # the API's runs: a backup now and borg check in the agent (their steps streamed as events), and
    # a restore from this cell's own repository of the whole cell or of one data path; run_id is the
    # API's run, logged so the agent's journal names the run it did
    "backup_create": ({}, {"run_id": (_run_id, None)}),
    "backup_check": ({}, {"run_id": (_run_id, None)}),
    "backup_restore": ({"archive": _archive}, {"data": (_data_path, None), "run_id": (_run_id, None)}),
    "restore": (
        {"repository": _repository, "passphrase": _passphrase},
        {"archive": (_archive, None), "ssh_key": (_ssh_key, None), "force": (_bool, False),
         "run_id": (_run_id, None)},
    ),
    # the service store and the container manager (managers/store.py, through the Docker SDK):
    # apps come from the index the store role configured, by id and version only
    "store_catalog": ({}, {}),
    "store_manifest": ({"app": _typed("Label")}, {"version": (_typed("AppVersion"), None)}),
    "store_install": ({"app": _typed("Label")}, {"version": (_typed("AppVersion"), None)}),
    # install again over the app's kept data (after a restore, or a broken container): the manifest
    # it ran, else the index's version given
    "store_repair": ({"app": _typed("Label")}, {"version": (_typed("AppVersion"), None)}),
    "store_upgrade": ({"app": _typed("Label")}, {"version": (_typed("AppVersion"), None)}),
    "store_remove": ({"app": _typed("Label")}, {"purge": (_bool, False)}),
    # what an install or a removal would do, changing nothing (a preview)
    "store_plan_install": ({"app": _typed("Label")}, {"version": (_typed("AppVersion"), None)}),
    "store_plan_remove": ({"app": _typed("Label")}, {"purge": (_bool, False)}),
    "containers": ({}, {}),
    "container_action": ({"name": _typed("ContainerName"), "operation": _typed("ContainerAction")}, {}),
    "container_logs": ({"name": _typed("ContainerName")}, {"lines": (_limit, 200)}),
    "container_inspect": ({"name": _typed("ContainerName")}, {}),
    "image_pull": ({"reference": _typed("PullRef")}, {}),
    "volumes": ({}, {}),
    # a certificate from the cell's CA (managers/certs.py): the agent alone reads the root key; the
    # new key is in the answer only
    "ca_issue": ({"name": _typed("CertName")}, {"days": (_typed("CertDays"), 365)}),
    # Radicale's collections (managers/calendars.py; Radicale's storage is its own to read): each
    # user's calendars and address books with their names and properties only, never an event or a
    # card; and a new one made, owned by Radicale's user, refused when its name is taken
    "calendar_list": ({"users": _users}, {}),
    "calendar_create": (
        {"owner": _typed("Label"), "name": _typed("Label"), "displayname": _typed("CalendarName"),
         "kind": _typed("CalendarKind")},
        {"description": (_typed("CalendarText"), ""), "color": (_typed("CalendarColor"), "")},
    ),
}


def validate(request: Any, roles: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """``(action, clean arguments)`` of a decoded request, or AgentError naming every bad field.

    ``roles`` are the roles of site.yml, the tags a converge may name.
    """
    if not isinstance(request, dict):
        raise AgentError("a request is a JSON object with 'action' and 'args'")
    extra = sorted(set(request) - {"action", "args"})
    if extra:
        raise AgentError("unexpected keys in the request", {k: "unexpected" for k in extra})
    action = request.get("action")
    if action not in ACTIONS:
        raise AgentError(f"action {str(action)[:40]!r} is not allowed; allowed: {', '.join(ACTIONS)}")
    args = request.get("args", {})
    if not isinstance(args, dict):
        raise AgentError("args must be an object", {"args": "must be an object"})
    required, optional = ACTIONS[action]
    required = {n: functools.partial(_tags, roles=roles) if c is _tags else c for n, c in required.items()}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in args:
        if name not in required and name not in optional:
            errors[str(name)[:40]] = "unexpected argument"
    for name, check in required.items():
        if name not in args:
            errors[name] = "required"
            continue
        try:
            clean[name] = check(args[name])
        except ValueError as exc:
            errors[name] = str(exc)
    for name, (check, default) in optional.items():
        if name not in args or args[name] is None:
            clean[name] = default
            continue
        try:
            clean[name] = check(args[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise AgentError(f"invalid arguments for {action}", errors)
    return action, clean


def loggable(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the agent's log may show them: secrets masked."""
    return {k: ("********" if k in SECRET_ARGS and v is not None else v) for k, v in args.items()}


def request(action: str, **args: Any) -> dict[str, Any]:
    return {"action": action, "args": args}
