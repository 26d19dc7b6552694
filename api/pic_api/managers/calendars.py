"""The Calendar page: each person's calendars and address books in Radicale, and new ones made.

Radicale's storage is its own (0750 radicale): pic-agent's ``calendar_list`` reads the collections'
properties (never an event or a card) and ``calendar_create`` makes a collection folder owned by
Radicale, which serves it at once. Where no agent runs the same actions run in this process.
A person's address is the one the My services page gives (``users.calendar_url``), with the
collection's name appended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..agent.protocol import AgentError
from ..core import schema
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, checked
from .peers import Viewer
from .users import calendar_url, cell_domain

log = logging.getLogger("pic.calendars")


class Calendars:
    def __init__(self, changes: ChangeManager, call: Callable[..., dict[str, Any]]):
        self.changes = changes
        self.call = call

    def _people(self, state: dict[str, Any], viewer: Viewer) -> list[str]:
        """Who has the calendar service, of those the viewer may see (an admin: all; a member: self)."""
        if "calendar" not in state.get("services", []):
            return []
        return [u["name"] for u in state["users"] if "calendar" in u.get("services", [])
                and (viewer.admin or u["name"] == viewer.user)]

    def list(self, viewer: Viewer) -> dict[str, Any]:
        state = self.changes.state.load()
        domain = cell_domain(state)
        people = self._people(state, viewer)
        out: dict[str, Any] = {"enabled": "calendar" in state.get("services", [])}
        found: dict[str, list[dict[str, Any]]] = {}
        if people:
            try:
                found = self.call("calendar_list", users=people)["collections"]
            except Exception as exc:  # the agent refused or is away: the page still lists the people
                message = getattr(exc, "message", None) or str(exc)
                log.warning("calendars not read: %s", message)
                out["error"] = f"the calendars could not be read: {message}"[:300]
        out["people"] = []
        for name in people:
            base = calendar_url(domain, name)
            collections = [{**c, "url": f"{base}{c['name']}/"} for c in found.get(name, [])]
            out["people"].append({"user": name, "url": base, "collections": collections})
        return out

    def create(self, body: Any, viewer: Viewer) -> dict[str, Any]:
        data = checked(schema.CALENDAR, body)
        owner = data.get("owner", viewer.user)
        if not viewer.admin and owner != viewer.user:
            raise InvalidInput("a member's calendars are their own", {"owner": "only your own name"})
        state = self.changes.state.load()
        if "calendar" not in state.get("services", []):
            raise Conflict("the calendar service is not enabled on this cell")
        if owner not in self._people(state, viewer):
            raise InvalidInput(f"{owner} has no calendar service", {"owner": "not a person with the calendar service"})
        args = {k: data[k] for k in ("name", "displayname", "kind", "description", "color") if k in data}
        try:
            self.call("calendar_create", owner=owner, **args)
        except AgentError as exc:
            raise (Conflict if exc.status == 409 else InvalidInput)(exc.message, exc.fields) from None
        url = f"{calendar_url(cell_domain(state), owner)}{data['name']}/"
        return {"name": data["name"], "kind": data["kind"], "displayname": data["displayname"],
                "description": data.get("description", ""), "color": data.get("color", ""), "url": url}
