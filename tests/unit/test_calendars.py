"""The Calendar page: pic-agent's calendar_list and calendar_create over Radicale's storage layout (a
temporary folder), and the API over them: who sees and makes whose, the addresses, bad input."""

import json
import os

import pytest
from conftest import csrf, wait_run

from pic_api.agent import actions
from pic_api.agent.protocol import AgentError, validate

ROOT = actions.RADICALE_ROOT


def props(path):
    return json.loads((path / actions.RADICALE_PROPS).read_text())


def make(storage, owner, name, kind="calendar", displayname="Family", **more):
    actions.calendar_create(storage, owner, name, actions.collection_props(kind, displayname, **more))


@pytest.fixture
def storage(tmp_path):
    path = tmp_path / "collections"
    path.mkdir()
    return path


def test_a_collection_is_made_whole_with_radicale_s_properties(storage):
    make(storage, "alice", "family", description="who picks whom up", color="#3a7bd5")
    make(storage, "alice", "contacts", kind="addressbook", displayname="Contacts")
    home = storage / ROOT / "alice"
    assert props(home / "family") == {"tag": "VCALENDAR", "D:displayname": "Family",
                                      "C:supported-calendar-component-set": "VEVENT,VTODO,VJOURNAL",
                                      "C:calendar-description": "who picks whom up",
                                      "ICAL:calendar-color": "#3a7bd5"}
    assert props(home / "contacts") == {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}
    assert oct((home / "family").stat().st_mode & 0o777) == "0o750"
    assert oct((home / "family" / actions.RADICALE_PROPS).stat().st_mode & 0o777) == "0o640"
    # the temporary folder is gone: only the collections are left
    assert sorted(os.listdir(home)) == ["contacts", "family"]
    assert actions.calendar_collections(storage, ["alice", "bob"]) == {
        "alice": [
            {"name": "contacts", "kind": "addressbook", "displayname": "Contacts", "description": "", "color": ""},
            {"name": "family", "kind": "calendar", "displayname": "Family", "description": "who picks whom up",
             "color": "#3a7bd5"},
        ],
        "bob": [],
    }


def test_a_taken_name_is_refused_and_left_as_it_was(storage):
    make(storage, "alice", "family")
    with pytest.raises(actions.CollectionError) as caught:
        make(storage, "alice", "family", displayname="Other")
    assert caught.value.exists
    assert props(storage / ROOT / "alice" / "family")["D:displayname"] == "Family"
    assert [n for n in os.listdir(storage / ROOT / "alice")] == ["family"]


def test_no_storage_no_collection(tmp_path):
    with pytest.raises(actions.CollectionError) as caught:
        make(tmp_path / "missing", "alice", "family")
    assert not caught.value.exists and not (tmp_path / "missing").exists()


def test_a_lock_that_is_a_link_is_a_refusal_not_a_crash(storage, tmp_path):
    (tmp_path / "elsewhere").write_text("")
    (storage / actions.RADICALE_LOCK).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(actions.CollectionError) as caught:
        make(storage, "alice", "family")
    assert "could not be made" in str(caught.value) and not caught.value.exists
    assert not (storage / ROOT).exists()


def test_the_list_follows_no_link_and_reads_no_event(storage, tmp_path):
    make(storage, "alice", "family")
    home = storage / ROOT / "alice"
    (home / "family" / "event.ics").write_text("BEGIN:VCALENDAR\nSUMMARY:secret\nEND:VCALENDAR\n")
    # a link to a collection elsewhere, a user folder that is a link, props that are a link
    outside = tmp_path / "outside"
    (outside / "cal").mkdir(parents=True)
    (outside / "cal" / actions.RADICALE_PROPS).write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": "x"}))
    (home / "linked").symlink_to(outside / "cal")
    (storage / ROOT / "mallory").symlink_to(outside)
    (home / "odd").mkdir()
    (home / "odd" / actions.RADICALE_PROPS).symlink_to(outside / "cal" / actions.RADICALE_PROPS)
    # Radicale's own principal folder and temporary folders carry no tag or a dot
    (home / "plain").mkdir()
    (home / ".Radicale.tmp-x").mkdir()
    (home / "broken").mkdir()
    (home / "broken" / actions.RADICALE_PROPS).write_text("{not json")
    found = actions.calendar_collections(storage, ["alice", "mallory"])
    assert [c["name"] for c in found["alice"]] == ["family"]
    assert found["mallory"] == []
    assert "secret" not in json.dumps(found)
    # a made collection never lands through a linked user folder either
    with pytest.raises(actions.CollectionError):
        make(storage, "mallory", "cal2")
    assert not (outside / "cal2").exists()


def test_the_agent_takes_only_typed_arguments():
    assert validate({"action": "calendar_list", "args": {"users": ["alice", "alice", "bob"]}}, ()) == (
        "calendar_list", {"users": ["alice", "bob"]})
    for bad in (["../etc"], ["Alice"], "alice", [""]):
        with pytest.raises(AgentError) as caught:
            validate({"action": "calendar_list", "args": {"users": bad}}, ())
        assert "users" in caught.value.fields
    ok = {"owner": "alice", "name": "family", "displayname": "Family", "kind": "calendar"}
    assert validate({"action": "calendar_create", "args": ok}, ())[1] == {**ok, "description": "", "color": ""}
    for field, bad in (("owner", "../root"), ("name", "a/b"), ("name", ".Radicale.props"), ("kind", "todo"),
                       ("displayname", "two\nlines"), ("displayname", ""), ("color", "red"), ("path", "/etc")):
        with pytest.raises(AgentError) as caught:
            validate({"action": "calendar_create", "args": {**ok, field: bad}}, ())
        assert field in caught.value.fields, (field, bad)


def test_the_agent_makes_and_lists_through_its_actions(config):
    from pic_api.agent.server import Agent

    agent = Agent(config)
    config.radicale_storage_dir.mkdir(parents=True)
    sent = []
    answer = agent.handle({"action": "calendar_create", "args": {"owner": "alice", "name": "work",
                                                                   "displayname": "Work", "kind": "calendar"}},
                          sent.append)
    assert answer == {"owner": "alice", "name": "work", "kind": "calendar"}
    with pytest.raises(AgentError) as caught:
        agent.handle({"action": "calendar_create", "args": {"owner": "alice", "name": "work",
                                                            "displayname": "Again", "kind": "addressbook"}},
                     sent.append)
    assert caught.value.status == 409 and caught.value.fields == {"name": "exists already"}
    listed = agent.handle({"action": "calendar_list", "args": {"users": ["alice"]}}, sent.append)
    assert [(c["name"], c["displayname"]) for c in listed["collections"]["alice"]] == [("work", "Work")]


def add_user(app, admin, name, services=("calendar",)):
    resp = admin.post("/api/users", json={"name": name, "password": f"{name}s password", "role": "peer",
                                          "services": list(services)}, headers=csrf(admin))
    assert resp.status_code == 201, resp.get_json()
    wait_run(app, resp.get_json()["run_id"])
    other = app.test_client()
    assert other.post("/api/auth/login", json={"username": name, "password": f"{name}s password"}).status_code == 200
    return other


def create(client, **body):
    return client.post("/api/calendars", json=body, headers=csrf(client))


def test_an_admin_makes_anyones_a_member_only_their_own(app, admin, config):
    config.radicale_storage_dir.mkdir(parents=True)
    carol = add_user(app, admin, "carol")
    add_user(app, admin, "dave", services=())
    resp = create(admin, owner="carol", name="family", displayname="Family", kind="calendar", color="#112233")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["url"] == "https://calendar.home.cell/carol/family/"
    assert (config.radicale_storage_dir / ROOT / "carol" / "family" / actions.RADICALE_PROPS).is_file()
    # the member's own, with the address My services gives them and the collection's below it
    mine = carol.get("/api/calendars").get_json()
    settings = carol.get("/api/account/services").get_json()
    assert mine["enabled"] is True
    assert [p["user"] for p in mine["people"]] == ["carol"]
    assert mine["people"][0]["url"] == settings["calendar"]["caldav_url"]
    assert mine["people"][0]["collections"] == [{"name": "family", "kind": "calendar", "displayname": "Family",
                                                 "description": "", "color": "#112233",
                                                 "url": "https://calendar.home.cell/carol/family/"}]
    # a member makes their own; not someone else's
    assert create(carol, name="contacts", displayname="Contacts", kind="addressbook").status_code == 201
    resp = create(carol, owner="admin", name="x", displayname="X", kind="calendar")
    assert resp.status_code == 400 and "owner" in resp.get_json()["fields"]
    # the admin sees everyone with the calendar service (dave has none)
    everyone = admin.get("/api/calendars").get_json()["people"]
    assert "dave" not in [p["user"] for p in everyone]
    carols = next(p for p in everyone if p["user"] == "carol")
    assert [c["name"] for c in carols["collections"]] == ["contacts", "family"]
    # someone without the calendar service gets none
    resp = create(admin, owner="dave", name="x", displayname="X", kind="calendar")
    assert resp.status_code == 400 and "owner" in resp.get_json()["fields"]
    assert not (config.radicale_storage_dir / ROOT / "dave").exists()


def test_bad_input_is_a_400_naming_the_field_and_a_taken_name_a_409(app, admin, config):
    config.radicale_storage_dir.mkdir(parents=True)
    add_user(app, admin, "carol")
    for field, value in (("name", "Family Cal"), ("name", "../x"), ("kind", "journal"), ("displayname", ""),
                         ("color", "blue"), ("owner", "No Such")):
        body = {"owner": "carol", "name": "family", "displayname": "Family", "kind": "calendar", field: value}
        resp = create(admin, **body)
        assert resp.status_code == 400, (field, resp.get_json())
        assert field in resp.get_json()["fields"], (field, resp.get_json())
    resp = create(admin, owner="carol", displayname="Family", kind="calendar")
    assert resp.status_code == 400 and "name" in resp.get_json()["fields"]
    assert create(admin, owner="carol", name="family", displayname="Family", kind="calendar").status_code == 201
    resp = create(admin, owner="carol", name="family", displayname="Again", kind="addressbook")
    assert resp.status_code == 409 and resp.get_json()["fields"] == {"name": "exists already"}


def test_an_unreadable_storage_still_lists_the_people(app, admin, config):
    add_user(app, admin, "carol")
    config.radicale_storage_dir.parent.mkdir(parents=True, exist_ok=True)
    config.radicale_storage_dir.write_text("not a folder")
    body = admin.get("/api/calendars").get_json()
    assert "carol" in [p["user"] for p in body["people"]]
    assert all(p["collections"] == [] for p in body["people"])
    resp = create(admin, owner="carol", name="family", displayname="Family", kind="calendar")
    assert resp.status_code == 409 and "storage" in resp.get_json()["error"]
