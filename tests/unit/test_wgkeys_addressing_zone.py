import base64
import datetime as dt
import ipaddress
import re
from pathlib import Path

import pytest

from pic_api.core import addressing, wgkeys, zone
from pic_api.core.validators import ValidationError

# RFC 7748 section 6.1 test vector (Alice), base64 encoded.
ALICE_PRIV = base64.b64encode(
    bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
).decode()
ALICE_PUB = base64.b64encode(bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")).decode()


def test_public_key_matches_rfc7748_vector():
    assert wgkeys.public_key(ALICE_PRIV) == ALICE_PUB


def test_generate_keypair_is_consistent_and_random():
    priv, pub = wgkeys.generate_keypair()
    assert wgkeys.is_valid_key(priv) and wgkeys.is_valid_key(pub)
    assert wgkeys.public_key(priv) == pub
    assert len(base64.b64decode(priv)) == 32
    assert wgkeys.generate_keypair()[0] != priv


def test_public_key_refuses_bad_private_key():
    with pytest.raises(ValidationError):
        wgkeys.public_key("not-a-key")


@pytest.mark.parametrize("value", ["", "abc", None, 42, "A" * 44])
def test_is_valid_key_false(value):
    assert wgkeys.is_valid_key(value) is False


def test_cell_address_is_first_host():
    assert addressing.cell_address("10.0.0.0/24") == "10.0.0.1"
    assert addressing.cell_address("172.16.8.0/22") == "172.16.8.1"


def test_next_free_address_skips_cell_and_used():
    assert addressing.next_free_address("10.0.0.0/24", []) == "10.0.0.2"
    assert addressing.next_free_address("10.0.0.0/24", ["10.0.0.2", "10.0.0.3"]) == "10.0.0.4"


def test_next_free_address_fills_holes_without_moving_others():
    used = ["10.0.0.2", "10.0.0.4", "10.0.0.5"]
    assert addressing.next_free_address("10.0.0.0/24", used) == "10.0.0.3"
    assert used == ["10.0.0.2", "10.0.0.4", "10.0.0.5"]


def test_next_free_address_ignores_garbage_entries():
    assert addressing.next_free_address("10.0.0.0/24", ["junk", "10.0.0.2"]) == "10.0.0.3"


def test_next_free_address_full_subnet():
    # /30: network .0, cell .1, peer .2, broadcast .3
    assert addressing.next_free_address("10.9.0.0/30", []) == "10.9.0.2"
    with pytest.raises(addressing.AddressError, match="no free address"):
        addressing.next_free_address("10.9.0.0/30", ["10.9.0.2"])


def test_next_free_address_bad_subnet():
    with pytest.raises(addressing.AddressError):
        addressing.next_free_address("10.0.0.1/24", [])


def test_pick_vpn_subnet_is_a_random_free_slash24_of_the_pool():
    pool = ipaddress.IPv4Network(addressing.VPN_POOL)
    picks = {addressing.pick_vpn_subnet() for _ in range(20)}
    assert len(picks) > 1  # random, not one fixed subnet for every cell
    assert all(ipaddress.IPv4Network(p).prefixlen == 24 and ipaddress.IPv4Network(p).subnet_of(pool) for p in picks)
    # everything but one /24 of a small pool is in use: that one is the pick, every time
    assert {addressing.pick_vpn_subnet(["10.1.0.0/24", "10.1.2.0/23"], pool="10.1.0.0/22") for _ in range(5)} == {
        "10.1.1.0/24"}
    with pytest.raises(addressing.AddressError):
        addressing.pick_vpn_subnet(["10.1.0.0/22"], pool="10.1.0.0/22")


def test_a_picked_vpn_subnet_is_never_in_the_store_container_network():
    # The pool's part beside the container network: every pick is the other half, however random.
    containers = [ipaddress.IPv4Network(n) for n in addressing.CONTAINER_SUBNETS]
    assert any(n.subnet_of(ipaddress.IPv4Network(addressing.VPN_POOL)) for n in containers)
    picks = {addressing.pick_vpn_subnet(pool="10.88.0.0/15") for _ in range(50)}
    assert all(ipaddress.IPv4Network(p).subnet_of(ipaddress.IPv4Network("10.89.0.0/16")) for p in picks), picks
    with pytest.raises(addressing.AddressError):
        addressing.pick_vpn_subnet(pool="10.88.0.0/16")


def test_overlaps_and_contains():
    assert addressing.overlaps("10.0.0.0/8", "10.1.0.0/16")
    assert not addressing.overlaps("10.0.0.0/24", "10.0.1.0/24")
    assert addressing.contains("10.0.0.0/24", "10.0.0.77")
    assert not addressing.contains("10.0.0.0/24", "10.0.1.1")
    assert not addressing.contains("10.0.0.0/24", "nope")


def test_usable():
    assert addressing.usable("10.0.0.2", "10.0.0.0/24")
    for addr in ("10.0.0.0", "10.0.0.1", "10.0.0.255", "10.0.1.2", "x"):
        assert not addressing.usable(addr, "10.0.0.0/24")


DAY = dt.date(2026, 11, 27)


def test_serial_first_of_day():
    assert zone.next_serial(None, DAY) == 2026112700
    assert zone.next_serial("", DAY) == 2026112700


def test_serial_older_previous_resets_to_today():
    assert zone.next_serial(2026112605, DAY) == 2026112700


def test_serial_same_day_increments():
    assert zone.next_serial(2026112700, DAY) == 2026112701
    assert zone.next_serial("2026112709", DAY) == 2026112710


def test_serial_monotonic_past_99_and_clock_going_back():
    assert zone.next_serial(2026112799, DAY) == 2026112800
    assert zone.next_serial(2027010100, DAY) == 2027010101


def test_serial_refuses_garbage():
    for bad in ("abc", -1, 2**32 - 1, True):
        with pytest.raises(ValueError):
            zone.next_serial(bad, DAY)


def test_serial_default_is_today():
    today = dt.datetime.now(dt.UTC).date()
    assert str(zone.next_serial()).startswith(today.strftime("%Y%m%d"))


@pytest.mark.parametrize(
    "address,netmask,subnet,pool",
    [
        ("192.168.1.37", "255.255.255.0", "192.168.1.0/24", ["192.168.1.100", "192.168.1.200"]),
        ("10.213.5.10", "255.255.255.0", "10.213.5.0/24", ["10.213.5.100", "10.213.5.200"]),
        ("192.168.1.160", "255.255.255.0", "192.168.1.0/24", ["192.168.1.100", "192.168.1.159"]),
        ("192.168.1.120", "255.255.255.0", "192.168.1.0/24", ["192.168.1.121", "192.168.1.200"]),
        ("172.16.4.9", "255.255.0.0", "172.16.0.0/16", ["172.16.0.100", "172.16.0.200"]),
        ("192.168.1.5", "255.255.255.192", "192.168.1.0/26", ["192.168.1.32", "192.168.1.62"]),
    ],
)
def test_lan_of_a_host_address(address, netmask, subnet, pool):
    assert addressing.lan_of(address, netmask) == {"lan_subnet": subnet, "lan_address": address, "dhcp_range": pool}


def test_lan_of_refuses_bad_input():
    with pytest.raises(addressing.AddressError):
        addressing.lan_of("192.168.1.300", "255.255.255.0")
    with pytest.raises(addressing.AddressError):
        addressing.lan_of("192.168.1.1", "255.255.255.252")  # no room for a pool


# -- records other roles publish (one rule for dnsmasq and CoreDNS: filter pic_dns_records) -------

MAIL_RECORDS = [
    {"name": "@", "type": "MX", "value": "10 mail"},
    {"name": "@", "type": "txt", "value": "v=spf1 mx -all"},
    {"name": "dkim._domainkey", "type": "TXT", "value": "v=DKIM1; k=rsa; p=AAAA"},
    {"name": "_sip._tcp", "type": "SRV", "value": "10 5 5060 sip.example.org."},
    {"name": "*.apps", "type": "A", "value": "192.168.50.1"},
    {"name": "v6", "type": "AAAA", "value": "fd00::1"},
    {"name": "www", "type": "CNAME", "value": "files"},
]


def test_records_are_normalised():
    out = zone.check_records(MAIL_RECORDS)
    assert [r["type"] for r in out] == ["MX", "TXT", "TXT", "SRV", "A", "AAAA", "CNAME"]
    assert zone.check_records([{"name": "x", "type": "A", "value": "10.0.0.1"}])[0]["value"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"name": "bad name", "type": "A", "value": "192.168.50.7"}, "the name"),
        ({"name": "x", "type": "TXT", "value": "a\nb IN A 1.2.3.4"}, "line break"),
        ({"name": "x", "type": "TXT", "value": 'a" IN A 1.2.3.4'}, "double quote"),
        ({"name": "x", "type": "CAA", "value": '0 issue "ca"'}, "the type"),
        ({"name": "x", "type": "A", "value": "10.0.0.300"}, "IPv4"),
        ({"name": "x", "type": "AAAA", "value": "10.0.0.3"}, "IPv6"),
        ({"name": "x", "type": "MX", "value": "mail"}, "preference"),
        ({"name": "x", "type": "SRV", "value": "10 5 sip"}, "priority"),
        ({"name": "x", "type": "CNAME", "value": "a; b"}, "';'"),
        ({"name": "x", "type": "TXT", "value": ""}, "empty"),
        ({"name": "x", "type": "A"}, "not a string"),
        ("x A 10.0.0.1", "mapping"),
    ],
)
def test_a_bad_record_is_refused_naming_it(record, why):
    with pytest.raises(ValueError, match="invalid record") as exc:
        zone.check_records([*MAIL_RECORDS, record])
    assert why in str(exc.value)


def test_records_must_be_a_list():
    with pytest.raises(ValueError, match="a list"):
        zone.check_records({"name": "x"})


def test_the_fallback_vpn_subnet_is_one_value_everywhere():
    """The roles' own defaults (a role run alone) and the playbooks' pre-setup default are the
    schema's fallback (addressing.FALLBACK_VPN_SUBNET), not values of their own."""
    root = Path(__file__).resolve().parents[2]
    found = {}
    for path in [*root.glob("roles/*/defaults/main.yml"), root / "playbooks/vars/cell_defaults.yml"]:
        for m in re.finditer(r"pic_vpn_subnet(?: \| default\('|: )([0-9./]+)", path.read_text()):
            found[f"{path.relative_to(root)}"] = m.group(1)
    assert len(found) >= 5 and set(found.values()) == {addressing.FALLBACK_VPN_SUBNET}, found
