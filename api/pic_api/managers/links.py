"""Cell-to-cell links: invitations, their redemption and the answer's acceptance (docs/architecture.md
"Cell-to-cell links").

Cell A makes an invitation (``invite``): a token signed with A's Ed25519 key holding A's id, name,
zone, a WireGuard public key made for this link, the endpoint B dials, A's subnets, A's DNS address,
the services A offers, a nonce and an expiry. B redeems it (``redeem``): the link is saved in B's
state and B answers with a token of its own, signed, naming the invitation. A accepts that answer
(``accept``): the link is saved in A's state. Each side then converges the cell_link role (one
WireGuard interface per link), dnsmasq (the other's zone forwarded over the link) and the firewall
(what the other may reach).

Refused, each with a 400 naming the field and nothing saved: a token that is altered
(``token.signature``), expired (``token.expires``), used before (``token.nonce``, or for an answer
``token.invitation``: single use), the cell's own (``token.cell``), a cell linked already
(``token.cell``), and subnets that overlap this cell's or another link's (``token.subnets``).

Secrets are files in ``links_dir`` (0700; each 0600), never in the state: the cell's signing key
(``cell.ed25519``), a pending invitation's WireGuard key (``invite-<nonce>.key``) and each link's
(``<cell_id>.key``, which the cell_link role reads). ``invitations.json`` keeps the pending
invitations (nonce, expiry, services offered, port) and the nonces used on either side.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import addressing, links, schema, wgkeys
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, NotFound, checked
from .exits import tunnel_live
from .files import file_lock, write_atomic
from .runs import Run

DEFAULT_HOURS = 24
# The links' WireGuard ports: the devices' port + 1 and up, the first free one.
USED_NONCES_KEPT = 1024


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"the token was refused: {message}", {field: message})


class LinkManager:
    def __init__(self, changes: ChangeManager, links_dir: Path, endpoint: Callable[[dict[str, Any]], str],
                 clock: Callable[[], float] = time.time, live: Callable[[str], dict[str, Any]] | None = None):
        self.changes = changes
        self._live = live  # a link's running tunnel by cell id (pic-agent's read-only link_status)
        self.links_dir = Path(links_dir)
        self.endpoint = endpoint  # the host other cells dial (DdnsManager.endpoint)
        self.clock = clock

    # files -------------------------------------------------------------------------------------
    @property
    def _lock(self) -> Path:
        return self.links_dir / ".lock"

    def key_file(self, cell_id: str) -> Path:
        return self.links_dir / f"{cell_id}.key"

    def _invite_key(self, nonce: str) -> Path:
        return self.links_dir / f"invite-{nonce}.key"

    def _write(self, path: Path, text: str) -> None:
        self.links_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, text, 0o600)

    def _signing_key(self) -> Any:
        path = self.links_dir / "cell.ed25519"
        if not path.is_file():
            self._write(path, links.new_signing_key() + "\n")
        return links.signing_key(path.read_text())

    def _book(self) -> dict[str, Any]:
        path = self.links_dir / "invitations.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        return {"pending": dict(data.get("pending", {})), "used": list(data.get("used", []))}

    def _save_book(self, book: dict[str, Any]) -> None:
        book["used"] = book["used"][-USED_NONCES_KEPT:]
        self._write(self.links_dir / "invitations.json", json.dumps(book, indent=1) + "\n")

    # this cell -----------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """This cell's id and public signing key (made on first need)."""
        public = links.public_key(self._signing_key())
        return {"id": links.cell_id(public), "signing_key": public}

    def _offer(self, state: dict[str, Any], kind: str, public_key: str, port: int, services: list[str],
               hours: int, host: str | None = None) -> dict[str, Any]:
        me = self.identity()
        net = state["network"]
        return {
            "v": 1,
            "kind": kind,
            "cell": {"id": me["id"], "name": state["cell"]["name"], "zone": state["cell"]["domain"]},
            "signing_key": me["signing_key"],
            "public_key": public_key,
            "endpoint": f"{host or self.endpoint(state)}:{port}",
            "subnets": [net["vpn_subnet"]],
            "dns": addressing.cell_address(net["vpn_subnet"]),
            "services": list(services),
            "nonce": secrets.token_urlsafe(18),
            "expires": int(self.clock()) + hours * 3600,
        }

    def _free_port(self, state: dict[str, Any], book: dict[str, Any]) -> int:
        taken = {state["network"]["wireguard_port"], *(ln["port"] for ln in state.get("links", [])),
                 *(p["port"] for p in book["pending"].values())}
        port = state["network"]["wireguard_port"] + 1
        while port in taken:
            port += 1
        if port > 65535:
            raise Conflict("no free port for another link")
        return port

    # views ---------------------------------------------------------------------------------------
    def list(self) -> dict[str, Any]:
        state = self.changes.state.load()
        now = int(self.clock())
        book = self._book()
        return {
            "cell": self.identity(),
            "links": [{**ln, "interface": schema.link_interface(ln["cell_id"]),
                       "keys_stored": self.key_file(ln["cell_id"]).is_file(), "live": self.live(ln["cell_id"])}
                      for ln in state.get("links", [])],
            "invitations": [{"nonce": n, "expires": p["expires"], "services": p["services"], "port": p["port"]}
                            for n, p in sorted(book["pending"].items()) if p["expires"] > now],
        }

    def name_known_by(self) -> list[str]:
        """Who knows this cell by its name and zone: each linked cell (its name) and the open
        invitations (their offers carry the name), which a rename would leave pointing nowhere."""
        now = int(self.clock())
        open_invitations = [n for n, p in self._book()["pending"].items() if p["expires"] > now]
        n = len(open_invitations)
        return ([f"linked cell {ln['name']}" for ln in self.changes.state.load().get("links", [])]
                + ([f"{n} open invitation{'s' if n > 1 else ''}"] if n else []))

    def live(self, cell_id: str) -> dict[str, Any]:
        """How the link's tunnel runs: the unit, the other end's endpoint, the latest handshake, the
        transfer and ``now`` (exits.tunnel_live)."""
        read = None if self._live is None else (lambda: self._live(cell_id))
        return tunnel_live(read, int(self.clock()), f"link to cell {cell_id}")

    # the three steps -----------------------------------------------------------------------------
    def invite(self, body: Any) -> dict[str, Any]:
        """A signed, single-use invitation for another cell (the token an admin hands over)."""
        data = checked(schema.LINK_INVITE, body)
        state = self.changes.state.load()
        private, public = wgkeys.generate_keypair()
        with file_lock(self._lock):
            book = self._book()
            now = int(self.clock())
            book["pending"] = {n: p for n, p in book["pending"].items() if p["expires"] > now}
            port = self._free_port(state, book)
            offer = self._offer(state, "invitation", public, port, data.get("services", []),
                                data.get("hours", DEFAULT_HOURS), data.get("endpoint"))
            self._write(self._invite_key(offer["nonce"]), private + "\n")
            book["pending"][offer["nonce"]] = {"expires": offer["expires"], "services": offer["services"],
                                               "port": port}
            self._save_book(book)
        return {"token": links.sign(offer, self._signing_key()), "nonce": offer["nonce"],
                "expires": offer["expires"], "cell": offer["cell"]}

    def cancel(self, nonce: str) -> dict[str, Any]:
        """Withdraw an open invitation: an answer to it is refused from now on (its nonce counts as
        used, as a redeemed one's does), its port is free again and its WireGuard key file goes. A
        cell that redeemed it already has a link that waits for an acceptance that will not come: its
        admin removes it there. 404 when no open invitation has the nonce."""
        with file_lock(self._lock):
            book = self._book()
            pending = book["pending"].get(nonce)
            if pending is None or pending["expires"] <= int(self.clock()) or nonce in book["used"]:
                raise NotFound("no open invitation of this cell has this nonce")
            del book["pending"][nonce]
            book["used"].append(nonce)
            self._save_book(book)
            self._invite_key(nonce).unlink(missing_ok=True)
        return {"nonce": nonce, "canceled": True}

    def _open(self, token: str, kind: str, state: dict[str, Any]) -> dict[str, Any]:
        """The token's payload, checked against this cell: not expired, not its own, not linked yet,
        no subnet overlapping this cell's networks or another link's."""
        try:
            offer = links.open_token(token, kind)
        except links.TokenError as exc:
            raise _refused(exc.field, exc.message) from None
        if offer["expires"] <= int(self.clock()):
            raise _refused("token.expires", f"the {kind} has expired: ask for a new one")
        if offer["cell"]["id"] == self.identity()["id"]:
            raise _refused("token.cell", f"the {kind} is this cell's own: a cell is not linked to itself")
        for ln in state.get("links", []):
            if ln["cell_id"][:12] == offer["cell"]["id"][:12]:
                raise _refused("token.cell", f"this cell is linked to {ln['name']} already")
        net = state["network"]
        routed = [(net["vpn_subnet"], "this cell's VPN subnet"), (net["lan_subnet"], "this cell's LAN subnet")]
        routed += [(s, f"the subnets of the link to {ln['name']}") for ln in state.get("links", [])
                   for s in ln["subnets"]]
        for subnet in offer["subnets"]:
            for mine, what in routed:
                if ipaddress.IPv4Network(subnet).overlaps(ipaddress.IPv4Network(mine)):
                    raise _refused("token.subnets", f"{subnet} overlaps {what} ({mine}): one of the two "
                                   "cells needs another VPN subnet before they can be linked")
        return offer

    def _link(self, offer: dict[str, Any], port: int, grants: list[str]) -> dict[str, Any]:
        return {
            "name": offer["cell"]["name"],
            "cell_id": offer["cell"]["id"],
            "zone": offer["cell"]["zone"],
            "signing_key": offer["signing_key"],
            "public_key": offer["public_key"],
            "endpoint": offer["endpoint"],
            "subnets": list(offer["subnets"]),
            "dns": offer["dns"],
            "port": port,
            "grants": list(grants),
            "offered": list(offer["services"]),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
        }

    def _save(self, link: dict[str, Any], description: str, after: Callable[[], None]) -> Run:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            state.setdefault("links", []).append(link)
            return link

        try:
            run, _ = self.changes.apply(change, description, before_run=lambda _: after())
        except InvalidInput as exc:  # the state's own rules (a port taken meanwhile, ...)
            raise InvalidInput(exc.message, {f"token.{k}": v for k, v in exc.fields.items()}) from None
        return run

    def redeem(self, body: Any) -> tuple[Run, dict[str, Any], str]:
        """On the invited cell: save the link, answer with a signed token for the inviting cell."""
        data = checked(schema.LINK_REDEEM, body)
        grants = data.get("services", [])
        with file_lock(self._lock):
            state = self.changes.state.load()
            offer = self._open(data["token"], "invitation", state)
            book = self._book()
            if offer["nonce"] in book["used"]:
                raise _refused("token.nonce", "the invitation was redeemed already: a token is single use")
            port = self._free_port(state, book)
            private, public = wgkeys.generate_keypair()
            answer = self._offer(state, "answer", public, port, grants, DEFAULT_HOURS, data.get("endpoint"))
            answer["to"], answer["invitation"] = offer["cell"]["id"], offer["nonce"]
            link = self._link(offer, port, grants)

            def after() -> None:  # the key before the converge that reads it
                self._write(self.key_file(link["cell_id"]), private + "\n")
                book["used"].append(offer["nonce"])
                self._save_book(book)

            run = self._save(link, f"link to cell {link['name']}", after)
        return run, link, links.sign(answer, self._signing_key())

    def accept(self, body: Any) -> tuple[Run, dict[str, Any]]:
        """On the inviting cell: the invited cell's answer completes the link."""
        data = checked(schema.LINK_ACCEPT, body)
        with file_lock(self._lock):
            state = self.changes.state.load()
            answer = self._open(data["token"], "answer", state)
            if answer.get("to") != self.identity()["id"] or "invitation" not in answer:
                raise _refused("token.to", "the answer is not to an invitation of this cell")
            book = self._book()
            pending = book["pending"].get(answer["invitation"])
            if pending is None or answer["invitation"] in book["used"]:
                raise _refused("token.invitation", "no open invitation of this cell has this answer's nonce "
                               "(accepted already, or never made here)")
            if pending["expires"] <= int(self.clock()):
                raise _refused("token.invitation", "the invitation this answers has expired: make a new one")
            link = self._link(answer, pending["port"], pending["services"])
            nonce = answer["invitation"]

            def after() -> None:
                self._invite_key(nonce).replace(self.key_file(link["cell_id"]))
                del book["pending"][nonce]
                book["used"].append(nonce)
                self._save_book(book)

            run = self._save(link, f"link to cell {link['name']}", after)
        return run, link

    def delete(self, cell_id: str) -> Run:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            gone = next((ln for ln in state.get("links", []) if ln["cell_id"] == cell_id), None)
            if gone is None:
                raise NotFound(f"no link to cell {cell_id!r}")
            state["links"] = [ln for ln in state["links"] if ln["cell_id"] != cell_id]
            return gone

        run, _ = self.changes.apply(change, f"remove the link to cell {cell_id}",
                                    before_run=lambda _: self.key_file(cell_id).unlink(missing_ok=True))
        return run

    def set_grants(self, cell_id: str, body: Any, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        """Change which of this cell's services a linked cell may reach, keeping the link (no new
        tokens): the state's grants change and the converge that follows rewrites the link's
        firewall chain, so a revoked service is closed by that run. The other end's ``offered``
        is its own record of the invitation and is not changed here. With ``preview``: the
        check-mode run of that change, nothing saved."""
        data = checked(schema.LINK_GRANTS, body)
        grants = [s for s in schema.LINK_SERVICES if s in data["grants"]]  # one order, whatever was sent

        def change(state: dict[str, Any]) -> dict[str, Any]:
            link = next((ln for ln in state.get("links", []) if ln["cell_id"] == cell_id), None)
            if link is None:
                raise NotFound(f"no link to cell {cell_id!r}")
            link["grants"] = grants
            return link

        return self.changes.apply_or_preview(preview, change, f"change what the link to cell {cell_id} grants")
