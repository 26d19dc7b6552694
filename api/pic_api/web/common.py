"""Helpers shared by the blueprints: the current cell and session, JSON bodies, 0/1 query flags,
login cookies."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from ..managers.auth import Session
from ..managers.errors import InvalidInput
from ..services import Cell

SESSION_COOKIE = "pic_session"
CSRF_COOKIE = "pic_csrf"
CSRF_HEADER = "X-CSRF-Token"


def cell() -> Cell:
    return current_app.extensions["pic"]


def session() -> Session:
    return g.pic_session


MAX_JSON_DEPTH = 16  # no request of the API nests deeper than a few levels


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iterative: no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_body() -> dict[str, Any]:
    too_deep = InvalidInput(
        "the request body nests too deeply", {"body": f"at most {MAX_JSON_DEPTH} levels of lists and objects"}
    )
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON decoder's own limit, about 1000 levels
        raise too_deep from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", {"body": "expected a JSON object"})
    if json_depth(body) > MAX_JSON_DEPTH:
        raise too_deep
    return body


FLAG = ("0", "1", "true", "false")  # the values a 0/1 query parameter takes


def flag_query(name: str) -> dict[str, Any]:
    """The OpenAPI query parameter of a 0/1 flag."""
    return {name: {"type": "string", "enum": list(FLAG)}}


def query_flag(name: str) -> bool:
    """The 0/1 query parameter ``name`` (0 when absent); anything else is a 400 naming it."""
    value = request.args.get(name, "0")
    if value not in FLAG:
        raise InvalidInput(f"{name} must be 0 or 1", {name: "must be 0 or 1"})
    return value in ("1", "true")


def cookies_secure() -> bool:
    """Secure cookies for a request that came over HTTPS: the browser then never sends them over
    plain HTTP. (The wizard's own session, made over plain HTTP on :8081 before setup, cannot be.)"""
    return cell().config.cookie_secure or request.is_secure


def open_session(username: str, role: str) -> Session:
    """A session for this request: Secure as it came, with the address and browser it came from (the
    Account page lists them)."""
    return cell().auth.create_session(
        username, role, secure=cookies_secure(), remote=request.remote_addr or "",
        agent=request.headers.get("User-Agent", ""),
    )


def set_login_cookies(response: Any, sess: Session) -> Any:
    secure = cookies_secure()
    max_age = int(sess.expires - sess.created)
    response.set_cookie(
        SESSION_COOKIE, sess.token, max_age=max_age, httponly=True, secure=secure, samesite="Strict", path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, sess.csrf, max_age=max_age, httponly=False, secure=secure, samesite="Strict", path="/"
    )
    return response


def clear_login_cookies(response: Any) -> Any:
    secure = cookies_secure()
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="Strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="Strict")
    return response
