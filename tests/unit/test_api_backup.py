"""The backup endpoints (web/backup.py) over the real chain: the API's runs call a real agent on a unix
socket (AgentServer, AgentClient), whose backup actions run the real borg on a local repository that
holds the test cell's own state and some data. Only the converge is the fake backend's."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import yaml
from conftest import SETUP, FakeBackend, csrf
from test_backup import DATA_FILES, make_config, write_config_file, write_tree

from pic_api.agent import protocol
from pic_api.agent.client import AgentClient
from pic_api.agent.protocol import AgentError
from pic_api.agent.server import Agent, AgentServer
from pic_api.managers import backup

VMAIL, FILES = "var/vmail/home.cell/alice/Maildir/cur/1.eml", "var/lib/pic/files/alice/notes.txt"


@pytest.fixture
def cellb(app, admin, config, tmp_path, monkeypatch):
    """The set-up test cell with a backup configuration over its own state and a data tree, and a real
    agent on a socket the API's backup operations use."""
    data_root = tmp_path / "b/root"
    write_tree(data_root, DATA_FILES)
    bconfig = dataclasses.replace(
        make_config(tmp_path / "b"),
        state_paths=[str(config.state_file), str(config.state_dir)],
        data_paths=[str(data_root / p) for p in ("var/vmail", "var/lib/radicale/collections", "var/lib/pic/files")],
        root=Path("/"),
    )
    config.backup_config_file = tmp_path / "backup.yml"
    write_config_file(bconfig, config.backup_config_file)
    monkeypatch.setattr(backup, "HEALTH_WAIT", 0.1)  # no service runs here: the last report at once
    sock_dir = Path(tempfile.mkdtemp(prefix="hb-", dir="/tmp"))  # a socket path must be short
    agent = Agent(config, FakeBackend())
    server = AgentServer(sock_dir / "agent.sock", agent, {0, os.geteuid()})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pic = app.extensions["pic"]
    monkeypatch.setattr(pic.backups, "call", AgentClient(sock_dir / "agent.sock").call)
    # the repository is set in the state, as the page does (the role would write backup.yml from it)
    resp = admin.put("/api/backup", json={"repository": bconfig.repository}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    yield pic, bconfig, data_root, agent
    server.shutdown()
    server.server_close()
    shutil.rmtree(sock_dir, ignore_errors=True)


BORG_WAIT = 300  # seconds: borg runs far slower than the fake converge on a busy machine


def wait_run(app, run_id):
    """The run once it ended (a backup, check or restore runs the real borg)."""
    info = app.extensions["pic"].runs.wait(run_id, BORG_WAIT)
    assert info["status"] in ("successful", "failed", "canceled"), info
    return info


def events(app, run_id):
    return list(app.extensions["pic"].runs.events(run_id))


def back_up(app, client):
    resp = client.post("/api/backup/runs", headers=csrf(client))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["run"]["kind"] == "backup"
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == "successful", info
    return resp.get_json()["run_id"]


def test_the_settings_are_read_and_changed_through_the_state(app, admin):
    got = admin.get("/api/backup").get_json()
    assert got["settings"]["repository"] == "" and got["settings"]["schedule"] == "daily"
    # the backup role never ran here: said, not a 500
    assert got["status"] is None and "no backup configuration" in got["status_error"]
    before = app.extensions["pic"].state.load()
    resp = admin.put("/api/backup", json={"repository": "relative/path", "keep_daily": -1, "extra": 1},
                     headers=csrf(admin))
    assert resp.status_code == 400
    assert set(resp.get_json()["fields"]) == {"repository", "keep_daily", "extra"}
    assert app.extensions["pic"].state.load() == before  # nothing changed
    resp = admin.put("/api/backup", json={"repository": "/mnt/disk2/pic", "schedule": "weekly"}, headers=csrf(admin))
    assert resp.status_code == 202
    run = wait_run(app, resp.get_json()["run_id"])
    assert run["tags"] == ["backup"]  # the backup role alone
    settings = admin.get("/api/backup").get_json()["settings"]
    assert settings["repository"] == "/mnt/disk2/pic" and settings["schedule"] == "weekly"


def test_before_the_backup_role_ran_a_backup_is_a_409_saying_so(app, admin):
    """No agent here: its actions run in the API's process (agent/server.py local_call), and find no
    backup configuration."""
    runs_before = len(app.extensions["pic"].runs.list())
    for resp in (admin.post("/api/backup/runs", headers=csrf(admin)), admin.get("/api/backup/archives"),
                 admin.post("/api/backup/key", json={"password": SETUP["admin_password"]}, headers=csrf(admin))):
        assert resp.status_code == 409 and "converge the backup role" in resp.get_json()["error"]
    assert len(app.extensions["pic"].runs.list()) == runs_before


def test_admin_only_and_csrf(app, admin, peer_client):
    assert peer_client.get("/api/backup").status_code == 403
    assert peer_client.post("/api/backup/key", json={"password": "bobs password"}, headers=csrf(peer_client)
                            ).status_code == 403
    assert admin.post("/api/backup/runs").status_code == 403  # no CSRF header
    assert admin.post("/api/backup/key", json={"password": SETUP["admin_password"]}).status_code == 403


def test_a_backup_now_is_a_run_with_steps_and_lists_with_sizes(app, admin, cellb, caplog):
    caplog.set_level("INFO", logger="pic.agent")
    run_id = back_up(app, admin)
    # the agent's journal names the API's run it did, as for a converge
    assert any(f'"run_id": "{run_id}"' in r.getMessage() for r in caplog.records if "backup_create" in r.getMessage())
    steps = [e["step"] for e in events(app, run_id) if e["event"] == backup.STEP_EVENT]
    assert steps[0] == "lock" and "create" in steps and "prune" in steps and steps[-1] == "done"
    archives = admin.get("/api/backup/archives").get_json()["archives"]
    assert len(archives) == 1 and archives[0]["name"].startswith("pic-")
    assert archives[0]["original_size"] > 0 and archives[0]["nfiles"] >= 3 and archives[0]["time"]
    status = admin.get("/api/backup").get_json()["status"]
    assert status["initialised"] is True and status["last"]["ok"] is True
    assert status["last"]["archive"] == archives[0]["name"]
    assert status["data_paths"] == cellb[1].data_paths


def test_check_keeps_its_outcome_and_a_damaged_repository_fails(app, admin, cellb):
    back_up(app, admin)
    resp = admin.post("/api/backup/check", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["run"]["kind"] == "check"
    assert wait_run(app, resp.get_json()["run_id"])["status"] == "successful"
    assert admin.get("/api/backup").get_json()["status"]["check"]["ok"] is True
    for segment in (Path(cellb[1].repository) / "data").rglob("[0-9]*"):  # flip a byte in every segment
        raw = bytearray(segment.read_bytes()) if segment.is_file() else b""
        if len(raw) > 100:
            raw[60] ^= 0xFF
            segment.write_bytes(bytes(raw))
    resp = admin.post("/api/backup/check", headers=csrf(admin))
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == "failed" and "errors found" in info["error"]
    check = admin.get("/api/backup").get_json()["status"]["check"]
    assert check["ok"] is False and "errors found" in check["error"]


def test_one_services_data_is_restored_and_nothing_else(app, admin, cellb):
    _, bconfig, root, _ = cellb
    back_up(app, admin)
    name = admin.get("/api/backup/archives").get_json()["archives"][0]["name"]
    (root / VMAIL).write_text("damaged\n")
    (root / FILES).write_text("changed since\n")
    resp = admin.post("/api/backup/restore", json={"archive": name, "data": str(root / "var/vmail")},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == "successful" and info["kind"] == "restore", info
    assert (root / VMAIL).read_text() == DATA_FILES[VMAIL]
    assert (root / FILES).read_text() == "changed since\n"  # another service's data is left alone
    assert cellb[3].backend.runs == []  # no converge for data alone


def test_the_whole_cell_is_restored_state_first_then_converged(app, admin, cellb):
    pic, bconfig, root, agent = cellb
    back_up(app, admin)
    name = admin.get("/api/backup/archives").get_json()["archives"][0]["name"]
    resp = admin.put("/api/settings", json={"timezone": "Asia/Tokyo"}, headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    (root / FILES).write_text("changed since\n")
    resp = admin.post("/api/backup/restore", json={"archive": name}, headers=csrf(admin))
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == "successful", info
    assert yaml.safe_load(pic.config.state_file.read_text())["cell"]["timezone"] == SETUP["timezone"]
    assert admin.get("/api/settings").get_json()["timezone"] == SETUP["timezone"]  # the API reads it again
    assert (root / FILES).read_text() == DATA_FILES[FILES]
    assert [r["tags"] for r in agent.backend.runs] == [[]]  # one converge of the whole site
    steps = [e["step"] for e in events(app, resp.get_json()["run_id"]) if e["event"] == backup.STEP_EVENT]
    assert steps == ["open", "check", "state", "converge", "data", "health", "done"]
    assert info["error"] is None  # no app to bring back, none missing


def test_a_restore_with_an_app_that_did_not_come_back_succeeds_and_says_how_to_retry_it():
    from pic_api.managers.runs import Run

    run = Run("r1", "restore", [], False, "restore the whole cell")
    apps = [{"id": "hello", "version": "1.0.0", "ok": True},
            {"id": "notes", "version": "0.3", "ok": False, "error": "the engine refused: registry unreachable"}]
    assert backup.BackupOperations.restored(run, {"archive": "pic-1", "apps": apps}) == "successful"
    assert run.error == ("the cell is restored, but not every app came back: notes 0.3: the engine refused: "
                         "registry unreachable. Their data is restored: retry each with Repair on the Service "
                         "Store page")
    run = Run("r2", "restore", [], False, "restore the whole cell")
    assert backup.BackupOperations.restored(run, {"archive": "pic-1", "apps": apps[:1]}) == "successful"
    assert run.error is None


@pytest.mark.parametrize("body,field,says", [
    ({}, "archive", "required"),
    ({"archive": "../../etc"}, "archive", "archive"),
    ({"archive": "pic-x", "data": "/etc"}, "data", "one of"),
    ({"archive": "pic-x", "data": "relative"}, "data", "absolute path"),
    ({"archive": "no-such-archive"}, "archive", "no such archive"),
    ({"archive": "pic-x", "force": True}, "force", ""),
])
def test_a_bad_restore_is_refused_naming_the_field_and_queues_nothing(app, admin, cellb, body, field, says):
    back_up(app, admin)
    runs_before = len(app.extensions["pic"].runs.list())
    resp = admin.post("/api/backup/restore", json=body, headers=csrf(admin))
    assert resp.status_code == 400, resp.get_json()
    assert says in resp.get_json()["fields"][field]
    assert len(app.extensions["pic"].runs.list()) == runs_before


def test_the_passphrase_needs_the_password_and_is_never_logged_or_stored(app, admin, cellb, config):
    _, bconfig, _, _ = cellb
    back_up(app, admin)
    resp = admin.post("/api/backup/key", json={"password": "wrong one"}, headers=csrf(admin))
    assert resp.status_code == 400 and resp.get_json()["fields"] == {"password": "wrong password"}
    assert admin.get("/api/auth/me").status_code == 200  # still logged in
    missing = admin.post("/api/backup/key", json={}, headers=csrf(admin))
    assert missing.get_json()["fields"] == {"password": "password is required"}
    resp = admin.post("/api/backup/key", json={"password": SETUP["admin_password"]}, headers=csrf(admin))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    key = resp.get_json()
    passphrase = bconfig.passphrase_file.read_text().strip()
    assert key["passphrase"] == passphrase and "BORG_KEY" in key["key_export"]
    assert key["repository"] == bconfig.repository
    dirs = (config.run_dir, config.state_dir, config.log_file.parent)
    written = [p for d in dirs for p in d.rglob("*") if p.is_file()]
    written.append(config.state_file)
    assert written and not [p for p in written if passphrase in p.read_text(errors="replace")]


def test_confirming_the_key_ends_the_warning(app, admin):
    assert admin.get("/api/backup").get_json()["settings"]["key_confirmed"] is False
    resp = admin.post("/api/backup/key/confirm", headers=csrf(admin))
    assert resp.status_code == 202
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["always"]  # no role reads it
    assert admin.get("/api/backup").get_json()["settings"]["key_confirmed"] is True


def test_without_a_repository_nothing_is_queued_and_the_field_is_named(app, admin, cellb, config, tmp_path):
    write_config_file(make_config(tmp_path / "none", repository=""), config.backup_config_file)
    resp = admin.get("/api/backup/archives")  # the agent's refusal
    assert resp.status_code == 400 and resp.get_json()["fields"] == {"repository": "not set"}
    runs_before = len(app.extensions["pic"].runs.list())
    for path, body in (("/api/backup/runs", None), ("/api/backup/check", None),
                       ("/api/backup/restore", {"archive": "pic-1"})):
        resp = admin.post(path, json=body, headers=csrf(admin))
        assert resp.status_code == 400 and resp.get_json()["fields"] == {"repository": "not set"}, path
    assert len(app.extensions["pic"].runs.list()) == runs_before


@pytest.mark.parametrize("args,field,says", [
    ({}, "archive", "required"),
    ({"archive": "../x"}, "archive", "archive name"),
    ({"archive": "pic-1", "data": "/var/../etc"}, "data", "absolute path"),
    ({"archive": "pic-1", "data": "/var/vmail;reboot"}, "data", "absolute path"),
    ({"archive": "pic-1", "data": "var/vmail"}, "data", "absolute path"),
    ({"archive": "pic-1", "repository": "/elsewhere"}, "repository", "unexpected"),
    ({"archive": "pic-1", "passphrase": "x"}, "passphrase", "unexpected"),
])
def test_the_agent_refuses_restore_arguments_outside_its_allow_list(args, field, says):
    with pytest.raises(AgentError) as info:
        protocol.validate({"action": "backup_restore", "args": args}, ())
    assert says in info.value.fields[field], info.value.fields


def test_the_agent_restores_only_data_the_backups_hold(app, admin, cellb):
    agent, root = cellb[3], cellb[2]
    before = (root / VMAIL).read_text()
    with pytest.raises(AgentError) as info:
        agent.handle({"action": "backup_restore", "args": {"archive": "pic-1", "data": "/etc"}},
                     lambda m: pytest.fail(f"nothing may be sent: {m}"))
    assert info.value.fields["data"].startswith("one of: ") and str(root / "var/vmail") in info.value.fields["data"]
    assert (root / VMAIL).read_text() == before


# ---- the wizard's "restore from a backup" ------------------------------------------------------------
@pytest.fixture
def dead_disk(app, admin, cellb, config):
    """Cell A backed up, then its disk gone: the same paths, no state, no login, no backup secrets."""
    _, bconfig, _, _ = cellb
    back_up(app, admin)
    passphrase = bconfig.passphrase_file.read_text().strip()
    state = yaml.safe_load(config.state_file.read_text())
    config.state_file.unlink()
    shutil.rmtree(config.state_dir)
    for gone in (config.secrets_dir / "api-passwords.json", bconfig.passphrase_file, bconfig.marker_file):
        gone.unlink(missing_ok=True)
    fresh = app.test_client()
    assert fresh.get("/api/setup/status").get_json() == {"completed": False}
    return fresh, {"repository": bconfig.repository, "passphrase": passphrase}, state


def test_the_wizard_restores_a_fresh_cell_and_follows_it_with_its_token(app, dead_disk, config):
    fresh, given, state = dead_disk
    code = app.extensions["pic"].setup_code.current()
    resp = fresh.post("/api/setup/restore", json={**given, "setup_code": "WRONG-CODE"})
    assert resp.status_code == 403
    resp = fresh.post("/api/setup/restore", json={**given, "setup_code": code})
    assert resp.status_code == 202, resp.get_json()
    run_id, token = resp.get_json()["run_id"], resp.get_json()["token"]
    assert fresh.get(f"/api/setup/restore/{run_id}/events?token=not-it").status_code == 404
    assert wait_run(app, run_id)["status"] == "successful"
    assert fresh.get(f"/api/runs/{run_id}/events").status_code == 401  # only the token opens it
    stream = fresh.get(f"/api/setup/restore/{run_id}/events?token={token}").get_data(as_text=True)
    assert '"event": "pic_step"' in stream and '"step": "done"' in stream
    assert given["passphrase"] not in stream
    assert given["passphrase"] not in (config.run_dir / run_id / "run.json").read_text()
    assert yaml.safe_load(config.state_file.read_text()) == state
    assert fresh.get("/api/setup/status").get_json() == {"completed": True}
    again = fresh.post("/api/setup/restore", json={**given, "setup_code": code})
    assert again.status_code == 409  # set up now: no second restore through the wizard


def test_a_wrong_passphrase_in_the_wizard_fails_the_run_and_changes_nothing(app, dead_disk, config):
    fresh, given, _ = dead_disk
    code = app.extensions["pic"].setup_code.current()
    resp = fresh.post("/api/setup/restore", json={**given, "passphrase": "not-the-passphrase", "setup_code": code})
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == "failed" and "passphrase: wrong passphrase" in info["error"], info
    assert not config.state_file.exists()
    assert fresh.get("/api/setup/status").get_json() == {"completed": False}


@pytest.mark.parametrize("body,fields", [
    ({"repository": "relative", "passphrase": ""}, {"repository", "passphrase"}),
    ({"repository": "", "passphrase": "two\nlines"}, {"repository", "passphrase"}),
    ({"repository": "/mnt/b", "passphrase": "x", "ssh_key": "-----BEGIN RSA PRIVATE KEY-----"}, {"ssh_key"}),
    ({"repository": "/mnt/b", "passphrase": "x", "archive": "../x", "force": True}, {"archive", "force"}),
])
def test_a_bad_wizard_restore_is_a_400_naming_the_fields_with_nothing_queued(app, dead_disk, body, fields):
    fresh = dead_disk[0]
    runs_before = len(app.extensions["pic"].runs.list())
    resp = fresh.post("/api/setup/restore", json={**body, "setup_code": app.extensions["pic"].setup_code.current()})
    assert resp.status_code == 400 and set(resp.get_json()["fields"]) == fields, resp.get_json()
    assert len(app.extensions["pic"].runs.list()) == runs_before
