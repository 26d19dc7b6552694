"""WebDAV storage on the cell, driven by real clients (litmus, curl) on the client host.

Until Caddy fronts it, the client reaches the loopback-only Apache through a test-only forwarder
on the cell (prepare.yml: cell:18080 -> 127.0.0.1:8080).
"""

from pathlib import Path

import pytest

from pic_lab.testing import run_converge

HERE = Path(__file__).parent
PASSWORDS = {"alice": "alice-calendar-pw", "bob": "bob-calendar-pw", "carol": "carol-pw"}
CODE = "-o /dev/null -w '%{http_code}'"


@pytest.fixture(scope="module")
def base(host_ip):
    return f"http://{host_ip['cell']}:18080/"


def curl(client, user, args):
    return client.run(f"curl -s {CODE} -u {user}:{PASSWORDS.get(user, 'wrong')} {args}").stdout


def test_apache_listens_on_loopback_only(cell):
    assert cell.service("apache2").is_enabled
    assert cell.service("apache2").is_running
    listening = [str(s) for s in cell.socket.get_listening_sockets()]
    assert "tcp://127.0.0.1:8080" in listening
    # Port 80 is Caddy's: Apache takes no other port.
    assert not [s for s in listening if s.endswith((":80", ":443"))]
    apache = cell.run("ss -Htlnp").stdout.splitlines()
    assert [line.split()[3] for line in apache if "apache2" in line] == ["127.0.0.1:8080"]


def test_password_file_and_directories(cell):
    f = cell.file("/etc/apache2/pic-webdav.htpasswd")
    assert (f.user, f.group, f.mode) == ("root", "www-data", 0o640)
    assert [line.split(":")[0] for line in f.content_string.split()] == ["alice", "bob"]
    for user in ("alice", "bob"):
        d = cell.file(f"/var/lib/pic/files/{user}")
        assert d.is_directory and (d.user, d.mode) == ("www-data", 0o750)
    assert not cell.file("/var/lib/pic/files/carol").exists
    # PIC's data directory stays closed; www-data may only pass through.
    pic = cell.file("/var/lib/pic")
    assert (pic.group, pic.mode) == ("pic", 0o750)
    assert "user:www-data:--x" in cell.run("getfacl -p /var/lib/pic").stdout


@pytest.mark.parametrize("suite", ["basic", "copymove", "props"])
def test_litmus(client, base, suite):
    res = client.run(f"TESTS={suite} litmus {base}alice/ alice {PASSWORDS['alice']}")
    assert res.rc == 0, res.stdout[-3000:]
    assert f"<- summary for `{suite}': of" in res.stdout
    assert " 0 failed" in res.stdout


def test_upload_lands_in_the_users_directory(cell, client, base):
    client.run("echo 'hello from the client' > /tmp/note.txt")
    assert curl(client, "alice", f"-T /tmp/note.txt {base}alice/note.txt") in ("201", "204")
    assert cell.file("/var/lib/pic/files/alice/note.txt").content_string == "hello from the client\n"
    assert client.run(f"curl -s -u alice:{PASSWORDS['alice']} {base}alice/note.txt").stdout == (
        "hello from the client\n"
    )


@pytest.mark.parametrize("method", ["PROPFIND", "GET"])
def test_other_users_directory_is_forbidden(client, base, method):
    path = f"{base}alice/" if method == "PROPFIND" else f"{base}alice/note.txt"
    assert curl(client, "bob", f"-X {method} -H 'Depth: 1' {path}") == "403"
    assert curl(client, "bob", f"-X PROPFIND -H 'Depth: 1' {base}bob/") == "207"


def test_other_users_directory_cannot_be_written(cell, client, base):
    assert curl(client, "bob", f"-T /tmp/note.txt {base}alice/from-bob.txt") == "403"
    # Nor by moving one's own file there.
    curl(client, "bob", f"-T /tmp/note.txt {base}bob/mine.txt")
    dest = f"-H 'Destination: {base}alice/from-bob.txt'"
    assert curl(client, "bob", f"-X MOVE {dest} {base}bob/mine.txt") in ("403", "502")
    assert not cell.file("/var/lib/pic/files/alice/from-bob.txt").exists


def test_bad_password_and_users_without_files_are_refused(client, base):
    assert curl(client, "nobody", f"-X PROPFIND {base}alice/") == "401"
    assert curl(client, "carol", f"-X PROPFIND {base}carol/") in ("401", "403")
    assert client.run(f"curl -s {CODE} -X PROPFIND {base}alice/").stdout == "401"
    # The root lists no one's directory.
    assert curl(client, "alice", f"-X PROPFIND -H 'Depth: 1' {base}") == "403"


def test_upload_over_the_limit_is_refused(cell, client, base):
    client.run("head -c 1000000 /dev/urandom > /tmp/small && head -c 3000000 /dev/urandom > /tmp/big")
    assert curl(client, "alice", f"-T /tmp/small {base}alice/small.bin") in ("201", "204")
    assert curl(client, "alice", f"-T /tmp/big {base}alice/big.bin") == "413"
    assert not cell.file("/var/lib/pic/files/alice/big.bin").exists


def test_destination_behind_an_https_proxy(client, base):
    """Caddy forwards COPY/MOVE with an https Destination under the public name; it still works."""
    curl(client, "alice", f"-T /tmp/note.txt {base}alice/a.txt")
    dest = "-H 'Destination: https://files.mycell.cell/alice/b.txt'"
    assert curl(client, "alice", f"-X COPY {dest} {base}alice/a.txt") in ("201", "204")
    assert curl(client, "alice", f"{base}alice/b.txt") == "200"


def test_bad_config_is_refused_and_service_keeps_answering(cell, client, base):
    before = cell.file("/etc/apache2/sites-available/pic-webdav.conf").sha256sum
    res = run_converge({"webdav_log_level": "loud"})
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc != 0, output[-3000:]
    assert "failed to validate" in output, output[-3000:]
    assert cell.file("/etc/apache2/sites-available/pic-webdav.conf").sha256sum == before
    assert cell.service("apache2").is_running
    assert curl(client, "alice", f"-X PROPFIND -H 'Depth: 0' {base}alice/") == "207"


def test_disabled_role_stops_the_service_then_converges_back(cell, client, base):
    res = run_converge({"pic_services": []})
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc == 0, output[-3000:]
    assert not cell.service("apache2").is_running
    assert not cell.service("apache2").is_enabled
    res = run_converge()
    rc, output = res.returncode, res.stdout + res.stderr
    assert rc == 0, output[-3000:]
    assert cell.service("apache2").is_running
    assert curl(client, "alice", f"-X PROPFIND -H 'Depth: 0' {base}alice/") == "207"
