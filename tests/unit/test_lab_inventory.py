"""The lab's inventory (pic_lab.lab.write_inventory): the vars a test sets for a group win over the
repository's group_vars/all defaults, as Ansible itself resolves them."""

import json
import subprocess
import sys
from pathlib import Path

from pic_lab.cell import ROOT
from pic_lab.lab import Lab


def test_group_vars_win_over_the_repository_defaults(tmp_path, monkeypatch):
    lab = Lab.__new__(Lab)  # no running host needed: the inventory's hosts are given
    monkeypatch.setattr(lab, "inventory", lambda groups: {
        "all": {"hosts": {"cell": {"ansible_host": "10.9.9.10"}},
                "children": {g: {"hosts": {m: {} for m in ms}} for g, ms in groups.items()}}})
    lab_vars = {"pic_lan_subnet": "10.9.9.0/24", "pic_lan_address": "10.9.9.10"}
    hosts = lab.write_inventory(tmp_path, {"cells": ["cell"]}, lab_vars, ROOT)
    ansible_inventory = Path(sys.executable).parent / "ansible-inventory"
    out = subprocess.run([str(ansible_inventory), "-i", str(hosts), "--host", "cell"], capture_output=True,
                         text=True, check=True).stdout
    resolved = json.loads(out)
    assert resolved["pic_lan_subnet"] == "10.9.9.0/24"
    assert resolved["pic_lan_address"] == "10.9.9.10"
    # The repository's group_vars/all only documents overrides: the defaults live in the playbooks.
    assert set(resolved) == {"ansible_host", "pic_lan_subnet", "pic_lan_address"}
    # Written again (a second boot of the same lab), the directory stays consistent.
    lab.write_inventory(tmp_path, {"cells": ["cell"]}, lab_vars, ROOT)
    assert (tmp_path / "group_vars" / "all").is_symlink()
