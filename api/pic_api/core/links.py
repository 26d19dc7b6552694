"""Tokens of cell linking: signed, self-describing offers one cell hands another.

A token is ``pic-link1.<payload>.<signature>``: the payload is the JSON of a ``LinkToken``
(core/schema.py) in unpadded base64url, the signature the cell's Ed25519 signature over the
payload's text, also base64url. The payload names the signer's public key (``signing_key``) and the
cell's id is derived from it, so a token cannot be altered without its signature failing, and an
answer can be tied to the cell that was invited. Who is trusted is the admin's choice: a token
travels by hand (pasted), as innernet's invitation files do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from . import schema
from .validators import describe_errors

__all__ = ["PREFIX", "SYNC_PREFIX", "TokenError", "SyncError", "new_signing_key", "signing_key", "public_key",
           "cell_id", "sign", "open_token", "open_message"]

PREFIX = "pic-link1"
# A peer-sync message: the same three parts, the payload a ``PeerSyncMessage`` (core/schema.py), signed
# with the sending cell's key; it names no key, the receiver verifies with the key of the link.
SYNC_PREFIX = "pic-sync1"


class TokenError(ValueError):
    """A token was refused: ``field`` names what (``token``, ``token.expires``, ...)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_signing_key() -> str:
    """A new Ed25519 private key, raw 32 bytes in base64 (the cell's key file holds this)."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def signing_key(text: str) -> Any:
    """The Ed25519 private key of a key file's text (``new_signing_key``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text.strip()))


def public_key(key: Any) -> str:
    """The base64 public half of an Ed25519 private key."""
    from cryptography.hazmat.primitives import serialization as s

    return base64.b64encode(key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)).decode("ascii")


def cell_id(signing_key: str) -> str:
    """A cell's id: 16 hex digits of the SHA-256 of its (base64) Ed25519 public key."""
    return hashlib.sha256(base64.b64decode(signing_key)).hexdigest()[:16]


def sign(payload: dict[str, Any], key: Any, prefix: str = PREFIX) -> str:
    body = _b64e(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    return f"{prefix}.{body}.{_b64e(key.sign(body.encode('ascii')))}"


def open_token(token: str, kind: str) -> dict[str, Any]:
    """The payload of a ``kind`` token ('invitation' or 'answer') whose signature verifies.

    Raises TokenError naming the field: ``token`` (not a token), ``token.<field>`` (a payload field
    the schema refuses), ``token.kind``, ``token.signature`` (altered, or signed by another key)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise TokenError("token", f"not a token of cell linking (it starts with {PREFIX}. and has three parts)")
    try:
        payload = json.loads(_b64d(parts[1]))
        signature = _b64d(parts[2])
    except (binascii.Error, ValueError):
        raise TokenError("token", "the token is damaged (not base64url JSON): paste it whole") from None
    fields = describe_errors(schema._def_validator("LinkToken"), payload, "token")
    if fields:
        path, message = next(iter(sorted(fields.items())))
        raise TokenError(f"token.{path}" if path else "token", message)
    if payload["kind"] != kind:
        raise TokenError("token.kind", f"this is an {payload['kind']}, not an {kind}")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(payload["signing_key"])).verify(
            signature, parts[1].encode("ascii"))
    except (InvalidSignature, ValueError):
        raise TokenError("token.signature", "the signature does not verify: the token was altered") from None
    if payload["cell"]["id"] != cell_id(payload["signing_key"]):
        raise TokenError("token.cell.id", "the cell id is not the one of its signing key")
    return payload


class SyncError(ValueError):
    """A peer-sync message was refused: ``status`` 400 (malformed, ``field`` names what) or 401 (not
    signed by the linked cell's key)."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def open_message(message: str, signing_key: str) -> dict[str, Any]:
    """The payload of a peer-sync message signed with ``signing_key`` (the linked cell's public key).

    The signature is checked before the payload is read: 400 ``message`` (not a message, damaged),
    401 ``message.signature`` (another key, or altered), then 400 ``message.<field>`` (a payload field
    the schema refuses)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = message.strip().split(".")
    if len(parts) != 3 or parts[0] != SYNC_PREFIX:
        raise SyncError(400, "message", f"not a peer-sync message (it starts with {SYNC_PREFIX}. and has three parts)")
    try:
        signature = _b64d(parts[2])
    except (binascii.Error, ValueError):
        raise SyncError(400, "message", "the message is damaged (its signature is not base64url)") from None
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(signing_key)).verify(signature, parts[1].encode("ascii"))
    except (InvalidSignature, ValueError, UnicodeEncodeError):
        raise SyncError(401, "message.signature",
                        "the signature does not verify with the linked cell's key") from None
    try:
        payload = json.loads(_b64d(parts[1]))
    except (binascii.Error, ValueError):
        raise SyncError(400, "message", "the message is damaged (not base64url JSON)") from None
    fields = describe_errors(schema._def_validator("PeerSyncMessage"), payload, "message")
    if fields:
        path, text = next(iter(sorted(fields.items())))
        raise SyncError(400, f"message.{path}" if path else "message", text)
    return payload
