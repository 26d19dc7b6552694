"""Peer-sync between linked cells: no session, no CSRF token; a message is taken only from a linked
cell's tunnel address and signed with its key (managers/peer_sync.py says how)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from ..core import schema
from .common import cell, json_body
from .gate import access
from .openapi import doc

peer_sync_bp = Blueprint("peer_sync", __name__, url_prefix="/api/cells/peer-sync")
REFUSALS = (401, 409)


@peer_sync_bp.post("/share")
@access("public")
@doc(
    "A linked cell's shared info (its zone, the services it grants this cell, its devices' names), "
    "versioned: recorded on its link and converged. 401 source (not a linked cell's tunnel address) or "
    "message.signature (not its key); 400 naming the field; 409 message.version (replayed or older), "
    "message.nonce (replayed), message.sent (outside the window)",
    "PeerSyncTaken",
    202,
    body=schema.PEER_SYNC,
    errors=REFUSALS,
)
def peer_sync_share() -> Any:
    run, _ = cell().peer_sync.receive_share(json_body(), request.remote_addr or "")
    return jsonify(run_id=run.id), 202


@peer_sync_bp.post("/remove")
@access("public")
@doc(
    "The linked cell removed the link: this end is removed too (state and converge). Refused as a share is",
    "PeerSyncTaken",
    202,
    body=schema.PEER_SYNC,
    errors=REFUSALS,
)
def peer_sync_remove() -> Any:
    return jsonify(run_id=cell().peer_sync.receive_remove(json_body(), request.remote_addr or "").id), 202
