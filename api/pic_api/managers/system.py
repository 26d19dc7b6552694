"""The host's own facts for the dashboard: disk use, memory and when the cell's HTTPS certificate ends.

The unprivileged API reads ``os.statvfs`` of the root and PIC's data filesystems and the leaf
certificate's notAfter from its file itself. ``/proc/meminfo`` is hidden by the API's sandbox
(ProcSubset=pid shows it only its processes' part of /proc): on a cell pic-agent's read-only
``memory`` action reads it, the same function as here where no agent runs. The leaf caddy
serves in the internal domain mode (``<tls dir>/cell.crt``) is readable only by the TLS group, which
the API is not in; the CA keeps the same leaf, public part only and world-readable, as
``<ca dir>/issued/cell.crt``, which is read then. In the ACME modes the certificate is lego's
(``acme.crt``, DNS-01) or caddy's own (HTTP-01, in caddy's storage): whatever cannot be read is
"unknown" with the reason, never an error of the request.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from .certs import ISSUED_DIR

log = logging.getLogger("pic.system")

FILESYSTEMS = ("/", "/var/lib/pic")  # the system's and PIC's data (state, runs, backups' cache)
MEMINFO = Path("/proc/meminfo")
CELL_LEAF = "cell.crt"  # the ca role's name of the cell's leaf, in <tls dir> and <ca dir>/issued
WARN_DAYS = 14  # fewer days left than this: the dashboard warns


def disk(path: str) -> dict[str, Any]:
    """Size, use and space left to unprivileged users of the filesystem holding ``path``, in bytes."""
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return {"path": path, "error": exc.strerror or str(exc)}
    total = st.f_blocks * st.f_frsize
    return {
        "path": path,
        "total": total,
        "used": (st.f_blocks - st.f_bfree) * st.f_frsize,
        "available": st.f_bavail * st.f_frsize,
    }


def memory(meminfo: Path = MEMINFO) -> dict[str, Any]:
    """MemTotal and MemAvailable of ``/proc/meminfo``, in bytes."""
    try:
        text = meminfo.read_text()
    except OSError as exc:
        return {"error": exc.strerror or str(exc)}
    kib = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key.strip()] = int(parts[0])
    if "MemTotal" not in kib or "MemAvailable" not in kib:
        return {"error": f"{meminfo} has no MemTotal and MemAvailable"}
    return {"total": kib["MemTotal"] * 1024, "available": kib["MemAvailable"] * 1024}


def certificate(candidates: Iterable[tuple[Path, str]], now: dt.datetime, why_none: str = "") -> dict[str, Any]:
    """The end of the first certificate (the leaf) of the first readable file of ``candidates``
    ((path, what it is)): its notAfter, the whole days left and a status (ok, expiring: fewer than
    WARN_DAYS days left, expired); else status unknown and why."""
    reasons = [why_none] if why_none else []
    for path, source in candidates:
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            reasons.append(f"{path} does not exist yet")
            continue
        except PermissionError:
            reasons.append(f"{path} is not readable by the API")
            continue
        except (OSError, ValueError) as exc:
            reasons.append(f"{path} does not hold a certificate ({exc})"[:200])
            continue
        end = cert.not_valid_after_utc
        days = (end - now).days  # whole days, rounded down (negative once it has ended)
        status = "expired" if end <= now else "expiring" if days < WARN_DAYS else "ok"
        return {
            "status": status,
            "not_after": end.isoformat(timespec="seconds"),
            "days_left": days,
            "source": source,
            "file": str(path),
            "warn_days": WARN_DAYS,
        }
    return {"status": "unknown", "reason": "; ".join(reasons) or "no certificate file", "warn_days": WARN_DAYS}


class SystemFacts:
    def __init__(
        self,
        cell: Callable[[], dict[str, Any]],
        ca_root_file: Path,
        tls_cert_file: Path,
        acme_cert_file: Path,
        filesystems: Sequence[str] = FILESYSTEMS,
        memory: Callable[[], dict[str, Any]] = memory,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self.cell = cell  # the state's cell section: its domain mode and ACME challenge
        self.ca_leaf_file = Path(ca_root_file).parent / ISSUED_DIR / CELL_LEAF
        self.tls_cert_file = Path(tls_cert_file)
        self.acme_cert_file = Path(acme_cert_file)
        self.filesystems = tuple(filesystems)
        self._memory = memory  # pic-agent's memory action on a cell
        self.clock = clock

    def certificate_files(self) -> tuple[list[tuple[Path, str]], str]:
        """Where the certificate of the cell's HTTPS name is, best first, for its domain mode; and,
        when no file of it is known to the API, why."""
        try:
            cell = self.cell()
        except Exception as exc:  # a state that does not load: the dashboard says so elsewhere
            return [], f"the cell state does not load: {getattr(exc, 'message', None) or exc}"[:200]
        if cell.get("domain_mode", "internal") == "internal":
            return [(self.tls_cert_file, "internal CA"), (self.ca_leaf_file, "internal CA")], ""
        if cell.get("acme_challenge", "http") == "dns":
            return [(self.acme_cert_file, "ACME (DNS-01)")], ""
        return [], "caddy gets and renews it by ACME (HTTP-01) in its own storage"

    def read_memory(self) -> dict[str, Any]:
        try:
            return self._memory()
        except Exception as exc:  # the agent refused or is away: the rest of the facts still show
            message = getattr(exc, "message", None) or str(exc)
            log.warning("memory not read: %s", message)
            return {"error": f"not read: {message}"[:200]}

    def facts(self) -> dict[str, Any]:
        files, why = self.certificate_files()
        return {
            "disks": [disk(p) for p in self.filesystems],
            "memory": self.read_memory(),
            "certificate": certificate(files, self.clock(), why),
        }
