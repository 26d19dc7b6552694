"""Two lab cells linked site to site through the API, as two admins would do it.

Topology: one lab bridge (the stand-in for the internet and both cells' LAN); "cell" (home) and
"cellb" (away), each converged by site.yml with a headless setup and no VPN subnet in the inventory,
so each picks its own random /24 (core/addressing.py). Home invites away offering its calendar,
away redeems granting home its calendar, home accepts the answer. Then: the link handshakes, home's
resolver answers a name of away's zone through the link, away's HTTPS (calendar, granted) answers
home through the link while mail (587, not granted), the UI port and ssh (both open to away's LAN)
are dropped from the link. Peer-sync: a device added on home reaches away's record of the link
(home's shared info, versioned), peer-sync's port answers only through the link, and removing the
link on home removes away's end too (its state and its WireGuard interface). Before that, a VPN
device of home ("client", a split tunnel from the API's config) resolves calendar.away.cell through
home's DNS and reaches away's HTTPS through home's link, while away's 587 stays dropped for it.
"""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from pic_lab.cell import Cell, client_wg_config, csrf, run_finished
from pic_lab.lab import throwaway_lab

ADMIN_PASSWORD = "links between cells 7"  # test data, these lab cells only
NAMES = {"cell": "home", "cellb": "away"}
PROBE = """import json, socket, sys
bind, host, out = sys.argv[1], sys.argv[2], {}
for port in map(int, sys.argv[3:]):
    s = socket.socket(); s.settimeout(3); s.bind((bind, 0))
    try:
        s.connect((host, port)); out[port] = "open"
    except ConnectionRefusedError:
        out[port] = "closed"
    except OSError:
        out[port] = "filtered"
    finally:
        s.close()
print(json.dumps(out))
"""


# HTTPS GETs to one address by site name (SNI and Host), from a given source address, with a user's
# login: each site's status, or the error's name. Away's CA is not home's: no verification here.
SITES = """import base64, http.client, json, socket, ssl, sys
bind, addr, login, out = sys.argv[1], sys.argv[2], sys.argv[3], {}
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
auth = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
for site in sys.argv[4:]:
    name, path = site.split(":", 1)
    try:
        raw = socket.create_connection((addr, 443), timeout=10, source_address=(bind, 0))
        conn = http.client.HTTPSConnection(name, 443, context=ctx, timeout=10)
        conn.sock = ctx.wrap_socket(raw, server_hostname=name)
        conn.request("GET", path, headers=auth)
        out[site] = conn.getresponse().status
    except OSError as e:
        out[site] = type(e).__name__
print(json.dumps(out))
"""
AWAY_USER, AWAY_USER_PASSWORD = "carol", "carol of away 4 ever"  # test data, these lab cells only
# Away's sites as a linked cell would ask them: its calendar (granted), its files and its UI's API (not).
# A path of the user's that does not exist: Radicale and the WebDAV server answer it 404 once they are
# reached (a listing of the user's own folder is 403 on both), Caddy's refusal is 403.
CALENDAR = f"calendar.away.cell:/{AWAY_USER}/nothing-here/"
FILES, UI = f"files.away.cell:/{AWAY_USER}/nothing-here", "away.cell:/health"


def served(status: object) -> bool:
    return isinstance(status, int) and status != 403 and status < 500


class LabCell(Cell):
    """A cell on another lab host than "cell" (Cell reads "cell"'s address)."""

    def __init__(self, lab, inventory, host: str):
        super().__init__(lab, inventory)
        self.host = host
        self.ip = lab.host_info(host)["ip"]
        self.url, self.https = f"http://{self.ip}:8081", f"https://{self.ip}"

    def exec(self, *cmd: str, host: str | None = None):
        return self.lab.exec(host or self.host, list(cmd))


@pytest.fixture(scope="module")
def lab():
    with throwaway_lab("links-e2e", "e2e") as lab:  # not "links": the molecule scenario's lab is $PIC_LAB-links
        yield lab


@pytest.fixture(scope="module")
def cells(lab, tmp_path_factory) -> dict[str, LabCell]:
    """Both cells converged by one site.yml run (the web UI is built once, on the controller); each
    its own name from its host_vars."""
    for host in NAMES:
        lab.up(host, image="provisioned")
    setup = {"pic_setup_completed": True, "pic_admin_password": ADMIN_PASSWORD,
             "pic_services": ["dns", "wireguard", "calendar", "files"]}
    workdir = tmp_path_factory.mktemp("cells")
    inventory = lab.write_inventory(workdir, {"cells": list(NAMES)}, setup)
    (workdir / "host_vars").mkdir()
    for host, name in NAMES.items():
        (workdir / "host_vars" / f"{host}.yml").write_text(f"pic_cell_name: {name}\n")
    result = LabCell(lab, inventory, "cell").converge()
    assert result.rc == 0, result.output[-6000:]
    print(f"site.yml converged both cells in {result.seconds:.0f} s")
    return {host: LabCell(lab, inventory, host) for host in NAMES}


@pytest.fixture(scope="module")
def admins(cells, tmp_path_factory):
    return {h: c.https_login(ADMIN_PASSWORD, tmp_path_factory.mktemp(f"root-{h}")) for h, c in cells.items()}


@pytest.fixture(scope="module")
def linked(cells, admins):
    home, away = cells["cell"], cells["cellb"]
    ha, aa = admins["cell"], admins["cellb"]
    made = ha.post(f"{home.https}/api/cells/invitations", json={"services": ["calendar"], "endpoint": home.ip},
                   headers=csrf(ha), timeout=30)
    assert made.status_code == 201, made.text
    redeemed = aa.post(f"{away.https}/api/cells/links", json={"token": made.json()["token"], "services": ["calendar"],
                                                              "endpoint": away.ip}, headers=csrf(aa), timeout=30)
    assert redeemed.status_code == 202, redeemed.text
    run_finished(aa, away.https, redeemed.json()["run_id"])
    accepted = ha.post(f"{home.https}/api/cells/links/accept", json={"token": redeemed.json()["answer"]},
                       headers=csrf(ha), timeout=30)
    assert accepted.status_code == 202, accepted.text
    run_finished(ha, home.https, accepted.json()["run_id"])
    # replayed: the same invitation again on away is refused (linked already), nothing saved
    again = aa.post(f"{away.https}/api/cells/links", json={"token": made.json()["token"]}, headers=csrf(aa),
                    timeout=30)
    assert again.status_code == 400 and "token.cell" in again.json()["fields"], again.text
    out = {"home": ha.get(f"{home.https}/api/cells/links", timeout=30).json(),
           "away": aa.get(f"{away.https}/api/cells/links", timeout=30).json()}
    # each cell's DNS address (its VPN address) as the other's link names it
    out["home_vpn"], out["away_vpn"] = out["away"]["links"][0]["dns"], out["home"]["links"][0]["dns"]
    return out


@pytest.fixture(scope="module")
def away_user(cells, admins):
    """A user of away with its calendar and files, made through away's API."""
    away, aa = cells["cellb"], admins["cellb"]
    made = aa.post(f"{away.https}/api/users", json={"name": AWAY_USER, "password": AWAY_USER_PASSWORD,
                                                    "services": ["calendar", "files"]}, headers=csrf(aa), timeout=30)
    assert made.status_code == 201, made.text
    run_finished(aa, away.https, made.json()["run_id"])
    return f"{AWAY_USER}:{AWAY_USER_PASSWORD}"


def sites_status(cell: LabCell, bind: str, address: str, login: str, *sites: str) -> dict[str, object]:
    cell.exec("sh", "-c", f"cat > /tmp/sites.py <<'EOF'\n{SITES}EOF")
    res = cell.exec("python3", "/tmp/sites.py", bind, address, login, *sites)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_cells_picked_subnets_that_do_not_overlap(linked):
    home, away = ipaddress.IPv4Address(linked["home_vpn"]), ipaddress.IPv4Address(linked["away_vpn"])
    assert home in ipaddress.IPv4Network("10.64.0.0/10") and away in ipaddress.IPv4Network("10.64.0.0/10")
    assert home.packed[:3] != away.packed[:3]


def test_the_link_handshakes(cells, linked):
    (link,) = linked["home"]["links"]
    assert link["name"] == "away" and link["zone"] == "away.cell" and link["keys_stored"]
    deadline, seen = time.monotonic() + 60, 0
    while not seen and time.monotonic() < deadline:
        cells["cell"].exec("ping", "-n", "-c", "1", "-W", "1", linked["away_vpn"])
        out = cells["cell"].exec("wg", "show", link["interface"], "latest-handshakes").stdout.split()
        seen = int(out[1]) if len(out) > 1 else 0
    assert seen, cells["cell"].exec("wg", "show", link["interface"]).stdout


# A resolver's A answers for a name, asked over UDP with the standard library (the cell image has no dig).
ASK = """import random, socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(q, (server, 53))
r = s.recv(4096)
count, i = struct.unpack(">H", r[6:8])[0], len(q)
for _ in range(count):
    i += 2 if r[i] >= 192 else r.index(b"\\0", i) + 1 - i
    kind, _, _, size = struct.unpack(">HHIH", r[i:i + 10]); i += 10
    if kind == 1:
        print(socket.inet_ntoa(r[i:i + 4]))
    i += size
"""


def test_home_resolves_a_name_of_aways_zone_through_the_link(cells, linked):
    """Home's resolver (at its VPN address, as its devices ask it) answers calendar.away.cell with
    away's answer, which it got from away's resolver through the link."""
    home = cells["cell"]
    home.exec("sh", "-c", f"cat > /tmp/ask.py <<'EOF'\n{ASK}EOF")
    res = home.exec("python3", "/tmp/ask.py", linked["home_vpn"], "calendar.away.cell")
    assert linked["away_vpn"] in res.stdout.split(), (res.stdout, res.stderr)


def test_only_the_granted_calendar_answers_through_the_link(cells, linked):
    home = cells["cell"]
    home.exec("sh", "-c", f"cat > /tmp/probe.py <<'EOF'\n{PROBE}EOF")
    through_link = json.loads(home.exec("python3", "/tmp/probe.py", linked["home_vpn"], linked["away_vpn"],
                                        "443", "587", "8081", "22").stdout)
    assert through_link == {"443": "open", "587": "filtered", "8081": "filtered", "22": "filtered"}, through_link
    # the same ports of away on its LAN (the lab bridge) are open: the link's chain drops them
    on_lan = json.loads(home.exec("python3", "/tmp/probe.py", home.ip, cells["cellb"].ip, "8081", "22").stdout)
    assert on_lan == {"8081": "open", "22": "open"}, on_lan


def test_through_the_link_only_the_granted_calendars_site_answers(cells, linked, away_user):
    """The calendar grant opens away's 443 to home's subnets, and 443 carries every site of away: its
    Caddy answers the link's sources on calendar.away.cell only; files.away.cell and the UI's API are
    403 for them, while the same requests from away's LAN are served."""
    home, away = cells["cell"], cells["cellb"]
    through_link = sites_status(home, linked["home_vpn"], linked["away_vpn"], away_user, CALENDAR, FILES, UI)
    assert served(through_link[CALENDAR]) and through_link[FILES] == 403 and through_link[UI] == 403, through_link
    on_lan = sites_status(home, home.ip, away.ip, away_user, CALENDAR, FILES, UI)
    assert all(served(status) for status in on_lan.values()), on_lan


def test_a_grant_revoked_through_the_api_closes_the_service_at_once(cells, admins, linked, away_user):
    """Away revokes home's calendar grant in place (PUT, no new tokens): when that run ends, away's
    HTTPS is dropped from the link; granted again, it answers again. The link itself stays up."""
    home, away, aa = cells["cell"], cells["cellb"], admins["cellb"]
    (link,) = linked["away"]["links"]
    probe = ["python3", "/tmp/probe.py", linked["home_vpn"], linked["away_vpn"], "443", "53"]
    home.exec("sh", "-c", f"cat > /tmp/probe.py <<'EOF'\n{PROBE}EOF")

    def set_grants(grants: list[str]) -> float:
        started = time.monotonic()
        resp = aa.put(f"{away.https}/api/cells/links/{link['cell_id']}", json={"grants": grants}, headers=csrf(aa),
                      timeout=30)
        assert resp.status_code == 202, resp.text
        assert resp.json()["link"]["grants"] == grants
        run = run_finished(aa, away.https, resp.json()["run_id"])
        assert "firewall" in run["tags"], run  # the link chain is the firewall's
        return time.monotonic() - started

    # files instead of calendar: 443 stays open to the link, and away's Caddy now refuses the calendar
    set_grants(["files"])
    swapped = sites_status(home, linked["home_vpn"], linked["away_vpn"], away_user, CALENDAR, FILES, UI)
    assert swapped[CALENDAR] == 403 and served(swapped[FILES]) and swapped[UI] == 403, swapped

    took = set_grants([])
    after = json.loads(home.exec(*probe).stdout)
    assert after == {"443": "filtered", "53": "open"}, after  # the link stays: DNS still answers
    print(f"calendar revoked and closed in {took:.0f} s (the converge of the link's roles)")
    bad = aa.put(f"{away.https}/api/cells/links/{link['cell_id']}", json={"grants": ["ssh"]}, headers=csrf(aa),
                 timeout=30)
    assert bad.status_code == 400 and "grants[0]" in bad.json()["fields"], bad.text

    set_grants(["calendar"])
    again = json.loads(home.exec(*probe).stdout)
    assert again == {"443": "open", "53": "open"}, again
    back = sites_status(home, linked["home_vpn"], linked["away_vpn"], away_user, CALENDAR, FILES)
    assert served(back[CALENDAR]) and back[FILES] == 403, back
    listed = aa.get(f"{away.https}/api/cells/links", timeout=30).json()["links"]
    assert [(ln["grants"], ln["public_key"], ln["port"]) for ln in listed] == [
        (["calendar"], link["public_key"], link["port"])]


def links_of(session, base):
    return session.get(f"{base}/api/cells/links", timeout=30).json()["links"]


def test_away_learns_what_home_shares_through_peer_sync(cells, admins, linked):
    """Home's converge after the accept pushed its share; a device added on home is pushed again,
    with a newer version, and away records it on the link (what the UI shows as the last sync)."""
    home, away = cells["cell"], cells["cellb"]
    ha, aa = admins["cell"], admins["cellb"]
    added = ha.post(f"{home.https}/api/peers", json={"name": "laptop"}, headers=csrf(ha), timeout=30)
    assert added.status_code in (200, 201, 202), added.text
    run_finished(ha, home.https, added.json()["run_id"])
    deadline, link = time.monotonic() + 150, {}
    while time.monotonic() < deadline:
        (link,) = links_of(aa, away.https)
        if "laptop" in link.get("peer", {}).get("devices", []):
            break
        time.sleep(2)
    assert link["offered"] == ["calendar"] and link["zone"] == "home.cell", link
    assert link.get("peer", {}).get("devices") == ["laptop"] and link["peer"]["synced"], link
    # and away's share reached home (away grants home its calendar)
    (back,) = links_of(ha, home.https)
    assert back["offered"] == ["calendar"] and back.get("peer", {}).get("version"), back


def test_peer_sync_answers_only_through_the_link(cells, linked):
    """From the LAN, away's peer-sync port is dropped and its HTTPS site does not route peer-sync;
    through the link, a message not signed with home's key is refused (401)."""
    home, away = cells["cell"], cells["cellb"]
    home.exec("sh", "-c", f"cat > /tmp/probe.py <<'EOF'\n{PROBE}EOF")
    on_lan = json.loads(home.exec("python3", "/tmp/probe.py", home.ip, away.ip, "8082").stdout)
    assert on_lan == {"8082": "filtered"}, on_lan
    via_https = home.exec("python3", "-c", "import ssl, urllib.request, urllib.error, sys\n"
                          "ctx = ssl.create_default_context(); ctx.check_hostname = False\n"
                          "ctx.verify_mode = ssl.CERT_NONE\n"
                          "req = urllib.request.Request(sys.argv[1], data=b'{}', method='POST', "
                          "headers={'Content-Type': 'application/json'})\n"
                          "try:\n    print(urllib.request.urlopen(req, context=ctx, timeout=10).status)\n"
                          "except urllib.error.HTTPError as e:\n    print(e.code)\n",
                          f"https://{away.ip}/api/cells/peer-sync/share")
    assert via_https.stdout.strip() == "404", (via_https.stdout, via_https.stderr)
    forged = home.exec("python3", "-c", "import json, urllib.request, urllib.error, sys\n"
                       "req = urllib.request.Request(sys.argv[1], data=json.dumps({'message': "
                       "'pic-sync1.e30.' + 'A' * 86}).encode(), method='POST', "
                       "headers={'Content-Type': 'application/json'})\n"
                       "try:\n    print(urllib.request.urlopen(req, timeout=10).status)\n"
                       "except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\n",
                       f"http://{linked['away_vpn']}:8082/api/cells/peer-sync/share")
    assert forged.stdout.startswith("401") and "message.signature" in forged.stdout, (forged.stdout, forged.stderr)


def test_a_device_of_home_reaches_aways_granted_calendar_through_the_link(lab, cells, admins, linked, away_user):
    """A split-tunnel device of home (a lab client with wg-quick): its config routes away's subnets
    into its tunnel; it resolves calendar.away.cell through home's DNS (which forwards away's zone
    through the link) and reaches away's HTTPS (calendar granted) through home's link, but not away's
    mail submission (587, not granted: away's link chain drops it for the device as for home)."""
    home, ha = cells["cell"], admins["cell"]
    (link,) = links_of(ha, home.https)
    lab.up("client", image="provisioned")
    tools = ("DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
             "-y -qq --no-install-recommends wireguard-tools wireguard-go curl python3")
    res = lab.exec("client", ["bash", "-c", tools])
    assert res.returncode == 0, res.stderr[-2000:]
    added = ha.post(f"{home.https}/api/peers", json={"name": "phone", "route": "split"}, headers=csrf(ha), timeout=30)
    assert added.status_code == 201, added.text
    body = added.json()
    allowed = next(ln for ln in body["config"].splitlines() if ln.startswith("AllowedIPs"))
    assert all(subnet in allowed for subnet in link["subnets"]), (allowed, link["subnets"])
    run_finished(ha, home.https, body["run_id"])
    config, dns = client_wg_config(body["config"], str(lab.subnet))
    assert dns == linked["home_vpn"], config
    lab.exec("client", ["bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf"], input=config)
    up = lab.exec("client", ["wg-quick", "up", "wg0"])
    assert up.returncode == 0, up.stderr
    lab.exec("client", ["bash", "-c", f"echo 'nameserver {dns}' > /etc/resolv.conf"])
    for name, script in (("ask", ASK), ("probe", PROBE)):
        lab.exec("client", ["bash", "-c", f"cat > /tmp/{name}.py"], input=script)
    deadline, answer = time.monotonic() + 30, ""
    while linked["away_vpn"] not in answer.split() and time.monotonic() < deadline:
        answer = lab.exec("client", ["python3", "/tmp/ask.py", dns, "calendar.away.cell"]).stdout
    assert linked["away_vpn"] in answer.split(), answer
    ports = json.loads(lab.exec("client", ["python3", "/tmp/probe.py", body["peer"]["ip"], linked["away_vpn"],
                                           "443", "587"]).stdout)
    assert ports == {"443": "open", "587": "filtered"}, ports
    # by name, as the device's apps reach it (away's CA is not the device's: no verification here)
    https = lab.exec("client", ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "15",
                                "https://calendar.away.cell/"])
    assert https.stdout.strip() not in ("", "000", "403"), (https.stdout, https.stderr)
    print(f"home's device reached calendar.away.cell through the link: HTTP {https.stdout.strip()}")
    # With a user of away, the device keeps an event in away's calendar and reads it back (CalDAV).
    base = f"https://calendar.away.cell/{AWAY_USER}/from-home/"

    def curl(*args: str, data: str | None = None) -> str:
        res = lab.exec("client", ["curl", "-sSk", "--max-time", "15", "-u", away_user, *args], input=data)
        return res.stdout + res.stderr

    assert curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "MKCALENDAR", base) == "201"
    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PIC e2e//EN\r\nBEGIN:VEVENT\r\nUID:linked-1\r\n"
             "DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:Across the link\r\nEND:VEVENT\r\n"
             "END:VCALENDAR\r\n")
    put = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/calendar", "-X", "PUT",
               "--data-binary", "@-", base + "linked-1.ics", data=event)
    assert put in ("201", "204"), put
    assert "SUMMARY:Across the link" in curl(base + "linked-1.ics")
    # and the same login gets nothing from away's other sites through the link
    for url in (f"https://files.away.cell/{AWAY_USER}/", "https://away.cell/health"):
        assert curl("-o", "/dev/null", "-w", "%{http_code}", url) == "403", url


def test_removing_the_link_on_home_removes_it_on_away(cells, admins, linked):
    """Last: home's removal sends a signed remove over the link; away removes its end (state and
    converge: its interface for the link is gone)."""
    home, away = cells["cell"], cells["cellb"]
    ha, aa = admins["cell"], admins["cellb"]
    (link,) = linked["home"]["links"]
    (theirs,) = linked["away"]["links"]
    gone = ha.delete(f"{home.https}/api/cells/links/{link['cell_id']}", headers=csrf(ha), timeout=60)
    assert gone.status_code == 202 and gone.json()["other_side"] == {"reached": True}, gone.text
    run_finished(ha, home.https, gone.json()["run_id"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and links_of(aa, away.https):
        time.sleep(2)
    assert links_of(aa, away.https) == [] and links_of(ha, home.https) == []
    # away's converge of the removal takes the interface down (wait for the run to end)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if away.exec("ip", "link", "show", theirs["interface"]).returncode != 0:
            break
        time.sleep(3)
    assert away.exec("ip", "link", "show", theirs["interface"]).returncode != 0
    assert home.exec("ip", "link", "show", link["interface"]).returncode != 0
