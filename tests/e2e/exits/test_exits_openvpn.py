"""A device's traffic leaves through an upstream OpenVPN server, and never the cell's uplink when that
exit is down (fail closed). The lab, the cell, the device, far and the counters are the exits'
(conftest.py, exitlab.py); this file adds the OpenVPN exit server:

    client ──wg0 (full route)──> cell ──exit-b (openvpn)──> ovpnsrv ──> far (172.31.255.10)

- ovpnsrv: Debian's openvpn in server mode (openvpn-server@server) with its own CA made by Debian's
  easy-rsa (EC keys: quick), tls-crypt, a username and password checked by a script, pushing its
  own resolver (dhcp-option DNS) and, to prove the cell ignores them, a redirect-gateway and a
  route; it masquerades its clients to its own address, like a VPN provider.

1. A .ovpn with a directive that runs a program is refused naming it; the provider's .ovpn with
   its inline credentials and the username and password is added: the credentials are 0600 files
   only, and the device moved to the exit is seen by far from ovpnsrv's address. The exits list
   says the tunnel is connected with its tunnel address. The server's pushed routes changed
   nothing on the cell. The device's DNS is answered by the resolver the server pushed, through the
   tunnel; none leaves the uplink.
2. `site.yml --tags exits` again changes nothing.
3. The server stopped: the device's requests fail and none of them leaves the uplink; the server
   back, the exit carries the device again.
4. The device back on the uplink, the exit is removed with its unit, configuration and files.
"""

from __future__ import annotations

import ipaddress

import pytest
from exitlab import (
    ANSWERER,
    FAR,
    add_exit_for_the_device,
    back_on_the_uplink_and_removed,
    counters,
    dropped_never_leaked,
    resolve,
    routing,
    seen_by_far,
    sh,
    wait_for,
)

from pic_lab.cell import csrf

OVPN_NET = "10.77.77"
OVPN_PORT = 1194
# A name only the OpenVPN server's resolver knows.
OVPN_NAME, OVPN_ANSWER = "only.ovpn.test", "192.0.2.77"
USERNAME, PASSWORD = "cell", "a password only the exit server checks 7"  # test data, this lab only


@pytest.fixture(scope="module")
def ovpn_server(lab, hosts):
    """ovpnsrv running Debian's openvpn server with an easy-rsa CA; the .ovpn a provider would hand out."""
    lab.up("ovpnsrv", image="provisioned")
    ip = lab.host_info("ovpnsrv")["ip"]
    sh(lab, "ovpnsrv", "DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
       "apt-get install -y -qq --no-install-recommends openvpn easy-rsa nftables python3")
    # the CA, the server's and the cell's certificates, the tls-crypt key
    sh(lab, "ovpnsrv", """set -e
make-cadir /root/ca && cd /root/ca
export EASYRSA_BATCH=1 EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1
./easyrsa init-pki >/dev/null
EASYRSA_REQ_CN="exit CA" ./easyrsa build-ca nopass >/dev/null 2>&1
./easyrsa build-server-full server nopass >/dev/null 2>&1
./easyrsa build-client-full cell nopass >/dev/null 2>&1
install -m 0600 pki/ca.crt pki/issued/server.crt pki/private/server.key /etc/openvpn/server/
openvpn --genkey secret /etc/openvpn/server/tc.key
""")
    check = f"""#!/bin/sh
# username and password of the client, in the file openvpn names
[ "$(sed -n 1p "$1")" = "{USERNAME}" ] && [ "$(sed -n 2p "$1")" = "{PASSWORD}" ]
"""
    sh(lab, "ovpnsrv", "install -m 0700 /dev/stdin /etc/openvpn/server/check-password", input=check)
    server = f"""port {OVPN_PORT}
proto udp
dev tun
topology subnet
server {OVPN_NET}.0 255.255.255.0
ca ca.crt
cert server.crt
key server.key
dh none
tls-crypt tc.key
keepalive 10 60
explicit-exit-notify 1
script-security 2
auth-user-pass-verify /etc/openvpn/server/check-password via-file
push "redirect-gateway def1"
push "route 198.51.100.0 255.255.255.0"
push "dhcp-option DNS {OVPN_NET}.1"
verb 3
"""
    sh(lab, "ovpnsrv", "cat > /etc/openvpn/server/server.conf", input=server)
    sh(lab, "ovpnsrv", f"""set -e
echo 1 > /proc/sys/net/ipv4/ip_forward
ip route add {FAR}/32 via {hosts['far']}
nft add table ip exitnat
nft add chain ip exitnat post '{{ type nat hook postrouting priority srcnat; }}'
nft add rule ip exitnat post ip saddr {OVPN_NET}.0/24 oifname host0 masquerade
systemctl start openvpn-server@server
""")
    run = ["systemd-run", "--unit=answerer", "python3", "-c", ANSWERER, OVPN_NAME, OVPN_ANSWER]
    assert lab.exec("ovpnsrv", run).returncode == 0
    files = {k: sh(lab, "ovpnsrv", f"cat /root/ca/{p}") for k, p in
             (("ca", "pki/ca.crt"), ("cert", "pki/issued/cell.crt"), ("key", "pki/private/cell.key"))}
    files["tls-crypt"] = sh(lab, "ovpnsrv", "cat /etc/openvpn/server/tc.key")
    # as providers write them: the certificate with easy-rsa's text dump, comments, Windows-only bits
    config = f"""# the cell's exit, as a provider hands it out
client
dev tun
proto udp
remote {ip} {OVPN_PORT}
resolv-retry infinite
nobind
persist-key
persist-tun
remote-cert-tls server
data-ciphers AES-256-GCM:AES-128-GCM
auth-user-pass
block-outside-dns
verb 3
""" + "".join(f"<{k}>\n{v.strip()}\n</{k}>\n" for k, v in files.items())
    return {"ip": ip, "config": config, "key": files["key"]}


@pytest.fixture(scope="module")
def on_ovpn(lab, cell, admin, ovpn_server, device):
    return add_exit_for_the_device(admin, cell, {"name": "b", "kind": "openvpn", "config": ovpn_server["config"],
                                                    "username": USERNAME, "password": PASSWORD})


def ovpn_routing(lab) -> str:
    cmds = ["systemctl status --no-pager openvpn-client@exit-b", "ip -4 addr show exit-b", "ip -4 route",
            "journalctl -u openvpn-client@exit-b --no-pager -n 40 -o cat"]
    return routing(lab) + "\n".join(f"$ {c}\n{lab.exec('cell', ['bash', '-c', c]).stdout}" for c in cmds)


def test_a_directive_that_runs_a_program_is_refused_by_name(cell, admin, ovpn_server):
    bad = ovpn_server["config"].replace("verb 3\n", "verb 3\nscript-security 2\nup /bin/sh\n")
    body = {"name": "x", "kind": "openvpn", "config": bad, "username": USERNAME, "password": PASSWORD}
    r = admin.post(f"{cell.https}/api/exits", json=body, headers=csrf(admin), timeout=30)
    assert r.status_code == 400, r.text
    assert {"config.up", "config.script-security"} <= set(r.json()["fields"]), r.text
    assert ovpn_server["key"].strip().splitlines()[1] not in r.text


def test_on_the_openvpn_exit_far_sees_the_exit_server(lab, hosts, cell, admin, ovpn_server, on_ovpn):
    assert on_ovpn["exit"] == "b"
    assert wait_for(lambda: seen_by_far(lab) == ovpn_server["ip"], 60), (seen_by_far(lab), ovpn_routing(lab))
    # and the API's address check through the tunnel sees the same
    seen = admin.get(f"{cell.https}/api/exits/b/address", timeout=30).json()
    assert seen == {"exit": "b", "address": ovpn_server["ip"], "source": f"http://{FAR}:8000/"}, seen


def test_the_exits_list_shows_the_tunnel_connected_with_its_address(lab, cell, admin, on_ovpn):
    assert wait_for(lambda: seen_by_far(lab), 60)
    ex = admin.get(f"{cell.https}/api/exits/b", timeout=30).json()["exit"]
    live = ex["live"]
    assert ex["kind"] == "openvpn" and ex["keys_stored"] is True, ex
    assert live["unit"] == "active" and live["up"] is True, live
    assert ipaddress.IPv4Interface(live["address"]) in ipaddress.IPv4Network(f"{OVPN_NET}.0/24"), live
    assert live["rx"] > 0 and live["tx"] > 0, live


def test_the_servers_routes_change_nothing_on_the_cell(lab, on_ovpn):
    assert wait_for(lambda: seen_by_far(lab), 60)
    main = sh(lab, "cell", "ip -4 route show table main")
    # only the kernel's route to the tunnel's own subnet (its address's prefix), nothing the server pushed
    on_tun = [line for line in main.splitlines() if "exit-b" in line]
    assert [line.split()[0] for line in on_tun] == [f"{OVPN_NET}.0/24"], main
    assert "proto kernel" in on_tun[0] and "198.51.100.0" not in main and "0.0.0.0/1" not in main, main
    assert sh(lab, "cell", "cat /proc/sys/net/ipv4/conf/exit-b/rp_filter").strip() == "2"


def test_on_the_openvpn_exit_dns_is_the_pushed_resolver_through_the_tunnel(lab, on_ovpn):
    assert wait_for(lambda: resolve(lab, OVPN_NAME) == ("NOERROR", OVPN_ANSWER), 30), (
        resolve(lab, OVPN_NAME), ovpn_routing(lab))
    before = counters(lab)
    assert resolve(lab, OVPN_NAME) == ("NOERROR", OVPN_ANSWER)
    assert counters(lab)["dns_left"] == before["dns_left"], ovpn_routing(lab)
    seen = sh(lab, "ovpnsrv", "journalctl -u answerer --no-pager -o cat")
    assert f"query {OVPN_NAME} from {OVPN_NET}." in seen, seen  # the cell's tunnel address: via the exit


def test_the_credentials_are_files_only(lab, cell, ovpn_server, on_ovpn):
    files = sh(lab, "cell", "stat -c '%n %a' /etc/pic/exits/b.*").split("\n")
    assert sorted(f for f in files if f) == [f"/etc/pic/exits/b.{w} 600" for w in
                                             sorted(("ca", "cert", "key", "tls-crypt", "auth-user-pass"))]
    assert sh(lab, "cell", "cat /etc/pic/exits/b.auth-user-pass") == f"{USERNAME}\n{PASSWORD}\n"
    key_line = ovpn_server["key"].strip().splitlines()[1]
    leaks = lab.exec("cell", ["grep", "-rlF", "-e", key_line, "-e", PASSWORD, "/etc/pic/cell.yml", "/var/lib/pic/state",
                              "/var/lib/pic/runs", "/var/log/pic", "/etc/openvpn"])
    assert leaks.stdout == "", leaks.stdout
    journal = lab.exec("cell", ["journalctl", "--no-pager", "-q"]).stdout
    assert key_line not in journal and PASSWORD not in journal
    assert "BEGIN" not in sh(lab, "cell", "cat /etc/pic/cell.yml")


def test_converging_the_openvpn_exit_again_changes_nothing(cell, on_ovpn):
    again = cell.converge("--tags", "exits")
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, f"changed on a no-op converge: {again.changed_tasks()}"


def test_openvpn_server_down_drops_the_traffic_never_the_uplink(lab, ovpn_server, on_ovpn):
    assert wait_for(lambda: seen_by_far(lab) == ovpn_server["ip"], 60)
    sh(lab, "ovpnsrv", "systemctl stop openvpn-server@server")
    try:
        dropped_never_leaked(lab)
    finally:
        sh(lab, "ovpnsrv", "systemctl start openvpn-server@server")
    assert wait_for(lambda: seen_by_far(lab) == ovpn_server["ip"], 90), (seen_by_far(lab), ovpn_routing(lab))


def test_the_openvpn_exit_goes_once_unused(lab, hosts, cell, admin, on_ovpn):
    back_on_the_uplink_and_removed(lab, hosts, admin, cell, "b")
    assert lab.exec("cell", ["ip", "link", "show", "exit-b"]).returncode != 0
    assert lab.exec("cell", ["test", "-e", "/etc/openvpn/client/exit-b.conf"]).returncode != 0
    assert sh(lab, "cell", "systemctl is-enabled openvpn-client@exit-b || true").strip() != "enabled"
    assert sh(lab, "cell", "ls -A /etc/pic/exits") == ""
