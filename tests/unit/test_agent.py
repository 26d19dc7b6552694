"""The privileged agent: only allow-listed actions with valid arguments run; everything else is refused."""

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import FakeBackend

from pic_api.agent import actions, protocol
from pic_api.agent.client import AgentBackend, AgentClient
from pic_api.agent.protocol import AgentError
from pic_api.agent.server import Agent, AgentServer, clear_work_dir
from pic_api.core import wgkeys
from pic_api.managers.runs import RunManager

RUN_ID = "20260101T000000-0123abcd"


@pytest.fixture
def calls(monkeypatch):
    """Records every root action that really runs (systemctl, journalctl)."""
    seen = []
    monkeypatch.setattr(actions, "unit_active", lambda unit: seen.append(("unit_active", unit)) or True)
    monkeypatch.setattr(actions, "journal", lambda units, limit: seen.append(("journal", units, limit)) or [])
    return seen


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def agent(config, backend, calls):
    return Agent(config, backend)


@pytest.fixture
def sock_path():
    """A path for the agent's socket, removed afterwards (unix socket paths are limited to 108 bytes:
    a short one under /tmp, not pytest's tmp_path)."""
    sock_dir = Path(tempfile.mkdtemp(prefix="pa-", dir="/tmp"))
    path = sock_dir / "agent.sock"
    yield path
    path.unlink(missing_ok=True)
    sock_dir.rmdir()


@pytest.fixture
def server(agent, sock_path):
    srv = AgentServer(sock_path, agent, {os.getuid()})
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, sock_path
    srv.shutdown()
    srv.server_close()


def refused(agent, request):
    with pytest.raises(AgentError) as info:
        agent.handle(request, lambda m: pytest.fail(f"nothing may be sent for a refused request: {m}"))
    return info.value


# the allow-list, called directly -------------------------------------------------------------
@pytest.mark.parametrize("action", ["shell", "run", "exec", "", None, 42, "do_converge", "__init__"])
def test_action_outside_the_allow_list_is_refused(agent, backend, calls, action):
    err = refused(agent, {"action": action, "args": {}})
    assert "is not allowed" in err.message and "converge" in err.message
    assert backend.runs == [] and calls == []


@pytest.mark.parametrize(
    "args,field,reason",
    [
        ({"run_id": RUN_ID, "tags": ["common"], "check": False, "cmdline": "-e x=1"}, "cmdline", "unexpected"),
        ({"run_id": RUN_ID, "tags": ["common"], "check": False, "extravars": {"a": 1}}, "extravars", "unexpected"),
        ({"run_id": RUN_ID, "tags": ["common; rm -rf /"], "check": False}, "tags", "not a role"),
        ({"run_id": RUN_ID, "tags": ["../../etc"], "check": False}, "tags", "not a role"),
        ({"run_id": RUN_ID, "tags": "common", "check": False}, "tags", "list of role names"),
        ({"run_id": "../x", "tags": ["common"], "check": False}, "run_id", "run id"),
        ({"run_id": RUN_ID, "tags": ["common"], "check": "yes"}, "check", "true or false"),
        ({"run_id": RUN_ID, "tags": ["common"]}, "check", "required"),
        ({"run_id": RUN_ID, "tags": [], "check": True, "preview": "/etc/shadow"}, "preview", "proposed state"),
        ({"run_id": RUN_ID, "tags": [], "check": True, "preview": "proposed-state.abc/../../x"}, "preview", ""),
    ],
)
def test_converge_with_bad_or_extra_arguments_is_refused(agent, backend, args, field, reason):
    err = refused(agent, {"action": "converge", "args": args})
    assert field in err.fields and reason in err.fields[field], err.fields
    assert backend.runs == []


@pytest.mark.parametrize("unit", ["sshd", "dnsmasq.service; reboot", "../../x", "", 5, ["dnsmasq"]])
def test_unit_outside_the_cell_is_refused(agent, calls, unit):
    err = refused(agent, {"action": "unit_status", "args": {"unit": unit}})
    assert "not a unit of the cell" in err.fields["unit"]
    err = refused(agent, {"action": "unit_journal", "args": {"units": ["dnsmasq", unit], "limit": 10}})
    assert "not a unit of the cell" in err.fields["units"]
    assert calls == []


@pytest.mark.parametrize("limit", [0, -1, 5001, 10**100, "10", True, 1.5])
def test_journal_limit_is_checked(agent, calls, limit):
    err = refused(agent, {"action": "unit_journal", "args": {"units": ["dnsmasq"], "limit": limit}})
    assert "whole number" in err.fields["limit"] and calls == []


@pytest.mark.parametrize(
    "request_", [[], "converge", {"action": "unit_status"}, {"action": "unit_status", "args": [], "x": 1}]
)
def test_malformed_requests_are_refused(agent, calls, request_):
    refused(agent, request_)
    assert calls == []


def test_allowed_read_actions_run_with_their_validated_arguments(agent, calls):
    assert agent.handle({"action": "unit_status", "args": {"unit": "dnsmasq"}}, print) == {
        "unit": "dnsmasq",
        "active": True,
    }
    agent.handle({"action": "unit_journal", "args": {"units": ["postfix", "dovecot"]}}, print)
    assert calls == [("unit_active", "dnsmasq"), ("journal", ["postfix", "dovecot"], 500)]


def test_every_unit_the_health_checks_read_is_allowed():
    from pic_api.managers.health import SERVICE_CHECKS

    for units, _ in SERVICE_CHECKS.values():
        assert set(units) <= set(protocol.UNITS)
    assert "coredns" in protocol.UNITS and "pic-api" in protocol.UNITS


def test_the_wireguard_key_is_made_once_and_only_its_public_half_leaves(agent, config):
    result = agent.handle({"action": "wg_public_key", "args": {}}, print)
    key_file = config.wg_private_key_file
    private = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert result == {"public_key": wgkeys.public_key(private)} and private not in json.dumps(result)
    assert agent.handle({"action": "wg_public_key", "args": {}}, print) == result


def test_the_public_key_the_wireguard_role_published_is_read_while_current(agent, config, monkeypatch):
    private, public = wgkeys.generate_keypair()
    config.wg_private_key_file.parent.mkdir(parents=True)
    config.wg_private_key_file.write_text(private + "\n")
    config.wg_public_key_file.parent.mkdir(parents=True)
    config.wg_public_key_file.write_text(public + "\n")
    os.utime(config.wg_private_key_file, (1000, 1000))
    derived = []
    real = wgkeys.public_key
    monkeypatch.setattr(wgkeys, "public_key", lambda key: derived.append(1) or real(key))
    assert agent.handle({"action": "wg_public_key", "args": {}}, print) == {"public_key": public}
    assert derived == []
    # a private key newer than what was published (replaced by hand): derived from the key itself
    other_private, other_public = wgkeys.generate_keypair()
    config.wg_private_key_file.write_text(other_private + "\n")
    os.utime(config.wg_public_key_file, (1000, 1000))
    assert agent.handle({"action": "wg_public_key", "args": {}}, print) == {"public_key": other_public}
    assert derived == [1]


def test_the_idle_agent_loads_neither_jinja_nor_cryptography():
    """Memory: the agent serves its actions without the two largest imports of the API."""
    code = (
        "import sys, pic_api.agent.server as s, pic_api.agent.__main__\n"
        "print(sorted(m for m in ('jinja2', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_preview_must_be_a_plain_file_in_the_scratch_directory(agent, config, backend):
    scratch = config.run_dir / ".scratch"
    scratch.mkdir(parents=True)
    (scratch / "proposed-state.link").symlink_to("/etc/passwd")
    args = {"run_id": RUN_ID, "tags": ["chrony"], "check": True}
    assert (
        "no such file"
        in refused(agent, {"action": "converge", "args": {**args, "preview": "proposed-state.x"}}).fields["preview"]
    )
    assert (
        "plain file"
        in refused(agent, {"action": "converge", "args": {**args, "preview": "proposed-state.link"}}).fields["preview"]
    )
    (scratch / "proposed-state.ok").write_text("version: 1\n")
    sent = []
    assert agent.handle({"action": "converge", "args": {**args, "preview": "proposed-state.ok"}}, sent.append) == {
        "status": "successful"
    }
    assert backend.runs[-1]["extravars"] == {"pic_state_file": str(scratch / "proposed-state.ok")}
    assert backend.runs[-1]["check"] is True and len(backend.runs) == 1


def test_killed_runs_leave_nothing_in_the_work_dir(tmp_path):
    work = tmp_path / "work"
    (work / "pic-run-x" / "artifacts" / "run" / "job_events").mkdir(parents=True)
    (work / "pic-run-x" / "artifacts" / "run" / "job_events" / "1-partial.json").write_text('{"password": "x"}')
    (work / "stray").write_text("x")
    clear_work_dir(work)
    assert list(work.iterdir()) == [] and stat.S_IMODE(work.stat().st_mode) == 0o700


# over the socket -----------------------------------------------------------------------------
def raw_exchange(path, payload: bytes) -> list[dict]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_socket_refuses_what_is_not_one_json_request(server, calls):
    _, path = server
    assert raw_exchange(path, b"rm -rf /\n") == [
        {"ok": False, "error": "a request is one line of JSON", "fields": {}, "status": 400}
    ]
    big = raw_exchange(path, b'{"action": "unit_status", "args": {"unit": "' + b"a" * 70000 + b'"}}\n')
    assert big[0]["ok"] is False and "at most" in big[0]["error"]
    (reply,) = raw_exchange(path, b'{"action": "systemctl", "args": {"argv": ["reboot"]}}\n')
    assert reply["ok"] is False and "not allowed" in reply["error"]
    assert calls == []


def test_socket_refuses_a_user_that_is_not_allowed(server, calls):
    srv, path = server
    srv.allowed_uids = {os.getuid() + 4242}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # refused before it reads a byte
        s.connect(str(path))
        reply = json.loads(s.makefile().readline())
    assert reply == {"ok": False, "error": "this user may not use the agent", "fields": {}, "status": 400}
    assert calls == []


def test_client_gets_the_refusal_with_its_fields(server):
    _, path = server
    client = AgentClient(path)
    with pytest.raises(AgentError) as info:
        client.call("unit_journal", units=["sshd"], limit=3)
    assert "not a unit of the cell" in info.value.fields["units"]
    assert client.unit_active("sshd") is False  # health reports it down, it does not crash


def test_a_converge_through_the_agent_streams_scrubbed_events(server, backend, tmp_path):
    _, path = server
    runs = RunManager(tmp_path / "api-runs", AgentBackend(AgentClient(path), tmp_path / "api-runs" / ".scratch"))
    run = runs.submit("converge", ["common", "chrony"], description="through the agent")
    info = runs.wait(run.id, 20)
    assert info["status"] == "successful", info
    assert backend.runs[0]["tags"] == ["common", "chrony"] and backend.runs[0]["id"] == run.id
    events = list(runs.events(run.id))
    ok = [e for e in events if e["event"] == "runner_on_ok"]
    assert ok and ok[0]["task"] == "Set password" and ok[0]["host"] == "localhost" and ok[0]["changed"] is True
    assert "hunter2" not in (tmp_path / "api-runs" / run.id / "events.jsonl").read_text()
    assert ok[0]["diff"] == {"after": "x"}  # what the UI shows crosses the socket


def test_a_preview_through_the_agent_reads_the_apis_proposed_state(server, backend, tmp_path, config):
    _, path = server
    runs = RunManager(config.run_dir, AgentBackend(AgentClient(path), config.run_dir / ".scratch"))
    proposed = runs.new_run_path("proposed-state")
    proposed.write_text("version: 1\n")
    run = runs.submit("preview", ["chrony"], check=True, extravars={"pic_state_file": str(proposed)})
    assert runs.wait(run.id, 20)["status"] == "successful"
    assert backend.runs[0]["proposed"] == "version: 1\n" and backend.runs[0]["check"] is True


def test_the_agent_backend_sends_no_variables_and_no_outside_file(server, backend, tmp_path):
    _, path = server
    runs = RunManager(tmp_path / "r", AgentBackend(AgentClient(path), tmp_path / "r" / ".scratch"))
    run = runs.submit("converge", ["common"], extravars={"fail_now": True})
    info = runs.wait(run.id, 20)
    assert info["status"] == "failed" and "takes no variables: fail_now" in info["error"]
    run = runs.submit("preview", ["common"], check=True, extravars={"pic_state_file": "/etc/shadow"})
    info = runs.wait(run.id, 20)
    assert info["status"] == "failed" and "scratch directory" in info["error"]
    assert backend.runs == []


def test_a_refused_converge_fails_the_run_with_the_agents_reason(server, backend, tmp_path):
    _, path = server
    runs = RunManager(tmp_path / "r", AgentBackend(AgentClient(path), tmp_path / "r" / ".scratch"))
    run = runs.submit("converge", ["common", "sshd"])
    info = runs.wait(run.id, 20)
    assert info["status"] == "failed" and "not a role of site.yml: sshd" in info["error"]
    assert backend.runs == []


def test_cancel_through_the_agent_and_one_converge_at_a_time(server, backend, tmp_path):
    _, path = server
    backend.gate = threading.Event()
    runs = RunManager(tmp_path / "r", AgentBackend(AgentClient(path), tmp_path / "r" / ".scratch"))
    run = runs.submit("converge", ["common"])
    assert backend.started.wait(10)
    other = AgentClient(path)
    with pytest.raises(AgentError, match="already running"):
        other.call("converge", run_id=RUN_ID, tags=["common"], check=False)
    with pytest.raises(AgentError, match="is not running"):
        other.call("cancel", run_id=RUN_ID)
    runs.cancel(run.id)
    assert runs.wait(run.id, 20)["status"] == "canceled"
    assert len(backend.runs) == 1


def test_an_unreachable_agent_fails_the_run_and_says_where(tmp_path):
    runs = RunManager(tmp_path / "r", AgentBackend(AgentClient(tmp_path / "none.sock"), tmp_path / "r" / ".scratch"))
    info = runs.wait(runs.submit("converge", ["common"]).id, 20)
    assert info["status"] == "failed" and "not reachable at" in info["error"]


def test_root_running_the_cli_becomes_the_apis_user(monkeypatch):
    from pic_api import privileges

    done = []
    monkeypatch.setattr(privileges.os, "geteuid", lambda: 0)
    monkeypatch.setattr(privileges.pwd, "getpwnam", lambda name: type("E", (), {"pw_uid": 998, "pw_gid": 997})())
    monkeypatch.setattr(privileges.os, "setgroups", lambda groups: done.append(("groups", groups)))
    monkeypatch.setattr(privileges.os, "setgid", lambda gid: done.append(("gid", gid)))
    monkeypatch.setattr(privileges.os, "setuid", lambda uid: done.append(("uid", uid)))
    assert privileges.drop_to("pic") is True
    assert done == [("groups", []), ("gid", 997), ("uid", 998)]  # groups and gid before the uid


def test_the_cli_keeps_its_user_without_an_api_user_or_when_not_root(monkeypatch):
    from pic_api import privileges

    monkeypatch.setattr(privileges.os, "setuid", lambda uid: pytest.fail("no drop expected"))
    monkeypatch.setattr(privileges.os, "geteuid", lambda: 1000)
    assert privileges.drop_to("pic") is False
    monkeypatch.setattr(privileges.os, "geteuid", lambda: 0)
    assert privileges.drop_to("no-such-user-here") is False


# socket activation ---------------------------------------------------------------------------
def test_the_socket_systemd_passed_is_taken_only_when_meant_for_this_process():
    from pic_api.agent.server import listen_fd

    assert listen_fd({"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1"}) == 3
    assert listen_fd({"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}) is None  # a parent's
    assert listen_fd({"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "0"}) is None
    assert listen_fd({"LISTEN_PID": "x", "LISTEN_FDS": "1"}) is None
    assert listen_fd({}) is None


def test_a_socket_activated_agent_exits_when_idle_and_the_next_call_is_answered(agent, sock_path):
    """As systemd does: the socket outlives the agent; a call made after the agent exited waits in
    it and is answered by the next agent, started on that socket."""
    path = sock_path
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    try:
        def agent_on_socket() -> threading.Thread:
            srv = AgentServer(path, agent, {os.getuid()}, fd=os.dup(listener.fileno()))
            thread = threading.Thread(target=srv.serve_until_idle, args=(0.5, 0.1), daemon=True)
            thread.start()
            return thread

        first = agent_on_socket()
        assert AgentClient(path).call("unit_status", unit="dnsmasq") == {"unit": "dnsmasq", "active": True}
        first.join(10)
        assert not first.is_alive()  # idle for half a second: exited
        answer: list = []
        late = threading.Thread(target=lambda: answer.append(AgentClient(path).call("unit_status", unit="chrony")))
        late.start()  # connects while no agent runs
        late.join(0.5)
        assert late.is_alive() and answer == []  # waiting in the socket, not refused
        second = agent_on_socket()
        late.join(10)
        assert answer == [{"unit": "chrony", "active": True}]
        second.join(10)
        assert not second.is_alive()
    finally:
        listener.close()


def test_the_agent_stays_while_a_connection_is_open_or_a_peer_change_waits(agent, sock_path):
    import time

    from pic_api.agent.server import Applied

    path = sock_path
    srv = AgentServer(path, agent, {os.getuid()})
    thread = threading.Thread(target=srv.serve_until_idle, args=(0.3, 0.05), daemon=True)
    try:
        thread.start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # open, saying nothing yet
            s.connect(str(path))
            time.sleep(1)
            assert thread.is_alive()
        agent._applied.append(Applied(1, "add", {"name": "x"}))  # applied at once, its converge to come
        time.sleep(1)
        assert thread.is_alive() and srv.idle() == 0
        assert agent._lock.acquire(blocking=False)  # a converge runs
        agent._applied.clear()
        time.sleep(1)
        assert thread.is_alive() and srv.idle() == 0
        agent._lock.release()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        srv.server_close()


def test_the_health_checks_read_unit_states_without_the_agent(config, monkeypatch, tmp_path):
    """Every 30 s through the agent, the checks would keep the socket-activated agent from exiting."""
    import dataclasses

    from pic_api.managers import health
    from pic_api.services import Cell

    monkeypatch.setattr(health.actions, "unit_active", lambda unit: unit == "caddy")
    cell = Cell(dataclasses.replace(config, runner="agent", agent_socket=tmp_path / "no-agent.sock",
                                    health_interval=0))
    assert cell.agent is not None  # the API's other root reads still go to the agent
    assert cell.health.unit_check("caddy") is True and cell.health.unit_check("dovecot") is False
