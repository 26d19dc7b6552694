"""The lab, its hosts, the cell and its VPN device, shared by the exits' e2e files (one cell for
the WireGuard, OpenVPN and Tor exits: each file adds its exit, moves the device to it, and puts the
device back on the uplink and removes the exit when it ends). The tests/e2e conftest groups these
files, so one worker runs them all with the one cell. (Scope "package" in a directory without
__init__.py lasts until the worker's session ends: the lab goes then, or when pytest is stopped.)
"""

from __future__ import annotations

import pytest
import requests
from exitlab import (
    ADMIN_PASSWORD,
    ANSWERER,
    BRIDGE_PORT,
    EXIT_ANSWER,
    EXIT_NAME,
    FAR,
    UPLINK_ANSWER,
    UPLINK_NAME,
    make_cell,
    sh,
)

from pic_lab.cell import Cell, client_wg_config, csrf, run_finished
from pic_lab.lab import throwaway_lab


@pytest.fixture(scope="package")
def lab():
    with throwaway_lab("exits", "e2e") as lab:
        yield lab


@pytest.fixture(scope="package")
def hosts(lab):
    for name in ("cell", "client", "exitsrv", "far"):
        lab.up(name, image="provisioned")
    ips = {name: lab.host_info(name)["ip"] for name in ("cell", "client", "exitsrv", "far")}
    tools = ("DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
             "-y -qq --no-install-recommends wireguard-tools wireguard-go curl iptables nftables python3 "
             "bind9-dnsutils")
    for name in ("client", "exitsrv"):
        sh(lab, name, tools)
    # far: the echo server on an address beyond the lab's subnet
    echo = ("import http.server as h\n"
            "class H(h.BaseHTTPRequestHandler):\n"
            "    def do_GET(s):\n"
            "        s.send_response(200); s.end_headers(); s.wfile.write(s.client_address[0].encode())\n"
            f"h.HTTPServer(('{FAR}', 8000), H).serve_forever()\n")
    sh(lab, "far", f"ip addr add {FAR}/32 dev host0")
    assert lab.exec("far", ["systemd-run", "--unit=far-echo", "python3", "-c", echo]).returncode == 0
    sh(lab, "exitsrv", f"ip route add {FAR}/32 via {ips['far']}")
    # the resolvers: far's is the cell's upstream, exitsrv's the exit's (the provider's DNS =)
    for host, name, address in (("far", UPLINK_NAME, UPLINK_ANSWER), ("exitsrv", EXIT_NAME, EXIT_ANSWER)):
        run = ["systemd-run", "--unit=answerer", "python3", "-c", ANSWERER, name, address]
        assert lab.exec(host, run).returncode == 0
    return ips



@pytest.fixture(scope="package")
def cell(lab, hosts, tmp_path_factory) -> Cell:
    # tor's bridge (test_exits_tor.py) for the test's converges and for the API's own (its inventory's
    # host variables); it changes nothing while the cell has no Tor exit
    bridges = [f"{hosts['exitsrv']}:{BRIDGE_PORT}"]
    # the cell's address source (what the DDNS updater and an exit's address check ask): far's echo
    # server, which answers with the address a request comes from, a lab address
    source = {"ddns_ipv4_source": f"http://{FAR}:8000/", "ddns_accept_private": True}
    return make_cell(lab, hosts, tmp_path_factory, exits_tor_bridges=bridges, **source,
                     api_cell_host_vars={"exits_tor_bridges": bridges, **source})


@pytest.fixture(scope="package")
def admin(cell, tmp_path_factory) -> requests.Session:
    return cell.https_login(ADMIN_PASSWORD, tmp_path_factory.mktemp("root"))



@pytest.fixture(scope="package")
def device(lab, cell, admin):
    """A full-route VPN device of the cell, its tunnel up on the client."""
    r = admin.post(f"{cell.https}/api/peers", json={"name": "roamer", "route": "full"}, headers=csrf(admin),
                   timeout=30)
    assert r.status_code == 201, r.text
    run_finished(admin, cell.https, r.json()["run_id"], timeout=600)
    config, _ = client_wg_config(r.json()["config"], str(lab.subnet))
    sh(lab, "client", "umask 077; cat > /etc/wireguard/wg0.conf", input=config)
    sh(lab, "client", "wg-quick up wg0")
    return r.json()["peer"]

