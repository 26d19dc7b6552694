"""The dashboard's facts of the host: disk use, memory and the end of the cell's HTTPS certificate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .common import cell
from .openapi import doc

system_bp = Blueprint("system", __name__, url_prefix="/api/system")


@system_bp.get("")
@doc("The host's disk use (the root and /var/lib/pic filesystems), its memory (through pic-agent), and when "
     "the certificate of the cell's HTTPS name ends (status expiring under warn_days days left; unknown, with "
     "the reason, when the API cannot read it)", "SystemFacts")
def system_facts() -> Any:
    return jsonify(cell().system.facts())
