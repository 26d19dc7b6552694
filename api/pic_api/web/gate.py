"""The access gate: one check before every /api/* view, and the mark that sets a view's access level.

In order: the 428 setup gate, 401 without a session, the CSRF double-submit check on unsafe methods,
the role check. Views are admin-only unless marked ``@access("public")`` or ``@access("user")``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import Flask, g, jsonify, request

from ..services import Cell
from .common import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
LEVELS = ("public", "user", "admin")


def access(level: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view: 'public' (no login), 'user' (any logged-in role) or 'admin'. Unmarked views are admin."""
    assert level in LEVELS

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.pic_access = level  # type: ignore[attr-defined]
        return view

    return mark


def level_of(view: Callable[..., Any]) -> str:
    return getattr(view, "pic_access", "admin")


def is_setup_path(path: str) -> bool:
    """The wizard's paths, the only /api/* ones open before setup (with the OpenAPI document)."""
    return path == "/api/setup" or path.startswith("/api/setup/") or path == "/api/openapi.json"


def error(status: int, message: str, fields: dict[str, str] | None = None, **extra: Any) -> Any:
    resp = jsonify(error=message, fields=fields or {}, **extra)
    resp.status_code = status
    return resp


def install(app: Flask, pic: Cell) -> None:
    @app.before_request
    def gate() -> Any:
        path = request.path
        g.pic_session = None
        if not path.startswith("/api/") or path == "/api/openapi.json":
            return None
        # raises Unavailable (503) when the state does not load: a damaged file never reopens the wizard
        if not pic.setup.completed() and not is_setup_path(path):
            return error(428, "the cell is not set up yet; finish the setup wizard first", redirect="/setup")
        if request.endpoint is None:  # 404 / 405: let routing raise it
            return None
        level = level_of(app.view_functions[request.endpoint])
        sess = pic.auth.get_session(request.cookies.get(SESSION_COOKIE))
        if sess is not None and request.is_secure and not sess.secure:
            # Opened over plain HTTP (the wizard's, before setup): its cookie crossed the network in
            # the clear, so HTTPS does not take it; the person logs in there, with Secure cookies.
            sess = None
        g.pic_session = sess
        if level == "public":
            return None
        if sess is None:
            return error(401, "log in first")
        if request.method in UNSAFE and not path.startswith("/api/auth/"):
            header = request.headers.get(CSRF_HEADER, "")
            cookie = request.cookies.get(CSRF_COOKIE, "")
            if not header or not hmac.compare_digest(header, cookie) or not hmac.compare_digest(header, sess.csrf):
                return error(403, f"missing or wrong {CSRF_HEADER} header (it must equal the {CSRF_COOKIE} cookie)")
        if level == "admin" and sess.role != "admin":
            return error(403, "this needs an admin account")
        return None
