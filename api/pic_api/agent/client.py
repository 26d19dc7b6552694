"""The API's side of the agent: typed calls over the unix socket, and the runner backend using it."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..managers.runs import Run, RunFailed
from .protocol import AgentError, request

log = logging.getLogger("pic.agent.client")


class AgentUnavailable(AgentError):
    """The agent's socket could not be reached."""


class AgentClient:
    def __init__(self, socket_path: Path, timeout: float = 15.0):
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise AgentUnavailable(f"the privileged agent is not reachable at {self.socket_path}: {exc}") from None
        return sock

    def call(
        self,
        action: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        idle: Callable[[], None] | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Send one request; hand each streamed event to ``on_event``; return the result.

        With ``idle``, the call waits for as long as the action takes and calls ``idle`` every second
        without news; otherwise it gives up after the client's timeout. Raises AgentError when the
        agent refuses, AgentUnavailable when it cannot be reached.
        """
        sock = self._connect()
        try:
            if idle is not None:
                sock.settimeout(1.0)
            sock.sendall(json.dumps(request(action, **args)).encode() + b"\n")
            buf = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if idle is None:
                        raise AgentUnavailable(f"the agent did not answer {action} in time") from None
                    chunk = None
                if idle is not None:
                    idle()
                if chunk is None:
                    continue
                if not chunk:
                    raise AgentUnavailable(f"the agent closed the connection during {action}")
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    message = json.loads(line)
                    if "event" in message:
                        if on_event:
                            on_event(message["event"])
                    elif message.get("ok"):
                        return message["result"]
                    else:
                        raise AgentError(message.get("error", "refused"), message.get("fields"),
                                         int(message.get("status") or 400))
        finally:
            sock.close()

    # typed helpers the managers use -------------------------------------------------------
    def unit_active(self, unit: str) -> bool:
        try:
            return bool(self.call("unit_status", unit=unit)["active"])
        except AgentError as exc:
            log.warning("unit status of %s: %s", unit, exc.message)
            return False

    def journal(self, units: Iterable[str], limit: int) -> list[dict[str, Any]]:
        return self.call("unit_journal", units=list(units), limit=limit)["entries"]

    def wg_public_key(self) -> str:
        return self.call("wg_public_key")["public_key"]

    def dhcp_leases(self) -> list[dict[str, Any]]:
        return self.call("dhcp_leases")["leases"]

    def ntp_clients(self) -> list[dict[str, Any]]:
        return self.call("ntp_clients")["clients"]

    def wg_status(self) -> dict[str, Any]:
        return self.call("wg_status")

    def memory(self) -> dict[str, Any]:
        return self.call("memory")

    def mail_records(self) -> dict[str, Any]:
        return self.call("mail_records")

    def mail_queue(self) -> dict[str, Any]:
        return self.call("mail_queue")

    def exit_status(self, name: str, kind: str = "wireguard") -> dict[str, Any]:
        return self.call("exit_status", name=name, kind=kind)

    def link_status(self, cell_id: str) -> dict[str, Any]:
        return self.call("link_status", cell_id=cell_id)

    def peer_apply(self, op: str, peer: dict[str, Any]) -> dict[str, Any]:
        """Applies a peer the state just gained (op add) or lost (remove) to the running cell."""
        fields = {k: peer[k] for k in ("name", "public_key", "ip")}
        return self.call("peer_apply", op=op, route=peer.get("route", "split"), **fields)


class AgentBackend:
    """Runs converges through the agent. Its events arrive trimmed and scrubbed by the agent."""

    emits_trimmed = True

    def __init__(self, client: AgentClient, preview_dir: Path):
        self.client = client
        self.preview_dir = Path(preview_dir)

    def execute(self, run: Run, emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool]) -> str:
        args: dict[str, Any] = {"run_id": run.id, "tags": run.tags, "check": run.check}
        extravars = dict(run.extravars)
        state_file = extravars.pop("pic_state_file", None)
        if extravars:
            raise RunFailed(f"the agent takes no variables: {', '.join(sorted(extravars))}")
        if state_file:
            if Path(state_file).parent != self.preview_dir:
                raise RunFailed("a preview's proposed state must be in the API's scratch directory")
            args["preview"] = Path(state_file).name
        asked = False

        def idle() -> None:
            nonlocal asked
            if should_cancel() and not asked:
                asked = True
                try:
                    self.client.call("cancel", run_id=run.id)
                except AgentError as exc:
                    log.warning("cancel of %s: %s", run.id, exc.message)

        try:
            result = self.client.call("converge", on_event=emit, idle=idle, **args)
        except AgentError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            raise RunFailed(exc.message + (f" ({detail})" if detail else "")) from None
        if result.get("restored"):  # the run failed and peers applied at once were taken back
            run.error = str(result["restored"])
        return str(result.get("status", "failed"))
