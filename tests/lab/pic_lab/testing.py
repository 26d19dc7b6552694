"""pytest fixtures for molecule verify steps on lab hosts (loaded with `-p pic_lab.testing`).

  lab      the scenario's Lab (run commands in any host with lab.exec(name, [...]) - no ssh)
  hosts    {platform name: testinfra Host} for every host of the scenario
  cell     the host named "cell"; client / lan: hosts of those names, when the scenario has them
  host_ip  {platform name: address on the lab bridge}
  converge run_converge as a fixture: the scenario's converge again, with extra variables
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from .lab import Lab


def scenario_lab_name() -> str:
    return f"{os.environ.get('PIC_LAB') or 'mol'}-{os.environ['MOLECULE_SCENARIO_NAME']}"


@pytest.fixture(scope="session")
def lab() -> Lab:
    return Lab(scenario_lab_name())


@pytest.fixture(scope="session")
def host_ip(lab) -> dict[str, str]:
    return {h: lab.host_info(h).get("ip") for h in lab.hosts()}


@pytest.fixture(scope="session")
def hosts(lab) -> dict:
    import testinfra

    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return {h: testinfra.get_host(f"ansible://{h}?ansible_inventory={inventory}") for h in lab.hosts()}


@pytest.fixture(scope="session")
def cell(hosts):
    return hosts["cell"]


@pytest.fixture(scope="session")
def client(hosts):
    if "client" not in hosts:
        pytest.fail("this scenario has no platform named 'client'")
    return hosts["client"]


# The hosts' facts, gathered by the first converge of this test session and read from here by the
# next ones: a verify never changes what the facts describe (addresses, architecture, virtualization),
# and gathering them again cost each of a scenario's converges about 2 s. One directory per session
# (per verify): a lab made again has other addresses.
_FACTS = tempfile.TemporaryDirectory(prefix="pic-verify-facts-")


def run_converge(extra_vars: dict | None = None, playbook: str = "converge.yml") -> subprocess.CompletedProcess:
    """Runs a playbook of the scenario (its converge by default) again, as molecule does, with extra
    variables (a change of the cell state, or a bad value a test wants refused)."""
    env = dict(os.environ)
    env["ANSIBLE_GATHERING"] = "smart"
    env["ANSIBLE_CACHE_PLUGIN"] = "jsonfile"
    env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = _FACTS.name
    env["ANSIBLE_CACHE_PLUGIN_TIMEOUT"] = "0"  # never stale within the session
    cfg = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")) / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)  # molecule's: the lab's shared ssh connections, pipelining
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    env["ANSIBLE_ROLES_PATH"] = str(project / "roles")
    env["ANSIBLE_FILTER_PLUGINS"] = str(project / "filter_plugins")
    env["ANSIBLE_NOCOLOR"] = "1"
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
           str(Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / playbook)]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        if extra_vars:
            json.dump(extra_vars, f)
            f.flush()
            cmd += ["-e", f"@{f.name}"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def converge():
    return run_converge
