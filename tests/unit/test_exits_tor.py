"""The Tor exit in the API: a name and its kind, nothing to paste and no secret; anything a tor
exit has no use for refused by field, one per cell; its live state is tor's unit."""

import pytest
import yaml
from conftest import csrf, wait_run
from test_api_exits import SERVER, fake_tools

from pic_api.agent import actions
from pic_api.core import schema


def add_tor(client, name="onion", **more):
    return client.post("/api/exits", json={"name": name, "kind": "tor", **more}, headers=csrf(client))


def test_a_tor_exit_is_its_name_and_kind_only(app, admin, config):
    resp = add_tor(admin)
    assert resp.status_code == 202, resp.get_json()
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["exits"]
    state = yaml.safe_load(config.state_file.read_text())
    assert [{k: v for k, v in ex.items() if v != []} for ex in state["exits"]] == [{"name": "onion", "kind": "tor"}]
    assert not config.exits_dir.exists() or not any(config.exits_dir.iterdir())
    app.extensions["pic"].exits._live = lambda name, kind: {"unit": "active", "up": True}
    listed = admin.get("/api/exits").get_json()["exits"]
    assert listed[0]["kind"] == "tor" and listed[0]["keys_stored"] is True and listed[0]["live"]["up"] is True


@pytest.mark.parametrize(("more", "field"), [
    ({"config": "[Interface]\n"}, "config"),
    ({"username": "me"}, "username"),
    ({"password": "a password 1"}, "password"),
    ({"dns": ["10.0.0.9"]}, "dns"),
])
def test_what_a_tor_exit_has_no_use_for_is_refused_by_field(app, admin, config, more, field):
    resp = add_tor(admin, **more)
    assert resp.status_code == 400 and field in resp.get_json()["fields"], resp.get_json()
    assert admin.get("/api/exits").get_json() == {"exits": []}


def test_a_cell_has_one_tor_exit(app, admin):
    wait_run(app, add_tor(admin).get_json()["run_id"])
    resp = add_tor(admin, name="second")
    assert resp.status_code == 400 and "onion" in resp.get_json()["fields"]["kind"], resp.get_json()
    assert [ex["name"] for ex in admin.get("/api/exits").get_json()["exits"]] == ["onion"]


def test_a_wireguard_exit_still_needs_its_config(admin):
    resp = admin.post("/api/exits", json={"name": "home", "kind": "wireguard"}, headers=csrf(admin))
    assert resp.status_code == 400 and "config" in resp.get_json()["fields"], resp.get_json()


def test_a_device_on_the_tor_exit_reaches_the_exits_role(app, admin):
    wait_run(app, add_tor(admin).get_json()["run_id"])
    resp = admin.post("/api/peers", json={"name": "phone", "route": "full"}, headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    resp = admin.patch("/api/peers/phone", json={"exit": "onion"}, headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json()["peer"]["exit"] == "onion", resp.get_json()
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["exits"]
    assert admin.get("/api/exits/onion").get_json()["exit"]["devices"] == ["phone"]


def test_the_state_refuses_a_tor_exit_with_a_server_and_an_upstream_without_one():
    state = schema.default_state("home")
    state["exits"] = [{"name": "onion", "kind": "tor", "endpoint": "exit.example.net:51820"},
                      {"name": "home", "kind": "wireguard", "address": "10.66.66.2/32", "public_key": SERVER},
                      {"name": "again", "kind": "tor"}]
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    assert {"exits[0].endpoint", "exits[1].endpoint", "exits[2].kind"} <= set(err.value.fields), err.value.fields
    state["exits"] = [{"name": "onion", "kind": "tor"}]
    state["peers"] = [{"name": "phone", "public_key": SERVER, "ip": "10.0.0.2", "route": "full", "exit": "onion"}]
    out = schema.state_to_vars(state)
    assert out["pic_exits"] == [{"name": "onion", "kind": "tor"}]
    assert out["pic_exit_peers"] == [{"name": "phone", "ip": "10.0.0.2", "exit": "onion"}]


@pytest.mark.parametrize(("unit", "expected"), [
    ("active", {"unit": "active", "up": True}),
    ("inactive", {"unit": "inactive", "up": False, "reason": "unit tor@default.service is inactive"}),
])
def test_the_tor_exits_live_state_is_tors_unit(tmp_path, unit, expected):
    tools = fake_tools(tmp_path, "exit 1", unit)
    assert actions.exit_status("onion", "exit-", kind="tor", **tools) == expected
    assert (tmp_path / "systemctl.argv").read_text().split() == ["is-active", "tor@default.service"]
