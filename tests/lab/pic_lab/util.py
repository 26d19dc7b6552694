"""Small helpers shared by the lab modules."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from pathlib import Path


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


@contextlib.contextmanager
def file_lock(path: Path):
    """Holds an exclusive lock on PATH (created when missing) for the length of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
