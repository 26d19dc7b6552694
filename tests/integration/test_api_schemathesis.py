"""Property-based run of every operation of /api/openapi.json (schemathesis): no input gives a 500.

Positive cases follow the schema; negative cases break it. Each runs before setup (anonymous) and after
setup with an admin session and a valid CSRF token, so the generated data reaches the validators.
"""

import json
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from pic_api.app import create_app
from pic_api.config import Config
from pic_api.managers.health import HealthMonitor
from pic_api.managers.logsearch import LogSearch

ROOT = Path(__file__).resolve().parents[2]  # the repository: site.yml and roles/
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from ddns_fakes import FakeHttp  # noqa: E402

SETUP = {
    "cell_name": "home",
    "domain_mode": "internal",
    "timezone": "Etc/UTC",
    "admin_password": "correct horse battery",
    "services": ["dns", "wireguard"],
}


class InstantBackend:
    def execute(self, run, emit, should_cancel):
        emit({"event": "playbook_on_start", "event_data": {}})
        return "successful"


@pytest.fixture(scope="module")
def providers():
    """Every DDNS provider and the address source on the loopback: a change of the dynamic DNS
    settings is checked here, never with a public service (unknown paths answer 404)."""
    fake = FakeHttp()
    fake.on("GET", "/ip4", (200, "203.0.113.7"))
    yield fake
    fake.close()


def make_app(tmp_path, set_up, providers):
    (tmp_path / "etc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/ddns.json").write_text(json.dumps({
        "ipv4_source": providers.url + "/ip4",
        "accept_private": True,
        "urls": {p: providers.url for p in ("pic_ngo", "cloudflare", "duckdns", "noip", "freedns", "freedns_v6")},
    }))
    config = Config.under(
        tmp_path,
        project_dir=ROOT,
        health_interval=0,
        bcrypt_rounds=4,
        scrypt_n=1024,
        runner="none",
        login_max_failures=10**6,
    )
    health = HealthMonitor(lambda: ["dns"], unit_check=lambda u: True, port_check=lambda p: True, interval=0)
    app = create_app(
        config,
        backend=InstantBackend(),
        health=health,
        log_search=LogSearch(config.log_file, journal=lambda units, limit: []),
        start_threads=False,
    )
    if set_up:
        code = app.extensions["pic"].setup_code.current()
        assert app.test_client().post("/api/setup", json={**SETUP, "setup_code": code}).status_code == 202
    return app


OPERATION_COUNT = 29
EXAMPLES = 25  # per operation, mode and setup phase


@pytest.mark.parametrize("set_up", [False, True], ids=["before-setup", "admin-after-setup"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_no_server_errors(tmp_path, set_up, mode, providers):
    app = make_app(tmp_path, set_up, providers)
    cell = app.extensions["pic"]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= OPERATION_COUNT
    seen: dict[str, set[int]] = {}
    no_negative: list[str] = []

    for operation in operations:
        if operation.path == "/api/auth/logout" and set_up:
            continue  # would end the session the rest of the run uses; covered by the unit tests

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            headers, cookies = {}, {}
            if set_up:
                session = cell.auth.create_session("admin", "admin")
                cookies = {"pic_session": session.token, "pic_csrf": session.csrf}
                headers = {"X-CSRF-Token": session.csrf}
            response = case.call(headers=headers, cookies=cookies)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            assert response.status_code < 500, (case.operation.label, case.body, case.query, response.text[:500])

        try:
            check()
        except Unsatisfiable:
            # nothing in this operation can be broken (no parameters, no body): only positive cases exist
            assert mode == GenerationMode.NEGATIVE, operation.label
            no_negative.append(operation.label)

    assert len(seen) + len(no_negative) == len(operations) - (1 if set_up else 0)
    statuses = set().union(*seen.values())
    if set_up:
        assert 200 in statuses and 400 in statuses
    else:
        assert 428 in statuses


# Bodies and numbers no schema generates: each must be a 4xx, never a 500 (issue 10, fault 5).
MALFORMED_BODIES = [
    "[" * 1000,
    '{"a":' * 3000,
    "[" * 999 + "]" * 999,
    '{"a":' * 15 + "1" + "}" * 15 + "x",
    "9" * 5000,
    '{"limit": ' + "9" * 5000 + "}",
    '{"name": 1e999999}',
    '{"name": "\\ud800"}',
    "{",
    "\x00",
    "\xff\xfe",
]
ODD_NUMBERS = ["²", "٣", "１", "9" * 5000, "-1", "1e3", " 1", "0x10", ""]


@pytest.mark.parametrize("set_up", [False, True], ids=["before-setup", "admin-after-setup"])
def test_malformed_bodies_and_huge_numbers(tmp_path, set_up, providers):
    app = make_app(tmp_path, set_up, providers)
    cell = app.extensions["pic"]
    client = app.test_client()
    if set_up:
        session = cell.auth.create_session("admin", "admin")
        client.set_cookie("pic_session", session.token)
        client.set_cookie("pic_csrf", session.csrf)
        client.environ_base["HTTP_X_CSRF_TOKEN"] = session.csrf
    doc = client.get("/api/openapi.json").get_json()
    run_id = cell.runs.list(1)[0]["id"] if set_up else "none"
    tried = statuses = 0
    for path, ops in doc["paths"].items():
        url = path.replace("{run_id}", run_id).replace("{name}", "nobody").replace("{number}", "1")
        if path == "/api/auth/logout":
            continue
        for method, op in ops.items():
            if "requestBody" in op:
                for body in MALFORMED_BODIES:
                    r = client.open(url, method=method.upper(), data=body, content_type="application/json")
                    tried += 1
                    assert r.status_code < 500, (method, url, body[:40], r.get_data(as_text=True)[:300])
                    statuses += r.status_code in (400, 428)
            for param in op.get("parameters", []):
                if param["in"] != "query":
                    continue
                for value in ODD_NUMBERS:
                    r = client.open(url, method=method.upper(), query_string={param["name"]: value})
                    tried += 1
                    assert r.status_code < 500, (method, url, param["name"], value[:40], r.get_data(as_text=True))
    for value in ODD_NUMBERS:
        r = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": value})
        tried += 1
        assert r.status_code < 500, (value[:40], r.get_data(as_text=True))
        if set_up and value:
            assert r.status_code == 400, value[:40]
    assert tried > 100 and statuses > 0
    log = (tmp_path / "log/api.log").read_text()  # Config.under's log file
    assert "Traceback" not in log
