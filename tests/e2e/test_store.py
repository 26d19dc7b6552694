"""The service store on a lab cell, with no outside registry: a LAN host runs Debian's docker-registry
with test images built there from a static busybox (molecule/store/files/test-images.sh) and serves
a test index pinning them by digest.

1. The cell (site.yml, set up headless) turns the store on through the API (a converge of the store
   role installs podman) and points it at the test index.
2. hello 1.0.0 is installed through the API: https://hello.home.cell answers through Caddy from the
   VPN client, verified with the cell's root CA only; its path route on the cell's own site asks for
   the cell's login; its port is reachable neither on the cell's LAN address nor on the container's
   own address from the LAN.
3. An upgrade to the broken 2.0.0 (which overwrites the app's data, then exits) fails and is rolled
   back: 1.0.0 answers again with its data as it was.
4. The Containers page in Chromium shows the app's container, stops and starts it.
5. Remove keeps the data and a reinstall finds it; purge removes it and a reinstall starts afresh.
6. `ansible-playbook site.yml` with the app installed changes nothing.
7. A dead disk for the app: the cell is backed up (to a repository on the cell itself), the app is
   purged (its container, data, image, record and route), the cell is restored from the backup with
   `pic restore --force`, and the restore brings the app back: its pinned image pulled again from the
   registry, and https://hello.home.cell answers from the VPN client with the data of before.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from pic_lab.cell import Cell, client_wg_config, csrf, follow_run
from pic_lab.lab import throwaway_lab

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "apps in a box 4 me"  # test data, this lab cell only
PIC = "/opt/pic/venv/bin/pic"
APP_DIR = "/var/lib/pic/store/apps/hello"
TOKEN = r"[0-9a-f-]{36}\n"  # what the test app writes into its volume on its first start
IMAGES = ROOT / "molecule" / "store" / "files" / "test-images.sh"
# What a lab host's podman needs (docs/roles.md "store", store_lab_engine); the registry host builds there.
LAB_ENGINE = {
    "/etc/containers/storage.conf": '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n'
                                    'graphroot = "/var/lib/containers/storage"\n',
    "/etc/containers/containers.conf": '[containers]\ncgroups = "disabled"\nkeyring = false\n',
}


@pytest.fixture(scope="module")
def lab():
    with throwaway_lab("shop", "e2e") as lab:  # not "store": the molecule scenario's lab is $PIC_LAB-store
        yield lab


def run(lab, host: str, *cmd: str, input: str | None = None) -> subprocess.CompletedProcess:
    return lab.exec(host, list(cmd), input=input)


@pytest.fixture(scope="module")
def registry(lab):
    """The LAN host's registry with the test images, and the test index on http://<it>:8000/index.yml."""
    lab.up("registry", image="provisioned")
    ip = lab.host_info("registry")["ip"]
    packages = ["docker-registry", "podman", "crun", "containernetworking-plugins", "busybox-static"]
    res = run(lab, "registry", "bash", "-c", "DEBIAN_FRONTEND=noninteractive apt-get update -qq && "
              f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {' '.join(packages)}")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    files = {
        **LAB_ENGINE,
        "/etc/containers/registries.conf.d/50-test.conf": f'[[registry]]\nlocation = "{ip}:5000"\ninsecure = true\n',
        "/etc/docker/registry/config.yml": "version: 0.1\nstorage:\n  filesystem:\n"
                                           "    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: :5000\n",
        "/usr/local/bin/test-images.sh": IMAGES.read_text(),
    }
    for path, content in files.items():
        run(lab, "registry", "bash", "-c", f"mkdir -p $(dirname {path}) && cat > {path}", input=content)
    run(lab, "registry", "chmod", "755", "/usr/local/bin/test-images.sh")
    assert run(lab, "registry", "systemctl", "restart", "docker-registry").returncode == 0
    built = run(lab, "registry", "/usr/local/bin/test-images.sh", f"{ip}:5000", "/srv/store")
    assert built.returncode == 0, built.stdout + built.stderr
    served = run(lab, "registry", "systemd-run", "--unit=test-index", "python3", "-m", "http.server", "8000",
                 "--bind", ip, "--directory", "/srv/store")
    assert served.returncode == 0, served.stderr
    index = yaml.safe_load(run(lab, "registry", "cat", "/srv/store/index.yml").stdout)
    return {"ip": ip, "index_url": f"http://{ip}:8000/index.yml", "index": index}


@pytest.fixture(scope="module")
def cell(lab, registry, tmp_path_factory) -> Cell:
    """The cell, converged and set up headless; the lab's engine settings also reach the API's converges."""
    lab.up("cell", image="provisioned")
    lab.up("client", image="provisioned")
    lab_engine = {"store_lab_engine": True, "store_insecure_registries": [f"{registry['ip']}:5000"]}
    setup = {"pic_setup_completed": True, "pic_admin_password": ADMIN_PASSWORD, "pic_cell_name": "home",
             "pic_services": ["dns", "wireguard"], **lab_engine, "api_cell_host_vars": lab_engine}
    cell = Cell(lab, lab.write_inventory(tmp_path_factory.mktemp("cell"), {"cells": ["cell"]}, setup))
    result = cell.converge()
    assert result.rc == 0, result.output[-6000:]
    return cell


@pytest.fixture(scope="module")
def admin(cell, tmp_path_factory) -> requests.Session:
    """The admin over HTTPS (a set-up cell serves no API on :8081), trusting only the cell's root
    (its file is the session's ``verify``)."""
    return cell.https_login(ADMIN_PASSWORD, tmp_path_factory.mktemp("root"))


def started(admin, cell, response, status="successful") -> dict:
    """Follows the run a 202 started to its end; returns the run."""
    assert response.status_code == 202, response.text
    return finished(admin, cell, response.json()["run_id"], status)


def finished(admin, cell, run_id: str, status="successful") -> dict:
    """A converge that reloads Caddy ends the event stream Caddy proxies, so a run's end is read from
    the run itself (as the UI's run view does)."""
    events = follow_run(admin, cell.https, run_id)
    deadline = time.monotonic() + 600
    while True:
        run_ = admin.get(f"{cell.https}/api/runs/{run_id}", timeout=30).json()
        if run_["status"] not in ("pending", "running") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert run_["status"] == status, (run_, events[-5:])
    return run_


@pytest.fixture(scope="module")
def store_on(cell, admin, registry):
    body = {"enabled": True, "index": registry["index_url"]}
    started(admin, cell, admin.put(f"{cell.https}/api/store", json=body, headers=csrf(admin), timeout=30))
    return True


@pytest.fixture(scope="module")
def client(cell, admin):
    """A VPN client of the cell: a peer's config, the tunnel up, the cell's DNS and root CA."""
    r = admin.post(f"{cell.https}/api/peers", json={"name": "laptop"}, headers=csrf(admin), timeout=30)
    assert r.status_code == 201, r.text
    finished(admin, cell, r.json()["run_id"])
    config, dns = client_wg_config(r.json()["config"], str(cell.lab.subnet))
    root = admin.get(f"{cell.https}/api/ca/root.pem", timeout=10).text
    run(cell.lab, "client", "bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf", input=config)
    run(cell.lab, "client", "bash", "-c", "cat > /etc/pic-root.pem", input=root)
    up = run(cell.lab, "client", "wg-quick", "up", "wg0")
    assert up.returncode == 0, up.stderr
    run(cell.lab, "client", "bash", "-c", f"echo 'nameserver {dns}' > /etc/resolv.conf")
    return dns


def fetch(cell, url: str, *args: str) -> tuple[str, str]:
    """(HTTP status, body) of a GET from the VPN client, trusting only the cell's root CA."""
    res = run(cell.lab, "client", "curl", "-sS", "--max-time", "10", "--retry", "5", "--retry-delay", "2",
              "--retry-all-errors", "--cacert", "/etc/pic-root.pem", "-w", "\n%{http_code}", *args, url)
    body, _, status = res.stdout.rpartition("\n")
    return status, body


def install(cell, admin, version: str) -> None:
    body = {"app": "hello", "version": version}
    started(admin, cell, admin.post(f"{cell.https}/api/store/apps", json=body, headers=csrf(admin), timeout=60))


@pytest.fixture(scope="module")
def hello(cell, admin, store_on, client):
    """hello 1.0.0 installed; its token (written into its volume on first start) as the VPN client reads it."""
    install(cell, admin, "1.0.0")
    status, token = fetch(cell, "https://hello.home.cell/created")
    assert status == "200" and re.fullmatch(TOKEN, token), (status, token)
    return token


def test_the_index_is_offered_with_every_version(cell, admin, store_on):
    overview = admin.get(f"{cell.https}/api/store", timeout=30).json()
    assert overview["enabled"] is True and overview["error"] is None, overview
    (app,) = overview["apps"]
    assert app["id"] == "hello" and app["versions"] == ["2.0.0", "1.1.0", "1.0.0"]
    assert run(cell.lab, "cell", "systemctl", "is-active", "podman.socket").stdout.strip() == "active"


def test_the_app_answers_through_caddy_from_the_vpn(cell, hello):
    status, body = fetch(cell, "https://hello.home.cell/")
    assert (status, body) == ("200", "hello 1.0.0\n")
    # its path route on the cell's own site asks for the cell's login (the admin's password)
    assert fetch(cell, "https://home.cell/hello/created")[0] == "401"
    assert fetch(cell, "https://home.cell/hello/created", "-u", f"admin:{ADMIN_PASSWORD}") == ("200", hello)
    assert fetch(cell, "https://home.cell/hello/created", "-u", "admin:not the password")[0] == "401"


def test_the_apps_port_is_not_reachable_from_the_lan(cell, hello):
    lab = cell.lab
    listening = run(lab, "cell", "ss", "-Hltn", "sport = :8000").stdout
    assert "127.0.0.1:8000" in listening and "0.0.0.0:8000" not in listening, listening
    inspect = run(lab, "cell", "podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "pic-hello")
    container_ip = inspect.stdout.strip()
    assert run(lab, "cell", "curl", "-sf", "--max-time", "5", f"http://{container_ip}:8000/health").returncode == 0
    probe = ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-w", "%{http_code}"]
    assert run(lab, "registry", *probe, f"http://{cell.ip}:8000/").returncode != 0  # closed from the LAN
    run(lab, "registry", "ip", "route", "replace", "10.88.0.0/16", "via", cell.ip)
    try:
        assert run(lab, "registry", *probe, f"http://{container_ip}:8000/health").returncode == 28  # dropped
    finally:
        run(lab, "registry", "ip", "route", "del", "10.88.0.0/16")


def test_app_data_and_secrets_stay_off_the_state(cell, admin, hello):
    secrets = run(cell.lab, "cell", "stat", "-c", "%a %U", f"{APP_DIR}/secrets.json").stdout.split()
    assert secrets == ["600", "root"]
    secret = yaml.safe_load(run(cell.lab, "cell", "cat", f"{APP_DIR}/secrets.json").stdout)["APP_SECRET"]
    state = run(cell.lab, "cell", "cat", "/etc/pic/cell.yml").stdout
    assert secret not in state and "hello" in state
    inspect = admin.get(f"{cell.https}/api/containers/pic-hello/inspect", timeout=30).json()["inspect"]
    assert secret not in str(inspect) and "APP_SECRET=********" in inspect["Config"]["Env"]


def test_a_broken_upgrade_rolls_back_with_its_data(cell, admin, hello):
    versions = admin.get(f"{cell.https}/api/state/versions", timeout=30).json()["versions"]
    r = admin.post(f"{cell.https}/api/store/apps/hello/upgrade", json={"version": "2.0.0"}, headers=csrf(admin),
                   timeout=60)
    final = started(admin, cell, r, "failed")
    assert "rolled back to 1.0.0" in final["error"], final
    assert fetch(cell, "https://hello.home.cell/created") == ("200", hello)
    assert fetch(cell, "https://hello.home.cell/") == ("200", "hello 1.0.0\n")
    assert admin.get(f"{cell.https}/api/state/versions", timeout=30).json()["versions"] == versions
    snapshots = run(cell.lab, "cell", "ls", f"{APP_DIR}/snapshots").stdout.split()
    assert len(snapshots) == 1 and snapshots[0].startswith("1.0.0-")


def test_the_containers_page_shows_and_stops_it(cell, admin, hello):
    listed = admin.get(f"{cell.https}/api/containers", timeout=60).json()
    mine = [c for c in listed["containers"] if c["name"] == "pic-hello"]
    assert mine and mine[0]["state"] == "running" and mine[0]["app"] == "hello", listed
    assert {"container_port": 8000, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 8000} in mine[0]["ports"]
    assert any(v["name"] == "pic-hello-data" and v["size_bytes"] > 0 for v in listed["volumes"]), listed
    with cell.lab.browser_netns() as netns:  # where other labs' links do not disturb Chromium
        ui = subprocess.run(
            [*netns, "node", "--test", "--test-concurrency=1", "--test-reporter=tap",
             "--test-name-pattern=the containers page shows and stops it", "e2e/ui.test.mjs"],
            cwd=ROOT / "webui", capture_output=True, text=True, timeout=900,
            # NODE_EXTRA_CA_CERTS: the browser test's own requests from node trust the cell's root too
            env={**os.environ, "PIC_UI_URL": cell.https, "PIC_UI_CA_FILE": admin.verify,
                 "NODE_EXTRA_CA_CERTS": admin.verify, "PIC_ADMIN_PASSWORD": ADMIN_PASSWORD, "PIC_CELL_NAME": "home",
                 "PIC_UI_STORE_APP": "hello", "PIC_UI_STORE_LOGIN": "1", "PIC_E2E_TIMEOUT_MS": "60000"},
        )
    assert ui.returncode == 0 and "# pass 1" in ui.stdout, ui.stdout[-6000:] + ui.stderr[-2000:]
    assert fetch(cell, "https://hello.home.cell/created") == ("200", hello)  # started again


def test_remove_keeps_the_data_and_a_reinstall_finds_it(cell, admin, hello):
    started(admin, cell, admin.delete(f"{cell.https}/api/store/apps/hello", headers=csrf(admin), timeout=60))
    assert run(cell.lab, "cell", "podman", "container", "exists", "pic-hello").returncode == 1
    assert fetch(cell, "https://hello.home.cell/")[0] != "200"
    assert run(cell.lab, "cell", "cat", f"{APP_DIR}/volumes/data/www/created").stdout == hello
    install(cell, admin, "1.0.0")
    assert fetch(cell, "https://hello.home.cell/created") == ("200", hello)


def test_a_second_converge_with_the_app_changes_nothing(cell, hello):
    again = cell.converge()
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, again.changed_tasks()


def test_purge_removes_the_data(cell, admin, hello):
    started(admin, cell, admin.delete(f"{cell.https}/api/store/apps/hello?purge=1", headers=csrf(admin), timeout=60))
    assert run(cell.lab, "cell", "test", "-e", APP_DIR).returncode == 1
    install(cell, admin, "1.1.0")
    status, token = fetch(cell, "https://hello.home.cell/created")
    assert status == "200" and re.fullmatch(TOKEN, token) and token != hello


def test_a_restore_brings_the_app_back_with_its_data(cell, admin, hello):
    lab = cell.lab
    status, token = fetch(cell, "https://hello.home.cell/created")  # the data of the version installed now
    assert status == "200" and re.fullmatch(TOKEN, token), (status, token)
    image = run(lab, "cell", "podman", "inspect", "-f", "{{.ImageName}}", "pic-hello").stdout.strip()
    assert "@sha256:" in image, image
    set_ = run(lab, "cell", PIC, "backup", "set", "--repository", "/var/backups/pic-e2e")
    assert set_.returncode == 0, set_.stdout[-3000:] + set_.stderr[-2000:]
    backup = run(lab, "cell", PIC, "backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    key = run(lab, "cell", PIC, "backup", "key").stdout
    passphrase = key.split("Passphrase: ", 1)[1].split()[0]
    run(lab, "cell", "bash", "-c", "umask 077; cat > /root/passphrase", input=passphrase + "\n")

    started(admin, cell, admin.delete(f"{cell.https}/api/store/apps/hello?purge=1", headers=csrf(admin), timeout=60))
    assert run(lab, "cell", "test", "-e", APP_DIR).returncode == 1
    assert run(lab, "cell", "podman", "image", "exists", image).returncode == 1  # it must come from the registry
    assert fetch(cell, "https://hello.home.cell/")[0] != "200"

    res = run(lab, "cell", PIC, "restore", "/var/backups/pic-e2e", "--passphrase-file", "/root/passphrase", "--force")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
    assert "Apps running again: hello." in res.stdout and "NOT" not in res.stdout, res.stdout[-3000:]
    steps = [line.split(":", 1)[0] for line in res.stdout.splitlines() if not line.startswith(" ")]
    assert [s for s in steps if s in ("converge", "data", "apps", "health")] == \
        ["converge", "data", "apps", "apps", "health"], res.stdout[-3000:]
    assert run(lab, "cell", "podman", "image", "exists", image).returncode == 0
    assert fetch(cell, "https://hello.home.cell/created") == ("200", token)
    assert fetch(cell, "https://hello.home.cell/") == ("200", "hello 1.1.0\n")
