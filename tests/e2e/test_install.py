"""The README's first way to install a cell: on the box itself, with nothing but Debian 12.

A fresh lab host gets the repository (as `git clone` would leave it: the tracked files, no virtualenv,
no node_modules, no built UI), the Debian packages the README lists, then exactly the README's
commands: `make venv && . .venv/bin/activate && ansible-playbook site.yml`, with the repository's own
inventory (`cells` = localhost). The host is its own controller: the UI is built there with Debian's
Node.js, and :8081 serves it. A second run changes nothing.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import requests

from pic_lab.cell import RECAP, ROOT
from pic_lab.lab import Lab, throwaway_lab

README_PACKAGES = ["git", "make", "python3-venv"]  # the README's "On the host itself" apt line
REPO = "/root/pic"
# A login shell's environment on the box, not the test machine's.
BOX_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
           "ANSIBLE_NOCOLOR": "1"}


@pytest.fixture(scope="module")
def box():
    with throwaway_lab("onhost", "e2e") as lab:
        lab.up("box")
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, check=True).stdout
        files = b"\0".join(f for f in files.split(b"\0") if f and (ROOT / f.decode()).exists())
        target = lab.host_dir("box") / "root" / REPO.lstrip("/")
        target.mkdir(parents=True)
        pack = subprocess.Popen(["tar", "-C", str(ROOT), "--null", "-T", "-", "-cf", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        unpack = subprocess.Popen(["tar", "-C", str(target), "-xf", "-"], stdin=pack.stdout)
        pack.stdin.write(files)
        pack.stdin.close()
        assert unpack.wait(timeout=300) == 0 and pack.wait(timeout=300) == 0
        apt = lab.exec("box", ["bash", "-c", "apt-get update -q && apt-get install -y -q " + " ".join(README_PACKAGES)],
                       env=BOX_ENV)
        assert apt.returncode == 0, apt.stdout[-2000:] + apt.stderr[-2000:]
        yield lab


def readme_install(lab: Lab) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    readme = f"cd {REPO} && make venv && . .venv/bin/activate && ansible-playbook site.yml"
    res = lab.exec("box", ["bash", "-c", readme], env=BOX_ENV, timeout=3600)
    recap = {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in RECAP.finditer(res.stdout)}
    return res, recap.get("localhost", {})


def test_the_readme_commands_are_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "make venv && . .venv/bin/activate" in readme and "ansible-playbook site.yml" in readme
    assert re.search(r"apt-get install -y " + " ".join(README_PACKAGES), readme), "the README's packages changed"


@pytest.fixture(scope="module")
def installed(box):
    res, recap = readme_install(box)
    assert res.returncode == 0 and recap.get("failed") == 0, res.stdout[-8000:] + res.stderr[-3000:]
    return box


def test_install_on_the_host_itself_serves_the_ui(installed):
    node = installed.exec("box", ["node", "--version"]).stdout
    assert node.startswith("v18."), node  # Debian 12's own Node.js built the UI
    ip = installed.host_info("box")["ip"]
    page = requests.get(f"http://{ip}:8081/", timeout=30)
    assert page.status_code == 200
    assert '<div id="root">' in page.text and "not installed yet" not in page.text, page.text[:500]
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text).group(1)
    assert requests.get(f"http://{ip}:8081{script}", timeout=30).status_code == 200
    assert requests.get(f"http://{ip}:8081/api/setup/status", timeout=30).json() == {"completed": False}


def test_a_second_install_run_changes_nothing(installed):
    res, recap = readme_install(installed)
    assert res.returncode == 0 and recap.get("failed") == 0, res.stdout[-8000:]
    assert recap.get("changed") == 0, res.stdout[-8000:]
