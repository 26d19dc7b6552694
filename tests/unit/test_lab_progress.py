"""`make demo`'s converge as one line per role (pic_lab.progress)."""

import io
from pathlib import Path

from pic_api.core.roles import site_roles
from pic_lab import progress

OUTPUT = """
PLAY [Load the cell state] *****
TASK [Gathering Facts] *****
ok: [cell]
TASK [Read the cell state] *****
ok: [cell]
PLAY [Converge the cell] *****
TASK [common : Install the base packages] *****
changed: [cell]
TASK [firewall : Probe] *****
fatal: [cell]: FAILED! => {"msg": "probe"}
...ignoring
TASK [ca : Create the root key] *****
changed: [cell]
TASK [ca : Sign] *****
fatal: [cell]: FAILED! => {"msg": "boom"}
PLAY RECAP *****
cell                       : ok=5    changed=2    unreachable=0    failed=1    skipped=0
"""


def test_one_line_per_role_with_its_time_the_total_and_the_failed_role():
    out = io.StringIO()
    p = progress.Progress(["common", "firewall", "ca"], out=out, started=0.0)
    for i, line in enumerate(OUTPUT.splitlines()):
        p.feed(line, now=float(i * 10))
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["state", "[1/3]", "[2/3]", "[3/3]"]
    assert lines[1].split() == ["[1/3]", "common", "20", "s", "total", "90", "s"]
    assert "FAILED" not in lines[2]  # an ignored error is not a failure
    assert lines[3].endswith("FAILED") and p.failed == ["ca"]
    assert p.recap == {"ok": 5, "changed": 2, "unreachable": 0, "failed": 1}


def test_the_roles_come_from_site_yml_in_order():
    roles = site_roles(Path(progress.__file__).resolve().parents[3])
    assert roles[:3] == ("common", "firewall", "ca") and roles[-1] == "webui" and len(roles) == len(set(roles))


def test_handlers_run_where_a_role_flushes_them_count_as_that_roles_step():
    out = io.StringIO()
    p = progress.Progress(["firewall", "mailserver", "radicale"], out=out, started=0.0)
    lines = [
        "TASK [firewall : Write the ruleset] ***",
        "TASK [mailserver : Configure Postfix] ***",
        "RUNNING HANDLER [firewall : Reload nftables] ***",
        "RUNNING HANDLER [mailserver : Reload Postfix] ***",
        "TASK [radicale : Configure Radicale] ***",
        "PLAY RECAP ***",
    ]
    for i, line in enumerate(lines):
        p.feed(line, now=float(i * 10))
    shown = out.getvalue().splitlines()
    assert [line.split()[1] for line in shown] == ["firewall", "mailserver", "radicale"]
    assert [d for d in p.done] == [("firewall", 10.0), ("mailserver", 30.0), ("radicale", 10.0)]


def test_a_shared_step_counts_as_the_role_that_imports_it():
    out = io.StringIO()
    p = progress.Progress(["caddy", "dnsmasq"], out=out, started=0.0)
    lines = [
        "TASK [caddy : Validate the Caddyfile] ***",
        "TASK [shared : Install caddy] ***",
        "TASK [sandbox : Sandbox caddy.service] ***",
        "TASK [dnsmasq : Write the configuration] ***",
        "PLAY RECAP ***",
    ]
    for i, line in enumerate(lines):
        p.feed(line, now=float(i * 10))
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["caddy", "dnsmasq"]
    assert p.done == [("caddy", 30.0), ("dnsmasq", 10.0)]
