"""The whole cell on lab hosts: a cell, a VPN client, a LAN host (booted later, by DHCP).

The lab is torn down when the session ends, also on failure or interruption (SIGINT, SIGTERM).

`make test-e2e` runs the files on E2E_JOBS pytest-xdist workers with `--dist loadgroup`: GROUPS
says which files one worker runs one after the other.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from pic_lab.cell import Cell, boot_cell
from pic_lab.lab import Lab

# Three groups of about the same length (docs/testing.md, "End to end", measured), one per worker: with
# `--dist loadfile`, xdist handed each worker two files up front, so the longest files could meet on
# one worker while another idled. test_cell.py, the longest, runs alone. The exits' files share one
# cell (exits/conftest.py) and must stay together. A file or directory not named here is a group of
# its own.
GROUPS = {
    "test_cell.py": "cell",
    "test_store.py": "store+backup+links", "test_backup.py": "store+backup+links",
    "test_links.py": "store+backup+links",
    "test_install.py": "install+exits", "exits": "install+exits",
}
HERE = Path(__file__).parent


class GroupScheduling(LoadScopeScheduling):
    """xdist's scheduling by scope, the scope of a test being its group in GROUPS. (xdist's own
    `xdist_group` marks do not group with pytest 9: the suffix it adds to a test's id is lost.)"""

    def _split_scope(self, nodeid: str) -> str:
        top = (self.config.rootpath / nodeid.split("::", 1)[0]).relative_to(HERE).parts[0]
        return GROUPS.get(top, top)


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadgroup":
        return GroupScheduling(config, log)
    return None


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
    return boot_cell(lab, tmp_path_factory.mktemp("e2e"), "client")
