"""The cell state: the current one (hashes masked), its saved versions, and rolling back to one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..core.redact import mask_state
from ..managers.errors import checked
from .common import cell, json_body
from .openapi import doc
from .settings import PREVIEW_QUERY, preview_flag, preview_started

state_bp = Blueprint("state", __name__, url_prefix="/api/state")


@state_bp.get("")
@doc("The current cell state (password hashes masked)", "StateView")
def state_get() -> Any:
    c = cell()
    return jsonify(version=c.state.current_version(), state=mask_state(c.state.load()))


@state_bp.get("/versions")
@doc("Every saved state version, with what it changed against the one before", "StateVersions")
def state_versions() -> Any:
    return jsonify(versions=cell().state.history())


@state_bp.post("/versions/<int:number>/rollback")
@doc(
    "Write an old version as the newest and converge it; ?preview=1 queues a check-mode run with"
    " diffs of that version and saves nothing",
    "RollbackStarted",
    202,
    params={"number": {"type": "integer", "minimum": 1}},
    body=schema.ROLLBACK,
    query=PREVIEW_QUERY,
    errors=(400, 404),
)
def state_rollback(number: int) -> Any:
    body = checked(schema.ROLLBACK, json_body()) if request.get_data() else {}
    is_preview = preview_flag()
    run = cell().changes.rollback(number, undo=not body.get("keep_if_failed", False), preview=is_preview)
    if is_preview:
        return preview_started(run)
    return jsonify(run_id=run.id, version=run.state_version, preview=False), 202
