"""Backups of the cell with borgbackup, and the restore of a cell from one. No Flask import.

This runs as root: in the backup unit (`pic backup run`, from the timer), in the agent (its
``backup_*`` and ``restore`` actions) and in `pic` run by root. What it backs up, where to, and
which units it quiesces come from the backup role's configuration file (``BackupConfig``), so the
lists live in one place, the role's defaults. Secrets (the passphrase, the ssh key) stay in root's
0600 files and reach borg through its environment, never its command line, a log or an event.

A restore goes in this order (docs/architecture.md, "Backup and restore"):
1. open the repository with the passphrase given (a wrong one changes nothing);
2. read the archive's cell state, migrate it to the current schema and validate it (a bad one
   changes nothing);
3. put the state and the secrets back (the CA, the WireGuard and DKIM keys, the logins);
4. converge the cell from that state: every configuration is written again, none is copied back;
5. put the data back (mail, calendars, files, the store's apps) with the services that write there
   stopped;
6. bring the store's apps back: each app the state records is installed again over its restored
   directory (its pinned image pulled again); one that cannot come back is reported, not fatal;
7. check the services' health.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from ..agent import actions
from ..agent.client import AgentUnavailable
from ..agent.protocol import AgentError, validate
from ..config import Config
from ..core import migrate, schema
from ..core.validators import ValidationError, check_repository
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, ManagerError, Unavailable, checked
from .files import file_lock, write_atomic
from .runs import Emit as RunEmit
from .runs import Run, RunFailed, RunManager
from .setupcode import readable_secret

log = logging.getLogger("pic.backup")

Emit = Callable[[dict[str, Any]], None]
STEP_EVENT = "pic_step"  # one step of a backup, a check or a restore: {"step": ..., "message": ...}
ENCRYPTION = "repokey-blake2"  # the key lives in the repository, encrypted with the passphrase
PASSPHRASE_GROUPS, PASSPHRASE_GROUP_LENGTH = 6, 5  # 30 characters of 32: 150 bits, typed by a person
BORG_TIMEOUT = 6 * 3600
HEALTH_WAIT = 60.0  # seconds a restore waits for every enabled service to answer


class BackupError(ManagerError):
    """A backup or restore step was refused or failed; ``kind`` is borg's message id when borg said."""

    def __init__(self, message: str, fields: dict[str, str] | None = None, kind: str = ""):
        super().__init__(message, fields)
        self.kind = kind


@dataclasses.dataclass
class BackupConfig:
    """The backup role's configuration file (roles/backup/templates/backup.yml.j2), every key required."""

    repository: str
    passphrase_file: Path
    ssh_key_file: Path
    known_hosts_file: Path
    borg_dir: Path
    status_file: Path
    marker_file: Path
    prefix: str
    compression: str
    keep: dict[str, int]
    state_paths: list[str]
    data_paths: list[str]
    exclude: list[str]
    quiesce_units: list[str]
    root: Path = Path("/")  # where the paths are (tests point it at a directory); not in the file

    @classmethod
    def load(cls, path: Path, root: Path = Path("/")) -> BackupConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise BackupError(
                f"no backup configuration at {path}: converge the backup role (ansible-playbook site.yml)"
            ) from None
        names = {f.name for f in dataclasses.fields(cls)} - {"root"}
        if not isinstance(data, dict) or set(data) != names:
            raise BackupError(f"{path} is not a backup configuration the backup role wrote")
        try:
            check_repository(data["repository"], "repository")
        except ValidationError as exc:
            raise BackupError(f"{path}: {exc}", {"repository": str(exc)}) from None
        for key in ("passphrase_file", "ssh_key_file", "known_hosts_file", "borg_dir", "status_file", "marker_file"):
            data[key] = Path(data[key])
        return cls(**data, root=Path(root))


def new_passphrase() -> str:
    """A random passphrase a person can copy off a screen and type again: six groups of five."""
    return readable_secret(PASSPHRASE_GROUPS, PASSPHRASE_GROUP_LENGTH)


class Borg:
    """borg on one repository with one passphrase; the passphrase only ever in borg's environment."""

    def __init__(
        self,
        repository: str,
        passphrase: str,
        base_dir: Path,
        ssh_key_file: Path | None = None,
        known_hosts_file: Path | None = None,
    ):
        self.repository = repository
        self.passphrase = passphrase
        self.base_dir = Path(base_dir)
        self.ssh_key_file = ssh_key_file
        self.known_hosts_file = known_hosts_file

    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.base_dir),
            "BORG_BASE_DIR": str(self.base_dir),
            "BORG_PASSPHRASE": self.passphrase,
            "BORG_DISPLAY_PASSPHRASE": "no",
            # A repository reached under a new name (a copy, a moved disk) is the same repository;
            # anything else borg would ask about is refused.
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "no",
            "BORG_CHECK_I_KNOW_WHAT_I_AM_DOING": "NO",
            "BORG_DELETE_I_KNOW_WHAT_I_AM_DOING": "NO",
        }
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=30"]
        if self.ssh_key_file is not None and Path(self.ssh_key_file).is_file():
            ssh += ["-i", str(self.ssh_key_file), "-o", "IdentitiesOnly=yes"]
        if self.known_hosts_file is not None:
            # the backup server's host key is learnt on first contact and must not change after
            ssh += ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={self.known_hosts_file}"]
        env["BORG_RSH"] = " ".join(ssh)
        return env

    def run(self, command: str, *args: str, cwd: Path | None = None, timeout: float = BORG_TIMEOUT,
            warning_ok: bool = True) -> str:
        """borg's standard output; BackupError with borg's own error message (and id) when it fails.

        Exit 1 is a warning (a file changed while it was read, a pattern that matched nothing): the
        command did its work, so it counts as done, unless ``warning_ok`` is false (borg check says
        "errors found" with exit 1).
        """
        self.base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        argv = ["borg", "--log-json", command, *args]
        try:
            res = subprocess.run(
                argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise BackupError("borg is not installed: converge the backup role (ansible-playbook site.yml)") from None
        except subprocess.TimeoutExpired:
            raise BackupError(f"borg {command} did not finish in {timeout:.0f} s") from None
        if res.returncode == 0 or (res.returncode == 1 and warning_ok):
            return res.stdout
        kind, messages, errors = "", [], []
        for line in res.stderr.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # borg's argument errors and remote messages are plain text
                if line.strip():
                    messages.append(line.strip())
                continue
            if isinstance(entry, dict) and entry.get("type") == "log_message":
                text = str(entry.get("message", "")).strip()
                if entry.get("levelname") in ("ERROR", "CRITICAL") and text:
                    errors.append(text)
                if entry.get("levelname") in ("ERROR", "CRITICAL", "WARNING") and text:
                    messages.append(text)
                kind = entry.get("msgid") or kind
        # borg check warns once per damaged chunk; its errors say what matters
        message = "; ".join(errors if errors and len(messages) > 5 else messages) or \
            f"borg {command} failed (exit {res.returncode})"
        message = message if len(message) <= 2000 else message[:1999] + "…"
        raise BackupError(message, kind=kind)

    def archive(self, name: str) -> str:
        return f"{self.repository}::{name}"


def systemctl(verb: str, unit: str) -> None:
    subprocess.run(["systemctl", verb, unit], check=False, timeout=120, capture_output=True)


class BackupManager:
    """Backups and restores of one cell. ``units`` (active, stop, start) are systemd's unless a test
    gives its own; ``state_file``, ``versions_dir`` and ``setup_code_file`` are the API's files."""

    def __init__(
        self,
        config: BackupConfig,
        state_file: Path,
        versions_dir: Path,
        setup_code_file: Path | None = None,
        unit_active: Callable[[str], bool] = actions.unit_active,
        unit_control: Callable[[str, str], None] = systemctl,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self.config = config
        self.state_file = Path(state_file)
        self.versions_dir = Path(versions_dir)
        self.setup_code_file = Path(setup_code_file) if setup_code_file else None
        self.unit_active = unit_active
        self.unit_control = unit_control
        self.clock = clock

    @classmethod
    def for_config(cls, config: Config) -> BackupManager:
        """The manager of the cell ``config`` describes, over the backup role's configuration file."""
        return cls(
            BackupConfig.load(config.backup_config_file),
            config.state_file,
            config.state_dir,
            config.secrets_dir / "setup-code",
        )

    # the repository ------------------------------------------------------------------------
    def _borg(self, repository: str | None = None, passphrase: str | None = None,
              ssh_key_file: Path | None = None) -> Borg:
        return Borg(
            repository if repository is not None else self._repository(),
            passphrase if passphrase is not None else self.passphrase(),
            self.config.borg_dir,
            ssh_key_file or self.config.ssh_key_file,
            self.config.known_hosts_file,
        )

    def _repository(self) -> str:
        if not self.config.repository:
            raise BackupError(
                "no backup repository is set: `pic backup set --repository PATH-OR-SSH-URL` (or the settings page)",
                {"repository": "not set"},
            )
        return self.config.repository

    def passphrase(self) -> str:
        try:
            return self.config.passphrase_file.read_text().strip()
        except FileNotFoundError:
            raise BackupError("this cell has no backup passphrase yet: `pic backup init` makes one") from None

    def initialised(self) -> bool:
        try:
            marked = self.config.marker_file.read_text().strip()
        except OSError:
            return False
        return bool(self.config.repository) and marked == self.config.repository

    def init(self) -> str:
        """Make the passphrase (once) and the repository; "initialised", or "ready" when it was there."""
        repository = self._repository()
        if self.initialised():
            return "ready"
        if not self.config.passphrase_file.is_file():
            self.config.passphrase_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.config.passphrase_file, new_passphrase() + "\n", 0o600)
            log.info("a new backup passphrase was made in %s", self.config.passphrase_file)
        borg = self._borg()
        try:
            borg.run("init", "--encryption", ENCRYPTION, "--make-parent-dirs", repository)
            outcome = "initialised"
        except BackupError as exc:
            if exc.kind != "Repository.AlreadyExists":
                raise
            self._open(borg, "this cell's passphrase")  # a repository is there: it must be ours
            outcome = "ready"
        write_atomic(self.config.marker_file, repository + "\n", 0o644)
        log.info("backup repository %s %s", repository, outcome)
        return outcome

    @staticmethod
    def _open(borg: Borg, whose: str = "the passphrase") -> list[dict[str, Any]]:
        """The archives of the repository; a clear refusal when the passphrase does not open it."""
        try:
            data = json.loads(borg.run("list", "--json", borg.repository))
        except BackupError as exc:
            if exc.kind == "PassphraseWrong":
                raise BackupError(
                    f"{whose} does not open the repository {borg.repository}: wrong passphrase",
                    {"passphrase": "wrong passphrase"},
                    kind=exc.kind,
                ) from None
            if exc.kind in ("Repository.DoesNotExist", "Repository.InvalidRepository"):
                raise BackupError(
                    f"no backup repository at {borg.repository}: {exc.message}", {"repository": exc.message},
                    kind=exc.kind,
                ) from None
            raise
        except ValueError:
            raise BackupError(f"borg list gave no JSON for {borg.repository}") from None
        return [{"name": a["name"], "time": a.get("time") or a.get("start")} for a in data.get("archives", [])]

    def archives(self) -> list[dict[str, Any]]:
        return self._open(self._borg())

    def archives_detail(self) -> list[dict[str, Any]]:
        """The archives, oldest first, each with its time and sizes (borg info of every archive)."""
        borg = self._borg()
        found = self._open(borg)
        if not found:
            return []
        try:
            info = json.loads(borg.run("info", "--json", "--glob-archives", "*", borg.repository))
        except ValueError:
            raise BackupError(f"borg info gave no JSON for {borg.repository}") from None
        stats = {a.get("name"): a.get("stats") or {} for a in info.get("archives", [])}
        keys = ("original_size", "compressed_size", "deduplicated_size", "nfiles")
        return [{**a, **{k: stats.get(a["name"], {}).get(k) for k in keys}} for a in found]

    def check(self) -> None:
        """borg check: the repository's segments and every archive's metadata."""
        self._borg().run("check", self._repository(), warning_ok=False)

    @property
    def check_file(self) -> Path:
        """The last check's outcome, beside the last backup's (the API reads it through the agent)."""
        return self.config.status_file.with_name("check.json")

    def check_recorded(self, emit: Emit = lambda event: None) -> dict[str, Any]:
        """borg check, its outcome (ok, error, when) kept in ``check_file``; a failed check is an outcome."""
        started = self.clock().isoformat(timespec="seconds")
        result: dict[str, Any] = {"started_at": started, "ok": False}
        try:
            emit({"event": STEP_EVENT, "step": "check", "message": f"checking {self._repository()} and its archives"})
            self.check()
            result["ok"] = True
        except BackupError as exc:
            result["error"] = exc.message
        result["finished_at"] = self.clock().isoformat(timespec="seconds")
        result["repository"] = self.config.repository
        try:
            write_atomic(self.check_file, json.dumps(result, indent=1) + "\n", 0o644)
        except OSError:
            log.exception("cannot write the check's outcome to %s", self.check_file)
        emit({"event": STEP_EVENT, "step": "done",
              "message": "the repository and its archives are consistent" if result["ok"] else result["error"]})
        return result

    def key(self) -> dict[str, Any]:
        """What must leave the box: the passphrase, borg's key export, the ssh key's public half."""
        borg = self._borg()
        pub = self.config.ssh_key_file.with_name(self.config.ssh_key_file.name + ".pub")
        return {
            "repository": borg.repository,
            "passphrase": borg.passphrase,
            "key_export": borg.run("key", "export", borg.repository) if self.initialised() else "",
            "ssh_public_key": pub.read_text().strip() if pub.is_file() else "",
        }

    def status(self) -> dict[str, Any]:
        """The last backup's outcome (the status file), the repository and whether it is initialised."""
        try:
            last = json.loads(self.config.status_file.read_text())
        except (OSError, ValueError):
            last = None
        try:
            check = json.loads(self.check_file.read_text())
        except (OSError, ValueError):
            check = None
        return {"repository": self.config.repository, "initialised": self.initialised(), "last": last,
                "check": check, "data_paths": list(self.config.data_paths)}

    # a backup --------------------------------------------------------------------------------
    def _existing(self, paths: Iterable[str]) -> list[str]:
        """The configured paths that exist, relative to the root (as borg stores them)."""
        out = []
        for p in paths:
            rel = p.lstrip("/")
            if rel and os.path.lexists(self.config.root / rel):
                out.append(rel)
        return out

    def _quiesce(self) -> list[str]:
        """Stop the configured units that are running; returns them, to start again."""
        stopped = []
        for unit in self.config.quiesce_units:
            if self.unit_active(unit):
                self.unit_control("stop", unit)
                stopped.append(unit)
        return stopped

    def _resume(self, stopped: list[str]) -> None:
        for unit in reversed(stopped):
            self.unit_control("start", unit)

    def create(self, emit: Emit = lambda event: None) -> dict[str, Any]:
        """One backup: quiesce, borg create, start again, prune, compact; the outcome in the status file.

        ``emit`` hears each step (the API's run of a backup streams them to the UI)."""

        def step(name: str, message: str) -> None:
            emit({"event": STEP_EVENT, "step": name, "message": message})

        started = self.clock()
        status: dict[str, Any] = {"started_at": started.isoformat(timespec="seconds"), "ok": False}
        try:
            step("lock", "waiting for any other backup of this cell to finish")
            with file_lock(self.config.borg_dir / "backup.lock"):
                step("open", f"opening {self._repository()}")
                self.init()
                borg = self._borg()
                name = f"{self.config.prefix}-{started:%Y-%m-%dT%H:%M:%S}"
                paths = self._existing([*self.config.state_paths, *self.config.data_paths])
                excludes = [a for pattern in self.config.exclude for a in ("--exclude", pattern)]
                stopped = self._quiesce()
                step("create", f"archiving {len(paths)} paths as {name}"
                     + (f", {', '.join(stopped)} paused" if stopped else ""))
                t0 = time.monotonic()
                try:
                    out = borg.run(
                        "create", "--json", "--compression", self.config.compression, *excludes,
                        borg.archive(name), *paths, cwd=self.config.root,
                    )
                finally:
                    self._resume(stopped)
                status["quiesced_seconds"] = round(time.monotonic() - t0, 1)
                status["quiesced"] = stopped
                keep = [a for k, n in self.config.keep.items() if n for a in (f"--keep-{k}", str(n))]
                step("prune", "pruning old archives (" + ", ".join(f"{k} {n}" for k, n in self.config.keep.items())
                     + ") and compacting the repository")
                borg.run("prune", "--glob-archives", f"{self.config.prefix}-*", *keep, borg.repository)
                borg.run("compact", borg.repository)
            stats = (json.loads(out).get("archive") or {}).get("stats", {}) if out.strip() else {}
            status.update(ok=True, archive=name, repository=borg.repository, paths=paths,
                          original_size=stats.get("original_size"), deduplicated_size=stats.get("deduplicated_size"))
            step("done", f"backed up as {name}")
            return status
        except BackupError as exc:
            status["error"] = exc.message
            raise
        finally:
            status["finished_at"] = self.clock().isoformat(timespec="seconds")
            try:
                status_dir = self.config.status_file.parent
                status_dir.mkdir(parents=True, exist_ok=True)
                write_atomic(self.config.status_file, json.dumps(status, indent=1) + "\n", 0o640)
                # readable by the directory's group (the API's: `pic status` runs as pic)
                os.chown(self.config.status_file, -1, status_dir.stat().st_gid)
            except OSError:
                log.exception("cannot write the backup status to %s", self.config.status_file)
            if status["ok"]:
                log.info("backup done: %s", status["archive"])
            else:
                log.warning("backup failed: %s", status.get("error", "an unexpected error"))

    # a restore -------------------------------------------------------------------------------
    def is_set_up(self) -> bool:
        """Whether this cell has a state of its own (loading or not): a restore would replace it."""
        return self.state_file.exists() or (self.versions_dir.is_dir() and any(self.versions_dir.glob("cell-*.yml")))

    def restore(
        self,
        repository: str,
        passphrase: str,
        archive: str | None = None,
        ssh_key_file: Path | None = None,
        force: bool = False,
        converge: Callable[[Emit], str] | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
        emit: Emit = lambda event: None,
        apps: Callable[[Emit], list[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """Restore this cell from ``repository`` (the newest archive unless ``archive`` names one)."""

        try:
            if not check_repository(repository, "repository"):
                raise ValidationError("required")
        except ValidationError as exc:
            raise BackupError("a restore needs a repository", {"repository": str(exc)}) from None
        if not passphrase:
            raise BackupError("a restore needs the repository's passphrase", {"passphrase": "required"})
        if self.is_set_up() and not force:
            raise BackupError(
                f"this cell has a state already ({self.state_file}): restore onto a fresh cell, or pass --force "
                "to replace its state, secrets and data with the backup's"
            )
        # Until the restore is done, borg works in a private directory: its cache and the backup
        # server's host key go there, so a refused restore leaves nothing of itself on the cell (the
        # cell's own known_hosts comes back with the secrets).
        staging = Path(tempfile.mkdtemp(prefix="restore-", dir=self._staging_parent()))
        try:
            return self._restore(repository, passphrase, archive, ssh_key_file, staging, converge, health, emit,
                                 apps)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _restore(self, repository: str, passphrase: str, archive: str | None, ssh_key_file: Path | None,
                 staging: Path, converge: Callable[[Emit], str] | None,
                 health: Callable[[], dict[str, Any]] | None, emit: Emit,
                 apps: Callable[[Emit], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
        def step(name: str, message: str) -> None:
            log.info("restore: %s", message)
            emit({"event": STEP_EVENT, "step": name, "message": message})

        step("open", f"opening {repository}")
        borg = Borg(repository, passphrase, staging / "borg", ssh_key_file or self.config.ssh_key_file,
                    staging / "known_hosts")
        name = self._pick(self._open(borg), archive)
        step("check", f"reading the cell state of {name}")
        state_rel = str(self.state_file.relative_to(self.config.root))
        (staging / "archived").mkdir()
        borg.run("extract", borg.archive(name), state_rel, cwd=staging / "archived")
        state, migrated = self._archived_state(staging / "archived" / state_rel)
        step("state", "putting the state and the secrets back")
        borg.run("extract", borg.archive(name), *[p.lstrip("/") for p in self.config.state_paths],
                 cwd=self.config.root)
        if migrated:
            self._write_state_as_owner(state)
        self._keep_repository_secrets(repository, passphrase, ssh_key_file)
        if self.setup_code_file is not None:
            self.setup_code_file.unlink(missing_ok=True)  # the cell is set up: the code opens nothing
        step("converge", "converging the cell from the restored state")
        outcome = converge(emit) if converge is not None else "skipped"
        if outcome not in ("successful", "skipped"):
            raise BackupError(
                f"the converge of the restored state ended {outcome}; the state and secrets are back, the data "
                "not yet: repair what failed, then `pic restore ... --force` again"
            )
        step("data", "putting mail, calendars and files back, their services stopped")
        stopped = [u for u in self.config.quiesce_units if self.unit_active(u)]
        for unit in stopped:
            self.unit_control("stop", unit)
        try:
            borg.run("extract", borg.archive(name), *[p.lstrip("/") for p in self.config.data_paths],
                     cwd=self.config.root)
        finally:
            self._resume(stopped)
        brought: list[dict[str, Any]] = []
        if apps is not None:
            announced: list[bool] = []

            def announce() -> None:  # once, when there is an app to bring back (none on a cell without apps)
                if not announced:
                    announced.append(True)
                    step("apps", "bringing the store's apps back over their restored data")

            def app_event(event: dict[str, Any]) -> None:
                announce()
                emit(event)

            brought = apps(app_event)
            for app in brought:
                announce()
                step("apps", f"{app['id']} {app['version']} runs again" if app["ok"] else
                     f"{app['id']} {app['version']} did not come back: {app['error']}. Its data is restored; "
                     "retry with Repair on the Store page")
        step("health", "checking the services")
        report = self._wait_healthy(health) if health is not None else None
        failed = [a["id"] for a in brought if not a["ok"]]
        step("done", f"restored {name}" + (f"; not back: {', '.join(failed)}" if failed else ""))
        return {"archive": name, "migrated_from": migrated, "converge": outcome, "health": report, "apps": brought}

    def restore_data(self, archive: str, path: str, emit: Emit = lambda event: None) -> dict[str, Any]:
        """Put one data path (one service's: mail, calendars or files) back from an archive of this
        cell's repository, its writers stopped; files made since stay, files in the archive are its."""
        if path not in self.config.data_paths:
            raise BackupError(f"{path} is not data the backups hold",
                              {"data": "one of: " + ", ".join(self.config.data_paths)})
        borg = self._borg()
        emit({"event": STEP_EVENT, "step": "open", "message": f"opening {borg.repository}"})
        name = self._pick(self._open(borg, "this cell's passphrase"), archive)
        stopped = [u for u in self.config.quiesce_units if self.unit_active(u)]
        emit({"event": STEP_EVENT, "step": "data", "message": f"putting {path} back from {name}"
              + (f", {', '.join(stopped)} stopped" if stopped else "")})
        for unit in stopped:
            self.unit_control("stop", unit)
        try:
            borg.run("extract", borg.archive(name), path.lstrip("/"), cwd=self.config.root)
        finally:
            self._resume(stopped)
        emit({"event": STEP_EVENT, "step": "done", "message": f"restored {path} from {name}"})
        log.info("restore: %s put back from %s", path, name)
        return {"archive": name, "data": path}

    def _staging_parent(self) -> Path:
        """Where a restore keeps its private files: beside borg's own directory (the role made it)."""
        parent = self.config.borg_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        return parent

    def _pick(self, found: list[dict[str, Any]], archive: str | None) -> str:
        names = [a["name"] for a in found]
        if archive:
            if archive not in names:
                raise BackupError(f"no archive {archive!r} in the repository", {"archive": "no such archive"})
            return archive
        ours = [a for a in found if a["name"].startswith(self.config.prefix + "-")] or found
        if not ours:
            raise BackupError("the repository holds no archive yet", {"repository": "no archive"})
        return max(ours, key=lambda a: str(a["time"]))["name"]

    @staticmethod
    def _archived_state(path: Path) -> tuple[dict[str, Any], list[int]]:
        try:
            data = yaml.safe_load(path.read_text())
            state, migrated = migrate.migrate(data)
            schema.validate_state(state)
        except FileNotFoundError:
            raise BackupError("the archive holds no cell state: it is not a backup of a set-up cell") from None
        except (schema.StateError, yaml.YAMLError) as exc:
            raise BackupError(f"the archive's cell state cannot be restored: {exc}") from None
        return state, migrated

    def _write_state_as_owner(self, state: dict[str, Any]) -> None:
        """The migrated state over the restored file, still the API's (whose file it is)."""
        info = self.state_file.stat()
        write_atomic(self.state_file, yaml.safe_dump(state, sort_keys=False), 0o600)
        os.chown(self.state_file, info.st_uid, info.st_gid)

    def _keep_repository_secrets(self, repository: str, passphrase: str, ssh_key_file: Path | None) -> None:
        """The passphrase (and the ssh key given) become this cell's, for its next backups."""
        self.config.passphrase_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(self.config.passphrase_file, passphrase + "\n", 0o600)
        if ssh_key_file is not None and Path(ssh_key_file).resolve() != self.config.ssh_key_file.resolve():
            write_atomic(self.config.ssh_key_file, Path(ssh_key_file).read_bytes(), 0o600)
        write_atomic(self.config.marker_file, repository + "\n", 0o644)

    @staticmethod
    def _wait_healthy(health: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The health report once every enabled service is ok (or the last one after HEALTH_WAIT s)."""
        deadline = time.monotonic() + HEALTH_WAIT
        while True:
            report = health()
            bad = [s for s in report.get("services", []) if s.get("status") not in ("ok", "disabled")]
            if not bad or time.monotonic() >= deadline:
                return report
            time.sleep(2)


class BackupSettings:
    """The state's ``backup`` section, as the admin changes it (the API's side: user pic, no borg)."""

    def __init__(self, changes: ChangeManager):
        self.changes = changes

    def get(self) -> dict[str, Any]:
        return self.changes.state.section("backup")

    @staticmethod
    def change_for(body: Any) -> Callable[[dict[str, Any]], None]:
        """The state change a request asks for (``schema.BACKUP``): InvalidInput names every refused field."""
        data = checked(schema.BACKUP, body)
        return lambda state: schema.BACKUP.patch(state, data)

    def update(self, body: Any) -> Run:
        """Save the settings and converge the roles that read them (the backup role)."""
        run, _ = self.changes.apply(self.change_for(body), "change the backup settings", schema.BACKUP)
        return run

    def confirm_key(self) -> Run:
        """The admin says the passphrase is saved away from the cell: the warning ends (no role reads it)."""
        return self.update({"key_confirmed": True})


AgentCall = Callable[..., dict[str, Any]]  # AgentClient.call: (action, on_event=, idle=, **args) -> result


class BackupOperations:
    """The API's side of the agent's backup actions (user pic, no borg): what the backups hold, the key
    to save, and the runs of a backup, a check and a restore, queued with the converges (one at a
    time) and followed like them. ``call`` is the agent client's; None where no agent runs."""

    def __init__(self, call: AgentCall | None, runs: RunManager, settings: BackupSettings):
        self.call = call
        self.runs = runs
        self.settings = settings
        self._followers: dict[str, str] = {}  # the wizard's restore runs: run id -> the token that follows it

    def _call(self, action: str, **args: Any) -> dict[str, Any]:
        if self.call is None:
            raise Unavailable("backups need the privileged agent (pic-agent), which this API does not use")
        try:
            return self.call(action, **args)
        except AgentUnavailable as exc:
            raise Unavailable(exc.message) from None
        except AgentError as exc:  # refused (a field named), or borg could not (its own words)
            if exc.fields:
                raise InvalidInput(exc.message, exc.fields) from None
            raise Conflict(exc.message) from None

    def view(self) -> dict[str, Any]:
        """The settings (the state's), and what the cell does: repository, last backup, last check."""
        out: dict[str, Any] = {"settings": self.settings.get(), "status": None, "status_error": None}
        try:
            out["status"] = self._call("backup_status")
        except ManagerError as exc:  # the page still shows the settings, and why the rest is missing
            out["status_error"] = exc.message
        return out

    def archives(self) -> list[dict[str, Any]]:
        return self._call("backup_archives")["archives"]

    def key(self) -> dict[str, Any]:
        return self._call("backup_key")

    def _job(self, action: str, args: dict[str, Any], outcome: Callable[[Run, dict[str, Any]], str]) -> Any:
        def job(run: Run, emit: RunEmit, should_cancel: Callable[[], bool]) -> str:
            if self.call is None:
                raise RunFailed("backups need the privileged agent (pic-agent)")
            try:
                # no cancel: a backup or restore stopped halfway is worse than one that ends
                result = self.call(action, on_event=emit, idle=lambda: None, run_id=run.id, **args)
            except AgentError as exc:
                detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
                raise RunFailed(exc.message + (f" ({detail})" if detail else "")) from None
            return outcome(run, result)

        return job

    def _ready(self) -> dict[str, Any]:
        """The agent's status, once it says a repository is set (else a 400 naming it): a run is queued
        only for an agent that answers and has somewhere to write."""
        status = self._call("backup_status")
        if not status.get("repository"):
            raise InvalidInput("no backup repository is set", {"repository": "not set"})
        return status

    def create(self) -> Run:
        """A backup now, in the agent; its steps are the run's events."""
        self._ready()
        return self.runs.submit("backup", [], description="back the cell up now",
                                job=self._job("backup_create", {}, lambda run, result: "successful"))

    def check(self) -> Run:
        """borg check of the repository; the run fails when the check finds a fault (the run's error says it)."""
        self._ready()

        def outcome(run: Run, result: dict[str, Any]) -> str:
            if not result.get("ok"):
                run.error = str(result.get("error") or "borg check failed")
                return "failed"
            return "successful"

        return self.runs.submit("check", [], description="check the backup repository",
                                job=self._job("backup_check", {}, outcome))

    @staticmethod
    def restored(run: Run, result: dict[str, Any]) -> str:
        """A restore that ended brought the cell back: successful. Apps that did not come back are its
        error, which the run view shows beside its success, with how to retry them."""
        failed = [a for a in result.get("apps") or [] if not a.get("ok")]
        if failed:
            run.error = ("the cell is restored, but not every app came back: "
                         + "; ".join(f"{a['id']} {a['version']}: {a.get('error', '')}" for a in failed)
                         + ". Their data is restored: retry each with Repair on the Service Store page")
        return "successful"

    def restore(self, body: Any) -> Run:
        """A restore from the cell's repository, checked first (the archive is there, the data path is
        one the backups hold): a bad request is refused before anything is queued."""
        data = checked(schema.BACKUP_RESTORE, body)
        status = self._ready()
        if "data" in data and data["data"] not in status.get("data_paths", []):
            raise InvalidInput("no such data in the backups",
                               {"data": "one of: " + ", ".join(status.get("data_paths", []))})
        if data["archive"] not in {a["name"] for a in self.archives()}:
            raise InvalidInput(f"no archive {data['archive']!r} in the repository", {"archive": "no such archive"})
        what = f"restore {data['data']} from {data['archive']}" if "data" in data else \
            f"restore the whole cell from {data['archive']}"
        return self.runs.submit("restore", [], description=what, job=self._job("backup_restore", data, self.restored))

    def restore_fresh(self, body: Any, check_code: Callable[[dict[str, Any]], None]) -> tuple[Run, str]:
        """The wizard's "restore from a backup": this cell, not set up, from the old cell's repository,
        passphrase (and backup ssh key). ``check_code`` is the setup's (409 once set up, 403 for a
        wrong code). Returns the run and a token that follows it before anyone can log in; the
        passphrase and the key live in the run's job only, never in its file or events."""
        data = checked(schema.SETUP_RESTORE, body)
        check_code(data)
        if self.call is None:
            raise Unavailable("a restore needs the privileged agent (pic-agent), which this API does not use")
        args: dict[str, Any] = {k: data[k] for k in ("repository", "passphrase", "archive", "ssh_key") if k in data}
        try:  # the agent's own allow-list (the ssh key's form): refused here, before a run is queued
            validate({"action": "restore", "args": args}, ())
        except AgentError as exc:
            raise InvalidInput(exc.message, exc.fields) from None
        run = self.runs.submit("restore", [], description=f"restore the cell from {data['repository']}",
                               job=self._job("restore", {**args, "force": False}, self.restored))
        token = secrets.token_urlsafe(24)
        self._followers[run.id] = token
        log.info("restore from %s queued by the wizard as run %s", data["repository"], run.id)
        return run, token

    def follows(self, run_id: str, token: str) -> bool:
        """Whether ``token`` is the one the wizard's restore ``run_id`` was given."""
        expected = self._followers.get(run_id)
        return bool(expected) and hmac.compare_digest(expected.encode(), token.encode())

