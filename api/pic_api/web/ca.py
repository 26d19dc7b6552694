"""The cell's certificate authority: its root certificate and CRL for devices (no login), and the
certificates it issues for names people give (admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ..core import schema
from ..managers import certs
from ..managers.errors import NotFound
from .common import cell, json_body
from .gate import access
from .openapi import doc

SERIAL = {"serial": {"$ref": "#/$defs/CertSerial"}}

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


@ca_bp.get("/crl.pem")
@access("public")
@doc("The internal CA's certificate revocation list (no login)", errors=(404,), media="application/x-pem-file")
def ca_crl() -> Any:
    path = certs.crl_file(cell().config.ca_root_file)
    if not path.is_file():
        raise NotFound("the cell's certificate authority has not published a CRL yet; the ca role makes it")
    return Response(path.read_bytes(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=pic-ca.crl.pem"})


@ca_bp.get("/certificates")
@doc("The certificates the cell's CA issued, newest first, with whether each is revoked", "CertificateList")
def ca_certificates() -> Any:
    return jsonify(certificates=cell().certificates.list())


@ca_bp.post("/certificates")
@doc("Issue a certificate for a name (a printer, a NAS, a client): the key is in this answer only", "CertificateIssued",
     201, body=schema.CERTIFICATE, errors=(409,))
def ca_issue() -> Any:
    return jsonify(cell().certificates.issue(json_body())), 201


@ca_bp.post("/certificates/<serial>/revoke")
@doc("Revoke a certificate: its run has the ca role sign the CRL again", "CertificateRevoked", 202, params=SERIAL,
     errors=(404, 409))
def ca_revoke(serial: str) -> Any:
    found, run = cell().certificates.revoke(serial)
    return jsonify(certificate=found, run_id=run.id), 202
