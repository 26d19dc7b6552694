"""The Email page's view: the mail domain, its webmail, the records to publish and Postfix's queue."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .common import cell
from .openapi import doc

mail_bp = Blueprint("mail", __name__, url_prefix="/api/mail")


@mail_bp.get("")
@doc("The mail domain, the webmail's address, the DNS records to publish for the domain (MX, SPF, DKIM, "
     "DMARC) and Postfix's queue (records_error, queue_error: why they could not be read)", "MailView")
def mail_get() -> Any:
    return jsonify(cell().mail.view())
