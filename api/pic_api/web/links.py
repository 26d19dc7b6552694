"""Cell-to-cell links: invitations, redemption, acceptance (admins only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body
from .openapi import doc
from .settings import PREVIEWABLE, preview_flag, preview_started

links_bp = Blueprint("links", __name__, url_prefix="/api/cells")
CELL_ID = {"cell_id": {"$ref": "#/$defs/CellId"}}


@links_bp.get("/links")
@doc("This cell's id and signing key, its links to other cells and its open invitations", "LinkList")
def links_list() -> Any:
    return jsonify(cell().links.list())


@links_bp.post("/invitations")
@doc(
    "Make a signed, single-use invitation for another cell: this cell's id, name, zone, a WireGuard key "
    "made for the link, its endpoint, subnets and DNS address, the services offered, a nonce and an expiry",
    "LinkInvitation",
    201,
    body=schema.LINK_INVITE,
)
def links_invite() -> Any:
    return jsonify(cell().links.invite(json_body())), 201


@links_bp.delete("/invitations/<nonce>")
@doc("Withdraw an open invitation: an answer to it is refused from now on, its port is free again and its "
     "WireGuard key file goes (404: no open invitation has the nonce)", "LinkInvitationCanceled",
     params={"nonce": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}}, errors=(404,))
def links_cancel_invitation(nonce: str) -> Any:
    return jsonify(cell().links.cancel(nonce))


@links_bp.post("/links")
@doc(
    "Redeem another cell's invitation: the link is saved and converged, and the answer to hand back is "
    "returned. Refused with a 400 naming the field, nothing saved: token.signature (altered), token.expires, "
    "token.nonce (redeemed already), token.cell (this cell's own, or linked already), token.subnets (overlap)",
    "LinkRedeemed",
    202,
    body=schema.LINK_REDEEM,
)
def links_redeem() -> Any:
    run, link, answer = cell().links.redeem(json_body())
    return jsonify(link=link, answer=answer, run_id=run.id), 202


@links_bp.post("/links/accept")
@doc(
    "Accept the invited cell's answer to one of this cell's open invitations: the link is saved and "
    "converged. Refused as a redemption is, and token.invitation (no open invitation of this cell) and "
    "token.to (an answer to another cell)",
    "LinkAccepted",
    202,
    body=schema.LINK_ACCEPT,
)
def links_accept() -> Any:
    run, link = cell().links.accept(json_body())
    return jsonify(link=link, run_id=run.id), 202


@links_bp.delete("/links/<cell_id>")
@doc("Remove the link to a cell on both ends: a signed peer-sync remove goes to the other cell over the link "
     "first (it removes its end), then this end goes, with its key file, whether or not the other cell was "
     "reached (other_side says which)", "LinkRemoved", 202, params=CELL_ID, errors=(404,))
def links_delete(cell_id: str) -> Any:
    run, other_side = cell().peer_sync.remove(cell_id)
    return jsonify(run_id=run.id, other_side=other_side), 202


@links_bp.put("/links/<cell_id>")
@doc(
    "Change which of this cell's services the linked cell may reach, keeping the link: the converge that "
    "follows rewrites the link's firewall chain, so a revoked service is closed when its run ends. Refused "
    "with a 400 naming the field (grants, grants[<i>])",
    "LinkGrantsChanged",
    202,
    body=schema.LINK_GRANTS,
    params=CELL_ID,
    errors=(404,),
    **PREVIEWABLE,
)
def links_set_grants(cell_id: str) -> Any:
    if preview_flag():
        return preview_started(cell().links.set_grants(cell_id, json_body(), preview=True)[0])
    run, link = cell().links.set_grants(cell_id, json_body())
    return jsonify(link=link, run_id=run.id), 202
