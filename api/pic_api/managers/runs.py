"""Converge runs: the run model and the queue.

One run at a time; later runs wait in a FIFO queue. Every event is scrubbed of secrets, persisted
as one JSON line in ``<run_dir>/<id>/events.jsonl`` and fanned out to live subscribers (SSE).
The backend that really executes a run is injectable (``ansible_backend``, the agent's, or a fake
in tests), so tests need no host.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from ..core.redact import scrub
from .errors import Conflict, NotFound
from .events import trim_event
from .files import write_atomic

log = logging.getLogger("pic.runner")

STATUSES = ("pending", "running", "successful", "failed", "canceled")
FINAL = ("successful", "failed", "canceled")
_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")


class RunFailed(Exception):
    """A backend could not carry out a run; the message says why (shown as the run's error)."""


def new_run_id() -> str:
    """A run's id: its start time and 8 random hex digits (the agent accepts only this form)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Backend(Protocol):
    def execute(self, run: Run, emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool]) -> str:
        """Run ``run``; call ``emit`` for each raw event; return the final status (one of FINAL)."""


Emit = Callable[[dict[str, Any]], None]
# A run that is not a converge (a backup, a check, a restore): it does its work through the agent
# itself, in the same queue, and returns its final status (one of FINAL) or raises RunFailed.
Job = Callable[["Run", Emit, Callable[[], bool]], str]


class Run:
    def __init__(
        self,
        run_id: str,
        kind: str,
        tags: list[str],
        check: bool,
        description: str,
        extravars: dict[str, Any] | None = None,
        state_version: int | None = None,
    ):
        self.id = run_id
        self.kind = kind
        self.tags = list(tags)
        self.check = check
        self.description = description
        self.extravars = dict(extravars or {})
        self.state_version = state_version
        self.status = "pending"
        self.created_at = _now()
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.error: str | None = None
        self.cleanup: list[Path] = []
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.cancel_requested = False
        self.job: Job | None = None
        # a failed change's automatic undo: the undo run's id on the failed run, the failed run's id
        # on the undo run; ``undo`` False keeps a failed state for repair (ChangeManager.after_run)
        self.undo = True
        self.undo_of: str | None = None
        self.undone_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "tags": self.tags,
            "check": self.check,
            "description": self.description,
            "state_version": self.state_version,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "undo_of": self.undo_of,
            "undone_by": self.undone_by,
        }

    @property
    def done(self) -> bool:
        return self.status in FINAL


class RunManager:
    def __init__(self, run_dir: Path, backend: Backend | None, recover: bool = True):
        """``recover``: this process runs the cell's converges (the API), so runs a previous one left
        unfinished are dead. A process that runs none (the CLI) must leave the API's runs alone."""
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self._runs: dict[str, Run] = {}  # runs of this process that are not finished
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        # called with each run and its final status before that status is published, in the worker
        # (a failed change undoes itself there); a hook may set the run's error
        self.before_finish: list[Callable[[Run, str], None]] = []
        if recover:
            self._recover()

    # persistence ---------------------------------------------------------------------------
    def _dir(self, run_id: str) -> Path:
        if not _ID_RE.match(run_id):
            raise NotFound(f"no run {run_id!r}")
        return self.run_dir / run_id

    def save(self, run: Run) -> None:
        """Write a run's record again (a job that changed its tags or state version)."""
        self._save(run)

    def _save(self, run: Run) -> None:
        write_atomic(self._dir(run.id) / "run.json", json.dumps(run.to_dict(), indent=1) + "\n", 0o600)

    def _recover(self) -> None:
        """Runs left pending or running by a previous process can never finish: mark them failed."""
        for path in self.run_dir.glob("*/run.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if data.get("status") in ("pending", "running"):
                data["status"] = "failed"
                data["error"] = "interrupted: the API stopped while this run was queued or running"
                data["finished_at"] = _now()
                write_atomic(path, json.dumps(data, indent=1) + "\n", 0o600)

    # submitting ----------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        tags: list[str],
        check: bool = False,
        description: str = "",
        extravars: dict[str, Any] | None = None,
        state_version: int | None = None,
        cleanup: list[Path] | None = None,
        job: Job | None = None,
        undo: bool = True,
        undo_of: str | None = None,
    ) -> Run:
        """Queue a run: a converge (or preview) by the backend, or ``job``'s work (``kind`` says which).
        ``undo`` False: a failed converge is not undone; ``undo_of``: the failed run this one undoes.
        Either keeps the run its own: a converge otherwise joins one queued before it."""
        if undo and not undo_of and kind == "converge" and job is None and not check and not extravars and not cleanup:
            joined = self._join_pending(tags, description, state_version)
            if joined is not None:
                return joined
        run_id = new_run_id()
        run = Run(run_id, kind, tags, check, description, extravars, state_version)
        run.cleanup = list(cleanup or [])
        run.job = job
        run.undo, run.undo_of = undo, undo_of
        self._dir(run_id).mkdir(parents=True, mode=0o700)
        (self._dir(run_id) / "events.jsonl").touch(mode=0o600)
        self._save(run)
        with self._lock:
            self._runs[run_id] = run
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="pic-runner", daemon=True)
                self._worker.start()
        self._queue.put(run_id)
        log.info(
            "run %s queued: %s (%s%s)",
            run_id,
            description,
            f"tags {','.join(tags) or 'all'}" if job is None else kind,
            ", check mode" if check else "",
        )
        return run

    def _join_pending(self, tags: list[str], description: str, state_version: int | None) -> Run | None:
        """A converge queued behind another converge that has not started yet joins it: that run reads
        the state on disk when it starts, so it makes this change too. A burst of changes (500 peers
        added by a script) then costs one converge after the running one, not one each."""
        with self._lock:
            pending = [
                r for r in self._runs.values()
                if r.status == "pending" and r.kind == "converge" and not r.check and not r.extravars
                and not r.cleanup and not r.cancel_requested and r.undo and not r.undo_of
            ]
            if not pending:
                return None
            run = pending[-1]
            if not run.tags or not tags:
                run.tags = []  # the whole site
            else:
                merged = list(dict.fromkeys(run.tags + tags))
                run.tags = [t for t in merged if t != "always"] or ["always"]
            joined = f"{run.description}; {description}"
            run.description = joined if len(joined) <= 300 else joined[:299] + "…"
            if state_version is not None:
                run.state_version = max(run.state_version or 0, state_version)
            self._save(run)
        log.info("%s joins the queued run %s (tags %s)", description, run.id, ",".join(run.tags) or "all")
        return run

    def new_run_path(self, name: str) -> Path:
        """A private scratch file for a run being prepared (e.g. a proposed state for a preview)."""
        scratch = self.run_dir / ".scratch"
        scratch.mkdir(mode=0o700, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=name + ".", dir=scratch)
        os.close(fd)
        return Path(path)

    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            run = self._runs.get(run_id)
            if run is None or run.done:
                continue
            try:
                self._execute(run)
            except RunFailed as exc:
                log.warning("run %s failed: %s", run_id, exc)
                run.error = str(exc)
                self._conclude(run, "failed")
            except Exception:  # keep the worker alive whatever a backend does
                log.exception("run %s crashed", run_id)
                self._finish(run, "failed", "internal error while running; see the API log")

    def _execute(self, run: Run) -> None:
        with self._lock:  # from here on no change joins it (_join_pending)
            run.status, run.started_at = "running", _now()
        self._save(run)
        self._publish(run, {"event": "pic_run_status", "status": "running", "created": run.started_at})
        if run.job is not None:  # its events come from the agent, trimmed there: scrubbed once more here
            status = run.job(run, lambda raw: self._publish(run, scrub(raw)), lambda: run.cancel_requested)
        elif self.backend is None:
            self._finish(run, "failed", "no runner is configured")
            return
        else:
            status = self.converge_in(run, lambda event: self._publish(run, event), lambda: run.cancel_requested)
        if status not in FINAL:
            status = "failed"
        if run.cancel_requested and status != "successful":
            status = "canceled"
        self._conclude(run, status)

    def _conclude(self, run: Run, status: str) -> None:
        """The hooks, then the run's end with its error (a backend or a hook may say why)."""
        for hook in self.before_finish:
            try:
                hook(run, status)
            except Exception:  # a hook's failure must not leave the run unfinished
                log.exception("after run %s: a hook failed", run.id)
        self._finish(run, status, run.error)

    def converge_in(self, run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
        """The backend's converge for ``run`` (a run of its own, or a step of a job such as a store
        install): its events trimmed, unless the backend (the agent) trims them itself, and scrubbed."""
        if self.backend is None:
            raise RunFailed("no runner is configured")
        trim = scrub if getattr(self.backend, "emits_trimmed", False) else trim_event
        return self.backend.execute(run, lambda raw: emit(trim(raw)), should_cancel)

    def _finish(self, run: Run, status: str, error: str | None = None) -> None:
        for path in run.cleanup:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        with run.cond:  # status and final event together, so a follower never sees one without the other
            run.status, run.finished_at, run.error = status, _now(), error
            self._save(run)
            final = {"event": "pic_run_status", "status": status, "created": run.finished_at}
            if error:
                final["error"] = error
            self._publish(run, final)
        with self._lock:
            self._runs.pop(run.id, None)
        log.info("run %s %s", run.id, status)

    def _publish(self, run: Run, event: dict[str, Any]) -> None:
        with run.cond:
            event = {"seq": len(run.events), "run_id": run.id, **event}
            run.events.append(event)
            with open(self._dir(run.id) / "events.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            run.cond.notify_all()

    # reading -------------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run:
            return run.to_dict()
        path = self._dir(run_id) / "run.json"
        if not path.is_file():
            raise NotFound(f"no run {run_id!r}")
        data = json.loads(path.read_text())
        for key in ("undo_of", "undone_by"):  # records written before runs could be undone
            data.setdefault(key, None)
        return data

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.run_dir.glob("*/run.json"), reverse=True)[:limit]:
            try:
                out.append(self.get(path.parent.name))
            except (NotFound, ValueError, OSError):
                continue
        return out

    def cancel(self, run_id: str) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run is None:
            info = self.get(run_id)  # raises NotFound
            raise Conflict(f"run {run_id} is already {info['status']}")
        run.cancel_requested = True
        if run.status == "pending":
            self._finish(run, "canceled")
        log.info("run %s: cancel requested", run_id)
        return run.to_dict()

    def events(self, run_id: str, start: int = 0, keepalive: float = 15.0) -> Iterator[dict[str, Any] | None]:
        """Every event of a run from ``start`` on, then live ones until the run ends.

        Yields ``None`` every ``keepalive`` seconds without news (for SSE comments).
        """
        run = self._runs.get(run_id)
        if run is None:
            path = self._dir(run_id) / "events.jsonl"
            if not path.is_file():
                raise NotFound(f"no run {run_id!r}")
            run = self._runs.get(run_id)  # it may have started meanwhile
            if run is None:
                return self._replay(path, start)
        return self._follow(run, start, keepalive)

    @staticmethod
    def _replay(path: Path, start: int) -> Iterator[dict[str, Any]]:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= start and line.strip():
                    yield json.loads(line)

    @staticmethod
    def _follow(run: Run, start: int, keepalive: float) -> Iterator[dict[str, Any] | None]:
        index = start
        while True:
            with run.cond:
                if index >= len(run.events) and not run.done:
                    run.cond.wait(keepalive)
                batch = run.events[index:]
                finished = run.done
            index += len(batch)
            if not batch and not finished:
                yield None
            yield from batch
            if finished and index >= len(run.events):
                return

    def wait(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Block until a run finishes (for the CLI and tests)."""
        run = self._runs.get(run_id)
        if run:
            with run.cond:
                run.cond.wait_for(lambda: run.done, timeout)
        return self.get(run_id)
