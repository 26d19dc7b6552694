"""Runs the scenario's converge playbook again from a test, with extra variables."""

import json
import os
import subprocess

import pytest


def _converge(extra_vars: dict) -> subprocess.CompletedProcess:
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            playbook,
            "-e",
            json.dumps(extra_vars),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def converge():
    return _converge
