"""The peers' DNS names as a hosts file: ``<ip> <name>.<zone>``, one line per peer, sorted by name.

The DNS server reads it (dnsmasq's ``addn-hosts``, re-read on SIGHUP; CoreDNS's ``hosts`` plugin,
which re-reads it by itself). Its DNS role writes it from the cell state, and ``pic-agent`` writes
the same text when a peer is added or removed, so a peer's name resolves at once and the converge
that follows finds the file as it would write it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from .validators import ValidationError, check_label

HEADER = (
    "# The cell's peers at their VPN addresses, from the cell state (written by the DNS role,\n"
    "# and by pic-agent the moment a peer is added or removed). Edits here are overwritten.\n"
)


def render(peers: Iterable[Mapping[str, Any]], zone: str) -> str:
    """The hosts file of ``peers`` ({name, ip}) in ``zone``; ValueError for a name or address that
    could not be one line of a hosts file."""
    if not zone or any(c.isspace() or c == "#" for c in zone):
        raise ValueError(f"not a zone name: {zone!r}")
    lines = []
    for peer in sorted(peers, key=lambda p: str(p.get("name"))):
        try:
            name = check_label(peer.get("name"), "peer name")
        except ValidationError as exc:
            raise ValueError(str(exc)) from None
        ip = ipaddress.IPv4Address(str(peer.get("ip")))
        lines.append(f"{ip} {name}.{zone}\n")
    return HEADER + "".join(lines)


def zone_of(cell_name: str) -> str:
    """The zone the cell's DNS serves, ``<cell name>.cell`` (the DNS roles' ``*_zone`` default)."""
    return f"{cell_name}.cell"
