import copy

import pytest

from pic_api.core import schema
from pic_api.core.schema import StateError

KEY1 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
KEY2 = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
HASH = "$2b$12$" + "a" * 53

STATE = {
    "version": 1,
    "setup_completed": True,
    "cell": {"name": "home", "domain_mode": "internal", "domain": "home.cell", "timezone": "Europe/Berlin"},
    "network": {
        "lan_interface": "eth0",
        "lan_subnet": "192.168.50.0/24",
        "lan_address": "192.168.50.1",
        "dhcp_range": ["192.168.50.100", "192.168.50.200"],
        "dhcp_lease_time": "12h",
        "vpn_subnet": "10.0.0.0/24",
        "wireguard_port": 51820,
        "upstream_dns": ["192.0.2.53"],
        "ntp_servers": ["ntp.example.org"],
        "dns_server": "dnsmasq",
    },
    "services": ["dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files"],
    "peers": [
        {"name": "phone", "public_key": KEY1, "ip": "10.0.0.2", "route": "split"},
        {"name": "laptop", "public_key": KEY2, "ip": "10.0.0.3", "route": "full"},
    ],
    "users": [{"name": "alice", "role": "admin", "password_hash": HASH, "services": ["mail", "calendar"]}],
}


def state(**changes_):
    s = copy.deepcopy(STATE)
    for path, value in changes_.items():
        target = s
        parts = path.split("__")
        for p in parts[:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is ...:
            del target[last]
        else:
            target[last] = value
    return s


def fields_of(s):
    with pytest.raises(StateError) as exc:
        schema.validate_state(s)
    return exc.value.fields


def test_example_state_is_valid():
    schema.validate_state(STATE)


def test_minimal_state_is_valid():
    schema.validate_state({"version": 1, "cell": {"name": "home"}})


def test_default_state_is_valid_and_not_set_up():
    s = schema.default_state("box")
    schema.validate_state(s)
    assert s["setup_completed"] is False
    assert s["cell"]["domain"] == "box.cell"
    assert s["services"] == list(schema.SERVICES)


def test_not_a_mapping():
    assert "" in fields_of([1, 2])


def test_wrong_version():
    assert "version" in fields_of(state(version=2))


def test_unknown_keys_named():
    f = fields_of(state(extra=1, cell__colour="red"))
    assert f["extra"] == "unknown field"
    assert "cell.colour" in f


def test_cell_name_required_and_checked():
    assert "cell.name" in fields_of(state(cell__name=...))
    assert "cell.name" in fields_of(state(cell__name="Bad Name"))


def test_domain_mode_rules():
    assert "cell.domain_mode" in fields_of(state(cell__domain_mode="other"))
    assert "cell.domain" in fields_of(state(cell__domain="other.cell"))
    s = state(cell__domain_mode="custom", cell__domain="example.org")
    schema.validate_state(s)
    assert "cell.domain" in fields_of(state(cell__domain_mode="custom", cell__domain=...))
    assert "cell.domain" in fields_of(state(cell__domain_mode="custom", cell__domain="x.cell"))
    schema.validate_state(state(cell__domain_mode="pic_ngo", cell__domain="home.pic.ngo"))


def test_timezone_checked():
    assert "cell.timezone" in fields_of(state(cell__timezone="Mars/Base"))


def test_lan_vpn_overlap():
    f = fields_of(state(network__vpn_subnet="192.168.0.0/16"))
    assert "overlaps" in f["network.vpn_subnet"]


def test_vpn_subnet_too_small():
    assert "network.vpn_subnet" in fields_of(state(network__vpn_subnet="10.0.0.0/30", peers=[]))


def test_lan_address_inside_lan():
    assert "network.lan_address" in fields_of(state(network__lan_address="192.168.51.1"))
    assert "network.lan_address" in fields_of(state(network__lan_address="192.168.50.0"))


def test_dhcp_range_rules():
    assert "network.dhcp_range" in fields_of(state(network__dhcp_range=["192.168.50.200", "192.168.50.100"]))
    assert "network.dhcp_range" in fields_of(state(network__dhcp_range=["192.168.50.100", "192.168.51.10"]))
    assert "network.dhcp_range" in fields_of(state(network__dhcp_range=["192.168.50.1", "192.168.50.10"]))
    assert "network.dhcp_range" in fields_of(state(network__dhcp_range=["192.168.50.100"]))
    assert "network.dhcp_range[0]" in fields_of(state(network__dhcp_range=["x", "192.168.50.10"]))


def test_network_scalars():
    assert "network.wireguard_port" in fields_of(state(network__wireguard_port=0))
    assert "network.dhcp_lease_time" in fields_of(state(network__dhcp_lease_time="soon"))
    assert "network.dns_server" in fields_of(state(network__dns_server="bind"))
    assert "network.lan_interface" in fields_of(state(network__lan_interface="eth0;reboot"))
    assert "network.lan_subnet" in fields_of(state(network__lan_subnet="192.168.50.1/24"))


def test_network_lists():
    assert "network.upstream_dns[0]" in fields_of(state(network__upstream_dns=["dns.example.org"]))
    assert "network.upstream_dns" in fields_of(state(network__upstream_dns="1.1.1.1"))
    assert "network.upstream_dns" in fields_of(state(network__upstream_dns=["1.1.1.1", "1.1.1.1"]))
    assert "network.ntp_servers[1]" in fields_of(state(network__ntp_servers=["pool.ntp.org", "bad host"]))


def test_services_from_fixed_list():
    f = fields_of(state(services=["dns", "ftp"]))
    assert "services[1]" in f and "ftp" in f["services[1]"]
    assert "services" in fields_of(state(services=["dns", "dns"]))
    assert "services" in fields_of(state(services="dns"))


def test_peer_names_unique():
    s = state()
    s["peers"][1]["name"] = "phone"
    assert "already used" in fields_of(s)["peers[1].name"]


def test_peer_ips_unique_and_inside_vpn():
    s = state()
    s["peers"][1]["ip"] = "10.0.0.2"
    assert "peers[1].ip" in fields_of(s)
    assert "peers[0].ip" in fields_of(state(peers__0__ip="10.0.1.2"))
    assert "peers[0].ip" in fields_of(state(peers__0__ip="10.0.0.1"))


def test_peer_keys_unique_and_valid():
    s = state()
    s["peers"][1]["public_key"] = KEY1
    assert "peers[1].public_key" in fields_of(s)
    assert "peers[0].public_key" in fields_of(state(peers__0__public_key="nope"))


def test_peer_fields_required_and_route():
    s = state()
    del s["peers"][0]["ip"]
    assert "peers[0].ip" in fields_of(s)
    s = state()
    s["peers"][0]["route"] = "half"
    assert "peers[0].route" in fields_of(s)
    s = state()
    s["peers"][0]["created"] = "yesterday"
    assert "peers[0].created" in fields_of(s)
    assert "peers[0]" in fields_of(state(peers=["phone"]))


def test_users_rules():
    s = state()
    s["users"].append(dict(s["users"][0]))
    assert "users[1].name" in fields_of(s)
    s = state()
    s["users"][0]["role"] = "root"
    assert "users[0].role" in fields_of(s)
    s = state()
    s["users"][0]["password_hash"] = "plaintext"
    assert "users[0].password_hash" in fields_of(s)
    s = state()
    s["users"][0]["services"] = ["dns"]
    assert "users[0].services[0]" in fields_of(s)


def test_all_errors_reported_at_once():
    f = fields_of(state(cell__name="X", network__wireguard_port=70000, services=["nope"]))
    assert {"cell.name", "network.wireguard_port", "services[0]"} <= set(f)


def test_state_error_message_lists_fields():
    with pytest.raises(StateError, match="cell.name"):
        schema.validate_state(state(cell__name="X"))


def test_state_to_vars_maps_everything():
    v = schema.state_to_vars(STATE)
    assert v["pic_cell_name"] == "home"
    assert v["pic_domain"] == "home.cell"
    assert v["pic_timezone"] == "Europe/Berlin"
    assert v["pic_setup_completed"] is True
    assert v["pic_vpn_subnet"] == "10.0.0.0/24"
    assert v["pic_vpn_address"] == "10.0.0.1"
    assert v["pic_lan_interface"] == "eth0"
    assert v["pic_dhcp_range"] == ["192.168.50.100", "192.168.50.200"]
    assert v["pic_upstream_dns"] == ["192.0.2.53"]
    assert v["pic_services"] == list(schema.SERVICES)
    assert v["pic_peers"][1] == {"name": "laptop", "public_key": KEY2, "ip": "10.0.0.3", "route": "full"}
    assert v["pic_users"][0]["password_hash"] == HASH


def test_state_to_vars_names_are_inventory_names():
    import pathlib

    import yaml

    root = pathlib.Path(__file__).parents[2]
    defaults = yaml.safe_load((root / "playbooks/vars/cell_defaults.yml").read_text())["pic_cell_defaults"]
    found = {"pic_lan_interface", "pic_lan_subnet", "pic_lan_address", "pic_dhcp_range"}  # set from facts
    v = schema.state_to_vars(STATE)
    assert set(v) - set(defaults) - found == {"pic_vpn_address", "pic_domain"}


def test_state_to_vars_minimal_uses_defaults_and_leaves_interface_to_inventory():
    v = schema.state_to_vars({"version": 1, "cell": {"name": "box"}})
    assert v["pic_domain"] == "box.cell"
    assert v["pic_peers"] == [] and v["pic_users"] == []
    assert "pic_lan_interface" not in v


def test_state_to_vars_validates():
    with pytest.raises(StateError):
        schema.state_to_vars(state(cell__name="X"))


def test_apply_defaults_does_not_mutate():
    s = {"version": 1, "cell": {"name": "box"}}
    out = schema.apply_defaults(s)
    assert "network" not in s and out["network"]["vpn_subnet"] == "10.0.0.0/24"
