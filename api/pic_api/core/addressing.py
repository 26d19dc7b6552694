"""VPN address allocation and subnet overlap checks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["AddressError", "cell_address", "next_free_address", "overlaps", "contains", "usable"]


class AddressError(ValueError):
    """No address can be allocated (subnet full, or bad input)."""


def _net(subnet: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise AddressError(f"not an IPv4 network: {subnet!r}") from exc


def cell_address(vpn_subnet: str) -> str:
    """The cell's own address in the VPN subnet: the first host (.1 in a /24)."""
    net = _net(vpn_subnet)
    return str(net.network_address + 1)


def usable(address: str, subnet: str) -> bool:
    """True when ``address`` is a host address of ``subnet`` (not network, broadcast or the cell)."""
    net = _net(subnet)
    try:
        addr = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return addr in net and addr not in (net.network_address, net.broadcast_address, net.network_address + 1)


def next_free_address(vpn_subnet: str, used: Iterable[str]) -> str:
    """The lowest free peer address in ``vpn_subnet``.

    ``used`` is the addresses already stored for existing peers: they are kept as they are and
    never re-derived, so deleting a peer leaves a hole that the next peer fills, and no other peer
    moves. The network address, the broadcast address and the cell (.1) are never handed out.
    """
    net = _net(vpn_subnet)
    taken = {net.network_address, net.broadcast_address, net.network_address + 1}
    for item in used:
        try:
            taken.add(ipaddress.IPv4Address(item))
        except ValueError:
            continue
    for host in net.hosts():
        if host not in taken:
            return str(host)
    raise AddressError(f"no free address left in {vpn_subnet}")


def overlaps(a: str, b: str) -> bool:
    """True when two IPv4 subnets share any address."""
    return _net(a).overlaps(_net(b))


def contains(subnet: str, address: str) -> bool:
    """True when ``address`` lies inside ``subnet``."""
    try:
        return ipaddress.IPv4Address(address) in _net(subnet)
    except ValueError:
        return False
