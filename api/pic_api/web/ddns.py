"""Connectivity: dynamic DNS (provider, name, credentials, what the updater last did) and the public
endpoint devices dial; the wizard's pic_ngo name check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..core.validators import check_label, error_of
from ..managers.errors import InvalidInput
from .common import cell, json_body, session
from .gate import access, error
from .openapi import doc
from .settings import PREVIEW_QUERY, preview_flag

ddns_bp = Blueprint("ddns", __name__)


@ddns_bp.get("/api/ddns")
@doc("Dynamic DNS: the settings, the name and endpoint in use, which credentials are stored (never their "
     "values) and what the cell's updater last did", "DdnsView")
def ddns_get() -> Any:
    return jsonify(cell().ddns.get())


@ddns_bp.put("/api/ddns")
@doc(
    "Change the dynamic DNS settings or credentials; the provider is asked first and a refusal (bad "
    "credentials, a taken name) is a 400 naming the field, with nothing saved. ?preview=1 saves nothing",
    "SettingsStarted",
    202,
    body=schema.DDNS,
    query=PREVIEW_QUERY,
)
def ddns_put() -> Any:
    is_preview = preview_flag()
    run = cell().ddns.update(json_body(), preview=is_preview)
    return jsonify(run_id=run.id, preview=is_preview), 202


# Before setup the wizard asks, so this lives under /api/setup (open then); after setup too.
@ddns_bp.get("/api/setup/name-available")
@access("public")
@doc(
    "Whether <name>.pic.ngo is free. available is null when the pic_ngo service does not answer (the "
    "wizard goes on)",
    "NameAvailable",
    query={"name": {"$ref": "#/$defs/Label"}},
)
def name_available() -> Any:
    # open to the wizard only: once the cell is set up, a stranger may not make it ask the service
    if cell().setup.completed():
        sess = session()
        if sess is None:
            return error(401, "log in first")
        if sess.role != "admin":
            return error(403, "this needs an admin account")
    name = request.args.get("name", "")
    problem = error_of(check_label, name, "cell name")
    if problem:
        raise InvalidInput(problem, {"name": problem})
    return jsonify(cell().ddns.available(name))
