"""API accounts (scrypt hashes in a 0600 file), sessions, and login rate limiting.

Service passwords (mail, calendar, files) are a separate bcrypt hash kept in the cell state; see
``users.py``. The API login hash never enters the state.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import schema
from ..core.validators import ValidationError, check_label, check_password
from .errors import InvalidInput, ManagerError, NotFound, Unavailable
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
    secure: bool = False  # opened over HTTPS (its cookies are Secure)
    # what the Account page shows of it: never the token, which is the login itself
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    remote: str = ""
    agent: str = ""

    def public(self) -> dict[str, Any]:
        return {"username": self.user, "role": self.role, "expires_at": int(self.expires)}

    def listed(self, current: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": int(self.created),
            "expires_at": int(self.expires),
            "remote": self.remote,
            "agent": self.agent,
            "current": current,
        }


class RateLimiter:
    """Counts failed guesses per (remote, key) and per remote; locks out after too many.

    ``attempt`` is the way to guard a guess: under one lock it refuses when the failures so far plus
    the guesses still being checked reach the limit, and reserves a place otherwise, so parallel
    guesses cannot all pass the check before any failure is recorded.
    """

    def __init__(self, max_failures: int, window: float, lockout: float, clock=time.monotonic):
        self.max_failures, self.window, self.lockout = max_failures, window, lockout
        self.clock = clock
        self._failures: dict[tuple[str, ...], list[float]] = {}
        self._locked: dict[tuple[str, ...], float] = {}
        self._pending: dict[tuple[str, ...], int] = {}
        self._lock = threading.Lock()

    def _keys(self, remote: str, username: str) -> list[tuple[tuple[str, ...], int]]:
        return [((remote, username), self.max_failures), ((remote,), self.max_failures * 4)]

    def _refuse_locked(self, remote: str, username: str, now: float, pending: bool) -> None:
        for key, limit in self._keys(remote, username):
            until = self._locked.get(key)
            if until and until > now:
                raise LoginLocked(int(until - now) + 1)
            if pending:
                recent = [t for t in self._failures.get(key, []) if t > now - self.window]
                self._failures[key] = recent
                if len(recent) + self._pending.get(key, 0) >= limit:
                    raise LoginLocked(1)  # the guesses in flight decide; they end within a second or two

    def check(self, remote: str, username: str) -> None:
        with self._lock:
            self._refuse_locked(remote, username, self.clock(), pending=False)

    def _record_failure(self, remote: str, username: str, now: float) -> None:
        for key, limit in self._keys(remote, username):
            recent = [t for t in self._failures.get(key, []) if t > now - self.window] + [now]
            self._failures[key] = recent
            if len(recent) >= limit:
                self._locked[key] = now + self.lockout
                self._failures[key] = []
                log.warning("guesses locked for %s", "/".join(key))

    def failure(self, remote: str, username: str) -> None:
        with self._lock:
            self._record_failure(remote, username, self.clock())

    def success(self, remote: str, username: str) -> None:
        with self._lock:
            self._failures.pop((remote, username), None)

    @contextlib.contextmanager
    def attempt(self, remote: str, username: str) -> Iterator[Attempt]:
        """Guard one guess: ``with limiter.attempt(r, u) as a: ...; a.fail()`` when it was wrong."""
        with self._lock:
            self._refuse_locked(remote, username, self.clock(), pending=True)
            for key, _ in self._keys(remote, username):
                self._pending[key] = self._pending.get(key, 0) + 1
        result = Attempt()
        try:
            yield result
        finally:
            with self._lock:
                for key, _ in self._keys(remote, username):
                    self._pending[key] -= 1
                    if not self._pending[key]:
                        del self._pending[key]
                if result.failed:
                    self._record_failure(remote, username, self.clock())
                elif result.succeeded:
                    self._failures.pop((remote, username), None)


@dataclass
class Attempt:
    failed: bool = False
    succeeded: bool = False

    def fail(self) -> None:
        self.failed = True

    def succeed(self) -> None:
        self.succeeded = True


class AuthManager:
    def __init__(
        self,
        secrets_dir: Path,
        session_hours: float = 12.0,
        limiter: RateLimiter | None = None,
        clock=time.time,
        scrypt_n: int = SCRYPT_N,
        members: Callable[[], dict[str, str]] | None = None,
    ):
        """``members`` gives the users of the cell state (name -> role): only they may log in, with
        the role the state gives them. Without it (a bare manager), the file's roles count."""
        self.path = Path(secrets_dir) / PASSWORDS_FILE
        self.members = members
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
        try:
            data = json.loads(self.path.read_text() or "{}")
        except ValueError as exc:
            raise Unavailable(
                f"the account file {self.path} does not load ({exc}); on the cell, remove it and set the admin "
                "password again with `pic reset-admin-password`"
            ) from exc
        return data.get("users", {}) if isinstance(data, dict) else {}

    def _role_of(self, username: str, entry: dict[str, str] | None) -> str | None:
        """The role ``username`` logs in with, or None when it may not log in at all."""
        if entry is None:
            return None
        if self.members is None:
            return entry.get("role", "peer")
        return self.members().get(username)

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

    def prune(self, keep: set[str]) -> list[str]:
        """Remove every login whose user is not in ``keep`` (the users of the state just saved)."""
        with self._lock:
            users = self._read()
            gone = sorted(set(users) - keep)
            if gone:
                self._write({k: v for k, v in users.items() if k in keep})
                for name in gone:
                    self.drop_sessions(name)
                log.info("logins removed with their users: %s", ", ".join(gone))
            return gone

    def set_role(self, username: str, role: str) -> None:
        """A new role for an existing login; its sessions end, so the next login carries the new role."""
        with self._lock:
            users = self._read()
            if username in users:
                users[username]["role"] = role
                self._write(users)
            self.drop_sessions(username)

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
        with self.limiter.attempt(remote, username) as attempt:
            entry = self._read().get(username)
            ok = verify_password(password, entry["hash"] if entry else self._dummy_hash)
            role = self._role_of(username, entry)
            if not ok or role is None:
                attempt.fail()
                log.warning("failed login for %r from %s", username, remote)
                raise BadCredentials("wrong username or password")
            attempt.succeed()
            return role

    def change_password(
        self, username: str, current: str, new: str, keep_token: str | None = None, remote: str = ""
    ) -> None:
        with self.limiter.attempt(remote, username) as attempt:
            entry = self._read().get(username)
            if not entry or not verify_password(current, entry["hash"]):
                attempt.fail()
                log.warning("wrong current password for %r from %s", username, remote)
                raise InvalidInput("the current password is wrong", {"current_password": "wrong password"})
            attempt.succeed()
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
    def create_session(
        self, username: str, role: str, secure: bool = False, remote: str = "", agent: str = ""
    ) -> Session:
        now = self.clock()
        session = Session(
            token=secrets.token_urlsafe(32),
            user=username,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + self.session_seconds,
            secure=secure,
            remote=remote,
            agent=agent[:200],
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
        # Read the state's users before taking this lock, never under it: a state save holds the state
        # lock and then takes this one (prune), so the other order would deadlock the two.
        members = self.members() if self.members is not None else None
        with self._lock:
            session = self._sessions.get(token)
            if session and session.expires <= self.clock():
                del self._sessions[token]
                return None
            if session and self._read().get(session.user, {}).get("hash") != session.data.get("pw"):
                del self._sessions[token]
                return None
            if session and members is not None and session.user not in members:
                del self._sessions[token]  # the user left the state (deleted, or a rollback)
                return None
            return session

    def end_session(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def sessions_of(self, current: Session) -> list[dict[str, Any]]:
        """The open sessions of ``current``'s user, newest first, ``current`` marked."""
        now = self.clock()
        with self._lock:
            mine = [s for s in self._sessions.values() if s.user == current.user and s.expires > now]
        mine.sort(key=lambda s: s.created, reverse=True)
        return [s.listed(s.token == current.token) for s in mine]

    def end_session_of(self, username: str, session_id: str) -> None:
        """End one session of ``username`` by its id (another person's id is not found)."""
        with self._lock:
            token = next((t for t, s in self._sessions.items() if s.user == username and s.id == session_id), None)
            if token is None:
                raise NotFound(f"no session {session_id!r} of yours")
            del self._sessions[token]

    def drop_sessions(self, username: str, keep: str | None = None) -> int:
        """End every session of ``username`` but ``keep``; how many ended."""
        with self._lock:
            before = len(self._sessions)
            self._sessions = {t: s for t, s in self._sessions.items() if s.user != username or t == keep}
            return before - len(self._sessions)
