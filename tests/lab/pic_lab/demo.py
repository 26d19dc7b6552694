"""`make demo`: a whole cell on a lab host, for a machine without a spare box.

    python -m pic_lab.demo up [--lab demo]     boot (or reuse) the host, converge site.yml, print the URL
    python -m pic_lab.demo down [--lab demo]   remove it
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request

from .cell import ROOT
from .lab import Lab, LabError


def up(lab: Lab) -> int:
    started = time.monotonic()
    info = lab.up("cell")
    booted = time.monotonic()
    inv_file = lab.write_inventory(lab.dir / "inventory", {"cells": ["cell"]})
    print(f"pic demo: lab host 'cell' at {info['ip']} (booted in {booted - started:.1f} s); converging site.yml")
    res = subprocess.run(["ansible-playbook", "-i", str(inv_file), "site.yml"], cwd=ROOT)
    if res.returncode != 0:
        print("pic demo: the converge failed (output above); `make demo-down` removes the host", file=sys.stderr)
        return res.returncode
    url = f"http://{info['ip']}:8081/"
    for _ in range(30):
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                status = r.status
            break
        except OSError:
            time.sleep(1)
    else:
        print(f"pic demo: converged, but {url} does not answer", file=sys.stderr)
        return 1
    print(f"pic demo: converged in {time.monotonic() - booted:.0f} s; the cell answers HTTP {status}")
    print(f"pic demo: open {url}  (ssh: pic-lab --lab {lab.name} ssh cell)")
    code = lab.exec("cell", ["/opt/pic/venv/bin/pic", "setup-code"])
    if code.returncode == 0:
        print(f"pic demo: the wizard asks for the setup code first: {code.stdout.strip()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pic-demo")
    p.add_argument("action", choices=["up", "down"])
    p.add_argument("--lab", default="demo")
    a = p.parse_args(argv)
    try:
        lab = Lab(a.lab)
        if a.action == "down":
            lab.down_all()
            print(f"pic demo: lab {a.lab} removed")
            return 0
        return up(lab)
    except LabError as e:
        print(f"pic demo: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
