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


@pytest.mark.parametrize("path,user,mode", [
    ("/etc/pic", "root", 0o1770), ("/var/lib/pic/state", "pic", 0o700), ("/var/lib/pic/runs", "pic", 0o700),
    ("/var/log/pic", "pic", 0o750), ("/etc/pic/api.yml", "root", 0o640), ("/etc/pic/seed.yml", "root", 0o640),
    ("/etc/pic/cell.yml", "pic", 0o600), ("/etc/pic/api-passwords.json", "pic", 0o600),
    ("/etc/wireguard", "root", 0o700),
])
def test_tight_permissions(host, path, user, mode):
    f = host.file(path)
    assert f.exists and f.user == user
    assert f.group == ("root" if path == "/etc/wireguard" else "pic")
    assert f.mode == mode, oct(f.mode)


ASK_AGENT = ("import json, socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/pic/agent.sock'); "
             "s.sendall(json.dumps({'action': 'unit_status', 'args': {'unit': 'pic-api'}}).encode() + b'\\n'); "
             "print(s.makefile().readline())")


def test_the_api_runs_as_pic_and_the_agent_as_root(host):
    api = host.process.filter(comm="gunicorn")
    assert api and {p.user for p in api} == {"pic"}
    assert host.run(f"runuser -u pic -- python3 -c \"{ASK_AGENT}\"").rc == 0  # the agent runs (for a while)
    agent_pid = host.run("systemctl show -p MainPID --value pic-agent").stdout.strip()
    assert agent_pid not in ("", "0")
    assert host.run(f"stat -c %U /proc/{agent_pid}").stdout.strip() == "root"
    sock = host.file("/run/pic/agent.sock")
    assert sock.is_socket and (sock.user, sock.group, sock.mode) == ("root", "pic", 0o660)
    api_pid = host.run("systemctl show -p MainPID --value pic-api").stdout.strip()
    status = host.run(f"grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' /proc/{api_pid}/status")
    fields = dict(line.split(":\t", 1) for line in status.stdout.strip().splitlines())
    assert fields["CapEff"].strip("0\t ") == "" and fields["CapBnd"].strip("0\t ") == ""
    assert fields["NoNewPrivs"].strip() == "1"


def test_the_api_user_cannot_reach_root_secrets_or_speak_to_the_agent_freely(host):
    assert host.run("runuser -u pic -- cat /etc/wireguard/private.key").rc != 0
    assert host.run("runuser -u pic -- rm -f /etc/pic/api.yml").rc != 0  # sticky: root's file stays
    assert host.file("/etc/pic/api.yml").exists
    ask = ("import json, socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/pic/agent.sock'); "
           "s.sendall(json.dumps({'action': 'exec', 'args': {'argv': ['id']}}).encode() + b'\\n'); "
           "print(s.makefile().readline())")
    res = host.run(f"runuser -u pic -- python3 -c \"{ask}\"")
    assert res.rc == 0, res.stderr
    reply = json.loads(res.stdout)
    assert reply["ok"] is False and "not allowed" in reply["error"]
    # anyone else may not even connect
    assert host.run("runuser -u nobody -- python3 -c \"import socket; "
                    "socket.socket(socket.AF_UNIX).connect('/run/pic/agent.sock')\"").rc != 0


def test_a_converge_through_the_agent(host):
    code, _ = curl(host, "-c /tmp/jar2 -H 'Content-Type: application/json'",
                   "-d '{\"username\":\"admin\",\"password\":\"lab admin password\"}'", f"{BASE}/api/auth/login")
    assert code == 200
    csrf = host.run("awk '$6 == \"pic_csrf\" {print $7}' /tmp/jar2").stdout.strip()
    code, body = curl(host, f"-b /tmp/jar2 -H 'X-CSRF-Token: {csrf}' -H 'Content-Type: application/json'",
                      "-d '{\"tags\": [\"common\"], \"check\": true}'", f"{BASE}/api/runs")
    assert code == 202, body
    run_id = json.loads(body)["run_id"]
    for _ in range(120):
        code, body = curl(host, "-b /tmp/jar2", f"{BASE}/api/runs/{run_id}")
        if json.loads(body)["status"] not in ("pending", "running"):
            break
        host.run("sleep 1")
    assert json.loads(body)["status"] == "successful", body
    code, events = curl(host, "-b /tmp/jar2", f"{BASE}/api/runs/{run_id}/events")
    assert code == 200 and "Set the time zone" in events  # the check-mode run of the common role
    journal = host.run("journalctl -u pic-agent -o cat --no-pager").stdout
    assert f'"run_id": "{run_id}"' in journal and '"tags": ["common"]' in journal
    work = host.file("/run/pic-agent")  # the run's private files are gone (all of it, once the agent exited)
    assert not work.exists or not work.listdir()


def test_the_agent_is_started_by_its_socket_and_exits_when_idle(host):
    """Idle, the agent uses no memory: systemd holds its socket, starts it on the API's first call
    (which gets its answer), and the agent exits after api_agent_idle_exit with nothing to do."""
    assert host.service("pic-agent.socket").is_running and host.service("pic-agent.socket").is_enabled
    assert not host.file("/etc/systemd/system/multi-user.target.wants/pic-agent.service").exists
    assert host.run("systemctl stop pic-agent.service").rc == 0
    sock, parent = host.file("/run/pic/agent.sock"), host.file("/run/pic")
    assert sock.is_socket and (sock.user, sock.group, sock.mode) == ("root", "pic", 0o660)
    assert (parent.user, parent.group, parent.mode) == ("root", "pic", 0o750)
    res = host.run(f"runuser -u pic -- python3 -c \"{ASK_AGENT}\"")
    assert res.rc == 0, res.stderr
    assert json.loads(res.stdout) == {"ok": True, "result": {"unit": "pic-api", "active": True}}
    assert host.service("pic-agent").is_running
    for _ in range(60):  # api_agent_idle_exit: 20 s
        if not host.service("pic-agent").is_running:
            break
        host.run("sleep 1")
    assert not host.service("pic-agent").is_running
    assert host.run("systemctl show -p Result --value pic-agent").stdout.strip() == "success"
    journal = host.run("journalctl -u pic-agent -o cat --no-pager -n 20").stdout
    assert "exiting; systemd starts the agent again on the next connection" in journal
    assert host.file("/run/pic/agent.sock").is_socket  # still systemd's, for the next call


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
    # pic-agent runs the converges as root: no become, which would start a second Python through sudo
    assert "ansible_become: false" in inv
    assert host.file("/opt/pic/venv/bin/ansible-playbook").exists
