"""Peers: the devices that join the cell over WireGuard."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from ..managers.errors import Forbidden
from ..managers.peers import Viewer
from .common import cell, json_body, session
from .gate import access
from .openapi import doc
from .settings import PREVIEWABLE, preview_flag

peers_bp = Blueprint("peers", __name__, url_prefix="/api/peers")
NAME = {"name": {"$ref": "#/$defs/Label"}}
# Every person logged in: an admin sees and changes every device, a member only their own.


def viewer() -> Viewer:
    sess = session()
    return Viewer(sess.user, sess.role == "admin")


def peer_preview() -> bool:
    """?preview=1, an admin's: a preview's run (its diffs show the whole cell) is theirs to read."""
    preview = preview_flag()
    if preview and not viewer().admin:
        raise Forbidden("only an admin previews a change; a member's change applies at once")
    return preview


@peers_bp.get("")
@access("user")
@doc("Peers (devices): all for an admin, a member's own for a member", "PeerList")
def peers_list() -> Any:
    return jsonify(peers=cell().peers.list(viewer()))


@peers_bp.post("")
@access("user")
@doc(
    "Add a peer; without public_key the cell makes the key pair and returns the private key in this answer only. "
    "A member's device is their own (403 without the vpn service); an admin may name its owner",
    "PeerCreated",
    201,
    body=schema.PEER,
    errors=(403, 409),
    **PREVIEWABLE,
)
def peers_add() -> Any:
    answer = cell().peers.add(json_body(), viewer(), preview=peer_preview())
    return jsonify(answer), 202 if answer.get("preview") else 201


@peers_bp.get("/<name>")
@access("user")
@doc("One peer", "PeerOne", params=NAME, errors=(404,))
def peers_get(name: str) -> Any:
    return jsonify(peer=cell().peers.get(name, viewer()))


@peers_bp.get("/<name>/config")
@access("user")
@doc(
    "The peer's configuration with the cell's current endpoint (after the endpoint changed): the device "
    "keeps its key, the private key line is a placeholder",
    "PeerConfig",
    params=NAME,
    errors=(404,),
)
def peers_config(name: str) -> Any:
    return jsonify(cell().peers.config(name, viewer()))


@peers_bp.patch("/<name>")
@access("user")
@doc("Rename a peer or change its route; its keys and address stay, so the device's tunnel goes on (a new "
     "route changes its AllowedIPs: the answer has the configuration to load)", "PeerChanged", params=NAME,
     body=schema.PEER_CHANGE, errors=(404, 409), **PREVIEWABLE)
def peers_change(name: str) -> Any:
    answer = cell().peers.change(name, json_body(), viewer(), preview=peer_preview())
    return jsonify(answer), 202 if answer.get("preview") else 200


@peers_bp.post("/<name>/keys")
@access("user")
@doc("New keys for a peer (a lost device, a leaked configuration): its name, address and route stay, its old "
     "configuration stops carrying traffic at once. Without public_key the cell makes the key pair and returns "
     "the private key in this answer only", "PeerCreated", params=NAME, body=schema.PEER_KEYS, errors=(404, 409))
def peers_rekey(name: str) -> Any:
    return jsonify(cell().peers.rekey(name, json_body(), viewer()))


@peers_bp.delete("/<name>")
@access("user")
@doc("Remove a peer (from the running cell at once, then durably by its run)", "PeerRemoved", 202, params=NAME,
     errors=(404,), **PREVIEWABLE)
def peers_delete(name: str) -> Any:
    run, live = cell().peers.delete(name, viewer(), preview=peer_preview())
    return jsonify(run_id=run.id, **live), 202
