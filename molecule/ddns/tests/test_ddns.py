"""The cell registers its TSIG key with the pic_ngo stand-in and publishes its address in BIND9 by
signed RFC 2136 updates; a changed address is published within one timer period, an unchanged one
sends nothing."""

import json
import time

import pytest

PERIOD = 15  # ddns_interval of converge.yml
NAME = "home.pic.ngo"


def dig(lab, host_ip, name=NAME, rtype="A"):
    return lab.exec("ns", ["dig", "+short", f"@{host_ip['ns']}", name, rtype]).stdout.strip()


def wait_for(what, check, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(1)


def status(lab):
    return json.loads(lab.exec("cell", ["cat", "/var/lib/pic/ddns/status.json"], check=True).stdout)


def updates_seen(lab):
    """What BIND logged of the updates it was sent: the signer approved, each record changed."""
    log = lab.exec("ns", ["journalctl", "-u", "named", "--no-pager", "-o", "cat"]).stdout
    return [line for line in log.splitlines()
            if ("signer" in line and "approved" in line) or "updating zone 'pic.ngo/IN'" in line]


@pytest.fixture(scope="module")
def published(lab, host_ip):
    assert wait_for("A record", lambda: dig(lab, host_ip) == "203.0.113.10", 60), status(lab)
    return True


def test_timer_runs_the_sandboxed_updater(cell):
    assert cell.service("pic-ddns.timer").is_enabled and cell.service("pic-ddns.timer").is_running
    unit = cell.run("systemctl show -p Result -p CapabilityBoundingSet pic-ddns.service").stdout
    assert "Result=success" in unit and "CapabilityBoundingSet=cap_dac_read_search" in unit


def test_the_cell_registered_its_own_key(lab, published):
    key = json.loads(lab.exec("cell", ["cat", "/etc/pic/ddns/tsig.json"], check=True).stdout)
    mode = lab.exec("cell", ["stat", "-c", "%a %U", "/etc/pic/ddns/tsig.json"]).stdout.split()
    assert mode == ["600", "root"]
    names = json.loads(lab.exec("ns", ["cat", "/var/lib/pic-ngo/names.json"], check=True).stdout)
    assert names == {"home": {"key_name": "home.pic.ngo.", "secret": key["secret"]}}
    # the configuration and the status hold no secret
    for path in ("/etc/pic/ddns.json", "/var/lib/pic/ddns/status.json"):
        assert key["secret"] not in lab.exec("cell", ["cat", path]).stdout


def test_its_a_record_appears(lab, host_ip, published):
    s = status(lab)
    assert s["accepted"] == {"ipv4": "203.0.113.10"} and s["last_error"] is None
    assert s["last_answer"].startswith("NOERROR")


def test_updates_need_the_key(lab, host_ip, published):
    # an unsigned update is refused by the zone's policy: the record is the cell's alone
    script = f"server {host_ip['ns']}\nzone pic.ngo\nupdate add {NAME} 60 A 192.0.2.66\nsend\n"
    res = lab.exec("ns", ["nsupdate"], input=script)
    assert res.returncode != 0 and "REFUSED" in res.stdout + res.stderr
    assert dig(lab, host_ip) == "203.0.113.10"


def test_a_changed_address_is_published_within_one_period(lab, host_ip, published):
    lab.exec("ns", ["sh", "-c", "echo 203.0.113.11 > /srv/public-ip"], check=True)
    start = time.monotonic()
    assert wait_for("new A record", lambda: dig(lab, host_ip) == "203.0.113.11", PERIOD + 10), status(lab)
    took = time.monotonic() - start
    assert took <= PERIOD + 3, took  # one timer period (AccuracySec=1s), plus the dig polling
    assert status(lab)["accepted"] == {"ipv4": "203.0.113.11"}


def test_nothing_is_sent_while_the_address_stays(lab, host_ip, published):
    wait_for("settled", lambda: dig(lab, host_ip) == "203.0.113.11", PERIOD + 10)
    before, checked = len(updates_seen(lab)), status(lab)["checked_at"]
    assert before >= 2, updates_seen(lab)  # the first publication and the change above were seen
    time.sleep(2 * PERIOD + 2)
    assert status(lab)["checked_at"] != checked  # the timer did run, twice
    assert len(updates_seen(lab)) == before  # and sent nothing
