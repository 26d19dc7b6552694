"""The OpenAPI 3.0 document of every endpoint (GET /api/openapi.json)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, jsonify

from ..core import schema
from .common import access, cell

openapi_bp = Blueprint("openapi", __name__)

NAME = {"type": "string", "pattern": "^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$", "maxLength": 32}
IPV4 = {"type": "string", "format": "ipv4"}
ERROR = {"$ref": "#/components/schemas/Error"}
RUN_ID = {"type": "object", "properties": {"run_id": {"type": "string"}}, "required": ["run_id"]}
ADMIN = [{"session": [], "csrf": []}]
USER = [{"session": []}]


def _json(schema_: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema_}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid input; `fields` names each refused field",
        401: "not logged in",
        403: "missing CSRF token, or not allowed for this role",
        404: "not found",
        409: "conflict",
        428: "the cell is not set up yet",
        429: "too many failed guesses (password or setup code); Retry-After says when to try again",
        503: "the cell state does not load; the error names the problem and the repair commands",
    }
    return {str(c): _json(ERROR, text[c]) for c in codes}


def _op(
    summary: str,
    responses: dict[str, Any],
    security: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {**responses, **_errors(*errors)},
        "security": security if security is not None else ADMIN,
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, schema_: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema_}


def _query(name: str, schema_: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema_}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


ANY_OBJ = {"type": "object"}
SETUP_CODE = {"type": "string", "maxLength": 64, "example": "ABCD-EFGH-JKLM-NPQR"}
SERVICES = {"type": "array", "items": {"type": "string", "enum": list(schema.SERVICES)}, "uniqueItems": True}
RUN = {"$ref": "#/components/schemas/Run"}
PEER = {"$ref": "#/components/schemas/Peer"}
ADMIN_ERR = (401, 403, 428)


def build(roles: Sequence[str]) -> dict[str, Any]:
    """The document; ``roles`` are the tags a run may name (the roles of site.yml)."""
    run_id_param = _path_param("run_id", {"type": "string"})
    paths: dict[str, Any] = {
        "/health": {
            "get": _op(
                "Liveness; no login, also before setup",
                {
                    "200": _json(
                        _obj(
                            {
                                "status": {"type": "string"},
                                "setup_completed": {"type": "boolean"},
                                "state": {"type": "string", "enum": ["ok", "damaged"]},
                                "version": {"type": "string"},
                            }
                        )
                    )
                },
                security=[],
            )
        },
        "/api/openapi.json": {"get": _op("This document", {"200": _json(ANY_OBJ)}, security=[])},
        "/api/setup/status": {
            "get": _op(
                "Whether the first-run wizard is done",
                {"200": _json(_obj({"completed": {"type": "boolean"}}))},
                security=[],
            )
        },
        "/api/setup/options": {"get": _op("Choices and defaults for the wizard", {"200": _json(ANY_OBJ)}, security=[])},
        "/api/setup/code": {
            "post": _op(
                "Check the one-time setup code (`pic setup-code` on the cell prints it): the wizard's first step",
                {"200": _json(_obj({"valid": {"type": "boolean"}}))},
                security=[],
                body=_obj({"setup_code": SETUP_CODE}, ["setup_code"]),
                errors=(400, 403, 409, 429),
            )
        },
        "/api/setup": {
            "post": _op(
                "Apply the wizard: stores the state and the admin login, starts the first converge, logs in",
                {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "run_id": {"type": "string"},
                                "https": {"type": "array", "items": {"type": "string", "format": "uri"}},
                            },
                            "required": ["run_id", "https"],
                        },
                        "accepted; session and pic_csrf cookies are set; `https`: where the UI answers once the "
                        "run is done (the cell's name, its LAN address): after setup :8081 only leads there",
                    )
                },
                security=[],
                body=_obj(
                    {
                        "setup_code": SETUP_CODE,
                        "cell_name": NAME,
                        "domain_mode": {"type": "string", "enum": list(schema.DOMAIN_MODES)},
                        "domain": {"type": "string"},
                        "timezone": {"type": "string", "example": "Europe/Berlin"},
                        "admin_password": {"type": "string", "minLength": 8},
                        "services": SERVICES,
                        "upstream_dns": {"type": "array", "items": IPV4, "maxItems": 8},
                        "lan_interface": {"type": "string", "example": "eth0"},
                        "lan_subnet": {"type": "string", "example": "192.168.1.0/24"},
                        "lan_address": IPV4,
                        "dhcp_range": {"type": "array", "items": IPV4, "minItems": 2, "maxItems": 2},
                    },
                    ["setup_code", "cell_name", "domain_mode", "timezone", "admin_password", "services"],
                ),
                errors=(400, 403, 409, 429),
            )
        },
        "/api/auth/login": {
            "post": _op(
                "Log in; sets the HttpOnly pic_session cookie and the readable pic_csrf cookie",
                {"200": _json(_obj({"user": {"$ref": "#/components/schemas/User"}}))},
                security=[],
                body=_obj({"username": {"type": "string"}, "password": {"type": "string"}}, ["username", "password"]),
                errors=(400, 401, 428, 429),
            )
        },
        "/api/auth/logout": {"post": _op("Log out", {"200": _json(ANY_OBJ)}, security=[], errors=(428,))},
        "/api/auth/me": {"get": _op("The logged-in user", {"200": _json(ANY_OBJ)}, security=USER, errors=(401, 428))},
        "/api/account/password": {
            "post": _op(
                "Change your own password (API login and service password)",
                {"200": _json(ANY_OBJ)},
                security=[{"session": [], "csrf": []}],
                body=_obj(
                    {
                        "current_password": {"type": "string"},
                        "new_password": {"type": "string", "minLength": 8},
                    },
                    ["current_password", "new_password"],
                ),
                errors=(400, 401, 403, 428),
            )
        },
        "/api/runs": {
            "get": _op(
                "Recent runs, newest first",
                {"200": _json(_obj({"runs": {"type": "array", "items": RUN}}))},
                params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
                errors=(400, *ADMIN_ERR),
            ),
            "post": _op(
                "Converge the cell (or some roles); check=true is a preview with diffs",
                {"202": _json(RUN_ID)},
                body=_obj(
                    {
                        "tags": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(roles)},
                        },
                        "check": {"type": "boolean"},
                    }
                ),
                errors=(400, *ADMIN_ERR),
            ),
        },
        "/api/runs/{run_id}": {
            "get": _op("One run", {"200": _json(RUN)}, params=[run_id_param], errors=(404, *ADMIN_ERR))
        },
        "/api/runs/{run_id}/cancel": {
            "post": _op(
                "Cancel a queued or running run",
                {"202": _json(RUN)},
                params=[run_id_param],
                errors=(404, 409, *ADMIN_ERR),
            )
        },
        "/api/runs/{run_id}/events": {
            "get": _op(
                "Server-sent events: one `data: {json}` per event from the start, then live; ends after the "
                "final pic_run_status event. Resume with Last-Event-ID or ?after=<seq>.",
                {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
                params=[run_id_param, _query("after", {"type": "integer", "minimum": 0})],
                errors=(400, 404, *ADMIN_ERR),
            )
        },
        "/api/peers": {
            "get": _op(
                "Peers (devices)",
                {"200": _json(_obj({"peers": {"type": "array", "items": PEER}}))},
                errors=ADMIN_ERR,
            ),
            "post": _op(
                "Add a peer; without public_key the cell makes the key pair and returns the private key "
                "in this response only",
                {
                    "201": _json(
                        _obj(
                            {
                                "peer": PEER,
                                "config": {"type": "string"},
                                "qr_svg": {"type": "string"},
                                "run_id": {"type": "string"},
                                "private_key_included": {"type": "boolean"},
                            }
                        )
                    )
                },
                body=_obj(
                    {
                        "name": NAME,
                        "route": {"type": "string", "enum": list(schema.ROUTES)},
                        "public_key": {"type": "string"},
                    },
                    ["name"],
                ),
                errors=(400, 409, *ADMIN_ERR),
            ),
        },
        "/api/peers/{name}": {
            "get": _op(
                "One peer",
                {"200": _json(_obj({"peer": PEER}))},
                params=[_path_param("name", NAME)],
                errors=(404, *ADMIN_ERR),
            ),
            "delete": _op(
                "Remove a peer",
                {"202": _json(RUN_ID)},
                params=[_path_param("name", NAME)],
                errors=(404, *ADMIN_ERR),
            ),
        },
        "/api/users": {
            "get": _op("Users", {"200": _json(ANY_OBJ)}, errors=ADMIN_ERR),
            "post": _op(
                "Add a user (API login + mail/calendar/files password)",
                {"201": _json(ANY_OBJ)},
                body=_obj(
                    {
                        "name": NAME,
                        "password": {"type": "string", "minLength": 8},
                        "role": {"type": "string", "enum": list(schema.ROLES)},
                        "services": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(schema.USER_SERVICES)},
                        },
                    },
                    ["name", "password"],
                ),
                errors=(400, 409, *ADMIN_ERR),
            ),
        },
        "/api/users/{name}": {
            "delete": _op(
                "Remove a user",
                {"202": _json(RUN_ID)},
                params=[_path_param("name", NAME)],
                errors=(404, 409, *ADMIN_ERR),
            )
        },
        "/api/settings": {
            "get": _op("What the wizard set", {"200": _json(ANY_OBJ)}, errors=ADMIN_ERR),
            "put": _op(
                "Change settings; ?preview=1 queues a check-mode run with diffs and saves nothing",
                {"202": _json(RUN_ID)},
                params=[_query("preview", {"type": "string", "enum": ["0", "1", "true", "false"]})],
                body=_obj(
                    {
                        "services": SERVICES,
                        "timezone": {"type": "string"},
                        "upstream_dns": {"type": "array", "items": IPV4, "maxItems": 8},
                        "ntp_servers": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
                    }
                ),
                errors=(400, *ADMIN_ERR),
            ),
        },
        "/api/state": {
            "get": _op("The current cell state (password hashes masked)", {"200": _json(ANY_OBJ)}, errors=ADMIN_ERR)
        },
        "/api/state/versions": {"get": _op("Every saved state version", {"200": _json(ANY_OBJ)}, errors=ADMIN_ERR)},
        "/api/state/versions/{number}/rollback": {
            "post": _op(
                "Write an old version as the newest and converge it",
                {"202": _json(RUN_ID)},
                params=[_path_param("number", {"type": "integer", "minimum": 1})],
                errors=(400, 404, *ADMIN_ERR),
            )
        },
        "/api/services": {
            "get": _op(
                "Health of each service (units and ports)",
                {"200": _json(ANY_OBJ)},
                security=USER,
                errors=(401, 428),
            )
        },
        "/api/logs": {
            "get": _op(
                "Search the API log or a service's journal",
                {"200": _json(ANY_OBJ)},
                params=[
                    _query("q", {"type": "string", "maxLength": 200}),
                    _query("source", {"type": "string"}),
                    _query("level", {"type": "string"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
                errors=(400, *ADMIN_ERR),
            )
        },
        "/api/ca/root.pem": {
            "get": _op(
                "The internal CA's root certificate (no login)",
                {
                    "200": {
                        "description": "PEM",
                        "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                    }
                },
                security=[],
                errors=(404, 428),
            )
        },
    }
    for path, ops in paths.items():
        if path.startswith("/api/") and path != "/api/openapi.json":
            for op in ops.values():
                op["responses"].update(_errors(503))
    return {
        "openapi": "3.0.3",
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
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
                    "required": ["error"],
                },
                "User": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string"},
                        "role": {"type": "string", "enum": list(schema.ROLES)},
                    },
                },
                "Peer": {
                    "type": "object",
                    "properties": {
                        "name": NAME,
                        "ip": IPV4,
                        "public_key": {"type": "string"},
                        "route": {"type": "string"},
                        "created": {"type": "string"},
                    },
                },
                "Run": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["pending", "running", "successful", "failed", "canceled"],
                        },
                        "kind": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "check": {"type": "boolean"},
                    },
                },
            },
        },
    }


@openapi_bp.get("/api/openapi.json")
@access("public")
def openapi() -> object:
    return jsonify(build(cell().roles.order))
