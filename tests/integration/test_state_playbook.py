"""playbooks/state.yml with the real filter plugin: a state file becomes the pic_* variables."""

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from pic_api.core import addressing

ROOT = Path(__file__).resolve().parents[2]
KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="


def run(tmp_path, state, *extra: str, msg: str = ""):
    """state.yml on this machine with ``state`` (None: no state file yet) and ``-e`` values."""
    state_file = tmp_path / "cell.yml"
    if state is not None:
        state_file.write_text(yaml.safe_dump(state))
    play = tmp_path / "show.yml"
    play.write_text(
        f"- ansible.builtin.import_playbook: {ROOT}/playbooks/state.yml\n"
        "- hosts: cells\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n"
        + (msg or "        msg: \"RESULT {{ pic_cell_name }} {{ pic_domain }} {{ pic_peers | map(attribute='ip') "
               "| join(',') }} {{ pic_services | join(',') }}\"\n")
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "cells:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_FILTER_PLUGINS=str(ROOT / "filter_plugins"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(play),
            "-e",
            f"pic_state_file={state_file}",
            "-e",
            "ansible_become=false",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_state_becomes_variables(tmp_path):
    state = {
        "version": 1,
        "setup_completed": True,
        "cell": {"name": "home"},
        "services": ["dns", "ntp"],
        "peers": [{"name": "phone", "public_key": KEY, "ip": "10.0.0.2"}],
    }
    out = run(tmp_path, state)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RESULT home home.cell 10.0.0.2 dns,ntp" in out.stdout


def test_invalid_state_fails_naming_the_field(tmp_path):
    out = run(tmp_path, {"version": 1, "cell": {"name": "Home"}})
    assert out.returncode != 0
    assert "cell.name" in out.stdout + out.stderr


VPN_MSG = "        msg: \"RESULT {{ pic_vpn_subnet }} {{ pic_vpn_subnet_given }}\"\n"


def vpn_subnet(tmp_path, *extra: str) -> str:
    out = run(tmp_path, None, "-e", "pic_dhcp_probe=false", *extra, msg=VPN_MSG)
    assert out.returncode == 0, out.stdout + out.stderr
    return re.search(r"RESULT (\S+) True", out.stdout).group(1)


def test_a_headless_setup_converges_a_picked_vpn_subnet(tmp_path):
    """Before the state exists, a headless setup's roles converge a random /24 of the pool (the api
    role's seed then names it, so the state gets the same); the wizard's path keeps the fallback
    until its setup picks one; an inventory's subnet stands."""
    picked = ipaddress.IPv4Network(vpn_subnet(tmp_path, "-e", "pic_setup_completed=true"))
    assert picked.prefixlen == 24 and picked.subnet_of(ipaddress.IPv4Network(addressing.VPN_POOL)), picked
    out = run(tmp_path, None, "-e", "pic_dhcp_probe=false", msg=VPN_MSG)
    assert f"RESULT {addressing.FALLBACK_VPN_SUBNET} False" in out.stdout, out.stdout
    assert vpn_subnet(tmp_path, "-e", "pic_setup_completed=true", "-e", "pic_vpn_subnet=10.9.8.0/24") == "10.9.8.0/24"
