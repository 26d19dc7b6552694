"""The provisioned lab image (pic_lab.image): its package list comes from the roles, and its name
changes whenever that list or the base does."""

import os
from pathlib import Path

import pytest
import yaml

from pic_lab import image

ROLES = Path(image.ROOT) / "roles"


def tasks_of(node):
    """Every task in a task file, including those inside blocks."""
    for task in node or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key))


def test_the_image_holds_what_every_role_installs():
    packages = image.role_packages()
    # defaults/ (api, caddy, ...) and vars/ (mailserver) alike, wireguard's userspace fallback too.
    for p in ("python3-venv", "caddy", "dnsmasq", "chrony", "nftables", "postfix", "dovecot-imapd",
              "radicale", "apache2", "wireguard-tools", "wireguard-go", "bind9-utils"):
        assert p in packages
    assert packages == sorted(set(packages))


def test_every_role_installs_a_package_variable_of_its_own_through_the_shared_step():
    """A literal package name in a task would be missing from the image (and a task that installs
    another role's list would hide a role's own missing package). Packages are installed by one
    task, roles/shared/tasks/packages.yml, which each role imports with its own list."""
    found = 0
    for f in sorted(ROLES.glob("*/tasks/*.yml")):
        role = f.parts[-3]
        for task in tasks_of(yaml.safe_load(f.read_text())):
            apt = task.get("ansible.builtin.apt")
            if apt is not None and "name" in apt:
                assert (role, f.name, apt["name"]) == ("shared", "packages.yml", "{{ shared_packages }}"), f
            if (task.get("ansible.builtin.import_role") or {}).get("tasks_from") != "packages":
                continue
            found += 1
            names = (task.get("vars") or {}).get("shared_packages", "")
            assert isinstance(names, str) and names.strip().startswith("{{ " + role + "_") \
                and names.strip().endswith("packages }}"), f"{f}: {task['name']}: {names!r}"
    assert found >= 15


def write_role(roles: Path, name: str, defaults: dict) -> None:
    (roles / name / "defaults").mkdir(parents=True)
    (roles / name / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))


def test_a_changed_package_list_names_a_new_image(tmp_path):
    write_role(tmp_path, "mail", {"mail_packages": ["postfix"], "mail_extra_packages": ["swaks"],
                                  "mail_port": 25, "other_packages": ["not-mine"]})
    first = image.role_packages(tmp_path)
    assert first == ["postfix", "swaks"]  # another role's prefix is not this role's list
    write_role(tmp_path, "web", {"web_packages": ["apache2"]})
    second = image.role_packages(tmp_path)
    assert second == ["apache2", "postfix", "swaks"]
    base, venv = Path("/var/cache/pic-lab/base-aaaa"), image.api_venv()
    assert image.recipe_hash(base, first, venv) != image.recipe_hash(base, second, venv)
    assert image.recipe_hash(base, first, venv) != image.recipe_hash(Path("/x/base-bbbb"), first, venv)
    assert image.recipe_hash(base, first, venv) == image.recipe_hash(base, list(first), venv)


def test_the_image_holds_the_api_roles_virtualenv_with_the_cells_requirements():
    venv = image.api_venv()
    defaults = yaml.safe_load((ROLES / "api" / "defaults" / "main.yml").read_text())
    assert (venv.python, venv.path) == (defaults["api_python"], defaults["api_venv"])
    assert any(r.startswith("ansible-runner") for r in venv.requirements)
    assert not any(r.startswith("molecule") for r in venv.requirements)  # the controller's, not the cell's
    assert "ansible-core==" in venv.constraints


def test_a_changed_pin_or_requirement_names_a_new_image():
    base, packages = Path("/var/cache/pic-lab/base-aaaa"), ["postfix"]
    venv = image.Venv("/usr/bin/python3", "/opt/pic/venv", ("flask>=3",), "flask==3.1.0\n")
    same = image.Venv(*vars(venv).values())
    assert image.recipe_hash(base, packages, venv) == image.recipe_hash(base, packages, same)
    for other in (image.Venv("/usr/bin/python3", "/opt/pic/venv", ("flask>=3",), "flask==3.1.1\n"),
                  image.Venv("/usr/bin/python3", "/opt/pic/venv", ("flask>=3", "bcrypt"), "flask==3.1.0\n"),
                  image.Venv("/usr/bin/python3", "/srv/venv", ("flask>=3",), "flask==3.1.0\n")):
        assert image.recipe_hash(base, packages, venv) != image.recipe_hash(base, packages, other)


def test_a_package_variable_that_is_not_a_list_of_names_is_refused(tmp_path):
    write_role(tmp_path, "bad", {"bad_packages": "{{ other }}"})
    with pytest.raises(ValueError, match="bad_packages must be a list of Debian package names"):
        image.role_packages(tmp_path)


def test_what_enable_makes_is_found_wants_and_aliases_but_not_masks(tmp_path):
    etc = tmp_path / "etc/systemd/system"
    (etc / "multi-user.target.wants").mkdir(parents=True)
    os.symlink("/lib/systemd/system/ssh.service", etc / "multi-user.target.wants/ssh.service")
    os.symlink("/lib/systemd/system/chrony.service", etc / "chronyd.service")  # chrony's Alias=
    os.symlink("/dev/null", etc / "apt-daily.timer")  # masked by the base: not the build's to undo
    (etc / "chrony.service.d").mkdir()
    assert image._enabled_links(tmp_path) == {"etc/systemd/system/multi-user.target.wants/ssh.service",
                                              "etc/systemd/system/chronyd.service"}


def test_an_unknown_image_is_refused():
    with pytest.raises(ValueError, match="one of base, provisioned"):
        image.lower_dirs("fat")


def test_a_machine_with_no_cache_gets_the_shared_caches_the_build_mounts(tmp_path, monkeypatch):
    # a cold machine: the image was built before any lab host had made the pip cache, and its bind
    # mount failed ("special device /var/cache/pic-lab/pip does not exist")
    monkeypatch.setenv("PIC_LAB_CACHE", str(tmp_path / "cache"))
    from pic_lab import base

    apt_cache, pip_cache = base.shared_caches()
    assert (apt_cache, pip_cache) == (tmp_path / "cache/apt-archives", tmp_path / "cache/pip")
    assert apt_cache.is_dir() and pip_cache.is_dir()
    assert base.shared_caches() == (apt_cache, pip_cache)  # and again, with both there
