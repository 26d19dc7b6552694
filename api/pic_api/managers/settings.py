"""Settings the wizard set and an admin can change later."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import schema
from .changes import ChangeManager
from .errors import InvalidInput, checked
from .runs import Run


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


class SettingsManager:
    def __init__(self, changes: ChangeManager, name_available: Callable[[str], dict[str, Any]] | None = None):
        self.changes = changes
        self.name_available = name_available  # DdnsManager.available: is <name>.pic.ngo free?

    def get(self) -> dict[str, Any]:
        return settings_of(self.changes.state.load())

    def update(self, body: Any, preview: bool = False) -> Run:
        """Each changed setting goes to its state path (``schema.SETTINGS``); the state schema decides."""
        data = checked(schema.SETTINGS, body)
        old = self.changes.state.section("cell")
        if data.get("domain_mode") == "pic_ngo" and old["domain_mode"] != "pic_ngo" and self.name_available:
            answer = self.name_available(old["name"])
            if answer["available"] is False:  # None: the service did not answer, which blocks nothing
                message = f"{answer['name']} is taken by another cell"
                raise InvalidInput(message, {"domain_mode": message})

        def change(state: dict[str, Any]) -> None:
            schema.SETTINGS.patch(state, data)
            state["services"] = [s for s in schema.SERVICES if s in state["services"]]
            cell = state["cell"]
            if cell["domain_mode"] != "custom":  # the other modes' domain follows from the name
                cell["domain"] = schema.domain_for(cell["name"], cell["domain_mode"])
            if cell["domain_mode"] == "internal":
                cell["acme_challenge"] = "http"  # the cell's own CA: no ACME

        what = "change settings: " + ", ".join(sorted(data))
        run, _ = self.changes.apply_or_preview(preview, change, what, schema.SETTINGS)
        return run
