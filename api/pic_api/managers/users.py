"""Users of the cell: a bcrypt service password hash in the state, an scrypt API login beside it."""

from __future__ import annotations

from typing import Any

import bcrypt

from ..core import schema
from ..core.validators import ValidationError, check_label, check_password
from .auth import AuthManager
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, NotFound
from .runner import Run


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


def validate_user_input(body: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    allowed = {"name", "password", "role", "services"}
    for key in body:
        if key not in allowed:
            errors[key] = "unknown field"
    out: dict[str, Any] = {}
    for key, fn in (("name", check_label), ("password", check_password)):
        if key not in body:
            errors[key] = f"{key} is required"
            continue
        try:
            out[key] = fn(body[key], key)
        except ValidationError as exc:
            errors[key] = str(exc)
    role = body.get("role", "peer")
    if role not in schema.ROLES:
        errors["role"] = f"role must be one of: {', '.join(schema.ROLES)}"
    out["role"] = role
    services = body.get("services", list(schema.USER_SERVICES))
    if not (
        isinstance(services, list)
        and all(s in schema.USER_SERVICES for s in services)
        and len(set(services)) == len(services)
    ):
        errors["services"] = f"services must be a list of: {', '.join(schema.USER_SERVICES)}"
    out["services"] = services
    if errors:
        raise InvalidInput("invalid user", errors)
    return out


class UserManager:
    def __init__(self, changes: ChangeManager, auth: AuthManager, bcrypt_rounds: int = 12):
        self.changes = changes
        self.auth = auth
        self.rounds = bcrypt_rounds

    def list(self) -> list[dict[str, Any]]:
        accounts = self.auth.accounts()
        return [public_user(u, accounts) for u in self.changes.state.load()["users"]]

    def add(self, body: dict[str, Any]) -> tuple[dict[str, Any], Run]:
        data = validate_user_input(body)
        if any(u["name"] == data["name"] for u in self.changes.state.load()["users"]):
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

        run, _ = self.changes.apply(change, f"add user {data['name']}")
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
        if not any(u["name"] == name for u in self.changes.state.load()["users"]):
            return None
        h = service_hash(password, self.rounds)

        def change(state: dict[str, Any]) -> None:
            for u in state["users"]:
                if u["name"] == name:
                    u["password_hash"] = h

        run, _ = self.changes.apply(change, f"change the password of {name}")
        return run
