"""Liveness (/health): no login, also before setup."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..managers.errors import Unavailable
from .common import cell
from .gate import access
from .openapi import doc

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
@access("public")
@doc("Liveness; no login, also before setup", "Health")
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
