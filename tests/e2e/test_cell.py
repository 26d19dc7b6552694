"""A new user's path through a whole cell, on fresh lab hosts, in order.

1. `ansible-playbook site.yml` converges a fresh host; a second run changes nothing.
2. The wizard over HTTP on :8081: 428 before setup, a bad setup refused with nothing changed,
   a good setup converges with its events streamed live.
Later steps (peer, VPN client, LAN host, reboot) follow in this module, each building on the last.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

ADMIN_PASSWORD = "correct horse battery staple 7"  # test data, this lab cell only
SERVICES = ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files"]

pytestmark = pytest.mark.e2e


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


def csrf(session: requests.Session) -> dict[str, str]:
    return {"X-CSRF-Token": session.cookies.get("pic_csrf", "")}


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


@pytest.fixture(scope="module")
def admin(cell, fresh):
    """Completes the wizard and follows its converge to the end; the session is logged in as admin."""
    s = requests.Session()
    setup = {"cell_name": "home", "domain_mode": "internal", "timezone": "Europe/Berlin",
             "admin_password": ADMIN_PASSWORD, "services": SERVICES}
    started = time.monotonic()
    r = s.post(f"{cell.url}/api/setup", json=setup, timeout=30)
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    assert s.cookies.get("pic_csrf")
    events = follow_run(s, cell.url, run_id)
    s.setup_events, s.setup_seconds, s.setup_run = events, time.monotonic() - started, run_id
    return s


def test_setup_converges_with_its_events_streamed(cell, admin):
    events = admin.setup_events
    names = [e.get("event") for e in events]
    assert "playbook_on_task_start" in names
    assert names[-1] == "pic_run_status" and events[-1]["status"] == "successful", events[-5:]
    run = admin.get(f"{cell.url}/api/runs/{admin.setup_run}", timeout=10).json()
    assert run["status"] == "successful"
    assert requests.get(f"{cell.url}/api/setup/status", timeout=10).json() == {"completed": True}


def test_setup_cannot_run_twice(cell, admin):
    r = requests.post(f"{cell.url}/api/setup", json={"cell_name": "other"}, timeout=10)
    assert r.status_code == 409
