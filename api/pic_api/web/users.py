"""Users of the cell: the API login and the mail/calendar/files password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body, session
from .openapi import doc
from .peers import NAME
from .settings import PREVIEWABLE, preview_flag, preview_started

users_bp = Blueprint("users", __name__, url_prefix="/api/users")


@users_bp.get("")
@doc("Users", "UserList")
def users_list() -> Any:
    return jsonify(users=cell().users.list())


@users_bp.post("")
@doc("Add a user (API login + mail/calendar/files password)", "UserCreated", 201, body=schema.USER, errors=(409,),
     **PREVIEWABLE)
def users_add() -> Any:
    if preview_flag():
        return preview_started(cell().users.add(json_body(), preview=True)[1])
    user, run = cell().users.add(json_body())
    return jsonify(user=user, run_id=run.id), 201


@users_bp.patch("/<name>")
@doc("Change a user's role, services or mail addresses (not your own role)", "UserChanged", params=NAME,
     body=schema.USER_CHANGE, errors=(404, 409), **PREVIEWABLE)
def users_change(name: str) -> Any:
    if preview_flag():
        return preview_started(cell().users.change(name, json_body(), session().user, preview=True)[1])
    user, run = cell().users.change(name, json_body(), session().user)
    return jsonify(user=user, run_id=run.id)


@users_bp.post("/<name>/password")
@doc("Set a new password for a user (API login and service password); their sessions end", "PasswordReset",
     params=NAME, body=schema.USER_PASSWORD, errors=(404, 409))
def users_password(name: str) -> Any:
    run = cell().users.reset_password(name, json_body(), session().user)
    return jsonify(status="password set", run_id=run.id)


@users_bp.delete("/<name>")
@doc("Remove a user", "RunId", 202, params=NAME, errors=(404, 409), **PREVIEWABLE)
def users_delete(name: str) -> Any:
    if preview_flag():
        return preview_started(cell().users.delete(name, session().user, preview=True))
    return jsonify(run_id=cell().users.delete(name, session().user).id), 202
