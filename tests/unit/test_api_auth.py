import pytest
from conftest import SETUP, csrf

LOGIN = {"username": "admin", "password": SETUP["admin_password"]}


@pytest.fixture
def fresh(app, admin):
    """An anonymous client on a set-up cell."""
    return app.test_client()


def test_login_sets_cookies(fresh):
    resp = fresh.post("/api/auth/login", json=LOGIN)
    assert resp.status_code == 200
    assert resp.get_json()["user"]["role"] == "admin"
    cookies = resp.headers.getlist("Set-Cookie")
    assert any(c.startswith("pic_session=") and "HttpOnly" in c for c in cookies)
    assert any(c.startswith("pic_csrf=") and "HttpOnly" not in c for c in cookies)
    assert fresh.get("/api/auth/me").status_code == 200


def test_login_wrong_password(fresh):
    resp = fresh.post("/api/auth/login", json={"username": "admin", "password": "wrong password"})
    assert resp.status_code == 401 and resp.get_json()["error"]
    assert fresh.get_cookie("pic_session") is None


def test_login_unknown_user(fresh):
    assert fresh.post("/api/auth/login", json={"username": "nobody", "password": "whatever1"}).status_code == 401


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "admin"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": 1, "password": "x"}, "username"),
        ({**LOGIN, "remember": True}, "remember"),
    ],
)
def test_login_bad_input(fresh, body, field):
    resp = fresh.post("/api/auth/login", json=body)
    assert resp.status_code == 400 and field in resp.get_json()["fields"]


def test_login_body_not_json(fresh):
    assert fresh.post("/api/auth/login", data="x").status_code == 400


def test_login_rate_limit_locks_out(fresh, app):
    for _ in range(5):
        assert (
            fresh.post("/api/auth/login", json={"username": "admin", "password": "wrong password"}).status_code == 401
        )
    resp = fresh.post("/api/auth/login", json=LOGIN)  # even the right password is refused now
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    other = app.test_client()  # another user from the same address is not locked by this pair
    assert other.post("/api/auth/login", json={"username": "nobody", "password": "x" * 8}).status_code == 401


def test_logout_ends_session(admin):
    assert admin.get("/api/auth/me").status_code == 200
    resp = admin.post("/api/auth/logout")
    assert resp.status_code == 200
    assert admin.get("/api/auth/me").status_code == 401


def test_logout_session_token_replay_fails(app, admin):
    token = admin.get_cookie("pic_session").value
    admin.post("/api/auth/logout")
    other = app.test_client()
    other.set_cookie("pic_session", token)
    assert other.get("/api/auth/me").status_code == 401


def test_me_unauthenticated(fresh):
    resp = fresh.get("/api/auth/me")
    assert resp.status_code == 401 and resp.get_json()["error"]


def test_forged_session_cookie(fresh):
    fresh.set_cookie("pic_session", "forged")
    assert fresh.get("/api/peers").status_code == 401


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/peers"),
        ("post", "/api/peers"),
        ("get", "/api/runs"),
        ("get", "/api/settings"),
        ("put", "/api/settings"),
        ("get", "/api/logs"),
        ("get", "/api/users"),
        ("get", "/api/state"),
        ("delete", "/api/peers/phone"),
        ("get", "/api/services"),
    ],
)
def test_unauthenticated_is_401(fresh, method, path):
    assert getattr(fresh, method)(path, json={}).status_code == 401


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/runs"),
        ("get", "/api/settings"),
        ("put", "/api/settings"),
        ("get", "/api/logs"),
        ("get", "/api/users"),
        ("post", "/api/users"),
        ("get", "/api/state"),
        ("post", "/api/runs"),
    ],
)
def test_peer_role_is_403_on_admin_endpoints(peer_client, method, path):
    resp = getattr(peer_client, method)(path, json={}, headers=csrf(peer_client))
    assert resp.status_code == 403 and "admin" in resp.get_json()["error"]


def test_peer_role_can_read_own_things(peer_client):
    assert peer_client.get("/api/auth/me").get_json()["user"]["role"] == "peer"
    assert peer_client.get("/api/services").status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "wrong"}])
def test_csrf_required_on_unsafe_methods(admin, headers):
    for method, path in (
        ("post", "/api/peers"),
        ("put", "/api/settings"),
        ("delete", "/api/peers/x"),
        ("post", "/api/runs"),
        ("post", "/api/account/password"),
    ):
        resp = getattr(admin, method)(path, json={"name": "x"}, headers=headers)
        assert resp.status_code == 403, (method, path)
        assert "X-CSRF-Token" in resp.get_json()["error"]


def test_csrf_header_must_match_cookie_of_this_session(app, admin):
    other = app.test_client()
    other.post("/api/auth/login", json=LOGIN)
    # admin's own cookie with the other session's token: refused
    resp = admin.post("/api/peers", json={"name": "x"}, headers=csrf(other))
    assert resp.status_code == 403


def test_safe_methods_need_no_csrf(admin):
    assert admin.get("/api/peers").status_code == 200


def test_password_change(app, admin):
    body = {"current_password": SETUP["admin_password"], "new_password": "a new long password"}
    resp = admin.post("/api/account/password", json=body, headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json()["run_id"]
    assert admin.get("/api/auth/me").status_code == 200  # this session stays
    other = app.test_client()
    assert other.post("/api/auth/login", json=LOGIN).status_code == 401
    assert (
        other.post("/api/auth/login", json={"username": "admin", "password": "a new long password"}).status_code == 200
    )


def test_password_change_ends_other_sessions(app, admin):
    other = app.test_client()
    assert other.post("/api/auth/login", json=LOGIN).status_code == 200
    body = {"current_password": SETUP["admin_password"], "new_password": "a new long password"}
    assert admin.post("/api/account/password", json=body, headers=csrf(admin)).status_code == 200
    assert other.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    "body,field",
    [
        ({"current_password": "wrong one", "new_password": "a new long password"}, "current_password"),
        ({"current_password": SETUP["admin_password"], "new_password": "short"}, "new_password"),
        ({"current_password": SETUP["admin_password"]}, "new_password"),
        ({"current_password": SETUP["admin_password"], "new_password": "a new long password", "x": 1}, "x"),
    ],
)
def test_password_change_bad_input(admin, body, field):
    resp = admin.post("/api/account/password", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]


def test_password_change_unauthenticated(fresh):
    assert fresh.post("/api/account/password", json={}).status_code == 401


def test_peer_can_change_own_password(peer_client):
    body = {"current_password": "bobs password", "new_password": "bobs new password"}
    assert peer_client.post("/api/account/password", json=body, headers=csrf(peer_client)).status_code == 200


def test_rate_limit_uses_the_client_address_behind_the_proxy(fresh, app):
    bad = {"username": "admin", "password": "wrong password"}
    for _ in range(5):
        fresh.post("/api/auth/login", json=bad, headers={"X-Forwarded-For": "198.51.100.7"})
    assert fresh.post("/api/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    # another client behind the same proxy is not locked out
    assert fresh.post("/api/auth/login", json=LOGIN, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200


def test_sessions_checked_while_the_state_is_saved_never_deadlock(app, admin):
    """A request's session check reads the state's users while a change saves the state (which
    prunes logins under the auth lock): the two locks must never be taken in opposite orders."""
    import threading
    import time

    pic = app.extensions["pic"]
    token = admin.get_cookie("pic_session").value
    stop = time.monotonic() + 2
    errors: list[BaseException] = []

    def check_sessions():
        try:
            while time.monotonic() < stop:
                assert pic.auth.get_session(token) is not None
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def save_states():
        try:
            while time.monotonic() < stop:
                pic.state.update(lambda state: state["cell"].update(timezone="Europe/Paris"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=f, daemon=True) for f in (check_sessions, save_states, check_sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "deadlock: the session check and the state save wait on each other"
    assert errors == []
