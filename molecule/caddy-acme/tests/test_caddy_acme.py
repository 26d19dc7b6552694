"""Caddy in custom domain mode gets its certificates from pebble by HTTP-01 and serves them."""

import time

import pytest

NAMES = {"home.example.test": ("/health", "api"), "calendar.home.example.test": ("/dav", "radicale")}


@pytest.fixture(scope="module")
def pebble_root(lab, host_ip):
    """The client fetches pebble's issuing root from its management endpoint."""
    res = lab.exec(
        "client",
        [
            "sh",
            "-c",
            f"curl -sSk --max-time 10 https://{host_ip['acme']}:15000/roots/0 > /root/pebble-root.pem",
        ],
    )
    assert res.returncode == 0, res.stderr
    assert "BEGIN CERTIFICATE" in lab.exec("client", ["cat", "/root/pebble-root.pem"]).stdout
    return "/root/pebble-root.pem"


def fetch(lab, host_ip, name, path, root):
    return lab.exec(
        "client",
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            root,
            "--resolve",
            f"{name}:443:{host_ip['cell']}",
            f"https://{name}{path}",
        ],
    )


def caddy_errors(lab) -> str:
    """Why caddy has no certificate yet: its log's lines about obtaining one and pebble's last lines,
    each cut short so the reason fits a CI report."""

    def lines(host: str, command: str) -> str:
        out = lab.exec(host, ["sh", "-c", command]).stdout
        return "\n".join(line[:300] for line in out.splitlines())

    caddy = lines("cell", "systemctl is-active caddy; journalctl -u caddy --no-pager -o cat"
                          " | grep -iE 'error|obtain|challenge|acme' | tail -12")
    pebble = lines("acme", "systemctl is-active pic-test-pebble;"
                           " journalctl -u pic-test-pebble --no-pager -o cat | tail -12")
    return f"\ncaddy:\n{caddy}\npebble:\n{pebble}"


@pytest.mark.parametrize("name", NAMES)
def test_certificate_issued_by_pebble_is_served(lab, host_ip, pebble_root, name):
    path, upstream = NAMES[name]
    # Caddy retries a failed order after a minute, then two: on a loaded machine the first order can
    # fail (pebble's validation racing caddy's start), so allow the third attempt.
    deadline = time.monotonic() + 300
    while True:
        res = fetch(lab, host_ip, name, path, pebble_root)
        if res.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert res.returncode == 0, res.stderr + caddy_errors(lab)
    assert res.stdout.startswith(f"{upstream} GET {path}"), res.stdout
    issuer = lab.exec(
        "client",
        [
            "sh",
            "-c",
            f"echo | openssl s_client -connect {host_ip['cell']}:443 -servername {name} 2>/dev/null"
            " | openssl x509 -noout -issuer -ext subjectAltName",
        ],
    ).stdout
    assert "Pebble" in issuer and name in issuer, issuer


def test_the_validation_was_real_http01(lab, host_ip):
    # Caddy logs each challenge answer it gave, with the asking address: pebble, over HTTP-01.
    log = lab.exec("cell", ["journalctl", "-u", "caddy", "--no-pager", "-o", "cat"]).stdout
    answers = [line for line in log.splitlines() if "served key authentication" in line]
    assert answers, log[-2000:]
    assert all('"challenge":"http-01"' in line for line in answers), answers
    assert all(f'"remote":"{host_ip["acme"]}:' in line for line in answers), answers
    env = lab.exec("acme", ["systemctl", "show", "-p", "Environment", "pic-test-pebble"]).stdout
    assert "PEBBLE_VA_ALWAYS_VALID" not in env


def test_ui_port_still_plain_http(lab, host_ip):
    out = lab.exec(
        "client", ["curl", "-sS", "--max-time", "10", f"http://{host_ip['cell']}:8081/health"]
    ).stdout
    assert out.startswith("api GET /health")
