"""Every kind of change can be previewed: ?preview=1 on a peer's or a person's add, change and removal
queues the check-mode run of the state it would make and saves, applies and logs in nothing."""

import pytest
import yaml
from conftest import csrf, wait_run
from test_api_exits import CONFIG as WG_CONFIG
from test_api_exits import PRIVATE
from test_exits_openvpn import CONFIG as OVPN_CONFIG
from test_exits_openvpn import PASSWORD


def snapshot(app, config):
    pic = app.extensions["pic"]
    return config.state_file.read_text(), pic.state.current_version(), pic.auth.accounts()


def proposed_state(app, body, backend):
    """The state the preview's check-mode run was given, after checking the run is a preview."""
    info = wait_run(app, body["run_id"])
    assert info["kind"] == "preview" and info["check"] is True
    run = next(r for r in backend.runs if r["id"] == body["run_id"])
    assert run["check"] is True
    return yaml.safe_load(run["proposed"]), info


def test_a_peer_add_previewed_is_neither_saved_nor_applied(app, admin, config, backend):
    before = snapshot(app, config)
    resp = admin.post("/api/peers?preview=1", json={"name": "tablet", "route": "full"}, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    # no configuration, no key, nothing applied to the running cell: only the preview's run
    assert set(body) == {"run_id", "preview"} and body["preview"] is True
    proposed, info = proposed_state(app, body, backend)
    assert [p["name"] for p in proposed["peers"]] == ["tablet"] and proposed["peers"][0]["route"] == "full"
    assert "wireguard" in info["tags"]
    assert snapshot(app, config) == before
    assert admin.get("/api/peers").get_json() == {"peers": []}


def test_a_peer_change_and_removal_previewed_change_nothing(app, admin, config, backend):
    resp = admin.post("/api/peers", json={"name": "phone"}, headers=csrf(admin))
    assert resp.status_code == 201
    wait_run(app, resp.get_json()["run_id"])
    before = snapshot(app, config)
    resp = admin.patch("/api/peers/phone?preview=1", json={"route": "full"}, headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert proposed["peers"][0]["route"] == "full"
    resp = admin.delete("/api/peers/phone?preview=1", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json() == {"run_id": resp.get_json()["run_id"], "preview": True}
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert proposed["peers"] == []
    assert snapshot(app, config) == before
    assert admin.get("/api/peers/phone").get_json()["peer"]["route"] == "split"


def test_a_person_added_changed_and_removed_in_preview_only(app, admin, peer_client, config, backend):
    before = snapshot(app, config)
    resp = admin.post("/api/users?preview=1", json={"name": "carol", "password": "carols password 1"},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert "carol" in [u["name"] for u in proposed["users"]]
    resp = admin.patch("/api/users/bob?preview=1", json={"role": "admin"}, headers=csrf(admin))
    assert resp.status_code == 202
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert next(u for u in proposed["users"] if u["name"] == "bob")["role"] == "admin"
    resp = admin.delete("/api/users/bob?preview=1", headers=csrf(admin))
    assert resp.status_code == 202
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert "bob" not in [u["name"] for u in proposed["users"]]
    # no login made for carol, bob still a member with his session
    assert snapshot(app, config) == before
    assert peer_client.get("/api/auth/me").get_json()["user"]["role"] == "peer"


@pytest.mark.parametrize(
    "method,path,body,status,field",
    [
        ("post", "/api/peers", {"name": "bad name!"}, 400, "name"),
        ("post", "/api/users", {"name": "dora", "password": "x"}, 400, "password"),
        ("patch", "/api/users/bob", {"services": ["mail", "web"]}, 400, "services[1]"),
        ("patch", "/api/users/nobody", {"role": "admin"}, 404, None),
        ("delete", "/api/users/admin", None, 409, None),
    ],
)
def test_a_bad_change_is_refused_in_preview_as_it_would_be(app, admin, peer_client, config, method, path, body,
                                                           status, field):
    """The preview checks the change as applying it would: the same status and the same field."""
    before = snapshot(app, config)
    refused_alike(app, admin, method, path, body, status, field)
    assert snapshot(app, config) == before


def refused_alike(app, admin, method, path, body, status, field) -> None:
    """The request with ?preview=1 and without: the same status and field each time, no run queued."""
    queued = len(app.extensions["pic"].runs.list())
    kwargs = {"json": body} if body is not None else {}
    for query in ("?preview=1", ""):
        resp = getattr(admin, method)(path + query, headers=csrf(admin), **kwargs)
        assert resp.status_code == status, (query, resp.get_json())
        if field is not None:
            assert field in resp.get_json()["fields"], resp.get_json()
    assert len(app.extensions["pic"].runs.list()) == queued


def test_a_preview_flag_other_than_0_or_1_is_400(admin):
    resp = admin.post("/api/peers?preview=yes", json={"name": "tablet"}, headers=csrf(admin))
    assert resp.status_code == 400 and "preview" in resp.get_json()["fields"]
    assert admin.get("/api/peers").get_json() == {"peers": []}


def test_only_an_admin_previews_a_peer_change(app, admin, peer_client, config):
    """A preview's run shows the whole cell's diffs, which only an admin reads."""
    before = snapshot(app, config)
    resp = peer_client.post("/api/peers?preview=1", json={"name": "bobs-phone"}, headers=csrf(peer_client))
    assert resp.status_code == 403, resp.get_json()
    assert snapshot(app, config) == before


RECORD = {"name": "nas", "type": "A", "value": "192.168.50.9"}
RESERVATION = {"name": "tv", "mac": "52:54:00:00:00:01", "ip": "192.168.50.30"}
OPENING = {"port": 3000, "protocol": "tcp", "zones": ["lan"]}
FORWARD = {"protocol": "tcp", "port": 8080, "to": "192.168.50.20", "to_port": 80, "zones": ["vpn"]}


@pytest.mark.parametrize(
    "path,body,section,delete",
    [
        ("/api/dns/records", RECORD, "dns_records", None),
        ("/api/dhcp/reservations", RESERVATION, "dhcp_reservations", "/api/dhcp/reservations/52:54:00:00:00:01"),
        ("/api/firewall/openings", OPENING, "firewall_openings", "/api/firewall/openings/tcp-3000"),
        ("/api/firewall/forwards", FORWARD, "port_forwards", "/api/firewall/forwards/tcp-8080"),
    ],
)
def test_network_services_and_firewall_changes_previewed(app, admin, config, backend, path, body, section, delete):
    """Adding and removing a DNS record, a reservation, an opening or a forward: the preview's run is
    given the state with (or without) it, and the cell's state stays as it was."""
    before = snapshot(app, config)
    resp = admin.post(path + "?preview=1", json=body, headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True, resp.get_json()
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert len(proposed["network"][section]) == 1
    assert snapshot(app, config) == before
    # made for real, then its removal previewed
    resp = admin.post(path, json=body, headers=csrf(admin))
    assert resp.status_code == 202 and "preview" not in resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    made = snapshot(app, config)
    if delete is None:
        delete = f"{path}/{admin.get(path).get_json()['records'][0]['id']}"
    resp = admin.delete(delete + "?preview=1", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True, resp.get_json()
    proposed, _ = proposed_state(app, resp.get_json(), backend)
    assert proposed["network"][section] == []
    assert snapshot(app, config) == made
    # a bad one is refused in the preview as it would be when made
    bad_body = {**body, "zones": ["moon"]} if "zones" in body else {**body, "name": "-"}
    bad = admin.post(path + "?preview=1", json=bad_body, headers=csrf(admin))
    assert bad.status_code == 400, bad.get_json()


EXITS = [
    {"name": "home", "config": WG_CONFIG},
    {"name": "ovpn", "kind": "openvpn", "config": OVPN_CONFIG, "username": "me", "password": PASSWORD},
    {"name": "onion", "kind": "tor"},
]


def secret_files(config):
    return sorted(p.name for p in config.exits_dir.iterdir()) if config.exits_dir.exists() else []


@pytest.mark.parametrize("body", EXITS, ids=[e.get("kind", "wireguard") for e in EXITS])
def test_an_exit_added_and_removed_in_preview_only(app, admin, config, backend, body):
    """The preview's run converges the exits role with the exit added (or removed); no version is
    saved and no key or credential file is written (or removed): that happens only when applied."""
    before = snapshot(app, config)
    resp = admin.post("/api/exits?preview=1", json=body, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json() == {"run_id": resp.get_json()["run_id"], "preview": True}
    proposed, info = proposed_state(app, resp.get_json(), backend)
    assert [e["name"] for e in proposed["exits"]] == [body["name"]] and "exits" in info["tags"]
    assert PRIVATE not in yaml.safe_dump(proposed) and PASSWORD not in yaml.safe_dump(proposed)
    assert snapshot(app, config) == before and secret_files(config) == []
    assert admin.get("/api/exits").get_json() == {"exits": []}
    # added for real, then its removal previewed: the files stay
    resp = admin.post("/api/exits", json=body, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    made, files = snapshot(app, config), secret_files(config)
    resp = admin.delete(f"/api/exits/{body['name']}?preview=1", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True, resp.get_json()
    proposed, info = proposed_state(app, resp.get_json(), backend)
    assert proposed["exits"] == [] and "exits" in info["tags"]
    assert snapshot(app, config) == made and secret_files(config) == files


@pytest.mark.parametrize(
    "method,path,body,status,field",
    [
        ("post", "/api/exits", {"name": "wg2", "config": WG_CONFIG.replace(PRIVATE, "not-a-key")}, 400,
         "config.PrivateKey"),
        ("post", "/api/exits", {"name": "Bad!", "config": WG_CONFIG}, 400, "name"),
        ("post", "/api/exits", {"name": "tor2", "kind": "tor"}, 400, "kind"),
        ("post", "/api/exits", {"name": "home", "config": WG_CONFIG}, 409, "name"),
        ("delete", "/api/exits/home", None, 409, "name"),
        ("delete", "/api/exits/nowhere", None, 404, None),
    ],
)
def test_a_bad_exit_change_is_refused_in_preview_as_it_would_be(app, admin, config, method, path, body, status,
                                                                field):
    """The same status and field as the change itself, nothing queued, saved or written."""
    for made in ({"name": "home", "config": WG_CONFIG}, {"name": "onion", "kind": "tor"}):
        resp = admin.post("/api/exits", json=made, headers=csrf(admin))
        wait_run(app, resp.get_json()["run_id"])
    resp = admin.post("/api/peers", json={"name": "phone", "route": "full"}, headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    resp = admin.patch("/api/peers/phone", json={"exit": "home"}, headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    before, files = snapshot(app, config), secret_files(config)
    refused_alike(app, admin, method, path, body, status, field)
    assert snapshot(app, config) == before and secret_files(config) == files
