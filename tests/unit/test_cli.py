import io
import json

import yaml
from conftest import SETUP

from pic_api import cli


def answers_file(tmp_path, **extra):
    path = tmp_path / "answers.yml"
    path.write_text(yaml.safe_dump({**SETUP, **extra}))
    return str(path)


def test_headless_setup_then_status(cli_env, tmp_path, capsys):
    assert cli.main(["status"]) == 0
    assert "NOT done" in capsys.readouterr().out
    assert cli.main(["setup", answers_file(tmp_path)]) == 0
    assert yaml.safe_load(cli_env.state_file.read_text())["setup_completed"] is True
    assert cli.main(["status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["setup_completed"] is True and info["cell"] == "home" and info["state_version"] == 1
    # a second run changes nothing
    before = cli_env.state_file.read_text()
    assert cli.main(["setup", answers_file(tmp_path, cell_name="other")]) == 0
    assert cli_env.state_file.read_text() == before


def test_headless_setup_password_file(cli_env, tmp_path, app):
    pw = tmp_path / "pw"
    pw.write_text("from a file 123\n")
    answers = {k: v for k, v in SETUP.items() if k != "admin_password"}
    path = tmp_path / "a.yml"
    path.write_text(yaml.safe_dump({**answers, "admin_password_file": str(pw)}))
    assert cli.main(["setup", str(path)]) == 0
    client = app.test_client()
    assert client.post("/api/auth/login", json={"username": "admin", "password": "from a file 123"}).status_code == 200


def test_headless_setup_bad_answers(cli_env, tmp_path, capsys):
    assert cli.main(["setup", answers_file(tmp_path, cell_name="Bad!")]) == 2
    assert "cell_name" in capsys.readouterr().err
    assert not cli_env.state_file.exists()


def test_list_peers(cli_env, tmp_path, capsys, app):
    assert cli.main(["list-peers"]) == 0
    assert "No peers" in capsys.readouterr().out
    cli.main(["setup", answers_file(tmp_path)])
    app.extensions["pic"].peers.add({"name": "phone"})
    capsys.readouterr()
    assert cli.main(["list-peers"]) == 0
    out = capsys.readouterr().out
    assert "phone" in out and "10.0.0.2" in out
    assert cli.main(["list-peers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "phone"


def test_reset_admin_password_ends_sessions(cli_env, tmp_path, app, monkeypatch):
    cli.main(["setup", answers_file(tmp_path)])
    client = app.test_client()
    assert (
        client.post("/api/auth/login", json={"username": "admin", "password": SETUP["admin_password"]}).status_code
        == 200
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("brand new password\n"))
    assert cli.main(["reset-admin-password", "--password-stdin"]) == 0
    assert client.get("/api/auth/me").status_code == 401  # the running API drops the old session
    assert (
        client.post("/api/auth/login", json={"username": "admin", "password": "brand new password"}).status_code == 200
    )


def test_reset_password_refuses_short_and_unknown(cli_env, tmp_path, monkeypatch, capsys):
    cli.main(["setup", answers_file(tmp_path)])
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["reset-admin-password", "--password-stdin"]) == 2
    assert "password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough pw\n"))
    assert cli.main(["reset-admin-password", "--username", "ghost", "--password-stdin"]) == 2


def test_missing_answers_file(cli_env, capsys):
    assert cli.main(["setup", "/nonexistent/answers.yml"]) == 1
    assert "No such file" in capsys.readouterr().err
