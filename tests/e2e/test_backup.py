"""A dead disk made boring: a cell is backed up over ssh, and a fresh host restored from that backup
serves the same devices, mail, calendar and files with nothing changed on their side.

1. Cell A (site.yml on a lab host, set up headless from the inventory) gets a peer; its VPN client
   sends a mail, stores a CalDAV event and a WebDAV file through the tunnel.
2. `pic backup set` points A at a borg repository on a second lab host over ssh (a restricted
   `borg serve` key); `pic backup` writes an archive, and the API a second (a run with steps). The
   management commands run on A: status, list-peers, show-routes, logs, update, reset-admin-password,
   uninstall (which keeps the data).
3. A is gone. A fresh host with A's address gets site.yml (not set up). `pic restore` with a wrong
   passphrase is refused and changes nothing; with the right one (and A's backup ssh key) it brings
   the cell back.
4. The VPN client, with A's config unchanged, handshakes the new host and reads the same mail over
   IMAP, the same event over CalDAV and the same file over WebDAV; the admin logs in with A's
   password; the new host goes on backing up to the same repository.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from pic_lab.cell import IMAP_READ, Cell, client_wg_config, csrf, follow_run
from pic_lab.lab import throwaway_lab

PIC = "/opt/pic/venv/bin/pic"
ADMIN_PASSWORD = "restore me 4 ever"  # test data, this lab cell only
SERVICES = ["dns", "wireguard", "mail", "calendar", "files"]
SUBJECT = f"before-the-disk-died-{int(time.time())}"
EVENT_URL = "https://calendar.home.cell/admin/backup/e1.ics"
FILE_URL = "https://files.home.cell/admin/kept.txt"
STORE_DIR = "/srv/borg"
WATCHED = "/etc/pic /var/lib/pic /etc/wireguard /etc/dkimkeys /var/vmail /var/lib/radicale"


@pytest.fixture(scope="module")
def lab():
    with throwaway_lab("restore", "e2e") as lab:  # not "backup": the molecule scenario's lab is $PIC_LAB-backup
        yield lab


@pytest.fixture(scope="module")
def cell_a(lab, tmp_path_factory) -> Cell:
    """Cell A, converged and set up headless (the inventory gives the wizard's answers)."""
    lab.up("cell", image="provisioned")
    lab.up("client", image="provisioned")
    lab.up("store", image="provisioned")
    setup = {"pic_setup_completed": True, "pic_admin_password": ADMIN_PASSWORD, "pic_cell_name": "home",
             "pic_services": SERVICES}
    cell = Cell(lab, lab.write_inventory(tmp_path_factory.mktemp("a"), {"cells": ["cell"]}, setup))
    result = cell.converge()
    assert result.rc == 0, result.output[-6000:]
    # The headless setup writes the state at the api role, after the mail, calendar and files roles
    # ran without its users: the next converge gives the admin those services (the wizard's setup
    # run does the same).
    again = cell.converge()
    assert again.rc == 0, again.output[-6000:]
    return cell


def login(cell: Cell, password: str = ADMIN_PASSWORD) -> requests.Session:
    """The admin over HTTPS (a set-up cell serves no API on :8081), trusting only the cell's root."""
    return cell.https_login(password)


def run(cell: Cell, *cmd: str, host: str = "cell", input: str | None = None):
    return cell.lab.exec(host, list(cmd), input=input)


def curl(cell: Cell, *args: str, data: str | None = None):
    """curl on the VPN client, trusting only the cell's root CA, as the admin."""
    return run(cell, "curl", "-sS", "--cacert", "/etc/pic-root.pem", "-u", f"admin:{ADMIN_PASSWORD}", *args,
               host="client", input=data)


@pytest.fixture(scope="module")
def peer(cell_a):
    """A peer added through A's API; the client brings the tunnel up with its config, kept unchanged."""
    admin = login(cell_a)
    r = admin.post(f"{cell_a.https}/api/peers", json={"name": "laptop"}, headers=csrf(admin), timeout=30)
    assert r.status_code == 201, r.text
    assert follow_run(admin, cell_a.https, r.json()["run_id"])[-1]["status"] == "successful"
    root_pem = admin.get(f"{cell_a.https}/api/ca/root.pem", timeout=10).text
    config, dns = client_wg_config(r.json()["config"], str(cell_a.lab.subnet))
    run(cell_a, "bash", "-c", "umask 077; cat > /etc/wireguard/wg0.conf", host="client", input=config)
    run(cell_a, "bash", "-c", "cat > /etc/pic-root.pem", host="client", input=root_pem)
    up = run(cell_a, "wg-quick", "up", "wg0", host="client")
    assert up.returncode == 0, up.stderr
    run(cell_a, "bash", "-c", f"echo 'nameserver {dns}' > /etc/resolv.conf", host="client")
    return {"config": config, "dns": dns, "public_key": r.json()["peer"]["public_key"]}


def handshake(cell: Cell, dns: str, after: float = 0) -> bool:
    """A ping through the tunnel, then a handshake newer than ``after`` (epoch seconds)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if run(cell, "ping", "-c1", "-W2", dns, host="client").returncode == 0:
            shakes = run(cell, "wg", "show", "wg0", "latest-handshakes", host="client").stdout.split()
            if len(shakes) == 2 and int(shakes[1]) > after:
                return True
        time.sleep(2)
    return False


SMTP_SEND = (
    "import smtplib, ssl, sys\n"
    "ctx = ssl.create_default_context(cafile='/etc/pic-root.pem')\n"
    "s = smtplib.SMTP('mail.home.cell', 587, timeout=30); s.starttls(context=ctx)\n"
    "s.login('admin@home.cell', sys.argv[1])\n"
    "s.sendmail('admin@home.cell', ['admin@home.cell'],\n"
    "           'Subject: ' + sys.argv[2] + '\\r\\n\\r\\nwritten before the disk died\\r\\n')\n"
    "s.quit()\n"
)
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PIC e2e//EN\r\nBEGIN:VEVENT\r\nUID:backup-1\r\n"
         "DTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:Kept through a restore\r\nEND:VEVENT\r\n"
         "END:VCALENDAR\r\n")


def read_mail(cell: Cell) -> str:
    return run(cell, "python3", "-c", IMAP_READ, ADMIN_PASSWORD, SUBJECT, host="client").stdout


@pytest.fixture(scope="module")
def data(cell_a, peer):
    """A mail, a calendar event and a file, each written through the tunnel and read back from A."""
    assert handshake(cell_a, peer["dns"])
    sent = run(cell_a, "python3", "-c", SMTP_SEND, ADMIN_PASSWORD, SUBJECT, host="client")
    assert sent.returncode == 0, sent.stderr[-2000:]
    assert f"Subject: {SUBJECT}" in read_mail(cell_a)
    made = curl(cell_a, "-o", "/dev/null", "-w", "%{http_code}", "-X", "MKCALENDAR",
                EVENT_URL.rsplit("/", 1)[0] + "/")
    assert made.stdout == "201", made.stdout + made.stderr
    put = curl(cell_a, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: text/calendar", "-X", "PUT",
               "--data-binary", "@-", EVENT_URL, data=EVENT)
    assert put.stdout in ("201", "204"), put.stdout + put.stderr
    put = curl(cell_a, "-o", "/dev/null", "-w", "%{http_code}", "-T", "-", FILE_URL, data="kept safe\n")
    assert put.stdout in ("201", "204"), put.stdout + put.stderr
    return True


@pytest.fixture(scope="module")
def repository(cell_a):
    """A borg repository on the store host, reached over ssh with A's backup key, which may run
    nothing there but `borg serve` in /srv/borg."""
    pub = run(cell_a, "cat", "/etc/pic/backup/ssh_key.pub").stdout.strip()
    assert pub.startswith("ssh-ed25519 ")
    keys = "~borg/.ssh/authorized_keys"
    script = (f"set -e; useradd -m -s /bin/sh borg; install -d -o borg -g borg -m 700 {STORE_DIR} ~borg/.ssh; "
              f"echo 'command=\"borg serve --restrict-to-path {STORE_DIR}\",restrict {pub}' > {keys}; "
              f"chown borg:borg {keys}; chmod 600 {keys}")
    made = run(cell_a, "bash", "-c", script, host="store")
    assert made.returncode == 0, made.stderr
    return f"ssh://borg@{cell_a.lab.host_info('store')['ip']}{STORE_DIR}/home"


@pytest.fixture(scope="module")
def backed_up(cell_a, data, repository, tmp_path_factory):
    """`pic backup set` (a converge of the backup role through the agent), then `pic backup`; the
    passphrase and the backup ssh key leave the box."""
    set_ = run(cell_a, PIC, "backup", "set", "--repository", repository)
    assert set_.returncode == 0, set_.stdout[-3000:] + set_.stderr[-2000:]
    backup = run(cell_a, PIC, "backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    key = run(cell_a, PIC, "backup", "key").stdout
    passphrase = key.split("Passphrase: ", 1)[1].split()[0]
    return {"passphrase": passphrase, "ssh_key": run(cell_a, "cat", "/etc/pic/backup/ssh_key").stdout,
            "output": backup.stdout}


def test_a_backup_goes_to_the_repository_over_ssh(cell_a, backed_up, repository):
    assert backed_up["output"].startswith("Backup pic-") and repository in backed_up["output"]
    listed = run(cell_a, PIC, "backup", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("pic-"), listed.stdout + listed.stderr
    # the archive is on the store, in the repository only borg serve may touch
    assert run(cell_a, "test", "-d", f"{STORE_DIR}/home/data", host="store").returncode == 0


def test_the_api_backs_up_now_and_lists_the_archives(cell_a, backed_up):
    """What the Backups page does: a backup now is a run whose steps stream (borg in the agent, over
    ssh), then the archives with their sizes and the last backup in the status."""
    admin = login(cell_a)
    r = admin.post(f"{cell_a.https}/api/backup/runs", headers=csrf(admin), timeout=30)
    assert r.status_code == 202 and r.json()["run"]["kind"] == "backup", r.text
    events = follow_run(admin, cell_a.https, r.json()["run_id"])
    assert events[-1]["status"] == "successful", events[-6:]
    steps = [e["step"] for e in events if e["event"] == "pic_step"]
    assert "create" in steps and "prune" in steps and steps[-1] == "done", steps
    archives = admin.get(f"{cell_a.https}/api/backup/archives", timeout=120).json()["archives"]
    assert len(archives) == 2 and all(a["original_size"] > 0 and a["nfiles"] > 0 for a in archives), archives
    view = admin.get(f"{cell_a.https}/api/backup", timeout=30).json()
    assert view["settings"]["repository"] == view["status"]["repository"]
    assert view["status"]["last"]["archive"] == archives[-1]["name"]
    assert view["settings"]["key_confirmed"] is False  # the UI's banner shows


def test_status_shows_the_backup_and_the_unsaved_key(cell_a, backed_up):
    out = run(cell_a, PIC, "status").stdout
    assert "Backups: last pic-" in out and "NOT confirmed saved" in out and "1 peer(s)" in out


def test_list_peers(cell_a, backed_up, peer):
    out = run(cell_a, PIC, "list-peers").stdout
    assert "laptop" in out and peer["public_key"] in out


def test_show_routes(cell_a, backed_up, peer):
    res = run(cell_a, PIC, "show-routes")
    assert res.returncode == 0, res.stderr
    assert peer["public_key"] in res.stdout and "latest handshake" in res.stdout  # wg show
    assert "== routing rules" in res.stdout and "every peer is split tunnel" in res.stdout


def test_logs(cell_a, backed_up):
    res = run(cell_a, PIC, "logs", "agent", "-n", "5000")
    assert res.returncode == 0 and '"tags": ["backup"]' in res.stdout, res.stdout[-2000:] + res.stderr  # backup set
    res = run(cell_a, PIC, "logs", "mail", "-n", "20")
    assert res.returncode == 0 and ("dovecot" in res.stdout or "postfix" in res.stdout), res.stdout
    assert run(cell_a, PIC, "logs", "nonsense").returncode == 2


def test_update_says_where_to_converge_from(cell_a):
    res = run(cell_a, PIC, "update")
    assert res.returncode == 2 and "no checkout to update from" in res.stderr


def test_reset_admin_password_prints_one_that_logs_in(cell_a, backed_up):
    res = run(cell_a, PIC, "reset-admin-password")
    assert res.returncode == 0, res.stderr
    password = res.stdout.split("New password of admin: ", 1)[1].split()[0]
    login(cell_a, password)


def test_uninstall_keeps_the_data(cell_a, backed_up):
    res = run(cell_a, PIC, "uninstall")
    assert res.returncode == 0, res.stdout + res.stderr
    assert run(cell_a, "systemctl", "is-active", "pic-api").stdout.strip() != "active"
    assert run(cell_a, "systemctl", "is-active", "dovecot").stdout.strip() != "active"
    assert run(cell_a, "test", "-e", "/opt/pic").returncode != 0
    for kept in ("/etc/pic/cell.yml", "/etc/wireguard/private.key", "/var/vmail", "/etc/pic/ca/private/root.key"):
        assert run(cell_a, "test", "-e", kept).returncode == 0, kept


# ---- A is gone; a fresh host takes its place ----------------------------------------------------------
@pytest.fixture(scope="module")
def cell_b(cell_a, backed_up, peer, tmp_path_factory) -> Cell:
    """A fresh host at A's address (the old box's disk died), site.yml converged, not set up; the
    passphrase and A's backup ssh key are all it is given."""
    lab, ip = cell_a.lab, cell_a.ip
    old_wg = run(cell_a, "cat", "/etc/pic/wireguard/public.key").stdout.strip()
    lab.down("cell")
    lab.up("cell", ip=ip, image="provisioned")
    cell = Cell(lab, lab.write_inventory(tmp_path_factory.mktemp("b"), {"cells": ["cell"]}))
    result = cell.converge()
    assert result.rc == 0, result.output[-6000:]
    assert run(cell, "cat", "/etc/pic/wireguard/public.key").stdout.strip() != old_wg  # a key of its own
    run(cell, "bash", "-c", "umask 077; cat > /root/old-cell-ssh-key", input=backed_up["ssh_key"])
    run(cell, "bash", "-c", "umask 077; cat > /root/passphrase", input=backed_up["passphrase"] + "\n")
    run(cell, "bash", "-c", "umask 077; echo not-the-passphrase > /root/wrong")
    cell.old_wg = old_wg
    return cell


def snapshot(cell: Cell) -> str:
    return run(cell, "bash", "-c", f"find {WATCHED} -xdev -printf '%p %m %u %s\\n' 2>/dev/null | sort; "
               f"find {WATCHED} -xdev -type f -exec sha256sum {{}} + 2>/dev/null | sort").stdout


def test_a_wrong_passphrase_is_refused_and_changes_nothing(cell_b, repository):
    assert requests.get(f"{cell_b.url}/api/setup/status", timeout=10).json() == {"completed": False}
    before = snapshot(cell_b)
    res = run(cell_b, PIC, "restore", repository, "--passphrase-file", "/root/wrong", "--ssh-key",
              "/root/old-cell-ssh-key")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "does not open the repository" in res.stderr and "passphrase: wrong passphrase" in res.stderr
    assert snapshot(cell_b) == before
    assert requests.get(f"{cell_b.url}/api/setup/status", timeout=10).json() == {"completed": False}


@pytest.fixture(scope="module")
def restored(cell_b, repository):
    started = time.time()
    res = run(cell_b, PIC, "restore", repository, "--passphrase-file", "/root/passphrase", "--ssh-key",
              "/root/old-cell-ssh-key")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
    assert "every enabled service is healthy" in res.stdout, res.stdout[-3000:]
    return {"started": started, "output": res.stdout}


def test_the_restore_went_in_its_order(restored):
    steps = [line.split(":", 1)[0] for line in restored["output"].splitlines() if not line.startswith(" ")]
    assert [s for s in steps if s in ("open", "check", "state", "converge", "data", "health", "done")] == [
        "open", "check", "state", "converge", "data", "health", "done"]


def test_the_same_device_config_handshakes_the_new_host(cell_b, restored, peer):
    assert run(cell_b, "cat", "/etc/pic/wireguard/public.key").stdout.strip() == cell_b.old_wg
    assert run(cell_b, "cat", "/etc/wireguard/wg0.conf", host="client").stdout == peer["config"]  # unchanged
    assert handshake(cell_b, peer["dns"], after=restored["started"]), "no handshake with the restored cell"


def test_the_same_mail_over_imap(cell_b, restored, peer):
    got = read_mail(cell_b)
    assert f"Subject: {SUBJECT}" in got and "written before the disk died" in got, got[-2000:]


def test_the_same_event_over_caldav(cell_b, restored, peer):
    got = curl(cell_b, EVENT_URL)
    assert "SUMMARY:Kept through a restore" in got.stdout, got.stdout + got.stderr


def test_the_same_file_over_webdav(cell_b, restored, peer):
    assert curl(cell_b, FILE_URL).stdout == "kept safe\n"


def test_the_admin_logs_in_with_the_backups_password(cell_b, restored):
    admin = login(cell_b)
    assert admin.get(f"{cell_b.https}/api/setup/status", timeout=10).json() == {"completed": True}
    peers = admin.get(f"{cell_b.https}/api/peers", timeout=10).json()
    assert [p["name"] for p in (peers["peers"] if isinstance(peers, dict) else peers)] == ["laptop"]


def test_the_new_host_goes_on_backing_up_to_the_same_repository(cell_b, restored):
    backup = run(cell_b, PIC, "backup")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    listed = run(cell_b, PIC, "backup", "list", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    archives = json.loads(listed.stdout)
    # prune keeps each day's newest (B's, today) and, with fewer days than keep_daily, the oldest (A's
    # first): two, and one more (the day before's newest) when the test ran across midnight
    days = {a["time"][:10] for a in archives}
    assert len(archives) == (2 if len(days) == 1 else 3), listed.stdout
