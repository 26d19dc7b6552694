"""The API's dynamic DNS: settings checked with the provider before anything is saved, credentials in
a 0600 file (never in state, runs or answers), the updater's status, the public endpoint in device
configs, the wizard's pic_ngo name check."""

import base64
import json
import stat

import pytest
import yaml
from conftest import PEER_KEY, csrf, wait_run
from ddns_fakes import FakeDns, FakeHttp

V4 = "203.0.113.7"


@pytest.fixture
def fake():
    f = FakeHttp()
    f.on("GET", "/ip4", (200, V4))
    yield f
    f.close()


@pytest.fixture
def updater_config(app, config, fake):
    """The updater configuration the ddns role writes, pointed at the local fake."""
    config.ddns_credentials_file = config.secrets_dir / "ddns-credentials.json"
    config.ddns_config_file = config.secrets_dir / "ddns.json"
    config.ddns_status_file = config.run_dir.parent / "ddns/status.json"
    manager = app.extensions["pic"].ddns
    manager.credentials_file = config.ddns_credentials_file
    manager.updater_config = config.ddns_config_file
    manager.status_file = config.ddns_status_file
    config.ddns_config_file.parent.mkdir(parents=True, exist_ok=True)
    config.ddns_config_file.write_text(json.dumps({
        "ipv4_source": fake.url + "/ip4",
        "accept_private": True,
        "urls": {p: fake.url for p in ("noip", "duckdns", "cloudflare", "freedns", "pic_ngo")},
    }))
    return config


@pytest.fixture
def admin_ddns(updater_config, admin):
    return admin


def put(client, body, preview=False):
    return client.put("/api/ddns" + ("?preview=1" if preview else ""), json=body, headers=csrf(client))


def state_of(config):
    return yaml.safe_load(config.state_file.read_text())


def test_bad_credentials_are_refused_by_field_and_change_nothing(app, admin_ddns, config, fake, backend):
    fake.on("GET", "/nic/update", (401, "badauth"))
    before, runs = config.state_file.read_text(), len(backend.runs)
    resp = put(admin_ddns, {"provider": "noip", "hostname": "home.ddns.net",
                            "credentials": {"username": "alice", "password": "wrong-password"}})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["fields"] == {"credentials.password": "badauth: the username or password is wrong"}
    assert config.state_file.read_text() == before and len(backend.runs) == runs
    assert not config.ddns_credentials_file.exists()
    # the provider was really asked, with what the person typed
    (req,) = [r for r in fake.requests if r["path"] == "/nic/update"]
    assert req["query"] == {"hostname": "home.ddns.net", "myip": V4}


def test_good_credentials_are_saved_0600_and_never_shown(app, admin_ddns, config, fake, backend):
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    resp = put(admin_ddns, {"provider": "noip", "hostname": "home.ddns.net",
                            "credentials": {"username": "alice", "password": "right-password"}})
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert "ddns" in info["tags"]
    assert state_of(config)["ddns"] == {"provider": "noip", "hostname": "home.ddns.net", "ipv6": True,
                                       "acme_delegation": {}}
    creds = config.ddns_credentials_file
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text()) == {"noip": {"username": "alice", "password": "right-password"}}
    view = admin_ddns.get("/api/ddns").get_json()
    assert view["credentials"] == {"noip": {"username": "alice", "password": True}}
    assert view["provider"] == "noip" and view["hostname"] == "home.ddns.net"
    # never in state, its versions, the runs or the answers
    for text in [p.read_text() for p in config.state_dir.iterdir()] + [config.state_file.read_text(),
                                                                         json.dumps(view)]:
        assert "right-password" not in text
    for path in config.run_dir.rglob("*"):
        if path.is_file():
            assert "right-password" not in path.read_text(errors="replace")


def test_credentials_are_kept_when_only_the_name_changes(app, admin_ddns, config, fake):
    fake.on("GET", "/update", (200, "OK"))
    resp = put(admin_ddns, {"provider": "duckdns", "hostname": "home.duckdns.org", "credentials": {"token": "tok-1"}})
    wait_run(app, resp.get_json()["run_id"])
    resp = put(admin_ddns, {"hostname": "other.duckdns.org"})
    assert resp.status_code == 202, resp.get_json()
    assert [r["query"]["token"] for r in fake.requests if r["path"] == "/update"] == ["tok-1", "tok-1"]
    assert json.loads(config.ddns_credentials_file.read_text()) == {"duckdns": {"token": "tok-1"}}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"provider": "dyndns"}, "provider"),
        ({"provider": "noip"}, "hostname"),
        ({"provider": "duckdns", "hostname": "home.example.org", "credentials": {"token": "t"}}, "hostname"),
        ({"provider": "pic_ngo"}, "provider"),
        ({"provider": "noip", "hostname": "home.ddns.net", "credentials": {"username": "a"}}, "credentials.password"),
        ({"provider": "duckdns", "hostname": "h.duckdns.org", "credentials": {"token": "t", "password": "x"}},
         "credentials.password"),
        ({"provider": "cloudflare", "hostname": "home.example.org", "zone": "example.net",
          "credentials": {"api_token": "t"}}, "hostname"),
        ({"credentials": {"token": "line\nbreak"}}, "credentials.token"),
        ({"wireguard_endpoint": "bad host"}, "wireguard_endpoint"),
        ({}, "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_ddns, config, body, field):
    before = config.state_file.read_text()
    resp = put(admin_ddns, body)
    assert resp.status_code == 400, resp.get_json()
    fields = resp.get_json()["fields"]
    assert field in fields or (field == "body" and fields), fields
    assert config.state_file.read_text() == before


def test_cloudflare_is_checked_without_changing_a_record(app, admin_ddns, fake):
    ok = {"success": True, "errors": [], "result": None}
    fake.on("GET", "/user/tokens/verify", (200, {**ok, "result": {"status": "active"}}))
    fake.on("GET", "/zones", (200, {**ok, "result": [{"id": "z1"}]}))
    resp = put(admin_ddns, {"provider": "cloudflare", "hostname": "home.example.org",
                            "credentials": {"api_token": "cf"}})
    assert resp.status_code == 202, resp.get_json()
    assert {r["method"] for r in fake.requests} == {"GET"}
    refused = {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}
    fake.on("GET", "/user/tokens/verify", (401, refused))
    resp = put(admin_ddns, {"credentials": {"api_token": "wrong"}})
    assert resp.status_code == 400 and "Invalid API Token" in resp.get_json()["fields"]["credentials.api_token"]


def test_an_unreachable_provider_does_not_block_the_change(app, admin_ddns, config, fake):
    config_data = json.loads(config.ddns_config_file.read_text())
    config_data["urls"]["freedns"] = "http://127.0.0.1:9"  # nothing listens there
    config.ddns_config_file.write_text(json.dumps(config_data))
    resp = put(admin_ddns, {"provider": "freedns", "hostname": "home.mooo.com", "credentials": {"token": "t"}})
    assert resp.status_code == 202, resp.get_json()


def test_preview_saves_nothing(app, admin_ddns, config, fake, backend):
    fake.on("GET", "/update", (200, "OK"))
    before = config.state_file.read_text()
    resp = put(admin_ddns, {"provider": "duckdns", "hostname": "h.duckdns.org", "credentials": {"token": "t"}},
               preview=True)
    assert resp.status_code == 202 and resp.get_json()["preview"] is True
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["check"] is True and "ddns" in info["tags"]
    assert config.state_file.read_text() == before and not config.ddns_credentials_file.exists()


def test_status_of_the_updater(admin_ddns, config, fake):
    fake.on("GET", "/update", (200, "OK"))
    put(admin_ddns, {"provider": "duckdns", "hostname": "h.duckdns.org", "credentials": {"token": "t"}})
    assert admin_ddns.get("/api/ddns").get_json()["status"] is None
    config.ddns_status_file.parent.mkdir(parents=True)
    config.ddns_status_file.write_text(json.dumps({
        "provider": "duckdns", "hostname": "h.duckdns.org", "public": {"ipv4": V4}, "accepted": {},
        "last_error": "KO: Duck DNS refused the token or the domain", "blocked": True, "failures": 1,
        "fingerprint": "x",
    }))
    status = admin_ddns.get("/api/ddns").get_json()["status"]
    assert status["last_error"].startswith("KO") and status["blocked"] is True and "fingerprint" not in status


def test_peer_configs_name_the_public_endpoint(app, admin_ddns, config, fake):
    resp = admin_ddns.post("/api/peers", json={"name": "phone", "public_key": PEER_KEY}, headers=csrf(admin_ddns))
    assert "Endpoint = vpn.example.org:51820" in resp.get_json()["config"]  # the host's address (config)
    wait_run(app, resp.get_json()["run_id"])
    fake.on("GET", "/update", (200, "OK"))
    resp = put(admin_ddns, {"provider": "duckdns", "hostname": "home.duckdns.org", "credentials": {"token": "t"}})
    wait_run(app, resp.get_json()["run_id"])
    again = admin_ddns.get("/api/peers/phone/config").get_json()
    assert again["endpoint"] == "home.duckdns.org"
    assert "Endpoint = home.duckdns.org:51820" in again["config"]
    assert "# PrivateKey = " in again["config"] and f"PublicKey = {PEER_KEY}" not in again["config"]
    assert again["peer"]["public_key"] == PEER_KEY  # the same key: no new one was made
    # an address the admin sets wins; "" takes it back
    resp = put(admin_ddns, {"wireguard_endpoint": "198.51.100.20"})
    wait_run(app, resp.get_json()["run_id"])
    assert "Endpoint = 198.51.100.20:51820" in admin_ddns.get("/api/peers/phone/config").get_json()["config"]
    assert state_of(config)["network"]["wireguard_endpoint"] == "198.51.100.20"
    resp = put(admin_ddns, {"wireguard_endpoint": ""})
    wait_run(app, resp.get_json()["run_id"])
    assert "wireguard_endpoint" not in state_of(config)["network"]
    assert admin_ddns.get("/api/ddns").get_json()["endpoint"] == "home.duckdns.org"


def test_wizard_checks_the_pic_ngo_name(app, client, updater_config, fake):
    fake.on("GET", "/v1/names/home", (200, {"available": False}))
    fake.on("GET", "/v1/names/free", (200, {"available": True}))
    assert client.get("/api/setup/name-available?name=home").get_json() == {
        "name": "home.pic.ngo", "available": False, "error": None}
    assert client.get("/api/setup/name-available?name=free").get_json()["available"] is True
    assert client.get("/api/setup/name-available?name=Bad_Name").status_code == 400
    # an unreachable service answers null: the wizard goes on
    data = json.loads(updater_config.ddns_config_file.read_text())
    data["urls"]["pic_ngo"] = "http://127.0.0.1:9"
    updater_config.ddns_config_file.write_text(json.dumps(data))
    body = client.get("/api/setup/name-available?name=home").get_json()
    assert body["available"] is None and "could not reach" in body["error"]


def test_name_check_needs_an_admin_after_setup(app, admin_ddns, fake):
    fake.on("GET", "/v1/names/x", (200, {"available": True}))
    assert app.test_client().get("/api/setup/name-available?name=x").status_code == 401
    assert admin_ddns.get("/api/setup/name-available?name=x").status_code == 200


def test_ddns_needs_an_admin(peer_client):
    assert peer_client.get("/api/ddns").status_code == 403


def test_dns01_is_refused_for_an_internal_cell(app, admin_ddns, config):
    before = config.state_file.read_text()
    resp = put(admin_ddns, {"acme_challenge": "dns"})
    assert resp.status_code == 400 and "own CA" in resp.get_json()["fields"]["acme_challenge"]
    assert config.state_file.read_text() == before


def test_the_state_gives_the_roles_their_ddns_and_acme_variables():
    from pic_api.core import schema

    base = {"version": 1, "cell": {"name": "home"}}
    names = schema.state_to_vars(base)
    assert (names["pic_ddns_provider"], names["pic_ddns_hostname"], names["pic_acme_challenge"]) == ("none", "", "http")
    pic_ngo = schema.state_to_vars({"version": 1, "cell": {"name": "home", "domain_mode": "pic_ngo",
                                                           "acme_challenge": "dns"}})
    assert (pic_ngo["pic_ddns_provider"], pic_ngo["pic_ddns_hostname"]) == ("pic_ngo", "home.pic.ngo")
    assert pic_ngo["pic_acme_challenge"] == "dns"
    custom = {"version": 1, "cell": {"name": "home", "domain_mode": "custom", "domain": "example.org",
                                     "acme_challenge": "dns"}, "ddns": {"provider": "noip", "hostname": "h.ddns.net"}}
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(custom)
    assert "DNS-01 needs" in err.value.fields["cell.acme_challenge"]
    custom["ddns"] = {"provider": "cloudflare", "hostname": "home.example.org"}
    assert schema.state_to_vars(custom)["pic_acme_challenge"] == "dns"
    assert schema.public_endpoint(custom) == "home.example.org"


# --- DNS-01 by CNAME delegation of _acme-challenge (providers without a TXT API) --------------------
SECRET = base64.b64encode(b"k" * 32).decode()
# refused before the server is asked (a local address all the same: tests ask no public DNS)
DELEGATION = {"server": "127.0.0.1", "port": 9, "zone": "acme.example.net", "key_name": "cell-acme",
              "algorithm": "hmac-sha512"}


@pytest.fixture
def key_server():
    """The delegation's DNS server: knows the key cell-acme. with SECRET."""
    f = FakeDns({"cell-acme.": SECRET})
    yield f
    f.close()


def delegation_at(server, **more):
    host, port = server.address.split(":")
    return {**DELEGATION, "server": host, "port": int(port), **more}


@pytest.fixture
def custom_noip(app, admin_ddns, fake):
    """A cell with its own domain published by No-IP (no TXT API of its own)."""
    fake.on("GET", "/nic/update", (200, f"good {V4}"))
    resp = admin_ddns.put("/api/settings", json={"domain_mode": "custom", "domain": "home.example.org"},
                          headers=csrf(admin_ddns))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    resp = put(admin_ddns, {"provider": "noip", "hostname": "home.example.org",
                            "credentials": {"username": "alice", "password": "right-password"}})
    wait_run(app, resp.get_json()["run_id"])
    return admin_ddns


def test_a_delegation_lets_noip_answer_dns01_and_its_secret_stays_in_the_0600_file(app, custom_noip, config,
                                                                                   key_server):
    delegation = delegation_at(key_server)
    resp = put(custom_noip, {"acme_challenge": "dns", "acme_delegation": delegation,
                             "acme_delegation_secret": SECRET})
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert "ddns" in info["tags"]
    state = state_of(config)
    assert state["ddns"]["acme_delegation"] == delegation and state["cell"]["acme_challenge"] == "dns"
    # the server was asked, with the key, whether it serves the zone
    (query,) = key_server.updates
    assert query.keyname.to_text() == "cell-acme." and query.question[0].to_text() == "acme.example.net. IN SOA"
    creds = config.ddns_credentials_file
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["acme_delegation"] == {"tsig_secret": SECRET}
    assert json.loads(creds.read_text())["noip"]["password"] == "right-password"  # the provider's are kept
    view = custom_noip.get("/api/ddns").get_json()
    assert view["settings"]["acme_delegation"] == delegation
    assert view["credentials"]["acme_delegation"] == {"tsig_secret": True}
    # the records the owner creates, one per name on the certificate (the cell runs calendar)
    assert view["acme_names"] == ["home.example.org", "calendar.home.example.org"]
    assert view["acme_cnames"] == [
        {"name": "_acme-challenge.home.example.org.", "type": "CNAME", "target": "home.example.org.acme.example.net."},
        {"name": "_acme-challenge.calendar.home.example.org.", "type": "CNAME",
         "target": "calendar.home.example.org.acme.example.net."},
    ]
    # the roles get the delegation, never the secret
    assert schema_vars(state)["pic_acme_delegation"] == delegation
    for text in [p.read_text() for p in config.state_dir.iterdir()] + [config.state_file.read_text(),
                                                                         json.dumps(view)]:
        assert SECRET not in text
    for path in config.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace")
    # a new zone alone keeps the stored secret; taking the delegation back (with DNS-01) removes it
    resp = put(custom_noip, {"acme_delegation": {**delegation, "zone": "other.example.net"}})
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert json.loads(creds.read_text())["acme_delegation"] == {"tsig_secret": SECRET}
    resp = put(custom_noip, {"acme_challenge": "http", "acme_delegation": {}})
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert "acme_delegation" not in json.loads(creds.read_text())
    assert custom_noip.get("/api/ddns").get_json()["acme_cnames"] == []


def schema_vars(state):
    from pic_api.core import schema

    return schema.state_to_vars(state)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"acme_challenge": "dns"}, "acme_challenge"),  # noip without a delegation
        ({"acme_challenge": "dns", "acme_delegation": DELEGATION}, "acme_delegation_secret"),
        ({"acme_delegation": {**DELEGATION, "key_name": "bad key"}, "acme_delegation_secret": SECRET},
         "acme_delegation.key_name"),
        ({"acme_delegation": {**DELEGATION, "algorithm": "hmac-md5"}, "acme_delegation_secret": SECRET},
         "acme_delegation.algorithm"),
        ({"acme_delegation": {**DELEGATION, "server": "ns example"}, "acme_delegation_secret": SECRET},
         "acme_delegation.server"),
        ({"acme_delegation": {**DELEGATION, "port": 0}, "acme_delegation_secret": SECRET}, "acme_delegation.port"),
        ({"acme_delegation": {"server": "ns.example.net", "key_name": "k"}, "acme_delegation_secret": SECRET},
         "acme_delegation.zone"),
        ({"acme_delegation": {**DELEGATION, "secret": SECRET}}, "acme_delegation.secret"),
        ({"acme_delegation": DELEGATION, "acme_delegation_secret": "not base64!"}, "acme_delegation_secret"),
        ({"acme_delegation_secret": SECRET}, "acme_delegation_secret"),  # a secret without a delegation
    ],
)
def test_bad_delegations_are_a_400_naming_the_field_and_change_nothing(custom_noip, config, backend, body, field):
    before, runs = config.state_file.read_text(), len(backend.runs)
    creds = config.ddns_credentials_file.read_text()
    resp = put(custom_noip, body)
    assert resp.status_code == 400, resp.get_json()
    assert field in resp.get_json()["fields"], resp.get_json()
    assert config.state_file.read_text() == before and len(backend.runs) == runs
    assert config.ddns_credentials_file.read_text() == creds


def test_a_key_the_server_refuses_is_a_400_and_changes_nothing(app, custom_noip, config, backend, key_server):
    before, runs = config.state_file.read_text(), len(backend.runs)
    creds = config.ddns_credentials_file.read_text()
    wrong = base64.b64encode(b"w" * 32).decode()
    resp = put(custom_noip, {"acme_challenge": "dns", "acme_delegation": delegation_at(key_server),
                             "acme_delegation_secret": wrong})
    assert resp.status_code == 400, resp.get_json()
    assert "refused the key" in resp.get_json()["fields"]["acme_delegation_secret"]
    assert key_server.refused  # it was asked, and said no
    assert config.state_file.read_text() == before and len(backend.runs) == runs
    assert config.ddns_credentials_file.read_text() == creds
    assert wrong not in json.dumps(resp.get_json())
