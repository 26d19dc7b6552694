"""The WireGuard page and the devices online: the running interface joined with the cell's peers.

The interface is root's to read (its dump holds the private key): pic-agent's read-only ``wg_status``
action, or the same function in this process without an agent, answers without the private and
preshared keys. A device is online when its latest handshake is at most ``ONLINE_WINDOW`` seconds
old: WireGuard renews a session's handshake every two minutes while traffic flows, and the cell's
client configurations keep every tunnel alive every 25 seconds, so a live device is never older.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..core import addressing
from .changes import ChangeManager
from .peers import Viewer, sees

log = logging.getLogger("pic.wgstatus")

ONLINE_WINDOW = 180  # seconds since the latest handshake within which a device counts as online

Live = Callable[[], dict[str, Any]]


def is_online(latest_handshake: int, now: float) -> bool:
    return latest_handshake > 0 and now - latest_handshake <= ONLINE_WINDOW


class WireGuardStatus:
    def __init__(self, changes: ChangeManager, live: Live, endpoint: Callable[[dict[str, Any]], str],
                 interface: str, clock: Callable[[], float] = time.time):
        self.changes = changes
        self._live = live
        self.endpoint = endpoint  # the host devices dial, from the state (DdnsManager.endpoint)
        self.interface = interface
        self.clock = clock

    def status(self, viewer: Viewer) -> dict[str, Any]:
        """Every device the viewer may see (an admin: all; a member: their own) with what the running
        interface says of it; for an admin also the interface's facts. When the interface cannot be
        read, ``up`` is false, ``reason`` says why and the devices are listed as offline."""
        state = self.changes.state.load()
        try:
            live = self._live()
        except Exception as exc:  # the agent refused or is away: the page still lists the devices
            message = getattr(exc, "message", None) or str(exc)
            log.warning("WireGuard status not read: %s", message)
            live = {"up": False, "reason": f"the interface could not be read: {message}"[:300]}
        by_key = {p["public_key"]: p for p in live.get("peers", [])} if live.get("up") else {}
        now = int(self.clock())
        devices = []
        for peer in state["peers"]:
            if not sees(viewer, peer):
                continue
            seen = by_key.get(peer["public_key"], {})
            handshake = int(seen.get("latest_handshake", 0))
            devices.append(
                {
                    "name": peer["name"],
                    "owner": peer.get("owner", ""),
                    "ip": peer["ip"],
                    "route": peer.get("route", "split"),
                    "endpoint": seen.get("endpoint", ""),
                    "latest_handshake": handshake,
                    "rx": int(seen.get("rx", 0)),
                    "tx": int(seen.get("tx", 0)),
                    "online": is_online(handshake, now),
                }
            )
        out: dict[str, Any] = {
            "up": bool(live.get("up")),
            "now": now,
            "online_window": ONLINE_WINDOW,
            "online": sum(d["online"] for d in devices),
            "total": len(devices),
            "devices": devices,
        }
        if not live.get("up"):
            out["reason"] = str(live.get("reason") or "the interface is not up")
        if viewer.admin:
            net = state["network"]
            out["interface"] = {
                "name": self.interface,
                "public_key": live["interface"]["public_key"] if live.get("up") else "",
                "listen_port": live["interface"]["listen_port"] if live.get("up") else net["wireguard_port"],
                "endpoint": f"{self.endpoint(state)}:{net['wireguard_port']}",
                "subnet": net["vpn_subnet"],
                "address": addressing.cell_address(net["vpn_subnet"]),
            }
        return out
