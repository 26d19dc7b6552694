"""Blueprints of the API. Each area is small, so they share this module."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from ..core import schema
from ..core.validators import ValidationError, check_count
from ..managers.errors import InvalidInput, NotFound, Unavailable
from ..managers.runner import MASK
from ..managers.setup import LAN_FIELDS, https_urls
from .common import (
    SESSION_COOKIE,
    access,
    cell,
    clear_login_cookies,
    cookies_secure,
    json_body,
    session,
    set_login_cookies,
)

# --- health -----------------------------------------------------------------------------------
health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
@access("public")
def health() -> Any:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("pic")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        ver = "unknown"
    try:
        completed, state = cell().setup.completed(), "ok"
    except Unavailable:
        completed, state = True, "damaged"  # fail closed; every /api/* says what is wrong and how to repair it
    return jsonify(status="ok", setup_completed=completed, state=state, version=ver)


# --- setup ------------------------------------------------------------------------------------
setup_bp = Blueprint("setup", __name__, url_prefix="/api/setup")


@setup_bp.get("/status")
@access("public")
def setup_status() -> Any:
    return jsonify(completed=cell().setup.completed())


@setup_bp.get("/options")
@access("public")
def setup_options() -> Any:
    seed = schema.apply_defaults(cell().state.seed())
    return jsonify(
        services=list(schema.SERVICES),
        domain_modes=list(schema.DOMAIN_MODES),
        defaults={
            "cell_name": seed["cell"]["name"],
            "timezone": seed["cell"]["timezone"],
            "services": seed["services"],
            "upstream_dns": seed["network"]["upstream_dns"],
            # The LAN the cell found on its default interface (or the inventory's), and other DHCP
            # servers that answered there: with one, the seed leaves the dhcp service off.
            "lan": {key: seed["network"][key] for key in LAN_FIELDS},
            "lan_dhcp_servers": cell().state.found_dhcp_servers(),
        },
    )


@setup_bp.post("/code")
@access("public")
def setup_check_code() -> Any:
    cell().setup.check_code(json_body(), request.remote_addr or "")
    return jsonify(valid=True)


@setup_bp.post("")
@access("public")
def setup_apply() -> Any:
    c = cell()
    run = c.setup.setup(json_body(), remote=request.remote_addr or "")
    sess = c.auth.create_session("admin", "admin", secure=cookies_secure())
    resp = jsonify(run_id=run.id if run else None, user=sess.public(), https=https_urls(c.state.load()))
    resp.status_code = 202
    return set_login_cookies(resp, sess)


# --- auth -------------------------------------------------------------------------------------
auth_bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@auth_bp.post("/login")
@access("public")
def login() -> Any:
    body = json_body()
    fields = {k: f"{k} is required" for k in ("username", "password") if not isinstance(body.get(k), str)}
    fields.update({k: "unknown field" for k in body if k not in ("username", "password")})
    if fields:
        raise InvalidInput("username and password are required", fields)
    c = cell()
    role = c.auth.authenticate(body["username"], body["password"], request.remote_addr or "")
    sess = c.auth.create_session(body["username"], role, secure=cookies_secure())
    return set_login_cookies(jsonify(user=sess.public()), sess)


@auth_bp.post("/logout")
@access("public")
def logout() -> Any:
    cell().auth.end_session(request.cookies.get(SESSION_COOKIE))
    return clear_login_cookies(jsonify(status="logged out"))


@auth_bp.get("/me")
@access("user")
def me() -> Any:
    return jsonify(user=session().public())


account_bp = Blueprint("account", __name__, url_prefix="/api/account")


@account_bp.post("/password")
@access("user")
def change_password() -> Any:
    body = json_body()
    fields = {k: f"{k} is required" for k in ("current_password", "new_password") if not isinstance(body.get(k), str)}
    fields.update({k: "unknown field" for k in body if k not in ("current_password", "new_password")})
    if fields:
        raise InvalidInput("current_password and new_password are required", fields)
    c, sess = cell(), session()
    remote = request.remote_addr or ""
    c.auth.change_password(sess.user, body["current_password"], body["new_password"], sess.token, remote)
    run = c.users.set_service_password(sess.user, body["new_password"])
    return jsonify(status="password changed", run_id=run.id if run else None)


# --- runs -------------------------------------------------------------------------------------
MAX_EVENT_SEQ = 10**9
runs_bp = Blueprint("runs", __name__, url_prefix="/api/runs")


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return check_count(raw, low, high, name)
    except ValidationError as exc:
        raise InvalidInput(str(exc), {name: f"from {low} to {high}"}) from None


@runs_bp.get("")
def runs_list() -> Any:
    return jsonify(runs=cell().runs.list(_int_arg("limit", 50, 1, 500)))


@runs_bp.post("")
def runs_start() -> Any:
    body = json_body()
    fields = {k: "unknown field" for k in body if k not in ("tags", "check")}
    tags = body.get("tags", [])
    roles = cell().roles.order
    if not isinstance(tags, list) or not all(isinstance(t, str) and t in roles for t in tags):
        fields["tags"] = f"tags must be a list of roles: {', '.join(roles)}"
    check = body.get("check", False)
    if not isinstance(check, bool):
        fields["check"] = "check must be true or false"
    if fields:
        raise InvalidInput("invalid run request", fields)
    c = cell()
    what = "converge " + (", ".join(tags) if tags else "the whole cell")
    run = c.runs.submit(
        "preview" if check else "converge",
        tags,
        check=check,
        description=("preview: " if check else "") + what,
    )
    return jsonify(run_id=run.id, run=run.to_dict()), 202


@runs_bp.get("/<run_id>")
def runs_get(run_id: str) -> Any:
    return jsonify(cell().runs.get(run_id))


@runs_bp.post("/<run_id>/cancel")
def runs_cancel(run_id: str) -> Any:
    return jsonify(cell().runs.cancel(run_id)), 202


@runs_bp.get("/<run_id>/events")
def runs_events(run_id: str) -> Any:
    start = 0
    last = request.headers.get("Last-Event-ID") or request.args.get("after")
    if last is not None:
        try:
            start = check_count(last, 0, MAX_EVENT_SEQ, "Last-Event-ID (or after)") + 1
        except ValidationError as exc:
            raise InvalidInput(str(exc), {"after": f"a number from 0 to {MAX_EVENT_SEQ}"}) from None
    events = cell().runs.events(run_id, start)

    def stream() -> Any:
        for event in events:
            if event is None:
                yield ": keepalive\n\n"
            else:
                yield f"id: {event['seq']}\ndata: {json.dumps(event, ensure_ascii=False, default=str)}\n\n"

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- peers ------------------------------------------------------------------------------------
peers_bp = Blueprint("peers", __name__, url_prefix="/api/peers")


@peers_bp.get("")
def peers_list() -> Any:
    return jsonify(peers=cell().peers.list())


@peers_bp.post("")
def peers_add() -> Any:
    return jsonify(cell().peers.add(json_body())), 201


@peers_bp.get("/<name>")
def peers_get(name: str) -> Any:
    return jsonify(peer=cell().peers.get(name))


@peers_bp.delete("/<name>")
def peers_delete(name: str) -> Any:
    return jsonify(run_id=cell().peers.delete(name).id), 202


# --- users ------------------------------------------------------------------------------------
users_bp = Blueprint("users", __name__, url_prefix="/api/users")


@users_bp.get("")
def users_list() -> Any:
    return jsonify(users=cell().users.list())


@users_bp.post("")
def users_add() -> Any:
    user, run = cell().users.add(json_body())
    return jsonify(user=user, run_id=run.id), 201


@users_bp.delete("/<name>")
def users_delete(name: str) -> Any:
    return jsonify(run_id=cell().users.delete(name, session().user).id), 202


# --- settings ---------------------------------------------------------------------------------
settings_bp = Blueprint("settings", __name__, url_prefix="/api/settings")


@settings_bp.get("")
def settings_get() -> Any:
    return jsonify(cell().settings.get())


@settings_bp.put("")
def settings_put() -> Any:
    preview = request.args.get("preview", "0")
    if preview not in ("0", "1", "true", "false"):
        raise InvalidInput("preview must be 0 or 1", {"preview": "must be 0 or 1"})
    is_preview = preview in ("1", "true")
    run = cell().settings.update(json_body(), preview=is_preview)
    return jsonify(run_id=run.id, preview=is_preview), 202


# --- state versions ---------------------------------------------------------------------------
state_bp = Blueprint("state", __name__, url_prefix="/api/state")


def _mask_state(state: dict[str, Any]) -> dict[str, Any]:
    for user in state.get("users", []):
        if "password_hash" in user:
            user["password_hash"] = MASK
    return state


@state_bp.get("")
def state_get() -> Any:
    c = cell()
    return jsonify(version=c.state.current_version(), state=_mask_state(c.state.load()))


@state_bp.get("/versions")
def state_versions() -> Any:
    return jsonify(versions=cell().state.versions())


@state_bp.post("/versions/<int:number>/rollback")
def state_rollback(number: int) -> Any:
    run = cell().changes.rollback(number)
    return jsonify(run_id=run.id, version=run.state_version), 202


# --- services, logs, CA -----------------------------------------------------------------------
services_bp = Blueprint("services", __name__, url_prefix="/api/services")


@services_bp.get("")
@access("user")
def services_status() -> Any:
    return jsonify(cell().health.status())


logs_bp = Blueprint("logs", __name__, url_prefix="/api/logs")


@logs_bp.get("")
def logs_search() -> Any:
    return jsonify(cell().log_search.search(request.args.to_dict()))


ca_bp = Blueprint("ca", __name__, url_prefix="/api/ca")


@ca_bp.get("/root.pem")
@access("public")
def ca_root() -> Any:
    path = cell().config.ca_root_file
    if not path.is_file():
        raise NotFound("the cell's certificate authority has not been created yet; it is made by the ca role")
    return Response(
        path.read_bytes(),
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": "attachment; filename=pic-root-ca.pem"},
    )


BLUEPRINTS = [
    health_bp,
    setup_bp,
    auth_bp,
    account_bp,
    runs_bp,
    peers_bp,
    users_bp,
    settings_bp,
    state_bp,
    services_bp,
    logs_bp,
    ca_bp,
]
