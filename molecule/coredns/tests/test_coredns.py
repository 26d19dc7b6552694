"""The coredns role on a lab cell, without the CoreDNS binary (it cannot be fetched here).

Checked on the host: the account, the Corefile, the zone files (named-checkzone, the records of
every source), the hardened unit, a serial that moves only with the content, bad records refused
by validation, and the release archive refused when it does not match the pinned digest.
"""

from __future__ import annotations

import io
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pic_lab.testing import run_converge as converge

SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parent.parent))
ZONE = "home.cell"
LAN, VPN = "192.168.50.1", "10.0.0.1"
ZONEDIR = "/etc/coredns/zones"
PEERS = [
    {"name": "phone", "public_key": "ID/RkinJa26WlUAU/BWQTq+EY4MdPeLCCZg9RQBAgT4=", "ip": "10.0.0.2"},
    {"name": "laptop", "public_key": "uf5xJAFJWk4Ic6Z0/77LWzibbzm7nNJ7Ihw5HlXnGyM=", "ip": "10.0.0.9"},
]


def zone_records(cell, view: str) -> set[tuple[str, str, str]]:
    out = cell.check_output(f"named-checkzone -k fail -n fail -D {ZONE} {ZONEDIR}/db.{ZONE}.{view}")
    recs = set()
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[2] == "IN":
            recs.add((parts[0], parts[3], parts[4]))
    return recs


def serial(cell) -> int:
    soa = next(r[2] for r in zone_records(cell, "lan") if r[1] == "SOA")
    return int(soa.split()[2])


def test_unprivileged_account(cell):
    user = cell.user("coredns")
    assert user.exists and user.uid < 1000 and user.shell == "/usr/sbin/nologin"


@pytest.mark.parametrize("view,address", [("lan", LAN), ("vpn", VPN)])
def test_zone_files_pass_named_checkzone_and_hold_every_record(cell, view, address):
    f = cell.file(f"{ZONEDIR}/db.{ZONE}.{view}")
    assert f.user == "root" and f.group == "coredns" and f.mode == 0o640
    recs = zone_records(cell, view)
    for name in ("", "calendar.", "files.", "mail.", "ns.", "ntp.", "vpn."):
        assert (f"{name}{ZONE}.", "A", address) in recs, name
    assert (f"phone.{ZONE}.", "A", "10.0.0.2") in recs
    assert (f"laptop.{ZONE}.", "A", "10.0.0.9") in recs
    # From /etc/pic/dns/records.d/mailserver.yml on the host.
    assert (f"{ZONE}.", "MX", f"10 mail.{ZONE}.") in recs
    assert (f"{ZONE}.", "TXT", '"v=spf1 mx -all"') in recs
    dkim = next(r[2] for r in recs if r[0] == f"mail._domainkey.{ZONE}.")
    assert dkim.startswith('"v=DKIM1; k=rsa; p=MIIB') and '" "' in dkim  # split into 255-byte strings


def test_corefile(cell):
    conf = cell.file("/etc/coredns/Corefile")
    assert conf.group == "coredns" and conf.mode == 0o640
    text = conf.content_string
    assert f"{ZONE}:53 {{\n    bind {LAN}\n" in text and f"{ZONE}:53 {{\n    bind {VPN}\n" in text
    assert f"file {ZONEDIR}/db.{ZONE}.lan {ZONE}" in text and f"file {ZONEDIR}/db.{ZONE}.vpn {ZONE}" in text
    assert f".:53 {{\n    bind {LAN} {VPN}\n" in text
    # other .cell names are answered here (NXDOMAIN), never forwarded
    assert f"cell:53 {{\n    bind {LAN} {VPN}\n" in text and "template ANY ANY {\n        rcode NXDOMAIN\n" in text
    assert "forward . 192.0.2.53\n" in text and "cache 300\n" in text


def test_unit_is_hardened_and_unprivileged(cell):
    props = dict(line.split("=", 1) for line in cell.check_output(
        "systemctl show coredns -p User -p AmbientCapabilities -p CapabilityBoundingSet -p NoNewPrivileges "
        "-p ProtectSystem -p PrivateDevices -p ExecReload -p UnitFileState").splitlines())
    assert props["User"] == "coredns"
    assert props["AmbientCapabilities"] == "cap_net_bind_service"
    assert props["CapabilityBoundingSet"] == "cap_net_bind_service"
    assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["PrivateDevices"] == "yes"
    assert "USR1" in props["ExecReload"]
    score = cell.run("systemd-analyze security coredns --no-pager | tail -1").stdout
    assert "OK" in score or "SAFE" in score, score


def test_no_binary_no_service(cell):
    # coredns_install: false and no binary on this machine: the service is left stopped.
    assert not cell.file("/usr/local/bin/coredns").exists
    assert not cell.service("coredns").is_running


def test_serial_moves_only_with_the_content(cell):
    before = serial(cell)
    res = converge({})
    assert res.returncode == 0, res.stdout[-2000:]
    assert serial(cell) == before
    key = "8j5tv8wbFR13gY9lpumdRlj9p4u8uoLRgrXWPRlFNwI="
    tablet = {"name": "tablet", "ip": "10.0.0.4", "public_key": key}
    res = converge({"pic_peers": [*PEERS, tablet]})
    assert res.returncode == 0, res.stdout[-2000:]
    assert serial(cell) > before
    assert (f"tablet.{ZONE}.", "A", "10.0.0.4") in zone_records(cell, "vpn")


def test_bad_records_never_replace_the_zone(cell):
    before = cell.file(f"{ZONEDIR}/db.{ZONE}.lan").sha256sum
    bad = [
        # Refused by the role's own checks: a name with a space, a value with a newline.
        [{"name": "bad name", "type": "A", "value": "192.168.50.7"}],
        [{"name": "x", "type": "TXT", "value": "a\nb IN A 1.2.3.4"}],
        # Passes those checks but not named-checkzone: a CNAME beside the service's A record.
        [{"name": "mail", "type": "CNAME", "value": "files"}],
    ]
    # Side by side: each fails before it changes anything, so none can disturb another (one after
    # another they took about 18 s each).
    with ThreadPoolExecutor(len(bad)) as pool:
        space, newline, cname = pool.map(converge, [{"coredns_records": records} for records in bad])
    assert space.returncode != 0 and "invalid record" in space.stdout + space.stderr
    assert newline.returncode != 0 and "a line break" in newline.stdout + newline.stderr
    assert cname.returncode != 0 and "failed to validate" in cname.stdout + cname.stderr
    assert cell.file(f"{ZONEDIR}/db.{ZONE}.lan").sha256sum == before


def _archive(tmp_path: Path) -> Path:
    """A release-shaped tarball whose content is not CoreDNS: it must be refused, never installed."""
    path = tmp_path / "coredns_1.11.3_linux_amd64.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"this is not CoreDNS\n"
        info = tarfile.TarInfo("coredns")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return path


def test_archive_without_a_pinned_digest_is_refused(cell, tmp_path):
    res = converge({"coredns_install": True, "coredns_archive": str(_archive(tmp_path))})
    assert res.returncode != 0
    assert "no sha256 for coredns_1.11.3_linux_" in res.stdout + res.stderr
    assert not cell.file("/usr/local/bin/coredns").exists


def test_archive_that_does_not_match_the_digest_is_refused(cell, tmp_path):
    wrong = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of nothing
    res = converge({"coredns_install": True, "coredns_archive": str(_archive(tmp_path)),
                    "coredns_checksums": {"amd64": wrong, "arm64": wrong}})
    assert res.returncode != 0
    assert "refusing to install it" in res.stdout + res.stderr
    assert not cell.file("/usr/local/bin/coredns").exists
