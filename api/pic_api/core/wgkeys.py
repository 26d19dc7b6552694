"""WireGuard keys (Curve25519 / X25519), base64 encoded as wg(8) prints them."""

from __future__ import annotations

import base64
import binascii

from .validators import ValidationError, check_wg_key

__all__ = ["generate_keypair", "public_key", "is_valid_key"]

# cryptography is imported by the two functions that need it, not by whoever validates a key (the
# agent, which reads the published public key, then never loads it: 8 MiB less while idle).


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """Return ``(private_key, public_key)``, both base64 like ``wg genkey | wg pubkey``."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    private_raw = private.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    public_raw = private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return _b64(private_raw), _b64(public_raw)


def public_key(private_key: str) -> str:
    """Derive the base64 public key from a base64 private key (``wg pubkey``)."""
    check_wg_key(private_key, "private key")
    try:
        raw = base64.b64decode(private_key, validate=True)
    except binascii.Error as exc:  # pragma: no cover - check_wg_key already refused it
        raise ValidationError("private key is not valid base64") from exc
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.from_private_bytes(raw)
    return _b64(private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))


def is_valid_key(value: object) -> bool:
    """True when ``value`` is a well-formed WireGuard key (44 base64 characters, 32 bytes)."""
    try:
        check_wg_key(value)
    except ValidationError:
        return False
    return True
