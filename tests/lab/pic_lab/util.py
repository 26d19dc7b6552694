"""Small helpers shared by the lab modules."""

from __future__ import annotations

import subprocess
import sys


def log(msg: str) -> None:
    print(f"pic-lab: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    """Runs a command; on failure raises with its stderr so the caller sees why."""
    res = subprocess.run(cmd, text=True, capture_output=capture or check, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}: {(res.stderr or '').strip()[-2000:]}")
    return res


def out(cmd: list[str], check: bool = False) -> str:
    return run(cmd, check=check, capture=True).stdout or ""
