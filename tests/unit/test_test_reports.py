"""The test harness's own reports: molecule's JUnit file and the closing totals."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

import run_molecule  # noqa: E402


def test_molecule_junit_stays_xml_when_the_log_has_colour_codes():
    tail = "\x1b[2m│\x1b[0m TASK [x] <&>\x07\nscenario timed out after 1500 s\n"
    root = ET.fromstring(run_molecule.junit_xml([("ca", False, 1500.0, tail), ("api", True, 9.0, "")]))
    assert root.get("tests") == "2" and root.get("failures") == "1"
    failure = root.find("testcase[@name='ca']/failure")
    assert "TASK [x] <&>" in failure.text and "\x1b" not in failure.text


def test_report_counts_an_unreadable_junit_file_as_a_failure(tmp_path):
    (tmp_path / "junit-unit.xml").write_text(
        '<testsuite name="u" tests="3" failures="1" skipped="1"></testsuite>')
    (tmp_path / "junit-molecule.xml").write_text("<testsuite>\x1b</testsuite>")
    out = subprocess.run([sys.executable, str(TESTS / "report.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert "unit: 1 passed, 1 failed, 1 skipped" in out
    assert "molecule: unreadable" in out
    assert out.strip().splitlines()[-1] == "total: 1 passed, 2 failed, 1 skipped"


def test_report_tells_how_busy_the_cores_were_in_each_stage(tmp_path):
    # /proc/stat's cpu line before and after: user nice system idle iowait irq softirq steal guest ...
    before, after = "cpu  100 0 50 800 50 0 0 0 0 0", "cpu  1000 0 350 900 70 0 30 100 0 0"
    (tmp_path / "stages.tsv").write_text(f"molecule\t600\tpassed\t{before}\t{after}\nlint\t41\tpassed\tcpu\tcpu\n")
    out = subprocess.run([sys.executable, str(TESTS / "report.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    # of 1450 jiffies, idle 100 and iowait 20: 92% busy; steal 100: 7%
    assert "stage molecule: 600 s (10.0 min), passed, cores 92% busy, 7% stolen" in out
    assert "stage lint: 41 s, passed" in out  # counters that cannot be read say nothing


def test_report_prints_each_stage_and_each_scenario_time(tmp_path):
    (tmp_path / "stages.tsv").write_text("lint\t41\tpassed\nmolecule\t900\tfailed\n")
    (tmp_path / "junit-molecule.xml").write_text(run_molecule.junit_xml(
        [("ca", True, 61.2, ""), ("mailserver", False, 130.0, "boom", {"converge": 70.4, "verify": 50.0})]))
    out = subprocess.run([sys.executable, str(TESTS / "report.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert "stage lint: 41 s, passed" in out
    assert "stage molecule: 900 s (15.0 min), failed" in out
    assert "stages together: 941 s (15.7 min)" in out
    # The slowest scenario first, a failed one marked.
    scen = [line.strip() for line in out if line.startswith("  molecule ")]
    assert scen == ["molecule mailserver: 130 s (2.2 min), failed (converge 70, verify 50)", "molecule ca: 61 s"]
    # Why it failed, near the end of the output (after every count, before the total), where a reader
    # of the run's end sees it.
    at = out.index("FAILED molecule::mailserver")
    assert out[at:at + 3] == ["FAILED molecule::mailserver", "    molecule test failed", "    boom"]
    assert at > max(i for i, line in enumerate(out) if line.startswith("molecule:"))
    assert out[-1] == "total: 1 passed, 1 failed"


FAKE_MOLECULE = """#!/bin/sh
echo "INFO     $3 ➜ create: Executing"
sleep 0.3
printf '\\033[36mINFO    \\033[0m \\033[32m%s\\033[0m ➜ \\033[33mconverge\\033[0m: Executing\\n' "$3"
sleep "${FAKE_CONVERGE:-0.6}"
echo "INFO     $3 ➜ verify: Executing"
exit "${FAKE_RC:-0}"
"""


def fake_tools(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "molecule").write_text(FAKE_MOLECULE)
    (bin_dir / "pic-lab").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/pic-lab.calls\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PIC_LAB", "t")


def test_a_scenario_run_times_each_molecule_action_and_tears_its_lab_down(tmp_path, monkeypatch):
    fake_tools(tmp_path, monkeypatch)
    name, ok, elapsed, _tail, steps = run_molecule.run("ca", tmp_path)
    assert (name, ok) == ("ca", True)
    assert list(steps) == ["create", "converge", "verify"]
    assert 0.25 < steps["create"] < 1.5 and 0.5 < steps["converge"] < 2 and elapsed >= sum(steps.values())
    assert (tmp_path / "pic-lab.calls").read_text() == "--lab t-ca down-all\n"
    assert "verify: Executing" in (tmp_path / "ca.log").read_text()


def test_a_scenario_past_its_time_limit_is_stopped_and_fails(tmp_path, monkeypatch):
    fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_CONVERGE", "30")
    monkeypatch.setattr(run_molecule, "TIMEOUT", 1)
    _name, ok, elapsed, tail, steps = run_molecule.run("ca", tmp_path)
    assert not ok and elapsed < 10
    assert "scenario timed out after 1 s" in tail
    assert (tmp_path / "pic-lab.calls").read_text() == "--lab t-ca down-all\n"


def test_a_failed_scenario_shows_why_before_the_end_of_its_log():
    """The log's end is the teardown; the excerpt leads with the failed task, the idempotence
    culprits and the failed assertion, and leaves out the retries that later succeeded."""
    log = "\n".join([
        "\x1b[36mINFO\x1b[0m cell \u279c converge: Executing",
        "  \u2502 FAILED - RETRYING: [cell]: Install caddy (19 retries left).",
        "  \u2502 fatal: [cell]: FAILED! => {\"msg\": \"caddy validate: bad directive\"}",
        "\x1b[31mERROR\x1b[0m cell \u279c idempotence: Executed: Failed",
        "CRITICAL Idempotence test failed because of the following tasks:",
        "*  => api : Write the inventory of the API's converges",
        "  \u2502 E       AssertionError: Pebble not in issuer",
        *[f"  \u2502 teardown line {i}" for i in range(40)],
    ])
    excerpt = run_molecule.failure_excerpt(log)
    why, end = excerpt.split("--- the log's end:")
    assert "caddy validate: bad directive" in why
    assert "idempotence: Executed: Failed" in why and "\x1b" not in why
    assert "AssertionError: Pebble not in issuer" in why
    assert "*  => api : Write the inventory of the API's converges" in why
    assert "RETRYING" not in why
    assert "teardown line 39" in end and "teardown line 10" not in end
    assert "--- why:" not in run_molecule.failure_excerpt("all\nfine\n")


def test_the_longest_scenarios_start_first_and_new_ones_before_them():
    times = {"ca": 131.0, "mailserver": 374.0, "common": 63.0}
    assert run_molecule.longest_first(["ca", "common", "mailserver", "newrole"], times) == \
        ["newrole", "mailserver", "ca", "common"]


def test_the_times_of_passed_scenarios_are_kept_for_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PIC_LAB_CACHE", str(tmp_path))
    run_molecule.write_times([("ca", True, 120.04, "", {}), ("dnsmasq", False, 12.0, "", {})])
    run_molecule.write_times([("common", True, 60.0, "", {})])
    assert run_molecule.read_times() == {"ca": 120.0, "common": 60.0}  # a failed run's time is not a time
    (tmp_path / "molecule-times.json").write_text("not json")
    assert run_molecule.read_times() == {}


STAGE_MAKEFILE = """\
# a waits (up to 10 s) for b to have started: it passes only when the two run side by side
a:
\t@touch a.started; for i in $$(seq 200); do [ -e b.started ] && break; sleep 0.05; done; [ -e b.started ]
\t@echo a says hello
b:
\t@touch b.started; echo b says hello; exit 3
c:
\t@echo c says hello
"""


def test_stages_run_joined_targets_side_by_side_and_every_stage_after_a_failure(tmp_path):
    (tmp_path / "Makefile").write_text(STAGE_MAKEFILE)
    res = subprocess.run(["bash", str(TESTS / "stages.sh"), "art", "a+b", "c"], cwd=tmp_path,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PY": sys.executable},
                         timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr  # b failed; c still ran
    out = res.stdout
    # a's output as it comes, b's from its log after the stage, then c
    assert out.index("a says hello") < out.index("=== make b (its output") < out.index("b says hello") \
        < out.index("=== make c") < out.index("c says hello")
    rows = [line.split("\t") for line in (tmp_path / "art" / "stages.tsv").read_text().splitlines()]
    assert sorted((r[0], r[2], r[5]) for r in rows) == [("a", "passed", "a+b"), ("b", "failed", "a+b"),
                                                         ("c", "passed", "c")]
    assert "stage b: 0 s, failed" in out and "(beside a)" in out


def test_report_counts_targets_side_by_side_once_in_the_time_together(tmp_path):
    (tmp_path / "stages.tsv").write_text(
        "lint\t40\tpassed\tcpu\tcpu\tlint\n"
        "test-ui\t90\tpassed\tcpu\tcpu\tmolecule+test-ui\n"
        "molecule\t800\tpassed\tcpu\tcpu\tmolecule+test-ui\n")
    out = subprocess.run([sys.executable, str(TESTS / "report.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert "stage test-ui: 90 s, passed (beside molecule)" in out
    assert "stage molecule: 800 s (13.3 min), passed (beside test-ui)" in out
    assert "stages together: 840 s (14.0 min)" in out
