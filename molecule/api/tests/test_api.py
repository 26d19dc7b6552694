"""The api role on a fresh lab host: virtualenv, gunicorn on the loopback, headless setup, permissions."""

import json

import pytest

BASE = "http://127.0.0.1:3000"


def curl(host, *args):
    res = host.run("curl -sS -o /dev/stdout -w '\\n%{http_code}' " + " ".join(args))
    assert res.rc == 0, res.stderr
    body, _, code = res.stdout.rpartition("\n")
    return int(code), body


def test_service_running_on_loopback_only(host):
    svc = host.service("pic-api")
    assert svc.is_running and svc.is_enabled
    assert host.socket("tcp://127.0.0.1:3000").is_listening
    assert not host.socket("tcp://0.0.0.0:3000").is_listening


def test_health(host):
    code, body = curl(host, f"{BASE}/health")
    assert code == 200
    data = json.loads(body)
    assert data["status"] == "ok" and data["setup_completed"] is True


def test_headless_setup_lets_the_admin_log_in(host):
    code, body = curl(host, "-c /tmp/jar -H 'Content-Type: application/json'",
                      "-d '{\"username\":\"admin\",\"password\":\"lab admin password\"}'", f"{BASE}/api/auth/login")
    assert code == 200, body
    code, body = curl(host, "-b /tmp/jar", f"{BASE}/api/auth/me")
    assert code == 200 and json.loads(body)["user"]["role"] == "admin"
    code, body = curl(host, "-b /tmp/jar", f"{BASE}/api/settings")
    assert json.loads(body)["services"] == ["dns", "ntp", "wireguard"]


def test_wrong_password_refused(host):
    code, _ = curl(host, "-H 'Content-Type: application/json'",
                   "-d '{\"username\":\"admin\",\"password\":\"nope nope\"}'", f"{BASE}/api/auth/login")
    assert code == 401


@pytest.mark.parametrize("path,mode", [("/etc/pic", 0o750), ("/var/lib/pic/state", 0o700),
                                       ("/var/lib/pic/runs", 0o700), ("/etc/pic/api.yml", 0o600),
                                       ("/etc/pic/cell.yml", 0o600), ("/etc/pic/api-passwords.json", 0o600),
                                       ("/etc/pic/seed.yml", 0o600)])
def test_tight_permissions(host, path, mode):
    f = host.file(path)
    assert f.exists and f.user == "root"
    assert f.mode == mode, oct(f.mode)


def test_no_password_left_on_disk(host):
    assert not host.file("/etc/pic/headless-answers.yml").exists
    res = host.run("grep -rl 'lab admin password' /etc/pic /var/lib/pic /opt/pic/src /var/log/pic")
    assert res.stdout.strip() == ""


def test_cli(host):
    res = host.run("PIC_CONFIG=/etc/pic/api.yml /opt/pic/venv/bin/pic status --json")
    assert res.rc == 0, res.stderr
    assert json.loads(res.stdout)["cell"] == "lab"
    res = host.run("/opt/pic/venv/bin/pic state check")
    assert res.rc == 0 and "loads" in res.stdout, res.stdout + res.stderr


def test_a_headless_cell_has_no_setup_code(host):
    """Set up by `pic setup` as root: no code was needed, none is left that could open the wizard."""
    assert not host.file("/etc/pic/setup-code").exists
    res = host.run("/opt/pic/venv/bin/pic setup-code")
    assert res.rc == 1 and "already set up" in res.stderr


def test_the_api_converges_from_its_copy(host):
    assert host.file("/opt/pic/src/site.yml").exists
    assert host.file("/opt/pic/src/roles/api/tasks/main.yml").exists
    inv = host.file("/opt/pic/src/inventory/cell.yml").content_string
    assert "ansible_connection: local" in inv
    assert host.file("/opt/pic/venv/bin/ansible-playbook").exists
