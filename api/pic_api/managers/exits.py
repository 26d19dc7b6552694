"""Exits: upstreams a chosen device's traffic leaves the cell through (docs/architecture.md
"Per-device exits"). Three kinds: ``wireguard`` (an upstream WireGuard server whose wg-quick
configuration the admin pastes), ``openvpn`` (a provider's .ovpn with its credentials) and ``tor``
(the cell's own tor as a transparent proxy: a name and nothing else; one per cell).

The state keeps an exit's name, kind, endpoint, address, DNS and the server's public key; its
private key and preshared key go to 0600 files in ``secrets_dir`` (``<name>.key``, ``<name>.psk``),
never to the state, a run's events or a log. The exits role reads those files on the host (wg-quick
loads them with ``wg set``). A device (a peer) names its exit in the state; removing an exit a device
still uses is refused (409).

The list also says how each exit's tunnel runs (``live``): its wg-quick unit's state, the exit
server's latest handshake and transfer, from pic-agent's read-only ``exit_status`` (the tunnel is
root's to read; no key is in the answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import ddns, ovpn, schema, wgquick
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, NotFound, checked
from .files import write_atomic
from .runs import Run

log = logging.getLogger("pic.exits")
# Every secret file an exit may have: <name>.<suffix>.
SECRET_FILES = tuple(dict.fromkeys(("key", "psk", *schema.OPENVPN_CREDENTIALS)))

# An exit's tunnel by the exit's name: {unit, up, endpoint, latest_handshake, rx, tx, reason?}
Live = Callable[[str, str], dict[str, Any]]
# (an openvpn exit's: {unit, up, address, rx, tx, reason?}; it has no handshake to tell; a tor exit's:
# {unit, up, reason?}, up when tor runs - these machines cannot tell whether it builds circuits)
LIVE_KEYS = ("unit", "up", "endpoint", "latest_handshake", "rx", "tx", "address", "reason")


def tunnel_live(read: Callable[[], dict[str, Any]] | None, now: int, what: str) -> dict[str, Any]:
    """How a tunnel runs (an exit's, a cell link's: pic-agent's read-only status), with ``now`` (the
    cell's clock, against which the handshake's age is told). When it cannot be read, ``up`` is false
    and ``reason`` says why; the caller still lists what it lists."""
    down = {"unit": "unknown", "up": False, "endpoint": "", "latest_handshake": 0, "rx": 0, "tx": 0}
    if read is None:
        return {**down, "now": now, "reason": "the tunnel's state is not read here"}
    try:
        got = read()
    except Exception as exc:  # the agent refused or is away
        message = getattr(exc, "message", None) or str(exc)
        log.warning("%s: its tunnel's state not read: %s", what, message)
        return {**down, "now": now, "reason": f"the tunnel's state could not be read: {message}"[:300]}
    return {**down, **{k: got[k] for k in LIVE_KEYS if k in got}, "now": now}


# (the address the internet sees through an exit, the source asked) by the exit's name; raises
# ddns.ProviderError with the reason it cannot tell
SeenThrough = Callable[[str], tuple[str, str]]


class ExitManager:
    def __init__(self, changes: ChangeManager, secrets_dir: Path, live: Live | None = None,
                 clock: Callable[[], float] = time.time, seen_through: SeenThrough | None = None):
        self.changes = changes
        self.secrets_dir = Path(secrets_dir)
        self._live = live
        self.clock = clock
        self._seen_through = seen_through

    def key_file(self, name: str, which: str = "key") -> Path:
        """``<secrets_dir>/<name>.key`` (the private key), ``.psk`` (a WireGuard exit's preshared key)
        or an OpenVPN exit's credential (``.ca``, ``.cert``, ``.tls-crypt``, ``.auth-user-pass``, ...)."""
        return self.secrets_dir / f"{name}.{which}"

    def list(self) -> list[dict[str, Any]]:
        state = self.changes.state.load()
        out = []
        for ex in state.get("exits", []):
            devices = sorted(p["name"] for p in state["peers"] if p.get("exit") == ex["name"])
            if ex["kind"] == "tor":
                stored = True  # it has no secret
            elif ex["kind"] == "openvpn":
                stored = all(self.key_file(ex["name"], c).is_file() for c in ex["credentials"])
            else:
                stored = self.key_file(ex["name"]).is_file()
            out.append({**ex, "devices": devices, "preshared_key": self.key_file(ex["name"], "psk").is_file(),
                        "keys_stored": stored, "live": self.live(ex["name"], ex["kind"])})
        return out

    def live(self, name: str, kind: str = "wireguard") -> dict[str, Any]:
        """How the exit's tunnel runs (``tunnel_live``)."""
        read = None if self._live is None else (lambda: self._live(name, kind))
        return tunnel_live(read, int(self.clock()), f"exit {name}")

    def public_address(self, name: str) -> dict[str, Any]:
        """The address the internet sees the exit's traffic come from: the cell's address source asked
        through the exit's tunnel (``seen_through``). ``address`` is empty and ``reason`` says why when
        it cannot be told: the tunnel is down, the source does not answer, or the exit is Tor (its
        address is a relay's, another for each circuit)."""
        ex = next((e for e in self.changes.state.load().get("exits", []) if e["name"] == name), None)
        if ex is None:
            raise NotFound(f"no exit {name!r}")
        out: dict[str, Any] = {"exit": name, "address": "", "source": ""}
        if ex["kind"] == "tor":
            return {**out, "reason": "a Tor exit's address is its exit relay's, another for each circuit"}
        if self._seen_through is None:
            return {**out, "reason": "the address is not asked here"}
        try:
            address, source = self._seen_through(name)
        except ddns.ProviderError as exc:
            return {**out, "reason": exc.message[:300]}
        return {**out, "address": address, "source": source}

    def get(self, name: str) -> dict[str, Any]:
        for ex in self.list():
            if ex["name"] == name:
                return ex
        raise NotFound(f"no exit {name!r}")

    def _save_secrets(self, name: str, secrets: dict[str, str]) -> None:
        """Each secret to its 0600 file (by suffix), every other secret file of the name removed."""
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for which, value in secrets.items():
            write_atomic(self.key_file(name, which), value.rstrip("\n") + "\n", 0o600)
        for which in SECRET_FILES:
            if which not in secrets:
                self.key_file(name, which).unlink(missing_ok=True)

    def _remove_secrets(self, name: str) -> None:
        for which in SECRET_FILES:
            self.key_file(name, which).unlink(missing_ok=True)

    def add(self, body: Any, preview: bool = False) -> tuple[Run, dict[str, Any]]:
        """Add an exit; with ``preview`` its check-mode run, refused as the change would be, with nothing
        saved and no key file written (the exits role lets a preview's new exit lack its keys)."""
        data = {"kind": "wireguard", **checked(schema.EXIT, body)}
        try:
            if data["kind"] == "tor":
                # the cell's own tor: nothing to paste, no credential, its DNS is tor's DNSPort
                refused = {own: "a tor exit takes no " + own for own in ("config", "username", "password", "dns")
                           if own in data}
                if refused:
                    raise schema.StateError(refused, "invalid exit")
                fields, secrets = {}, {}
            elif "config" not in data:
                raise schema.StateError({"config": f"a {data['kind']} exit needs the provider's configuration"},
                                        "invalid exit")
            elif data["kind"] == "openvpn":
                fields, secrets = ovpn.parse(data["config"], data.get("username"), data.get("password"))
            else:
                for own in ("username", "password"):
                    if own in data:
                        raise schema.StateError({own: "only an openvpn exit takes a username and password"})
                fields, parsed = wgquick.parse(data["config"])
                secrets = {"key": parsed["private_key"], **({"psk": parsed["preshared_key"]}
                                                            if "preshared_key" in parsed else {})}
        except schema.StateError as exc:
            raise InvalidInput(exc.message, exc.fields) from None
        exit_ = {"name": data["name"], "kind": data["kind"], **fields}
        if "dns" in data:  # a resolver the admin names wins over the file's (or, for openvpn, the pushed one)
            exit_["dns"] = data["dns"]

        def change(state: dict[str, Any]) -> dict[str, Any]:
            exits = state.setdefault("exits", [])
            if any(e["name"] == exit_["name"] for e in exits):
                raise Conflict(f"exit {exit_['name']!r} exists", {"name": "an exit with this name exists"})
            if exit_["kind"] == "tor" and (tor := next((e for e in exits if e["kind"] == "tor"), None)):
                raise InvalidInput("invalid exit", {"kind": f"the cell has a tor exit already ({tor['name']})"})
            exits.append(exit_)
            return dict(exit_)

        # the keys are written once the state that names the exit is saved, before its converge reads them
        return self.changes.apply_or_preview(
            preview, change, f"add exit {exit_['name']}", schema.EXIT,
            before_run=lambda ex: self._save_secrets(ex["name"], secrets),
        )

    def delete(self, name: str, preview: bool = False) -> Run:
        """Remove an exit and its key files; with ``preview`` its check-mode run, the files kept."""
        def change(state: dict[str, Any]) -> dict[str, Any]:
            exits = state.get("exits", [])
            gone = next((e for e in exits if e["name"] == name), None)
            if gone is None:
                raise NotFound(f"no exit {name!r}")
            users = sorted(p["name"] for p in state["peers"] if p.get("exit") == name)
            if users:
                raise Conflict(f"exit {name!r} is used by {', '.join(users)}",
                               {"name": f"used by {', '.join(users)}: choose another exit for them first"})
            state["exits"] = [e for e in exits if e["name"] != name]
            return gone

        run, _ = self.changes.apply_or_preview(preview, change, f"delete exit {name}",
                                               before_run=lambda ex: self._remove_secrets(name))
        return run
