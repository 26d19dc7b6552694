"""A provider's wg-quick configuration, read for an exit of kind wireguard.

``parse`` takes the text an admin pasted and returns what the state keeps (endpoint, address, DNS,
the server's public key, keepalive, MTU) and, apart, the secrets (PrivateKey, PresharedKey) that go
to 0600 files only. Every refusal names the key it is about (``config.PrivateKey``), with the key's
value never in the message: a mistyped private key must not end up in a log or an answer.

Only what an exit needs is accepted: one [Interface] and one [Peer]. Keys wg-quick would run as
commands (PreUp, PostUp, ...) or that change the host (Table, SaveConfig, FwMark, ListenPort) are
refused rather than ignored, so nobody believes they took effect.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from . import wgkeys
from .schema import StateError, check_def

__all__ = ["parse"]

# wg-quick reads its keys case-insensitively; these are the spellings the messages use.
INTERFACE_KEYS = {"privatekey": "PrivateKey", "address": "Address", "dns": "DNS", "mtu": "MTU"}
PEER_KEYS = {"publickey": "PublicKey", "endpoint": "Endpoint", "allowedips": "AllowedIPs",
             "presharedkey": "PresharedKey", "persistentkeepalive": "PersistentKeepalive"}
REFUSED = {"preup", "postup", "predown", "postdown", "table", "saveconfig", "fwmark", "listenport"}
_LINE = re.compile(r"^([A-Za-z]+)\s*=\s*(.*)$")


def _field(key: str) -> str:
    return f"config.{key}"


def _sections(text: str, fields: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1].strip().lower(), {}))
            continue
        m = _LINE.match(line)
        if not m or not sections:
            fields.setdefault("config", f"line {number} is neither [Section] nor Key = Value")
            continue
        key, value = m.group(1).lower(), m.group(2).strip()
        section, values = sections[-1]
        if key in REFUSED:
            fields.setdefault(_field(m.group(1)), f"{m.group(1)} is not accepted in an exit's configuration "
                              "(the cell sets up the interface itself)")
            continue
        known = INTERFACE_KEYS if section == "interface" else PEER_KEYS if section == "peer" else {}
        if key not in known:
            fields.setdefault(_field(m.group(1)), f"{m.group(1)} is not a key of [{section}] here")
            continue
        if key in values:
            fields.setdefault(_field(known[key]), f"{known[key]} is given twice")
            continue
        values[key] = value
    return sections


def _key(values: dict[str, str], key: str, name: str, fields: dict[str, str], required: bool) -> str | None:
    value = values.get(key)
    if value is None:
        if required:
            fields.setdefault(_field(name), f"{name} is missing")
        return None
    if not wgkeys.is_valid_key(value):
        fields.setdefault(_field(name), f"{name} is not a WireGuard key (44 characters of base64 ending in '=')")
        return None
    return value


def _int(values: dict[str, str], key: str, name: str, low: int, high: int, fields: dict[str, str]) -> int | None:
    value = values.get(key)
    if value is None:
        return None
    if value.lower() == "off" and key == "persistentkeepalive":
        return 0
    if not re.fullmatch(r"[0-9]{1,5}", value) or not low <= int(value) <= high:
        fields.setdefault(_field(name), f"{name} must be a number from {low} to {high}")
        return None
    return int(value)


def _split(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


def parse(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(the exit's fields for the state, its secrets {private_key, preshared_key?}); StateError naming
    each refused key otherwise."""
    fields: dict[str, str] = {}
    sections = _sections(text, fields)
    interfaces = [v for s, v in sections if s == "interface"]
    peers = [v for s, v in sections if s == "peer"]
    others = sorted({s for s, _ in sections} - {"interface", "peer"})
    if others:
        fields.setdefault("config", f"unknown section [{others[0]}]")
    if len(interfaces) != 1:
        fields.setdefault("config.Interface", "exactly one [Interface] section is needed")
    if len(peers) != 1:
        fields.setdefault("config.Peer", "exactly one [Peer] section (the exit server) is needed")
    iface = interfaces[0] if interfaces else {}
    peer = peers[0] if peers else {}

    private = _key(iface, "privatekey", "PrivateKey", fields, required=bool(interfaces))
    public = _key(peer, "publickey", "PublicKey", fields, required=bool(peers))
    preshared = _key(peer, "presharedkey", "PresharedKey", fields, required=False)

    address = None
    if interfaces:
        v4 = []
        for item in _split(iface.get("address", "")):
            try:
                net = ipaddress.ip_interface(item if "/" in item else item + ("/32" if ":" not in item else "/128"))
            except ValueError:
                fields.setdefault(_field("Address"), f"{item!r} is not an address with a prefix length")
                break
            if net.version == 4:
                v4.append(net)
        else:
            if not iface.get("address"):
                fields.setdefault(_field("Address"), "Address is missing")
            elif len(v4) != 1:
                fields.setdefault(_field("Address"), "exactly one IPv4 address is needed (IPv6 ones are left out)")
            else:
                address = str(v4[0])

    dns: list[str] = []
    for item in _split(iface.get("dns", "")):
        try:
            ip = ipaddress.ip_address(item)
        except ValueError:
            fields.setdefault(_field("DNS"), f"{item!r} is not an IP address (search domains are not used)")
            break
        if ip.version == 4:
            dns.append(str(ip))
    mtu = _int(iface, "mtu", "MTU", 1280, 9000, fields)

    endpoint = None
    if peers:
        value = peer.get("endpoint")
        if not value:
            fields.setdefault(_field("Endpoint"), "Endpoint is missing: the cell dials the exit server")
        else:
            try:
                check_def("ExitEndpoint", value, "Endpoint")
                if not 1 <= int(value.rsplit(":", 1)[1]) <= 65535:
                    raise ValueError
                endpoint = value.lower()
            except ValueError:
                fields.setdefault(_field("Endpoint"), "Endpoint must be host:port (a domain name or an IPv4 "
                                  "address, a port from 1 to 65535)")
        allowed = _split(peer.get("allowedips", ""))
        if "0.0.0.0/0" not in allowed:
            fields.setdefault(_field("AllowedIPs"), "AllowedIPs must include 0.0.0.0/0: an exit carries all of a "
                              "device's traffic")
    keepalive = _int(peer, "persistentkeepalive", "PersistentKeepalive", 0, 65535, fields)

    if fields:
        raise StateError(fields, "invalid exit configuration")
    assert private and public and address and endpoint  # every missing one named a field above
    exit_: dict[str, Any] = {"endpoint": endpoint, "address": address, "dns": dns, "public_key": public,
                             "keepalive": 25 if keepalive is None else keepalive}
    if mtu is not None:
        exit_["mtu"] = mtu
    secrets = {"private_key": private, **({"preshared_key": preshared} if preshared else {})}
    return exit_, secrets
