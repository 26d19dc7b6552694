"""Cell-to-cell links: an invitation made on one cell, redeemed on another, the answer accepted on
the first; each refusal a 400 naming the field with nothing saved; keys only in 0600 files."""

import base64
import json
import stat
import time

import pytest
import yaml
from conftest import ROOT, SETUP, FakeBackend, csrf, no_network, wait_run, with_code

from pic_api.app import create_app
from pic_api.config import Config
from pic_api.core import links, schema, wgkeys

REMOTE_SUBNET = "10.77.3.0/24"


def make_cell(tmp_path, name: str, vpn_subnet: str):
    """Another cell of the test: its own files, setup done, an admin logged in."""
    conf = Config.under(tmp_path / name, project_dir=ROOT, wg_endpoint=f"{name}.example.org", health_interval=0,
                        bcrypt_rounds=4, scrypt_n=1024, runner="none")
    conf.seed_file.parent.mkdir(parents=True, exist_ok=True)
    conf.seed_file.write_text(f"network:\n  vpn_subnet: {vpn_subnet}\n")
    app = create_app(conf, backend=FakeBackend(), start_threads=False)
    app.testing = True
    no_network(app)
    client = app.test_client()
    resp = client.post("/api/setup", json=with_code(client, {**SETUP, "cell_name": name}))
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    return app, client


@pytest.fixture
def remote(tmp_path):
    return make_cell(tmp_path, "remote", REMOTE_SUBNET)


def post(client, path, body):
    return client.post(path, json=body, headers=csrf(client))


def invite(client, **body):
    resp = post(client, "/api/cells/invitations", body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def state(app):
    return yaml.safe_load(app.extensions["pic"].config.state_file.read_text())


def links_dir(app):
    return app.extensions["pic"].config.links_dir


def refused(resp, field):
    assert resp.status_code == 400, resp.get_json()
    assert field in resp.get_json()["fields"], resp.get_json()
    return resp.get_json()["fields"][field]


def test_invite_redeem_accept_links_both_cells(app, admin, remote):
    rapp, rclient = remote
    made = invite(admin, services=["calendar"], endpoint="198.51.100.4")
    offer = links.open_token(made["token"], "invitation")
    assert offer["cell"]["name"] == "home" and offer["cell"]["zone"] == "home.cell"
    assert offer["subnets"] == ["10.0.0.0/24"] and offer["dns"] == "10.0.0.1" and offer["services"] == ["calendar"]
    assert offer["endpoint"] == "198.51.100.4:51821" and offer["nonce"] == made["nonce"]

    resp = post(rclient, "/api/cells/links", {"token": made["token"], "services": ["files", "mail"],
                                              "endpoint": "203.0.113.8"})
    assert resp.status_code == 202, resp.get_json()
    redeemed = resp.get_json()
    wait_run(rapp, redeemed["run_id"])
    on_remote = state(rapp)["links"]
    assert [(ln["name"], ln["zone"], ln["subnets"], ln["grants"], ln["offered"], ln["port"]) for ln in on_remote] == [
        ("home", "home.cell", ["10.0.0.0/24"], ["files", "mail"], ["calendar"], 51821)]
    assert on_remote[0]["public_key"] == offer["public_key"]

    resp = post(admin, "/api/cells/links/accept", {"token": redeemed["answer"]})
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    (link,) = state(app)["links"]
    assert (link["name"], link["zone"], link["subnets"], link["dns"]) == ("remote", "remote.cell", [REMOTE_SUBNET],
                                                                        "10.77.3.1")
    assert (link["grants"], link["offered"], link["port"]) == (["calendar"], ["files", "mail"], 51821)
    assert link["endpoint"] == "203.0.113.8:51821"

    # each end has its own key, 0600, in the links directory; never in the state
    for cell_app, other in ((app, link), (rapp, on_remote[0])):
        key = links_dir(cell_app) / f"{other['cell_id']}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().strip() not in json.dumps(state(cell_app))
        assert stat.S_IMODE((links_dir(cell_app) / "cell.ed25519").stat().st_mode) == 0o600
    # the two ends' keys pair up: each end's configured peer key is the other's public key
    assert wgkeys.public_key((links_dir(app) / f"{link['cell_id']}.key").read_text().strip()) == on_remote[0][
        "public_key"]
    assert wgkeys.public_key((links_dir(rapp) / f"{on_remote[0]['cell_id']}.key").read_text().strip()) == link[
        "public_key"]

    # the roles' inputs
    (var,) = schema.state_to_vars(state(app))["pic_links"]
    assert var["interface"] == "cl-" + link["cell_id"][:12] and var["grants"] == ["calendar"]
    assert "signing_key" not in var and "offered" not in var

    listed = admin.get("/api/cells/links").get_json()
    assert listed["links"][0]["keys_stored"] is True and listed["invitations"] == []

    # the linked cell forwards home.cell here: no rename while it does
    resp = admin.put("/api/settings", json={"cell_name": "attic"}, headers=csrf(admin))
    assert resp.status_code == 409, resp.get_json()
    assert resp.get_json()["fields"]["cell_name"].startswith("this cell is known as home to linked cell remote:")
    assert state(app)["cell"]["name"] == "home"

    # removing the link removes its key
    resp = admin.delete(f"/api/cells/links/{link['cell_id']}", headers=csrf(admin))
    assert resp.status_code == 202
    wait_run(app, resp.get_json()["run_id"])
    assert state(app)["links"] == [] and not (links_dir(app) / f"{link['cell_id']}.key").exists()


def nothing_saved(app, before):
    assert state(app).get("links", []) == before
    assert not list(links_dir(app).glob("[0-9a-f]*.key"))


def test_an_expired_invitation_is_refused(app, admin, remote, monkeypatch):
    rapp, rclient = remote
    made = invite(admin, hours=1)
    clock = rapp.extensions["pic"].links.clock
    monkeypatch.setattr(rapp.extensions["pic"].links, "clock", lambda: clock() + 3601)
    assert "expired" in refused(post(rclient, "/api/cells/links", {"token": made["token"]}), "token.expires")
    nothing_saved(rapp, [])


def resign(token: str, change, key=None) -> str:
    """The token with its payload changed, keeping its signature (``key``: signed again with it)."""
    _, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    change(payload)
    if key is not None:
        return links.sign(payload, key)
    new = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"{links.PREFIX}.{new}.{sig}"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(subnets=["10.99.0.0/24"]),
        lambda p: p.update(expires=p["expires"] + 10**6),
        lambda p: p.update(services=["calendar", "files", "mail"]),
        lambda p: p.update(endpoint="203.0.113.9:51821"),
    ],
)
def test_a_tampered_invitation_is_refused(app, admin, remote, change):
    rapp, rclient = remote
    token = resign(invite(admin)["token"], change)
    assert "altered" in refused(post(rclient, "/api/cells/links", {"token": token}), "token.signature")
    nothing_saved(rapp, [])


def test_a_token_signed_by_another_key_under_this_cells_id_is_refused(app, admin, remote):
    """Signed again with another key and that key's public half put in: the id no longer matches."""
    rapp, rclient = remote
    other = links.signing_key(links.new_signing_key())
    token = resign(invite(admin)["token"], lambda p: p.update(signing_key=links.public_key(other)), key=other)
    refused(post(rclient, "/api/cells/links", {"token": token}), "token.cell.id")
    nothing_saved(rapp, [])


@pytest.mark.parametrize("token", ["", "hello", "pic-link1.abc", "pic-link1.%%%.%%%", "pic-link1.e30.AAAA"])
def test_a_token_that_is_not_one_is_refused(remote, token):
    rapp, rclient = remote
    resp = post(rclient, "/api/cells/links", {"token": token})
    assert resp.status_code == 400 and any(k.startswith("token") for k in resp.get_json()["fields"]), resp.get_json()
    nothing_saved(rapp, [])


def test_a_replayed_invitation_is_refused(app, admin, remote, tmp_path):
    rapp, rclient = remote
    made = invite(admin)
    resp = post(rclient, "/api/cells/links", {"token": made["token"]})
    assert resp.status_code == 202
    wait_run(rapp, resp.get_json()["run_id"])
    answer = resp.get_json()["answer"]
    before = state(rapp)["links"]
    # the same token again, on the same cell: linked already; after removing the link: used already
    refused(post(rclient, "/api/cells/links", {"token": made["token"]}), "token.cell")
    gone = rclient.delete(f"/api/cells/links/{before[0]['cell_id']}", headers=csrf(rclient))
    wait_run(rapp, gone.get_json()["run_id"])
    assert "single use" in refused(post(rclient, "/api/cells/links", {"token": made["token"]}), "token.nonce")
    assert state(rapp)["links"] == []
    # the answer accepted once; again: the invitation is no longer open
    assert post(admin, "/api/cells/links/accept", {"token": answer}).status_code == 202
    linked = state(app)["links"]
    wait_run(app, admin.delete(f"/api/cells/links/{linked[0]['cell_id']}", headers=csrf(admin)).get_json()["run_id"])
    refused(post(admin, "/api/cells/links/accept", {"token": answer}), "token.invitation")
    nothing_saved(app, [])


def test_overlapping_subnets_are_refused(app, admin, tmp_path):
    """A cell with the same VPN subnet (10.0.0.0/24, as every cell had before subnets were picked)."""
    twin_app, twin = make_cell(tmp_path, "twin", "10.0.0.0/24")
    field = refused(post(twin, "/api/cells/links", {"token": invite(admin)["token"]}), "token.subnets")
    assert "10.0.0.0/24 overlaps this cell's VPN subnet" in field
    nothing_saved(twin_app, [])
    # and a subnet inside another link's
    narrow_app, narrow = make_cell(tmp_path, "narrow", "10.0.0.0/25")
    refused(post(narrow, "/api/cells/links", {"token": invite(admin)["token"]}), "token.subnets")


def test_linking_to_itself_is_refused(app, admin):
    token = invite(admin)["token"]
    assert "itself" in refused(post(admin, "/api/cells/links", {"token": token}), "token.cell")
    nothing_saved(app, [])


def test_an_invitation_is_not_an_answer_and_an_answer_must_be_to_this_cell(app, admin, remote, tmp_path):
    rapp, rclient = remote
    made = invite(admin)
    refused(post(admin, "/api/cells/links/accept", {"token": made["token"]}), "token.kind")
    resp = post(rclient, "/api/cells/links", {"token": made["token"]})
    answer = resp.get_json()["answer"]
    third_app, third = make_cell(tmp_path, "third", "10.55.0.0/24")
    refused(post(third, "/api/cells/links/accept", {"token": answer}), "token.to")
    nothing_saved(third_app, [])


def test_an_answer_after_the_invitation_expired_is_refused(app, admin, remote, monkeypatch):
    rapp, rclient = remote
    made = invite(admin, hours=1)
    answer = post(rclient, "/api/cells/links", {"token": made["token"]}).get_json()["answer"]
    clock = app.extensions["pic"].links.clock
    monkeypatch.setattr(app.extensions["pic"].links, "clock", lambda: clock() + 3601)
    refused(post(admin, "/api/cells/links/accept", {"token": answer}), "token.invitation")
    nothing_saved(app, [])


@pytest.mark.parametrize(
    ("body", "field"),
    [({"services": ["ssh"]}, "services[0]"), ({"hours": 0}, "hours"), ({"endpoint": "a b"}, "endpoint"),
     ({"bogus": 1}, "bogus")],
)
def test_a_bad_invitation_request_is_refused(admin, body, field):
    refused(post(admin, "/api/cells/invitations", body), field)


def test_links_are_admin_only(app, peer_client):
    assert peer_client.post("/api/cells/invitations", json={}, headers=csrf(peer_client)).status_code == 403
    assert peer_client.get("/api/cells/links").status_code == 403


def test_the_state_refuses_overlapping_links_and_shared_ports():
    base = schema.apply_defaults({"version": 1, "cell": {"name": "home"}, "network": {"vpn_subnet": "10.0.0.0/24"}})
    link = {"name": "b", "cell_id": "0123456789abcdef", "zone": "b.cell", "signing_key": "A" * 43 + "=",
            "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "endpoint": "b.example.org:51821",
            "subnets": ["10.70.0.0/24"], "dns": "10.70.0.1", "port": 51821}
    schema.validate_state({**base, "links": [link]})
    with pytest.raises(schema.StateError) as err:
        schema.validate_state({**base, "links": [link, {**link, "cell_id": "fedcba9876543210", "name": "c"}]})
    assert set(err.value.fields) == {"links[1].port", "links[1].subnets[0]"}
    with pytest.raises(schema.StateError) as err:
        schema.validate_state({**base, "links": [{**link, "subnets": ["10.0.0.128/25"], "port": 51820}]})
    assert set(err.value.fields) == {"links[0].port", "links[0].subnets[0]"}


def linked_pair(app, admin, remote, offered=("calendar",), granted=("calendar", "files")):
    """Home invites remote, remote redeems granting ``granted``, home accepts: both ends linked."""
    rapp, rclient = remote
    made = invite(admin, services=list(offered))
    resp = post(rclient, "/api/cells/links", {"token": made["token"], "services": list(granted)})
    assert resp.status_code == 202, resp.get_json()
    wait_run(rapp, resp.get_json()["run_id"])
    accepted = post(admin, "/api/cells/links/accept", {"token": resp.get_json()["answer"]})
    assert accepted.status_code == 202, accepted.get_json()
    wait_run(app, accepted.get_json()["run_id"])
    return state(app)["links"][0], state(rapp)["links"][0]


def put(client, path, body):
    return client.put(path, json=body, headers=csrf(client))


def test_a_links_grants_change_in_place_and_converge_the_firewall(app, admin, remote, backend):
    """Revoking and granting keep the link (same keys, port, peer); the run converges the link's roles."""
    home_link, _ = linked_pair(app, admin, remote)
    assert home_link["grants"] == ["calendar"]
    key = (links_dir(app) / f"{home_link['cell_id']}.key").read_text()
    resp = put(admin, f"/api/cells/links/{home_link['cell_id']}", {"grants": ["mail", "files"]})
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["link"]["grants"] == ["files", "mail"]  # the schema's order, whatever was sent
    wait_run(app, resp.get_json()["run_id"])
    (link,) = state(app)["links"]
    assert link == {**home_link, "grants": ["files", "mail"]}
    assert (links_dir(app) / f"{home_link['cell_id']}.key").read_text() == key
    # the roles that read the links converge (derived, as for any change of them): the firewall's chain
    # closes the ports, caddy's sites answer 403 to the link for the services no longer granted; the
    # DNS servers read the links too (either one serves, the other stops itself)
    assert sorted(backend.runs[-1]["tags"]) == ["caddy", "cell_link", "coredns", "dnsmasq", "firewall"], \
        backend.runs[-1]
    (var,) = schema.state_to_vars(state(app))["pic_links"]
    assert var["grants"] == ["files", "mail"]
    # everything revoked: the link stays, granting nothing
    resp = put(admin, f"/api/cells/links/{home_link['cell_id']}", {"grants": []})
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert state(app)["links"] == [{**home_link, "grants": []}]
    assert admin.get("/api/cells/links").get_json()["links"][0]["grants"] == []


def test_a_grants_change_previewed_saves_nothing(app, admin, remote, backend):
    """?preview=1: the check-mode run of the state with the new grants; the link keeps its grants."""
    home_link, _ = linked_pair(app, admin, remote)
    before = state(app)
    resp = put(admin, f"/api/cells/links/{home_link['cell_id']}?preview=1", {"grants": ["files"]})
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json() == {"run_id": resp.get_json()["run_id"], "preview": True}
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["kind"] == "preview" and info["check"] is True
    run = next(r for r in backend.runs if r["id"] == resp.get_json()["run_id"])
    (proposed,) = yaml.safe_load(run["proposed"])["links"]
    assert proposed["grants"] == ["files"]
    assert state(app) == before
    # refused as the change itself would be: the same status and field
    refused(put(admin, f"/api/cells/links/{home_link['cell_id']}?preview=1", {"grants": ["ssh"]}), "grants[0]")
    assert put(admin, "/api/cells/links/0123456789abcdef?preview=1", {"grants": []}).status_code == 404
    assert state(app) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "grants"), ({"grants": ["ssh"]}, "grants[0]"), ({"grants": "calendar"}, "grants"),
     ({"grants": ["mail", "mail"]}, "grants"), ({"grants": [], "port": 1}, "port"), ([], "body")],
)
def test_a_bad_grants_change_is_refused_and_nothing_saved(app, admin, remote, body, field):
    home_link, _ = linked_pair(app, admin, remote)
    before = state(app)["links"]
    refused(put(admin, f"/api/cells/links/{home_link['cell_id']}", body), field)
    assert state(app)["links"] == before


def test_grants_of_no_link_are_not_found_and_admin_only(app, admin, peer_client):
    resp = put(admin, "/api/cells/links/0123456789abcdef", {"grants": ["calendar"]})
    assert resp.status_code == 404, resp.get_json()
    assert state(app).get("links", []) == []
    assert put(peer_client, "/api/cells/links/0123456789abcdef", {"grants": []}).status_code == 403


# --- a link's live state: pic-agent's link_status, GET /api/cells/links' "live" --------------------
def test_link_status_reads_the_links_unit_and_tunnel_as_an_exits_without_a_key(tmp_path):
    from test_api_exits import DUMP, PRIVATE, PSK, fake_tools

    from pic_api.agent import actions

    (tmp_path / "dump").write_text(DUMP)
    tools = fake_tools(tmp_path, f"cat {tmp_path}/dump", "active")
    result = actions.link_status("0123456789abcdef", **tools)
    assert (tmp_path / "wg.argv").read_text().split() == ["show", "cl-0123456789ab", "dump"]
    assert (tmp_path / "systemctl.argv").read_text().split() == ["is-active", "wg-quick@cl-0123456789ab.service"]
    assert result == {"unit": "active", "up": True, "endpoint": "198.51.100.20:51820",
                      "latest_handshake": 1764931200, "rx": 9340, "tx": 12876}
    assert PRIVATE not in json.dumps(result) and PSK not in json.dumps(result)


@pytest.mark.parametrize("args", [{}, {"cell_id": "wg0"}, {"cell_id": "0123456789ABCDEF"},
                                  {"cell_id": "0123456789abcdef; wg showconf wg0"},
                                  {"cell_id": "0123456789abcdef", "interface": "wg0"}])
def test_the_agents_link_status_takes_a_cell_id_only(args):
    from pic_api.agent.protocol import AgentError, validate

    assert validate({"action": "link_status", "args": {"cell_id": "0123456789abcdef"}}, ()) == (
        "link_status", {"cell_id": "0123456789abcdef"})
    with pytest.raises(AgentError):
        validate({"action": "link_status", "args": args}, ())


def test_the_list_says_how_each_links_tunnel_runs(app, admin, remote):
    home_link, _ = linked_pair(app, admin, remote)
    asked = []

    def live(cell_id):
        asked.append(cell_id)
        return {"unit": "active", "up": True, "endpoint": "203.0.113.8:51821", "latest_handshake": 1764931200,
                "rx": 10, "tx": 20, "private_key": "never shown"}

    app.extensions["pic"].links._live = live
    (listed,) = admin.get("/api/cells/links").get_json()["links"]
    assert asked == [home_link["cell_id"]]
    now = listed["live"].pop("now")
    assert abs(now - time.time()) < 60
    assert listed["live"] == {"unit": "active", "up": True, "endpoint": "203.0.113.8:51821",
                              "latest_handshake": 1764931200, "rx": 10, "tx": 20}

    def away(cell_id):
        raise RuntimeError("the agent is away")

    app.extensions["pic"].links._live = away
    resp = admin.get("/api/cells/links")
    assert resp.status_code == 200
    live_state = resp.get_json()["links"][0]["live"]
    assert live_state["up"] is False and live_state["latest_handshake"] == 0
    assert "could not be read: the agent is away" in live_state["reason"]


def test_an_open_invitation_withdrawn_is_refused_and_frees_its_port_and_key(app, admin, remote):
    rapp, rclient = remote
    made = invite(admin)
    listed = admin.get("/api/cells/links").get_json()["invitations"]
    assert [i["nonce"] for i in listed] == [made["nonce"]]
    port = listed[0]["port"]
    assert (links_dir(app) / f"invite-{made['nonce']}.key").is_file()
    # the other cell redeemed it before it was withdrawn: its answer is refused after
    answer = post(rclient, "/api/cells/links", {"token": made["token"]}).get_json()["answer"]
    resp = admin.delete(f"/api/cells/invitations/{made['nonce']}", headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json() == {"nonce": made["nonce"], "canceled": True}
    assert admin.get("/api/cells/links").get_json()["invitations"] == []
    assert not (links_dir(app) / f"invite-{made['nonce']}.key").exists()
    refused(post(admin, "/api/cells/links/accept", {"token": answer}), "token.invitation")
    nothing_saved(app, [])
    # withdrawn once: a second time, or a nonce never made, is not found
    assert admin.delete(f"/api/cells/invitations/{made['nonce']}", headers=csrf(admin)).status_code == 404
    assert admin.delete("/api/cells/invitations/" + "x" * 24, headers=csrf(admin)).status_code == 404
    # its port is offered again
    assert invite(admin)["nonce"] != made["nonce"]
    assert admin.get("/api/cells/links").get_json()["invitations"][0]["port"] == port


def test_only_an_admin_withdraws_an_invitation(app, admin, peer_client):
    made = invite(admin)
    assert peer_client.delete(f"/api/cells/invitations/{made['nonce']}", headers=csrf(peer_client)).status_code == 403
    assert [i["nonce"] for i in admin.get("/api/cells/links").get_json()["invitations"]] == [made["nonce"]]
