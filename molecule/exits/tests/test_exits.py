"""The exits role on a fresh lab cell: a WireGuard exit (a) to a real upstream server (exitsrv) and
the Tor exit (t), whose bridge is a port on exitsrv where nothing listens. No device host: what a
device's packets get is proven by the marks and routes the cell applies, and by connections the
cell makes itself with the exit's mark (SO_MARK); the e2e tests (tests/e2e/exits) drive a real device.

The tests run in order: what converge left (the packages installed on the bare host, tor never run
with the package's own configuration, the exit's tunnel, rules and routes), fail closed while the
exit's tunnel is down, then the scenario's converge again with bad exits (refused, nothing written)
and with no exits (everything of them stopped and removed). Traffic goes only to lab hosts: the
address "beyond" the exit is held by exitsrv, and prepare.yml's guard on the cell drops and counts
anything but apt's downloads that would leave for beyond the lab (the last test wants none, and
proves that it counts).
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from pic_lab.testing import run_converge

SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parent.parent))
TEST = yaml.safe_load((SCENARIO / "vars" / "exits.yml").read_text())["exits_test"]
CELL_VPN = str(next(ipaddress.ip_network(TEST["vpn_subnet"]).hosts()))
TUNNEL_ADDRESS = TEST["cell"]["address"].split("/")[0]
BEYOND = TEST["beyond"]
# Exits sorted by name from the role's bases: a is mark 0x1000 and table 4096, t 0x1001 and 4097.
MARK = {"a": 0x1000, "t": 0x1001}
TABLE = {"a": 4096, "t": 4097}
RULE = {"a": 5000, "t": 5001}
CATCH_ALL = 5255
TRANS_PORT, DNS_PORT = 9040, 9053

# A TCP connection from the cell with a packet mark, as a device's packets get theirs: prints what
# exitsrv's server answers (the address it saw the connection come from), or the error's number.
CONNECT = """import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, int(sys.argv[3]))
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(s.recv(100).decode())
except OSError as e:
    print("errno", e.errno)
"""


def sh(lab, host: str, script: str) -> str:
    return lab.exec(host, ["bash", "-c", script], check=True).stdout


def connect(lab, mark: int) -> str:
    res = lab.exec("cell", ["python3", "-c", CONNECT, BEYOND, str(TEST["echo_port"]), str(mark)], check=True)
    return res.stdout.strip()


def route_get(lab, mark: int) -> str:
    """`ip route get` for the address beyond with MARK: the route, or why there is none."""
    res = lab.exec("cell", ["ip", "-4", "route", "get", BEYOND, "mark", str(mark)])
    return res.stdout + res.stderr


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def state(lab) -> str:
    """The cell's exits, for a failure's message."""
    cmds = ["ip -4 rule", "ip -4 route show table 4096", "wg show", "nft list ruleset",
            "systemctl status --no-pager wg-quick@exit-a tor@default", "ss -Hlntu"]
    return "\n".join(f"$ {c}\n{lab.exec('cell', ['bash', '-c', c]).stdout}" for c in cmds)


@pytest.fixture(scope="module")
def exitsrv(host_ip) -> str:
    return host_ip["exitsrv"]


# --- what converge left ------------------------------------------------------------------------

def test_the_role_installed_wireguard_and_tor_on_the_bare_host(lab):
    log = sh(lab, "cell", "cat /var/log/dpkg.log")
    for package in ("wireguard-tools", "wireguard-go", "tor"):
        assert re.search(rf" install {package}:", log), f"{package} was not installed by the converge"
    # no recommends: no kernel image with wireguard-tools, no torsocks with tor
    assert not re.search(r" install (linux-image-|torsocks)", log)


def test_tor_never_ran_with_the_packages_configuration(lab):
    journal = sh(lab, "cell", "journalctl -u tor@default --no-pager -o short-unix")
    written = float(sh(lab, "cell", "stat -c %Y /etc/tor/torrc"))
    # masked while the package was installed: the unit's first line is after the cell's torrc was written
    assert float(journal.split()[0]) >= written, journal[:2000]
    # The package's configuration (its defaults' SocksPort 9050 and socket) would have opened SOCKS
    # listeners; the cell's (SocksPort 0) opens its TransPort and DNSPort on the VPN address only.
    assert "Socks listener" not in journal, journal
    opened = set(re.findall(r"Opened (.+?) listener connection \(ready\) on (\S+)", journal))
    wanted = {("Transparent pf/netfilter", f"{CELL_VPN}:{TRANS_PORT}"), ("DNS", f"{CELL_VPN}:{DNS_PORT}")}
    assert wanted <= opened, journal


def test_tor_runs_with_the_cells_torrc_on_the_vpn_address(lab, exitsrv):
    assert sh(lab, "cell", "systemctl is-active tor@default").strip() == "active"
    listening = sh(lab, "cell", "ss -Hlntu")
    assert re.search(rf"tcp\s+LISTEN.*\s{re.escape(CELL_VPN)}:{TRANS_PORT}\s", listening), listening
    assert re.search(rf"udp\s+UNCONN.*\s{re.escape(CELL_VPN)}:{DNS_PORT}\s", listening), listening
    assert ":9050 " not in listening, listening
    torrc = sh(lab, "cell", "cat /etc/tor/torrc")
    assert "SocksPort 0" in torrc and f"Bridge {exitsrv}:{TEST['bridge_port']}" in torrc, torrc


def test_each_exits_mark_is_ruled_to_its_table(lab):
    rules = sh(lab, "cell", "ip -4 rule")
    for name in ("a", "t"):
        assert f"{RULE[name]}:\tfrom all fwmark {MARK[name]:#x} lookup {TABLE[name]}" in rules, rules
    # a marked packet no exit's rule takes is never routed by the main table
    assert re.search(rf"^{CATCH_ALL}:\s+from all fwmark 0x1000/0xff00 unreachable", rules, re.M), rules


def test_the_devices_are_marked_for_their_exit_or_sent_to_tor(lab):
    roamer, hidden = (p["ip"] for p in TEST["exit_peers"])
    table = sh(lab, "cell", "nft list table inet pic_exits")
    assert re.search(rf'ip saddr {roamer} .*meta mark set 0x0*{MARK["a"]:x}\b', table), table
    assert re.search(rf'ip saddr {hidden} .*dnat ip to {CELL_VPN}:{TRANS_PORT}', table), table
    assert not re.search(rf'ip saddr {hidden} .*meta mark set', table), table


def test_the_exits_mark_leaves_through_its_tunnel_to_the_exit_server(lab, exitsrv):
    assert f"dev exit-a table {TABLE['a']} src {TUNNEL_ADDRESS}" in route_get(lab, MARK["a"]), state(lab)
    # unmarked: the main table (the uplink); the Tor exit's mark: nothing is routed out
    assert "dev host0" in route_get(lab, 0)
    assert "No route to host" in route_get(lab, MARK["t"])
    # the first connection also makes the handshake; exitsrv sees it from the cell's tunnel address
    assert wait_until(lambda: connect(lab, MARK["a"]) == TUNNEL_ADDRESS), (connect(lab, MARK["a"]), state(lab))
    handshakes = sh(lab, "cell", "wg show exit-a latest-handshakes").split()
    assert handshakes[0] == TEST["server"]["public_key"] and int(handshakes[1]) > 0
    endpoints = sh(lab, "exitsrv", "wg show wg0 endpoints").split()
    assert endpoints[1].startswith(f"{lab.host_info('cell')['ip']}:"), endpoints


def test_the_exit_fails_closed_while_its_tunnel_is_down(lab):
    sh(lab, "cell", "systemctl stop wg-quick@exit-a")
    try:
        # the rule stays, and its table's unreachable default is all it has
        assert sh(lab, "cell", f"ip -4 route show table {TABLE['a']}").strip() == "unreachable default metric 4096"
        assert "No route to host" in route_get(lab, MARK["a"])
        assert connect(lab, MARK["a"]) == "errno 113"  # EHOSTUNREACH: refused at once, never sent
    finally:
        sh(lab, "cell", "systemctl start wg-quick@exit-a")
    assert "dev exit-a" in route_get(lab, MARK["a"])
    assert wait_until(lambda: connect(lab, MARK["a"]) == TUNNEL_ADDRESS), state(lab)


# --- converged again ---------------------------------------------------------------------------

def test_a_bad_exit_is_refused_and_nothing_is_written(lab, exitsrv):
    files = "/etc/wireguard/exit-a.conf /etc/wireguard/pic-exits.nft /usr/local/sbin/pic-exits-routes /etc/tor/torrc"
    before = sh(lab, "cell", f"sha256sum {files}")
    wireguard = {"kind": "wireguard", "endpoint": f"{exitsrv}:{TEST['server']['port']}"}
    cases = {
        "exits: exit a has an invalid key or address": {
            "pic_exits": [{"name": "a", **wireguard, "address": TEST["cell"]["address"], "public_key": "not-a-key"}],
            "pic_exit_peers": []},
        "exits: device roamer names no exit of the cell (gone)": {
            "pic_exit_peers": [{"name": "roamer", "ip": TEST["exit_peers"][0]["ip"], "exit": "gone"}]},
        # a new exit whose key the API never wrote
        "exits: /etc/pic/exits/b.key is missing": {
            "pic_exits": [{"name": "b", **wireguard, "address": "10.66.67.2/32",
                           "public_key": TEST["server"]["public_key"]}],
            "pic_exit_peers": []},
    }
    # Side by side: each fails before it writes anything.
    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(run_converge, cases.values()), strict=True))
    for message, res in results.items():
        assert res.returncode != 0 and message in res.stdout + res.stderr, res.stdout[-3000:]
    assert sh(lab, "cell", f"sha256sum {files}") == before
    assert lab.exec("cell", ["test", "-e", "/etc/wireguard/exit-b.conf"]).returncode != 0
    assert connect(lab, MARK["a"]) == TUNNEL_ADDRESS
    assert sh(lab, "cell", "systemctl is-active tor@default").strip() == "active"


def test_no_exits_any_more_stops_and_removes_them(lab):
    res = run_converge({"pic_exits": [], "pic_exit_peers": []})
    assert res.returncode == 0, res.stdout[-3000:]
    assert lab.exec("cell", ["ip", "link", "show", "exit-a"]).returncode != 0
    assert lab.exec("cell", ["systemctl", "is-enabled", "wg-quick@exit-a"]).stdout.strip() == "disabled"
    assert lab.exec("cell", ["test", "-e", "/etc/wireguard/exit-a.conf"]).returncode != 0
    # No exit's rule or route is left; the catch-all for the exits' marks stays (no packet gets one).
    rules = sh(lab, "cell", "ip -4 rule")
    assert not re.search(r"^50(\d\d):", rules, re.M) and f"{CATCH_ALL}:" in rules, rules
    for table in TABLE.values():
        assert sh(lab, "cell", f"ip -4 route show table {table}").strip() == ""
    table = sh(lab, "cell", "nft list table inet pic_exits")
    assert "mark set" not in table and "dnat" not in table, table
    # tor stopped and masked: it does not start again at boot
    assert lab.exec("cell", ["systemctl", "is-active", "tor@default"]).stdout.strip() == "inactive"
    assert lab.exec("cell", ["systemctl", "is-enabled", "tor@default"]).stdout.strip() == "masked"
    assert f":{TRANS_PORT} " not in sh(lab, "cell", "ss -Hlnt")


def guard_counts(lab) -> list[int]:
    return [int(n) for n in re.findall(r"counter packets (\d+)", sh(lab, "cell", "nft list table inet lab_guard"))]


def test_nothing_but_apt_left_the_cell_for_beyond_the_lab(lab):
    assert guard_counts(lab) == [0, 0], sh(lab, "cell", "nft list ruleset")
    # The guard counts what it should: one unmarked packet for the address beyond, with a TTL of 1
    # (were the guard not there, it would end at the lab's bridge, this machine).
    # (A dropped packet fails the send: its exit code says nothing.)
    probe = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
             "s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1); s.sendto(b'x', (sys.argv[1], 9))")
    lab.exec("cell", ["python3", "-c", probe, BEYOND])
    assert guard_counts(lab) == [1, 0]
