"""`make bench-memory`: the idle cell's memory alone, on a cell the bench's way (fresh converge,
setup with every service), RSS by unit and by process; keeps the lab for another measurement.

    python tests/bench/memory.py up        # boot, converge, setup
    python tests/bench/memory.py converge  # converge the running cell again (after a role change)
    python tests/bench/memory.py measure   # idle 30 s, then RSS by unit and by process
    python tests/bench/memory.py down
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import requests

from pic_lab.cell import Cell, boot_cell, follow_run
from pic_lab.lab import Lab

ADMIN_PASSWORD = "bench password 42 long"  # a throwaway lab cell
SERVICES = ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files"]


def lab() -> Lab:
    return Lab(f"{os.environ.get('PIC_LAB') or 'bench'}-mem")


def inventory_dir(lb: Lab) -> Path:
    d = lb.host_dir("cell").parent / "inv"
    d.mkdir(parents=True, exist_ok=True)
    return d


def up() -> None:
    lb = lab()
    cell = boot_cell(lb, inventory_dir(lb))
    res = cell.converge()
    assert res.rc == 0, res.output[-3000:]
    print(f"fresh converge {res.seconds:.0f} s")
    s = requests.Session()
    code = cell.exec("/opt/pic/venv/bin/pic", "setup-code").stdout.strip()
    r = s.post(f"{cell.url}/api/setup", json={"setup_code": code, "cell_name": "bench", "domain_mode": "internal",
                                              "timezone": "Etc/UTC", "admin_password": ADMIN_PASSWORD,
                                              "services": SERVICES}, timeout=30)
    r.raise_for_status()
    run_id = r.json()["run_id"]
    follow_run(s, cell.url, run_id)
    with tempfile.TemporaryDirectory() as d:
        s = cell.https_login(ADMIN_PASSWORD, Path(d))
        status = s.get(f"{cell.https}/api/runs/{run_id}", timeout=30).json()
        print("setup run:", status.get("status"))


def converge() -> None:
    lb = lab()
    cell = Cell(lb, inventory_dir(lb) / "hosts.yml" if (inventory_dir(lb) / "hosts.yml").exists()
                else next(inventory_dir(lb).iterdir()))
    res = cell.converge()
    print(f"converge rc={res.rc} {res.recap()} {res.seconds:.0f} s")
    if res.rc:
        print(res.output[-3000:])
    if res.recap()["changed"]:
        print("changed:", res.changed_tasks())


def processes(lb: Lab, host: str) -> list[tuple[float, str, str]]:
    """RSS in MiB, systemd unit ("-" for none) and command of every process on the host, except the
    `ps` that lists them (it is the measurement, not the cell: the shell execs it, so it is $$)."""
    out = lb.exec(host, ["sh", "-c", "exec ps -o rss=,unit=,comm= --deselect -p $$"]).stdout.splitlines()
    procs = []
    for line in out:
        parts = line.split(None, 2) + ["-", ""]
        if parts[0].isdigit():
            procs.append((int(parts[0]) / 1024, parts[1], parts[2]))
    return procs


def measure(idle: float = 30) -> None:
    lb = lab()
    lb.end_ssh_masters()
    time.sleep(idle)
    procs = processes(lb, "cell")
    by_unit: dict[str, float] = defaultdict(float)
    for mib, unit, _comm in procs:
        by_unit[unit] += mib
    total = sum(mib for mib, _u, _c in procs)
    print(f"total {total:.1f} MiB, {len(procs)} processes")
    for unit, mib in sorted(by_unit.items(), key=lambda kv: -kv[1]):
        print(f"| {unit} | {mib:.1f} |")
    for mib, unit, comm in sorted(procs, reverse=True):
        print(f"  {mib:6.1f}  {unit:32} {comm}")


if __name__ == "__main__":
    {"up": up, "converge": converge, "measure": measure, "down": lambda: lab().down_all()}[sys.argv[1]]()
