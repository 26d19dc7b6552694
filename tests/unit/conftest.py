import threading
from pathlib import Path

import pytest

from pic_api.app import create_app
from pic_api.config import Config
from pic_api.managers.health import HealthMonitor
from pic_api.managers.logsearch import LogSearch

ROOT = Path(__file__).resolve().parents[2]  # the repository: site.yml and roles/

SETUP = {
    "cell_name": "home",
    "domain_mode": "internal",
    "timezone": "Europe/Berlin",
    "admin_password": "correct horse battery",
    "services": ["dns", "dhcp", "ntp", "wireguard", "calendar"],
}
PEER_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="


class FakeBackend:
    """Stands in for ansible-runner: records each run, emits two events, returns a set status.

    With ``gate`` set, a run waits for ``gate`` to be set (or for cancel) before finishing;
    ``script`` lists the statuses of the next runs, one each, before ``status`` applies again.
    """

    def __init__(self):
        self.runs = []
        self.status = "successful"
        self.script = []
        self.gate = None
        self.started = threading.Event()

    def execute(self, run, emit, should_cancel):
        self.runs.append({"id": run.id, "tags": run.tags, "check": run.check, "extravars": dict(run.extravars)})
        extravars = run.extravars
        if "pic_state_file" in extravars:
            with open(extravars["pic_state_file"]) as fh:
                self.runs[-1]["proposed"] = fh.read()
        emit({"event": "playbook_on_start", "counter": 1, "stdout": "", "event_data": {"playbook": "site.yml"}})
        self.started.set()
        if self.gate is not None:
            while not self.gate.wait(0.01):
                if should_cancel():
                    return "canceled"
        emit(
            {
                "event": "runner_on_ok",
                "counter": 2,
                "stdout": "ok: [localhost]",
                "event_data": {
                    "task": "Set password",
                    "host": "localhost",
                    "role": "common",
                    "res": {"changed": True, "password": "hunter2", "diff": {"after": "x"}},
                },
            }
        )
        return self.script.pop(0) if self.script else self.status


# The VPN subnet the tests' cell has, pinned in its seed as an inventory's pic_vpn_subnet pins it
# (without one, setup picks a random /24: test_api_setup.py proves that).
VPN_SUBNET = "10.0.0.0/24"


@pytest.fixture
def config(tmp_path):
    conf = Config.under(
        tmp_path,
        project_dir=ROOT,
        wg_endpoint="vpn.example.org",
        health_interval=0,
        bcrypt_rounds=4,
        scrypt_n=1024,
        runner="none",
    )
    conf.seed_file.parent.mkdir(parents=True, exist_ok=True)
    conf.seed_file.write_text(f"network:\n  vpn_subnet: {VPN_SUBNET}\n")
    return conf


@pytest.fixture
def cli_env(config, monkeypatch, tmp_path):
    """The `pic` command pointed at the test cell's files."""
    values = {
        "PIC_STATE_FILE": str(config.state_file),
        "PIC_STATE_DIR": str(config.state_dir),
        "PIC_SECRETS_DIR": str(config.secrets_dir),
        "PIC_RUN_DIR": str(config.run_dir),
        "PIC_SEED_FILE": str(config.seed_file),
        "PIC_SCRYPT_N": "1024",
        "PIC_BCRYPT_ROUNDS": "4",
        "PIC_CONFIG": str(tmp_path / "none.yml"),
        "PIC_WG_PRIVATE_KEY_FILE": str(config.wg_private_key_file),
        "PIC_PROJECT_DIR": str(config.project_dir),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return config


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def journal():
    return [
        {"time": "1", "level": "INFO", "unit": "dnsmasq", "message": "started dnsmasq"},
        {"time": "2", "level": "ERROR", "unit": "dnsmasq", "message": "failed to bind"},
    ]


@pytest.fixture
def app(config, backend, journal):
    health = HealthMonitor(
        lambda: app_.extensions["pic"].state.load()["services"],
        unit_check=lambda unit: unit != "chrony",
        port_check=lambda port: True,
        interval=0,
    )
    app_ = create_app(
        config,
        backend=backend,
        health=health,
        log_search=LogSearch(config.log_file, journal=lambda units, limit: journal),
        start_threads=False,
    )
    app_.testing = True
    no_network(app_)
    yield app_


@pytest.fixture
def client(app):
    return app.test_client()


def with_code(client, body):
    """The wizard's answers with the cell's setup code, as a person who read it on the host sends them."""
    return {**body, "setup_code": client.application.extensions["pic"].setup_code.current()}


def csrf(client):
    cookie = client.get_cookie("pic_csrf")
    return {"X-CSRF-Token": cookie.value if cookie else ""}


def no_network(app):
    """Peer-sync in unit tests goes nowhere unless a test connects two cells (test_peer_sync.py)."""

    def send(link, kind, message):
        raise OSError("no network in unit tests")

    app.extensions["pic"].peer_sync.send = send


def wait_run(app, run_id):
    info = app.extensions["pic"].runs.wait(run_id, 10)
    assert info["status"] in ("successful", "failed", "canceled"), info
    return info


@pytest.fixture
def admin(app, client):
    """A client logged in as admin on a cell whose setup is done (first converge finished)."""
    resp = client.post("/api/setup", json=with_code(client, SETUP))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    return client


@pytest.fixture
def peer_client(app, admin):
    """A second client logged in with the peer role."""
    resp = admin.post(
        "/api/users", json={"name": "bob", "password": "bobs password", "role": "peer"}, headers=csrf(admin)
    )
    assert resp.status_code == 201, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    other = app.test_client()
    assert other.post("/api/auth/login", json={"username": "bob", "password": "bobs password"}).status_code == 200
    return other
