"""chrony on the cell: synchronized from the lab's upstream, serving NTP to a real client."""

import time

import pytest


def _sources(cell):
    return cell.run("chronyc -n sources").stdout


def _tracking(cell):
    return cell.run("chronyc -n tracking").stdout


def _wait_selected(cell, upstream, timeout=120):
    """Until the upstream is both the selected source and the tracking reference: chronyd marks a
    source `^*` before its clock update names it in `tracking`, and on a loaded machine the two can be
    seconds apart."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = _sources(cell)
        selected = any(line.startswith("^*") and upstream in line for line in out.splitlines())
        if selected and upstream in _tracking(cell):
            return out
        time.sleep(1)
    pytest.fail(f"the cell never selected {upstream}:\n{_sources(cell)}\n{_tracking(cell)}")


def _query(lab, server):
    # -Q: one-shot query, prints the offset and never sets the clock.
    return lab.exec("client", ["chronyd", "-Q", "-t", "10", f"server {server} iburst maxsamples 2"])


def test_chrony_runs_without_touching_the_clock(cell):
    svc = cell.service("chrony")
    assert svc.is_running and svc.is_enabled
    # started at boot: `is-enabled` also says "enabled" for an alias link alone (chronyd.service)
    assert "multi-user.target" in cell.run("systemctl show -p WantedBy --value chrony").stdout.split()
    pid = cell.run("systemctl show -p MainPID --value chrony").stdout.strip()
    cmdline = cell.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    assert "-x" in cmdline


def test_config_has_no_public_pool(cell):
    conf = cell.file("/etc/chrony/chrony.conf").content_string
    assert "pool " not in conf.replace("# ", "")
    assert cell.run("chronyd -p -f /etc/chrony/chrony.conf").rc == 0


def test_cell_tracks_the_lab_upstream(cell, host_ip):
    out = _wait_selected(cell, host_ip["ntp"])
    assert host_ip["ntp"] in out
    tracking = _tracking(cell)
    assert host_ip["ntp"] in tracking  # Reference ID names the upstream
    assert "Stratum         : 9" in tracking


def test_client_gets_an_ntp_reply_from_the_cell(lab, cell, host_ip):
    _wait_selected(cell, host_ip["ntp"])
    res = _query(lab, host_ip["cell"])
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    assert "System clock wrong by" in text and "(ignored)" in text, text


def test_networks_outside_allow_get_no_reply(lab, cell, host_ip, converge):
    res = converge({"pic_lan_subnet": "192.168.77.0/24"})
    assert res.returncode == 0, res.stdout[-3000:]
    assert _query(lab, host_ip["cell"]).returncode != 0
    res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    assert _query(lab, host_ip["cell"]).returncode == 0


def test_bad_value_fails_validation_and_keeps_serving(lab, cell, host_ip, converge):
    before = cell.file("/etc/chrony/sources.d/pic.sources").content_string
    res = converge({"pic_ntp_servers": ["bad name"]})
    assert res.returncode != 0
    assert "failed to validate" in res.stdout + res.stderr
    assert cell.file("/etc/chrony/sources.d/pic.sources").content_string == before
    assert _query(lab, host_ip["cell"]).returncode == 0


def test_disabled_role_stops_the_service_and_comes_back(lab, cell, host_ip, converge):
    res = converge({"pic_services": []})
    assert res.returncode == 0, res.stdout[-3000:]
    svc = cell.service("chrony")
    assert not svc.is_running and not svc.is_enabled
    assert _query(lab, host_ip["cell"]).returncode != 0
    res = converge({})
    assert res.returncode == 0, res.stdout[-3000:]
    _wait_selected(cell, host_ip["ntp"])
    assert _query(lab, host_ip["cell"]).returncode == 0
