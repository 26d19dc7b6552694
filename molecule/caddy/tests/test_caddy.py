"""Caddy on the cell, reached from a client host that trusts only the cell's root CA."""

import pytest

NAMES = {
    "home.cell": "api",
    "calendar.home.cell": "radicale",
    "files.home.cell": "webdav",
}


@pytest.fixture(scope="module")
def trusting_client(lab, client):
    """The client holds the cell's root certificate as root.crt (and trusts nothing else for it)."""
    root = lab.exec("cell", ["cat", "/etc/pic/ca/root.crt"], check=True).stdout
    lab.exec("client", ["sh", "-c", "cat > /root/root.crt"], input=root, check=True)
    return client


def curl(lab, args):
    return lab.exec("client", ["curl", "-sS", "--max-time", "10", *args])


def https(lab, host_ip, name, path="/", extra=()):
    return curl(
        lab,
        [
            "--cacert",
            "/root/root.crt",
            "--resolve",
            f"{name}:443:{host_ip['cell']}",
            *extra,
            f"https://{name}{path}",
        ],
    )


def test_caddy_runs_and_admin_api_is_local(cell):
    assert cell.service("caddy").is_running
    assert cell.service("caddy").is_enabled
    admin = [s for s in cell.socket.get_listening_sockets() if s.endswith(":2019")]
    assert admin and all(s.startswith("tcp://127.0.0.1:") or s.startswith("tcp://::1:") for s in admin), admin


def test_caddy_user_reads_the_leaf_key(cell):
    assert "pic-tls" in cell.user("caddy").groups


def test_ui_port_serves_the_ui_and_spa_fallback(lab, host_ip, trusting_client):
    base = f"http://{host_ip['cell']}:8081"
    assert "PIC test UI" in curl(lab, [f"{base}/"]).stdout
    assert "pic test asset" in curl(lab, [f"{base}/assets/app.js"]).stdout
    # A client-side route of the SPA gets index.html.
    assert "PIC test UI" in curl(lab, [f"{base}/peers/phone"]).stdout
    # The root certificate is offered for download.
    assert "BEGIN CERTIFICATE" in curl(lab, [f"{base}/ca.crt"]).stdout


def test_ui_port_proxies_health_and_api(lab, host_ip, trusting_client):
    base = f"http://{host_ip['cell']}:8081"
    assert curl(lab, [f"{base}/health"]).stdout.startswith("api GET /health")
    assert curl(lab, ["-X", "POST", f"{base}/api/setup"]).stdout.startswith("api POST /api/setup")


def test_sse_streams_through_the_proxy(lab, host_ip, trusting_client):
    # The upstream sends one event, then waits 6 s: within 3 s the client must already have it.
    res = curl(lab, ["-N", "--max-time", "3", f"http://{host_ip['cell']}:8081/api/stream"])
    assert "data: first" in res.stdout, (res.returncode, res.stdout, res.stderr)
    assert "data: second" not in res.stdout


@pytest.mark.parametrize("name,upstream", NAMES.items())
def test_https_names_with_a_verified_certificate(lab, host_ip, trusting_client, name, upstream):
    path = "/health" if upstream == "api" else "/probe"
    res = https(lab, host_ip, name, path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{upstream} GET {path}"), res.stdout
    assert f"host={name}" in res.stdout


def test_https_ui_on_the_cell_name(lab, host_ip, trusting_client):
    res = https(lab, host_ip, "home.cell", "/")
    assert res.returncode == 0 and "PIC test UI" in res.stdout, res.stderr


def test_mail_name_redirects_to_the_ui(lab, host_ip, trusting_client):
    res = https(
        lab, host_ip, "mail.home.cell", "/", extra=["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"]
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "302 https://home.cell/email"


def test_without_the_root_the_certificate_is_refused(lab, host_ip, trusting_client):
    res = curl(lab, ["--resolve", f"home.cell:443:{host_ip['cell']}", "https://home.cell/"])
    assert res.returncode == 60, (res.returncode, res.stderr)  # peer certificate cannot be authenticated
