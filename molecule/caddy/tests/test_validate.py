"""A broken Caddyfile change is refused by caddy validate and caddy keeps serving.

Runs after test_caddy.py (file order)."""


def test_invalid_directive_is_caught_and_caddy_keeps_serving(lab, host_ip, cell, converge):
    before = cell.file("/etc/caddy/Caddyfile").content_string
    pid = cell.check_output("systemctl show -p MainPID --value caddy")
    res = converge({"caddy_extra_directives": ["bogus_directive on"]})
    assert res.returncode != 0
    # The template task fails on caddy validate's verdict.
    out = res.stdout + res.stderr
    assert "unrecognized directive: bogus_directive" in out, out[-3000:]
    assert "Write the Caddyfile" in out
    assert cell.file("/etc/caddy/Caddyfile").content_string == before
    assert cell.check_output("systemctl show -p MainPID --value caddy") == pid
    out = lab.exec(
        "client",
        ["curl", "-sS", "--max-time", "10", "--cacert", "/root/root.crt", f"https://{host_ip['cell']}/health"],
    ).stdout
    assert out.startswith("api GET /health")
    res = lab.exec(
        "client",
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            "/root/root.crt",
            "--resolve",
            f"calendar.home.cell:443:{host_ip['cell']}",
            "https://calendar.home.cell/x",
        ],
    )
    assert res.stdout.startswith("radicale GET /x")
