"""Converge runs: list, start, one run, cancel, and its event stream (server-sent events)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from ..core import schema
from ..core.validators import ValidationError, check_count
from ..managers.errors import InvalidInput, checked
from .common import cell, json_body
from .openapi import doc

MAX_EVENT_SEQ = 10**9
RUN_LIMIT = 500
runs_bp = Blueprint("runs", __name__, url_prefix="/api/runs")


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return check_count(raw, low, high, name)
    except ValidationError as exc:
        raise InvalidInput(str(exc), {name: f"from {low} to {high}"}) from None


@runs_bp.get("")
@doc("Recent runs, newest first", "RunList", query={"limit": {"type": "integer", "minimum": 1, "maximum": RUN_LIMIT}})
def runs_list() -> Any:
    return jsonify(runs=cell().runs.list(int_arg("limit", 50, 1, RUN_LIMIT)))


@runs_bp.post("")
@doc("Converge the cell (or some roles); check=true is a preview with diffs", "RunStarted", 202,
     body=schema.run_request)
def runs_start() -> Any:
    c = cell()
    body = checked(schema.run_request(tuple(c.roles.order)), json_body())
    tags, check = body.get("tags", []), body.get("check", False)
    what = "converge " + (", ".join(tags) if tags else "the whole cell")
    run = c.runs.submit(
        "preview" if check else "converge",
        tags,
        check=check,
        description=("preview: " if check else "") + what,
    )
    return jsonify(run_id=run.id, run=run.to_dict()), 202


@runs_bp.get("/<run_id>")
@doc("One run", "Run", errors=(404,))
def runs_get(run_id: str) -> Any:
    return jsonify(cell().runs.get(run_id))


@runs_bp.post("/<run_id>/cancel")
@doc("Cancel a queued or running run", "Run", 202, errors=(404, 409))
def runs_cancel(run_id: str) -> Any:
    return jsonify(cell().runs.cancel(run_id)), 202


@runs_bp.get("/<run_id>/events")
@doc(
    "Server-sent events: one `data: <RunEvent>` per event from the start, then live; ends after the "
    "pic_run_status event with a final status. Resume with Last-Event-ID or ?after=<seq>.",
    "RunEvent",
    query={"after": {"type": "integer", "minimum": 0, "maximum": MAX_EVENT_SEQ}},
    errors=(404,),
    media="text/event-stream",
)
def runs_events(run_id: str) -> Any:
    return event_stream(run_id)


def event_stream(run_id: str) -> Any:
    """A run's events as server-sent events, from Last-Event-ID (or ?after) on, then live."""
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
