"""The ``pic`` command: administration on the cell itself (run as root; it works as the API's user)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .agent.client import AgentClient
from .agent.protocol import UNITS, AgentError
from .config import Config
from .managers import store, uninstall
from .managers.ansible_backend import AnsibleRunnerBackend
from .managers.backup import ENCRYPTION, STEP_EVENT, BackupManager, BackupSettings
from .managers.errors import ManagerError
from .managers.events import trim_event
from .managers.health import SERVICE_CHECKS, HealthMonitor
from .managers.runs import Run, new_run_id
from .managers.setupcode import readable_secret
from .managers.state import StateManager
from .privileges import drop_to
from .services import Cell

ADMIN_PASSWORD_GROUPS = 4  # a generated admin password: 4 groups of 5 readable characters, 100 bits
BACKUP_UNIT_LOGS = "pic-backup"  # `pic logs backup`


def _config(args: argparse.Namespace) -> Config:
    """The cell's configuration as root's commands read it (they keep root: borg, systemctl, wg)."""
    overrides: dict[str, Any] = {"health_interval": 0, "log_file": None}
    if args.state_file:
        overrides["state_file"] = Path(args.state_file)
    return Config.load(**overrides)


def _cell(args: argparse.Namespace) -> Cell:
    overrides: dict[str, Any] = {"runner": "none", "health_interval": 0, "log_file": None}
    if args.state_file:
        overrides["state_file"] = Path(args.state_file)
    config = Config.load(**overrides)
    drop_to(config.agent_user)  # run as root, the CLI writes as the API's user, who owns the state
    return Cell(config)


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password from stdin or a prompt; None: generate one."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not args.prompt:
        return None
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise ManagerError("the two passwords differ")
    return first


def cmd_reset_admin_password(args: argparse.Namespace) -> int:
    cell = _cell(args)
    role = cell.auth.accounts().get(args.username)
    if role is None and args.username != "admin":
        raise ManagerError(f"no account {args.username!r}")
    password = _read_password(args)
    generated = password is None
    if generated:
        password = readable_secret(ADMIN_PASSWORD_GROUPS, 5)
    cell.auth.set_password(args.username, password, role or "admin")
    if generated:
        print(f"New password of {args.username}: {password}")
    print(f"Password of {args.username} changed; its open sessions have ended.")
    print("Its mail/calendar/files password is unchanged: change it on the web UI's Account page (/account).")
    return 0


def cmd_list_peers(args: argparse.Namespace) -> int:
    peers = _cell(args).peers.list()
    if args.json:
        print(json.dumps(peers, indent=2))
        return 0
    if not peers:
        print("No peers.")
        return 0
    print(f"{'NAME':<20} {'ADDRESS':<16} {'ROUTE':<6} PUBLIC KEY")
    for p in peers:
        print(f"{p['name']:<20} {p['ip']:<16} {p.get('route', 'split'):<6} {p['public_key']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cell = _cell(args)
    state = cell.state.load()
    runs = cell.runs.list(5)
    info = {
        "setup_completed": bool(state.get("setup_completed")),
        "cell": state["cell"]["name"],
        "domain": state["cell"]["domain"],
        "state_version": cell.state.current_version(),
        "services": state["services"],
        "peers": len(state["peers"]),
        "last_runs": [{k: r.get(k) for k in ("id", "status", "description", "finished_at")} for r in runs],
        "backup": _backup_summary(cell.config, state),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Cell {info['cell']} ({info['domain']}), setup {'done' if info['setup_completed'] else 'NOT done'}")
    print(f"State version {info['state_version']}; services: {', '.join(info['services'])}; {info['peers']} peer(s)")
    print(f"Backups: {info['backup']['summary']}")
    for r in info["last_runs"]:
        print(f"  run {r['id']}  {r['status']:<10} {r['description']}")
    return 0


def _backup_summary(config: Config, state: dict[str, Any]) -> dict[str, Any]:
    """The backup part of `pic status`: the state's settings and the last run's outcome."""
    settings = state.get("backup", {})
    try:  # what the cell does: the backup role's configuration, converged from the state
        status = BackupManager.for_config(config).status()
        repository, last = status["repository"], status["last"]
    except (ManagerError, OSError):
        repository, last = settings.get("repository", ""), None
    if not repository:
        summary = "off (no repository set)"
    elif last is None:
        summary = f"to {repository}, none has run yet"
    elif last.get("ok"):
        summary = f"last {last['archive']} at {last['finished_at']}"
    else:
        summary = f"last one FAILED at {last.get('finished_at')}: {last.get('error')}"
    if repository and not settings.get("key_confirmed"):
        summary += "; the passphrase is NOT confirmed saved (pic backup key)"
    return {"repository": repository, "last": last, "summary": summary}


def cmd_setup(args: argparse.Namespace) -> int:
    """Headless setup: the wizard's answers from a YAML/JSON file (the api role uses this)."""
    cell = _cell(args)
    if cell.setup.completed():
        print("The cell is already set up; nothing changed.")
        return 0
    answers = yaml.safe_load(Path(args.answers).read_text()) or {}
    if not isinstance(answers, dict):
        raise ManagerError("the answers file must be a mapping")
    pw_file = answers.pop("admin_password_file", None)
    if pw_file:
        answers["admin_password"] = Path(pw_file).read_text().rstrip("\n")
    cell.setup.setup(answers, converge=False, need_code=False)  # root on the host needs no code
    print(f"Cell {answers['cell_name']} set up; the admin can log in.")
    return 0


def cmd_setup_code(args: argparse.Namespace) -> int:
    """The one-time code the wizard asks for first (made when missing); none once the cell is set up."""
    cell = _cell(args)
    if cell.setup.completed():
        print("The cell is already set up: there is no setup code.", file=sys.stderr)
        return 1
    print(cell.setup_code.current())
    return 0


def cmd_state_check(args: argparse.Namespace) -> int:
    """Does the state load? And which saved versions would (the candidates for restore-version)?"""
    state = _cell(args).state
    problem = state.problem()
    if problem:
        print(f"The cell state does not load: {problem}", file=sys.stderr)
    elif state.exists():
        print(f"{state.state_file} loads: a valid cell state.")
    else:
        print(f"{state.state_file} does not exist yet and no version is saved: the cell is not set up.")
    versions = state.versions()
    for v in versions:
        bad = state.version_problem(v["version"])
        print(f"  version {v['version']:<5} {v['saved_at']}  {'DAMAGED: ' + bad if bad else 'loads'}")
    good = state.newest_good_version()
    if problem:
        print(f"Repair: pic state restore-version {good}" if good else "No saved version loads: restore from a backup.")
    return 1 if problem else 0


def cmd_state_restore_version(args: argparse.Namespace) -> int:
    cell = _cell(args)
    number = cell.state.restore_version(args.number)
    print(f"State version {args.number} restored as version {number}; {cell.state.state_file} loads again.")
    print("Converge it: ansible-playbook site.yml, or start a run in the web UI.")
    return 0


# ---- backup and restore --------------------------------------------------------------------------
def _backups(args: argparse.Namespace) -> BackupManager:
    return BackupManager.for_config(_config(args))


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def cmd_backup_run(args: argparse.Namespace) -> int:
    """One backup now, in this process (root), as the timer's unit runs it."""
    result = _backups(args).create()
    paused = ", ".join(result["quiesced"]) or "none running"
    print(f"Backup {result['archive']} written to {result['repository']}: {_size(result['original_size'])} read, "
          f"{_size(result['deduplicated_size'])} new; services paused for {result['quiesced_seconds']} s ({paused}).")
    return 0


def cmd_backup_init(args: argparse.Namespace) -> int:
    backups = _backups(args)
    outcome = backups.init()
    if outcome == "initialised":
        print(f"The repository {backups.config.repository} was initialised (encryption {ENCRYPTION}).")
        print("Save its passphrase away from this cell now: `pic backup key` shows it; then `pic backup confirm-key`.")
    else:
        print(f"The repository {backups.config.repository} is ready.")
    return 0


def cmd_backup_list(args: argparse.Namespace) -> int:
    archives = _backups(args).archives()
    if args.json:
        print(json.dumps(archives, indent=2))
    elif not archives:
        print("No archive yet.")
    for a in [] if args.json else archives:
        print(f"{a['name']:<40} {a['time']}")
    return 0


def cmd_backup_check(args: argparse.Namespace) -> int:
    backups = _backups(args)
    backups.check()
    print(f"borg check: the repository {backups.config.repository} and its archives are consistent.")
    return 0


def cmd_backup_status(args: argparse.Namespace) -> int:
    config = _config(args)
    status = BackupManager.for_config(config).status()
    settings = StateManager(config.state_file, config.state_dir).load().get("backup", {})
    info = {**status, "schedule": settings.get("schedule"), "key_confirmed": settings.get("key_confirmed")}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    if not info["repository"]:
        print("Backups are off: no repository is set (`pic backup set --repository ...`).")
        return 0
    print(f"Repository {info['repository']} ({'initialised' if info['initialised'] else 'NOT initialised'}), "
          f"schedule {info['schedule']}")
    last = info["last"]
    if last is None:
        print("No backup has run yet.")
    elif last.get("ok"):
        print(f"Last backup: {last['archive']} at {last['finished_at']}")
    else:
        print(f"Last backup FAILED at {last.get('finished_at')}: {last.get('error')}")
    if not info["key_confirmed"]:
        print("WARNING: the passphrase has not been confirmed saved. Without it no backup can be restored: "
              "`pic backup key`, save it away from this cell, then `pic backup confirm-key`.")
    return 0


def cmd_backup_key(args: argparse.Namespace) -> int:
    key = _backups(args).key()
    print(f"Repository: {key['repository']}")
    print(f"Passphrase: {key['passphrase']}")
    if key["ssh_public_key"]:
        print(f"This cell's ssh key for a remote repository (authorise it there): {key['ssh_public_key']}")
    if key["key_export"]:
        print("The repository's key (borg key export; restores need the passphrase, and this if the repository's")
        print("own copy of the key is ever damaged):")
        print(key["key_export"].rstrip())
    print("Keep the passphrase away from this cell (a password manager, paper). Then: pic backup confirm-key")
    return 0


def cmd_backup_confirm_key(args: argparse.Namespace) -> int:
    cell = _cell(args)
    cell.state.update(BackupSettings.change_for({"key_confirmed": True}))
    print("Noted: the backup passphrase is saved away from the cell.")
    return 0


def _print_event(event: dict[str, Any], last: dict[str, str] | None = None) -> None:
    """A restore's or a converge's progress, one line per step, role and failure."""
    last = {} if last is None else last
    kind = event.get("event")
    if kind == STEP_EVENT:
        print(f"{event['step']}: {event['message']}", flush=True)
    elif kind == "playbook_on_task_start" and event.get("role") and event["role"] != last.get("role"):
        last["role"] = event["role"]
        print(f"  converging {event['role']}", flush=True)
    elif event.get("failed"):
        print(f"  FAILED: {event.get('task', '?')} on {event.get('host', '?')}: {event.get('msg', '')}", flush=True)


def _converge_through_agent(config: Config, tags: list[str], what: str) -> int:
    """Converge ``tags`` through the agent (the cell's own root side); a hint when there is no agent."""
    if config.runner != "agent" or not Path(config.agent_socket).exists():
        print(f"Converge it: ansible-playbook site.yml --tags {','.join(tags)} (no agent here to do it).")
        return 0
    last: dict[str, str] = {}
    print(f"Converging {', '.join(tags)} for {what} ...", flush=True)
    result = AgentClient(config.agent_socket).call(
        "converge", on_event=lambda e: _print_event(e, last), idle=lambda: None,
        run_id=new_run_id(), tags=tags, check=False,
    )
    print(f"Converge {result['status']}.")
    return 0 if result["status"] == "successful" else 1


def cmd_backup_set(args: argparse.Namespace) -> int:
    body = {k: v for k, v in (("repository", args.repository), ("schedule", args.schedule),
                              ("keep_daily", args.keep_daily), ("keep_weekly", args.keep_weekly),
                              ("keep_monthly", args.keep_monthly)) if v is not None}
    change = BackupSettings.change_for(body)
    config = _config(args)
    cell = _cell(args)
    old, new, version, _ = cell.state.update(change)
    print(f"Backup settings saved (state version {version}).")
    return _converge_through_agent(config, cell.changes.tags_for(old, new), "the backup settings")


def _read_secret(path: str | None, prompt: str) -> str:
    if path == "-":
        return sys.stdin.readline().rstrip("\n")
    if path:
        return Path(path).read_text().strip()
    return getpass.getpass(prompt)


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore this cell from a backup: state and secrets, a converge, the data, a health check."""
    config = _config(args)
    passphrase = _read_secret(args.passphrase_file, "Passphrase of the repository: ")
    ssh_key = Path(args.ssh_key).read_text() if args.ssh_key else None
    last: dict[str, str] = {}
    if config.runner == "agent":
        result = AgentClient(config.agent_socket).call(
            "restore", on_event=lambda e: _print_event(e, last), idle=lambda: None,
            repository=args.repository, passphrase=passphrase, archive=args.archive, ssh_key=ssh_key,
            force=args.force,
        )
    else:  # no agent (a development machine, the tests): in this process, converging only with ansible
        backups = BackupManager.for_config(config)
        converge = None
        if config.runner == "ansible":
            backend = AnsibleRunnerBackend(config.project_dir, config.playbook, config.inventory_path,
                                           config.skip_tags)

            def converge(emit: Callable[[dict[str, Any]], None]) -> str:
                run = Run(new_run_id(), "restore", [], False, "restore from a backup")
                return backend.execute(run, lambda raw: emit(trim_event(raw)), lambda: False)

        state = StateManager(config.state_file, config.state_dir)
        health = HealthMonitor(lambda: state.section("services"), lambda: state.section("network")["dns_server"],
                               interval=0)
        key_file = Path(args.ssh_key) if args.ssh_key else None
        result = backups.restore(
            args.repository, passphrase, archive=args.archive, ssh_key_file=key_file, force=args.force,
            converge=converge, health=health.check_once, emit=lambda e: _print_event(e, last),
            apps=lambda emit: store.bring_back(lambda: store.StoreManager.for_file(config.store_config_file),
                                               state.section("store"), emit),
        )
    if result.get("migrated_from"):
        print(f"The archive's state was migrated from schema version {result['migrated_from'][0]}.")
    down = [s["name"] for s in (result.get("health") or {}).get("services", [])
            if s.get("status") not in ("ok", "disabled")]
    print(f"Restored {result['archive']}; converge {result['converge']}; "
          + (f"NOT healthy: {', '.join(down)}" if down else "every enabled service is healthy."))
    apps = result.get("apps") or []
    back = [a["id"] for a in apps if a["ok"]]
    failed = [a for a in apps if not a["ok"]]
    if back:
        print(f"Apps running again: {', '.join(back)}.")
    for app in failed:
        print(f"App NOT back: {app['id']} {app['version']}: {app['error']} (its data is restored; retry with "
              "Repair on the Store page)")
    return 1 if down or failed else 0


# ---- the other management commands ---------------------------------------------------------------
def units_of(name: str | None, dns_server: str = "dnsmasq") -> list[str]:
    """The systemd units of a service (dns, mail, ...), of a unit named directly, or of the whole cell."""
    if name is None:
        return [*UNITS, BACKUP_UNIT_LOGS]
    if name in SERVICE_CHECKS:
        units = list(SERVICE_CHECKS[name][0])
        return ["coredns" if u == "dnsmasq" and name == "dns" and dns_server == "coredns" else u for u in units]
    aliases = {"api": "pic-api", "agent": "pic-agent", "backup": BACKUP_UNIT_LOGS, "firewall": "nftables",
               "https": "caddy", "vpn": "wg-quick@wg0"}
    unit = aliases.get(name, name)
    if unit not in (*UNITS, BACKUP_UNIT_LOGS):
        raise ManagerError(
            f"no service or unit {name!r}; one of: {', '.join([*SERVICE_CHECKS, *aliases])}, "
            f"or a unit: {', '.join(UNITS)}"
        )
    return [unit]


def cmd_logs(args: argparse.Namespace) -> int:
    """The journal of a service's units (all of the cell's without a name); --follow keeps reading."""
    dns_server = "dnsmasq"
    config = _config(args)
    try:
        dns_server = StateManager(config.state_file, config.state_dir).load()["network"]["dns_server"]
    except Exception:  # a state that does not load must not keep anyone from its logs
        pass
    argv = ["journalctl", "--no-pager", "-n", str(args.lines)]
    for unit in units_of(args.service, dns_server):
        argv += ["-u", unit]
    if args.follow:
        argv.append("--follow")
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - execvp does not return


def _section(title: str, argv: list[str]) -> None:
    print(f"== {title} ({' '.join(argv)})")
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        text = (res.stdout + res.stderr).rstrip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        text = f"cannot run: {exc}"
    print(text or "(nothing)")


def cmd_show_routes(args: argparse.Namespace) -> int:
    """WireGuard, the routing rules and tables, and where each full-route peer exits."""
    config = _config(args)
    state = StateManager(config.state_file, config.state_dir).load()
    _section("WireGuard", ["wg", "show"])
    _section("routing rules", ["ip", "rule", "show"])
    _section("main table", ["ip", "route", "show", "table", "main"])
    tables = set()
    rules = subprocess.run(["ip", "rule", "show"], capture_output=True, text=True, check=False).stdout
    for word, value in zip(rules.split(), rules.split()[1:], strict=False):
        if word in ("lookup", "table") and value not in ("local", "main", "default"):
            tables.add(value)
    for table in sorted(tables):
        _section(f"table {table}", ["ip", "route", "show", "table", table])
    default = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True,
                             check=False).stdout.split()
    wan = default[default.index("dev") + 1] if "dev" in default else "?"
    print("== exits")
    full = [p for p in state["peers"] if p.get("route") == "full"]
    if not full:
        print("No peer sends all its traffic through the cell (every peer is split tunnel).")
    for p in full:
        print(f"{p['name']} ({p['ip']}): all traffic exits through this cell's {wan}, masqueraded")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """Converge the installed version again from the checkout (after a `git pull` there)."""
    config = _config(args)
    source = Path(args.source or config.source_dir or "")
    if not str(source) or str(source) == "." or not (source / "site.yml").is_file():
        raise ManagerError(
            "no checkout to update from on this cell: run `ansible-playbook site.yml` (or `make update`) in the "
            "checkout this cell was installed from, after `git pull` there; or give --source DIR"
        )
    playbook = source / ".venv" / "bin" / "ansible-playbook"
    argv = [str(playbook) if playbook.exists() else "ansible-playbook", "-i", args.inventory, "site.yml"]
    print(f"Converging {source} ({' '.join(argv)}) ...", flush=True)
    return subprocess.run(argv, cwd=source, check=False).returncode


def cmd_uninstall(args: argparse.Namespace) -> int:
    config = _config(args)
    plan = uninstall.plan(config, purge=args.purge)
    if args.purge and not args.yes:
        print("This removes every mail, calendar, file, key and the cell state for good:", file=sys.stderr)
        for path in plan.remove_data:
            print(f"  {path}", file=sys.stderr)
        if input("Type 'purge' to go on: ").strip() != "purge":
            print("Nothing removed.")
            return 1
    for line in uninstall.apply(plan):
        print(line)
    if not args.purge:
        print("Kept (remove with --purge): " + ", ".join(str(p) for p in plan.kept))
    print("Debian's packages the roles installed stay installed: remove them with apt if you wish.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pic", description="Administer this PIC cell.")
    parser.add_argument("--state-file", help="the cell state file (default from /etc/pic/api.yml or PIC_STATE_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reset-admin-password", help="set a new API login password (a random one, printed)")
    p.add_argument("--username", default="admin")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    how.add_argument("--prompt", action="store_true", help="ask for the password instead of generating one")
    p.set_defaults(func=cmd_reset_admin_password)
    p = sub.add_parser("list-peers", help="list the peers (devices)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list_peers)
    p = sub.add_parser("status", help="setup, state version, services, recent runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("setup", help="headless setup from an answers file (skips the wizard)")
    p.add_argument(
        "answers",
        help="YAML or JSON: cell_name, domain_mode, timezone, services, admin_password or admin_password_file, ...",
    )
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("setup-code", help="print the one-time code the setup wizard asks for")
    p.set_defaults(func=cmd_setup_code)
    p = sub.add_parser("state", help="check or repair the cell state file")
    state_sub = p.add_subparsers(dest="state_command", required=True)
    q = state_sub.add_parser("check", help="does the state load, and which saved versions do (exit 1: damaged)")
    q.set_defaults(func=cmd_state_check)
    q = state_sub.add_parser("restore-version", help="write saved version N again as the newest state")
    q.add_argument("number", type=int, help="a version from `pic state check`")
    q.set_defaults(func=cmd_state_restore_version)

    p = sub.add_parser("backup", help="back the cell up now (borg); `pic backup --help` for the rest")
    p.set_defaults(func=cmd_backup_run)
    backup_sub = p.add_subparsers(dest="backup_command")
    q = backup_sub.add_parser("run", help="one backup now: quiesce, archive, prune, compact (the default)")
    q.set_defaults(func=cmd_backup_run)
    q = backup_sub.add_parser("status", help="the repository, the last backup, whether the key is saved")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_backup_status)
    q = backup_sub.add_parser("list", help="the archives in the repository")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_backup_list)
    q = backup_sub.add_parser("check", help="borg check of the repository and its archives")
    q.set_defaults(func=cmd_backup_check)
    q = backup_sub.add_parser("key", help="show the passphrase, the key export and the ssh key: save them elsewhere")
    q.set_defaults(func=cmd_backup_key)
    q = backup_sub.add_parser("confirm-key", help="say the passphrase is saved away from the cell (ends the warning)")
    q.set_defaults(func=cmd_backup_confirm_key)
    q = backup_sub.add_parser("set", help="set the repository, schedule or retention, and converge")
    q.add_argument("--repository", help="an absolute path (another disk) or ssh://user@host[:port]/path; '' for none")
    q.add_argument("--schedule", help="hourly, daily, weekly or off")
    for k in ("daily", "weekly", "monthly"):
        q.add_argument(f"--keep-{k}", type=int, help=f"{k} archives kept")
    q.set_defaults(func=cmd_backup_set)
    q = backup_sub.add_parser("init", help="make the passphrase and the repository (the backup role runs it)")
    q.set_defaults(func=cmd_backup_init)

    p = sub.add_parser("restore", help="restore this cell from a backup: state, converge, data, health")
    p.add_argument("repository", help="the repository: an absolute path or ssh://user@host[:port]/path")
    p.add_argument("--passphrase-file", help="read the passphrase from this file ('-': standard input); else asked")
    p.add_argument("--ssh-key", help="the ssh private key that reaches a remote repository (the old cell's)")
    p.add_argument("--archive", help="the archive to restore (default: the newest)")
    p.add_argument("--force", action="store_true", help="replace the state, secrets and data of a set-up cell")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("logs", help="the journal of a service (dns, mail, api, backup, ...) or of the whole cell")
    p.add_argument("service", nargs="?", help="a service or a unit; all of the cell's units when left out")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries")
    p.add_argument("-n", "--lines", type=int, default=100, help="entries to show first (default 100)")
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("show-routes", help="wg show, the routing rules and tables, and the peers' exits")
    p.set_defaults(func=cmd_show_routes)

    p = sub.add_parser("update", help="converge the installed version again after a `git pull` in the checkout")
    p.add_argument("--source", help="the checkout (default: the one the cell was installed from, when local)")
    p.add_argument("--inventory", default="inventory/hosts.yml", help="relative to the checkout")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("uninstall", help="stop the cell and remove PIC's programs; keeps the data unless --purge")
    p.add_argument("--purge", action="store_true", help="also remove the state, keys, mail, calendars and files")
    p.add_argument("--yes", action="store_true", help="do not ask before --purge removes the data")
    p.set_defaults(func=cmd_uninstall)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ManagerError, AgentError) as exc:
        print(f"pic: {exc.message}", file=sys.stderr)
        for field, message in sorted(exc.fields.items()):
            print(f"  {field}: {message}", file=sys.stderr)
        return 2
    except (OSError, yaml.YAMLError) as exc:
        print(f"pic: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
