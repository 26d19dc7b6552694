"""Peers: the devices that join the cell over WireGuard."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from ..core import addressing, schema, wgkeys
from .changes import ChangeManager
from .errors import Conflict, NotFound, checked
from .runs import Run


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
        allowed = ", ".join([net["vpn_subnet"], net["lan_subnet"]])
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


class PeerManager:
    def __init__(self, changes: ChangeManager, cell_public_key: Callable[[], str], wg_endpoint: str = ""):
        self.changes = changes
        self._cell_public_key = cell_public_key
        self.endpoint = wg_endpoint

    def cell_public_key(self) -> str:
        """The cell's WireGuard public key (the agent makes the key pair when it does not exist yet)."""
        return self._cell_public_key()

    def list(self) -> list[dict[str, Any]]:
        return self.changes.state.load()["peers"]

    def get(self, name: str) -> dict[str, Any]:
        for peer in self.list():
            if peer["name"] == name:
                return peer
        raise NotFound(f"no peer {name!r}")

    def add(self, body: Any) -> dict[str, Any]:
        data = {"route": "split", **checked(schema.PEER, body)}
        private = None
        public = data.get("public_key")
        if not public:
            private, public = wgkeys.generate_keypair()
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

        def change(state: dict[str, Any]) -> dict[str, Any]:
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
            }
            peers.append(peer)
            return peer

        run, peer = self.changes.apply(change, f"add peer {data['name']}", schema.PEER)
        state = self.changes.state.load()
        endpoint = self.endpoint or state["cell"]["domain"]
        config = client_config(peer, state, self.cell_public_key(), endpoint, private)
        return {
            "peer": peer,
            "config": config,
            "qr_svg": qr_svg(config),
            "run_id": run.id,
            "private_key_included": private is not None,
        }

    def delete(self, name: str) -> Run:
        def change(state: dict[str, Any]) -> None:
            before = len(state["peers"])
            state["peers"] = [p for p in state["peers"] if p["name"] != name]
            if len(state["peers"]) == before:
                raise NotFound(f"no peer {name!r}")

        run, _ = self.changes.apply(change, f"delete peer {name}")
        return run
