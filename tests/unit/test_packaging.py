"""What a cell installs is what it runs: the runtime package carries the API and nothing of the
tests, and every runtime dependency is used on the cell."""

import configparser
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The name a runtime dependency is imported by (or, for a program, run by) on the cell.
USED_AS = {"pyyaml": "yaml", "ansible-runner": "ansible_runner", "dnspython": "dns", "mitogen": "ansible_mitogen"}


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def cell_code() -> str:
    """The API's Python, Ansible's plugins of the project and the api role's files: everything on the
    cell that uses a dependency."""
    role = ROOT / "roles" / "api"
    files = [*(ROOT / "api").rglob("*.py"), *(ROOT / "plugins").rglob("*.py"),
             *role.rglob("*.j2"), *role.rglob("*.yml")]
    return "\n".join(f.read_text() for f in files)


def test_the_runtime_package_is_the_api_alone():
    pic = project(ROOT / "pyproject.toml")
    assert pic["tool"]["setuptools"]["packages"]["find"]["where"] == ["api"]
    assert set(pic["project"]["scripts"]) == {"pic", "pic-agent"}


def test_the_lab_is_a_package_of_its_own_for_the_controller():
    lab = project(ROOT / "tests" / "lab" / "pyproject.toml")
    assert lab["project"]["scripts"] == {"pic-lab": "pic_lab.cli:main"}
    assert "tests/lab[testing]" in (ROOT / "Makefile").read_text()  # make venv installs it


def test_every_runtime_dependency_is_used_on_the_cell():
    code = cell_code()
    for requirement in project(ROOT / "pyproject.toml")["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        used = USED_AS.get(name, name.replace("-", "_"))
        pattern = rf"^\s*(import|from) {used}\b|bin/{used}\b|\b{used}[ -](playbook|runner)\b|\bimport {used}\b"
        assert re.search(pattern, code, re.M), f"runtime dependency {name} is not used by the API or the api role"


def test_the_cell_gets_every_folder_ansible_cfg_names():
    """The cell's converges read the project's ansible.cfg from the copy the api role unpacks; a folder
    it names (a plugin's) that the copy leaves out fails every run the API starts."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    items = yaml.safe_load((ROOT / "roles" / "api" / "defaults" / "main.yml").read_text())["api_source_items"]
    named = [v for k, v in cfg["defaults"].items() if k.endswith(("_path", "_plugins"))]
    assert "plugins/strategy" in named
    for path in named:
        assert (ROOT / path).is_dir(), path
        assert path.split("/")[0] in items, f"ansible.cfg names {path}, which the api role does not copy to the cell"
