"""The service store and the container manager: apps from an index of manifests, run as containers
by the store's engine (podman's Docker-compatible socket) through the Docker SDK. No Flask import.

This runs as root, in the agent (its ``store_*`` and ``container_*`` actions), or in the calling
process when no agent is configured (tests). What it needs of the cell comes from the store role's
configuration file (``StoreConfig``). The API's side, which records installed apps in the cell
state and converges the roles that publish them (names, routes, openings), is ``StoreService`` in
managers/store_api.py.

Every app has one directory, ``<apps_dir>/<id>`` (docs/architecture.md, "The service store"):
``volumes/<name>`` (bound into the container; the app's data), ``secrets.json`` (0600, the
generated environment values), ``manifest.json`` (the manifest it runs, for a rollback) and
``snapshots/<version>-<time>`` (its volumes as they were before an upgrade). The directory is
the app's unit of backup; a remove keeps it unless purged, so a reinstall finds the data again.

An upgrade never loses data: the new image is pulled first (a failed pull changes nothing), the
app is stopped, its volumes are copied to a snapshot, and the new version must answer its health
check within the configured time; if it does not, its container is removed, the volumes are put
back from the snapshot, and the previous version runs again from its own manifest and image.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import socket
import string
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ..core import schema
from ..core.redact import scrub
from .errors import Conflict, ManagerError, NotFound
from .events import trim_event
from .files import write_atomic

log = logging.getLogger("pic.store")


class _Docker:
    """The Docker SDK, imported when the store first talks to its engine: it adds about 12 MiB to
    each process that loads it (the API and the agent), and the store is off by default."""

    def __getattr__(self, name: str) -> Any:
        import docker
        import docker.errors

        return getattr(docker, name)


docker = _Docker()

Emit = Callable[[dict[str, Any]], None]
LABEL_APP = "pic.app"
LABEL_VERSION = "pic.version"
INDEX_MAX_BYTES = 1024 * 1024
SECRET_ALPHABET = string.ascii_letters + string.digits
MASK = "********"
REMOVE_WAIT = 20  # seconds a container in a passing state may refuse its removal


class StoreError(ManagerError):
    """A store or container action was refused or failed; ``fields`` names what was wrong."""


@dataclasses.dataclass
class StoreConfig:
    """The store role's configuration file (roles/store/templates/store.yml.j2), every key required."""

    index: str
    apps_dir: Path
    socket: str
    health_timeout: int
    snapshots_kept: int
    limits: bool

    @classmethod
    def load(cls, path: Path) -> StoreConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise StoreError(
                "the store is not set up on this cell: turn it on (the Service Store page) and let the converge "
                "install its engine", {"enabled": "the store role has not run"}
            ) from None
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise StoreError(f"{path} is not a store configuration the store role wrote")
        data["apps_dir"] = Path(data["apps_dir"])
        return cls(**data)


# --- the index -------------------------------------------------------------------------------------
def fetch_index(location: str, timeout: float = 20.0) -> Any:
    """The parsed index (YAML or JSON) at an http(s) URL or a path; StoreError naming ``index``."""
    try:
        if location.startswith(("http://", "https://")):
            with urllib.request.urlopen(location, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
                raw = resp.read(INDEX_MAX_BYTES + 1)
        else:
            with open(location, "rb") as fh:
                raw = fh.read(INDEX_MAX_BYTES + 1)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise StoreError(f"the index at {location} cannot be read: {reason}", {"index": "cannot be read"}) from None
    if len(raw) > INDEX_MAX_BYTES:
        raise StoreError(f"the index at {location} is larger than {INDEX_MAX_BYTES} bytes", {"index": "too large"})
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise StoreError(f"the index at {location} is not YAML or JSON: {exc}", {"index": "not YAML or JSON"}) from None


def load_index(location: str) -> list[dict[str, Any]]:
    """Every manifest of the index, validated (a bad one refuses the index, naming its field)."""
    try:
        return schema.validate_index(fetch_index(location))
    except schema.StateError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(exc.fields.items())[:10])
        raise StoreError(f"the index at {location} is not valid: {detail}", exc.fields) from None


def version_key(version: str) -> tuple[Any, ...]:
    """Orders versions: numbers numerically, a release after its pre-releases (2.0-rc1 < 2.0)."""
    main, _, label = version.replace("+", "-").partition("-")
    return (tuple(int(p) for p in main.split(".")), label == "", label)


def app_record(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the cell state keeps of an installed app (DEFS["StoreApp"]): what the roles publish."""
    return {
        "id": manifest["id"],
        "version": manifest["version"],
        "routes": [dict(r) for r in manifest.get("routes", [])],
        "firewall": [dict(o) for o in manifest.get("firewall", [])],
    }


# --- checks of the host ----------------------------------------------------------------------------
def port_free(port: int, address: str = "127.0.0.1", proto: str = "tcp") -> bool:
    """Whether nothing listens on ``address:port`` (an attempt to bind it)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def http_healthy(port: int, path: str, timeout: float = 3.0) -> bool:
    """An HTTP GET on 127.0.0.1:port+path answers 2xx or 3xx."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:  # noqa: S310
            return 200 <= resp.status < 400
    except urllib.error.HTTPError as exc:
        return 300 <= exc.code < 400
    except (OSError, ValueError):
        return False


def mem_available_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?")


def parse_time(text: str) -> dt.datetime | None:
    """The engine's timestamps (nanoseconds, Z or an offset) as an aware datetime."""
    m = _TIME_RE.match(text or "")
    if not m:
        return None
    zone = m.group(3) or "Z"
    fraction = (m.group(2) or "0")[:6].ljust(6, "0")
    try:
        return dt.datetime.fromisoformat(f"{m.group(1)}.{fraction}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def dir_size(path: Path) -> int:
    """Bytes a directory tree takes on disk (what du counts)."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


@dataclasses.dataclass
class Host:
    """What the store asks of the host; tests give their own."""

    port_free: Callable[[int, str, str], bool] = port_free
    healthy: Callable[[int, str], bool] = http_healthy
    free_bytes: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free
    mem_available_mib: Callable[[], int | None] = mem_available_mib
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


class Steps:
    """A store action's progress as ansible-runner-like task events (the UI's run view shows them)."""

    def __init__(self, emit: Emit | None, role: str = "store"):
        self.emit = emit or (lambda event: None)
        self.role = role
        self.counter = 0

    def _send(self, name: str, **data: Any) -> None:
        self.counter += 1
        self.emit({
            "event": name, "counter": self.counter, "created": dt.datetime.now(dt.UTC).isoformat(),
            "stdout": data.pop("stdout", ""), "event_data": {"role": self.role, "host": "cell", **data},
        })

    @contextmanager
    def step(self, task: str, changed: bool = True) -> Iterator[None]:
        self._send("playbook_on_task_start", task=task)
        try:
            yield
        except ManagerError as exc:
            self._send("runner_on_failed", task=task, res={"changed": False, "msg": exc.message})
            raise
        except Exception as exc:
            self._send("runner_on_failed", task=task, res={"changed": False, "msg": str(exc)[:500]})
            raise
        self._send("runner_on_ok", task=task, res={"changed": changed})

    def note(self, task: str, text: str) -> None:
        self._send("playbook_on_task_start", task=task)
        self._send("runner_on_ok", task=task, res={"changed": False}, stdout=text)


# --- the manager -----------------------------------------------------------------------------------
class StoreManager:
    def __init__(
        self,
        config: StoreConfig,
        client: Callable[[], Any] | None = None,
        host: Host | None = None,
    ):
        self.config = config
        self._client_factory = client or (lambda: docker.DockerClient(base_url=f"unix://{config.socket}", timeout=300))
        self._client: Any = None
        self.host = host or Host()

    @classmethod
    def for_file(cls, path: Path) -> StoreManager:
        return cls(StoreConfig.load(path))

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = self._client_factory()
            except docker.errors.DockerException as exc:
                raise StoreError(f"the store's engine does not answer at {self.config.socket}: {exc}") from None
        return self._client

    # the index ------------------------------------------------------------------------------
    def index(self) -> list[dict[str, Any]]:
        return load_index(self.config.index)

    def manifest(self, app_id: str, version: str | None = None) -> dict[str, Any]:
        """The manifest of an app of the index: the given version, else its newest."""
        versions = [m for m in self.index() if m["id"] == app_id]
        if not versions:
            raise NotFound(f"no app {app_id!r} in the index", {"app": "not in the index"})
        if version is None:
            return max(versions, key=lambda m: version_key(m["version"]))
        for m in versions:
            if m["version"] == version:
                return m
        have = ", ".join(sorted((m["version"] for m in versions), key=version_key))
        raise NotFound(f"{app_id} has no version {version} in the index (it has {have})",
                       {"version": "not in the index"})

    def catalog(self) -> dict[str, Any]:
        """The index by app, with what is installed (from the engine's containers)."""
        installed = {c.labels.get(LABEL_APP): c for c in self._app_containers()}
        apps: dict[str, dict[str, Any]] = {}
        for m in sorted(self.index(), key=lambda m: version_key(m["version"]), reverse=True):
            entry = apps.setdefault(m["id"], {
                "id": m["id"], "name": m["name"], "description": m["description"], "latest": m["version"],
                "versions": [], "installed": None, "state": None, "data": self.app_dir(m["id"]).is_dir(),
                "memory": m["memory"], "disk": m["disk"], "routes": m["routes"],
            })
            entry["versions"].append(m["version"])
        for app_id, container in installed.items():
            if app_id in apps:
                apps[app_id]["installed"] = container.labels.get(LABEL_VERSION)
                apps[app_id]["state"] = container.status
        return {"apps": sorted(apps.values(), key=lambda a: a["id"])}

    # an app's directory ---------------------------------------------------------------------
    def app_dir(self, app_id: str) -> Path:
        return self.config.apps_dir / app_id

    def _volume_dir(self, app_id: str, name: str) -> Path:
        return self.app_dir(app_id) / "volumes" / name

    def _secrets(self, manifest: dict[str, Any]) -> dict[str, str]:
        """The app's generated values: made once, kept with its data (0600), new names added later."""
        path = self.app_dir(manifest["id"]) / "secrets.json"
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            kept = {}
        wanted = {k: v["secret"] for k, v in manifest["environment"].items() if isinstance(v, dict)}
        changed = False
        for name, length in wanted.items():
            if name not in kept:
                kept[name] = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length))
                changed = True
        if changed or not path.exists():
            write_atomic(path, json.dumps(kept, indent=1) + "\n", 0o600)
        return kept

    def _environment(self, manifest: dict[str, Any]) -> dict[str, str]:
        kept = self._secrets(manifest)
        return {k: (kept[k] if isinstance(v, dict) else v) for k, v in manifest["environment"].items()}

    # the engine -----------------------------------------------------------------------------
    @staticmethod
    def container_name(app_id: str) -> str:
        return f"pic-{app_id}"

    @staticmethod
    def volume_name(app_id: str, name: str) -> str:
        return f"pic-{app_id}-{name}"

    def _app_containers(self) -> list[Any]:
        return self._engine(lambda c: c.containers.list(all=True, filters={"label": LABEL_APP}))

    def _engine(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(self.client)
        except docker.errors.NotFound as exc:
            raise NotFound(f"the engine has no such object: {exc.explanation or exc}") from None
        except docker.errors.DockerException as exc:
            raise StoreError(f"the engine refused: {getattr(exc, 'explanation', None) or exc}") from None

    def _find(self, name: str) -> Any | None:
        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as exc:
            raise StoreError(f"the engine does not answer: {exc}") from None

    def _published(self, exclude_app: str | None = None) -> dict[tuple[int, str], str]:
        """(port, proto) published by any container -> its name (apps and anything else the engine runs)."""
        out: dict[tuple[int, str], str] = {}
        for c in self._engine(lambda cl: cl.containers.list(all=True)):
            if exclude_app and c.labels.get(LABEL_APP) == exclude_app:
                continue
            bindings = (c.attrs.get("HostConfig") or {}).get("PortBindings") or {}
            for spec, binds in bindings.items():
                proto = spec.split("/")[1] if "/" in spec else "tcp"
                for b in binds or []:
                    if b.get("HostPort"):
                        out[(int(b["HostPort"]), proto)] = c.name
        return out

    def _publishing(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The Docker SDK's ``ports``: every port on 127.0.0.1, an opening's on every address."""
        opened = {(o["port"], o["protocol"]) for o in manifest["firewall"]}
        ports: dict[str, Any] = {}
        for p in manifest["ports"]:
            ports[f"{p}/tcp"] = p if (p, "tcp") in opened else ("127.0.0.1", p)
        for p, proto in sorted(opened):
            if proto == "udp":
                ports[f"{p}/udp"] = p
        return ports

    def _check_fits(self, manifest: dict[str, Any], exclude_app: str | None = None,
                    extra_bytes: int = 0, own_ports: frozenset[tuple[int, str]] = frozenset()) -> None:
        """Port, disk and memory conflicts, before anything changes (a 409 naming the field)."""
        self.config.apps_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the apps' directory, private
        for conflict in self._misfits(manifest, exclude_app, extra_bytes, own_ports):
            raise conflict

    def _misfits(self, manifest: dict[str, Any], exclude_app: str | None = None,
                 extra_bytes: int = 0, own_ports: frozenset[tuple[int, str]] = frozenset()) -> Iterator[Conflict]:
        """Each port, disk and memory conflict of ``manifest`` with the host, as the 409 it makes."""
        taken = self._published(exclude_app)
        opened = {(o["port"], o["protocol"]) for o in manifest["firewall"]}
        wanted = [(p, "tcp") for p in manifest["ports"]] + sorted(k for k in opened if k[1] == "udp")
        for port, proto in wanted:
            if (port, proto) in taken:
                yield Conflict(f"port {port}/{proto} is published by the container {taken[(port, proto)]}",
                               {"ports": f"{port} is taken by {taken[(port, proto)]}"})
                continue
            if (port, proto) in own_ports:
                continue
            address = "0.0.0.0" if (port, proto) in opened else "127.0.0.1"
            if not self.host.port_free(port, address, proto):
                yield Conflict(f"port {port}/{proto} is in use on the cell", {"ports": f"{port} is in use on the cell"})
        need = manifest["disk"] * 1024 * 1024 + extra_bytes
        # a plan writes nothing: the free space where the apps' directory is, or will be made
        where = next(p for p in (self.config.apps_dir, *self.config.apps_dir.parents) if p.exists())
        free = self.host.free_bytes(where)
        if free < need:
            yield Conflict(f"{manifest['name']} needs {need // 2**20} MiB of disk, {free // 2**20} MiB are free",
                           {"disk": f"needs {need // 2**20} MiB, {free // 2**20} MiB free"})
        available = self.host.mem_available_mib()
        if available is not None and available < manifest["memory"]:
            yield Conflict(f"{manifest['name']} needs {manifest['memory']} MiB of memory, {available} MiB are "
                           "available", {"memory": f"needs {manifest['memory']} MiB, {available} MiB available"})

    def _pull(self, steps: Steps, image: str) -> None:
        with steps.step(f"Pull {image}"):
            self._engine(lambda c: c.images.pull(image))

    def _start(self, steps: Steps, manifest: dict[str, Any]) -> Any:
        """Volumes bound to the app's directory, then its container, started."""
        app_id = manifest["id"]
        with steps.step("Create the volumes"):
            for volume in manifest["volumes"]:
                path = self._volume_dir(app_id, volume["name"])
                path.mkdir(mode=0o755, parents=True, exist_ok=True)
                name = self.volume_name(app_id, volume["name"])
                try:
                    self.client.volumes.get(name)
                except docker.errors.NotFound:
                    self._engine(lambda c, name=name, path=path: c.volumes.create(
                        name=name, driver="local", labels={LABEL_APP: app_id},
                        driver_opts={"type": "none", "o": "bind", "device": str(path)},
                    ))
        with steps.step(f"Start {app_id} {manifest['version']}"):
            kwargs: dict[str, Any] = {
                "name": self.container_name(app_id),
                "detach": True,
                "labels": {LABEL_APP: app_id, LABEL_VERSION: manifest["version"]},
                "environment": self._environment(manifest),
                "ports": self._publishing(manifest),
                "volumes": {self.volume_name(app_id, v["name"]): {"bind": v["path"], "mode": "rw"}
                            for v in manifest["volumes"]},
                "restart_policy": {"Name": "always"},  # podman-restart.service starts it at boot
            }
            if manifest.get("command"):
                kwargs["command"] = list(manifest["command"])
            if self.config.limits:
                kwargs["mem_limit"] = f"{manifest['memory']}m"
            return self._engine(lambda c: c.containers.run(manifest["image"], **kwargs))

    def _wait_healthy(self, steps: Steps, manifest: dict[str, Any], container: Any) -> None:
        health = manifest["health"]
        with steps.step(f"Wait for {manifest['id']} to answer on port {health['port']}{health['path']}", changed=False):
            deadline = self.host.monotonic() + self.config.health_timeout
            while True:
                if self.host.healthy(health["port"], health["path"]):
                    return
                try:
                    container.reload()
                    status = container.status
                except docker.errors.DockerException:
                    status = "gone"
                if status in ("exited", "dead", "gone"):
                    raise StoreError(f"{manifest['id']} {manifest['version']} stopped ({status}) before it answered "
                                     f"its health check{self._last_words(container)}", {"version": "not healthy"})
                if self.host.monotonic() >= deadline:
                    raise StoreError(f"{manifest['id']} {manifest['version']} did not answer its health check in "
                                     f"{self.config.health_timeout} s{self._last_words(container)}",
                                     {"version": "not healthy"})
                self.host.sleep(1.0)

    @staticmethod
    def _last_words(container: Any) -> str:
        try:
            text = container.logs(tail=5).decode("utf-8", "replace").strip()
        except Exception:  # a container gone is no reason to hide the real error
            return ""
        return f"; its last output: {scrub(text)[-400:]}" if text else ""

    def _remove_container(self, name: str) -> None:
        """Removes an app's container. One that has just exited (a broken app's, during a rollback) can
        be in podman's short "stopped" state, in which a forced remove is refused ("container state
        improper"): tried again, found anew each time, for up to REMOVE_WAIT seconds."""
        deadline = time.monotonic() + REMOVE_WAIT
        while (container := self._find(name)) is not None:
            try:
                self._engine(lambda c: container.remove(force=True))
                return
            except NotFound:
                return
            except StoreError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.app_dir(manifest["id"]) / "manifest.json", json.dumps(manifest, indent=1) + "\n", 0o600)

    def _running_manifest(self, app_id: str) -> dict[str, Any] | None:
        try:
            return schema.validate_manifest(json.loads((self.app_dir(app_id) / "manifest.json").read_text()))
        except (OSError, ValueError, schema.StateError):
            return None

    # install, upgrade, remove ---------------------------------------------------------------
    def install(self, app_id: str, version: str | None = None, emit: Emit | None = None) -> dict[str, Any]:
        """Pull, volumes, container, health; the app's record for the cell state. A failure removes the
        container it made and keeps the app's directory (an earlier install's data may be there)."""
        steps = Steps(emit)
        manifest = self.manifest(app_id, version)
        if (installed := self._installed(app_id)) is not None:
            raise installed
        return self._install(steps, manifest)

    def _installed(self, app_id: str) -> Conflict | None:
        """The 409 of an install of an app whose container exists."""
        if self._find(self.container_name(app_id)) is None:
            return None
        return Conflict(f"{app_id} is installed already (its container {self.container_name(app_id)} exists)",
                        {"app": "installed already"})

    def _has_data(self, app_id: str) -> bool:
        """An earlier install's data is in the app's directory (an install finds it, a removal keeps it)."""
        return self.app_dir(app_id).is_dir() and any(self.app_dir(app_id).iterdir())

    def repair(self, app_id: str, version: str | None = None, emit: Emit | None = None) -> dict[str, Any]:
        """Install an app again over its own data and secrets: after a restore (which puts its directory
        back, not its container or image) or when its container is broken or gone. It runs the manifest
        it ran (its manifest.json, kept with its data: the image pinned by digest, from the registry it
        came from), else the index's ``version`` (the state's record); a container of it is replaced."""
        steps = Steps(emit)
        manifest = self._running_manifest(app_id) or self.manifest(app_id, version)
        if self._find(self.container_name(app_id)) is not None:
            with steps.step(f"Delete the container of {app_id} (its data stays)"):
                self._remove_container(self.container_name(app_id))
        return self._install(steps, manifest)

    def _install(self, steps: Steps, manifest: dict[str, Any]) -> dict[str, Any]:
        app_id = manifest["id"]
        self._check_fits(manifest)
        self._pull(steps, manifest["image"])
        found = self._has_data(app_id)
        self.app_dir(app_id).mkdir(mode=0o700, parents=True, exist_ok=True)
        if found:
            steps.note("Find the app's data", f"the data of an earlier install is in {self.app_dir(app_id)}: kept")
        container = None
        try:
            container = self._start(steps, manifest)
            self._wait_healthy(steps, manifest, container)
        except ManagerError:
            self._remove_container(self.container_name(app_id))
            raise
        self._write_manifest(manifest)
        log.info("installed %s %s", app_id, manifest["version"])
        return {"app": app_record(manifest), "found_data": found}

    def upgrade(self, app_id: str, version: str | None = None, emit: Emit | None = None) -> dict[str, Any]:
        """Snapshot, new version, health; on failure the previous version with its data (rolled back)."""
        steps = Steps(emit)
        container = self._find(self.container_name(app_id))
        previous = self._running_manifest(app_id)
        if container is None or previous is None:
            raise NotFound(f"{app_id} is not installed", {"app": "not installed"})
        manifest = self.manifest(app_id, version)
        if manifest["version"] == previous["version"]:
            raise Conflict(f"{app_id} {previous['version']} is installed already", {"version": "installed already"})
        volumes = self.app_dir(app_id) / "volumes"
        used = dir_size(volumes) if volumes.is_dir() else 0
        own = frozenset(self._published().keys()) & frozenset((p, "tcp") for p in previous["ports"])
        self._check_fits(manifest, exclude_app=app_id, extra_bytes=used, own_ports=own)
        self._pull(steps, manifest["image"])  # a failed pull changes nothing
        with steps.step(f"Stop {app_id} {previous['version']}"):
            self._engine(lambda c: container.stop(timeout=20))
        snapshot = self._snapshot(steps, app_id, previous["version"])
        try:
            self._remove_container(self.container_name(app_id))
            new = self._start(steps, manifest)
            self._wait_healthy(steps, manifest, new)
        except ManagerError as exc:
            self._rollback(steps, previous, snapshot)
            raise StoreError(
                f"{app_id} {manifest['version']} did not come up ({exc.message}); rolled back to "
                f"{previous['version']} with its data as it was before the upgrade", {"version": "rolled back"},
            ) from None
        self._write_manifest(manifest)
        self._prune_snapshots(app_id)
        log.info("upgraded %s from %s to %s", app_id, previous["version"], manifest["version"])
        return {"app": app_record(manifest), "previous": previous["version"], "snapshot": snapshot.name}

    def _snapshot(self, steps: Steps, app_id: str, version: str) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%f")
        target = self.app_dir(app_id) / "snapshots" / f"{version}-{stamp}"
        with steps.step(f"Snapshot the data of {app_id} {version}"):
            target.mkdir(mode=0o700, parents=True)
            volumes = self.app_dir(app_id) / "volumes"
            if volumes.is_dir():
                shutil.copytree(volumes, target / "volumes", symlinks=True)
        return target

    def _rollback(self, steps: Steps, previous: dict[str, Any], snapshot: Path) -> None:
        app_id = previous["id"]
        with steps.step(f"Roll back to {app_id} {previous['version']}"):
            self._remove_container(self.container_name(app_id))
            volumes = self.app_dir(app_id) / "volumes"
            if volumes.exists():
                shutil.rmtree(volumes)
            if (snapshot / "volumes").is_dir():
                shutil.copytree(snapshot / "volumes", volumes, symlinks=True)
        container = self._start(steps, previous)
        self._wait_healthy(steps, previous, container)

    def _prune_snapshots(self, app_id: str) -> None:
        snapshots = self.app_dir(app_id) / "snapshots"
        if snapshots.is_dir():
            kept = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[self.config.snapshots_kept:]:
                shutil.rmtree(old, ignore_errors=True)

    def remove(self, app_id: str, purge: bool = False, emit: Emit | None = None) -> dict[str, Any]:
        """Stop and delete the container; the data stays unless ``purge`` (then its image goes too)."""
        steps = Steps(emit)
        container = self._removable(app_id)
        manifest = self._running_manifest(app_id)
        if container is not None:
            with steps.step(f"Stop and delete the container of {app_id}"):
                self._remove_container(self.container_name(app_id))
        with steps.step(f"Delete the engine's volumes of {app_id}"):
            for volume in self._app_volumes(app_id):
                self._engine(lambda c, volume=volume: volume.remove(force=True))
        if not purge:
            steps.note("Keep the data", f"the data of {app_id} stays in {self.app_dir(app_id)}; a reinstall finds it")
            return {"purged": False, "data": str(self.app_dir(app_id))}
        with steps.step(f"Delete the data of {app_id}"):
            shutil.rmtree(self.app_dir(app_id), ignore_errors=True)
        if manifest is not None:
            with steps.step(f"Delete the image of {app_id}"):
                try:
                    self.client.images.remove(manifest["image"])
                except docker.errors.DockerException as exc:  # in use or gone: not worth failing a purge
                    log.info("image of %s kept: %s", app_id, exc)
        return {"purged": True, "data": None}

    def _removable(self, app_id: str) -> Any | None:
        """The app's container (None when only its directory is left); a 404 when neither is there."""
        container = self._find(self.container_name(app_id))
        if container is None and not self.app_dir(app_id).exists():
            raise NotFound(f"{app_id} is not installed", {"app": "not installed"})
        return container

    def _app_volumes(self, app_id: str) -> list[Any]:
        return self._engine(lambda c: c.volumes.list(filters={"label": f"{LABEL_APP}={app_id}"}))

    # what an install or a removal would do (a preview: nothing is pulled, started or removed) -------
    def plan_install(self, app_id: str, version: str | None = None) -> dict[str, Any]:
        """What installing the app would do: its image, the ports it publishes (on 127.0.0.1 but its
        openings), the memory and disk it needs and whether it fits (each conflict the install would
        refuse, by field), its routes and openings, and whether an earlier install's data is found."""
        manifest = self.manifest(app_id, version)
        problems: dict[str, str] = {}
        for conflict in filter(None, (self._installed(app_id), *self._misfits(manifest))):
            for field, why in conflict.fields.items():
                problems.setdefault(field, why)
        ports = [{"port": int(spec.split("/")[0]), "protocol": spec.split("/")[1],
                  "address": bound[0] if isinstance(bound, tuple) else "0.0.0.0"}
                 for spec, bound in self._publishing(manifest).items()]
        return {
            "app": app_id, "name": manifest["name"], "version": manifest["version"], "image": manifest["image"],
            "ports": ports, "memory": manifest["memory"], "memory_available": self.host.mem_available_mib(),
            "disk": manifest["disk"], "fits": not problems, "problems": problems, "routes": manifest["routes"],
            "firewall": manifest["firewall"],
            "data": {"path": str(self.app_dir(app_id)), "found": self._has_data(app_id), "kept": True},
        }

    def plan_remove(self, app_id: str, purge: bool = False) -> dict[str, Any]:
        """What removing the app would do: its container and engine volumes go; its data stays, or with
        ``purge`` goes with its image."""
        container = self._removable(app_id)
        manifest = self._running_manifest(app_id)
        return {
            "app": app_id, "container": container.name if container is not None else None,
            "volumes": sorted(v.name for v in self._app_volumes(app_id)),
            "image": manifest["image"] if purge and manifest else None,
            "data": {"path": str(self.app_dir(app_id)), "found": self._has_data(app_id), "kept": not purge},
        }

    # the container manager ------------------------------------------------------------------
    def containers(self) -> list[dict[str, Any]]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for c in self._engine(lambda cl: cl.containers.list(all=True)):
            attrs = c.attrs
            state = attrs.get("State") or {}
            started = state.get("StartedAt") if isinstance(state, dict) else None
            when = parse_time(started) if started else None
            uptime = max(0, int((now - when).total_seconds())) if when and c.status == "running" else None
            ports = []
            for spec, binds in ((attrs.get("HostConfig") or {}).get("PortBindings") or {}).items():
                port, _, proto = spec.partition("/")
                for b in binds or []:
                    ports.append({"container_port": int(port), "protocol": proto or "tcp",
                                  "host_ip": b.get("HostIp") or "0.0.0.0", "host_port": int(b.get("HostPort") or 0)})
            out.append({
                "id": c.id[:12],
                "name": c.name,
                "image": (attrs.get("Config") or {}).get("Image") or "",
                "state": c.status,
                "ports": ports,
                "started_at": started,
                "uptime_seconds": uptime,
                "app": c.labels.get(LABEL_APP),
                "version": c.labels.get(LABEL_VERSION),
            })
        return sorted(out, key=lambda c: c["name"])

    def _container(self, name: str) -> Any:
        container = self._find(name)
        if container is None:
            raise NotFound(f"no container {name!r}", {"name": "no such container"})
        return container

    def container_action(self, name: str, action: str) -> dict[str, Any]:
        container = self._container(name)
        if action == "start":
            self._engine(lambda c: container.start())
        elif action == "stop":
            self._engine(lambda c: container.stop(timeout=20))
        else:
            self._engine(lambda c: container.restart(timeout=20))
        container.reload()
        return {"name": name, "state": container.status}

    def logs(self, name: str, lines: int) -> dict[str, Any]:
        container = self._container(name)
        raw = self._engine(lambda c: container.logs(tail=lines, timestamps=True))
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return {"name": name, "lines": [scrub(line) for line in text.splitlines()[-lines:]]}

    def inspect(self, name: str) -> dict[str, Any]:
        """The engine's view of a container, every environment value masked (apps keep secrets there)."""
        attrs = json.loads(json.dumps(self._container(name).attrs, default=str))
        config = attrs.get("Config") or {}
        if isinstance(config.get("Env"), list):
            config["Env"] = [e.split("=", 1)[0] + "=" + MASK if "=" in e else e for e in config["Env"]]
        return {"name": name, "inspect": scrub(attrs)}

    def pull(self, reference: str, emit: Emit | None = None) -> dict[str, Any]:
        steps = Steps(emit)
        self._pull(steps, reference)
        image = self._engine(lambda c: c.images.get(reference))
        return {"reference": reference, "id": image.id, "digests": image.attrs.get("RepoDigests") or []}

    def volumes(self) -> list[dict[str, Any]]:
        out = []
        for v in self._engine(lambda c: c.volumes.list()):
            attrs = v.attrs or {}
            device = (attrs.get("Options") or {}).get("device") or attrs.get("Mountpoint") or ""
            path = Path(device)
            out.append({
                "name": v.name,
                "driver": attrs.get("Driver") or "local",
                "path": device,
                "app": (attrs.get("Labels") or {}).get(LABEL_APP),
                "size_bytes": dir_size(path) if device and path.is_dir() else 0,
            })
        return sorted(out, key=lambda v: v["name"])


# --- the agent's store actions (agent/protocol.py validates their arguments) -----------------------
ACTIONS = frozenset({
    "store_catalog", "store_manifest", "store_install", "store_repair", "store_upgrade", "store_remove",
    "store_plan_install", "store_plan_remove",
    "containers", "container_action", "container_logs", "container_inspect", "image_pull", "volumes",
})


def perform(factory: Callable[[], StoreManager], action: str, args: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Carries out one store action with validated arguments; a refusal is the agent's AgentError."""
    from ..agent.protocol import AgentError  # the agent's error type, with the HTTP status kept

    try:
        s = factory()
        if action == "store_catalog":
            return s.catalog()
        if action == "store_manifest":
            return {"manifest": s.manifest(args["app"], args["version"])}
        if action == "store_install":
            return s.install(args["app"], args["version"], emit)
        if action == "store_repair":
            return s.repair(args["app"], args["version"], emit)
        if action == "store_upgrade":
            return s.upgrade(args["app"], args["version"], emit)
        if action == "store_remove":
            return s.remove(args["app"], args["purge"], emit)
        if action == "store_plan_install":
            return {"plan": s.plan_install(args["app"], args["version"])}
        if action == "store_plan_remove":
            return {"plan": s.plan_remove(args["app"], args["purge"])}
        if action == "containers":
            return {"containers": s.containers()}
        if action == "container_action":
            return s.container_action(args["name"], args["operation"])
        if action == "container_logs":
            return s.logs(args["name"], args["lines"])
        if action == "container_inspect":
            return s.inspect(args["name"])
        if action == "image_pull":
            return s.pull(args["reference"], emit)
        if action == "volumes":
            return {"volumes": s.volumes()}
    except ManagerError as exc:
        raise AgentError(exc.message, exc.fields, exc.status) from None
    raise AgentError(f"not a store action: {action}")


def bring_back(factory: Callable[[], StoreManager], store_state: dict[str, Any], emit: Emit) -> list[dict[str, Any]]:
    """After a restore put the apps' directories back: each app the state records installed again over
    its data (``StoreManager.repair``), one after the other. An app that cannot come back (its registry
    unreachable, its health check failing) is reported with the reason and the rest go on; the admin
    retries it with Repair on the Store page."""
    apps = list(store_state.get("apps") or []) if store_state.get("enabled") else []
    trimmed: Emit = lambda raw: emit(trim_event(raw))  # noqa: E731 (as the agent trims a store action's events)
    out: list[dict[str, Any]] = []
    for app in apps:
        entry: dict[str, Any] = {"id": app["id"], "version": app["version"], "ok": False}
        try:
            result = factory().repair(app["id"], app["version"], trimmed)
            entry.update(ok=True, version=result["app"]["version"], found_data=result["found_data"])
        except ManagerError as exc:
            entry["error"] = exc.message
        except Exception as exc:  # noqa: BLE001 (one app's unexpected failure must not end the restore)
            log.exception("bringing %s back failed", app["id"])
            entry["error"] = f"{type(exc).__name__}: {scrub(str(exc))[:300]}"
        if not entry["ok"]:
            log.warning("%s did not come back after the restore: %s", app["id"], entry["error"])
        out.append(entry)
    return out


class LocalEngine:
    """The store actions in this process, validated as the agent validates them (no agent: tests, the CLI)."""

    def __init__(self, factory: Callable[[], StoreManager]):
        self.factory = factory

    def call(self, action: str, on_event: Emit | None = None, idle: Callable[[], None] | None = None,
             **args: Any) -> dict[str, Any]:
        from ..agent.protocol import request, validate

        action, clean = validate(request(action, **args), ())
        if action not in ACTIONS:
            raise ValueError(f"{action} is not a store action")
        # its steps' events trimmed here as the agent trims them before they cross its socket
        emit = on_event or (lambda event: None)
        return perform(self.factory, action, clean, lambda raw: emit(trim_event(raw)))
