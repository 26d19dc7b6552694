"""Network services: the admin's DNS records in the cell zone, DHCP leases and reservations, NTP."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import cell, json_body
from .openapi import doc
from .settings import PREVIEWABLE, preview_flag, preview_started

dns_bp = Blueprint("dns", __name__, url_prefix="/api/dns")
dhcp_bp = Blueprint("dhcp", __name__, url_prefix="/api/dhcp")
firewall_bp = Blueprint("firewall", __name__, url_prefix="/api/firewall")
ntp_bp = Blueprint("ntp", __name__, url_prefix="/api/ntp")
RULE_ID = {"rule_id": {"type": "string", "pattern": "^(tcp|udp)-[0-9]{1,5}$"}}
RECORD_ID = {"record_id": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}
MAC = {"mac": {"$ref": "#/$defs/MacAddress"}}


@dns_bp.get("/records")
@doc("The records the admin added to the cell's zone (the roles' own records are served with them)",
     "DnsRecordList")
def records_list() -> Any:
    return jsonify(cell().netsvc.records())


@dns_bp.post("/records")
@doc("Add a record (A, AAAA, CNAME, TXT, MX or SRV) to the cell's zone; its run makes the DNS server serve it",
     "DnsRecordAdded", 202, body=schema.DNS_RECORD, **PREVIEWABLE)
def records_add() -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.add_record(json_body(), preview=True)[0])
    run, record = cell().netsvc.add_record(json_body())
    return jsonify(record=record, run_id=run.id), 202


@dns_bp.delete("/records/<record_id>")
@doc("Remove a record the admin added", "NetworkChangeStarted", 202, params=RECORD_ID, errors=(404,), **PREVIEWABLE)
def records_delete(record_id: str) -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.delete_record(record_id, preview=True))
    return jsonify(run_id=cell().netsvc.delete_record(record_id).id), 202


@dhcp_bp.get("")
@doc("The LAN's DHCP pool and lease time, its reservations and the current leases (leases_error: why they "
     "could not be read)", "DhcpStatus")
def dhcp_get() -> Any:
    return jsonify(cell().netsvc.dhcp())


@ntp_bp.get("")
@doc("Where the cell takes the time from, the networks it serves it to and the hosts it served (from chronyd; "
     "clients_error: why they could not be read)", "NtpStatus")
def ntp_get() -> Any:
    return jsonify(cell().netsvc.ntp())


@dhcp_bp.post("/reservations")
@doc("Reserve an address of the LAN for a device's MAC address (a dhcp-host line; its name joins the zone)",
     "DhcpReservationAdded", 202, body=schema.DHCP_RESERVATION, **PREVIEWABLE)
def reservations_add() -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.add_reservation(json_body(), preview=True)[0])
    run, reservation = cell().netsvc.add_reservation(json_body())
    return jsonify(reservation=reservation, run_id=run.id), 202


@dhcp_bp.delete("/reservations/<mac>")
@doc("Remove the reservation of a MAC address", "NetworkChangeStarted", 202, params=MAC, errors=(404,), **PREVIEWABLE)
def reservations_delete(mac: str) -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.delete_reservation(mac, preview=True))
    return jsonify(run_id=cell().netsvc.delete_reservation(mac).id), 202


@firewall_bp.get("")
@doc("The admin's openings and port forwards, and the ports the cell serves itself (no rule may take them)",
     "FirewallView")
def firewall_get() -> Any:
    return jsonify(cell().netsvc.firewall())


@firewall_bp.post("/openings")
@doc("Open a port of the cell to some zones (lan, vpn, wan)", "FirewallRuleAdded", 202,
     body=schema.FIREWALL_OPENING, **PREVIEWABLE)
def openings_add() -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.add_rule("firewall_openings", json_body(), preview=True)[0])
    run, rule = cell().netsvc.add_rule("firewall_openings", json_body())
    return jsonify(rule=rule, run_id=run.id), 202


@firewall_bp.delete("/openings/<rule_id>")
@doc("Close an opening", "NetworkChangeStarted", 202, params=RULE_ID, errors=(404,), **PREVIEWABLE)
def openings_delete(rule_id: str) -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.delete_rule("firewall_openings", rule_id, preview=True))
    return jsonify(run_id=cell().netsvc.delete_rule("firewall_openings", rule_id).id), 202


@firewall_bp.post("/forwards")
@doc("Forward a port of the cell, from some zones, to a LAN host's port (to_port: the same by default)",
     "FirewallRuleAdded", 202, body=schema.PORT_FORWARD, **PREVIEWABLE)
def forwards_add() -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.add_rule("port_forwards", json_body(), preview=True)[0])
    run, rule = cell().netsvc.add_rule("port_forwards", json_body())
    return jsonify(rule=rule, run_id=run.id), 202


@firewall_bp.delete("/forwards/<rule_id>")
@doc("Remove a port forward", "NetworkChangeStarted", 202, params=RULE_ID, errors=(404,), **PREVIEWABLE)
def forwards_delete(rule_id: str) -> Any:
    if preview_flag():
        return preview_started(cell().netsvc.delete_rule("port_forwards", rule_id, preview=True))
    return jsonify(run_id=cell().netsvc.delete_rule("port_forwards", rule_id).id), 202
