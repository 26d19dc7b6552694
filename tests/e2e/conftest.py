"""The whole cell on lab hosts: a cell, a VPN client, a LAN host (booted later, by DHCP).

The lab is torn down when the session ends, also on failure or interruption (SIGINT, SIGTERM).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pic_lab.demo import cell_vars
from pic_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Converge:
    rc: int
    output: str
    seconds: float

    def recap(self, host: str = "cell") -> dict[str, int]:
        for m in RECAP.finditer(self.output):
            if m.group(1) == host:
                return {"ok": int(m.group(2)), "changed": int(m.group(3)),
                        "unreachable": int(m.group(4)), "failed": int(m.group(5))}
        raise AssertionError(f"no recap for {host} in:\n{self.output[-3000:]}")

    def changed_tasks(self) -> list[str]:
        """The tasks reported changed (for a readable failure of an idempotence check)."""
        tasks, current = [], None
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                current = line[6:line.rfind("]")]
            elif line.startswith("changed:") and current:
                tasks.append(current)
        return tasks


class Cell:
    def __init__(self, lab: Lab, inventory: Path):
        self.lab = lab
        self.inventory = inventory
        self.ip = lab.host_info("cell")["ip"]
        self.url = f"http://{self.ip}:8081"

    def converge(self, *args: str, timeout: float = 1800) -> Converge:
        started = time.monotonic()
        res = subprocess.run(["ansible-playbook", "-i", str(self.inventory), "site.yml", *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})
        return Converge(res.returncode, res.stdout + res.stderr, time.monotonic() - started)

    def exec(self, *cmd: str, host: str = "cell") -> subprocess.CompletedProcess:
        return self.lab.exec(host, list(cmd))


@pytest.fixture(scope="session")
def lab():
    lab = Lab(f"{os.environ.get('PIC_LAB') or 'e2e'}-e2e")
    lab.down_all()  # a killed earlier run of the same name

    def on_term(signum, frame):
        raise KeyboardInterrupt  # lets pytest run the finalizers below

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield lab
    finally:
        lab.down_all()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def cell(lab, tmp_path_factory) -> Cell:
    info = lab.up("cell")
    lab.up("client")
    path = lab.write_inventory(tmp_path_factory.mktemp("e2e"), {"cells": ["cell"]}, cell_vars(lab, info["ip"]), ROOT)
    return Cell(lab, path)
