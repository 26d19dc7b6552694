"""The Network Services page's API: the admin's DNS records and DHCP reservations (validated by the
state schema, converged into dnsmasq and coredns), the leases read from dnsmasq's file, and the
dnsmasq configuration they render, checked by dnsmasq itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import csrf, wait_run

from pic_api.agent import actions
from pic_api.agent.protocol import AgentError, validate
from pic_api.core import schema

ROOT = Path(__file__).resolve().parents[2]
MAC = "52:54:00:12:34:56"


def state_with(**network):
    state = schema.default_state("home")
    state["network"].update(network)
    return state


def refused_fields(state):
    with pytest.raises(schema.StateError) as err:
        schema.validate_state(state)
    return err.value.fields


# --- the state schema -----------------------------------------------------------------------------
def test_records_and_reservations_reach_the_roles_variables():
    state = state_with(
        dns_records=[{"name": "printer", "type": "A", "value": "192.168.50.20"},
                     {"name": "_sip._tcp", "type": "SRV", "value": "10 5 5060 printer"}],
        dhcp_reservations=[{"name": "tv", "mac": MAC.upper(), "ip": "192.168.50.30"}],
    )
    out = schema.state_to_vars(state)
    assert out["pic_dns_records"] == state["network"]["dns_records"]
    assert out["pic_dhcp_reservations"] == [{"name": "tv", "mac": MAC, "ip": "192.168.50.30"}]
    assert schema.state_to_vars(schema.default_state("home"))["pic_dns_records"] == []


@pytest.mark.parametrize(
    "records,field,words",
    [
        ([{"name": "bad name", "type": "A", "value": "192.0.2.1"}], "network.dns_records[0].name",
         "relative to the cell"),
        ([{"name": "x", "type": "NS", "value": "ns1"}], "network.dns_records[0].type", ""),
        ([{"name": "x", "type": "A", "value": "300.1.1.1"}], "network.dns_records[0].value", "IPv4"),
        ([{"name": "x", "type": "AAAA", "value": "192.0.2.1"}], "network.dns_records[0].value", "IPv6"),
        ([{"name": "x", "type": "MX", "value": "mail"}], "network.dns_records[0].value", "preference"),
        ([{"name": "x", "type": "SRV", "value": "1 2 host"}], "network.dns_records[0].value", "priority"),
        ([{"name": "x", "type": "TXT", "value": 'say "hi"'}], "network.dns_records[0].value", ""),
        ([{"name": "x", "type": "TXT", "value": "a\nport=0"}], "network.dns_records[0].value", ""),
        ([{"name": "x\n", "type": "A", "value": "192.0.2.1"}], "network.dns_records[0].name", ""),
        ([{"name": "mail", "type": "A", "value": "192.0.2.1"}], "network.dns_records[0].name", "cell itself"),
        ([{"name": "@", "type": "CNAME", "value": "files"}], "network.dns_records[0].name", "cell itself"),
        ([{"name": "nas", "type": "A", "value": "192.0.2.1"}, {"name": "NAS", "type": "CNAME", "value": "files"}],
         "network.dns_records[1].name", "CNAME cannot share"),
        ([{"name": "nas", "type": "CNAME", "value": "files"}, {"name": "nas", "type": "TXT", "value": "hi"}],
         "network.dns_records[1].name", "a CNAME already"),
        ([{"name": "nas", "type": "A", "value": "192.0.2.1"}, {"name": "nas", "type": "A", "value": "192.0.2.1"}],
         "network.dns_records[1].name", "same record"),
    ],
)
def test_a_bad_record_is_refused_naming_its_field(records, field, words):
    fields = refused_fields(state_with(dns_records=records))
    assert field in fields and words in fields[field], fields


def test_a_record_may_not_take_a_peers_name_but_mx_and_txt_at_the_apex_are_fine():
    state = state_with(dns_records=[{"name": "phone", "type": "A", "value": "192.0.2.1"}])
    state["peers"] = [{"name": "phone", "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
                       "ip": "10.0.0.2"}]
    assert "peer" in refused_fields(state)["network.dns_records[0].name"]
    schema.validate_state(state_with(dns_records=[
        {"name": "@", "type": "TXT", "value": "google-site-verification=abc"},
        {"name": "@", "type": "MX", "value": "20 backup.example.org."},
        {"name": "nas", "type": "A", "value": "192.168.50.9"},
        {"name": "nas", "type": "AAAA", "value": "fd00::9"},
    ]))


@pytest.mark.parametrize(
    "reservations,field,words",
    [
        ([{"name": "tv", "mac": "52:54:00:12:34", "ip": "192.168.50.30"}], "mac", "MAC address"),
        ([{"name": "tv", "mac": MAC, "ip": "192.168.60.30"}], "ip", "inside the LAN"),
        ([{"name": "tv", "mac": MAC, "ip": "192.168.50.255"}], "ip", "inside the LAN"),
        ([{"name": "tv", "mac": MAC, "ip": "192.168.50.1"}], "ip", "cell's own"),
        ([{"name": "mail", "mac": MAC, "ip": "192.168.50.30"}], "name", "cell itself"),
        ([{"name": "Tv", "mac": MAC, "ip": "192.168.50.30"}], "name", ""),
    ],
)
def test_a_bad_reservation_is_refused_naming_its_field(reservations, field, words):
    fields = refused_fields(state_with(dhcp_reservations=reservations))
    path = f"network.dhcp_reservations[0].{field}"
    assert path in fields and words in fields[path], fields


@pytest.mark.parametrize("key,second", [
    ("name", {"name": "tv", "mac": "52:54:00:00:00:02", "ip": "192.168.50.31"}),
    ("mac", {"name": "tv2", "mac": MAC.upper(), "ip": "192.168.50.31"}),
    ("ip", {"name": "tv2", "mac": "52:54:00:00:00:02", "ip": "192.168.50.30"}),
])
def test_a_reservation_twice_is_refused(key, second):
    first = {"name": "tv", "mac": MAC, "ip": "192.168.50.30"}
    fields = refused_fields(state_with(dhcp_reservations=[first, second]))
    assert "already reserved" in fields[f"network.dhcp_reservations[1].{key}"], fields


# --- the API --------------------------------------------------------------------------------------
def test_add_list_and_delete_a_record(app, admin, config):
    resp = admin.post("/api/dns/records", json={"name": "Printer", "type": "A", "value": "192.168.50.20"},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["record"]["name"] == "printer"
    info = wait_run(app, body["run_id"])
    assert info["tags"] == ["coredns", "dnsmasq"]
    state = yaml.safe_load(config.state_file.read_text())
    assert state["network"]["dns_records"] == [{"name": "printer", "type": "A", "value": "192.168.50.20"}]
    listed = admin.get("/api/dns/records").get_json()
    assert listed["zone"] == "home.cell"
    assert listed["records"] == [body["record"]]

    resp = admin.delete(f"/api/dns/records/{body['record']['id']}", headers=csrf(admin))
    assert resp.status_code == 202
    wait_run(app, resp.get_json()["run_id"])
    assert admin.get("/api/dns/records").get_json()["records"] == []
    assert admin.delete(f"/api/dns/records/{body['record']['id']}", headers=csrf(admin)).status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "a b", "type": "A", "value": "192.0.2.1"}, "name"),
        ({"name": "x", "type": "PTR", "value": "host"}, "type"),
        ({"name": "x", "type": "A", "value": "host"}, "value"),
        ({"name": "x", "type": "A"}, "value"),
        ({"name": "calendar", "type": "CNAME", "value": "files"}, "name"),
        ({"name": "x", "type": "A", "value": "192.0.2.1", "ttl": 5}, "ttl"),
    ],
)
def test_a_bad_record_request_is_a_400_naming_the_field(admin, config, body, field):
    before = config.state_file.read_text()
    resp = admin.post("/api/dns/records", json=body, headers=csrf(admin))
    assert resp.status_code == 400, resp.get_json()
    assert field in resp.get_json()["fields"], resp.get_json()
    assert config.state_file.read_text() == before


def test_a_cname_at_a_name_that_has_a_record_is_a_400(app, admin):
    resp = admin.post("/api/dns/records", json={"name": "nas", "type": "A", "value": "192.168.50.9"},
                      headers=csrf(admin))
    wait_run(app, resp.get_json()["run_id"])
    resp = admin.post("/api/dns/records", json={"name": "nas", "type": "CNAME", "value": "files"},
                      headers=csrf(admin))
    assert resp.status_code == 400
    assert "CNAME cannot share" in resp.get_json()["fields"]["name"]


def test_reservations_and_leases(app, admin, config):
    config.dhcp_leases_file.parent.mkdir(parents=True)
    config.dhcp_leases_file.write_text(
        f"1764950400 {MAC} 192.168.50.120 laptop 01:{MAC}\n"
        "0 52:54:00:aa:bb:cc 192.168.50.121 * *\n"
        "duid 00:01:00:01:2c:aa:bb:cc\n"
        "garbage line\n"
    )
    body = admin.get("/api/dhcp").get_json()
    assert body["dhcp_range"] == ["192.168.50.100", "192.168.50.200"] and body["dhcp_lease_time"] == "12h"
    assert body["enabled"] is True and body["reservations"] == []
    assert body["leases"] == [
        {"mac": MAC, "ip": "192.168.50.120", "hostname": "laptop", "expires": "2025-12-05T16:00:00Z",
         "reserved": False},
        {"mac": "52:54:00:aa:bb:cc", "ip": "192.168.50.121", "hostname": "", "expires": None, "reserved": False},
    ]
    resp = admin.post("/api/dhcp/reservations", json={"name": "laptop", "mac": MAC.upper(), "ip": "192.168.50.20"},
                      headers=csrf(admin))
    assert resp.status_code == 202, resp.get_json()
    assert wait_run(app, resp.get_json()["run_id"])["tags"] == ["dnsmasq"]
    body = admin.get("/api/dhcp").get_json()
    assert body["reservations"] == [{"name": "laptop", "mac": MAC, "ip": "192.168.50.20"}]
    assert [lease["reserved"] for lease in body["leases"]] == [True, False]

    resp = admin.post("/api/dhcp/reservations", json={"name": "laptop2", "mac": MAC, "ip": "192.168.50.21"},
                      headers=csrf(admin))
    assert resp.status_code == 400 and "already reserved" in resp.get_json()["fields"]["mac"]
    resp = admin.post("/api/dhcp/reservations", json={"name": "x", "mac": "52:54:00:00:00:09", "ip": "10.9.9.9"},
                      headers=csrf(admin))
    assert resp.status_code == 400 and "inside the LAN" in resp.get_json()["fields"]["ip"]

    resp = admin.delete(f"/api/dhcp/reservations/{MAC.upper()}", headers=csrf(admin))
    assert resp.status_code == 202
    wait_run(app, resp.get_json()["run_id"])
    assert admin.get("/api/dhcp").get_json()["reservations"] == []
    assert admin.delete(f"/api/dhcp/reservations/{MAC}", headers=csrf(admin)).status_code == 404


def test_leases_that_cannot_be_read_are_said_and_the_rest_is_shown(app, admin, config):
    def refuse():
        raise AgentError("the agent is away")

    app.extensions["pic"].netsvc._leases = refuse
    body = admin.get("/api/dhcp").get_json()
    assert body["leases"] == [] and "the agent is away" in body["leases_error"]
    assert body["dhcp_range"] == ["192.168.50.100", "192.168.50.200"]


def test_only_an_admin_sees_or_changes_network_services(peer_client):
    assert peer_client.get("/api/dns/records").status_code == 403
    assert peer_client.get("/api/dhcp").status_code == 403
    resp = peer_client.post("/api/dns/records", json={"name": "x", "type": "A", "value": "192.0.2.1"},
                            headers=csrf(peer_client))
    assert resp.status_code == 403


def test_the_agents_lease_action_takes_no_arguments_and_reads_the_file(tmp_path):
    assert validate({"action": "dhcp_leases", "args": {}}, ()) == ("dhcp_leases", {})
    with pytest.raises(AgentError) as err:
        validate({"action": "dhcp_leases", "args": {"file": "/etc/shadow"}}, ())
    assert err.value.fields == {"file": "unexpected argument"}
    assert actions.dhcp_leases(tmp_path / "missing") == []
    (tmp_path / "leases").write_text("10 not-a-mac 192.168.50.2 x *\n20 52:54:00:00:00:01 999.1.1.1 y *\n"
                                     "30 52:54:00:00:00:02 192.168.50.3 bad$name *\n")
    assert actions.dhcp_leases(tmp_path / "leases") == [
        {"mac": "52:54:00:00:00:02", "ip": "192.168.50.3", "hostname": "", "expires": "1970-01-01T00:00:30Z"}
    ]


# --- the dnsmasq configuration they render, checked by dnsmasq ------------------------------------
def render_dnsmasq(**overrides) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "roles/dnsmasq/templates"), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    from pic_api.core import zone

    ctx = {
        "ansible_managed": "Managed by PIC",
        "dnsmasq_lan_interface": "lo",
        "dnsmasq_vpn_interface": "wg0",
        "dnsmasq_dns_enabled": True,
        "dnsmasq_dhcp_enabled": True,
        "dnsmasq_zone": "home.cell",
        "dnsmasq_cache_size": 100,
        "dnsmasq_upstream_dns": [],
        "dnsmasq_service_names": ["@", "calendar"],
        "dnsmasq_app_names": [],
        "dnsmasq_lan_address": "192.168.50.1",
        "dnsmasq_vpn_address": "10.0.0.1",
        "dnsmasq_peers_file": "/nonexistent/peers.hosts",
        "shared_dns_records_dir": "/etc/pic/dns/records.d",
        "dnsmasq_dhcp_range": ["192.168.50.100", "192.168.50.200"],
        "dnsmasq_dhcp_lease_time": "12h",
        "dnsmasq_dhcp_router": "192.168.50.1",
        "dnsmasq_dhcp_dns_server": "192.168.50.1",
        "dnsmasq_dhcp_ntp_server": "",
        "dnsmasq_dhcp_hosts": [],
        "dnsmasq_log_queries": False,
        "dnsmasq_log_dhcp": False,
    }
    vars_ = schema.state_to_vars(state_with(
        dns_records=[{"name": "printer", "type": "A", "value": "192.168.50.20"},
                     {"name": "nas", "type": "CNAME", "value": "printer"},
                     {"name": "@", "type": "TXT", "value": "hello world"}],
        dhcp_reservations=[{"name": "tv", "mac": MAC.upper(), "ip": "192.168.50.30"}],
    ))
    ctx["shared_dns_records"] = zone.check_records(vars_["pic_dns_records"])
    ctx["dnsmasq_dhcp_hosts"] = vars_["pic_dhcp_reservations"]
    ctx["dnsmasq_links"] = vars_["pic_links"]
    ctx.update(overrides)
    return env.get_template("pic.conf.j2").render(ctx)


@pytest.mark.skipif(shutil.which("dnsmasq") is None and not Path("/usr/sbin/dnsmasq").exists(),
                    reason="needs dnsmasq")
def test_the_rendered_dnsmasq_configuration_passes_dnsmasq_test(tmp_path):
    text = render_dnsmasq()
    assert "host-record=printer.home.cell,192.168.50.20" in text
    assert "cname=nas.home.cell,printer.home.cell" in text
    assert 'txt-record=home.cell,"hello world"' in text
    assert f"dhcp-host={MAC},192.168.50.30,tv" in text
    conf = tmp_path / "pic.conf"
    conf.write_text(text)
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    res = subprocess.run([dnsmasq, "--test", "-C", str(conf)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # dnsmasq's checker (the role's validate: step) stops a file it cannot read; it takes any
    # dhcp-host line, so the state schema and the role's assert are what keep those well formed
    conf.write_text(text.replace(f"dhcp-host={MAC}", "dhcp-hostt=" + MAC))
    res = subprocess.run([dnsmasq, "--test", "-C", str(conf)], capture_output=True, text=True)
    assert res.returncode != 0
    # a linked cell: its zone forwarded to its DNS address, and its interface listened on
    link = {"name": "away", "interface": "cl-0123456789ab", "zone": "away.cell", "dns": "10.70.0.1"}
    text = render_dnsmasq(dnsmasq_links=[link])
    assert "server=/away.cell/10.70.0.1" in text and "interface=cl-0123456789ab" in text
    # other .cell names answered here: the linked zone, more specific, still goes through its link
    assert "local=/cell/" in text
    conf.write_text(text)
    res = subprocess.run([dnsmasq, "--test", "-C", str(conf)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(shutil.which("dnsmasq") is None and not Path("/usr/sbin/dnsmasq").exists(),
                    reason="needs dnsmasq")
def test_verbose_dnsmasq_logs_every_query_and_dhcp_exchange_and_passes_its_test(tmp_path):
    assert "log-queries" not in render_dnsmasq() and "log-dhcp" not in render_dnsmasq()
    text = render_dnsmasq(dnsmasq_log_queries=True, dnsmasq_log_dhcp=True)
    assert "\nlog-queries\n" in text and "\nlog-dhcp\n" in text
    conf = tmp_path / "pic.conf"
    conf.write_text(text)
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    res = subprocess.run([dnsmasq, "--test", "-C", str(conf)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(shutil.which("dnsmasq") is None and not Path("/usr/sbin/dnsmasq").exists(),
                    reason="needs dnsmasq")
def test_the_role_checks_its_file_with_the_others_dnsmasq_reads(tmp_path):
    """The role's validate step (files/dnsmasq-validate): a new file that clashes with another one of
    the directory is refused by dnsmasq itself; the file it replaces and dpkg's leftovers are not read."""
    check = ROOT / "roles/dnsmasq/files/dnsmasq-validate"
    conf_dir = tmp_path / "dnsmasq.d"
    conf_dir.mkdir()
    target = conf_dir / "pic.conf"
    target.write_text("port=0\ndhcp-host=52:54:00:aa:bb:01,192.168.77.30,tv\n")  # the working one
    (conf_dir / "other.conf.dpkg-old").write_text("dhcp-host=52:54:00:aa:bb:02,192.168.77.31,old\n")
    new = tmp_path / "new.conf"
    new.write_text("port=0\ndhcp-host=52:54:00:aa:bb:01,192.168.77.30,tv\ndhcp-host=52:54:00:aa:bb:03,192.168.77.31,x\n")
    env = {"PATH": f"/usr/sbin:/usr/bin:/bin:{os.environ.get('PATH', '')}"}
    res = subprocess.run([str(check), str(new), str(target)], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    (conf_dir / "planted.conf").write_text("dhcp-host=52:54:00:aa:bb:04,192.168.77.31,planted\n")
    res = subprocess.run([str(check), str(new), str(target)], capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "duplicate dhcp-host IP address 192.168.77.31" in res.stderr, res.stderr


# --- NTP: the hosts chronyd served ------------------------------------------------------------------
CHRONY_CLIENTS = (
    "192.168.50.120,12,0,6,-,21,0,0,-,-\n"
    "10.71.3.2,3,1,4,5,-,0,0,-,-\n"
    "127.0.0.1,0,0,-,-,-,15,0,-1,7\n"  # chronyc on the cell itself: commands only
    "not-an-address,4,0,6,-,2,0,0,-,-\n"
    "192.168.50.7,many,0,6,-,2,0,0,-,-\n"
)


def test_the_hosts_chronyd_served_are_read_from_chronyc(tmp_path):
    chronyc = tmp_path / "chronyc"
    chronyc.write_text(f"#!/bin/sh\n[ \"$*\" = '-c -n clients' ] || exit 3\nprintf '{CHRONY_CLIENTS}'\n")
    chronyc.chmod(0o755)
    assert actions.ntp_clients(str(chronyc)) == [
        {"address": "192.168.50.120", "ntp_packets": 12, "last_seen": 21},
        {"address": "10.71.3.2", "ntp_packets": 3, "last_seen": None},
    ]
    chronyc.write_text("#!/bin/sh\necho '506 Cannot talk to daemon' >&2\nexit 1\n")
    with pytest.raises(actions.NtpClientsError, match="506 Cannot talk to daemon"):
        actions.ntp_clients(str(chronyc))
    with pytest.raises(actions.NtpClientsError, match="could not be run"):
        actions.ntp_clients(str(tmp_path / "missing"))
    assert validate({"action": "ntp_clients", "args": {}}, ()) == ("ntp_clients", {})


def test_ntp_shows_its_servers_networks_and_clients_or_why_not(app, admin, peer_client):
    served = [{"address": "192.168.50.120", "ntp_packets": 12, "last_seen": 21}]
    app.extensions["pic"].netsvc._ntp_clients = lambda: served
    body = admin.get("/api/ntp").get_json()
    assert body == {"enabled": True, "servers": [], "serves": ["192.168.50.0/24", "10.0.0.0/24"], "clients": served}

    def refuse():
        raise AgentError("chronyc clients: 506 Cannot talk to daemon")

    app.extensions["pic"].netsvc._ntp_clients = refuse
    body = admin.get("/api/ntp").get_json()
    assert body["clients"] == [] and "506 Cannot talk to daemon" in body["clients_error"]
    assert body["serves"] == ["192.168.50.0/24", "10.0.0.0/24"]
    assert peer_client.get("/api/ntp").status_code == 403
