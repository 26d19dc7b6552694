"""The WireGuard page's API: pic-agent's wg_status action (wg's dump parsed, its secrets dropped) and
GET /api/wireguard/status joining the running interface with the cell's devices."""

from __future__ import annotations

import json
import time

import pytest
from conftest import csrf, wait_run
from test_api_peers import add, allow_vpn

from pic_api.agent import actions
from pic_api.agent.protocol import AgentError, validate
from pic_api.managers.wgstatus import ONLINE_WINDOW

# keys made by wg genkey's algorithm (core.wgkeys), fixed so the tests' ids are the same in every worker
PRIVATE, PUBLIC = "yJeXOXwd26mMHQjXuqvJKBSJNkoiYmAesS5TsMrteH4=", "zI2LGZ+K9dDBY3bSNOn6M6untUw/uZvJCmiR9MEU4CI="
PEER_A = "i2oRQ7pq9ug0wP8wNXJCJqlDk9FJpR5kO5ms02ob8Vw="
PEER_B = "qHQ7Qjw824LifkVrW2JN34eFkoYoidSAVfKN5ACXb0M="
PSK = "6IGI0ObNhhpIYdlVULZ1x0FlNkODu+IlHKUvEFrXqEE="  # a preshared key: 32 random bytes, as a private key


def dump(peers: list[tuple[str, str, str, str, int, int, int]]) -> str:
    """What `wg show wg0 dump` prints (wireguard-tools' show.c): the interface line, then one per peer."""
    lines = [f"{PRIVATE}\t{PUBLIC}\t51820\toff"]
    for key, psk, endpoint, allowed, handshake, rx, tx in peers:
        lines.append(f"{key}\t{psk}\t{endpoint}\t{allowed}\t{handshake}\t{rx}\t{tx}\t25")
    return "\n".join(lines) + "\n"


SAMPLE = dump([
    (PEER_A, PSK, "198.51.100.7:51000", "10.0.0.2/32", 1764931200, 9340, 12876),
    (PEER_B, "(none)", "(none)", "(none)", 0, 0, 0),
])


# --- the parser ---------------------------------------------------------------------------------
def test_the_dump_is_parsed_column_by_column():
    assert actions.parse_wg_dump(SAMPLE) == {
        "interface": {"public_key": PUBLIC, "listen_port": 51820},
        "peers": [
            {"public_key": PEER_A, "endpoint": "198.51.100.7:51000", "allowed_ips": ["10.0.0.2/32"],
             "latest_handshake": 1764931200, "rx": 9340, "tx": 12876},
            {"public_key": PEER_B, "endpoint": "", "allowed_ips": [], "latest_handshake": 0, "rx": 0, "tx": 0},
        ],
    }


def test_an_ipv6_endpoint_and_several_allowed_ips_are_kept():
    text = dump([(PEER_A, "(none)", "[2001:db8::7]:51000", "10.0.0.2/32,fd00::2/128", 5, 1, 2)])
    peer = actions.parse_wg_dump(text)["peers"][0]
    assert peer["endpoint"] == "[2001:db8::7]:51000" and peer["allowed_ips"] == ["10.0.0.2/32", "fd00::2/128"]


def test_the_private_and_preshared_keys_are_never_in_the_answer():
    answer = json.dumps(actions.parse_wg_dump(SAMPLE))
    assert PRIVATE not in answer and PSK not in answer
    assert PUBLIC in answer and PEER_A in answer  # the public halves are what the page shows


@pytest.mark.parametrize("text", [
    "",
    "not a dump\n",
    f"{PRIVATE}\t{PUBLIC}\tport\toff\n",
    f"{PRIVATE}\t{PUBLIC}\t51820\toff\n{PEER_A}\t(none)\t(none)\n",
    f"{PRIVATE}\t{PUBLIC}\t51820\toff\n{PEER_A}\t(none)\t(none)\t10.0.0.2/32\tsoon\t0\t0\toff\n",
])
def test_what_is_not_a_dump_is_refused(text):
    with pytest.raises(actions.WgDumpError):
        actions.parse_wg_dump(text)


def fake_wg(tmp_path, script: str):
    """A `wg` that prints what the real one would, and records its arguments."""
    path = tmp_path / "wg"
    path.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv\n{script}\n")
    path.chmod(0o755)
    return str(path)


def test_the_action_runs_wg_show_dump_on_its_interface(tmp_path):
    (tmp_path / "dump").write_text(SAMPLE)
    wg = fake_wg(tmp_path, f"cat {tmp_path}/dump")
    result = actions.wg_status("wg0", wg)
    assert (tmp_path / "argv").read_text().split() == ["show", "wg0", "dump"]
    assert result["up"] is True and result["interface"]["public_key"] == PUBLIC and len(result["peers"]) == 2
    assert PRIVATE not in json.dumps(result) and PSK not in json.dumps(result)


def test_a_missing_interface_is_said_not_raised(tmp_path):
    wg = fake_wg(tmp_path, "echo 'Unable to access interface: No such device' >&2; exit 1")
    assert actions.wg_status("wg0", wg) == {"up": False,
                                             "reason": "interface wg0: Unable to access interface: No such device"}
    assert actions.wg_status("wg0", str(tmp_path / "no-wg"))["up"] is False


def test_the_agents_action_takes_no_arguments():
    assert validate({"action": "wg_status", "args": {}}, ()) == ("wg_status", {})
    with pytest.raises(AgentError) as err:
        validate({"action": "wg_status", "args": {"interface": "eth0"}}, ())
    assert err.value.fields == {"interface": "unexpected argument"}


# --- GET /api/wireguard/status --------------------------------------------------------------------
def peer_key(admin, name):
    return next(p["public_key"] for p in admin.get("/api/peers").get_json()["peers"] if p["name"] == name)


def live_with(app, peers):
    app.extensions["pic"].wireguard._live = lambda: {"up": True, **actions.parse_wg_dump(dump(peers))}


def test_the_admin_sees_every_device_and_who_is_online(app, admin):
    assert add(admin, name="phone").status_code == 201
    assert add(admin, name="laptop", route="full").status_code == 201
    now = int(time.time())
    live_with(app, [(peer_key(admin, "phone"), PSK, "198.51.100.7:51000", "10.0.0.2/32", now - 30, 9340, 12876),
                    (peer_key(admin, "laptop"), "(none)", "198.51.100.8:4500", "10.0.0.3/32",
                     now - ONLINE_WINDOW - 5, 100, 200)])
    resp = admin.get("/api/wireguard/status")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["up"] is True and body["online"] == 1 and body["total"] == 2
    assert body["online_window"] == ONLINE_WINDOW and abs(body["now"] - now) < 5
    phone, laptop = sorted(body["devices"], key=lambda d: d["name"], reverse=True)
    assert phone == {"name": "phone", "owner": "", "ip": phone["ip"], "route": "split",
                     "endpoint": "198.51.100.7:51000", "latest_handshake": now - 30, "rx": 9340, "tx": 12876,
                     "online": True}
    assert laptop["online"] is False and laptop["route"] == "full" and laptop["rx"] == 100
    assert body["interface"] == {"name": "wg0", "public_key": PUBLIC, "listen_port": 51820,
                                 "endpoint": "vpn.example.org:51820", "subnet": "10.0.0.0/24",
                                 "address": "10.0.0.1"}
    assert PRIVATE not in resp.get_data(as_text=True) and PSK not in resp.get_data(as_text=True)


def test_a_device_the_interface_does_not_know_is_offline(app, admin):
    assert add(admin, name="phone").status_code == 201
    live_with(app, [])
    device = admin.get("/api/wireguard/status").get_json()["devices"][0]
    assert device["online"] is False and device["latest_handshake"] == 0 and device["endpoint"] == ""


def test_a_member_sees_only_their_own_devices_and_no_interface(app, admin, peer_client):
    assert add(admin, name="router").status_code == 201
    allow_vpn(app, admin)
    assert add(peer_client, name="bobphone").status_code == 201
    now = int(time.time())
    live_with(app, [(peer_key(admin, "router"), "(none)", "198.51.100.9:1", "10.0.0.2/32", now, 1, 1),
                    (peer_key(admin, "bobphone"), "(none)", "198.51.100.7:2", "10.0.0.3/32", now - 10, 5, 6)])
    body = peer_client.get("/api/wireguard/status").get_json()
    assert [d["name"] for d in body["devices"]] == ["bobphone"]
    assert body["devices"][0]["online"] is True and body["devices"][0]["owner"] == "bob"
    assert (body["online"], body["total"]) == (1, 1)
    assert "interface" not in body
    assert admin.get("/api/wireguard/status").get_json()["total"] == 2


def test_no_interface_is_a_clear_answer_not_an_error(app, admin):
    assert add(admin, name="phone").status_code == 201
    app.extensions["pic"].wireguard._live = lambda: {"up": False, "reason": "interface wg0: No such device"}
    resp = admin.get("/api/wireguard/status")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["up"] is False and body["reason"] == "interface wg0: No such device"
    assert body["devices"][0]["online"] is False and body["online"] == 0
    assert body["interface"]["public_key"] == "" and body["interface"]["listen_port"] == 51820


def test_an_agent_that_cannot_answer_is_said(app, admin):
    def away():
        raise AgentError("the agent is away")

    app.extensions["pic"].wireguard._live = away
    body = admin.get("/api/wireguard/status").get_json()
    assert body["up"] is False and "the agent is away" in body["reason"]


def test_without_a_login_it_is_401(app, admin):
    other = app.test_client()
    assert other.get("/api/wireguard/status").status_code == 401


def test_a_removed_device_leaves_the_list(app, admin):
    assert add(admin, name="phone").status_code == 201
    live_with(app, [])
    resp = admin.delete("/api/peers/phone", headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    assert admin.get("/api/wireguard/status").get_json()["devices"] == []
