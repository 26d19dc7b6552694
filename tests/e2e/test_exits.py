"""A device's traffic leaves through an upstream WireGuard server, and never the cell's uplink when
that exit is down (fail closed).

Topology (one lab bridge, its subnet S; the bridge stands for the internet):

    client ──wg0 (full route)──> cell ──exit-a (WireGuard)──> exitsrv ──> far (172.31.255.10)
                                  └──────── host0 (the cell's uplink) ──────────┘

- cell: site.yml set up headless (the wireguard service); the exits role under test.
- client: a VPN device of the cell with a full-route tunnel.
- exitsrv: the upstream exit server: Debian's wireguard-tools (wireguard-go in the lab), a wg0 for
  the cell's exit, forwarding and a masquerade to its own address, like a VPN provider.
- far: an "internet" host holding 172.31.255.10 (outside S, so outside the cell's own networks,
  which a device reaches directly whatever its exit) with an HTTP server that echoes the address
  it is called from. The cell and exitsrv reach it with a host route by far's address on S.

1. Without an exit, far sees the device's requests from the cell's address (the cell's masquerade).
2. An exit added from the provider's wg-quick config (its keys only in 0600 files), the device
   moved to it through the API: far sees the exit server's address, the exits list shows its tunnel
   up with a recent handshake; `site.yml --tags exits` again changes nothing.
3. The exit server's WireGuard stopped: the device's requests fail, and a counter on the cell's
   uplink shows none of them left there. The cell's own exit tunnel stopped: the same (its table's
   unreachable default); both back: the exit carries the device again.
DNS (no leak): the cell's resolver (dnsmasq) asks far, its upstream, over the uplink; the exit's
resolver is a tiny answerer on exitsrv (the DNS = of the provider's config). A device on the exit
asking the cell's address gets the exit's answer (a name only that resolver knows), nothing of it
leaves the uplink as DNS, and the exit's resolver saw the query come through the tunnel.

4. The exit cannot be removed while the device uses it (409); the device back on the uplink, the
   exit is removed with its tunnel and key files.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from pic_lab.cell import Cell, client_wg_config, csrf, follow_run
from pic_lab.lab import throwaway_lab

ADMIN_PASSWORD = "exits for every device 9"  # test data, this lab cell only
FAR = "172.31.255.10"
EXIT_PORT = 51821
EXIT_NET = "10.66.66"
# Names only one resolver knows: far's (the cell's upstream, over the uplink) and the exit's.
UPLINK_NAME, UPLINK_ANSWER = "only.uplink.test", "192.0.2.11"
EXIT_NAME, EXIT_ANSWER = "only.exit.test", "192.0.2.66"
# A DNS answerer: one A record, NXDOMAIN for every other name; each query it gets is printed (its
# journal says where queries came from).
ANSWERER = """import socket, struct, sys
name, address = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    q, peer = s.recvfrom(1500)
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    if len(q) < i + 5:
        continue
    asked, qtype = ".".join(labels).lower(), struct.unpack(">H", q[i + 1:i + 3])[0]
    print("query", asked, "from", peer[0], flush=True)
    head = q[:2] + struct.pack(">H", 0x8180 if asked == name else 0x8183)
    if asked == name and qtype == 1:
        answer = b"\\xc0\\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
        s.sendto(head + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:i + 5] + answer, peer)
    else:
        s.sendto(head + struct.pack(">HHHH", 1, 0, 0, 0) + q[12:i + 5], peer)
"""


@pytest.fixture(scope="module")
def lab(request):
    # a module that shares these fixtures names a lab of its own (its LAB): e2e files run side by side
    with throwaway_lab(getattr(request.module, "LAB", "exits"), "e2e") as lab:
        yield lab


def sh(lab, host: str, script: str, input: str | None = None):
    res = lab.exec(host, ["bash", "-c", script], input=input)
    assert res.returncode == 0, f"{host}: {script}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def hosts(lab):
    for name in ("cell", "client", "exitsrv", "far"):
        lab.up(name, image="provisioned")
    ips = {name: lab.host_info(name)["ip"] for name in ("cell", "client", "exitsrv", "far")}
    tools = ("DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
             "-y -qq --no-install-recommends wireguard-tools wireguard-go curl iptables nftables python3 "
             "bind9-dnsutils")
    for name in ("client", "exitsrv"):
        sh(lab, name, tools)
    # far: the echo server on an address beyond the lab's subnet
    echo = ("import http.server as h\n"
            "class H(h.BaseHTTPRequestHandler):\n"
            "    def do_GET(s):\n"
            "        s.send_response(200); s.end_headers(); s.wfile.write(s.client_address[0].encode())\n"
            f"h.HTTPServer(('{FAR}', 8000), H).serve_forever()\n")
    sh(lab, "far", f"ip addr add {FAR}/32 dev host0")
    assert lab.exec("far", ["systemd-run", "--unit=far-echo", "python3", "-c", echo]).returncode == 0
    sh(lab, "exitsrv", f"ip route add {FAR}/32 via {ips['far']}")
    # the resolvers: far's is the cell's upstream, exitsrv's the exit's (the provider's DNS =)
    for host, name, address in (("far", UPLINK_NAME, UPLINK_ANSWER), ("exitsrv", EXIT_NAME, EXIT_ANSWER)):
        run = ["systemd-run", "--unit=answerer", "python3", "-c", ANSWERER, name, address]
        assert lab.exec(host, run).returncode == 0
    return ips


@pytest.fixture(scope="module")
def provider(lab, hosts):
    """The exit server up, and the wg-quick config a provider would hand out for the cell."""
    keys = sh(lab, "exitsrv", "umask 077; s=$(wg genkey); c=$(wg genkey); p=$(wg genpsk); "
              "echo $s $(echo $s | wg pubkey) $c $(echo $c | wg pubkey) $p").split()
    server_private, server_public, cell_private, cell_public, psk = keys
    server = f"""[Interface]
Address = {EXIT_NET}.1/24
ListenPort = {EXIT_PORT}
PrivateKey = {server_private}
PostUp = echo 1 > /proc/sys/net/ipv4/ip_forward
PostUp = nft add table ip exitnat
PostUp = nft add chain ip exitnat post '{{ type nat hook postrouting priority srcnat; }}'
PostUp = nft add rule ip exitnat post ip saddr {EXIT_NET}.0/24 oifname host0 masquerade
PostDown = nft delete table ip exitnat

[Peer]
PublicKey = {cell_public}
PresharedKey = {psk}
AllowedIPs = {EXIT_NET}.2/32
"""
    sh(lab, "exitsrv", "umask 077; cat > /etc/wireguard/wg0.conf", input=server)
    sh(lab, "exitsrv", "wg-quick up wg0")
    config = f"""[Interface]
PrivateKey = {cell_private}
Address = {EXIT_NET}.2/32
DNS = {EXIT_NET}.1

[Peer]
PublicKey = {server_public}
PresharedKey = {psk}
Endpoint = {hosts['exitsrv']}:{EXIT_PORT}
AllowedIPs = 0.0.0.0/0
PersistentKeepalive = 25
"""
    return {"config": config, "private": cell_private, "psk": psk, "server_public": server_public}


# Counters on the cell: what reaches it from devices for far ("arrived"), and what leaves its uplink
# for far ("left"; "left_marked": of those, the ones marked for an exit).
PROBE = f"""table inet probe {{
    chain pre {{
        type filter hook prerouting priority -300;
        iifname "wg0" ip daddr {FAR} counter comment "arrived"
    }}
    chain out {{
        type filter hook postrouting priority 300;
        oifname "host0" ip daddr {FAR} counter comment "left"
        oifname "host0" ip daddr {FAR} meta mark & 0xff00 == 0x1000 counter comment "left_marked"
        oifname "host0" meta l4proto {{ tcp, udp }} th dport 53 counter comment "dns_left"
    }}
}}
"""


def make_cell(lab, hosts, tmp_path_factory, **more) -> Cell:
    """The cell set up headless with site.yml (``more``: further inventory variables), far's route and
    the counters (PROBE) on it."""
    # the VPN subnet pinned, as an inventory may (the device's and the cell's addresses below)
    setup = {"pic_setup_completed": True, "pic_admin_password": ADMIN_PASSWORD, "pic_cell_name": "home",
             "pic_vpn_subnet": "10.0.0.0/24",
             "pic_services": ["wireguard", "dns"], "pic_upstream_dns": [hosts["far"]], **more}
    cell = Cell(lab, lab.write_inventory(tmp_path_factory.mktemp("cell"), {"cells": ["cell"]}, setup))
    result = cell.converge()
    assert result.rc == 0, result.output[-6000:]
    print(f"site.yml converged the cell in {result.seconds:.0f} s")
    sh(lab, "cell", f"ip route add {FAR}/32 via {hosts['far']}")
    # Counters on the cell: what reaches it from devices for far, and what leaves its uplink for far.
    sh(lab, "cell", "nft -f -", input=PROBE)
    return cell


@pytest.fixture(scope="module")
def cell(lab, hosts, tmp_path_factory) -> Cell:
    return make_cell(lab, hosts, tmp_path_factory)


@pytest.fixture(scope="module")
def admin(cell, tmp_path_factory) -> requests.Session:
    return cell.https_login(ADMIN_PASSWORD, tmp_path_factory.mktemp("root"))


def finished(admin, cell, run_id: str) -> dict:
    follow_run(admin, cell.https, run_id)
    deadline = time.monotonic() + 600
    while True:
        run = admin.get(f"{cell.https}/api/runs/{run_id}", timeout=30).json()
        if run["status"] not in ("pending", "running") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert run["status"] == "successful", run
    return run


@pytest.fixture(scope="module")
def device(lab, cell, admin):
    """A full-route VPN device of the cell, its tunnel up on the client."""
    r = admin.post(f"{cell.https}/api/peers", json={"name": "roamer", "route": "full"}, headers=csrf(admin),
                   timeout=30)
    assert r.status_code == 201, r.text
    finished(admin, cell, r.json()["run_id"])
    config, _ = client_wg_config(r.json()["config"], str(lab.subnet))
    sh(lab, "client", "umask 077; cat > /etc/wireguard/wg0.conf", input=config)
    sh(lab, "client", "wg-quick up wg0")
    return r.json()["peer"]


def seen_by_far(lab) -> str | None:
    """The address far sees the device's request from; None when the request fails."""
    res = lab.exec("client", ["curl", "-s", "--max-time", "3", f"http://{FAR}:8000/"])
    return res.stdout.strip() if res.returncode == 0 else None


def wait_for(predicate, timeout: float = 30, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def counters(lab) -> dict[str, int]:
    """The probe's counters by name (PROBE). They are compared, not reset: `nft reset counters`
    (nftables 1.0.6) resets named counter objects only, not a rule's own counter."""
    text = sh(lab, "cell", "nft list table inet probe")
    found = {m.group(2): int(m.group(1)) for m in re.finditer(r'counter packets (\d+) bytes \d+ comment "(\w+)"', text)}
    assert set(found) == {"arrived", "left", "left_marked", "dns_left"}, text
    return found


def routing(lab) -> str:
    """What the cell's routing says, for a failure's message."""
    cmds = ["ip -4 rule", "ip -4 route show table 4096", f"ip -4 route get {FAR} from 10.0.0.2 iif wg0 mark 0x1000",
            "nft list table inet pic_exits", "nft list table inet probe", "wg show exit-a", "ip -s link show exit-a"]
    return "\n".join(f"$ {c}\n{lab.exec('cell', ['bash', '-c', c]).stdout}" for c in cmds)


def resolve(lab, name: str) -> tuple[str, str]:
    """(status, answer) of the device asking the cell's DNS address for NAME's A record with dig:
    ("NOERROR", "192.0.2.66"), ("NXDOMAIN", ""), or ("", "") when no answer came."""
    res = lab.exec("client", ["dig", "@10.0.0.1", "+tries=1", "+time=3", "+nocookie", name, "A"])
    status = re.search(r"status: (\w+)", res.stdout)
    answer = re.search(rf"^{re.escape(name)}\.\s+\d+\s+IN\s+A\s+(\S+)", res.stdout, re.M)
    return (status.group(1) if status else "", answer.group(1) if answer else "")


def dropped_never_leaked(lab) -> None:
    """The device's requests for far fail and so does its DNS; they reached the cell, and none left
    its uplink."""
    before = counters(lab)
    seen = [seen_by_far(lab) for _ in range(3)]
    asked = resolve(lab, EXIT_NAME)
    found = {k: v - before[k] for k, v in counters(lab).items()}
    assert seen == [None] * 3 and found["arrived"] > 0 and found["left"] == 0, (seen, found, routing(lab))
    assert asked == ("", "") and found["dns_left"] == 0, (asked, found, routing(lab))


def test_without_an_exit_far_sees_the_cell(lab, hosts, device):
    assert wait_for(lambda: seen_by_far(lab), 20) == hosts["cell"]


def test_without_an_exit_the_cells_resolver_asks_over_the_uplink(lab, device):
    """The control of the DNS test below: the counter sees a query the cell's resolver forwards."""
    before = counters(lab)
    assert resolve(lab, UPLINK_NAME) == ("NOERROR", UPLINK_ANSWER)
    assert counters(lab)["dns_left"] > before["dns_left"]


def add_exit_for_the_device(admin, cell, body: dict) -> dict:
    """The exit added (a converge of the exits role alone) and the device moved to it; the device."""
    r = admin.post(f"{cell.https}/api/exits", json=body, headers=csrf(admin), timeout=30)
    assert r.status_code == 202, r.text
    run = finished(admin, cell, r.json()["run_id"])
    assert run["tags"] == ["exits"], run
    r = admin.patch(f"{cell.https}/api/peers/roamer", json={"exit": body["name"]}, headers=csrf(admin), timeout=30)
    assert r.status_code == 200, r.text
    finished(admin, cell, r.json()["run_id"])
    return r.json()["peer"]


@pytest.fixture(scope="module")
def on_exit(lab, cell, admin, provider, device):
    return add_exit_for_the_device(admin, cell, {"name": "a", "config": provider["config"]})


def test_a_bad_exit_config_is_refused_by_field(cell, admin, provider):
    bad = provider["config"].replace("AllowedIPs = 0.0.0.0/0", "AllowedIPs = 10.66.66.0/24")
    r = admin.post(f"{cell.https}/api/exits", json={"name": "b", "config": bad}, headers=csrf(admin), timeout=30)
    assert r.status_code == 400 and "config.AllowedIPs" in r.json()["fields"], r.text


def test_on_the_exit_far_sees_the_exit_server(lab, hosts, on_exit):
    assert on_exit["exit"] == "a"
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 20), seen_by_far(lab)
    shakes = sh(lab, "cell", "wg show exit-a latest-handshakes").split()
    assert len(shakes) == 2 and int(shakes[1]) > 0


def test_the_exits_list_shows_its_tunnel_up_with_a_recent_handshake(lab, cell, admin, on_exit):
    assert wait_for(lambda: seen_by_far(lab), 20)  # traffic through the tunnel
    live = admin.get(f"{cell.https}/api/exits/a", timeout=30).json()["exit"]["live"]
    assert live["unit"] == "active" and live["up"] is True, live
    assert live["latest_handshake"] > 0 and 0 <= live["now"] - live["latest_handshake"] < 180, live
    assert live["rx"] > 0 and live["tx"] > 0, live
    assert live["endpoint"].startswith(f"{lab.host_info('exitsrv')['ip']}:"), live


def test_on_the_exit_dns_is_the_exits_resolver_through_the_tunnel(lab, on_exit):
    assert wait_for(lambda: resolve(lab, EXIT_NAME) == ("NOERROR", EXIT_ANSWER), 20), resolve(lab, EXIT_NAME)
    before = counters(lab)
    assert resolve(lab, EXIT_NAME) == ("NOERROR", EXIT_ANSWER)
    # the cell's own resolver (and its upstream) is not asked: far's name is unknown there
    assert resolve(lab, UPLINK_NAME) == ("NXDOMAIN", "")
    found = counters(lab)["dns_left"] - before["dns_left"]
    assert found == 0, (found, routing(lab))
    seen = sh(lab, "exitsrv", "journalctl -u answerer --no-pager -o cat")
    assert f"query {EXIT_NAME} from {EXIT_NET}.2" in seen, seen  # the cell's tunnel address: via the exit


def test_the_exits_keys_are_files_only(lab, cell, provider, on_exit):
    for name in ("a.key", "a.psk"):
        assert sh(lab, "cell", f"stat -c %a /etc/pic/exits/{name}").strip() == "600"
    assert sh(lab, "cell", "cat /etc/pic/exits/a.key").strip() == provider["private"]
    leaks = lab.exec("cell", ["grep", "-rlF", "-e", provider["private"], "-e", provider["psk"], "/etc/pic/cell.yml",
                              "/var/lib/pic/state", "/var/lib/pic/runs", "/var/log/pic", "/etc/wireguard"])
    assert leaks.stdout == "", leaks.stdout
    journal = lab.exec("cell", ["journalctl", "--no-pager", "-q"]).stdout
    assert provider["private"] not in journal and provider["psk"] not in journal


def test_converging_the_exits_again_changes_nothing(cell, on_exit):
    again = cell.converge("--tags", "exits")
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, f"changed on a no-op converge: {again.changed_tasks()}"


def test_exit_server_down_drops_the_traffic_never_the_uplink(lab, hosts, on_exit):
    sh(lab, "exitsrv", "wg-quick down wg0")
    try:
        dropped_never_leaked(lab)
    finally:
        sh(lab, "exitsrv", "wg-quick up wg0")
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 30), seen_by_far(lab)


def test_exit_tunnel_down_on_the_cell_is_unreachable_never_the_uplink(lab, hosts, on_exit):
    sh(lab, "cell", "systemctl stop wg-quick@exit-a")
    try:
        route = lab.exec("cell", ["ip", "-4", "route", "show", "table", "4096"]).stdout
        assert route.strip().startswith("unreachable default"), route
        dropped_never_leaked(lab)
    finally:
        sh(lab, "cell", "systemctl start wg-quick@exit-a")
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 30), seen_by_far(lab)


def back_on_the_uplink_and_removed(lab, hosts, admin, cell, name: str) -> None:
    """The device back on the cell's uplink (far sees the cell again), then the exit removed."""
    r = admin.patch(f"{cell.https}/api/peers/roamer", json={"exit": ""}, headers=csrf(admin), timeout=30)
    assert r.status_code == 200 and "exit" not in r.json()["peer"], r.text
    finished(admin, cell, r.json()["run_id"])
    assert wait_for(lambda: seen_by_far(lab) == hosts["cell"], 20), seen_by_far(lab)
    r = admin.delete(f"{cell.https}/api/exits/{name}", headers=csrf(admin), timeout=30)
    assert r.status_code == 202, r.text
    finished(admin, cell, r.json()["run_id"])


def test_an_exit_in_use_stays_and_goes_once_unused(lab, hosts, cell, admin, on_exit):
    r = admin.delete(f"{cell.https}/api/exits/a", headers=csrf(admin), timeout=30)
    assert r.status_code == 409 and "roamer" in r.json()["fields"]["name"], r.text
    back_on_the_uplink_and_removed(lab, hosts, admin, cell, "a")
    assert lab.exec("cell", ["ip", "link", "show", "exit-a"]).returncode != 0
    assert lab.exec("cell", ["test", "-e", "/etc/wireguard/exit-a.conf"]).returncode != 0
    assert sh(lab, "cell", "ls -A /etc/pic/exits") == ""
    assert lab.exec("cell", ["ip", "-4", "route", "show", "table", "4096"]).stdout.strip() == ""
    assert seen_by_far(lab) == hosts["cell"]
