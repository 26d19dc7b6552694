"""The DHCP probe on a real LAN: two lab hosts on the lab's bridge, a DHCP server (this machine's
dnsmasq, run in one host's network namespace) and the probe (run in the other's, as the cell runs it);
then playbooks/state.yml on the cell host over ssh, as a first install runs it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pic_lab.cell import state_vars_play
from pic_lab.lab import Lab, throwaway_lab

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "api" / "pic_api" / "core" / "dhcp_probe.py"


@pytest.fixture(scope="module")
def lab():
    with throwaway_lab("dhcpprobe", "it") as lab:
        lab.up("cell")
        lab.up("router")
        yield lab


def probe(lab: Lab, *args: str) -> dict:
    res = lab.netns_exec("cell", [sys.executable, str(PROBE), "host0", "--timeout", "6", *args])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_no_server_on_the_lan(lab):
    assert probe(lab) == {"servers": [], "error": None}


@contextlib.contextmanager
def dhcp_server(lab: Lab):
    """This machine's dnsmasq as a DHCP server in the "router" host's network namespace."""
    hosts = list(lab.subnet.hosts())
    pid = lab.init_pid("router")
    server = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "dnsmasq", "--no-daemon", "--port=0",
                               "--interface=host0", "--bind-interfaces", "--no-resolv", "--no-hosts",
                               f"--dhcp-range={hosts[149]},{hosts[159]},5m", "--dhcp-leasefile=/dev/null",
                               f"--pid-file=/tmp/{lab.name}-dnsmasq.pid"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        assert server.poll() is None, server.stdout.read()
        yield lab.host_info("router")["ip"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        Path(f"/tmp/{lab.name}-dnsmasq.pid").unlink(missing_ok=True)


def test_another_server_is_found_and_the_cells_own_is_ignored(lab):
    with dhcp_server(lab) as router:
        assert probe(lab) == {"servers": [router], "error": None}
        assert probe(lab, "--ignore", router) == {"servers": [], "error": None}


def state_vars(lab: Lab, tmp_path: Path) -> dict:
    """playbooks/state.yml on the cell host (no state file there), and the pic_* variables it set."""
    play, out = state_vars_play(tmp_path, "{'services': pic_services, 'found': pic_lan_dhcp_servers}")
    inventory = lab.write_inventory(tmp_path / "inv", {"cells": ["cell"]})
    res = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    return json.loads(out.read_text())


def test_a_first_install_leaves_dhcp_off_where_another_server_answers(lab, tmp_path):
    with dhcp_server(lab) as router:
        first = state_vars(lab, tmp_path)
    assert first == {"services": ["dns", "ntp", "wireguard", "mail", "calendar", "files"], "found": [router]}
    # Asked once: the answer is kept on the cell, so a second converge before setup decides the same
    # (by then the cell's firewall would keep another server's offer out).
    assert state_vars(lab, tmp_path) == first
    kept = json.loads(lab.exec("cell", ["cat", "/var/lib/pic/lan-dhcp-servers.json"]).stdout)
    assert kept == {"servers": [router], "error": None}
