import base64
import importlib.util
import pathlib
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).parents[2]


def load_plugin():
    spec = importlib.util.spec_from_file_location("pic_filter_plugin", ROOT / "filter_plugins/pic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def filters():
    return load_plugin().FilterModule().filters()


def test_exposes_filters(filters):
    for name in (
        "pic_state_vars",
        "pic_wg_pubkey",
        "pic_zone_serial",
        "pic_valid_name",
        "pic_next_vpn_address",
        "pic_subnets_overlap",
    ):
        assert callable(filters[name])


def test_state_vars(filters):
    assert filters["pic_state_vars"]({"version": 1, "cell": {"name": "box"}})["pic_domain"] == "box.cell"


def test_state_vars_error_names_fields(filters):
    with pytest.raises(AnsibleFilterError, match=r"cell\.name"):
        filters["pic_state_vars"]({"version": 1, "cell": {"name": "Bad"}})


def test_wg_pubkey(filters):
    # RFC 7748 section 6.1, Bob's key pair
    priv = base64.b64encode(bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")).decode()
    pub = base64.b64encode(bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")).decode()
    assert filters["pic_wg_pubkey"](priv) == pub
    with pytest.raises(AnsibleFilterError):
        filters["pic_wg_pubkey"]("bad")
    assert filters["pic_wg_valid_key"](priv) is True


def test_zone_serial(filters):
    assert filters["pic_zone_serial"](2000010100) > 2000010100
    with pytest.raises(AnsibleFilterError):
        filters["pic_zone_serial"]("x")


def test_small_filters(filters):
    assert filters["pic_valid_name"]("home") and not filters["pic_valid_name"]("Home!")
    assert filters["pic_valid_domain"]("a.org") and not filters["pic_valid_domain"]("a")
    assert filters["pic_next_vpn_address"]("10.0.0.0/24", ["10.0.0.2"]) == "10.0.0.3"
    assert filters["pic_cell_vpn_address"]("10.0.0.0/24") == "10.0.0.1"
    assert filters["pic_subnets_overlap"]("10.0.0.0/8", "10.1.0.0/16") is True
    with pytest.raises(AnsibleFilterError):
        filters["pic_next_vpn_address"]("bad", [])
    with pytest.raises(AnsibleFilterError):
        filters["pic_cell_vpn_address"]("bad")
    with pytest.raises(AnsibleFilterError):
        filters["pic_subnets_overlap"]("bad", "10.0.0.0/8")


def test_plugin_works_without_installed_package(tmp_path):
    """A bare python (no pic_api on the path) still loads the plugin from the repository."""
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('pic_api') is None, 'pic_api importable'\n"
        f"spec = importlib.util.spec_from_file_location('p', {str(ROOT / 'filter_plugins/pic.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "import pic_api; print(pic_api.__file__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(p for p in sys.path if "site-packages" in p)},
    )
    assert out.returncode == 0, out.stderr
    assert str(ROOT / "api" / "pic_api") in out.stdout


def test_found_lan_from_the_default_interface(filters):
    ipv4 = {"interface": "enp1s0", "address": "192.168.1.37", "netmask": "255.255.255.0", "gateway": "192.168.1.1"}
    assert filters["pic_found_lan"](ipv4) == {
        "pic_lan_interface": "enp1s0",
        "pic_lan_subnet": "192.168.1.0/24",
        "pic_lan_address": "192.168.1.37",
        "pic_dhcp_range": ["192.168.1.100", "192.168.1.200"],
    }


def test_found_lan_without_a_default_interface_is_the_schema_default(filters):
    assert filters["pic_found_lan"]({})["pic_lan_subnet"] == "192.168.50.0/24"


def test_peer_hosts_is_the_text_the_agent_writes(filters):
    from pic_api.core import peerhosts

    peers = [{"name": "phone", "ip": "10.0.0.2", "public_key": "k", "route": "full"}]
    assert filters["pic_peer_hosts"](peers, "home.cell") == peerhosts.render(peers, "home.cell")
    assert filters["pic_peer_hosts"](peers, "home.cell").endswith("\n10.0.0.2 phone.home.cell\n")
    with pytest.raises(AnsibleFilterError, match="pic_peer_hosts"):
        filters["pic_peer_hosts"]([{"name": "Phone!", "ip": "10.0.0.2"}], "home.cell")


def test_not_installed_lists_what_apt_must_install(filters):
    # dpkg-query's ${db:Status-Abbrev}: the second letter "i" is installed; "rc" is removed with
    # its configuration left, "un" not installed
    status = "ii nftables\nhi chrony\nrc dnsmasq\nun caddy\n"
    assert filters["pic_not_installed"](["nftables", "chrony"], status) == []
    assert filters["pic_not_installed"](["nftables", "dnsmasq", "caddy"], status) == ["dnsmasq", "caddy"]
    # nothing read (a role run alone): every package, so apt runs as it always did
    assert filters["pic_not_installed"](["nftables"], None) == ["nftables"]
    assert filters["pic_not_installed"](["nftables"]) == ["nftables"]


def test_stale_tunnels_are_the_found_interfaces_no_longer_wanted(filters):
    found = [{"path": "/etc/wireguard/exit-home.conf"}, {"path": "/etc/wireguard/exit-old.conf"},
             {"path": "/etc/openvpn/client/exit-x.conf"}]
    wanted = (n for n in ["exit-home", "exit-x"])  # a Jinja map() gives a generator
    assert filters["pic_stale_tunnels"](found, wanted) == ["exit-old"]
    assert filters["pic_stale_tunnels"](found, []) == ["exit-home", "exit-old", "exit-x"]
    assert filters["pic_stale_tunnels"]([], ["exit-home"]) == []
    # only the suffix goes: an interface named like the suffix stays whole
    assert filters["pic_stale_tunnels"]([{"path": "/x/link.conf.conf"}], []) == ["link.conf"]


def test_dns_records_one_rule_for_both_dns_roles(filters):
    good = [{"name": "@", "type": "mx", "value": "10 mail"}]
    assert filters["pic_dns_records"](good) == [{"name": "@", "type": "MX", "value": "10 mail"}]
    assert filters["pic_dns_records_error"](good) == ""
    bad = [*good, {"name": "broken", "type": "BOGUS", "value": "x"}]
    why = filters["pic_dns_records_error"](bad)
    assert "invalid record" in why and "BOGUS" in why
    with pytest.raises(AnsibleFilterError, match="pic_dns_records: invalid record"):
        filters["pic_dns_records"](bad)
