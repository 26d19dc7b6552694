"""Logging in and out, who is logged in, and changing one's own password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..managers.errors import checked
from .common import (
    SESSION_COOKIE,
    cell,
    clear_login_cookies,
    json_body,
    open_session,
    session,
    set_login_cookies,
)
from .gate import access
from .openapi import doc

auth_bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@auth_bp.post("/login")
@access("public")
@doc(
    "Log in; sets the HttpOnly pic_session cookie and the readable pic_csrf cookie",
    "Me",
    body=schema.LOGIN,
    errors=(401, 429),
)
def login() -> Any:
    body = checked(schema.LOGIN, json_body())
    c = cell()
    role = c.auth.authenticate(body["username"], body["password"], request.remote_addr or "")
    sess = open_session(body["username"], role)
    return set_login_cookies(jsonify(user=sess.public()), sess)


@auth_bp.post("/logout")
@access("public")
@doc("Log out", "LoggedOut")
def logout() -> Any:
    cell().auth.end_session(request.cookies.get(SESSION_COOKIE))
    return clear_login_cookies(jsonify(status="logged out"))


@auth_bp.get("/me")
@access("user")
@doc("The logged-in user", "Me")
def me() -> Any:
    return jsonify(user=session().public())


account_bp = Blueprint("account", __name__, url_prefix="/api/account")


@account_bp.post("/password")
@access("user")
@doc(
    "Change your own password (API login and service password)",
    "PasswordChanged",
    body=schema.PASSWORD_CHANGE,
    errors=(429,),
)
def change_password() -> Any:
    body = checked(schema.PASSWORD_CHANGE, json_body())
    c, sess = cell(), session()
    remote = request.remote_addr or ""
    c.auth.change_password(sess.user, body["current_password"], body["new_password"], sess.token, remote)
    run = c.users.set_service_password(sess.user, body["new_password"])
    return jsonify(status="password changed", run_id=run.id if run else None)


@account_bp.get("/sessions")
@access("user")
@doc("Your open sessions (where and when you logged in), this one marked current", "AccountSessions")
def sessions_list() -> Any:
    return jsonify(sessions=cell().auth.sessions_of(session()))


@account_bp.delete("/sessions/<session_id>")
@access("user")
@doc("End one of your sessions (ending this one logs you out)", "SessionsEnded", errors=(404,),
     params={"session_id": {"type": "string"}})
def sessions_end(session_id: str) -> Any:
    cell().auth.end_session_of(session().user, session_id)
    return jsonify(ended=1)


@account_bp.delete("/sessions")
@access("user")
@doc("End every session of yours but this one", "SessionsEnded")
def sessions_end_others() -> Any:
    sess = session()
    return jsonify(ended=cell().auth.drop_sessions(sess.user, keep=sess.token))


@account_bp.get("/services")
@access("user")
@doc("What your mail, calendar and files clients need, for the services you may use", "ClientSettings")
def client_settings() -> Any:
    return jsonify(cell().users.client_settings(session().user))
