import json

import pytest
import yaml
from conftest import csrf, wait_run


def test_get_settings(admin):
    body = admin.get("/api/settings").get_json()
    assert body["timezone"] == "Europe/Berlin"
    assert body["services"] == ["dns", "dhcp", "ntp", "wireguard", "calendar"]
    assert body["upstream_dns"] == [] and body["ntp_servers"] == []
    assert body["domain"] == "home.cell"


def test_put_settings_saves_and_converges_touched_roles(app, admin, config, backend):
    resp = admin.put("/api/settings", json={"timezone": "Etc/UTC", "upstream_dns": ["192.0.2.53"]}, headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is False
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["tags"] == ["common", "coredns", "dnsmasq"]
    state = yaml.safe_load(config.state_file.read_text())
    assert state["cell"]["timezone"] == "Etc/UTC" and state["network"]["upstream_dns"] == ["192.0.2.53"]
    assert admin.get("/api/settings").get_json()["timezone"] == "Etc/UTC"


def test_put_services(app, admin, config):
    resp = admin.put("/api/settings", json={"services": ["files", "dns"]}, headers=csrf(admin))
    assert resp.status_code == 202
    info = wait_run(app, resp.get_json()["run_id"])
    assert "webdav" in info["tags"] and "radicale" in info["tags"]
    assert yaml.safe_load(config.state_file.read_text())["services"] == ["dns", "files"]


def test_preview_saves_nothing_and_runs_check_mode(app, admin, config, backend):
    before = config.state_file.read_text()
    versions = len(list(config.state_dir.iterdir()))
    resp = admin.put("/api/settings?preview=1", json={"ntp_servers": ["ntp.example.org"]}, headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["kind"] == "preview" and info["check"] is True and info["tags"] == ["chrony"]
    assert config.state_file.read_text() == before
    assert len(list(config.state_dir.iterdir())) == versions
    run = backend.runs[-1]
    assert run["check"] is True
    proposed = yaml.safe_load(run["proposed"])
    assert proposed["network"]["ntp_servers"] == ["ntp.example.org"]
    # the proposed state (which holds password hashes) is removed after the run
    from pathlib import Path

    assert not Path(run["extravars"]["pic_state_file"]).exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"timezone": "Nowhere/Place"}, "timezone"),
        ({"services": ["dns", "telnet"]}, "services"),
        ({"services": "dns"}, "services"),
        ({"upstream_dns": ["dns.google"]}, "upstream_dns[0]"),
        ({"upstream_dns": ["1.1.1.1", "1.1.1.1"]}, "upstream_dns"),
        ({"ntp_servers": ["bad host"]}, "ntp_servers[0]"),
        ({"ntp_servers": "pool.ntp.org"}, "ntp_servers"),
        ({"cell_name": "other"}, "cell_name"),
        ({}, ""),
    ],
)
def test_put_bad_input(admin, config, body, field):
    before = config.state_file.read_text()
    resp = admin.put("/api/settings", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]
    assert config.state_file.read_text() == before


def test_bad_preview_flag(admin):
    resp = admin.put("/api/settings?preview=maybe", json={"timezone": "Etc/UTC"}, headers=csrf(admin))
    assert resp.status_code == 400 and "preview" in resp.get_json()["fields"]


def test_put_body_not_object(admin):
    assert admin.put("/api/settings", data="x", headers=csrf(admin)).status_code == 400


def test_domain_mode_changes_after_setup(app, admin, config, tmp_path):
    from ddns_fakes import FakeHttp

    fake = FakeHttp()
    try:
        manager = app.extensions["pic"].ddns
        manager.updater_config = tmp_path / "ddns.json"
        manager.updater_config.write_text(json.dumps({"urls": {"pic_ngo": fake.url}}))
        # internal -> custom: the domain is required, then saved; a preview first saves nothing
        resp = admin.put("/api/settings", json={"domain_mode": "custom"}, headers=csrf(admin))
        assert resp.status_code == 400 and "domain" in resp.get_json()["fields"]
        before = config.state_file.read_text()
        resp = admin.put("/api/settings?preview=1", json={"domain_mode": "custom", "domain": "home.example.org"},
                         headers=csrf(admin))
        info = wait_run(app, resp.get_json()["run_id"])
        assert info["check"] is True and "caddy" in info["tags"] and config.state_file.read_text() == before
        resp = admin.put("/api/settings", json={"domain_mode": "custom", "domain": "home.example.org"},
                         headers=csrf(admin))
        info = wait_run(app, resp.get_json()["run_id"])
        assert {"caddy", "mailserver", "ddns"} <= set(info["tags"]), info["tags"]
        assert yaml.safe_load(config.state_file.read_text())["cell"]["domain"] == "home.example.org"
        # custom -> pic_ngo: the name is asked first; taken refuses, nothing changes
        fake.on("GET", "/v1/names/home", (200, {"available": False}))
        before = config.state_file.read_text()
        resp = admin.put("/api/settings", json={"domain_mode": "pic_ngo"}, headers=csrf(admin))
        assert resp.status_code == 400 and "home.pic.ngo is taken" in resp.get_json()["fields"]["domain_mode"]
        assert config.state_file.read_text() == before
        fake.on("GET", "/v1/names/home", (200, {"available": True}))
        resp = admin.put("/api/settings", json={"domain_mode": "pic_ngo"}, headers=csrf(admin))
        wait_run(app, resp.get_json()["run_id"])
        cell = yaml.safe_load(config.state_file.read_text())["cell"]
        assert (cell["domain_mode"], cell["domain"]) == ("pic_ngo", "home.pic.ngo")
        assert admin.get("/api/ddns").get_json()["hostname"] == "home.pic.ngo"
        # pic_ngo -> internal: back to <name>.cell, and no ACME
        resp = admin.put("/api/settings", json={"domain_mode": "internal"}, headers=csrf(admin))
        wait_run(app, resp.get_json()["run_id"])
        cell = yaml.safe_load(config.state_file.read_text())["cell"]
        assert (cell["domain_mode"], cell["domain"], cell["acme_challenge"]) == ("internal", "home.cell", "http")
    finally:
        fake.close()
