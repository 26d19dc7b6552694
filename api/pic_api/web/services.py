"""The health of the cell's services and the search over the API's log and the services' journals."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..managers.logsearch import LEVELS, MAX_LIMIT, SOURCES
from .common import cell
from .gate import access
from .openapi import doc

services_bp = Blueprint("services", __name__, url_prefix="/api/services")


@services_bp.get("")
@access("user")
@doc("Health of each service (units and ports)", "ServicesHealth")
def services_status() -> Any:
    return jsonify(cell().health.status())


logs_bp = Blueprint("logs", __name__, url_prefix="/api/logs")


@logs_bp.get("")
@doc(
    "Search the API log or a service's journal",
    "LogResult",
    query={
        "q": {"type": "string", "maxLength": 200},
        "source": {"type": "string", "enum": list(SOURCES)},
        "level": {"type": "string", "enum": list(LEVELS)},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
)
def logs_search() -> Any:
    return jsonify(cell().log_search.search(request.args.to_dict()))
