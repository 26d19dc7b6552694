"""Radicale on the cell, driven by a real CalDAV client (the caldav package) on the client host.

Until Caddy fronts it, the client reaches the loopback-only server through a test-only forwarder
on the cell (prepare.yml: cell:15232 -> 127.0.0.1:5232).
"""

import json
from pathlib import Path

import pytest

from pic_lab.testing import run_converge

HERE = Path(__file__).parent
PASSWORDS = {"alice": "alice-calendar-pw", "bob": "bob-calendar-pw", "carol": "carol-pw"}


@pytest.fixture(scope="module")
def base(host_ip):
    return f"http://{host_ip['cell']}:15232/"


def caldav(lab, *args):
    script = (HERE / "caldav_client.py").read_text()
    res = lab.exec("client", ["/opt/caldav/bin/python", "-", *args], input=script)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_radicale_runs_on_loopback_only(cell):
    assert cell.service("radicale").is_enabled
    assert cell.service("radicale").is_running
    assert cell.socket("tcp://127.0.0.1:5232").is_listening
    assert not cell.socket("tcp://0.0.0.0:5232").is_listening


def test_secrets_are_private(cell):
    for path in ("/etc/radicale/users", "/etc/radicale/config"):
        f = cell.file(path)
        assert (f.user, f.group, f.mode) == ("root", "radicale", 0o640), path
    users = cell.file("/etc/radicale/users").content_string
    # Only users with calendar in their services, with their bcrypt hashes.
    assert [line.split(":")[0] for line in users.split()] == ["alice", "bob"]
    assert all(line.split(":", 1)[1].startswith("$2b$") for line in users.split())


def test_client_creates_calendar_and_event_and_reads_them_back(lab, base):
    got = caldav(lab, "roundtrip", base, "alice", PASSWORDS["alice"])
    assert got["summary"] == "Planning meeting"
    assert "Work" in got["calendars"]
    assert got["calendar_url"].endswith("/alice/work/")


def test_event_is_stored_on_the_cell(cell, lab, base):
    caldav(lab, "roundtrip", base, "bob", PASSWORDS["bob"])
    res = cell.run("grep -rl 'Planning meeting' /var/lib/radicale/collections/collection-root/bob/work/")
    assert res.rc == 0 and res.stdout.strip()


def test_owner_sees_own_collections(lab, base):
    assert caldav(lab, "status", base, "alice", PASSWORDS["alice"], "/alice/")["status"] == 207


@pytest.mark.parametrize("path", ["/alice/", "/alice/work/"])
def test_other_user_is_refused(lab, base, path):
    caldav(lab, "roundtrip", base, "alice", PASSWORDS["alice"])
    assert caldav(lab, "status", base, "bob", PASSWORDS["bob"], path)["status"] in (403, 404)


def test_bad_password_is_refused(lab, base):
    assert caldav(lab, "status", base, "alice", "not-her-password", "/alice/")["status"] == 401
    assert caldav(lab, "login", base, "alice", "not-her-password")["error"] == "AuthorizationError"
    assert caldav(lab, "login", base, "alice", PASSWORDS["alice"])["principal"].endswith("/alice/")


def test_user_without_calendar_is_refused(lab, base):
    assert caldav(lab, "status", base, "carol", PASSWORDS["carol"], "/carol/")["status"] == 401


def test_contacts_carddav(client, base):
    """CardDAV: make an address book, store a vCard, read it back (curl, plain HTTP verbs)."""
    auth = f"-u alice:{PASSWORDS['alice']}"
    mkcol = (
        '<?xml version="1.0"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><set><prop>'
        "<resourcetype><collection/><C:addressbook/></resourcetype><displayname>Contacts</displayname>"
        "</prop></set></mkcol>"
    )
    client.run(f"curl -s {auth} -X DELETE {base}alice/contacts/")
    code = "-o /dev/null -w '%{http_code}'"
    res = client.run(f"curl -s {code} {auth} -X MKCOL --data '{mkcol}' {base}alice/contacts/")
    assert res.stdout == "201"
    vcard = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bob-card\r\nFN:Bob Example\r\nN:Example;Bob;;;\r\nEND:VCARD\r\n"
    )
    res = client.run(
        f"curl -s {code} {auth} -X PUT -H 'Content-Type: text/vcard' "
        f"--data-binary $'{vcard}' {base}alice/contacts/bob.vcf"
    )
    assert res.stdout == "201"
    assert "FN:Bob Example" in client.run(f"curl -s {auth} {base}alice/contacts/bob.vcf").stdout


def test_x_script_name_from_the_proxy_is_honoured(client, base):
    """A proxy mounting Radicale under a prefix says so in X-Script-Name; hrefs carry the prefix."""
    res = client.run(
        f"curl -s -u alice:{PASSWORDS['alice']} -X PROPFIND -H 'Depth: 0' "
        f"-H 'X-Script-Name: /radicale' {base}alice/"
    )
    assert "<href>/radicale/alice/</href>" in res.stdout


def test_bad_config_is_refused_and_service_keeps_answering(cell, lab, base):
    before = cell.file("/etc/radicale/config").sha256sum
    res = run_converge({"radicale_log_level": "loud"})
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc != 0, output[-3000:]
    assert "failed to validate" in output, output[-3000:]
    assert cell.file("/etc/radicale/config").sha256sum == before
    assert cell.service("radicale").is_running
    assert caldav(lab, "status", base, "alice", PASSWORDS["alice"], "/alice/")["status"] == 207


def test_disabled_role_stops_the_service_then_converges_back(cell, lab, base):
    res = run_converge({"pic_services": []})
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc == 0, output
    assert not cell.service("radicale").is_running
    assert not cell.service("radicale").is_enabled
    res = run_converge()
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc == 0, output
    assert cell.service("radicale").is_running
    assert caldav(lab, "status", base, "alice", PASSWORDS["alice"], "/alice/")["status"] == 207
