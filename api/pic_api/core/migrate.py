"""Bringing a cell state written by an older PIC up to the current schema version.

A restore may bring back a backup made before the schema changed. ``MIGRATIONS[n]`` turns a valid
version-``n`` state into a version-``n + 1`` one; whoever raises ``schema.SCHEMA_VERSION`` adds the
step from the version before. ``migrate`` applies the steps in order and refuses a state from a
newer PIC (update this cell first) or a version no step leads from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from . import schema

__all__ = ["MIGRATIONS", "migrate"]

MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(state: Any) -> tuple[dict[str, Any], list[int]]:
    """``(the state at the current schema version, the versions it was migrated from)``.

    Raises ``schema.StateError`` naming ``version`` when the state cannot be brought up to date.
    """
    if not isinstance(state, dict):
        raise schema.StateError({"": "the cell state must be a mapping"})
    version = state.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise schema.StateError({"version": "version must be a whole number from 1"})
    if version > schema.SCHEMA_VERSION:
        raise schema.StateError(
            {"version": f"made by a newer PIC (schema version {version}; this cell knows up to "
                        f"{schema.SCHEMA_VERSION}): update this cell first"}
        )
    out, passed = copy.deepcopy(state), []
    while out["version"] < schema.SCHEMA_VERSION:
        step = MIGRATIONS.get(out["version"])
        if step is None:
            raise schema.StateError({"version": f"no migration from schema version {out['version']}"})
        passed.append(out["version"])
        out = step(out)
    return out, passed
