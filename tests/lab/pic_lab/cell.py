"""A cell on lab hosts, as the end-to-end tests and the benchmarks drive it: converges with their
recap, commands inside hosts, and the API's run event stream."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .lab import Lab

ROOT = Path(__file__).resolve().parents[3]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def boot_cell(lab: Lab, workdir: Path, *others: str, image: str = "provisioned") -> Cell:
    """Boots the lab host "cell" (and others) and writes an inventory with `cells` = cell.

    The inventory lives outside the repository and sets no pic_* variable: the playbooks' own
    defaults apply, and the cell finds its LAN (the lab's bridge network) on its default interface.
    The cell boots from IMAGE: the provisioned image by default (every role's packages unpacked, not
    configured); tests/e2e/test_install.py is the one that converges a bare host, so every role's
    install path is still proven there. The others only run clients, so they boot from the
    provisioned image (their tools already there).
    """
    lab.up("cell", image=image)
    for name in others:
        lab.up(name, image="provisioned")
    return Cell(lab, lab.write_inventory(workdir, {"cells": ["cell"]}))


def state_vars_play(directory: Path, expression: str) -> tuple[Path, Path]:
    """A playbook that runs playbooks/state.yml, then writes ``expression`` (Jinja, over the pic_*
    variables it set) as JSON on the controller. Returns (the playbook, the JSON file it writes)."""
    play, out = directory / "show-state-vars.yml", directory / "state-vars.json"
    play.write_text(
        f"- ansible.builtin.import_playbook: {ROOT}/playbooks/state.yml\n"
        "- hosts: cells\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n"
        f"        dest: {out}\n"
        "        mode: '0600'\n"
        f"        content: \"{{{{ {expression} | to_json }}}}\"\n"
        "      delegate_to: localhost\n"
        "      become: false\n"
    )
    return play, out


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
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line[line.index("[") + 1:line.rfind("]")]
            elif line.startswith("changed:") and current:
                tasks.append(current)
        return tasks


class Cell:
    def __init__(self, lab: Lab, inventory: Path):
        self.lab = lab
        self.inventory = inventory
        self.ip = lab.host_info("cell")["ip"]
        # The wizard's address (plain HTTP, before setup) and the UI's after setup: HTTPS on the
        # cell's LAN address (the lab's bridge), whose certificate the cell's root verifies.
        self.url = f"http://{self.ip}:8081"
        self.https = f"https://{self.ip}"

    def converge(self, *args: str, timeout: float = 1800) -> Converge:
        started = time.monotonic()
        res = subprocess.run(["ansible-playbook", "-i", str(self.inventory), "site.yml", *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})
        return Converge(res.returncode, res.stdout + res.stderr, time.monotonic() - started)

    def exec(self, *cmd: str, host: str = "cell") -> subprocess.CompletedProcess:
        return self.lab.exec(host, list(cmd))

    def https_login(self, password: str, workdir: Path | None = None) -> requests.Session:
        """After setup: an admin session over HTTPS on the LAN address that trusts only the cell's
        root certificate (kept in ``workdir``, else in a new temporary directory)."""
        root = (workdir or Path(tempfile.mkdtemp(prefix="pic-root-"))) / "cell-root.pem"
        root.write_text(self.exec("cat", "/etc/pic/ca/root.crt").stdout)
        s = requests.Session()
        s.trust_env = False  # the cell's root alone, not a CA bundle named in the environment
        s.verify = str(root)
        r = s.post(f"{self.https}/api/auth/login", json={"username": "admin", "password": password}, timeout=30)
        r.raise_for_status()
        return s


def follow_run(session: requests.Session, base: str, run_id: str, timeout: float = 1500) -> list[dict]:
    """Reads a run's event stream until the run's final status event; returns every event."""
    events = []
    with session.get(f"{base}/api/runs/{run_id}/events", stream=True, timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            events.append(event)
            if event.get("event") == "pic_run_status" and event.get("status") not in ("pending", "running"):
                break
    return events


def run_finished(session: requests.Session, base: str, run_id: str, status: str = "successful",
                 timeout: float = 900) -> dict:
    """Follows a run to its end and asserts its ``status``. A converge that reloads Caddy ends the
    event stream Caddy proxies, so the end is read from the run itself (as the UI's run view does)."""
    events = follow_run(session, base, run_id)
    deadline = time.monotonic() + timeout
    while True:
        run = session.get(f"{base}/api/runs/{run_id}", timeout=30).json()
        if run["status"] not in ("pending", "running") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert run["status"] == status, (run, events[-5:])
    return run


def client_wg_config(config: str, lab_lan: str) -> tuple[str, str]:
    """A peer's config as a lab client host uses it: returns (config, the cell's DNS address).

    The DNS line is left out and returned: wg-quick applies it through resolvconf, which a minimal
    host lacks, so the caller writes resolv.conf itself. A lab client sits on the cell's LAN (the
    lab's bridge), so that LAN stays off the tunnel: routing it through wg0 would route the tunnel's
    own endpoint into itself.
    """
    lines, dns = [], ""
    for line in config.splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "DNS":
            dns = line.split("=", 1)[1].split(",")[0].strip()
            continue
        if key == "AllowedIPs":
            nets = [x.strip() for x in line.split("=", 1)[1].split(",")]
            line = "AllowedIPs = " + ", ".join(n for n in nets if n != lab_lan)
        lines.append(line)
    return "\n".join(lines) + "\n", dns


# Run with python3 on a VPN client host: reads the newest mail with subject argv[2] from the cell's
# IMAPS (TLS verified against the cell's root CA only) as admin (or the login argv[3], at the host
# argv[4]) with password argv[1], waiting up to 30 s for its delivery; prints the whole message.
IMAP_READ = (
    "import imaplib, ssl, sys, time\n"
    "ctx = ssl.create_default_context(cafile='/etc/pic-root.pem')\n"
    "login, host = (sys.argv[3:5] + ['admin@home.cell', 'mail.home.cell'][len(sys.argv[3:5]):])\n"
    "for _ in range(30):\n"
    "    m = imaplib.IMAP4_SSL(host, 993, ssl_context=ctx)\n"
    "    m.login(login, sys.argv[1]); m.select('INBOX')\n"
    "    typ, ids = m.search(None, 'SUBJECT', sys.argv[2])\n"
    "    if ids[0]:\n"
    "        print(m.fetch(ids[0].split()[-1], '(RFC822)')[1][0][1].decode()); break\n"
    "    m.logout(); time.sleep(1)\n"
)


def csrf(session: requests.Session) -> dict[str, str]:
    return {"X-CSRF-Token": session.cookies.get("pic_csrf", "")}
