"""API accounts (scrypt hashes in a 0600 file), sessions, and login rate limiting.

Service passwords (mail, calendar, files) are a separate bcrypt hash kept in the cell state; see
``users.py``. The API login hash never enters the state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import schema
from ..core.validators import ValidationError, check_label, check_password
from .errors import InvalidInput, ManagerError, NotFound
from .files import write_atomic

log = logging.getLogger("pic.auth")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORDS_FILE = "api-passwords.json"


def hash_password(password: str, n: int = SCRYPT_N) -> str:
    """An scrypt hash, self-describing: ``scrypt$N$r$p$salt$digest`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        algo, n, r, p, salt, digest = encoded.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


class LoginLocked(ManagerError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class BadCredentials(ManagerError):
    status = 401


@dataclass
class Session:
    token: str
    user: str
    role: str
    csrf: str
    created: float
    expires: float
    data: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"username": self.user, "role": self.role, "expires_at": int(self.expires)}


class RateLimiter:
    """Counts failed logins per (remote, username) and per remote; locks out after too many."""

    def __init__(self, max_failures: int, window: float, lockout: float, clock=time.monotonic):
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self.clock = clock
        self._failures: dict[tuple[str, ...], list[float]] = {}
        self._locked: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def _keys(self, remote: str, username: str) -> list[tuple[tuple[str, ...], int]]:
        return [((remote, username), self.max_failures), ((remote,), self.max_failures * 4)]

    def check(self, remote: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            for key, _ in self._keys(remote, username):
                until = self._locked.get(key)
                if until and until > now:
                    raise LoginLocked(int(until - now) + 1)

    def failure(self, remote: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            for key, limit in self._keys(remote, username):
                recent = [t for t in self._failures.get(key, []) if t > now - self.window] + [now]
                self._failures[key] = recent
                if len(recent) >= limit:
                    self._locked[key] = now + self.lockout
                    self._failures[key] = []
                    log.warning("login locked for %s", "/".join(key))

    def success(self, remote: str, username: str) -> None:
        with self._lock:
            self._failures.pop((remote, username), None)


class AuthManager:
    def __init__(
        self,
        secrets_dir: Path,
        session_hours: float = 12.0,
        limiter: RateLimiter | None = None,
        clock=time.time,
        scrypt_n: int = SCRYPT_N,
    ):
        self.path = Path(secrets_dir) / PASSWORDS_FILE
        self.session_seconds = session_hours * 3600
        self.limiter = limiter or RateLimiter(5, 900, 900)
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        self.scrypt_n = scrypt_n
        # verified against when the user does not exist, so both cases take the same time
        self._dummy_hash = hash_password(secrets.token_hex(8), scrypt_n)

    # accounts ------------------------------------------------------------------------------
    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        data = json.loads(self.path.read_text() or "{}")
        return data.get("users", {}) if isinstance(data, dict) else {}

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        write_atomic(self.path, json.dumps({"users": users}, indent=2, sort_keys=True) + "\n", 0o600)

    def accounts(self) -> dict[str, str]:
        """username -> role"""
        return {name: entry.get("role", "peer") for name, entry in self._read().items()}

    def has_admin(self) -> bool:
        return "admin" in self.accounts().values()

    def set_password(self, username: str, password: str, role: str | None = None) -> None:
        errors = {}
        try:
            check_label(username, "username")
        except ValidationError as exc:
            errors["username"] = str(exc)
        try:
            check_password(password)
        except ValidationError as exc:
            errors["password"] = str(exc)
        if role is not None and role not in schema.ROLES:
            errors["role"] = f"role must be one of: {', '.join(schema.ROLES)}"
        if errors:
            raise InvalidInput("invalid account", errors)
        with self._lock:
            users = self._read()
            entry = users.get(username, {"role": role or "peer"})
            if role:
                entry["role"] = role
            entry["hash"] = hash_password(password, self.scrypt_n)
            users[username] = entry
            self._write(users)
        log.info("password set for %s", username)

    def delete_account(self, username: str) -> None:
        with self._lock:
            users = self._read()
            if users.pop(username, None) is None:
                raise NotFound(f"no account {username!r}")
            self._write(users)
            self.drop_sessions(username)

    # login ---------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, remote: str = "") -> str:
        """Check a username and password; returns the role. Raises LoginLocked / BadCredentials."""
        self.limiter.check(remote, username)
        entry = self._read().get(username)
        ok = verify_password(password, entry["hash"] if entry else self._dummy_hash) and entry is not None
        if not ok:
            self.limiter.failure(remote, username)
            log.warning("failed login for %r from %s", username, remote)
            raise BadCredentials("wrong username or password")
        self.limiter.success(remote, username)
        return entry.get("role", "peer")

    def change_password(self, username: str, current: str, new: str, keep_token: str | None = None) -> None:
        entry = self._read().get(username)
        if not entry or not verify_password(current, entry["hash"]):
            raise InvalidInput("the current password is wrong", {"current_password": "wrong password"})
        try:
            check_password(new, "new password")
        except ValidationError as exc:
            raise InvalidInput("invalid new password", {"new_password": str(exc)}) from exc
        self.set_password(username, new)
        self.drop_sessions(username, keep=keep_token)
        with self._lock:
            kept = self._sessions.get(keep_token or "")
            if kept:
                kept.data["pw"] = self._read()[username]["hash"]

    # sessions ------------------------------------------------------------------------------
    def create_session(self, username: str, role: str) -> Session:
        now = self.clock()
        session = Session(
            token=secrets.token_urlsafe(32),
            user=username,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + self.session_seconds,
        )
        # a session lasts only as long as the password it was opened with, even when the password is
        # changed by another process (pic reset-admin-password)
        session.data["pw"] = self._read().get(username, {}).get("hash", "")
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if s.expires > now}
            self._sessions[session.token] = session
        return session

    def get_session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session and session.expires <= self.clock():
                del self._sessions[token]
                return None
            if session and self._read().get(session.user, {}).get("hash") != session.data.get("pw"):
                del self._sessions[token]
                return None
            return session

    def end_session(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def drop_sessions(self, username: str, keep: str | None = None) -> None:
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if s.user != username or t == keep}
