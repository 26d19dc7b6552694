"""pytest fixtures for molecule verify steps on lab hosts (loaded with `-p pic_lab.testing`).

  lab      the scenario's Lab (run commands in any host with lab.exec(name, [...]) - no ssh)
  hosts    {platform name: testinfra Host} for every host of the scenario
  cell     the host named "cell"; client / lan: hosts of those names, when the scenario has them
  host_ip  {platform name: address on the lab bridge}
"""

from __future__ import annotations

import os

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
