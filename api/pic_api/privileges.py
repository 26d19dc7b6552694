"""The API's files belong to its unprivileged user: root running ``pic`` becomes that user first."""

from __future__ import annotations

import os
import pwd


def drop_to(user: str) -> bool:
    """When running as root, become ``user`` (its uid, gid and no other groups) for good.

    Returns True when privileges were dropped; False when not root, or when ``user`` does not exist
    (a development machine without a cell). Anything the CLI then writes is the API's to read.
    """
    if os.geteuid() != 0:
        return False
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return False
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    return True
