"""A stand-in for the Docker SDK's client over the store's engine, for tests that cannot run podman
(the unit tests, the browser tests' API). The real engine runs in the store's molecule scenario and
on the end-to-end cell.

Images live in a fake registry (``FakeDocker.registry``: reference -> behaviour). A behaviour runs
when its container starts, with the container's volume directories on the host: ``good`` writes a
token into its data volume the first time (as the test images of molecule/store do) and answers
its health check; ``broken`` overwrites the token and exits, as a bad migration would.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path
from typing import Any

import docker.errors

_ids = itertools.count(1)


def good(container: FakeContainer, dirs: dict[str, Path]) -> None:
    data = dirs.get("/data")
    if data is not None and not (data / "created").exists():
        (data / "created").write_text(uuid.uuid4().hex)
    container.status = "running"
    container.healthy = True


def broken(container: FakeContainer, dirs: dict[str, Path]) -> None:
    data = dirs.get("/data")
    if data is not None:
        (data / "created").write_text("broken")
    container.status = "exited"
    container.healthy = False


class FakeContainer:
    def __init__(self, client: FakeDocker, image: str, name: str, **kwargs: Any):
        self.client = client
        self.id = f"{next(_ids):012x}" + "0" * 52
        self.name = name
        self.image = image
        self.kwargs = kwargs
        self.labels = dict(kwargs.get("labels") or {})
        self.status = "created"
        self.healthy = False
        self.started_at = ""
        self.removed = False
        env = kwargs.get("environment") or {}
        bindings: dict[str, list[dict[str, str]]] = {}
        for spec, host in (kwargs.get("ports") or {}).items():
            ip, port = host if isinstance(host, tuple) else ("", host)
            bindings[spec] = [{"HostIp": ip, "HostPort": str(port)}]
        self.attrs = {
            "Id": self.id,
            "Name": name,
            "Config": {"Image": image, "Env": [f"{k}={v}" for k, v in env.items()], "Labels": self.labels},
            "HostConfig": {"PortBindings": bindings},
            "State": {"StartedAt": ""},
        }

    def _dirs(self) -> dict[str, Path]:
        out = {}
        for vol, spec in (self.kwargs.get("volumes") or {}).items():
            out[spec["bind"]] = Path(self.client.volume_objects[vol].attrs["Options"]["device"])
        return out

    def start(self) -> None:
        self.started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
        self.attrs["State"]["StartedAt"] = self.started_at
        self.client.registry[self.image](self, self._dirs())

    def reload(self) -> None:
        if self.removed:
            raise docker.errors.NotFound("no such container")

    def stop(self, timeout: int = 10) -> None:
        self.status, self.healthy = "exited", False

    def restart(self, timeout: int = 10) -> None:
        self.stop()
        self.start()

    def remove(self, force: bool = False) -> None:
        if self.status == "running" and not force:
            raise docker.errors.APIError("container is running")
        self.removed = True
        self.client.container_objects.pop(self.name, None)

    def logs(self, tail: int = 100, timestamps: bool = False) -> bytes:
        lines = [f"{self.name} started", "password=hunter2 should never be shown", f"{self.name} listening"]
        return "\n".join(lines[-tail:]).encode()

    @property
    def ports(self) -> dict[str, Any]:
        return self.attrs["HostConfig"]["PortBindings"]


class FakeVolume:
    def __init__(self, client: FakeDocker, name: str, driver: str, labels: dict[str, str], driver_opts: dict[str, str]):
        self.client = client
        self.name = name
        self.attrs = {"Name": name, "Driver": driver, "Labels": labels, "Options": driver_opts,
                      "Mountpoint": f"/var/lib/containers/storage/volumes/{name}/_data"}

    def remove(self, force: bool = False) -> None:
        self.client.volume_objects.pop(self.name, None)


class FakeImage:
    def __init__(self, reference: str):
        self.id = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, reference).hex * 2
        self.attrs = {"RepoDigests": [reference] if "@" in reference else []}


class _Containers:
    def __init__(self, client: FakeDocker):
        self.client = client

    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[FakeContainer]:
        out = list(self.client.container_objects.values())
        if not all:
            out = [c for c in out if c.status == "running"]
        label = (filters or {}).get("label")
        if label:
            key, _, value = label.partition("=")
            out = [c for c in out if key in c.labels and (not value or c.labels[key] == value)]
        return out

    def get(self, name: str) -> FakeContainer:
        container = self.client.container_objects.get(name)
        if container is None:
            raise docker.errors.NotFound(f"no container {name}")
        return container

    def run(self, image: str, name: str, detach: bool = True, **kwargs: Any) -> FakeContainer:
        if image not in self.client.pulled:
            raise docker.errors.ImageNotFound(f"{image} is not pulled")
        if name in self.client.container_objects:
            raise docker.errors.APIError(f"the name {name} is in use")
        container = FakeContainer(self.client, image, name, **kwargs)
        self.client.container_objects[name] = container
        self.client.runs.append({"image": image, "name": name, **kwargs})
        container.start()
        return container


class _Images:
    def __init__(self, client: FakeDocker):
        self.client = client

    def pull(self, reference: str) -> FakeImage:
        self.client.pulls.append(reference)
        if reference not in self.client.registry:
            raise docker.errors.NotFound(f"manifest unknown: {reference}")
        self.client.pulled.add(reference)
        return FakeImage(reference)

    def get(self, reference: str) -> FakeImage:
        if reference not in self.client.pulled:
            raise docker.errors.ImageNotFound(reference)
        return FakeImage(reference)

    def remove(self, reference: str) -> None:
        self.client.pulled.discard(reference)


class _Volumes:
    def __init__(self, client: FakeDocker):
        self.client = client

    def get(self, name: str) -> FakeVolume:
        if name not in self.client.volume_objects:
            raise docker.errors.NotFound(f"no volume {name}")
        return self.client.volume_objects[name]

    def create(self, name: str, driver: str = "local", labels: dict[str, str] | None = None,
               driver_opts: dict[str, str] | None = None) -> FakeVolume:
        volume = FakeVolume(self.client, name, driver, dict(labels or {}), dict(driver_opts or {}))
        self.client.volume_objects[name] = volume
        return volume

    def list(self, filters: dict[str, str] | None = None) -> list[FakeVolume]:
        out = list(self.client.volume_objects.values())
        label = (filters or {}).get("label")
        if label:
            key, _, value = label.partition("=")
            out = [v for v in out if v.attrs["Labels"].get(key) == value]
        return out


class FakeDocker:
    """The parts of ``docker.DockerClient`` the store uses, over an in-memory engine."""

    def __init__(self, registry: dict[str, Any] | None = None):
        self.registry: dict[str, Any] = dict(registry or {})
        self.pulled: set[str] = set()
        self.pulls: list[str] = []
        self.runs: list[dict[str, Any]] = []
        self.container_objects: dict[str, FakeContainer] = {}
        self.volume_objects: dict[str, FakeVolume] = {}
        self.containers = _Containers(self)
        self.images = _Images(self)
        self.volumes = _Volumes(self)

    # what the host sees of it (managers.store.Host's checks)
    def published(self) -> set[int]:
        return {int(b["HostPort"]) for c in self.container_objects.values() if c.status == "running"
                for binds in c.ports.values() for b in binds}

    def healthy(self, port: int, path: str) -> bool:
        return any(c.healthy and c.status == "running" and port in
                   {int(b["HostPort"]) for binds in c.ports.values() for b in binds}
                   for c in self.container_objects.values())


def fake_host(client: FakeDocker, busy: set[int] | None = None, free_mib: int = 10_000, mem_mib: int = 4096) -> Any:
    """A ``managers.store.Host`` over the fake engine: ports in ``busy`` are taken by other programs."""
    from pic_api.managers.store import Host

    busy = busy if busy is not None else set()
    clock = itertools.count()
    return Host(
        port_free=lambda port, address, proto: port not in busy and port not in client.published(),
        healthy=client.healthy,
        free_bytes=lambda path: free_mib * 2**20,
        mem_available_mib=lambda: mem_mib,
        sleep=lambda seconds: None,
        monotonic=lambda: float(next(clock)),
    )


def digest(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2


def hello_index(registry: str = "registry.example.org") -> tuple[dict[str, Any], dict[str, Any]]:
    """A test index of three hello versions (1.0.0 good, 1.1.0 good, 2.0.0 broken) and their behaviours."""
    apps, behaviours = [], {}
    for version, behaviour in (("1.0.0", good), ("1.1.0", good), ("2.0.0", broken)):
        image = f"{registry}/pic-test/hello@sha256:{digest(version)}"
        behaviours[image] = behaviour
        apps.append({
            "id": "hello", "name": "Hello", "version": version, "description": "A tiny HTTP app.",
            "image": image, "ports": [8000],
            "routes": [{"host": "hello", "port": 8000, "login": False}, {"path": "/hello", "port": 8000}],
            "volumes": [{"name": "data", "path": "/data"}],
            "environment": {"APP_VERSION": version, "APP_SECRET": {"secret": 32}},
            "health": {"port": 8000, "path": "/health"}, "memory": 32, "disk": 20,
        })
    image = f"{registry}/pic-test/notes@sha256:{digest('notes')}"
    behaviours[image] = good
    apps.append({
        "id": "notes", "name": "Notes", "version": "0.3", "image": image, "ports": [8100],
        "routes": [{"host": "notes", "port": 8100}], "volumes": [{"name": "data", "path": "/data"}],
        "health": {"port": 8100}, "memory": 64, "disk": 50,
    })
    return {"apps": apps}, behaviours
