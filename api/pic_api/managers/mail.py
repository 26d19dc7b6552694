"""The Email page: the mail domain, the records to publish for it and Postfix's queue.

Nothing here is state of its own. The addresses are the users' (GET /api/users); the records are
the ones the mailserver role wrote for the domain, and the queue is Postfix's, both root's to read:
pic-agent's read-only ``mail_records`` and ``mail_queue`` actions, or the same functions in this
process without an agent. When one cannot be read the page still shows the rest, with why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .changes import ChangeManager
from .netsvc import zone_of
from .users import cell_domain, webmail_url

log = logging.getLogger("pic.mail")

Read = Callable[[], dict[str, Any]]


def absolute(name: str, zone: str) -> str:
    """A record name of the zone file ("@", or a label relative to the zone) as the full name to publish."""
    return zone if name == "@" else f"{name}.{zone}"


class MailView:
    def __init__(self, changes: ChangeManager, records: Read, queue: Read):
        self.changes = changes
        self._records = records
        self._queue = queue

    def view(self) -> dict[str, Any]:
        state = self.changes.state.load()
        domain, zone = cell_domain(state), zone_of(state)
        out: dict[str, Any] = {
            "enabled": "mail" in state.get("services", []),
            "domain": domain,
            "webmail_url": webmail_url(domain),
            "records": [],
            "queue": [],
        }
        if domain != zone and not domain.endswith("." + zone):
            # the mailserver role writes records only for a domain of the cell's own zone (records.yml.j2);
            # a file there now is one of before the domain changed
            out["records_error"] = (f"the mail domain {domain} is not in the cell's zone {zone}: the cell does not "
                                    "publish its records (MX, SPF, DKIM, DMARC); they belong in the domain's own DNS")
        else:
            got = self._read("records", self._records)
            if "reason" in got:
                out["records_error"] = got["reason"]
            else:
                out["records"] = [{**r, "name": absolute(r["name"], zone)} for r in got["records"]]
        got = self._read("queue", self._queue)
        if "reason" in got:
            out["queue_error"] = got["reason"]
        else:
            out["queue"] = got["queue"]
        return out

    @staticmethod
    def _read(what: str, read: Read) -> dict[str, Any]:
        try:
            got = read()
        except Exception as exc:  # the agent refused or is away: the page still shows the rest
            got = {"reason": getattr(exc, "message", None) or str(exc)}
        if "reason" in got:
            got["reason"] = f"the mail {what} could not be read: {got['reason']}"[:300]
            log.warning("%s", got["reason"])
        return got
