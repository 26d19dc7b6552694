"""Is another DHCP server answering on a LAN? One DHCPDISCOVER, the DHCPOFFERs that come back.

Standard library only and no package imports, so that playbooks/state.yml can run this file on a
cell before anything of PIC is installed there (ansible.builtin.script):

    python3 dhcp_probe.py IFACE [--timeout S] [--output FILE] [--ignore ADDR ...]

prints (or writes to FILE, atomically) ``{"servers": ["192.168.1.1"], "error": null}``: the server
identifiers of the offers, less the addresses given to --ignore (the cell's own, where its dnsmasq
may answer). It only asks: the
offers are never accepted, so no lease is taken. It needs root (UDP port 68). It waits 6 s by
default: a server checks that an address is free (dnsmasq pings it for 3 s) before it offers it.
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import json
import os
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER = 1, 2
SIOCGIFHWADDR = 0x8927
OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PARAMS, OPT_END = 53, 54, 55, 255


def discover_packet(mac: bytes, xid: int) -> bytes:
    """A DHCPDISCOVER from ``mac`` (6 bytes) with transaction id ``xid``, asking for a broadcast reply."""
    if len(mac) != 6:
        raise ValueError("a MAC address has 6 bytes")
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                         b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
    options = bytes([OPT_MSG_TYPE, 1, DISCOVER, OPT_PARAMS, 3, 1, 3, 6, OPT_END])
    return header + MAGIC + options


def parse_options(data: bytes) -> dict[int, bytes]:
    opts: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        code = data[i]
        if code == OPT_END:
            break
        if code == 0:  # pad
            i += 1
            continue
        if i + 1 >= len(data) or i + 2 + data[i + 1] > len(data):
            raise ValueError("truncated DHCP option")
        opts[code] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return opts


def offer_server(packet: bytes, xid: int) -> str | None:
    """The server identifier of a DHCPOFFER answering ``xid``; None for anything else."""
    if len(packet) < 240 or packet[0] != 2 or packet[236:240] != MAGIC:
        return None
    if struct.unpack("!I", packet[4:8])[0] != xid:
        return None
    try:
        opts = parse_options(packet[240:])
    except ValueError:
        return None
    if opts.get(OPT_MSG_TYPE) != bytes([OFFER]):
        return None
    server = opts.get(OPT_SERVER_ID)
    if server and len(server) == 4:
        return str(ipaddress.IPv4Address(server))
    siaddr = packet[20:24]
    return str(ipaddress.IPv4Address(siaddr)) if siaddr != b"\0" * 4 else None


def probe(interface: str, timeout: float = 6.0, ignore: tuple[str, ...] = ()) -> list[str]:
    """Sends one DHCPDISCOVER on ``interface`` and returns the servers that offered, sorted."""
    xid = int.from_bytes(os.urandom(4), "big")
    servers: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        # The interface's MAC address (SIOCGIFHWADDR), from the network namespace the probe runs in.
        ifreq = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", interface.encode()[:15]))
        mac = ifreq[18:24]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(("", 68))
        sock.sendto(discover_packet(mac, xid), ("255.255.255.255", 67))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                packet = sock.recv(4096)
            except TimeoutError:
                break
            server = offer_server(packet, xid)
            if server and server not in ignore:
                servers.add(server)
    return sorted(servers, key=ipaddress.IPv4Address)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("interface")
    p.add_argument("--timeout", type=float, default=6.0)
    p.add_argument("--output")
    p.add_argument("--ignore", nargs="*", default=[])
    a = p.parse_args(argv)
    try:
        result = {"servers": probe(a.interface, a.timeout, tuple(a.ignore)), "error": None}
    except OSError as exc:  # no such interface, port 68 taken, not root: nothing is known
        result = {"servers": [], "error": f"{type(exc).__name__}: {exc}"}
    text = json.dumps(result)
    if a.output:
        os.makedirs(os.path.dirname(os.path.abspath(a.output)), mode=0o755, exist_ok=True)
        with open(a.output + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(a.output + ".tmp", a.output)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
