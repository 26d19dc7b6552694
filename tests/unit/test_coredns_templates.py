"""The coredns role's templates rendered with Jinja, zones checked by named-checkzone (bind9-utils)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "coredns"
ZONE = "home.cell"
LAN, VPN = "192.168.50.1", "10.0.0.1"
DKIM = "v=DKIM1; k=rsa; p=" + "A" * 392  # longer than one 255-byte TXT string

pytestmark = pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="needs bind9-utils")


def render(name: str, **overrides) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    views = [{"name": "lan", "address": LAN}, {"name": "vpn", "address": VPN}]
    ctx = {
        "ansible_managed": "Managed by PIC",
        "coredns_zone": ZONE,
        "coredns_view": views[0],
        "coredns_views": views,
        "coredns_zone_hash": "0" * 64,
        "coredns_serial": 2026112700,
        "coredns_ttl": 300,
        "coredns_hostmaster": f"hostmaster.{ZONE}",
        "coredns_service_names": ["@", "calendar", "files", "mail", "ns", "ntp", "vpn"],
        "coredns_app_names": [],
        "coredns_peers": [{"name": "phone", "ip": "10.0.0.2"}, {"name": "laptop", "ip": "10.0.0.7"}],
        "shared_dns_records": [
            {"name": "@", "type": "MX", "value": "10 mail"},
            {"name": "mail._domainkey", "type": "TXT", "value": DKIM},
            {"name": "@", "type": "TXT", "value": "v=spf1 mx -all"},
            {"name": "www", "type": "CNAME", "value": "files"},
        ],
        "coredns_zone_dir": "/etc/coredns/zones",
        "coredns_port": 53,
        "coredns_allow": ["192.168.50.0/24", "10.0.0.0/24", "127.0.0.0/8"],
        "coredns_upstream": ["192.0.2.53"],
        "coredns_cache_ttl": 300,
        "coredns_links": [],
        "coredns_user": "coredns",
        "coredns_group": "coredns",
        "coredns_binary": "/usr/local/bin/coredns",
        "coredns_config_dir": "/etc/coredns",
    }
    ctx.update(overrides)
    return env.get_template(name).render(ctx)


def checkzone(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    f = tmp_path / "zone.db"
    f.write_text(text)
    return subprocess.run(["named-checkzone", "-k", "fail", "-n", "fail", "-D", ZONE, str(f)],
                          capture_output=True, text=True)


def records(dump: str) -> set[tuple[str, str, str]]:
    out = set()
    for line in dump.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[2] == "IN":
            out.add((parts[0], parts[3], parts[4]))
    return out


@pytest.mark.parametrize("view,address", [("lan", LAN), ("vpn", VPN)])
def test_zone_is_valid_and_has_every_name(tmp_path, view, address):
    res = checkzone(render("zone.db.j2", coredns_view={"name": view, "address": address}), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    recs = records(res.stdout)
    for name in ("", "calendar.", "files.", "mail.", "ns.", "ntp.", "vpn."):
        assert (f"{name}{ZONE}.", "A", address) in recs
    assert (f"phone.{ZONE}.", "A", "10.0.0.2") in recs
    assert (f"laptop.{ZONE}.", "A", "10.0.0.7") in recs
    assert (f"{ZONE}.", "MX", f"10 mail.{ZONE}.") in recs
    assert (f"{ZONE}.", "NS", f"ns.{ZONE}.") in recs
    assert (f"www.{ZONE}.", "CNAME", f"files.{ZONE}.") in recs
    assert any(r[0] == f"{ZONE}." and r[1] == "SOA" and " 2026112700 " in r[2] for r in recs)


def test_long_txt_is_split_into_strings_that_join_back(tmp_path):
    res = checkzone(render("zone.db.j2"), tmp_path)
    assert res.returncode == 0, res.stderr
    txt = next(r[2] for r in records(res.stdout) if r[0] == f"mail._domainkey.{ZONE}." and r[1] == "TXT")
    strings = txt.split('" "')
    assert len(strings) == 2
    assert "".join(s.strip('"') for s in strings) == DKIM


def test_broken_zone_is_refused_by_the_checker(tmp_path):
    # The role's validate runs the same command: a CNAME beside other data never replaces a zone.
    bad = render("zone.db.j2", shared_dns_records=[{"name": "mail", "type": "CNAME", "value": "files"}])
    assert checkzone(bad, tmp_path).returncode != 0
    bad = render("zone.db.j2", coredns_peers=[{"name": "phone", "ip": "10.0.0.300"}])
    assert checkzone(bad, tmp_path).returncode != 0


def test_corefile_serves_the_zone_per_view_and_forwards_the_rest():
    text = render("Corefile.j2")
    assert f"{ZONE}:53 {{\n    bind {LAN}\n" in text
    assert f"{ZONE}:53 {{\n    bind {VPN}\n" in text
    assert f"file /etc/coredns/zones/db.{ZONE}.lan {ZONE}" in text
    assert f"file /etc/coredns/zones/db.{ZONE}.vpn {ZONE}" in text
    assert f".:53 {{\n    bind {LAN} {VPN}\n" in text
    assert "forward . 192.0.2.53\n" in text
    assert "cache 300\n" in text
    # the two views, other .cell names (answered NXDOMAIN here, never forwarded) and the rest
    assert f"cell:53 {{\n    bind {LAN} {VPN}\n" in text and "template ANY ANY {\n        rcode NXDOMAIN\n" in text
    assert text.count("allow net 192.168.50.0/24 10.0.0.0/24 127.0.0.0/8\n") == 4
    assert text.count("{") == text.count("}")


def test_corefile_without_upstream_or_vpn():
    text = render("Corefile.j2", coredns_upstream=[], coredns_views=[{"name": "lan", "address": LAN}])
    assert "forward ." not in text
    assert VPN not in text
    assert text.count("{") == text.count("}")


def test_corefile_forwards_each_linked_zone_through_its_link():
    links = [{"name": "away", "zone": "away.cell", "dns": "10.77.3.1", "subnets": ["10.77.3.0/24"]}]
    allow = ["192.168.50.0/24", "10.0.0.0/24", "127.0.0.0/8", "10.77.3.0/24"]
    text = render("Corefile.j2", coredns_links=links, coredns_allow=allow)
    block = text[text.index("away.cell:53 {"):]
    block = block[:block.index("\n}\n")]
    assert f"bind {LAN} {VPN}\n" in block
    assert "forward . 10.77.3.1\n" in block
    assert "allow net 192.168.50.0/24 10.0.0.0/24 127.0.0.0/8 10.77.3.0/24\n" in block
    # the rest still goes upstream, and the linked zone is not answered from this cell's zone files
    assert "forward . 192.0.2.53\n" in text and "db.away.cell" not in text
    assert text.count("{") == text.count("}")


def test_linked_cells_subnets_may_ask_this_cells_names():
    """coredns_allow's default adds each link's subnets (its cell forwards our zone to us)."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    assert defaults["coredns_links"] == "{{ pic_links | default([]) }}"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["flatten"] = lambda seq: [x for part in seq for x in (part if isinstance(part, list) else [part])]
    env.filters["bool"] = bool
    allow = env.from_string(defaults["coredns_allow"]).render(
        coredns_lan_subnet="192.168.50.0/24", coredns_vpn_subnet="10.0.0.0/24", coredns_vpn_enabled=True,
        coredns_links=[{"subnets": ["10.77.3.0/24", "192.168.77.0/24"]}])
    assert allow.split() == ["['192.168.50.0/24',", "'10.0.0.0/24',", "'127.0.0.0/8',", "'10.77.3.0/24',",
                             "'192.168.77.0/24']"]


def test_unit_runs_unprivileged_with_only_bind_capability():
    unit = render("coredns.service.j2")
    assert "User=coredns\n" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" in unit
    assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in unit
    assert "NoNewPrivileges=true\n" in unit
    assert "ExecStart=/usr/local/bin/coredns -conf /etc/coredns/Corefile\n" in unit
