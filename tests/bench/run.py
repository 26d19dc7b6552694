"""`make bench`: measures a cell on lab hosts and writes docs/benchmarks.md.

Figures: fresh converge, no-op re-converge, POST /api/peers -> first WireGuard handshake (and the
peer run's own duration), a settings change -> its run finished, API latency of GET /api/peers with
500 peers (p50/p99), and the idle cell's memory (RSS of every process on the cell host).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import requests
import yaml

from pic_lab.cell import ROOT, boot_cell, client_wg_config, csrf, follow_run
from pic_lab.lab import Lab

ADMIN_PASSWORD = "bench password 42 long"  # the bench's own throwaway cell
rows: list[tuple[str, str, str]] = []
findings: list[str] = []


def record(name: str, value: str, how: str) -> None:
    rows.append((name, value, how))
    print(f"{name:<46} {value:>12}   {how}", flush=True)


def seconds_by_role(events: list[dict]) -> dict[str, float]:
    """How long each role's tasks took in a run: from each task's start to the next task's (or the
    run's end), summed per role; tasks outside a role count as "(play)"."""
    marks = [(e.get("role") or "(play)", datetime.fromisoformat(e["created"])) for e in events
             if e.get("event") in ("playbook_on_task_start", "playbook_on_stats") and e.get("created")]
    spent: dict[str, float] = defaultdict(float)
    for (role, start), (_, end) in zip(marks, marks[1:], strict=False):
        spent[role] += (end - start).total_seconds()
    return dict(sorted(spent.items(), key=lambda kv: -kv[1]))


def api_latency(tmp: Path) -> None:
    """The API alone under gunicorn on loopback, with a state of 500 peers (no converge runs)."""
    from pic_api.core import wgkeys

    state_dir = tmp / "api"
    env = {**os.environ, "PIC_STATE_FILE": str(state_dir / "cell.yml"), "PIC_STATE_DIR": str(state_dir / "v"),
           "PIC_SECRETS_DIR": str(state_dir), "PIC_SEED_FILE": str(state_dir / "seed.yml"),
           "PIC_RUN_DIR": str(state_dir / "runs"), "PIC_PROJECT_DIR": str(ROOT), "PIC_LOG_FILE": "",
           "PIC_HEALTH_INTERVAL": "0", "PIC_RUNNER": "none", "PIC_CONFIG": str(state_dir / "none.yml"),
           "PIC_SCRYPT_N": "1024", "PIC_BCRYPT_ROUNDS": "4"}
    state_dir.mkdir(parents=True)
    answers = state_dir / "answers.yml"
    answers.write_text(yaml.safe_dump({"cell_name": "bench", "domain_mode": "internal", "timezone": "Etc/UTC",
                                       "services": ["dns", "wireguard"], "admin_password": ADMIN_PASSWORD}))
    subprocess.run([sys.executable, "-m", "pic_api.cli", "setup", str(answers)], env=env, check=True)

    state_file = state_dir / "cell.yml"
    state = yaml.safe_load(state_file.read_text())
    state["peers"] = [{"name": f"p{i}", "public_key": wgkeys.generate_keypair()[1], "route": "split",
                       "ip": f"10.0.{i // 250}.{2 + i % 250}"} for i in range(500)]
    state["network"]["vpn_subnet"] = "10.0.0.0/22"
    state_file.write_text(yaml.safe_dump(state))
    port = 3917
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--threads",
                               "8", "pic_api.wsgi:app"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        s = requests.Session()
        for _ in range(100):
            try:
                if s.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        r = s.post(f"{base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10)
        r.raise_for_status()
        n = len(s.get(f"{base}/api/peers", timeout=10).json()["peers"])
        times = []
        for _ in range(300):
            t = time.perf_counter()
            s.get(f"{base}/api/peers", timeout=10).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        record(f"API GET /api/peers, {n} peers, p50", f"{statistics.median(times):.1f} ms",
               "300 sequential requests, one keep-alive session, gunicorn 1 worker on loopback")
        record(f"API GET /api/peers, {n} peers, p99", f"{times[int(len(times) * 0.99) - 1]:.1f} ms", "same run")
    finally:
        server.terminate()
        server.wait(10)


def cell_figures(lab: Lab, tmp: Path) -> None:
    cell = boot_cell(lab, tmp / "inv", "client", image="base")  # a fresh converge from a bare host
    fresh = cell.converge()
    assert fresh.rc == 0, fresh.output[-3000:]
    record("fresh converge (site.yml, fresh host)", f"{fresh.seconds:.0f} s",
           "ansible-playbook site.yml on a just-booted lab host; .debs and wheels from the local cache")
    again = cell.converge()
    record("no-op re-converge", f"{again.seconds:.1f} s", f"same host right after; changed={again.recap()['changed']}")

    s = requests.Session()
    code = cell.exec("/opt/pic/venv/bin/pic", "setup-code").stdout.strip()  # as the owner reads it on the host
    t = time.monotonic()
    r = s.post(f"{cell.url}/api/setup", json={"setup_code": code, "cell_name": "bench", "domain_mode": "internal",
                                              "timezone": "Etc/UTC", "admin_password": ADMIN_PASSWORD,
                                              "services": ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar",
                                                           "files"]}, timeout=30)
    r.raise_for_status()
    setup_run = r.json()["run_id"]
    # The run switches :8081 to HTTPS (its caddy reload ends this stream); its end is read over HTTPS.
    follow_run(s, cell.url, setup_run)
    s = cell.https_login(ADMIN_PASSWORD, tmp)
    follow_run(s, cell.https, setup_run)
    record("wizard POST /api/setup -> run finished", f"{time.monotonic() - t:.0f} s",
           "the API's converge of every role")

    t = time.monotonic()
    r = s.put(f"{cell.https}/api/settings", json={"timezone": "Europe/Berlin"}, headers=csrf(s), timeout=30)
    r.raise_for_status()
    follow_run(s, cell.https, r.json()["run_id"])
    record("settings change (timezone) -> run finished", f"{time.monotonic() - t:.1f} s",
           "PUT /api/settings, run with the tags of the roles it touches")

    cell.exec("bash", "-c", "apt-get install -y -q --no-install-recommends wireguard-tools wireguard-go", host="client")
    t = time.monotonic()
    r = s.post(f"{cell.https}/api/peers", json={"name": "bench", "route": "split"}, headers=csrf(s), timeout=30)
    r.raise_for_status()
    body = r.json()
    posted = time.monotonic()
    config, vpn_cell = client_wg_config(body["config"], str(cell.lab.subnet))
    cell.lab.exec("client", ["bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf"], input=config)
    events = follow_run(s, cell.https, body["run_id"])
    run_done = time.monotonic()
    cell.exec("wg-quick", "up", "wg0", host="client")
    while time.monotonic() - t < 300:
        cell.exec("ping", "-c1", "-W1", vpn_cell, host="client")
        hs = cell.exec("wg", "show", "wg0", "latest-handshakes", host="client").stdout.split()
        if len(hs) == 2 and int(hs[1]) > 0:
            break
    handshake = time.monotonic()
    record("POST /api/peers -> first handshake", f"{handshake - t:.1f} s",
           f"response {posted - t:.2f} s, peer run {run_done - posted:.1f} s ({len(events)} events), "
           f"tunnel up + handshake {handshake - run_done:.1f} s")
    by_role = seconds_by_role(events)
    record("peer run, time by role", ", ".join(f"{r} {x:.1f} s" for r, x in list(by_role.items())[:4]),
           "from the run's events: each task's start to the next one's, summed per role")
    stages = {"the API's response": posted - t, "the peer run (converge)": run_done - posted,
              "tunnel up + handshake": handshake - run_done}
    slowest = max(stages, key=stages.get)
    findings.append(f"Measured: of {handshake - t:.1f} s from `POST /api/peers` to the first handshake, "
                    f"{slowest} took {stages[slowest]:.1f} s; within the run the slowest part was "
                    f"{next(iter(by_role), '-')} ({next(iter(by_role.values()), 0):.1f} s).")

    time.sleep(20)  # idle
    rss = cell.exec("ps", "-eo", "rss=").stdout.split()
    record("idle cell memory (RSS, all processes)", f"{sum(int(x) for x in rss) / 1024:.0f} MiB",
           f"sum of RSS of the {len(rss)} processes on the cell host, 20 s after the last run")


def main() -> int:
    lab = Lab(f"{os.environ.get('PIC_LAB') or 'bench'}-bench")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            api_latency(tmp)
            cell_figures(lab, tmp)
        finally:
            lab.down_all()
    machine = (f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
               f"Linux {platform.release()}, load average before the run {os.getloadavg()[0]:.1f}")
    lines = ["# Benchmarks", "", f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}; machine: {machine}.",
             "Lab hosts are systemd-nspawn containers on the same machine (see README, the lab).", "",
             "| figure | value | how |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    notes = NOTES.replace("{findings}", "\n".join(findings))
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n" + notes)
    return 0


NOTES = """
## The slowest step of the peer-add path

{findings}

Adding a peer is a state change plus a converge of the roles it touches (wireguard, and dnsmasq and coredns for
the peer's name). Each of those runs all its tasks (package checks, templates, validations)
although only the peer list changed. What would make it faster: a `peers` tag that runs only the
tasks that render the peer list and `wg syncconf`, or applying the peer with `wg set` at once and
letting the converge follow to make it durable.

## Why a no-op converge from the controller takes minutes

The converges measured from this machine reach the lab host over ssh, one new connection per task:
the lab's inventory turns ssh connection sharing off, so that no ssh process outlives a lab. The API
runs the same playbook on the cell with a local connection; compare the wizard's run above, which
converged every role, with changes, in less time. A real controller keeps Ansible's default
connection sharing (ControlPersist) and pays the ssh handshake once.
"""

if __name__ == "__main__":
    sys.exit(main())
