"""The Email page's API: the records the mailserver role publishes for the mail domain and Postfix's
queue, read by pic-agent's read-only mail_records and mail_queue actions; whatever cannot be read
is said, and the rest shown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pytest
import yaml

from pic_api.agent import actions
from pic_api.agent.protocol import AgentError, validate
from pic_api.agent.server import Agent

ROOT = Path(__file__).resolve().parents[2]
DKIM = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest+key/AB=="


def render_records(domain: str, zone: str = "home.cell") -> str:
    """The mailserver role's records.yml.j2 as Ansible renders it (to_nice_yaml: PyYAML's block style)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "roles/mailserver/templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["to_nice_yaml"] = lambda data, indent=2, width=80: yaml.safe_dump(
        data, indent=indent, width=width, default_flow_style=False, allow_unicode=True)
    env.filters["bool"] = bool
    in_zone = domain == zone or domain.endswith("." + zone)
    return env.get_template("records.yml.j2").render(
        ansible_managed="Managed by PIC",
        mailserver_domain=domain,
        mailserver_cell_zone=zone,
        mailserver_domain_in_zone=in_zone,
        mailserver_domain_label="@" if domain == zone else domain[: -(len(zone) + 1)] if in_zone else "",
        mailserver_hostname=f"mail.{zone}",
        mailserver_spf="v=spf1 mx -all",
        mailserver_dkim_selector="mail",
        mailserver_dkim_public=DKIM,
        mailserver_dmarc="v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@" + domain,
    )


ROLE_RECORDS = [
    {"name": "@", "type": "MX", "value": "10 mail"},
    {"name": "@", "type": "TXT", "value": "v=spf1 mx -all"},
    {"name": "mail._domainkey", "type": "TXT", "value": f"v=DKIM1; k=rsa; p={DKIM}"},
    {"name": "_dmarc", "type": "TXT",
     "value": "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@home.cell"},
]

# postqueue -j as Postfix 3.7 prints it (showq_json.c): one object per message and line
QUEUE = [
    {"queue_name": "deferred", "queue_id": "4Fq3Kx0abcZ", "arrival_time": 1764950400, "message_size": 1234,
     "forced_expire": False, "sender": "alice@home.cell",
     "recipients": [{"address": "bob@example.org",
                     "delay_reason": "connect to example.org[192.0.2.7]:25: Connection timed out"}]},
    {"queue_name": "active", "queue_id": "4Fq3Ky1defX", "arrival_time": 1764950460, "message_size": 99,
     "forced_expire": False, "sender": "", "recipients": [{"address": "carol@example.net"}]},
]


def fake_postqueue(tmp_path: Path, script: str) -> str:
    """A `postqueue` that records its arguments and answers as told."""
    path = tmp_path / "bin" / "postqueue"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/postqueue.argv\n{script}\n")
    path.chmod(0o755)
    return str(path)


# --- the agent's actions --------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["mail_records", "mail_queue"])
def test_the_mail_actions_take_no_arguments(action):
    assert validate({"action": action, "args": {}}, ()) == (action, {})
    assert validate({"action": action}, ()) == (action, {})
    with pytest.raises(AgentError) as err:
        validate({"action": action, "args": {"file": "/etc/shadow", "argv": ["-f"]}}, ())
    assert err.value.fields == {"file": "unexpected argument", "argv": "unexpected argument"}


def test_the_records_the_role_renders_are_read_back(tmp_path):
    path = tmp_path / "mailserver.yml"
    path.write_text(render_records("home.cell"))
    assert actions.mail_records(path) == {"records": ROLE_RECORDS}
    path.write_text(render_records("mail.home.cell"))
    names = [r["name"] for r in actions.mail_records(path)["records"]]
    assert names == ["mail", "mail", "mail._domainkey.mail", "_dmarc.mail"]


def test_a_domain_outside_the_zone_has_no_records_in_the_file(tmp_path):
    path = tmp_path / "mailserver.yml"
    path.write_text(render_records("example.org"))
    assert actions.mail_records(path) == {"records": []}


def test_only_checked_mx_and_txt_records_leave_the_records_file(tmp_path):
    path = tmp_path / "mailserver.yml"
    path.write_text(yaml.safe_dump([
        {"name": "@", "type": "MX", "value": "10 mail", "ttl": 60, "secret": "x"},
        {"name": "@", "type": "A", "value": "192.0.2.1"},
        {"name": "bad name!", "type": "TXT", "value": "x"},
        {"name": "_dmarc", "type": "TXT", "value": "line\nbreak"},
        {"name": "_dmarc", "type": "TXT", "value": 5},
        "not a record",
    ]))
    assert actions.mail_records(path) == {"records": [{"name": "@", "type": "MX", "value": "10 mail"}]}


@pytest.mark.parametrize(("content", "reason"), [
    (None, "does not exist (is the mail service converged?)"),
    ("key: [unclosed", "is not YAML"),
    ("a: mapping\n", "is not a list of records"),
    ("#" * (actions.MAX_RECORDS_FILE + 1), "is larger than"),
])
def test_a_records_file_that_cannot_be_read_says_why(tmp_path, content, reason):
    path = tmp_path / "mailserver.yml"
    if content is not None:
        path.write_text(content)
    got = actions.mail_records(path)
    assert got["records"] == [] and reason in got["reason"] and str(path) in got["reason"]


def test_the_queue_is_read_from_postqueue_json(tmp_path):
    lines = [json.dumps(m) for m in QUEUE] + ["not json", json.dumps({"queue_id": "../x"})]
    (tmp_path / "queue").write_text("\n".join(lines) + "\n")
    tool = fake_postqueue(tmp_path, f"cat {tmp_path}/queue")
    got = actions.mail_queue(tool)
    assert (tmp_path / "postqueue.argv").read_text().split() == ["-j"]
    assert got == {"queue": [
        {"queue_id": "4Fq3Kx0abcZ", "queue_name": "deferred", "arrival_time": "2025-12-05T16:00:00Z",
         "message_size": 1234, "sender": "alice@home.cell",
         "recipients": [{"address": "bob@example.org",
                         "delay_reason": "connect to example.org[192.0.2.7]:25: Connection timed out"}]},
        {"queue_id": "4Fq3Ky1defX", "queue_name": "active", "arrival_time": "2025-12-05T16:01:00Z",
         "message_size": 99, "sender": "", "recipients": [{"address": "carol@example.net", "delay_reason": ""}]},
    ]}


def test_an_empty_queue_and_a_failing_postqueue(tmp_path):
    assert actions.mail_queue(fake_postqueue(tmp_path, "exit 0")) == {"queue": []}
    got = actions.mail_queue(fake_postqueue(tmp_path, "echo 'postqueue: fatal: Queue report unavailable - mail "
                                                      "system is down' >&2; exit 75"))
    assert got == {"queue": [], "reason": "postqueue: postqueue: fatal: Queue report unavailable - mail system is down"}
    got = actions.mail_queue(str(tmp_path / "no-such-postqueue"))
    assert got["queue"] == [] and got["reason"].startswith("postqueue could not be run")


def test_the_agent_reads_its_configured_file_and_command(config, tmp_path, monkeypatch):
    config.mail_records_file.parent.mkdir(parents=True)
    config.mail_records_file.write_text(render_records("home.cell"))
    (tmp_path / "queue").write_text(json.dumps(QUEUE[0]) + "\n")
    fake_postqueue(tmp_path, f"cat {tmp_path}/queue")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    agent = Agent(config, backend=object())
    assert agent.handle({"action": "mail_records", "args": {}}, lambda m: None) == {"records": ROLE_RECORDS}
    assert [m["queue_id"] for m in agent.handle({"action": "mail_queue"}, lambda m: None)["queue"]] == ["4Fq3Kx0abcZ"]


# --- GET /api/mail --------------------------------------------------------------------------------
def test_the_mail_view_has_the_domain_webmail_records_and_queue(app, admin, config, tmp_path, monkeypatch):
    config.mail_records_file.parent.mkdir(parents=True)
    config.mail_records_file.write_text(render_records("home.cell"))
    (tmp_path / "queue").write_text(json.dumps(QUEUE[0]) + "\n")
    fake_postqueue(tmp_path, f"cat {tmp_path}/queue")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    resp = admin.get("/api/mail")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["domain"] == "home.cell" and body["webmail_url"] == "https://mail.home.cell/"
    assert body["enabled"] is False  # the tests' cell runs no mail service
    assert body["records"] == [
        {"name": "home.cell", "type": "MX", "value": "10 mail"},
        {"name": "home.cell", "type": "TXT", "value": "v=spf1 mx -all"},
        {"name": "mail._domainkey.home.cell", "type": "TXT", "value": f"v=DKIM1; k=rsa; p={DKIM}"},
        {"name": "_dmarc.home.cell", "type": "TXT", "value": ROLE_RECORDS[3]["value"]},
    ]
    assert [m["queue_id"] for m in body["queue"]] == ["4Fq3Kx0abcZ"]
    assert "records_error" not in body and "queue_error" not in body
    # the webmail's host is the one the mail apps are given: one source
    settings = admin.get("/api/account/services").get_json()
    assert settings["domain"] == body["domain"]


def test_what_cannot_be_read_is_said_with_a_200(app, admin, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no postqueue
    body = admin.get("/api/mail").get_json()
    assert body["records"] == [] and "does not exist" in body["records_error"]
    assert body["queue"] == [] and "postqueue could not be run" in body["queue_error"]

    def away():
        raise AgentError("the agent did not answer in time")

    mail = app.extensions["pic"].mail
    mail._records = mail._queue = away
    resp = admin.get("/api/mail")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["records_error"] == "the mail records could not be read: the agent did not answer in time"
    assert body["queue_error"] == "the mail queue could not be read: the agent did not answer in time"
    assert body["domain"] == "home.cell"


def test_a_domain_outside_the_zone_is_said(app, admin, config):
    config.mail_records_file.parent.mkdir(parents=True)
    config.mail_records_file.write_text(render_records("example.org"))
    state = app.extensions["pic"].state
    loaded = state.load()
    loaded["cell"].update(domain_mode="custom", domain="example.org")
    state.save(loaded)
    mail = app.extensions["pic"].mail
    mail._records = lambda: {"records": [{"name": "@", "type": "MX", "value": "10 mail"}]}  # a file of before
    body = admin.get("/api/mail").get_json()
    assert body["domain"] == "example.org" and body["webmail_url"] == "https://mail.example.org/"
    assert body["records"] == [] and "not in the cell's zone home.cell" in body["records_error"]


def test_only_an_admin_sees_the_mail_view(peer_client):
    assert peer_client.get("/api/mail").status_code == 403
