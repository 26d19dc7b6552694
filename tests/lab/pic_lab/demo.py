"""`make demo`: a whole cell on a lab host, for a machine without a spare box.

    python -m pic_lab.demo up [--lab demo]     boot (or reuse) the host, converge site.yml, print the URL
    python -m pic_lab.demo down [--lab demo]   remove it
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import urllib.request

from pic_api.core.roles import site_roles

from .cell import ROOT
from .lab import Lab, LabError
from .progress import run_playbook

LOG_DIR = ROOT / ".artifacts" / "demo"
# On the cell (the ca and api roles' defaults).
CELL_CERT = "/etc/pic/tls/cell.crt"
CA_ROOT = "/etc/pic/ca/root.crt"
API_CONFIG = "/etc/pic/api.yml"
PIC_CLI = "/opt/pic/venv/bin/pic"


def up(lab: Lab) -> int:
    started = time.monotonic()
    print("pic demo: booting the lab host 'cell' (the first run builds the lab's Debian image: minutes, once)",
          flush=True)
    info = lab.up("cell", image="provisioned")
    booted = time.monotonic()
    inv_file = lab.write_inventory(lab.dir / "inventory", {"cells": ["cell"]})
    log = LOG_DIR / "converge.log"
    print(f"pic demo: 'cell' is up at {info['ip']} (in {booted - started:.1f} s); converging site.yml, "
          f"one line per role (the whole output: {log.relative_to(ROOT)})", flush=True)
    rc, progress = run_playbook(["ansible-playbook", "-i", str(inv_file), "site.yml"], ROOT, log,
                                list(site_roles(ROOT)), env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    if rc != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        print(f"{tail}\npic demo: the converge failed in {', '.join(progress.failed) or 'site.yml'} (the end of "
              f"{log.relative_to(ROOT)} above); `make demo-down` removes the host", file=sys.stderr)
        return rc
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
    print(f"pic demo: converged in {time.monotonic() - booted:.0f} s ({progress.recap.get('changed', '?')} "
          f"changed); the cell answers HTTP {status}; {time.monotonic() - started:.0f} s in all")
    print(f"pic demo: open {url}  (ssh: pic-lab --lab {lab.name} ssh cell)")
    for line in ending(lab, info["ip"]):
        print(f"pic demo: {line}")
    return 0


def ending(lab: Lab, ip: str) -> list[str]:
    """What a person needs next: the cell's HTTPS name, the CA root to trust, the setup code."""
    lines = []
    names = lab.exec("cell", ["openssl", "x509", "-in", CELL_CERT, "-noout", "-ext", "subjectAltName"])
    dns = re.findall(r"DNS:([^,\s]+)", names.stdout)
    if dns:
        lines.append(f"HTTPS after setup: https://{dns[0]}/ (the name resolves through the cell's DNS at {ip}), "
                     f"or https://{ip}/; then :8081 only leads there")
    root = lab.exec("cell", ["cat", CA_ROOT])
    if root.returncode == 0 and "BEGIN CERTIFICATE" in root.stdout:
        saved = LOG_DIR / "ca.crt"
        saved.write_text(root.stdout)
        fp = lab.exec("cell", ["openssl", "x509", "-in", CA_ROOT, "-noout", "-fingerprint", "-sha256"])
        lines.append(f"the CA root to trust: {saved.relative_to(ROOT)} (also http://{ip}:8081/ca.crt), "
                     f"{fp.stdout.strip().split('=', 1)[-1]}")
    code = lab.exec("cell", ["env", f"PIC_CONFIG={API_CONFIG}", PIC_CLI, "setup-code"])
    if code.returncode == 0 and code.stdout.strip():
        lines.append(f"the one-time setup code the wizard asks for: {code.stdout.strip()}")
    return lines


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
