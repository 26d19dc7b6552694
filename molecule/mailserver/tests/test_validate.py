"""A broken configuration never replaces a working one.

A second converge with a deliberately bad value for Postfix, Dovecot or OpenDKIM must fail at the
daemon's own checker, leave the live file as it was, and leave the service answering clients.
(Named so that it runs after test_mailserver.py.)
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from pic_lab.testing import run_converge as converge

CASES = {
    # postfix check refuses a non-numeric size.
    "postfix": (
        {"mailserver_postfix_options": {"smtpd_peername_lookup": "no", "message_size_limit": "lots"}},
        "/etc/postfix/main.cf",
        587,
    ),
    # doveconf refuses an unknown setting.
    "dovecot": ({"mailserver_dovecot_options": {"no_such_setting": "yes"}}, "/etc/dovecot/dovecot.conf", 993),
    # opendkim -n refuses an unknown option.
    "opendkim": ({"mailserver_opendkim_options": {"NoSuchOption": "yes"}}, "/etc/opendkim.conf", None),
}


# The task of the mailserver role whose checker (the template's `validate`) refuses each case.
CHECKED_BY = {"postfix": "Configure Postfix", "dovecot": "Configure Dovecot", "opendkim": "Configure OpenDKIM"}


def failed_task(res):
    """The task that ended a failed converge: the last task header Ansible printed (it prints the
    failure itself, `fatal: [cell]: FAILED!`, to stderr, and no task runs after it)."""
    headers = re.findall(r"^TASK \[([^\]]+)\]", re.sub(r"\x1b\[[0-9;]*m", "", res.stdout), re.MULTILINE)
    return headers[-1] if headers else None


def answers(lab, ip, port):
    """The service greets a client (over TLS on 993; any certificate: this checks liveness only)."""
    probe = (
        "import socket, ssl, sys\n"
        "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)\n"
        "if s.getpeername()[1] == 993:\n"
        "    ctx = ssl.create_default_context()\n"
        "    ctx.check_hostname = False\n"
        "    ctx.verify_mode = ssl.CERT_NONE\n"
        "    s = ctx.wrap_socket(s)\n"
        "print(s.recv(200).decode())\n"
    )
    res = lab.exec("client", ["python3", "-c", probe, ip, str(port)])
    return res.returncode == 0 and res.stdout.strip() != ""


@pytest.fixture(scope="module")
def refused_converges(cell):
    """The three bad converges side by side (each fails at its daemon's checker and changes nothing,
    so none can disturb another): {daemon: (sha256 of the live file before, the converge's result)}.
    One after another they took 30-50 s each."""
    before = {daemon: cell.file(path).sha256sum for daemon, (_, path, _) in CASES.items()}
    with ThreadPoolExecutor(len(CASES)) as pool:
        results = dict(zip(CASES, pool.map(converge, [extra for extra, _, _ in CASES.values()]), strict=True))
    return {daemon: (before[daemon], results[daemon]) for daemon in CASES}


@pytest.mark.parametrize("daemon", list(CASES))
def test_bad_value_is_refused_and_service_keeps_running(daemon, cell, lab, host_ip, refused_converges):
    _, path, port = CASES[daemon]
    before, res = refused_converges[daemon]
    assert res.returncode != 0, res.stdout[-3000:]
    assert "failed validating" in res.stdout or "validat" in res.stdout.lower(), res.stdout[-3000:]
    # Refused by the daemon's own checker, and not by anything before it.
    assert failed_task(res) == f"mailserver : {CHECKED_BY[daemon]}", res.stdout[-3000:]
    assert "failed to validate" in res.stdout + res.stderr, res.stderr[-3000:]
    assert cell.file(path).sha256sum == before
    assert cell.service(daemon).is_running
    if port:
        assert answers(lab, host_ip["cell"], port)
    if daemon == "opendkim":
        assert cell.socket("unix:///var/spool/postfix/opendkim/opendkim.sock").is_listening
