"""DNS zone serial numbers in the YYYYMMDDnn convention."""

from __future__ import annotations

import datetime as _dt

__all__ = ["next_serial", "MAX_SERIAL"]

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
