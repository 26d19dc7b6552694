"""Certificates the cell's CA issues for names people give (the Vault page; docs/architecture.md
"Certificates").

Only the agent issues (it alone reads the root key, ``<ca dir>/private/root.key``); it keeps each
issued certificate, public part only, as ``<ca dir>/issued/<serial>.pem`` (world-readable, like the
root), which is where the API lists them from. The new private key goes back in the agent's answer
and the API's, once, and is kept nowhere. A revocation is cell state (``ca.revoked``), which the ca
role publishes in its CRL (``<ca dir>/crl.pem``).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..agent.protocol import AgentError
from ..core import schema
from .errors import Conflict, InvalidInput, NotFound, checked
from .files import write_atomic
from .runs import Run

ISSUED_DIR = "issued"
DEFAULT_DAYS = 365
MAX_DAYS = 825  # what browsers accept for a TLS server certificate
BACKDATE = dt.timedelta(minutes=5)  # a device whose clock is a little behind still accepts it


class CertError(Exception):
    """The CA cannot issue (not made yet)."""


def serial_text(serial: int) -> str:
    """The serial as hex octets ('0A:1B:...'), the form the ca role's ca_revoked takes."""
    raw = format(serial, "X")
    raw = raw if len(raw) % 2 == 0 else "0" + raw
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


def _paths(ca_root_file: Path) -> tuple[Path, Path, Path]:
    ca_dir = Path(ca_root_file).parent
    return ca_dir / "private" / "root.key", ca_dir / ISSUED_DIR, ca_dir / "crl.pem"


def crl_file(ca_root_file: Path) -> Path:
    return _paths(ca_root_file)[2]


def describe(cert: x509.Certificate) -> dict[str, Any]:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "serial": serial_text(cert.serial_number),
        "name": str(names[0].value) if names else "",
        "not_before": cert.not_valid_before_utc.isoformat(timespec="seconds"),
        "not_after": cert.not_valid_after_utc.isoformat(timespec="seconds"),
    }


def issue(ca_root_file: Path, name: str, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> dict[str, Any]:
    """A key and a certificate for ``name`` (its common name and DNS name), signed by the root: for a
    server (a printer, a NAS) or a client that authenticates with it. Never past the root's own end."""
    key_file, issued, _ = _paths(ca_root_file)
    if not key_file.is_file() or not Path(ca_root_file).is_file():
        raise CertError("the cell's certificate authority has not been made yet (the ca role makes it)")
    root_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    root = x509.load_pem_x509_certificate(Path(ca_root_file).read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    start = (now or dt.datetime.now(dt.UTC)) - BACKDATE
    end = min(start + BACKDATE + dt.timedelta(days=days), root.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    issued.mkdir(mode=0o755, exist_ok=True)
    write_atomic(issued / f"{serial_text(cert.serial_number).replace(':', '')}.pem", cert_pem, 0o644)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {**describe(cert), "certificate_pem": cert_pem, "key_pem": key_pem}


def pkcs12_file(key_pem: str, certificate_pem: str, ca_root_file: Path, password: str) -> bytes:
    """The key, its certificate and the cell's root as one PKCS#12 file, encrypted with ``password``.
    Its ciphers are the ones every importer reads (3DES with a SHA-1 MAC, as openssl's -legacy): the
    AES form that is the default today is refused by the key stores of older Android and macOS."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(
        str(cn[0].value).encode() if cn else None,
        serialization.load_pem_private_key(key_pem.encode(), password=None),  # type: ignore[arg-type]
        cert,
        [x509.load_pem_x509_certificate(Path(ca_root_file).read_bytes())],
        encryption,
    )


def issued(ca_root_file: Path) -> list[dict[str, Any]]:
    """The certificates issued so far, newest first (a file that does not parse is left out)."""
    _, where, _ = _paths(ca_root_file)
    out = []
    for path in sorted(where.glob("*.pem")) if where.is_dir() else []:
        try:
            out.append(describe(x509.load_pem_x509_certificate(path.read_bytes())))
        except ValueError:
            continue
    return sorted(out, key=lambda c: c["not_before"], reverse=True)


class Certificates:
    """The Vault's certificates for the API: issued through ``call`` (the agent's ``ca_issue``, or the
    same in this process where no agent runs), listed from the issued directory, revoked in the state."""

    def __init__(self, changes: Any, ca_root_file: Path, call: Any):
        self.changes = changes
        self.ca_root_file = Path(ca_root_file)
        self.call = call

    def list(self) -> list[dict[str, Any]]:
        revoked = set(self.changes.state.section("ca")["revoked"])
        return [{**c, "revoked": c["serial"] in revoked} for c in issued(self.ca_root_file)]

    def issue(self, body: Any) -> dict[str, Any]:
        data = checked(schema.CERTIFICATE, body)
        try:
            made = self.call("ca_issue", name=data["name"], days=data.get("days", DEFAULT_DAYS))
        except AgentError as exc:
            raise (Conflict if exc.status == 409 else InvalidInput)(exc.message, exc.fields) from None
        pems = ("certificate_pem", "key_pem")
        answer = {"certificate": {**{k: v for k, v in made.items() if k not in pems}, "revoked": False},
                  **{k: made[k] for k in pems}}
        if data.get("pkcs12_password"):
            answer["pkcs12"] = base64.b64encode(
                pkcs12_file(made["key_pem"], made["certificate_pem"], self.ca_root_file, data["pkcs12_password"])
            ).decode()
        return answer

    def revoke(self, serial: str) -> tuple[dict[str, Any], Run]:
        """The certificate goes into the state's revoked list; its run has the ca role sign the CRL again."""
        found = next((c for c in issued(self.ca_root_file) if c["serial"] == serial), None)
        if found is None:
            raise NotFound(f"no certificate {serial} was issued by this cell")

        def change(state: dict[str, Any]) -> None:
            if serial in state["ca"]["revoked"]:
                raise Conflict(f"certificate {serial} is revoked already")
            state["ca"]["revoked"].append(serial)

        run, _ = self.changes.apply(change, f"revoke the certificate of {found['name']} ({serial})")
        return {**found, "revoked": True}, run
