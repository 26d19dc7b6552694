"""Peers: the devices that join the cell over WireGuard."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body
from .openapi import doc

peers_bp = Blueprint("peers", __name__, url_prefix="/api/peers")
NAME = {"name": {"$ref": "#/$defs/Label"}}


@peers_bp.get("")
@doc("Peers (devices)", "PeerList")
def peers_list() -> Any:
    return jsonify(peers=cell().peers.list())


@peers_bp.post("")
@doc(
    "Add a peer; without public_key the cell makes the key pair and returns the private key in this answer only",
    "PeerCreated",
    201,
    body=schema.PEER,
    errors=(409,),
)
def peers_add() -> Any:
    return jsonify(cell().peers.add(json_body())), 201


@peers_bp.get("/<name>")
@doc("One peer", "PeerOne", params=NAME, errors=(404,))
def peers_get(name: str) -> Any:
    return jsonify(peer=cell().peers.get(name))


@peers_bp.get("/<name>/config")
@doc(
    "The peer's configuration with the cell's current endpoint (after the endpoint changed): the device "
    "keeps its key, the private key line is a placeholder",
    "PeerConfig",
    params=NAME,
    errors=(404,),
)
def peers_config(name: str) -> Any:
    return jsonify(cell().peers.config(name))


@peers_bp.patch("/<name>")
@doc("Rename a peer or change its route; its keys and address stay, so the device's tunnel goes on (a new "
     "route changes its AllowedIPs: the answer has the configuration to load)", "PeerChanged", params=NAME,
     body=schema.PEER_CHANGE, errors=(404, 409))
def peers_change(name: str) -> Any:
    return jsonify(cell().peers.change(name, json_body()))


@peers_bp.delete("/<name>")
@doc("Remove a peer (from the running cell at once, then durably by its run)", "PeerRemoved", 202, params=NAME,
     errors=(404,))
def peers_delete(name: str) -> Any:
    run, live = cell().peers.delete(name)
    return jsonify(run_id=run.id, **live), 202
