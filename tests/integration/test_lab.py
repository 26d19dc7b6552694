"""The lab itself: hosts boot, reach each other and the mirror, reboot, and leave no trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pic_lab.lab import CGROUP_ROOTS, Lab, _gone, ssh_masters, state_root

PREFIX = os.environ.get("PIC_LAB") or "it"


def traces(lab: Lab) -> list[str]:
    """Everything a lab could leave behind on this machine, described; empty when clean."""
    found = []
    ps = subprocess.run(["pgrep", "-af", "systemd-nspawn"], capture_output=True, text=True).stdout
    found += [f"process: {line}" for line in ps.splitlines() if f"-M {lab.name}-" in line]
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount: {line}" for line in mounts.splitlines() if str(lab.dir) in line]
    found += [f"cgroup: {r / 'pic-lab' / lab.name}" for r in CGROUP_ROOTS if (r / "pic-lab" / lab.name).exists()]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [
        f"link: {lab.bridge}" for line in links.splitlines() if f" {lab.bridge}:" in line or f" {lab.bridge}@" in line
    ]
    found += [f"veth of {lab.name}" for line in links.splitlines() if f"master {lab.bridge} " in line]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    found += [f"iptables: {line}" for line in rules.splitlines() if lab.comment in line]
    nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    found += [f"nft table: {line}" for line in nft.splitlines() if lab.name in line]
    found += [f"ssh master: {pid}" for pid in ssh_masters(f"{lab.ssh_control_dir()}/")]
    if lab.dir.exists():
        found.append(f"state: {lab.dir}")
    return found


@pytest.fixture
def lab(request):
    lab = Lab(f"{PREFIX}-lab")
    yield lab
    lab.down_all()
    assert traces(lab) == []


def test_hosts_reach_each_other_and_the_mirror(lab):
    a = lab.up("a")
    b = lab.up("b")
    assert a["ip"] != b["ip"]
    assert lab.exec("a", ["ping", "-c1", "-W2", b["ip"]]).returncode == 0
    # apt through the lab's NAT, from the mirror this machine uses.
    res = lab.exec("b", ["apt-get", "update", "-q"])
    assert res.returncode == 0, res.stderr
    assert lab.exec("a", ["systemctl", "is-system-running"]).stdout.strip() in ("running", "degraded")


def test_ansible_reaches_hosts_and_reboot_works(lab, tmp_path):
    lab.up("r")
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(lab.inventory({"cells": ["r"]})))
    old_init = lab.init_pid("r")
    res = subprocess.run(
        ["ansible", "-i", str(inv), "cells", "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=120"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    new_init = lab.init_pid("r")
    assert new_init and new_init != old_init
    state = lab.exec("r", ["systemctl", "is-system-running", "--wait"]).stdout.strip()
    assert state in ("running", "degraded")


def test_tasks_share_one_ssh_connection_per_host_and_down_ends_it(lab, tmp_path):
    host = lab.up("m")
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(lab.inventory({"cells": ["m"]})))
    for _ in range(2):
        res = subprocess.run(["ansible", "-i", str(inv), "cells", "-m", "ansible.builtin.ping"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
    masters = ssh_masters(f"{lab.ssh_control_dir()}/root@{host['ip']}:22")
    assert len(masters) == 1  # both runs used the same master
    ssh = subprocess.run(["ssh", *lab.ssh_args(), f"root@{host['ip']}", "true"], timeout=30)
    assert ssh.returncode == 0
    assert ssh_masters(f"{lab.ssh_control_dir()}/") == masters  # so did a plain ssh
    lab.down("m")
    assert ssh_masters(f"{lab.ssh_control_dir()}/") == []
    assert _gone(masters[0])  # ended (an orphan's zombie waits for this machine's init to reap it)


def test_down_all_after_a_killed_run_leaves_nothing(tmp_path):
    lab = Lab(f"{PREFIX}-killed")
    # A test run that is killed (SIGKILL: no teardown runs) while its hosts are up.
    code = (
        "from pic_lab.lab import Lab; import os, signal\n"
        f"Lab({lab.name!r}).up('k1'); Lab({lab.name!r}).up('k2')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], timeout=180)
    assert proc.returncode == -signal.SIGKILL
    try:
        assert lab.is_running("k1") and lab.is_running("k2")
        assert traces(lab) != []
    finally:
        subprocess.run(["pic-lab", "--lab", lab.name, "down-all"], check=True, timeout=120)
    assert traces(lab) == []


def test_status_and_inventory_describe_the_lab(lab):
    lab.up("s")
    status = json.loads(
        subprocess.run(["pic-lab", "--lab", lab.name, "status"], capture_output=True, text=True, check=True).stdout
    )
    assert status["hosts"][0]["name"] == "s" and status["hosts"][0]["running"] is True
    inv = yaml.safe_load(
        subprocess.run(
            ["pic-lab", "--lab", lab.name, "inventory", "--group", "cells=s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert list(inv["all"]["children"]["cells"]["hosts"]) == ["s"]
    assert inv["all"]["hosts"]["s"]["ansible_host"] == lab.host_info("s")["ip"]
    assert state_root() in lab.dir.parents
    lab.down("s")
    assert not lab.is_running("s")
    assert lab.hosts() == []
