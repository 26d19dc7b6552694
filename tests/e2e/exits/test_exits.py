"""A device's traffic leaves through an upstream WireGuard server, and never the cell's uplink when
that exit is down (fail closed).

The lab's topology, the cell and the device: exitlab.py and conftest.py (shared by the exits'
files).

1. Without an exit, far sees the device's requests from the cell's address (the cell's masquerade).
2. An exit added from the provider's wg-quick config (its keys only in 0600 files), the device
   moved to it through the API: far sees the exit server's address, the exits list shows its tunnel
   up with a recent handshake; `site.yml --tags exits` again changes nothing.
3. The exit server's WireGuard stopped: the device's requests fail, and a counter on the cell's
   uplink shows none of them left there. The cell's own exit tunnel stopped: the same (its table's
   unreachable default); both back: the exit carries the device again.
DNS (no leak): the cell's resolver (dnsmasq) asks far, its upstream, over the uplink; the exit's
resolver is a tiny answerer on exitsrv (the DNS = of the provider's config). A device on the exit
asking the cell's address gets the exit's answer (a name only that resolver knows), nothing of it
leaves the uplink as DNS, and the exit's resolver saw the query come through the tunnel.

4. The exit cannot be removed while the device uses it (409); the device back on the uplink, the
   exit is removed with its tunnel and key files.
"""

from __future__ import annotations

import pytest
from exitlab import (
    EXIT_ANSWER,
    EXIT_NAME,
    EXIT_NET,
    EXIT_PORT,
    FAR,
    UPLINK_ANSWER,
    UPLINK_NAME,
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


@pytest.fixture(scope="module")
def provider(lab, hosts):
    """The exit server up, and the wg-quick config a provider would hand out for the cell."""
    keys = sh(lab, "exitsrv", "umask 077; s=$(wg genkey); c=$(wg genkey); p=$(wg genpsk); "
              "echo $s $(echo $s | wg pubkey) $c $(echo $c | wg pubkey) $p").split()
    server_private, server_public, cell_private, cell_public, psk = keys
    server = f"""[Interface]
Address = {EXIT_NET}.1/24
ListenPort = {EXIT_PORT}
PrivateKey = {server_private}
PostUp = echo 1 > /proc/sys/net/ipv4/ip_forward
PostUp = nft add table ip exitnat
PostUp = nft add chain ip exitnat post '{{ type nat hook postrouting priority srcnat; }}'
PostUp = nft add rule ip exitnat post ip saddr {EXIT_NET}.0/24 oifname host0 masquerade
PostDown = nft delete table ip exitnat

[Peer]
PublicKey = {cell_public}
PresharedKey = {psk}
AllowedIPs = {EXIT_NET}.2/32
"""
    sh(lab, "exitsrv", "umask 077; cat > /etc/wireguard/wg0.conf", input=server)
    sh(lab, "exitsrv", "wg-quick up wg0")
    config = f"""[Interface]
PrivateKey = {cell_private}
Address = {EXIT_NET}.2/32
DNS = {EXIT_NET}.1

[Peer]
PublicKey = {server_public}
PresharedKey = {psk}
Endpoint = {hosts['exitsrv']}:{EXIT_PORT}
AllowedIPs = 0.0.0.0/0
PersistentKeepalive = 25
"""
    return {"config": config, "private": cell_private, "psk": psk, "server_public": server_public}



def test_without_an_exit_far_sees_the_cell(lab, hosts, device):
    assert wait_for(lambda: seen_by_far(lab), 20) == hosts["cell"]


def test_without_an_exit_the_cells_resolver_asks_over_the_uplink(lab, device):
    """The control of the DNS test below: the counter sees a query the cell's resolver forwards."""
    before = counters(lab)
    assert resolve(lab, UPLINK_NAME) == ("NOERROR", UPLINK_ANSWER)
    assert counters(lab)["dns_left"] > before["dns_left"]



@pytest.fixture(scope="module")
def on_exit(lab, cell, admin, provider, device):
    return add_exit_for_the_device(admin, cell, {"name": "a", "config": provider["config"]})


def test_a_bad_exit_config_is_refused_by_field(cell, admin, provider):
    bad = provider["config"].replace("AllowedIPs = 0.0.0.0/0", "AllowedIPs = 10.66.66.0/24")
    r = admin.post(f"{cell.https}/api/exits", json={"name": "b", "config": bad}, headers=csrf(admin), timeout=30)
    assert r.status_code == 400 and "config.AllowedIPs" in r.json()["fields"], r.text


def test_on_the_exit_far_sees_the_exit_server(lab, hosts, on_exit):
    assert on_exit["exit"] == "a"
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 20), seen_by_far(lab)
    shakes = sh(lab, "cell", "wg show exit-a latest-handshakes").split()
    assert len(shakes) == 2 and int(shakes[1]) > 0


def test_the_exits_list_shows_its_tunnel_up_with_a_recent_handshake(lab, cell, admin, on_exit):
    assert wait_for(lambda: seen_by_far(lab), 20)  # traffic through the tunnel
    live = admin.get(f"{cell.https}/api/exits/a", timeout=30).json()["exit"]["live"]
    assert live["unit"] == "active" and live["up"] is True, live
    assert live["latest_handshake"] > 0 and 0 <= live["now"] - live["latest_handshake"] < 180, live
    assert live["rx"] > 0 and live["tx"] > 0, live
    assert live["endpoint"].startswith(f"{lab.host_info('exitsrv')['ip']}:"), live


def test_the_exits_address_is_the_one_far_sees_through_it(lab, hosts, cell, admin, on_exit):
    """The API asks the cell's address source (far's echo server) through the exit's tunnel."""
    assert wait_for(lambda: seen_by_far(lab), 20)
    seen = admin.get(f"{cell.https}/api/exits/a/address", timeout=30).json()
    assert seen == {"exit": "a", "address": hosts["exitsrv"], "source": f"http://{FAR}:8000/"}, seen


def test_on_the_exit_dns_is_the_exits_resolver_through_the_tunnel(lab, on_exit):
    assert wait_for(lambda: resolve(lab, EXIT_NAME) == ("NOERROR", EXIT_ANSWER), 20), resolve(lab, EXIT_NAME)
    before = counters(lab)
    assert resolve(lab, EXIT_NAME) == ("NOERROR", EXIT_ANSWER)
    # the cell's own resolver (and its upstream) is not asked: far's name is unknown there
    assert resolve(lab, UPLINK_NAME) == ("NXDOMAIN", "")
    found = counters(lab)["dns_left"] - before["dns_left"]
    assert found == 0, (found, routing(lab))
    seen = sh(lab, "exitsrv", "journalctl -u answerer --no-pager -o cat")
    assert f"query {EXIT_NAME} from {EXIT_NET}.2" in seen, seen  # the cell's tunnel address: via the exit


def test_the_exits_keys_are_files_only(lab, cell, provider, on_exit):
    for name in ("a.key", "a.psk"):
        assert sh(lab, "cell", f"stat -c %a /etc/pic/exits/{name}").strip() == "600"
    assert sh(lab, "cell", "cat /etc/pic/exits/a.key").strip() == provider["private"]
    leaks = lab.exec("cell", ["grep", "-rlF", "-e", provider["private"], "-e", provider["psk"], "/etc/pic/cell.yml",
                              "/var/lib/pic/state", "/var/lib/pic/runs", "/var/log/pic", "/etc/wireguard"])
    assert leaks.stdout == "", leaks.stdout
    journal = lab.exec("cell", ["journalctl", "--no-pager", "-q"]).stdout
    assert provider["private"] not in journal and provider["psk"] not in journal


def test_converging_the_exits_again_changes_nothing(cell, on_exit):
    again = cell.converge("--tags", "exits")
    assert again.rc == 0, again.output[-6000:]
    assert again.recap()["changed"] == 0, f"changed on a no-op converge: {again.changed_tasks()}"


def test_exit_server_down_drops_the_traffic_never_the_uplink(lab, hosts, cell, admin, on_exit):
    sh(lab, "exitsrv", "wg-quick down wg0")
    try:
        dropped_never_leaked(lab)
        # nor does the address check take another way out: none of it leaves the uplink
        before = counters(lab)["left"]
        seen = admin.get(f"{cell.https}/api/exits/a/address", timeout=30).json()
        assert seen["address"] == "" and "through exit-a" in seen["reason"], seen
        assert counters(lab)["left"] == before, routing(lab)
    finally:
        sh(lab, "exitsrv", "wg-quick up wg0")
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 30), seen_by_far(lab)


def test_exit_tunnel_down_on_the_cell_is_unreachable_never_the_uplink(lab, hosts, on_exit):
    sh(lab, "cell", "systemctl stop wg-quick@exit-a")
    try:
        route = lab.exec("cell", ["ip", "-4", "route", "show", "table", "4096"]).stdout
        assert route.strip().startswith("unreachable default"), route
        dropped_never_leaked(lab)
    finally:
        sh(lab, "cell", "systemctl start wg-quick@exit-a")
    assert wait_for(lambda: seen_by_far(lab) == hosts["exitsrv"], 30), seen_by_far(lab)



def test_an_exit_in_use_stays_and_goes_once_unused(lab, hosts, cell, admin, on_exit):
    r = admin.delete(f"{cell.https}/api/exits/a", headers=csrf(admin), timeout=30)
    assert r.status_code == 409 and "roamer" in r.json()["fields"]["name"], r.text
    back_on_the_uplink_and_removed(lab, hosts, admin, cell, "a")
    assert lab.exec("cell", ["ip", "link", "show", "exit-a"]).returncode != 0
    assert lab.exec("cell", ["test", "-e", "/etc/wireguard/exit-a.conf"]).returncode != 0
    assert sh(lab, "cell", "ls -A /etc/pic/exits") == ""
    assert lab.exec("cell", ["ip", "-4", "route", "show", "table", "4096"]).stdout.strip() == ""
    assert seen_by_far(lab) == hosts["cell"]

