"""VPN address allocation, subnet overlap checks, and the LAN a host is on."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable

__all__ = [
    "AddressError",
    "VPN_POOL",
    "FALLBACK_VPN_SUBNET",
    "CONTAINER_SUBNETS",
    "pick_vpn_subnet",
    "cell_address",
    "next_free_address",
    "overlaps",
    "contains",
    "usable",
    "lan_of",
    "dhcp_range_for",
]


class AddressError(ValueError):
    """No address can be allocated (subnet full, or bad input)."""


# Where a new cell's VPN subnet comes from: a random /24 of this range, picked once at setup, so
# two cells made with defaults can be linked (docs/architecture.md, "VPN subnets that can link").
VPN_POOL = "10.64.0.0/10"
# The VPN subnet of a cell state that names none (written before subnets were picked) and of a
# converge before setup: a running cell keeps the subnet it has.
FALLBACK_VPN_SUBNET = "10.0.0.0/24"
# The service store's containers: podman's default bridge network, inside VPN_POOL. The firewall
# forwards whatever comes from it (roles/firewall firewall_container_subnets, kept equal by a unit
# test), so a VPN subnet there would let every peer out unmasqueraded: a pick never lands in it.
CONTAINER_SUBNETS = ("10.88.0.0/16",)


def pick_vpn_subnet(avoid: Iterable[str] = (), pool: str = VPN_POOL) -> str:
    """A random /24 of ``pool`` that overlaps none of ``avoid`` (the LAN, linked cells' subnets)
    nor the store's container network."""
    net = _net(pool)
    if net.prefixlen > 24:
        raise AddressError(f"{pool} holds no /24")
    avoided = []
    for item in [*avoid, *CONTAINER_SUBNETS]:
        try:
            avoided.append(ipaddress.IPv4Network(item, strict=False))
        except ValueError:
            continue
    count = 1 << (24 - net.prefixlen)
    start = secrets.randbelow(count)
    for i in range(count):
        candidate = ipaddress.IPv4Network((int(net.network_address) + ((start + i) % count) * 256, 24))
        if not any(candidate.overlaps(a) for a in avoided):
            return str(candidate)
    raise AddressError(f"every /24 of {pool} overlaps a subnet in use")


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


def lan_of(address: str, netmask: str) -> dict[str, object]:
    """The LAN a host is on, from its address and netmask (as the host's default interface has
    them): the subnet, the host's own address as the cell's LAN address, and a DHCP pool in it."""
    try:
        iface = ipaddress.IPv4Interface(f"{address}/{netmask}")
    except ValueError as exc:
        raise AddressError(f"not an IPv4 address and netmask: {address!r} {netmask!r}") from exc
    subnet = str(iface.network)
    return {
        "lan_subnet": subnet,
        "lan_address": str(iface.ip),
        "dhcp_range": dhcp_range_for(subnet, str(iface.ip)),
    }


def dhcp_range_for(subnet: str, address: str) -> list[str]:
    """A DHCP pool in ``subnet`` that leaves out ``address`` (the cell's own).

    In a /24 or larger: .100 to .200 of the first /24, as home routers hand out; in a smaller
    subnet its upper half. When the cell's address falls inside, the pool keeps the larger side of it.
    """
    net = _net(subnet)
    try:
        addr = ipaddress.IPv4Address(address)
    except ValueError as exc:
        raise AddressError(f"not an IPv4 address: {address!r}") from exc
    if net.num_addresses < 8:
        raise AddressError(f"{subnet} is too small for a DHCP pool")
    if net.prefixlen <= 24:
        start, end = net.network_address + 100, net.network_address + 200
    else:
        start, end = net.network_address + net.num_addresses // 2, net.broadcast_address - 1
    if start <= addr <= end:
        if int(end) - int(addr) >= int(addr) - int(start):
            start = addr + 1
        else:
            end = addr - 1
    return [str(start), str(end)]
