"""A certificate by ACME DNS-01: lego on the cell publishes the challenge in BIND9 with the cell's own
pic_ngo TSIG key, pebble validates it there, Caddy serves the certificate it loads by path; curl
trusting only pebble's root reaches the cell's HTTPS names."""

import json

import pytest

NAMES = {"home.pic.ngo": ("/health", "api"), "calendar.home.pic.ngo": ("/dav", "radicale")}


@pytest.fixture(scope="module")
def pebble_root(lab):
    fetch = "curl -sSk --max-time 10 https://127.0.0.1:15000/roots/0 > /root/pebble-root.pem"
    res = lab.exec("ns", ["sh", "-c", fetch])
    assert res.returncode == 0, res.stderr
    assert "BEGIN CERTIFICATE" in lab.exec("ns", ["cat", "/root/pebble-root.pem"]).stdout
    return "/root/pebble-root.pem"


@pytest.mark.parametrize("name", NAMES)
def test_the_https_names_with_pebbles_certificate(lab, host_ip, pebble_root, name):
    path, upstream = NAMES[name]
    res = lab.exec("ns", ["curl", "-sS", "--max-time", "10", "--cacert", pebble_root,
                          "--resolve", f"{name}:443:{host_ip['cell']}", f"https://{name}{path}"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{upstream} GET {path}"), res.stdout


def test_one_certificate_from_pebble_for_the_names_caddy_serves(lab, host_ip):
    show = (f"echo | openssl s_client -connect {host_ip['cell']}:443 -servername calendar.home.pic.ngo 2>/dev/null"
            " | openssl x509 -noout -issuer -ext subjectAltName")
    out = lab.exec("ns", ["sh", "-c", show]).stdout
    assert "Pebble" in out and "DNS:home.pic.ngo" in out and "DNS:calendar.home.pic.ngo" in out, out
    assert "files.home.pic.ngo" not in out  # only the services the cell runs


def test_the_validation_was_dns01_through_bind(lab):
    # BIND took the challenge's TXT record from the cell's key (and the record is gone again)...
    log = lab.exec("ns", ["journalctl", "-u", "named", "--no-pager", "-o", "cat"]).stdout
    assert "adding an RR at '_acme-challenge.home.pic.ngo' TXT" in log, log[-3000:]
    assert "deleting an RR at _acme-challenge.home.pic.ngo TXT" in log  # the clean-up after validation
    # ...and caddy answered no HTTP-01 challenge: it only loads the files
    caddy = lab.exec("cell", ["journalctl", "-u", "caddy", "--no-pager", "-o", "cat"]).stdout
    assert "served key authentication" not in caddy and "obtaining certificate" not in caddy


def test_the_key_is_readable_by_caddy_alone(lab):
    out = lab.exec("cell", ["stat", "-c", "%a %U %G", "/etc/pic/tls/acme.key", "/etc/pic/acme"]).stdout.split("\n")
    assert out[0] == "640 root pic-tls" and out[1] == "700 root root", out
    assert "pic-tls" in lab.exec("cell", ["id", "-nG", "caddy"]).stdout


def test_renewal_is_a_daily_timer_that_leaves_a_fresh_certificate_alone(lab):
    assert lab.exec("cell", ["systemctl", "is-enabled", "pic-acme.timer"]).stdout.strip() == "enabled"
    before = lab.exec("cell", ["sha256sum", "/etc/pic/tls/acme.crt"]).stdout
    res = lab.exec("cell", ["systemctl", "start", "pic-acme.service"])
    assert res.returncode == 0, lab.exec("cell", ["journalctl", "-u", "pic-acme", "-n", "30", "--no-pager"]).stdout
    journal = lab.exec("cell", ["journalctl", "-u", "pic-acme", "--no-pager", "-o", "cat"]).stdout
    last = [line for line in journal.splitlines() if line.startswith("{")][-1]
    assert json.loads(last)["changed"] is False
    assert lab.exec("cell", ["sha256sum", "/etc/pic/tls/acme.crt"]).stdout == before
    # the TSIG secret never reaches the journal
    key = json.loads(lab.exec("cell", ["cat", "/etc/pic/ddns/tsig.json"]).stdout)
    assert key["secret"] not in journal
