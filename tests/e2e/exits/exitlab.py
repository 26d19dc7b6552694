"""What the exits' e2e files share (each adds its exit server and its tests): the lab's topology,
the cell, the VPN device and the helpers that say where the device's traffic went.

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

Counters on the cell (PROBE) say what reached it from the device and what left its uplink.
"""

from __future__ import annotations

import re
import time

from pic_lab.cell import Cell, csrf, run_finished

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

BRIDGE_PORT = 9001  # tor's bridge on exitsrv (test_exits_tor.py): nothing listens there


def sh(lab, host: str, script: str, input: str | None = None):
    res = lab.exec(host, ["bash", "-c", script], input=input)
    assert res.returncode == 0, f"{host}: {script}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res.stdout



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



def add_exit_for_the_device(admin, cell, body: dict) -> dict:
    """The exit added (a converge of the exits role alone) and the device moved to it; the device."""
    r = admin.post(f"{cell.https}/api/exits", json=body, headers=csrf(admin), timeout=30)
    assert r.status_code == 202, r.text
    run = run_finished(admin, cell.https, r.json()["run_id"], timeout=600)
    assert run["tags"] == ["exits"], run
    r = admin.patch(f"{cell.https}/api/peers/roamer", json={"exit": body["name"]}, headers=csrf(admin), timeout=30)
    assert r.status_code == 200, r.text
    run_finished(admin, cell.https, r.json()["run_id"], timeout=600)
    return r.json()["peer"]



def back_on_the_uplink_and_removed(lab, hosts, admin, cell, name: str) -> None:
    """The device back on the cell's uplink (far sees the cell again), then the exit removed."""
    r = admin.patch(f"{cell.https}/api/peers/roamer", json={"exit": ""}, headers=csrf(admin), timeout=30)
    assert r.status_code == 200 and "exit" not in r.json()["peer"], r.text
    run_finished(admin, cell.https, r.json()["run_id"], timeout=600)
    assert wait_for(lambda: seen_by_far(lab) == hosts["cell"], 20), seen_by_far(lab)
    r = admin.delete(f"{cell.https}/api/exits/{name}", headers=csrf(admin), timeout=30)
    assert r.status_code == 202, r.text
    run_finished(admin, cell.https, r.json()["run_id"], timeout=600)


