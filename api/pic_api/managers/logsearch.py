"""Search the API's own JSON logs and the journals of the cell's services."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..agent import actions
from ..core.validators import ValidationError, check_count, check_safe_text
from .errors import InvalidInput
from .health import SERVICE_CHECKS

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SOURCES = ("api",) + tuple(SERVICE_CHECKS)
MAX_LIMIT = 1000


class LogSearch:
    def __init__(
        self,
        log_file: Path | None,
        journal: Callable[[Iterable[str], int], list[dict[str, Any]]] | None = None,
    ):
        self.log_file = log_file
        # without a reader: journalctl in this process, only where no agent is used (tests, the CLI)
        self.journal = journal or actions.journal

    @staticmethod
    def validate(args: dict[str, str]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        out: dict[str, Any] = {"q": "", "source": "api", "level": None, "limit": 100}
        for key in args:
            if key not in ("q", "source", "level", "limit"):
                errors[key] = "unknown parameter"
        if args.get("q"):
            try:
                out["q"] = check_safe_text(args["q"], "q", 200)
            except ValidationError as exc:
                errors["q"] = str(exc)
        if "source" in args:
            if args["source"] not in SOURCES:
                errors["source"] = f"source must be one of: {', '.join(SOURCES)}"
            out["source"] = args["source"]
        if "level" in args:
            if args["level"].upper() not in LEVELS:
                errors["level"] = f"level must be one of: {', '.join(LEVELS)}"
            out["level"] = args["level"].upper()
        if "limit" in args:
            try:
                out["limit"] = check_count(args["limit"], 1, MAX_LIMIT, "limit")
            except ValidationError as exc:
                errors["limit"] = str(exc)
        if errors:
            raise InvalidInput("invalid log search", errors)
        return out

    def _api_entries(self) -> list[dict[str, Any]]:
        if not self.log_file:
            return []
        files = [Path(f"{self.log_file}.{i}") for i in range(5, 0, -1)] + [Path(self.log_file)]
        entries = []
        for path in files:
            if not path.is_file():
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(e, dict):
                        entries.append(e)
        return entries

    def search(self, args: dict[str, str]) -> dict[str, Any]:
        p = self.validate(args)
        if p["source"] == "api":
            entries = self._api_entries()
        else:
            entries = self.journal(SERVICE_CHECKS[p["source"]][0], 5000)
        q = p["q"].lower()
        level_min = LEVELS.index(p["level"]) if p["level"] else 0
        found = []
        for e in entries:
            level = e.get("level", "INFO")
            if level not in LEVELS or LEVELS.index(level) < level_min:
                continue
            if q and q not in str(e.get("message", "")).lower():
                continue
            found.append(e)
        return {"source": p["source"], "entries": found[-p["limit"] :]}
