import json
import threading

import pytest
from conftest import csrf, wait_run


def sse_events(resp):
    text = resp.get_data(as_text=True)
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def test_list_and_get(app, admin):
    runs = admin.get("/api/runs").get_json()["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "successful" and runs[0]["kind"] == "converge"
    one = admin.get(f"/api/runs/{runs[0]['id']}").get_json()
    assert one["id"] == runs[0]["id"] and one["status"] == "successful"


def test_list_limit(admin):
    assert admin.get("/api/runs?limit=0").status_code == 400
    assert admin.get("/api/runs?limit=abc").status_code == 400
    assert admin.get("/api/runs?limit=1").status_code == 200


@pytest.mark.parametrize("run_id", ["nope", "../../etc", "20261127T000000-00000000"])
def test_unknown_run_is_404(admin, run_id):
    assert admin.get(f"/api/runs/{run_id}").status_code == 404
    assert admin.get(f"/api/runs/{run_id}/events").status_code == 404
    assert admin.post(f"/api/runs/{run_id}/cancel", headers=csrf(admin)).status_code == 404


def test_events_replay_finished_run(app, admin):
    run_id = admin.get("/api/runs").get_json()["runs"][0]["id"]
    resp = admin.get(f"/api/runs/{run_id}/events")
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    events = sse_events(resp)
    assert [e["event"] for e in events] == [
        "pic_run_status",
        "playbook_on_start",
        "runner_on_ok",
        "pic_run_status",
    ]
    assert [e["seq"] for e in events] == [0, 1, 2, 3]
    assert events[-1]["status"] == "successful"
    ok = events[2]
    assert ok["task"] == "Set password" and ok["host"] == "localhost" and ok["changed"] is True
    assert ok["diff"] == {"after": "x"}
    assert "hunter2" not in resp.get_data(as_text=True)


def test_events_resume_after(admin):
    run_id = admin.get("/api/runs").get_json()["runs"][0]["id"]
    events = sse_events(admin.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "1"}))
    assert [e["seq"] for e in events] == [2, 3]
    assert [e["seq"] for e in sse_events(admin.get(f"/api/runs/{run_id}/events?after=2"))] == [3]
    assert admin.get(f"/api/runs/{run_id}/events?after=x").status_code == 400


def test_events_persisted_as_json_lines_without_secrets(app, admin, config):
    run_id = admin.get("/api/runs").get_json()["runs"][0]["id"]
    lines = (config.run_dir / run_id / "events.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[2])["event"] == "runner_on_ok"
    assert "hunter2" not in "".join(lines)


def test_live_events_follow_a_running_run(app, admin, backend):
    backend.gate = threading.Event()
    backend.started.clear()
    resp = admin.post("/api/runs", json={"tags": ["chrony"]}, headers=csrf(admin))
    assert resp.status_code == 202
    run_id = resp.get_json()["run_id"]
    assert backend.started.wait(5)
    assert admin.get(f"/api/runs/{run_id}").get_json()["status"] == "running"
    stream = app.extensions["pic"].runs.events(run_id, keepalive=0.05)
    got = []
    for event in stream:
        if event is None:
            backend.gate.set()  # nothing new: let the run finish
            continue
        got.append(event["event"])
    assert got == ["pic_run_status", "playbook_on_start", "runner_on_ok", "pic_run_status"]


def test_one_run_at_a_time_later_ones_queue(app, admin, backend):
    backend.gate = threading.Event()
    backend.started.clear()
    first = admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"]
    assert backend.started.wait(5)
    second = admin.post("/api/runs", json={"tags": ["dnsmasq"]}, headers=csrf(admin)).get_json()["run_id"]
    assert admin.get(f"/api/runs/{second}").get_json()["status"] == "pending"
    backend.gate.set()
    assert wait_run(app, first)["status"] == "successful"
    assert wait_run(app, second)["status"] == "successful"
    assert [r["tags"] for r in backend.runs[-2:]] == [[], ["dnsmasq"]]


def test_changes_queued_behind_a_run_join_one_converge(app, admin, backend):
    """A burst of changes while a converge runs: the first queues a converge, the others join it,
    and it converges the roles of all of them once (it reads the state on disk when it starts)."""
    backend.gate = threading.Event()
    backend.started.clear()
    first = admin.post("/api/runs", json={"tags": ["chrony"]}, headers=csrf(admin)).get_json()["run_id"]
    assert backend.started.wait(5)
    queued = [
        admin.post("/api/peers", json={"name": f"dev{i}", "route": "split"}, headers=csrf(admin)).get_json()["run_id"]
        for i in range(5)
    ]
    assert len(set(queued)) == 1 and queued[0] != first
    preview = admin.put("/api/settings?preview=1", json={"timezone": "Europe/Paris"}, headers=csrf(admin))
    assert preview.status_code == 202 and preview.get_json()["preview"] is True
    assert preview.get_json()["run_id"] not in queued  # a check-mode run of a proposal never joins
    tz = admin.put("/api/settings", json={"timezone": "Europe/Paris"}, headers=csrf(admin)).get_json()["run_id"]
    assert tz == queued[0]
    joined = admin.get(f"/api/runs/{tz}").get_json()
    assert joined["status"] == "pending" and "add peer dev4" in joined["description"]
    assert "common" in joined["tags"] and "wireguard" in joined["tags"]
    backend.gate.set()
    assert wait_run(app, tz)["status"] == "successful"
    executed = [r for r in backend.runs if r["id"] == tz]
    assert len(executed) == 1 and set(executed[0]["tags"]) >= {"common", "wireguard", "firewall"}
    assert len(admin.get("/api/peers").get_json()["peers"]) == 5


def test_a_change_never_joins_a_run_already_running(app, admin, backend):
    backend.gate = threading.Event()
    backend.started.clear()
    first = admin.post("/api/peers", json={"name": "one", "route": "split"}, headers=csrf(admin)).get_json()["run_id"]
    assert backend.started.wait(5)
    second = admin.post("/api/peers", json={"name": "two", "route": "split"}, headers=csrf(admin)).get_json()["run_id"]
    assert second != first
    backend.gate.set()
    assert wait_run(app, second)["status"] == "successful"


def test_cancel_running_and_pending(app, admin, backend):
    backend.gate = threading.Event()
    backend.started.clear()
    first = admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"]
    assert backend.started.wait(5)
    second = admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"]
    resp = admin.post(f"/api/runs/{second}/cancel", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["status"] == "canceled"
    assert admin.post(f"/api/runs/{first}/cancel", headers=csrf(admin)).status_code == 202
    assert wait_run(app, first)["status"] == "canceled"
    assert len([r for r in backend.runs if r["id"] == second]) == 0  # never started
    resp = admin.post(f"/api/runs/{first}/cancel", headers=csrf(admin))
    assert resp.status_code == 409


def test_failed_run(app, admin, backend):
    backend.status = "failed"
    run_id = admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"]
    assert wait_run(app, run_id)["status"] == "failed"


def test_crashing_backend_marks_run_failed(app, admin, backend):
    def boom(*args):
        raise RuntimeError("backend broke")

    backend.execute = boom
    run_id = admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"]
    info = wait_run(app, run_id)
    assert info["status"] == "failed" and "internal error" in info["error"]
    # the worker survives
    backend.execute = type(backend).execute.__get__(backend)
    assert (
        wait_run(app, admin.post("/api/runs", json={}, headers=csrf(admin)).get_json()["run_id"])["status"]
        == "successful"
    )


def test_preview_run_is_check_mode(app, admin, backend):
    resp = admin.post("/api/runs", json={"check": True, "tags": ["chrony"]}, headers=csrf(admin))
    assert resp.status_code == 202
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["kind"] == "preview" and info["check"] is True
    assert backend.runs[-1]["check"] is True


@pytest.mark.parametrize(
    "body,field",
    [
        ({"tags": ["nginx"]}, "tags"),
        ({"tags": "common"}, "tags"),
        ({"check": "yes"}, "check"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_start_run_bad_input(admin, body, field):
    resp = admin.post("/api/runs", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]
