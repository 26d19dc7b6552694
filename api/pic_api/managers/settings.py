"""Settings the wizard set and an admin can change later."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from ..core import schema
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, checked
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
        "dhcp_range": list(state["network"]["dhcp_range"]),
        "dhcp_lease_time": str(state["network"]["dhcp_lease_time"]),
    }


class SettingsManager:
    def __init__(self, changes: ChangeManager, name_available: Callable[[str], dict[str, Any]] | None = None,
                 name_known_by: Callable[[], list[str]] | None = None):
        self.changes = changes
        self.name_available = name_available  # DdnsManager.available: is <name>.pic.ngo free?
        self.name_known_by = name_known_by  # LinkManager.name_known_by: who would still use the old name

    def get(self) -> dict[str, Any]:
        return settings_of(self.changes.state.load())

    def update(self, body: Any, preview: bool = False) -> Run:
        """Each changed setting goes to its state path (``schema.SETTINGS``); the state schema decides."""
        data = checked(schema.SETTINGS, body)
        old = self.changes.state.section("cell")
        name = data.get("cell_name", old["name"])
        renamed = name != old["name"]
        if renamed and self.name_known_by and (holders := self.name_known_by()):
            # a linked cell forwards <old name>.cell to this cell and would lose it: unlink first
            message = (f"this cell is known as {old['name']} to {' and '.join(holders)}: remove the links and "
                       "cancel the invitations before renaming it")
            raise Conflict(message, {"cell_name": message})
        mode = data.get("domain_mode", old["domain_mode"])
        if mode == "pic_ngo" and (renamed or old["domain_mode"] != "pic_ngo") and self.name_available:
            answer = self.name_available(name)
            if answer["available"] is False:  # None: the service did not answer, which blocks nothing
                message = f"{answer['name']} is taken by another cell"
                raise InvalidInput(message, {"cell_name" if renamed else "domain_mode": message})

        if isinstance(data.get("dhcp_lease_time"), int):
            data["dhcp_lease_time"] = str(data["dhcp_lease_time"])  # seconds, as dnsmasq reads it
        net = self.changes.state.section("network")
        if "dhcp_range" in data and list(data["dhcp_range"]) != list(net["dhcp_range"]):
            _check_range_clear(data["dhcp_range"], net["dhcp_reservations"])

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


def _check_range_clear(dhcp_range: list[str], reservations: list[dict[str, Any]]) -> None:
    """A new DHCP pool leaves out the reserved addresses (a reserved device keeps its address, and the
    pool's addresses stay free for the others). Only a changed range is held to it: a reservation
    made inside an older range blocks no other setting."""
    try:
        start, end = (ipaddress.IPv4Address(a) for a in dhcp_range)
    except ValueError:
        return  # the schema names it
    for res in reservations:
        if start <= ipaddress.IPv4Address(res["ip"]) <= end:
            message = f"DHCP range must not contain {res['ip']}, reserved for {res['name']}"
            raise InvalidInput(message, {"dhcp_range": message})
