"""Re-run the scenario's converge with extra variables from a test (renewal, name changes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parent.parent
PROJECT = SCENARIO.parent.parent


@pytest.fixture(scope="session")
def converge():
    def run(extra_vars: dict | None = None, playbook: str = "converge.yml") -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.update(
            ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
            ANSIBLE_FILTER_PLUGINS=str(PROJECT / "filter_plugins"),
            ANSIBLE_HOST_KEY_CHECKING="false",
            ANSIBLE_PIPELINING="true",
            ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s",
            ANSIBLE_INTERPRETER_PYTHON="/usr/bin/python3",
            ANSIBLE_NOCOLOR="1",
        )
        cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / playbook)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    return run
