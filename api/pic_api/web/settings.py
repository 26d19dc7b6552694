"""The settings the wizard set, which an admin may change later (or preview)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ..core import schema
from ..managers.runs import Run
from .common import cell, flag_query, json_body, query_flag
from .openapi import doc

settings_bp = Blueprint("settings", __name__, url_prefix="/api/settings")
PREVIEW_QUERY = flag_query("preview")
# @doc of a change that may be previewed: ?preview=1 answers 202 PreviewStarted (preview_started).
PREVIEWABLE: dict[str, Any] = {"query": PREVIEW_QUERY, "also": {202: "PreviewStarted"}}


def preview_flag() -> bool:
    """?preview=1: a check-mode run with diffs that saves nothing."""
    return query_flag("preview")


def preview_started(run: Run) -> tuple[Response, int]:
    """The answer to a change sent with ?preview=1: its check-mode run (PreviewStarted)."""
    return jsonify(run_id=run.id, preview=True), 202


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
