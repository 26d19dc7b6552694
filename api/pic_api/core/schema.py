"""The cell state schema (see docs/architecture.md): the one schema that decides what a valid state
and a valid request are.

``STATE`` is a JSON Schema (draft 2020-12) built from the field types of ``validators.TYPES``; what
JSON Schema cannot say (a custom domain is not under .cell, the DHCP pool lies in the LAN, peer
names are unique, ...) is ``_relations`` below. ``validate_state`` refuses a state with a
:class:`StateError` whose ``fields`` maps a dotted path (``peers[2].name``) to a message.

A request that changes the state is a :class:`Request`: its fields are state paths, so its schema is
taken from the state's (the OpenAPI document shows the same), and the handler validates the body
with it, builds the changed state and validates that, naming a refused field as the request did.

``apply_defaults`` fills what a state may leave out (the schema's ``default`` values), and
``state_to_vars`` turns a valid state into the ``pic_*`` variables of playbooks/vars/cell_defaults.yml.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import addressing, zone
from . import ddns as ddns_program
from .validators import TYPES, ValidationError, _ref, check_port, describe_errors, validator_for

__all__ = [
    "SCHEMA_VERSION",
    "SERVICES",
    "USER_SERVICES",
    "USER_SERVICE_NEEDS",
    "DOMAIN_MODES",
    "ROUTES",
    "MAIL_ROLE_ADDRESSES",
    "ROLES",
    "DNS_SERVERS",
    "DDNS_PROVIDERS",
    "DDNS_CREDENTIALS",
    "DEFAULT_NETWORK",
    "DEFS",
    "STATE",
    "DNS_RECORD",
    "DHCP_RESERVATION",
    "CELL_NAMES",
    "StateError",
    "Request",
    "SETUP",
    "SETUP_REQUEST",
    "SETTINGS",
    "PEER",
    "PEER_CHANGE",
    "PEER_KEYS",
    "CERTIFICATE",
    "EXIT",
    "EXIT_KINDS",
    "EXIT_NEEDS",
    "OPENVPN_CREDENTIALS",
    "DDNS",
    "USER",
    "USER_CHANGE",
    "USER_PASSWORD",
    "LOGIN",
    "PASSWORD_CHANGE",
    "SETUP_CODE",
    "BACKUP",
    "BACKUP_RESTORE",
    "BACKUP_KEY",
    "SETUP_RESTORE",
    "BACKUP_SCHEDULES",
    "STORE_SETTINGS",
    "STORE_INSTALL",
    "STORE_UPGRADE",
    "IMAGE_PULL",
    "check_def",
    "STORE_RESERVED_HOSTS",
    "STORE_RESERVED_PATHS",
    "validate_manifest",
    "validate_index",
    "run_request",
    "validate_state",
    "apply_defaults",
    "default_state",
    "state_to_vars",
    "valid_state_to_vars",
    "domain_for",
    "ddns_target",
    "public_endpoint",
]

SCHEMA_VERSION = 1
SERVICES = ("dns", "dhcp", "ntp", "wireguard", "mail", "calendar", "files")
# What may log verbosely (the Logs page): dnsmasq's every query (dns) and every DHCP exchange (dhcp),
# Postfix's and Dovecot's debug (mail), the management API's DEBUG lines (api).
VERBOSE_LOGS = ("dns", "dhcp", "mail", "api")
# What a person may use, and the cell service each one needs (vpn: WireGuard devices of their own).
# What a Radicale collection the API makes may be (calendars: CalDAV; address books: CardDAV).
COLLECTION_KINDS = ("calendar", "addressbook")
USER_SERVICE_NEEDS = {"mail": "mail", "calendar": "calendar", "files": "files", "vpn": "wireguard"}
USER_SERVICES = tuple(USER_SERVICE_NEEDS)
DOMAIN_MODES = ("internal", "pic_ngo", "custom")
ROUTES = ("split", "full")
# Addresses the mail role keeps for the postmaster (roles/mailserver/defaults; a unit test compares):
# nobody may take them as an alias.
MAIL_ROLE_ADDRESSES = ("postmaster", "abuse", "dmarc")
MAX_MAIL_ALIASES = 20  # a person's extra addresses
ROLES = ("admin", "peer")
DNS_SERVERS = ("dnsmasq", "coredns")
PIC_NGO_SUFFIX = "pic.ngo"
DDNS_PROVIDERS = ("none", "pic_ngo", "cloudflare", "duckdns", "noip", "freedns")
# The credentials each provider needs (pic_ngo: none, the cell makes its own TSIG key). The updater's
# provider classes (core/ddns.py) say the same in their `needs`; a unit test holds the two together.
DDNS_CREDENTIALS = {
    "none": (),
    "pic_ngo": (),
    "cloudflare": ("api_token",),
    "duckdns": ("token",),
    "noip": ("username", "password"),
    "freedns": ("token",),
}
DUCKDNS_SUFFIX = ".duckdns.org"
ACME_CHALLENGES = ("http", "dns")
# The DDNS providers lego can publish a DNS-01 challenge through (any other needs a CNAME delegation)
DNS01_PROVIDERS = tuple(ddns_program.LEGO_DNS)
MAX_RESOLVERS = 8  # upstream resolvers and NTP servers each
BACKUP_SCHEDULES = ("hourly", "daily", "weekly", "off")
BACKUP_KEEP_MAX = 1000
# The service store (docs/architecture.md "The service store"). Host names an app may not take: the
# cell's own service names (the dnsmasq and coredns roles publish them; a unit test compares).
STORE_RESERVED_HOSTS = ("calendar", "files", "mail", "ns", "ntp", "vpn", "www", "api")
# Paths of the cell's own site that an app's route may not take: the API, the UI's files, the Files
# page's WebDAV (roles/caddy's pic_ui) and the page that leads to HTTPS.
STORE_RESERVED_PATHS = ("/api", "/assets", "/dav", "/health", "/trust")
STORE_ZONES = ("lan", "vpn", "wan")
STORE_MAX_APPS = 500  # manifests in one index
# The names under the zone that are the cell itself (its apex, its services): a record the admin adds
# or a DHCP reservation's name may not take one of them for an address.
CELL_NAMES = ("@", *STORE_RESERVED_HOSTS)
MAX_DNS_RECORDS = 500
MAX_DHCP_RESERVATIONS = 500
MAX_FIREWALL_RULES = 32  # the admin's openings, and port forwards, each
# Ports the cell serves itself (the firewall role opens them by service; tests/unit compares them
# with its defaults): no opening or port forward of the admin's may take one (a forward of 443 would
# take the UI, an opening of 53 to the WAN would make an open resolver).
CELL_PORTS = {
    "tcp": {22: "ssh", 25: "SMTP", 53: "DNS", 80: "HTTP", 443: "HTTPS", 587: "mail submission", 993: "IMAPS",
            8081: "the web UI's plain HTTP", 8082: "peer-sync (cell links only)"},
    "udp": {53: "DNS", 67: "DHCP", 123: "NTP"},
}
# Per-device exits (docs/architecture.md "Per-device exits"): where a device's traffic leaves the cell.
EXIT_KINDS = ("wireguard", "openvpn", "tor")
# What a kind of exit must have in the state besides name and kind. A tor exit has nothing more: the
# cell's own tor is its upstream (the exits role's transparent proxy), with no server or credential.
EXIT_NEEDS = {"wireguard": ("endpoint", "address", "public_key"),
              "openvpn": ("endpoint", "remotes", "proto", "credentials"), "tor": ()}
# What a tor exit has no use for: its devices' DNS is tor's DNSPort, and it has no tunnel of its own.
TOR_REFUSED = ("endpoint", "address", "dns", "public_key", "mtu", "remotes", "proto", "options",
               "credentials")
MAX_EXITS = 16
# An OpenVPN exit's credential files (<name>.<which>, 0600 beside the state), by the directive using each.
OPENVPN_CREDENTIALS = ("ca", "cert", "key", "tls-auth", "tls-crypt", "auth-user-pass")
# Cell-to-cell links (docs/architecture.md "Cell-to-cell links"): the services a linked cell may be
# granted (DNS of the zone is always answered over a link), and how many links a cell keeps.
LINK_SERVICES = ("calendar", "files", "mail")
MAX_LINKS = 16
# A link's WireGuard interface is cl-<the first 12 hex digits of the other cell's id>.
LINK_INTERFACE_PREFIX = "cl-"
# Peer-sync between linked cells (docs/architecture.md "Peer-sync"): Caddy's listener for it, which
# the firewall opens only from a link's interface (roles/shared: shared_peer_sync_port), how far a
# message's time may be from this cell's clock, and how many device names a cell shares.
PEER_SYNC_PORT = 8082
PEER_SYNC_WINDOW = 300
MAX_SHARED_DEVICES = 1024


def _enum(values: Sequence[str], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), "description": description}


def _obj(props: dict[str, Any], required: Sequence[str] = (), **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(more)
    return out


def _list_of(item: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "array", "items": item, **more}


# The parts of the state. Each field names itself (its title) for the messages and the OpenAPI document.
DEFS: dict[str, dict[str, Any]] = {
    "Service": _enum(SERVICES, "a service of the cell"),
    "Services": _list_of(_ref("Service", "service"), uniqueItems=True, maxItems=len(SERVICES)),
    "UserService": _enum(USER_SERVICES, "a service a user may have"),
    "UserServices": _list_of(_ref("UserService", "user service"), uniqueItems=True, maxItems=len(USER_SERVICES)),
    "DomainMode": _enum(DOMAIN_MODES, "internal: <name>.cell; pic_ngo: <name>.pic.ngo; custom: your own domain"),
    "AcmeChallenge": _enum(
        ACME_CHALLENGES,
        "how a public certificate is proven (pic_ngo and custom domains): http (HTTP-01, port 80 reachable "
        "from outside) or dns (DNS-01 through the DDNS provider: pic_ngo, cloudflare or duckdns; any provider "
        "with a CNAME delegation of _acme-challenge)",
    ),
    "Route": _enum(ROUTES, "split: only the cell's networks go through the tunnel; full: everything"),
    "Role": _enum(ROLES, "admin: may change the cell; peer: a member, who may use the services given and change "
                  "only their own account"),
    "DnsServer": _enum(DNS_SERVERS, "the DNS server the cell runs"),
    "DdnsProvider": _enum(
        DDNS_PROVIDERS,
        "who publishes the cell's public address: none, pic_ngo (<name>.pic.ngo, the pic_ngo domain mode), "
        "cloudflare, duckdns, noip or freedns",
    ),
    "PublishIpv6": {"type": "boolean", "description": "publish the AAAA record too where the cell has a public "
                    "IPv6 address"},
    "TsigAlgorithm": _enum(ddns_program.TSIG_ALGORITHMS, "the TSIG key's algorithm (hmac-sha256 when left out)"),
    "TsigKeyName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": ddns_program.KEY_NAME_RE,
        "description": "a TSIG key's name as the DNS server knows it, like cell-acme or home.example.org",
        "example": "cell-acme",
    },
    "TsigSecret": {
        "type": "string",
        "minLength": 16,
        "maxLength": 256,
        "pattern": "^[A-Za-z0-9+/]+={0,2}$",
        "description": "the TSIG key's secret, base64 (the secret line of tsig-keygen's output); stored in a 0600 "
        "file beside the state, never shown again",
        "writeOnly": True,
    },
    # The CNAME delegation of _acme-challenge: the owner of each name on the certificate creates
    # _acme-challenge.<name>. CNAME <name>.<zone>. once; lego publishes the challenge there by RFC 2136.
    "AcmeDelegation": _obj(
        {
            "server": _ref("Host", "delegation server"),
            "port": _ref("Port", "delegation port"),
            "zone": _ref("Domain", "delegation zone"),
            "key_name": _ref("TsigKeyName", "TSIG key name"),
            "algorithm": _ref("TsigAlgorithm", "TSIG algorithm"),
        },
        description="DNS-01 through a zone the cell may update by RFC 2136 with a TSIG key, for a DDNS provider "
        "without a TXT API (noip, freedns): server (and port, 53 when left out), the zone the _acme-challenge "
        "CNAMEs point under, the key's name and algorithm; {} for none",
    ),
    "Ddns": _obj(
        {
            "provider": _ref("DdnsProvider", "DDNS provider", default="none"),
            "hostname": _ref("Domain", "DDNS name"),
            "zone": _ref("Domain", "Cloudflare zone"),
            "ipv6": _ref("PublishIpv6", "publish IPv6", default=True),
            "acme_delegation": _ref("AcmeDelegation", "CNAME delegation", default={}),
        }
    ),
    "DdnsCredentials": _obj(
        {k: _ref("Secret", k) for k in ("username", "password", "token", "api_token")},
        description="the provider's credentials (No-IP: username and password; Duck DNS and FreeDNS: token; "
        "Cloudflare: api_token); stored in a 0600 file beside the state, never shown again",
    ),
    "DhcpRange": {
        "type": "array",
        "prefixItems": [_ref("IPv4", "DHCP range start"), _ref("IPv4", "DHCP range end")],
        "items": False,
        "minItems": 2,
        "maxItems": 2,
        "description": "a list of two addresses [start, end]",
    },
    # Records the admin adds to the cell's zone (served with the ones the roles publish, one list).
    "DnsRecordType": _enum(zone.RECORD_TYPES, "a record type both DNS servers of the cell publish"),
    "DnsRecordName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": zone.NAME_PATTERN,
        "description": "a name relative to the cell's zone: @ (the zone itself), * or *.name (a wildcard), or "
        "labels of letters, digits, _ and - separated by dots, like printer or _sip._tcp",
        "example": "printer",
    },
    "DnsRecordValue": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "pattern": "^[^\\x00-\\x1f\\x7f\\\\\"]+$",
        "description": "A: an IPv4 address; AAAA: an IPv6 address; CNAME: a host name (relative to the zone, or "
        "ending in a dot); MX: '<preference> <host>'; SRV: '<priority> <weight> <port> <host>'; TXT: text "
        "(no line breaks, backslashes or double quotes)",
        "example": "192.168.50.20",
    },
    "DnsRecord": _obj(
        {
            "name": _ref("DnsRecordName", "record name"),
            "type": _ref("DnsRecordType", "record type"),
            "value": _ref("DnsRecordValue", "record value"),
        },
        ["name", "type", "value"],
    ),
    "DnsRecords": _list_of(_ref("DnsRecord", "record"), maxItems=MAX_DNS_RECORDS),
    "MacAddress": {
        "type": "string",
        "maxLength": 17,
        "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$",
        "description": "a MAC address like 52:54:00:12:34:56 (stored in lower case)",
        "example": "52:54:00:12:34:56",
    },
    # A LAN device that always gets the same address from the cell's DHCP server (dnsmasq dhcp-host).
    "DhcpReservation": _obj(
        {
            "name": _ref("Label", "reservation name"),
            "mac": _ref("MacAddress", "MAC address"),
            "ip": _ref("IPv4", "reserved address"),
        },
        ["name", "mac", "ip"],
    ),
    "DhcpReservations": _list_of(_ref("DhcpReservation", "reservation"), maxItems=MAX_DHCP_RESERVATIONS),
    # The admin's own openings of the cell's firewall and forwards to LAN hosts (the Firewall page).
    "Protocol": _enum(("tcp", "udp"), "tcp or udp"),
    "FirewallOpening": _obj(
        {
            "port": _ref("Port", "port"),
            "protocol": _ref("Protocol", "protocol"),
            "zones": _list_of(_ref("Zone", "zone"), uniqueItems=True, minItems=1, maxItems=3, title="zones"),
        },
        ["port", "protocol", "zones"],
        description="a port of the cell itself opened to some zones (a program of the admin's listens there)",
    ),
    "PortForward": _obj(
        {
            "protocol": _ref("Protocol", "protocol"),
            "port": _ref("Port", "port"),
            "to": _ref("IPv4", "LAN host"),
            "to_port": _ref("Port", "LAN host's port"),
            "zones": _list_of(_ref("Zone", "zone"), uniqueItems=True, minItems=1, maxItems=3, title="zones"),
        },
        ["protocol", "port", "to", "to_port", "zones"],
        description="connections to a port of the cell from some zones, sent on to a LAN host's port",
    ),
    "FirewallOpenings": _list_of(_ref("FirewallOpening", "opening"), maxItems=MAX_FIREWALL_RULES),
    "PortForwards": _list_of(_ref("PortForward", "port forward"), maxItems=MAX_FIREWALL_RULES),
    "UpstreamDns": _list_of(_ref("IPv4", "upstream resolver"), maxItems=MAX_RESOLVERS, uniqueItems=True),
    "NtpServers": _list_of(_ref("Host", "NTP server"), maxItems=MAX_RESOLVERS, uniqueItems=True),
    "Cell": _obj(
        {
            "name": _ref("Label", "cell name"),
            "domain_mode": _ref("DomainMode", "domain mode", default="internal"),
            "domain": _ref("Domain", "domain"),
            "timezone": _ref("Timezone", "timezone", default="Etc/UTC"),
            "acme_challenge": _ref("AcmeChallenge", "ACME challenge", default="http"),
        },
        ["name"],
    ),
    "Network": _obj(
        {
            "lan_interface": _ref("Interface", "LAN interface", default="eth0"),
            "lan_subnet": _ref("IPv4Cidr", "LAN subnet", default="192.168.50.0/24"),
            "lan_address": _ref("IPv4", "LAN address", default="192.168.50.1"),
            "dhcp_range": _ref("DhcpRange", "DHCP range", default=["192.168.50.100", "192.168.50.200"]),
            "dhcp_lease_time": _ref("LeaseTime", "DHCP lease time", default="12h"),
            # a new cell's is picked at setup (addressing.pick_vpn_subnet); a state without one keeps this
            "vpn_subnet": _ref("IPv4Cidr", "VPN subnet", default=addressing.FALLBACK_VPN_SUBNET),
            "wireguard_port": _ref("Port", "WireGuard port", default=51820),
            "upstream_dns": _ref("UpstreamDns", "upstream resolvers", default=[]),
            "ntp_servers": _ref("NtpServers", "NTP servers", default=[]),
            "dns_server": _ref("DnsServer", "DNS server", default="dnsmasq"),
            # The address devices dial from outside; without it, the DDNS or custom name.
            "wireguard_endpoint": _ref("Host", "WireGuard endpoint"),
            "dns_records": _ref("DnsRecords", "DNS records", default=[]),
            "dhcp_reservations": _ref("DhcpReservations", "DHCP reservations", default=[]),
            "firewall_openings": _ref("FirewallOpenings", "firewall openings", default=[]),
            "port_forwards": _ref("PortForwards", "port forwards", default=[]),
        }
    ),
    "Peer": _obj(
        {
            "name": _ref("Label", "peer name"),
            "public_key": _ref("WgKey", "public key"),
            "ip": _ref("IPv4", "peer address"),
            "route": _ref("Route", "route", default="split"),
            "created": _ref("Timestamp", "created"),
            # the person whose device it is (a user's name); none: the admins' (no role reads it)
            "owner": _ref("Label", "owner"),
            # where its traffic leaves the cell: an exit's name; none: the cell's own uplink
            "exit": _ref("ExitName", "exit"),
        },
        ["name", "public_key", "ip"],
    ),
    # An upstream the cell sends chosen devices' traffic through (the exits role). Its private and
    # preshared keys are secrets, never here (0600 files in /etc/pic/exits).
    "ExitName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 10,
        "pattern": "^[a-z]([a-z0-9]{0,9})$",
        "description": "a lower-case letter, then a-z or 0-9; at most 10 characters (the exit's interface is "
        "exit-<name>)",
        "example": "vpnhome",
    },
    "ExitKind": _enum(EXIT_KINDS, "wireguard: an upstream WireGuard server (a provider's wg-quick config); "
                      "openvpn: an upstream OpenVPN server (a provider's .ovpn with its credentials); "
                      "tor: the cell's own tor as a transparent proxy (TCP and DNS only)"),
    "ExitEndpoint": {
        "type": "string",
        "maxLength": 260,
        "pattern": "^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        ":[0-9]{1,5}$",
        "description": "the upstream server as host:port (a domain name or an IPv4 address)",
        "example": "vpn.example.net:51820",
    },
    "ExitAddress": {
        "type": "string",
        "maxLength": 18,
        "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
        "description": "the cell's address in the upstream's tunnel, IPv4 with its prefix length (10.66.0.2/32)",
        "example": "10.66.0.2/32",
    },
    "ExitDNS": _list_of(_ref("IPv4", "exit DNS server"), maxItems=MAX_RESOLVERS,
                        description="the exit's resolvers: the first answers its devices' DNS (wireguard: the "
                        "config's DNS =; openvpn: none - the resolver the server pushes)"),
    "Exit": _obj(
        {
            "name": _ref("ExitName", "exit name"),
            "kind": _ref("ExitKind", "kind"),
            "endpoint": _ref("ExitEndpoint", "endpoint"),
            "address": _ref("ExitAddress", "address"),
            "dns": _ref("ExitDNS", "DNS", default=[]),
            "public_key": _ref("WgKey", "exit public key"),
            "keepalive": {"type": "integer", "minimum": 0, "maximum": 65535, "title": "keepalive", "default": 25,
                          "description": "seconds between keepalives to the upstream; 0: none"},
            "mtu": {"type": "integer", "minimum": 1280, "maximum": 9000, "title": "MTU",
                    "description": "the exit interface's MTU; left out: 1420"},
            # openvpn: the servers in order (endpoint is the first), their protocol, the .ovpn's
            # directives passed on (core/ovpn.py's whitelist) and which credential files it has
            "remotes": _list_of(_ref("ExitEndpoint", "remote"), minItems=1, maxItems=8, title="remotes"),
            "proto": _enum(("udp", "tcp"), "the OpenVPN server's protocol (IPv4)") | {"title": "proto"},
            "options": _list_of({"type": "string", "maxLength": 300, "title": "option",
                                 "pattern": "^[a-z][a-z0-9-]*( [A-Za-z0-9._:@=+,/-]+)*$"},
                                maxItems=64, title="options"),
            "credentials": _list_of(_enum(OPENVPN_CREDENTIALS, "a credential file of the exit")
                                    | {"title": "credential"}, uniqueItems=True, title="credentials"),
        },
        ["name", "kind"],
    ),
    # A site-to-site link to another cell (the cell_link role). The private key of this end is a
    # 0600 file (/etc/pic/links/<cell_id>.key), never here.
    "CellId": {
        "type": "string",
        "pattern": "^[0-9a-f]{16}$",
        "description": "a cell's id: 16 hex digits of the SHA-256 of its Ed25519 signing key",
        "example": "3f9c2a71b04d8e15",
    },
    "SigningKey": {
        "type": "string",
        "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
        "description": "an Ed25519 public key (32 bytes, base64)",
        "example": "kxQ4Fh0qkC1mP5k0V0ZqN0tq4e7b2mR2mA3l8cR2F1E=",
    },
    "LinkService": _enum(LINK_SERVICES, "calendar and files: HTTPS (Caddy, 443); mail: SMTP and IMAP (25, 587, 993) "
                         "and its webmail (mail.<domain>, 443)"),
    "LinkServices": _list_of(_ref("LinkService", "service"), maxItems=len(LINK_SERVICES), uniqueItems=True),
    "LinkSubnets": _list_of(_ref("IPv4Cidr", "subnet"), minItems=1, maxItems=4, uniqueItems=True),
    "Link": _obj(
        {
            "name": _ref("Label", "linked cell name"),
            "cell_id": _ref("CellId", "linked cell id"),
            "zone": _ref("Domain", "linked cell zone"),
            "signing_key": _ref("SigningKey", "linked cell signing key"),
            "public_key": _ref("WgKey", "linked cell's WireGuard key"),
            "endpoint": _ref("ExitEndpoint", "linked cell endpoint"),
            "subnets": _ref("LinkSubnets", "linked cell subnets"),
            "dns": _ref("IPv4", "linked cell DNS address"),
            "port": _ref("Port", "link port"),
            "grants": _ref("LinkServices", "services granted", default=[]),
            "offered": _ref("LinkServices", "services offered", default=[]),
            "created": _ref("Timestamp", "created"),
            "peer": _ref("LinkPeer", "peer-sync"),
        },
        ["name", "cell_id", "zone", "signing_key", "public_key", "endpoint", "subnets", "dns", "port"],
    ),
    # What the linked cell last shared by peer-sync: its version (each newer than the last), its zone
    # as it says now (the forwarding keeps the link's zone), its devices' names, when it arrived (the
    # services it grants are the link's offered).
    "LinkPeer": _obj(
        {
            "version": {"type": "integer", "minimum": 1, "title": "version"},
            "zone": _ref("Domain", "zone"),
            "devices": _ref("SharedDevices", "devices"),
            "synced": _ref("Timestamp", "synced"),
        },
        ["version", "zone", "devices", "synced"],
    ),
    "SharedDevices": _list_of(_ref("Label", "device"), maxItems=MAX_SHARED_DEVICES, uniqueItems=True),
    # A peer-sync message (core/links.py signs and opens it), signed with the sending cell's key.
    "PeerSyncMessage": _obj(
        {
            "v": {"const": 1, "title": "message version"},
            "kind": _enum(("share", "remove"), "share: what the cell shares; remove: the link is removed"),
            "from": _ref("CellId", "sending cell id"),
            "to": _ref("CellId", "receiving cell id"),
            "version": {"type": "integer", "minimum": 1, "title": "version"},
            "sent": {"type": "integer", "minimum": 0, "title": "sent"},
            "nonce": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$", "title": "nonce"},
            "share": _obj(
                {"zone": _ref("Domain", "zone"), "services": _ref("LinkServices", "services"),
                 "devices": _ref("SharedDevices", "devices")},
                ["zone", "services", "devices"],
            ),
        },
        ["v", "kind", "from", "to", "version", "sent", "nonce"],
    ),
    # What a token of cell linking carries (core/links.py signs and opens it): an invitation from the
    # inviting cell, or the invited cell's answer to one (``to``, ``invitation``).
    "LinkToken": _obj(
        {
            "v": {"const": 1, "title": "token version"},
            "kind": _enum(("invitation", "answer"), "invitation: cell A's offer; answer: cell B's reply"),
            "cell": _obj(
                {"id": _ref("CellId", "cell id"), "name": _ref("Label", "cell name"), "zone": _ref("Domain", "zone")},
                ["id", "name", "zone"],
            ),
            "signing_key": _ref("SigningKey", "signing key"),
            "public_key": _ref("WgKey", "WireGuard key"),
            "endpoint": _ref("ExitEndpoint", "endpoint"),
            "subnets": _ref("LinkSubnets", "subnets"),
            "dns": _ref("IPv4", "DNS address"),
            "services": _ref("LinkServices", "services"),
            "nonce": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$", "title": "nonce"},
            "expires": {"type": "integer", "minimum": 0, "title": "expires"},
            "to": _ref("CellId", "invited cell id"),
            "invitation": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$", "title": "invitation"},
        },
        ["v", "kind", "cell", "signing_key", "public_key", "endpoint", "subnets", "dns", "services", "nonce",
         "expires"],
    ),
    "User": _obj(
        {
            "name": _ref("Label", "user name"),
            "role": _ref("Role", "role", default="peer"),
            "password_hash": _ref("BcryptHash", "password_hash"),
            "services": _ref("UserServices", "services", default=[]),
            # more addresses delivered to this person's mailbox, which they may also send from
            "mail_aliases": _ref("MailAliases", "mail aliases", default=[]),
            # mail to any address of the domain that nobody has lands in this person's mailbox
            "mail_catch_all": _ref("MailCatchAll", "catch-all", default=False),
        },
        ["name"],
    ),
    "MailAliases": _list_of(
        _ref("MailLocalPart", "mail alias"), uniqueItems=True, maxItems=MAX_MAIL_ALIASES,
        description="more addresses (the part before the @) delivered to this person's mailbox, which they may "
        "send from too",
    ),
    "MailCatchAll": {
        "type": "boolean",
        "description": "mail to an address of the domain that nobody has goes to this person (one person at most)",
    },
    # Where backups go and how often (the backup role, docs/architecture.md "Backup and restore"); the
    # passphrase and the ssh key are secrets, never here (0600 files in /etc/pic/backup).
    "BackupSchedule": _enum(BACKUP_SCHEDULES, "how often the timer backs up; off: on demand only"),
    "BackupKeep": {
        "type": "integer", "minimum": 0, "maximum": BACKUP_KEEP_MAX,
        "description": f"archives kept by borg prune, 0 to {BACKUP_KEEP_MAX}",
    },
    "KeyConfirmed": {"type": "boolean", "description": "the repository's passphrase is saved away from the cell"},
    # The certificates the cell's CA issued that it revoked (the ca role's CRL); issuing is no state.
    "Ca": _obj({"revoked": _list_of(_ref("CertSerial", "revoked serial"), uniqueItems=True, maxItems=10000,
                                    title="revoked", default=[])}),
    "CertDays": {"type": "integer", "minimum": 1, "maximum": 825,
                 "description": "how many days the certificate is valid, 1 to 825 (never past the root's end)"},
    "Backup": _obj(
        {
            "repository": _ref("Repository", "backup repository", default=""),
            "schedule": _ref("BackupSchedule", "backup schedule", default="daily"),
            "keep_daily": _ref("BackupKeep", "keep_daily", default=7),
            "keep_weekly": _ref("BackupKeep", "keep_weekly", default=4),
            "keep_monthly": _ref("BackupKeep", "keep_monthly", default=6),
            "key_confirmed": _ref("KeyConfirmed", "key_confirmed", default=False),
        }
    ),
    # --- the service store: an app's manifest (from an index) and what the state records of it ---
    "AppVersion": {
        "type": "string",
        "maxLength": 48,
        "pattern": "^[0-9]{1,6}(\\.[0-9]{1,6}){0,3}([-+][A-Za-z0-9.]{1,32})?$",
        "description": "a version like 1.2.3 or 2.0-rc1 (numbers separated by dots, then an optional -label)",
        "example": "1.0.0",
    },
    "PullRef": {
        "type": "string",
        "maxLength": 300,
        "pattern": "^[a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]([a-z0-9._/-]{0,200}[a-z0-9])?"
        "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$",
        "description": "an image with its registry and a tag or a digest: registry.example.org[:port]/name:tag or "
        "...@sha256:<64 hex>",
        "example": "registry.example.org/apps/hello:1.0",
    },
    "CalendarKind": _enum(
        COLLECTION_KINDS, "calendar: a CalDAV calendar (events, tasks); addressbook: a CardDAV address book"
    ),
    "CalendarName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "pattern": "^[^\\x00-\\x1f\\x7f]+$",
        "description": "the name clients show for a calendar or address book (1 to 100 characters, no line breaks)",
        "example": "Family",
    },
    "CalendarText": {
        "type": "string",
        "maxLength": 500,
        "pattern": "^[^\\x00-\\x1f\\x7f]*$",
        "description": "a description clients may show (at most 500 characters, no line breaks)",
    },
    "CalendarColor": {
        "type": "string",
        "pattern": "^#[0-9A-Fa-f]{6}$",
        "description": "a colour clients may show, #RRGGBB",
        "example": "#3a7bd5",
    },
    "ContainerName": {
        "type": "string",
        "maxLength": 128,
        "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        "description": "a container's name or id: letters, digits and _ . - (at most 128 characters)",
        "example": "pic-hello",
    },
    "ContainerAction": _enum(("start", "stop", "restart"), "what to do with a container"),
    "AppName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$",
        "description": "a display name: letters, digits, spaces and . _ + - (at most 64 characters)",
        "example": "Hello",
    },
    "AppText": {
        "type": "string",
        "maxLength": 500,
        "pattern": "^[^\\x00-\\x1f\\x7f<>]*$",
        "description": "text of at most 500 characters, without control characters or < >",
    },
    "ImageRef": {
        "type": "string",
        "maxLength": 300,
        "pattern": "^[a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?(:[0-9]{1,5})?/[a-z0-9]([a-z0-9._/-]{0,200}[a-z0-9])?"
        "@sha256:[a-f0-9]{64}$",
        "description": "an image pinned by digest, with its registry: registry.example.org[:port]/name@sha256:<64 hex>",
        "example": "registry.example.org/apps/hello@sha256:" + "0" * 64,
    },
    "ContainerPath": {
        "type": "string",
        "maxLength": 200,
        "pattern": "^/([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$",
        "description": "an absolute path inside the container, like /data",
        "example": "/data",
    },
    "HttpPath": {
        "type": "string",
        "maxLength": 200,
        "pattern": "^/[A-Za-z0-9._~/-]*$",
        "description": "an HTTP path starting with /, of letters, digits and . _ ~ / -",
        "example": "/health",
    },
    "RoutePath": {
        "type": "string",
        "maxLength": 33,
        "pattern": "^/[a-z]([a-z0-9-]{0,30}[a-z0-9])?$",
        "description": "a path prefix of the cell's own site: / and a name (a lower-case letter, then a-z, 0-9, -)",
        "example": "/hello",
    },
    "EnvName": {
        "type": "string",
        "maxLength": 64,
        "pattern": "^[A-Z_][A-Z0-9_]{0,63}$",
        "description": "an environment variable name: upper-case letters, digits and _",
    },
    "EnvValue": {
        "anyOf": [
            {"type": "string", "maxLength": 1024, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
            _obj({"secret": {"type": "integer", "minimum": 16, "maximum": 128, "title": "secret length"}},
                 ["secret"]),
        ],
        "description": "a value (at most 1024 characters, no control characters), or {secret: N}: N random "
        "characters made on install and kept with the app's data",
    },
    "Zone": _enum(STORE_ZONES, "lan: the LAN; vpn: the WireGuard peers; wan: everything else"),
    "StoreRoute": _obj(
        {
            "host": _ref("Label", "route host"),
            "path": _ref("RoutePath", "route path"),
            "port": _ref("Port", "route port"),
            "login": {"type": "boolean", "title": "login", "default": True,
                      "description": "the cell's login (its users' passwords) protects the route"},
        },
        ["port"],
        description="how Caddy reaches the app: https://<host>.<domain>/ or https://<domain><path>/ (one of the two), "
        "proxied to 127.0.0.1:<port>",
    ),
    "StoreOpening": _obj(
        {
            "port": _ref("Port", "opening port"),
            "protocol": {"type": "string", "enum": ["tcp", "udp"], "title": "protocol"},
            "zones": _list_of(_ref("Zone", "zone"), uniqueItems=True, minItems=1, maxItems=3, title="zones"),
        },
        ["port", "protocol", "zones"],
        description="a port of the app the cell's firewall opens in some zones (published on every address)",
    ),
    "StoreVolume": _obj(
        {"name": _ref("Label", "volume name"), "path": _ref("ContainerPath", "volume path")},
        ["name", "path"],
    ),
    "StoreHealth": _obj(
        {"port": _ref("Port", "health port"), "path": _ref("HttpPath", "health path", default="/")},
        ["port"],
        description="an HTTP GET on 127.0.0.1:<port><path> that answers 2xx or 3xx when the app works",
    ),
    "AppManifest": _obj(
        {
            "id": _ref("Label", "app id"),
            "name": _ref("AppName", "app name"),
            "version": _ref("AppVersion", "version"),
            "description": _ref("AppText", "description", default=""),
            "image": _ref("ImageRef", "image"),
            "command": _list_of({"type": "string", "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
                                maxItems=32, title="command"),
            "ports": _list_of(_ref("Port", "port"), uniqueItems=True, maxItems=8, title="ports",
                              description="ports the app listens on, published on 127.0.0.1 with the same number"),
            "routes": _list_of(_ref("StoreRoute", "route"), maxItems=8, title="routes", default=[]),
            "firewall": _list_of(_ref("StoreOpening", "opening"), maxItems=8, title="firewall", default=[]),
            "volumes": _list_of(_ref("StoreVolume", "volume"), maxItems=8, title="volumes", default=[]),
            "environment": {
                "type": "object", "title": "environment", "maxProperties": 32, "default": {},
                "propertyNames": _ref("EnvName"), "additionalProperties": _ref("EnvValue", "environment value"),
            },
            "health": _ref("StoreHealth", "health"),
            "memory": {"type": "integer", "minimum": 16, "maximum": 65536, "title": "memory",
                       "description": "MiB of memory the app needs (its container's limit)"},
            "disk": {"type": "integer", "minimum": 1, "maximum": 1048576, "title": "disk",
                     "description": "MiB of disk its image and data need; an install needs this much free"},
        },
        ["id", "name", "version", "image", "ports", "health", "memory", "disk"],
    ),
    "AppIndex": _obj(
        {"apps": _list_of(_ref("AppManifest", "app"), maxItems=STORE_MAX_APPS, title="apps")},
        ["apps"],
        description="an index of app manifests; an app may appear once per version",
    ),
    "StoreApp": _obj(
        {
            "id": _ref("Label", "app id"),
            "version": _ref("AppVersion", "version"),
            "routes": _list_of(_ref("StoreRoute", "route"), maxItems=8, title="routes", default=[]),
            "firewall": _list_of(_ref("StoreOpening", "opening"), maxItems=8, title="firewall", default=[]),
        },
        ["id", "version"],
        description="an installed app: its version and what the cell's roles publish of it (from its manifest)",
    ),
    "IndexLocation": {
        "type": "string",
        "maxLength": 255,
        "pattern": "^(|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?|/([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+)$",
        "description": "where the index of apps is: an http(s) URL or an absolute path on the cell; empty for the "
        "index the cell ships",
        "example": "https://apps.example.org/index.yml",
    },
    "StoreEnabled": {"type": "boolean", "description": "the container engine is installed and apps may be installed"},
    "Store": _obj(
        {
            "enabled": _ref("StoreEnabled", "store enabled", default=False),
            "index": _ref("IndexLocation", "index", default=""),
            "apps": _list_of(_ref("StoreApp", "app"), maxItems=64, title="apps", default=[]),
        }
    ),
    "VerboseLog": _enum(VERBOSE_LOGS, "a log that may be verbose: dns (every query), dhcp (every exchange), "
                        "mail (Postfix and Dovecot debug), api (the management API's DEBUG lines)"),
    "Logs": _obj(
        {
            "verbose": _list_of(_ref("VerboseLog", "verbose log"), uniqueItems=True, maxItems=len(VERBOSE_LOGS),
                                title="verbose", default=[]),
        }
    ),
    "CellState": _obj(
        {
            "version": {"const": SCHEMA_VERSION, "title": "version"},
            "setup_completed": {"type": "boolean", "title": "setup_completed", "default": False},
            "cell": _ref("Cell", "cell"),
            "network": _ref("Network", "network", default={}),
            "services": _ref("Services", "services", default=list(SERVICES)),
            "peers": _list_of(_ref("Peer", "peer"), title="peers", default=[]),
            "exits": _list_of(_ref("Exit", "exit"), title="exits", maxItems=MAX_EXITS, default=[]),
            "links": _list_of(_ref("Link", "link"), title="links", maxItems=MAX_LINKS, default=[]),
            "users": _list_of(_ref("User", "user"), title="users", default=[]),
            "ddns": _ref("Ddns", "ddns", default={}),
            "backup": _ref("Backup", "backup", default={}),
            "store": _ref("Store", "store", default={}),
            "ca": _ref("Ca", "ca", default={}),
            "logs": _ref("Logs", "logs", default={}),
        },
        ["version", "cell"],
    ),
}
STATE: dict[str, Any] = {"$defs": DEFS, "$ref": "#/$defs/CellState"}
_STATE_VALIDATOR = validator_for(STATE)
ALL_DEFS: dict[str, dict[str, Any]] = {**TYPES, **DEFS}

DEFAULT_NETWORK: dict[str, Any] = {
    k: v["default"] for k, v in DEFS["Network"]["properties"].items() if "default" in v
}


class StateError(ValueError):
    """The state (or a request) was refused. ``fields`` maps a dotted path to the message for that field."""

    def __init__(self, fields: dict[str, str], message: str = "invalid cell state"):
        self.fields = dict(fields)
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(self.fields.items()))
        super().__init__(f"{message}: {detail}" if detail else message)
        self.message = message


def domain_for(name: str, mode: str, domain: str | None = None) -> str:
    """The cell's domain for a domain mode: ``<name>.cell``, ``<name>.pic.ngo`` or the custom one."""
    if mode == "internal":
        return f"{name}.cell"
    if mode == "pic_ngo":
        return f"{name}.{PIC_NGO_SUFFIX}"
    return domain or ""


def ddns_target(state: Mapping[str, Any]) -> tuple[str, str]:
    """(provider, name) the cell publishes its address with: the pic_ngo domain mode is pic_ngo with
    <name>.pic.ngo; otherwise the ddns section's provider and name ('none', '' without one)."""
    cell, ddns = state["cell"], state.get("ddns") or {}
    if cell.get("domain_mode") == "pic_ngo":
        return "pic_ngo", domain_for(cell["name"], "pic_ngo")
    provider = ddns.get("provider", "none")
    return provider, (ddns.get("hostname") or "") if provider != "none" else ""


def public_endpoint(state: Mapping[str, Any]) -> str:
    """The host devices dial from outside: the address the admin set, else the DDNS name, else a
    custom domain; '' when the cell has none of these (the API then uses the host's own address)."""
    endpoint = (state.get("network") or {}).get("wireguard_endpoint")
    if endpoint:
        return str(endpoint)
    provider, name = ddns_target(state)
    if provider != "none" and name:
        return name
    if state["cell"].get("domain_mode") == "custom":
        return str(state["cell"].get("domain") or "")
    return ""


def default_state(cell_name: str = "mycell") -> dict[str, Any]:
    """A complete, valid state for a cell that has not been set up yet."""
    return apply_defaults({"version": SCHEMA_VERSION, "setup_completed": False, "cell": {"name": cell_name}})


def _fill(node: Any, schema: Mapping[str, Any]) -> None:
    """Set the schema's defaults of the properties ``node`` leaves out, recursively."""
    while "$ref" in schema and "properties" not in schema:
        schema = ALL_DEFS[schema["$ref"].rsplit("/", 1)[1]]
    if isinstance(node, dict) and schema.get("type") == "object":
        for key, prop in schema.get("properties", {}).items():
            if key not in node and "default" in prop:
                node[key] = copy.deepcopy(prop["default"])
            if key in node:
                _fill(node[key], prop)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for item in node:
            _fill(item, schema["items"])


def apply_defaults(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` with every optional part filled in. Does not validate."""
    out = copy.deepcopy(state) if isinstance(state, dict) else {}
    out.setdefault("version", SCHEMA_VERSION)
    out.setdefault("cell", {})
    _fill(out, DEFS["CellState"])
    cell = out["cell"]
    if isinstance(cell, dict) and "domain" not in cell and isinstance(cell.get("name"), str):
        if cell.get("domain_mode") != "custom":
            cell["domain"] = domain_for(cell["name"], cell.get("domain_mode", "internal"))
    return out


def validate_state(state: Any) -> None:
    """Validate a cell state. Optional parts may be missing (see ``apply_defaults``).

    Raises :class:`StateError` naming every refused field.
    """
    fields = describe_errors(_STATE_VALIDATOR, state)
    if "" not in fields:
        _relations(apply_defaults(state), fields)
    if fields:
        raise StateError(fields)


def _relations(state: dict[str, Any], fields: dict[str, str]) -> None:
    """The rules between fields, checked where the fields themselves passed the schema."""
    refused = set(fields)

    def ok(*paths: str) -> bool:
        for p in paths:
            for k in refused:
                if k == p or k.startswith((p + ".", p + "[")) or p.startswith((k + ".", k + "[")):
                    return False
        return True

    def add(path: str, message: str) -> None:
        fields.setdefault(path, message)

    cell = state["cell"]
    if ok("cell.domain_mode", "cell.domain"):
        mode, domain = cell["domain_mode"], cell.get("domain")
        if mode == "custom" and domain is None:
            add("cell.domain", "a custom domain mode needs a domain")
        elif mode == "custom" and domain.endswith((".cell", "." + PIC_NGO_SUFFIX)):
            add("cell.domain", f"a custom domain must not be under .cell or .{PIC_NGO_SUFFIX}")
        elif mode != "custom" and ok("cell.name") and domain != domain_for(cell["name"], mode):
            add("cell.domain", f"with domain mode {mode} the domain must be {domain_for(cell['name'], mode)}")

    ddns = state["ddns"]
    if ok("ddns.provider", "cell.domain_mode"):
        provider, mode = ddns["provider"], cell["domain_mode"]
        if provider == "pic_ngo" and mode != "pic_ngo":
            add("ddns.provider", "pic_ngo publishes <name>.pic.ngo: choose the pic_ngo domain mode for it")
        elif mode == "pic_ngo" and provider not in ("none", "pic_ngo"):
            add("ddns.provider", "the pic_ngo domain mode publishes the address through pic_ngo")
        elif provider not in ("none", "pic_ngo") and ok("ddns.hostname"):
            name = ddns.get("hostname")
            if not name:
                add("ddns.hostname", f"{provider} needs the name to publish")
            elif provider == "duckdns" and not name.endswith(DUCKDNS_SUFFIX):
                add("ddns.hostname", f"a Duck DNS name ends in {DUCKDNS_SUFFIX}")
            elif provider == "cloudflare" and ok("ddns.zone") and ddns.get("zone") and not (
                name == ddns["zone"] or name.endswith("." + ddns["zone"])
            ):
                add("ddns.hostname", f"the name must be in the zone {ddns['zone']}")

    delegation = ddns.get("acme_delegation") or {}
    if ok("ddns.acme_delegation") and delegation:
        for key in ("server", "zone", "key_name"):
            if key not in delegation:
                add(f"ddns.acme_delegation.{key}", f"a CNAME delegation needs its {key}")
    if ok("cell.acme_challenge", "cell.domain_mode", "ddns.provider", "ddns.acme_delegation") and (
        cell["acme_challenge"] == "dns"
    ):
        if cell["domain_mode"] == "internal":
            add("cell.acme_challenge", "an internal cell has its own CA: no ACME challenge")
        elif ddns_target(state)[0] not in DNS01_PROVIDERS and not delegation:
            add("cell.acme_challenge", f"DNS-01 needs the DDNS provider {', '.join(DNS01_PROVIDERS)}, or a CNAME "
                "delegation of _acme-challenge (acme_delegation) for the others")

    net = state["network"]
    p = "network."
    lan = ipaddress.IPv4Network(net["lan_subnet"]) if ok(p + "lan_subnet") else None
    vpn = ipaddress.IPv4Network(net["vpn_subnet"]) if ok(p + "vpn_subnet") else None
    if vpn and vpn.prefixlen > 29:
        add(p + "vpn_subnet", "VPN subnet must be /29 or larger")
        vpn = None
    if lan and vpn and lan.overlaps(vpn):
        add(p + "vpn_subnet", f"VPN subnet {vpn} overlaps the LAN subnet {lan}")
    lan_addr = ipaddress.IPv4Address(net["lan_address"]) if ok(p + "lan_address") else None
    if lan and lan_addr and (lan_addr not in lan or lan_addr in (lan.network_address, lan.broadcast_address)):
        add(p + "lan_address", f"LAN address must be a host address inside {lan}")
    if ok(p + "dhcp_range"):
        start, end = (ipaddress.IPv4Address(a) for a in net["dhcp_range"])
        if start > end:
            add(p + "dhcp_range", "DHCP range start must not be after its end")
        elif lan:
            ends = (lan.network_address, lan.broadcast_address)
            if start not in lan or end not in lan or start in ends or end in ends:
                add(p + "dhcp_range", f"DHCP range must lie inside the LAN subnet {lan}")
            elif lan_addr and start <= lan_addr <= end:
                add(p + "dhcp_range", "DHCP range must not contain the cell's LAN address")

    seen: dict[str, dict[str, int]] = {"name": {}, "public_key": {}, "ip": {}}
    words = {"name": "peer name {!r} is", "public_key": "public key is", "ip": "address {} is"}
    for i, peer in enumerate(state["peers"] if isinstance(state["peers"], list) else []):
        for key, used in seen.items():
            where = f"peers[{i}].{key}"
            if not ok(where):
                continue
            value = peer[key]
            if key == "ip" and vpn and not addressing.usable(value, str(vpn)):
                add(where, f"peer address must be a host address inside {vpn} other than the cell's")
            elif value in used:
                add(where, words[key].format(value) + f" already used by peers[{used[value]}]")
            used.setdefault(value, i)
    _exit_relations(state, ok, add)
    _link_relations(state, [n for n in (lan, vpn) if n], ok, add)
    keeps = [f"backup.keep_{p}" for p in ("daily", "weekly", "monthly")]
    if ok(*keeps) and not any(state["backup"][k.split(".")[1]] for k in keeps):
        add("backup.keep_daily", "keep at least one backup (keep_daily, keep_weekly or keep_monthly above 0)")

    _store_relations(state["store"], ok, add)
    _firewall_relations(state, ok, add)
    peer_names = {p["name"] for p in state["peers"]} if isinstance(state["peers"], list) and ok("peers") else set()
    for i, app in enumerate(state["store"]["apps"] if ok("store.apps") else []):
        for j, route in enumerate(app.get("routes", [])):
            if route.get("host") in peer_names:
                add(f"store.apps[{i}].routes[{j}].host", f"{route['host']!r} is the name of a peer")

    _netsvc_relations(state, lan, lan_addr, peer_names, ok, add)

    users: dict[str, int] = {}
    for i, user in enumerate(state["users"] if isinstance(state["users"], list) else []):
        if ok(f"users[{i}].name"):
            if user["name"] in users:
                add(f"users[{i}].name", f"user name {user['name']!r} is already used by users[{users[user['name']]}]")
            users.setdefault(user["name"], i)
    if ok("users"):
        _mail_address_rules(state["users"], users, ok, add)


def _mail_address_rules(users: list[dict[str, Any]], names: dict[str, int], ok: Any, add: Any) -> None:
    """Each address belongs to one person: an alias is nobody's name, no role address and nobody else's
    alias; aliases and the catch-all need the mail service; one catch-all at most. A clash between two
    people is said at both, so a form shows it for the person it changes."""
    taken: dict[str, tuple[str, str]] = {}
    catch_all: tuple[str, str] | None = None
    for i, user in enumerate(users):
        has_mail = "mail" in user.get("services", [])
        aliases, where = user.get("mail_aliases", []), f"users[{i}].mail_aliases"
        if aliases and not has_mail and ok(where, f"users[{i}].services"):
            add(where, f"{user['name']} has no mailbox: give them the mail service for their aliases")
        for j, alias in enumerate(aliases if ok(where) else []):
            at = f"{where}[{j}]"
            if alias in names:
                add(at, f"{alias!r} is the address of the user {alias}")
                add(f"users[{names[alias]}].name", f"{alias!r} is an alias of {user['name']}")
            elif alias in MAIL_ROLE_ADDRESSES:
                add(at, f"{alias!r} is kept for the postmaster")
            elif alias in taken:
                owner, owner_at = taken[alias]
                add(at, f"{alias!r} is already an alias of {owner}")
                add(owner_at, f"{alias!r} is already an alias of {user['name']}")
            else:
                taken[alias] = (user["name"], at)
        where = f"users[{i}].mail_catch_all"
        if user.get("mail_catch_all") and ok(where):
            if not has_mail:
                add(where, f"{user['name']} has no mailbox: give them the mail service to receive the catch-all")
            elif catch_all is not None:
                add(where, f"the catch-all already goes to {catch_all[0]}")
                add(catch_all[1], f"the catch-all already goes to {user['name']}")
            else:
                catch_all = (user["name"], where)


def _netsvc_relations(
    state: dict[str, Any], lan: Any, lan_addr: Any, peer_names: set[str], ok: Any, add: Any
) -> None:
    """The admin's DNS records and DHCP reservations: a value fits its type; a name that would give an
    address is not one of the cell's own, a peer's or an app's; a CNAME is alone at its name; no
    record twice; a reservation's address is a host of the LAN other than the cell's, and its name,
    MAC and address are each used once."""
    net = state["network"]
    taken = {n: "a name of the cell itself" for n in CELL_NAMES}
    taken.update({n: "the name of a peer" for n in peer_names})
    if ok("store.apps"):
        for app in state["store"]["apps"]:
            for route in app.get("routes", []):
                if "host" in route:
                    taken[route["host"]] = f"the name of the app {app['id']}"
    where = "network.dns_records"
    records = net["dns_records"] if ok(where) else []
    seen: dict[tuple[str, str, str], int] = {}
    cnames: dict[str, int] = {}
    names: dict[str, int] = {}
    for i, rec in enumerate(records):
        at = f"{where}[{i}]"
        if not ok(at):
            continue
        name, rtype = rec["name"].lower(), rec["type"]
        why = zone.check_value(rtype, rec["value"])
        if why:
            add(f"{at}.value", f"{rtype} record value: {why}")
            continue
        key = (name, rtype, rec["value"].lower() if rtype != "TXT" else rec["value"])
        if rtype in ("A", "AAAA", "CNAME") and name in taken:
            add(f"{at}.name", f"{rec['name']!r} is {taken[name]}")
        elif key in seen:
            add(f"{at}.name", f"the same record is already {where}[{seen[key]}]")
        elif rtype == "CNAME" and name in names:
            add(f"{at}.name", f"a CNAME cannot share its name with another record ({where}[{names[name]}])")
        elif rtype != "CNAME" and name in cnames:
            add(f"{at}.name", f"{rec['name']!r} is a CNAME already ({where}[{cnames[name]}])")
        seen.setdefault(key, i)
        names.setdefault(name, i)
        if rtype == "CNAME":
            cnames.setdefault(name, i)

    where = "network.dhcp_reservations"
    used: dict[str, dict[str, int]] = {"name": {}, "mac": {}, "ip": {}}
    for i, res in enumerate(net["dhcp_reservations"] if ok(where) else []):
        at = f"{where}[{i}]"
        if ok(f"{at}.ip") and lan:
            ip = ipaddress.IPv4Address(res["ip"])
            if ip not in lan or ip in (lan.network_address, lan.broadcast_address):
                add(f"{at}.ip", f"a reserved address must be a host address inside the LAN subnet {lan}")
            elif lan_addr and ip == lan_addr:
                add(f"{at}.ip", "the cell's own LAN address cannot be reserved")
        if ok(f"{at}.name") and res["name"] in taken:
            add(f"{at}.name", f"{res['name']!r} is {taken[res['name']]}")
        for key, seen_values in used.items():
            if not ok(f"{at}.{key}"):
                continue
            value = res[key].lower()
            if value in seen_values:
                what = {"name": "the name", "mac": "MAC address", "ip": "address"}[key]
                add(f"{at}.{key}", f"{what} {res[key]} is already reserved by {where}[{seen_values[value]}]")
            seen_values.setdefault(value, i)


def link_interface(cell_id: str) -> str:
    """The WireGuard interface of the link to the cell ``cell_id`` (15 characters, as Linux allows)."""
    return LINK_INTERFACE_PREFIX + cell_id[:12]


def _link_relations(state: dict[str, Any], own: list[ipaddress.IPv4Network], ok: Any, add: Any) -> None:
    """Links: one per cell, each on a port of its own (not the devices' WireGuard port), and no two
    of the networks routed (this cell's LAN and VPN, every linked cell's subnets) overlap."""
    links = state["links"] if isinstance(state["links"], list) and ok("links") else []
    ids: dict[str, int] = {}
    ports: dict[int, str] = {}
    if ok("network.wireguard_port"):
        ports[state["network"]["wireguard_port"]] = "the devices' WireGuard port"
    routed = [(net, "this cell's own networks") for net in own]
    for i, link in enumerate(links):
        at = f"links[{i}]"
        if link["cell_id"][:12] in ids:
            add(f"{at}.cell_id", f"this cell is linked already (links[{ids[link['cell_id'][:12]]}])")
        ids.setdefault(link["cell_id"][:12], i)
        if link["port"] in ports:
            add(f"{at}.port", f"port {link['port']} is already used by {ports[link['port']]}")
        ports.setdefault(link["port"], at)
        for j, subnet in enumerate(link["subnets"]):
            net = ipaddress.IPv4Network(subnet)
            clash = next((what for other, what in routed if other.overlaps(net)), None)
            if clash:
                add(f"{at}.subnets[{j}]", f"{net} overlaps {clash}")
            routed.append((net, f"{link['name']}'s subnets ({at})"))


def link_vars(full: dict[str, Any]) -> dict[str, Any]:
    """The cell_link role's inputs (and the firewall's and dnsmasq's): each link's interface, the
    other end, what is routed and forwarded to it, and what it may reach here. No key: this end's
    private key is a file on the host."""
    return {
        "pic_links": [
            {
                "name": ln["name"],
                "cell_id": ln["cell_id"],
                "interface": link_interface(ln["cell_id"]),
                "zone": ln["zone"],
                "public_key": ln["public_key"],
                "endpoint": ln["endpoint"],
                "subnets": list(ln["subnets"]),
                "dns": ln["dns"],
                "port": ln["port"],
                "grants": list(ln["grants"]),
            }
            for ln in full["links"]
        ]
    }


def _exit_relations(state: dict[str, Any], ok: Any, add: Any) -> None:
    """Exits: unique names and addresses; a device's exit is one of them, and carries a full-route
    device's traffic (a split device sends only the cell's networks to the cell)."""
    exits = state["exits"] if isinstance(state["exits"], list) and ok("exits") else []
    names: dict[str, int] = {}
    tors: list[int] = []
    for i, ex in enumerate(exits):
        if ex["name"] in names:
            add(f"exits[{i}].name", f"exit name {ex['name']!r} is already used by exits[{names[ex['name']]}]")
        names.setdefault(ex["name"], i)
        if "endpoint" in ex and not 1 <= int(ex["endpoint"].rsplit(":", 1)[1]) <= 65535:
            add(f"exits[{i}].endpoint", "the endpoint's port must be 1 to 65535")
        if ex["kind"] == "tor":
            tors.append(i)
            for field in TOR_REFUSED:
                if ex.get(field) not in (None, []):
                    add(f"exits[{i}].{field}", f"a tor exit has no {field}")
        for need in EXIT_NEEDS[ex["kind"]]:
            if need not in ex:
                add(f"exits[{i}].{need}", f"an exit of kind {ex['kind']} needs its {need}")
        if ex["kind"] == "openvpn":
            from . import ovpn  # it reads the schema's types

            for j, line in enumerate(ex.get("options", [])):
                if problem := ovpn.option_error(line):
                    add(f"exits[{i}].options[{j}]", problem)
        if "address" in ex:
            try:
                ipaddress.IPv4Interface(ex["address"])
            except ValueError:
                add(f"exits[{i}].address", "not an IPv4 address with a prefix length (0-32)")
    # one tor (its TransPort and DNSPort) serves every device on Tor: a second exit would be the same
    for i in tors[1:]:
        add(f"exits[{i}].kind", f"the cell has a tor exit already (exits[{tors[0]}])")
    if not ok("exits"):
        return
    for i, peer in enumerate(state["peers"] if isinstance(state["peers"], list) else []):
        if "exit" not in peer or not ok(f"peers[{i}]"):
            continue
        if peer["exit"] not in names:
            add(f"peers[{i}].exit", f"no exit {peer['exit']!r}")
        elif peer.get("route", "split") != "full":
            add(f"peers[{i}].exit", "an exit carries a full-route device's traffic: choose the full route")


def _routes_rules(
    routes: list[dict[str, Any]], where: str, ok: Any, add: Any, hosts: dict[str, str], paths: dict[str, str],
    ports: list[int] | None = None,
) -> None:
    """A route names a host or a path (not both), not one of the cell's own names, not one taken already."""
    for i, route in enumerate(routes):
        at = f"{where}[{i}]"
        if not ok(at):
            continue
        if ("host" in route) == ("path" in route):
            add(at, "a route has a host or a path, one of the two")
            continue
        if ports is not None and route["port"] not in ports:
            add(f"{at}.port", f"route port {route['port']} is not one of the app's ports")
        key, taken = ("host", hosts) if "host" in route else ("path", paths)
        value = route[key]
        if key == "host" and value in STORE_RESERVED_HOSTS:
            add(f"{at}.host", f"{value!r} is a name of the cell itself")
        elif key == "path" and value in STORE_RESERVED_PATHS:
            add(f"{at}.path", f"{value!r} is a path of the cell's own site")
        elif value in taken:
            add(f"{at}.{key}", f"{key} {value!r} is already used by {taken[value]}")
        else:
            taken[value] = at


def _store_relations(store: dict[str, Any], ok: Any, add: Any) -> None:
    """Installed apps: unique ids, every route host and path used once, every opening once."""
    if not isinstance(store, dict) or not ok("store.apps"):
        return
    if store["apps"] and ok("store.enabled") and not store["enabled"]:
        add("store.enabled", "the store cannot be off while apps are installed; remove them first")
    ids: dict[str, int] = {}
    hosts: dict[str, str] = {}
    paths: dict[str, str] = {}
    openings: dict[tuple[int, str], str] = {}
    for i, app in enumerate(store["apps"]):
        at = f"store.apps[{i}]"
        if app["id"] in ids:
            add(f"{at}.id", f"app {app['id']!r} is already installed as store.apps[{ids[app['id']]}]")
        ids.setdefault(app["id"], i)
        _routes_rules(app.get("routes", []), f"{at}.routes", ok, add, hosts, paths)
        for j, opening in enumerate(app.get("firewall", [])):
            key = (opening["port"], opening["protocol"])
            if key in openings:
                add(f"{at}.firewall[{j}].port", f"{opening['protocol']} port {opening['port']} is opened by "
                    f"{openings[key]} already")
            openings.setdefault(key, f"{at}.firewall[{j}]")


def _firewall_relations(state: dict[str, Any], ok: Any, add: Any) -> None:
    """The admin's openings and port forwards: each protocol and port once, with the store's apps'
    openings; never a port the cell serves itself; a forward goes to a host of the LAN."""
    net = state["network"]
    if not isinstance(net, dict):
        return
    taken: dict[tuple[int, str], str] = {}
    store = state.get("store") if isinstance(state.get("store"), dict) else {}
    for i, app in enumerate(store.get("apps", []) if ok("store.apps") else []):
        for j, opening in enumerate(app.get("firewall", [])):
            taken.setdefault((opening["port"], opening["protocol"]), f"store.apps[{i}].firewall[{j}] ({app['id']})")
    own = {proto: dict(ports) for proto, ports in CELL_PORTS.items()}
    if ok("network.wireguard_port"):
        own["udp"][net["wireguard_port"]] = "WireGuard"
    lan = ipaddress.IPv4Network(net["lan_subnet"], strict=False) if ok("network.lan_subnet") else None
    for where in ("network.firewall_openings", "network.port_forwards"):
        for i, rule in enumerate(net[where.split(".")[1]] if ok(where) else []):
            at = f"{where}[{i}]"
            if not ok(at):
                continue
            key = (rule["port"], rule["protocol"])
            if rule["port"] in own[rule["protocol"]]:
                add(f"{at}.port", f"{rule['protocol']} port {rule['port']} is the cell's own "
                    f"({own[rule['protocol']][rule['port']]}); its service decides who reaches it")
            elif key in taken:
                add(f"{at}.port", f"{rule['protocol']} port {rule['port']} is taken by {taken[key]}")
            taken.setdefault(key, at)
            if "to" in rule and lan:
                to = ipaddress.IPv4Address(rule["to"])
                if to not in lan or to in (lan.network_address, lan.broadcast_address):
                    add(f"{at}.to", f"a port forward goes to a host address of the LAN {lan}")
                elif ok("network.lan_address") and to == ipaddress.IPv4Address(net["lan_address"]):
                    add(f"{at}.to", "the cell's own address: open the port instead")


_MANIFEST_VALIDATOR = validator_for({"$defs": DEFS, "$ref": "#/$defs/AppManifest"})
_INDEX_VALIDATOR = validator_for({"$defs": DEFS, "$ref": "#/$defs/AppIndex"})


def _manifest_relations(m: dict[str, Any], where: str, fields: dict[str, str]) -> None:
    refused = set(fields)

    def ok(*paths: str) -> bool:
        return not any(k == p or k.startswith((p + ".", p + "[")) or p.startswith((k + ".", k + "["))
                       for p in paths for k in refused)

    def add(path: str, message: str) -> None:
        fields.setdefault(path, message)

    pre = where + "." if where else ""
    if not ok(pre + "ports"):
        return
    ports = m["ports"]
    _routes_rules(m.get("routes", []), pre + "routes", ok, add, {}, {}, ports)
    if ok(pre + "health") and m["health"]["port"] not in ports:
        add(pre + "health.port", f"health port {m['health']['port']} is not one of the app's ports")
    for j, opening in enumerate(m.get("firewall", [])):
        if ok(f"{pre}firewall[{j}]") and opening["port"] not in ports:
            add(f"{pre}firewall[{j}].port", f"opening port {opening['port']} is not one of the app's ports")
    for key in ("name", "path"):
        seen: set[str] = set()
        for j, volume in enumerate(m.get("volumes", [])):
            if ok(f"{pre}volumes[{j}]"):
                if volume[key] in seen:
                    add(f"{pre}volumes[{j}].{key}", f"volume {key} {volume[key]!r} is used twice")
                seen.add(volume[key])


def validate_manifest(manifest: Any) -> dict[str, Any]:
    """An app's manifest with its defaults filled in, or :class:`StateError` naming each wrong field."""
    fields = describe_errors(_MANIFEST_VALIDATOR, manifest)
    if "" not in fields:
        _manifest_relations(manifest, "", fields)
    if fields:
        raise StateError(fields, "invalid app manifest")
    out = copy.deepcopy(manifest)
    _fill(out, DEFS["AppManifest"])
    return out


def validate_index(index: Any) -> list[dict[str, Any]]:
    """Every manifest of an index, defaults filled in; :class:`StateError` names each wrong field
    (``apps[2].image``): one bad manifest refuses the index, so what the store shows is what it installs."""
    fields = describe_errors(_INDEX_VALIDATOR, index)
    apps = index.get("apps") if isinstance(index, dict) else None
    if isinstance(apps, list):
        seen: dict[tuple[str, str], int] = {}
        for i, m in enumerate(apps):
            if any(k == f"apps[{i}]" or k.startswith(f"apps[{i}].") for k in fields):
                continue
            _manifest_relations(m, f"apps[{i}]", fields)
            key = (m["id"], m["version"])
            if key in seen:
                fields.setdefault(f"apps[{i}].version", f"{m['id']} {m['version']} is listed twice "
                                  f"(apps[{seen[key]}])")
            seen.setdefault(key, i)
    if fields:
        raise StateError(fields, "invalid app index")
    out = []
    for m in apps:
        full = copy.deepcopy(m)
        _fill(full, DEFS["AppManifest"])
        out.append(full)
    return out


# --- requests ------------------------------------------------------------------------------------
def _state_node(path: str) -> dict[str, Any]:
    """The schema of a state path: 'cell.name', 'network.upstream_dns', 'peers[].name'."""
    node: Any = DEFS["CellState"]
    for part in path.split("."):
        is_item = part.endswith("[]")
        while "$ref" in node:
            node = ALL_DEFS[node["$ref"].rsplit("/", 1)[1]]
        node = node["properties"][part.removesuffix("[]")]
        if is_item:
            while "$ref" in node:  # a list type of its own (DnsRecords)
                node = ALL_DEFS[node["$ref"].rsplit("/", 1)[1]]
            node = node["items"]
    return copy.deepcopy(node)


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity
class Request:
    """A request body: its fields are state paths (``fields``) or its own (``own``, e.g. a password)."""

    name: str  # its schema's name in the OpenAPI document
    what: str  # "the setup answers", "peer", ...
    fields: Mapping[str, str] = field(default_factory=dict)
    own: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # also overrides a field's schema
    required: Sequence[str] = ()
    at_least_one: bool = False

    def schema(self) -> dict[str, Any]:
        """The body's JSON Schema (refers to ``#/$defs/<type>``)."""
        props = {key: _state_node(path) for key, path in self.fields.items()}
        for key, node in self.own.items():
            props[key] = copy.deepcopy(node)
        for key, node in props.items():
            node.pop("default", None)  # a request's absent field changes nothing
            node.setdefault("title", key)
        return _obj(props, self.required, **({"minProperties": 1} if self.at_least_one else {}))

    def validate(self, body: Any) -> dict[str, Any]:
        """The body when it fits the schema, else :class:`StateError` naming each refused field."""
        if not isinstance(body, dict):
            raise StateError({"body": "expected a JSON object"}, f"invalid {self.what}")
        fields = _with_lists(describe_errors(_validator(self), body))
        if fields:
            raise StateError(fields, f"invalid {self.what}")
        return body

    def patch(self, state: dict[str, Any], data: Mapping[str, Any]) -> None:
        """Write each field of ``data`` to its state path (a path into a list, 'peers[].name', is the caller's)."""
        for key, value in data.items():
            path = self.fields.get(key)
            if path and "[]" not in path:
                *parents, last = path.split(".")
                node = state
                for part in parents:
                    node = node[part]
                node[last] = copy.deepcopy(value)

    def request_fields(self, state_fields: Mapping[str, str], entry: str | None = None) -> dict[str, str]:
        """Errors of the changed state named as this request's fields ('network.lan_subnet' -> 'lan_subnet').
        With ``entry`` ('users[2]', the list entry the request changes) only that entry's errors take
        the request's names; another entry's keep their state path."""
        out: dict[str, str] = {}
        for path, message in state_fields.items():
            for key, state_path in self.fields.items():
                rx = re.escape(state_path).replace(r"\[\]", r"\[[0-9]+\]")
                m = re.match(f"^{rx}(?=$|[.\\[])", path)
                if m and entry is not None and "[]" in state_path and not path.startswith(entry + "."):
                    continue
                if m:
                    out.setdefault(key + path[m.end() :], message)
                    break
            else:
                out.setdefault(path, message)
        return _with_lists(out)


def _with_lists(fields: dict[str, str]) -> dict[str, str]:
    """A refused entry of a list names the list too ('services[1]' and 'services'): a form shows a list
    as one field."""
    out = dict(fields)
    for path, message in fields.items():
        m = re.fullmatch(r"([a-z_]+)\[[0-9]+\]", path)
        if m:
            out.setdefault(m.group(1), message)
    return out


_VALIDATORS: dict[Request, Any] = {}


def _validator(request: Request) -> Any:
    if request not in _VALIDATORS:
        _VALIDATORS[request] = validator_for({"$defs": DEFS, **request.schema()})
    return _VALIDATORS[request]


_SETUP_CODE_NODE = {"type": "string", "maxLength": 64, "title": "setup code", "example": "ABCD-EFGH-JKLM-NPQR"}
SETUP = Request(
    "SetupAnswers",
    "setup answers",
    {
        "cell_name": "cell.name",
        "domain_mode": "cell.domain_mode",
        "domain": "cell.domain",
        "timezone": "cell.timezone",
        "services": "services",
        "upstream_dns": "network.upstream_dns",
        # The LAN: what the cell found (GET /api/setup/options) unless the person changed it.
        "lan_interface": "network.lan_interface",
        "lan_subnet": "network.lan_subnet",
        "lan_address": "network.lan_address",
        "dhcp_range": "network.dhcp_range",
    },
    {"admin_password": _ref("Password", "admin password")},
    ("cell_name", "domain_mode", "timezone", "admin_password", "services"),
)
SETUP_REQUEST = Request(  # what the wizard sends: the answers and the setup code
    "SetupRequest",
    SETUP.what,
    SETUP.fields,
    {**SETUP.own, "setup_code": _SETUP_CODE_NODE},
    ("setup_code", *SETUP.required),
)
SETUP_CODE = Request("SetupCode", "setup code", {}, {"setup_code": _SETUP_CODE_NODE}, ("setup_code",))
SETTINGS = Request(
    "SettingsChange",
    "settings",
    {
        # the cell's name: its zone, certificate, mail domain and device names follow (a converge of
        # every role that reads them); refused while linked cells know the old one (SettingsManager)
        "cell_name": "cell.name",
        "services": "services",
        "timezone": "cell.timezone",
        "upstream_dns": "network.upstream_dns",
        "ntp_servers": "network.ntp_servers",
        # the LAN's DHCP pool (inside the LAN, not the cell's address) and lease time: dnsmasq
        "dhcp_range": "network.dhcp_range",
        "dhcp_lease_time": "network.dhcp_lease_time",
        # internal <-> custom <-> pic_ngo after setup: a converge of every role that reads them
        "domain_mode": "cell.domain_mode",
        "domain": "cell.domain",
    },
    at_least_one=True,
)
PEER = Request(
    "PeerRequest",
    "peer",
    {"name": "peers[].name", "route": "peers[].route", "public_key": "peers[].public_key", "owner": "peers[].owner",
     "exit": "peers[].exit"},
    required=("name",),
)
# A device's name, route or exit changed; its keys and address stay.
PEER_CHANGE = Request(
    "PeerChange", "peer change",
    {"name": "peers[].name", "route": "peers[].route", "owner": "peers[].owner", "exit": "peers[].exit"},
    {
        # the state's exit (its errors are named "exit"), or "" for the cell's own uplink again
        "exit": {
            "anyOf": [_ref("ExitName"), {"const": ""}],
            "title": "exit",
            "description": "where the device's traffic leaves the cell: an exit's name; empty: the cell's own uplink",
        },
    },
    at_least_one=True,
)
# New keys for a device (the old configuration stops working); without public_key the cell makes them.
PEER_KEYS = Request("PeerKeys", "new keys", {"public_key": "peers[].public_key"})
# A certificate from the cell's CA for a name someone gives (managers/certs.py); issued by the agent.
CERTIFICATE = Request(
    "CertificateRequest", "certificate",
    own={"name": _ref("CertName", "name"), "days": _ref("CertDays", "days"),
         # with it, the answer also holds the key and certificate as one PKCS#12 file it protects
         # (what phones and Windows import); it is kept nowhere
         "pkcs12_password": _ref("Password", "PKCS#12 password")},
    required=("name",),
)
# A new exit: its kind and the provider's configuration (wg-quick's format for wireguard, parsed by
# core/wgquick.py; a .ovpn for openvpn, parsed by core/ovpn.py); the keys and credentials in it go to
# 0600 files, the rest to the state. A tor exit is its name and kind only.
EXIT = Request(
    "ExitRequest",
    "exit",
    {"name": "exits[].name", "kind": "exits[].kind", "dns": "exits[].dns"},
    {
        "config": {
            "type": "string",
            "minLength": 1,
            "maxLength": 65536,
            "title": "config",
            "writeOnly": True,
            "description": "wireguard: the provider's wg-quick configuration: [Interface] PrivateKey, Address (DNS, "
            "MTU) and one [Peer] with PublicKey, Endpoint, AllowedIPs (0.0.0.0/0), PresharedKey and "
            "PersistentKeepalive. openvpn: the provider's .ovpn with remote, inline <ca> and <cert>/<key> "
            "(or auth-user-pass), <tls-auth> or <tls-crypt>; directives that run programs or change routes "
            "are refused. tor: none (the cell's own tor)",
        },
        # openvpn: what auth-user-pass sends (kept in a 0600 file only)
        "username": {"type": "string", "minLength": 1, "maxLength": 512, "title": "username", "writeOnly": True,
                     "description": "openvpn: the username auth-user-pass sends"},
        "password": {"type": "string", "minLength": 1, "maxLength": 512, "title": "password", "writeOnly": True,
                     "description": "openvpn: the password auth-user-pass sends"},
    },
    ("name",),  # config: for a wireguard or openvpn exit (ExitManager.add)
)
# Cell links: an invitation (the services offered to the invited cell, how long it holds, and the
# host it dials when not the cell's public endpoint), its redemption and the answer's acceptance.
_LINK_TOKEN_NODE = {"type": "string", "minLength": 1, "maxLength": 4096, "title": "token",
                    "description": "a signed token of cell linking (pic-link1.<payload>.<signature>)"}
LINK_INVITE = Request(
    "LinkInvitationRequest",
    "invitation",
    own={
        "services": _ref("LinkServices", "services offered"),
        "hours": {"type": "integer", "minimum": 1, "maximum": 168, "title": "hours",
                  "description": "how long the invitation may be redeemed; left out: 24"},
        "endpoint": _ref("Host", "endpoint host"),
    },
)
LINK_REDEEM = Request(
    "LinkRedeemRequest",
    "redemption",
    own={"token": _LINK_TOKEN_NODE, "services": _ref("LinkServices", "services granted"),
         "endpoint": _ref("Host", "endpoint host")},
    required=("token",),
)
LINK_ACCEPT = Request("LinkAcceptRequest", "answer", own={"token": _LINK_TOKEN_NODE}, required=("token",))
# A link's grants changed in place (no new tokens): the services of this cell the linked cell may reach.
LINK_GRANTS = Request("LinkGrantsRequest", "grants", own={"grants": _ref("LinkServices", "services granted")},
                      required=("grants",))
PEER_SYNC = Request(
    "PeerSyncRequest",
    "peer-sync message",
    own={"message": {"type": "string", "minLength": 1, "maxLength": 65536, "title": "message",
                     "description": "a signed peer-sync message (pic-sync1.<payload>.<signature>)"}},
    required=("message",),
)
USER = Request(
    "UserRequest",
    "user",
    {"name": "users[].name", "role": "users[].role", "services": "users[].services",
     "mail_aliases": "users[].mail_aliases", "mail_catch_all": "users[].mail_catch_all"},
    {"password": _ref("Password", "password")},
    ("name", "password"),
)
USER_CHANGE = Request(
    "UserChange",
    "user change",
    {"role": "users[].role", "services": "users[].services",
     "mail_aliases": "users[].mail_aliases", "mail_catch_all": "users[].mail_catch_all"},
    at_least_one=True,
)
USER_PASSWORD = Request(
    "UserPassword", "password", own={"password": _ref("Password", "password")}, required=("password",)
)
DDNS = Request(
    "DdnsChange",
    "dynamic DNS settings",
    {
        "provider": "ddns.provider",
        "hostname": "ddns.hostname",
        "zone": "ddns.zone",
        "ipv6": "ddns.ipv6",
        "acme_challenge": "cell.acme_challenge",
        "acme_delegation": "ddns.acme_delegation",
    },
    {
        "credentials": _ref("DdnsCredentials", "credentials"),
        # the delegation's TSIG secret: to the credentials file, never the state
        "acme_delegation_secret": _ref("TsigSecret", "TSIG secret"),
        # network.wireguard_endpoint, or "" to take it back (devices dial the DDNS or custom name again)
        "wireguard_endpoint": {
            "anyOf": [_ref("Host"), {"const": ""}],
            "title": "WireGuard endpoint",
            "description": "a domain name or an IPv4 address devices dial from outside; empty: the DDNS or "
            "custom name",
        },
    },
    at_least_one=True,
)
LOGIN = Request(
    "Login",
    "login",
    own={"username": {"type": "string"}, "password": {"type": "string"}},
    required=("username", "password"),
)
BACKUP = Request(
    "BackupSettings",
    "backup settings",
    {key: f"backup.{key}" for key in DEFS["Backup"]["properties"]},
    at_least_one=True,
)
BACKUP_RESTORE = Request(  # a restore from the cell's own repository (the archive must be there)
    "BackupRestore",
    "restore",
    own={
        "archive": _ref("ArchiveName", "archive"),
        # absent: the whole cell (state, secrets, a converge, every data path); else this one's data
        "data": _ref("DataPath", "data"),
    },
    required=("archive",),
)
SETUP_RESTORE = Request(  # the wizard's "restore from a backup": a fresh cell from the old one's repository
    "SetupRestore",
    "restore from a backup",
    own={
        "setup_code": _SETUP_CODE_NODE,
        "repository": {"allOf": [_ref("Repository")], "minLength": 1, "title": "repository"},
        "passphrase": _ref("Secret", "passphrase"),
        "archive": _ref("ArchiveName", "archive"),
        "ssh_key": {"type": "string", "maxLength": 16384, "title": "ssh key",
                    "description": "the old cell's backup ssh key (OpenSSH private key), for an ssh repository"},
    },
    required=("setup_code", "repository", "passphrase"),
)
BACKUP_KEY = Request(  # the passphrase is shown to an admin who typed their password again
    "BackupKeyRequest", "key export", own={"password": {"type": "string", "maxLength": 1024}}, required=("password",)
)
PASSWORD_CHANGE = Request(
    "PasswordChange",
    "password change",
    own={"current_password": {"type": "string"}, "new_password": _ref("Password", "new password")},
    required=("current_password", "new_password"),
)


@functools.cache
def run_request(roles: tuple[str, ...]) -> Request:
    """A converge request: the tags it may name are the roles of site.yml."""
    tags = _list_of({"type": "string", "enum": list(roles)}, description="roles to converge")
    return Request("RunRequest", "run request", own={"tags": tags, "check": {"type": "boolean"}})


LOG_VERBOSITY = Request("LogVerbosity", "log verbosity", {"verbose": "logs.verbose"}, required=("verbose",))
_RULE_FIELDS = ("protocol", "port", "zones")
FIREWALL_OPENING = Request(
    "FirewallOpeningRequest", "firewall opening",
    {k: f"network.firewall_openings[].{k}" for k in _RULE_FIELDS}, required=_RULE_FIELDS,
)
PORT_FORWARD = Request(
    "PortForwardRequest", "port forward",
    {k: f"network.port_forwards[].{k}" for k in (*_RULE_FIELDS, "to", "to_port")},
    required=(*_RULE_FIELDS, "to"),  # to_port: the same port by default
)
ROLLBACK = Request(
    "RollbackRequest",
    "rollback",
    own={"keep_if_failed": {"type": "boolean",
                            "description": "if its converge fails, keep that state for repair instead of undoing it"}},
)
STORE_SETTINGS = Request(
    "StoreSettings",
    "store settings",
    {"enabled": "store.enabled", "index": "store.index"},
    at_least_one=True,
)
STORE_INSTALL = Request(
    "StoreInstall",
    "app install",
    own={"app": _ref("Label", "app"), "version": _ref("AppVersion", "version")},
    required=("app",),
)
STORE_UPGRADE = Request("StoreUpgrade", "app upgrade", own={"version": _ref("AppVersion", "version")})
DNS_RECORD = Request(
    "DnsRecordRequest",
    "DNS record",
    {"name": "network.dns_records[].name", "type": "network.dns_records[].type",
     "value": "network.dns_records[].value"},
    required=("name", "type", "value"),
)
DHCP_RESERVATION = Request(
    "DhcpReservationRequest",
    "DHCP reservation",
    {"name": "network.dhcp_reservations[].name", "mac": "network.dhcp_reservations[].mac",
     "ip": "network.dhcp_reservations[].ip"},
    required=("name", "mac", "ip"),
)
CALENDAR = Request(
    "CalendarRequest",
    "calendar",
    own={
        "owner": _ref("Label", "owner"),
        "name": _ref("Label", "name"),
        "displayname": _ref("CalendarName", "displayname"),
        "kind": _ref("CalendarKind", "kind"),
        "description": _ref("CalendarText", "description"),
        "color": _ref("CalendarColor", "color"),
    },
    required=("name", "displayname", "kind"),
)
IMAGE_PULL = Request("ImagePull", "image pull", own={"reference": _ref("PullRef", "image")}, required=("reference",))

REQUESTS = (SETUP, SETUP_REQUEST, SETUP_CODE, SETTINGS, PEER, EXIT, LINK_INVITE, LINK_REDEEM, LINK_ACCEPT, LINK_GRANTS,
            USER, DDNS, LOGIN, PASSWORD_CHANGE, BACKUP, BACKUP_RESTORE, BACKUP_KEY, SETUP_RESTORE, STORE_SETTINGS,
            STORE_INSTALL, STORE_UPGRADE, IMAGE_PULL, DNS_RECORD, DHCP_RESERVATION, CALENDAR)


@functools.cache
def _def_validator(name: str) -> Any:
    return validator_for({"$defs": DEFS, "$ref": f"#/$defs/{name}"})


def check_def(name: str, value: Any, what: str) -> Any:
    """``value`` when it is a ``DEFS[name]``, else ValidationError with the rule in words."""
    fields = describe_errors(_def_validator(name), value, what)
    if fields:
        raise ValidationError(next(iter(fields.values())))
    return value


def store_vars(store: dict[str, Any], users: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``pic_store_*`` variables of the state's (filled-in) store section. The users' logins go
    to Caddy only while a route asks for them, so a user's change converges Caddy only then."""
    apps = store["apps"]
    routes = [{"app": a["id"], **r} for a in apps for r in a.get("routes", [])]
    logins = [{"name": u["name"], "password_hash": u["password_hash"]} for u in users if u.get("password_hash")]
    return {
        "pic_store_logins": logins if any(r.get("login", True) for r in routes) else [],
        "pic_store_enabled": bool(store["enabled"]),
        "pic_store_index": store["index"],
        "pic_store_routes": routes,
        "pic_store_hosts": sorted(r["host"] for r in routes if "host" in r),
        "pic_store_openings": [{"app": a["id"], **o} for a in apps for o in a.get("firewall", [])],
    }


def exit_vars(full: dict[str, Any]) -> dict[str, Any]:
    """The exits role's inputs: the exits (no secret: their keys are files on the host) and, apart
    from ``pic_peers``, the devices that use one, so a device's exit converges the exits role alone."""
    return {
        # dns: the exits role sends its devices' DNS to the exit's first resolver (no DNS leak)
        "pic_exits": [
            # a tor exit is its name and kind (the defaults of the tunnels' fields are nothing to it)
            {k: ex[k] for k in DEFS["Exit"]["properties"] if k in ex and (ex["kind"] != "tor" or k in ("name", "kind"))}
            for ex in full["exits"]
        ],
        "pic_exit_peers": [
            {"name": p["name"], "ip": p["ip"], "exit": p["exit"]} for p in full["peers"] if p.get("exit")
        ],
    }


def state_to_vars(state: dict[str, Any]) -> dict[str, Any]:
    """Validate ``state`` and map it to the ``pic_*`` variables the roles read.

    Only what the state says is returned, with the schema's defaults for network values it leaves
    out; so the result can be laid over the inventory defaults with set_fact.
    """
    validate_state(state)
    return valid_state_to_vars(state)


def valid_state_to_vars(state: dict[str, Any]) -> dict[str, Any]:
    """``state_to_vars`` of a state already validated (the API's, loaded or saved): a state of
    hundreds of peers is not validated again for each comparison."""
    full = apply_defaults(state)
    cell, net = full["cell"], full["network"]
    peers = [
        {
            "name": p["name"],
            "public_key": p["public_key"],
            "ip": p["ip"],
            "route": p.get("route", "split"),
        }
        for p in full["peers"]
    ]
    users = [
        {
            "name": u["name"],
            "role": u.get("role", "peer"),
            "password_hash": u.get("password_hash", ""),
            "services": list(u.get("services", [])),
            "mail_aliases": list(u.get("mail_aliases", [])),
            "mail_catch_all": bool(u.get("mail_catch_all", False)),
        }
        for u in full["users"]
    ]
    out: dict[str, Any] = {
        "pic_setup_completed": bool(full["setup_completed"]),
        "pic_cell_name": cell["name"],
        "pic_domain_mode": cell["domain_mode"],
        "pic_domain": cell.get("domain") or domain_for(cell["name"], cell["domain_mode"]),
        "pic_timezone": cell["timezone"],
        "pic_lan_subnet": net["lan_subnet"],
        "pic_lan_address": net["lan_address"],
        "pic_dhcp_range": list(net["dhcp_range"]),
        "pic_dhcp_lease_time": str(net["dhcp_lease_time"]),
        "pic_vpn_subnet": net["vpn_subnet"],
        "pic_vpn_address": addressing.cell_address(net["vpn_subnet"]),
        "pic_wireguard_port": check_port(net["wireguard_port"]),
        "pic_upstream_dns": list(net["upstream_dns"]),
        "pic_ntp_servers": list(net["ntp_servers"]),
        "pic_dns_server": net["dns_server"],
        # the admin's records join the ones the roles publish (dnsmasq, coredns); reservations: dnsmasq
        "pic_dns_records": [{k: r[k] for k in ("name", "type", "value")} for r in net["dns_records"]],
        "pic_firewall_openings": [{k: o[k] for k in ("port", "protocol", "zones")}
                                  for o in net["firewall_openings"]],
        "pic_port_forwards": [{k: f[k] for k in ("protocol", "port", "to", "to_port", "zones")}
                              for f in net["port_forwards"]],
        "pic_dhcp_reservations": [
            {"name": r["name"], "mac": r["mac"].lower(), "ip": r["ip"]} for r in net["dhcp_reservations"]
        ],
        "pic_services": list(full["services"]),
        "pic_peers": peers,
        "pic_users": users,
        # the backup role's inputs (key_confirmed is the UI's warning, no role's)
        "pic_backup_repository": full["backup"]["repository"],
        "pic_backup_schedule": full["backup"]["schedule"],
        "pic_backup_keep": {p: full["backup"][f"keep_{p}"] for p in ("daily", "weekly", "monthly")},
        # the service store: the engine (store role), and what the installed apps publish: names
        # (ca, dnsmasq, coredns), routes (caddy) and firewall openings (firewall)
        **store_vars(full["store"], full["users"]),
    }
    out["pic_ca_revoked"] = list(full["ca"]["revoked"])
    # verbose logs, one variable per role that logs them (the API's own is no role's)
    verbose = full["logs"]["verbose"]
    out["pic_log_dns_queries"], out["pic_log_dhcp"] = "dns" in verbose, "dhcp" in verbose
    out["pic_log_mail_debug"] = "mail" in verbose
    out.update(exit_vars(full))
    out.update(link_vars(full))
    out["pic_ddns_provider"], out["pic_ddns_hostname"] = ddns_target(full)
    out["pic_ddns_zone"] = full["ddns"].get("zone") or ""
    out["pic_ddns_ipv6"] = bool(full["ddns"]["ipv6"])
    out["pic_acme_challenge"] = cell["acme_challenge"]
    out["pic_acme_delegation"] = dict(full["ddns"]["acme_delegation"])
    # The LAN interface defaults to the host's default route interface in the inventory; only a
    # state that names one overrides it.
    if isinstance(state.get("network"), dict) and "lan_interface" in state["network"]:
        out["pic_lan_interface"] = net["lan_interface"]
    return out
