"""Peer-sync: linked cells tell each other what they share, over the link (docs/architecture.md
"Peer-sync between linked cells").

What a cell shares with a linked cell: its zone, the services it grants that cell (the link's
``grants``) and its devices' names. After each successful converge the cell sends it to every linked
cell whose last received copy differs (``push_all``, in a thread of its own, never in a request);
one that did not arrive is tried again every minute. The receiving cell records it in its state
(the link's ``offered`` and ``peer``: version, zone, devices, when). The zone is recorded, not
forwarded: which zone goes to the linked cell's DNS stays what the admin accepted at linking, so a
linked cell cannot make this cell's devices ask it for names of another zone. Removing a link sends
``remove`` first, and the other cell removes its end too.

A message is ``pic-sync1.<payload>.<signature>`` (core/links.py), signed with the sender's Ed25519
key, the one the invitation carried. The receiver takes it only:

- from the tunnel address of a linked cell (the link's ``dns``), as the API sees the request's
  source: Caddy's peer-sync listener, which the firewall opens only from a link's interface, puts
  the address in X-Forwarded-For, and the API believes that header only from the loopback. Anything
  else: 401 ``source``;
- signed with that link's key: else 401 ``message.signature``;
- well formed, of the endpoint's kind, from that cell to this one: else 400 naming the field;
- fresh: its ``sent`` within ``PEER_SYNC_WINDOW`` seconds of this cell's clock, its nonce not seen
  within that window, its version newer than the last one taken from that cell: else 409 naming
  ``message.sent``, ``message.nonce`` or ``message.version``.

A version is the sender's: one counter per cell, at least the Unix time of sending, so it keeps
growing even if the counter's file is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ..core import links, schema
from .errors import Conflict, InvalidInput, NotFound, Unauthorized, checked
from .files import file_lock
from .links import LinkManager
from .runs import Run

log = logging.getLogger("pic.peer_sync")

# (link, kind, message) -> (HTTP status, JSON answer); raises OSError when the other cell is not reached
Send = Callable[[dict[str, Any], str, str], tuple[int, dict[str, Any]]]
PATH = "/api/cells/peer-sync/"
# A push that did not arrive (the other cell down, the link not up yet) is tried again this often.
RETRY_INTERVAL = 60.0


def http_send(port: int, timeout: float) -> Send:
    """POST a message to the linked cell's peer-sync listener at its tunnel address (over the link)."""

    def send(link: dict[str, Any], kind: str, message: str) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(f"http://{link['dns']}:{port}{PATH}{kind}", method="POST",
                                     data=json.dumps({"message": message}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (a fixed http URL)
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {"error": exc.reason}

    return send


def _now_text(clock: Callable[[], float]) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


class PeerSync:
    def __init__(self, links_: LinkManager, send: Send | None = None, timeout: float = 5.0,
                 retry_interval: float = RETRY_INTERVAL):
        self.links = links_
        self.retry_interval = retry_interval
        self.send = send or http_send(schema.PEER_SYNC_PORT, timeout)
        self.spawn: Callable[[Callable[[], None]], None] = lambda job: threading.Thread(
            target=job, name="pic-peer-sync", daemon=True).start()
        self._push_lock = threading.Lock()
        self.started = False

    def start(self) -> None:
        """Push after each successful converge from now on (the API process; not the CLI, not tests
        that do not ask for it)."""
        if not self.started:
            self.started = True
            self.links.changes.runs.before_finish.append(self.after_run)
            threading.Thread(target=self._retry, name="pic-peer-sync-retry", daemon=True).start()

    def _retry(self) -> None:
        while True:
            time.sleep(self.retry_interval)
            try:
                self.push_all()  # sends only what the other cell does not have yet
            except Exception:  # keep trying whatever one round met (a state that does not load, ...)
                log.exception("peer-sync: the retry failed")

    # files ---------------------------------------------------------------------------------------
    @property
    def _file(self):  # noqa: ANN202
        return self.links.links_dir / "peer-sync.json"

    def _book(self) -> dict[str, Any]:
        data = json.loads(self._file.read_text()) if self._file.is_file() else {}
        return {"version": int(data.get("version", 0)), "sent": dict(data.get("sent", {})),
                "nonces": dict(data.get("nonces", {}))}

    def _save_book(self, book: dict[str, Any]) -> None:
        self.links._write(self._file, json.dumps(book, indent=1, sort_keys=True) + "\n")

    # sending -------------------------------------------------------------------------------------
    def share_for(self, state: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
        """What this cell shares with the cell of ``link``."""
        return {"zone": state["cell"]["domain"], "services": list(link.get("grants", [])),
                "devices": sorted({p["name"] for p in state.get("peers", [])})[:schema.MAX_SHARED_DEVICES]}

    def _message(self, book: dict[str, Any], link: dict[str, Any], kind: str,
                 share: dict[str, Any] | None = None) -> tuple[str, int]:
        """A signed message to the cell of ``link``, with this cell's next version (saved before it is sent)."""
        now = int(self.links.clock())
        version = max(book["version"] + 1, now)
        book["version"] = version
        self._save_book(book)
        payload: dict[str, Any] = {"v": 1, "kind": kind, "from": self.links.identity()["id"], "to": link["cell_id"],
                                   "version": version, "sent": now, "nonce": secrets.token_urlsafe(18)}
        if share is not None:
            payload["share"] = share
        return links.sign(payload, self.links._signing_key(), links.SYNC_PREFIX), version

    def _deliver(self, link: dict[str, Any], kind: str, message: str) -> str | None:
        """None when the other cell took the message, else why not."""
        try:
            status, answer = self.send(link, kind, message)
        except (OSError, ValueError) as exc:
            return f"cell {link['name']} was not reached over the link: {getattr(exc, 'reason', exc)}"
        if status >= 300:
            return f"cell {link['name']} refused the {kind} ({status}): {answer.get('error', '')}".rstrip(": ")
        return None

    def push_all(self) -> dict[str, str | None]:
        """Send each linked cell what this cell shares, where it differs from what that cell last
        took; returns, by cell id, None (sent) or why not. One push at a time, so versions rise."""
        out: dict[str, str | None] = {}
        with self._push_lock:
            state = self.links.changes.state.load()
            for link in state.get("links", []):
                share = self.share_for(state, link)
                digest = hashlib.sha256(json.dumps(share, sort_keys=True).encode()).hexdigest()
                with file_lock(self.links._lock):
                    book = self._book()
                    last = book["sent"].get(link["cell_id"], {})
                    if last.get("digest") == digest and not last.get("error"):
                        continue
                    message, version = self._message(book, link, "share", share)
                error = self._deliver(link, "share", message)
                with file_lock(self.links._lock):
                    book = self._book()
                    book["sent"][link["cell_id"]] = {"digest": digest, "version": version,
                                                     "at": _now_text(self.links.clock), "error": error}
                    self._save_book(book)
                if error:
                    log.warning("peer-sync: %s", error)
                out[link["cell_id"]] = error
        return out

    def after_run(self, run: Run, status: str) -> None:
        """After a successful converge: push in a thread of its own (the run ends meanwhile)."""
        if run.kind == "converge" and not run.check and status == "successful":
            self.spawn(self.push_all)

    def remove(self, cell_id: str) -> tuple[Run, dict[str, Any]]:
        """Remove the link on both ends: tell the other cell (over the link, while it is still up),
        then remove this end whether or not it was reached."""
        link = next((ln for ln in self.links.changes.state.load().get("links", []) if ln["cell_id"] == cell_id), None)
        if link is None:
            raise NotFound(f"no link to cell {cell_id!r}")
        with file_lock(self.links._lock):
            message, _ = self._message(self._book(), link, "remove")
        error = self._deliver(link, "remove", message)
        run = self.links.delete(cell_id)
        self._forget(cell_id)
        return run, {"reached": error is None, **({"error": error} if error else {})}

    def _forget(self, cell_id: str) -> None:
        """A removed link's last push is forgotten: linked again, the cell is sent everything anew."""
        with file_lock(self.links._lock):
            book = self._book()
            book["sent"].pop(cell_id, None)
            self._save_book(book)

    # receiving -----------------------------------------------------------------------------------
    def _open(self, kind: str, body: Any, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The link the message came over and its payload, checked; refusals as the module says."""
        link = next((ln for ln in self.links.changes.state.load().get("links", []) if ln["dns"] == source), None)
        if link is None:
            raise Unauthorized("peer-sync is taken only over a link, from the linked cell's tunnel address",
                               {"source": f"{source or 'unknown'} is no linked cell's tunnel address"})
        data = checked(schema.PEER_SYNC, body)
        try:
            payload = links.open_message(data["message"], link["signing_key"])
        except links.SyncError as exc:
            error = Unauthorized if exc.status == 401 else InvalidInput
            raise error(f"the peer-sync message was refused: {exc.message}", {exc.field: exc.message}) from None
        for field, want, why in (("kind", kind, f"this endpoint takes a {kind}"),
                                 ("from", link["cell_id"], f"the message is not from cell {link['name']}"),
                                 ("to", self.links.identity()["id"], "the message is for another cell")):
            if payload[field] != want:
                raise InvalidInput(f"the peer-sync message was refused: {why}", {f"message.{field}": why})
        if kind == "share" and "share" not in payload:
            raise InvalidInput("the peer-sync message was refused: a share without what is shared",
                               {"message.share": "required"})
        now = int(self.links.clock())
        if abs(now - payload["sent"]) > schema.PEER_SYNC_WINDOW:
            why = f"sent {payload['sent']}, more than {schema.PEER_SYNC_WINDOW} s from this cell's time {now}"
            raise Conflict(f"the peer-sync message was refused: {why} (replayed, or a clock is wrong)",
                           {"message.sent": why})
        with file_lock(self.links._lock):
            book = self._book()
            book["nonces"] = {n: t for n, t in book["nonces"].items() if t >= now - schema.PEER_SYNC_WINDOW}
            if payload["nonce"] in book["nonces"]:
                raise Conflict("the peer-sync message was refused: replayed", {"message.nonce": "seen already"})
            book["nonces"][payload["nonce"]] = now
            self._save_book(book)
        return link, payload

    def _check_version(self, link: dict[str, Any], version: int) -> None:
        last = link.get("peer", {}).get("version", 0)
        if version <= last:
            why = f"version {version} is not newer than version {last}, the last one taken from cell {link['name']}"
            raise Conflict(f"the peer-sync message was refused: {why} (replayed or out of order)",
                           {"message.version": why})

    def receive_share(self, body: Any, source: str) -> tuple[Run, dict[str, Any]]:
        """Record what the linked cell shares: the link's offered services, its zone and devices,
        the version and when (the converge follows, as for any change). The link's forwarded zone
        stays (the module says why)."""
        link, payload = self._open("share", body, source)
        share = payload["share"]

        def change(state: dict[str, Any]) -> dict[str, Any]:
            mine = next((ln for ln in state.get("links", []) if ln["cell_id"] == link["cell_id"]), None)
            if mine is None:
                raise NotFound(f"no link to cell {link['name']}")
            self._check_version(mine, payload["version"])  # under the state's lock: two at once, one wins
            mine["offered"] = list(share["services"])
            mine["peer"] = {"version": payload["version"], "zone": share["zone"], "devices": list(share["devices"]),
                            "synced": _now_text(self.links.clock)}
            return mine

        return self.links.changes.apply(change, f"peer-sync from cell {link['name']} (version {payload['version']})")

    def receive_remove(self, body: Any, source: str) -> Run:
        """The linked cell removed the link: remove this end too."""
        link, payload = self._open("remove", body, source)
        self._check_version(link, payload["version"])
        run = self.links.delete(link["cell_id"])
        self._forget(link["cell_id"])
        return run
