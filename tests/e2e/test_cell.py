"""A new user's path through a whole cell, on fresh lab hosts, in order.

1. `ansible-playbook site.yml` converges a fresh host; a second run changes nothing.
2. The wizard over HTTP on :8081: 428 before setup, a bad setup refused with nothing changed,
   a good setup converges with its events streamed live.
3. A peer added through the API: a WireGuard client host completes a handshake, pings the cell and
   resolves and queries NTP at the cell through the tunnel.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from pic_lab.cell import ROOT, client_wg_config, csrf, follow_run

ADMIN_PASSWORD = "correct horse battery staple 7"  # test data, this lab cell only


@pytest.fixture(scope="module")
def fresh(cell):
    """The first converge of a fresh host (also measured by `make bench`)."""
    result = cell.converge()
    assert result.rc == 0, result.output[-6000:]
    return result


def test_site_converges_a_fresh_host(fresh):
    assert fresh.recap()["failed"] == 0
    assert fresh.recap()["changed"] > 0


def test_second_converge_changes_nothing(cell, fresh):
    again = cell.converge()
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, f"changed on a no-op converge: {again.changed_tasks()}"


def test_health_answers_before_setup(cell, fresh):
    r = requests.get(f"{cell.url}/health", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_api_answers_428_before_setup(cell, fresh):
    r = requests.get(f"{cell.url}/api/peers", timeout=10)
    assert r.status_code == 428
    assert r.json()["redirect"] == "/setup"
    assert requests.get(f"{cell.url}/api/setup/status", timeout=10).json() == {"completed": False}


def test_bad_setup_is_refused_and_changes_nothing(cell, fresh):
    bad = {"cell_name": "Bad Name\n", "domain_mode": "internal", "timezone": "Mars/Olympus",
           "admin_password": "x", "services": ["dns", "telnet"]}
    r = requests.post(f"{cell.url}/api/setup", json=bad, timeout=10)
    assert r.status_code == 400
    fields = r.json()["fields"]
    assert {"cell_name", "timezone", "admin_password", "services"} <= set(fields)
    assert requests.get(f"{cell.url}/api/setup/status", timeout=10).json() == {"completed": False}
    assert cell.exec("test", "-e", "/etc/pic/cell.yml").returncode != 0


def browser_suite(cell, suite: str, **env: str) -> subprocess.CompletedProcess:
    """Runs one suite of the web UI's browser tests (webui/e2e) in Chromium against this cell."""
    return subprocess.run(
        ["node", "--test", "--test-concurrency=1", f"--test-name-pattern={suite}", "e2e/ui.test.mjs"],
        cwd=ROOT / "webui", capture_output=True, text=True, timeout=2400,
        env={**os.environ, "PIC_UI_URL": cell.url, "PIC_ADMIN_PASSWORD": ADMIN_PASSWORD, "PIC_CELL_NAME": "home",
             **env},
    )


@pytest.fixture(scope="module")
def admin(cell, fresh):
    """A person completes the wizard in Chromium and watches its run succeed; then an API session
    logs in as that admin and replays the setup run's event stream from the start."""
    ui = browser_suite(cell, "first run")
    assert ui.returncode == 0, ui.stdout[-6000:] + ui.stderr[-2000:]
    s = requests.Session()
    r = s.post(f"{cell.url}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    assert s.cookies.get("pic_csrf")
    runs = s.get(f"{cell.url}/api/runs", timeout=10).json()
    runs = runs["runs"] if isinstance(runs, dict) else runs
    assert runs, "the wizard started no run"
    s.setup_run = min(runs, key=lambda run: run.get("created_at") or "")["id"]  # the wizard's run came first
    s.setup_events = follow_run(s, cell.url, s.setup_run)
    return s


def test_setup_converges_with_its_events_streamed(cell, admin):
    events = admin.setup_events
    names = [e.get("event") for e in events]
    assert "playbook_on_task_start" in names
    assert names[-1] == "pic_run_status" and events[-1]["status"] == "successful", events[-5:]
    run = admin.get(f"{cell.url}/api/runs/{admin.setup_run}", timeout=10).json()
    assert run["status"] == "successful"
    assert requests.get(f"{cell.url}/api/setup/status", timeout=10).json() == {"completed": True}
    assert cell.exec("test", "-s", "/etc/pic/cell.yml").returncode == 0


def test_setup_cannot_run_twice(cell, admin):
    r = requests.post(f"{cell.url}/api/setup", json={"cell_name": "other"}, timeout=10)
    assert r.status_code == 409


# ---- 3. a peer and its VPN client ----------------------------------------------------------------
PEER = "laptop"


@pytest.fixture(scope="module")
def root_pem(cell, admin, tmp_path_factory) -> str:
    r = requests.get(f"{cell.url}/api/ca/root.pem", timeout=10)
    assert r.status_code == 200 and "BEGIN CERTIFICATE" in r.text
    return r.text


@pytest.fixture(scope="module")
def peer(cell, admin, root_pem):
    """Adds a peer through the API and brings its tunnel up on the client host with wg-quick."""
    r = admin.post(f"{cell.url}/api/peers", json={"name": PEER, "route": "split"}, headers=csrf(admin),
                   timeout=30)
    assert r.status_code == 201, r.text
    body = r.json()
    events = follow_run(admin, cell.url, body["run_id"])
    assert events[-1]["status"] == "successful", events[-5:]
    client = cell.lab
    setup = ("apt-get update -q && apt-get install -y -q --no-install-recommends wireguard-tools wireguard-go "
             "curl swaks python3")
    res = client.exec("client", ["bash", "-c", setup])
    assert res.returncode == 0, res.stderr[-2000:]
    config, dns = client_wg_config(body["config"], str(cell.lab.subnet))
    client.exec("client", ["bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf"], input=config)
    client.exec("client", ["bash", "-c", "cat > /etc/pic-root.pem"], input=root_pem)
    up = client.exec("client", ["wg-quick", "up", "wg0"])
    assert up.returncode == 0, up.stderr
    client.exec("client", ["bash", "-c", f"echo 'nameserver {dns}' > /etc/resolv.conf"])
    return {**body["peer"], "dns": dns, "private_key": private_key(body["config"])}


def private_key(config: str) -> str:
    return next(line.split("=", 1)[1].strip() for line in config.splitlines() if line.startswith("PrivateKey"))


def wait_for(predicate, timeout: float = 60, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    return predicate()


def test_peer_is_listed_with_its_address(cell, admin, peer):
    peers = admin.get(f"{cell.url}/api/peers", timeout=10).json()
    listed = {p["name"]: p for p in (peers["peers"] if isinstance(peers, dict) else peers)}
    assert listed[PEER]["ip"] == peer["ip"]


def test_client_completes_a_handshake_and_pings_the_cell(cell, peer):
    vpn_cell = peer["dns"]
    ping = wait_for(lambda: cell.exec("ping", "-c1", "-W2", vpn_cell, host="client").returncode == 0, 30)
    assert ping, "no ping through the tunnel"
    shakes = cell.exec("wg", "show", "wg0", "latest-handshakes", host="client").stdout.split()
    assert len(shakes) == 2 and int(shakes[1]) > 0


def test_cell_names_resolve_at_the_cell_dns_through_the_tunnel(cell, peer):
    for name in ("home.cell", "calendar.home.cell", f"{PEER}.home.cell"):
        res = cell.exec("getent", "hosts", name, host="client")
        assert res.returncode == 0, f"{name} did not resolve: {res.stderr}"
    assert cell.exec("getent", "hosts", f"{PEER}.home.cell", host="client").stdout.split()[0] == peer["ip"]


def test_ntp_answers_through_the_tunnel(cell, peer):
    # One NTP query from the client's network namespace; -Q only reports, the clock is never set.
    res = cell.lab.netns_exec("client", ["chronyd", "-Q", "-t", "10", f"server {peer['dns']} iburst maxsamples 1"])
    # chronyd -Q reports how wrong the clock is by the cell's answer; without an answer it says so.
    assert res.returncode == 0 and "System clock wrong by" in res.stderr + res.stdout, res.stdout + res.stderr
