"""The converge scope of a change is derived from the roles: what each role reads, in site.yml order."""

import re
from pathlib import Path

import pytest
import yaml
from test_schema import STATE, state

from pic_api.core import roles
from pic_api.core.roles import CellRoles

ROOT = Path(__file__).resolve().parents[2]
CELL = roles.load(ROOT)


def variables_in(path: Path) -> set[str]:
    """The variables a template or a YAML file (tasks, vars, a playbook) reads."""
    text = path.read_text()
    return roles.template_variables(text) if path.suffix == ".j2" else roles.yaml_variables(yaml.safe_load(text))


def undeclared_inputs(role_dir: Path, declared: frozenset[str]) -> dict[str, set[str]]:
    """The ``pic_*`` variables each file of a role reads outside its defaults without declaring them."""
    out: dict[str, set[str]] = {}
    for path in sorted(role_dir.rglob("*")):
        rel = path.relative_to(role_dir)
        if not path.is_file() or rel.parts[0] == "defaults":
            continue
        if (rel.parts[0] in ("tasks", "handlers", "vars") and path.suffix in (".yml", ".yaml")) or path.suffix == ".j2":
            found = variables_in(path)
        else:
            continue
        missing = roles.cell_variables(found) - declared
        if missing:
            out[str(rel)] = set(missing)
    return out


def test_site_order_is_read_from_site_yml():
    assert CELL.order[0] == "common"
    assert CELL.order.index("caddy") < CELL.order.index("dnsmasq")  # as site.yml has it, not by hand


def test_every_role_is_in_site_yml():
    on_disk = {p.parent.parent.name for p in (ROOT / "roles").glob("*/tasks/main.yml")}
    assert {r for r in on_disk if not r.startswith("_")} == set(CELL.order)


@pytest.mark.parametrize("role", CELL.order)
def test_role_reads_only_declared_cell_variables(role):
    """A role reads pic_* only through its defaults/main.yml, its declaration of inputs."""
    assert undeclared_inputs(ROOT / "roles" / role, CELL.inputs[role]) == {}


def test_the_shared_role_reads_no_cell_variable():
    """What shared's files read would be every importing role's input, declared nowhere: a role's
    converge scope would miss it (a store app's name in DNS read through shared did)."""
    assert roles.declared_inputs(ROOT / "roles" / "shared") == set()
    assert undeclared_inputs(ROOT / "roles" / "shared", frozenset()) == {}


def test_an_undeclared_read_is_found(tmp_path):
    (tmp_path / "defaults").mkdir()
    (tmp_path / "defaults/main.yml").write_text('x_subnet: "{{ pic_lan_subnet }}"\n')
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/x.conf.j2").write_text("{{ x_subnet }} {{ pic_vpn_subnet | pic_cell_vpn_address }}\n")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks/main.yml").write_text("- name: X\n  ansible.builtin.debug:\n  when: pic_peers | length > 0\n")
    declared = roles.declared_inputs(tmp_path)
    assert declared == {"pic_lan_subnet"}
    assert undeclared_inputs(tmp_path, declared) == {
        "templates/x.conf.j2": {"pic_vpn_subnet"},
        "tasks/main.yml": {"pic_peers"},
    }


def test_a_role_not_tagged_with_its_name_is_refused(tmp_path):
    include = ("- hosts: cells\n  tasks:\n    - ansible.builtin.include_role:\n        name: common\n"
               "        apply: {{tags: {applied}}}\n      tags: {tags}\n")
    (tmp_path / "site.yml").write_text(include.format(applied="[common]", tags="[common]"))
    assert roles.site_roles(tmp_path) == ("common",)
    for applied, tags in [("[common]", "[base]"), ("[base]", "[common]"), ("[]", "[common]")]:
        (tmp_path / "site.yml").write_text(include.format(applied=applied, tags=tags))
        with pytest.raises(ValueError, match="common"):
            roles.site_roles(tmp_path)


def scope(**change):
    return CELL.roles_for_diff(STATE, state(**change))


def test_first_state_and_no_change():
    assert CELL.roles_for_diff(None, STATE) == list(CELL.order)
    assert CELL.roles_for_diff(STATE, STATE) == []


def test_a_full_route_peer_converges_the_firewall():
    """The firewall masquerades full-route peers: a peer change must run it (it did not)."""
    peer = {"name": "tablet", "public_key": "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=", "ip": "10.0.0.4",
            "route": "full"}
    touched = scope(peers=[*STATE["peers"], peer])
    assert {"firewall", "wireguard", "dnsmasq", "coredns"} <= set(touched)
    assert "mailserver" not in touched


def test_service_switches_reach_the_dns_roles():
    mail_off = [s for s in STATE["services"] if s != "mail"]
    assert {"mailserver", "dnsmasq", "coredns"} <= set(scope(services=mail_off))  # MX and DKIM records
    ntp_off = [s for s in STATE["services"] if s != "ntp"]
    assert {"chrony", "dnsmasq"} <= set(scope(services=ntp_off))  # dnsmasq hands out the NTP server
    wg_off = [s for s in STATE["services"] if s != "wireguard"]
    assert {"wireguard", "coredns"} <= set(scope(services=wg_off))


def test_narrow_changes_stay_narrow():
    assert scope(network__upstream_dns=["192.0.2.1"]) == CELL.ordered({"coredns", "dnsmasq", "api"})
    assert scope(cell__timezone="Etc/UTC") == CELL.ordered({"common", "api"})
    users = [{**STATE["users"][0], "services": ["mail"]}]
    assert set(scope(users=users)) == {"mailserver", "radicale", "webdav"}


def test_scope_follows_the_declarations():
    inputs = {"a": frozenset({"pic_timezone"}), "b": frozenset(), "c": frozenset({"pic_peers"})}
    fake = CellRoles(("a", "b", "c"), inputs)
    assert fake.roles_for_diff(STATE, state(cell__timezone="Etc/UTC")) == ["a"]
    assert fake.roles_for_diff(STATE, state(peers=[])) == ["c"]
    assert fake.roles_for_diff(STATE, state(cell__name="other", cell__domain="other.cell")) == []


@pytest.mark.parametrize("role", sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults").is_dir()))
def test_every_default_of_a_role_is_declared_in_its_argument_specs(role):
    """Each role documents and types every variable it takes (meta/argument_specs.yml); an entry
    point may name more (inputs without a default, like sandbox_unit)."""
    defaults = set(yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {})
    specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]
    declared = {name for entry in specs.values() for name in (entry.get("options") or {})}
    assert defaults - declared == set()


# Variables named ansible_* that are not facts: Ansible's own and the inventory's connection settings.
NOT_FACTS = {"ansible_managed", "ansible_version", "ansible_check_mode", "ansible_facts", "ansible_connection",
             "ansible_host", "ansible_python_interpreter", "ansible_run_tags", "ansible_play_hosts"}


def facts_read() -> dict[str, set[str]]:
    """Each fact (as ansible_<name>) the roles, playbooks and site.yml read, with the files reading it."""
    out: dict[str, set[str]] = {}
    files = [ROOT / "site.yml", *(ROOT / "playbooks").rglob("*.yml"), *(ROOT / "roles").rglob("*.yml"),
             *(ROOT / "roles").rglob("*.j2")]
    for path in files:
        names = {n for n in variables_in(path) if n.startswith("ansible_")} - NOT_FACTS
        # ansible_facts['architecture'] and ansible_facts.architecture read the fact ansible_architecture
        subscripts = re.findall(r"ansible_facts(?:\[['\"](\w+)['\"]\]|\.(\w+))", path.read_text())
        names |= {f"ansible_{key or attr}" for key, attr in subscripts}
        for name in names:
            out.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return out


def test_the_facts_gathered_are_the_ones_read():
    play = yaml.safe_load((ROOT / "playbooks" / "state.yml").read_text())[0]
    kept = set(play["module_defaults"]["ansible.builtin.setup"]["filter"])
    read = facts_read()
    missing = {name: files for name, files in read.items() if name not in kept}
    assert not missing, f"facts read but filtered out by playbooks/state.yml: {missing}"
    assert {"ansible_default_ipv4", "ansible_architecture", "ansible_virtualization_type"} <= set(read)


HELPER_ROLES = ("shared", "sandbox")  # roles the others import an entry point of (tasks_from)


def helper_imports():
    """Every import of an entry point of a helper role: (file, task, the import's arguments)."""
    def walk(tasks):
        for task in tasks or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))

    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        for task in walk(yaml.safe_load(path.read_text())):
            spec = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role") or {}
            if spec.get("name") in HELPER_ROLES:
                yield path.relative_to(ROOT), task, spec


def test_the_calls_of_helper_roles_are_checked_here_not_in_every_converge():
    """Ansible checks an entry point's arguments with a task of its own each time it is imported: 42
    imports of shared's and sandbox's, about 50 ms each in every converge. The roles turn that off
    (rolespec_validate: false) and this test checks each call against the helper's
    meta/argument_specs.yml instead: every option it passes is one the entry point declares, and
    every required one is passed. The values' types are those of the calling role's own inputs,
    which its entry point checks when it runs."""
    calls = list(helper_imports())
    assert {spec["name"] for _, _, spec in calls} == set(HELPER_ROLES)
    assert len(calls) > 40
    specs = {role: yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]
             for role in HELPER_ROLES}
    for path, task, spec in calls:
        where = f"{path}: {task.get('name')}"
        assert spec.get("rolespec_validate") is False, where
        options = specs[spec["name"]][spec["tasks_from"]]["options"]
        given = set(task.get("vars", {}))
        assert given <= set(options), f"{where} passes {sorted(given - set(options))}, not declared"
        required = {k for k, o in options.items() if o.get("required")}
        assert required <= given, f"{where} leaves out {sorted(required - given)}"
