"""The run events the API keeps and the UI shows: ansible-runner's events trimmed and scrubbed.

The agent trims each event before it crosses its socket; the API scrubs what arrives once more
before it stores or sends it. The shape is the OpenAPI document's ``RunEvent``.
"""

from __future__ import annotations

from typing import Any

from ..core.redact import scrub

FAILED_EVENTS = ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")
STDERR_CHARS = 800  # the end of a failed command's stderr kept in its event's message


def trim_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The part of an ansible-runner event the UI needs, scrubbed of secrets."""
    data = raw.get("event_data") or {}
    out: dict[str, Any] = {
        "event": raw.get("event", "unknown"),
        "created": raw.get("created"),
        "counter": raw.get("counter"),
        "stdout": raw.get("stdout", ""),
    }
    for key in ("playbook", "play", "task", "task_action", "role", "host"):
        if data.get(key):
            out[key] = data[key]
    res = data.get("res") if isinstance(data.get("res"), dict) else {}
    if "changed" in res or "changed" in data:
        out["changed"] = bool(res.get("changed", data.get("changed")))
    if out["event"] in FAILED_EVENTS:
        out["failed"] = True
        # a command's or a validate step's own words say why ("failed to validate" alone does not)
        msg, stderr = str(res.get("msg") or ""), str(res.get("stderr") or "").strip()
        if stderr and stderr not in msg:
            msg = f"{msg}: {stderr[-STDERR_CHARS:]}" if msg else stderr[-STDERR_CHARS:]
        if msg:
            out["msg"] = msg
    if res.get("diff"):
        out["diff"] = res["diff"]
    if out["event"] == "playbook_on_stats":
        keys = ("ok", "changed", "failures", "dark", "skipped", "rescued")
        out["stats"] = {k: data.get(k, {}) for k in keys}
    return scrub(out)
