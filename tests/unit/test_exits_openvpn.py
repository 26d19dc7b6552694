"""OpenVPN exits: the provider's .ovpn parsed by a whitelist (every refusal a 400 naming the directive,
never quoting a credential), its credentials in 0600 files only, the live state read from the unit
and the tun, and the exits role's templates (checked by openvpn, nft and sh themselves)."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import csrf, wait_run

from pic_api.agent import actions
from pic_api.core import ovpn, schema

ROLE = Path(__file__).resolve().parents[2] / "roles" / "exits"

# test data: PEM-shaped blocks (the parser checks their form; openvpn reads them on the host)
CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUcaCAtest0=\nQUJDREVGR0g=\n-----END CERTIFICATE-----"
# easy-rsa's issued certificates begin with a text dump of themselves
CERT = ("Certificate:\n    Data:\n        Subject: CN=cell\n"
        "-----BEGIN CERTIFICATE-----\nMIIBtjCCAV2gAwIBAgIRAKtestcert=\n-----END CERTIFICATE-----")
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49testkeysecret\n-----END PRIVATE KEY-----"
STATIC = ("#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n"
          "0a1b2c3d4e5f60718293a4b5c6d7e8f9\n-----END OpenVPN Static key V1-----")
PASSWORD = "hunter2 but longer"
CONFIG = f"""# a provider's .ovpn
client
dev tun
proto udp
remote vpn.example.net 1194
remote 198.51.100.7 1195
resolv-retry infinite
nobind
persist-key
persist-tun
remote-cert-tls server
data-ciphers AES-256-GCM:AES-128-GCM
verify-x509-name server name
auth-user-pass
block-outside-dns
verb 3
<ca>
{CA}
</ca>
<cert>
{CERT}
</cert>
<key>
{KEY}
</key>
<tls-crypt>
{STATIC}
</tls-crypt>
"""


def test_parse_keeps_the_public_parts_and_returns_the_credentials_apart():
    fields, secrets = ovpn.parse(CONFIG, "me", PASSWORD)
    assert fields == {"endpoint": "vpn.example.net:1194", "remotes": ["vpn.example.net:1194", "198.51.100.7:1195"],
                      "proto": "udp", "options": ["remote-cert-tls server", "data-ciphers AES-256-GCM:AES-128-GCM",
                                                  "verify-x509-name server name"],
                      "credentials": ["ca", "cert", "key", "tls-crypt", "auth-user-pass"]}
    assert secrets["ca"] == CA + "\n" and secrets["key"] == KEY + "\n"
    assert secrets["cert"].startswith("-----BEGIN CERTIFICATE-----") and "Subject" not in secrets["cert"]
    assert secrets["tls-crypt"].startswith("-----BEGIN OpenVPN Static key V1-----")
    assert secrets["auth-user-pass"] == f"me\n{PASSWORD}"
    assert "BEGIN" not in json.dumps(fields)


def test_a_certificate_alone_needs_no_password_and_tls_auth_keeps_its_direction():
    config = (CONFIG.replace("auth-user-pass\n", "").replace("tls-crypt>", "tls-auth>")
              .replace("verb 3\n", "verb 3\nkey-direction 1\nproto tcp-client\nport 443\n")
              .replace("proto udp\n", "").replace("remote 198.51.100.7 1195\n", "remote 198.51.100.7\n"))
    fields, secrets = ovpn.parse(config)
    assert fields["proto"] == "tcp" and fields["remotes"] == ["vpn.example.net:1194", "198.51.100.7:443"]
    assert fields["options"][0] == "key-direction 1"
    assert fields["credentials"] == ["ca", "cert", "key", "tls-auth"] and "auth-user-pass" not in secrets


def test_an_inline_username_and_password_are_taken():
    config = CONFIG.replace("auth-user-pass\n", "auth-user-pass\n<auth-user-pass>\nme\nsecret pw\n</auth-user-pass>\n")
    _, secrets = ovpn.parse(config)
    assert secrets["auth-user-pass"] == "me\nsecret pw"


def without(text: str) -> str:
    return CONFIG.replace(text, "")


@pytest.mark.parametrize(("config", "field"), [
    (without("remote vpn.example.net 1194\nremote 198.51.100.7 1195\n"), "config.remote"),
    (CONFIG.replace("remote vpn.example.net 1194", "remote vpn.example.net 99999"), "config.remote"),
    (CONFIG.replace("remote vpn.example.net 1194", "remote vpn.example.net 1194 tcp"), "config.remote"),
    (CONFIG.replace("remote vpn.example.net 1194", "remote vpn.example.net 1194 1 2 3"), "config.remote"),
    (CONFIG.replace("remote vpn.example.net 1194", "remote vpn.example.net 1194\n" + "remote a.example 1\n" * 8),
     "config.remote"),
    (CONFIG + "up /bin/sh\n", "config.up"),
    (CONFIG + "down /bin/sh\n", "config.down"),
    (CONFIG + "route-up /bin/sh\n", "config.route-up"),
    (CONFIG + "ipchange /bin/sh\n", "config.ipchange"),
    (CONFIG + "tls-verify /bin/sh\n", "config.tls-verify"),
    (CONFIG + "plugin /usr/lib/openvpn/plugin.so\n", "config.plugin"),
    (CONFIG + "script-security 2\n", "config.script-security"),
    (CONFIG + "script-security 3\n", "config.script-security"),
    (CONFIG + "redirect-gateway def1\n", "config.redirect-gateway"),
    (CONFIG + "route 0.0.0.0 0.0.0.0\n", "config.route"),
    (CONFIG + "route-nopull\n", "config.route-nopull"),
    (CONFIG + "pull-filter accept route\n", "config.pull-filter"),
    (CONFIG + "dhcp-option DNS 1.1.1.1\n", "config.dhcp-option"),
    (CONFIG + "management 127.0.0.1 7505\n", "config.management"),
    (CONFIG + "log /etc/passwd\n", "config.log"),
    (CONFIG + "status /tmp/x\n", "config.status"),
    (CONFIG + "config /etc/other.conf\n", "config.config"),
    (CONFIG + "setenv opt block-outside-dns\n", "config.setenv"),
    (CONFIG + "compress lz4-v2\n", "config.compress"),
    (CONFIG + "comp-lzo\n", "config.comp-lzo"),
    (CONFIG + "http-proxy proxy.example 8080\n", "config.http-proxy"),
    (CONFIG + "some-new-directive 1\n", "config.some-new-directive"),
    (CONFIG + "ping -1\n", "config.ping"),
    (CONFIG + "remote-cert-tls client\n", "config.remote-cert-tls"),
    (CONFIG + "verify-x509-name server cn\n", "config.verify-x509-name"),
    (CONFIG + "key-direction 2\n", "config.key-direction"),
    (CONFIG + 'verify-x509-name "my server"\n', "config.verify-x509-name"),
    (CONFIG + "cipher $(id)\n", "config.cipher"),
    (CONFIG.replace("dev tun", "dev tap"), "config.dev"),
    (CONFIG.replace("dev tun", "dev tun\ndev-type tap"), "config.dev-type"),
    (CONFIG.replace("proto udp", "proto udp6"), "config.proto"),
    (CONFIG + "ca /etc/ssl/certs/ca.pem\n", "config.ca"),
    (CONFIG + "tls-auth ta.key 1\n", "config.tls-auth"),
    (CONFIG + "auth-user-pass /etc/openvpn/pass.txt\n", "config.auth-user-pass"),
    (without(f"<ca>\n{CA}\n</ca>\n"), "config.ca"),
    (without(f"<key>\n{KEY}\n</key>\n"), "config.key"),
    (without(f"<cert>\n{CERT}\n</cert>\n"), "config.cert"),
    (without(f"<cert>\n{CERT}\n</cert>\n<key>\n{KEY}\n</key>\n").replace("auth-user-pass\n", ""), "config.cert"),
    (CONFIG.replace(KEY, KEY.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")), "config.key"),
    (CONFIG.replace(KEY, KEY + "\n" + KEY), "config.key"),
    (CONFIG.replace(CA, "just text, no certificate"), "config.ca"),
    (CONFIG.replace(CA, KEY), "config.ca"),
    (CONFIG + f"<tls-auth>\n{STATIC}\n</tls-auth>\n", "config.tls-crypt"),
    (CONFIG + f"<ca>\n{CA}\n</ca>\n", "config.ca"),
    (CONFIG + "<connection>\nremote x.example 1\n</connection>\n", "config.connection"),
    (CONFIG + "<tls-crypt-v2>\n", "config.tls-crypt-v2"),
    (CONFIG.replace("auth-user-pass\n", "auth-user-pass\n<auth-user-pass>\nonly-a-name\n</auth-user-pass>\n"),
     "config.auth-user-pass"),
])
def test_each_refusal_names_its_directive_and_no_credential(config, field):
    with pytest.raises(schema.StateError) as err:
        ovpn.parse(config, "me", PASSWORD)
    assert field in err.value.fields, err.value.fields
    said = json.dumps(err.value.fields)
    assert "MIGHAgEAMBMG" not in said and PASSWORD not in said and "0a1b2c3d" not in said


@pytest.mark.parametrize(("username", "password", "field"), [
    (None, PASSWORD, "username"),
    ("me", None, "password"),
    ("me\nroot", PASSWORD, "username"),
    ("me", "x" * 513, "password"),
])
def test_the_username_and_password_are_checked(username, password, field):
    with pytest.raises(schema.StateError) as err:
        ovpn.parse(CONFIG, username, password)
    assert field in err.value.fields


def test_a_username_for_a_server_that_asks_none_is_refused():
    with pytest.raises(schema.StateError) as err:
        ovpn.parse(CONFIG.replace("auth-user-pass\n", ""), "me", PASSWORD)
    assert "username" in err.value.fields


@pytest.mark.parametrize(("line", "ok"), [
    ("cipher AES-256-GCM", True), ("keepalive 10 60", True), ("key-direction 1", True),
    ("up /bin/sh", False), ("keepalive 10", False), ("cipher a;b", False), ("", False), ("route-up x", False),
])
def test_a_states_directive_is_checked_by_the_same_whitelist(line, ok):
    assert (ovpn.option_error(line) is None) is ok


# --- through the API -----------------------------------------------------------------------------

def add(client, name="ovpn", config=CONFIG, **more):
    body = {"name": name, "kind": "openvpn", "config": config, "username": "me", "password": PASSWORD, **more}
    return client.post("/api/exits", json=body, headers=csrf(client))


def test_an_openvpn_exit_is_kept_without_its_credentials(app, admin, config):
    resp = add(admin, dns=["10.8.0.1"])
    assert resp.status_code == 202, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    state = yaml.safe_load(config.state_file.read_text())
    kept = state["exits"][0]
    assert kept["kind"] == "openvpn" and kept["dns"] == ["10.8.0.1"] and kept["proto"] == "udp"
    for which in ("ca", "cert", "key", "tls-crypt", "auth-user-pass"):
        f = config.exits_dir / f"ovpn.{which}"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, which
    assert (config.exits_dir / "ovpn.auth-user-pass").read_text() == f"me\n{PASSWORD}\n"
    for path in [config.state_file, *config.state_dir.iterdir(), *config.run_dir.rglob("*")]:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert PASSWORD not in text and "MIGHAgEAMBMG" not in text, path
    app.extensions["pic"].exits._live = lambda name, kind: {"unit": "active", "up": True, "address": "10.8.0.6/24",
                                                            "rx": 5, "tx": 7, "kind_asked": kind}
    listed = admin.get("/api/exits").get_json()["exits"][0]
    assert listed["keys_stored"] is True and listed["live"]["address"] == "10.8.0.6/24"
    assert "kind_asked" not in listed["live"]
    assert PASSWORD not in json.dumps(listed)
    resp = admin.delete("/api/exits/ovpn", headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    assert not any(config.exits_dir.iterdir())


def test_a_refused_ovpn_writes_nothing(admin, config):
    resp = add(admin, config=CONFIG + "up /bin/sh\n")
    assert resp.status_code == 400 and "config.up" in resp.get_json()["fields"]
    assert PASSWORD not in resp.get_data(as_text=True)
    assert admin.get("/api/exits").get_json() == {"exits": []}
    assert not config.exits_dir.exists() or not any(config.exits_dir.iterdir())


def test_a_hand_edited_state_with_a_refused_directive_is_refused():
    fields, _ = ovpn.parse(CONFIG, "me", PASSWORD)
    state = {"cell": {"name": "home"}, "exits": [{"name": "b", "kind": "openvpn", **fields,
                                                   "options": ["up /bin/sh"]}]}
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    assert "exits[0].options[0]" in err.value.fields
    state["exits"][0] = {"name": "b", "kind": "openvpn", "endpoint": "vpn.example.net:1194"}
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    assert "exits[0].remotes" in err.value.fields


# --- the live state: pic-agent's exit_status for an openvpn exit ---------------------------------

def tools(tmp_path, ip_json: str, unit: str) -> dict[str, str]:
    out = {}
    for name, script in (("ip", f"cat <<'EOF'\n{ip_json}\nEOF"), ("systemctl", f"echo {unit}")):
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/{name}.argv\n{script}\n")
        path.chmod(0o755)
        out[name] = str(path)
    stats = tmp_path / "net" / "exit-b" / "statistics"
    stats.mkdir(parents=True)
    (stats / "rx_bytes").write_text("1234\n")
    (stats / "tx_bytes").write_text("5678\n")
    out["sys_net"] = str(tmp_path / "net")
    return out


IP_JSON = '[{"ifname":"exit-b","addr_info":[{"family":"inet","local":"10.77.77.2","prefixlen":24}]}]'


def test_a_connected_openvpn_exit_has_its_tunnel_address(tmp_path):
    got = actions.exit_status("b", "exit-", kind="openvpn", **tools(tmp_path, IP_JSON, "active"))
    assert (tmp_path / "systemctl.argv").read_text().split() == ["is-active", "openvpn-client@exit-b.service"]
    assert (tmp_path / "ip.argv").read_text().split() == ["-4", "-j", "addr", "show", "dev", "exit-b"]
    assert got == {"unit": "active", "up": True, "address": "10.77.77.2/24", "rx": 1234, "tx": 5678}


def test_an_openvpn_exit_without_its_tun_is_not_connected(tmp_path):
    got = actions.exit_status("b", "exit-", kind="openvpn", **tools(tmp_path, "", "activating"))
    assert got["up"] is False and got["unit"] == "activating" and "not connected" in got["reason"]
    (tmp_path / "x").mkdir()
    got = actions.exit_status("b", "exit-", kind="openvpn", **tools(tmp_path / "x", IP_JSON, "failed"))
    assert got["up"] is False and got["address"] == "10.77.77.2/24" and "failed" in got["reason"]


# --- the exits role's templates ------------------------------------------------------------------

def render(template: str, **more) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.tests["match"] = lambda value, pattern: re.match(pattern, value) is not None  # as Ansible's test
    values = {"ansible_managed": "Managed by PIC", "exits_interface_prefix": "exit-",
              "exits_keys_dir": "/etc/pic/exits", "exits_table_base": 4096, "exits_mark_base": 4096,
              "exits_openvpn_up": "/usr/local/sbin/pic-exit-openvpn-up", "exits_run_dir": "/run/pic-exits",
              "exits_vpn_interface": "wg0",
              "exits_cell_nets": ["192.168.50.0/24", "10.0.0.0/24"], "exits_routes_script": "/usr/local/sbin/r",
              "exits_rule_priority": 5000, "exits_unreachable_metric": 4096, "exits_unit": "pic-exits.service"}
    return env.get_template(template).render(**{**values, **more})


def openvpn_exit(**more):
    fields, _ = ovpn.parse(CONFIG, "me", PASSWORD)
    return {"name": "b", "kind": "openvpn", **fields, **more}


def test_the_client_configuration_routes_nothing_the_server_says_and_names_its_files(tmp_path):
    text = render("exit-openvpn.conf.j2", item=openvpn_exit(), exits_index=1)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "dev exit-b" in lines and "dev-type tun" in lines and "route-noexec" in lines
    for pushed in ("redirect-gateway", "redirect-private", "route", "ifconfig-ipv6"):
        assert f'pull-filter ignore "{pushed}"' in lines
    assert "route-nopull" not in lines and "persist-tun" not in lines
    assert 'up "/usr/local/sbin/pic-exit-openvpn-up 4097 b"' in lines and "script-security 2" in lines
    assert ["remote vpn.example.net 1194", "remote 198.51.100.7 1195"] == [x for x in lines if x.startswith("remote ")]
    assert "keepalive 10 60" in lines
    for which in ("ca", "cert", "key", "tls-crypt", "auth-user-pass"):
        assert f"{which} /etc/pic/exits/b.{which}" in lines
    assert "BEGIN" not in text
    # the provider's keepalive instead of the cell's (openvpn refuses both)
    text = render("exit-openvpn.conf.j2", item=openvpn_exit(options=["keepalive 5 30"]), exits_index=0)
    assert "keepalive 10 60" not in text and "keepalive 5 30" in text and "pic-exit-openvpn-up 4096 b" in text
    # openvpn's own parser, as the role's validate: (.ci/system-deps installs it); it checks that the up
    # script exists (the role writes it first)
    f = tmp_path / "exit-b.conf"
    f.write_text(render("exit-openvpn.conf.j2", item=openvpn_exit(), exits_index=1, exits_openvpn_up="/bin/true"))
    res = subprocess.run(["openvpn", "--config", str(f), "--version"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    f.write_text(f.read_text() + "no-such-directive 1\n")
    assert subprocess.run(["openvpn", "--config", str(f), "--version"], capture_output=True).returncode != 0


def test_the_up_script_and_the_rules_script_parse(tmp_path):
    up = tmp_path / "up"
    up.write_text(render("pic-exit-openvpn-up.j2"))
    assert subprocess.run(["sh", "-n", str(up)]).returncode == 0
    script = tmp_path / "routes"
    script.write_text(render("pic-exits-routes.j2", exits_list=[openvpn_exit(dns=[])]))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "nft add element inet pic_exits dns_b" in script.read_text()


PEERS = [{"name": "phone", "ip": "10.0.0.3", "exit": "b"}]


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables")
def test_a_pushed_resolver_is_a_map_the_devices_dns_goes_to_or_is_dropped(tmp_path):
    text = render("pic-exits.nft.j2", exits_list=[openvpn_exit(dns=[])], exits_peers=PEERS)
    assert "map dns_b {" in text
    assert ('iifname "wg0" ip saddr 10.0.0.3 fib daddr type local meta l4proto { tcp, udp } th dport 53 '
            "dnat ip to meta l4proto map @dns_b") in text
    assert 'iifname "wg0" ip saddr 10.0.0.3 fib daddr type local meta l4proto { tcp, udp } th dport 53 drop' in text
    assert ('iifname "wg0" ip saddr 10.0.0.3 ct status dnat meta l4proto { tcp, udp } th dport 53 '
            "meta mark set 4096 accept") in text
    f = tmp_path / "pic-exits.nft"
    f.write_text(text)
    res = subprocess.run(["nft", "-c", "-f", str(f)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # a resolver of its own: the same static DNAT as a WireGuard exit's, no map
    text = render("pic-exits.nft.j2", exits_list=[openvpn_exit(dns=["10.8.0.1"])], exits_peers=PEERS)
    assert "map dns_b" not in text and "dnat ip to 10.8.0.1" in text
