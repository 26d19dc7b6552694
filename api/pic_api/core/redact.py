"""The one redactor: what leaves the cell (run events, logs, the state shown by the API) carries no secret.

Two rules, for structures and for free text alike: a value under a secret-looking key (``password``,
``*_hash``, ``private*``, ``secret``, ``token``, ...) is masked, and a secret-looking string
anywhere (a bcrypt or scrypt hash, ``PrivateKey = ...``, a PEM private key, ``password=...``) is
replaced. ``scrub`` walks events and states; ``redact_text`` is the same for a log line.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "********"
_KEYS = r"password|passwd|secret|private|token|api_key|session_key"
SECRET_KEY_RE = re.compile(rf"(?i)({_KEYS}|_hash$|^hash$)")
# key=value or key: value inside free text, the value up to a space, quote, comma or brace
_KEY_VALUE_RE = re.compile(rf"(?i)((?:{_KEYS})[a-z_]*)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}}]+)")
_SECRET_VALUE_RES = [
    re.compile(r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}"),  # bcrypt
    re.compile(r"scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
]


def redact_text(text: str) -> str:
    """``text`` with secret-looking values masked (a log line, an event's stdout or message)."""
    for rx in _SECRET_VALUE_RES:
        text = rx.sub(MASK, text)
    return _KEY_VALUE_RE.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def scrub(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secret-looking keys masked and secret-looking strings replaced."""
    if key and SECRET_KEY_RE.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def mask_state(state: dict[str, Any]) -> dict[str, Any]:
    """The cell state as the API shows it: the users' password hashes masked."""
    return scrub(state)
