"""The management commands of `pic`: backup, restore, logs, show-routes, reset-admin-password, update,
uninstall (and that `pic --help` lists them). Backups use the real borg on a local repository."""

from __future__ import annotations

import functools
import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import SETUP

from pic_api import cli
from pic_api.managers import uninstall

COMMANDS = ["status", "logs", "backup", "restore", "list-peers", "show-routes", "reset-admin-password", "update",
            "uninstall"]


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.yml"
    path.write_text(yaml.safe_dump({**SETUP, "services": ["dns", "wireguard", "calendar", "files"]}))
    return str(path)


@pytest.fixture
def backup_env(cli_env, tmp_path, monkeypatch, answers):
    """A set-up test cell whose backup configuration (as the backup role writes it) names a local
    repository and the cell's files, with no unit to quiesce (this machine's systemd is not PID 1)."""
    data = tmp_path / "data"
    files = {data / "files/admin/notes.txt": "kept safe\n", data / "radicale/admin/e1.ics": "BEGIN:VCALENDAR\n"}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config = {
        "repository": str(tmp_path / "disk/repo"),
        "passphrase_file": str(tmp_path / "secrets/passphrase"),
        "ssh_key_file": str(tmp_path / "secrets/ssh_key"),
        "known_hosts_file": str(tmp_path / "secrets/known_hosts"),
        "borg_dir": str(tmp_path / "backup/borg"),
        "status_file": str(tmp_path / "backup/status.json"),
        "marker_file": str(tmp_path / "backup/repository"),
        "prefix": "pic",
        "compression": "lz4",
        "keep": {"daily": 7, "weekly": 4, "monthly": 6},
        "state_paths": [str(p) for p in (cli_env.state_file, cli_env.state_dir,
                                         cli_env.secrets_dir / "api-passwords.json")],
        "data_paths": [str(data)],
        "exclude": [],
        "quiesce_units": [],
    }
    (tmp_path / "backup.yml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("PIC_BACKUP_CONFIG_FILE", str(tmp_path / "backup.yml"))
    monkeypatch.setenv("PIC_RUNNER", "none")
    assert cli.main(["setup", answers]) == 0
    return {"config": config, "files": files}


def test_help_lists_every_management_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command} " in out or f"    {command}\n" in out, command


def test_backup_run_list_status_key_and_confirm(backup_env, capsys):
    assert cli.main(["backup", "init"]) == 0
    assert "was initialised" in capsys.readouterr().out
    assert cli.main(["backup", "init"]) == 0
    assert "is ready" in capsys.readouterr().out
    assert cli.main(["backup"]) == 0  # `pic backup` alone runs one
    out = capsys.readouterr().out
    assert out.startswith("Backup pic-") and backup_env["config"]["repository"] in out
    assert cli.main(["backup", "list", "--json"]) == 0
    archives = json.loads(capsys.readouterr().out)
    assert len(archives) == 1 and archives[0]["name"].startswith("pic-")
    assert cli.main(["backup", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last"]["ok"] is True and status["initialised"] is True and status["key_confirmed"] is False
    assert cli.main(["backup", "status"]) == 0
    assert "WARNING: the passphrase has not been confirmed saved" in capsys.readouterr().out
    assert cli.main(["status"]) == 0
    assert "NOT confirmed saved" in capsys.readouterr().out
    passphrase = Path(backup_env["config"]["passphrase_file"]).read_text().strip()
    assert cli.main(["backup", "key"]) == 0
    out = capsys.readouterr().out
    assert f"Passphrase: {passphrase}" in out and "BORG_KEY " in out
    assert cli.main(["backup", "confirm-key"]) == 0
    assert cli.main(["backup", "status"]) == 0
    assert "WARNING" not in capsys.readouterr().out
    assert cli.main(["backup", "check"]) == 0
    assert "consistent" in capsys.readouterr().out


def test_backup_set_saves_and_says_how_to_converge(backup_env, cli_env, capsys):
    assert cli.main(["backup", "set", "--repository", "/mnt/other-disk/pic", "--schedule", "weekly"]) == 0
    out = capsys.readouterr().out
    assert "ansible-playbook site.yml --tags backup" in out  # no agent here to converge it
    saved = yaml.safe_load(cli_env.state_file.read_text())["backup"]
    assert saved["repository"] == "/mnt/other-disk/pic" and saved["schedule"] == "weekly"
    before = cli_env.state_file.read_text()
    assert cli.main(["backup", "set", "--repository", "relative/path", "--keep-daily", "-1"]) == 2
    err = capsys.readouterr().err
    assert "repository:" in err and "keep_daily:" in err
    assert cli_env.state_file.read_text() == before


def test_backup_without_a_configuration_says_what_to_do(cli_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PIC_BACKUP_CONFIG_FILE", str(tmp_path / "none.yml"))
    assert cli.main(["backup"]) == 2
    assert "converge the backup role" in capsys.readouterr().err


def healthy(monkeypatch):
    """Every unit active and port open: this machine runs none of the cell's services."""
    real = cli.HealthMonitor
    monkeypatch.setattr(cli, "HealthMonitor", lambda *a, **k: real(*a, unit_check=lambda u: True,
                                                                    port_check=lambda p: True, interval=0))


def test_restore_refuses_a_wrong_passphrase_then_restores(backup_env, cli_env, tmp_path, capsys, monkeypatch):
    assert cli.main(["backup"]) == 0
    passphrase = Path(backup_env["config"]["passphrase_file"]).read_text()
    saved = {p: p.read_bytes() for p in [cli_env.state_file, *backup_env["files"]]}
    # the disk died: the state, the versions, the logins, the data are gone
    for p in [cli_env.state_file, *backup_env["files"], cli_env.secrets_dir / "api-passwords.json"]:
        p.unlink()
    for p in cli_env.state_dir.iterdir():
        p.unlink()
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-passphrase\n")
    gone = sorted(str(p) for p in tmp_path.rglob("*"))
    repo = backup_env["config"]["repository"]
    assert cli.main(["restore", repo, "--passphrase-file", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "wrong passphrase" in err and "passphrase:" in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == gone  # nothing changed
    healthy(monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(passphrase))
    assert cli.main(["restore", repo, "--passphrase-file", "-"]) == 0
    out = capsys.readouterr().out
    assert "open: opening" in out and "data: putting" in out and "every enabled service is healthy" in out
    for path, content in saved.items():
        assert path.read_bytes() == content, path
    assert cli.main(["status"]) == 0
    assert "Cell home" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(passphrase))
    assert cli.main(["restore", repo, "--passphrase-file", "-"]) == 2  # set up now: not without --force
    assert "--force" in capsys.readouterr().err


def test_reset_admin_password_generates_and_prints_one(cli_env, answers, app, capsys):
    assert cli.main(["setup", answers]) == 0
    capsys.readouterr()
    assert cli.main(["reset-admin-password"]) == 0
    out = capsys.readouterr().out
    password = out.split("New password of admin: ", 1)[1].split()[0]
    assert len(password) == 23 and password.count("-") == 3
    client = app.test_client()
    assert client.post("/api/auth/login", json={"username": "admin", "password": password}).status_code == 200
    assert client.post("/api/auth/login", json={"username": "admin", "password": SETUP["admin_password"]}
                       ).status_code == 401


@pytest.fixture
def execs(monkeypatch):
    seen = []
    monkeypatch.setattr(os, "execvp", lambda file, argv: seen.append(argv))
    return seen


def test_logs_of_a_service_its_units_and_follow(cli_env, execs, capsys):
    assert cli.main(["logs", "mail", "--follow"]) == 0
    assert execs[-1] == ["journalctl", "--no-pager", "-n", "100", "-u", "postfix", "-u", "dovecot", "-u", "php8.2-fpm",
                          "--follow"]
    assert cli.main(["logs", "backup", "-n", "20"]) == 0
    assert execs[-1] == ["journalctl", "--no-pager", "-n", "20", "-u", "pic-backup"]
    assert cli.main(["logs", "caddy"]) == 0
    assert execs[-1][-2:] == ["-u", "caddy"]
    assert cli.main(["logs"]) == 0
    units = execs[-1][5::2]
    assert {"pic-api", "pic-agent", "dnsmasq", "dovecot", "pic-backup"} <= set(units)
    assert cli.main(["logs", "sshd; reboot"]) == 2
    assert "no service or unit" in capsys.readouterr().err
    assert len(execs) == 4


def test_show_routes_names_each_full_route_peers_exit(cli_env, answers, app, capsys):
    assert cli.main(["setup", answers]) == 0
    app.extensions["pic"].peers.add({"name": "phone", "route": "full"})
    app.extensions["pic"].peers.add({"name": "laptop"})
    capsys.readouterr()
    assert cli.main(["show-routes"]) == 0
    out = capsys.readouterr().out
    for section in ("== WireGuard (wg show)", "== routing rules (ip rule show)", "== main table", "== exits"):
        assert section in out
    assert "phone (10.0.0.2): all traffic exits through this cell's" in out
    assert "laptop" not in out.split("== exits", 1)[1]


def test_update_converges_from_the_checkout(cli_env, tmp_path, capsys):
    assert cli.main(["update"]) == 2
    assert "no checkout to update from" in capsys.readouterr().err
    source = tmp_path / "checkout"
    (source / ".venv/bin").mkdir(parents=True)
    (source / "site.yml").write_text("---\n")
    record = tmp_path / "ran"
    stub = source / ".venv/bin/ansible-playbook"
    stub.write_text(f'#!/bin/sh\necho "$PWD $*" > {record}\nexit 3\n')
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    assert cli.main(["update", "--source", str(source)]) == 3  # the converge's own exit code
    assert record.read_text().strip() == f"{source} -i inventory/hosts.yml site.yml"


@pytest.fixture
def installed(cli_env, tmp_path, monkeypatch):
    """An installed cell's files under tmp/root; uninstall's systemctl recorded, never run."""
    root = tmp_path / "root"
    paths = ["opt/pic/venv/bin/pic", "opt/pic/src/site.yml", "var/www/pic/index.html",
             "etc/systemd/system/pic-api.service", "etc/systemd/system/pic-backup.timer",
             "etc/systemd/system/ssh.service"]
    for rel in [*paths, *(str(p).lstrip("/") for p in (cli_env.state_file, cli_env.state_dir / "cell-1.yml"))]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    calls = []
    monkeypatch.setattr(uninstall, "_systemctl", lambda *args: calls.append(args))
    monkeypatch.setattr(cli.uninstall, "plan", functools.partial(uninstall.plan, root=root))
    monkeypatch.setenv("PIC_PROJECT_DIR", "/opt/pic/src")
    monkeypatch.setenv("PIC_BACKUP_CONFIG_FILE", str(tmp_path / "none.yml"))
    return root, calls


def test_uninstall_keeps_the_data(installed, cli_env, capsys):
    root, calls = installed
    assert cli.main(["uninstall"]) == 0
    assert not (root / "opt/pic").exists() and not (root / "var/www/pic").exists()
    assert not (root / "etc/systemd/system/pic-api.service").exists()
    assert (root / "etc/systemd/system/ssh.service").exists()  # not PIC's
    assert (root / str(cli_env.state_file).lstrip("/")).exists()
    assert (root / str(cli_env.state_dir).lstrip("/") / "cell-1.yml").exists()
    stopped = [c[2] for c in calls if c[:2] == ("disable", "--now")]
    assert stopped[:2] == ["pic-backup.timer", "pic-backup.service"] and "dovecot" in stopped
    assert "nftables" not in stopped  # the host keeps its firewall
    assert calls[-1] == ("daemon-reload",)
    assert "Kept (remove with --purge)" in capsys.readouterr().out


def test_uninstall_purge_asks_then_removes_the_data(installed, cli_env, monkeypatch, capsys):
    root, _ = installed
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli.main(["uninstall", "--purge"]) == 1
    assert (root / "opt/pic").exists() and (root / str(cli_env.state_file).lstrip("/")).exists()
    assert cli.main(["uninstall", "--purge", "--yes"]) == 0
    assert not (root / str(cli_env.state_file).lstrip("/")).exists()
    assert not (root / str(cli_env.state_dir).lstrip("/")).exists()


def test_a_cli_command_leaves_the_apis_running_converge_alone(cli_env, answers, capsys):
    """`pic status` while the API runs a converge: the run is the API's, not interrupted."""
    assert cli.main(["setup", answers]) == 0
    run = cli_env.run_dir / "20260101T000000-0123abcd"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"id": run.name, "status": "running", "description": "a change"}))
    assert cli.main(["status"]) == 0
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    assert "running" in capsys.readouterr().out


@pytest.mark.parametrize("target,command", [
    ("status", "pic status"), ("backup", "pic backup"), ("list-peers", "pic list-peers"),
    ("show-routes", "pic show-routes"), ("reset-admin-password", "pic reset-admin-password"),
    ("logs SERVICE=mail", "pic logs mail -n 100"), ("update", "ansible-playbook -i cells.yml site.yml"),
])
def test_the_controllers_make_targets_run_the_command_on_every_cell(target, command):
    """`make <target>` on the controller: the same command on each cell of the inventory, as root."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(["make", "-n", "--no-print-directory", *target.split(), "INVENTORY=cells.yml"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    line = [x for x in out.splitlines() if command in x]
    assert line, out
    if not command.startswith("ansible-playbook"):
        assert line[0].startswith("ansible cells -i cells.yml --become -m ansible.builtin.command -a")
