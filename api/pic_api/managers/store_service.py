"""The service store as the API sees it (user pic, no engine): the state's ``store`` section, and runs
that ask the engine (the agent's store actions) to install, upgrade or remove an app and then record
it in the state and converge the roles that publish it (docs/architecture.md, "The service store").

Why a record in the state and a converge, not a typed route action: an app's name must be in the
cell's DNS (dnsmasq or coredns) and on its certificate (ca) before Caddy can serve it, and its
openings belong in the firewall; those roles already derive everything from the state, so an app
is one more state change, converged like any other, and `ansible-playbook site.yml` publishes
exactly the apps the state lists.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from ..agent.protocol import AgentError
from ..core import schema
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, ManagerError, NotFound, Unavailable, checked
from .runs import Run, RunFailed
from .store import app_record

Emit = Callable[[dict[str, Any]], None]


class Engine(Protocol):
    """The agent's client, or the same actions in this process (``store.LocalEngine``)."""

    def call(self, action: str, on_event: Emit | None = None, idle: Callable[[], None] | None = None,
             **args: Any) -> dict[str, Any]: ...


_ERRORS = {404: NotFound, 409: Conflict}


def _path_value(type_name: str, value: str, field: str) -> str:
    """A value from the URL's path, checked by its schema type: a 400 naming ``field``."""
    try:
        return schema.check_def(type_name, value, field)
    except ValueError as exc:
        raise InvalidInput(str(exc), {field: str(exc)}) from None


class StoreService:
    def __init__(self, changes: ChangeManager, engine: Engine | None):
        self.changes = changes
        self.engine = engine

    # calls to the engine ---------------------------------------------------------------------
    def _call(self, action: str, on_event: Emit | None = None, wait: bool = False, **args: Any) -> dict[str, Any]:
        """One store action; a refusal becomes the API's error with the same status and fields."""
        if self.engine is None:
            raise Unavailable("this API has no engine to drive (no agent is configured)")
        try:
            return self.engine.call(action, on_event=on_event, idle=(lambda: None) if wait else None, **args)
        except AgentError as exc:
            raise _ERRORS.get(exc.status, InvalidInput)(exc.message, exc.fields) from None

    def _job_call(self, action: str, emit: Emit, **args: Any) -> dict[str, Any]:
        try:
            return self._call(action, on_event=emit, wait=True, **args)
        except ManagerError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            raise RunFailed(exc.message + (f" ({detail})" if detail else "")) from None

    def _store(self) -> dict[str, Any]:
        return self.changes.state.load()["store"]

    def _require_enabled(self) -> dict[str, Any]:
        store = self._store()
        if not store["enabled"]:
            raise Conflict("the store is off: turn it on first", {"enabled": "the store is off"})
        return store

    # the store's settings and its page -------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        """The state's store section and, when it is on, the index with what the engine runs."""
        store = self._store()
        out: dict[str, Any] = {"enabled": store["enabled"], "index": store["index"], "installed": store["apps"],
                               "apps": [], "error": None}
        if store["enabled"]:
            try:
                out["apps"] = self._call("store_catalog")["apps"]
            except ManagerError as exc:
                out["error"] = exc.message
        return out

    def update(self, body: Any, preview: bool = False) -> Run:
        """Turn the store on or off, or point it at another index: converges the store role (with
        ``preview``, its check-mode run, nothing saved)."""
        data = checked(schema.STORE_SETTINGS, body)
        run, _ = self.changes.apply_or_preview(preview, lambda state: schema.STORE_SETTINGS.patch(state, data),
                                               "change the store settings: " + ", ".join(sorted(data)),
                                               schema.STORE_SETTINGS)
        return run

    # install, upgrade, remove ----------------------------------------------------------------
    def _check_record(self, state: dict[str, Any], record: dict[str, Any]) -> None:
        """The state with this app recorded must be valid (its names and openings free): a 409 naming the
        manifest's field ('routes[0].host'), before anything changes."""
        candidate = copy.deepcopy(state)
        apps = [a for a in candidate["store"]["apps"] if a["id"] != record["id"]]
        candidate["store"]["apps"] = [*apps, record]
        try:
            schema.validate_state(candidate)
        except schema.StateError as exc:
            mine = f"store.apps[{len(apps)}]."
            fields = {(k.removeprefix(mine) if k.startswith(mine) else k): v for k, v in exc.fields.items()}
            detail = "; ".join(f"{k}: {v}" for k, v in fields.items())
            raise Conflict(f"{record['id']} {record['version']} does not fit this cell: {detail}", fields) from None

    def _record(self, record: dict[str, Any] | None, app_id: str) -> Callable[[dict[str, Any]], None]:
        def change(state: dict[str, Any]) -> None:
            apps = [a for a in state["store"]["apps"] if a["id"] != app_id]
            state["store"]["apps"] = [*apps, record] if record is not None else apps

        return change

    def _converge(self, run: Run, change: Callable[[dict[str, Any]], None], emit: Emit,
                  should_cancel: Callable[[], bool]) -> str:
        """Record the change as a state version, then converge the roles it touches within this run."""
        old, new, version, _ = self.changes.state.update(change)
        run.tags, run.state_version = self.changes.tags_for(old, new), version
        self.changes.runs.save(run)
        return self.changes.runs.converge_in(run, emit, should_cancel)

    def install(self, body: Any) -> Run:
        app_id, manifest = self._installable(body)
        version = manifest["version"]

        def job(run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
            result = self._job_call("store_install", emit, app=app_id, version=version)
            try:
                return self._converge(run, self._record(result["app"], app_id), emit, should_cancel)
            except InvalidInput as exc:  # another change took a name meanwhile: undo the container
                self._job_call("store_remove", emit, app=app_id, purge=False)
                raise RunFailed(f"{app_id} cannot be recorded: {exc.message} {exc.fields}") from None

        return self.changes.runs.submit("store", [], description=f"install {app_id} {version}", job=job)

    def _installable(self, body: Any) -> tuple[str, dict[str, Any]]:
        """The app an install request names and its manifest, refused as its 400/404/409 before anything runs."""
        data = checked(schema.STORE_INSTALL, body)
        app_id = data["app"]
        self._require_enabled()
        state = self.changes.state.load()
        if any(a["id"] == app_id for a in state["store"]["apps"]):
            raise Conflict(f"{app_id} is installed already", {"app": "installed already"})
        manifest = self._call("store_manifest", app=app_id, version=data.get("version"))["manifest"]
        self._check_record(state, app_record(manifest))
        return app_id, manifest

    # previews: what an install or a removal would do, nothing pulled, started or removed -----------
    def preview_install(self, body: Any) -> tuple[Run, dict[str, Any]]:
        """The engine's plan of the install (image, ports, memory and whether it fits, data found) and
        the check-mode run of the state with the app recorded (its route, names and openings)."""
        app_id, manifest = self._installable(body)
        plan = self._call("store_plan_install", app=app_id, version=manifest["version"])["plan"]
        run, _ = self.changes.preview(self._record(app_record(manifest), app_id),
                                      f"install {app_id} {manifest['version']}")
        return run, plan

    def preview_remove(self, app_id: str, purge: bool) -> tuple[Run | None, dict[str, Any]]:
        """The engine's plan of the removal (container, volumes, data kept or purged) and, for a recorded
        app, the check-mode run of the state without it (None: only leftover data, the state stays)."""
        app_id, recorded = self._removable(app_id, purge)
        plan = self._call("store_plan_remove", app=app_id, purge=purge)["plan"]
        if not recorded:
            return None, plan
        run, _ = self.changes.preview(self._record(None, app_id), f"remove {app_id}")
        return run, plan

    def upgrade(self, app_id: str, body: Any) -> Run:
        data = checked(schema.STORE_UPGRADE, body)
        app_id = _path_value("Label", app_id, "app")
        self._require_enabled()
        state = self.changes.state.load()
        current = next((a for a in state["store"]["apps"] if a["id"] == app_id), None)
        if current is None:
            raise NotFound(f"{app_id} is not installed", {"app": "not installed"})
        manifest = self._call("store_manifest", app=app_id, version=data.get("version"))["manifest"]
        if manifest["version"] == current["version"]:
            raise Conflict(f"{app_id} {current['version']} is installed already", {"version": "installed already"})
        self._check_record(state, app_record(manifest))
        version = manifest["version"]

        def job(run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
            # a version that does not come up is rolled back by the engine: the run fails, the state stays
            result = self._job_call("store_upgrade", emit, app=app_id, version=version)
            return self._converge(run, self._record(result["app"], app_id), emit, should_cancel)

        return self.changes.runs.submit(
            "store", [], description=f"upgrade {app_id} {current['version']} to {version}", job=job
        )

    def repair(self, app_id: str) -> Run:
        """Install a recorded app again over its data (after a restore it could not come back in, or a
        broken container): the engine's repair; the state and the routes stay as they are."""
        app_id = _path_value("Label", app_id, "app")
        self._require_enabled()
        current = next((a for a in self._store()["apps"] if a["id"] == app_id), None)
        if current is None:
            raise NotFound(f"{app_id} is not installed", {"app": "not installed"})

        def job(run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
            self._job_call("store_repair", emit, app=app_id, version=current["version"])
            return "successful"

        return self.changes.runs.submit("store", [], description=f"repair {app_id} (its data kept)", job=job)

    def _removable(self, app_id: str, purge: bool) -> tuple[str, bool]:
        """The app a removal names and whether the state records it; a 404 for neither recorded nor purged."""
        app_id = _path_value("Label", app_id, "app")
        recorded = any(a["id"] == app_id for a in self._store()["apps"])
        if not recorded and not purge:
            raise NotFound(f"{app_id} is not installed", {"app": "not installed"})
        return app_id, recorded

    def remove(self, app_id: str, purge: bool) -> Run:
        app_id, recorded = self._removable(app_id, purge)

        def job(run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
            try:
                self._job_call("store_remove", emit, app=app_id, purge=purge)
            except RunFailed:
                if not recorded:
                    raise
                # no container left to remove (removed by hand): the record and route go all the same
            if not recorded:
                return "successful"
            return self._converge(run, self._record(None, app_id), emit, should_cancel)

        what = "purge" if purge else "remove"
        return self.changes.runs.submit(
            "store", [], description=f"{what} {app_id}" + ("" if purge else " (its data kept)"), job=job
        )


    # the container manager -------------------------------------------------------------------
    def containers(self) -> dict[str, Any]:
        if not self._store()["enabled"]:
            return {"enabled": False, "containers": [], "volumes": []}
        return {"enabled": True, "containers": self._call("containers")["containers"],
                "volumes": self._call("volumes")["volumes"]}

    def container_action(self, name: str, action: str) -> dict[str, Any]:
        self._require_enabled()
        if action not in ("start", "stop", "restart"):
            raise NotFound(f"no action {action!r}; one of start, stop, restart", {"action": "not an action"})
        name = _path_value("ContainerName", name, "name")
        return self._call("container_action", wait=True, name=name, operation=action)

    def logs(self, name: str, lines: int) -> dict[str, Any]:
        self._require_enabled()
        return self._call("container_logs", name=_path_value("ContainerName", name, "name"), lines=lines)

    def inspect(self, name: str) -> dict[str, Any]:
        self._require_enabled()
        return self._call("container_inspect", name=_path_value("ContainerName", name, "name"))

    def pull(self, body: Any) -> Run:
        data = checked(schema.IMAGE_PULL, body)
        self._require_enabled()
        reference = data["reference"]

        def job(run: Run, emit: Emit, should_cancel: Callable[[], bool]) -> str:
            self._job_call("image_pull", emit, reference=reference)
            return "successful"

        return self.changes.runs.submit("store", [], description=f"pull {reference}", job=job)

