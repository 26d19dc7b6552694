import ipaddress
import json
import stat

import bcrypt
import pytest
import yaml
from conftest import SETUP, csrf, wait_run, with_code

from pic_api.core import addressing, schema


def test_health_before_setup(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["setup_completed"] is False


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/peers"),
        ("post", "/api/peers"),
        ("get", "/api/runs"),
        ("post", "/api/auth/login"),
        ("get", "/api/services"),
        ("get", "/api/settings"),
        ("get", "/api/auth/me"),
        ("get", "/api/ca/root.pem"),
        ("get", "/api/nonexistent"),
    ],
)
def test_every_api_path_is_428_before_setup(client, method, path):
    resp = getattr(client, method)(path, json={})
    assert resp.status_code == 428
    body = resp.get_json()
    assert body["redirect"] == "/setup" and body["error"]


def test_setup_status_and_options_before_setup(client):
    assert client.get("/api/setup/status").get_json() == {"completed": False}
    opts = client.get("/api/setup/options").get_json()
    assert "calendar" in opts["services"] and opts["domain_modes"] == ["internal", "pic_ngo", "custom"]


def test_openapi_available_before_setup(client):
    assert client.get("/api/openapi.json").status_code == 200


def test_setup_success(app, client, config, backend):
    resp = client.post("/api/setup", json=with_code(client, SETUP))
    assert resp.status_code == 202
    run_id = resp.get_json()["run_id"]
    info = wait_run(app, run_id)
    assert info["status"] == "successful"
    assert backend.runs[0]["tags"] == [] and backend.runs[0]["check"] is False  # the whole site
    # logged in: session and csrf cookies
    assert client.get_cookie("pic_session") and client.get_cookie("pic_csrf")
    assert client.get("/api/auth/me").get_json()["user"] == {
        "username": "admin",
        "role": "admin",
        "expires_at": client.get("/api/auth/me").get_json()["user"]["expires_at"],
    }
    assert client.get("/api/setup/status").get_json() == {"completed": True}
    state = yaml.safe_load(config.state_file.read_text())
    assert state["setup_completed"] is True
    assert state["cell"] == {
        "name": "home",
        "domain_mode": "internal",
        "domain": "home.cell",
        "timezone": "Europe/Berlin",
        "acme_challenge": "http",
    }
    assert state["services"] == SETUP["services"]
    admin = state["users"][0]
    assert admin["name"] == "admin" and admin["role"] == "admin"
    assert admin["services"] == ["calendar", "vpn"]  # wireguard gives vpn
    assert bcrypt.checkpw(SETUP["admin_password"].encode(), admin["password_hash"].encode())
    # the API login is a separate scrypt hash in a 0600 file; never the password itself
    pw_file = config.secrets_dir / "api-passwords.json"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.state_file.stat().st_mode) == 0o600
    text = pw_file.read_text()
    assert SETUP["admin_password"] not in text and json.loads(text)["users"]["admin"]["hash"].startswith("scrypt$")
    assert SETUP["admin_password"] not in config.state_file.read_text()


def test_setup_cookies_flags(client):
    resp = client.post("/api/setup", json=with_code(client, SETUP))
    cookies = resp.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("pic_session="))
    token = next(c for c in cookies if c.startswith("pic_csrf="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert "HttpOnly" not in token


def test_setup_custom_domain(client, config):
    body = dict(SETUP, domain_mode="custom", domain="example.org")
    assert client.post("/api/setup", json=with_code(client, body)).status_code == 202
    assert yaml.safe_load(config.state_file.read_text())["cell"]["domain"] == "example.org"


def test_setup_pic_ngo_domain(client, config):
    assert client.post("/api/setup", json=with_code(client, dict(SETUP, domain_mode="pic_ngo"))).status_code == 202
    assert yaml.safe_load(config.state_file.read_text())["cell"]["domain"] == "home.pic.ngo"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"cell_name": "Bad Name"}, "cell_name"),
        ({"cell_name": "x;rm -rf"}, "cell_name"),
        ({"cell_name": None}, "cell_name"),
        ({"domain_mode": "other"}, "domain_mode"),
        ({"domain_mode": "custom"}, "domain"),
        ({"domain_mode": "custom", "domain": "bad domain"}, "domain"),
        ({"domain_mode": "custom", "domain": "x.cell"}, "domain"),
        ({"domain": "other.cell"}, "domain"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"timezone": "Europe/Berlin\n"}, "timezone"),
        ({"admin_password": "short"}, "admin_password"),
        ({"admin_password": 12345678}, "admin_password"),
        ({"services": ["dns", "ftp"]}, "services"),
        ({"services": "dns"}, "services"),
        ({"services": ["dns", "dns"]}, "services"),
        ({"extra": 1}, "extra"),
        ({"upstream_dns": ["not-an-ip"]}, "upstream_dns[0]"),
        ({"upstream_dns": "1.1.1.1"}, "upstream_dns"),
    ],
)
def test_setup_bad_input_is_400_naming_the_field(client, config, change, field):
    resp = client.post("/api/setup", json=with_code(client, {**SETUP, **change}))
    assert resp.status_code == 400
    body = resp.get_json()
    assert field in body["fields"] and body["error"]
    assert not config.state_file.exists()
    assert not (config.secrets_dir / "api-passwords.json").exists()
    assert client.get_cookie("pic_session") is None


@pytest.mark.parametrize("field", ["cell_name", "domain_mode", "timezone", "admin_password", "services"])
def test_setup_missing_field(client, field):
    body = {k: v for k, v in SETUP.items() if k != field}
    resp = client.post("/api/setup", json=with_code(client, body))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]


@pytest.mark.parametrize("data", ["not json", "[1, 2]", "null"])
def test_setup_body_not_an_object(client, data):
    resp = client.post("/api/setup", data=data, content_type="application/json")
    assert resp.status_code == 400 and "body" in resp.get_json()["fields"]


def test_setup_twice_is_409(admin):
    resp = admin.post("/api/setup", json=SETUP)
    assert resp.status_code == 409 and resp.get_json()["error"]


def test_setup_uses_seed_file(app, client, config):
    config.seed_file.parent.mkdir(parents=True, exist_ok=True)
    config.seed_file.write_text(
        yaml.safe_dump(
            {
                "network": {
                    "lan_subnet": "192.168.7.0/24",
                    "lan_address": "192.168.7.1",
                    "dhcp_range": ["192.168.7.50", "192.168.7.99"],
                }
            }
        )
    )
    assert client.post("/api/setup", json=with_code(client, SETUP)).status_code == 202
    assert yaml.safe_load(config.state_file.read_text())["network"]["lan_subnet"] == "192.168.7.0/24"


def test_setup_picks_a_vpn_subnet_when_the_seed_names_none(app, client, config):
    """Two cells made with defaults do not collide: a /24 of addressing.VPN_POOL, clear of the LAN."""
    config.seed_file.write_text(yaml.safe_dump({"network": {"lan_subnet": "10.64.0.0/11", "lan_address": "10.64.0.1",
                                                            "dhcp_range": ["10.64.0.100", "10.64.0.200"]}}))
    assert client.post("/api/setup", json=with_code(client, SETUP)).status_code == 202
    picked = ipaddress.IPv4Network(yaml.safe_load(config.state_file.read_text())["network"]["vpn_subnet"])
    assert picked.prefixlen == 24 and picked.subnet_of(ipaddress.IPv4Network(addressing.VPN_POOL))
    assert not picked.overlaps(ipaddress.IPv4Network("10.64.0.0/11")), picked  # the LAN's half of the pool


def test_setup_keeps_the_seeds_vpn_subnet(app, client, config):
    config.seed_file.write_text(yaml.safe_dump({"network": {"vpn_subnet": "10.9.8.0/24"}}))
    assert client.post("/api/setup", json=with_code(client, SETUP)).status_code == 202
    assert yaml.safe_load(config.state_file.read_text())["network"]["vpn_subnet"] == "10.9.8.0/24"


def test_a_state_without_a_vpn_subnet_keeps_the_one_it_ran_with():
    """A state written before subnets were picked names none: loading it must not move the cell."""
    assert schema.apply_defaults({"version": schema.SCHEMA_VERSION, "cell": {"name": "home"}})["network"][
        "vpn_subnet"] == addressing.FALLBACK_VPN_SUBNET == "10.0.0.0/24"


def test_invalid_seed_file_is_ignored(client, config):
    config.seed_file.parent.mkdir(parents=True, exist_ok=True)
    config.seed_file.write_text(yaml.safe_dump({"network": {"lan_subnet": "bogus"}}))
    assert client.post("/api/setup", json=with_code(client, SETUP)).status_code == 202
    assert yaml.safe_load(config.state_file.read_text())["network"]["lan_subnet"] == "192.168.50.0/24"


def test_health_after_setup(admin):
    assert admin.get("/health").get_json()["setup_completed"] is True


def test_setup_state_written_as_version_1(app, admin, config):
    assert (config.state_dir / "cell-1.yml").is_file()
    assert admin.get("/api/state/versions").get_json()["versions"][0]["version"] == 1


def test_after_setup_unsafe_needs_csrf_but_setup_status_does_not(admin):
    assert admin.get("/api/setup/status").status_code == 200
    assert admin.post("/api/peers", json={"name": "x"}).status_code == 403
    assert admin.post("/api/peers", json={"name": "x"}, headers=csrf(admin)).status_code == 201


LAN_SEED = {
    "network": {"lan_interface": "enp1s0", "lan_subnet": "192.168.7.0/24", "lan_address": "192.168.7.23",
                "dhcp_range": ["192.168.7.100", "192.168.7.200"]},
    "services": ["dns", "ntp", "wireguard", "mail", "calendar", "files"],
    "lan_dhcp_servers": ["192.168.7.1"],
}


def test_options_show_the_lan_found_and_the_other_dhcp_server(client, config):
    config.seed_file.parent.mkdir(parents=True, exist_ok=True)
    config.seed_file.write_text(yaml.safe_dump(LAN_SEED))
    defaults = client.get("/api/setup/options").get_json()["defaults"]
    assert defaults["lan"] == LAN_SEED["network"]
    assert defaults["lan_dhcp_servers"] == ["192.168.7.1"]
    assert "dhcp" not in defaults["services"]


def test_options_without_a_seed_have_no_dhcp_server(client):
    defaults = client.get("/api/setup/options").get_json()["defaults"]
    assert defaults["lan_dhcp_servers"] == [] and defaults["lan"]["lan_subnet"] == "192.168.50.0/24"


def test_setup_keeps_the_lan_the_person_changed(client, config):
    config.seed_file.parent.mkdir(parents=True, exist_ok=True)
    config.seed_file.write_text(yaml.safe_dump(LAN_SEED))
    lan = {"lan_subnet": "10.20.0.0/16", "lan_address": "10.20.0.2", "dhcp_range": ["10.20.1.10", "10.20.1.250"]}
    assert client.post("/api/setup", json=with_code(client, {**SETUP, **lan})).status_code == 202
    net = yaml.safe_load(config.state_file.read_text())["network"]
    assert {k: net[k] for k in lan} == lan and net["lan_interface"] == "enp1s0"


@pytest.mark.parametrize(
    "lan,field",
    [
        ({"lan_subnet": "10.20.0.0/33"}, "lan_subnet"),
        ({"lan_subnet": "10.20.0.0/24"}, "lan_address"),  # the seed's address is outside it
        ({"lan_address": "192.168.8.1"}, "lan_address"),
        ({"dhcp_range": ["192.168.7.10"]}, "dhcp_range"),
        ({"dhcp_range": ["192.168.7.10", "x"]}, "dhcp_range[1]"),
        ({"dhcp_range": ["192.168.8.10", "192.168.8.20"]}, "dhcp_range"),
        ({"lan_interface": "eth0; reboot"}, "lan_interface"),
    ],
)
def test_setup_refuses_a_bad_lan_naming_the_field(client, config, lan, field):
    config.seed_file.parent.mkdir(parents=True, exist_ok=True)
    config.seed_file.write_text(yaml.safe_dump(LAN_SEED))
    resp = client.post("/api/setup", json=with_code(client, {**SETUP, **lan}))
    assert resp.status_code == 400
    assert field in resp.get_json()["fields"], resp.get_json()
    assert not config.state_file.exists()
