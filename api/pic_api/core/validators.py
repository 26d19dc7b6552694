"""The field types of the cell state and the API, as JSON Schema, and the checks built from them.

``TYPES`` is the one place a field's rule is written: a JSON Schema (draft 2020-12) fragment per kind
of value (a DNS label, a domain, an IPv4 address, ...). The state schema (``schema.py``) and every
request schema refer to these fragments, the OpenAPI document carries them as its component schemas,
and the web UI takes its types and limits from that document. What JSON Schema cannot say (an
address parses, a time zone exists on this system, a password fits bcrypt's 72 bytes) is a named
``format`` whose check lives in ``FORMAT_CHECKS`` below.

Each ``check_*`` function validates one value against its fragment and returns the normalised value
or raises :class:`ValidationError` with a message meant for a person (shown next to the form field).
``error_of`` turns a check into "message or None" for callers that collect errors.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

__all__ = [
    "ValidationError",
    "TYPES",
    "Strict",
    "FORMATS",
    "describe_errors",
    "error_of",
    "check_label",
    "check_name",
    "check_domain",
    "check_host",
    "check_ipv4",
    "check_ipv4_cidr",
    "check_port",
    "check_wg_key",
    "check_timezone",
    "check_safe_text",
    "check_interface",
    "check_lease_time",
    "lease_seconds",
    "check_password",
    "check_choice",
    "check_bool",
    "check_count",
    "check_repository",
]

# Characters that must never reach a shell, a config file or a Jinja template.
UNSAFE_CHARS = set(";&|$`<>\\\"'{}%#*?![]()~^=,\r\n\t\0")
LEASE_MIN_SECONDS = 120  # dnsmasq gives no shorter lease
LEASE_MAX_SECONDS = 365 * 86400
PASSWORD_MAX_BYTES = 72  # bcrypt (the service password hash) reads no more; refused rather than truncated


class ValidationError(ValueError):
    """A value was refused; ``str(err)`` is the message for the user."""


def _ref(name: str, title: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"$ref": f"#/$defs/{name}"}
    if title:
        out["title"] = title
    out.update(more)
    return out


# Patterns are ECMAScript-compatible (the UI uses them as they are) and always anchored; they are
# matched whole (``re.fullmatch``), so '$' never lets a trailing newline through.
# A type's own top node has no title: the field that uses it names it ("cell name", "peer name").
TYPES: dict[str, dict[str, Any]] = {
    "Label": {
        "type": "string",
        "minLength": 1,
        "maxLength": 32,
        "pattern": "^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$",
        "description": "a lower-case letter, then a-z, 0-9 or '-' (not at the end); at most 32 characters",
        "example": "home",
    },
    "MailLocalPart": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[a-z0-9]+([._-][a-z0-9]+)*$",
        "description": "the part of an address before the @: a-z and 0-9, single '.', '_' or '-' between them",
        "example": "info",
    },
    "CertName": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        "description": "a DNS name, one label or more (printer, nas.home.cell): a-z, 0-9 and '-' (not at either end)",
        "example": "printer.home.cell",
    },
    "CertSerial": {
        "type": "string",
        "minLength": 2,
        "maxLength": 62,
        "pattern": "^[0-9A-F]{2}(:[0-9A-F]{2}){0,20}$",
        "description": "a certificate's serial number as hex octets (0A:1B:...)",
        "example": "4F:0A:9C",
    },
    "Domain": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": "^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
        "description": "a domain name of at least two labels, like example.org: each label 1-63 characters "
        "of a-z, 0-9 and '-' (not at either end), the last one starting with a letter",
        "example": "example.org",
    },
    "IPv4": {
        "type": "string",
        "maxLength": 15,
        "format": "ipv4",
        "description": "an IPv4 address like 192.168.1.10",
        "example": "192.168.1.10",
    },
    "IPv4Cidr": {
        "type": "string",
        "maxLength": 18,
        "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
        "format": "pic-ipv4-cidr",
        "description": "an IPv4 network in CIDR notation like 10.0.0.0/24, no host bits set, /8 to /30",
        "example": "10.0.0.0/24",
    },
    "Host": {
        "anyOf": [_ref("IPv4"), _ref("Domain")],
        "description": "a domain name or an IPv4 address",
        "example": "ntp.example.org",
    },
    "Port": {
        "type": "integer",
        "minimum": 1,
        "maximum": 65535,
        "description": "a port number from 1 to 65535",
        "example": 51820,
    },
    "WgKey": {
        "type": "string",
        "minLength": 44,
        "maxLength": 44,
        # base64 of exactly 32 bytes: 43 characters (the last one with its low bits clear), then '='
        "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
        "description": "a WireGuard key: 44 characters of base64 ending in '='",
        "example": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
    },
    "Timezone": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
        "format": "pic-timezone",
        "description": "an IANA time zone name like Europe/Berlin",
        "example": "Europe/Berlin",
    },
    "Interface": {
        "type": "string",
        "minLength": 1,
        "maxLength": 15,
        "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$",
        "description": "a network interface name like eth0 (at most 15 characters)",
        "example": "eth0",
    },
    # The DHCP lease time: dnsmasq's own floor of two minutes up to a year, or infinite.
    "LeaseTime": {
        "type": ["string", "integer"],
        "pattern": "^(infinite|[1-9][0-9]{0,6}[smhdw]?)$",
        "format": "pic-lease-time",
        "minimum": LEASE_MIN_SECONDS,
        "maximum": LEASE_MAX_SECONDS,
        "description": "from 2m to 365d: seconds, or a number with s, m, h, d or w (12h, 30m, 1d), or 'infinite'",
        "example": "12h",
    },
    "Password": {
        "type": "string",
        "minLength": 8,
        "maxLength": PASSWORD_MAX_BYTES,
        "format": "pic-password",
        "description": f"at least 8 characters and at most {PASSWORD_MAX_BYTES} bytes, no control characters",
    },
    "BcryptHash": {
        "type": "string",
        "pattern": "^\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}$",
        "description": "a bcrypt hash ($2b$...)",
    },
    "Secret": {
        "type": "string",
        "minLength": 1,
        "maxLength": 256,
        "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
        "description": "a credential of at most 256 characters, no control characters or line breaks",
        "writeOnly": True,
    },
    "Repository": {
        "type": "string",
        "maxLength": 255,
        "format": "pic-repository",
        "description": "a borg repository: an absolute path (another disk) or ssh://user@host[:port]/path; "
        "empty for none",
        "example": "ssh://borg@backup.example.org/./pic",
    },
    "ArchiveName": {
        "type": "string",
        "maxLength": 128,
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$",
        "description": "a borg archive name: a letter or digit, then letters, digits and . _ : + -",
        "example": "pic-2025-01-31T03:30:00",
    },
    "DataPath": {
        "type": "string",
        "maxLength": 255,
        "pattern": "^(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}){1,16}$",
        "description": "an absolute path of data the backups hold (one service's), such as /var/vmail",
        "example": "/var/vmail",
    },
    "Timestamp": {
        "type": "string",
        "maxLength": 40,
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?$",
        "description": "an ISO 8601 timestamp",
        "example": "2025-01-31T12:00:00Z",
    },
}


# --- what JSON Schema cannot say ---------------------------------------------------------------
def _ipv4(value: str, what: str) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValidationError(f"{what} must be an IPv4 address like 192.168.1.10") from None


def _ipv4_cidr(value: str, what: str) -> None:
    if "/" not in value:
        raise ValidationError(f"{what} must be in CIDR notation like 10.0.0.0/24")
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValidationError(f"{what} must be an IPv4 network like 10.0.0.0/24") from None
    if str(net) != value:
        raise ValidationError(f"{what} has host bits set; did you mean {net}?")
    if not 8 <= net.prefixlen <= 30:
        raise ValidationError(f"{what} prefix length must be between /8 and /30")


def _timezone(value: str, what: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"{what} '{value}' is not a known timezone") from None


def _password(value: str, what: str) -> None:
    if len(value.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise ValidationError(f"{what} must be at most {PASSWORD_MAX_BYTES} bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{what} must not contain control characters or line breaks")


# A local repository: an absolute path of plain characters. A remote one, borg's ssh:// form (a path
# starting /./ or /~/ is relative to the remote user's home, as borg reads it).
_LOCAL_REPO_RE = re.compile(r"(/[A-Za-z0-9._+-]+)+/?")
_SSH_REPO_RE = re.compile(
    r"ssh://(?P<user>[a-z_][a-z0-9_-]{0,31})@(?P<host>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>(/[A-Za-z0-9._~+-]+)+/?)"
)
_HOST_LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _repository(value: str, what: str) -> None:
    if value == "":
        return
    if value.startswith("/"):
        if not _LOCAL_REPO_RE.fullmatch(value):
            raise ValidationError(f"{what}: a local repository is an absolute path of letters, digits and . _ + - only")
        if any(part in (".", "..") for part in value.split("/")):
            raise ValidationError(f"{what}: a local repository path must not contain . or .. parts")
        return
    m = _SSH_REPO_RE.fullmatch(value)
    if not m:
        raise ValidationError(f"{what} must be an absolute path or ssh://user@host[:port]/path")
    host = m.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValidationError(f"{what}: its host is not an IPv6 address") from None
    elif not all(_HOST_LABEL_RE.fullmatch(label) for label in host.rstrip(".").split(".")):
        raise ValidationError(f"{what}: its host is not a host name or address")
    if m.group("port") is not None and not 1 <= int(m.group("port")) <= 65535:
        raise ValidationError(f"{what}: its port must be from 1 to 65535")
    if ".." in m.group("path").split("/"):
        raise ValidationError(f"{what}: its path must not contain .. parts")


def check_repository(value: Any, what: str = "backup repository") -> str:
    """A borg repository PIC may hand to borg: "" (none), an absolute path, or ssh://user@host[:port]/path."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string")
    if len(value) > 255:
        raise ValidationError(f"{what} must be at most 255 characters")
    _repository(value, what)
    return value


LEASE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def lease_seconds(value: str) -> int | None:
    """A lease time's length in seconds ('12h' -> 43200); None for 'infinite' or what is no lease time."""
    m = re.fullmatch(r"([1-9][0-9]{0,6})([smhdw]?)", value)
    return int(m.group(1)) * LEASE_UNITS[m.group(2)] if m else None


def _lease_time(value: str, what: str) -> None:
    seconds = lease_seconds(value)
    if seconds is not None and not LEASE_MIN_SECONDS <= seconds <= LEASE_MAX_SECONDS:
        raise ValidationError(f"{what} must be from 2m to 365d (or infinite)")


FORMAT_CHECKS: dict[str, Callable[[str, str], None]] = {
    "ipv4": _ipv4,
    "pic-ipv4-cidr": _ipv4_cidr,
    "pic-timezone": _timezone,
    "pic-password": _password,
    "pic-repository": _repository,
    "pic-lease-time": _lease_time,
}
FORMATS = FormatChecker(formats=())
for _name, _fn in FORMAT_CHECKS.items():
    FORMATS.checks(_name, raises=ValidationError)(lambda v, _fn=_fn: not isinstance(v, str) or _fn(v, "value") is None)


# --- the validator: strict types, whole-string patterns ----------------------------------------
def _is_integer(checker: Any, value: Any) -> bool:
    # JSON Schema counts 1.0 as an integer and Python counts True as one; neither is a port number
    return isinstance(value, int) and not isinstance(value, bool)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    if isinstance(instance, str) and not re.fullmatch(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Strict = jsonschema.validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def validator_for(schema: Mapping[str, Any]) -> Any:
    """A strict validator of ``schema`` (which may refer to ``#/$defs/<type>``) with the formats above."""
    return Strict({**schema, "$defs": {**TYPES, **schema.get("$defs", {})}}, format_checker=FORMATS)


# --- errors for people ---------------------------------------------------------------------------
_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def path_text(path: Sequence[Any]) -> str:
    """['peers', 2, 'name'] -> 'peers[2].name'"""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _title(root: Mapping[str, Any], schema_path: Sequence[Any]) -> str | None:
    """The title nearest to the failing keyword along its schema path (through $refs)."""
    node: Any = root
    title = None
    for key in list(schema_path)[:-1]:
        if key == "$ref" and isinstance(node, dict):
            node = _resolve(root, node["$ref"])
            continue
        while isinstance(node, dict) and key not in node and "$ref" in node:
            node = _resolve(root, node["$ref"])
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return title
        if isinstance(node, dict) and node.get("title"):
            title = node["title"]
    return title


def _description(root: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    seen = 0
    while "description" not in schema and "$ref" in schema and seen < 8:
        schema, seen = _resolve(root, schema["$ref"]), seen + 1
    return schema.get("description")


def _explain(err: Any, root: Mapping[str, Any], what: str | None = None) -> Iterator[tuple[str, str]]:
    path = list(err.absolute_path)
    kw, value, schema, inst = err.validator, err.validator_value, err.schema, err.instance
    if kw == "required":
        props = schema.get("properties", {})
        for name in value:
            if isinstance(inst, dict) and name not in inst:
                title = props.get(name, {}).get("title") or name
                yield path_text([*path, name]), f"{title} is required"
        return
    if kw in ("additionalProperties", "unevaluatedProperties"):
        for name in inst:
            if name not in schema.get("properties", {}):
                yield path_text([*path, name]), "unknown field"
        return
    what = what or _title(root, err.absolute_schema_path) or (str(path[-1]) if path else "value")
    if kw == "type":
        kinds = [value] if isinstance(value, str) else value
        message = f"{what} must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    elif kw == "enum":
        message = f"{what} must be one of: {', '.join(map(str, value))} (not {inst!r})"
    elif kw == "const":
        message = f"{what} must be {value}"
    elif kw == "minLength":
        message = f"{what} must not be empty" if value == 1 else f"{what} must be at least {value} characters"
    elif kw == "maxLength":
        message = f"{what} must be at most {value} characters"
    elif kw == "maxItems":
        message = f"{what} must have at most {value} entries"
    elif kw == "minItems":
        message = f"{what} must have at least {value} entries"
    elif kw == "uniqueItems":
        message = f"{what} has duplicate entries"
    elif kw == "minProperties":
        message = f"nothing to change: give at least one of {', '.join(schema.get('properties', {}))}"
    elif kw in ("minimum", "maximum"):
        message = f"{what} must be a number from {schema.get('minimum')} to {schema.get('maximum')}"
    elif kw == "format" and value in FORMAT_CHECKS and isinstance(inst, str):
        try:
            FORMAT_CHECKS[value](inst, what)
            message = f"{what} is not valid"
        except ValidationError as exc:
            message = str(exc)
    else:  # pattern, anyOf, ...: the rule in words, as the OpenAPI document and the UI show it
        rule = _description(root, schema)
        message = f"{what} must be {rule}" if rule else f"{what} is not valid"
    yield path_text(path), message


def describe_errors(validator: Any, instance: Any, what: str | None = None) -> dict[str, str]:
    """Every refused field of ``instance``: its path ('peers[2].name') -> the first message for it."""
    fields: dict[str, str] = {}
    for err in validator.iter_errors(instance):
        for path, message in _explain(err, validator.schema, what):
            fields.setdefault(path, message)
    return fields


def _checker(type_name: str, default_what: str, prepare: Callable[[Any], Any] | None = None) -> Callable[..., Any]:
    validator = validator_for({"$ref": f"#/$defs/{type_name}"})

    def check(value: Any, what: str = default_what) -> Any:
        if prepare is not None:
            value = prepare(value)
        fields = describe_errors(validator, value, what)
        if fields:
            raise ValidationError(next(iter(fields.values())))
        return value

    check.__name__ = f"check_{type_name.lower()}"
    check.__doc__ = f"A value of the schema type {type_name}: {TYPES[type_name]['description']}."
    return check


def error_of(check: Callable[..., Any], value: Any, *args: Any) -> str | None:
    """Run ``check(value, *args)`` and return its message, or None when the value is valid."""
    try:
        check(value, *args)
    except ValidationError as exc:
        return str(exc)
    return None


def _digits_to_int(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value) else value


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _no_final_dot(value: Any) -> Any:
    return value[:-1] if isinstance(value, str) and value.endswith(".") else value


check_label = _checker("Label", "name")
check_name = check_label
check_domain = _checker("Domain", "domain", _no_final_dot)
check_ipv4 = _checker("IPv4", "address")
check_ipv4_cidr = _checker("IPv4Cidr", "subnet")
check_host = _checker("Host", "host")
check_port = _checker("Port", "port", _digits_to_int)
check_wg_key = _checker("WgKey", "public key")
check_timezone = _checker("Timezone", "timezone")
check_interface = _checker("Interface", "interface")
check_lease_time = _checker("LeaseTime", "lease time", _int_to_str)
check_password = _checker("Password", "password")
check_archive_name = _checker("ArchiveName", "archive")
check_data_path = _checker("DataPath", "data")


def check_safe_text(value: Any, what: str = "value", max_length: int = 128) -> str:
    """Free text safe to place in a config file: no line breaks, no shell/template metacharacters."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string")
    if value == "":
        raise ValidationError(f"{what} must not be empty")
    if any(c in value for c in "\r\n\0"):
        raise ValidationError(f"{what} must not contain line breaks or NUL characters")
    if value != value.strip():
        raise ValidationError(f"{what} must not start or end with spaces")
    if len(value) > max_length:
        raise ValidationError(f"{what} must be at most {max_length} characters")
    bad = sorted({c for c in value if c in UNSAFE_CHARS or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ValidationError(f"{what} contains characters that are not allowed: {shown}")
    return value


def check_choice(value: Any, choices: tuple[str, ...] | list[str], what: str = "value") -> str:
    """One of a fixed list of strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(f"{what} must be one of: {', '.join(choices)}")
    return value


def check_bool(value: Any, what: str = "value") -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be true or false")
    return value


def check_count(value: Any, low: int, high: int, what: str = "value") -> int:
    """A whole number from ``low`` to ``high`` written in ASCII digits (a query parameter, a header).

    Python's ``str.isdigit`` and ``int`` also take '²', '٣' and full-width digits, and ``int`` refuses
    more than 4300 digits with an error of its own: both are refused here, before any conversion."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,18}", value) or not low <= int(value) <= high:
        raise ValidationError(f"{what} must be a number from {low} to {high}")
    return int(value)
