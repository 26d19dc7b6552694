"""A certificate by ACME DNS-01: lego on the cell publishes the challenge in BIND9 with the cell's own
pic_ngo TSIG key, pebble validates it there, Caddy serves the certificate it loads by path; curl
trusting only pebble's root reaches the cell's HTTPS names. The delegated host does the same for a
name published by No-IP (no TXT API), through the CNAME of its _acme-challenge into a zone on that
BIND9 which its own TSIG key may update."""

import json

import pytest

NAMES = {"home.pic.ngo": ("/health", "api"), "calendar.home.pic.ngo": ("/dav", "radicale")}
# the delegated host: its own domain, published by No-IP, its _acme-challenge delegated by CNAME
DELEGATED = {"home.example.org": ("/health", "api"), "calendar.home.example.org": ("/dav", "radicale")}


@pytest.fixture(scope="module")
def pebble_root(lab):
    fetch = "curl -sSk --max-time 10 https://127.0.0.1:15000/roots/0 > /root/pebble-root.pem"
    res = lab.exec("ns", ["sh", "-c", fetch])
    assert res.returncode == 0, res.stderr
    assert "BEGIN CERTIFICATE" in lab.exec("ns", ["cat", "/root/pebble-root.pem"]).stdout
    return "/root/pebble-root.pem"


@pytest.mark.parametrize("host,name", [("cell", n) for n in NAMES] + [("delegated", n) for n in DELEGATED])
def test_the_https_names_with_pebbles_certificate(lab, host_ip, pebble_root, host, name):
    path, upstream = {**NAMES, **DELEGATED}[name]
    res = lab.exec("ns", ["curl", "-sS", "--max-time", "10", "--cacert", pebble_root,
                          "--resolve", f"{name}:443:{host_ip[host]}", f"https://{name}{path}"])
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


# --- the cell whose name delegates its _acme-challenge by CNAME (No-IP has no TXT API) ---------------
@pytest.mark.parametrize("name", DELEGATED)
def test_the_owners_cname_is_the_one_the_cell_asks_for(lab, name):
    from pic_api.core import ddns

    record = ddns.acme_cname(name, "acme.example.net")
    out = lab.exec("ns", ["dig", "+short", "@127.0.0.1", record["name"], "CNAME"]).stdout.strip()
    assert out == record["target"], out


def test_the_challenge_went_to_the_delegated_zone_with_the_cells_key(lab):
    log = lab.exec("ns", ["journalctl", "-u", "named", "--no-pager", "-o", "cat"]).stdout
    for name in DELEGATED:
        assert f"adding an RR at '{name}.acme.example.net' TXT" in log, log[-3000:]
        assert f"deleting an RR at {name}.acme.example.net TXT" in log
    # nothing was written to the owner's zone: the CNAMEs stay as the owner made them
    assert "updating zone 'example.org" not in log
    caddy = lab.exec("delegated", ["journalctl", "-u", "caddy", "--no-pager", "-o", "cat"]).stdout
    assert "served key authentication" not in caddy and "obtaining certificate" not in caddy


def test_the_delegations_secret_stays_in_the_credentials_file(lab):
    creds = json.loads(lab.exec("delegated", ["cat", "/etc/pic/ddns-credentials.json"]).stdout)
    secret = creds["acme_delegation"]["tsig_secret"]
    assert lab.exec("delegated", ["stat", "-c", "%a", "/etc/pic/ddns-credentials.json"]).stdout.strip() == "600"
    config = lab.exec("delegated", ["cat", "/etc/pic/ddns.json"]).stdout
    assert json.loads(config)["acme"]["delegation"]["key_name"] == "cell-acme"
    res = lab.exec("delegated", ["systemctl", "start", "pic-acme.service"])
    assert res.returncode == 0, lab.exec("delegated", ["journalctl", "-u", "pic-acme", "-n", "30", "--no-pager"]).stdout
    journal = lab.exec("delegated", ["journalctl", "--no-pager", "-o", "cat"]).stdout
    assert secret not in config and secret not in journal
    last = [line for line in journal.splitlines() if line.startswith('{"certificate"')][-1]
    assert json.loads(last)["changed"] is False
