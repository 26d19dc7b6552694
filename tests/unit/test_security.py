"""The faults that would let a stranger claim the cell, or crash the API without logging in.

Each test here failed before its defence existed; docs/security.md names the faults.
"""

import json
import threading

import pytest
from conftest import SETUP, csrf, wait_run

from pic_api.managers import auth as auth_module

LOGIN = {"username": "admin", "password": SETUP["admin_password"]}


def setup_body(app, **extra):
    return {**SETUP, **code_of(app), **extra}


def code_of(app):
    """The setup code as the wizard sends it (none on a cell that has no setup code)."""
    codes = getattr(app.extensions["pic"], "setup_code", None)
    return {"setup_code": codes.current()} if codes else {}


def login(client, username="admin", password=SETUP["admin_password"]):
    return client.post("/api/auth/login", json={"username": username, "password": password})


# --- fault 1: a damaged state file must not reopen the wizard ---------------------------------
@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text(p.read_text() + "\n  stray: [line\n"),  # YAML that does not parse
        lambda p: p.write_text(p.read_text().replace("setup_completed: true", "setup_completed: nope")),  # schema
        lambda p: p.write_text(""),  # emptied
        lambda p: p.unlink(),  # removed while its versions remain
    ],
    ids=["yaml", "schema", "empty", "missing"],
)
def test_damaged_state_refuses_anonymous_setup(app, admin, config, damage):
    passwords = (config.secrets_dir / "api-passwords.json").read_text()
    damage(config.state_file)
    stranger = app.test_client()
    resp = stranger.post("/api/setup", json=setup_body(app, admin_password="the attackers pw"))
    assert resp.status_code == 503, resp.get_json()
    body = resp.get_json()
    assert "pic state check" in body["error"] and "pic state restore-version 1" in body["error"]
    assert (config.secrets_dir / "api-passwords.json").read_text() == passwords
    assert stranger.get("/api/setup/status").status_code == 503
    assert stranger.get("/api/peers").status_code == 503
    assert stranger.get("/health").get_json()["setup_completed"] is True
    assert login(stranger, password="the attackers pw").status_code == 503


def test_an_admin_account_alone_keeps_the_cell_set_up(app, admin, config):
    """Every state version gone too: the admin login that setup made still closes the wizard."""
    config.state_file.unlink()
    for path in config.state_dir.iterdir():
        path.unlink()
    resp = app.test_client().post("/api/setup", json=setup_body(app))
    assert resp.status_code in (409, 503) and resp.status_code != 202


def test_state_check_and_restore_version_repair_the_cell(app, admin, config, capsys, cli_env):
    from pic_api import cli

    assert cli.main(["state", "check"]) == 0
    assert "loads" in capsys.readouterr().out
    good = config.state_file.read_text()
    config.state_file.write_text(good + "\n  stray: [line\n")
    assert cli.main(["state", "check"]) == 1
    out = capsys.readouterr()
    assert "does not load" in out.out + out.err and "version 1" in out.out
    assert cli.main(["state", "restore-version", "7"]) == 2
    assert "7" in capsys.readouterr().err
    assert cli.main(["state", "restore-version", "1"]) == 0
    assert "version 2" in capsys.readouterr().out
    assert cli.main(["state", "check"]) == 0
    assert app.test_client().get("/api/setup/status").get_json() == {"completed": True}
    assert login(app.test_client()).status_code == 200


def test_restore_version_refuses_a_damaged_version(app, admin, config, capsys, cli_env):
    from pic_api import cli

    (config.state_dir / "cell-1.yml").write_text("setup_completed: [\n")
    before = config.state_file.read_text()
    assert cli.main(["state", "restore-version", "1"]) == 2
    assert "version 1" in capsys.readouterr().err
    assert config.state_file.read_text() == before


# --- fault 2: parallel setups, exactly one wins --------------------------------------------------
def test_parallel_setup_exactly_one_wins(app, config):
    code = code_of(app)
    n = 8
    barrier = threading.Barrier(n)
    results: dict[int, int] = {}

    def attempt(i):
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            "/api/setup", json={**SETUP, **code, "admin_password": f"password number {i}"}
        )
        results[i] = resp.status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, status in results.items() if status == 202]
    assert len(winners) == 1, results
    assert sorted(results.values()) == [202] + [409] * (n - 1), results
    assert sorted(p.name for p in config.state_dir.iterdir() if p.name.startswith("cell-")) == ["cell-1.yml"]
    stored = json.loads((config.secrets_dir / "api-passwords.json").read_text())["users"]["admin"]["hash"]
    assert [auth_module.verify_password(f"password number {i}", stored) for i in range(n)] == [
        i == winners[0] for i in range(n)
    ]
    assert login(app.test_client(), password=f"password number {winners[0]}").status_code == 200


# --- fault 4: rollback and accounts ----------------------------------------------------------
def test_rollback_removes_logins_created_after_that_version(app, admin, config):
    resp = admin.post(
        "/api/users", json={"name": "eve", "password": "eves password", "role": "admin"}, headers=csrf(admin)
    )
    assert resp.status_code == 201
    wait_run(app, resp.get_json()["run_id"])
    eve = app.test_client()
    assert login(eve, "eve", "eves password").status_code == 200
    resp = admin.post("/api/state/versions/1/rollback", headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert eve.get("/api/auth/me").status_code == 401  # her open session ended
    assert login(app.test_client(), "eve", "eves password").status_code == 401
    assert "eve" not in json.loads((config.secrets_dir / "api-passwords.json").read_text())["users"]
    assert [u["name"] for u in admin.get("/api/users").get_json()["users"]] == ["admin"]
    assert admin.get("/api/auth/me").status_code == 200  # the admin who rolled back stays in


def test_a_login_outside_the_state_is_refused(app, admin):
    """A hash in api-passwords.json alone (a leftover, or planted) gives no login: the state decides."""
    cell = app.extensions["pic"]
    cell.auth.set_password("ghost", "ghost password", "admin")
    assert login(app.test_client(), "ghost", "ghost password").status_code == 401


def test_role_comes_from_the_state(app, admin, peer_client):
    cell = app.extensions["pic"]
    cell.auth.set_password("bob", "bobs password", "admin")  # the file says admin, the state says peer
    bob = app.test_client()
    assert login(bob, "bob", "bobs password").get_json()["user"]["role"] == "peer"
    assert bob.get("/api/users").status_code == 403  # an admin endpoint: bob is a member


# --- fault 5: no unauthenticated 500 ------------------------------------------------------------
NESTED = ["[" * 1000, '{"a":' * 3000, "[" * 60000, "[" * 999 + "]" * 999]


@pytest.mark.parametrize("body", NESTED, ids=["list-1000", "object-3000", "list-60000", "closed-999"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/setup", "/api/setup/code"])
def test_deeply_nested_bodies_are_400(app, admin, path, body):
    resp = app.test_client().post(path, data=body, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:200]
    assert resp.get_json()["fields"] == {"body": resp.get_json()["fields"]["body"]}


@pytest.mark.parametrize("body", NESTED[:2], ids=["list", "object"])
def test_deeply_nested_setup_body_before_setup_is_400(client, body):
    assert client.post("/api/setup", data=body, content_type="application/json").status_code == 400


HUGE = "9" * 5000


@pytest.mark.parametrize(
    "query,field",
    [
        ("/api/runs?limit=²", "limit"),
        ("/api/runs?limit=" + HUGE, "limit"),
        ("/api/runs?limit=%EF%BC%91", "limit"),  # a full-width digit one
        ("/api/logs?limit=²", "limit"),
        ("/api/logs?limit=" + HUGE, "limit"),
    ],
)
def test_odd_numbers_in_queries_are_400(admin, query, field):
    resp = admin.get(query)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:200]
    assert field in resp.get_json()["fields"]


@pytest.mark.parametrize("value", ["²", HUGE, "-1", "1e3", "٣"])
def test_odd_event_positions_are_400(app, admin, value):
    run_id = app.extensions["pic"].runs.list(1)[0]["id"]
    resp = admin.get(f"/api/runs/{run_id}/events?after={value}")
    assert resp.status_code == 400 and "after" in resp.get_json()["fields"]
    resp = admin.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": value})
    assert resp.status_code == 400 and "after" in resp.get_json()["fields"]


def test_parallel_wrong_logins_are_checked_at_most_five_times(app, admin, monkeypatch):
    checked = []
    real = auth_module.verify_password

    def counting(password, encoded):
        checked.append(password)
        return real(password, encoded)

    monkeypatch.setattr(auth_module, "verify_password", counting)
    n = 40
    barrier = threading.Barrier(n)
    statuses = []

    def attempt(i):
        client = app.test_client()
        barrier.wait()
        statuses.append(login(client, password=f"wrong guess {i}").status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) <= 5, len(checked)
    assert statuses.count(401) == len(checked) and statuses.count(429) == n - len(checked)


def test_wrong_current_password_guesses_are_limited(app, admin):
    for _ in range(5):
        resp = admin.post(
            "/api/account/password",
            json={"current_password": "a wrong guess", "new_password": "new password 1"},
            headers=csrf(admin),
        )
        assert resp.status_code == 400 and "current_password" in resp.get_json()["fields"]
    resp = admin.post(
        "/api/account/password",
        json={"current_password": SETUP["admin_password"], "new_password": "new password 1"},
        headers=csrf(admin),
    )
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0


def test_a_flood_of_server_errors_logs_one_traceback(app, admin, config, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["pic"].peers, "list", broken)
    for _ in range(50):
        assert admin.get("/api/peers").status_code == 500
    entries = [json.loads(line) for line in config.log_file.read_text().splitlines()]
    tracebacks = [e for e in entries if "exception" in e]
    assert len(tracebacks) == 1
    assert sum(1 for e in entries if e["level"] == "ERROR") <= 2


# --- fault 3: a fresh cell is claimed only with the setup code printed on the host ---------------
def code_file(config):
    return config.secrets_dir / "setup-code"


def test_setup_code_is_made_on_first_start_0600(app, config):
    import stat

    path = code_file(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code = path.read_text().strip()
    assert len(code) == 19 and code.count("-") == 3
    assert app.extensions["pic"].setup_code.current() == code  # stable until setup


def test_setup_without_the_code_is_refused(client, config):
    resp = client.post("/api/setup", json=SETUP)
    assert resp.status_code == 400 and "setup_code" in resp.get_json()["fields"]
    assert "pic setup-code" in resp.get_json()["error"]
    resp = client.post("/api/setup", json={**SETUP, "setup_code": "AAAA-BBBB-CCCC-DDDD"})
    assert resp.status_code == 403 and resp.get_json()["fields"] == {"setup_code": "wrong setup code"}
    assert not config.state_file.exists() and not (config.secrets_dir / "api-passwords.json").exists()
    assert client.get_cookie("pic_session") is None
    assert client.get("/api/setup/status").get_json() == {"completed": False}


def test_setup_code_as_typed_by_a_person(app, client, config):
    code = code_file(config).read_text().strip()
    typed = " " + code.lower().replace("-", " ") + " "
    assert client.post("/api/setup/code", json={"setup_code": typed}).get_json() == {"valid": True}
    resp = client.post("/api/setup", json={**SETUP, "setup_code": code.replace("-", "").lower()})
    assert resp.status_code == 202
    assert not code_file(config).exists()  # spent: it opens nothing any more
    assert client.post("/api/setup/code", json={"setup_code": code}).status_code == 409


def test_wrong_setup_codes_are_rate_limited(client, config):
    for i in range(5):
        resp = client.post("/api/setup/code", json={"setup_code": f"WRNG-{i}"})
        assert resp.status_code == 403
    right = code_file(config).read_text().strip()
    for path in ("/api/setup/code", "/api/setup"):
        resp = client.post(path, json={**SETUP, "setup_code": right})
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert not config.state_file.exists()


@pytest.mark.parametrize("value", [None, 7, "", "x" * 65, ["ABCD"]])
def test_odd_setup_codes_are_4xx(client, value):
    resp = client.post("/api/setup/code", json={"setup_code": value})
    assert resp.status_code in (400, 403) and "setup_code" in resp.get_json()["fields"]


def test_cli_setup_code_and_headless_setup(config, cli_env, capsys, tmp_path):
    import yaml

    from pic_api import cli

    assert cli.main(["setup-code"]) == 0
    code = capsys.readouterr().out.strip()
    assert code == code_file(config).read_text().strip()
    assert cli.main(["setup-code"]) == 0 and capsys.readouterr().out.strip() == code
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump(SETUP))
    assert cli.main(["setup", str(answers)]) == 0  # root on the host: no code needed
    assert not code_file(config).exists()
    assert cli.main(["setup-code"]) == 1
    assert "already set up" in capsys.readouterr().err
