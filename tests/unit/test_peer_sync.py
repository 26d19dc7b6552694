"""Peer-sync between two linked cells of the test, their APIs connected in-process: each message is
posted to the other cell's real endpoint with the sender's tunnel address as the request's source.
What is shared arrives and is recorded; removal takes both ends; every refusal is its own test."""

import secrets
import time

import pytest
from conftest import csrf, wait_run
from test_api_links import REMOTE_SUBNET, invite, make_cell, post, state

from pic_api.core import links, schema

HOME_TUNNEL, REMOTE_TUNNEL = "10.0.0.1", "10.77.3.1"  # each cell's VPN address, the link's `dns` on the other
SHARE = "/api/cells/peer-sync/share"
REMOVE = "/api/cells/peer-sync/remove"


def connect(*cells):
    """Each cell's peer-sync sends to the other's endpoint, from its own tunnel address."""
    by_tunnel = {tunnel: app for app, tunnel in cells}
    for app, tunnel in cells:

        def send(link, kind, message, source=tunnel):
            resp = by_tunnel[link["dns"]].test_client().post(
                f"/api/cells/peer-sync/{kind}", json={"message": message}, environ_base={"REMOTE_ADDR": source})
            return resp.status_code, resp.get_json()

        app.extensions["pic"].peer_sync.send = send


@pytest.fixture
def linked(app, admin, tmp_path):
    """home (the conftest cell, 10.0.0.0/24) offers calendar to remote, which grants home files."""
    rapp, rclient = make_cell(tmp_path, "remote", REMOTE_SUBNET)
    resp = post(rclient, "/api/cells/links", {"token": invite(admin, services=["calendar"])["token"],
                                              "services": ["files"]})
    wait_run(rapp, resp.get_json()["run_id"])
    accepted = post(admin, "/api/cells/links/accept", {"token": resp.get_json()["answer"]})
    wait_run(app, accepted.get_json()["run_id"])
    connect((app, HOME_TUNNEL), (rapp, REMOTE_TUNNEL))
    return app, rapp, rclient


def link_on(app):
    (link,) = state(app)["links"]
    return link


def message(app, to_app, kind="share", key=None, **changes):
    """A message from ``app`` to the cell ``to_app``, signed with ``app``'s key (or ``key``)."""
    sync = app.extensions["pic"].peer_sync
    payload = {"v": 1, "kind": kind, "from": sync.links.identity()["id"],
               "to": to_app.extensions["pic"].links.identity()["id"], "version": int(time.time()),
               "sent": int(time.time()), "nonce": secrets.token_urlsafe(18),
               "share": {"zone": "home.cell", "services": ["calendar"], "devices": ["laptop"]}}
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    return links.sign(payload, key or sync.links._signing_key(), links.SYNC_PREFIX)


def deliver(to_app, text, source=HOME_TUNNEL, path=SHARE, headers=None):
    return to_app.test_client().post(path, json={"message": text}, environ_base={"REMOTE_ADDR": source},
                                     headers=headers or {})


def refused(resp, status, field):
    assert resp.status_code == status, resp.get_json()
    assert field in resp.get_json()["fields"], resp.get_json()
    return resp.get_json()["fields"][field]


def test_what_a_cell_shares_reaches_the_linked_cell_and_is_recorded(linked, admin):
    app, rapp, _ = linked
    wait_run(app, admin.post("/api/peers", json={"name": "laptop"}, headers=csrf(admin)).get_json()["run_id"])
    assert "peer" not in link_on(rapp) and link_on(rapp)["offered"] == ["calendar"]
    home_id = app.extensions["pic"].links.identity()["id"]
    assert app.extensions["pic"].peer_sync.push_all() == {link_on(app)["cell_id"]: None}
    on_remote = link_on(rapp)
    assert on_remote["cell_id"] == home_id and on_remote["zone"] == "home.cell"
    assert on_remote["offered"] == ["calendar"] and on_remote["peer"]["devices"] == ["laptop"]
    assert on_remote["peer"]["zone"] == "home.cell"
    first = on_remote["peer"]["version"]
    assert first >= int(time.time()) - 5 and on_remote["peer"]["synced"].endswith("Z")
    # nothing changed: nothing sent; a change of what home shares: sent again, with a newer version
    assert app.extensions["pic"].peer_sync.push_all() == {}
    wait_run(app, admin.post("/api/peers", json={"name": "phone"}, headers=csrf(admin)).get_json()["run_id"])
    assert app.extensions["pic"].peer_sync.push_all() == {link_on(app)["cell_id"]: None}
    assert link_on(rapp)["peer"]["devices"] == ["laptop", "phone"] and link_on(rapp)["peer"]["version"] > first
    # the admin's view of the link shows it (the UI's "last sync")
    listed = linked[2].get("/api/cells/links").get_json()["links"][0]
    assert listed["peer"]["devices"] == ["laptop", "phone"]


def test_a_converge_pushes_by_itself_and_the_other_cell_answers(linked, admin):
    """After a successful converge the cell pushes (here in the run's own thread, to wait for it);
    the other cell's recording converges and it pushes back what it shares."""
    app, rapp, _ = linked
    for cell_app in (app, rapp):
        cell_app.extensions["pic"].peer_sync.spawn = lambda job: job()
        cell_app.extensions["pic"].peer_sync.retry_interval = 3600
        cell_app.extensions["pic"].peer_sync.start()
    wait_run(app, admin.post("/api/peers", json={"name": "tablet"}, headers=csrf(admin)).get_json()["run_id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "peer" not in link_on(app):
        time.sleep(0.05)
    assert link_on(rapp)["peer"]["devices"] == ["tablet"]
    assert link_on(app)["offered"] == ["files"] and link_on(app)["peer"]["devices"] == []
    assert link_on(app)["zone"] == "remote.cell" and link_on(app)["peer"]["zone"] == "remote.cell"


def test_a_shared_zone_is_recorded_but_does_not_move_the_forwarding(linked):
    """A linked cell that says its zone is another (say, this cell's own, or a public one) does not
    make this cell's resolver send that zone to it: the forwarded zone is the one accepted at linking."""
    app, rapp, _ = linked
    share = {"zone": "remote.cell", "services": ["calendar", "files"], "devices": []}
    assert deliver(rapp, message(app, rapp, share=share)).status_code == 202
    link = link_on(rapp)
    assert link["zone"] == "home.cell" and link["peer"]["zone"] == "remote.cell"
    assert link["offered"] == ["calendar", "files"]
    (var,) = schema.state_to_vars(state(rapp))["pic_links"]
    assert var["zone"] == "home.cell"


def test_the_push_to_an_unreachable_cell_is_tried_again(linked):
    app, rapp, _ = linked
    sync = app.extensions["pic"].peer_sync
    working, sync.send = sync.send, lambda *a: (_ for _ in ()).throw(OSError("timed out"))
    (error,) = sync.push_all().values()
    assert "not reached" in error and "timed out" in error
    sync.send = working
    assert sync.push_all() == {link_on(app)["cell_id"]: None}
    assert link_on(rapp)["offered"] == ["calendar"]


def test_from_a_wrong_source_address_is_401(linked):
    app, rapp, _ = linked
    for source in ("10.0.0.7", "192.168.50.20", "127.0.0.1", REMOTE_TUNNEL):
        refused(deliver(rapp, message(app, rapp), source=source), 401, "source")
    assert "peer" not in link_on(rapp)


def test_a_forwarded_address_counts_only_from_caddy_on_the_loopback(linked):
    """X-Forwarded-For with the tunnel address, sent from the LAN: dropped, the LAN address counts.
    From the loopback (Caddy, which sets it), it is the source."""
    app, rapp, _ = linked
    refused(deliver(rapp, message(app, rapp), source="192.168.50.20", headers={"X-Forwarded-For": HOME_TUNNEL}),
            401, "source")
    resp = deliver(rapp, message(app, rapp), source="127.0.0.1", headers={"X-Forwarded-For": HOME_TUNNEL})
    assert resp.status_code == 202, resp.get_json()


def test_signed_with_a_wrong_key_is_401(linked):
    app, rapp, _ = linked
    other = links.signing_key(links.new_signing_key())
    assert "linked cell's key" in refused(deliver(rapp, message(app, rapp, key=other)), 401, "message.signature")
    # the remote's own key is not home's either
    refused(deliver(rapp, message(app, rapp, key=rapp.extensions["pic"].links._signing_key())), 401,
            "message.signature")
    # altered after signing
    _, body, sig = message(app, rapp).split(".")
    refused(deliver(rapp, f"{links.SYNC_PREFIX}.{body[:-2]}AA.{sig}"), 401, "message.signature")
    assert "peer" not in link_on(rapp)


def test_a_replayed_message_is_refused(linked):
    app, rapp, _ = linked
    text = message(app, rapp, version=1000)
    assert deliver(rapp, text).status_code == 202
    assert "seen already" in refused(deliver(rapp, text), 409, "message.nonce")
    assert link_on(rapp)["peer"]["version"] == 1000


def test_the_same_or_an_older_version_is_refused(linked):
    app, rapp, _ = linked
    assert deliver(rapp, message(app, rapp, version=1000)).status_code == 202
    assert "not newer than version 1000" in refused(deliver(rapp, message(app, rapp, version=1000)), 409,
                                                    "message.version")
    refused(deliver(rapp, message(app, rapp, version=999, share={"zone": "x.cell", "services": [], "devices": []})),
            409, "message.version")
    assert link_on(rapp)["peer"]["zone"] == "home.cell" and link_on(rapp)["peer"]["version"] == 1000
    # a remove is versioned too: an old one does not remove the link
    refused(deliver(rapp, message(app, rapp, kind="remove", version=999, share=None), path=REMOVE), 409,
            "message.version")
    assert state(rapp)["links"]


def test_a_message_sent_outside_the_window_is_refused(linked):
    app, rapp, _ = linked
    # a minute beyond the window either way: a loaded machine takes seconds between signing and checking
    beyond = schema.PEER_SYNC_WINDOW + 60
    for sent in (int(time.time()) - beyond, int(time.time()) + beyond):
        refused(deliver(rapp, message(app, rapp, sent=sent)), 409, "message.sent")
    assert "peer" not in link_on(rapp)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": 7}, "message"),
        ({"message": "hello"}, "message"),
        ({"message": "pic-sync1.e30"}, "message"),
        ({"message": "x", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(linked, body, field):
    _, rapp, _ = linked
    resp = rapp.test_client().post(SHARE, json=body, environ_base={"REMOTE_ADDR": HOME_TUNNEL})
    refused(resp, 400, field)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": "7"}, "message.version"),
        ({"version": 0}, "message.version"),
        ({"nonce": "short"}, "message.nonce"),
        ({"share": {"zone": "home.cell", "services": ["ssh"], "devices": []}}, "message.share.services[0]"),
        ({"share": {"zone": "home.cell", "services": [], "devices": ["bad name"]}}, "message.share.devices[0]"),
        ({"share": None}, "message.share"),
        ({"kind": "remove"}, "message.kind"),
        ({"to": "0123456789abcdef"}, "message.to"),
        ({"from": "0123456789abcdef"}, "message.from"),
        ({"v": 2}, "message.v"),
    ],
)
def test_a_malformed_message_is_400_naming_the_field(linked, changes, field):
    app, rapp, _ = linked
    resp = deliver(rapp, message(app, rapp, **changes))
    assert resp.status_code == 400 and any(k.startswith(field) for k in resp.get_json()["fields"]), resp.get_json()
    assert "peer" not in link_on(rapp)


def test_removing_a_link_removes_both_ends(linked, admin):
    app, rapp, _ = linked
    home_side, remote_side = link_on(app), link_on(rapp)
    resp = admin.delete(f"/api/cells/links/{home_side['cell_id']}", headers=csrf(admin))
    assert resp.status_code == 202 and resp.get_json()["other_side"] == {"reached": True}, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    assert state(app)["links"] == [] and state(rapp)["links"] == []
    rlinks = rapp.extensions["pic"].config.links_dir
    assert not (rlinks / f"{remote_side['cell_id']}.key").exists()
    # the same remove again: no link, so no linked cell's address: 401
    refused(deliver(rapp, message(app, rapp, kind="remove", share=None), path=REMOVE), 401, "source")


def test_an_unreachable_cell_keeps_its_end_and_the_api_says_so(linked, admin):
    app, rapp, _ = linked
    app.extensions["pic"].peer_sync.send = lambda *a: (_ for _ in ()).throw(OSError("timed out"))
    resp = admin.delete(f"/api/cells/links/{link_on(app)['cell_id']}", headers=csrf(admin))
    assert resp.status_code == 202
    other = resp.get_json()["other_side"]
    assert other["reached"] is False and "remote was not reached" in other["error"], other
    wait_run(app, resp.get_json()["run_id"])
    assert state(app)["links"] == [] and len(state(rapp)["links"]) == 1


def test_the_ui_sites_do_not_route_peer_sync_and_no_session_is_needed(linked):
    """No cookie, no CSRF token: the signature and the source are the authentication."""
    app, rapp, _ = linked
    resp = deliver(rapp, message(app, rapp))
    assert resp.status_code == 202 and "run_id" in resp.get_json()
    wait_run(rapp, resp.get_json()["run_id"])
