"""People of the cell: the Users endpoints (admin), the Account endpoints (everyone) and what a member
may reach, walked over every operation of the OpenAPI document."""

import re

import bcrypt
import pytest
from conftest import SETUP, csrf, wait_run

ADMIN_LOGIN = {"username": "admin", "password": SETUP["admin_password"]}


def users(client):
    return {u["name"]: u for u in client.get("/api/users").get_json()["users"]}


def state_user(app, name):
    return next(u for u in app.extensions["pic"].state.load()["users"] if u["name"] == name)


def state_version(app):
    return app.extensions["pic"].state.current_version()


def login(app, username, password):
    c = app.test_client()
    resp = c.post("/api/auth/login", json={"username": username, "password": password})
    return c, resp


# -- Users (admin) --------------------------------------------------------------------------------


def test_a_new_user_may_use_every_service_and_the_admin_those_the_cell_runs(admin, peer_client):
    listed = users(admin)
    assert listed["bob"]["services"] == ["mail", "calendar", "files", "vpn"]
    # the wizard's services were wireguard and calendar (no mail, no files)
    assert listed["admin"]["services"] == ["calendar", "vpn"]


def test_admin_changes_role_and_services(app, admin, peer_client):
    resp = admin.patch("/api/users/bob", json={"services": ["calendar"]}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["user"]["services"] == ["calendar"]
    wait_run(app, resp.get_json()["run_id"])
    assert state_user(app, "bob")["services"] == ["calendar"]
    # services alone leave bob logged in; a new role ends his sessions, his next login carries it
    assert peer_client.get("/api/auth/me").status_code == 200
    resp = admin.patch("/api/users/bob", json={"role": "admin"}, headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json()["user"]["role"] == "admin"
    assert peer_client.get("/api/auth/me").status_code == 401
    bob, resp = login(app, "bob", "bobs password")
    assert resp.get_json()["user"]["role"] == "admin"
    assert bob.get("/api/users").status_code == 200


@pytest.mark.parametrize(
    "body,field",
    [
        ({"role": "owner"}, "role"),
        ({"services": ["mail", "web"]}, "services[1]"),
        ({"services": ["mail", "mail"]}, "services"),
        ({"services": "mail"}, "services"),
        ({}, ""),  # the body as a whole: nothing to change
        ({"role": "peer", "name": "robert"}, "name"),
    ],
)
def test_a_bad_user_change_is_400_naming_the_field_and_changes_nothing(app, admin, peer_client, body, field):
    before = state_version(app)
    resp = admin.patch("/api/users/bob", json=body, headers=csrf(admin))
    assert resp.status_code == 400, resp.get_json()
    assert field in resp.get_json()["fields"], resp.get_json()
    assert state_version(app) == before
    assert state_user(app, "bob")["services"] == ["mail", "calendar", "files", "vpn"]


def test_no_user_is_404_and_ones_own_role_is_409(app, admin):
    assert admin.patch("/api/users/nobody", json={"role": "peer"}, headers=csrf(admin)).status_code == 404
    resp = admin.patch("/api/users/admin", json={"role": "peer"}, headers=csrf(admin))
    assert resp.status_code == 409 and "role" in resp.get_json()["fields"]
    assert state_user(app, "admin")["role"] == "admin"
    # one's own services may change
    assert admin.patch("/api/users/admin", json={"services": ["vpn"]}, headers=csrf(admin)).status_code == 200


def test_admin_resets_a_password(app, admin, peer_client):
    old_hash = state_user(app, "bob")["password_hash"]
    resp = admin.post("/api/users/bob/password", json={"password": "a new one for bob"}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    # the service password (bcrypt in the state) and the API login both changed; bob's sessions ended
    new_hash = state_user(app, "bob")["password_hash"]
    assert new_hash != old_hash and bcrypt.checkpw(b"a new one for bob", new_hash.encode())
    assert peer_client.get("/api/auth/me").status_code == 401
    assert login(app, "bob", "bobs password")[1].status_code == 401
    assert login(app, "bob", "a new one for bob")[1].status_code == 200


def test_a_bad_password_reset_is_400_and_ones_own_is_409(app, admin, peer_client):
    before = state_version(app)
    resp = admin.post("/api/users/bob/password", json={"password": "short"}, headers=csrf(admin))
    assert resp.status_code == 400 and "password" in resp.get_json()["fields"]
    assert admin.post("/api/users/bob/password", json={}, headers=csrf(admin)).status_code == 400
    resp = admin.post("/api/users/nobody/password", json={"password": "long enough pw"}, headers=csrf(admin))
    assert resp.status_code == 404
    resp = admin.post("/api/users/admin/password", json={"password": "long enough pw"}, headers=csrf(admin))
    assert resp.status_code == 409 and "Account" in resp.get_json()["error"]
    assert state_version(app) == before
    assert login(app, "bob", "bobs password")[1].status_code == 200


# -- Account (everyone) ---------------------------------------------------------------------------


def test_sessions_are_listed_and_ended(app, admin):
    second, _ = login(app, "admin", SETUP["admin_password"])
    third, _ = login(app, "admin", SETUP["admin_password"])
    listed = admin.get("/api/account/sessions").get_json()["sessions"]
    assert len(listed) == 3 and [s["current"] for s in listed].count(True) == 1
    assert all(re.fullmatch(r"[0-9a-f]{16}", s["id"]) and s["expires_at"] > s["created_at"] for s in listed)
    # no token is shown: the ids are not the session cookies
    tokens = {c.get_cookie("pic_session").value for c in (admin, second, third)}
    assert not tokens & {s["id"] for s in listed}
    mine = next(s["id"] for s in second.get("/api/account/sessions").get_json()["sessions"] if s["current"])
    resp = admin.delete(f"/api/account/sessions/{mine}", headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json() == {"ended": 1}
    assert second.get("/api/auth/me").status_code == 401
    assert admin.delete(f"/api/account/sessions/{mine}", headers=csrf(admin)).status_code == 404
    resp = admin.delete("/api/account/sessions", headers=csrf(admin))
    assert resp.get_json() == {"ended": 1}
    assert third.get("/api/auth/me").status_code == 401
    assert admin.get("/api/auth/me").status_code == 200
    assert len(admin.get("/api/account/sessions").get_json()["sessions"]) == 1


def test_a_session_says_where_and_with_what_it_logged_in(app, admin):
    phone = app.test_client()
    resp = phone.post(
        "/api/auth/login", json=ADMIN_LOGIN, headers={"User-Agent": "Phone Browser 1.0"},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert resp.status_code == 200
    listed = admin.get("/api/account/sessions").get_json()["sessions"]
    other = next(s for s in listed if not s["current"])
    assert (other["remote"], other["agent"]) == ("10.0.0.7", "Phone Browser 1.0")
    # the wizard's session (the admin fixture's) is listed too, with the test client's address
    assert next(s for s in listed if s["current"])["remote"] == "127.0.0.1"


def test_another_persons_session_is_not_found(app, admin, peer_client):
    bobs = peer_client.get("/api/account/sessions").get_json()["sessions"]
    assert len(bobs) == 1
    resp = admin.delete(f"/api/account/sessions/{bobs[0]['id']}", headers=csrf(admin))
    assert resp.status_code == 404
    assert peer_client.get("/api/auth/me").status_code == 200


def test_a_member_changes_their_own_password(app, peer_client):
    body = {"current_password": "bobs password", "new_password": "bobs better password"}
    resp = peer_client.post("/api/account/password", json=body, headers=csrf(peer_client))
    assert resp.status_code == 200
    assert peer_client.get("/api/auth/me").status_code == 200  # this session stays
    assert login(app, "bob", "bobs better password")[1].status_code == 200


def test_the_member_sees_the_settings_of_their_services(app, admin, peer_client):
    # the cell runs calendar and wireguard: bob may use all four, so those two are his
    got = peer_client.get("/api/account/services").get_json()
    assert got["services"] == ["calendar", "vpn"] and got["domain"] == "home.cell"
    assert got["calendar"] == {
        "caldav_url": "https://calendar.home.cell/bob/",
        "carddav_url": "https://calendar.home.cell/bob/",
        "login": "bob",
    }
    assert "mail" not in got and "files" not in got
    settings = admin.put("/api/settings", json={"services": [*SETUP["services"], "mail", "files"]}, headers=csrf(admin))
    assert settings.status_code == 202, settings.get_json()
    got = peer_client.get("/api/account/services").get_json()
    assert got["mail"]["imap"] == {"host": "mail.home.cell", "port": 993, "security": "SSL/TLS"}
    assert got["mail"]["smtp"] == {"host": "mail.home.cell", "port": 587, "security": "STARTTLS"}
    assert got["mail"]["address"] == "bob@home.cell"
    assert got["files"]["webdav_url"] == "https://files.home.cell/bob/"
    admin.patch("/api/users/bob", json={"services": ["files"]}, headers=csrf(admin))
    assert peer_client.get("/api/account/services").get_json()["services"] == ["files"]


# -- The member's reach: every operation of the document --------------------------------------------

# What a member may call: the public operations and those of any logged-in person. Every other
# operation of the OpenAPI document must answer a member 403.
MEMBER_MAY = {
    ("get", "/health"),
    ("get", "/api/openapi.json"),
    ("get", "/api/ca/root.pem"),
    ("get", "/api/ca/crl.pem"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("post", "/api/account/password"),
    ("get", "/api/account/sessions"),
    ("delete", "/api/account/sessions"),
    ("delete", "/api/account/sessions/{session_id}"),
    ("get", "/api/account/services"),
    ("get", "/api/services"),
    # devices: a member's own (test_api_peers.py)
    ("get", "/api/peers"),
    ("post", "/api/peers"),
    ("get", "/api/peers/{name}"),
    ("patch", "/api/peers/{name}"),
    ("delete", "/api/peers/{name}"),
    ("get", "/api/peers/{name}/config"),
    ("post", "/api/peers/{name}/keys"),
    # their own devices' handshakes and transfer, no interface facts (test_wireguard_status.py)
    ("get", "/api/wireguard/status"),
    # their own calendars and address books (test_calendars.py)
    ("get", "/api/calendars"),
    ("post", "/api/calendars"),
    # peer-sync: no session at all; a linked cell's tunnel address and signature (test_peer_sync.py)
    ("post", "/api/cells/peer-sync/share"),
    ("post", "/api/cells/peer-sync/remove"),
}


def operations(client):
    doc = client.get("/api/openapi.json").get_json()
    return [(method, path) for path, ops in doc["paths"].items() for method in ops]


def test_a_member_gets_403_from_every_admin_operation(app, admin, peer_client):
    ops = operations(peer_client)
    assert len(ops) >= 60
    admin_ops = [
        (m, p) for m, p in ops
        if (m, p) not in MEMBER_MAY and not p.startswith("/api/setup")  # the wizard's: public, closed after setup
    ]
    before = state_version(app)
    for method, path in admin_ops:
        url = re.sub(r"{[a-z_]+}", "1", path)  # "1" fits every path parameter, number or name
        resp = getattr(peer_client, method)(url, json={}, headers=csrf(peer_client))
        assert resp.status_code == 403, (method, path, resp.status_code)
        assert "admin" in resp.get_json()["error"], (method, path)
    assert state_version(app) == before
    # the same operations are open to the admin's session (not refused for its role)
    for method, path in admin_ops:
        url = re.sub(r"{[a-z_]+}", "1", path)  # "1" fits every path parameter, number or name
        if method == "get" and not path.endswith("/events"):
            assert admin.get(url).status_code != 403, path


def test_what_a_member_may_call_is_what_the_document_says(peer_client):
    doc = peer_client.get("/api/openapi.json").get_json()
    open_to_members = {
        (m, p)
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
        if op["x-access"] != "admin" and not p.startswith("/api/setup")
    }
    assert open_to_members == MEMBER_MAY


# -- Mail addresses: aliases and the catch-all ------------------------------------------------------


def add_user(app, admin, name, services):
    resp = admin.post("/api/users", json={"name": name, "password": f"{name}s password", "services": services},
                      headers=csrf(admin))
    assert resp.status_code == 201, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])


def test_aliases_and_the_catch_all_reach_the_state_the_list_and_the_mail_role(app, admin, peer_client):
    resp = admin.patch("/api/users/bob", json={"mail_aliases": ["robert", "info.desk"], "mail_catch_all": True},
                       headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["user"]["mail_aliases"] == ["robert", "info.desk"]
    wait_run(app, resp.get_json()["run_id"])
    assert state_user(app, "bob")["mail_aliases"] == ["robert", "info.desk"]
    assert users(admin)["bob"]["mail_catch_all"] is True
    assert users(admin)["admin"]["mail_aliases"] == [] and users(admin)["admin"]["mail_catch_all"] is False
    from pic_api.core import schema

    bob = next(u for u in schema.state_to_vars(app.extensions["pic"].state.load())["pic_users"] if u["name"] == "bob")
    assert bob["mail_aliases"] == ["robert", "info.desk"] and bob["mail_catch_all"] is True
    # taking them away again
    resp = admin.patch("/api/users/bob", json={"mail_aliases": [], "mail_catch_all": False}, headers=csrf(admin))
    assert resp.status_code == 200 and state_user(app, "bob")["mail_aliases"] == []


@pytest.mark.parametrize(
    "who,body,field,says",
    [
        ("bob", {"mail_aliases": ["Info Desk"]}, "mail_aliases[0]", "before the @"),
        ("bob", {"mail_aliases": ["info..desk"]}, "mail_aliases[0]", "before the @"),
        ("bob", {"mail_aliases": ["info", "info"]}, "mail_aliases", ""),
        ("bob", {"mail_aliases": ["admin"]}, "mail_aliases[0]", "the address of the user admin"),
        ("bob", {"mail_aliases": ["bob"]}, "mail_aliases[0]", "the address of the user bob"),
        ("bob", {"mail_aliases": ["postmaster"]}, "mail_aliases[0]", "kept for the postmaster"),
        ("bob", {"mail_aliases": ["sales"]}, "mail_aliases[0]", "already an alias of carol"),
        ("bob", {"mail_catch_all": True}, "mail_catch_all", "already goes to carol"),
        ("bob", {"mail_catch_all": "yes"}, "mail_catch_all", ""),
        ("admin", {"mail_aliases": ["boss"]}, "mail_aliases", "has no mailbox"),
        ("admin", {"mail_catch_all": True}, "mail_catch_all", "has no mailbox"),
        ("carol", {"services": ["calendar"]}, "mail_aliases", "has no mailbox"),
    ],
)
def test_a_bad_mail_address_is_400_naming_the_field_and_changes_nothing(app, admin, peer_client, who, body,
                                                                        field, says):
    add_user(app, admin, "carol", ["mail"])
    resp = admin.patch("/api/users/carol", json={"mail_aliases": ["sales"], "mail_catch_all": True},
                       headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    before = state_version(app)
    resp = admin.patch(f"/api/users/{who}", json=body, headers=csrf(admin))
    assert resp.status_code == 400, resp.get_json()
    assert says in resp.get_json()["fields"].get(field, ""), resp.get_json()
    assert state_version(app) == before


def test_a_new_user_may_come_with_aliases(app, admin):
    resp = admin.post("/api/users", json={"name": "dave", "password": "daves password", "services": ["mail"],
                                          "mail_aliases": ["d"]}, headers=csrf(admin))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["user"]["mail_aliases"] == ["d"]
    resp = admin.post("/api/users", json={"name": "erin", "password": "erins password", "services": ["mail"],
                                          "mail_aliases": ["d"]}, headers=csrf(admin))
    assert resp.status_code == 400 and "already an alias of dave" in resp.get_json()["fields"]["mail_aliases[0]"]


def test_the_role_addresses_are_the_mail_roles():
    import yaml
    from conftest import ROOT

    from pic_api.core import schema

    defaults = yaml.safe_load((ROOT / "roles/mailserver/defaults/main.yml").read_text())
    assert tuple(defaults["mailserver_role_addresses"]) == schema.MAIL_ROLE_ADDRESSES


def test_a_new_user_named_like_an_alias_is_refused_at_the_name(app, admin):
    resp = admin.post("/api/users", json={"name": "dave", "password": "daves password", "services": ["mail"],
                                          "mail_aliases": ["sales"]}, headers=csrf(admin))
    assert resp.status_code == 201, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    resp = admin.post("/api/users", json={"name": "sales", "password": "sales password"}, headers=csrf(admin))
    assert resp.status_code == 400
    assert resp.get_json()["fields"]["name"] == "'sales' is an alias of dave", resp.get_json()
