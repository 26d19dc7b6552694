"""The cell's certificate authority: its root certificate, for devices to trust (no login)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..managers.errors import NotFound
from .common import cell
from .gate import access
from .openapi import doc

ca_bp = Blueprint("ca", __name__, url_prefix="/api/ca")


@ca_bp.get("/root.pem")
@access("public")
@doc("The internal CA's root certificate (no login)", errors=(404,), media="application/x-pem-file")
def ca_root() -> Any:
    path = cell().config.ca_root_file
    if not path.is_file():
        raise NotFound("the cell's certificate authority has not been created yet; it is made by the ca role")
    return Response(
        path.read_bytes(),
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": "attachment; filename=pic-root-ca.pem"},
    )
