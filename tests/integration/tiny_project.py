"""A tiny Ansible project on the local host, for the tests of the real runner."""

import sys
from pathlib import Path


def make_project(root: Path, playbook: str) -> Path:
    """``root``/project with site.yml, ansible.cfg and an inventory whose group ``cells`` is localhost."""
    proj = root / "project"
    (proj / "inventory").mkdir(parents=True)
    (proj / "site.yml").write_text(playbook)
    (proj / "ansible.cfg").write_text("[defaults]\ninventory = inventory/hosts.yml\nretry_files_enabled = False\n")
    (proj / "inventory/hosts.yml").write_text(
        "cells:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    return proj
