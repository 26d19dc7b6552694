"""The health of the cell's services and the search over the API's log and the services' journals."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from ..managers.errors import checked
from ..managers.logsearch import LEVELS, MAX_LIMIT, SOURCES
from .common import cell, json_body
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


@logs_bp.get("/verbosity")
@doc("Which logs are verbose, of those that may be", "LogVerbosityView")
def verbosity_get() -> Any:
    return jsonify(verbose=cell().state.section("logs")["verbose"], logs=list(schema.VERBOSE_LOGS))


@logs_bp.put("/verbosity")
@doc("Make these logs verbose and the others normal (dnsmasq's and the mail daemons' through a converge of "
     "their roles, the API's at once); [] resets them all", "LogVerbosityChanged", 202, body=schema.LOG_VERBOSITY)
def verbosity_set() -> Any:
    c = cell()
    want = checked(schema.LOG_VERBOSITY, json_body())["verbose"]
    verbose = [name for name in schema.VERBOSE_LOGS if name in want]  # one order, whatever was sent
    if verbose == c.state.section("logs")["verbose"]:
        return jsonify(verbose=verbose, run_id=None), 200

    def change(state: dict[str, Any]) -> None:
        state["logs"]["verbose"] = verbose

    what = ", ".join(verbose) if verbose else "none"
    run, _ = c.changes.apply(change, f"verbose logs: {what}", request=schema.LOG_VERBOSITY)
    return jsonify(verbose=verbose, run_id=run.id), 202
