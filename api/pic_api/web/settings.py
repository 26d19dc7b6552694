"""The settings the wizard set, which an admin may change later (or preview)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..managers.errors import InvalidInput
from .common import cell, json_body
from .openapi import doc

settings_bp = Blueprint("settings", __name__, url_prefix="/api/settings")
PREVIEW = ("0", "1", "true", "false")
PREVIEW_QUERY = {"preview": {"type": "string", "enum": list(PREVIEW)}}


def preview_flag() -> bool:
    """?preview=1: a check-mode run with diffs that saves nothing."""
    preview = request.args.get("preview", "0")
    if preview not in PREVIEW:
        raise InvalidInput("preview must be 0 or 1", {"preview": "must be 0 or 1"})
    return preview in ("1", "true")


@settings_bp.get("")
@doc("What the wizard set", "Settings")
def settings_get() -> Any:
    return jsonify(cell().settings.get())


@settings_bp.put("")
@doc(
    "Change settings; ?preview=1 queues a check-mode run with diffs and saves nothing",
    "SettingsStarted",
    202,
    body=schema.SETTINGS,
    query=PREVIEW_QUERY,
)
def settings_put() -> Any:
    is_preview = preview_flag()
    run = cell().settings.update(json_body(), preview=is_preview)
    return jsonify(run_id=run.id, preview=is_preview), 202
