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
        ({"cell_name": "Bad Name"}, "cell_name"),
        ({"cell_name": "x" * 64}, "cell_name"),
        ({}, ""),
    ],
)
def test_put_bad_input(admin, config, body, field):
    before = config.state_file.read_text()
    resp = admin.put("/api/settings", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]
    assert config.state_file.read_text() == before


def test_a_renamed_cell_moves_its_zone_domain_and_addresses(app, admin, config, backend):
    """The name is the zone and, in the internal mode, the domain: a rename converges every role that
    reads them (a preview first saves nothing), and the addresses the API gives follow."""
    before = config.state_file.read_text()
    resp = admin.put("/api/settings?preview=1", json={"cell_name": "attic"}, headers=csrf(admin))
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["check"] is True and config.state_file.read_text() == before
    assert yaml.safe_load(backend.runs[-1]["proposed"])["cell"]["domain"] == "attic.cell"

    resp = admin.put("/api/settings", json={"cell_name": "attic"}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert {"ca", "caddy", "coredns", "dnsmasq", "webdav"} <= set(info["tags"]), info["tags"]
    cell = yaml.safe_load(config.state_file.read_text())["cell"]
    assert (cell["name"], cell["domain"]) == ("attic", "attic.cell")
    got = admin.get("/api/settings").get_json()
    assert (got["cell_name"], got["domain"]) == ("attic", "attic.cell")
    mine = admin.get("/api/account/services").get_json()
    assert mine["calendar"]["caldav_url"].startswith("https://calendar.attic.cell/"), mine


def test_a_cell_with_an_open_invitation_is_not_renamed(app, admin, config):
    """The invitation carries the name and zone: the cell that redeems it would forward a zone that no
    longer answers. Canceled, the rename goes through."""
    made = admin.post("/api/cells/invitations", json={}, headers=csrf(admin)).get_json()
    before = config.state_file.read_text()
    for preview in ("", "?preview=1"):
        resp = admin.put(f"/api/settings{preview}", json={"cell_name": "attic"}, headers=csrf(admin))
        assert resp.status_code == 409, resp.get_json()
        assert resp.get_json()["fields"]["cell_name"].startswith("this cell is known as home to 1 open invitation:")
    assert config.state_file.read_text() == before
    assert admin.delete(f"/api/cells/invitations/{made['nonce']}", headers=csrf(admin)).status_code == 200
    resp = admin.put("/api/settings", json={"cell_name": "attic"}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    # the unchanged name is no rename: other settings pass with it
    resp = admin.put("/api/settings", json={"cell_name": "attic", "timezone": "Etc/UTC"}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()


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

        def asked_first(label: str, body: dict, field: str) -> None:
            """The pic_ngo name is asked first: taken refuses at ``field`` and changes nothing; free goes on."""
            fake.on("GET", f"/v1/names/{label}", (200, {"available": False}))
            before = config.state_file.read_text()
            resp = admin.put("/api/settings", json=body, headers=csrf(admin))
            assert resp.status_code == 400 and f"{label}.pic.ngo is taken" in resp.get_json()["fields"][field]
            assert config.state_file.read_text() == before
            fake.on("GET", f"/v1/names/{label}", (200, {"available": True}))
            resp = admin.put("/api/settings", json=body, headers=csrf(admin))
            wait_run(app, resp.get_json()["run_id"])

        # custom -> pic_ngo
        asked_first("home", {"domain_mode": "pic_ngo"}, "domain_mode")
        cell = yaml.safe_load(config.state_file.read_text())["cell"]
        assert (cell["domain_mode"], cell["domain"]) == ("pic_ngo", "home.pic.ngo")
        assert admin.get("/api/ddns").get_json()["hostname"] == "home.pic.ngo"
        # a rename in the pic_ngo mode asks for the new name
        asked_first("attic", {"cell_name": "attic"}, "cell_name")
        assert admin.get("/api/ddns").get_json()["hostname"] == "attic.pic.ngo"
        # pic_ngo -> internal: back to <name>.cell, and no ACME
        resp = admin.put("/api/settings", json={"domain_mode": "internal"}, headers=csrf(admin))
        wait_run(app, resp.get_json()["run_id"])
        cell = yaml.safe_load(config.state_file.read_text())["cell"]
        assert (cell["domain_mode"], cell["domain"], cell["acme_challenge"]) == ("internal", "attic.cell", "http")
    finally:
        fake.close()


def test_get_settings_has_dhcp_pool(admin, config):
    body = admin.get("/api/settings").get_json()
    net = yaml.safe_load(config.state_file.read_text()).get("network", {})
    assert body["dhcp_range"] == net.get("dhcp_range", ["192.168.50.100", "192.168.50.200"])
    assert body["dhcp_lease_time"] == str(net.get("dhcp_lease_time", "12h"))


def test_put_dhcp_and_ntp_saves_and_converges_dnsmasq_and_chrony(app, admin, config, backend):
    body = {"dhcp_range": ["192.168.50.20", "192.168.50.90"], "dhcp_lease_time": "2h", "ntp_servers": ["192.0.2.123"]}
    resp = admin.put("/api/settings", json=body, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["check"] is False and {"dnsmasq", "chrony"} <= set(info["tags"]), info["tags"]
    net = yaml.safe_load(config.state_file.read_text())["network"]
    assert net["dhcp_range"] == ["192.168.50.20", "192.168.50.90"] and net["dhcp_lease_time"] == "2h"
    assert net["ntp_servers"] == ["192.0.2.123"]
    got = admin.get("/api/settings").get_json()
    assert (got["dhcp_range"], got["dhcp_lease_time"]) == (body["dhcp_range"], "2h")
    assert got["ntp_servers"] == ["192.0.2.123"]
    # the roles read them: dnsmasq's dhcp-range line and chrony's sources come from these variables
    from pic_api.core import schema

    out = schema.state_to_vars(yaml.safe_load(config.state_file.read_text()))
    assert out["pic_dhcp_range"] == ["192.168.50.20", "192.168.50.90"] and out["pic_dhcp_lease_time"] == "2h"
    assert out["pic_ntp_servers"] == ["192.0.2.123"]


def test_lease_time_in_seconds_is_saved_as_dnsmasq_reads_it(app, admin, config):
    resp = admin.put("/api/settings", json={"dhcp_lease_time": 3600}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["tags"] == ["dnsmasq"], info["tags"]
    assert yaml.safe_load(config.state_file.read_text())["network"]["dhcp_lease_time"] == "3600"


def test_dhcp_preview_saves_nothing(app, admin, config, backend):
    before = config.state_file.read_text()
    resp = admin.put("/api/settings?preview=1", json={"dhcp_range": ["192.168.50.150", "192.168.50.250"],
                                                      "dhcp_lease_time": "1d"}, headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["check"] is True and info["tags"] == ["dnsmasq"], info
    assert config.state_file.read_text() == before
    proposed = yaml.safe_load(backend.runs[-1]["proposed"])["network"]
    assert proposed["dhcp_range"] == ["192.168.50.150", "192.168.50.250"] and proposed["dhcp_lease_time"] == "1d"


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({"dhcp_range": ["192.168.60.10", "192.168.60.20"]}, "dhcp_range", "inside the LAN subnet"),
        ({"dhcp_range": ["192.168.50.100", "192.168.51.20"]}, "dhcp_range", "inside the LAN subnet"),
        ({"dhcp_range": ["192.168.50.0", "192.168.50.20"]}, "dhcp_range", "inside the LAN subnet"),
        ({"dhcp_range": ["192.168.50.200", "192.168.50.100"]}, "dhcp_range", "after its end"),
        ({"dhcp_range": ["192.168.50.1", "192.168.50.20"]}, "dhcp_range", "LAN address"),
        ({"dhcp_range": ["192.168.50.300", "192.168.50.20"]}, "dhcp_range[0]", ""),
        ({"dhcp_range": ["192.168.50.10"]}, "dhcp_range", ""),
        ({"dhcp_range": "192.168.50.10-192.168.50.20"}, "dhcp_range", ""),
        ({"dhcp_lease_time": "1m"}, "dhcp_lease_time", "2m to 365d"),
        ({"dhcp_lease_time": "53w"}, "dhcp_lease_time", "2m to 365d"),
        ({"dhcp_lease_time": 60}, "dhcp_lease_time", ""),
        ({"dhcp_lease_time": "12x"}, "dhcp_lease_time", ""),
        ({"dhcp_lease_time": "0"}, "dhcp_lease_time", ""),
        ({"dhcp_lease_time": ""}, "dhcp_lease_time", ""),
        ({"ntp_servers": ["ntp_1.example.org"]}, "ntp_servers[0]", ""),
        ({"ntp_servers": ["-ntp.example.org"]}, "ntp_servers[0]", ""),
        ({"ntp_servers": ["192.0.2.1", "192.0.2.1"]}, "ntp_servers", ""),
    ],
)
@pytest.mark.parametrize("preview", [False, True])
def test_put_bad_dhcp_or_ntp(admin, config, backend, body, field, words, preview):
    before = config.state_file.read_text()
    runs = len(backend.runs)
    resp = admin.put("/api/settings" + ("?preview=1" if preview else ""), json=body, headers=csrf(admin))
    assert resp.status_code == 400, resp.get_json()
    fields = resp.get_json()["fields"]
    assert field in fields and words in fields[field], fields
    assert config.state_file.read_text() == before and len(backend.runs) == runs


def test_new_dhcp_range_must_leave_out_reservations(app, admin, config):
    resp = admin.post("/api/dhcp/reservations", json={"name": "tv", "mac": "52:54:00:00:00:01", "ip": "192.168.50.30"},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    before = config.state_file.read_text()
    for preview in ("", "?preview=1"):
        resp = admin.put("/api/settings" + preview, json={"dhcp_range": ["192.168.50.20", "192.168.50.40"]},
                         headers=csrf(admin))
        assert resp.status_code == 400 and "reserved for tv" in resp.get_json()["fields"]["dhcp_range"]
        assert config.state_file.read_text() == before
    # a range that leaves it out is fine
    resp = admin.put("/api/settings", json={"dhcp_range": ["192.168.50.31", "192.168.50.40"]}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])


def test_unchanged_range_with_a_reservation_inside_blocks_nothing(app, admin, config):
    # a reservation made inside the pool (allowed): sending the same range again with another change works
    resp = admin.post("/api/dhcp/reservations", json={"name": "tv", "mac": "52:54:00:00:00:01", "ip": "192.168.50.150"},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    current = admin.get("/api/settings").get_json()
    resp = admin.put("/api/settings", json={"dhcp_range": current["dhcp_range"], "timezone": "Etc/UTC"},
                     headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert yaml.safe_load(config.state_file.read_text())["cell"]["timezone"] == "Etc/UTC"


def test_a_state_with_a_lease_time_out_of_bounds_is_refused():
    from pic_api.core import schema

    for lease in ("1m", "366d"):
        state = {"version": 1, "cell": {"name": "home"}, "network": {"dhcp_lease_time": lease}}
        with pytest.raises(schema.StateError) as exc:
            schema.validate_state(state)
        assert "2m to 365d" in exc.value.fields["network.dhcp_lease_time"]
