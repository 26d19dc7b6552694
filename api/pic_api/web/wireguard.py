"""The WireGuard page: the running interface and which devices are online."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .common import cell
from .gate import access
from .openapi import doc
from .peers import viewer

wireguard_bp = Blueprint("wireguard", __name__, url_prefix="/api/wireguard")


# Every person logged in, as the peers' list: an admin sees every device and the interface's facts,
# a member only their own devices and no interface facts.
@wireguard_bp.get("/status")
@access("user")
@doc("The devices with their latest handshake, transfer and whether they are online (a handshake in the last "
     "online_window seconds): all for an admin with the interface's facts, a member's own for a member. When the "
     "interface is not up (the cell has not converged WireGuard yet), up is false and reason says why",
     "WireGuardStatus")
def status() -> Any:
    return jsonify(cell().wireguard.status(viewer()))
