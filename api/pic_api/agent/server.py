"""The agent's root side: a unix socket server that carries out allow-listed actions only.

Only peers whose uid is root's or the API user's (SO_PEERCRED) may speak, on top of the socket's
0660 root:pic mode. Every request is validated by ``protocol.validate`` before anything runs.
"""

from __future__ import annotations

import datetime as dt
import grp
import json
import logging
import os
import pwd
import shutil
import socket
import socketserver
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import Config
from ..core import roles
from ..core.validators import ValidationError, check_label
from ..managers import store
from ..managers.ansible_backend import AnsibleRunnerBackend
from ..managers.backup import BackupError, BackupManager
from ..managers.events import trim_event
from ..managers.health import HealthMonitor
from ..managers.runs import Backend, Run, new_run_id
from ..managers.state import StateManager, load_yaml
from . import actions
from .fastpath import FastPath
from .protocol import MAX_LINE, AgentError, loggable, validate

log = logging.getLogger("pic.agent")


@dataclass
class Applied:
    """A peer change applied to the running cell and not yet made durable by a converge."""

    seq: int
    op: str
    peer: dict[str, Any]


class Agent:
    """The actions, independent of the socket (the unit tests call ``handle`` directly)."""

    def __init__(self, config: Config, backend: Backend | None = None, fastpath: FastPath | None = None,
                 store_factory: Callable[[], store.StoreManager] | None = None):
        self.config = config
        # the store's configuration is read afresh for each action (a converge may have changed it)
        self.store_factory = store_factory or (lambda: store.StoreManager.for_file(config.store_config_file))
        self.preview_dir = Path(config.run_dir) / ".scratch"
        self.backend = backend or AnsibleRunnerBackend(
            config.project_dir,
            config.playbook,
            config.inventory_path,
            config.skip_tags,
            work_dir=Path(config.agent_work_dir),
        )
        self._lock = threading.Lock()
        self._current: Run | None = None
        self.roles = roles.site_roles(Path(config.project_dir))
        self.fastpath = fastpath or FastPath(
            config.wg_interface,
            Path(config.wg_private_key_file),
            Path(config.dns_peers_file),
            Path(config.firewall_config_file),
        )
        # Peer changes applied at once, in order; a converge that ends covers those applied before
        # it started (it read the state they were saved in).
        self._applied: list[Applied] = []
        self._applied_lock = threading.Lock()
        self._seq = 0

    def busy(self) -> bool:
        """A converge or restore runs, or a peer change applied at once waits for the converge that
        makes it durable (only this process knows to put it back if that converge fails)."""
        with self._applied_lock:
            return self._lock.locked() or bool(self._applied)

    def handle(self, request: Any, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        action, args = validate(request, self.roles)
        log.info("action %s %s", action, json.dumps(loggable(args), sort_keys=True))
        if action in store.ACTIONS:
            return store.perform(self.store_factory, action, args, lambda raw: send({"event": trim_event(raw)}))
        return getattr(self, "do_" + action)(send=send, **args)

    # actions ------------------------------------------------------------------------------
    def do_converge(
        self, run_id: str, tags: list[str], check: bool, preview: str | None, send: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        extravars = {"pic_state_file": str(self._preview_file(preview))} if preview else {}
        run = Run(run_id, "preview" if preview else "converge", tags, check, "", extravars)
        if not self._lock.acquire(blocking=False):
            raise AgentError("a converge is already running; one at a time")
        try:
            self._current = run

            def emit(raw: dict[str, Any]) -> None:
                try:
                    send({"event": trim_event(raw)})
                except OSError:  # the API went away: stop the run rather than run unobserved
                    run.cancel_requested = True

            with self._applied_lock:
                started = self._seq
            status = self.backend.execute(run, emit, lambda: run.cancel_requested)
            if run.cancel_requested and status != "successful":
                status = "canceled"
            result: dict[str, Any] = {"status": status}
            if not check and not preview:
                restored = self._after_converge(started, status == "successful")
                if restored:
                    result["restored"] = restored
                    send({"event": {"event": "pic_peers_restored", "created": _now(), "msg": restored}})
            return result
        finally:
            self._current = None
            self._lock.release()

    def _after_converge(self, started: int, succeeded: bool) -> str | None:
        """Settles the peer changes applied at once: those applied before the converge started are
        now durable, or, when it failed, the running cell is put back to its converged files (and
        the message says which peers that took back). Changes applied while it ran are applied again,
        as its handlers may have synced the interface to an older file."""
        with self._applied_lock:
            covered = [a for a in self._applied if a.seq <= started]
            later = [a for a in self._applied if a.seq > started]
            self._applied = later
        message = None
        if covered and not succeeded:
            try:
                state = self._state()
            except AgentError as exc:
                log.warning("restore after a failed converge: %s", exc.message)
                state = {"cell": {"name": ""}, "peers": []}
            parts = self.fastpath.restore(state)
            log.warning("converge failed: the running VPN restored from the converged files: %s", parts)
            changes = ", ".join(f"{'added' if a.op == 'add' else 'removed'} peer {a.peer['name']}" for a in covered)
            message = (
                f"The converge failed, so what was applied at once ({changes}) was put back to the cell's "
                "converged configuration; it takes effect when a converge succeeds. "
                + "; ".join(f"{part}: {what}" for part, what in parts.items())
            )
        if later:
            try:
                state = self._state()
            except AgentError:
                return message
            for a in later:
                self.fastpath.apply(a.op, a.peer, state)
        return message

    def _state(self) -> dict[str, Any]:
        """The peers and the cell's name of the state on disk (what the next converge reads). Only what
        the fast path uses is checked here (every peer's name and address again when the hosts file
        is rendered): the whole schema would cost a second per change with 500 peers."""
        try:
            state = load_yaml(Path(self.config.state_file).read_text())
            peers = state["peers"] if isinstance(state, dict) and isinstance(state.get("peers"), list) else None
            if peers is None or not all(isinstance(p, dict) for p in peers):
                raise ValueError("no list of peers")
            check_label(state.get("cell", {}).get("name"), "cell name")
        except (OSError, yaml.YAMLError, ValueError, ValidationError, AttributeError) as exc:
            raise AgentError(f"the cell state does not load: {str(exc)[:200]}") from None
        for p in peers:
            p.setdefault("route", "split")
        return state

    def do_peer_apply(
        self, op: str, name: str, public_key: str, ip: str, route: str, send: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        peer = {"name": name, "public_key": public_key, "ip": ip, "route": route}
        state = self._state()
        by_key = {p["public_key"]: p for p in state["peers"]}
        if op == "add":
            saved = by_key.get(public_key)
            if saved is None:
                raise AgentError("no such peer in the cell state", {"public_key": "not a peer of the cell state"})
            bad = {k: "differs from the cell state" for k in ("name", "ip", "route") if saved.get(k) != peer[k]}
            if bad:
                raise AgentError("the peer differs from the cell state", bad)
        else:
            if public_key in by_key:
                raise AgentError(
                    "the peer is still in the cell state", {"public_key": "still a peer of the cell state"}
                )
            owner = next((p["name"] for p in state["peers"] if p["ip"] == ip), None)
            if owner:
                raise AgentError("the address belongs to another peer", {"ip": f"the address of peer {owner}"})
        with self._applied_lock:
            self._seq += 1
            self._applied.append(Applied(self._seq, op, peer))
            parts = self.fastpath.apply(op, peer, state)
        return {"parts": parts, "ready": parts["wireguard"] in ("applied", "removed")}

    def _preview_file(self, name: str) -> Path:
        """The proposed state the API wrote: a regular file directly in its scratch directory."""
        path = self.preview_dir / name
        try:
            info = os.lstat(path)
        except OSError:
            raise AgentError("no such proposed state", {"preview": "no such file"}) from None
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise AgentError("the proposed state is not a plain file", {"preview": "not a plain file"})
        return path

    def do_cancel(self, run_id: str, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        run = self._current
        if run is None or run.id != run_id:
            raise AgentError(f"run {run_id} is not running", {"run_id": "not running"})
        run.cancel_requested = True
        return {"cancel_requested": True}

    def do_unit_status(self, unit: str, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return {"unit": unit, "active": actions.unit_active(unit)}

    def do_unit_journal(self, units: list[str], limit: int, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return {"entries": actions.journal(units, limit)}

    def do_wg_public_key(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        key = actions.wg_public_key(self.config.wg_private_key_file, Path(self.config.wg_public_key_file))
        return {"public_key": key}

    def do_ca_issue(self, name: str, days: int, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        from ..managers import certs  # cryptography: loaded when a certificate is first issued, not at start

        try:
            made = certs.issue(self.config.ca_root_file, name, days)
        except certs.CertError as exc:
            raise AgentError(str(exc), status=409) from None
        log.info("issued certificate %s for %s", made["serial"], name)  # its key is in the answer only
        return made

    def do_dhcp_leases(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return {"leases": actions.dhcp_leases(Path(self.config.dhcp_leases_file))}

    def do_ntp_clients(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        try:
            return {"clients": actions.ntp_clients()}
        except actions.NtpClientsError as exc:
            raise AgentError(str(exc), status=503) from None

    def do_wg_status(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return actions.wg_status(self.config.wg_interface)

    def do_memory(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        from ..managers import system  # cryptography with it: loaded when first asked, not at start

        return system.memory()

    def do_mail_records(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return actions.mail_records(Path(self.config.mail_records_file))

    def do_mail_queue(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return actions.mail_queue(self.config.postqueue)

    def do_exit_status(self, name: str, kind: str, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return actions.exit_status(name, self.config.exit_interface_prefix, kind=kind)

    def do_link_status(self, cell_id: str, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return actions.link_status(cell_id)

    def do_calendar_list(self, users: list[str], send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return {"collections": actions.calendar_collections(Path(self.config.radicale_storage_dir), users)}

    def do_calendar_create(self, owner: str, name: str, displayname: str, kind: str, description: str, color: str,
                           send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        ids = None
        if self.config.radicale_user:  # what is made is Radicale's ('': the process's own, as in the tests)
            try:
                user = pwd.getpwnam(self.config.radicale_user)
            except KeyError:
                raise AgentError(f"user {self.config.radicale_user} does not exist: the calendar service is not "
                                 "installed", status=409) from None
            ids = (user.pw_uid, user.pw_gid)
        props = actions.collection_props(kind, displayname, description, color)
        try:
            actions.calendar_create(Path(self.config.radicale_storage_dir), owner, name, props, ids)
        except actions.CollectionError as exc:
            if exc.exists:
                raise AgentError(str(exc), {"name": "exists already"}, status=409) from None
            raise AgentError(str(exc), status=409) from None
        log.info("made %s %s of %s", kind, name, owner)
        return {"owner": owner, "name": name, "kind": kind}

    # backups ------------------------------------------------------------------------------
    def backups(self) -> BackupManager:
        """The backup manager over the backup role's configuration, read afresh for each action."""
        return BackupManager.for_config(self.config)

    def do_backup_start(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Starts the backup unit (the timer's own path), so a backup runs once, logged in its journal."""
        self._backup_call(lambda b: b._repository())  # refuse with the reason when there is no repository
        return {"started": actions.start_unit(self.config.backup_unit)}

    def do_backup_status(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self._backup_call(lambda b: b.status())  # no configuration yet: said, as a refusal

    def do_backup_archives(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return {"archives": self._backup_call(lambda b: b.archives_detail())}

    def do_backup_key(self, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self._backup_call(lambda b: b.key())

    @staticmethod
    def _emitter(send: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """Events to the caller; when it went away the work goes on (stopping halfway is worse)."""

        def emit(event: dict[str, Any]) -> None:
            try:
                send({"event": event})
            except OSError:
                pass

        return emit

    def do_backup_create(self, run_id: str | None, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """One backup now, here, its steps streamed (the API's run of it); the unit's lock excludes the timer's."""
        return self._backup_call(lambda b: b.create(emit=self._emitter(send)))

    def do_backup_check(self, run_id: str | None, send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """borg check; its outcome is kept for backup_status (a failed check is an outcome, not a refusal)."""
        return self._backup_call(lambda b: b.check_recorded(emit=self._emitter(send)))

    def do_backup_restore(
        self, archive: str, data: str | None, run_id: str | None, send: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """From this cell's own repository: one data path, or the whole cell (its state, secrets, a
        converge, the data), holding the converge lock as ``restore`` does."""
        if data is not None:
            if not self._lock.acquire(blocking=False):
                raise AgentError("a converge is running; restore when it has finished")
            try:
                return self._backup_call(lambda b: b.restore_data(archive, data, emit=self._emitter(send)))
            finally:
                self._lock.release()
        passphrase = self._backup_call(lambda b: b.passphrase())
        return self.do_restore(self._backup_call(lambda b: b._repository()), passphrase, archive, None, True,
                               run_id, send=send)

    def _backup_call(self, fn: Callable[[BackupManager], Any]) -> Any:
        try:
            return fn(self.backups())
        except BackupError as exc:
            raise AgentError(exc.message, exc.fields) from None

    def do_restore(
        self,
        repository: str,
        passphrase: str,
        archive: str | None,
        ssh_key: str | None,
        force: bool,
        run_id: str | None,
        send: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Restores the cell from a backup, holding the converge lock the whole time (docs/architecture.md)."""
        if not self._lock.acquire(blocking=False):
            raise AgentError("a converge is running; restore when it has finished")
        key_file = None
        try:
            backups = self.backups()
            if ssh_key is not None:
                fd, name = tempfile.mkstemp(prefix="ssh-key-", dir=backups._staging_parent())
                with os.fdopen(fd, "w") as fh:
                    fh.write(ssh_key)
                key_file = Path(name)

            emit = self._emitter(send)

            def converge(emit_event: Callable[[dict[str, Any]], None]) -> str:
                run = Run(new_run_id(), "restore", [], False, "restore from a backup")
                self._current = run
                try:
                    return self.backend.execute(run, lambda raw: emit_event(trim_event(raw)), lambda: False)
                finally:
                    self._current = None

            state = StateManager(self.config.state_file, self.config.state_dir)
            health = HealthMonitor(
                lambda: state.section("services"), lambda: state.section("network")["dns_server"], interval=0
            )
            return backups.restore(
                repository, passphrase, archive=archive, ssh_key_file=key_file, force=force,
                converge=converge, health=health.check_once, emit=emit,
                # after the data: the apps the restored state records, through the store's own install
                apps=lambda emit_event: store.bring_back(self.store_factory, state.section("store"), emit_event),
            )
        except BackupError as exc:
            raise AgentError(exc.message, exc.fields) from None
        finally:
            if key_file is not None:
                key_file.unlink(missing_ok=True)
            self._lock.release()


def local_call(config: Config, backend: Backend | None) -> Callable[..., dict[str, Any]]:
    """The agent's actions called in this process, as ``AgentClient.call`` calls them over the socket:
    where no agent runs (the unit tests, an API with ``runner`` none or ansible), as the read actions
    do (agent/actions.py). The agent is made at the first call."""
    made: list[Agent] = []

    def call(action: str, on_event: Callable[[dict[str, Any]], None] | None = None,
             idle: Callable[[], None] | None = None, **args: Any) -> dict[str, Any]:
        if not made:
            made.append(Agent(config, backend))

        def send(message: dict[str, Any]) -> None:
            if "event" in message and on_event is not None:
                on_event(message["event"])

        return made[0].handle({"action": action, "args": args}, send)

    return call


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class _Handler(socketserver.StreamRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        def send(message: dict[str, Any]) -> None:
            self.wfile.write(json.dumps(message, default=str).encode() + b"\n")
            self.wfile.flush()

        try:
            uid = peer_uid(self.request)
            if uid not in self.server.allowed_uids:
                log.warning("refused a connection from uid %s", uid)
                raise AgentError("this user may not use the agent")
            line = self.rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise AgentError(f"a request is one JSON line of at most {MAX_LINE} bytes")
            try:
                request = json.loads(line)
            except ValueError:
                raise AgentError("a request is one line of JSON") from None
            result = self.server.agent.handle(request, send)
            send({"ok": True, "result": result})
        except AgentError as exc:
            log.info("refused: %s %s", exc.message, exc.fields)
            self._try(send, {"ok": False, "error": exc.message, "fields": exc.fields, "status": exc.status})
        except Exception:
            log.exception("action failed")
            self._try(send, {"ok": False, "error": "the action failed; see the agent's journal"})

    @staticmethod
    def _try(send: Callable[[dict[str, Any]], None], message: dict[str, Any]) -> None:
        try:
            send(message)
        except OSError:
            pass


class AgentServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The agent's socket: bound here (0660 root:GROUP), or the one systemd listens on (``fd``, from
    the .socket unit, which sets its owner and mode). ``idle()`` says how long it has had nothing to
    do: no connection open, no converge running, no peer change waiting for its converge."""

    daemon_threads = True

    def __init__(self, path: Path, agent: Agent, allowed_uids: set[int], group: str | None = None,
                 fd: int | None = None):
        self.agent = agent
        self.allowed_uids = set(allowed_uids)
        self._open = 0
        self._open_lock = threading.Lock()
        self._last = time.monotonic()
        path = Path(path)
        if fd is not None:
            super().__init__(str(path), _Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = socket.socket(fileno=fd)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        old = os.umask(0o117)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o660)
        if group and os.geteuid() == 0:  # the socket and its directory: root's, reachable by the group
            gid = grp.getgrnam(group).gr_gid
            os.chown(path, 0, gid)
            os.chown(path.parent, 0, gid)
            os.chmod(path.parent, 0o750)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._closed()
            raise

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            self._closed()

    def _closed(self) -> None:
        with self._open_lock:
            self._open -= 1
            self._last = time.monotonic()

    def idle(self) -> float:
        """Seconds since the agent last had something to do; 0 while it has."""
        with self._open_lock:
            if self._open or self.agent.busy():
                self._last = time.monotonic()
                return 0.0
            return time.monotonic() - self._last

    def serve_until_idle(self, idle_exit: float, poll: float = 1.0) -> None:
        """Serves until idle for ``idle_exit`` seconds (0: for ever). Accepting and deciding to stop
        happen in this one thread, so no accepted connection is left behind; one that arrives later
        waits in the socket systemd holds, which starts the agent again for it."""
        if not idle_exit:
            self.serve_forever()
            return
        self.timeout = min(poll, idle_exit)
        while self.idle() < idle_exit:
            self.handle_request()


def clear_work_dir(work_dir: Path) -> None:
    """Remove whatever a killed run left in the agent's private directory (ansible-runner's files)."""
    work_dir = Path(work_dir)
    if work_dir.is_dir():
        for child in work_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(work_dir, 0o700)


def allowed_uids(user: str) -> set[int]:
    uids = {0, os.geteuid()}
    try:
        uids.add(pwd.getpwnam(user).pw_uid)
    except KeyError:
        log.warning("no user %s: only root may use the agent", user)
    return uids


def listen_fd(env: dict[str, str] | None = None) -> int | None:
    """The socket systemd passed (socket activation: LISTEN_PID is this process, LISTEN_FDS one or
    more, the first at fd 3), or None when the agent is to bind its own."""
    env = os.environ if env is None else env
    try:
        if int(env.get("LISTEN_PID", "")) == os.getpid() and int(env.get("LISTEN_FDS", "")) >= 1:
            return 3
    except ValueError:
        pass
    return None


def serve(config: Config) -> None:
    clear_work_dir(config.agent_work_dir)
    group = config.agent_user if os.geteuid() == 0 else None
    fd = listen_fd()
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):  # not for the converges' processes
        os.environ.pop(name, None)
    server = AgentServer(config.agent_socket, Agent(config), allowed_uids(config.agent_user), group, fd=fd)
    log.info("listening on %s%s", config.agent_socket, " (from systemd)" if fd is not None else "")
    server.serve_until_idle(config.agent_idle_exit if fd is not None else 0)
    log.info("idle for %s s: exiting; systemd starts the agent again on the next connection",
             config.agent_idle_exit)
