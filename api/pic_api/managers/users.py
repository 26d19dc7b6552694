"""Users of the cell: a bcrypt service password hash in the state, an scrypt API login beside it."""

from __future__ import annotations

from typing import Any

import bcrypt

from ..core import schema
from .auth import AuthManager
from .changes import ChangeManager
from .errors import Conflict, NotFound, checked
from .runs import Run


def service_hash(password: str, rounds: int = 12) -> str:
    """bcrypt ($2b$): what Dovecot (BLF-CRYPT), Radicale and htpasswd all read."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def public_user(user: dict[str, Any], accounts: dict[str, str]) -> dict[str, Any]:
    return {
        "name": user["name"],
        "role": user.get("role", "peer"),
        "services": user.get("services", []),
        "can_login": user["name"] in accounts,
        "mail_aliases": user.get("mail_aliases", []),
        "mail_catch_all": user.get("mail_catch_all", False),
    }


class UserManager:
    def __init__(self, changes: ChangeManager, auth: AuthManager, bcrypt_rounds: int = 12):
        self.changes = changes
        self.auth = auth
        self.rounds = bcrypt_rounds

    def list(self) -> list[dict[str, Any]]:
        accounts = self.auth.accounts()
        return [public_user(u, accounts) for u in self.changes.state.section("users")]

    def add(self, body: dict[str, Any], preview: bool = False) -> tuple[dict[str, Any], Run]:
        """A new person; with ``preview``, the check-mode run of adding them: no state, no login."""
        data = {"role": "peer", "services": list(schema.USER_SERVICES), **checked(schema.USER, body)}
        if any(u["name"] == data["name"] for u in self.changes.state.section("users")):
            raise Conflict(f"user {data['name']!r} exists", {"name": "a user with this name exists"})
        entry = {
            "name": data["name"],
            "role": data["role"],
            "password_hash": service_hash(data["password"], self.rounds),
            "services": data["services"],
            "mail_aliases": data.get("mail_aliases", []),
            "mail_catch_all": data.get("mail_catch_all", False),
        }

        def change(state: dict[str, Any]) -> None:
            if any(u["name"] == entry["name"] for u in state["users"]):
                raise Conflict(f"user {entry['name']!r} exists", {"name": "a user with this name exists"})
            state["users"].append(entry)

        last = f"users[{len(self.changes.state.section('users'))}]"  # where it is appended
        run, _ = self.changes.apply_or_preview(preview, change, f"add user {data['name']}", schema.USER, entry=last)
        if preview:
            return public_user(entry, {}), run
        self.auth.set_password(data["name"], data["password"], data["role"])
        return public_user(entry, self.auth.accounts()), run

    def _existing(self, name: str) -> dict[str, Any]:
        user = next((u for u in self.changes.state.section("users") if u["name"] == name), None)
        if user is None:
            raise NotFound(f"no user {name!r}")
        return user

    def change(self, name: str, body: dict[str, Any], current_user: str, preview: bool = False
               ) -> tuple[dict[str, Any], Run]:
        """A new role, set of services or mail addresses for ``name``; one's own role stays (no admin demotes themselves
        out of the cell)."""
        data = checked(schema.USER_CHANGE, body)
        before = self._existing(name)
        if name == current_user and data.get("role", before.get("role")) != before.get("role"):
            raise Conflict("you cannot change your own role", {"role": "another admin changes it"})

        def change(state: dict[str, Any]) -> dict[str, Any]:
            user = next((u for u in state["users"] if u["name"] == name), None)
            if user is None:
                raise NotFound(f"no user {name!r}")
            user.update(data)
            return dict(user)

        at = next(i for i, u in enumerate(self.changes.state.section("users")) if u["name"] == name)
        run, user = self.changes.apply_or_preview(preview, change, f"change user {name}", schema.USER_CHANGE,
                                                  entry=f"users[{at}]")
        if preview:
            return public_user(user, self.auth.accounts()), run
        if "role" in data and data["role"] != before.get("role"):
            self.auth.set_role(name, data["role"])
        return public_user(self._existing(name), self.auth.accounts()), run

    def reset_password(self, name: str, body: dict[str, Any], current_user: str) -> Run:
        """An admin sets a new password for ``name`` (API login and service password); their sessions end."""
        data = checked(schema.USER_PASSWORD, body)
        if name == current_user:
            raise Conflict("change your own password on your Account page (it asks for the current one)")
        user = self._existing(name)
        run = self.set_service_password(name, data["password"])
        assert run is not None  # the user exists
        self.auth.set_password(name, data["password"], user.get("role", "peer"))
        self.auth.drop_sessions(name)
        return run

    def delete(self, name: str, current_user: str, preview: bool = False) -> Run:
        if name == current_user:
            raise Conflict("you cannot delete your own account")

        def change(state: dict[str, Any]) -> None:
            owned = sorted(p["name"] for p in state["peers"] if p.get("owner") == name)
            if owned:  # their devices would stay on the VPN with nobody to answer for them
                raise Conflict(f"{name} still has devices: {', '.join(owned)}; delete them or give them to "
                               "someone else first", {"name": "has devices"})
            before = len(state["users"])
            state["users"] = [u for u in state["users"] if u["name"] != name]
            if len(state["users"]) == before:
                raise NotFound(f"no user {name!r}")

        run, _ = self.changes.apply_or_preview(preview, change, f"delete user {name}")
        if preview:
            return run
        try:
            self.auth.delete_account(name)
        except NotFound:
            pass
        return run

    def set_service_password(self, name: str, password: str) -> Run | None:
        """Keep the user's service password in step with a changed API password."""
        if not any(u["name"] == name for u in self.changes.state.section("users")):
            return None
        h = service_hash(password, self.rounds)

        def change(state: dict[str, Any]) -> None:
            for u in state["users"]:
                if u["name"] == name:
                    u["password_hash"] = h

        run, _ = self.changes.apply(change, f"change the password of {name}")
        return run

    def client_settings(self, name: str) -> dict[str, Any]:
        """What a person's clients need for each service they may use and the cell runs: the
        addresses, ports and security a mail, calendar or files app asks for (the roles' own: IMAPS
        on 993, submission on 587 with STARTTLS, Radicale and WebDAV behind Caddy at /<user>/)."""
        state = self.changes.state.load()
        user = next((u for u in state["users"] if u["name"] == name), None)
        domain = cell_domain(state)
        running = set(state.get("services", []))
        mine = [s for s in (user or {}).get("services", []) if schema.USER_SERVICE_NEEDS[s] in running]
        out: dict[str, Any] = {"username": name, "domain": domain, "services": mine}
        if "mail" in mine:
            host = mail_host(domain)
            out["mail"] = {
                "address": f"{name}@{domain}",
                "aliases": [f"{a}@{domain}" for a in user.get("mail_aliases", [])],
                "catch_all": bool(user.get("mail_catch_all")),
                "login": name,
                "imap": {"host": host, "port": 993, "security": "SSL/TLS"},
                "smtp": {"host": host, "port": 587, "security": "STARTTLS"},
            }
        if "calendar" in mine:
            url = calendar_url(domain, name)
            out["calendar"] = {"caldav_url": url, "carddav_url": url, "login": name}
        if "files" in mine:
            out["files"] = {"webdav_url": f"https://files.{domain}/{name}/", "login": name}
        return out


def cell_domain(state: dict[str, Any]) -> str:
    """The domain the cell's services are named under."""
    return state["cell"].get("domain") or schema.domain_for(state["cell"]["name"], state["cell"]["domain_mode"])


def mail_host(domain: str) -> str:
    """The mail server's name: IMAP and submission for the mail apps, and the webmail (Roundcube
    behind Caddy, the webmail role) at https://<it>/."""
    return f"mail.{domain}"


def webmail_url(domain: str) -> str:
    return f"https://{mail_host(domain)}/"


def calendar_url(domain: str, name: str) -> str:
    """A person's CalDAV and CardDAV address: Radicale behind Caddy at calendar.<domain>, their
    collections below /<name>/ (the Calendar page appends each collection's name)."""
    return f"https://calendar.{domain}/{name}/"
