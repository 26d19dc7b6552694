"""The catch-all: a converge that gives bob the catch-all makes mail to an address nobody has land
in bob's mailbox, while a person's own address still reaches that person; the scenario's own state
(no catch-all: unknown addresses refused) is converged back at the end, also when the test fails.
"""

import uuid
from pathlib import Path

import yaml
from test_mailserver import DOMAIN, PASSWORDS, client_trusts_cell_root, imap_fetch, refused, swaks  # noqa: F401

from pic_lab.testing import run_converge as converge

VARS = yaml.safe_load((Path(__file__).parent.parent / "vars" / "cell.yml").read_text())


def with_catch_all(name):
    users = [dict(u, mail_catch_all=u["name"] == name) for u in VARS["pic_users"]]
    return {"pic_users": users}


def deliver(lab, cell_ip, to, token):
    return swaks(lab, "--to", to, "--from", "someone@example.org", "--server", f"{cell_ip}:25",
                 "--header", f"Subject: {token}")


def test_the_catch_all_takes_unknown_addresses_only(lab, host_ip, cell, client_trusts_cell_root):  # noqa: F811
    ip = host_ip["cell"]
    try:
        res = converge(with_catch_all("bob"))
        assert res.returncode == 0, res.stdout[-3000:]
        assert f"@{DOMAIN} bob@{DOMAIN}" in cell.file("/etc/postfix/pic-aliases").content_string

        to_nobody, to_alice = ("pic-" + uuid.uuid4().hex[:12] for _ in range(2))
        assert deliver(lab, ip, f"no-such-person@{DOMAIN}", to_nobody).returncode == 0
        assert deliver(lab, ip, f"alice@{DOMAIN}", to_alice).returncode == 0
        got = imap_fetch(lab, ip, client_trusts_cell_root, "bob", PASSWORDS["bob"], to_nobody)
        assert got["message"] and f"To: no-such-person@{DOMAIN}" in got["message"]
        # a mailbox's own address is no unknown one: alice's mail reaches alice (the alias map
        # rewrites a recipient, so had the catch-all taken it, it would be bob's alone)
        got = imap_fetch(lab, ip, client_trusts_cell_root, "alice", PASSWORDS["alice"], to_alice)
        assert got["message"] and f"Subject: {to_alice}" in got["message"]
    finally:
        res = converge()
        assert res.returncode == 0, res.stdout[-3000:]
    # back to no catch-all: an unknown address is refused again
    res = swaks(lab, "--to", f"no-such-person@{DOMAIN}", "--from", "someone@example.org",
                "--server", f"{ip}:25", "--quit-after", "RCPT")
    assert res.returncode != 0 and refused(res.stdout, "550")
