"""The one-time setup code: who may run the wizard on a fresh cell.

Before setup, the API accepts the wizard's answers only with this code. It is random, kept in a 0600
file beside the state (``<secrets_dir>/setup-code``), printed on the host by ``pic setup-code`` and at
the end of ``ansible-playbook site.yml``, and removed when setup succeeds: reading it needs root on
the host, or the output of the converge. FreedomBox's first-boot secret is the model.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

from .auth import RateLimiter
from .errors import InvalidInput, ManagerError
from .files import write_atomic

log = logging.getLogger("pic.setup")

CODE_FILE = "setup-code"
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I: read off a screen, typed by a person
GROUPS, GROUP_LENGTH = 4, 4  # 16 characters of 32: 80 bits
LIMITER_KEY = "#setup-code"  # '#' is never in a username: its own budget per address


class WrongSetupCode(ManagerError):
    status = 403


def readable_secret(groups: int, group_length: int) -> str:
    """A random secret a person reads off a screen and types again: groups of ALPHABET's characters."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(groups * group_length))
    return "-".join(chars[i : i + group_length] for i in range(0, len(chars), group_length))


def new_code() -> str:
    return readable_secret(GROUPS, GROUP_LENGTH)


def normalise(code: str) -> str:
    """What a person typed, in the form the file holds: upper case, dashes and spaces ignored."""
    raw = "".join(ch for ch in code.upper() if ch not in "- ")
    return "-".join(raw[i : i + GROUP_LENGTH] for i in range(0, len(raw), GROUP_LENGTH))


class SetupCode:
    def __init__(self, secrets_dir: Path, limiter: RateLimiter):
        self.path = Path(secrets_dir) / CODE_FILE
        self.limiter = limiter

    def current(self) -> str:
        """The code, made (and stored 0600) the first time it is asked for."""
        if self.path.is_file():
            code = self.path.read_text().strip()
            if code:
                return code
        code = new_code()
        write_atomic(self.path, code + "\n", 0o600)
        log.info("setup code created in %s", self.path)
        return code

    def verify(self, body: Any, remote: str = "") -> None:
        """Check ``body["setup_code"]``: 400 when missing, 403 when wrong, 429 after too many wrong ones."""
        given = body.get("setup_code") if isinstance(body, dict) else None
        if not isinstance(given, str) or not given.strip():
            raise InvalidInput(
                "the setup code is required: run `pic setup-code` on the cell, or read the end of the converge",
                {"setup_code": "required"},
            )
        with self.limiter.attempt(remote, LIMITER_KEY) as attempt:
            if len(given) > 64 or not hmac.compare_digest(normalise(given).encode(), self.current().encode()):
                attempt.fail()
                log.warning("wrong setup code from %s", remote)
                raise WrongSetupCode(
                    "wrong setup code; `pic setup-code` on the cell prints it", {"setup_code": "wrong setup code"}
                )
            attempt.succeed()

    def remove(self) -> None:
        """After setup: the code opens nothing any more."""
        self.path.unlink(missing_ok=True)
