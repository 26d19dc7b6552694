"""Peers: the devices that join the cell over WireGuard."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import addressing, schema, wgkeys
from .changes import ChangeManager
from .errors import Conflict, Forbidden, InvalidInput, NotFound, checked
from .runs import Run

log = logging.getLogger("pic.peers")

# Applies a peer the state just gained ("add") or lost ("remove") to the running cell at once; returns
# {"ready": bool, "parts": {part: outcome}} (agent.client.AgentClient.peer_apply).
LiveApply = Callable[[str, dict[str, Any]], dict[str, Any]]


def qr_svg(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode("utf-8")


def client_config(
    peer: dict[str, Any], state: dict[str, Any], cell_public_key: str, endpoint: str, private_key: str | None
) -> str:
    """A wg-quick configuration for the peer's device."""
    net = state["network"]
    cell_ip = addressing.cell_address(net["vpn_subnet"])
    if peer.get("route") == "full":
        allowed = "0.0.0.0/0"
    else:
        # the cell's networks and every linked cell's subnets (reached through the cell's links)
        linked = [s for link in state.get("links", []) for s in link["subnets"]]
        allowed = ", ".join([net["vpn_subnet"], net["lan_subnet"], *linked])
    key_line = (
        f"PrivateKey = {private_key}" if private_key else "# PrivateKey = (the private key that stays on this device)"
    )
    return "\n".join(
        [
            "[Interface]",
            f"# {peer['name']}.{state['cell']['domain']}",
            key_line,
            f"Address = {peer['ip']}/32",
            f"DNS = {cell_ip}, {state['cell']['domain']}",
            "",
            "[Peer]",
            f"PublicKey = {cell_public_key}",
            f"Endpoint = {endpoint}:{net['wireguard_port']}",
            f"AllowedIPs = {allowed}",
            "PersistentKeepalive = 25",
            "",
        ]
    )


@dataclass(frozen=True)
class Viewer:
    """Who asks: an admin sees and changes every device, a member only their own (``owner``)."""

    user: str
    admin: bool


def sees(viewer: Viewer | None, peer: dict[str, Any]) -> bool:
    """Whether ``viewer`` may see and manage ``peer``: an admin (or the cell itself) every device, a
    member their own."""
    return viewer is None or viewer.admin or peer.get("owner") == viewer.user


def _check_owner(state: dict[str, Any], data: dict[str, Any], viewer: Viewer | None) -> None:
    """A member's device is theirs (and needs the VPN among their services); an admin may give one
    to any person of the cell."""
    users = {u["name"]: u for u in state["users"]}
    if viewer is not None and not viewer.admin:
        if data.get("owner", viewer.user) != viewer.user:
            raise InvalidInput("a member's devices are their own", {"owner": "only your own name"})
        if "vpn" not in users.get(viewer.user, {}).get("services", []):
            raise Forbidden("your account may not use the VPN; an admin can allow it")
    elif "owner" in data and data["owner"] not in users:
        raise InvalidInput(f"no user {data['owner']!r}", {"owner": "not a user of the cell"})


class PeerManager:
    """Peers of the cell state. With ``live`` (the agent), a change is applied to the running cell
    the moment its state is saved, before the converge that makes it durable is queued: the device
    is ready when the response comes, not when the run ends."""

    def __init__(
        self,
        changes: ChangeManager,
        cell_public_key: Callable[[], str],
        endpoint: Callable[[dict[str, Any]], str] = lambda state: state["cell"]["domain"],
        live: LiveApply | None = None,
    ):
        self.changes = changes
        self._cell_public_key = cell_public_key
        self.endpoint = endpoint  # the host devices dial, from the state (DdnsManager.endpoint)
        self.live = live

    def _apply_live(self, op: str, peer: dict[str, Any], into: dict[str, Any]) -> None:
        """Fills ``into`` with the fast path's outcome; never fails the change (its converge follows)."""
        if self.live is None:
            into.update(ready=False, live_error="no privileged agent: the change takes effect when its run ends")
            return
        try:
            outcome = self.live(op, peer)
        except Exception as exc:  # the agent refused or is away: the converge still makes it so
            message = getattr(exc, "message", None) or str(exc)
            log.warning("peer %s %s not applied at once: %s", op, peer["name"], message)
            into.update(ready=False, live_error=f"not applied at once ({message}); it takes effect when its run ends")
            return
        into.update(ready=bool(outcome.get("ready")), live=outcome.get("parts", {}))

    def cell_public_key(self) -> str:
        """The cell's WireGuard public key (the agent makes the key pair when it does not exist yet)."""
        return self._cell_public_key()

    def list(self, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        return [p for p in self.changes.state.section("peers") if sees(viewer, p)]

    def get(self, name: str, viewer: Viewer | None = None) -> dict[str, Any]:
        for peer in self.list(viewer):
            if peer["name"] == name:
                return peer
        raise NotFound(f"no peer {name!r}")

    def add(self, body: Any, viewer: Viewer | None = None, preview: bool = False) -> dict[str, Any]:
        """A new device; with ``preview``, the check-mode run of adding it, and nothing saved or applied."""
        data = {"route": "split", **checked(schema.PEER, body)}
        if viewer is not None and not viewer.admin:
            data.setdefault("owner", viewer.user)
        private = None
        public = data.get("public_key")
        if not public:
            private, public = wgkeys.generate_keypair()
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        def change(state: dict[str, Any]) -> dict[str, Any]:
            _check_owner(state, data, viewer)
            peers = state["peers"]
            if any(p["name"] == data["name"] for p in peers):
                raise Conflict(f"peer {data['name']!r} exists", {"name": "a peer with this name exists"})
            if any(p["public_key"] == public for p in peers):
                raise Conflict("this public key belongs to another peer", {"public_key": "already in use"})
            try:
                ip = addressing.next_free_address(state["network"]["vpn_subnet"], [p["ip"] for p in peers])
            except addressing.AddressError as exc:
                raise Conflict(str(exc)) from exc
            peer = {
                "name": data["name"],
                "public_key": public,
                "ip": ip,
                "route": data["route"],
                "created": created,
                **({"owner": data["owner"]} if data.get("owner") else {}),
                **({"exit": data["exit"]} if data.get("exit") else {}),
            }
            peers.append(peer)
            return peer

        what = f"add peer {data['name']}"
        if preview:
            return self._preview(change, what, schema.PEER)
        return self._apply_at_once(change, what, schema.PEER, new_keys=True, private=private)

    def _preview(self, change: Any, what: str, request: Any = None) -> dict[str, Any]:
        run, _ = self.changes.preview(change, what, request)
        return {"run_id": run.id, "preview": True}

    def _apply_at_once(self, change: Any, what: str, request: Any, new_keys: bool, private: str | None = None
                       ) -> dict[str, Any]:
        """Saves ``change`` (which returns the peer as it now is), applies that peer to the running cell
        at once (the fast path's add) and converges; the answer holds the peer, its configuration and QR
        code (with ``private`` when the cell made the keys) and what was applied at once. An answer with
        ``new_keys`` says whether the configuration holds the private key."""
        live: dict[str, Any] = {}
        run, peer = self.changes.apply(change, what, request, before_run=lambda p: self._apply_live("add", p, live))
        state = self.changes.state.load()
        config = client_config(peer, state, self.cell_public_key(), self.endpoint(state), private)
        answer = {"peer": peer, "config": config, "qr_svg": qr_svg(config), "run_id": run.id, **live}
        if new_keys:
            answer["private_key_included"] = private is not None
        return answer

    def change(self, name: str, body: Any, viewer: Viewer | None = None, preview: bool = False) -> dict[str, Any]:
        """A new name, route or exit for a peer, with the same keys and address: applied to the running
        cell at once as an add of the changed peer (wg set of the same key is a no-op for its session; NAT
        follows the route; the names are written again), then converged (the exits role moves its
        traffic to its exit). An exit of "" is the cell's own uplink again."""
        data = checked(schema.PEER_CHANGE, body)

        def change(state: dict[str, Any]) -> dict[str, Any]:
            peer = next((p for p in state["peers"] if p["name"] == name and sees(viewer, p)), None)
            if peer is None:
                raise NotFound(f"no peer {name!r}")
            if "owner" in data:
                _check_owner(state, data, viewer)
            new_name = data.get("name", name)
            if new_name != name and any(p["name"] == new_name for p in state["peers"]):
                raise Conflict(f"peer {new_name!r} exists", {"name": "a peer with this name exists"})
            peer.update(data)
            if peer.get("exit") == "":
                del peer["exit"]
            return dict(peer)

        what = f"change peer {name}: " + ", ".join(f"{k} {v}" for k, v in data.items())
        if preview:
            return self._preview(change, what, schema.PEER_CHANGE)
        return self._apply_at_once(change, what, schema.PEER_CHANGE, new_keys=False)

    def rekey(self, name: str, body: Any, viewer: Viewer | None = None) -> dict[str, Any]:
        """New keys for a device that was lost or whose configuration leaked: the same name, address and
        route with another public key (the cell's own pair unless the device sent its public key). The
        fast path adds the new key at once, which takes the address off the old key (WireGuard routes
        an address to one peer only), so the old configuration carries nothing from then on; the run
        then writes the interface without the old key."""
        data = checked(schema.PEER_KEYS, body or {})
        private, public = None, data.get("public_key")
        if not public:
            private, public = wgkeys.generate_keypair()

        def change(state: dict[str, Any]) -> dict[str, Any]:
            peer = next((p for p in state["peers"] if p["name"] == name and sees(viewer, p)), None)
            if peer is None:
                raise NotFound(f"no peer {name!r}")
            if any(p["public_key"] == public for p in state["peers"]):
                raise Conflict("this public key belongs to a peer already", {"public_key": "already in use"})
            peer["public_key"] = public
            return dict(peer)

        return self._apply_at_once(change, f"new keys for peer {name}", schema.PEER_KEYS, new_keys=True,
                                   private=private)

    def config(self, name: str, viewer: Viewer | None = None) -> dict[str, Any]:
        """A peer's configuration as it is now (the cell's current endpoint), for a device that already
        has its key: the private key line stays a placeholder, no new key is made."""
        state = self.changes.state.load()
        peer = self.get(name, viewer)
        endpoint = self.endpoint(state)
        config = client_config(peer, state, self.cell_public_key(), endpoint, None)
        return {"peer": peer, "endpoint": endpoint, "config": config, "qr_svg": qr_svg(config)}

    def delete(self, name: str, viewer: Viewer | None = None, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        """The run making the removal durable, and the outcome of removing the peer at once; with
        ``preview``, the check-mode run of removing it (nothing removed)."""

        def change(state: dict[str, Any]) -> dict[str, Any]:
            gone = [p for p in state["peers"] if p["name"] == name and sees(viewer, p)]
            if not gone:
                raise NotFound(f"no peer {name!r}")
            state["peers"] = [p for p in state["peers"] if p["name"] != name]
            return gone[0]

        live: dict[str, Any] = {}
        run, _ = self.changes.apply_or_preview(
            preview, change, f"delete peer {name}", before_run=lambda p: self._apply_live("remove", p, live)
        )
        return run, ({"preview": True} if preview else live)
