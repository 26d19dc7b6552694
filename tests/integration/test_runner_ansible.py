"""The real runner: ansible-runner on a tiny local playbook; events stream, persist, and hold no secrets."""

import json
import shutil
import sys
import threading
from pathlib import Path

import pytest
from tiny_project import make_project

from pic_api.managers.ansible_backend import AnsibleRunnerBackend
from pic_api.managers.runs import RunManager

PLAYBOOK = """\
- name: Tiny cell
  hosts: cells
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: "hello from {{ pic_cell_name | default('nowhere') }}"
      tags: [common]
    - name: Leak attempt
      ansible.builtin.set_fact:
        admin_password: "hunter2-secret"
      tags: [common]
    - name: Only for chrony
      ansible.builtin.debug:
        msg: chrony task
      tags: [chrony]
    - name: Fail on request
      ansible.builtin.fail:
        msg: asked to fail
      when: fail_now | default(false) | bool
      tags: [common]
    - name: Wait a while on request
      ansible.builtin.wait_for:
        timeout: 60
      when: wait_now | default(false) | bool
      tags: [common]
"""


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path, PLAYBOOK)


@pytest.fixture
def runs(tmp_path, project, monkeypatch):
    # ansible-playbook from this virtualenv
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:" + __import__("os").environ["PATH"])
    assert shutil.which("ansible-playbook")
    backend = AnsibleRunnerBackend(project, "site.yml", str(project / "inventory/hosts.yml"))
    return RunManager(tmp_path / "runs", backend)


def test_real_run_streams_and_persists_events(runs, tmp_path):
    run = runs.submit("converge", ["common"], description="tiny", extravars={"pic_cell_name": "home"})
    live = []
    follower = threading.Thread(target=lambda: live.extend(e for e in runs.events(run.id, keepalive=0.5) if e))
    follower.start()
    info = runs.wait(run.id, 120)
    follower.join(10)
    assert info["status"] == "successful", info
    names = [e["event"] for e in live]
    assert names[0] == "pic_run_status" and names[-1] == "pic_run_status"
    assert "playbook_on_start" in names and "playbook_on_stats" in names
    hello = [e for e in live if e["event"] == "runner_on_ok" and e.get("task") == "Say hello"]
    assert hello and "hello from home" in hello[0]["stdout"]
    assert not [e for e in live if e.get("task") == "Only for chrony"]  # tags limit the run
    persisted = [json.loads(x) for x in (tmp_path / "runs" / run.id / "events.jsonl").read_text().splitlines()]
    assert persisted == live
    everything = "".join(p.read_text(errors="replace") for p in (tmp_path / "runs").rglob("*") if p.is_file())
    assert "hunter2-secret" not in everything
    assert not list((tmp_path / "runs").rglob("job_events"))  # no raw ansible-runner artifacts kept


def test_real_check_mode_run(runs):
    run = runs.submit("preview", ["chrony"], check=True)
    info = runs.wait(run.id, 120)
    assert info["status"] == "successful" and info["check"] is True


def test_real_failed_run(runs):
    run = runs.submit("converge", ["common"], extravars={"fail_now": True})
    info = runs.wait(run.id, 120)
    assert info["status"] == "failed"
    failed = [e for e in runs.events(run.id) if e and e.get("failed")]
    assert failed and failed[0]["msg"] == "asked to fail"


def test_real_cancel(runs):
    run = runs.submit("converge", ["common"], extravars={"wait_now": True})
    for event in runs.events(run.id, keepalive=0.2):
        if event and event.get("task") == "Wait a while on request":
            runs.cancel(run.id)
            break
    info = runs.wait(run.id, 60)
    assert info["status"] == "canceled"
