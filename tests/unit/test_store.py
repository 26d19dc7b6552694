"""The service store: manifests and indexes refused naming the wrong field, the store manager over a
fake engine (install, conflicts refused before anything changes, an upgrade rolled back with its
data, remove keeping data, purge), the agent's store actions, and the API's endpoints that record
an app in the state and converge the roles that publish it. The real engine (podman through the
Docker SDK) runs in molecule/store and in tests/e2e/test_store.py."""

import json
import stat

import pytest
import yaml
from conftest import csrf, wait_run
from fake_docker import FakeDocker, fake_host, hello_index

from pic_api.agent.protocol import AgentError, validate
from pic_api.app import create_app
from pic_api.core import schema
from pic_api.managers.errors import Conflict, NotFound
from pic_api.managers.store import LocalEngine, StoreConfig, StoreError, StoreManager, bring_back, version_key

ROOT_INDEX = "roles/store/files/index.yml"


@pytest.fixture
def index_data():
    return hello_index()


@pytest.fixture
def engine(index_data):
    return FakeDocker(index_data[1])


@pytest.fixture
def store_config(tmp_path, index_data):
    index = tmp_path / "index.yml"
    index.write_text(yaml.safe_dump(index_data[0]))
    return StoreConfig(index=str(index), apps_dir=tmp_path / "apps", socket="/nonexistent.sock", health_timeout=5,
                       snapshots_kept=2, limits=True)


@pytest.fixture
def busy():
    return set()


@pytest.fixture
def store(store_config, engine, busy):
    return StoreManager(store_config, client=lambda: engine, host=fake_host(engine, busy))


def token(store, app="hello"):
    return (store.app_dir(app) / "volumes" / "data" / "created").read_text()


# --- manifests and indexes -------------------------------------------------------------------------
def manifest(**changes):
    base = hello_index()[0]["apps"][0]
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"image": "registry.example.org/pic-test/hello:latest"}, "image"),  # not pinned by digest
        ({"image": "hello@sha256:" + "a" * 64}, "image"),  # no registry
        ({"id": "Hello"}, "id"),
        ({"version": "one"}, "version"),
        ({"ports": [8000, 8000]}, "ports"),
        ({"ports": [70000]}, "ports[0]"),
        ({"routes": [{"host": "mail", "port": 8000}]}, "routes[0].host"),  # the cell's own name
        ({"routes": [{"host": "hello", "port": 9000}]}, "routes[0].port"),  # not a port of the app
        ({"routes": [{"host": "hello", "path": "/hello", "port": 8000}]}, "routes[0]"),
        ({"routes": [{"path": "/Hello", "port": 8000}]}, "routes[0].path"),
        ({"routes": [{"path": "/dav", "port": 8000}]}, "routes[0].path"),  # the Files page's WebDAV
        ({"routes": [{"path": "/api", "port": 8000}]}, "routes[0].path"),
        ({"health": {"port": 9}}, "health.port"),
        ({"firewall": [{"port": 8000, "protocol": "sctp", "zones": ["lan"]}]}, "firewall[0].protocol"),
        ({"volumes": [{"name": "data", "path": "data"}]}, "volumes[0].path"),
        ({"volumes": [{"name": "data", "path": "/a"}, {"name": "data", "path": "/b"}]}, "volumes[1].name"),
        ({"environment": {"lower": "x"}}, "environment"),
        ({"environment": {"A": "line\nbreak"}}, "environment.A"),
        ({"environment": {"A": {"secret": 4}}}, "environment.A"),
        ({"memory": 1}, "memory"),
        ({"command": ["sh", "-c", "a\nb"]}, "command[2]"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_manifest_is_refused_naming_its_field(changes, field):
    with pytest.raises(schema.StateError) as err:
        schema.validate_manifest(manifest(**changes))
    assert field in err.value.fields, err.value.fields


def test_a_good_manifest_gets_its_defaults():
    m = schema.validate_manifest(manifest(routes=[{"host": "hello", "port": 8000}]))
    assert m["routes"][0]["login"] is True  # the cell's login protects a route unless it says otherwise
    assert m["firewall"] == [] and m["health"]["path"] == "/health"


def test_an_index_names_the_manifest_and_field_that_is_wrong(tmp_path, store_config, index_data):
    data = json.loads(json.dumps(index_data[0]))
    data["apps"][2]["image"] = "registry.example.org/pic-test/hello:2"
    data["apps"].append(dict(data["apps"][0]))  # hello 1.0.0 twice
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(data))
    bad = StoreManager(StoreConfig(**{**store_config.__dict__, "index": str(tmp_path / "bad.yml")}))
    with pytest.raises(StoreError) as err:
        bad.index()
    assert set(err.value.fields) == {"apps[2].image", "apps[4].version"}, err.value.fields


def test_an_index_that_cannot_be_read_names_the_index(tmp_path, store_config):
    missing = StoreManager(StoreConfig(**{**store_config.__dict__, "index": str(tmp_path / "none.yml")}))
    with pytest.raises(StoreError) as err:
        missing.index()
    assert "index" in err.value.fields


def test_the_shipped_index_is_valid():
    from conftest import ROOT

    schema.validate_index(yaml.safe_load((ROOT / ROOT_INDEX).read_text()))


def test_versions_order_numerically_and_after_their_prereleases():
    assert sorted(["1.10", "1.9", "2.0-rc1", "2.0", "1.9.1"], key=version_key) == ["1.9", "1.9.1", "1.10", "2.0-rc1",
                                                                                  "2.0"]


def test_the_reserved_hosts_are_the_cells_service_names():
    from conftest import ROOT

    names = yaml.safe_load((ROOT / "roles/shared/defaults/main.yml").read_text())["shared_service_names"]
    assert set(names) <= set(schema.STORE_RESERVED_HOSTS)


# --- the store manager -----------------------------------------------------------------------------
def test_catalog_lists_each_app_with_its_versions_newest_first(store):
    apps = {a["id"]: a for a in store.catalog()["apps"]}
    assert apps["hello"]["versions"] == ["2.0.0", "1.1.0", "1.0.0"] and apps["hello"]["latest"] == "2.0.0"
    assert apps["hello"]["installed"] is None and apps["notes"]["latest"] == "0.3"


def test_install_pulls_by_digest_and_publishes_on_loopback_only(store, engine):
    events = []
    result = store.install("hello", "1.0.0", events.append)
    run = engine.runs[-1]
    assert engine.pulls == [store.manifest("hello", "1.0.0")["image"]]
    assert run["name"] == "pic-hello" and run["ports"] == {"8000/tcp": ("127.0.0.1", 8000)}
    assert run["labels"] == {"pic.app": "hello", "pic.version": "1.0.0"}
    assert run["mem_limit"] == "32m" and run["restart_policy"] == {"Name": "always"}
    # the volume is bound to the app's own directory, its unit of backup
    volume = engine.volume_objects["pic-hello-data"]
    device = str(store.app_dir("hello") / "volumes/data")
    assert volume.attrs["Options"] == {"type": "none", "o": "bind", "device": device}
    assert result["app"] == {"id": "hello", "version": "1.0.0", "routes": store.manifest("hello", "1.0.0")["routes"],
                             "firewall": []}
    assert [e["event_data"]["task"] for e in events if e["event"] == "runner_on_ok"][0].startswith("Pull ")
    assert any(e["event"] == "runner_on_ok" and e["event_data"]["task"].startswith("Wait for hello") for e in events)


def test_generated_secrets_are_kept_0600_with_the_data_and_never_shown(store, engine):
    store.install("hello", "1.0.0")
    path = store.app_dir("hello") / "secrets.json"
    secret = json.loads(path.read_text())["APP_SECRET"]
    assert len(secret) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert engine.runs[-1]["environment"]["APP_SECRET"] == secret
    shown = json.dumps(store.inspect("pic-hello"))
    assert secret not in shown and "APP_SECRET=********" in shown
    assert "hunter2" not in json.dumps(store.logs("pic-hello", 10))


def another_container_on_8000(store, engine):
    store.install("notes")
    engine.container_objects["pic-notes"].ports["8000/tcp"] = [{"HostIp": "127.0.0.1", "HostPort": "8000"}]


@pytest.mark.parametrize(
    "setup, field, status",
    [
        (lambda s, e, busy: busy.add(8000), "ports", 409),  # another program listens on the port
        (lambda s, e, busy: another_container_on_8000(s, e), "ports", 409),
        (lambda s, e, busy: s.install("hello", "1.0.0"), "app", 409),  # installed already
    ],
)
def test_conflicts_are_refused_before_anything_changes(store, engine, busy, setup, field, status):
    setup(store, engine, busy)
    pulls, names = list(engine.pulls), set(engine.container_objects)
    with pytest.raises(Conflict) as err:
        store.install("hello", "1.0.0")
    assert field in err.value.fields and err.value.status == status
    assert engine.pulls == pulls and set(engine.container_objects) == names


def test_too_little_disk_or_memory_is_refused_before_anything_changes(store_config, engine):
    for host, field in ((fake_host(engine, free_mib=5), "disk"), (fake_host(engine, mem_mib=8), "memory")):
        store = StoreManager(store_config, client=lambda: engine, host=host)
        with pytest.raises(Conflict) as err:
            store.install("hello", "1.0.0")
        assert field in err.value.fields
    assert engine.pulls == [] and not (store_config.apps_dir / "hello").exists()


def test_an_unknown_app_or_version_is_not_found(store):
    with pytest.raises(NotFound) as err:
        store.install("nothing")
    assert "app" in err.value.fields
    with pytest.raises(NotFound) as err:
        store.install("hello", "9.9")
    assert "version" in err.value.fields


def test_an_install_that_never_gets_healthy_leaves_no_container(store, engine):
    with pytest.raises(StoreError) as err:
        store.install("hello", "2.0.0")
    assert "stopped" in err.value.message and "pic-hello" not in engine.container_objects


def test_upgrade_keeps_the_data_and_a_snapshot(store, engine):
    store.install("hello", "1.0.0")
    before = token(store)
    result = store.upgrade("hello", "1.1.0")
    assert result["app"]["version"] == "1.1.0" and result["previous"] == "1.0.0"
    assert engine.container_objects["pic-hello"].labels["pic.version"] == "1.1.0"
    assert token(store) == before
    snapshot = store.app_dir("hello") / "snapshots" / result["snapshot"] / "volumes/data/created"
    assert snapshot.read_text() == before


def test_a_broken_upgrade_is_rolled_back_with_its_data(store, engine):
    store.install("hello", "1.0.0")
    before = token(store)
    events = []
    with pytest.raises(StoreError) as err:
        store.upgrade("hello", "2.0.0", events.append)
    assert "rolled back to 1.0.0" in err.value.message and err.value.fields == {"version": "rolled back"}
    container = engine.container_objects["pic-hello"]
    assert container.labels["pic.version"] == "1.0.0" and container.status == "running"
    # the broken version overwrote the token; the rollback put the data back as it was
    assert token(store) == before
    assert any(e["event_data"].get("task", "").startswith("Roll back") and e["event"] == "runner_on_ok"
               for e in events)


def test_a_failed_pull_changes_nothing(store, engine):
    store.install("hello", "1.0.0")
    del engine.registry[store.manifest("hello", "1.1.0")["image"]]
    with pytest.raises(NotFound):
        store.upgrade("hello", "1.1.0")
    container = engine.container_objects["pic-hello"]
    assert container.status == "running" and container.labels["pic.version"] == "1.0.0"
    assert not (store.app_dir("hello") / "snapshots").exists()


def test_snapshots_are_pruned_to_the_configured_number(store):
    store.install("hello", "1.0.0")
    for version in ("1.1.0", "1.0.0", "1.1.0"):
        store.upgrade("hello", version)
    assert len(list((store.app_dir("hello") / "snapshots").iterdir())) == 2


def test_remove_keeps_the_data_and_a_reinstall_finds_it(store, engine):
    store.install("hello", "1.0.0")
    before = token(store)
    result = store.remove("hello")
    assert result == {"purged": False, "data": str(store.app_dir("hello"))}
    assert "pic-hello" not in engine.container_objects and "pic-hello-data" not in engine.volume_objects
    again = store.install("hello", "1.0.0")
    assert again["found_data"] is True and token(store) == before


def test_purge_removes_the_data_and_the_image(store, engine):
    store.install("hello", "1.0.0")
    image = store.manifest("hello", "1.0.0")["image"]
    assert store.remove("hello", purge=True) == {"purged": True, "data": None}
    assert not store.app_dir("hello").exists() and image not in engine.pulled
    with pytest.raises(NotFound):
        store.remove("hello")


def fresh_engine(engine: FakeDocker) -> FakeDocker:
    """The engine of a fresh host the same registry serves: no image, no container, no volume."""
    return FakeDocker(engine.registry)


def test_repair_runs_the_manifest_it_ran_over_its_data(store_config, store, engine, index_data):
    """After a restore the app's directory is back and nothing else: its pinned image is pulled again
    and its container made anew with its data and secrets, even when the index has moved on."""
    store.install("hello", "1.0.0")
    before, secrets = token(store), (store.app_dir("hello") / "secrets.json").read_text()
    index_data[0]["apps"] = [m for m in index_data[0]["apps"] if m["version"] != "1.0.0"]
    (store_config.apps_dir.parent / "index.yml").write_text(yaml.safe_dump(index_data[0]))
    new = fresh_engine(engine)
    restored = StoreManager(store_config, client=lambda: new, host=fake_host(new))
    result = restored.repair("hello", "1.0.0")
    image = engine.container_objects["pic-hello"].image
    assert result["app"]["version"] == "1.0.0" and result["found_data"] is True
    assert new.pulls == [image] and "@sha256:" in image
    container = new.container_objects["pic-hello"]
    assert container.status == "running" and container.labels["pic.version"] == "1.0.0"
    assert token(store) == before and (store.app_dir("hello") / "secrets.json").read_text() == secrets
    assert {k: v for k, v in (e.split("=", 1) for e in container.attrs["Config"]["Env"])}["APP_SECRET"] == \
        json.loads(secrets)["APP_SECRET"]


def test_repair_replaces_a_broken_container_and_keeps_the_data(store, engine):
    store.install("hello", "1.0.0")
    before = token(store)
    engine.container_objects["pic-hello"].status = "exited"
    events = []
    store.repair("hello", emit=events.append)
    assert engine.container_objects["pic-hello"].status == "running" and token(store) == before
    tasks = [e["event_data"]["task"] for e in events if e["event"] == "runner_on_ok"]
    assert tasks[0] == "Delete the container of hello (its data stays)" and tasks[1].startswith("Pull ")


def test_repair_without_a_kept_manifest_installs_the_recorded_version(store, engine):
    result = store.repair("hello", "1.1.0")
    assert result == {"app": result["app"], "found_data": False} and result["app"]["version"] == "1.1.0"
    with pytest.raises(NotFound) as err:
        store.repair("nothing", "1.0.0")
    assert "app" in err.value.fields


def recorded(*apps, enabled=True):
    return {"enabled": enabled, "index": "", "apps": [{"id": a, "version": v} for a, v in apps]}


def test_bring_back_reports_an_app_that_cannot_come_back_and_goes_on(store_config, store, engine):
    store.install("hello", "1.0.0")
    store.install("notes")
    before = token(store)
    new = fresh_engine(engine)
    del new.registry[engine.container_objects["pic-hello"].image]  # its registry no longer has it
    factory = lambda: StoreManager(store_config, client=lambda: new, host=fake_host(new))  # noqa: E731
    events = []
    out = bring_back(factory, recorded(("hello", "1.0.0"), ("notes", "0.3")), events.append)
    assert [(a["id"], a["ok"]) for a in out] == [("hello", False), ("notes", True)]
    assert "manifest unknown" in out[0]["error"] and out[1]["found_data"] is True
    assert "pic-hello" not in new.container_objects and new.container_objects["pic-notes"].status == "running"
    assert token(store) == before  # its data stays for a repair
    assert any(e["event"] == "runner_on_failed" and e.get("task", "").startswith("Pull ") for e in events)  # trimmed
    new.registry.update(engine.registry)  # the registry answers again: Repair brings it back
    assert factory().repair("hello", "1.0.0")["found_data"] is True and token(store) == before


def test_bring_back_does_nothing_for_a_store_that_is_off_and_reports_a_missing_engine(tmp_path):
    def no_engine():
        return StoreManager.for_file(tmp_path / "no-store.yml")

    assert bring_back(no_engine, recorded(("hello", "1.0.0"), enabled=False), lambda e: None) == []
    (out,) = bring_back(no_engine, recorded(("hello", "1.0.0")), lambda e: None)
    assert out["ok"] is False and "the store is not set up on this cell" in out["error"]


def test_the_container_manager(store, engine):
    store.install("hello", "1.0.0")
    (listed,) = store.containers()
    assert listed["name"] == "pic-hello" and listed["state"] == "running" and listed["app"] == "hello"
    assert listed["ports"] == [{"container_port": 8000, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 8000}]
    assert isinstance(listed["uptime_seconds"], int)
    assert store.container_action("pic-hello", "stop") == {"name": "pic-hello", "state": "exited"}
    assert store.container_action("pic-hello", "start")["state"] == "running"
    assert store.logs("pic-hello", 1)["lines"] == ["pic-hello listening"]
    (volume,) = store.volumes()
    assert volume["name"] == "pic-hello-data" and volume["app"] == "hello" and volume["size_bytes"] > 0
    with pytest.raises(NotFound):
        store.container_action("nothing", "stop")


# --- the agent's store actions ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_, field",
    [
        ({"action": "store_install", "args": {"app": "../etc"}}, "app"),
        ({"action": "store_install", "args": {"app": "hello", "version": "1;rm"}}, "version"),
        ({"action": "store_install", "args": {"app": "hello", "image": "x"}}, "image"),  # no free-form image
        ({"action": "store_remove", "args": {"app": "hello", "purge": "yes"}}, "purge"),
        ({"action": "store_plan_install", "args": {"app": "hello", "image": "x"}}, "image"),
        ({"action": "store_plan_remove", "args": {"app": "../etc"}}, "app"),
        ({"action": "container_action", "args": {"name": "a b", "operation": "stop"}}, "name"),
        ({"action": "container_action", "args": {"name": "pic-hello", "operation": "exec"}}, "operation"),
        ({"action": "container_logs", "args": {"name": "pic-hello", "lines": 0}}, "lines"),
        ({"action": "image_pull", "args": {"reference": "hello"}}, "reference"),  # no registry: refused
    ],
)
def test_the_agent_refuses_bad_store_arguments(request_, field):
    with pytest.raises(AgentError) as err:
        validate(request_, ())
    assert field in err.value.fields, err.value.fields


def test_the_local_engine_keeps_the_status_of_a_refusal(store):
    engine = LocalEngine(lambda: store)
    with pytest.raises(AgentError) as err:
        engine.call("store_install", app="nothing")
    assert err.value.status == 404


# --- the API ---------------------------------------------------------------------------------------
@pytest.fixture
def store_app(config, backend, store):
    from conftest import HealthMonitor, LogSearch

    app_ = create_app(config, backend=backend, start_threads=False, store_engine=LocalEngine(lambda: store),
                      health=HealthMonitor(lambda: [], interval=0), log_search=LogSearch(config.log_file))
    app_.testing = True
    return app_


@pytest.fixture
def api(store_app):
    from conftest import SETUP, with_code

    client = store_app.test_client()
    resp = client.post("/api/setup", json=with_code(client, SETUP))
    wait_run(store_app, resp.get_json()["run_id"])
    return client


def run_ok(app, resp, status="successful"):
    assert resp.status_code == 202, resp.get_json()
    info = wait_run(app, resp.get_json()["run_id"])
    assert info["status"] == status, info
    return info


def state(app):
    return app.extensions["pic"].state.load()


def test_the_store_is_off_until_turned_on(store_app, api, backend):
    assert api.get("/api/store").get_json() == {"enabled": False, "index": "", "installed": [], "apps": [],
                                                "error": None}
    resp = api.post("/api/store/apps", json={"app": "hello"}, headers=csrf(api))
    assert resp.status_code == 409 and "enabled" in resp.get_json()["fields"]
    assert api.get("/api/containers").get_json() == {"enabled": False, "containers": [], "volumes": []}
    info = run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    assert info["tags"] == ["store"]  # only the engine's role
    overview = api.get("/api/store").get_json()
    assert overview["enabled"] is True and {a["id"] for a in overview["apps"]} == {"hello", "notes"}


def test_install_records_the_app_and_converges_what_publishes_it(store_app, api, backend):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    info = run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    assert info["kind"] == "store" and info["state_version"] == store_app.extensions["pic"].state.current_version()
    recorded = state(store_app)["store"]["apps"]
    assert [(a["id"], a["version"]) for a in recorded] == [("hello", "1.0.0")]
    # names (ca, dnsmasq), routes (caddy) and openings (firewall) come from the state
    assert {"ca", "caddy", "dnsmasq", "coredns"} <= set(backend.runs[-1]["tags"])
    assert "store" not in backend.runs[-1]["tags"] and "firewall" not in backend.runs[-1]["tags"]  # no opening
    stream = api.get(f"/api/runs/{info['id']}/events").get_data(as_text=True)
    events = [json.loads(line[5:]) for line in stream.splitlines() if line.startswith("data:")]
    assert any(e.get("task", "").startswith("Pull ") for e in events)
    overview = api.get("/api/store").get_json()
    hello = next(a for a in overview["apps"] if a["id"] == "hello")
    assert hello["installed"] == "1.0.0" and hello["state"] == "running"


def test_a_host_another_app_or_peer_uses_is_a_conflict_naming_the_route(store_app, api, backend, index_data):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    resp = api.post("/api/peers", json={"name": "hello", "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="},
                    headers=csrf(api))
    assert resp.status_code == 201, resp.get_json()
    wait_run(store_app, resp.get_json()["run_id"])
    runs = len(backend.runs)
    resp = api.post("/api/store/apps", json={"app": "hello"}, headers=csrf(api))
    assert resp.status_code == 409 and "routes[0].host" in resp.get_json()["fields"], resp.get_json()
    assert len(backend.runs) == runs and state(store_app)["store"]["apps"] == []


def test_a_broken_upgrade_fails_the_run_and_changes_no_state(store_app, api, store):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    version = store_app.extensions["pic"].state.current_version()
    info = run_ok(store_app, api.post("/api/store/apps/hello/upgrade", json={"version": "2.0.0"}, headers=csrf(api)),
                  "failed")
    assert "rolled back to 1.0.0" in info["error"]
    assert store_app.extensions["pic"].state.current_version() == version
    assert state(store_app)["store"]["apps"][0]["version"] == "1.0.0"
    info = run_ok(store_app, api.post("/api/store/apps/hello/upgrade", json={}, headers=csrf(api)), "failed")
    info = run_ok(store_app, api.post("/api/store/apps/hello/upgrade", json={"version": "1.1.0"}, headers=csrf(api)))
    assert state(store_app)["store"]["apps"][0]["version"] == "1.1.0"


def test_remove_then_purge(store_app, api, store, backend):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    resp = api.put("/api/store", json={"enabled": False}, headers=csrf(api))
    assert resp.status_code == 400 and "enabled" in resp.get_json()["fields"]
    run_ok(store_app, api.delete("/api/store/apps/hello", headers=csrf(api)))
    assert state(store_app)["store"]["apps"] == [] and store.app_dir("hello").is_dir()
    assert "caddy" in backend.runs[-1]["tags"]
    assert api.delete("/api/store/apps/hello", headers=csrf(api)).status_code == 404
    run_ok(store_app, api.delete("/api/store/apps/hello?purge=1", headers=csrf(api)))
    assert not store.app_dir("hello").exists()
    assert api.delete("/api/store/apps/hello?purge=yes", headers=csrf(api)).status_code == 400


def test_repair_brings_a_recorded_app_back_over_its_data_and_changes_no_state(store_app, api, store, engine):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    before, version = token(store), store_app.extensions["pic"].state.current_version()
    engine.container_objects.pop("pic-hello")  # gone, as after a restore it could not come back in
    engine.pulled.clear()
    hello = next(a for a in api.get("/api/store").get_json()["apps"] if a["id"] == "hello")
    assert hello["installed"] is None and hello["data"] is True
    info = run_ok(store_app, api.post("/api/store/apps/hello/repair", headers=csrf(api)))
    assert info["description"] == "repair hello (its data kept)"
    assert engine.container_objects["pic-hello"].status == "running" and token(store) == before
    assert store_app.extensions["pic"].state.current_version() == version
    assert api.post("/api/store/apps/notes/repair", headers=csrf(api)).status_code == 404
    assert api.post("/api/store/apps/no%20such/repair", headers=csrf(api)).status_code == 400


def test_containers_endpoints(store_app, api):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    listed = api.get("/api/containers").get_json()
    assert [c["name"] for c in listed["containers"]] == ["pic-hello"]
    assert listed["volumes"][0]["name"] == "pic-hello-data"
    resp = api.post("/api/containers/pic-hello/stop", headers=csrf(api))
    assert resp.get_json() == {"name": "pic-hello", "state": "exited"}
    assert api.post("/api/containers/pic-hello/exec", headers=csrf(api)).status_code == 404
    assert api.post("/api/containers/nothing/stop", headers=csrf(api)).status_code == 404
    assert api.get("/api/containers/pic-hello/logs?lines=²").status_code == 400
    assert api.get("/api/containers/pic-hello/logs?lines=2").get_json()["lines"][-1] == "pic-hello listening"
    shown = api.get("/api/containers/pic-hello/inspect").get_json()["inspect"]
    assert "APP_SECRET=********" in shown["Config"]["Env"]
    resp = api.post("/api/containers/images", json={"reference": "hello"}, headers=csrf(api))
    assert resp.status_code == 400 and "reference" in resp.get_json()["fields"]


def test_store_endpoints_need_an_admin(store_app, api):
    other = store_app.test_client()
    assert other.get("/api/store").status_code == 401
    assert api.post("/api/store/apps", json={"app": "hello"}).status_code == 403  # no CSRF token


def test_the_docker_sdk_is_loaded_only_when_the_store_talks_to_its_engine():
    """The API and the agent start without it (about 12 MiB each; the store is off by default)."""
    import subprocess
    import sys

    code = ("import sys, pic_api.app, pic_api.agent.server, pic_api.services; "
            "assert 'docker' not in sys.modules, 'loaded at start'; "
            "from pic_api.managers import store; store.docker.errors.NotFound; "
            "assert 'docker' in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_a_container_that_refuses_removal_for_a_moment_is_removed(store, engine, monkeypatch):
    """podman refuses to remove a container in its short "stopped" state (a broken app that just
    exited): the removal is tried again; one that keeps refusing is an error in the engine's words."""
    import docker.errors

    from pic_api.managers import store as store_module

    monkeypatch.setattr(store_module.time, "sleep", lambda s: None)
    store.install("hello", "1.0.0")
    container = engine.container_objects["pic-hello"]
    real, refusals = container.remove, []

    def remove(force=False):
        if len(refusals) < 2:
            refusals.append(force)
            raise docker.errors.APIError("container state improper: stopped")
        real(force=force)

    container.remove = remove
    store.remove("hello")
    assert refusals == [True, True] and "pic-hello" not in engine.container_objects

    store.install("hello", "1.0.0")
    engine.container_objects["pic-hello"].remove = lambda force=False: (_ for _ in ()).throw(
        docker.errors.APIError("container state improper: stopped"))
    monkeypatch.setattr(store_module, "REMOVE_WAIT", 0)
    with pytest.raises(StoreError, match="state improper"):
        store.remove("hello")


# --- previews: what an install or removal would do, nothing pulled, started, removed or saved -----------
def test_an_install_plan_tells_what_it_would_do_and_whether_it_fits(store, engine, busy, store_config):
    plan = store.plan_install("hello", "1.0.0")
    assert plan["image"].startswith("registry.example.org/pic-test/hello@sha256:")
    assert plan["ports"] == [{"port": 8000, "protocol": "tcp", "address": "127.0.0.1"}]
    assert (plan["memory"], plan["memory_available"], plan["disk"]) == (32, 4096, 20)
    assert plan["fits"] is True and plan["problems"] == {}
    assert [r.get("host") for r in plan["routes"]] == ["hello", None]
    assert plan["data"] == {"path": str(store.app_dir("hello")), "found": False, "kept": True}
    # every conflict the install would refuse, by its field, with the same checks (_check_fits)
    busy.add(8000)
    tight = StoreManager(store_config, client=lambda: engine, host=fake_host(engine, busy, free_mib=5, mem_mib=8))
    plan = tight.plan_install("hello", "1.0.0")
    assert plan["fits"] is False and set(plan["problems"]) == {"ports", "disk", "memory"}
    assert engine.pulls == [] and engine.container_objects == {} and not store.app_dir("hello").exists()
    assert not store_config.apps_dir.exists()  # a plan writes nothing, not even the apps' directory
    # the install itself makes that directory, private to root
    busy.discard(8000)
    store.install("hello", "1.0.0")
    assert stat.S_IMODE(store_config.apps_dir.stat().st_mode) == 0o700


def test_a_removal_plan_names_what_goes_and_what_stays(store, engine):
    store.install("hello", "1.0.0")
    pulls, names = list(engine.pulls), set(engine.container_objects)
    plan = store.plan_remove("hello")
    assert plan["container"] == "pic-hello" and plan["image"] is None
    assert plan["data"] == {"path": str(store.app_dir("hello")), "found": True, "kept": True}
    assert store.plan_remove("hello", purge=True)["image"] == store._running_manifest("hello")["image"]
    assert set(engine.container_objects) == names and engine.pulls == pulls and store.app_dir("hello").is_dir()
    with pytest.raises(NotFound):
        store.plan_remove("notes")


def test_store_changes_previewed_save_nothing_and_run_in_check_mode(store_app, api, store, engine, backend):
    pic = store_app.extensions["pic"]
    resp = api.put("/api/store?preview=1", json={"enabled": True}, headers=csrf(api))
    assert resp.status_code == 202 and resp.get_json()["preview"] is True, resp.get_json()
    info = wait_run(store_app, resp.get_json()["run_id"])
    assert info["kind"] == "preview" and info["check"] is True and info["tags"] == ["store"]
    assert state(store_app)["store"]["enabled"] is False
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    version = pic.state.current_version()
    # an install previewed: the plan, and the check-mode run of the state with the app recorded
    resp = api.post("/api/store/apps?preview=1", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api))
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["preview"] is True and body["plan"]["app"] == "hello" and body["plan"]["fits"] is True
    info = wait_run(store_app, body["run_id"])
    assert info["kind"] == "preview" and info["check"] is True and {"caddy", "ca"} <= set(info["tags"])
    proposed = yaml.safe_load(next(r for r in backend.runs if r["id"] == body["run_id"])["proposed"])
    assert [a["id"] for a in proposed["store"]["apps"]] == ["hello"]
    assert pic.state.current_version() == version and state(store_app)["store"]["apps"] == []
    assert engine.pulls == [] and engine.container_objects == {}
    # installed for real, then its removal previewed: nothing removed
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    version, names = pic.state.current_version(), set(engine.container_objects)
    resp = api.delete("/api/store/apps/hello?preview=1&purge=1", headers=csrf(api))
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["plan"]["container"] == "pic-hello" and body["plan"]["data"]["kept"] is False
    info = wait_run(store_app, body["run_id"])
    assert info["kind"] == "preview" and "caddy" in info["tags"]
    assert pic.state.current_version() == version and set(engine.container_objects) == names
    assert store.app_dir("hello").is_dir()


@pytest.mark.parametrize(
    "method, path, body, status, field",
    [
        ("post", "/api/store/apps", {"app": "nothing"}, 404, "app"),
        ("post", "/api/store/apps", {"app": "notes", "version": "9.9"}, 404, "version"),
        ("post", "/api/store/apps", {"app": "hello"}, 409, "app"),  # installed already
        ("post", "/api/store/apps", {"app": "Bad!"}, 400, "app"),
        ("delete", "/api/store/apps/notes", None, 404, "app"),
        ("put", "/api/store", {"enabled": False}, 400, "enabled"),  # apps are installed
        ("put", "/api/store", {"index": "ftp://x"}, 400, "index"),
    ],
)
def test_a_bad_store_change_is_refused_in_preview_as_it_would_be(store_app, api, store, engine, method, path, body,
                                                                 status, field):
    run_ok(store_app, api.put("/api/store", json={"enabled": True}, headers=csrf(api)))
    run_ok(store_app, api.post("/api/store/apps", json={"app": "hello", "version": "1.0.0"}, headers=csrf(api)))
    pic = store_app.extensions["pic"]
    version, runs, names = pic.state.current_version(), len(pic.runs.list()), set(engine.container_objects)
    kwargs = {"json": body} if body is not None else {}
    for query in ("?preview=1", ""):
        resp = getattr(api, method)(path + query, headers=csrf(api), **kwargs)
        assert resp.status_code == status, (query, resp.get_json())
        assert field in resp.get_json()["fields"], resp.get_json()
    assert pic.state.current_version() == version and len(pic.runs.list()) == runs
    assert set(engine.container_objects) == names
