"""An ansible-playbook run shown as one line per role: its time and the running total, while the
whole output goes to a log file.

    [ 3/14] ca              6 s   total   21 s
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# "TASK [role : name] ***", "RUNNING HANDLER [role : name] ***"; a task outside any role has no " : ".
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?:(?P<role>[\w.-]+) : )?(?P<task>.*?)\]")
PLAY = re.compile(r"^PLAY \[(?P<play>.*?)\]")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
# The part of the playbook that runs before the roles (playbooks/state.yml).
BEFORE_ROLES = "state"


@dataclass
class Progress:
    """Turns playbook output lines into one line per step (a role, or what runs before them)."""
    roles: list[str]
    out: object = sys.stdout
    started: float = field(default_factory=time.monotonic)
    current: str | None = None
    since: float = 0.0
    done: list[tuple[str, float]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    recap: dict[str, int] = field(default_factory=dict)
    _fatal: str | None = None  # a failure seen, unless "...ignoring" follows it

    def feed(self, line: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        m = TASK.match(line)
        if line.startswith(("fatal:", "failed:")):
            self._fatal = self.current
        elif line.strip() == "...ignoring":
            self._fatal = None
        elif m and line.startswith("RUNNING HANDLER") and self.current is not None:
            # Handlers of earlier roles run where a role flushes them: their time is that role's
            # step, not a second line for a role already shown.
            self._step(self.current, now)
        elif m:
            role = m.group("role")
            if role and role not in self.roles and self.current in self.roles:
                role = self.current  # a shared step (roles/shared, roles/sandbox) the current role imports
            self._step(role or (BEFORE_ROLES if self.current is None else self.current), now)
        elif line.startswith("PLAY RECAP"):
            self._step(None, now)
        else:
            r = RECAP.match(line)
            if r:
                self.recap = {"ok": int(r.group(2)), "changed": int(r.group(3)),
                              "unreachable": int(r.group(4)), "failed": int(r.group(5))}

    def _step(self, step: str | None, now: float) -> None:
        if self._fatal is not None and self._fatal not in self.failed:
            self.failed.append(self._fatal)
        self._fatal = None
        if step == self.current:
            return
        if self.current is not None:
            took = now - self.since
            self.done.append((self.current, took))
            mark = "  FAILED" if self.current in self.failed else ""
            print(f" {took:5.0f} s   total {now - self.started:5.0f} s{mark}", file=self.out, flush=True)
        self.current, self.since = step, now
        if step is not None:
            n = len(self.roles)
            i = self.roles.index(step) + 1 if step in self.roles else 0
            w = len(str(n))
            counter = f"[{i:>{w}}/{n}]" if i else " " * (w * 2 + 3)
            print(f"  {counter} {step:<14}", end="", file=self.out, flush=True)


def run_playbook(cmd: list[str], cwd: Path, log: Path, roles: list[str],
                 env: dict | None = None) -> tuple[int, Progress]:
    """Runs CMD (an ansible-playbook command) with its whole output in LOG, printing one line
    per role as it goes. Returns the exit code and the progress it saw."""
    progress = Progress(roles)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            f.write(line)
            progress.feed(line)
        rc = proc.wait()
    if progress.current is not None:
        progress._step(None, time.monotonic())
    return rc, progress
