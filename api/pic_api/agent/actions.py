"""What the agent's read actions really do (as root), with fixed argv and validated arguments.

The API process uses the same functions directly only when no agent is configured (tests, the CLI).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ..core import schema, wgkeys
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


# The unit of the exits role's Tor exit (Debian's tor instance with /etc/tor/torrc).
TOR_UNIT = "tor@default.service"


def exit_status(name: str, prefix: str = "exit-", wg: str = "wg", systemctl: str = "systemctl",
                kind: str = "wireguard", ip: str = "ip", sys_net: str = "/sys/class/net") -> dict[str, Any]:
    """An exit's tunnel as the exits role runs it (interface <prefix><name>, unit wg-quick@ of it):
    the unit's state, and from wg's dump the exit server's endpoint, latest handshake (epoch seconds,
    0: never) and transfer. ``up`` is true when the unit is active and its interface answers. No key
    leaves: ``wg_status`` drops the private and preshared keys, and only these fields are kept.
    An openvpn exit: ``openvpn_status``. A tor exit: tor's unit (the exits role runs Debian's
    tor@default); ``up`` when it is active (whether tor builds circuits is not told here)."""
    interface = f"{prefix}{name}"
    if kind == "openvpn":
        return openvpn_status(interface, systemctl, ip, sys_net)
    if kind == "tor":
        state = unit_state(TOR_UNIT, systemctl)
        return {"unit": state, "up": state == "active",
                **({} if state == "active" else {"reason": f"unit {TOR_UNIT} is {state}"})}
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



def link_status(cell_id: str, wg: str = "wg", systemctl: str = "systemctl") -> dict[str, Any]:
    """A cell link's tunnel as the cell_link role runs it (interface cl-<id>, unit wg-quick@ of it):
    read as an exit's WireGuard tunnel is (``exit_status``): the unit's state, the other cell's
    endpoint, the latest handshake and the transfer; no key."""
    return exit_status(schema.link_interface(cell_id), prefix="", wg=wg, systemctl=systemctl)


def openvpn_status(interface: str, systemctl: str = "systemctl", ip: str = "ip",
                   sys_net: str = "/sys/class/net") -> dict[str, Any]:
    """An OpenVPN exit (unit openvpn-client@<interface>): connected (``up``) when its unit is active and
    its tun has the address the server gave (openvpn makes the tun once connected, and removes it
    when the connection ends: the exits role sets no persist-tun), that address, and the tun's bytes."""
    state = unit_state(f"openvpn-client@{interface}.service", systemctl)
    out: dict[str, Any] = {"unit": state, "up": False, "address": "", "rx": 0, "tx": 0}
    try:
        got = subprocess.run([ip, "-4", "-j", "addr", "show", "dev", interface], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {**out, "reason": f"ip could not be run: {exc}"[:300]}
    try:
        infos = json.loads(got.stdout) if got.returncode == 0 and got.stdout.strip() else []
        addrs = [f"{a['local']}/{a['prefixlen']}" for i in infos for a in i.get("addr_info", [])
                 if a.get("family") == "inet"]
    except (ValueError, KeyError, TypeError, AttributeError):
        addrs = []
    if not addrs:
        return {**out, "reason": f"interface {interface}: not connected (no tunnel address)"}
    address = str(ipaddress.IPv4Interface(addrs[0]))
    for key in ("rx", "tx"):
        try:
            out[key] = int(Path(sys_net, interface, "statistics", f"{key}_bytes").read_text().strip())
        except (OSError, ValueError):
            pass
    out.update(address=address, up=state == "active")
    if not out["up"]:
        out["reason"] = f"unit openvpn-client@{interface} is {state}"
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


MAX_NTP_CLIENTS = 1000


def parse_chrony_clients(csv: str) -> list[dict[str, Any]]:
    """``chronyc -c -n clients`` (address, NTP packets, dropped, interval, interval after limiting,
    seconds since the last NTP packet, then the same for command packets) as the hosts that asked for
    the time: address, ntp_packets, last_seen (seconds ago, None when chrony does not say). Hosts that
    only sent commands (chronyc on the cell) are left out; a line that does not parse too."""
    out: list[dict[str, Any]] = []
    for line in csv.splitlines():
        cols = line.split(",")
        if len(cols) < 6 or not cols[1].isdigit():
            continue
        try:
            address = str(ipaddress.ip_address(cols[0]))
        except ValueError:
            continue
        packets = int(cols[1])
        if packets == 0:
            continue
        out.append({"address": address, "ntp_packets": packets,
                    "last_seen": int(cols[5]) if cols[5].isdigit() else None})
        if len(out) >= MAX_NTP_CLIENTS:
            break
    return out


def ntp_clients(chronyc: str = "chronyc") -> list[dict[str, Any]]:
    """The hosts chronyd served the time to (``parse_chrony_clients``). ``clients`` is a command of
    chronyd's Unix socket only, which is root's (and _chrony's)."""
    try:
        out = subprocess.run([chronyc, "-c", "-n", "clients"], capture_output=True, text=True, timeout=10,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NtpClientsError(f"chronyc could not be run: {exc}"[:300]) from None
    if out.returncode != 0:
        said = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit status {out.returncode}"
        raise NtpClientsError(f"chronyc clients: {said}"[:300])
    return parse_chrony_clients(out.stdout)


class NtpClientsError(Exception):
    """chronyd could not be asked which hosts it served."""


# Radicale's multifilesystem storage: every collection is a folder below <storage>/collection-root,
# /<user>/<collection>/, its properties a JSON file in it. Radicale lists the folders afresh on each
# request (storage/multifilesystem discover: scandir of the parent), so a folder made here is served
# at once, without a restart. Its lock file (flock) is taken while a folder is made, as Radicale does.
RADICALE_ROOT = "collection-root"
RADICALE_PROPS = ".Radicale.props"
RADICALE_LOCK = ".Radicale.lock"
COLLECTION_TAGS = {"calendar": "VCALENDAR", "addressbook": "VADDRESSBOOK"}
DESCRIPTION_PROPS = {"calendar": "C:calendar-description", "addressbook": "CR:addressbook-description"}
COLOR_PROP = "ICAL:calendar-color"
MAX_COLLECTIONS = 500  # per person listed
MAX_PROPS = 64 * 1024  # bytes of a .Radicale.props read
_SHOWN = re.compile(r"^[^\x00-\x1f\x7f/]{1,255}$")


class CollectionError(Exception):
    """A collection that cannot be made; ``exists`` when its name is taken."""

    def __init__(self, message: str, exists: bool = False):
        super().__init__(message)
        self.exists = exists


def _folder(path: Path) -> bool:
    """A real folder, not a link to one (lstat): nothing here follows a link out of the storage."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_props(folder: Path) -> dict[str, Any]:
    """A collection's properties, read without following a link; {} when missing or not JSON."""
    try:
        fd = os.open(folder / RADICALE_PROPS, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        raw = os.read(fd, MAX_PROPS + 1)
    finally:
        os.close(fd)
    try:
        props = json.loads(raw) if len(raw) <= MAX_PROPS else {}
    except ValueError:
        return {}
    return props if isinstance(props, dict) else {}


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def calendar_collections(storage_dir: Path, users: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Each user's calendars and address books: name (the folder), kind, displayname, description,
    color. Only the properties are read, never an event or a card; a folder without a calendar or
    address book tag (a user's own principal folder, a plain WebDAV folder) is not listed."""
    root = Path(storage_dir) / RADICALE_ROOT
    out: dict[str, list[dict[str, Any]]] = {}
    for user in users:
        found: list[dict[str, Any]] = []
        out[user] = found
        home = root / user
        if not _folder(root) or not _folder(home):
            continue
        with os.scandir(home) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
        for name in names[:MAX_COLLECTIONS]:
            if not _SHOWN.match(name):
                continue
            props = _read_props(home / name)
            kind = next((k for k, tag in COLLECTION_TAGS.items() if props.get("tag") == tag), None)
            if kind is None:
                continue
            found.append({
                "name": name,
                "kind": kind,
                "displayname": _text(props.get("D:displayname"), 200),
                "description": _text(props.get(DESCRIPTION_PROPS[kind]), 500),
                "color": _text(props.get(COLOR_PROP), 32),
            })
    return out


def collection_props(kind: str, displayname: str, description: str = "", color: str = "") -> dict[str, str]:
    """A new collection's .Radicale.props, as Radicale writes them for a client's MKCALENDAR/MKCOL."""
    props = {"tag": COLLECTION_TAGS[kind], "D:displayname": displayname}
    if kind == "calendar":
        props["C:supported-calendar-component-set"] = "VEVENT,VTODO,VJOURNAL"
    if description:
        props[DESCRIPTION_PROPS[kind]] = description
    if color:
        props[COLOR_PROP] = color
    return props


def calendar_create(storage_dir: Path, owner: str, name: str, props: dict[str, str],
                    ids: tuple[int, int] | None = None) -> None:
    """Makes /<owner>/<name>/ (``_make_collection``); a failure of the file system is a refusal that
    says what failed, and no half-made collection is left."""
    try:
        _make_collection(Path(storage_dir), owner, name, props, ids)
    except OSError as exc:
        raise CollectionError(f"the collection could not be made: {exc.strerror or exc}"[:300]) from None


def _make_collection(storage: Path, owner: str, name: str, props: dict[str, str],
                     ids: tuple[int, int] | None) -> None:
    """Makes /<owner>/<name>/ with its properties: a temporary folder beside it, then one rename, so
    Radicale sees the whole collection or none. ``ids`` (Radicale's uid, gid) own what is made; the
    owner's folder is made when Radicale has not yet (it makes it at their first login)."""
    if not _folder(storage):
        raise CollectionError(f"Radicale's storage {storage} does not exist (is the calendar service converged?)")
    lock_fd = None
    lock = storage / RADICALE_LOCK
    if os.path.lexists(lock):  # Radicale's own; never made here (it must stay Radicale's to open)
        lock_fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
    try:
        home = storage / RADICALE_ROOT / owner
        for folder in (storage / RADICALE_ROOT, home):
            try:
                os.mkdir(folder, 0o750)
                if ids:
                    os.chown(folder, *ids)
            except FileExistsError:
                pass
            if not _folder(folder):
                raise CollectionError(f"{folder} is not a folder")
        target = home / name
        if os.path.lexists(target):
            raise CollectionError(f"{owner} has a collection {name} already", exists=True)
        tmp = Path(tempfile.mkdtemp(prefix=".Radicale.tmp-", dir=home))  # Radicale skips names with a dot
        try:
            if ids:
                os.chown(tmp, *ids)
            os.chmod(tmp, 0o750)
            fd = os.open(tmp / RADICALE_PROPS, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
            with os.fdopen(fd, "w") as fh:
                if ids:
                    os.fchown(fh.fileno(), *ids)
                json.dump(props, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        dfd = os.open(home, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


# The mail page (managers/mail.py): the records the mailserver role publishes for the mail domain and
# Postfix's queue, both read only. What the API shows is checked here: the files and the command
# output are the mail system's, never passed on as they are.
MAIL_RECORD_TYPES = ("MX", "TXT")
MAX_MAIL_RECORDS = 50
MAX_RECORDS_FILE = 256 * 1024  # bytes of the records file read
_RECORD_NAME = re.compile(r"^(@|[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*)$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]{1,4096}$")


def mail_records(records_file: Path) -> dict[str, Any]:
    """The mailserver role's records of the mail domain (its records.yml.j2: a YAML list of name, type,
    value, names relative to the cell's zone) as ``{"records": [...]}``, only those three fields of
    MX and TXT records; ``{"records": [], "reason": ...}`` when the file is missing or damaged."""
    path = Path(records_file)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_RECORDS_FILE + 1)
    except FileNotFoundError:
        return {"records": [], "reason": f"{path} does not exist (is the mail service converged?)"}
    except OSError as exc:
        return {"records": [], "reason": f"{path} could not be read: {exc.strerror or exc}"[:300]}
    if len(raw) > MAX_RECORDS_FILE:
        return {"records": [], "reason": f"{path} is larger than {MAX_RECORDS_FILE} bytes"}
    try:
        data = yaml.safe_load(raw.decode("utf-8", errors="replace"))
    except yaml.YAMLError:
        return {"records": [], "reason": f"{path} is not YAML"}
    if data is None:
        data = []
    if not isinstance(data, list):
        return {"records": [], "reason": f"{path} is not a list of records"}
    out: list[dict[str, str]] = []
    for item in data[:MAX_MAIL_RECORDS]:
        if not isinstance(item, dict):
            continue
        name, kind, value = item.get("name"), item.get("type"), item.get("value")
        if (isinstance(name, str) and _RECORD_NAME.match(name) and kind in MAIL_RECORD_TYPES
                and isinstance(value, str) and _PRINTABLE.match(value)):
            out.append({"name": name, "type": kind, "value": value})
    return {"records": out}


MAX_QUEUED = 1000
MAX_QUEUE_RECIPIENTS = 50
_QUEUE_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def _shown(value: Any, limit: int) -> str:
    """A string of the mail system's for the API: printable, cut to ``limit``; '' for anything else."""
    if not isinstance(value, str):
        return ""
    return "".join(c if c.isprintable() else "?" for c in value[:limit])


def parse_postqueue(text: str) -> list[dict[str, Any]]:
    """``postqueue -j`` (Postfix's showq as JSON: one object per line) as each message's id, queue,
    arrival time (ISO 8601 UTC), size, sender and recipients with why their delivery is delayed.
    A line that is not such an object is left out."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if not isinstance(m, dict) or not isinstance(m.get("queue_id"), str) or not _QUEUE_ID.match(m["queue_id"]):
            continue
        arrival = m.get("arrival_time")
        recipients = m.get("recipients") if isinstance(m.get("recipients"), list) else []
        size = m.get("message_size")
        out.append({
            "queue_id": m["queue_id"],
            "queue_name": _shown(m.get("queue_name"), 20),
            "arrival_time": dt.datetime.fromtimestamp(arrival, dt.UTC).isoformat(timespec="seconds").replace(
                "+00:00", "Z") if isinstance(arrival, int) and not isinstance(arrival, bool) and arrival > 0 else None,
            "message_size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
            "sender": _shown(m.get("sender"), 320),
            "recipients": [
                {"address": _shown(r.get("address"), 320), "delay_reason": _shown(r.get("delay_reason"), 500)}
                for r in recipients[:MAX_QUEUE_RECIPIENTS] if isinstance(r, dict)
            ],
        })
        if len(out) >= MAX_QUEUED:
            break
    return out


def mail_queue(postqueue: str = "postqueue") -> dict[str, Any]:
    """Postfix's queue (``parse_postqueue``) as ``{"queue": [...]}``, or ``{"queue": [], "reason": ...}``
    when postqueue cannot be run or fails (Postfix not installed, its queue manager down)."""
    try:
        out = subprocess.run([postqueue, "-j"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"queue": [], "reason": f"postqueue could not be run: {exc}"[:300]}
    if out.returncode != 0:
        said = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit status {out.returncode}"
        return {"queue": [], "reason": f"postqueue: {said}"[:300]}
    return {"queue": parse_postqueue(out.stdout)}
