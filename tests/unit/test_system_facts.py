"""The dashboard's host facts (managers/system.py, GET /api/system): disk use by statvfs, memory from
/proc/meminfo, and the end of the cell's HTTPS certificate, read as the unprivileged API reads it."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pic_api.agent.client import AgentClient
from pic_api.agent.protocol import AgentError, validate
from pic_api.agent.server import Agent, AgentServer
from pic_api.managers import system
from pic_api.managers.system import WARN_DAYS, SystemFacts

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def pem(not_after: dt.datetime, name: str = "home.cell") -> bytes:
    """A self-signed certificate for ``name`` that ends at ``not_after``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def facts(tmp_path: Path, cell: dict | None = None, **kw) -> SystemFacts:
    return SystemFacts(
        lambda: cell if cell is not None else {"domain_mode": "internal"},
        tmp_path / "ca/root.crt",
        tmp_path / "tls/cell.crt",
        tmp_path / "tls/acme.crt",
        clock=lambda: NOW,
        **kw,
    )


# --- disks and memory ---------------------------------------------------------------------------
def test_a_disk_is_its_filesystem_in_bytes(tmp_path):
    st = os.statvfs(tmp_path)
    d = system.disk(str(tmp_path))
    assert d["path"] == str(tmp_path)
    assert d["total"] == st.f_blocks * st.f_frsize > 0
    assert 0 <= d["available"] <= d["total"] and 0 <= d["used"] <= d["total"]
    assert d["used"] + d["available"] <= d["total"]  # the reserved blocks are neither


def test_a_missing_filesystem_is_said_not_raised(tmp_path):
    assert system.disk(str(tmp_path / "none")) == {"path": str(tmp_path / "none"), "error": "No such file or directory"}


def test_memory_is_meminfo_total_and_available_in_bytes(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   12288000 kB\nHugePages_Total:       0\n"
    )
    assert system.memory(meminfo) == {"total": 24576000 * 1024, "available": 12288000 * 1024}


def test_memory_that_cannot_be_read_is_an_error_entry(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\n")  # a kernel before 3.14 has no MemAvailable
    assert "MemAvailable" in system.memory(meminfo)["error"]
    assert system.memory(tmp_path / "none")["error"] == "No such file or directory"


def test_this_hosts_memory_is_read():
    mem = system.memory()
    assert 0 < mem["available"] <= mem["total"]


# --- the certificate ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("days", "status", "left"),
    [(90.5, "ok", 90), (WARN_DAYS, "ok", WARN_DAYS), (WARN_DAYS - 0.5, "expiring", WARN_DAYS - 1),
     (0.25, "expiring", 0), (-2, "expired", -2)],
)
def test_the_leaf_says_its_days_left_and_warns_under_two_weeks(tmp_path, days, status, left):
    end = NOW + dt.timedelta(days=days)
    write(tmp_path / "tls/cell.crt", pem(end) + pem(NOW + dt.timedelta(days=3650), "root"))  # leaf, then chain
    cert = facts(tmp_path).facts()["certificate"]
    assert cert["status"] == status
    assert cert["days_left"] == left
    assert cert["not_after"] == end.replace(microsecond=0).isoformat(timespec="seconds")
    assert cert["source"] == "internal CA" and cert["file"] == str(tmp_path / "tls/cell.crt")


def test_an_unreadable_leaf_falls_back_to_the_cas_public_copy(tmp_path, monkeypatch):
    # the API is not in the TLS group: its read of <tls dir>/cell.crt is refused
    write(tmp_path / "tls/cell.crt", pem(NOW + dt.timedelta(days=1)))
    write(tmp_path / "ca/issued/cell.crt", pem(NOW + dt.timedelta(days=300)))
    real = Path.read_bytes

    def read_bytes(self):
        if self == tmp_path / "tls/cell.crt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    cert = facts(tmp_path).facts()["certificate"]
    assert (cert["status"], cert["days_left"], cert["file"]) == ("ok", 300, str(tmp_path / "ca/issued/cell.crt"))


def test_no_readable_certificate_is_unknown_with_each_reason(tmp_path):
    write(tmp_path / "tls/cell.crt", b"not a certificate")
    cert = facts(tmp_path).facts()["certificate"]
    assert cert["status"] == "unknown" and cert["warn_days"] == WARN_DAYS
    assert f"{tmp_path / 'tls/cell.crt'} does not hold a certificate" in cert["reason"]
    assert f"{tmp_path / 'ca/issued/cell.crt'} does not exist yet" in cert["reason"]
    assert "days_left" not in cert


def test_acme_by_dns_reads_legos_certificate(tmp_path):
    write(tmp_path / "tls/acme.crt", pem(NOW + dt.timedelta(days=60)))
    write(tmp_path / "ca/issued/cell.crt", pem(NOW + dt.timedelta(days=300)))  # the LAN address's, not the name's
    cert = facts(tmp_path, {"domain_mode": "custom", "acme_challenge": "dns"}).facts()["certificate"]
    assert (cert["status"], cert["days_left"], cert["source"]) == ("ok", 60, "ACME (DNS-01)")


def test_acme_by_http_is_caddys_own_and_unknown(tmp_path):
    write(tmp_path / "ca/issued/cell.crt", pem(NOW + dt.timedelta(days=300)))
    cert = facts(tmp_path, {"domain_mode": "pic_ngo", "acme_challenge": "http"}).facts()["certificate"]
    assert cert["status"] == "unknown" and "caddy" in cert["reason"]


def test_memory_the_agent_cannot_read_is_an_error_entry_not_a_failed_request(tmp_path):
    def away():
        raise AgentError("the agent is away")

    got = facts(tmp_path, memory=away).facts()
    assert got["memory"] == {"error": "not read: the agent is away"}
    assert got["disks"][0]["total"] > 0


def test_the_agents_memory_action_takes_no_arguments_and_answers_over_its_socket(config):
    # the API's sandbox hides /proc/meminfo: on a cell the agent reads it
    assert validate({"action": "memory", "args": {}}, ()) == ("memory", {})
    with pytest.raises(AgentError) as err:
        validate({"action": "memory", "args": {"file": "/etc/shadow"}}, ())
    assert err.value.fields == {"file": "unexpected argument"}
    sock_dir = Path(tempfile.mkdtemp(prefix="pm-", dir="/tmp"))  # a unix socket path is short
    path = sock_dir / "agent.sock"
    srv = AgentServer(path, Agent(config), {os.getuid()})
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        mem = AgentClient(path).memory()
    finally:
        srv.shutdown()
        srv.server_close()
        path.unlink(missing_ok=True)
        sock_dir.rmdir()
    assert 0 < mem["available"] <= mem["total"]
    assert set(mem) == {"total", "available"}


def test_a_state_that_does_not_load_makes_the_certificate_unknown_not_an_error(tmp_path):
    def broken():
        raise ValueError("cell.yml: mapping expected")

    got = SystemFacts(broken, tmp_path / "ca/root.crt", tmp_path / "t", tmp_path / "a", clock=lambda: NOW).facts()
    assert got["certificate"]["status"] == "unknown"
    assert "cell.yml: mapping expected" in got["certificate"]["reason"]
    assert got["disks"] and got["memory"]


# --- GET /api/system ------------------------------------------------------------------------------
def test_the_admin_reads_the_hosts_facts(app, admin):
    config = app.extensions["pic"].config
    body = admin.get("/api/system").get_json()
    assert [d["path"] for d in body["disks"]] == list(system.FILESYSTEMS)
    root = body["disks"][0]
    assert root["total"] == os.statvfs("/").f_blocks * os.statvfs("/").f_frsize
    assert 0 < body["memory"]["available"] <= body["memory"]["total"]
    # the setup's converge is scripted here: no leaf yet
    assert body["certificate"]["status"] == "unknown"
    assert str(config.ca_root_file.parent / "issued/cell.crt") in body["certificate"]["reason"]

    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=9, hours=1)
    write(config.ca_root_file.parent / "issued/cell.crt", pem(end))
    cert = admin.get("/api/system").get_json()["certificate"]
    assert (cert["status"], cert["days_left"], cert["source"]) == ("expiring", 9, "internal CA")


def test_a_member_may_not_read_the_hosts_facts(peer_client):
    assert peer_client.get("/api/system").status_code == 403
