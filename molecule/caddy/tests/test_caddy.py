"""Caddy on a set-up cell, reached from a client host that trusts only the cell's root CA."""

import json

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


def head(lab, args):
    """Status, Location and the named headers of one request, as curl sees them."""
    res = curl(lab, ["-o", "/dev/null", "-D", "-", *args])
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_caddy_runs_sandboxed(cell):
    """The drop-in (roles/sandbox) is in force: one capability, a read-only system, no new privileges."""
    show = cell.check_output("systemctl show -p CapabilityBoundingSet -p ProtectSystem -p NoNewPrivileges caddy")
    assert "CapabilityBoundingSet=cap_net_bind_service\n" in show + "\n", show
    assert "ProtectSystem=strict" in show and "NoNewPrivileges=yes" in show
    pid = cell.check_output("systemctl show -p MainPID --value caddy")
    status = cell.check_output(f"cat /proc/{pid}/status")
    assert "NoNewPrivs:\t1" in status
    exposure = cell.run("systemd-analyze security --no-pager caddy").stdout.splitlines()[-1]
    assert float(exposure.split(":")[1].split()[0]) < 2.5, exposure


def test_ui_port_after_setup_serves_no_api(lab, host_ip, trusting_client):
    """After setup plain HTTP carries no login and no API: every path leads to the page that offers
    the root certificate, and nothing reaches the API (the stand-in would answer "api ...")."""
    base = f"http://{host_ip['cell']}:8081"
    for path in ["/", "/health", "/api/setup/status", "/login", "/peers/phone"]:
        res = curl(lab, ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"{base}{path}"])
        assert res.stdout == f"302 {base}/trust", (path, res.stdout)
    res = curl(lab, ["-X", "POST", "-w", " %{http_code}", f"{base}/api/auth/login"])
    assert not res.stdout.startswith("api") and res.stdout.endswith(" 302"), res.stdout
    assert "strict-transport-security" not in head(lab, [f"{base}/"]).lower()


def test_ui_port_after_setup_offers_the_root_and_the_https_addresses(lab, host_ip, trusting_client):
    base = f"http://{host_ip['cell']}:8081"
    assert "PIC test UI" in curl(lab, [f"{base}/trust"]).stdout  # the UI's page, from its own files
    assert "pic test asset" in curl(lab, [f"{base}/assets/app.js"]).stdout
    root = lab.exec("client", ["cat", "/root/root.crt"]).stdout
    assert curl(lab, [f"{base}/ca.crt"]).stdout == root
    cell = json.loads(curl(lab, [f"{base}/cell.json"]).stdout)
    assert cell == {"domain": "home.cell", "https": ["https://home.cell/", f"https://{host_ip['cell']}/"]}


def test_the_lan_address_serves_the_ui_with_a_verified_certificate(lab, host_ip, trusting_client):
    """A laptop on the LAN that does not use the cell's DNS: https://<LAN address>/ verifies with
    only the cell's root (the leaf names the address), and serves the UI and its API."""
    base = f"https://{host_ip['cell']}"
    res = curl(lab, ["--cacert", "/root/root.crt", f"{base}/"])
    assert res.returncode == 0 and "PIC test UI" in res.stdout, res.stderr
    res = curl(lab, ["--cacert", "/root/root.crt", f"{base}/health"])
    assert res.stdout.startswith("api GET /health") and f"host={host_ip['cell']}" in res.stdout, res.stdout
    res = curl(lab, [f"{base}/"])  # without the root: refused
    assert res.returncode == 60, (res.returncode, res.stderr)


def test_the_api_learns_the_scheme_from_caddy_alone(lab, host_ip, trusting_client):
    """X-Forwarded-Proto is Caddy's: what a client sends in it never reaches the API."""
    res = curl(lab, ["--cacert", "/root/root.crt", "-H", "X-Forwarded-Proto: http", f"https://{host_ip['cell']}/api/x"])
    assert res.stdout.startswith("api GET /api/x") and "proto=https" in res.stdout, res.stdout


@pytest.mark.parametrize("name", ["home.cell", "calendar.home.cell", "files.home.cell", "mail.home.cell", "LAN"])
def test_every_https_site_sends_one_hsts_header(lab, host_ip, trusting_client, name):
    if name == "LAN":
        args = ["--cacert", "/root/root.crt", f"https://{host_ip['cell']}/api/hsts"]
    else:
        args = ["--cacert", "/root/root.crt", "--resolve", f"{name}:443:{host_ip['cell']}", f"https://{name}/api/hsts"]
    headers = [line.lower() for line in head(lab, args).splitlines()]
    hsts = [line for line in headers if line.startswith("strict-transport-security:")]
    # Caddy's, deferred: it replaced the upstream's own "max-age=1".
    assert hsts == ["strict-transport-security: max-age=31536000"], headers


def test_plain_http_on_port_80_goes_to_https(lab, host_ip, trusting_client):
    for host in ["home.cell", host_ip["cell"]]:
        res = curl(lab, ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve",
                         f"home.cell:80:{host_ip['cell']}", f"http://{host}/peers"])
        assert res.stdout == f"308 https://{host}/peers", res.stdout


def test_sse_streams_through_the_proxy(lab, host_ip, trusting_client):
    # The upstream sends one event, then waits 6 s: within 3 s the client must already have it.
    res = https(lab, host_ip, "home.cell", "/api/stream", extra=["-N", "--max-time", "3"])
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


def test_peer_sync_has_its_own_listener_and_only_there(lab, host_ip, trusting_client):
    """:8082 takes /api/cells/peer-sync/* to the API with the client's own address in X-Forwarded-For
    (a forged one replaced) and nothing else; the UI's HTTPS site does not route peer-sync at all."""
    client_ip = host_ip["client"]
    base = f"http://{host_ip['cell']}:8082"
    res = curl(lab, ["-X", "POST", "-H", "X-Forwarded-For: 10.64.9.1", f"{base}/api/cells/peer-sync/share"])
    assert res.stdout.startswith("api POST /api/cells/peer-sync/share"), res.stdout
    assert f"xff={client_ip} " in res.stdout, res.stdout
    for path in ["/", "/health", "/api/setup/status", "/api/cells/links"]:
        res = curl(lab, ["-o", "/dev/null", "-w", "%{http_code}", f"{base}{path}"])
        assert res.stdout == "404", (path, res.stdout)
    res = https(lab, host_ip, "home.cell", "/api/cells/peer-sync/share", ["-X", "POST", "-w", " %{http_code}"])
    assert not res.stdout.startswith("api") and res.stdout.endswith(" 404"), res.stdout
