"""The cell_link role on two lab cells linked to each other (with the firewall's link chains and
dnsmasq's forwarding of the other's zone): the tunnel handshakes, each cell resolves a name of the
other's zone through the link, a granted port answers through it and one not granted is dropped.
Then the link is removed from one cell's state: its interface, configuration and chain go."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parent.parent))
CELLS = yaml.safe_load((SCENARIO / "vars" / "links.yml").read_text())["cell_link_test"]
ADDRESS = {name: c["vpn_subnet"].rsplit(".", 1)[0] + ".1" for name, c in CELLS.items()}


def interface(peer: str) -> str:
    return "cl-" + CELLS[peer]["cell_id"][:12]


def sh(lab, host: str, command: str) -> str:
    res = lab.exec(host, ["bash", "-c", command])
    assert res.returncode == 0, (command, res.stdout, res.stderr)
    return res.stdout


def probe(lab, host: str, target: str, specs: list[str], bind: str) -> dict[str, str]:
    res = lab.exec(host, ["python3", "/usr/local/bin/probe.py", "--bind", bind, target, *specs])
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module", autouse=True)
def listeners(lab):
    for host in CELLS:
        lab.exec(host, ["systemd-run", "--unit=link-listen", "--collect", "python3", "/usr/local/bin/listen.py",
                        "tcp:443", "tcp:587", "tcp:993", "tcp:8000"], check=True)
    time.sleep(1)
    yield
    for host in CELLS:
        lab.exec(host, ["systemctl", "stop", "link-listen"])


def handshake(lab, host: str, peer: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        out = sh(lab, host, f"wg show {interface(peer)} latest-handshakes")
        seen = int(out.split()[1]) if out.split() else 0
        if seen or time.monotonic() > deadline:
            return seen
        lab.exec(host, ["ping", "-n", "-c", "1", "-W", "1", ADDRESS[peer]])


def test_the_links_handshake_and_carry_traffic(lab):
    for host, peer in (("cell", "other"), ("other", "cell")):
        assert handshake(lab, host, peer) > 0, sh(lab, host, f"wg show {interface(peer)}")
        unit = sh(lab, host, f"systemctl is-active wg-quick@{interface(peer)}").strip()
        assert unit == "active"
        assert f"{CELLS[peer]['vpn_subnet']} dev {interface(peer)}" in sh(lab, host, "ip -4 route")
        assert lab.exec(host, ["ping", "-n", "-c", "2", "-W", "2", ADDRESS[peer]]).returncode == 0
    # the configuration holds no key; the key file is 0600
    conf = sh(lab, "cell", f"cat /etc/wireguard/{interface('other')}.conf")
    assert CELLS["cell"]["private_key"] not in conf and "PrivateKey" not in conf
    assert sh(lab, "cell", f"stat -c %a /etc/pic/links/{CELLS['other']['cell_id']}.key").strip() == "600"


def test_each_cell_resolves_the_others_zone_through_the_link(lab):
    for host, peer in (("cell", "other"), ("other", "cell")):
        out = sh(lab, host, f"dig +short +tries=2 +time=3 @127.0.0.1 calendar.{peer}.cell A")
        assert ADDRESS[peer] in out.split(), out
        conf = sh(lab, host, "cat /etc/dnsmasq.d/pic.conf")
        assert f"server=/{peer}.cell/{ADDRESS[peer]}" in conf


def test_only_the_granted_services_are_reachable_over_a_link(lab):
    # cell grants other the calendar (443): other reaches it, not mail (587), not ssh, nothing else
    got = probe(lab, "other", ADDRESS["cell"], ["tcp:443", "tcp:587", "tcp:22", "tcp:8000"], bind=ADDRESS["other"])
    assert got["tcp:443"].startswith("open") and got["tcp:443"].endswith(ADDRESS["other"]), got
    assert {k: v for k, v in got.items() if k != "tcp:443"} == {"tcp:587": "filtered", "tcp:22": "filtered",
                                                               "tcp:8000": "filtered"}, got
    # other grants cell mail: SMTP and IMAP, and 443 for the webmail (Caddy's guard lets the link reach
    # that site only); not ssh, nothing else
    got = probe(lab, "cell", ADDRESS["other"], ["tcp:443", "tcp:587", "tcp:993", "tcp:22", "tcp:8000"],
                bind=ADDRESS["cell"])
    assert all(got[p].startswith("open") for p in ("tcp:443", "tcp:587", "tcp:993")), got
    assert got["tcp:22"] == "filtered" and got["tcp:8000"] == "filtered", got


def test_removing_a_link_takes_its_interface_and_chain(lab, converge):
    out = converge({"pic_links": []})
    assert out.returncode == 0, out.stdout[-3000:]
    for host, peer in (("cell", "other"), ("other", "cell")):
        assert lab.exec(host, ["ip", "link", "show", interface(peer)]).returncode != 0
        assert lab.exec(host, ["test", "-e", f"/etc/wireguard/{interface(peer)}.conf"]).returncode != 0
        assert "link_" not in sh(lab, host, "nft list table inet pic")
        assert not re.search(r"server=/\w+\.cell/", sh(lab, host, "cat /etc/dnsmasq.d/pic.conf"))
