import json

import pytest
import yaml
from conftest import csrf, wait_run


def test_services_health(admin):
    body = admin.get("/api/services").get_json()
    by_name = {s["name"]: s for s in body["services"]}
    assert set(by_name) == {"dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files"}
    assert by_name["dns"]["status"] == "ok" and by_name["dns"]["units"] == [{"name": "dnsmasq", "active": True}]
    assert by_name["ntp"]["status"] == "down"  # the fixture reports chrony inactive
    assert by_name["mail"]["status"] == "disabled" and by_name["mail"]["enabled"] is False
    assert by_name["calendar"]["ports"] == [{"port": 5232, "proto": "tcp", "open": True}]
    assert body["checked_at"]


def test_ca_root_missing_is_404(admin):
    resp = admin.get("/api/ca/root.pem")
    assert resp.status_code == 404 and "not been created" in resp.get_json()["error"]


def test_ca_root_served_without_login(app, admin, config):
    config.ca_root_file.parent.mkdir(parents=True, exist_ok=True)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config.ca_root_file.write_text(pem)
    anon = app.test_client()
    resp = anon.get("/api/ca/root.pem")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == pem
    assert resp.mimetype == "application/x-pem-file"


def test_logs_search_api_source(app, admin, config):
    import logging

    logging.getLogger("pic.test").warning("needle in the log")
    logging.getLogger("pic.test").info("other line")
    body = admin.get("/api/logs?q=needle").get_json()
    assert body["source"] == "api"
    assert [e["message"] for e in body["entries"]] == ["needle in the log"]
    levels = {e["level"] for e in admin.get("/api/logs?level=warning").get_json()["entries"]}
    assert levels and levels <= {"WARNING", "ERROR", "CRITICAL"}


def test_logs_are_json_lines_and_redact_secrets(app, admin, config):
    import logging

    logging.getLogger("pic.test").info("password=hunter2 token: abc")
    lines = config.log_file.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all("time" in e and "level" in e for e in entries)
    assert "hunter2" not in config.log_file.read_text()
    assert "correct horse" not in config.log_file.read_text()


def test_logs_search_service_journal(admin):
    body = admin.get("/api/logs?source=dns&q=bind").get_json()
    assert body["entries"] == [{"time": "2", "level": "ERROR", "unit": "dnsmasq", "message": "failed to bind"}]
    assert len(admin.get("/api/logs?source=dns&limit=1").get_json()["entries"]) == 1


@pytest.mark.parametrize(
    "query,field",
    [
        ("source=etc", "source"),
        ("level=loud", "level"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("q=a%0Ab", "q"),
        ("q=$(x)", "q"),
        ("foo=1", "foo"),
    ],
)
def test_logs_bad_query(admin, query, field):
    resp = admin.get(f"/api/logs?{query}")
    assert resp.status_code == 400 and field in resp.get_json()["fields"]


def test_users_crud(app, admin, config):
    assert [u["name"] for u in admin.get("/api/users").get_json()["users"]] == ["admin"]
    resp = admin.post(
        "/api/users",
        json={"name": "carol", "password": "carols password", "services": ["mail"]},
        headers=csrf(admin),
    )
    assert resp.status_code == 201
    assert resp.get_json()["user"] == {
        "name": "carol",
        "role": "peer",
        "services": ["mail"],
        "can_login": True,
        "mail_aliases": [],
        "mail_catch_all": False,
    }
    wait_run(app, resp.get_json()["run_id"])
    state = yaml.safe_load(config.state_file.read_text())
    assert state["users"][1]["password_hash"].startswith("$2b$")
    assert "carols password" not in config.state_file.read_text()
    assert (
        admin.post("/api/users", json={"name": "carol", "password": "x" * 10}, headers=csrf(admin)).status_code == 409
    )
    resp = admin.delete("/api/users/carol", headers=csrf(admin))
    assert resp.status_code == 202
    assert [u["name"] for u in admin.get("/api/users").get_json()["users"]] == ["admin"]
    assert admin.delete("/api/users/carol", headers=csrf(admin)).status_code == 404
    assert admin.delete("/api/users/admin", headers=csrf(admin)).status_code == 409


def test_users_list_never_shows_hashes(admin):
    assert "password_hash" not in json.dumps(admin.get("/api/users").get_json())


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "Bad", "password": "long enough"}, "name"),
        ({"name": "dave", "password": "short"}, "password"),
        ({"name": "dave", "password": "long enough", "role": "root"}, "role"),
        ({"name": "dave", "password": "long enough", "services": ["dns"]}, "services"),
        ({"name": "dave"}, "password"),
        ({"name": "dave", "password": "long enough", "x": 1}, "x"),
    ],
)
def test_users_bad_input(admin, body, field):
    resp = admin.post("/api/users", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"]


def test_state_get_masks_hashes(admin):
    body = admin.get("/api/state").get_json()
    assert body["version"] == 1
    assert body["state"]["users"][0]["password_hash"] == "********"
    assert body["state"]["cell"]["name"] == "home"


def test_versions_and_rollback(app, admin, config, backend):
    resp = admin.put("/api/settings", json={"timezone": "Etc/UTC"}, headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    versions = admin.get("/api/state/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["changed"] == [] and versions[1]["changed"] == ["cell.timezone"]
    # a preview: a check-mode run of version 1 that writes no version
    resp = admin.post("/api/state/versions/1/rollback?preview=1", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True and "version" not in resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["check"] is True and info["tags"] == ["common"]
    assert info["description"] == "preview: roll back to state version 1"
    assert [v["version"] for v in admin.get("/api/state/versions").get_json()["versions"]] == [1, 2]
    assert yaml.safe_load(config.state_file.read_text())["cell"]["timezone"] == "Etc/UTC"
    assert admin.post("/api/state/versions/99/rollback?preview=1", headers=csrf(admin)).status_code == 404
    resp = admin.post("/api/state/versions/1/rollback", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["version"] == 3 and resp.get_json()["preview"] is False
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["tags"] == ["common"]  # chrony keeps UTC: a time zone is not its input
    assert yaml.safe_load(config.state_file.read_text())["cell"]["timezone"] == "Europe/Berlin"
    assert admin.post("/api/state/versions/99/rollback", headers=csrf(admin)).status_code == 404
    assert admin.post("/api/state/versions/x/rollback", headers=csrf(admin)).status_code == 404


def test_unknown_api_path_is_json_404(admin):
    resp = admin.get("/api/does-not-exist")
    assert resp.status_code == 404 and resp.get_json()["error"]


def test_wrong_method_is_json_405(admin):
    resp = admin.patch("/api/peers", json={}, headers=csrf(admin))
    assert resp.status_code == 405 and resp.get_json()["error"]


def test_too_large_body(admin):
    resp = admin.post("/api/peers", data="x" * 100_000, content_type="application/json", headers=csrf(admin))
    assert resp.status_code == 413 and resp.get_json()["error"]


def test_openapi_covers_every_endpoint(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    assert len(documented) == sum(
        len(r.methods - {"HEAD", "OPTIONS"}) for r in app.url_map.iter_rules() if r.endpoint != "static"
    )


def test_only_the_expected_views_are_public(app):
    public = {
        name
        for name, view in app.view_functions.items()
        if name != "static" and getattr(view, "pic_access", "admin") == "public"
    }
    assert public == {
        "health.health",
        "setup.setup_status",
        "setup.setup_options",
        "setup.setup_apply",
        "setup.setup_check_code",
        "ddns.name_available",
        # the wizard's restore from a backup: the setup code to start it, the run's token to follow it
        "setup_restore.setup_restore",
        "setup_restore.setup_restore_events",
        "auth.login",
        "auth.logout",
        "ca.ca_root",
        "ca.ca_crl",
        "openapi.openapi",
        # peer-sync: authenticated by the linked cell's tunnel address and signature, not a session
        "peer_sync.peer_sync_share",
        "peer_sync.peer_sync_remove",
    }


def test_unexpected_error_is_json_500_without_details(app, admin, monkeypatch):
    def broken():
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.extensions["pic"].peers, "list", broken)
    resp = admin.get("/api/peers")
    assert resp.status_code == 500
    assert "secret detail" not in resp.get_data(as_text=True) and resp.get_json()["error"]


# ---- a failed change undoes itself ---------------------------------------------------------------
def timezone_of(config) -> str:
    return yaml.safe_load(config.state_file.read_text())["cell"]["timezone"]


def test_a_failed_change_goes_back_to_the_last_converged_version(app, admin, config, backend):
    backend.script = ["failed"]  # the change's converge fails, the undo's succeeds
    resp = admin.put("/api/settings", json={"timezone": "Etc/UTC"}, headers=csrf(admin))
    failed = wait_run(app, resp.get_json()["run_id"])
    assert failed["status"] == "failed" and failed["state_version"] == 2
    assert failed["undone_by"] and "undone: the cell goes back to state version 1" in failed["error"]
    undo = wait_run(app, failed["undone_by"])
    assert undo["status"] == "successful" and undo["undo_of"] == failed["id"] and undo["state_version"] == 3
    assert undo["tags"] == ["common"]  # the roles the failed change touched, converged again
    assert timezone_of(config) == "Europe/Berlin"
    assert [v["version"] for v in admin.get("/api/state/versions").get_json()["versions"]] == [1, 2, 3]
    # the failed run's last event says it was undone, as the page shows it
    events = list(app.extensions["pic"].runs.events(failed["id"]))
    assert "undone" in events[-1]["error"]


def test_an_undo_that_fails_is_not_undone_again(app, admin, config, backend):
    backend.script = ["failed", "failed"]
    resp = admin.put("/api/settings", json={"timezone": "Etc/UTC"}, headers=csrf(admin))
    failed = wait_run(app, resp.get_json()["run_id"])
    undo = wait_run(app, failed["undone_by"])
    assert undo["status"] == "failed" and undo["undone_by"] is None
    assert [r["id"] for r in backend.runs][-2:] == [failed["id"], undo["id"]]  # no third run
    assert timezone_of(config) == "Europe/Berlin"


def test_a_rollback_kept_if_it_fails_stays_for_repair(app, admin, config, backend):
    wait_run(app, admin.put("/api/settings", json={"timezone": "Etc/UTC"}, headers=csrf(admin)).get_json()["run_id"])
    backend.script = ["failed"]
    resp = admin.post("/api/state/versions/1/rollback", json={"keep_if_failed": True}, headers=csrf(admin))
    assert resp.status_code == 202
    failed = wait_run(app, resp.get_json()["run_id"])
    assert failed["status"] == "failed" and failed["undone_by"] is None
    assert timezone_of(config) == "Europe/Berlin"  # version 1's, kept although it did not converge
    bad = admin.post("/api/state/versions/1/rollback", json={"keep_if_failed": "yes"}, headers=csrf(admin))
    assert bad.status_code == 400 and "keep_if_failed" in bad.get_json()["fields"]


def test_a_failed_change_followed_by_a_newer_one_is_not_undone(app, admin, config, backend):
    import threading

    backend.gate, backend.script = threading.Event(), ["failed"]
    first = admin.put("/api/settings", json={"timezone": "Etc/UTC"}, headers=csrf(admin)).get_json()["run_id"]
    assert backend.started.wait(5)
    second = admin.put("/api/settings", json={"timezone": "Asia/Tokyo"}, headers=csrf(admin)).get_json()["run_id"]
    backend.gate.set()
    failed = wait_run(app, first)
    assert failed["undone_by"] is None and "not undone: a newer change follows it" in failed["error"]
    assert wait_run(app, second)["status"] == "successful"
    assert timezone_of(config) == "Asia/Tokyo"


def test_a_failed_run_of_no_change_is_not_undone(app, admin, backend):
    backend.script = ["failed"]
    resp = admin.post("/api/runs", json={"tags": ["dnsmasq"]}, headers=csrf(admin))
    failed = wait_run(app, resp.get_json()["run_id"])
    assert failed["status"] == "failed" and failed["undone_by"] is None and failed["error"] is None


# ---- verbose logs -------------------------------------------------------------------------------
def test_verbose_logs_converge_the_roles_that_log_them_and_the_api_at_once(app, admin, config, backend):
    import logging

    assert admin.get("/api/logs/verbosity").get_json() == {"verbose": [], "logs": ["dns", "dhcp", "mail", "api"]}
    resp = admin.put("/api/logs/verbosity", json={"verbose": ["mail", "dns"]}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["verbose"] == ["dns", "mail"]
    info = wait_run(app, resp.get_json()["run_id"])
    assert sorted(info["tags"]) == ["dnsmasq", "mailserver"]
    assert yaml.safe_load(config.state_file.read_text())["logs"] == {"verbose": ["dns", "mail"]}
    # the same again changes nothing and starts no run
    same = admin.put("/api/logs/verbosity", json={"verbose": ["dns", "mail"]}, headers=csrf(admin))
    assert same.status_code == 200 and same.get_json()["run_id"] is None

    assert logging.getLogger("pic").level == logging.INFO
    resp = admin.put("/api/logs/verbosity", json={"verbose": ["api"]}, headers=csrf(admin))
    assert logging.getLogger("pic").level == logging.DEBUG  # at once, before any run
    info = wait_run(app, resp.get_json()["run_id"])
    assert sorted(info["tags"]) == ["dnsmasq", "mailserver"]  # back to normal there
    resp = admin.put("/api/logs/verbosity", json={"verbose": ["api", "dhcp"]}, headers=csrf(admin))
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["dnsmasq"]
    wait_run(app, admin.put("/api/logs/verbosity", json={"verbose": ["api"]}, headers=csrf(admin)).get_json()["run_id"])
    resp = admin.put("/api/logs/verbosity", json={"verbose": []}, headers=csrf(admin))
    assert logging.getLogger("pic").level == logging.INFO
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["always"]  # no role reads the API's


def test_verbose_logs_refuse_what_may_not_be_verbose_and_change_nothing(app, admin, config):
    before = config.state_file.read_text()
    for body, field in (({"verbose": ["dns", "ntp"]}, "verbose[1]"), ({"verbose": "dns"}, "verbose"),
                        ({}, "verbose"), ({"verbose": ["dns", "dns"]}, "verbose")):
        resp = admin.put("/api/logs/verbosity", json=body, headers=csrf(admin))
        assert resp.status_code == 400 and field in resp.get_json()["fields"], (body, resp.get_json())
    assert config.state_file.read_text() == before
