"""Backups and restores with the real borg on local repositories: the backup section of the state, the
manager (quiesce, archive, prune, status; restore in its order, a wrong passphrase changing
nothing, schema migration), the agent's backup actions and their allow-list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import FakeBackend
from fake_docker import FakeDocker, fake_host, hello_index
from test_schema import STATE, state

from pic_api.agent import actions, protocol
from pic_api.agent.protocol import AgentError
from pic_api.agent.server import Agent
from pic_api.core import migrate, schema
from pic_api.core.validators import check_repository
from pic_api.managers import backup
from pic_api.managers.backup import STEP_EVENT, BackupConfig, BackupError, BackupManager, BackupSettings
from pic_api.managers.errors import InvalidInput
from pic_api.managers.store import StoreConfig, StoreManager

PASSPHRASE_FILE = "secrets/passphrase"


# ---- the state's backup section ------------------------------------------------------------------
@pytest.mark.parametrize("repository", [
    "", "/mnt/backup/pic", "/srv/disk-2/cell.borg/", "ssh://borg@backup.example.org/./pic",
    "ssh://u_1@192.0.2.7:2222/~/repos/pic", "ssh://borg@[2001:db8::1]:22/srv/pic",
])
def test_good_repositories(repository):
    assert check_repository(repository) == repository
    schema.validate_state(state(backup={"repository": repository}))


@pytest.mark.parametrize("repository,says", [
    ("relative/path", "absolute path or ssh://"), ("/mnt/../etc", ". or .."), ("/mnt/a b", "absolute path"),
    ("/mnt/x;rm -rf /", "absolute path"), ("ssh://borg@host/../x", ".. parts"), ("ssh://host/x", "ssh://user@host"),
    ("ssh://borg@host:70000/x", "port"), ("ssh://borg@-bad-/x", "host"), ("ssh://borg@[1::2::3]/x", "IPv6"),
    ("/mnt/x\n", "absolute path"), ("/" + "a" * 300, "255"), (7, "string"), ("borg@host:repo", "absolute path"),
])
def test_bad_repositories_are_refused_naming_the_field(repository, says):
    with pytest.raises(schema.StateError) as info:
        schema.validate_state(state(backup={"repository": repository}))
    assert says in info.value.fields["backup.repository"]


def test_the_section_is_validated_field_by_field():
    bad = {"schedule": "sometimes", "keep_daily": -1, "keep_weekly": True, "key_confirmed": "yes", "extra": 1}
    with pytest.raises(schema.StateError) as info:
        schema.validate_state(state(backup=bad))
    assert set(info.value.fields) == {"backup.schedule", "backup.keep_daily", "backup.keep_weekly",
                                      "backup.key_confirmed", "backup.extra"}
    with pytest.raises(schema.StateError) as info:
        schema.validate_state(state(backup={"keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}))
    assert "keep at least one" in info.value.fields["backup.keep_daily"]
    with pytest.raises(schema.StateError) as info:
        schema.validate_state(state(backup="x"))
    assert set(info.value.fields) == {"backup"}
    with pytest.raises(schema.StateError) as info:
        schema.BACKUP.validate({"schedule": "x", "repository": "relative"})
    assert set(info.value.fields) == {"schedule", "repository"}  # a request's fields, as it named them


DEFAULTS = {"repository": "", "schedule": "daily", "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6,
            "key_confirmed": False}


def test_defaults_and_the_role_variables():
    assert schema.apply_defaults(STATE)["backup"] == DEFAULTS
    assert schema.apply_defaults(state(backup={"schedule": "weekly"}))["backup"] == {**DEFAULTS, "schedule": "weekly"}
    v = schema.state_to_vars(state(backup={"repository": "/mnt/b", "schedule": "weekly", "keep_daily": 3}))
    assert v["pic_backup_repository"] == "/mnt/b" and v["pic_backup_schedule"] == "weekly"
    assert v["pic_backup_keep"] == {"daily": 3, "weekly": 4, "monthly": 6}
    assert not [k for k in v if "key_confirmed" in k]  # the UI's warning, no role's input


def test_a_repository_change_converges_the_backup_role_only():
    from test_role_inputs import CELL
    assert CELL.roles_for_diff(STATE, state(backup={"repository": "/mnt/b"})) == ["backup"]
    assert CELL.roles_for_diff(STATE, state(backup={"key_confirmed": True})) == []


def test_the_playbook_defaults_match_the_schema():
    root = Path(__file__).resolve().parents[2]
    defaults = yaml.safe_load((root / "playbooks/vars/cell_defaults.yml").read_text())["pic_cell_defaults"]
    from_schema = {k: v for k, v in schema.state_to_vars(STATE).items() if k.startswith("pic_backup_")}
    assert len(from_schema) == 3 and {k: defaults[k] for k in from_schema} == from_schema


# ---- migrations ------------------------------------------------------------------------------
def test_a_state_from_a_newer_pic_is_refused():
    with pytest.raises(schema.StateError) as info:
        migrate.migrate({**STATE, "version": schema.SCHEMA_VERSION + 1})
    assert "newer PIC" in info.value.fields["version"]


def test_an_older_state_is_migrated_step_by_step(monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(migrate.MIGRATIONS, 1, lambda s: {**s, "version": 2, "step1": True})
    monkeypatch.setitem(migrate.MIGRATIONS, 2, lambda s: {**{k: v for k, v in s.items() if k != "step1"},
                                                          "version": 3})
    out, passed = migrate.migrate(STATE)
    assert out["version"] == 3 and "step1" not in out and passed == [1, 2]
    assert STATE["version"] == 1  # the input is left alone
    monkeypatch.delitem(migrate.MIGRATIONS, 2)
    with pytest.raises(schema.StateError, match="no migration from schema version 2"):
        migrate.migrate(STATE)


# ---- the manager, with the real borg --------------------------------------------------------------
class Units:
    """systemd as the manager sees it: which units run, and every stop and start in order."""

    def __init__(self, running=("dovecot", "apache2")):
        self.running = set(running)
        self.calls: list[tuple[str, str]] = []

    def active(self, unit):
        return unit in self.running

    def control(self, verb, unit):
        self.calls.append((verb, unit))
        (self.running.discard if verb == "stop" else self.running.add)(unit)


CELL_FILES = {
    "etc/pic/cell.yml": yaml.safe_dump(STATE),
    "var/lib/pic/state/cell-1.yml": yaml.safe_dump(STATE),
    "etc/pic/api-passwords.json": '{"alice": {"hash": "scrypt$x"}}\n',
    "etc/pic/ca/private/root.key": "-----BEGIN EC PRIVATE KEY-----\nCA\n-----END EC PRIVATE KEY-----\n",
    "etc/wireguard/private.key": "cell-wg-key\n",
    "etc/dkimkeys/mail.private": "dkim\n",
}
DATA_FILES = {
    "var/vmail/home.cell/alice/Maildir/cur/1.eml": "Subject: kept\n\nhello\n",
    "var/lib/radicale/collections/collection-root/alice/work/e1.ics": "BEGIN:VCALENDAR\nEND:VCALENDAR\n",
    "var/lib/pic/files/alice/notes.txt": "kept safe\n",
}
CONFIG_FILES = {"etc/pic/api.yml": "runner: agent\n"}  # configuration: never in an archive


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def make_config(tmp_path: Path, repository: str | None = None) -> BackupConfig:
    return BackupConfig(
        repository=repository if repository is not None else str(tmp_path / "disk/repo"),
        passphrase_file=tmp_path / PASSPHRASE_FILE,
        ssh_key_file=tmp_path / "secrets/ssh_key",
        known_hosts_file=tmp_path / "secrets/known_hosts",
        borg_dir=tmp_path / "data/borg",
        status_file=tmp_path / "data/status.json",
        marker_file=tmp_path / "data/repository",
        prefix="pic",
        compression="lz4",
        keep={"daily": 7, "weekly": 4, "monthly": 6},
        state_paths=["/etc/pic/cell.yml", "/var/lib/pic/state", "/etc/pic/api-passwords.json", "/etc/pic/ca",
                     "/etc/wireguard/private.key", "/etc/dkimkeys", "/etc/pic/backup/ssh_key"],
        data_paths=["/var/vmail", "/var/lib/radicale/collections", "/var/lib/pic/files"],
        exclude=["sh:**/.cache"],
        quiesce_units=["dovecot", "radicale", "apache2"],
        root=tmp_path / "root",
    )


def manager(config: BackupConfig, units: Units) -> BackupManager:
    root = config.root
    return BackupManager(config, root / "etc/pic/cell.yml", root / "var/lib/pic/state", root / "etc/pic/setup-code",
                         unit_active=units.active, unit_control=units.control)


@pytest.fixture
def units():
    return Units()


@pytest.fixture
def cell(tmp_path, units):
    """A set-up cell's files under tmp/root and its manager, backing up to a local repository."""
    config = make_config(tmp_path)
    write_tree(config.root, {**CELL_FILES, **DATA_FILES, **CONFIG_FILES})
    return manager(config, units)


@pytest.fixture
def backed_up(cell):
    cell.create()
    return cell


def borg_files(cell: BackupManager, archive: str) -> set[str]:
    env = {**os.environ, "BORG_PASSPHRASE": cell.passphrase(), "BORG_BASE_DIR": str(cell.config.borg_dir)}
    out = subprocess.run(["borg", "list", "--short", f"{cell.config.repository}::{archive}"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_init_makes_a_private_passphrase_once_and_then_asks_nothing(cell, monkeypatch):
    assert cell.init() == "initialised"
    passphrase = cell.passphrase()
    assert len(passphrase) == 35 and passphrase.count("-") == 5
    assert stat.S_IMODE(cell.config.passphrase_file.stat().st_mode) == 0o600
    monkeypatch.setattr("pic_api.managers.backup.Borg.run", lambda *a, **k: pytest.fail("borg was asked again"))
    assert cell.init() == "ready"
    assert cell.passphrase() == passphrase


def test_init_adopts_a_repository_its_passphrase_opens_and_refuses_another(cell, tmp_path):
    cell.init()
    cell.config.marker_file.unlink()  # a restored cell finds its repository there already
    assert cell.init() == "ready"
    cell.config.marker_file.unlink()
    cell.config.passphrase_file.write_text("someone else's\n")
    with pytest.raises(BackupError) as info:
        cell.init()
    assert info.value.fields == {"passphrase": "wrong passphrase"}


def test_no_repository_is_a_clear_refusal(tmp_path, units):
    with pytest.raises(BackupError) as info:
        manager(make_config(tmp_path, repository=""), units).create()
    assert info.value.fields == {"repository": "not set"} and "pic backup set" in info.value.message


def test_a_backup_quiesces_archives_state_secrets_and_data_but_no_config(backed_up, units):
    status = json.loads(backed_up.config.status_file.read_text())
    assert status["ok"] is True and status["archive"].startswith("pic-")
    files = borg_files(backed_up, status["archive"])
    assert {*CELL_FILES, *DATA_FILES} <= files
    assert not set(CONFIG_FILES) & files
    # only the running units were stopped, and started again in reverse order
    assert units.calls == [("stop", "dovecot"), ("stop", "apache2"), ("start", "apache2"), ("start", "dovecot")]
    assert status["quiesced"] == ["dovecot", "apache2"] and units.running == {"dovecot", "apache2"}
    assert [a["name"] for a in backed_up.archives()] == [status["archive"]]


def test_the_status_is_readable_by_the_api_group(cell):
    """`pic status` reads it as the API's user: the file takes its directory's group (root:pic)."""
    status_dir = cell.config.status_file.parent
    status_dir.mkdir(parents=True)
    os.chown(status_dir, -1, 4242)
    cell.create()
    info = cell.config.status_file.stat()
    assert info.st_gid == 4242 and stat.S_IMODE(info.st_mode) == 0o640


def test_prune_keeps_the_newest_archive_of_a_day(backed_up, monkeypatch):
    """Three backups on one day: the middle one goes. borg keeps the day's newest and, while there are
    fewer days than keep_daily, the oldest archive too."""
    first = backed_up.archives()[0]["name"]
    for seconds in (5, 10):
        later = backed_up.clock() + dt.timedelta(seconds=seconds)
        monkeypatch.setattr(backed_up, "clock", lambda later=later: later)
        newest = backed_up.create()["archive"]
    assert [a["name"] for a in backed_up.archives()] == [first, newest]
    backed_up.check()


def test_a_failed_backup_says_why_and_restarts_the_services(backed_up, units):
    shutil.rmtree(backed_up.config.repository)  # the other disk is gone
    units.calls.clear()
    with pytest.raises(BackupError) as info:
        backed_up.create()
    assert "does not exist" in info.value.message
    status = json.loads(backed_up.config.status_file.read_text())
    assert status["ok"] is False and "does not exist" in status["error"]
    assert units.running == {"dovecot", "apache2"}


def test_a_damaged_repository_fails_its_check(backed_up):
    backed_up.check()
    # borg check answers a damaged segment with "errors found" and exit 1, which elsewhere is a warning
    segments = sorted((p for p in (Path(backed_up.config.repository) / "data").rglob("*") if p.is_file()),
                      key=lambda p: p.stat().st_size)
    segment = segments[-1]
    data = bytearray(segment.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    segment.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        backed_up.check()


def test_the_key_to_save_elsewhere(backed_up):
    backed_up.config.ssh_key_file.with_name("ssh_key.pub").write_text("ssh-ed25519 AAAA pic-backup\n")
    key = backed_up.key()
    assert key["passphrase"] == backed_up.passphrase()
    assert key["key_export"].startswith("BORG_KEY ") and key["ssh_public_key"] == "ssh-ed25519 AAAA pic-backup"


# ---- restore ---------------------------------------------------------------------------------
@pytest.fixture
def fresh(tmp_path, backed_up):
    """A fresh host: an installed cell that is not set up, with its own empty data and a setup code;
    it reaches the old cell's repository and knows nothing else of it."""
    config = make_config(tmp_path / "new", repository="")
    config.root.mkdir(parents=True)
    write_tree(config.root, {"etc/pic/setup-code": "ABCD-EFGH-JKLM-NPQR\n", "etc/pic/seed.yml": "cell: {}\n",
                             "var/vmail/.keep": "", **CONFIG_FILES})
    return manager(config, Units(running=("dovecot", "radicale", "apache2")))


def test_a_wrong_passphrase_is_refused_and_changes_nothing(fresh, backed_up):
    before = tree(fresh.config.root)
    for wrong in ("not the passphrase", backed_up.passphrase() + "x"):
        with pytest.raises(BackupError) as info:
            fresh.restore(backed_up.config.repository, wrong, converge=lambda emit: pytest.fail("converged"))
        assert info.value.fields == {"passphrase": "wrong passphrase"}
        assert "wrong passphrase" in info.value.message
    assert tree(fresh.config.root) == before
    assert not fresh.config.passphrase_file.exists() and fresh.unit_active("dovecot")
    assert list(fresh.config.borg_dir.parent.iterdir()) == []  # no cache, no host key learnt


def test_restore_puts_state_and_secrets_back_converges_then_the_data(fresh, backed_up):
    events, seen = [], {}

    def converge(emit):
        # the converge sees the restored state and keys, and not the data yet
        root = fresh.config.root
        seen["state"] = (root / "etc/pic/cell.yml").read_text()
        seen["wg"] = (root / "etc/wireguard/private.key").read_text()
        seen["mail"] = (root / "var/vmail/home.cell").exists()
        emit({"event": "playbook_on_stats"})
        return "successful"

    health = {"services": [{"name": "mail", "status": "ok"}, {"name": "dns", "status": "disabled"}]}
    result = fresh.restore(backed_up.config.repository, backed_up.passphrase(), converge=converge,
                           health=lambda: health, emit=events.append)
    assert seen == {"state": CELL_FILES["etc/pic/cell.yml"], "wg": "cell-wg-key\n", "mail": False}
    restored = tree(fresh.config.root)
    for rel, text in {**CELL_FILES, **DATA_FILES}.items():
        assert restored[rel] == text, rel
    assert "etc/pic/setup-code" not in restored  # set up now: the code opens nothing
    assert restored["etc/pic/api.yml"] == CONFIG_FILES["etc/pic/api.yml"]  # its own config, not the old one's
    steps = [e["step"] for e in events if e.get("event") == STEP_EVENT]
    assert steps == ["open", "check", "state", "converge", "data", "health", "done"]
    assert {"event": "playbook_on_stats"} in events
    # the data went back with every writing service stopped, which run again after
    units = fresh.unit_control.__self__
    assert units.calls[:3] == [("stop", "dovecot"), ("stop", "radicale"), ("stop", "apache2")]
    assert units.running == {"dovecot", "radicale", "apache2"}
    assert result["archive"] == backed_up.archives()[0]["name"] and result["health"] == health
    # the passphrase is this cell's now, for its next backups to the same repository
    assert fresh.passphrase() == backed_up.passphrase()
    assert fresh.config.marker_file.read_text().strip() == backed_up.config.repository


def test_restore_refuses_a_set_up_cell_unless_forced(backed_up):
    with pytest.raises(BackupError, match="has a state already"):
        backed_up.restore(backed_up.config.repository, backed_up.passphrase())
    assert backed_up.restore(backed_up.config.repository, backed_up.passphrase(), force=True)["converge"] == "skipped"


def test_a_failed_converge_stops_before_the_data(fresh, backed_up):
    with pytest.raises(BackupError, match="ended failed"):
        fresh.restore(backed_up.config.repository, backed_up.passphrase(), converge=lambda emit: "failed")
    restored = tree(fresh.config.root)
    assert "etc/pic/cell.yml" in restored and "var/lib/pic/files/alice/notes.txt" not in restored


def test_an_archive_from_a_newer_pic_is_refused_before_anything_changes(tmp_path, units, monkeypatch):
    newer = make_config(tmp_path / "newer")
    write_tree(newer.root, {**CELL_FILES, "etc/pic/cell.yml": yaml.safe_dump({**STATE, "version": 9})})
    old = manager(newer, units)
    old.create()
    fresh = manager(make_config(tmp_path / "fresh", repository=""), Units())
    fresh.config.root.mkdir(parents=True)
    with pytest.raises(BackupError, match="newer PIC"):
        fresh.restore(newer.repository, old.passphrase())
    assert tree(fresh.config.root) == {}


def test_an_older_archive_is_migrated(fresh, backed_up, monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(migrate.MIGRATIONS, 1, lambda s: {**s, "version": 2})
    monkeypatch.setattr(schema, "validate_state", lambda s: None)
    result = fresh.restore(backed_up.config.repository, backed_up.passphrase())
    assert result["migrated_from"] == [1]
    assert yaml.safe_load((fresh.config.root / "etc/pic/cell.yml").read_text())["version"] == 2


def test_a_named_archive_must_exist(fresh, backed_up):
    with pytest.raises(BackupError) as info:
        fresh.restore(backed_up.config.repository, backed_up.passphrase(), archive="pic-1999-01-01T00:00:00")
    assert info.value.fields == {"archive": "no such archive"}


# ---- the API's side: the settings in the state ----------------------------------------------------
def test_settings_are_validated_and_saved_with_a_converge_of_the_backup_role(app, admin):
    settings = app.extensions["pic"].backup
    with pytest.raises(InvalidInput) as info:
        settings.update({"repository": "relative", "schedule": "often"})
    assert set(info.value.fields) == {"repository", "schedule"}
    with pytest.raises(InvalidInput):
        settings.update({})
    run = settings.update({"repository": "/mnt/backup", "schedule": "weekly"})
    assert run.tags == ["backup"]
    assert settings.get()["repository"] == "/mnt/backup" and settings.get()["key_confirmed"] is False
    settings.confirm_key()
    assert settings.get() == {**DEFAULTS, "repository": "/mnt/backup", "schedule": "weekly", "key_confirmed": True}


def test_change_for_names_request_fields(app):
    with pytest.raises(InvalidInput) as info:
        BackupSettings.change_for({"keep_monthly": "6"})
    assert info.value.fields == {"keep_monthly": "keep_monthly must be a whole number"}


# ---- the agent's backup actions ----------------------------------------------------------------
def write_config_file(bconfig: BackupConfig, path: Path) -> None:
    """The configuration file the backup role writes, for ``bconfig``'s tree: its paths made absolute
    (as on a cell, where the root is /)."""
    data = {f.name: getattr(bconfig, f.name) for f in dataclasses.fields(bconfig) if f.name != "root"}
    for key in ("state_paths", "data_paths"):
        data[key] = [str(bconfig.root / p.lstrip("/")) for p in data[key]]
    path.write_text(yaml.safe_dump({k: str(v) if isinstance(v, Path) else v for k, v in data.items()}))


@pytest.fixture
def agent_cell(tmp_path, config, monkeypatch):
    """An agent over a real backup configuration (a local repository) and a cell's files in a tree."""
    bconfig = make_config(tmp_path / "b")
    write_tree(bconfig.root, {**CELL_FILES, **DATA_FILES})
    write_config_file(bconfig, tmp_path / "backup.yml")
    config.backup_config_file = tmp_path / "backup.yml"
    config.state_file = bconfig.root / "etc/pic/cell.yml"
    config.state_dir = bconfig.root / "var/lib/pic/state"
    monkeypatch.setattr(actions, "unit_active", lambda unit: False)
    monkeypatch.setattr(backup, "HEALTH_WAIT", 0.1)  # no service runs here: the last report at once
    return Agent(config, FakeBackend()), bconfig


def refused(agent, request):
    with pytest.raises(AgentError) as info:
        agent.handle(request, lambda m: pytest.fail(f"nothing may be sent for a refused request: {m}"))
    return info.value


KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.mark.parametrize("args,field,reason", [
    ({"passphrase": "x"}, "repository", "required"),
    ({"repository": "/mnt/b"}, "passphrase", "required"),
    ({"repository": "relative", "passphrase": "x"}, "repository", "absolute path"),
    ({"repository": "/mnt/b;reboot", "passphrase": "x"}, "repository", "absolute path"),
    ({"repository": "/mnt/b", "passphrase": "two\nlines"}, "passphrase", "line breaks"),
    ({"repository": "/mnt/b", "passphrase": "x" * 2000}, "passphrase", "1 to 1024"),
    ({"repository": "/mnt/b", "passphrase": "x", "archive": "../../etc"}, "archive", "archive name"),
    ({"repository": "/mnt/b", "passphrase": "x", "ssh_key": "-----BEGIN RSA PRIVATE KEY-----"}, "ssh_key", "OpenSSH"),
    ({"repository": "/mnt/b", "passphrase": "x", "ssh_key": KEY + "$(reboot)\n"}, "ssh_key", "OpenSSH"),
    ({"repository": "/mnt/b", "passphrase": "x", "force": "yes"}, "force", "true or false"),
    ({"repository": "/mnt/b", "passphrase": "x", "rsh": "sh -c reboot"}, "rsh", "unexpected"),
])
def test_restore_arguments_outside_the_allow_list_are_refused(agent_cell, args, field, reason):
    agent, _ = agent_cell
    err = refused(agent, {"action": "restore", "args": args})
    assert reason in err.fields[field], err.fields
    assert agent.backend.runs == []


@pytest.mark.parametrize("action", ["backup_start", "backup_status", "backup_archives", "backup_key"])
def test_backup_actions_take_no_arguments(agent_cell, action):
    err = refused(agent_cell[0], {"action": action, "args": {"repository": "/tmp/x"}})
    assert err.fields == {"repository": "unexpected argument"}


def the_cells_manager(agent: Agent) -> BackupManager:
    """The manager the backup unit would run on the agent's cell (its configuration file, fake units)."""
    units = Units()
    return BackupManager(BackupConfig.load(agent.config.backup_config_file), agent.config.state_file,
                         agent.config.state_dir, unit_active=units.active, unit_control=units.control)


def test_the_agent_lists_archives_shows_the_key_and_status(agent_cell):
    agent, bconfig = agent_cell
    the_cells_manager(agent).create()
    names = [a["name"] for a in agent.handle({"action": "backup_archives", "args": {}}, lambda m: None)["archives"]]
    assert len(names) == 1 and names[0].startswith("pic-")
    key = agent.handle({"action": "backup_key", "args": {}}, lambda m: None)
    assert key["passphrase"] == bconfig.passphrase_file.read_text().strip()
    status = agent.handle({"action": "backup_status", "args": {}}, lambda m: None)
    assert status["initialised"] is True and status["last"]["archive"] == names[0]


def test_backup_start_without_a_repository_says_so(tmp_path, config, monkeypatch):
    write_config_file(make_config(tmp_path, repository=""), tmp_path / "backup.yml")
    config.backup_config_file = tmp_path / "backup.yml"
    started = []
    monkeypatch.setattr(actions, "start_unit", lambda unit: started.append(unit) or True)
    agent = Agent(config, FakeBackend())
    err = refused(agent, {"action": "backup_start", "args": {}})
    assert err.fields == {"repository": "not set"} and started == []


def test_the_agent_restores_with_its_converge_and_never_logs_the_passphrase(agent_cell, config, caplog):
    agent, bconfig = agent_cell
    old = the_cells_manager(agent)
    old.create()
    sent = []
    caplog.set_level(logging.INFO, logger="pic.agent")
    result = agent.handle(
        {"action": "restore", "args": {"repository": bconfig.repository, "passphrase": old.passphrase(),
                                       "ssh_key": KEY, "force": True}},
        sent.append,
    )
    assert result["converge"] == "successful" and len(agent.backend.runs) == 1
    assert agent.backend.runs[0]["tags"] == []  # the whole site, from the restored state
    steps = [m["event"]["step"] for m in sent if m["event"].get("event") == STEP_EVENT]
    assert steps[0] == "open" and steps[-1] == "done"
    assert any(m["event"].get("event") == "runner_on_ok" for m in sent)  # the converge's events, trimmed
    assert old.passphrase() not in caplog.text and "BEGIN OPENSSH" not in caplog.text
    assert '"passphrase": "********"' in caplog.text
    assert bconfig.ssh_key_file.read_text() == KEY  # the key given reaches the same server next time
    assert list(bconfig.borg_dir.parent.glob("ssh-key-*")) == []  # its temporary copy is gone


def test_a_wrong_passphrase_through_the_agent_names_the_field(agent_cell):
    agent, bconfig = agent_cell
    the_cells_manager(agent).create()
    before = tree(bconfig.root)
    sent = []
    with pytest.raises(AgentError) as info:
        agent.handle({"action": "restore", "args": {"repository": bconfig.repository, "passphrase": "nope",
                                                    "force": True}}, sent.append)
    assert info.value.fields == {"passphrase": "wrong passphrase"} and agent.backend.runs == []
    assert [m["event"]["step"] for m in sent] == ["open"]  # it said what it tried, and went no further
    assert tree(bconfig.root) == before


def test_secret_arguments_are_masked_for_the_log():
    assert protocol.loggable({"repository": "/m", "passphrase": "p", "ssh_key": None}) == {
        "repository": "/m", "passphrase": "********", "ssh_key": None}


def test_the_agent_restore_brings_the_apps_back_after_their_data_and_reports_one_that_cannot(
        tmp_path, config, monkeypatch):
    """A dead disk: the old cell ran hello and notes; the new host has their directories back from the
    archive and nothing else. Each is installed again by the store's own repair after the data, from
    the registry it came from; notes' registry does not answer, so notes is reported and the rest of
    the restore goes on."""
    bconfig = make_config(tmp_path / "b")
    bconfig.data_paths.append("/var/lib/pic/store/apps")
    index, behaviours = hello_index()
    (tmp_path / "index.yml").write_text(yaml.safe_dump(index))
    store_config = StoreConfig(index=str(tmp_path / "index.yml"), apps_dir=bconfig.root / "var/lib/pic/store/apps",
                               socket="/nonexistent.sock", health_timeout=5, snapshots_kept=2, limits=True)
    old_engine = FakeDocker(behaviours)
    old = StoreManager(store_config, client=lambda: old_engine, host=fake_host(old_engine))
    records = [old.install("hello", "1.0.0")["app"], old.install("notes")["app"]]
    created = (store_config.apps_dir / "hello/volumes/data/created").read_text()
    cell_state, _ = migrate.migrate(STATE)
    cell_state["store"] = {"enabled": True, "index": "", "apps": records}
    schema.validate_state(cell_state)
    write_tree(bconfig.root, {**CELL_FILES, "etc/pic/cell.yml": yaml.safe_dump(cell_state), **DATA_FILES})
    write_config_file(bconfig, tmp_path / "backup.yml")
    config.backup_config_file = tmp_path / "backup.yml"
    config.state_file = bconfig.root / "etc/pic/cell.yml"
    config.state_dir = bconfig.root / "var/lib/pic/state"
    monkeypatch.setattr(actions, "unit_active", lambda unit: False)
    monkeypatch.setattr(backup, "HEALTH_WAIT", 0.1)
    manager_ = the_cells_manager(Agent(config, FakeBackend()))
    manager_.create()
    shutil.rmtree(store_config.apps_dir)

    new_engine = FakeDocker({k: v for k, v in behaviours.items() if "/notes@" not in k})
    seen = {}

    class Backend(FakeBackend):
        def execute(self, run, emit, should_cancel):
            seen["apps at the converge"] = store_config.apps_dir.exists()
            return super().execute(run, emit, should_cancel)

    agent = Agent(config, Backend(), store_factory=lambda: StoreManager(store_config, client=lambda: new_engine,
                                                                        host=fake_host(new_engine)))
    sent = []
    result = agent.handle({"action": "restore", "args": {"repository": bconfig.repository,
                                                         "passphrase": manager_.passphrase(), "force": True}},
                          sent.append)
    assert seen == {"apps at the converge": False}  # the data comes after the converge, the apps after it
    steps = [(m["event"]["step"], m["event"]["message"]) for m in sent if m["event"].get("event") == STEP_EVENT]
    assert [s for s, _ in steps] == ["open", "check", "state", "converge", "data", "apps", "apps", "apps",
                                     "health", "done"]
    assert steps[6] == ("apps", "hello 1.0.0 runs again")
    assert steps[7][1].startswith("notes 0.3 did not come back: ") and "Repair on the Store page" in steps[7][1]
    assert steps[-1][1].endswith("; not back: notes")
    assert [(a["id"], a["ok"]) for a in result["apps"]] == [("hello", True), ("notes", False)]
    assert "manifest unknown" in result["apps"][1]["error"]
    assert new_engine.container_objects["pic-hello"].status == "running"
    assert "pic-notes" not in new_engine.container_objects
    assert (store_config.apps_dir / "hello/volumes/data/created").read_text() == created  # its data, not a new one
    assert (store_config.apps_dir / "notes/manifest.json").is_file()  # notes' data is back, for a repair
    assert any(m["event"].get("task", "").startswith("Pull ") for m in sent)  # the store's steps, trimmed
