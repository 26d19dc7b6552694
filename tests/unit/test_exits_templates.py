"""The exits role's ruleset rendered with Jinja and checked by nft itself: a device's DNS to the cell
goes to its exit's resolver and is marked for the exit's table; an exit without DNS redirects
nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "exits"

pytestmark = pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables")


def render(exits, peers) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.get_template("pic-exits.nft.j2").render(
        ansible_managed="Managed by PIC", exits_list=exits, exits_peers=peers, exits_vpn_interface="wg0",
        exits_cell_nets=["192.168.50.0/24", "10.0.0.0/24"], exits_interface_prefix="exit-", exits_mark_base=4096,
        exits_routes_script="/usr/local/sbin/pic-exits-routes", exits_tor_address="10.0.0.1",
        exits_tor_trans_port=9040, exits_tor_dns_port=9053, exits_tor_virtual_net="10.192.0.0/10")


def chain(text: str, name: str) -> list[str]:
    body = re.search(rf"chain {name} {{\n(.*?)\n\t}}", text, re.S)
    assert body, text
    return [line.strip() for line in body.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]


EXITS = [{"name": "work", "kind": "wireguard", "dns": []},
         {"name": "home", "kind": "wireguard", "dns": ["10.66.66.1", "10.66.66.9"]}]
PEERS = [{"name": "phone", "ip": "10.0.0.3", "exit": "home"}, {"name": "laptop", "ip": "10.0.0.2", "exit": "work"}]


def test_a_devices_dns_goes_to_its_exits_first_resolver_and_is_marked_after_the_dnat():
    text = render(EXITS, PEERS)
    dns = chain(text, "dns")
    assert dns[0] == "type nat hook prerouting priority dstnat - 10; policy accept;"
    assert dns[1:] == ['iifname "wg0" ip saddr 10.0.0.3 fib daddr type local meta l4proto { tcp, udp } th dport 53 '
                       "dnat ip to 10.66.66.1"]
    marks = chain(text, "prerouting")
    # after the DNAT: the marks see the resolver's address; home is the first exit by name (mark 4096)
    assert marks[0] == "type filter hook prerouting priority dstnat + 10; policy accept;"
    assert marks[1:] == [
        'iifname "wg0" ip saddr 10.0.0.2 ip daddr != @cell_nets fib daddr type != local meta mark set 4097',
        'iifname "wg0" ip saddr 10.0.0.3 ct status dnat ip daddr 10.66.66.1 meta l4proto { tcp, udp } th dport 53 '
        "meta mark set 4096 accept",
        'iifname "wg0" ip saddr 10.0.0.3 ip daddr != @cell_nets fib daddr type != local meta mark set 4096',
    ]


def test_an_exit_without_dns_redirects_nothing():
    text = render([{"name": "work", "kind": "wireguard"}], [{"name": "laptop", "ip": "10.0.0.2", "exit": "work"}])
    assert chain(text, "dns") == ["type nat hook prerouting priority dstnat - 10; policy accept;"]


TOR_EXITS = [*EXITS, {"name": "onion", "kind": "tor"}]
TOR_PEERS = [*PEERS, {"name": "tablet", "ip": "10.0.0.4", "exit": "onion"}]


def test_a_tor_devices_dns_and_tcp_go_to_tors_ports_and_the_rest_is_dropped():
    text = render(TOR_EXITS, TOR_PEERS)
    dns = chain(text, "dns")
    assert dns[2:] == [
        'iifname "wg0" ip saddr 10.0.0.4 meta l4proto { tcp, udp } th dport 53 counter dnat ip to 10.0.0.1:9053 '
        'comment "tor dns tablet"',
        'iifname "wg0" ip saddr 10.0.0.4 ip daddr 10.192.0.0/10 meta l4proto tcp counter dnat ip to 10.0.0.1:9040 '
        'comment "tor onion tablet"',
        'iifname "wg0" ip saddr 10.0.0.4 ip daddr != @cell_nets ip daddr != @tor_refused fib daddr type != local '
        'meta l4proto tcp counter dnat ip to 10.0.0.1:9040 comment "tor tcp tablet"',
    ]
    assert "172.16.0.0/12" in text and "set tor_refused" in text
    marks = chain(text, "prerouting")
    # after the DNAT: what was sent to tor is local now; anything else of the device for beyond the
    # cell is dropped, never marked or routed; the other devices keep their exits' marks
    assert marks[1:3] == [
        'iifname "wg0" meta nfproto ipv6 counter drop comment "tor ipv6"',
        'iifname "wg0" ip saddr 10.0.0.4 ip daddr != @cell_nets fib daddr type != local counter drop '
        'comment "tor drop tablet"',
    ]
    assert not [line for line in marks if "10.0.0.4" in line and "mark set" in line]
    assert len([line for line in marks if "mark set" in line]) == 3


def test_a_tor_exit_without_devices_changes_nothing():
    assert "tor" not in "".join(chain(render(TOR_EXITS, PEERS), "dns") + chain(render(TOR_EXITS, PEERS), "prerouting"))


@pytest.mark.parametrize(("exits", "peers"), [(EXITS, PEERS), ([], []), (EXITS, []), (TOR_EXITS, TOR_PEERS)])
def test_nft_accepts_the_ruleset(tmp_path, exits, peers):
    f = tmp_path / "pic-exits.nft"
    f.write_text(render(exits, peers))
    res = subprocess.run(["nft", "-c", "-f", str(f)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
