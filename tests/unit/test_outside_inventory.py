"""An inventory outside the repository (`ansible-playbook -i ~/cells.yml site.yml`) needs no pic_*
variable: the playbooks carry every default, and the LAN comes from the host's default interface."""

import json
import os
import subprocess
import sys
from pathlib import Path

from pic_lab.cell import state_vars_play

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def inventory(tmp_path: Path, host_vars: str = "") -> Path:
    inv = tmp_path / "cells.yml"
    inv.write_text("cells:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                   f"      ansible_python_interpreter: {sys.executable}\n{host_vars}")
    return inv


def playbook(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # Run from the repository (its ansible.cfg), as the README says, with an inventory elsewhere.
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def test_site_syntax_checks_with_an_inventory_elsewhere(tmp_path):
    res = playbook(tmp_path, "-i", str(inventory(tmp_path)), "site.yml", "--syntax-check")
    assert res.returncode == 0, res.stdout + res.stderr


def resolved_vars(tmp_path: Path, host_vars: str = "") -> dict:
    """The pic_* variables the roles would see after playbooks/state.yml, on this machine (no state
    file at the path given, so the defaults and the inventory stand)."""
    play, out = state_vars_play(tmp_path, "dict(query('ansible.builtin.varnames', '^pic_')"
                                " | zip(query('ansible.builtin.vars', *query('ansible.builtin.varnames', '^pic_'))))")
    # No DHCP probe here: it would ask this machine's own LAN (tests/integration/test_dhcp_probe.py
    # proves it on the lab's).
    res = playbook(tmp_path, "-i", str(inventory(tmp_path, host_vars)), str(play), "-e", "ansible_become=false",
                   "-e", f"pic_state_file={tmp_path / 'no-state.yml'}", "-e", "pic_dhcp_probe=false")
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(out.read_text())


def facts_ipv4(tmp_path: Path) -> dict:
    res = subprocess.run([str(BIN / "ansible"), "-i", str(inventory(tmp_path)), "localhost", "-m", "setup",
                          "-a", "filter=ansible_default_ipv4"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                              "ANSIBLE_STDOUT_CALLBACK": "json"}, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]["ansible_facts"]["ansible_default_ipv4"]


def test_defaults_and_the_lan_found_without_any_inventory_variable(tmp_path):
    import ipaddress

    v = resolved_vars(tmp_path)
    assert v["pic_state_dir"] == "/var/lib/pic/state"
    assert v["pic_cell_name"] == "mycell" and v["pic_setup_completed"] is False
    assert v["pic_services"] == ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files"]
    ipv4 = facts_ipv4(tmp_path)
    net = ipaddress.IPv4Interface(f"{ipv4['address']}/{ipv4['netmask']}")
    assert v["pic_lan_interface"] == ipv4["interface"]
    assert v["pic_lan_subnet"] == str(net.network)
    assert v["pic_lan_address"] == ipv4["address"]
    start, end = map(ipaddress.IPv4Address, v["pic_dhcp_range"])
    assert start in net.network and end in net.network and not start <= net.ip <= end


def test_inventory_values_override_the_defaults(tmp_path):
    v = resolved_vars(tmp_path, "  vars:\n    pic_cell_name: box\n    pic_lan_subnet: 10.77.0.0/24\n"
                                "    pic_services: [dns]\n")
    assert v["pic_cell_name"] == "box"
    assert v["pic_lan_subnet"] == "10.77.0.0/24"
    assert v["pic_services"] == ["dns"]
    assert v["pic_timezone"] == "Etc/UTC"  # the rest keeps its default
