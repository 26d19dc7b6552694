import json
import logging
import socket
import stat

import pytest
import yaml

from pic_api.config import Config
from pic_api.core.redact import MASK, scrub
from pic_api.core.redact import redact_text as redact
from pic_api.logs import JsonFormatter, parse_levels, setup_logging
from pic_api.managers import auth as auth_mod
from pic_api.managers.ansible_backend import StepAttribution
from pic_api.managers.errors import InvalidInput, NotFound, Unavailable
from pic_api.managers.events import trim_event
from pic_api.managers.health import HealthMonitor
from pic_api.managers.runs import RunManager
from pic_api.managers.state import StateManager, changed_paths

GOOD = {"version": 1, "setup_completed": True, "cell": {"name": "home"}}


@pytest.fixture
def sm(tmp_path):
    return StateManager(tmp_path / "etc/cell.yml", tmp_path / "versions")


def test_state_default_when_missing(sm):
    assert not sm.exists()
    state = sm.load()
    assert state["setup_completed"] is False and state["cell"]["name"] == "mycell"
    assert sm.setup_completed() is False


def test_state_save_versions_and_permissions(sm):
    assert sm.save(GOOD) == 1
    assert sm.save({**GOOD, "cell": {"name": "two"}}) == 2
    assert [v["version"] for v in sm.versions()] == [1, 2]
    assert sm.load()["cell"]["name"] == "two"
    assert sm.get_version(1)["cell"]["name"] == "home"
    assert stat.S_IMODE(sm.state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((sm.versions_dir / "cell-1.yml").stat().st_mode) == 0o600
    assert not [p for p in sm.state_file.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_state_save_refuses_invalid_and_keeps_old(sm):
    sm.save(GOOD)
    with pytest.raises(InvalidInput) as exc:
        sm.save({**GOOD, "cell": {"name": "Bad!"}})
    assert "cell.name" in exc.value.fields
    assert sm.load()["cell"]["name"] == "home" and sm.current_version() == 1


def test_state_update_is_atomic_on_error(sm):
    sm.save(GOOD)

    def change(state):
        state["cell"]["name"] = "changed"
        raise NotFound("stop")

    with pytest.raises(NotFound):
        sm.update(change)
    assert sm.load()["cell"]["name"] == "home"


def test_state_rollback(sm):
    sm.save(GOOD)
    sm.save({**GOOD, "cell": {"name": "two"}})
    old, new, version = sm.rollback(1)
    assert version == 3 and new["cell"]["name"] == "home" and old["cell"]["name"] == "two"
    assert sm.load()["cell"]["name"] == "home"
    with pytest.raises(NotFound):
        sm.rollback(42)


def test_state_history_names_what_each_version_changed(sm):
    sm.save(GOOD)
    sm.save({**GOOD, "cell": {**GOOD["cell"], "timezone": "Europe/Paris"}})
    history = sm.history()
    assert [(v["version"], v["changed"]) for v in history] == [(1, []), (2, ["cell.timezone"])]


def test_changed_paths():
    old = {"cell": {"name": "a", "timezone": "UTC"}, "users": [{"name": "x", "password_hash": "h1"}]}
    new = {"cell": {"name": "b", "timezone": "UTC"}, "users": [{"name": "x", "password_hash": "h2"}], "dns": {}}
    assert changed_paths(old, new) == ["cell.name", "users", "dns"]
    assert changed_paths(old, old) == []


def test_state_load_sees_external_edits(sm):
    sm.save(GOOD)
    assert sm.load()["cell"]["name"] == "home"
    sm.state_file.write_text(yaml.safe_dump({**GOOD, "cell": {"name": "edited", "timezone": "Etc/UTC"}}))
    assert sm.load()["cell"]["name"] == "edited"


def test_state_unreadable_is_unavailable_not_a_fresh_cell(sm):
    sm.state_file.parent.mkdir(parents=True)
    sm.state_file.write_text("version: 1\ncell: {name: BAD}\n")
    with pytest.raises(Unavailable) as exc:
        sm.setup_completed()
    assert exc.value.status == 503 and "cell.name" in exc.value.message and "pic state check" in exc.value.message


def test_scrub_masks_secret_keys_and_values():
    data = {
        "password": "x",
        "password_hash": "$2b$12$" + "a" * 53,
        "public_key": "pub",
        "nested": [{"private_key": "k", "msg": "hash $2b$12$" + "b" * 53 + " here", "token": ""}],
    }
    out = scrub(data)
    assert out["password"] == MASK and out["password_hash"] == MASK and out["public_key"] == "pub"
    assert out["nested"][0]["private_key"] == MASK and "$2b$" not in out["nested"][0]["msg"]
    assert out["nested"][0]["token"] == ""
    assert scrub("PrivateKey = " + "A" * 43 + "=") == "PrivateKey = " + MASK
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
    assert scrub(pem) == MASK


def test_a_shared_steps_events_are_shown_as_the_role_that_imports_it():
    attribute = StepAttribution(("common", "caddy"))

    def role(r):
        return attribute({"event": "playbook_on_task_start", "event_data": {"role": r, "task": "t"} if r else {}})

    shown = [role(r)["event_data"].get("role") for r in ("shared", "common", "shared", "caddy", "sandbox", None)]
    assert shown == ["shared", "common", "common", "caddy", "caddy", None]  # before any site role: as it is


def test_trim_event_keeps_what_the_ui_needs():
    raw = {
        "event": "runner_on_failed",
        "counter": 5,
        "stdout": "fatal",
        "created": "t",
        "uuid": "u",
        "event_data": {
            "task": "T",
            "host": "h",
            "role": "r",
            "res": {"msg": "boom", "changed": False, "invocation": {"module_args": {"x": 1}}},
        },
    }
    out = trim_event(raw)
    assert out == {
        "event": "runner_on_failed",
        "created": "t",
        "counter": 5,
        "stdout": "fatal",
        "task": "T",
        "role": "r",
        "host": "h",
        "changed": False,
        "failed": True,
        "msg": "boom",
    }
    # a validate step's or a command's stderr says why: it joins the message, its end only
    failed = {"event": "runner_on_failed", "event_data": {"res": {
        "msg": "failed to validate", "stderr": "dnsmasq: duplicate dhcp-host IP address 192.168.50.9\n"}}}
    assert trim_event(failed)["msg"] == "failed to validate: dnsmasq: duplicate dhcp-host IP address 192.168.50.9"
    failed["event_data"]["res"] = {"stderr": "x" * 2000}
    assert trim_event(failed)["msg"] == "x" * 800
    failed["event_data"]["res"] = {"msg": "boom: it broke", "stderr": "it broke"}
    assert trim_event(failed)["msg"] == "boom: it broke"
    stats = trim_event({"event": "playbook_on_stats", "event_data": {"ok": {"h": 2}, "failures": {}}})
    assert stats["stats"]["ok"] == {"h": 2}


def test_run_manager_recovers_interrupted_runs(tmp_path):
    rm = RunManager(tmp_path, backend=None)
    run_dir = tmp_path / "20260101T000000-deadbeef"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"id": run_dir.name, "status": "running"}))
    RunManager(tmp_path, backend=None)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "interrupted" in info["error"]
    assert rm.get(run_dir.name)["status"] == "failed"


def test_run_without_backend_fails_clearly(tmp_path):
    rm = RunManager(tmp_path, backend=None)
    run = rm.submit("converge", [])
    info = rm.wait(run.id, 5)
    assert info["status"] == "failed" and "no runner" in info["error"]


def test_rate_limiter_window_and_lockout():
    now = [0.0]
    rl = auth_mod.RateLimiter(3, window=60, lockout=120, clock=lambda: now[0])
    for _ in range(2):
        rl.failure("1.2.3.4", "admin")
    now[0] = 100  # the two failures fell out of the window
    rl.failure("1.2.3.4", "admin")
    rl.check("1.2.3.4", "admin")
    rl.failure("1.2.3.4", "admin")
    rl.failure("1.2.3.4", "admin")
    with pytest.raises(auth_mod.LoginLocked) as exc:
        rl.check("1.2.3.4", "admin")
    assert exc.value.status == 429 and 0 < exc.value.retry_after <= 121
    rl.check("5.6.7.8", "admin")  # other addresses are not locked
    now[0] = 230
    rl.check("1.2.3.4", "admin")


def test_rate_limiter_locks_an_address_guessing_many_users():
    rl = auth_mod.RateLimiter(2, window=60, lockout=60, clock=lambda: 0.0)
    for i in range(8):
        rl.failure("9.9.9.9", f"user{i}")
    with pytest.raises(auth_mod.LoginLocked):
        rl.check("9.9.9.9", "someone-else")


def test_password_hash_roundtrip():
    h = auth_mod.hash_password("secret words", n=1024)
    assert h.startswith("scrypt$1024$") and auth_mod.verify_password("secret words", h)
    assert not auth_mod.verify_password("other words", h)
    assert not auth_mod.verify_password("x", "garbage")
    assert not auth_mod.verify_password("x", "bcrypt$1$2$3$4$5")


def test_session_expiry(tmp_path):
    now = [1000.0]
    am = auth_mod.AuthManager(tmp_path, session_hours=1, clock=lambda: now[0], scrypt_n=1024)
    am.set_password("admin", "long password", "admin")
    s = am.create_session("admin", "admin")
    assert am.get_session(s.token) is s
    now[0] += 3601
    assert am.get_session(s.token) is None


def test_config_layers(tmp_path):
    cfg_file = tmp_path / "api.yml"
    cfg_file.write_text("state_file: /srv/cell.yml\nhealth_interval: 5\ncookie_secure: true\n")
    cfg = Config.load({"PIC_CONFIG": str(cfg_file), "PIC_HEALTH_INTERVAL": "7", "PIC_LOG_FILE": ""})
    assert str(cfg.state_file) == "/srv/cell.yml" and cfg.health_interval == 7.0 and cfg.cookie_secure is True
    assert cfg.log_file is None
    assert cfg.inventory_path.endswith("inventory/hosts.yml")
    with pytest.raises(ValueError, match="unknown configuration key"):
        Config.load({"PIC_CONFIG": str(tmp_path / "missing.yml")}, bogus=1)


def test_logging_json_rotation_and_levels(tmp_path):
    log_file = tmp_path / "api.log"
    logger = setup_logging(log_file, "INFO", "runner=DEBUG,auth=ERROR")
    handler = logger.handlers[0]
    assert handler.maxBytes == 5 * 1024 * 1024 and handler.backupCount == 5
    logging.getLogger("pic.runner").debug("runner detail")
    logging.getLogger("pic.auth").warning("auth warning hidden")
    logging.getLogger("pic.other").debug("other debug hidden")
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert [x["message"] for x in lines] == ["runner detail"]
    assert lines[0]["logger"] == "pic.runner" and lines[0]["level"] == "DEBUG"
    with pytest.raises(ValueError):
        parse_levels("runner=LOUD")
    assert redact('password: "abc" secret=xyz') == f'password: "{MASK}" secret={MASK}'
    record = logging.LogRecord("pic.x", logging.INFO, "", 0, "token=abc", (), None)
    assert "abc" not in JsonFormatter().format(record)
    setup_logging(None)


def test_health_monitor_states_and_thread():
    calls = []
    hm = HealthMonitor(
        lambda: ["dns", "mail"],
        lambda: "coredns",
        unit_check=lambda u: u != "dovecot",
        port_check=lambda p: calls.append(p) or p != 143,
        interval=0.01,
    )
    result = hm.check_once()
    by = {s["name"]: s for s in result["services"]}
    assert by["dns"]["units"] == [{"name": "coredns", "active": True}] and by["dns"]["status"] == "ok"
    assert by["mail"]["status"] == "degraded" and by["files"]["status"] == "disabled"
    hm.start()
    import time

    time.sleep(0.05)
    hm.stop()
    assert len(calls) > 3 and hm.status()["services"]


def test_health_monitor_unreadable_state():
    def broken():
        raise OSError("gone")

    hm = HealthMonitor(broken, unit_check=lambda u: True, port_check=lambda p: True)
    assert all(s["status"] == "disabled" for s in hm.status()["services"])


TCP_TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1470 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 1 1
   1: 00000000:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:0BB8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   999        0 3 1
   0: 00000000000000000000000000000000:03E1 00000000000000000000000000000000:0000 0A 00000000:00000000 0 0 4 1
"""


def test_listening_ports_are_read_from_the_kernels_table():
    from pic_api.managers.health import listening_ports

    # 5232 and 25 listen, 993 on IPv6; 3000 is only an established connection
    assert listening_ports(TCP_TABLE) == {5232, 25, 993}


def test_a_port_listens_only_while_a_socket_listens_on_it():
    from pic_api.managers.health import tcp_listening

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    assert not tcp_listening(port)  # bound, not listening
    sock.listen()
    assert tcp_listening(port)
    sock.close()
    assert not tcp_listening(port)
