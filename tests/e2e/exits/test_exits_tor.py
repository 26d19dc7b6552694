"""A device whose exit is Tor: its TCP goes to the cell's tor (TransPort), its DNS to tor's DNSPort,
everything else of it is dropped, and nothing of it ever leaves the cell's uplink, also when tor is
down (fail closed). The lab, the cell, the device, far and the counters are the exits' (conftest.py,
exitlab.py); the cell has a bridge set (exits_tor_bridges) for this file.

These machines cannot build Tor circuits (no route to the Tor network; tests reach only the lab).
So tor is set up to use a bridge only (`UseBridges 1`, one `Bridge` line), on exitsrv, a lab host
where nothing answers: tor contacts that lab host and nothing else, never the public directory
authorities. What is proven is the redirect, not anonymity:

1. A tor exit with a config or a DNS server is refused by field; the tor exit is added (a name and
   its kind) and the device moved to it. tor listens on the cell's VPN address only.
2. The device's TCP for far reaches tor's TransPort (the connection is accepted by the cell, and
   the redirect rule counts it); far never sees it and none of it leaves the uplink.
3. The device's DNS, to the cell or to far's resolver, goes to tor's DNSPort (counted there); no
   query leaves the uplink and far's resolver is not asked.
4. UDP other than DNS and ICMP from the device are dropped on the cell; none of it leaves.
5. tor's own traffic goes to the bridge (the lab host) and nowhere else.
6. `site.yml --tags exits` again changes nothing.
7. tor stopped: the device's connections are refused by the cell, its DNS fails, nothing leaves.
8. The device back on the uplink, the exit is removed and tor is stopped.
"""

from __future__ import annotations

import re
import time

import pytest
from exitlab import (
    BRIDGE_PORT,
    FAR,
    UPLINK_NAME,
    add_exit_for_the_device,
    back_on_the_uplink_and_removed,
    counters,
    dropped_never_leaked,
    resolve,
    routing,
    seen_by_far,
    sh,
    wait_for,
)

from pic_lab.cell import csrf

CELL_VPN = "10.0.0.1"
TRANS_PORT, DNS_PORT = 9040, 9053
# tor refuses private addresses on its TransPort (far's 172.31.255.10 is one; the cell drops a Tor
# device's TCP for them): far also holds a documentation address (TEST-NET-2), which the cell routes
# to far like FAR, so a packet of the device that leaked would reach far, never beyond the lab.
PUBLIC_FAR = "198.51.100.10"


@pytest.fixture(scope="module")
def on_tor(lab, hosts, cell, admin, device):
    sh(lab, "client", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iputils-ping")
    sh(lab, "far", f"ip addr add {PUBLIC_FAR}/32 dev host0")
    sh(lab, "cell", f"ip route add {PUBLIC_FAR}/32 via {hosts['far']}")
    peer = add_exit_for_the_device(admin, cell, {"name": "t", "kind": "tor"})
    # tor's own traffic out the uplink counted from its start: to the bridge, and anywhere else (on wg0
    # its sockets also answer the devices it serves, which is not tor reaching out)
    bridge = hosts["exitsrv"]
    probe = f"""table inet torprobe {{
    chain out {{
        type filter hook output priority 300;
        meta skuid "debian-tor" oifname "host0" ip daddr {bridge} tcp dport {BRIDGE_PORT} counter comment "bridge"
        meta skuid "debian-tor" oifname "host0" ip daddr != {bridge} counter comment "elsewhere"
        meta skuid "debian-tor" oifname "host0" meta nfproto ipv6 counter comment "elsewhere6"
    }}
    chain post {{
        type filter hook postrouting priority 300;
        oifname "host0" ip daddr {PUBLIC_FAR} counter comment "left public"
    }}
}}
"""
    sh(lab, "cell", "nft -f -", input=probe)
    sh(lab, "cell", "systemctl restart tor@default")
    yield peer
    # the cell as the other exits' files expect it (they share it): no route or counters of this file
    sh(lab, "cell", f"nft delete table inet torprobe; ip route del {PUBLIC_FAR}/32")


def tor_counters(lab) -> dict[str, int]:
    """The packets the Tor exit's rules counted (their comments: 'tor tcp roamer', ...), and tor's
    own traffic (torprobe)."""
    text = sh(lab, "cell", "nft list table inet pic_exits; nft list table inet torprobe")
    # nft prints a rule's comment last, after its verdict (the DNAT's)
    found = {m.group(2): int(m.group(1))
             for m in re.finditer(r'counter packets (\d+) bytes \d+ [^\n]*?comment "([\w ]+)"', text)}
    named = {"tor dns roamer", "tor tcp roamer", "tor drop roamer", "bridge", "elsewhere", "left public"}
    assert named <= set(found), text
    return found


def tor_state(lab) -> str:
    cmds = ["systemctl status --no-pager tor@default", "cat /etc/tor/torrc", "ss -lntup",
            "journalctl -u tor@default --no-pager -n 30 -o cat"]
    return routing(lab) + "\n".join(f"$ {c}\n{lab.exec('cell', ['bash', '-c', c]).stdout}" for c in cmds)


def connect(lab) -> tuple[int, float]:
    """curl from the device to far's public address: (curl's exit code, seconds to connect; 0: never
    connected)."""
    res = lab.exec("client", ["curl", "-s", "-o", "/dev/null", "-w", "%{time_connect}", "--max-time", "3",
                              f"http://{PUBLIC_FAR}:8000/"])
    return res.returncode, float(res.stdout.strip() or 0)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "kind": "tor", "config": "[Interface]"}, "config"),
    ({"name": "x", "kind": "tor", "dns": ["10.0.0.9"]}, "dns"),
    ({"name": "x", "kind": "onion"}, "kind"),
])
def test_a_bad_tor_exit_is_refused_by_field(cell, admin, body, field):
    r = admin.post(f"{cell.https}/api/exits", json=body, headers=csrf(admin), timeout=30)
    assert r.status_code == 400 and field in r.json()["fields"], r.text


def test_tor_listens_on_the_cells_vpn_address_only_and_knows_only_the_bridge(lab, hosts, on_tor):
    assert on_tor["exit"] == "t"
    assert wait_for(lambda: lab.exec("cell", ["systemctl", "is-active", "tor@default"]).stdout.strip() == "active",
                    30), tor_state(lab)
    listening = sh(lab, "cell", "ss -Hlntu")
    assert re.search(rf"tcp\s+LISTEN.*\s{re.escape(CELL_VPN)}:{TRANS_PORT}\s", listening), listening
    assert re.search(rf"udp\s+UNCONN.*\s{re.escape(CELL_VPN)}:{DNS_PORT}\s", listening), listening
    assert ":9050 " not in listening, listening  # no SOCKS port
    torrc = sh(lab, "cell", "cat /etc/tor/torrc")
    assert "UseBridges 1" in torrc and f"Bridge {hosts['exitsrv']}:{BRIDGE_PORT}" in torrc, torrc


def test_the_devices_tcp_reaches_tors_transport_and_never_the_uplink(lab, on_tor):
    before, tor_before = counters(lab), tor_counters(lab)
    code, connected = connect(lab)
    # the cell's tor accepted the connection (it cannot carry it: no circuit), so curl timed out
    assert code == 28 and connected > 0, (code, connected, tor_state(lab))
    tor_found = {k: v - tor_before[k] for k, v in tor_counters(lab).items()}
    assert tor_found["tor tcp roamer"] == 1 and tor_found["left public"] == 0, (tor_found, tor_state(lab))
    # a private address beyond the cell (far's own): tor would refuse it, the cell drops it
    assert seen_by_far(lab) is None
    found = {k: v - before[k] for k, v in counters(lab).items()}
    tor_found = {k: v - tor_before[k] for k, v in tor_counters(lab).items()}
    assert tor_found["tor tcp roamer"] == 1 and tor_found["tor drop roamer"] > 0, (tor_found, tor_state(lab))
    assert found["arrived"] > 0 and found["left"] == 0, (found, tor_state(lab))
    assert "Rejecting request" not in sh(lab, "cell", "journalctl -u tor@default --no-pager -o cat")


def test_the_devices_dns_goes_to_tors_dnsport_and_never_the_uplink(lab, hosts, on_tor):
    before, tor_before = counters(lab), tor_counters(lab)
    far_before = sh(lab, "far", "journalctl -u answerer --no-pager -o cat | wc -l")
    # to the cell's resolver address and to far's resolver (at far's address beyond the lab subnet, which
    # the device's tunnel carries): both end at tor's DNSPort
    resolve(lab, UPLINK_NAME)
    lab.exec("client", ["dig", f"@{FAR}", "+tries=1", "+time=2", UPLINK_NAME, "A"])
    tor_found = {k: v - tor_before[k] for k, v in tor_counters(lab).items()}
    found = {k: v - before[k] for k, v in counters(lab).items()}
    assert tor_found["tor dns roamer"] >= 2, (tor_found, tor_state(lab))
    assert found["dns_left"] == 0, (found, tor_state(lab))
    assert sh(lab, "far", "journalctl -u answerer --no-pager -o cat | wc -l") == far_before


def test_the_devices_other_udp_and_icmp_are_dropped_on_the_cell(lab, on_tor):
    before, tor_before = counters(lab), tor_counters(lab)
    lab.exec("client", ["bash", "-c", f"echo hello > /dev/udp/{FAR}/9999"])
    ping = lab.exec("client", ["ping", "-c", "2", "-W", "1", FAR])
    assert ping.returncode != 0, ping.stdout
    tor_found = {k: v - tor_before[k] for k, v in tor_counters(lab).items()}
    found = {k: v - before[k] for k, v in counters(lab).items()}
    assert tor_found["tor drop roamer"] >= 3, (tor_found, tor_state(lab))
    assert found["arrived"] >= 3 and found["left"] == 0, (found, tor_state(lab))


def test_tor_contacts_the_bridge_and_nothing_else(lab, on_tor):
    # tor tries its bridge soon after it starts (on_tor restarted it with the counters in place)
    assert wait_for(lambda: tor_counters(lab)["bridge"] > 0, 60), tor_state(lab)
    found = tor_counters(lab)
    assert found["elsewhere"] == 0 and found["elsewhere6"] == 0, (found, tor_state(lab))


def test_the_exits_list_shows_tor_running(cell, admin, on_tor):
    ex = admin.get(f"{cell.https}/api/exits/t", timeout=30).json()["exit"]
    assert ex["kind"] == "tor" and ex["devices"] == ["roamer"] and ex["keys_stored"] is True, ex
    assert ex["live"]["unit"] == "active" and ex["live"]["up"] is True, ex


def test_converging_the_tor_exit_again_changes_nothing(cell, on_tor):
    again = cell.converge("--tags", "exits")
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, f"changed on a no-op converge: {again.changed_tasks()}"


def test_tor_down_refuses_the_devices_traffic_never_the_uplink(lab, cell, admin, on_tor):
    sh(lab, "cell", "systemctl stop tor@default")
    try:
        before = tor_counters(lab)
        code, connected = connect(lab)
        assert code == 7 and connected == 0, (code, connected)  # refused by the cell itself
        assert tor_counters(lab)["left public"] == before["left public"]
        dropped_never_leaked(lab)
        live = admin.get(f"{cell.https}/api/exits/t", timeout=30).json()["exit"]["live"]
        assert live["up"] is False and "inactive" in live["reason"], live
    finally:
        sh(lab, "cell", "systemctl start tor@default")
    assert wait_for(lambda: connect(lab)[1] > 0, 30), tor_state(lab)


def test_the_tor_exit_goes_once_unused(lab, hosts, cell, admin, on_tor):
    found = tor_counters(lab)
    assert found["elsewhere"] == 0 and found["elsewhere6"] == 0, (found, tor_state(lab))
    back_on_the_uplink_and_removed(lab, hosts, admin, cell, "t")
    assert lab.exec("cell", ["systemctl", "is-active", "tor@default"]).stdout.strip() != "active"
    assert "tor" not in sh(lab, "cell", "nft list table inet pic_exits")
    time.sleep(1)
    assert sh(lab, "cell", "ss -Hlntu | grep -c ':9040 ' || true").strip() == "0"
