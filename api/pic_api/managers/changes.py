"""A change to the cell: a state change plus a converge of the roles it touches (or a preview)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from ..core import schema
from ..core.roles import CellRoles
from .errors import InvalidInput, NotFound
from .files import write_atomic
from .runs import Run, RunManager
from .state import StateManager

log = logging.getLogger("pic.changes")


class ChangeManager:
    def __init__(self, state: StateManager, runs: RunManager, roles: CellRoles, skip: Iterable[str] = ()):
        self.state = state
        self.runs = runs
        self.roles = roles
        self.skip = frozenset(skip)  # roles the API's runs never converge (config.skip_tags)
        runs.before_finish.append(self.after_run)

    def tags_for(self, old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
        """The tags of the run of a change: the roles whose inputs changed ([] for all of them)."""
        tags = [r for r in self.roles.roles_for_diff(old, new) if r not in self.skip]
        if tags == [r for r in self.roles.order if r not in self.skip]:
            return []  # the whole site
        # nothing a role reads changed: still load and validate the state (tagged 'always')
        return tags or ["always"]

    def apply(
        self,
        change: Callable[[dict[str, Any]], Any],
        description: str,
        request: schema.Request | None = None,
        before_run: Callable[[Any], None] | None = None,
        entry: str | None = None,
    ) -> tuple[Run, Any]:
        """Save the changed state as a new version and queue its converge.

        A refused state names its fields as ``request`` did ('network.upstream_dns[1]' -> 'upstream_dns[1]');
        with ``entry`` ('users[2]') only that list entry's errors are the request's.
        ``before_run`` is called with the change's result once the state is saved and before the
        converge is queued (a peer is applied to the running cell there)."""
        try:
            old, new, version, result = self.state.update(change)
        except InvalidInput as exc:
            fields = request.request_fields(exc.fields, entry) if request else exc.fields
            raise InvalidInput(exc.message, fields) from exc
        if before_run is not None:
            before_run(result)
        run = self.runs.submit("converge", self.tags_for(old, new), description=description, state_version=version)
        return run, result

    def preview(
        self,
        change: Callable[[dict[str, Any]], Any],
        description: str,
        request: schema.Request | None = None,
        entry: str | None = None,
    ) -> tuple[Run, Any]:
        """Queue a check-mode run (with diffs) of the changed state, without saving it. The same
        ``change``, ``request`` and ``entry`` as ``apply`` refuse the same input with the same fields."""
        old = self.state.load()
        new = copy.deepcopy(old)
        result = change(new)
        try:
            schema.validate_state(new)
        except schema.StateError as exc:
            fields = request.request_fields(exc.fields, entry) if request else exc.fields
            raise InvalidInput("the change does not give a valid cell state", fields) from exc
        return self._check_run(old, new, description), result

    def apply_or_preview(
        self,
        preview: bool,
        change: Callable[[dict[str, Any]], Any],
        description: str,
        request: schema.Request | None = None,
        entry: str | None = None,
        before_run: Callable[[Any], None] | None = None,
    ) -> tuple[Run, Any]:
        """``apply`` the change, or with ``preview`` queue its check-mode run and save nothing (and
        call no ``before_run``: a preview changes nothing on the running cell either)."""
        if preview:
            return self.preview(change, description, request, entry)
        return self.apply(change, description, request, before_run=before_run, entry=entry)

    def _check_run(self, old: dict[str, Any], new: dict[str, Any], description: str) -> Run:
        """Queue a check-mode run (with diffs) of a valid state ``new`` against ``old``."""
        path = self.runs.new_run_path("proposed-state")
        write_atomic(path, yaml.safe_dump(new, sort_keys=False), 0o600)
        run = self.runs.submit(
            "preview",
            self.tags_for(old, new),
            check=True,
            description=f"preview: {description}",
            extravars={"pic_state_file": str(path)},
            cleanup=[path],
        )
        return run

    def converge(self, description: str, tags: list[str] | None = None, version: int | None = None) -> Run:
        return self.runs.submit("converge", tags or [], description=description, state_version=version)

    def rollback(self, number: int, undo: bool = True, preview: bool = False) -> Run:
        """Write version ``number`` again as the newest and converge it; with ``preview``, a
        check-mode run of that version that saves nothing. ``undo`` False: if the converge fails,
        the failed state stays (kept for repair) instead of being undone."""
        if preview:
            problem = self.state.version_problem(number)
            if problem:
                if "does not exist" in problem:
                    raise NotFound(problem)
                raise InvalidInput(f"cannot roll back: {problem}")
            old = self.state.load()
            new = schema.apply_defaults(self.state.get_version(number))
            return self._check_run(old, new, f"roll back to state version {number}")
        old, new, version = self.state.rollback(number)
        run = self.runs.submit(
            "converge",
            self.tags_for(old, new),
            description=f"roll back to state version {number}" + ("" if undo else " (kept if it fails)"),
            state_version=version,
            undo=undo,
        )
        return run

    # A failed change undoes itself -------------------------------------------------------------
    def after_run(self, run: Run, status: str) -> None:
        """Before a converge's end is published: a success records its state version as converged;
        a failed change's state goes back to the newest converged version, which converges again
        (one undo run; an undo that fails is not undone again). Nothing is undone when a newer
        change was saved meanwhile (it is queued and converges the newest state anyway), nor when no
        version ever converged (a first setup that fails stays for its retry)."""
        if run.kind != "converge" or run.check or run.job is not None:
            return
        if status == "successful":
            version = run.state_version or (self.state.current_version() if not run.tags else None)
            if version:
                self.state.mark_converged(version)
            return
        if status != "failed" or run.state_version is None or not run.undo or run.undo_of:
            return
        good = self.state.converged_version()
        if good is None or good >= run.state_version:
            return
        if self.state.current_version() != run.state_version:
            run.error = _join(run.error, "not undone: a newer change follows it")
            return
        old, new, version = self.state.rollback(good)
        undo = self.runs.submit(
            "converge",
            self.tags_for(old, new),
            description=f"undo: back to state version {good} after run {run.id} failed",
            state_version=version,
            undo_of=run.id,
        )
        run.undone_by = undo.id
        run.error = _join(run.error, f"undone: the cell goes back to state version {good} (run {undo.id})")
        log.warning("run %s failed: state version %d undone by run %s (back to version %d)",
                    run.id, run.state_version, undo.id, good)


def _join(error: str | None, note: str) -> str:
    return f"{error}; {note}" if error else note
