"""API -> privileged agent -> real ansible-runner on a tiny playbook, the agent in its own process.

The agent's private files never hold a secret unmasked (no raw stdout file), and a run killed
halfway leaves nothing behind once the agent is back.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from tiny_project import make_project

from pic_api.config import Config
from pic_api.services import Cell

KEY = "PrivateKey = " + "k" * 43 + "="
# A tiny site as the agent expects one: roles tagged with their own names (the tags it accepts).
ROLES = {
    "common": f"""\
- name: Say hello
  ansible.builtin.debug:
    msg: hello from the agent
- name: Print a secret
  ansible.builtin.debug:
    msg: "{KEY}"
""",
    "chrony": """\
- name: Read the proposed state
  ansible.builtin.debug:
    msg: "proposed {{ lookup('file', pic_state_file) }}"
  when: pic_state_file is defined
""",
    "caddy": """\
- name: Fail
  ansible.builtin.fail:
    msg: the caddy role fails here
""",
    "radicale": """\
- name: Wait a while
  ansible.builtin.wait_for:
    timeout: 120
""",
}
# Each role included and tagged as site.yml does it (core/roles.py reads them from there).
PLAYBOOK = "- name: Tiny cell\n  hosts: cells\n  gather_facts: false\n  tasks:\n" + "".join(
    f"    - ansible.builtin.include_role:\n        name: {name}\n        apply:\n          tags: [{name}]\n"
    f"      tags: [{name}]\n" for name in ROLES
)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    proj = make_project(tmp_path, PLAYBOOK)
    for name, tasks in ROLES.items():
        (proj / "roles" / name / "tasks").mkdir(parents=True)
        (proj / "roles" / name / "tasks" / "main.yml").write_text(tasks)
    short = Path(tempfile.mkdtemp(prefix="pai-", dir="/tmp"))  # unix socket paths are short
    values = {
        "project_dir": str(proj),
        "inventory": str(proj / "inventory/hosts.yml"),
        "run_dir": str(tmp_path / "runs"),
        "state_file": str(tmp_path / "etc/cell.yml"),
        "state_dir": str(tmp_path / "state"),
        "secrets_dir": str(tmp_path / "etc"),
        "seed_file": str(tmp_path / "etc/seed.yml"),
        "wg_private_key_file": str(tmp_path / "wg/private.key"),
        "log_file": None,
        "skip_tags": "",
        "agent_socket": str(short / "agent.sock"),
        "agent_work_dir": str(tmp_path / "agent-work"),
        "agent_user": "root",
        "health_interval": 0,
    }
    (tmp_path / "api.yml").write_text(yaml.safe_dump(values))
    env = {**os.environ, "PIC_CONFIG": str(tmp_path / "api.yml")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    assert shutil.which("ansible-playbook", path=env["PATH"])
    procs = []

    def start_agent():
        # its own process group, as systemd gives it its own cgroup: killing it kills its ansible too
        proc = subprocess.Popen([sys.executable, "-m", "pic_api.agent"], env=env, start_new_session=True)
        procs.append(proc)
        for _ in range(100):  # a killed agent's socket file stays: wait until the new one accepts
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                if s.connect_ex(values["agent_socket"]) == 0:
                    return proc
            time.sleep(0.1)
        pytest.fail("the agent did not open its socket")

    lab = {"start_agent": start_agent, "tmp": tmp_path, "work": tmp_path / "agent-work"}
    lab["agent"] = start_agent()
    lab["cell"] = Cell(Config.load(env={"PIC_CONFIG": str(tmp_path / "api.yml")}))
    yield lab
    for proc in procs:
        if proc.poll() is None:
            kill_like_systemd(proc)
    shutil.rmtree(short, ignore_errors=True)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (ansible-runner starts ansible in a session of its own)."""
    out = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat_file.parent.name))
    return out


def kill_like_systemd(proc: subprocess.Popen) -> None:
    """SIGKILL the agent and every session it started, as stopping its unit kills its whole cgroup."""
    sessions = [proc.pid] + children(proc.pid)
    for sid in sessions:
        try:
            os.killpg(sid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)


def everything(path: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())


def test_converge_through_the_agent_streams_real_events(lab):
    runs = lab["cell"].runs
    assert lab["cell"].runs.backend.__class__.__name__ == "AgentBackend"
    run = runs.submit("converge", ["common"], description="tiny")
    info = runs.wait(run.id, 120)
    assert info["status"] == "successful", info
    events = list(runs.events(run.id))
    hello = [e for e in events if e["event"] == "runner_on_ok" and e.get("task") == "Say hello"]
    assert hello and "hello from the agent" in hello[0]["stdout"] and hello[0]["host"] == "localhost"
    assert "playbook_on_stats" in [e["event"] for e in events]
    assert not [e for e in events if e.get("task") in ("Fail", "Wait a while")]  # tags limit the run
    secret = [e for e in events if e.get("task") == "Print a secret" and e["event"] == "runner_on_ok"]
    assert secret and "PrivateKey = ********" in secret[0]["stdout"]
    assert KEY not in everything(lab["tmp"] / "runs") and KEY not in everything(lab["work"])
    assert list(lab["work"].iterdir()) == []  # the run's private directory is gone


def test_failed_and_preview_runs_through_the_agent(lab):
    runs = lab["cell"].runs
    failed = runs.wait(runs.submit("converge", ["caddy"]).id, 120)
    assert failed["status"] == "failed"
    msg = [e for e in runs.events(failed["id"]) if e.get("failed")]
    assert msg and msg[0]["msg"] == "the caddy role fails here"
    proposed = runs.new_run_path("proposed-state")
    proposed.write_text("proposed-cell-name\n")
    run = runs.submit("preview", ["chrony"], check=True, extravars={"pic_state_file": str(proposed)})
    assert runs.wait(run.id, 120)["status"] == "successful"
    read = [
        e for e in runs.events(run.id) if e["event"] == "runner_on_ok" and e.get("task") == "Read the proposed state"
    ]
    assert read and "proposed proposed-cell-name" in read[0]["stdout"]


def test_cancel_through_the_agent(lab):
    runs = lab["cell"].runs
    run = runs.submit("converge", ["radicale"])
    for event in runs.events(run.id, keepalive=0.2):
        if event and event.get("task") == "Wait a while":
            runs.cancel(run.id)
            break
    assert runs.wait(run.id, 60)["status"] == "canceled"


def test_a_run_killed_halfway_leaves_no_secret(lab):
    runs = lab["cell"].runs
    # the secret is printed, then the run waits: kill the agent (and its ansible) in the middle
    run = runs.submit("converge", ["common", "radicale"])
    for event in runs.events(run.id, keepalive=0.2):
        if event and event.get("task") == "Wait a while":
            break
    work = lab["work"]
    assert list(work.iterdir()), "the run's private directory exists while it runs"
    assert not list(work.rglob("stdout")), "no raw stdout file, even while the run goes on"
    assert KEY not in everything(work)
    kill_like_systemd(lab["agent"])
    info = runs.wait(run.id, 30)
    assert info["status"] == "failed" and "closed the connection" in info["error"]
    assert list(work.iterdir()), "a killed run leaves its private directory"
    lab["start_agent"]()
    assert list(work.iterdir()) == []  # the restarted agent removed what the killed run left
    assert KEY not in everything(lab["tmp"] / "runs")
    persisted = [json.loads(x) for x in (lab["tmp"] / "runs" / run.id / "events.jsonl").read_text().splitlines()]
    printed = [e for e in persisted if e.get("task") == "Print a secret" and e["event"] == "runner_on_ok"]
    assert printed and "PrivateKey = ********" in printed[0]["stdout"]
