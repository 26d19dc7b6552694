"""The DDNS updater (core/ddns.py) against local fakes of each provider: the exact method, path, headers
and body each provider documents, each error answer, and the updater's rules (only on change, backoff,
stop on bad credentials, no secret in the status or the output)."""

import base64
import datetime as dt
import json
import os

import pytest
from ddns_fakes import FakeDns, FakeHttp

from pic_api.core import ddns

V4, V4B, V6 = "203.0.113.7", "203.0.113.8", "2001:db8::7"
T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake():
    f = FakeHttp()
    yield f
    f.close()


def provider(name, fake, creds, hostname, **more):
    http = ddns.Http(timeout=5)
    cls = ddns.PROVIDERS[name]
    return cls(http, hostname, creds, urls={name: fake.url, f"{name}_v6": fake.url}, **more)


def only(fake, path_prefix):
    return [r for r in fake.requests if r["path"].startswith(path_prefix)]


# --- No-IP (dyndns2) -------------------------------------------------------------------------------
def test_noip_sends_the_dyndns2_request_with_basic_auth(fake):
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    p = provider("noip", fake, {"username": "alice@example.org", "password": "s3cret:pw"}, "home.ddns.net")
    assert p.update({"ipv4": V4, "ipv6": V6}) == f"good {V4}"
    (req,) = fake.requests
    assert req["method"] == "GET" and req["path"] == "/nic/update"
    assert req["query"] == {"hostname": "home.ddns.net", "myip": f"{V4},{V6}"}
    assert req["headers"]["authorization"] == "Basic " + base64.b64encode(b"alice@example.org:s3cret:pw").decode()
    assert req["headers"]["user-agent"] == ddns.USER_AGENT  # No-IP refuses clients without one
    assert req["body"] == ""


def test_noip_nochg_is_a_success(fake):
    fake.on("GET", "/nic/update", (200, f"nochg {V4}\n"))
    p = provider("noip", fake, {"username": "u", "password": "p"}, "h.ddns.net")
    assert p.update({"ipv4": V4}) == f"nochg {V4}"


@pytest.mark.parametrize(
    "status,answer,fatal,field",
    [
        (401, "badauth", True, "password"),
        (200, "nohost", True, "hostname"),
        (200, "badagent", True, None),
        (200, "!donator", True, None),
        (200, "abuse", True, "hostname"),
        (200, "911", False, None),
        (500, "<html>oops</html>", False, None),
    ],
)
def test_noip_error_answers(fake, status, answer, fatal, field):
    fake.on("GET", "/nic/update", (status, answer))
    with pytest.raises(ddns.ProviderError) as err:
        provider("noip", fake, {"username": "u", "password": "p"}, "h.ddns.net").update({"ipv4": V4})
    assert err.value.fatal is fatal and err.value.field == field
    assert answer in err.value.message  # the provider's own words


# --- Duck DNS --------------------------------------------------------------------------------------
def test_duckdns_update(fake):
    fake.on("GET", "/update", (200, "OK"))
    p = provider("duckdns", fake, {"token": "a7c4d0ad-114e-40ef-ba1d-d217904a50f2"}, "home.duckdns.org")
    assert p.update({"ipv4": V4, "ipv6": V6}) == "OK"
    (req,) = fake.requests
    assert req["method"] == "GET" and req["path"] == "/update"
    assert req["query"] == {"domains": "home", "token": "a7c4d0ad-114e-40ef-ba1d-d217904a50f2", "ip": V4, "ipv6": V6}


def test_duckdns_ko_blames_the_token(fake):
    fake.on("GET", "/update", (200, "KO"))
    with pytest.raises(ddns.ProviderError) as err:
        provider("duckdns", fake, {"token": "bad"}, "home.duckdns.org").update({"ipv4": V4})
    assert err.value.fatal and err.value.field == "token" and err.value.message.startswith("KO")


# --- Cloudflare ------------------------------------------------------------------------------------
def cf_ok(result):
    return {"success": True, "errors": [], "messages": [], "result": result}


def test_cloudflare_patches_an_existing_record(fake):
    fake.on("GET", "/zones", (200, cf_ok([{"id": "z1", "name": "example.org"}])))
    fake.on("GET", "/zones/z1/dns_records", (200, cf_ok([{"id": "r1", "type": "A", "content": "198.51.100.1"}])))
    fake.on("PATCH", "/zones/z1/dns_records/r1", (200, cf_ok({"id": "r1"})))
    p = provider("cloudflare", fake, {"api_token": "cf-token"}, "home.example.org")
    assert p.update({"ipv4": V4}) == f"A {V4} updated"
    zone, lookup, patch = fake.requests
    assert (zone["method"], zone["path"], zone["query"]) == ("GET", "/zones", {"name": "example.org"})
    assert (lookup["path"], lookup["query"]) == ("/zones/z1/dns_records", {"type": "A", "name": "home.example.org"})
    assert (patch["method"], patch["path"], patch["json"]) == ("PATCH", "/zones/z1/dns_records/r1", {"content": V4})
    assert all(r["headers"]["authorization"] == "Bearer cf-token" for r in fake.requests)
    assert patch["headers"]["content-type"] == "application/json"


def test_cloudflare_creates_a_missing_record(fake):
    fake.on("GET", "/zones", (200, cf_ok([{"id": "z1"}])))
    fake.on("GET", "/zones/z1/dns_records", (200, cf_ok([])))
    fake.on("POST", "/zones/z1/dns_records", (200, cf_ok({"id": "r2"})))
    p = provider("cloudflare", fake, {"api_token": "t"}, "home.example.org", zone="example.org")
    assert p.update({"ipv4": V4, "ipv6": V6}) == f"A {V4} created, AAAA {V6} created"
    posts = [r for r in fake.requests if r["method"] == "POST"]
    assert [r["json"] for r in posts] == [
        {"type": "A", "name": "home.example.org", "content": V4, "ttl": 1, "proxied": False},
        {"type": "AAAA", "name": "home.example.org", "content": V6, "ttl": 1, "proxied": False},
    ]


def test_cloudflare_bad_token_and_unknown_zone(fake):
    auth_error = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}], "result": None}
    fake.on("GET", "/zones", (403, auth_error))
    with pytest.raises(ddns.ProviderError) as err:
        provider("cloudflare", fake, {"api_token": "bad"}, "home.example.org").update({"ipv4": V4})
    assert err.value.fatal and err.value.field == "api_token" and "10000: Authentication error" in err.value.message
    fake.on("GET", "/zones", (200, cf_ok([])))
    with pytest.raises(ddns.ProviderError) as err:
        provider("cloudflare", fake, {"api_token": "t"}, "home.example.org").update({"ipv4": V4})
    assert err.value.fatal and err.value.field == "zone"
    fake.on("GET", "/zones", (500, {"success": False, "errors": [{"code": 1000, "message": "busy"}]}))
    with pytest.raises(ddns.ProviderError) as err:
        provider("cloudflare", fake, {"api_token": "t"}, "home.example.org").update({"ipv4": V4})
    assert not err.value.fatal


def test_cloudflare_verify_changes_nothing(fake):
    fake.on("GET", "/user/tokens/verify", (200, cf_ok({"id": "x", "status": "active"})))
    fake.on("GET", "/zones", (200, cf_ok([{"id": "z1"}])))
    p = provider("cloudflare", fake, {"api_token": "t"}, "home.example.org")
    assert "example.org" in p.verify({"ipv4": V4})
    assert [r["method"] for r in fake.requests] == ["GET", "GET"]


# --- FreeDNS ---------------------------------------------------------------------------------------
def test_freedns_token_url(fake):
    fake.on("GET", "/u/", (200, f"Updated 1 host(s) home.mooo.com to {V4} in 0.31 seconds"))
    p = provider("freedns", fake, {"token": "Tok3nXYZ"}, "home.mooo.com")
    assert p.update({"ipv4": V4, "ipv6": V6}).startswith("Updated")
    v4, v6 = fake.requests
    assert (v4["method"], v4["path"], v4["query"]) == ("GET", "/u/Tok3nXYZ/", {"ip": V4})
    assert (v6["path"], v6["query"]) == ("/u/Tok3nXYZ/", {"ip": V6})


def test_freedns_answers(fake):
    fake.on("GET", "/u/", (200, f"No IP change detected for home.mooo.com with IP {V4}, skipping update"))
    assert provider("freedns", fake, {"token": "t"}, "home.mooo.com").update({"ipv4": V4}).startswith("No IP change")
    fake.on("GET", "/u/", (200, "ERROR: Unable to locate this record"))
    with pytest.raises(ddns.ProviderError) as err:
        provider("freedns", fake, {"token": "t"}, "home.mooo.com").update({"ipv4": V4})
    assert err.value.fatal and err.value.message == "ERROR: Unable to locate this record"


# --- pic_ngo: registration over HTTP, RFC 2136 updates signed with TSIG ----------------------------
def test_pic_ngo_registers_its_key_and_sends_a_signed_update(fake, tmp_path):
    import dns.rdatatype

    fake.on("POST", "/v1/names", (201, {"name": "home"}))
    keyfile = tmp_path / "tsig.json"
    p = ddns.PicNgo(ddns.Http(timeout=5), "home.pic.ngo", {}, urls={"pic_ngo": fake.url}, zone="pic.ngo",
                    tsig_key_file=str(keyfile))
    assert p.register() == "home.pic.ngo registered"
    key = json.loads(keyfile.read_text())
    assert keyfile.stat().st_mode & 0o777 == 0o600
    assert key["name"] == "home.pic.ngo." and key["algorithm"] == "hmac-sha256"
    assert len(base64.b64decode(key["secret"])) == 32
    (req,) = fake.requests
    assert (req["method"], req["path"]) == ("POST", "/v1/names")
    assert req["json"] == {"name": "home", "key_name": "home.pic.ngo.", "algorithm": "hmac-sha256",
                           "secret": key["secret"]}

    server = FakeDns({"home.pic.ngo.": key["secret"]})
    try:
        p.extra["server"] = server.address
        assert p.update({"ipv4": V4, "ipv6": V6}).startswith("NOERROR")
        (msg,) = server.updates
        assert msg.had_tsig and str(msg.keyname) == "home.pic.ngo."
        assert str(msg.zone[0].name) == "pic.ngo."
        records = {(str(r.name), dns.rdatatype.to_text(r.rdtype)): [x.to_text() for x in r] for r in msg.update
                   if r.rdtype != dns.rdatatype.ANY and len(r)}
        assert records == {("home.pic.ngo.", "A"): [V4], ("home.pic.ngo.", "AAAA"): [V6]}
    finally:
        server.close()
    # the key is kept: a second provider object uses the same one
    assert p.key() == key


def test_pic_ngo_wrong_key_is_refused_and_fatal(fake, tmp_path):
    p = ddns.PicNgo(ddns.Http(timeout=5), "home.pic.ngo", {}, zone="pic.ngo", tsig_key_file=str(tmp_path / "k"))
    server = FakeDns({"home.pic.ngo.": base64.b64encode(b"x" * 32).decode()})
    try:
        p.extra["server"] = server.address
        with pytest.raises(ddns.ProviderError) as err:
            p.update({"ipv4": V4})
        assert err.value.fatal and "refused the key" in err.value.message, err.value.message
        assert server.refused and not server.updates
    finally:
        server.close()


def test_pic_ngo_taken_name_and_availability(fake, tmp_path):
    p = ddns.PicNgo(ddns.Http(timeout=5), "home.pic.ngo", {}, urls={"pic_ngo": fake.url}, zone="pic.ngo",
                    tsig_key_file=str(tmp_path / "k"))
    fake.on("POST", "/v1/names", (409, {"error": "taken"}))
    with pytest.raises(ddns.ProviderError) as err:
        p.register()
    assert err.value.fatal and err.value.field == "cell_name"
    fake.on("GET", "/v1/names/home", (200, {"available": False}))
    with pytest.raises(ddns.ProviderError) as err:
        p.verify({})
    assert "taken" in err.value.message
    fake.on("GET", "/v1/names/home", (200, {"available": True}))
    assert p.verify({}) == "home.pic.ngo is available"
    assert fake.requests[-1]["path"] == "/v1/names/home"


# --- the updater -----------------------------------------------------------------------------------
@pytest.fixture
def cell(tmp_path, fake):
    """An updater config for No-IP against the fake, with the public address from the fake too."""
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"noip": {"username": "alice", "password": "hunter2-pw"}}))
    fake.on("GET", "/ip4", (200, V4))
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    return {
        "provider": "noip",
        "hostname": "home.ddns.net",
        "ipv6": False,
        "ipv4_source": fake.url + "/ip4",
        "ipv6_source": fake.url + "/ip6",
        "urls": {"noip": fake.url},
        "credentials_file": str(creds),
        "status_file": str(tmp_path / "status.json"),
        "accept_private": True,
        "retry": 300,
        "retry_max": 3600,
    }


def test_updates_once_and_sends_nothing_while_the_address_stays(cell, fake):
    status = ddns.run(cell, now=T0)
    assert status["accepted"] == {"ipv4": V4} and status["last_answer"] == f"good {V4}"
    assert status["last_success"] == "2025-01-01T12:00:00Z" and status["last_error"] is None
    for minutes in (5, 10, 15):
        ddns.run(cell, now=T0 + dt.timedelta(minutes=minutes))
    assert len(only(fake, "/nic/update")) == 1
    assert len(only(fake, "/ip4")) == 4
    fake.on("GET", "/ip4", (200, V4B))
    fake.on("GET", "/nic/update", (200, f"good {V4B}"))
    status = ddns.run(cell, now=T0 + dt.timedelta(minutes=20))
    updates = only(fake, "/nic/update")
    assert len(updates) == 2 and updates[-1]["query"]["myip"] == V4B
    assert status["accepted"] == {"ipv4": V4B}


def test_ipv6_where_present(cell, fake):
    cell["ipv6"] = True
    fake.on("GET", "/ip6", (200, V6))
    ddns.run(cell, now=T0)
    assert only(fake, "/nic/update")[-1]["query"]["myip"] == f"{V4},{V6}"
    # no IPv6 any more (the source fails): IPv4 alone, no error, nothing sent for an unchanged v4
    fake.on("GET", "/ip6", (502, "no route"))
    status = ddns.run(cell, now=T0 + dt.timedelta(minutes=5))
    assert status["public"] == {"ipv4": V4} and len(only(fake, "/nic/update")) == 1


def test_errors_back_off_doubling(cell, fake):
    fake.on("GET", "/nic/update", (200, "911"))
    status = ddns.run(cell, now=T0)
    assert status["last_error"].startswith("911") and status["next_attempt"] == "2025-01-01T12:05:00Z"
    before = len(fake.requests)
    ddns.run(cell, now=T0 + dt.timedelta(minutes=4))
    assert len(fake.requests) == before  # waiting: not even the address is asked
    status = ddns.run(cell, now=T0 + dt.timedelta(minutes=5))
    assert status["failures"] == 2 and status["next_attempt"] == "2025-01-01T12:15:00Z"
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    status = ddns.run(cell, now=T0 + dt.timedelta(minutes=15))
    assert status["failures"] == 0 and status["last_error"] is None and "next_attempt" not in status
    assert status["last_success"] == "2025-01-01T12:15:00Z"


def test_bad_credentials_stop_until_they_change(cell, fake, tmp_path):
    fake.on("GET", "/nic/update", (401, "badauth"))
    status = ddns.run(cell, now=T0)
    assert status["blocked"] is True and status["last_error"].startswith("badauth")
    before = len(fake.requests)
    for minutes in (5, 60, 600):
        ddns.run(cell, now=T0 + dt.timedelta(minutes=minutes))
    assert len(fake.requests) == before  # nothing more sent: No-IP asks clients to stop
    # a new password is a new start
    (tmp_path / "creds.json").write_text(json.dumps({"noip": {"username": "alice", "password": "right-pw"}}))
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    status = ddns.run(cell, now=T0 + dt.timedelta(minutes=605))
    assert status["blocked"] is False and status["accepted"] == {"ipv4": V4}


def test_missing_credentials(cell, tmp_path):
    (tmp_path / "creds.json").write_text("{}")
    status = ddns.run(cell, now=T0)
    assert status["blocked"] and status["last_error"] == "missing credentials: username, password"


def test_a_private_or_garbled_source_answer_is_never_published(cell, fake):
    cell["accept_private"] = False
    fake.on("GET", "/ip4", (200, "10.1.2.3"))
    status = ddns.run(cell, now=T0)
    assert "not a public address" in status["last_error"] and not only(fake, "/nic/update")
    fake.on("GET", "/ip4", (200, "<html>login</html>"))
    status = ddns.run(cell, now=T0 + dt.timedelta(hours=1))
    assert "not an address" in status["last_error"] and not only(fake, "/nic/update")


def test_no_secret_in_status_or_output(cell, fake, tmp_path, capsys):
    fake.on("GET", "/nic/update", (200, "abuse hunter2-pw"))  # even when a provider echoes it
    cfg = tmp_path / "ddns.json"
    cfg.write_text(json.dumps(cell))
    assert ddns.main(["--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    text = (tmp_path / "status.json").read_text()
    assert "abuse ***" in text and "hunter2-pw" not in text and "hunter2-pw" not in out
    assert json.loads(out)["blocked"] is True


def test_provider_none_sends_nothing(cell, fake):
    cell["provider"] = "none"
    assert ddns.run(cell, now=T0)["message"] == "no dynamic DNS provider chosen"
    assert fake.requests == []


def test_https_with_the_configured_ca_bundle(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(T0 - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    fake = FakeHttp(tls=(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")))
    try:
        fake.on("GET", "/update", (200, "OK"))
        p = ddns.DuckDns(ddns.Http(str(tmp_path / "c.pem"), 5), "home.duckdns.org", {"token": "t"},
                         urls={"duckdns": fake.url})
        assert p.update({"ipv4": V4}) == "OK"
        untrusting = ddns.DuckDns(ddns.Http(None, 5), "home.duckdns.org", {"token": "t"}, urls={"duckdns": fake.url})
        with pytest.raises(ddns.ProviderError) as err:
            untrusting.update({"ipv4": V4})
        assert "CERTIFICATE_VERIFY_FAILED" in err.value.message and not err.value.fatal
    finally:
        fake.close()


def test_check_refuses_a_bad_configuration(cell, tmp_path, capsys):
    cfg = tmp_path / "ddns.json"
    cfg.write_text(json.dumps(cell))
    assert ddns.main(["--check", "--config", str(cfg)]) == 0
    for change, words in [
        ({"provider": "dyndns"}, "provider must be"),
        ({"hostname": "bad name"}, "hostname must be"),
        ({"urls": {"noip": "ftp://x"}}, "noip must be an http"),
        ({"ipv4_source": "", "ipv6_source": ""}, "an address source"),
        ({"status_file": "status.json"}, "status_file must be"),
    ]:
        cfg.write_text(json.dumps({**cell, **change}))
        assert ddns.main(["--check", "--config", str(cfg)]) == 2
        assert words in capsys.readouterr().err


def test_the_schema_and_the_updater_name_the_same_providers_and_credentials():
    from pic_api.core import schema

    assert set(schema.DDNS_PROVIDERS) == {"none", *ddns.PROVIDERS}
    assert {name: cls.needs for name, cls in ddns.PROVIDERS.items()} == {
        k: v for k, v in schema.DDNS_CREDENTIALS.items() if k != "none"}
    assert ddns.PIC_NGO_ZONE == schema.PIC_NGO_SUFFIX


# --- DNS-01: what the program gives lego -----------------------------------------------------------
FAKE_LEGO = """#!/usr/bin/env python3
# Stands in for lego: records its arguments and environment, prints the TSIG secret as lego's debug
# output might, and leaves a certificate where lego leaves one.
import json, os, sys
args = sys.argv[1:]
path = args[args.index("--path") + 1]
domain = args[args.index("--domains") + 1]
with open(os.environ["FAKE_LEGO_LOG"], "a") as fh:
    fh.write(json.dumps({"argv": args, "env": {k: v for k, v in os.environ.items()
                                                if k.startswith(("RFC2136_", "LEGO_"))}}) + "\\n")
print("solving with", os.environ.get("RFC2136_TSIG_SECRET", ""))
os.makedirs(os.path.join(path, "certificates"), exist_ok=True)
for ext in ("crt", "key"):
    with open(os.path.join(path, "certificates", domain + "." + ext), "w") as fh:
        fh.write(ext + " of " + domain + "\\n")
"""
TSIG_SECRET = base64.b64encode(b"delegated-key-secret-32-bytes!!!").decode()


@pytest.fixture
def delegated(tmp_path, monkeypatch):
    """A No-IP cell (no TXT API) whose names delegate _acme-challenge into acme.example.net."""
    lego = tmp_path / "lego"
    lego.write_text(FAKE_LEGO)
    lego.chmod(0o755)
    monkeypatch.setenv("FAKE_LEGO_LOG", str(tmp_path / "lego.log"))
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"noip": {"username": "alice", "password": "pw-123"},
                                 "acme_delegation": {"tsig_secret": TSIG_SECRET}}))
    return {
        "provider": "noip", "hostname": "home.example.org", "ipv4_source": "http://127.0.0.1:9/ip4",
        "credentials_file": str(creds), "status_file": str(tmp_path / "status.json"),
        "acme": {
            "lego": str(lego), "domains": ["home.example.org", "calendar.home.example.org"],
            "email": "admin@home.example.org", "path": str(tmp_path / "acme"), "server": "https://ca.test/dir",
            "resolvers": ["192.0.2.53:53"], "renew_days": 30, "cert_file": str(tmp_path / "tls/acme.crt"),
            "key_file": str(tmp_path / "tls/acme.key"), "group": "", "reload": [],
            "delegation": {"server": "192.0.2.53", "port": 5353, "zone": "acme.example.net",
                           "key_name": "cell-acme", "algorithm": "hmac-sha512"},
        },
    }


def lego_calls(tmp_path):
    return [json.loads(line) for line in (tmp_path / "lego.log").read_text().splitlines()]


def test_a_delegation_runs_legos_rfc2136_provider_following_the_cname(delegated, tmp_path, capsys, monkeypatch):
    for name in [k for k in os.environ if k.startswith(("RFC2136_", "LEGO_"))]:
        monkeypatch.delenv(name)
    assert ddns.main(["--check", "--config", write_config(tmp_path, delegated)]) == 0
    assert ddns.acme(delegated) == 0
    (call,) = lego_calls(tmp_path)
    argv = call["argv"]
    assert argv[argv.index("--dns") + 1] == "rfc2136"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--domains"] == ["home.example.org",
                                                                                 "calendar.home.example.org"]
    assert argv[argv.index("--dns.resolvers") + 1] == "192.0.2.53:53" and argv[-1] == "run"
    assert call["env"] == {
        "RFC2136_NAMESERVER": "192.0.2.53:5353",
        "RFC2136_TSIG_KEY": "cell-acme.",
        "RFC2136_TSIG_SECRET": TSIG_SECRET,
        "RFC2136_TSIG_ALGORITHM": "hmac-sha512.",
        "RFC2136_TTL": "60",
        "RFC2136_PROPAGATION_TIMEOUT": "180",
        "RFC2136_POLLING_INTERVAL": "2",
        "RFC2136_SEQUENCE_INTERVAL": "2",
        "LEGO_DISABLE_CNAME_SUPPORT": "false",  # lego follows _acme-challenge's CNAME
    }
    out = capsys.readouterr().out
    assert TSIG_SECRET not in out and "solving with ***" in out  # lego's output is scrubbed
    assert json.loads(out.strip().splitlines()[-1])["changed"] is True
    assert (tmp_path / "tls/acme.crt").read_text() == "crt of home.example.org\n"
    # the next run renews only when due, with the same names
    assert ddns.acme(delegated) == 0
    assert lego_calls(tmp_path)[-1]["argv"][-3:] == ["renew", "--days", "30"]
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["changed"] is False


def write_config(tmp_path, config):
    path = tmp_path / "ddns.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_without_a_delegation_noip_and_freedns_cannot_answer_dns01(delegated, tmp_path, capsys):
    for provider in ("noip", "freedns"):
        config = {**delegated, "provider": provider, "acme": {**delegated["acme"], "delegation": {}}}
        assert ddns.main(["--check", "--config", write_config(tmp_path, config)]) == 2
        assert "needs a delegation" in capsys.readouterr().err
        assert ddns.acme(config) == 2
        assert "CNAME delegation" in capsys.readouterr().err
    assert not (tmp_path / "lego.log").exists()  # lego never ran


def test_a_delegation_without_its_secret_does_not_run_lego(delegated, tmp_path, capsys):
    (tmp_path / "credentials.json").write_text(json.dumps({"noip": {"username": "a", "password": "b"}}))
    assert ddns.acme(delegated) == 2
    assert "no TSIG secret" in capsys.readouterr().err
    assert not (tmp_path / "lego.log").exists()


@pytest.mark.parametrize("change,words", [
    ({"server": "bad server"}, "acme.delegation.server"),
    ({"port": 70000}, "acme.delegation.port"),
    ({"zone": "nodots"}, "acme.delegation.zone"),
    ({"key_name": "bad key"}, "acme.delegation.key_name"),
    ({"algorithm": "hmac-md5"}, "acme.delegation.algorithm"),
])
def test_check_refuses_a_bad_delegation(delegated, tmp_path, capsys, change, words):
    config = {**delegated, "acme": {**delegated["acme"], "delegation": {**delegated["acme"]["delegation"], **change}}}
    assert ddns.main(["--check", "--config", write_config(tmp_path, config)]) == 2
    assert words in capsys.readouterr().err


def test_the_cname_the_owner_creates_names_a_target_per_name():
    names = ddns.acme_names("home.example.org", ["dns", "mail", "calendar"])
    assert names == ["home.example.org", "calendar.home.example.org", "mail.home.example.org"]
    records = [ddns.acme_cname(n, "acme.example.net.") for n in names]
    assert records[0] == {"name": "_acme-challenge.home.example.org.", "type": "CNAME",
                          "target": "home.example.org.acme.example.net."}
    # one target per name: lego's rfc2136 provider replaces the TXT set at the name it updates
    assert len({r["target"] for r in records}) == len(names)


def test_the_delegations_key_is_checked_with_a_signed_query(tmp_path):
    server = FakeDns({"cell-acme.": TSIG_SECRET})
    try:
        host, port = server.address.split(":")
        delegation = {"server": host, "port": int(port), "zone": "acme.example.net", "key_name": "cell-acme",
                      "algorithm": "hmac-sha256"}
        assert "knows the key cell-acme." in ddns.verify_delegation(delegation, TSIG_SECRET, timeout=5)
        (query,) = server.updates
        assert query.question[0].to_text() == "acme.example.net. IN SOA" and query.keyname.to_text() == "cell-acme."
        with pytest.raises(ddns.ProviderError) as err:
            ddns.verify_delegation(delegation, base64.b64encode(b"x" * 32).decode(), timeout=5)
        assert err.value.fatal and err.value.field == "acme_delegation_secret"
    finally:
        server.close()
    with pytest.raises(ddns.ProviderError) as err:  # nobody answers: not the key's fault
        ddns.verify_delegation(delegation, TSIG_SECRET, timeout=2)
    assert not err.value.fatal
