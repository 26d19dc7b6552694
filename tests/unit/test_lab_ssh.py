"""The lab's shared ssh connections: a lab finds its own masters by their socket path, and ends
only those (never another lab's, whose name its own prefixes)."""

import subprocess
import time

import pytest

from pic_lab.lab import Lab, ssh_masters


def lab_at(tmp_path, name: str) -> Lab:
    lab = Lab.__new__(Lab)  # no subnet or bridge needed
    lab.name = name
    lab.dir = tmp_path / name
    (lab.dir / "ssh").mkdir(parents=True)
    return lab


@pytest.fixture
def fake_master():
    """Starts a process titled as an ssh master is ("ssh: <ControlPath> [mux]")."""
    started = []

    def start(path: str) -> subprocess.Popen:
        p = subprocess.Popen(["bash", "-c", f'exec -a "ssh: {path} [mux]" sleep 60'])
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


def wait_title(pid: int) -> None:
    deadline = time.monotonic() + 20  # until bash has exec'd into the titled process (slow when loaded)
    while time.monotonic() < deadline:
        # the title as argv[0]: before the exec, bash's own command line names "[mux]" too
        if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].endswith(b" [mux]"):
            return
        time.sleep(0.02)
    pytest.fail(f"process {pid} never took its title")


def test_ssh_args_share_one_connection_per_host_in_the_labs_own_directory(tmp_path):
    lab = lab_at(tmp_path, "ci-ca")
    args = " ".join(lab.ssh_args())
    assert "ControlMaster=auto" in args and "ControlPersist=60s" in args
    assert f"ControlPath={lab.dir}/ssh/%r@%h:%p" in args


def test_a_lab_ends_its_own_masters_only(tmp_path, fake_master):
    ca, caddy = lab_at(tmp_path, "ci-ca"), lab_at(tmp_path, "ci-caddy")
    one = fake_master(f"{ca.dir}/ssh/root@10.213.1.10:22")
    two = fake_master(f"{ca.dir}/ssh/root@10.213.1.11:22")
    other = fake_master(f"{caddy.dir}/ssh/root@10.213.2.10:22")
    for p in (one, two, other):
        wait_title(p.pid)
    assert sorted(ssh_masters(f"{ca.dir}/ssh/")) == sorted([one.pid, two.pid])

    assert ca.end_ssh_masters("10.213.1.1") == []  # a prefix of another host's address is not it
    assert ca.end_ssh_masters("10.213.1.10") == [one.pid]
    assert one.wait(5) is not None and two.poll() is None
    assert ca.end_ssh_masters() == [two.pid]
    assert two.wait(5) is not None
    assert other.poll() is None  # lab ci-caddy's master lives on


def test_a_stale_socket_is_removed_with_its_master(tmp_path):
    lab = lab_at(tmp_path, "ci-ca")
    stale = lab.dir / "ssh" / "root@10.213.1.10:22"
    stale.touch()
    lab.end_ssh_masters("10.213.1.10")
    assert not stale.exists()
