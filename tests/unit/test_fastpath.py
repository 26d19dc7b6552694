"""A peer applied to the running cell at once: the agent's peer_apply action (allow-list, the check
against the state on disk, the fixed commands it runs), the restore after a failed converge, and the
API's fast path (ready in the response, the converge still queued)."""

import subprocess
import threading

import pytest
import yaml
from conftest import PEER_KEY, csrf, wait_run

from pic_api.agent.client import AgentBackend, AgentClient
from pic_api.agent.fastpath import FastPath
from pic_api.agent.protocol import AgentError
from pic_api.agent.server import Agent
from pic_api.core import peerhosts, wgkeys
from pic_api.managers.runs import RunManager

OTHER_KEY = wgkeys.generate_keypair()[1]
CELL_KEY = wgkeys.generate_keypair()[0]
STRIPPED = f"[Interface]\nListenPort = 51820\n\n[Peer]\nPublicKey = {OTHER_KEY}\nAllowedIPs = 10.0.0.3/32\n"


class Host:
    """Stands in for the commands a FastPath runs: records each argv (and its input), answers like
    a cell whose wg0 is up, whose firewall has the full_peers set, with dnsmasq active."""

    def __init__(self, nat_members=(), wg_peers=(OTHER_KEY,)):
        self.calls: list[tuple[list[str], str | None]] = []
        self.nat_members = set(nat_members)
        self.wg_peers = list(wg_peers)
        self.fail: set[str] = set()

    def __call__(self, argv, input=None):
        self.calls.append((list(argv), input))
        rc, out = 0, ""
        if argv[:2] == ["nft", "get"]:
            rc = 0 if argv[-2] in self.nat_members else 1
        elif argv[:2] == ["wg-quick", "strip"]:
            out = STRIPPED
        elif argv[:3] == ["wg", "show", "wg0"] and argv[3:] == ["peers"]:
            out = "\n".join(self.wg_peers)
        if argv[0] in self.fail:
            rc = 1
        return subprocess.CompletedProcess(argv, rc, out, "boom" if rc else "")

    def argvs(self):
        return [argv for argv, _ in self.calls]


def state(*peers, name="home"):
    return {
        "version": 1,
        "setup_completed": True,
        "cell": {"name": name, "domain_mode": "internal", "timezone": "Etc/UTC"},
        "services": ["dns", "wireguard"],
        "peers": [{"name": n, "public_key": k, "ip": ip, "route": r} for n, k, ip, r in peers],
        "users": [],
    }


PHONE = ("phone", PEER_KEY, "10.0.0.2", "full")
LAPTOP = ("laptop", OTHER_KEY, "10.0.0.3", "split")


@pytest.fixture
def host():
    return Host()


@pytest.fixture
def fastpath(tmp_path, host):
    key = tmp_path / "private.key"
    key.write_text(CELL_KEY + "\n")
    hosts = tmp_path / "dns" / "peers.hosts"
    hosts.parent.mkdir()
    hosts.write_text(peerhosts.HEADER)
    nft = tmp_path / "nftables.conf"
    nft.write_text("table inet pic {}\n")
    (tmp_path / "wg0.conf").write_text("[Interface]\n")
    return FastPath("wg0", key, hosts, nft, wg_config_dir=tmp_path, run=host)


@pytest.fixture
def agent(config, backend, fastpath):
    return Agent(config, backend, fastpath)


def write_state(config, st):
    config.state_file.parent.mkdir(parents=True, exist_ok=True)
    config.state_file.write_text(yaml.safe_dump(st))


def apply(agent, **args):
    return agent.handle({"action": "peer_apply", "args": args}, lambda m: None)


def peer_args(peer, op="add"):
    name, key, ip, route = peer
    return {"op": op, "name": name, "public_key": key, "ip": ip, "route": route}


# the allow-list ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change,field,reason",
    [
        ({"op": "replace"}, "op", "add or remove"),
        ({"name": "Bad Name"}, "name", "lower-case"),
        ({"name": "x; rm -rf /"}, "name", "lower-case"),
        ({"public_key": "not a key"}, "public_key", "WireGuard public key"),
        ({"public_key": PEER_KEY + " remove"}, "public_key", "WireGuard public key"),
        ({"ip": "10.0.0.300"}, "ip", "IPv4"),
        ({"ip": "10.0.0.0/8"}, "ip", "IPv4"),
        ({"ip": ["10.0.0.2"]}, "ip", "IPv4"),
        ({"route": "everywhere"}, "route", "split, full"),
        ({"allowed_ips": "0.0.0.0/0"}, "allowed_ips", "unexpected"),
    ],
)
def test_peer_apply_outside_the_allow_list_is_refused_naming_the_field(agent, config, host, change, field, reason):
    write_state(config, state(PHONE))
    with pytest.raises(AgentError) as info:
        apply(agent, **{**peer_args(PHONE), **change})
    assert reason in info.value.fields[field]
    assert host.calls == []


def test_peer_apply_needs_every_argument(agent, host):
    with pytest.raises(AgentError) as info:
        apply(agent, op="add")
    assert set(info.value.fields) == {"name", "public_key", "ip", "route"}
    assert host.calls == []


# checked against the state on disk ---------------------------------------------------------------------
def test_an_added_peer_must_be_in_the_state_as_given(agent, config, host):
    write_state(config, state(PHONE))
    with pytest.raises(AgentError) as info:
        apply(agent, **peer_args(LAPTOP))
    assert info.value.fields == {"public_key": "not a peer of the cell state"}
    with pytest.raises(AgentError) as info:
        apply(agent, **{**peer_args(PHONE), "ip": "10.0.0.9", "route": "split"})
    assert set(info.value.fields) == {"ip", "route"}
    assert host.calls == []


def test_a_removed_peer_must_be_gone_from_the_state_and_its_address_free(agent, config, host):
    write_state(config, state(PHONE, LAPTOP))
    with pytest.raises(AgentError) as info:
        apply(agent, **peer_args(PHONE, "remove"))
    assert info.value.fields == {"public_key": "still a peer of the cell state"}
    write_state(config, state(LAPTOP))
    with pytest.raises(AgentError) as info:
        apply(agent, **{**peer_args(PHONE, "remove"), "ip": "10.0.0.3"})
    assert info.value.fields == {"ip": "the address of peer laptop"}
    assert host.calls == []


def test_a_state_that_does_not_load_refuses_the_action(agent, config, host):
    config.state_file.parent.mkdir(parents=True, exist_ok=True)
    config.state_file.write_text("peers: [")
    with pytest.raises(AgentError, match="does not load"):
        apply(agent, **peer_args(PHONE))
    assert host.calls == []


# what runs -----------------------------------------------------------------------------------------------
def test_adding_a_full_route_peer_sets_exactly_that_peer_its_nat_and_the_names(agent, config, host, fastpath):
    write_state(config, state(PHONE, LAPTOP))
    result = apply(agent, **peer_args(PHONE))
    assert result == {"ready": True, "parts": {"wireguard": "applied", "nat": "applied", "dns": "applied"}}
    assert host.argvs() == [
        ["wg", "show", "wg0", "public-key"],
        ["wg", "set", "wg0", "peer", PEER_KEY, "allowed-ips", "10.0.0.2/32"],
        ["nft", "list", "set", "inet", "pic", "full_peers"],
        ["nft", "get", "element", "inet", "pic", "full_peers", "{", "10.0.0.2", "}"],
        ["nft", "add", "element", "inet", "pic", "full_peers", "{", "10.0.0.2", "}"],
        ["systemctl", "is-active", "--quiet", "dnsmasq"],
        ["systemctl", "reload", "dnsmasq"],
    ]
    # the hosts file is what the DNS role renders from the same state
    assert fastpath.hosts_file.read_text() == peerhosts.render(state(PHONE, LAPTOP)["peers"], "home.cell")
    assert "10.0.0.2 phone.home.cell\n" in fastpath.hosts_file.read_text()


def test_removing_a_peer_removes_it_its_nat_element_and_its_name(agent, config, host, fastpath):
    write_state(config, state(LAPTOP))
    host.nat_members.add("10.0.0.2")
    result = apply(agent, **peer_args(PHONE, "remove"))
    assert result["ready"] is True and result["parts"]["nat"] == "removed"
    assert ["wg", "set", "wg0", "peer", PEER_KEY, "remove"] in host.argvs()
    assert ["nft", "delete", "element", "inet", "pic", "full_peers", "{", "10.0.0.2", "}"] in host.argvs()
    assert "phone" not in fastpath.hosts_file.read_text() and "laptop.home.cell" in fastpath.hosts_file.read_text()


def test_a_changed_peer_keeps_its_session_and_gets_its_new_route_and_name(agent, config, host, fastpath):
    """A peer renamed and moved from full to split route (PATCH /api/peers): the same key is set again
    (never removed, so its session goes on), its NAT element goes, its name is the new one."""
    write_state(config, state(("tablet", PEER_KEY, "10.0.0.2", "split"), LAPTOP))
    host.nat_members.add("10.0.0.2")
    result = apply(agent, **peer_args(("tablet", PEER_KEY, "10.0.0.2", "split")))
    assert result == {"ready": True, "parts": {"wireguard": "applied", "nat": "removed", "dns": "applied"}}
    assert not any(a[:3] == ["wg", "set", "wg0"] and a[-1] == "remove" for a in host.argvs())
    assert ["nft", "delete", "element", "inet", "pic", "full_peers", "{", "10.0.0.2", "}"] in host.argvs()
    names = fastpath.hosts_file.read_text()
    assert "10.0.0.2 tablet.home.cell\n" in names and "phone" not in names


def test_a_split_peer_gets_no_nat_element(agent, config, host):
    write_state(config, state(LAPTOP))
    assert apply(agent, **peer_args(LAPTOP))["parts"]["nat"] == "not needed"
    assert not any(a[:2] == ["nft", "add"] for a in host.argvs())


def test_a_cell_without_the_tunnel_or_a_dns_file_skips_those_parts(agent, config, host, fastpath):
    write_state(config, state(PHONE))
    host.fail = {"wg"}
    fastpath.hosts_file.unlink()
    result = apply(agent, **peer_args(PHONE))
    assert result["ready"] is False
    assert result["parts"]["wireguard"].startswith("skipped: wg0 is not running")
    assert result["parts"]["dns"].startswith("skipped")
    assert not fastpath.hosts_file.exists()  # only a file its role made (and the server reads) is written


def test_a_failing_part_says_so_and_the_others_still_run(agent, config, host, fastpath):
    write_state(config, state(PHONE))
    host.fail = {"nft"}
    result = apply(agent, **peer_args(PHONE))
    assert result["ready"] is True and result["parts"]["nat"].startswith("skipped")  # no set: no firewall
    host.fail = {"systemctl"}
    result = apply(agent, **peer_args(PHONE))
    assert result["parts"]["dns"] == "applied"  # dnsmasq is not active: nothing to reload


# the converge that follows ----------------------------------------------------------------------------------
def test_a_failed_converge_restores_the_running_cell_from_the_converged_files(agent, config, host, backend, fastpath):
    write_state(config, state(PHONE, LAPTOP))
    apply(agent, **peer_args(PHONE))
    host.calls.clear()
    backend.status = "failed"
    sent = []
    result = agent.handle(
        {"action": "converge", "args": {"run_id": "20260101T000000-0123abcd", "tags": ["wireguard"], "check": False}},
        sent.append,
    )
    assert result["status"] == "failed"
    assert "added peer phone" in result["restored"] and "restored from" in result["restored"]
    assert sent[-1]["event"]["event"] == "pic_peers_restored" and sent[-1]["event"]["msg"] == result["restored"]
    argvs = host.argvs()
    assert ["wg-quick", "strip", "wg0"] in argvs
    syncconf = next((argv, text) for argv, text in host.calls if argv[:2] == ["wg", "syncconf"])
    assert syncconf[0] == ["wg", "syncconf", "wg0", "/dev/stdin"]  # the key only in the pipe
    assert f"PrivateKey = {CELL_KEY}" in syncconf[1] and CELL_KEY not in " ".join(sum(argvs, []))
    assert ["nft", "-f", str(fastpath.nft_config)] in argvs
    # the names follow the interface: only peers wg0 has after the restore (the laptop)
    assert fastpath.hosts_file.read_text() == peerhosts.render(state(LAPTOP)["peers"], "home.cell")
    # settled: a second failure has nothing to put back
    host.calls.clear()
    again = agent.handle(
        {"action": "converge", "args": {"run_id": "20260101T000001-0123abcd", "tags": ["wireguard"], "check": False}},
        sent.append,
    )
    assert "restored" not in again and host.calls == []


def test_a_successful_converge_or_a_preview_restores_nothing(agent, config, host, backend):
    write_state(config, state(PHONE))
    apply(agent, **peer_args(PHONE))
    host.calls.clear()
    backend.status = "failed"
    run = {"run_id": "20260101T000000-0123abcd", "tags": ["wireguard"], "check": True}
    assert "restored" not in agent.handle({"action": "converge", "args": run}, lambda m: None)
    backend.status = "successful"
    assert "restored" not in agent.handle({"action": "converge", "args": {**run, "check": False}}, lambda m: None)
    assert host.calls == []
    backend.status = "failed"  # the successful converge made the peer durable: nothing left to put back
    assert "restored" not in agent.handle({"action": "converge", "args": {**run, "check": False}}, lambda m: None)


def test_a_peer_applied_while_a_converge_runs_is_applied_again_after_it(agent, config, host, backend):
    """That converge read the older state: its handler may sync wg0 to a file without the peer."""
    write_state(config, state(PHONE))
    backend.gate = threading.Event()
    done = {}
    run = {"run_id": "20260101T000000-0123abcd", "tags": ["wireguard"], "check": False}
    thread = threading.Thread(
        target=lambda: done.update(agent.handle({"action": "converge", "args": run}, lambda m: None))
    )
    thread.start()
    assert backend.started.wait(10)
    apply(agent, **peer_args(PHONE))
    backend.status = "failed"
    backend.gate.set()
    thread.join(10)
    assert "restored" not in done  # the peer was not the failed converge's to put back
    sets = [a for a in host.argvs() if a[:2] == ["wg", "set"]]
    assert sets == [["wg", "set", "wg0", "peer", PEER_KEY, "allowed-ips", "10.0.0.2/32"]] * 2
    # its own converge, later, covers it
    host.calls.clear()
    backend.gate = None
    assert "added peer phone" in agent.handle({"action": "converge", "args": run}, lambda m: None)["restored"]


def test_the_run_says_why_when_peers_were_put_back(tmp_path):
    class Client:
        def call(self, action, on_event=None, idle=None, **args):
            return {"status": "failed", "restored": "The converge failed, so what was applied at once was put back"}

    runs = RunManager(tmp_path / "r", AgentBackend(Client(), tmp_path / "r" / ".scratch"))
    info = runs.wait(runs.submit("converge", ["wireguard"]).id, 10)
    assert info["status"] == "failed" and info["error"].startswith("The converge failed, so")
    final = list(runs.events(info["id"]))[-1]
    assert final["status"] == "failed" and final["error"] == info["error"]


def test_the_client_sends_the_typed_action(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(AgentClient, "call", lambda self, action, **args: seen.update(action=action, args=args) or {})
    AgentClient(tmp_path / "s").peer_apply(
        "add", {"name": "phone", "public_key": PEER_KEY, "ip": "10.0.0.2", "route": "full", "created": "x"}
    )
    assert seen == {
        "action": "peer_apply",
        "args": {"op": "add", "name": "phone", "public_key": PEER_KEY, "ip": "10.0.0.2", "route": "full"},
    }


# the API's fast path ---------------------------------------------------------------------------------------------
@pytest.fixture
def live(app, config):
    """A fake agent for peer_apply: records what the state and the run queue held when it was called."""
    calls = []

    def fake(op, peer):
        saved = yaml.safe_load(config.state_file.read_text())["peers"]
        runs = sorted(p.name for p in config.run_dir.iterdir() if not p.name.startswith("."))
        calls.append({"op": op, "peer": peer, "saved": [p["name"] for p in saved], "runs": runs})
        if peer["name"] == "refused":
            raise AgentError("the agent is away")
        return {"ready": True, "parts": {"wireguard": "applied", "nat": "not needed", "dns": "applied"}}

    app.extensions["pic"].peers.live = fake
    return calls


def test_a_new_peer_is_ready_in_the_response_and_its_converge_follows(app, admin, live):
    resp = admin.post("/api/peers", json={"name": "phone"}, headers=csrf(admin))
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["ready"] is True and body["live"]["wireguard"] == "applied"
    (call,) = live
    assert call["op"] == "add" and call["peer"]["name"] == "phone" and call["peer"]["ip"] == "10.0.0.2"
    assert "phone" in call["saved"]  # the state was saved first ...
    runs_before = call["runs"]
    assert body["run_id"] not in runs_before  # ... and the converge queued after
    assert wait_run(app, body["run_id"])["tags"] == ["firewall", "wireguard", "coredns", "dnsmasq"]


def test_a_peer_the_agent_could_not_apply_is_still_added_and_converged(app, admin, live):
    resp = admin.post("/api/peers", json={"name": "refused"}, headers=csrf(admin))
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["ready"] is False and "the agent is away" in body["live_error"]
    assert wait_run(app, body["run_id"])["status"] == "successful"
    assert [p["name"] for p in admin.get("/api/peers").get_json()["peers"]] == ["refused"]


def test_a_deleted_peer_is_removed_at_once(app, admin, live):
    admin.post("/api/peers", json={"name": "phone", "route": "full"}, headers=csrf(admin))
    resp = admin.delete("/api/peers/phone", headers=csrf(admin))
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["ready"] is True and body["run_id"]
    call = live[-1]
    assert call["op"] == "remove" and call["peer"]["route"] == "full" and call["saved"] == []


def test_a_changed_peer_is_applied_at_once_with_its_keys_and_address(app, admin, live):
    added = admin.post("/api/peers", json={"name": "phone", "public_key": PEER_KEY}, headers=csrf(admin)).get_json()
    resp = admin.patch("/api/peers/phone", json={"name": "tablet", "route": "full"}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ready"] is True and body["run_id"]
    assert body["peer"] == {**added["peer"], "name": "tablet", "route": "full"}  # same key, address, created
    assert "AllowedIPs = 0.0.0.0/0" in body["config"]
    assert "\n# PrivateKey = (the private key that stays" in body["config"]
    assert body["qr_svg"].lstrip().startswith("<?xml")
    call = live[-1]
    assert call["op"] == "add" and call["peer"]["name"] == "tablet" and call["saved"] == ["tablet"]
    assert {"firewall", "wireguard"} <= set(wait_run(app, body["run_id"])["tags"])
    assert [p["name"] for p in admin.get("/api/peers").get_json()["peers"]] == ["tablet"]


def test_new_keys_keep_the_device_and_take_its_address_off_the_old_key_at_once(app, admin, config, live):
    added = admin.post("/api/peers", json={"name": "phone", "route": "full"}, headers=csrf(admin)).get_json()
    old_private = next(ln.split(" = ", 1)[1] for ln in added["config"].splitlines() if ln.startswith("PrivateKey"))
    resp = admin.post("/api/peers/phone/keys", json={}, headers=csrf(admin))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    new_key = body["peer"]["public_key"]
    assert new_key != added["peer"]["public_key"] and wgkeys.is_valid_key(new_key)
    assert body["peer"] == {**added["peer"], "public_key": new_key}  # same name, address, route, created
    private = next(ln.split(" = ", 1)[1] for ln in body["config"].splitlines() if ln.startswith("PrivateKey"))
    assert wgkeys.public_key(private) == new_key and private != old_private
    assert body["private_key_included"] is True and body["ready"] is True
    # the agent adds the new key (WireGuard moves the address to it) once the state has it
    call = live[-1]
    assert call["op"] == "add" and call["peer"]["public_key"] == new_key and call["saved"] == ["phone"]
    assert {"wireguard"} <= set(wait_run(app, body["run_id"])["tags"])
    kept = [config.state_file, *config.state_dir.iterdir(), *config.run_dir.rglob("*")]
    assert not any(private in p.read_text(errors="replace") for p in kept if p.is_file())

    # the device's own public key: no private key in the answer; a key in use is 409; bad is 400
    resp = admin.post("/api/peers/phone/keys", json={"public_key": PEER_KEY}, headers=csrf(admin))
    assert resp.status_code == 200 and resp.get_json()["private_key_included"] is False
    assert "\n# PrivateKey = (the private key that stays" in resp.get_json()["config"]
    before, calls = config.state_file.read_text(), len(live)
    for body, status, field in (({"public_key": PEER_KEY}, 409, "public_key"), ({"public_key": "x"}, 400, "public_key"),
                                ({"name": "tablet"}, 400, "name")):
        resp = admin.post("/api/peers/phone/keys", json=body, headers=csrf(admin))
        assert resp.status_code == status and field in resp.get_json()["fields"], resp.get_json()
    assert admin.post("/api/peers/ghost/keys", json={}, headers=csrf(admin)).status_code == 404
    assert config.state_file.read_text() == before and len(live) == calls


@pytest.mark.parametrize(
    "body,field",
    [({}, "body"), ({"route": "half"}, "route"), ({"name": "Bad Name"}, "name"),
     ({"public_key": PEER_KEY}, "public_key"), ({"ip": "10.0.0.9"}, "ip"), ({"name": "other"}, "name")],
)
def test_a_bad_peer_change_is_refused_naming_the_field_and_changes_nothing(app, admin, config, live, body, field):
    admin.post("/api/peers", json={"name": "phone"}, headers=csrf(admin))
    admin.post("/api/peers", json={"name": "other"}, headers=csrf(admin))
    before, calls = config.state_file.read_text(), len(live)
    resp = admin.patch("/api/peers/phone", json=body, headers=csrf(admin))
    assert resp.status_code in (400, 409), resp.get_json()
    assert field in resp.get_json().get("fields", {}) or (field == "body" and resp.status_code == 400), resp.get_json()
    assert config.state_file.read_text() == before and len(live) == calls
    assert admin.patch("/api/peers/ghost", json={"route": "full"}, headers=csrf(admin)).status_code == 404


def test_without_an_agent_the_response_says_when_the_peer_is_ready(admin):
    body = admin.post("/api/peers", json={"name": "phone"}, headers=csrf(admin)).get_json()
    assert body["ready"] is False and "when its run ends" in body["live_error"]


def test_the_hosts_file_refuses_what_is_not_a_name_or_an_address():
    assert peerhosts.render([{"name": "b", "ip": "10.0.0.3"}, {"name": "a", "ip": "10.0.0.2"}], "home.cell").endswith(
        "10.0.0.2 a.home.cell\n10.0.0.3 b.home.cell\n"
    )
    for bad in ({"name": "a\n10.0.0.9 evil", "ip": "10.0.0.2"}, {"name": "a", "ip": "10.0.0.2 evil"}):
        with pytest.raises(ValueError):
            peerhosts.render([bad], "home.cell")
    with pytest.raises(ValueError):
        peerhosts.render([], "home.cell\n")
