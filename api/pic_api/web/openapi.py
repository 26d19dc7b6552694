"""The OpenAPI 3.1 document (GET /api/openapi.json), generated from the views and the state schema.

Every path and method comes from the app's URL map; each view says what it is with ``@doc`` (a
summary, its body as a ``core.schema.Request``, its answer, its own error statuses); its access
level (``gate.access``) gives the security and the 401/403/428 answers. The component schemas are the
state schema's types (``validators.TYPES`` and ``schema.DEFS``), the request bodies and the answers
below, so a field's rule is written once, in the state schema.

``make openapi`` (``python -m pic_api.web.generate``) writes the document and the web UI's types and
limits from it into webui/src/generated; tests/unit/test_openapi.py fails when those are out of date.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from ..core import schema
from ..core.validators import TYPES
from .common import cell
from .gate import UNSAFE, access, is_setup_path, level_of

openapi_bp = Blueprint("openapi", __name__)


def doc(
    summary: str,
    answer: str | None = None,
    status: int = 200,
    body: schema.Request | str | None = None,
    query: Mapping[str, dict[str, Any]] | None = None,
    params: Mapping[str, dict[str, Any]] | None = None,
    errors: Sequence[int] = (),
    media: str = "application/json",
    also: Mapping[int, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a view: ``answer`` names a component schema (or is None for media other than JSON);
    ``also``: other answers it may give by status (a change's preview: {202: "PreviewStarted"})."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.pic_doc = {  # type: ignore[attr-defined]
            "summary": summary,
            "answer": answer,
            "status": status,
            "body": body,
            "query": dict(query or {}),
            "params": dict(params or {}),
            "errors": tuple(errors),
            "media": media,
            "also": dict(also or {}),
        }
        return view

    return mark


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
RUN_STATUSES = ("pending", "running", "successful", "failed", "canceled")
# backup, check, restore: the runs of managers/backup.py; store: the store's (install, upgrade, remove)
RUN_KINDS = ("converge", "preview", "backup", "check", "restore", "store")

# A peer change applied to the running cell at once, before its converge: whether the device can use
# it now (ready), each part's outcome (live), or why not (live_error).
PEER_LIVE = {
    "ready": {"type": "boolean", "description": "applied to the running cell: it can connect (or is cut off) now"},
    "live": {"type": "object", "additionalProperties": STR, "description": "wireguard, nat, dns: each part's outcome"},
    "live_error": {"type": "string", "description": "why it was not applied at once (it is when its run ends)"},
}

# What the API answers. Requests and the state are the schema's (core/schema.py).
ANSWERS: dict[str, dict[str, Any]] = {
    "Error": _obj({"error": STR, "fields": {"type": "object", "additionalProperties": STR}}, ["error"]),
    "Health": _obj(
        {"status": STR, "setup_completed": BOOL, "state": {"type": "string", "enum": ["ok", "damaged"]},
         "version": STR},
        ["status", "setup_completed", "state", "version"],
    ),
    "SetupStatus": _obj({"completed": BOOL}, ["completed"]),
    "Lan": _obj(
        {k: ref(v) for k, v in (("lan_interface", "Interface"), ("lan_subnet", "IPv4Cidr"),
                                ("lan_address", "IPv4"), ("dhcp_range", "DhcpRange"))},
        ["lan_interface", "lan_subnet", "lan_address", "dhcp_range"],
    ),
    "SetupOptions": _obj(
        {
            "services": ref("Services"),
            "domain_modes": _list(ref("DomainMode")),
            "defaults": _obj(
                {
                    "cell_name": ref("Label"),
                    "timezone": ref("Timezone"),
                    "services": ref("Services"),
                    "upstream_dns": ref("UpstreamDns"),
                    "lan": ref("Lan"),
                    "lan_dhcp_servers": _list(ref("IPv4")),
                },
                ["cell_name", "timezone", "services", "upstream_dns", "lan", "lan_dhcp_servers"],
            ),
        },
        ["services", "domain_modes", "defaults"],
    ),
    "CodeValid": _obj({"valid": BOOL}, ["valid"]),
    "SessionUser": _obj(
        {"username": STR, "role": ref("Role"), "expires_at": {"type": "integer", "description": "Unix time"}},
        ["username", "role", "expires_at"],
    ),
    "Me": _obj({"user": ref("SessionUser")}, ["user"]),
    "SetupStarted": _obj(
        {
            "run_id": STR,
            "user": ref("SessionUser"),
            "https": {
                **_list({"type": "string", "format": "uri"}),
                "description": "where the UI answers once the run is done (the cell's name, then its LAN address): "
                "after setup :8081 only leads there",
            },
        },
        ["run_id", "user", "https"],
    ),
    "LoggedOut": _obj({"status": STR}, ["status"]),
    "PasswordChanged": _obj({"status": STR, "run_id": {"type": ["string", "null"]}}, ["status", "run_id"]),
    "Run": _obj(
        {
            "id": STR,
            "kind": {"type": "string", "enum": list(RUN_KINDS)},
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "tags": _list(STR),
            "check": BOOL,
            "description": STR,
            "state_version": {"type": ["integer", "null"]},
            "created_at": STR,
            "started_at": {"type": ["string", "null"]},
            "finished_at": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]},
            "undo_of": {"type": ["string", "null"], "description": "the failed run whose change this run undoes"},
            "undone_by": {"type": ["string", "null"], "description": "the run that undid this failed change"},
        },
        ["id", "kind", "status", "tags", "check", "description", "state_version", "created_at", "started_at",
         "finished_at", "error", "undo_of", "undone_by"],
    ),
    "RunList": _obj({"runs": _list(ref("Run"))}, ["runs"]),
    "RunId": _obj({"run_id": STR}, ["run_id"]),
    "Certificate": _obj(
        {"serial": ref("CertSerial"), "name": STR, "not_before": STR, "not_after": STR, "revoked": BOOL},
        ["serial", "name", "not_before", "not_after", "revoked"],
    ),
    "CertificateList": _obj({"certificates": _list(ref("Certificate"))}, ["certificates"]),
    "CertificateIssued": _obj(
        {
            "certificate": ref("Certificate"),
            "certificate_pem": {"type": "string", "description": "the certificate (PEM)"},
            "key_pem": {"type": "string", "description": "its private key (PEM), in this answer only: the cell "
                        "keeps no copy"},
            "pkcs12": {"type": "string", "contentEncoding": "base64",
                       "description": "key, certificate and the cell's root as one PKCS#12 file protected by "
                                      "pkcs12_password (only when the request gave one), in this answer only"},
        },
        ["certificate", "certificate_pem", "key_pem"],
    ),
    "CertificateRevoked": _obj({"certificate": ref("Certificate"), "run_id": STR}, ["certificate", "run_id"]),
    "RunStarted": _obj({"run_id": STR, "run": ref("Run")}, ["run_id", "run"]),
    "RestoreStarted": _obj(
        {"run_id": STR, "token": {"type": "string", "description": "follows the run (its events) before login"},
         "run": ref("Run")},
        ["run_id", "token", "run"],
    ),
    "RunEvent": {
        "description": "One `data:` line of a run's event stream: an ansible-runner event trimmed to what the UI "
        "shows and scrubbed of secrets, or the API's own `pic_run_status` (status changes; the stream ends "
        "after the one with a final status).",
        **_obj(
            {
                "seq": {"type": "integer", "description": "0, 1, 2, ... within the run; the SSE id"},
                "run_id": STR,
                "event": {"type": "string", "description": "pic_run_status, pic_step (a step of a backup, check "
                          "or restore), or an ansible-runner event name"},
                "step": {"type": "string", "description": "pic_step only: open, create, prune, check, state, "
                         "converge, data, health, done, ..."},
                "message": {"type": "string", "description": "pic_step only: what the step does"},
                "created": {"type": ["string", "null"]},
                "status": {"type": "string", "enum": list(RUN_STATUSES), "description": "pic_run_status only"},
                "error": {"type": "string", "description": "pic_run_status only: why the run failed"},
                "counter": {"type": ["integer", "null"]},
                "stdout": STR,
                "playbook": STR,
                "play": STR,
                "task": STR,
                "task_action": STR,
                "role": STR,
                "host": STR,
                "changed": BOOL,
                "failed": BOOL,
                "msg": {"description": "the failed task's message"},
                "diff": {"description": "the task's diff (check mode)"},
                "stats": {
                    "type": "object",
                    "description": "playbook_on_stats only: per host counts",
                    "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
            ["seq", "run_id", "event"],
        ),
    },
    "PeerList": _obj({"peers": _list(ref("Peer"))}, ["peers"]),
    # an exit of the state, and what the cell knows about it beyond the state
    "ExitView": _obj(
        {
            **schema.DEFS["Exit"]["properties"],
            "devices": {**_list(STR), "description": "the peers whose traffic leaves through this exit"},
            "keys_stored": {**BOOL, "description": "its private key file (openvpn: every credential file) is on the "
                            "cell"},
            "preshared_key": {**BOOL, "description": "a preshared key file is on the cell"},
            "live": ref("ExitLive"),
        },
        [*schema.DEFS["Exit"]["required"], "devices", "keys_stored", "preshared_key", "live"],
    ),
    # how an exit's tunnel runs (pic-agent's exit_status; no key)
    "ExitLive": _obj(
        {
            "unit": {**STR, "description": "the wg-quick (openvpn: openvpn-client) unit's state: active, inactive, "
                     "failed, activating, ..., or unknown"},
            "up": {**BOOL, "description": "the unit is active and its interface answers (openvpn: connected, its "
                   "tun has the address the server gave)"},
            "endpoint": {**STR, "description": "the exit server's address as the tunnel last saw it (wireguard)"},
            "address": {**STR, "description": "openvpn: the cell's address in the tunnel (IPv4/prefix); empty while "
                        "not connected"},
            "latest_handshake": {**INT, "description": "epoch seconds of the latest handshake; 0: never"},
            "rx": {**INT, "description": "bytes received from the exit server"},
            "tx": {**INT, "description": "bytes sent to the exit server"},
            "now": {**INT, "description": "the cell's clock (epoch seconds), to tell the handshake's age"},
            "reason": {**STR, "description": "why the tunnel is not up or could not be read"},
        },
        ["unit", "up", "endpoint", "latest_handshake", "rx", "tx", "now"],
    ),
    # what the internet sees through an exit (GET /api/exits/<name>/address)
    "ExitPublicAddress": _obj(
        {
            "exit": {**STR, "description": "the exit's name"},
            "address": {**STR, "description": "the IPv4 address the source saw the request come from; empty when "
                        "it could not be told"},
            "source": {**STR, "description": "the address source asked (the DDNS updater's ipv4_source)"},
            "reason": {**STR, "description": "why the address could not be told"},
        },
        ["exit", "address", "source"],
    ),
    # an open invitation withdrawn (DELETE /api/cells/invitations/<nonce>)
    "LinkInvitationCanceled": _obj({"nonce": STR, "canceled": BOOL}, ["nonce", "canceled"]),
    # cell links: this cell's identity, its links (as the state has them, with their interface) and
    # its open invitations (no token and no key: those were handed out, or are files on the cell)
    "LinkView": _obj(
        {
            **schema.DEFS["Link"]["properties"],
            "interface": {**STR, "description": "the link's WireGuard interface (cl-<id>)"},
            "keys_stored": {**BOOL, "description": "this end's private key file is on the cell"},
            # read as an exit's tunnel is (pic-agent's link_status): the endpoint is the other cell's
            "live": ref("ExitLive"),
        },
        [*schema.DEFS["Link"]["required"], "interface", "keys_stored", "live"],
    ),
    "LinkList": _obj(
        {
            "cell": _obj({"id": ref("CellId"), "signing_key": ref("SigningKey")}, ["id", "signing_key"]),
            "links": _list(ref("LinkView")),
            "invitations": _list(_obj({"nonce": STR, "expires": INT, "services": ref("LinkServices"), "port": INT},
                                      ["nonce", "expires", "services", "port"])),
        },
        ["cell", "links", "invitations"],
    ),
    "LinkInvitation": _obj(
        {
            "token": {**STR, "description": "the signed invitation to hand to the other cell's admin (single use)"},
            "nonce": STR,
            "expires": {**INT, "description": "epoch seconds after which it is refused"},
            "cell": _obj({"id": ref("CellId"), "name": STR, "zone": STR}, ["id", "name", "zone"]),
        },
        ["token", "nonce", "expires", "cell"],
    ),
    "LinkRedeemed": _obj(
        {
            "link": ref("Link"),
            "answer": {**STR, "description": "the signed answer to hand back to the inviting cell (POST "
                       "/api/cells/links/accept there)"},
            "run_id": STR,
        },
        ["link", "answer", "run_id"],
    ),
    "LinkAccepted": _obj({"link": ref("Link"), "run_id": STR}, ["link", "run_id"]),
    "LinkRemoved": _obj(
        {
            "run_id": STR,
            "other_side": _obj(
                {"reached": {"type": "boolean", "description": "the other cell took the signed remove and "
                             "removes its end too"},
                 "error": {**STR, "description": "why the other cell was not reached (its end stays until its "
                           "admin removes it)"}},
                ["reached"],
            ),
        },
        ["run_id", "other_side"],
    ),
    "PeerSyncTaken": _obj({"run_id": STR}, ["run_id"]),
    "LinkGrantsChanged": _obj({"link": ref("Link"), "run_id": STR}, ["link", "run_id"]),
    "ExitList": _obj({"exits": _list(ref("ExitView"))}, ["exits"]),
    "ExitOne": _obj({"exit": ref("ExitView")}, ["exit"]),
    "ExitAdded": _obj({"exit": ref("Exit"), "run_id": STR}, ["exit", "run_id"]),
    "ExitRemoved": _obj({"run_id": STR}, ["run_id"]),
    "PeerRemoved": _obj({"run_id": STR, **PEER_LIVE}, ["run_id", "ready"]),
    "PeerOne": _obj({"peer": ref("Peer")}, ["peer"]),
    "PeerCreated": _obj(
        {
            "peer": ref("Peer"),
            "config": {"type": "string", "description": "the device's wg-quick configuration"},
            "qr_svg": {"type": "string", "description": "the configuration as a QR code (SVG)"},
            "run_id": STR,
            "private_key_included": BOOL,
            **PEER_LIVE,
        },
        ["peer", "config", "qr_svg", "run_id", "private_key_included", "ready"],
    ),
    "PeerChanged": _obj(
        {
            "peer": ref("Peer"),
            "config": {"type": "string", "description": "the device's configuration now (a route change changes "
                       "its AllowedIPs); the private key line is a placeholder for the key it has"},
            "qr_svg": STR,
            "run_id": STR,
            **PEER_LIVE,
        },
        ["peer", "config", "qr_svg", "run_id", "ready"],
    ),
    "PeerConfig": _obj(
        {
            "peer": ref("Peer"),
            "endpoint": {"type": "string", "description": "the host the configuration dials"},
            "config": {"type": "string", "description": "wg-quick configuration; the private key line is a "
                       "placeholder for the key the device already has"},
            "qr_svg": STR,
        },
        ["peer", "endpoint", "config", "qr_svg"],
    ),
    "DdnsStatus": {
        "description": "What the cell's updater (pic-ddns) last did, in the provider's own words",
        **_obj(
            {
                "provider": STR,
                "hostname": {"type": ["string", "null"]},
                "public": {"type": ["object", "null"], "description": "the public addresses last found, by family",
                           "additionalProperties": STR},
                "accepted": {"type": ["object", "null"], "description": "the addresses the provider accepted",
                             "additionalProperties": STR},
                "last_answer": {"type": ["string", "null"]},
                "last_success": {"type": ["string", "null"]},
                "last_error": {"type": ["string", "null"]},
                "last_error_at": {"type": ["string", "null"]},
                "checked_at": {"type": ["string", "null"]},
                "failures": {"type": ["integer", "null"]},
                "blocked": {"type": ["boolean", "null"], "description": "stopped until the settings or "
                            "credentials change (the provider said they are wrong)"},
                "next_attempt": {"type": ["string", "null"], "description": "after an error: not before this"},
            },
            ["provider", "hostname", "public", "accepted", "last_answer", "last_success", "last_error",
             "last_error_at", "checked_at", "failures", "blocked", "next_attempt"],
        ),
    },
    "DdnsView": _obj(
        {
            "settings": _obj(
                {
                    "provider": ref("DdnsProvider"),
                    "hostname": STR,
                    "zone": STR,
                    "ipv6": BOOL,
                    "wireguard_endpoint": STR,
                    "acme_challenge": ref("AcmeChallenge"),
                    "acme_delegation": ref("AcmeDelegation"),
                },
                ["provider", "hostname", "zone", "ipv6", "wireguard_endpoint", "acme_challenge", "acme_delegation"],
            ),
            "domain_mode": ref("DomainMode"),
            "domain": ref("Domain"),
            "provider": ref("DdnsProvider"),
            "hostname": {"type": "string", "description": "the name published (pic_ngo: <name>.pic.ngo)"},
            "endpoint": {"type": "string", "description": "the host devices dial from outside"},
            "credentials": {
                "type": "object",
                "description": "per provider, the credentials stored: true (a secret) or the username",
                "additionalProperties": {"type": "object", "additionalProperties": {"type": ["boolean", "string"]}},
            },
            "needs": {"type": "object", "description": "the credentials each provider needs",
                      "additionalProperties": _list(STR)},
            "status": {"anyOf": [ref("DdnsStatus"), {"type": "null"}]},
            "acme_names": {**_list(STR), "description": "the names on the DNS-01 certificate"},
            "acme_cnames": {
                **_list(ref("AcmeCname")),
                "description": "with a CNAME delegation: the records the owner of the names creates once",
            },
        },
        ["settings", "domain_mode", "domain", "provider", "hostname", "endpoint", "credentials", "needs", "status",
         "acme_names", "acme_cnames"],
    ),
    "AcmeCname": _obj(
        {
            "name": {"type": "string", "description": "_acme-challenge.<name>. (absolute)"},
            "type": {"const": "CNAME"},
            "target": {"type": "string", "description": "<name>.<delegation zone>. (absolute)"},
        },
        ["name", "type", "target"],
    ),
    "NameAvailable": _obj(
        {"name": STR, "available": {"type": ["boolean", "null"]}, "error": {"type": ["string", "null"]}},
        ["name", "available", "error"],
    ),
    "UserEntry": _obj(
        {"name": ref("Label"), "role": ref("Role"), "services": ref("UserServices"), "can_login": BOOL,
         "mail_aliases": ref("MailAliases"), "mail_catch_all": ref("MailCatchAll")},
        ["name", "role", "services", "can_login", "mail_aliases", "mail_catch_all"],
    ),
    "UserList": _obj({"users": _list(ref("UserEntry"))}, ["users"]),
    "UserCreated": _obj({"user": ref("UserEntry"), "run_id": STR}, ["user", "run_id"]),
    "UserChanged": _obj({"user": ref("UserEntry"), "run_id": STR}, ["user", "run_id"]),
    "PasswordReset": _obj({"status": STR, "run_id": STR}, ["status", "run_id"]),
    "AccountSession": _obj(
        {
            "id": STR,
            "created_at": {"type": "integer", "description": "Unix time"},
            "expires_at": {"type": "integer", "description": "Unix time"},
            "remote": {"type": "string", "description": "the address it logged in from"},
            "agent": {"type": "string", "description": "the browser's User-Agent at login"},
            "current": {"type": "boolean", "description": "the session of this request"},
        },
        ["id", "created_at", "expires_at", "remote", "agent", "current"],
    ),
    "AccountSessions": _obj({"sessions": _list(ref("AccountSession"))}, ["sessions"]),
    "SessionsEnded": _obj({"ended": INT}, ["ended"]),
    "ClientSettings": _obj(
        {
            "username": STR,
            "domain": STR,
            "services": ref("UserServices"),
            "mail": _obj(
                {
                    "address": STR,
                    "aliases": {"type": "array", "items": STR, "description": "more addresses, same mailbox"},
                    "catch_all": {"type": "boolean", "description": "unknown addresses of the domain land here"},
                    "login": STR,
                    "imap": ref("ClientServer"),
                    "smtp": ref("ClientServer"),
                },
                ["address", "aliases", "catch_all", "login", "imap", "smtp"],
            ),
            "calendar": _obj(
                {"caldav_url": STR, "carddav_url": STR, "login": STR}, ["caldav_url", "carddav_url", "login"]
            ),
            "files": _obj({"webdav_url": STR, "login": STR}, ["webdav_url", "login"]),
        },
        ["username", "domain", "services"],
    ),
    "ClientServer": _obj(
        {"host": STR, "port": INT, "security": {"type": "string", "enum": ["SSL/TLS", "STARTTLS"]}},
        ["host", "port", "security"],
    ),
    "Settings": _obj(
        {
            "cell_name": ref("Label"),
            "domain_mode": ref("DomainMode"),
            "domain": ref("Domain"),
            "services": ref("Services"),
            "timezone": ref("Timezone"),
            "upstream_dns": ref("UpstreamDns"),
            "ntp_servers": ref("NtpServers"),
            "dhcp_range": ref("DhcpRange"),
            "dhcp_lease_time": STR,
        },
        ["cell_name", "domain_mode", "domain", "services", "timezone", "upstream_dns", "ntp_servers", "dhcp_range",
         "dhcp_lease_time"],
    ),
    "SettingsStarted": _obj({"run_id": STR, "preview": BOOL}, ["run_id", "preview"]),
    # A change sent with ?preview=1: its check-mode run; nothing was saved or applied.
    "PreviewStarted": _obj({"run_id": STR, "preview": {"type": "boolean", "enum": [True]}}, ["run_id", "preview"]),
    "StateView": _obj(
        {"version": INT, "state": {**ref("CellState"), "description": "password hashes masked"}},
        ["version", "state"],
    ),
    "StateVersions": _obj(
        {
            "versions": _list(
                _obj(
                    {
                        "version": INT,
                        "saved_at": STR,
                        "changed": {**_list(STR), "description": "the state's paths this version changed"},
                        "problem": {**STR, "description": "why this version does not load"},
                    },
                    ["version", "saved_at", "changed"],
                )
            )
        },
        ["versions"],
    ),
    "RollbackStarted": _obj(
        {"run_id": STR, "preview": BOOL, "version": {**INT, "description": "the version written (not in a preview)"}},
        ["run_id", "preview"],
    ),
    "ServiceHealth": _obj(
        {
            "name": ref("Service"),
            "enabled": BOOL,
            "status": {"type": "string", "enum": ["ok", "degraded", "down", "disabled"]},
            "units": _list(_obj({"name": STR, "active": BOOL}, ["name", "active"])),
            "ports": _list(_obj({"port": INT, "proto": STR, "open": BOOL}, ["port", "proto", "open"])),
        },
        ["name", "enabled", "status", "units", "ports"],
    ),
    "ServicesHealth": _obj({"checked_at": STR, "services": _list(ref("ServiceHealth"))}, ["checked_at", "services"]),
    "LogEntry": _obj({"time": STR, "level": STR, "logger": STR, "unit": STR, "message": STR}),
    "LogResult": _obj({"source": STR, "entries": _list(ref("LogEntry"))}, ["source", "entries"]),
    "LogVerbosityView": _obj({"verbose": _list(ref("VerboseLog")), "logs": _list(ref("VerboseLog"))},
                             ["verbose", "logs"]),
    "LogVerbosityChanged": _obj(
        {"verbose": _list(ref("VerboseLog")),
         "run_id": {"type": ["string", "null"], "description": "null when nothing changed"}},
        ["verbose", "run_id"],
    ),
    "CatalogApp": _obj(
        {
            "id": ref("Label"),
            "name": ref("AppName"),
            "description": ref("AppText"),
            "latest": ref("AppVersion"),
            "versions": _list(ref("AppVersion")),
            "installed": {"type": ["string", "null"], "description": "the version the engine runs"},
            "state": {"type": ["string", "null"], "description": "its container's state"},
            "data": {"type": "boolean", "description": "the app has a data directory (kept by a remove)"},
            "memory": INT,
            "disk": INT,
            "routes": _list(ref("StoreRoute")),
        },
        ["id", "name", "description", "latest", "versions", "installed", "state", "data", "memory", "disk",
         "routes"],
    ),
    "StoreOverview": _obj(
        {
            "enabled": BOOL,
            "index": ref("IndexLocation"),
            "installed": _list(ref("StoreApp")),
            "apps": _list(ref("CatalogApp")),
            "error": {"type": ["string", "null"], "description": "why the index or the engine could not be read"},
        },
        ["enabled", "index", "installed", "apps", "error"],
    ),
    "StorePlan": _obj(
        {
            "app": ref("Label"),
            "name": ref("AppName"),
            "version": ref("AppVersion"),
            "image": STR,
            "ports": _list(_obj({"port": INT, "protocol": STR, "address": STR}, ["port", "protocol", "address"])),
            "memory": {"type": "integer", "description": "MiB the app needs"},
            "memory_available": {"type": ["integer", "null"], "description": "MiB the host has available"},
            "disk": {"type": "integer", "description": "MiB of disk the app needs"},
            "fits": {"type": "boolean", "description": "no port, disk or memory conflict"},
            "problems": {"type": "object", "additionalProperties": STR,
                         "description": "what the install would refuse, by field (app, ports, disk, memory)"},
            "routes": _list(ref("StoreRoute")),
            "firewall": _list(ref("StoreOpening")),
            "container": {"type": ["string", "null"], "description": "a removal: the container that goes"},
            "volumes": {**_list(STR), "description": "a removal: the engine's volumes that go"},
            "data": _obj({"path": STR, "found": BOOL, "kept": BOOL}, ["path", "found", "kept"]),
        },
        ["app", "data"],
    ),
    "StorePlanned": _obj(
        {
            "run_id": {"type": ["string", "null"], "description": "the check-mode run of the state it changes"},
            "preview": {"type": "boolean", "enum": [True]},
            "plan": ref("StorePlan"),
        },
        ["run_id", "preview", "plan"],
    ),
    "ContainerPort": _obj(
        {"container_port": INT, "protocol": STR, "host_ip": STR, "host_port": INT},
        ["container_port", "protocol", "host_ip", "host_port"],
    ),
    "Container": _obj(
        {
            "id": STR,
            "name": STR,
            "image": STR,
            "state": STR,
            "ports": _list(ref("ContainerPort")),
            "started_at": {"type": ["string", "null"]},
            "uptime_seconds": {"type": ["integer", "null"]},
            "app": {"type": ["string", "null"], "description": "the store's app it runs"},
            "version": {"type": ["string", "null"]},
        },
        ["id", "name", "image", "state", "ports", "started_at", "uptime_seconds", "app", "version"],
    ),
    "Volume": _obj(
        {"name": STR, "driver": STR, "path": STR, "app": {"type": ["string", "null"]}, "size_bytes": INT},
        ["name", "driver", "path", "app", "size_bytes"],
    ),
    "Containers": _obj(
        {"enabled": BOOL, "containers": _list(ref("Container")), "volumes": _list(ref("Volume"))},
        ["enabled", "containers", "volumes"],
    ),
    "ContainerState": _obj({"name": STR, "state": STR}, ["name", "state"]),
    "ContainerLogs": _obj({"name": STR, "lines": _list(STR)}, ["name", "lines"]),
    "ContainerInspect": _obj({"name": STR, "inspect": {"type": "object"}}, ["name", "inspect"]),
    "BackupResult": {
        "description": "The outcome of the last backup or check (the agent's status files); null before the first",
        **_obj(
            {
                "ok": BOOL,
                "started_at": STR,
                "finished_at": STR,
                "error": STR,
                "archive": STR,
                "repository": STR,
                "original_size": {"type": ["integer", "null"]},
                "deduplicated_size": {"type": ["integer", "null"]},
                "quiesced": _list(STR),
                "quiesced_seconds": {"type": "number"},
            },
            ["ok", "started_at"],
        ),
    },
    "BackupStatus": _obj(
        {
            "repository": STR,
            "initialised": {"type": "boolean", "description": "the repository exists and this cell's passphrase "
                            "opens it"},
            "last": {"anyOf": [ref("BackupResult"), {"type": "null"}]},
            "check": {"anyOf": [ref("BackupResult"), {"type": "null"}]},
            "data_paths": {**_list(ref("DataPath")), "description": "the data a restore may put back alone"},
        },
        ["repository", "initialised", "last", "check", "data_paths"],
    ),
    "BackupView": _obj(
        {
            "settings": ref("Backup"),
            "status": {"anyOf": [ref("BackupStatus"), {"type": "null"}]},
            "status_error": {"type": ["string", "null"], "description": "why the agent could not say"},
        },
        ["settings", "status", "status_error"],
    ),
    "BackupArchive": _obj(
        {
            "name": ref("ArchiveName"),
            "time": STR,
            "original_size": {"type": ["integer", "null"], "description": "bytes backed up"},
            "compressed_size": {"type": ["integer", "null"]},
            "deduplicated_size": {"type": ["integer", "null"], "description": "bytes only this archive stores"},
            "nfiles": {"type": ["integer", "null"]},
        },
        ["name", "time", "original_size", "compressed_size", "deduplicated_size", "nfiles"],
    ),
    "BackupArchives": _obj({"archives": _list(ref("BackupArchive"))}, ["archives"]),
    "BackupKey": _obj(
        {
            "repository": STR,
            "passphrase": {"type": "string", "description": "opens the repository: keep it away from the cell"},
            "key_export": {"type": "string", "description": "borg key export, for a repository whose key is damaged"},
            "ssh_public_key": {"type": "string", "description": "what a backup server authorises"},
        },
        ["repository", "passphrase", "key_export", "ssh_public_key"],
    ),
    "OpenApi": {"type": "object", "description": "this document"},
    # the Network Services page (web/netsvc.py)
    "DnsRecordOne": _obj({"id": STR, **schema.DEFS["DnsRecord"]["properties"]}, ["id", "name", "type", "value"]),
    "DnsRecordList": _obj(
        {"zone": {"type": "string", "description": "the zone the names are relative to"},
         "records": _list(ref("DnsRecordOne"))},
        ["zone", "records"],
    ),
    "DnsRecordAdded": _obj({"record": ref("DnsRecordOne"), "run_id": STR}, ["record", "run_id"]),
    "NetworkChangeStarted": _obj({"run_id": STR}, ["run_id"]),
    "FirewallRule": _obj(
        {"id": STR, "protocol": ref("Protocol"), "port": INT, "zones": _list(ref("Zone")),
         "to": {**STR, "description": "port forwards only: the LAN host"},
         "to_port": {**INT, "description": "port forwards only: the LAN host's port"}},
        ["id", "protocol", "port", "zones"],
    ),
    "FirewallView": _obj(
        {"openings": _list(ref("FirewallRule")), "forwards": _list(ref("FirewallRule")),
         "cell_ports": _list(_obj({"protocol": ref("Protocol"), "port": INT, "what": STR},
                                  ["protocol", "port", "what"]))},
        ["openings", "forwards", "cell_ports"],
    ),
    "FirewallRuleAdded": _obj({"rule": ref("FirewallRule"), "run_id": STR}, ["rule", "run_id"]),
    "DhcpLease": _obj(
        {"mac": STR, "ip": STR, "hostname": {"type": "string", "description": "'' when the device sent none"},
         "expires": {"type": ["string", "null"], "description": "ISO 8601 UTC; null: never"},
         "reserved": {"type": "boolean", "description": "a reservation names this MAC address"}},
        ["mac", "ip", "hostname", "expires", "reserved"],
    ),
    "NtpStatus": _obj(
        {
            "enabled": {"type": "boolean", "description": "the cell runs its NTP service"},
            "servers": _list(STR),
            "serves": _list(ref("IPv4Cidr")),
            "clients": _list(ref("NtpClient")),
            "clients_error": {"type": "string", "description": "why the hosts served could not be read"},
        },
        ["enabled", "servers", "serves", "clients"],
    ),
    "NtpClient": _obj(
        {
            "address": STR,
            "ntp_packets": {**INT, "minimum": 1},
            "last_seen": {"type": ["integer", "null"], "description": "seconds since its last request"},
        },
        ["address", "ntp_packets", "last_seen"],
    ),
    "DhcpStatus": _obj(
        {
            "enabled": {"type": "boolean", "description": "the cell runs its DHCP service"},
            "lan_subnet": ref("IPv4Cidr"),
            "lan_address": ref("IPv4"),
            "dhcp_range": ref("DhcpRange"),
            "dhcp_lease_time": STR,
            "reservations": _list(ref("DhcpReservation")),
            "leases": _list(ref("DhcpLease")),
            "leases_error": {"type": "string", "description": "why the leases could not be read"},
        },
        ["enabled", "lan_subnet", "lan_address", "dhcp_range", "dhcp_lease_time", "reservations", "leases"],
    ),
    # the Email page (managers/mail.py)
    "MailRecord": _obj(
        {"name": {**STR, "description": "the full name to publish the record under"},
         "type": {"type": "string", "enum": ["MX", "TXT"]}, "value": STR},
        ["name", "type", "value"],
    ),
    "MailQueued": _obj(
        {"queue_id": STR, "queue_name": {**STR, "description": "Postfix's queue: active, deferred, hold, ..."},
         "arrival_time": {"type": ["string", "null"], "description": "ISO 8601 UTC"},
         "message_size": INT, "sender": STR,
         "recipients": _list(_obj({"address": STR, "delay_reason": {**STR, "description": "'' while not delayed"}},
                                  ["address", "delay_reason"]))},
        ["queue_id", "queue_name", "arrival_time", "message_size", "sender", "recipients"],
    ),
    "MailView": _obj(
        {
            "enabled": {"type": "boolean", "description": "the cell runs its mail service"},
            "domain": {**STR, "description": "the mail domain: addresses are <user>@<it>"},
            "webmail_url": STR,
            "records": _list(ref("MailRecord")),
            "records_error": {"type": "string", "description": "why the records could not be read"},
            "queue": _list(ref("MailQueued")),
            "queue_error": {"type": "string", "description": "why the queue could not be read"},
        },
        ["enabled", "domain", "webmail_url", "records", "queue"],
    ),
    # the WireGuard page (managers/wgstatus.py): a device of the state with what the running interface says
    "WireGuardDevice": _obj(
        {
            "name": ref("Label"),
            "owner": {**STR, "description": "the person whose device it is; '' for the admins'"},
            "ip": ref("IPv4"),
            "route": ref("Route"),
            "endpoint": {**STR, "description": "where its latest packets came from (host:port); '' before any"},
            "latest_handshake": {**INT, "description": "epoch seconds; 0: never"},
            "rx": {**INT, "description": "bytes received from it"},
            "tx": {**INT, "description": "bytes sent to it"},
            "online": {**BOOL, "description": "a handshake in the last online_window seconds"},
        },
        ["name", "owner", "ip", "route", "endpoint", "latest_handshake", "rx", "tx", "online"],
    ),
    "WireGuardStatus": _obj(
        {
            "up": {**BOOL, "description": "the interface is running and was read"},
            "reason": {**STR, "description": "why the interface could not be read (up false)"},
            "now": {**INT, "description": "the cell's clock, epoch seconds (handshake ages count from it)"},
            "online_window": INT,
            "online": {**INT, "description": "devices online"},
            "total": {**INT, "description": "devices listed"},
            "devices": _list(ref("WireGuardDevice")),
            "interface": {
                **_obj(
                    {
                        "name": STR,
                        "public_key": {**STR, "description": "'' when the interface is not up"},
                        "listen_port": INT,
                        "endpoint": {**STR, "description": "host:port the cell's device configurations dial"},
                        "subnet": ref("IPv4Cidr"),
                        "address": ref("IPv4"),
                    },
                    ["name", "public_key", "listen_port", "endpoint", "subnet", "address"],
                ),
                "description": "admin only",
            },
        },
        ["up", "now", "online_window", "online", "total", "devices"],
    ),
    "CalendarCollection": _obj(
        {
            "name": {**STR, "description": "the collection's folder name, the last part of its address"},
            "kind": ref("CalendarKind"),
            "displayname": STR,
            "description": STR,
            "color": {**STR, "description": "#RRGGBB, or '' when none is set"},
            "url": {**STR, "description": "its CalDAV (calendar) or CardDAV (address book) address"},
        },
        ["name", "kind", "displayname", "description", "color", "url"],
    ),
    "CalendarList": _obj(
        {
            "enabled": {**BOOL, "description": "the cell runs the calendar service"},
            "error": {**STR, "description": "why the collections could not be read"},
            "people": _list(_obj(
                {
                    "user": STR,
                    "url": {**STR, "description": "the person's address, as My services gives it"},
                    "collections": _list(ref("CalendarCollection")),
                },
                ["user", "url", "collections"],
            )),
        },
        ["enabled", "people"],
    ),
    "DhcpReservationAdded": _obj({"reservation": ref("DhcpReservation"), "run_id": STR}, ["reservation", "run_id"]),
    "DiskUse": _obj(
        {
            "path": {**STR, "description": "a path on the filesystem"},
            "total": {**INT, "description": "bytes"},
            "used": {**INT, "description": "bytes"},
            "available": {**INT, "description": "bytes free for unprivileged users"},
            "error": {**STR, "description": "why it could not be read (no sizes then)"},
        },
        ["path"],
    ),
    "SystemFacts": _obj(
        {
            "disks": _list(ref("DiskUse")),
            "memory": _obj(
                {
                    "total": {**INT, "description": "bytes (MemTotal)"},
                    "available": {**INT, "description": "bytes (MemAvailable)"},
                    "error": {**STR, "description": "why it could not be read (no sizes then)"},
                }
            ),
            "certificate": _obj(
                {
                    "status": {**STR, "enum": ["ok", "expiring", "expired", "unknown"]},
                    "not_after": {**STR, "description": "ISO 8601, UTC"},
                    "days_left": {**INT, "description": "whole days until not_after (negative once ended)"},
                    "source": {**STR, "description": "who issued it: internal CA, ACME (DNS-01)"},
                    "file": {**STR, "description": "the file it was read from"},
                    "reason": {**STR, "description": "why it is unknown"},
                    "warn_days": {**INT, "description": "fewer days left than this: expiring"},
                },
                ["status", "warn_days"],
            ),
        },
        ["disks", "memory", "certificate"],
    ),
}

ERROR_TEXT = {
    400: "invalid input; `fields` names each refused field",
    401: "not logged in (peer-sync: not from a linked cell's tunnel address, or not signed with its key)",
    403: "missing CSRF token, or not allowed for this role",
    404: "not found",
    409: "conflict (for backups: borg could not do it now, in its own words; for peer-sync: a replayed, older "
    "or stale message)",
    428: "the cell is not set up yet",
    429: "too many failed guesses (password or setup code); Retry-After says when to try again",
    503: "the cell state does not load; the error names the problem and the repair commands",
}


def _to_components(node: Any) -> Any:
    """The schema's '#/$defs/X' references as the document's '#/components/schemas/X'."""
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _to_components(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_to_components(v) for v in node]
    return node


def _json(schema_: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema_}}}


def _operation(path: str, method: str, view: Callable[..., Any], params: list[str], roles: Sequence[str]) -> Any:
    info = getattr(view, "pic_doc", None)
    if info is None:
        raise ValueError(f"{method.upper()} {path} has no @doc")
    level = level_of(view)
    body = info["body"]
    if callable(body) and not isinstance(body, schema.Request):
        body = body(tuple(roles))
    codes = set(info["errors"])
    if path.startswith("/api/") and path != "/api/openapi.json":
        codes.add(503)
        if not is_setup_path(path):
            codes.add(428)
    if level != "public":
        codes.add(401)
        if level == "admin" or method.upper() in UNSAFE:
            codes.add(403)
    if body is not None or info["query"]:
        codes.add(400)
    media = info["media"]
    answer = ref(info["answer"]) if info["answer"] else {"type": "string"}
    answers = {info["status"]: answer}
    for status, name in info["also"].items():
        answers[status] = {"anyOf": [answers[status], ref(name)]} if status in answers else ref(name)
    op: dict[str, Any] = {
        "operationId": view.__name__,
        "summary": info["summary"],
        "x-access": level,  # gate.access: public, user (any logged-in role) or admin
        "responses": {
            **{str(s): {"description": "OK", "content": {media: {"schema": a}}} for s, a in sorted(answers.items())},
            **{str(c): _json(ref("Error"), ERROR_TEXT[c]) for c in sorted(codes)},
        },
        "security": [] if level == "public" else
        [{"session": [], "csrf": []}] if method.upper() in UNSAFE and not path.startswith("/api/auth/") else
        [{"session": []}],
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body.name)}}}
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": _to_components(info["params"].get(p, STR))}
        for p in params
    ]
    parameters += [
        {"name": k, "in": "query", "required": False, "schema": _to_components(v)} for k, v in info["query"].items()
    ]
    if parameters:
        op["parameters"] = parameters
    return op, body


def build(app: Flask, roles: Sequence[str]) -> dict[str, Any]:
    """The document of every /api/* and /health route of ``app``; ``roles`` are the tags a run may name."""
    paths: dict[str, dict[str, Any]] = {}
    bodies: dict[str, schema.Request] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule.startswith("/api/") or rule.rule == "/health"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        params = re.findall(r"{([a-z_]+)}", path)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op, body = _operation(path, method, view, params, roles)
            paths.setdefault(path, {})[method.lower()] = op
            if body is not None:
                bodies[body.name] = body
    schemas: dict[str, Any] = {**TYPES, **schema.DEFS}
    schemas.update({name: req.schema() for name, req in sorted(bodies.items())})
    schemas.update(ANSWERS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PIC management API",
            "version": "1",
            "description": "Errors are JSON {error, fields}. Before setup every /api/* except /api/setup* "
            "answers 428, and setup needs the one-time setup code. A cell state that does not load makes "
            "every /api/* answer 503. Unsafe methods need X-CSRF-Token equal to the pic_csrf cookie "
            "(except /api/auth/* and /api/setup*).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "pic_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": _to_components(copy.deepcopy(schemas)),
        },
    }


@openapi_bp.get("/api/openapi.json")
@access("public")
@doc("This document", "OpenApi")
def openapi() -> object:
    return jsonify(build(current_app, cell().roles.order))
