"""The DHCP probe's packets (api/pic_api/core/dhcp_probe.py): what it sends and which answers count."""

import struct

import pytest

from pic_api.core import dhcp_probe

MAC = bytes.fromhex("0a1b2c3d4e5f")


def reply(xid: int, msg_type: int, options: bytes = b"", siaddr: bytes = b"\0" * 4) -> bytes:
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, bytes([10, 0, 0, 150]),
                         siaddr, b"\0" * 4, MAC + b"\0" * 10, b"", b"")
    return header + dhcp_probe.MAGIC + bytes([53, 1, msg_type]) + options + b"\xff"


def test_discover_asks_for_a_broadcast_offer():
    p = dhcp_probe.discover_packet(MAC, 0x01020304)
    assert p[0] == 1 and p[1:3] == b"\x01\x06"  # BOOTREQUEST, Ethernet, 6-byte address
    assert struct.unpack("!I", p[4:8])[0] == 0x01020304
    assert struct.unpack("!H", p[10:12])[0] & 0x8000  # broadcast flag: the offer comes to any socket
    assert p[28:34] == MAC and p[236:240] == dhcp_probe.MAGIC
    assert dhcp_probe.parse_options(p[240:])[53] == bytes([dhcp_probe.DISCOVER])


def test_discover_refuses_a_bad_mac():
    with pytest.raises(ValueError):
        dhcp_probe.discover_packet(b"\x01\x02", 1)


def test_an_offer_names_its_server():
    assert dhcp_probe.offer_server(reply(7, 2, bytes([54, 4, 192, 168, 1, 1])), 7) == "192.168.1.1"
    # without a server identifier option, the server's own address field
    assert dhcp_probe.offer_server(reply(7, 2, siaddr=bytes([192, 168, 1, 2])), 7) == "192.168.1.2"


@pytest.mark.parametrize("packet", [
    reply(8, 2, bytes([54, 4, 192, 168, 1, 1])),       # another transaction
    reply(7, 5, bytes([54, 4, 192, 168, 1, 1])),       # an ACK, not an offer
    reply(7, 2, bytes([54, 9, 1])),                    # truncated option
    b"\x02" + b"\0" * 100,                              # too short
    dhcp_probe.discover_packet(MAC, 7),                # our own broadcast, looped back
])
def test_other_packets_do_not_count(packet):
    assert dhcp_probe.offer_server(packet, 7) is None


def test_a_missing_interface_is_an_error_not_a_crash(capsys):
    assert dhcp_probe.main(["pic-no-such-if0", "--timeout", "0.1"]) == 0
    out = capsys.readouterr().out
    assert '"servers": []' in out and "OSError" in out
