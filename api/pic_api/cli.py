"""The ``pic`` command: administration on the cell itself (run as root; it works as the API's user)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from .config import Config
from .managers.errors import ManagerError
from .privileges import drop_to
from .services import Cell


def _cell(args: argparse.Namespace) -> Cell:
    overrides: dict[str, Any] = {"runner": "none", "health_interval": 0, "log_file": None}
    if args.state_file:
        overrides["state_file"] = Path(args.state_file)
    config = Config.load(**overrides)
    drop_to(config.agent_user)  # run as root, the CLI writes as the API's user, who owns the state
    return Cell(config)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise ManagerError("the two passwords differ")
    return first


def cmd_reset_admin_password(args: argparse.Namespace) -> int:
    cell = _cell(args)
    role = cell.auth.accounts().get(args.username)
    if role is None and args.username != "admin":
        raise ManagerError(f"no account {args.username!r}")
    cell.auth.set_password(args.username, _read_password(args), role or "admin")
    print(f"Password of {args.username} changed; its open sessions have ended.")
    print("Its mail/calendar/files password is unchanged: change it in the web UI (Account).")
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
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Cell {info['cell']} ({info['domain']}), setup {'done' if info['setup_completed'] else 'NOT done'}")
    print(f"State version {info['state_version']}; services: {', '.join(info['services'])}; {info['peers']} peer(s)")
    for r in info["last_runs"]:
        print(f"  run {r['id']}  {r['status']:<10} {r['description']}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pic", description="Administer this PIC cell.")
    parser.add_argument("--state-file", help="the cell state file (default from /etc/pic/api.yml or PIC_STATE_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reset-admin-password", help="set a new API login password")
    p.add_argument("--username", default="admin")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ManagerError as exc:
        print(f"pic: {exc.message}", file=sys.stderr)
        for field, message in sorted(exc.fields.items()):
            print(f"  {field}: {message}", file=sys.stderr)
        return 2
    except (OSError, yaml.YAMLError) as exc:
        print(f"pic: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
