"""Exits: upstreams chosen devices' traffic leaves the cell through (admins only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body
from .openapi import doc
from .settings import PREVIEWABLE, preview_flag, preview_started

exits_bp = Blueprint("exits", __name__, url_prefix="/api/exits")
NAME = {"name": {"$ref": "#/$defs/ExitName"}}


@exits_bp.get("")
@doc("Exits with the devices using each (their keys are never shown: keys_stored and preshared_key say "
     "whether the files are there)", "ExitList")
def exits_list() -> Any:
    return jsonify(exits=cell().exits.list())


@exits_bp.post("")
@doc(
    "Add an exit from the provider's wg-quick configuration; a refused key is a 400 naming it "
    "(config.PrivateKey, config.Endpoint, ...). The private and preshared keys go to 0600 files, never "
    "to the state",
    "ExitAdded",
    202,
    body=schema.EXIT,
    errors=(409,),
    **PREVIEWABLE,
)
def exits_add() -> Any:
    if preview_flag():
        return preview_started(cell().exits.add(json_body(), preview=True)[0])
    run, exit_ = cell().exits.add(json_body())
    return jsonify(exit=exit_, run_id=run.id), 202


@exits_bp.get("/<name>")
@doc("One exit", "ExitOne", params=NAME, errors=(404,))
def exits_get(name: str) -> Any:
    return jsonify(exit=cell().exits.get(name))


@exits_bp.get("/<name>/address")
@doc("The address the internet sees through the exit: the cell's address source (the DDNS updater's "
     "ipv4_source) asked through the exit's tunnel; empty with the reason when it cannot be told",
     "ExitPublicAddress", params=NAME, errors=(404,))
def exits_address(name: str) -> Any:
    return jsonify(cell().exits.public_address(name))


@exits_bp.delete("/<name>")
@doc("Remove an exit (409 while a device uses it) and its key files", "ExitRemoved", 202, params=NAME,
     errors=(404, 409), **PREVIEWABLE)
def exits_delete(name: str) -> Any:
    if preview_flag():
        return preview_started(cell().exits.delete(name, preview=True))
    return jsonify(run_id=cell().exits.delete(name).id), 202
