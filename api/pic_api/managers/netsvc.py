"""Network services: the admin's DNS records in the cell zone, the LAN's DHCP leases and reservations,
and the admin's own firewall openings and port forwards.

Records and reservations are state (``network.dns_records``, ``network.dhcp_reservations``): every
change is a state change plus the converge of the roles that read them (dnsmasq, coredns), and the
state schema decides what is valid. The leases are dnsmasq's, read through ``leases`` (pic-agent's
read-only ``dhcp_leases`` action, or the same function in this process without an agent).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from ..core import schema
from .changes import ChangeManager
from .errors import NotFound, checked
from .runs import Run

log = logging.getLogger("pic.netsvc")

Leases = Callable[[], list[dict[str, Any]]]
NtpClients = Callable[[], list[dict[str, Any]]]


def record_id(record: dict[str, Any]) -> str:
    """A record's id in the API: from its content, which the state holds once (duplicates are refused)."""
    text = "\0".join((record["name"], record["type"], record["value"]))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def zone_of(state: dict[str, Any]) -> str:
    """The zone the cell's DNS server answers for (both roles: <cell name>.cell)."""
    return f"{state['cell']['name']}.cell"


class NetworkServicesManager:
    def __init__(self, changes: ChangeManager, leases: Leases, ntp_clients: NtpClients | None = None):
        self.changes = changes
        self._leases = leases
        self._ntp_clients = ntp_clients

    # NTP ----------------------------------------------------------------------------------
    def ntp(self) -> dict[str, Any]:
        """Where the cell takes the time from, the networks it serves it to (the chrony role's
        ``allow``: the LAN and the VPN) and the hosts it served, read live from chronyd; when that
        fails the rest is still shown, with why."""
        state = self.changes.state.load()
        net = state["network"]
        out: dict[str, Any] = {
            "enabled": "ntp" in state["services"],
            "servers": list(net["ntp_servers"]),
            "serves": [net["lan_subnet"], net["vpn_subnet"]],
            "clients": [],
        }
        if self._ntp_clients is None:
            out["clients_error"] = "the hosts served cannot be read here"
            return out
        try:
            out["clients"] = self._ntp_clients()
        except Exception as exc:  # the agent refused, chronyd is down: the page still shows the rest
            message = getattr(exc, "message", None) or str(exc)
            log.warning("NTP clients not read: %s", message)
            out["clients_error"] = f"the hosts served could not be read: {message}"[:300]
        return out

    # DNS records --------------------------------------------------------------------------
    def records(self) -> dict[str, Any]:
        state = self.changes.state.load()
        return {
            "zone": zone_of(state),
            "records": [{"id": record_id(r), **r} for r in state["network"]["dns_records"]],
        }

    def add_record(self, body: Any, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        data = checked(schema.DNS_RECORD, body)
        record = {"name": data["name"].lower(), "type": data["type"], "value": data["value"]}

        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["network"]["dns_records"].append(record)
            return {"id": record_id(record), **record}

        what = f"add DNS record {record['name']} {record['type']} {record['value']}"
        return self.changes.apply_or_preview(preview, change, what[:200], schema.DNS_RECORD)

    def delete_record(self, rid: str, preview: bool = False) -> Run:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            records = state["network"]["dns_records"]
            gone = [r for r in records if record_id(r) == rid]
            if not gone:
                raise NotFound(f"no DNS record {rid!r}")
            state["network"]["dns_records"] = [r for r in records if record_id(r) != rid]
            return gone[0]

        run, _ = self.changes.apply_or_preview(preview, change, f"delete DNS record {rid}")
        return run

    # DHCP ---------------------------------------------------------------------------------
    def dhcp(self) -> dict[str, Any]:
        """The pool, lease time, reservations and the current leases (each marked when reserved).
        The leases are read live; when that fails the rest is still shown, with why."""
        state = self.changes.state.load()
        net = state["network"]
        reserved = {r["mac"].lower() for r in net["dhcp_reservations"]}
        out: dict[str, Any] = {
            "enabled": "dhcp" in state["services"],
            "lan_subnet": net["lan_subnet"],
            "lan_address": net["lan_address"],
            "dhcp_range": list(net["dhcp_range"]),
            "dhcp_lease_time": str(net["dhcp_lease_time"]),
            "reservations": list(net["dhcp_reservations"]),
            "leases": [],
        }
        try:
            leases = self._leases()
        except Exception as exc:  # the agent refused or is away: the page still shows the rest
            message = getattr(exc, "message", None) or str(exc)
            log.warning("DHCP leases not read: %s", message)
            out["leases_error"] = f"the leases could not be read: {message}"[:300]
            return out
        out["leases"] = [{**lease, "reserved": lease["mac"] in reserved} for lease in leases]
        return out

    def add_reservation(self, body: Any, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        data = checked(schema.DHCP_RESERVATION, body)
        reservation = {"name": data["name"], "mac": data["mac"].lower(), "ip": data["ip"]}

        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["network"]["dhcp_reservations"].append(reservation)
            return dict(reservation)

        what = f"reserve {reservation['ip']} for {reservation['name']} ({reservation['mac']})"
        return self.changes.apply_or_preview(preview, change, what, schema.DHCP_RESERVATION)

    def delete_reservation(self, mac: str, preview: bool = False) -> Run:
        mac = mac.lower()

        def change(state: dict[str, Any]) -> dict[str, Any]:
            items = state["network"]["dhcp_reservations"]
            gone = [r for r in items if r["mac"].lower() == mac]
            if not gone:
                raise NotFound(f"no DHCP reservation for {mac[:17]!r}")
            state["network"]["dhcp_reservations"] = [r for r in items if r["mac"].lower() != mac]
            return gone[0]

        run, gone = self.changes.apply_or_preview(preview, change, f"delete the DHCP reservation of {mac}")
        return run

    # Firewall: the admin's openings and port forwards -----------------------------------------
    def firewall(self) -> dict[str, Any]:
        """The admin's rules (each with its id) and the ports the cell serves itself, which no rule may take."""
        net = self.changes.state.section("network")
        own = {proto: dict(ports) for proto, ports in schema.CELL_PORTS.items()}
        own["udp"][net["wireguard_port"]] = "WireGuard"
        return {
            "openings": [{"id": rule_id(o), **o} for o in net["firewall_openings"]],
            "forwards": [{"id": rule_id(f), **f} for f in net["port_forwards"]],
            "cell_ports": [{"protocol": proto, "port": port, "what": what}
                           for proto, ports in own.items() for port, what in sorted(ports.items())],
        }

    def add_rule(self, kind: str, body: Any, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        """Add an opening (``kind`` firewall_openings) or a port forward (port_forwards)."""
        request = schema.FIREWALL_OPENING if kind == "firewall_openings" else schema.PORT_FORWARD
        data = checked(request, body)
        rule = {"port": data["port"], "protocol": data["protocol"], "zones": list(data["zones"])}
        if kind == "port_forwards":
            rule = {"protocol": data["protocol"], "port": data["port"], "to": data["to"],
                    "to_port": data.get("to_port", data["port"]), "zones": list(data["zones"])}

        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["network"][kind].append(rule)
            return {"id": rule_id(rule), **rule}

        where = f" to {rule['to']}:{rule['to_port']}" if "to" in rule else ""
        what = "forward" if "to" in rule else "open"
        description = f"{what} {rule['protocol']} port {rule['port']}{where} from {', '.join(rule['zones'])}"
        return self.changes.apply_or_preview(preview, change, description, request)

    def delete_rule(self, kind: str, rid: str, preview: bool = False) -> Run:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            rules = state["network"][kind]
            gone = [r for r in rules if rule_id(r) == rid]
            if not gone:
                raise NotFound(f"no {'opening' if kind == 'firewall_openings' else 'port forward'} {rid[:20]!r}")
            state["network"][kind] = [r for r in rules if rule_id(r) != rid]
            return gone[0]

        run, _ = self.changes.apply_or_preview(preview, change, f"remove firewall rule {rid}")
        return run


def rule_id(rule: dict[str, Any]) -> str:
    """An opening's or a port forward's id: its protocol and port, which the state holds once."""
    return f"{rule['protocol']}-{rule['port']}"
