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
    }


class UserManager:
    def __init__(self, changes: ChangeManager, auth: AuthManager, bcrypt_rounds: int = 12):
        self.changes = changes
        self.auth = auth
        self.rounds = bcrypt_rounds

    def list(self) -> list[dict[str, Any]]:
        accounts = self.auth.accounts()
        return [public_user(u, accounts) for u in self.changes.state.section("users")]

    def add(self, body: dict[str, Any]) -> tuple[dict[str, Any], Run]:
        data = {"role": "peer", "services": list(schema.USER_SERVICES), **checked(schema.USER, body)}
        if any(u["name"] == data["name"] for u in self.changes.state.section("users")):
            raise Conflict(f"user {data['name']!r} exists", {"name": "a user with this name exists"})
        entry = {
            "name": data["name"],
            "role": data["role"],
            "password_hash": service_hash(data["password"], self.rounds),
            "services": data["services"],
        }

        def change(state: dict[str, Any]) -> None:
            if any(u["name"] == entry["name"] for u in state["users"]):
                raise Conflict(f"user {entry['name']!r} exists", {"name": "a user with this name exists"})
            state["users"].append(entry)

        run, _ = self.changes.apply(change, f"add user {data['name']}", schema.USER)
        self.auth.set_password(data["name"], data["password"], data["role"])
        return public_user(entry, self.auth.accounts()), run

    def delete(self, name: str, current_user: str) -> Run:
        if name == current_user:
            raise Conflict("you cannot delete your own account")

        def change(state: dict[str, Any]) -> None:
            before = len(state["users"])
            state["users"] = [u for u in state["users"] if u["name"] != name]
            if len(state["users"]) == before:
                raise NotFound(f"no user {name!r}")

        run, _ = self.changes.apply(change, f"delete user {name}")
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
