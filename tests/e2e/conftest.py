"""The whole cell on lab hosts: a cell, a VPN client, a LAN host (booted later, by DHCP).

The lab is torn down when the session ends, also on failure or interruption (SIGINT, SIGTERM).
"""

from __future__ import annotations

import os
import signal

import pytest

from pic_lab.cell import Cell, boot_cell
from pic_lab.lab import Lab


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
