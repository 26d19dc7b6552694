"""The cell's firewall, probed from real hosts: the WAN host, a LAN client and two VPN peers
(network namespaces inside the cell behind lan0 and wg0). Listeners run on every probed port, so a
"filtered" port is shut by the firewall, not by a missing daemon."""

import json
import time

import pytest

CELL_TCP = [80, 443, 8081, 25, 587, 993, 53, 3000]
CELL_UDP = [51820, 53, 123, 5353]
ALL = [f"tcp:{p}" for p in [22, *CELL_TCP]] + [f"udp:{p}" for p in CELL_UDP]


def probe(lab, host, target, specs, netns=None, bind=None):
    cmd = ["python3", "/usr/local/bin/probe.py", *(["--bind", bind] if bind else []), target, *specs]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    res = lab.exec(host, cmd)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def opened(result):
    return sorted(spec for spec, state in result.items() if state.startswith("open"))


def _start(lab, host, unit, ports, netns=None):
    cmd = ["python3", "/usr/local/bin/listen.py", *ports]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    lab.exec(host, ["systemd-run", f"--unit={unit}", "--collect", *cmd], check=True)


@pytest.fixture(scope="module", autouse=True)
def listeners(lab):
    _start(lab, "cell", "fw-listen", [f"tcp:{p}" for p in CELL_TCP] + [f"udp:{p}" for p in CELL_UDP])
    _start(lab, "wan", "fw-listen", ["tcp:8000", "udp:8000"])
    _start(lab, "cell", "lan-listen", ["tcp:8000"], netns="lanhost")
    time.sleep(1)
    yield
    lab.exec("cell", ["systemctl", "stop", "fw-listen", "lan-listen"])
    lab.exec("wan", ["systemctl", "stop", "fw-listen"])


def test_ruleset_is_loaded_and_enabled_at_boot(cell):
    assert cell.run("nft list table inet pic").rc == 0
    assert cell.service("nftables").is_enabled
    assert cell.run("nft -c -f /etc/nftables.conf").rc == 0
    assert cell.sysctl("net.ipv4.ip_forward") == 1


def test_every_listener_answers_on_the_cell_itself(lab):
    # Loopback is always accepted: every port below does have a daemon behind it.
    assert opened(probe(lab, "cell", "127.0.0.1", ALL)) == sorted(ALL)


def test_wan_sees_only_the_enabled_public_ports(lab, host_ip):
    result = probe(lab, "wan", host_ip["cell"], ALL)
    assert opened(result) == sorted(["tcp:22", "tcp:80", "tcp:443", "udp:51820"]), result
    # Default deny: the rest is dropped without an answer (mail is off; DNS and NTP are LAN/VPN only;
    # after setup the UI's plain-HTTP port is for the LAN and the VPN).
    for spec in ["tcp:8081", "tcp:25", "tcp:587", "tcp:993", "tcp:53", "tcp:3000", "udp:53", "udp:123", "udp:5353"]:
        assert result[spec] == "filtered", (spec, result)


def test_before_setup_the_wizard_port_is_open_to_the_wan(lab, cell, host_ip, converge):
    """A fresh cell (on a VPS, say) is claimed from wherever its owner is: :8081 is open everywhere
    until setup; converging the set-up cell again closes it to the WAN."""
    try:
        res = converge({"pic_setup_completed": False})
        assert res.returncode == 0, res.stdout[-3000:]
        assert probe(lab, "wan", host_ip["cell"], ["tcp:8081"]) == {"tcp:8081": f"open: from {host_ip['wan']}"}
    finally:
        res = converge({})
        assert res.returncode == 0, res.stdout[-3000:]
    assert probe(lab, "wan", host_ip["cell"], ["tcp:8081"]) == {"tcp:8081": "filtered"}
    lan = probe(lab, "cell", "192.168.50.1", ["tcp:8081"], netns="lanhost")
    assert lan == {"tcp:8081": "open: from 192.168.50.10"}


def test_lan_client_gets_the_lan_services(lab):
    result = probe(lab, "cell", "192.168.50.1", ALL, netns="lanhost")
    assert opened(result) == sorted(
        ["tcp:22", "tcp:53", "tcp:80", "tcp:443", "tcp:8081", "udp:53", "udp:123", "udp:51820"]
    ), result
    for spec in ["tcp:25", "tcp:587", "tcp:993", "tcp:3000", "udp:5353"]:
        assert result[spec] == "filtered", (spec, result)


def test_vpn_peer_gets_the_vpn_services(lab):
    result = probe(lab, "cell", "10.0.0.1", ALL, netns="vpnhost", bind="10.0.0.3")
    # The WAN's openings plus DNS and NTP; mail is off, DHCP is LAN only.
    assert opened(result) == sorted(
        ["tcp:22", "tcp:53", "tcp:80", "tcp:443", "tcp:8081", "udp:53", "udp:123", "udp:51820"]
    ), result
    for spec in ["tcp:25", "tcp:587", "tcp:993", "tcp:3000", "udp:5353"]:
        assert result[spec] == "filtered", (spec, result)


def test_full_tunnel_peer_reaches_the_internet_masqueraded(lab, host_ip):
    result = probe(lab, "cell", host_ip["wan"], ["tcp:8000", "udp:8000"], netns="vpnhost", bind="10.0.0.2")
    masqueraded = f"open: from {host_ip['cell']}"
    assert result == {"tcp:8000": masqueraded, "udp:8000": masqueraded}


def test_split_peer_reaches_only_the_cell_networks(lab, host_ip):
    result = probe(lab, "cell", host_ip["wan"], ["tcp:8000"], netns="vpnhost", bind="10.0.0.3")
    assert result == {"tcp:8000": "filtered"}
    # The LAN is one of the cell's networks: reached, and not masqueraded.
    result = probe(lab, "cell", "192.168.50.10", ["tcp:8000"], netns="vpnhost", bind="10.0.0.3")
    assert result == {"tcp:8000": "open: from 10.0.0.3"}


def test_a_peer_made_full_route_at_once_has_egress_and_the_converge_agrees(lab, cell, host_ip, converge):
    """pic-agent adds a full-route peer's address to the live set (the set is there, empty or
    not): its egress works at once, before the converge that writes the same into the ruleset."""
    from pic_api.agent.fastpath import NFT_FULL_PEERS, NFT_TABLE

    element = f"{' '.join(NFT_TABLE)} {NFT_FULL_PEERS} {{ 10.0.0.3 }}"
    assert cell.run(f"nft add element {element}").rc == 0
    masqueraded = {"tcp:8000": f"open: from {host_ip['cell']}"}
    assert probe(lab, "cell", host_ip["wan"], ["tcp:8000"], netns="vpnhost", bind="10.0.0.3") == masqueraded
    try:
        full = [
            {"name": "laptop", "ip": "10.0.0.2", "route": "full"},
            {"name": "phone", "ip": "10.0.0.3", "route": "full"},
        ]
        res = converge({"pic_peers": full})
        assert res.returncode == 0, res.stdout[-3000:]
        assert probe(lab, "cell", host_ip["wan"], ["tcp:8000"], netns="vpnhost", bind="10.0.0.3") == masqueraded
    finally:
        res = converge({})  # phone is a split peer again: the reload takes its element out
    assert res.returncode == 0, res.stdout[-3000:]
    assert probe(lab, "cell", host_ip["wan"], ["tcp:8000"], netns="vpnhost", bind="10.0.0.3") == {
        "tcp:8000": "filtered"
    }


def test_without_full_route_peers_the_set_is_there_and_empty(cell, converge):
    res = converge({"pic_peers": [{"name": "phone", "ip": "10.0.0.3", "route": "split"}]})
    try:
        assert res.returncode == 0, res.stdout[-3000:]
        listed = cell.run("nft list set inet pic full_peers")
        assert listed.rc == 0 and "elements" not in listed.stdout, listed.stdout
    finally:
        assert converge({}).returncode == 0


def test_lan_client_reaches_the_internet_masqueraded(lab, host_ip):
    result = probe(lab, "cell", host_ip["wan"], ["tcp:8000"], netns="lanhost")
    assert result == {"tcp:8000": f"open: from {host_ip['cell']}"}


def test_wan_cannot_open_connections_into_the_lan(lab, host_ip):
    lab.exec("wan", ["ip", "route", "add", "192.168.50.0/24", "via", host_ip["cell"]], check=True)
    try:
        assert probe(lab, "wan", "192.168.50.10", ["tcp:8000"]) == {"tcp:8000": "filtered"}
    finally:
        lab.exec("wan", ["ip", "route", "del", "192.168.50.0/24"])


def test_bad_value_fails_validation_and_keeps_the_rules(lab, cell, host_ip, converge):
    before = cell.file("/etc/nftables.conf").content_string
    res = converge({"pic_lan_subnet": "192.168.50.0/33"})
    assert res.returncode != 0
    assert "failed to validate" in res.stdout + res.stderr
    assert cell.file("/etc/nftables.conf").content_string == before
    result = probe(lab, "wan", host_ip["cell"], ["tcp:80", "tcp:25"])
    assert result == {"tcp:80": f"open: from {host_ip['wan']}", "tcp:25": "filtered"}


def test_disabled_firewall_opens_up_and_comes_back(lab, cell, host_ip, converge):
    res = converge({"firewall_enabled": False})
    assert res.returncode == 0, res.stdout[-3000:]
    assert cell.run("nft list table inet pic").rc != 0
    assert not cell.service("nftables").is_enabled
    # Without the firewall the mail port's listener answers the WAN: the firewall was what shut it.
    assert probe(lab, "wan", host_ip["cell"], ["tcp:25"]) == {"tcp:25": f"open: from {host_ip['wan']}"}
    res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    assert probe(lab, "wan", host_ip["cell"], ["tcp:25"]) == {"tcp:25": "filtered"}
    assert cell.service("nftables").is_enabled


def test_the_admins_opening_and_port_forward_reach_what_they_name_and_shut_when_removed(lab, cell, host_ip, converge):
    """The Firewall page's rules: an opening of tcp 3000 to the LAN lets the LAN client reach the
    listener there and not the WAN; a port forward of tcp 8080 from the WAN and the VPN reaches the
    LAN client's listener on 8000 (seen from the caller's own address: only a LAN caller is
    masqueraded); converged twice, the second changes nothing; removed, both are shut again."""
    rules = {
        "pic_firewall_openings": [{"port": 3000, "protocol": "tcp", "zones": ["lan"]}],
        "pic_port_forwards": [{"protocol": "tcp", "port": 8080, "to": "192.168.50.10", "to_port": 8000,
                               "zones": ["wan", "vpn"]}],
    }
    try:
        res = converge(rules)
        assert res.returncode == 0, res.stdout[-3000:]
        again = converge(rules)
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
        assert probe(lab, "cell", "192.168.50.1", ["tcp:3000"], netns="lanhost") == {
            "tcp:3000": "open: from 192.168.50.10"}
        assert probe(lab, "wan", host_ip["cell"], ["tcp:3000"]) == {"tcp:3000": "filtered"}
        assert probe(lab, "wan", host_ip["cell"], ["tcp:8080"]) == {"tcp:8080": f"open: from {host_ip['wan']}"}
        assert probe(lab, "cell", "10.0.0.1", ["tcp:8080"], netns="vpnhost", bind="10.0.0.3") == {
            "tcp:8080": "open: from 10.0.0.3"}
    finally:
        res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    assert probe(lab, "cell", "192.168.50.1", ["tcp:3000"], netns="lanhost") == {"tcp:3000": "filtered"}
    assert probe(lab, "wan", host_ip["cell"], ["tcp:8080"]) == {"tcp:8080": "filtered"}
