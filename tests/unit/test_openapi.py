"""The OpenAPI document comes from the state schema and the views; the UI's copy of it is current."""

from pathlib import Path

import pytest
from conftest import ROOT

from pic_api.core import schema
from pic_api.core.validators import TYPES, validator_for
from pic_api.web import generate

GENERATED = ROOT / "webui/src/generated"


@pytest.mark.parametrize("name", ["openapi.json", "api.ts"])
def test_the_ui_has_the_current_document_and_types(name):
    fresh = generate.generated_files(ROOT)[name]
    committed = (GENERATED / name).read_text(encoding="utf-8")
    assert committed == fresh, f"webui/src/generated/{name} is out of date: run `make openapi` and commit it"


def test_every_route_is_in_the_document(app):
    doc = app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.rule == "/health"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path.replace("{number}", "<int:number>").replace("{", "<").replace("}", ">"), m.upper())
        for path, ops in doc["paths"].items()
        for m in ops
    }
    assert documented == routes


def test_a_field_rule_is_written_once_and_the_document_carries_it(app):
    doc = app.test_client().get("/api/openapi.json").get_json()
    parts = doc["components"]["schemas"]
    # the name rule: the state's cell and peer names, the wizard's cell name, a peer's path parameter
    assert parts["Label"]["pattern"] == TYPES["Label"]["pattern"] and parts["Label"]["maxLength"] == 32
    assert parts["Cell"]["properties"]["name"]["$ref"] == "#/components/schemas/Label"
    assert parts["SetupRequest"]["properties"]["cell_name"]["$ref"] == "#/components/schemas/Label"
    assert parts["PeerRequest"]["properties"]["name"]["$ref"] == "#/components/schemas/Label"
    # the admin password: one minimum, the API's
    assert parts["SetupRequest"]["properties"]["admin_password"]["$ref"] == "#/components/schemas/Password"
    assert parts["Password"]["minLength"] == 8
    # the upstream resolvers: one limit and one duplicate rule for the state, the wizard and the settings
    for request in ("SetupRequest", "SettingsChange"):
        assert parts[request]["properties"]["upstream_dns"]["$ref"] == "#/components/schemas/UpstreamDns"
    assert parts["UpstreamDns"]["maxItems"] == 8 and parts["UpstreamDns"]["uniqueItems"] is True
    assert parts["Network"]["properties"]["upstream_dns"]["$ref"] == "#/components/schemas/UpstreamDns"


@pytest.mark.parametrize("request_", schema.REQUESTS, ids=lambda r: r.name)
def test_request_fields_are_state_fields(request_):
    """A request's field that sets a state field has that field's schema, so it cannot drift from it."""
    body = request_.schema()
    for key, path in request_.fields.items():
        node = schema._state_node(path)
        node.pop("default", None)
        assert body["properties"][key]["$ref"] == node["$ref"], key


def test_the_three_requests_refuse_duplicate_and_too_many_resolvers():
    too_many = [f"192.0.2.{i}" for i in range(1, 10)]
    for value, word in ((["192.0.2.1", "192.0.2.1"], "duplicate"), (too_many, "at most 8")):
        for request_ in (schema.SETUP, schema.SETTINGS):
            with pytest.raises(schema.StateError) as exc:
                request_.validate({"upstream_dns": value})
            assert word in exc.value.fields["upstream_dns"]
        state = {"version": 1, "cell": {"name": "home"}, "network": {"upstream_dns": value}}
        with pytest.raises(schema.StateError) as exc:
            schema.validate_state(state)
        assert word in exc.value.fields["network.upstream_dns"]


@pytest.mark.parametrize("value", ["home\n", "a" * 33, "Home"])
def test_patterns_match_the_whole_value(value):
    """JSON Schema patterns search; a '$' in Python's re also matches before a final newline."""
    assert validator_for({"$ref": "#/$defs/Label"}).is_valid(value) is False


def test_every_pattern_is_anchored_for_the_ui():
    for name, node in TYPES.items():
        if "pattern" in node:
            assert node["pattern"].startswith("^") and node["pattern"].endswith("$"), name


def test_generated_types_use_the_state_names():
    text = (GENERATED / "api.ts").read_text()
    assert "export type Peer = {" in text and "export type RunEvent = {" in text
    assert '"Label": {' in text and Path(GENERATED / "openapi.json").is_file()
