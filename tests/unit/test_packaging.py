"""What a cell installs is what it runs: the runtime package carries the API and nothing of the
tests, and every runtime dependency is used on the cell."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The name a runtime dependency is imported by (or, for a program, run by) on the cell.
USED_AS = {"pyyaml": "yaml", "ansible-runner": "ansible_runner", "dnspython": "dns"}


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def cell_code() -> str:
    """The API's Python and the api role's files: everything on the cell that uses a dependency."""
    role = ROOT / "roles" / "api"
    files = [*(ROOT / "api").rglob("*.py"), *role.rglob("*.j2"), *role.rglob("*.yml")]
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
