"""dnsmasq on the cell: DHCP for a real client on the lab bridge, the cell zone, forwarding to the
lab's own upstream resolver, and the guards (validation, coredns mode, disabled)."""

import ipaddress
import shlex
import time

import pytest

ZONE = "lab.cell"
SERVICES = ["", "calendar.", "files.", "mail.", "ns.", "ntp.", "vpn."]

# A DNS A-query with the standard library only (the DHCP client host cannot install packages: its
# default route is the cell, which does not forward).
RESOLVE = r"""
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x5050, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, (server, 53))
r = s.recv(4096)
i = 12
while r[i]:
    i += r[i] + 1
i += 5
for _ in range(struct.unpack(">H", r[6:8])[0]):
    if r[i] & 0xC0 == 0xC0:
        i += 2
    else:
        while r[i]:
            i += r[i] + 1
        i += 1
    t, c, ttl, n = struct.unpack(">HHIH", r[i:i + 10])
    i += 10
    if t == 1:
        print(socket.inet_ntoa(r[i:i + n]))
    i += n
"""


def dig(lab, server, name, rtype="A"):
    res = lab.exec("upstream", ["dig", "+short", "+time=3", "+tries=1", f"@{server}", name, rtype])
    return res.stdout.split("\n") if res.returncode == 0 else None


def answers(lab, server, name, rtype="A"):
    out = dig(lab, server, name, rtype)
    assert out is not None, f"no answer from {server} for {name} {rtype}"
    return sorted(line for line in out if line)


def test_dnsmasq_runs(cell):
    svc = cell.service("dnsmasq")
    assert svc.is_running and svc.is_enabled
    assert cell.run("dnsmasq --test -C /etc/dnsmasq.d/pic.conf").rc == 0


@pytest.mark.parametrize("label", SERVICES)
def test_service_names_resolve_to_the_cell_lan_address(lab, host_ip, label):
    # The VPN address is published too; a LAN client gets only the address on its own network.
    assert answers(lab, host_ip["cell"], f"{label}{ZONE}") == [host_ip["cell"]]


def test_peers_resolve_to_their_vpn_address(lab, host_ip):
    assert answers(lab, host_ip["cell"], f"phone.{ZONE}") == ["10.0.0.2"]
    assert answers(lab, host_ip["cell"], f"laptop.{ZONE}") == ["10.0.0.3"]


PEERS_FILE = "/var/lib/pic-dns/peers.hosts"


def test_a_peer_written_as_the_agent_does_resolves_after_a_reload_not_a_restart(lab, cell, host_ip, converge):
    """pic-agent writes the peers' hosts file (the same text the role renders) and reloads dnsmasq:
    the new name answers at once, the process stays, and the converge that follows writes nothing."""
    from pic_api.core import peerhosts

    pid = cell.run("systemctl show -p MainPID --value dnsmasq").stdout.strip()
    peers = [{"name": n, "ip": f"10.0.0.{i}"} for i, n in ((2, "phone"), (3, "laptop"), (4, "tablet"))]
    text = peerhosts.render(peers, ZONE)
    cell.run(f"printf %s {shlex.quote(text)} > {PEERS_FILE}.new && mv {PEERS_FILE}.new {PEERS_FILE}")
    assert cell.run("systemctl reload dnsmasq").rc == 0
    assert answers(lab, host_ip["cell"], f"tablet.{ZONE}") == ["10.0.0.4"]
    assert cell.run("systemctl show -p MainPID --value dnsmasq").stdout.strip() == pid
    try:
        res = converge({"pic_peers": [{**p, "route": "split"} for p in peers]})
        assert res.returncode == 0, res.stdout[-3000:]
        assert "changed=0" in res.stdout, res.stdout[-3000:]
    finally:
        res = converge({})  # back to two peers: the name goes with a reload
    assert res.returncode == 0, res.stdout[-3000:]
    assert answers(lab, host_ip["cell"], f"tablet.{ZONE}") == []
    assert answers(lab, host_ip["cell"], f"phone.{ZONE}") == ["10.0.0.2"]
    assert cell.run("systemctl show -p MainPID --value dnsmasq").stdout.strip() == pid


def test_unknown_name_in_the_zone_is_not_forwarded(lab, host_ip):
    res = lab.exec("upstream", ["dig", "+time=3", "+tries=1", f"@{host_ip['cell']}", f"nobody.{ZONE}"])
    assert "status: NXDOMAIN" in res.stdout


def test_another_cells_name_is_never_asked_upstream(lab, host_ip):
    """The lab upstream answers every .cell name; the cell must not ask it (nor wait on a real one)."""
    assert answers(lab, host_ip["upstream"], "elsewhere.cell") == ["192.0.2.66"]
    res = lab.exec("upstream", ["dig", "+time=3", "+tries=1", f"@{host_ip['cell']}", "calendar.elsewhere.cell"])
    assert "status: NXDOMAIN" in res.stdout and "192.0.2.66" not in res.stdout


def test_records_from_records_d(lab, host_ip):
    assert answers(lab, host_ip["cell"], ZONE, "MX") == [f"10 mail.{ZONE}."]
    assert '"v=spf1 mx -all"' in answers(lab, host_ip["cell"], ZONE, "TXT")
    dkim = answers(lab, host_ip["cell"], f"mail._domainkey.{ZONE}", "TXT")
    # 370 characters: published as two character-strings (255 + the rest) of one TXT record.
    assert len(dkim) == 1
    joined = "".join(part.strip('"') for part in dkim[0].split('" "'))
    assert joined == "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkq" * 30
    assert answers(lab, host_ip["cell"], f"_submission._tcp.{ZONE}", "SRV") == [f"0 1 587 mail.{ZONE}."]


def test_records_the_admin_added(lab, host_ip):
    """The cell state's records (pic_dns_records) join the ones other roles publish."""
    assert answers(lab, host_ip["cell"], f"printer.{ZONE}") == ["192.0.2.50"]
    assert answers(lab, host_ip["cell"], f"nas.{ZONE}") == ["192.0.2.50", f"printer.{ZONE}."]
    assert answers(lab, host_ip["cell"], f"_ipp._tcp.{ZONE}", "SRV") == [f"0 1 631 printer.{ZONE}."]
    assert answers(lab, host_ip["cell"], f"printer.{ZONE}", "TXT") == ['"room=office"']


def test_other_names_are_forwarded_to_the_upstream(lab, cell, host_ip):
    assert answers(lab, host_ip["cell"], "www.example.test") == ["192.0.2.7"]
    assert answers(lab, host_ip["cell"], "example.test", "TXT") == ['"served by the lab upstream"']
    conf = cell.file("/etc/dnsmasq.d/pic.conf").content_string
    assert "no-resolv" in conf and f"server={host_ip['upstream']}" in conf


def test_forwarded_answers_are_cached(lab, host_ip):
    assert answers(lab, host_ip["cell"], "cached.example.test") == ["192.0.2.7"]
    lab.exec("upstream", ["systemctl", "stop", "dnsmasq"], check=True)
    try:
        # The upstream is gone: only the cell's cache can answer now.
        assert answers(lab, host_ip["cell"], "cached.example.test") == ["192.0.2.7"]
        assert dig(lab, host_ip["cell"], "uncached.example.test") in (None, [""])
    finally:
        lab.exec("upstream", ["systemctl", "start", "dnsmasq"], check=True)


@pytest.fixture(scope="module")
def lan(lab):
    """A host that takes its address from the cell's DHCP server."""
    info = lab.up("lan", dhcp=True)
    yield info
    lab.down("lan")


def _lease(lab):
    ifindex = lab.exec("lan", ["cat", "/sys/class/net/host0/ifindex"], check=True).stdout.strip()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        res = lab.exec("lan", ["cat", f"/run/systemd/netif/leases/{ifindex}"])
        if res.returncode == 0 and "ROUTER=" in res.stdout:
            return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        time.sleep(0.5)
    pytest.fail("the DHCP client wrote no lease")


def test_dhcp_client_gets_a_lease_in_the_range(lab, lan, host_ip):
    ip = ipaddress.ip_address(lan["ip"])
    net = ipaddress.ip_network(f"{host_ip['cell']}/24", strict=False)
    assert net[200] <= ip <= net[220]
    lease = _lease(lab)
    assert lease["ADDRESS"] == lan["ip"]
    assert lease["SERVER_ADDRESS"] == host_ip["cell"]
    assert lease["LIFETIME"] == "3600"


def test_dhcp_options_point_at_the_cell(lab, lan, host_ip):
    lease = _lease(lab)
    assert lease["ROUTER"] == host_ip["cell"]
    assert lease["DNS"] == host_ip["cell"]
    assert lease["NTP"] == host_ip["cell"]
    assert lease.get("DOMAINNAME") == ZONE
    route = lab.exec("lan", ["ip", "route", "show", "default"]).stdout
    assert f"via {host_ip['cell']}" in route


def test_dhcp_client_resolves_through_the_dns_it_was_given(lab, lan, host_ip):
    dns = _lease(lab)["DNS"]
    res = lab.exec("lan", ["python3", "-c", RESOLVE, f"calendar.{ZONE}", dns])
    assert res.stdout.split() == [host_ip["cell"]], res.stderr
    res = lab.exec("lan", ["python3", "-c", RESOLVE, "www.example.test", dns])
    assert res.stdout.split() == ["192.0.2.7"], res.stderr


def test_dhcp_client_name_is_published_in_the_zone(lab, cell, lan, host_ip):
    assert "lan" in cell.file("/var/lib/misc/dnsmasq.leases").content_string
    assert answers(lab, host_ip["cell"], f"lan.{ZONE}") == [lan["ip"]]


def test_bad_value_fails_validation_and_keeps_serving(lab, cell, host_ip, converge):
    before = cell.file("/etc/dnsmasq.d/pic.conf").content_string
    res = converge({"pic_dhcp_range": ["10.9.9.300", "not-an-address"]})
    assert res.returncode != 0
    assert "failed to validate" in res.stdout + res.stderr
    assert cell.file("/etc/dnsmasq.d/pic.conf").content_string == before
    assert answers(lab, host_ip["cell"], f"calendar.{ZONE}") == [host_ip["cell"]]


def test_record_that_would_inject_config_is_refused(lab, cell, host_ip, converge):
    before = cell.file("/etc/dnsmasq.d/pic.conf").content_string
    evil = '- {name: evil, type: TXT, value: "a\\nport=0"}\n'
    cell.run(f"printf %s {shlex.quote(evil)} > /etc/pic/dns/records.d/evil.yml")
    try:
        res = converge({})
        assert res.returncode != 0
        out = res.stdout + res.stderr
        assert "invalid record" in out and "a line break" in out, out[-3000:]  # the rule of pic_dns_records
    finally:
        cell.run("rm -f /etc/pic/dns/records.d/evil.yml")
    assert cell.file("/etc/dnsmasq.d/pic.conf").content_string == before
    assert answers(lab, host_ip["cell"], f"calendar.{ZONE}") == [host_ip["cell"]]


def test_coredns_mode_keeps_dhcp_and_turns_dns_off(lab, cell, host_ip, converge):
    res = converge({"pic_dns_server": "coredns"})
    assert res.returncode == 0, res.stdout[-3000:]
    try:
        assert "port=0" in cell.file("/etc/dnsmasq.d/pic.conf").content_string
        assert dig(lab, host_ip["cell"], f"calendar.{ZONE}") is None
        listening = cell.run("ss -Hlnu").stdout
        assert ":67 " in listening and ":53 " not in listening
    finally:
        res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    assert answers(lab, host_ip["cell"], f"calendar.{ZONE}") == [host_ip["cell"]]


def test_disabled_role_stops_the_service_and_comes_back(lab, cell, host_ip, converge):
    res = converge({"pic_services": []})
    assert res.returncode == 0, res.stdout[-3000:]
    svc = cell.service("dnsmasq")
    assert not svc.is_running and not svc.is_enabled
    assert dig(lab, host_ip["cell"], f"calendar.{ZONE}") is None
    res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    assert answers(lab, host_ip["cell"], f"calendar.{ZONE}") == [host_ip["cell"]]


def test_a_reservation_gives_the_lan_client_its_address_when_it_renews(lab, cell, lan, host_ip, converge):
    """A reservation by MAC (pic_dhcp_reservations, a dhcp-host line checked by dnsmasq --test): the
    DHCP client asks to renew its old address, dnsmasq refuses it and hands out the reserved one, and
    the reservation's name resolves to it. Taken back at the end: the client returns to the pool."""
    mac = lab.exec("lan", ["cat", "/sys/class/net/host0/address"], check=True).stdout.strip()
    net = ipaddress.ip_network(f"{host_ip['cell']}/24", strict=False)
    reserved = str(net[230])  # outside the pool (.200-.220): a reservation need not be in it
    assert reserved != lan["ip"]
    res = converge({"pic_dhcp_reservations": [{"name": "reserved", "mac": mac.upper(), "ip": reserved}]})
    assert res.returncode == 0, res.stdout[-3000:]
    try:
        conf = cell.file("/etc/dnsmasq.d/pic.conf").content_string
        assert f"dhcp-host={mac},{reserved},reserved" in conf
        assert cell.run("dnsmasq --test -C /etc/dnsmasq.d/pic.conf").rc == 0
        have = lab.dhcp_renew_until("lan", lambda addrs: reserved in addrs)
        assert reserved in have, have
        assert answers(lab, host_ip["cell"], f"reserved.{ZONE}") == [reserved]
        res = lab.exec("lan", ["python3", "-c", RESOLVE, f"printer.{ZONE}", host_ip["cell"]])
        assert res.stdout.split() == ["192.0.2.50"], res.stderr
    finally:
        res = converge({})
        assert res.returncode == 0, res.stdout[-3000:]
    assert f"dhcp-host={mac}" not in cell.file("/etc/dnsmasq.d/pic.conf").content_string
    have = lab.dhcp_renew_until("lan", lambda addrs: addrs and reserved not in addrs)
    assert have and reserved not in have, have

