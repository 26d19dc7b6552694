"""JSON logs with rotation (5 MB x 5) and per-area verbosity."""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import threading
import time
from pathlib import Path

from .core.redact import redact_text

ROOT = "pic"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key in ("run_id", "user", "remote", "path", "status"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def parse_levels(spec: str) -> dict[str, str]:
    """'runner=DEBUG,auth=warning' -> {'pic.runner': 'DEBUG', 'pic.auth': 'WARNING'}; refuses bad levels."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, level = part.partition("=")
        level = level.strip().upper()
        if not name.strip() or level not in logging.getLevelNamesMapping():
            raise ValueError(f"bad log level setting: {part!r}")
        out[f"{ROOT}.{name.strip()}"] = level
    return out


def setup_logging(log_file: Path | None, level: str = "INFO", levels: str = "") -> logging.Logger:
    """Configure the ``pic`` logger tree: JSON lines to a rotating file (and stderr when no file)."""
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    for name, lvl in parse_levels(levels).items():
        logging.getLogger(name).setLevel(lvl)
    return logger


def set_api_verbose(verbose: bool, level: str = "INFO") -> None:
    """The API's own loggers at DEBUG (the Logs page's verbose api) or back at ``level``, at once."""
    logging.getLogger(ROOT).setLevel("DEBUG" if verbose else level.upper())


class Throttle:
    """Lets one event per key through every ``interval`` seconds and counts the ones held back."""

    def __init__(self, interval: float, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: object) -> tuple[bool, int]:
        """(whether to let this one through, how many were held back since the last one let through)"""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False, 0
            if len(self._last) > 1000:  # bounded: forget the oldest keys
                for old in sorted(self._last, key=self._last.__getitem__)[:500]:
                    self._last.pop(old, None)
                    self._held.pop(old, None)
            self._last[key] = now
            return True, self._held.pop(key, 0)
