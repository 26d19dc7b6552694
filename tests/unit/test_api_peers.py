import pytest
import yaml
from conftest import PEER_KEY, csrf, wait_run

from pic_api.core import wgkeys
from pic_api.managers.peers import client_config


def add(client, **body):
    return client.post("/api/peers", json=body, headers=csrf(client))


def test_list_empty(admin):
    assert admin.get("/api/peers").get_json() == {"peers": []}


def test_add_peer_with_generated_keys(app, admin, config, backend):
    resp = add(admin, name="phone", route="split")
    assert resp.status_code == 201
    body = resp.get_json()
    peer = body["peer"]
    assert peer["name"] == "phone" and peer["ip"] == "10.0.0.2" and peer["route"] == "split"
    assert wgkeys.is_valid_key(peer["public_key"])
    assert body["private_key_included"] is True
    config_text = body["config"]
    private = next(line.split(" = ", 1)[1] for line in config_text.splitlines() if line.startswith("PrivateKey"))
    assert wgkeys.public_key(private) == peer["public_key"]
    assert "Address = 10.0.0.2/32" in config_text
    assert "DNS = 10.0.0.1, home.cell" in config_text
    assert "Endpoint = vpn.example.org:51820" in config_text
    assert "AllowedIPs = 10.0.0.0/24, 192.168.50.0/24" in config_text
    cell_private = config.wg_private_key_file.read_text().strip()
    assert f"PublicKey = {wgkeys.public_key(cell_private)}" in config_text
    assert body["qr_svg"].lstrip().startswith("<?xml") and "<svg" in body["qr_svg"]
    # the private key is never kept: not in the state, its versions, or the run's events
    info = wait_run(app, body["run_id"])
    assert info["tags"] == ["firewall", "wireguard", "coredns", "dnsmasq"]  # site.yml order
    kept = [config.state_file, *config.state_dir.iterdir(), *config.run_dir.rglob("*")]
    for path in kept:
        if path.is_file():
            assert private not in path.read_text(errors="replace"), path
    assert admin.get("/api/peers").get_json()["peers"][0]["public_key"] == peer["public_key"]


def test_add_peer_with_own_public_key(admin, config):
    resp = add(admin, name="laptop", route="full", public_key=PEER_KEY)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["peer"]["public_key"] == PEER_KEY and body["private_key_included"] is False
    assert "\nPrivateKey" not in body["config"] and "AllowedIPs = 0.0.0.0/0" in body["config"]
    state = yaml.safe_load(config.state_file.read_text())
    assert state["peers"][0]["public_key"] == PEER_KEY


def test_addresses_are_allocated_once_and_holes_refilled(admin):
    for name in ("a1", "a2", "a3"):
        assert add(admin, name=name).status_code == 201
    assert admin.delete("/api/peers/a2", headers=csrf(admin)).status_code == 202
    ips = {p["name"]: p["ip"] for p in admin.get("/api/peers").get_json()["peers"]}
    assert ips == {"a1": "10.0.0.2", "a3": "10.0.0.4"}
    assert add(admin, name="a4").get_json()["peer"]["ip"] == "10.0.0.3"
    ips = {p["name"]: p["ip"] for p in admin.get("/api/peers").get_json()["peers"]}
    assert ips["a3"] == "10.0.0.4"


def test_get_peer(admin):
    add(admin, name="phone")
    assert admin.get("/api/peers/phone").get_json()["peer"]["name"] == "phone"
    assert admin.get("/api/peers/nope").status_code == 404


def test_duplicate_name_is_409(admin):
    assert add(admin, name="phone").status_code == 201
    resp = add(admin, name="phone")
    assert resp.status_code == 409 and "name" in resp.get_json()["fields"]


def test_duplicate_key_is_409(admin):
    assert add(admin, name="one", public_key=PEER_KEY).status_code == 201
    resp = add(admin, name="two", public_key=PEER_KEY)
    assert resp.status_code == 409 and "public_key" in resp.get_json()["fields"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "Bad Name"}, "name"),
        ({"name": "a;b"}, "name"),
        ({"name": "x\n"}, "name"),
        ({}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "route": "half"}, "route"),
        ({"name": "ok", "public_key": "short"}, "public_key"),
        ({"name": "ok", "public_key": 7}, "public_key"),
        ({"name": "ok", "ip": "10.0.0.9"}, "ip"),
    ],
)
def test_bad_input_is_400_and_nothing_stored(admin, config, body, field):
    before = config.state_file.read_text()
    resp = admin.post("/api/peers", json=body, headers=csrf(admin))
    assert resp.status_code == 400
    assert field in resp.get_json()["fields"]
    assert config.state_file.read_text() == before


def test_body_not_object(admin):
    resp = admin.post("/api/peers", data="[]", content_type="application/json", headers=csrf(admin))
    assert resp.status_code == 400


def test_delete_peer(app, admin, backend):
    add(admin, name="phone")
    resp = admin.delete("/api/peers/phone", headers=csrf(admin))
    assert resp.status_code == 202
    info = wait_run(app, resp.get_json()["run_id"])
    assert "wireguard" in info["tags"]
    assert admin.get("/api/peers").get_json()["peers"] == []


def test_delete_unknown_is_404(admin):
    resp = admin.delete("/api/peers/ghost", headers=csrf(admin))
    assert resp.status_code == 404 and resp.get_json()["error"]


def test_subnet_full_is_409(app, admin, config):
    # shrink the VPN to a /29: cell .1, peers .2-.6
    state = yaml.safe_load(config.state_file.read_text())
    state["network"]["vpn_subnet"] = "10.0.0.0/29"
    app.extensions["pic"].state.save(state)
    for i in range(5):
        assert add(admin, name=f"p{i}").status_code == 201
    assert add(admin, name="p9").status_code == 409


def test_cell_key_reused(admin, config):
    first = add(admin, name="one").get_json()["config"]
    second = add(admin, name="two").get_json()["config"]
    key = [line for line in first.splitlines() if line.startswith("PublicKey")]
    assert key and key == [line for line in second.splitlines() if line.startswith("PublicKey")]
    assert oct(config.wg_private_key_file.stat().st_mode & 0o777) == "0o600"


# -- Devices belong to people ------------------------------------------------------------------------
def allow_vpn(app, admin, services=("vpn",)):
    resp = admin.patch("/api/users/bob", json={"services": list(services)}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])


def test_a_member_adds_their_own_device_and_sees_only_theirs(app, admin, peer_client, config):
    assert add(admin, name="router").status_code == 201  # the admins' device
    allow_vpn(app, admin, ["mail"])
    resp = add(peer_client, name="bobphone")
    assert resp.status_code == 403 and "VPN" in resp.get_json()["error"]  # not allowed the VPN yet
    allow_vpn(app, admin)
    resp = add(peer_client, name="bobphone")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["peer"]["owner"] == "bob" and body["private_key_included"] is True
    assert [p["name"] for p in peer_client.get("/api/peers").get_json()["peers"]] == ["bobphone"]
    assert {p["name"] for p in admin.get("/api/peers").get_json()["peers"]} == {"router", "bobphone"}
    # another's device does not exist for a member: not read, changed, shown or deleted
    for method, path, body in (("get", "/api/peers/router", None), ("get", "/api/peers/router/config", None),
                               ("patch", "/api/peers/router", {"route": "full"}),
                               ("post", "/api/peers/router/keys", {}), ("delete", "/api/peers/router", None)):
        r = getattr(peer_client, method)(path, json=body, headers=csrf(peer_client))
        assert r.status_code == 404, (method, path, r.get_json())
    # their own: the route changes with the same keys, and it is removed
    r = peer_client.patch("/api/peers/bobphone", json={"route": "full"}, headers=csrf(peer_client))
    assert r.status_code == 200 and r.get_json()["peer"]["owner"] == "bob"
    r = peer_client.post("/api/peers/bobphone/keys", json={}, headers=csrf(peer_client))
    assert r.status_code == 200 and r.get_json()["private_key_included"] is True
    assert peer_client.delete("/api/peers/bobphone", headers=csrf(peer_client)).status_code == 202


def test_a_member_cannot_give_a_device_to_someone_else(app, admin, peer_client, config):
    allow_vpn(app, admin)
    before = config.state_file.read_text()
    resp = add(peer_client, name="gift", owner="admin")
    assert resp.status_code == 400 and "owner" in resp.get_json()["fields"]
    assert config.state_file.read_text() == before
    add(peer_client, name="mine")
    resp = peer_client.patch("/api/peers/mine", json={"owner": "admin"}, headers=csrf(peer_client))
    assert resp.status_code == 400 and "owner" in resp.get_json()["fields"]


def test_an_admin_gives_devices_to_people_who_exist_and_a_person_with_devices_stays(app, admin, peer_client, config):
    resp = add(admin, name="ghostphone", owner="ghost")
    assert resp.status_code == 400 and resp.get_json()["fields"] == {"owner": "not a user of the cell"}
    assert add(admin, name="bobtab", owner="bob").status_code == 201
    assert [p["name"] for p in peer_client.get("/api/peers").get_json()["peers"]] == ["bobtab"]
    assert add(admin, name="spare").status_code == 201
    r = admin.patch("/api/peers/spare", json={"owner": "bob"}, headers=csrf(admin))
    assert r.status_code == 200 and r.get_json()["peer"]["owner"] == "bob"
    # bob's devices would outlive him: deleting him is refused, naming them
    before = config.state_file.read_text()
    resp = admin.delete("/api/users/bob", headers=csrf(admin))
    assert resp.status_code == 409 and "bobtab, spare" in resp.get_json()["error"]
    assert config.state_file.read_text() == before


def test_a_split_devices_config_routes_the_linked_cells_subnets_into_its_tunnel():
    """A split device reaches the linked cells through this cell: their subnets are in its
    AllowedIPs after the cell's own; a full device routes everything already."""
    state = {"cell": {"domain": "home.cell"},
             "network": {"vpn_subnet": "10.0.0.0/24", "lan_subnet": "192.168.50.0/24", "wireguard_port": 51820},
             "links": [{"name": "away", "subnets": ["10.70.0.0/24"]},
                       {"name": "far", "subnets": ["10.71.0.0/24", "10.72.0.0/24"]}]}
    split = client_config({"name": "phone", "ip": "10.0.0.2", "route": "split"}, state, PEER_KEY, "vpn.example.org",
                          None)
    assert "AllowedIPs = 10.0.0.0/24, 192.168.50.0/24, 10.70.0.0/24, 10.71.0.0/24, 10.72.0.0/24\n" in split
    assert "DNS = 10.0.0.1, home.cell" in split  # the linked zones are answered by the cell's DNS
    full = client_config({"name": "laptop", "ip": "10.0.0.3", "route": "full"}, state, PEER_KEY, "vpn.example.org",
                         None)
    assert "AllowedIPs = 0.0.0.0/0\n" in full
    unlinked = client_config({"name": "phone", "ip": "10.0.0.2", "route": "split"}, {**state, "links": []}, PEER_KEY,
                             "vpn.example.org", None)
    assert "AllowedIPs = 10.0.0.0/24, 192.168.50.0/24\n" in unlinked
