"""Behind Caddy: the login cookies are Secure when the request came over HTTPS, which the API learns
from X-Forwarded-Proto, believed only from the loopback (Caddy on the cell replaces what a client
sends). HSTS is Caddy's (one header for the UI's files and the API alike, tests/unit/test_caddy_templates.py)."""

import pytest
from conftest import SETUP

from pic_api.app import create_app

LOGIN = {"username": "admin", "password": SETUP["admin_password"]}
HTTPS = {"X-Forwarded-Proto": "https"}
STRANGER = {"REMOTE_ADDR": "192.0.2.7"}  # a peer that is not Caddy on the loopback


@pytest.fixture
def fresh(app, admin):
    return app.test_client()


def login_cookies(client, headers=None, environ=None) -> dict[str, str]:
    resp = client.post("/api/auth/login", json=LOGIN, headers=headers or {}, environ_base=environ or {})
    assert resp.status_code == 200, resp.get_json()
    return {c.split("=", 1)[0]: c for c in resp.headers.getlist("Set-Cookie")}


def test_login_over_https_sets_secure_cookies(fresh):
    cookies = login_cookies(fresh, HTTPS)
    assert "; Secure" in cookies["pic_session"] and "; Secure" in cookies["pic_csrf"]
    assert "HttpOnly" in cookies["pic_session"] and "SameSite=Strict" in cookies["pic_session"]


def test_login_over_plain_http_sets_no_secure_cookie(fresh):
    # Plain HTTP reaches the API only before setup (the wizard on :8081): a Secure cookie would not
    # come back over it.
    cookies = login_cookies(fresh)
    assert "Secure" not in cookies["pic_session"] and "Secure" not in cookies["pic_csrf"]


def test_forwarded_proto_from_anyone_but_the_loopback_is_ignored(fresh):
    cookies = login_cookies(fresh, HTTPS, STRANGER)
    assert "Secure" not in cookies["pic_session"]


def test_forwarded_for_from_anyone_but_the_loopback_cannot_dodge_the_login_limit(fresh):
    """A client that is not Caddy cannot claim another address with each guess: all count as its own."""
    wrong = {"username": "admin", "password": "wrong password"}
    for i in range(5):
        resp = fresh.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": f"198.51.100.{i}"},
                          environ_base=STRANGER)
        assert resp.status_code == 401
    resp = fresh.post("/api/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.99"},
                      environ_base=STRANGER)
    assert resp.status_code == 429


def test_forwarded_for_from_caddy_is_the_client_address(fresh):
    """From the loopback the header is Caddy's: clients behind it are told apart, so one client's
    wrong guesses do not lock out another."""
    wrong = {"username": "admin", "password": "wrong password"}
    for _ in range(5):
        assert fresh.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 401
    assert fresh.post("/api/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert fresh.post("/api/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200


def test_logout_over_https_clears_the_secure_cookies(fresh):
    login_cookies(fresh, HTTPS)
    resp = fresh.post("/api/auth/logout", json={}, headers=HTTPS)
    cleared = {c.split("=", 1)[0]: c for c in resp.headers.getlist("Set-Cookie")}
    for name in ("pic_session", "pic_csrf"):
        assert "Max-Age=0" in cleared[name] and "; Secure" in cleared[name], cleared[name]


def test_the_config_can_force_secure_cookies(config, backend):
    """cookie_secure: true marks them Secure also on plain HTTP (a TLS proxy that does not say so)."""
    config.cookie_secure = True
    app = create_app(config, backend=backend, start_threads=False)
    app.testing = True
    client = app.test_client()
    resp = client.post("/api/setup", json={**SETUP, "setup_code": app.extensions["pic"].setup_code.current()})
    assert resp.status_code == 202
    cookies = {c.split("=", 1)[0]: c for c in resp.headers.getlist("Set-Cookie")}
    assert "; Secure" in cookies["pic_session"]


def test_setup_says_where_the_ui_answers_after_its_run(client):
    """The wizard leads the person there: the cell's name, then its LAN address."""
    body = {**SETUP, "lan_subnet": "192.168.7.0/24", "lan_address": "192.168.7.2",
            "dhcp_range": ["192.168.7.100", "192.168.7.200"],
            "setup_code": client.application.extensions["pic"].setup_code.current()}
    resp = client.post("/api/setup", json=body)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["https"] == [f"https://{SETUP['cell_name']}.cell/", "https://192.168.7.2/"]


def test_a_session_opened_over_plain_http_is_not_taken_over_https(client):
    """The wizard's session (its cookie crossed the network in the clear) does not open the UI on
    HTTPS: there the person logs in again and gets Secure cookies."""
    code = client.application.extensions["pic"].setup_code.current()
    assert client.post("/api/setup", json={**SETUP, "setup_code": code}).status_code == 202
    assert client.get("/api/auth/me").status_code == 200  # plain HTTP: the wizard's own session
    assert client.get("/api/auth/me", headers=HTTPS).status_code == 401
    login_cookies(client, HTTPS)
    me = client.get("/api/auth/me", headers=HTTPS)
    assert me.status_code == 200 and me.get_json()["user"]["username"] == "admin"
