"""The closing summary of a `make test` run: each stage's wall time, each molecule scenario's, and
the totals of the JUnit files (the last line).

    python tests/report.py [ARTIFACTS_DIR]

Stage times come from ARTIFACTS_DIR/stages.tsv (one "target<TAB>seconds<TAB>passed|failed" line per
target, written by tests/stages.sh, with /proc/stat's cpu line before and after it: how busy the
cores were, and how much time a virtual machine's host took from them, "steal"; and the stage it ran
in, where targets side by side share one), scenario times from junit-molecule.xml.
"""

from __future__ import annotations

import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def cpu_use(before: str, after: str) -> str:
    """How the cores were used between two of /proc/stat's cpu lines ("cpu user nice system idle
    iowait irq softirq steal ..."): ", cores 93% busy, 4% stolen", or "" when they cannot be read."""
    try:
        a, b = ([int(x) for x in line.split()[1:9]] for line in (before, after))
    except ValueError:
        return ""
    d = [y - x for x, y in zip(a, b, strict=False)]
    total = sum(d)
    if len(d) < 8 or total <= 0:
        return ""
    busy = total - d[3] - d[4]  # not idle, not waiting for I/O
    return f", cores {100 * busy / total:.0f}% busy, {100 * d[7] / total:.0f}% stolen"


def stage_times(artifacts: Path) -> list[tuple[str, float, str, str, str]]:
    """(target, seconds, result, how the cores were used, its stage) for each line of stages.tsv."""
    f = artifacts / "stages.tsv"
    rows = []
    if f.exists():
        for line in f.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) in (3, 5, 6) and parts[1].isdigit():
                cpu = cpu_use(*parts[3:5]) if len(parts) >= 5 else ""
                rows.append((parts[0], float(parts[1]), parts[2], cpu, parts[5] if len(parts) == 6 else parts[0]))
    return rows


def wall_time(stages: list[tuple[str, float, str, str, str]]) -> float:
    """The stages' time together: targets side by side count once, as the longest of them."""
    longest: dict[str, float] = {}
    for _target, seconds, _result, _cpu, stage in stages:
        longest[stage] = max(longest.get(stage, 0.0), seconds)
    return sum(longest.values())


def scenario_times(root: ET.Element) -> list[tuple[str, float, bool, str]]:
    """Each scenario's name, time, result and the times of its molecule actions."""
    rows = []
    for c in root.iter("testcase"):
        steps = ", ".join(f"{p.get('name')} {float(p.get('value', 0)):.0f}" for p in c.iter("property"))
        rows.append((c.get("name", "?"), float(c.get("time", 0)), c.find("failure") is None, steps))
    return rows


def failures(root: ET.Element, lines: int = 20) -> list[str]:
    """Each failed test case of a JUnit file, its name and the first lines of why: a run's output is
    often read from its end, and the failure itself may have scrolled far above it."""
    out = []
    for c in root.iter("testcase"):
        for f in [*c.findall("failure"), *c.findall("error")]:
            why = ((f.get("message") or "") + "\n" + (f.text or "")).strip().splitlines()
            # A molecule failure carries the excerpt of its log; a pytest one its assertion first.
            out.append(f"FAILED {c.get('classname', '')}::{c.get('name', '?')}")
            out.extend(f"    {line}" for line in why[:lines])
    return out


def main(argv: list[str]) -> int:
    artifacts = Path(argv[1] if len(argv) > 1 else ".artifacts")
    stages = stage_times(artifacts)
    for name, seconds, result, cpu, stage in stages:
        beside = [t for t in stage.split("+") if t != name]
        print(f"stage {name}: {minutes(seconds)}, {result}{cpu}" + (f" (beside {', '.join(beside)})" if beside else ""))
    if stages:
        print(f"stages together: {minutes(wall_time(stages))}")

    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed: list[str] = []
    for f in sorted(artifacts.glob("junit-*.xml")):
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError as e:
            # An unreadable result file is a failure to report, not a reason to lose the other totals.
            print(f"{f.stem.removeprefix('junit-')}: unreadable ({e}), counted as 1 failed")
            totals["failed"] += 1
            continue
        if f.stem == "junit-molecule":
            # Slowest first: the scenario to look at when the molecule stage grows.
            for name, seconds, ok, steps in sorted(scenario_times(root), key=lambda r: -r[1]):
                print(f"  molecule {name}: {minutes(seconds)}{'' if ok else ', failed'}"
                      + (f" ({steps})" if steps else ""))
        failed += failures(root)
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for s in suites:
            tests, fail = int(s.get("tests", 0)), int(s.get("failures", 0)) + int(s.get("errors", 0))
            skip = int(s.get("skipped", 0))
            counts["failed"] += fail
            counts["skipped"] += skip
            counts["passed"] += tests - fail - skip
        print(f"{f.stem.removeprefix('junit-')}: {counts['passed']} passed, {counts['failed']} failed, "
              f"{counts['skipped']} skipped")
        for k in totals:
            totals[k] += counts[k]
    if failed:
        print("\n".join(failed[:120]))
    if os.environ.get("PIC_CI_STARTED"):
        print(f"elapsed: {minutes(time.time() - int(os.environ['PIC_CI_STARTED']))}")
    line = f"{totals['passed']} passed, {totals['failed']} failed"
    print(f"total: {line}" + (f", {totals['skipped']} skipped" if totals["skipped"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
