"""The wireguard role on a lab cell, driven by two real WireGuard clients (client, client2).

The tests run in order: the first ones check what converge left (one peer, "laptop" = client),
then the scenario's converge playbook is run again with other peer lists to add a peer while
client pings without pause, to remove a peer, and to refuse a bad one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pic_lab.testing import run_converge

SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parent.parent))
CLIENTS = yaml.safe_load((SCENARIO / "vars" / "test-peers.yml").read_text())["wireguard_test_clients"]
SUBNET = "10.77.0.0/24"
CELL_VPN = "10.77.0.1"
PORT = 51820


def peer(host: str) -> dict:
    c = CLIENTS[host]
    return {"name": c["peer"], "public_key": c["public_key"], "ip": c["ip"], "route": "split"}


def wg_show(cell, what: str) -> dict[str, str]:
    out = cell.check_output(f"wg show wg0 {what}")
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def ping(lab, host: str, count: int = 3) -> bool:
    return lab.exec(host, ["ping", "-n", "-c", str(count), "-W", "1", "-i", "0.3", CELL_VPN]).returncode == 0


def tunnel_up(lab, host: str, cell_pub: str, cell_ip: str) -> None:
    c = CLIENTS[host]
    conf = (f"[Interface]\nPrivateKey = {c['private_key']}\nAddress = {c['ip']}/32\n\n"
            f"[Peer]\nPublicKey = {cell_pub}\nEndpoint = {cell_ip}:{PORT}\nAllowedIPs = {SUBNET}\n"
            "PersistentKeepalive = 2\n")
    lab.exec(host, ["sh", "-c", "umask 077 && cat > /etc/wireguard/wg0.conf"], input=conf, check=True)
    lab.exec(host, ["wg-quick", "up", "wg0"], check=True)


@pytest.fixture(scope="module")
def cell_pub(cell) -> str:
    return cell.file("/etc/pic/wireguard/public.key").content_string.strip()


@pytest.fixture(scope="module")
def cell_private(cell) -> str:
    return cell.file("/etc/wireguard/private.key").content_string.strip()


def assert_private_key_not_printed(res: subprocess.CompletedProcess, private: str) -> None:
    assert private not in res.stdout and private not in res.stderr


# --- what converge left ------------------------------------------------------------------------

def test_private_key_made_on_the_cell_and_private(cell, cell_pub, cell_private):
    key = cell.file("/etc/wireguard/private.key")
    assert key.user == "root" and key.mode == 0o600
    assert cell.file("/etc/wireguard").mode == 0o700
    # The published public key is the half of that private key, and the one the interface uses.
    assert cell.check_output("wg pubkey < /etc/wireguard/private.key") == cell_pub
    assert cell.check_output("wg show wg0 public-key") == cell_pub
    pub = cell.file("/etc/pic/wireguard/public.key")
    assert pub.mode == 0o644
    # The private key is nowhere in the config files.
    assert cell_private not in cell.file("/etc/wireguard/wg0.conf").content_string


def test_public_key_is_a_local_fact(cell, cell_pub):
    fact = json.loads(cell.file("/etc/ansible/facts.d/wireguard.fact").content_string)
    assert fact == {"public_key": cell_pub, "interface": "wg0", "address": CELL_VPN, "subnet": SUBNET,
                    "port": PORT}


def test_wg0_on_the_first_host_address_listening(cell):
    assert f"inet {CELL_VPN}/24" in cell.check_output("ip -4 -o addr show dev wg0")
    assert cell.check_output("wg show wg0 listen-port") == str(PORT)
    assert cell.socket(f"udp://0.0.0.0:{PORT}").is_listening
    svc = cell.service("wg-quick@wg0")
    assert svc.is_enabled and svc.is_running


def test_userspace_wireguard_in_use(cell):
    # No kernel module on these machines: wg-quick fell back to wireguard-go.
    assert cell.package("wireguard-go").is_installed
    assert cell.process.filter(comm="wireguard-go")
    # wireguard-tools came without its recommends (a kernel image).
    assert not cell.run("dpkg -l 'linux-image-*' | grep -q '^ii'").succeeded


def test_ip_forwarding(cell):
    assert cell.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert "net.ipv4.ip_forward=1" in cell.file("/etc/sysctl.d/60-pic-wireguard.conf").content_string


def test_peer_address_is_the_stored_one(cell):
    allowed = wg_show(cell, "allowed-ips")
    assert allowed == {CLIENTS["client"]["public_key"]: "10.77.0.7/32"}


# --- a real client ------------------------------------------------------------------------------

def test_client_handshake_and_ping(lab, cell, cell_pub, host_ip):
    tunnel_up(lab, "client", cell_pub, host_ip["cell"])
    assert ping(lab, "client"), "client cannot ping the cell's VPN address through the tunnel"
    hs = wg_show(cell, "latest-handshakes")
    assert int(hs[CLIENTS["client"]["public_key"]]) > 0
    # The cell sees the ping come from the peer's stored address.
    endpoints = wg_show(cell, "endpoints")
    assert endpoints[CLIENTS["client"]["public_key"]].startswith(host_ip["client"] + ":")


def test_adding_a_peer_does_not_interrupt_the_others(lab, cell, cell_pub, cell_private, host_ip):
    ifindex = cell.file("/sys/class/net/wg0/ifindex").content_string.strip()
    wg_pid = cell.check_output("pgrep -x wireguard-go")
    rx_before = int(wg_show(cell, "transfer")[CLIENTS["client"]["public_key"]].split("\t")[0])
    background = f"ping -n -i 0.2 {CELL_VPN} >/tmp/ping.log 2>&1 & echo $! >/tmp/ping.pid"
    lab.exec("client", ["sh", "-c", background], check=True)
    try:
        time.sleep(2)
        res = run_converge({"pic_peers": [peer("client"), peer("client2")]})
        assert res.returncode == 0, res.stdout[-3000:]
        assert "Sync the WireGuard peers" in res.stdout
        assert_private_key_not_printed(res, cell_private)
        time.sleep(2)
    finally:
        lab.exec("client", ["sh", "-c", "kill -INT $(cat /tmp/ping.pid)"])
        time.sleep(1)
    log = lab.exec("client", ["cat", "/tmp/ping.log"]).stdout
    m = re.search(r"(\d+) packets transmitted, (\d+) received", log)
    assert m, log
    sent = int(m.group(1))
    answered = sorted(int(seq) for seq in re.findall(r"icmp_seq=(\d+) ttl=", log))
    assert sent >= 20 and answered, log
    # Every ping up to the last answered one was answered. The last one or two may still have been on
    # their way when ping was stopped (a busy machine's round trip through wireguard-go): not a loss.
    lost = sorted(set(range(1, answered[-1] + 1)) - set(answered))
    assert not lost, f"client lost pings {lost} of {sent} while a peer was added"
    assert sent - answered[-1] <= 2, f"pings {answered[-1] + 1}..{sent} unanswered at the end:\n{log}"
    # Same interface, same wireguard-go process: the tunnel was not restarted.
    assert cell.file("/sys/class/net/wg0/ifindex").content_string.strip() == ifindex
    assert cell.check_output("pgrep -x wireguard-go") == wg_pid
    rx_after = int(wg_show(cell, "transfer")[CLIENTS["client"]["public_key"]].split("\t")[0])
    assert rx_after > rx_before
    allowed = wg_show(cell, "allowed-ips")
    assert allowed[CLIENTS["client2"]["public_key"]] == "10.77.0.3/32"


def test_second_peer_connects(lab, cell, cell_pub, host_ip):
    tunnel_up(lab, "client2", cell_pub, host_ip["cell"])
    assert ping(lab, "client2")
    assert ping(lab, "client")
    hs = wg_show(cell, "latest-handshakes")
    assert int(hs[CLIENTS["client2"]["public_key"]]) > 0


def test_removing_a_peer_ends_its_sessions(lab, cell, cell_private):
    res = run_converge({"pic_peers": [peer("client2")]})
    assert res.returncode == 0, res.stdout[-3000:]
    assert_private_key_not_printed(res, cell_private)
    peers = cell.check_output("wg show wg0 peers").split()
    assert CLIENTS["client"]["public_key"] not in peers
    assert CLIENTS["client2"]["public_key"] in peers
    assert CLIENTS["client"]["public_key"] not in cell.file("/etc/wireguard/wg0.conf").content_string
    assert not ping(lab, "client"), "a removed peer still reaches the cell"
    assert ping(lab, "client2"), "the remaining peer lost its tunnel"


def test_bad_peer_is_refused_and_the_tunnel_stays(lab, cell, cell_private):
    before = cell.file("/etc/wireguard/wg0.conf").sha256sum
    bad = {"name": "broken", "public_key": "not-a-key", "ip": "10.77.0.9", "route": "split"}
    res = run_converge({"pic_peers": [peer("client2"), bad]})
    assert res.returncode != 0
    assert "peer broken has an invalid" in res.stdout + res.stderr
    assert_private_key_not_printed(res, cell_private)
    # A second peer claiming a taken address is refused as well.
    dup = {"name": "dup", "public_key": CLIENTS["client"]["public_key"], "ip": CLIENTS["client2"]["ip"]}
    res = run_converge({"pic_peers": [peer("client2"), dup]})
    assert res.returncode != 0
    assert cell.file("/etc/wireguard/wg0.conf").sha256sum == before
    assert ping(lab, "client2")
