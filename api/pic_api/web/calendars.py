"""The Calendar page: each person's calendars and address books with their addresses; new ones."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body
from .gate import access
from .openapi import doc
from .peers import viewer

calendars_bp = Blueprint("calendars", __name__, url_prefix="/api/calendars")


# Every person logged in, as the peers: an admin sees and makes everyone's, a member their own.
@calendars_bp.get("")
@access("user")
@doc("Calendars and address books with their CalDAV/CardDAV addresses: everyone's for an admin, a member's own "
     "for a member. When Radicale's storage cannot be read, error says why and the people are listed without them",
     "CalendarList")
def calendars_list() -> Any:
    return jsonify(cell().calendars.list(viewer()))


@calendars_bp.post("")
@access("user")
@doc("Make a calendar or address book (owner: an admin may name anyone with the calendar service; a member only "
     "themselves). Radicale serves it at once", "CalendarCollection", 201, body=schema.CALENDAR, errors=(409,))
def calendars_create() -> Any:
    return jsonify(cell().calendars.create(json_body(), viewer())), 201
