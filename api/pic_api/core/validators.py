"""Strict validators for every value that reaches the cell state or a template.

Each ``check_*`` function returns the normalised value or raises :class:`ValidationError`
with a message meant for a person (shown next to the form field). ``error_of`` turns a
check into "message or None" for callers that collect errors.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

__all__ = [
    "ValidationError",
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
    "check_password",
    "check_choice",
    "check_bool",
    "check_count",
]

# Characters that must never reach a shell, a config file or a Jinja template.
UNSAFE_CHARS = set(";&|$`<>\\\"'{}%#*?![]()~^=,\r\n\t\0")

_LABEL_RE = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
_DOMAIN_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IFACE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")
_TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")
_LEASE_RE = re.compile(r"^(infinite|[1-9][0-9]{0,6}[smhdw]?)$")
_B64_RE = re.compile(r"^[A-Za-z0-9+/]{43}=$")


class ValidationError(ValueError):
    """A value was refused; ``str(err)`` is the message for the user."""


def error_of(check: Callable[..., Any], value: Any, *args: Any) -> str | None:
    """Run ``check(value, *args)`` and return its message, or None when the value is valid."""
    try:
        check(value, *args)
    except ValidationError as exc:
        return str(exc)
    return None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string")
    if value == "":
        raise ValidationError(f"{what} must not be empty")
    if any(c in value for c in "\r\n\0"):
        raise ValidationError(f"{what} must not contain line breaks or NUL characters")
    if value != value.strip():
        raise ValidationError(f"{what} must not start or end with spaces")
    return value


def check_label(value: Any, what: str = "name") -> str:
    """A DNS label as PIC uses it for cells, peers and users: ``[a-z][a-z0-9-]{0,30}``.

    Lower case only, no trailing hyphen, at most 32 characters.
    """
    value = _text(value, what)
    if len(value) > 32:
        raise ValidationError(f"{what} must be at most 32 characters")
    if not _LABEL_RE.match(value):
        raise ValidationError(
            f"{what} must start with a lower-case letter and contain only a-z, 0-9 and '-' (not at the end)"
        )
    return value


check_name = check_label


def check_domain(value: Any, what: str = "domain") -> str:
    """A fully qualified domain name: at least two labels, lower case, at most 253 characters."""
    value = _text(value, what)
    if value.endswith("."):
        value = value[:-1]
    if len(value) > 253:
        raise ValidationError(f"{what} must be at most 253 characters")
    labels = value.split(".")
    if len(labels) < 2:
        raise ValidationError(f"{what} must have at least two labels, like example.org")
    for label in labels:
        if not _DOMAIN_LABEL_RE.match(label):
            raise ValidationError(
                f"{what} label '{label}' must be 1-63 characters of a-z, 0-9 and '-' (not at either end)"
            )
    if labels[-1].isdigit():
        raise ValidationError(f"{what} must not end in a numeric label")
    return value


def check_ipv4(value: Any, what: str = "address") -> str:
    """A dotted-quad IPv4 address (no prefix, no leading zeros)."""
    value = _text(value, what)
    try:
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValidationError(f"{what} must be an IPv4 address like 192.168.1.10") from None
    return str(addr)


def check_ipv4_cidr(value: Any, what: str = "subnet") -> str:
    """An IPv4 network in CIDR notation with no host bits set, prefix /8 to /30."""
    value = _text(value, what)
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
    return value


def check_host(value: Any, what: str = "host") -> str:
    """A domain name or an IPv4 address (NTP servers, upstream resolvers by name)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9.]+", value):
        return check_ipv4(value, what)
    try:
        return check_domain(value, what)
    except ValidationError:
        raise ValidationError(f"{what} must be a domain name or an IPv4 address") from None


def check_port(value: Any, what: str = "port") -> int:
    """A TCP/UDP port 1-65535 (an int, or a string of digits)."""
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a number between 1 and 65535")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value):
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValidationError(f"{what} must be a number between 1 and 65535")
    return value


def check_wg_key(value: Any, what: str = "public key") -> str:
    """A WireGuard key: standard base64 (44 characters) of exactly 32 bytes."""
    value = _text(value, what)
    if not _B64_RE.match(value):
        raise ValidationError(f"{what} must be a WireGuard key: 44 characters of base64 ending in '='")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise ValidationError(f"{what} must decode to 32 bytes")
    return value


def check_timezone(value: Any, what: str = "timezone") -> str:
    """An IANA timezone name known to this system (Europe/Berlin, Etc/UTC, UTC)."""
    value = _text(value, what)
    if len(value) > 64 or not _TZ_RE.match(value) or ".." in value:
        raise ValidationError(f"{what} must be an IANA timezone name like Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"{what} '{value}' is not a known timezone") from None
    return value


def check_safe_text(value: Any, what: str = "value", max_length: int = 128) -> str:
    """Free text safe to place in a config file: no line breaks, no shell/template metacharacters."""
    value = _text(value, what)
    if len(value) > max_length:
        raise ValidationError(f"{what} must be at most {max_length} characters")
    bad = sorted({c for c in value if c in UNSAFE_CHARS or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise ValidationError(f"{what} contains characters that are not allowed: {shown}")
    return value


def check_interface(value: Any, what: str = "interface") -> str:
    """A Linux network interface name (at most 15 characters)."""
    value = _text(value, what)
    if not _IFACE_RE.match(value):
        raise ValidationError(f"{what} must be an interface name like eth0 (at most 15 characters)")
    return value


def check_lease_time(value: Any, what: str = "lease time") -> str:
    """A dnsmasq lease time: a number with an optional unit (s, m, h, d, w) or 'infinite'."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _text(value, what)
    if not _LEASE_RE.match(value):
        raise ValidationError(f"{what} must be a duration like 12h, 30m or 'infinite'")
    return value


def check_password(value: Any, what: str = "password", min_length: int = 8) -> str:
    """A password: at least ``min_length`` characters, at most 72 bytes, no control characters."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string")
    if len(value) < min_length:
        raise ValidationError(f"{what} must be at least {min_length} characters")
    if len(value.encode("utf-8")) > 72:
        # bcrypt (the service password hash) reads at most 72 bytes; refuse rather than truncate
        raise ValidationError(f"{what} must be at most 72 bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{what} must not contain control characters or line breaks")
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
