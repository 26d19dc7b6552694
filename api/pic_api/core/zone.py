"""DNS zone serial numbers in the YYYYMMDDnn convention, and the one rule for records other roles publish."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from typing import Any

__all__ = ["next_serial", "MAX_SERIAL", "RECORD_TYPES", "NAME_PATTERN", "check_records", "check_value"]

MAX_SERIAL = 2**32 - 1


def next_serial(previous: int | str | None = None, today: _dt.date | None = None) -> int:
    """The next zone serial: ``YYYYMMDD00`` for today, or ``previous + 1`` when that is not larger.

    The result is always strictly greater than ``previous`` so secondaries see every change, even
    with more than 100 changes in a day (the counter then runs into the next day's numbers, which
    stays monotonic) or when the clock went backwards.
    """
    today = today or _dt.datetime.now(_dt.UTC).date()
    base = int(today.strftime("%Y%m%d")) * 100
    if previous is None or previous == "":
        return base
    if isinstance(previous, bool):
        raise ValueError("previous serial must be a number")
    try:
        prev = int(previous)
    except (TypeError, ValueError):
        raise ValueError(f"previous serial must be a number, not {previous!r}") from None
    if prev < 0 or prev >= MAX_SERIAL:
        raise ValueError(f"previous serial {prev} is outside 0..{MAX_SERIAL - 1}")
    return max(base, prev + 1)


# The types both DNS servers of the cell publish (dnsmasq and CoreDNS).
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV")
# Relative to the zone: @ (the apex), *, *.name, or dotted labels.
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})"
# (also the state schema's pattern of a record's name: one rule for the records the admin adds)
NAME_PATTERN = rf"^(@|\*|(\*\.)?{_LABEL}(\.{_LABEL})*)$"
_NAME = re.compile(NAME_PATTERN)
_TARGET = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")
# Nothing that ends a line or a quoted string in either server's file.
_UNSAFE = re.compile(r'[\r\n\0\\"]')


def check_value(rtype: str, value: str) -> str | None:
    """Why ``value`` is not a valid ``rtype`` record's value, or None."""
    if not value:
        return "an empty value"
    if _UNSAFE.search(value):
        return "a line break, NUL, backslash or double quote in the value"
    if rtype != "TXT" and ";" in value:
        return "a ';' outside a TXT record"
    parts = value.split()
    try:
        if rtype == "A":
            ipaddress.IPv4Address(value)
        elif rtype == "AAAA":
            ipaddress.IPv6Address(value)
    except ValueError:
        return f"not an IPv{4 if rtype == 'A' else 6} address"
    if rtype == "CNAME" and not _TARGET.match(value):
        return "not a host name"
    if rtype == "MX" and not (len(parts) == 2 and parts[0].isdigit() and _TARGET.match(parts[1])):
        return "not '<preference> <host>'"
    if rtype == "SRV" and not (len(parts) == 4 and all(p.isdigit() for p in parts[:3]) and _TARGET.match(parts[3])):
        return "not '<priority> <weight> <port> <host>'"
    return None


def check_records(records: Any) -> list[dict[str, str]]:
    """The records as both DNS roles write them ({name, type, value}, type upper case, value a
    string), or ValueError naming the first invalid one and why."""
    if not isinstance(records, list):
        raise ValueError(f"records must be a list, not {type(records).__name__}")
    out = []
    for rec in records:
        if not isinstance(rec, dict):
            raise ValueError(f"invalid record {rec!r}: not a mapping of name, type, value")
        name, rtype, value = rec.get("name"), str(rec.get("type", "")).upper(), rec.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(name, str) or not _NAME.fullmatch(name):  # '$' alone lets a final newline through
            why = "the name is not @, * or a relative DNS name"
        elif rtype not in RECORD_TYPES:
            why = f"the type is not one of {', '.join(RECORD_TYPES)}"
        elif not isinstance(value, str):
            why = "the value is not a string"
        else:
            why = check_value(rtype, value)
        if why:
            raise ValueError(f"invalid record {rec!r}: {why}")
        out.append({"name": name, "type": rtype, "value": value})
    return out
