"""The cell state: one YAML file, schema-validated, written atomically, every version kept."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..core import schema, validators
from .errors import InvalidInput, NotFound, Unavailable
from .files import write_atomic

log = logging.getLogger("pic.state")
_VERSION_RE = re.compile(r"^cell-([0-9]+)\.yml$")


# libyaml's parser when PyYAML has it: the same data, read six times faster (a state of 500 peers:
# 0.1 s instead of 0.6 s, on every change).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter, likewise


def _dump(state: dict[str, Any]) -> str:
    return yaml.dump(state, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


def changed_paths(old: Any, new: Any, prefix: str = "", depth: int = 2) -> list[str]:
    """Where two states differ, as dotted paths at most ``depth`` keys deep ('cell.timezone',
    'users'); lists count as one value."""
    if old == new:
        return []
    if depth == 0 or not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix] if prefix else []
    out: list[str] = []
    for key in list(old) + [k for k in new if k not in old]:
        path = f"{prefix}.{key}" if prefix else str(key)
        out += changed_paths(old.get(key), new.get(key), path, depth - 1)
    return out


def _load_problem(what: str, load: Callable[[], Any]) -> str | None:
    """Run ``load`` and say in one line why it failed, or None when it did not."""
    try:
        load()
    except schema.StateError as exc:
        return f"{what} is not a valid cell state: {exc}"
    except yaml.YAMLError as exc:
        return f"{what} is not YAML: {' '.join(str(exc).split())}"
    except OSError as exc:
        return f"{what} cannot be read: {exc.strerror}"
    return None


class StateManager:
    def __init__(self, state_file: Path, versions_dir: Path, seed_file: Path | None = None):
        self.state_file = Path(state_file)
        self.versions_dir = Path(versions_dir)
        self.seed_file = Path(seed_file) if seed_file else None
        self._lock = threading.RLock()
        self._cache: tuple[tuple[int, int], dict[str, Any]] | None = None
        # called with each state just saved, under the state lock (the API logins follow the users)
        self.on_save: list[Callable[[dict[str, Any]], None]] = []

    # reading -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.state_file.is_file()

    def load(self) -> dict[str, Any]:
        """The current state with defaults applied; a not-yet-set-up default when there is none."""
        with self._lock:
            return copy.deepcopy(self._current())

    def section(self, key: str) -> Any:
        """One part of the current state (``users``, ``services``, ...): a copy of that part only,
        for readers on every request that need not copy a state of hundreds of peers."""
        with self._lock:
            return copy.deepcopy(self._current()[key])

    def _current(self) -> dict[str, Any]:
        """The current state, validated, from the cache while the file is unchanged; under the lock."""
        if not self.exists():
            return schema.apply_defaults(self.seed())
        st = self.state_file.stat()
        key = (st.st_mtime_ns, st.st_size)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        data = load_yaml(self.state_file.read_text()) or {}
        schema.validate_state(data)
        full = schema.apply_defaults(data)
        self._cache = (key, full)
        return full

    def seed(self) -> dict[str, Any]:
        """The state a wizard starts from: schema defaults, overlaid with the inventory's seed file."""
        base: dict[str, Any] = {
            "version": schema.SCHEMA_VERSION,
            "setup_completed": False,
            "cell": {"name": "mycell"},
        }
        if self.seed_file and self.seed_file.is_file():
            data = yaml.safe_load(self.seed_file.read_text()) or {}
            if isinstance(data, dict):
                for key in ("cell", "network", "services"):
                    if key in data:
                        base[key] = data[key]
                try:
                    schema.validate_state(base)
                except schema.StateError as exc:
                    log.warning("ignoring invalid seed file %s: %s", self.seed_file, exc)
                    base = {
                        "version": schema.SCHEMA_VERSION,
                        "setup_completed": False,
                        "cell": {"name": "mycell"},
                    }
        return base

    def problem(self) -> str | None:
        """Why the current state does not load, or None when it loads (or was never written)."""
        if not self.exists():
            if self.versions():
                return f"{self.state_file} is missing, but state versions exist in {self.versions_dir}"
            return None
        return _load_problem(str(self.state_file), self.load)

    def require_loadable(self) -> None:
        """Raise Unavailable (503) naming the problem and the repair commands when the state does not load."""
        problem = self.problem()
        if problem is None:
            return
        good = self.newest_good_version()
        repair = (
            f"run `pic state check`, then `pic state restore-version {good}` (the newest version that loads)"
            if good
            else f"run `pic state check`; no saved version loads: restore {self.state_file} from a backup"
        )
        raise Unavailable(f"the cell state does not load: {problem}. On the cell, {repair}.")

    def found_dhcp_servers(self) -> list[str]:
        """Other DHCP servers that answered on the LAN when the seed was written (the api role's
        probe): the wizard offers DHCP off when there is one."""
        if not (self.seed_file and self.seed_file.is_file()):
            return []
        data = yaml.safe_load(self.seed_file.read_text()) or {}
        found = data.get("lan_dhcp_servers", []) if isinstance(data, dict) else []
        return [x for x in found if isinstance(x, str) and validators.error_of(validators.check_ipv4, x) is None] \
            if isinstance(found, list) else []

    def setup_completed(self) -> bool:
        """Fail closed: the cell counts as set up when its state says so or any state version exists.

        Raises Unavailable when the state does not load."""
        self.require_loadable()
        return bool(self.load().get("setup_completed")) or bool(self.versions())

    # versions ------------------------------------------------------------------------------
    def versions(self) -> list[dict[str, Any]]:
        out = []
        if self.versions_dir.is_dir():
            for path in self.versions_dir.iterdir():
                m = _VERSION_RE.match(path.name)
                if m:
                    st = path.stat()
                    out.append(
                        {
                            "version": int(m.group(1)),
                            "saved_at": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).isoformat(),
                        }
                    )
        return sorted(out, key=lambda v: v["version"])

    def history(self) -> list[dict[str, Any]]:
        """Every version with what it changed against the one before it (paths, never values:
        a user's password hash is a secret). A version that does not load says so."""
        out, before = [], None
        for v in self.versions():
            try:
                # defaults filled in: an older version written without them changed nothing there
                data = schema.apply_defaults(self.get_version(v["version"]))
            except (OSError, yaml.YAMLError, ValueError, TypeError, AttributeError):
                out.append({**v, "changed": [], "problem": "does not load"})
                before = None
                continue
            out.append({**v, "changed": changed_paths(before, data) if before is not None else []})
            before = data
        return out

    def current_version(self) -> int:
        versions = self.versions()
        return versions[-1]["version"] if versions else 0

    def get_version(self, number: int) -> dict[str, Any]:
        path = self.versions_dir / f"cell-{number}.yml"
        if not path.is_file():
            raise NotFound(f"state version {number} does not exist")
        return load_yaml(path.read_text()) or {}

    def version_problem(self, number: int) -> str | None:
        """Why version ``number`` does not load (or does not exist), or None when it is a valid state."""
        if not (self.versions_dir / f"cell-{number}.yml").is_file():
            return f"state version {number} does not exist"
        return _load_problem(f"state version {number}", lambda: schema.validate_state(self.get_version(number)))

    # The newest version a converge carried out on the host: what a failed change goes back to.
    def _converged_file(self) -> Path:
        return self.versions_dir / "converged"

    def converged_version(self) -> int | None:
        try:
            return int(self._converged_file().read_text().strip())
        except (OSError, ValueError):
            return None

    def mark_converged(self, number: int) -> None:
        with self._lock:
            if number > (self.converged_version() or 0):
                write_atomic(self._converged_file(), f"{number}\n", 0o600)

    def newest_good_version(self) -> int | None:
        for v in reversed(self.versions()):
            if self.version_problem(v["version"]) is None:
                return v["version"]
        return None

    # writing -------------------------------------------------------------------------------
    def save(self, state: dict[str, Any]) -> int:
        """Validate and write ``state`` as the newest version; returns its version number."""
        try:
            schema.validate_state(state)
        except schema.StateError as exc:
            raise InvalidInput("the change does not give a valid cell state", exc.fields) from exc
        text = _dump(state)
        with self._lock:
            number = self.current_version() + 1
            write_atomic(self.versions_dir / f"cell-{number}.yml", text, 0o600)
            write_atomic(self.state_file, text, 0o600)
            # What was just validated and written is what the next load would read back.
            st = self.state_file.stat()
            self._cache = ((st.st_mtime_ns, st.st_size), schema.apply_defaults(state))
            for hook in self.on_save:
                hook(state)
        log.info("cell state version %d written", number)
        return number

    def update(self, change: Callable[[dict[str, Any]], Any]) -> tuple[dict, dict, int, Any]:
        """Load, apply ``change`` (which edits a copy in place), validate, save; all under one lock.

        Returns ``(old, new, version, result of change)``.
        """
        with self._lock:
            old = self.load()
            new = copy.deepcopy(old)
            result = change(new)
            version = self.save(new)
            return old, new, version, result

    def rollback(self, number: int) -> tuple[dict[str, Any], dict[str, Any], int]:
        """Write version ``number`` again as the newest version."""
        with self._lock:
            target = self.get_version(number)
            old = self.load()
            version = self.save(target)
            return old, schema.apply_defaults(target), version

    def restore_version(self, number: int) -> int:
        """Repair: write version ``number`` again as the newest version, whatever the current file holds."""
        with self._lock:
            problem = self.version_problem(number)
            if problem:
                raise InvalidInput(f"cannot restore: {problem}")
            return self.save(self.get_version(number))
