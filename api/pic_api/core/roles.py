"""The roles of site.yml and the cell variables each reads, read from the roles themselves.

A role reads the cell's ``pic_*`` variables only in its ``defaults/main.yml`` (``chrony_allow: "{{
pic_lan_subnet }}"``): that file is the role's declaration of its inputs. The converge scope of a
change is then derived, never listed by hand: the roles whose inputs differ between the old and the
new state (``roles_for_diff``). tests/unit/test_role_inputs.py fails when a role reads a ``pic_*``
variable anywhere else, so the declaration cannot fall behind the role.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from . import schema

__all__ = ["CellRoles", "load", "template_variables", "yaml_variables", "cell_variables"]

PREFIX = "pic_"
# Task keys whose values are bare Jinja expressions, not templates.
_BARE = frozenset({"when", "that", "changed_when", "failed_when", "until"})

@functools.cache
def _env() -> Any:
    # Imported when first needed: the agent, which needs only site_roles, stays without Jinja.
    import jinja2

    return jinja2.Environment()


def template_variables(text: str) -> set[str]:
    """The names a Jinja template reads (not filter or test names; loop variables count too).

    Only parsed, never compiled: Ansible's filters and ours need not be loaded here.
    """
    import jinja2.nodes

    return {n.name for n in _env().parse(text).find_all(jinja2.nodes.Name) if n.ctx == "load"}


def _strings(node: Any, bare: bool = False) -> Iterator[tuple[str, bool]]:
    if isinstance(node, str):
        yield node, bare
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, isinstance(key, str) and key in _BARE)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, bare)


def yaml_variables(data: Any) -> set[str]:
    """The variables read by the templates and conditions of a loaded YAML document."""
    out: set[str] = set()
    for text, bare in _strings(data):
        if bare:
            out |= template_variables("{{ (" + text + ") }}")
        elif "{{" in text or "{%" in text:
            out |= template_variables(text)
    return out


def cell_variables(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in names if n.startswith(PREFIX))


@dataclasses.dataclass(frozen=True)
class CellRoles:
    """site.yml's roles in converge order, and the ``pic_*`` variables each one reads."""

    order: tuple[str, ...]
    inputs: Mapping[str, frozenset[str]]

    def ordered(self, roles: Iterable[str]) -> list[str]:
        wanted = set(roles)
        return [r for r in self.order if r in wanted]

    def reading(self, variables: Iterable[str]) -> list[str]:
        """The roles that read any of ``variables``, in converge order."""
        changed = set(variables)
        return [r for r in self.order if self.inputs[r] & changed]

    def roles_for_diff(self, old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
        """The roles whose inputs differ between two valid states (every role for a first state)."""
        if not old:
            return list(self.order)
        before, after = schema.valid_state_to_vars(old), schema.valid_state_to_vars(new)
        return self.reading(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def site_roles(project_dir: Path) -> tuple[str, ...]:
    """The roles site.yml includes, in order (each include in a block of its own, or bare); each
    include, and what it applies to the role's tasks, must be tagged with the role's own name (the
    API's tags)."""
    roles: list[str] = []
    for play in yaml.safe_load((project_dir / "site.yml").read_text()) or []:
        entries = play.get("tasks", []) if isinstance(play, dict) else []
        for task in (t for entry in entries for t in entry.get("block", [entry])):
            include = task.get("ansible.builtin.include_role")
            if include is None:
                continue
            name = include.get("name")
            tags, applied = task.get("tags", []), include.get("apply", {}).get("tags", [])
            if tags != [name] or applied != [name]:
                raise ValueError(f"site.yml: the include of role {name} and its apply must be tagged [{name}], "
                                 f"not {tags} and {applied}")
            roles.append(name)
    return tuple(roles)


def declared_inputs(role_dir: Path) -> frozenset[str]:
    defaults = role_dir / "defaults" / "main.yml"
    data = yaml.safe_load(defaults.read_text()) if defaults.is_file() else None
    return cell_variables(yaml_variables(data or {}))


@functools.cache
def load(project_dir: Path) -> CellRoles:
    """Read site.yml and every role's defaults under ``project_dir`` (once per directory)."""
    project_dir = Path(project_dir)
    order = site_roles(project_dir)
    return CellRoles(order, {r: declared_inputs(project_dir / "roles" / r) for r in order})
