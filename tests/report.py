"""Adds up the JUnit files of a `make test` run and prints the totals as its closing line."""

import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

totals = {"passed": 0, "failed": 0, "skipped": 0}
for f in sorted(Path(sys.argv[1] if len(sys.argv) > 1 else ".artifacts").glob("junit-*.xml")):
    try:
        root = ET.parse(f).getroot()
    except ET.ParseError as e:
        # An unreadable result file is a failure to report, not a reason to lose the other totals.
        print(f"{f.stem.removeprefix('junit-')}: unreadable ({e}), counted as 1 failed")
        totals["failed"] += 1
        continue
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
if os.environ.get("PIC_CI_STARTED"):
    print(f"elapsed: {time.time() - int(os.environ['PIC_CI_STARTED']):.0f} s")
line = f"{totals['passed']} passed, {totals['failed']} failed"
print(f"total: {line}" + (f", {totals['skipped']} skipped" if totals["skipped"] else ""))
