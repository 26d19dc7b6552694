"""Runs molecule scenarios side by side, each with its own lab, and records one result per scenario.

    python tests/run_molecule.py [--jobs N] [--junit FILE] SCENARIO...
    python tests/run_molecule.py [--jobs N] [--junit FILE] --touched-since REF

With --touched-since, the scenarios are those a change since REF's merge base (committed or not)
can affect: a scenario whose own files changed, every scenario that converges a changed role, and
all of them when a part they share changed (SHARED below).

Each scenario's full output goes to .artifacts/molecule/<scenario>.log; this prints one line per
scenario as it ends and a closing "N passed, N failed" line. A scenario that fails or is interrupted
still has its lab torn down.

The scenarios start longest first, by the times of the last runs on this machine (`times_file()`, in
the lab's cache beside the images; a scenario with no time yet counts as the longest), so that the
longest ones do not start last and leave the other jobs idle at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from xml.sax.saxutils import escape

from pic_lab import base

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = int(os.environ.get("PIC_MOLECULE_TIMEOUT", "1500"))
running: dict[str, subprocess.Popen] = {}
# Colour codes and other control characters are not allowed in XML; a JUnit file must stay readable.
# molecule's "INFO     ca ➜ converge: Executing" (colour codes removed) starts an action.
ACTION = re.compile(r"\S+ \u279c (\w+): Executing")
NOT_XML = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The lines that say why a scenario failed: a failed action, a failed Ansible task, the tasks that broke
# idempotence, a failed or erroring test and its assertion.
# Matched without the "  │ " molecule puts before the output of the commands it runs.
WHY = re.compile(r"Executed: Failed|^fatal: \[|FAILED!|Idempotence test failed|^\*\s+(=>|\[)|"
                 r"^(FAILED|ERROR) (?!- RETRYING)|^E  |timed out")
BOX = re.compile(r"^\s*\u2502\s?")


# What every scenario depends on: a change here runs them all.
# roles/sandbox: included by the roles of several daemons (a unit's sandbox drop-in).
SHARED = ("molecule/shared/", ".config/molecule/", "tests/lab/", "tests/run_molecule.py", "filter_plugins/",
          "api/pic_api/core/", "ansible.cfg", "pyproject.toml", "constraints.txt", "roles/sandbox/")
ROLE_LINE = re.compile(r"^\s*-?\s*(?:role|name):\s*['\"]?([a-z_][a-z0-9_]*)['\"]?\s*$", re.M)


def times_file() -> Path:
    return base.cache_dir() / "molecule-times.json"


def longest_first(scenarios: list[str], times: dict[str, float]) -> list[str]:
    """SCENARIOS by their last time, longest first; those without one first of all."""
    return sorted(scenarios, key=lambda s: (s in times, -times.get(s, 0.0), s))


def read_times() -> dict[str, float]:
    try:
        data = json.loads(times_file().read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def write_times(results: list) -> None:
    """Keeps the time of every scenario that passed (a failed one may have stopped early)."""
    times = read_times()
    times.update({scenario: round(elapsed, 1) for scenario, ok, elapsed, *_ in results if ok})
    try:
        times_file().parent.mkdir(parents=True, exist_ok=True)
        times_file().write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    except OSError as e:
        print(f"molecule: the scenarios' times were not kept ({e})", flush=True)


def all_scenarios() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def roles_of(scenario: str) -> set[str]:
    """The roles a scenario's converge runs (its `- role: NAME` entries and included roles)."""
    text = (ROOT / "molecule" / scenario / "converge.yml").read_text()
    return {m for m in ROLE_LINE.findall(text) if (ROOT / "roles" / m).is_dir()}


def touched_scenarios(changed: list[str]) -> list[str]:
    if any(f.startswith(SHARED) for f in changed):
        return all_scenarios()
    roles = {f.split("/")[1] for f in changed if f.startswith("roles/") and f.count("/") >= 2}
    if any(f.startswith("api/") for f in changed):
        roles.add("api")  # the api role ships and installs the API's code
    touched = set()
    for s in all_scenarios():
        if any(f.startswith(f"molecule/{s}/") for f in changed) or roles & roles_of(s):
            touched.add(s)
    return sorted(touched)


def changed_since(ref: str) -> list[str]:
    """Files changed since REF's merge base with HEAD: commits, the work tree and new files."""
    git = ["git", "-C", str(ROOT)]
    base = subprocess.run([*git, "merge-base", ref, "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    diff = subprocess.run([*git, "diff", "--name-only", base], capture_output=True, text=True, check=True)
    new = subprocess.run([*git, "ls-files", "--others", "--exclude-standard"], capture_output=True, text=True,
                         check=True)
    return sorted(set(diff.stdout.split()) | set(new.stdout.split()))


def lab_of(scenario: str) -> str:
    return f"{os.environ.get('PIC_LAB') or 'mol'}-{scenario}"


def run(scenario: str, logdir: Path) -> tuple[str, bool, float, str, dict[str, float]]:
    """Runs one scenario; returns its name, result, wall time, the end of its log and the time of
    each molecule action (create, converge, idempotence, verify, ...)."""
    log = logdir / f"{scenario}.log"
    start = time.monotonic()
    steps: dict[str, float] = {}
    timed_out = threading.Event()

    def stop_it(proc: subprocess.Popen) -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGTERM)

    with open(log, "w") as f:
        # Wide columns: molecule's console wraps at 80 by default, which cuts pytest's `E` lines (the
        # assertion's text) into pieces the failure excerpt cannot find.
        proc = subprocess.Popen(["molecule", "test", "-s", scenario], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, text=True, errors="replace",
                                env={**os.environ, "COLUMNS": "250"})
        running[scenario] = proc
        timer = threading.Timer(TIMEOUT, stop_it, [proc])
        timer.start()
        current, since = None, start
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                f.write(line)
                m = ACTION.search(NOT_XML.sub("", line))
                if m:
                    now = time.monotonic()
                    if current:
                        steps[current] = steps.get(current, 0.0) + now - since
                    current, since = m.group(1), now
            rc = proc.wait()
        finally:
            timer.cancel()
            running.pop(scenario, None)
        if current:
            steps[current] = steps.get(current, 0.0) + time.monotonic() - since
        if timed_out.is_set():
            f.write(f"\nscenario timed out after {TIMEOUT} s\n")
    # Whatever happened, the scenario's lab must not outlive it.
    subprocess.run(["pic-lab", "--lab", lab_of(scenario), "down-all"], capture_output=True)
    elapsed = time.monotonic() - start
    tail = failure_excerpt(log.read_text(errors="replace"))
    return scenario, rc == 0 and not timed_out.is_set(), elapsed, tail, steps


def failure_excerpt(text: str, why_lines: int = 60, tail_lines: int = 25) -> str:
    """What a failed scenario's reader needs: the lines that say why (WHY), then the log's end. The end
    alone is mostly the teardown, which says nothing of what failed."""
    lines = [NOT_XML.sub("", line) for line in text.splitlines()]
    why = [line for line in lines[:-tail_lines] if WHY.search(BOX.sub("", line))][:why_lines]
    head = ["--- why:", *why, "--- the log's end:"] if why else []
    return "\n".join(head + lines[-tail_lines:]) + "\n"


def junit_xml(results: list[tuple]) -> str:
    """One JUnit test case per scenario, with each molecule action's time as a property; a failed
    one carries the last lines of its log."""
    cases = []
    for scenario, ok, elapsed, tail, *rest in results:
        steps = rest[0] if rest else {}
        props = "".join(f'<property name="{k}" value="{v:.1f}"/>' for k, v in steps.items())
        body = (f"<properties>{props}</properties>" if props else "") + (
            "" if ok else f'<failure message="molecule test failed">{escape(NOT_XML.sub("", tail))}</failure>')
        cases.append(f'<testcase classname="molecule" name="{scenario}" time="{elapsed:.1f}">{body}</testcase>')
    failed = sum(not r[1] for r in results)
    return (f'<?xml version="1.0"?>\n<testsuite name="molecule" tests="{len(results)}" '
            f'failures="{failed}">{"".join(cases)}</testsuite>\n')


def steps_line(steps: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in steps.items())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--junit")
    p.add_argument("--touched-since", metavar="REF", help="the scenarios a change since REF can affect")
    p.add_argument("--list", action="store_true", help="print the scenarios only, run nothing")
    p.add_argument("scenarios", nargs="*")
    a = p.parse_args()
    if a.touched_since:
        changed = changed_since(a.touched_since)
        a.scenarios = touched_scenarios(changed)
        print(f"molecule: {len(changed)} files changed since {a.touched_since}'s merge base; "
              f"scenarios: {' '.join(a.scenarios) or 'none'}", flush=True)
    if a.list:
        print(" ".join(a.scenarios))
        return 0
    if not a.scenarios:
        if a.junit:
            Path(a.junit).write_text(junit_xml([]))
        return 0 if a.touched_since else p.error("no scenario named")
    logdir = ROOT / ".artifacts" / "molecule"
    logdir.mkdir(parents=True, exist_ok=True)

    def stop(signum, _frame):
        for s, proc in list(running.items()):
            os.killpg(proc.pid, signal.SIGTERM)
            subprocess.run(["pic-lab", "--lab", lab_of(s), "down-all"], capture_output=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    results = []
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run, s, logdir) for s in longest_first(a.scenarios, read_times())]
        for future in as_completed(futures):
            scenario, ok, elapsed, tail, steps = future.result()
            results.append((scenario, ok, elapsed, tail, steps))
            print(f"molecule {scenario}: {'passed' if ok else 'FAILED'} in {elapsed:.0f} s "
                  f"({steps_line(steps)})", flush=True)
            if not ok:
                print(f"--- from .artifacts/molecule/{scenario}.log\n{tail}", flush=True)
    results.sort()
    write_times(results)
    if a.junit:
        Path(a.junit).write_text(junit_xml(results))
    passed = sum(r[1] for r in results)
    print(f"molecule: {passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
