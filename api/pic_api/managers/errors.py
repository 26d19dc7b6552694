"""Errors the managers raise; the web layer maps them to HTTP statuses."""

from __future__ import annotations

from typing import Any


class ManagerError(Exception):
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class InvalidInput(ManagerError):
    status = 400


class NotFound(ManagerError):
    status = 404


class Conflict(ManagerError):
    status = 409


class Forbidden(ManagerError):
    """Logged in, but this account may not do it (a member without the service it needs)."""

    status = 403


class Unavailable(ManagerError):
    """The cell cannot answer until someone repairs it on the host (a state file that does not load)."""

    status = 503


def checked(request: Any, body: Any) -> dict[str, Any]:
    """``body`` when it fits ``request`` (a ``core.schema.Request``), else a 400 naming each refused field."""
    from ..core.schema import StateError

    try:
        return request.validate(body)
    except StateError as exc:
        raise InvalidInput(exc.message, exc.fields) from None


class Unauthorized(ManagerError):
    """Not who it must be (a peer-sync message from outside a link, or not signed by the linked cell)."""

    status = 401
