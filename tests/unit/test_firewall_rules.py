"""The admin's firewall openings and port forwards: the state's rules, and the ruleset the firewall
role renders from them, checked by nft itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

from pic_api.core import addressing, schema

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/firewall"


def state_with(openings=(), forwards=(), apps=()) -> dict:
    return {
        "version": schema.SCHEMA_VERSION,
        "cell": {"name": "home"},
        "network": {"firewall_openings": list(openings), "port_forwards": list(forwards)},
        **({"store": {"enabled": True, "apps": list(apps)}} if apps else {}),
    }


def refused(state) -> dict[str, str]:
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    return err.value.fields


OPENING = {"port": 3000, "protocol": "tcp", "zones": ["lan"]}
FORWARD = {"protocol": "tcp", "port": 8080, "to": "192.168.50.20", "to_port": 80, "zones": ["wan", "vpn"]}


def test_good_rules_are_the_firewall_roles_inputs():
    variables = schema.state_to_vars(state_with([OPENING], [FORWARD]))
    assert variables["pic_firewall_openings"] == [OPENING]
    assert variables["pic_port_forwards"] == [FORWARD]


@pytest.mark.parametrize(
    ("openings", "forwards", "field", "words"),
    [
        ([{**OPENING, "port": 443}], [], "network.firewall_openings[0].port", "the cell's own (HTTPS)"),
        ([{**OPENING, "port": 53, "protocol": "udp"}], [], "network.firewall_openings[0].port", "(DNS)"),
        ([{**OPENING, "port": 51820, "protocol": "udp"}], [], "network.firewall_openings[0].port", "(WireGuard)"),
        ([OPENING, {**OPENING, "zones": ["wan"]}], [], "network.firewall_openings[1].port", "taken by"),
        ([OPENING], [{**FORWARD, "port": 3000}], "network.port_forwards[0].port", "network.firewall_openings[0]"),
        ([], [{**FORWARD, "port": 22}], "network.port_forwards[0].port", "(ssh)"),
        ([], [{**FORWARD, "to": "10.1.2.3"}], "network.port_forwards[0].to", "a host address of the LAN"),
        ([], [{**FORWARD, "to": "192.168.50.255"}], "network.port_forwards[0].to", "a host address of the LAN"),
        ([], [{**FORWARD, "to": "192.168.50.1"}], "network.port_forwards[0].to", "the cell's own address"),
        ([{**OPENING, "zones": []}], [], "network.firewall_openings[0].zones", ""),
        ([{**OPENING, "zones": ["dmz"]}], [], "network.firewall_openings[0].zones[0]", ""),
        ([{**OPENING, "protocol": "icmp"}], [], "network.firewall_openings[0].protocol", ""),
        ([], [{**FORWARD, "to_port": 0}], "network.port_forwards[0].to_port", ""),
    ],
)
def test_bad_rules_are_refused_naming_the_field(openings, forwards, field, words):
    fields = refused(state_with(openings, forwards))
    assert field in fields and words in fields[field], fields


def test_an_apps_opening_takes_its_port():
    app = {"id": "hello", "version": "1.0.0", "firewall": [{"port": 3000, "protocol": "tcp", "zones": ["lan"]}]}
    fields = refused(state_with([OPENING], apps=[app]))
    assert "store.apps[0].firewall[0] (hello)" in fields["network.firewall_openings[0].port"]


def test_the_cells_own_ports_cover_what_the_firewall_role_opens_by_itself():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    shared = yaml.safe_load((ROLE.parent / "shared/defaults/main.yml").read_text())
    # the UI's port is the shared fact caddy listens on (one value, not a second 8081)
    assert defaults["firewall_ui_tcp_ports"] == ["{{ shared_ui_port }}"]
    caddy = yaml.safe_load((ROLE.parent / "caddy/defaults/main.yml").read_text())
    assert caddy["caddy_ui_port"] == "{{ shared_ui_port }}"
    tcp = set(defaults["firewall_always_tcp_ports"]) | {shared["shared_ui_port"]}
    udp = set()
    for ports in defaults["firewall_service_ports"].values():
        tcp |= {int(p) for p in ports.get("tcp", [])}
        udp |= {int(p) for p in ports.get("udp", []) if str(p).isdigit()}
    assert tcp <= set(schema.CELL_PORTS["tcp"]) and udp <= set(schema.CELL_PORTS["udp"])


def test_the_container_network_the_firewall_forwards_is_the_one_vpn_picks_avoid():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    assert defaults["firewall_container_subnets"] == list(addressing.CONTAINER_SUBNETS)


def render(openings=(), forwards=(), links=()) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["dict2items"] = lambda d: [{"key": k, "value": v} for k, v in d.items()]
    env.tests["contains"] = lambda seq, item: item in seq
    env.filters["extract"] = lambda key, container: container[key]
    env.filters["flatten"] = lambda seq: [x for part in seq for x in (part if isinstance(part, list) else [part])]
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    ctx = {k: v for k, v in defaults.items() if not isinstance(v, str) or "{{" not in v}
    ctx["firewall_service_ports"]["wireguard"]["udp"] = [51820]
    ctx.update(
        ansible_managed="Managed by PIC", firewall_services=["dns", "dhcp", "ntp", "wireguard"],
        firewall_ui_zones=["lan", "vpn"], firewall_lan_interface="lan0", firewall_lan_subnet="192.168.50.0/24",
        firewall_vpn_subnet="10.0.0.0/24", firewall_peers=[], firewall_app_openings=[],
        firewall_openings=list(openings), firewall_port_forwards=list(forwards), firewall_links=list(links),
        firewall_link_peer_sync_port=8082,
    )
    return env.get_template("nftables.conf.j2").render(ctx)


def assert_nft_accepts(tmp_path, text: str) -> None:
    """nft's own checker accepts the rendered file (where nft is installed)."""
    if shutil.which("nft") or Path("/usr/sbin/nft").exists():
        conf = tmp_path / "nftables.conf"
        conf.write_text(text)
        res = subprocess.run([shutil.which("nft") or "/usr/sbin/nft", "-c", "-f", str(conf)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_the_rules_render_into_the_zones_sets_and_a_dnat_and_nft_accepts_them(tmp_path):
    lan_forward = {**FORWARD, "port": 8443, "zones": ["lan"]}
    text = render([OPENING, {"port": 5000, "protocol": "udp", "zones": ["wan", "vpn"]}], [FORWARD, lan_forward])
    assert "set lan_tcp" in text and "3000" in text.split("set lan_tcp", 1)[1].split("}", 1)[0]
    assert "5000" in text.split("set wan_udp", 1)[1].split("}", 1)[0]
    assert "3000" not in text.split("set wan_tcp", 1)[1].split("}", 1)[0]
    assert 'fib daddr type local tcp dport 8080 dnat ip to 192.168.50.20:80' in text
    assert "ip daddr 192.168.50.20 ct status dnat tcp dport 80 accept" in text
    # only the LAN's own callers are masqueraded (their answer must come back through the cell)
    assert text.count("ct status dnat tcp dport 80 masquerade") == 1
    assert "chain prerouting" not in render()
    assert_nft_accepts(tmp_path, text)


# ---- the API ------------------------------------------------------------------------------------
def test_the_api_adds_lists_and_removes_openings_and_forwards(app, admin, config, backend):
    from conftest import csrf, wait_run

    resp = admin.post("/api/firewall/openings", json=OPENING, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["rule"] == {"id": "tcp-3000", **OPENING}
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["firewall"]
    forward = {k: v for k, v in FORWARD.items() if k != "to_port"}  # the same port by default
    resp = admin.post("/api/firewall/forwards", json=forward, headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["rule"]["to_port"] == 8080
    wait_run(app, resp.get_json()["run_id"])
    listed = admin.get("/api/firewall").get_json()
    assert [r["id"] for r in listed["openings"]] == ["tcp-3000"]
    assert listed["forwards"][0] == {"id": "tcp-8080", **forward, "to_port": 8080}
    assert {"protocol": "tcp", "port": 443, "what": "HTTPS"} in listed["cell_ports"]
    assert {"protocol": "udp", "port": 51820, "what": "WireGuard"} in listed["cell_ports"]
    state = yaml.safe_load(config.state_file.read_text())
    assert state["network"]["firewall_openings"] == [OPENING]

    assert admin.delete("/api/firewall/openings/tcp-3000", headers=csrf(admin)).status_code == 202
    assert admin.delete("/api/firewall/forwards/tcp-8080", headers=csrf(admin)).status_code == 202
    assert admin.delete("/api/firewall/forwards/tcp-8080", headers=csrf(admin)).status_code == 404
    assert admin.get("/api/firewall").get_json()["openings"] == []


def test_the_api_refuses_a_bad_rule_by_field_and_changes_nothing(app, admin, config):
    from conftest import csrf

    before = config.state_file.read_text()
    for path, body, field in (
        ("openings", {**OPENING, "port": 443}, "port"),
        ("openings", {**OPENING, "zones": ["dmz"]}, "zones[0]"),
        ("openings", {"port": 3000, "protocol": "tcp"}, "zones"),
        ("forwards", {**FORWARD, "to": "8.8.8.8"}, "to"),
        ("forwards", {**FORWARD, "port": 22}, "port"),
    ):
        resp = admin.post(f"/api/firewall/{path}", json=body, headers=csrf(admin))
        assert resp.status_code == 400 and field in resp.get_json()["fields"], (body, resp.get_json())
    assert config.state_file.read_text() == before


def test_peer_sync_is_reached_from_a_link_only():
    """8082 (Caddy's peer-sync listener) is accepted in the link's chain, from the link's subnets,
    and in no zone's set: the LAN, the VPN and the WAN never reach it."""
    link = {"name": "away", "cell_id": "0123456789abcdef", "interface": "cl-0123456789ab", "subnets": ["10.70.0.0/24"],
            "port": 51821, "grants": []}
    text = render(links=[link])
    chain = text[text.index("chain link_0123456789ab {"):]
    chain = chain[:chain.index("\n\t}")]
    assert "ip saddr != { 10.70.0.0/24 } drop" in chain and "tcp dport 8082 accept" in chain
    assert chain.rstrip().endswith("drop")
    sets = text[:text.index("chain input")]
    assert "8082" not in sets


def test_the_peer_sync_port_is_one_value():
    """The API dials schema.PEER_SYNC_PORT; Caddy listens on and the firewall opens shared_peer_sync_port."""
    shared = yaml.safe_load((ROLE.parent / "shared/defaults/main.yml").read_text())
    assert shared["shared_peer_sync_port"] == schema.PEER_SYNC_PORT
    assert schema.CELL_PORTS["tcp"][schema.PEER_SYNC_PORT].startswith("peer-sync")


def test_vpn_devices_are_forwarded_into_a_link_to_its_subnets_only(tmp_path):
    """A device of this cell (wg0, from the VPN subnet) reaches a linked cell's subnets through that
    link's interface, nothing else of it; the answers come back as established. What the device may
    reach there is the other cell's link chain. nft accepts the result."""
    links = [{"name": "away", "cell_id": "0123456789abcdef", "interface": "cl-0123456789ab",
              "subnets": ["10.70.0.0/24"], "port": 51821, "grants": ["calendar"]},
             {"name": "far", "cell_id": "fedcba9876543210", "interface": "cl-fedcba987654",
              "subnets": ["10.71.0.0/24", "10.72.0.0/24"], "port": 51822, "grants": []}]
    text = render(links=links)
    forward = text[text.index("chain forward {"):]
    forward = forward[:forward.index("\n\t}")]
    assert ('iifname "wg0" ip saddr 10.0.0.0/24 oifname "cl-0123456789ab" ip daddr { 10.70.0.0/24 } accept'
            in forward)
    assert ('iifname "wg0" ip saddr 10.0.0.0/24 oifname "cl-fedcba987654" ip daddr { 10.71.0.0/24, 10.72.0.0/24 }'
            ' accept' in forward)
    assert forward.index("ct state established,related accept") < forward.index('oifname "cl-')
    # no link, no forward into one; the LAN is never forwarded into a link
    assert 'oifname "cl-' not in render()
    assert not [ln for ln in forward.splitlines() if 'oifname "cl-' in ln and "lan0" in ln]
    assert_nft_accepts(tmp_path, text)
