"""Settings the wizard set and an admin can change later."""

from __future__ import annotations

from typing import Any

from ..core import schema
from ..core.validators import ValidationError, check_host, check_ipv4, check_timezone
from .changes import ChangeManager
from .errors import InvalidInput
from .runner import Run

SETTINGS_FIELDS = ("services", "timezone", "upstream_dns", "ntp_servers")


def settings_of(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_name": state["cell"]["name"],
        "domain_mode": state["cell"]["domain_mode"],
        "domain": state["cell"]["domain"],
        "services": state["services"],
        "timezone": state["cell"]["timezone"],
        "upstream_dns": state["network"]["upstream_dns"],
        "ntp_servers": state["network"]["ntp_servers"],
    }


def validate_settings(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    errors: dict[str, str] = {
        k: "unknown field (settings are: " + ", ".join(SETTINGS_FIELDS) + ")" for k in body if k not in SETTINGS_FIELDS
    }
    if not body:
        errors[""] = "nothing to change"
    out: dict[str, Any] = {}
    if "timezone" in body:
        try:
            out["timezone"] = check_timezone(body["timezone"])
        except ValidationError as exc:
            errors["timezone"] = str(exc)
    if "services" in body:
        svcs = body["services"]
        if (
            not isinstance(svcs, list)
            or not all(isinstance(s, str) and s in schema.SERVICES for s in svcs)
            or len(set(svcs)) != len(svcs)
        ):
            errors["services"] = f"services must be a list of: {', '.join(schema.SERVICES)}"
        else:
            out["services"] = [s for s in schema.SERVICES if s in svcs]
    for key, fn, what in (
        ("upstream_dns", check_ipv4, "upstream resolver"),
        ("ntp_servers", check_host, "NTP server"),
    ):
        if key not in body:
            continue
        items = body[key]
        if not isinstance(items, list) or len(items) > 8:
            errors[key] = f"{key} must be a list of at most 8 entries"
            continue
        for i, item in enumerate(items):
            try:
                fn(item, what)
            except ValidationError as exc:
                errors[f"{key}[{i}]"] = str(exc)
        if len(set(map(str, items))) != len(items):
            errors[key] = f"{key} has duplicate entries"
        out[key] = items
    if errors:
        raise InvalidInput("invalid settings", errors)
    return out


class SettingsManager:
    def __init__(self, changes: ChangeManager):
        self.changes = changes

    def get(self) -> dict[str, Any]:
        return settings_of(self.changes.state.load())

    def update(self, body: Any, preview: bool = False) -> Run:
        data = validate_settings(body)

        def change(state: dict[str, Any]) -> None:
            if "timezone" in data:
                state["cell"]["timezone"] = data["timezone"]
            if "services" in data:
                state["services"] = data["services"]
            for key in ("upstream_dns", "ntp_servers"):
                if key in data:
                    state["network"][key] = data[key]

        what = "change settings: " + ", ".join(sorted(data))
        run, _ = (self.changes.preview if preview else self.changes.apply)(change, what)
        return run
