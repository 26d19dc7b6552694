"""`make bench`: measures a cell on lab hosts and writes docs/benchmarks.md.

Each figure is printed with its floor, measured in the same run on the same host, and the ratio of
the two, so a figure taken on a busy machine still says how far PIC is from what the host allows:

- POST /api/peers -> the client's first handshake and ping (median of 5), against a peer set with
  a raw `wg set` on the same cell;
- a no-op converge of the whole site over ssh (one shared connection), against an empty play on
  the same host; one role's tag on the host itself, against an empty play there;
- the idle cell's memory (RSS of every process, and each service's share), against a bare lab host;
- the API under load (20 clients for 30 s): GET /api/peers with 500 peers and the POST /api/peers
  fast path (through a real agent on a socket, with converges that do nothing), against GET /health
  under the same load.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests
import yaml
from memory import ADMIN_PASSWORD, processes  # tests/bench/memory.py: the same cell's set-up and memory

from pic_lab.cell import ROOT, boot_cell, client_wg_config, csrf, follow_run
from pic_lab.lab import Lab

CLIENTS, LOAD_SECONDS = 20, 30
rows: list[tuple[str, str, str, str, str]] = []
notes: dict[str, str] = {}


def record(name: str, value: float, floor: float | None, unit: str, how: str) -> None:
    ratio = f"{value / floor:.1f}x" if floor else "-"
    fmt = (lambda x: f"{x:.0f} {unit}") if unit == "MiB" or value >= 100 else (lambda x: f"{x:.2f} {unit}")
    row = (name, fmt(value), fmt(floor) if floor is not None else "-", ratio, how)
    rows.append(row)
    print(f"{name:<44} {row[1]:>10}  floor {row[2]:>10}  {ratio:>6}   {how}", flush=True)


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


# ---- the API under load ----------------------------------------------------------------------------
class NullBackend:
    """The agent's converges in the load test: they succeed at once and touch nothing."""

    def execute(self, run, emit, should_cancel):
        return "successful"


def load(base: str, path: str, cookies: dict, seconds: float, method: str = "GET", body=None) -> list[float]:
    """CLIENTS threads, each with its own keep-alive session, for ``seconds``; latencies in ms."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        s = requests.Session()
        s.cookies.update(cookies)
        headers = {"X-CSRF-Token": cookies.get("pic_csrf", "")}
        i = 0
        while time.monotonic() < stop:
            i += 1
            t = time.perf_counter()
            if method == "GET":
                r = s.get(base + path, timeout=300)
            else:
                r = s.post(base + path, json=body(n, i), headers=headers, timeout=300)
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                times.append(elapsed)
                if r.status_code not in (200, 201):
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"{len(errors)} of {len(times)} requests failed, e.g. {errors[0]}"
    return times


def api_under_load(tmp: Path) -> None:
    """The API under gunicorn as the cell runs it (1 worker, 16 threads) on loopback, a state of 500
    peers, and a real agent (this process, on a unix socket) whose converges do nothing: a peer's
    fast path runs its state check and renders the hosts file; wg0 and the firewall's set are not
    there, so those parts are skipped."""
    from pic_api.agent.server import Agent, AgentServer
    from pic_api.config import Config
    from pic_api.core import peerhosts, wgkeys

    d = tmp / "api"
    d.mkdir(parents=True)
    sock = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp")) / "agent.sock"  # a short socket path
    paths = {"state_file": d / "cell.yml", "state_dir": d / "v", "secrets_dir": d, "seed_file": d / "seed.yml",
             "run_dir": d / "runs", "project_dir": ROOT, "wg_private_key_file": d / "wg" / "private.key",
             "wg_public_key_file": d / "wg" / "public.key", "dns_peers_file": d / "dns" / "peers.hosts",
             "firewall_config_file": d / "nftables.conf", "agent_socket": sock, "agent_work_dir": d / "agent"}
    env = {**os.environ, "PIC_LOG_FILE": "", "PIC_HEALTH_INTERVAL": "0", "PIC_RUNNER": "none",
           "PIC_CONFIG": str(d / "none.yml"), "PIC_SCRYPT_N": "1024", "PIC_BCRYPT_ROUNDS": "4",
           **{"PIC_" + k.upper(): str(v) for k, v in paths.items()}}
    answers = d / "answers.yml"
    answers.write_text(yaml.safe_dump({"cell_name": "bench", "domain_mode": "internal", "timezone": "Etc/UTC",
                                       "services": ["dns", "wireguard"], "admin_password": ADMIN_PASSWORD}))
    subprocess.run([sys.executable, "-m", "pic_api.cli", "setup", str(answers)], env=env, check=True)
    state = yaml.safe_load(paths["state_file"].read_text())
    state["peers"] = [{"name": f"p{i}", "public_key": wgkeys.generate_keypair()[1], "route": "split",
                       "ip": f"10.0.{i // 250}.{2 + i % 250}"} for i in range(500)]
    state["network"]["vpn_subnet"] = "10.0.0.0/21"  # room for the peers the load test adds
    paths["state_file"].write_text(yaml.safe_dump(state))
    paths["dns_peers_file"].parent.mkdir()
    paths["dns_peers_file"].write_text(peerhosts.HEADER)

    config = Config(**paths, runner="agent", log_file=None, health_interval=0)
    server = AgentServer(sock, Agent(config, NullBackend()), {os.getuid()})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = 3917
    log = open(d / "gunicorn.log", "w")  # noqa: SIM115 (open while the server runs)
    api = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--threads",
                            "16", "--timeout", "120", "pic_api.wsgi:app"], env={**env, "PIC_RUNNER": "agent"},
                           stdout=log, stderr=log, start_new_session=True)  # its own group: ended whole
    try:
        base = f"http://127.0.0.1:{port}"
        s = requests.Session()
        for _ in range(300):
            try:
                if s.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise AssertionError("the API did not start: " + (d / "gunicorn.log").read_text()[-3000:])
        s.post(f"{base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
               timeout=10).raise_for_status()
        cookies = s.cookies.get_dict()
        n = len(s.get(f"{base}/api/peers", timeout=10).json()["peers"])
        floor = load(base, "/health", cookies, LOAD_SECONDS)
        listed = load(base, "/api/peers", cookies, LOAD_SECONDS)

        def new_peer(client: int, i: int) -> dict:
            return {"name": f"c{client}-{i}", "route": "full" if i % 2 else "split"}

        added = load(base, "/api/peers", cookies, LOAD_SECONDS, "POST", new_peer)
        drained = time.monotonic()
        while time.monotonic() - drained < 900:  # the runs the burst queued go through the agent first
            try:
                s.get(f"{base}/health", timeout=5)
                break
            except requests.RequestException:
                time.sleep(1)
        notes["drain"] = f"{time.monotonic() - drained:.0f} s"
        ready = [p["name"] for p in s.get(f"{base}/api/peers", timeout=300).json()["peers"] if "-" in p["name"]]
        how = f"{CLIENTS} clients for {LOAD_SECONDS} s, keep-alive, gunicorn 1 worker 16 threads on loopback"
        record(f"API GET /api/peers, {n} peers, p99", p(listed, 0.99), p(floor, 0.99), "ms",
               f"{how}; {len(listed)} requests, p50 {p(listed, 0.5):.1f} ms; floor: GET /health, same load")
        record("API POST /api/peers (fast path), p99", p(added, 0.99), p(floor, 0.99), "ms",
               f"{how}; {len(added)} peers added (state written, agent's peer_apply, run queued), "
               f"p50 {p(added, 0.5):.1f} ms; the API answered again {notes['drain']} after the burst; floor: "
               "GET /health, same load")
        assert len(ready) == len(added), (len(ready), len(added))
    finally:
        api.terminate()
        try:
            api.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(api.pid, signal.SIGKILL)  # the worker too, which a master killed mid-shutdown leaves
        except ProcessLookupError:
            pass
        api.wait(10)
        log.close()
        server.shutdown()
        server.server_close()


# ---- the cell on lab hosts ---------------------------------------------------------------------------
PROFILE = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_roles", "ANSIBLE_NOCOLOR": "1"}


def run_succeeded(s: requests.Session, base: str, run_id: str) -> bool:
    """Follows a run's events; when the stream ends early (Caddy reloads during a setup), asks for
    the run until it is final."""
    events = follow_run(s, base, run_id)
    status = events[-1].get("status") if events else None
    deadline = time.monotonic() + 900
    while status not in ("successful", "failed", "canceled") and time.monotonic() < deadline:
        time.sleep(2)
        try:
            status = s.get(f"{base}/api/runs/{run_id}", timeout=10).json().get("status")
        except (requests.RequestException, ValueError):
            continue
    return status == "successful"


def converge_seconds(cell, *args: str, env: dict | None = None) -> tuple[float, str]:
    started = time.monotonic()
    res = subprocess.run(["ansible-playbook", "-i", str(cell.inventory), *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=1800, env={**os.environ, **(env or {}), "ANSIBLE_NOCOLOR": "1"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    return time.monotonic() - started, res.stdout


def role_times(output: str) -> list[tuple[str, float]]:
    """The profile_roles callback's table: (role, seconds), slowest first."""
    table = output.split("PLAY RECAP", 1)[-1]
    found = re.findall(r"^(\S[^\n]*?) -{3,} (\d+\.\d+)s$", table, re.M)
    return sorted(((r.strip(), float(x)) for r, x in found if r.strip() != "total"), key=lambda kv: -kv[1])


def converge_figures(cell, tmp: Path) -> None:
    empty = tmp / "empty.yml"
    empty.write_text("- name: An empty play\n  hosts: cells\n  gather_facts: false\n  tasks: []\n")
    floor, _ = converge_seconds(cell, str(empty))
    # Timed without the profiling callback, which adds its own work to every task; a run with it
    # afterwards says where the time goes.
    seconds, out = converge_seconds(cell, "site.yml")
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)", out.split("PLAY RECAP", 1)[-1])
    assert recap and recap.group(2) == "0", out[-3000:]
    record("no-op converge of the site over ssh", seconds, floor, "s",
           f"ansible-playbook site.yml from this machine, one shared ssh connection; ok={recap.group(1)} "
           "changed=0; floor: an empty play on the same host")
    profiled, out = converge_seconds(cell, "site.yml", env=PROFILE)
    notes["roles"] = f"{profiled:.1f} s with the callback; " + ", ".join(
        f"{r} {x:.1f} s" for r, x in role_times(out)[:14])

    # one role's tag on the cell itself, as the agent converges it (its inventory, skipping api and webui)
    src, ansible = "/opt/pic/src", "/opt/pic/venv/bin/ansible-playbook"
    cell.lab.exec("cell", ["bash", "-c", f"cat > {src}/.bench-empty.yml"], input=empty.read_text())

    def local(*args: str) -> float:
        command = f"cd {src} && ANSIBLE_CONFIG=ansible.cfg {ansible} -i inventory/cell.yml {' '.join(args)}"
        started = time.monotonic()
        res = cell.lab.exec("cell", ["bash", "-c", command])
        assert res.returncode == 0, res.stdout[-3000:]
        return time.monotonic() - started

    try:
        floor = min(local(".bench-empty.yml") for _ in range(2))
        for tag in ("chrony", "wireguard"):
            seconds = min(local("site.yml", "--tags", tag, "--skip-tags", "api,webui") for _ in range(2))
            record(f"no-op converge of one role's tag on the cell ({tag})", seconds, floor, "s",
                   "ansible-playbook site.yml --tags <role> on the cell itself (local connection, the agent's "
                   "inventory), best of 2; floor: an empty play there")
    finally:
        cell.lab.exec("cell", ["rm", "-f", f"{src}/.bench-empty.yml"])


def handshake_seconds(cell, config: str, started: float) -> float:
    """Brings the client's tunnel up with ``config``; seconds from ``started`` to a handshake and a
    ping through it."""
    config, vpn_cell = client_wg_config(config, str(cell.lab.subnet))
    cell.lab.exec("client", ["bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf"], input=config)
    up = cell.exec("wg-quick", "up", "wg0", host="client")
    assert up.returncode == 0, up.stderr
    try:
        while time.monotonic() - started < 60:
            if cell.exec("ping", "-c1", "-W1", vpn_cell, host="client").returncode == 0:
                shakes = cell.exec("wg", "show", "wg0", "latest-handshakes", host="client").stdout.split()
                if len(shakes) == 2 and int(shakes[1]) > 0:
                    return time.monotonic() - started
        raise AssertionError("no handshake within 60 s")
    finally:
        cell.exec("wg-quick", "down", "wg0", host="client")


def peer_figures(cell, s: requests.Session) -> None:
    from pic_api.core import wgkeys

    ours, raw = [], []
    for i in range(5):
        started = time.monotonic()
        r = s.post(f"{cell.https}/api/peers", json={"name": f"bench{i}", "route": "split"}, headers=csrf(s),
                   timeout=30)
        assert r.status_code == 201 and r.json()["ready"] is True, r.text[:500]
        ours.append(handshake_seconds(cell, r.json()["config"], started))
        assert run_succeeded(s, cell.https, r.json()["run_id"])
        # the floor: a peer set on the running interface by hand, the same client config otherwise
        private, public = wgkeys.generate_keypair()
        config = r.json()["config"].replace(private_key_line(r.json()["config"]), f"PrivateKey = {private}")
        # an address of the cell's VPN subnet (chosen at setup) that no peer of the API has
        ip = r.json()["peer"]["ip"].rsplit(".", 1)[0] + f".{250 - i}"
        config = config.replace(f"Address = {r.json()['peer']['ip']}/32", f"Address = {ip}/32")
        started = time.monotonic()
        cell.exec("wg", "set", "wg0", "peer", public, "allowed-ips", f"{ip}/32")
        raw.append(handshake_seconds(cell, config, started))
        cell.exec("wg", "set", "wg0", "peer", public, "remove")
    record("POST /api/peers -> first handshake and ping (median of 5)", statistics.median(ours),
           statistics.median(raw), "s",
           f"from the request to a handshake and a ping through the client's new tunnel (wg-quick up, "
           f"wireguard-go), each run waited for after; all: {', '.join(f'{x:.2f}' for x in ours)}; floor: "
           f"`wg set` of a peer on the cell, then the same client steps ({', '.join(f'{x:.2f}' for x in raw)})")


def private_key_line(config: str) -> str:
    return next(line for line in config.splitlines() if line.startswith("PrivateKey"))


def rss_by_unit(lab: Lab, host: str) -> tuple[float, dict[str, float], int]:
    procs = processes(lab, host)
    by_unit: dict[str, float] = defaultdict(float)
    for mib, unit, _comm in procs:
        by_unit[unit] += mib
    return sum(by_unit.values()), dict(sorted(by_unit.items(), key=lambda kv: -kv[1])), len(procs)


def memory_figures(cell, lab: Lab) -> None:
    lab.end_ssh_masters()  # the converges' shared connection is the bench's, not the cell's
    lab.up("bare")  # the floor: the same base host with nothing of PIC
    time.sleep(30)  # idle: no run, the health checks' connections ended (Postfix's max_idle)
    total, by_unit, n = rss_by_unit(lab, "cell")
    floor, _, bare_n = rss_by_unit(lab, "bare")
    record("idle cell memory (RSS, all processes)", total, floor, "MiB",
           f"sum of RSS of the {n} processes on the cell host, 30 s after the last run; floor: a bare lab host "
           f"booted from the same base ({bare_n} processes)")
    notes["memory"] = "\n".join(f"| {unit} | {mib:.1f} |" for unit, mib in by_unit.items() if mib >= 0.5)


def cell_figures(lab: Lab, tmp: Path) -> None:
    cell = boot_cell(lab, tmp / "inv", "client")
    fresh = cell.converge()
    assert fresh.rc == 0, fresh.output[-3000:]
    record("fresh converge (site.yml, fresh host)", fresh.seconds, None, "s",
           "ansible-playbook site.yml on a just-booted lab host; .debs and wheels from the local cache")
    s = requests.Session()
    code = cell.exec("/opt/pic/venv/bin/pic", "setup-code").stdout.strip()  # as the owner reads it on the host
    r = s.post(f"{cell.url}/api/setup", json={"setup_code": code, "cell_name": "bench", "domain_mode": "internal",
                                              "timezone": "Etc/UTC", "admin_password": ADMIN_PASSWORD,
                                              "services": ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar",
                                                           "files"]}, timeout=30)
    r.raise_for_status()
    setup_run = r.json()["run_id"]
    # The run switches :8081 to HTTPS (its caddy reload ends this stream); its end is read over HTTPS.
    follow_run(s, cell.url, setup_run)
    s = cell.https_login(ADMIN_PASSWORD, tmp)
    assert run_succeeded(s, cell.https, setup_run)
    converge_figures(cell, tmp)
    cell.exec("bash", "-c", "apt-get install -y -q --no-install-recommends wireguard-tools wireguard-go", host="client")
    peer_figures(cell, s)
    memory_figures(cell, lab)


def main() -> int:
    lab = Lab(f"{os.environ.get('PIC_LAB') or 'bench'}-bench")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            api_under_load(tmp)
            cell_figures(lab, tmp)
        finally:
            lab.down_all()
    machine = (f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
               f"Linux {platform.release()}, load average {load_before:.1f} before the run and "
               f"{os.getloadavg()[0]:.1f} after it")
    lines = ["# Benchmarks", "", f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}; machine: {machine}.",
             "Lab hosts are systemd-nspawn containers on the same machine (see README, the lab). Each figure has",
             "its floor, measured in the same run on the same host, and the ratio of the two.", "",
             "| figure | value | floor | ratio | how |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    text = NOTES.replace("{roles}", notes.get("roles", "-")).replace("{memory}", notes.get("memory", ""))
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n" + text)
    return 0


NOTES = """
## The API under load

`make bench` measures it first (`api_under_load`: the API under gunicorn on loopback with 500 peers
and a real agent whose converges do nothing, on the machine itself, not a lab host). Its figures
move with the machine more than any other: the /health floor's p99 was 179 ms on 2026-12-05 (load
about 3, beside the test suite), and on 2026-12-06, the machine otherwise idle, 241 ms in one run
and 431 ms in the next, 10 minutes apart; read its rows against their floor. Peer adds are
serialised by the state lock: each one writes the whole 500-peer state once, validated once, and
asks the agent, so with 20 clients waiting a request's p50 is about 20 times one add. The runs they
queue join one pending converge instead of one each (docs/architecture.md, "Runs").

An earlier burst left the API unanswering for more than 15 minutes: a session check took the auth
lock and then the state lock, while a state save (pruning expired sessions) took them the other
way round. The session check now reads the users before it takes the auth lock
(`AuthManager.get_session`); tests/unit/test_api_auth.py holds the two in the order that deadlocked.

## Where a no-op converge spends its time

By role (the `ansible.posix.profile_roles` callback, a second no-op converge right after the one timed above): {roles}.

A task costs a round trip to the host (its module run by the host's one mitogen interpreter;
a new Python per task before mitogen), a loop one per item, a template or copy two (a checksum,
then the file's attributes). What the roles do about it:
docs/architecture.md, "A converge that changes nothing". Most of what is left is Ansible's own work
on the controller per task: a no-op site converge runs about 400 tasks (290 ok, the rest skipped)
and used 26 s of the controller's CPU of its 40 s (2026-12-06). Two things tried that day, each
measured on the same lab cell: roles listed under `roles:` instead of included, 41.1 -> 34.7 s (the
includes' own cost; not taken, as a tagged run would load and check every role again), and facts not
injected as variables (`inject_facts_as_vars`), no change in CPU.

By module, the same day (a callback timing each task from its start to the next one's, the machine
idle, 35.5 s in 416 tasks): the 19 `include_role` of site.yml 4.0 s (209 ms each), 35 templates
3.9 s (113 ms), 18 `systemd_service` 2.4 s (136 ms), 41 `file` 2.4 s (59 ms), 43 argument checks
2.1 s (49 ms; 19 roles' and 24 of `shared`'s entry points), 23 copies 1.8 s, fact gathering 1.3 s,
the community.crypto modules 3.5 s in 9 tasks (270-460 ms each: mitogen's listing of the
collections, below), `debconf` 0.4 s each, and 126 skipped tasks about 4 s (30-40 ms each). Roles
imported (`import_role`) instead of included, same cell, back to back, twice: 33.9 and 37.7 s
included, 30.9 and 32.3 s imported without their argument checks, 30.5 and 29.1 s imported with
them. Not taken: an imported role's argument check is tagged `always`, so a one-role converge would
check all nineteen and `shared`'s entry points too (17 more tasks in a mailserver-tagged run). Even
with every one of these levers the site stays near 25 s: under 20 s needs fewer tasks per role.

A profile of the controller itself (`python -m cProfile` around ansible-playbook, the same no-op
converge, 2026-12-06, the machine loaded by a test run): of the main process's time, 10.2 s went to
copying blocks and tasks (`Block.copy`, 25,255 calls), 4.8 s of it where an include's tasks were
inserted (the nineteen includes of site.yml sat in one block, and each insertion copied it with
every role inserted before), and 9.6 s to the variables of each task (`VariableManager.get_vars`,
772 calls); the rest was waiting for the task workers. Each include now sits in
a block of its own (docs/architecture.md): the copies left the profile, and on a quiet machine the
converge took 29.7 and 27.7 s against 31.8 and 32.1 s for the old site.yml on the same cell, back to
back. Four roles also ran `systemctl daemon-reload` on every converge (0.36-0.56 s each); they now
reload only when a unit changed. With both, the same day: no-op site converge 27.7-29.7 s over ssh,
chrony's tag on the cell itself 4.5 s (ok=16, 8 skipped).

A profile of the task workers (cProfile in each worker Ansible forks, the site without api and
webui, 2026-12-07): 16 tasks whose module comes from a collection (community.crypto's, ansible.posix's
`sysctl`) each spent about 0.5 s in mitogen listing every installed collection
(`ansible_mitogen.planner._load_collections`: the full `ansible` package holds about a hundred,
each with metadata to parse), in the worker, so once per task. That list, not the cryptography
library, made the community.crypto tasks slow. plugins/strategy/mitogen_linear.py now makes it once
per run in the strategy's own process, before the first worker that needs it is forked. On the same
lab cell, alternated: 35.7 and 38.1 s before, 34.9 and 35.8 s after (22.7 and 22.9 s of the
controller's CPU before, 19.0 and 20.3 s after); by `profile_tasks`, the ca role's 20 tasks went
from 6.6 to 2.2 s. The workers' next cost is Jinja compiling templates: 1,513 compiles in that run,
489 distinct (a worker's compiles die with it), about 1 ms each. The floor per task, on the same
cell over ssh (100 `stat` tasks against one, in an otherwise empty play): 57 ms per task (28 ms of
the controller's user CPU and 17 ms of its system CPU, most of it forking the worker), 11 ms per
skipped task. With about 290 tasks that run, that floor alone is about 17 s: under 20 s for the
site needs fewer tasks, not faster ones. On the cell itself, the first task of a run costs 1.1-1.4 s
(mitogen starting its interpreter and sending it its modules), the first `setup` 0.65 s (the fact
collectors' modules) and a later one 0.1-0.15 s, so a tagged converge there starts at about 2.3 s
with Ansible's own start. The agent's converges also became root through sudo although the agent is
root, and mitogen started a second interpreter for it: the agent's inventory now sets
`ansible_become: false`. chrony's tag on the cell, alternated: 5.3-6.3 s with become, 4.9-5.6 s
without (the machine slower than the day before, when the same run took 4.5 s).

On 2026-12-07 (the machine faster than the day before: the site without api and webui took 20-25 s
over ssh, idle): the 42 imports of the helper roles' entry points (`shared`'s, `sandbox`'s) no longer
run an argument check each (a unit test checks the calls instead), and exits and cell_link work out
three names as role variables instead of `set_fact` tasks. That converge runs 34 fewer tasks (355 ->
321), a change within the run-to-run noise (two alternated runs each: 22.8 and 25.2 s before, 23.9
and 21.5 s after). Tried and not kept: `gc.freeze()` in the strategy before each worker is forked, so
that a worker's garbage collections skip the parent's objects (three alternated runs each: 20.4 s
with it and 20.4 s without); roles imported instead of included, again, with a test run beside them
(load 7-9): 67.1 and 53.4 s imported, 62.0 and 50.2 s included, the same CPU. The whole site over ssh
without the profiling callback: 27.3-28.6 s (ok=258). chrony's tag on the cell by `profile_tasks`
(3.67 s, ok=15, 7 skipped): the first task (fact gathering, with mitogen starting) 0.98 s, the 45
defaults of playbooks/state.yml 0.35 s, the other 20 tasks 0.03-0.17 s each; an empty play there
takes 0.57 s. wireguard's tag: 3.67 s too (ok=25, 8 skipped), against 5.73 s in the table's run.

Later that day, a profile of the task workers (cProfile in each, the whole site over ssh) showed a
fifth of their time in Jinja compiling template strings: about 1,800 compiles in a no-op converge,
611 of them different, each in a worker that ends with its task. The strategy now keeps each
compiled template on disk (plugins/template_cache.py; docs/architecture.md says what is never kept)
and loads the filter and test plugins before it forks a worker. Measured with the workers' own CPU
time, which the machine's noise moves less than the wall clock: 7.9-8.6 s with both, 10.4-11.9 s
without (alternated runs). The whole site over ssh, three alternated runs each the same hour: 23.2,
23.8 and 25.0 s with the cache, 27.0, 26.5 and 27.3 s without. The table's run came an hour later
on a faster machine (its empty play took 0.60 s there, 0.95 s in the run before), so part of the
drop to under 20 s is the machine's: with the profiling callback in both, the ratio to the floor
went from 34.8x (33.08 s) to 30.8x (18.5 s). Since this run, the table's no-op figure is timed
without the callback, and the breakdown by role comes from a second run with it (the two runs
differ by about a second either way: the machine's noise).

## The idle cell's memory, by unit

| unit | RSS (MiB) |
|---|---|
{memory}

The sum of RSS counts the pages that processes share (the C library, Python) once per process.

What keeps it small: pic-agent runs only when the API asks it something (socket-activated, it exits
after `api_agent_idle_exit`, 20 s, with nothing to do; the health checks read unit states without it);
caddy runs with GOGC=50 and GOMEMLIMIT=64MiB (`caddy_go_env`); Apache keeps one worker process when
idle (`webdav_max_workers`); the API's gunicorn worker runs with MALLOC_ARENA_MAX=2.

## How the figures moved

Measured by hand when a change went in (the rows above are the newest `make bench`).

- **mitogen** (docs/architecture.md, "A converge that changes nothing"), on a lab cell on
  2026-12-06, machine idle, the same cell and day without it in brackets: the no-op converge of the
  site over ssh 42 s (101 s), on the cell itself 31.1 s (74.8 s); chrony's tag on the cell 5.3 s
  (7.3 s); a fresh converge from the image 118 s (226 s), 87 s once the image held the API's Python
  dependencies. `make bench` on 2026-12-05, before both: 106 s, 7.42 s and 301 s.
- **Memory levers**, `make bench-memory` (tests/bench/memory.py: a cell converged and set up as
  `make bench` does, every service on; an admin login and a few GETs; then 30 s idle, `ps -o
  rss,unit,comm` of every process but itself) on 2026-12-06, load average about 14. Before: the
  cell as main converged it. After: the same cell converged again with the levers. Then: a fresh
  cell from main with every lever.

| unit | before (MiB) | after (MiB) | then (MiB) | lever |
|---|---|---|---|---|
| pic-api.service | 93.2 | 90.4 | 93.5 | MALLOC_ARENA_MAX=2 (2 of the 3 MiB may be the restart) |
| caddy.service | 37.6 | 35.8 | 36.7 | GOGC=50, GOMEMLIMIT=64MiB (`caddy_go_env`) |
| pic-agent.service | 31.3 | 0 | 0 | socket-activated, exits after 20 s idle (`api_agent_idle_exit`) |
| radicale.service | 28.3 | 28.3 | 28.3 | - |
| php8.2-fpm.service | 26.6 | 26.6 | 26.6 | - (webmail; already `pm = ondemand`: the master alone) |
| postfix@-.service | 23.9 | 24.0 | 11.8 | health reads listening ports: no smtpd, tlsmgr kept (qmgr 7.0, master 4.8) |
| dovecot.service | 23.3 | 23.3 | 10.9 | the same: no imap-login kept alive (dovecot 4.6, log 3.3, anvil 3.1 left) |
| apache2.service | 15.2 | 10.4 | 10.0 | one worker process when idle instead of two (`webdav_max_workers`) |
| systemd-journald.service | 13.2 | 13.7 | 12.7 | - |
| init.scope | 12.3 | 12.3 | 12.2 | - |
| systemd-networkd.service | 9.6 | 9.6 | 9.5 | - |
| ssh.service | 9.4 | 9.4 | 9.5 | - |
| systemd-logind.service | 7.9 | 7.9 | 7.9 | - |
| opendkim.service | 7.9 | 7.9 | 7.6 | - |
| wg-quick@wg0.service | 5.0 | 5.3 | 5.0 | - |
| chrony.service | 4.8 | 4.8 | 4.8 | - |
| - (ps itself) | 4.8 | 4.8 | 4.7 | not the cell: no longer counted (`memory.processes` leaves the listing `ps` out) |
| dbus.service | 4.5 | 4.5 | 4.4 | - |
| dnsmasq.service | 2.3 | 2.3 | 2.3 | - |
| console-getty.service | 2.1 | 2.1 | 2.0 | - |
| **total** | **363.2** | **323.3** | **300.3** (295.6 without ps) | **-67.6** |

"Then": a fresh cell converged and set up from main with every lever above, measured the same way
on the same day (load average about 10; fresh converge 430 s): 300.3 MiB over 25 processes, of which
4.7 MiB was the measuring `ps`, which the bench no longer counts: **295.6 MiB, 24 processes**, under
the 300 MiB goal by a few MiB only.

The agent, once stopped: the API's next call to it (GET /api/system, its `memory` action) was
answered in 2.5 s on that loaded machine (systemd started the agent for it), the one after in
0.01 s, and the agent exited 20 s later. What is left, by size: the API's worker (68 MiB) and
gunicorn's arbiter (25 MiB, a second Python process), radicale (28 MiB, Python), php-fpm's master
(27 MiB, mostly its extensions' libraries). A connection to Postfix or Dovecot (a real client) still
starts their per-connection processes, which end after Postfix's `max_idle` (100 s) and Dovecot's
idle login limit.
"""

if __name__ == "__main__":
    sys.exit(main())
