"""Settings the wizard set and an admin can change later."""

from __future__ import annotations

from typing import Any

from ..core import schema
from .changes import ChangeManager
from .errors import checked
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
    def __init__(self, changes: ChangeManager):
        self.changes = changes

    def get(self) -> dict[str, Any]:
        return settings_of(self.changes.state.load())

    def update(self, body: Any, preview: bool = False) -> Run:
        """Each changed setting goes to its state path (``schema.SETTINGS``); the state schema decides."""
        data = checked(schema.SETTINGS, body)

        def change(state: dict[str, Any]) -> None:
            schema.SETTINGS.patch(state, data)
            state["services"] = [s for s in schema.SERVICES if s in state["services"]]

        what = "change settings: " + ", ".join(sorted(data))
        run, _ = (self.changes.preview if preview else self.changes.apply)(change, what, schema.SETTINGS)
        return run
