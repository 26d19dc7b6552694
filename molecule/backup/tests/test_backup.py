"""The backup role on a lab host: borg, private secrets, the timer, a backup that pauses the services
that write, an archive holding the state, secrets and data, `borg check`, prune, and a restore with
a wrong passphrase refused with nothing changed."""

import json

import pytest

from pic_lab.testing import run_converge

PIC = "/opt/pic/venv/bin/pic"
REPO = "/srv/backup-disk/pic"
BORG = "BORG_PASSCOMMAND='cat /etc/pic/backup/passphrase' BORG_BASE_DIR=/var/lib/pic/backup/borg borg"


def probe_started(cell) -> int:
    return int(cell.run("systemctl show -p ActiveEnterTimestampMonotonic --value pic-probe").stdout.strip())


@pytest.fixture(scope="module")
def backed_up(cell):
    """One backup through the unit the timer starts (a oneshot: systemctl waits for it)."""
    before = probe_started(cell)
    res = cell.run("systemctl start pic-backup.service")
    assert res.rc == 0, cell.run("journalctl -u pic-backup --no-pager -n 50").stdout
    status = json.loads(cell.file("/var/lib/pic/backup/status.json").content_string)
    return before, status


@pytest.mark.parametrize("path,group,mode", [
    ("/etc/pic/backup", "root", 0o700), ("/etc/pic/backup/passphrase", "root", 0o600),
    ("/etc/pic/backup/ssh_key", "root", 0o600), ("/etc/pic/backup.yml", "pic", 0o640),
    ("/var/lib/pic/backup", "pic", 0o750),
])
def test_the_secrets_are_roots_alone(cell, path, group, mode):
    f = cell.file(path)
    assert f.exists and f.user == "root" and f.group == group
    assert f.mode == mode, oct(f.mode)


def test_borg_is_installed_and_the_repository_initialised(cell):
    assert cell.package("borgbackup").is_installed
    assert cell.file("/var/lib/pic/backup/repository").content_string.strip() == REPO
    assert cell.run(f"{BORG} info {REPO}").rc == 0


def test_the_timer_is_daily(cell):
    timer = cell.service("pic-backup.timer")
    assert timer.is_enabled and timer.is_running
    assert "OnCalendar=*-*-* 03:30:00" in cell.file("/etc/systemd/system/pic-backup.timer").content_string


def test_a_backup_runs_and_its_archive_is_listed(cell, backed_up):
    _, status = backed_up
    assert status["ok"] is True and status["archive"].startswith("pic-"), status
    listed = json.loads(cell.check_output(f"{PIC} backup list --json"))
    assert status["archive"] in [a["name"] for a in listed]


def test_the_archive_holds_state_secrets_and_data_but_no_config(cell, backed_up):
    _, status = backed_up
    files = set(cell.check_output(f"{BORG} list --short {REPO}::{status['archive']}").split())
    assert {"etc/pic/cell.yml", "etc/pic/api-passwords.json", "var/lib/pic/state/cell-1.yml",
            "var/lib/pic/files/admin/notes.txt", "etc/pic/backup/ssh_key"} <= files
    # the passphrase opens the archive and is no part of it; configuration is written by a converge
    assert not {"etc/pic/backup/passphrase", "etc/pic/api.yml", "etc/pic/backup.yml"} & files


def test_the_writing_service_was_paused_and_runs_again(cell, backed_up):
    before, status = backed_up
    assert status["quiesced"] == ["pic-probe"]
    assert cell.service("pic-probe").is_running
    assert probe_started(cell) > before


def test_borg_check_passes(cell, backed_up):
    res = cell.run(f"{PIC} backup check")
    assert res.rc == 0 and "consistent" in res.stdout, res.stdout + res.stderr


def test_prune_keeps_the_newest_archive_of_a_day(cell, backed_up):
    """Three backups on one day (keep 7 daily, 4 weekly, 6 monthly): the middle one goes; borg keeps
    the day's newest and, while there are fewer days than kept, the oldest."""
    first = backed_up[1]["archive"]
    for _ in range(2):
        assert cell.run("systemctl start pic-backup.service").rc == 0
    newest = json.loads(cell.file("/var/lib/pic/backup/status.json").content_string)["archive"]
    listed = json.loads(cell.check_output(f"{PIC} backup list --json"))
    assert [a["name"] for a in listed] == [first, newest]


def test_a_wrong_passphrase_is_refused_and_changes_nothing(cell, backed_up):
    watched = "/etc/pic/cell.yml /etc/pic/api-passwords.json /etc/pic/backup/passphrase /var/lib/pic/state/*"
    before = cell.check_output(f"sha256sum {watched}")
    res = cell.run(f"echo not-the-passphrase | {PIC} restore {REPO} --passphrase-file - --force")
    assert res.rc == 2, res.stdout + res.stderr
    assert "wrong passphrase" in res.stderr
    assert cell.check_output(f"sha256sum {watched}") == before
    raw = cell.run(f"BORG_PASSPHRASE=not-the-passphrase BORG_BASE_DIR=/var/lib/pic/backup/borg borg list {REPO}")
    assert raw.rc == 2 and "incorrect" in raw.stderr
    # the agent logged the request without the passphrase
    assert "not-the-passphrase" not in cell.run("journalctl -u pic-agent --no-pager").stdout


def test_no_secret_in_the_state_the_config_or_the_logs(cell, backed_up):
    passphrase = cell.file("/etc/pic/backup/passphrase").content_string.strip()
    assert len(passphrase) == 35
    found = cell.run(f"grep -rlF -- {passphrase} /etc/pic/cell.yml /etc/pic/backup.yml /var/lib/pic /var/log/pic")
    assert found.stdout == ""
    assert passphrase not in cell.run("journalctl --no-pager").stdout


def test_the_key_is_shown_for_saving_and_the_warning_ends_when_confirmed(cell):
    passphrase = cell.file("/etc/pic/backup/passphrase").content_string.strip()
    key = cell.check_output(f"{PIC} backup key")
    assert passphrase in key and "BORG_KEY" in key and "ssh-ed25519" in key
    assert "NOT confirmed" in cell.check_output(f"{PIC} status")
    assert cell.run(f"{PIC} backup confirm-key").rc == 0
    assert "NOT confirmed" not in cell.check_output(f"{PIC} status")
    assert cell.file("/etc/pic/cell.yml").user == "pic"  # written as the API's user


def test_schedule_off_stops_the_timer_and_on_brings_it_back(cell):
    res = run_converge({"pic_backup_schedule": "off"})
    assert res.returncode == 0, res.stdout[-3000:]
    assert not cell.service("pic-backup.timer").is_enabled and not cell.service("pic-backup.timer").is_running
    res = run_converge()
    assert res.returncode == 0, res.stdout[-3000:]
    assert cell.service("pic-backup.timer").is_enabled and cell.service("pic-backup.timer").is_running
