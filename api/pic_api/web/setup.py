"""The first-run wizard: its status, its options, the setup code and the setup itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..managers.setup import LAN_FIELDS, https_urls
from .common import cell, json_body, open_session, set_login_cookies
from .gate import access
from .openapi import doc

setup_bp = Blueprint("setup", __name__, url_prefix="/api/setup")


@setup_bp.get("/status")
@access("public")
@doc("Whether the first-run wizard is done", "SetupStatus")
def setup_status() -> Any:
    return jsonify(completed=cell().setup.completed())


@setup_bp.get("/options")
@access("public")
@doc("Choices and defaults for the wizard (the LAN the cell found)", "SetupOptions")
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
@doc(
    "Check the one-time setup code (`pic setup-code` on the cell prints it): the wizard's first step",
    "CodeValid",
    body=schema.SETUP_CODE,
    errors=(403, 409, 429),
)
def setup_check_code() -> Any:
    cell().setup.check_code(json_body(), request.remote_addr or "")
    return jsonify(valid=True)


@setup_bp.post("")
@access("public")
@doc(
    "Apply the wizard: stores the state and the admin login, starts the first converge, logs in "
    "(sets the session and pic_csrf cookies)",
    "SetupStarted",
    202,
    body=schema.SETUP_REQUEST,
    errors=(403, 409, 429),
)
def setup_apply() -> Any:
    c = cell()
    run = c.setup.setup(json_body(), remote=request.remote_addr or "")
    sess = open_session("admin", "admin")
    resp = jsonify(run_id=run.id if run else None, user=sess.public(), https=https_urls(c.state.load()))
    resp.status_code = 202
    return set_login_cookies(resp, sess)
