"""The provisioned lab image: a second cached layer over the base rootfs with every Debian package
the roles install already unpacked, so a role's package task on a lab host finds them installed.
It also holds the api role's virtualenv with the Python packages the cell's API depends on
(pyproject.toml's dependencies, pinned by constraints.txt) but not the API itself: the role then
installs only the API into it, not ansible and the rest again (about a minute of CPU per cell).

The package list is read from the roles themselves: every list of package names a role keeps in
a variable named `<role>_packages` or `<role>_<what>_packages` (defaults/main.yml, vars/main.yml).
The layer lives beside the base (PIC_LAB_CACHE/image-<hash>/layer) under a hash of the base's name,
that list, the Python requirements and constraints, and this recipe, so a changed package list, a
changed pin or a new base builds a new image on the next run by itself. Hosts mount it as the
upper of two lower layers (`lowerdir=<layer>:<base>`).

What installing in a rootfs does that a converge must still do itself, and how the image keeps it
so: no package's service is enabled or started in the image (the units postinst scripts enabled
are disabled again and nothing starts during the build), so every role still enables and starts
its own services, and a service never runs with the package's default configuration before its
role has written its own (Apache never takes port 80, dnsmasq never takes port 53 in a host
meant for CoreDNS). Configuration a role writes before the first install (webdav's ports.conf)
is overwritten by the same role's template on the image, before the role first starts the
service. Scenarios that must prove a fresh install path boot from the bare base instead
(`image: base` in a molecule platform; the README's install in tests/e2e/test_install.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import base
from .util import file_lock, log, run

ROOT = Path(__file__).resolve().parents[3]
IMAGES = ("base", "provisioned")
# Bump when the build below changes in a way the hash of its inputs cannot see.
RECIPE_VERSION = "3"  # 2: a unit's alias links are removed too; 3: the api role's virtualenv
KEEP_IMAGES = 3
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def role_packages(roles_dir: Path | None = None) -> list[str]:
    """Every Debian package a role names in its `<role>_packages` / `<role>_*_packages` lists."""
    roles_dir = roles_dir or ROOT / "roles"
    found: set[str] = set()
    for role in sorted(p for p in roles_dir.iterdir() if p.is_dir()):
        var = re.compile(rf"^{re.escape(role.name)}_(\w+_)?packages$")
        for f in (role / "defaults" / "main.yml", role / "vars" / "main.yml"):
            data = yaml.safe_load(f.read_text()) if f.exists() else None
            for key, value in (data or {}).items():
                if not var.match(key):
                    continue
                if not isinstance(value, list) or not all(isinstance(v, str) and PACKAGE_NAME.match(v)
                                                          for v in value):
                    raise ValueError(f"{f}: {key} must be a list of Debian package names")
                found.update(value)
    return sorted(found)


@dataclass(frozen=True)
class Venv:
    """The api role's virtualenv (its defaults) and the requirements pyproject.toml gives the cell."""

    python: str
    path: str
    requirements: tuple[str, ...]
    constraints: str

    def key(self) -> str:
        return "\n".join([self.python, self.path, *self.requirements, self.constraints])


def api_venv(root: Path | None = None) -> Venv:
    root = root or ROOT
    defaults = yaml.safe_load((root / "roles" / "api" / "defaults" / "main.yml").read_text())
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return Venv(defaults["api_python"], defaults["api_venv"], tuple(project["dependencies"]),
                (root / "constraints.txt").read_text())


def recipe_hash(base_root: Path, packages: list[str], venv: Venv) -> str:
    h = hashlib.sha256()
    h.update(RECIPE_VERSION.encode())
    h.update(base_root.name.encode())
    h.update(" ".join(packages).encode())
    h.update(venv.key().encode())
    return h.hexdigest()[:12]


def lower_dirs(image: str = "base") -> list[Path]:
    """The read-only layers of a host booted from IMAGE, topmost first (built when missing)."""
    if image not in IMAGES:
        raise ValueError(f"image {image!r}: one of {', '.join(IMAGES)}")
    base_root = base.base_dir()
    if image == "base":
        return [base_root]
    return [layer_dir(base_root), base_root]


def layer_dir(base_root: Path) -> Path:
    """The provisioned layer over BASE_ROOT for the roles' current package list."""
    packages, venv = role_packages(), api_venv()
    image = base.cache_dir() / f"image-{recipe_hash(base_root, packages, venv)}"
    if (image / ".pic-lab-complete").exists():
        os.utime(image / ".pic-lab-complete")  # last used: _prune keeps the recently used images
        return image / "layer"
    # Labs started side by side all ask for the image: one builds, the rest wait and reuse it.
    with file_lock(base.cache_dir() / ".image.lock"):
        if not (image / ".pic-lab-complete").exists():
            build(image, base_root, packages, venv)
    return image / "layer"


def build(image: Path, base_root: Path, packages: list[str], venv: Venv) -> None:
    tmp = image.with_name(image.name + ".tmp")
    if tmp.exists():
        _remove(tmp)  # a build that was interrupted
    layer, work, root = tmp / "layer", tmp / "work", tmp / "root"
    for d in (layer, work, root):
        d.mkdir(parents=True)
    log(f"building the provisioned lab image in {image}: {len(packages)} packages (a few minutes, once)")
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={base_root},upperdir={layer},workdir={work}", str(root)])
    try:
        _install(root, packages, venv)
    finally:
        _umount_all(tmp)
    _remove(work)
    _remove(root)
    (tmp / "packages").write_text("\n".join(packages) + "\n")
    (tmp / ".pic-lab-complete").write_text(image.name + "\n")
    tmp.rename(image)
    _prune(keep=image)


def _prune(keep: Path) -> None:
    """Removes all but the KEEP_IMAGES most recently used images (branches with other package
    lists share this machine's cache, so the last few are kept rather than only the newest)."""
    images = [p for p in base.cache_dir().glob("image-*")
              if not p.name.endswith(".tmp") and (p / ".pic-lab-complete").exists() and p != keep]
    images.sort(key=lambda p: (p / ".pic-lab-complete").stat().st_mtime, reverse=True)
    for old in images[KEEP_IMAGES - 1:]:
        if not base._in_use(old):
            _remove(old)


def _install(root: Path, packages: list[str], venv: Venv) -> None:
    enabled_before = _enabled_links(root)
    # Nothing may start inside the build: it would run on this machine's own network.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    resolv = root / "etc/resolv.conf"
    resolv_before = resolv.read_bytes() if resolv.exists() and not resolv.is_symlink() else None
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    archives = root / "var/cache/apt/archives"
    apt_cache, pip_cache = base.shared_caches()
    mounts = [(["-t", "proc", "proc"], root / "proc"), (["--bind", "/dev"], root / "dev"),
              (["--bind", "/dev/pts"], root / "dev/pts"),
              # The shared .deb cache: packages come from it and new ones are kept in it.
              (["--bind", str(apt_cache)], archives),
              # The shared pip cache, as lab hosts have it.
              (["--bind", str(pip_cache)], root / "root/.cache/pip")]
    try:
        for args, target in mounts:
            target.mkdir(parents=True, exist_ok=True)
            run(["mount", *args, str(target)])
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
        chroot = ["chroot", str(root)]
        run([*chroot, "apt-get", "-q", "update"], env=env)
        run([*chroot, "apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confold", "install",
             "--no-install-recommends", *packages], env=env)
        _install_venv(root, venv)
    finally:
        for _args, target in reversed(mounts):
            run(["umount", "-l", str(target)], check=False)
    policy.unlink()
    resolv.unlink()
    if resolv_before is not None:
        resolv.write_bytes(resolv_before)
    # The roles enable and start their services themselves, after writing their configuration.
    for link in sorted(_enabled_links(root) - enabled_before):
        (root / link).unlink()


def _install_venv(root: Path, venv: Venv) -> None:
    """The api role's virtualenv with the API's dependencies, made as the role makes it (the role's
    python, `-m venv`, pip with the project's constraints); the role installs the API itself."""
    constraints = root / "tmp/pic-image-constraints.txt"
    constraints.write_text(venv.constraints)
    # This machine's own pip settings (its wheel folders, its CA file) mean nothing in the image.
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_DEFAULT_TIMEOUT": "180"}
    try:
        run(["chroot", str(root), venv.python, "-m", "venv", venv.path], env=env)
        run(["chroot", str(root), f"{venv.path}/bin/pip", "install", "-q", "-c", "/tmp/pic-image-constraints.txt",
             *venv.requirements], env=env)
    finally:
        constraints.unlink()


def _enabled_links(root: Path) -> set[str]:
    """What `systemctl enable` creates: unit symlinks in /etc/systemd/system's .wants/.requires
    folders, and the unit's aliases there (chronyd.service -> chrony.service). An alias left behind
    makes `systemctl is-enabled` say "enabled" with no .wants link, so a role's `enabled: true`
    changes nothing and the service does not start at the next boot. Masks (links to /dev/null) are
    not what enable makes."""
    etc = root / "etc/systemd/system"
    wants = {p for p in etc.glob("*.*/*") if p.is_symlink() and p.parent.suffix in (".wants", ".requires")}
    aliases = {p for p in etc.glob("*.*") if p.is_symlink() and os.readlink(p) != "/dev/null"}
    return {str(p.relative_to(root)) for p in wants | aliases}


def _remove(path: Path) -> None:
    """Removes PATH, refusing while anything is still mounted under it (a bind of /dev or of the
    shared .deb cache must never be walked into)."""
    _umount_all(path)
    if any(m == str(path) or m.startswith(str(path) + "/") for m in _mountpoints()):
        raise RuntimeError(f"{path}: still mounted, not removed")
    shutil.rmtree(path, ignore_errors=True)


def _mountpoints() -> list[str]:
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]


def _umount_all(under: Path) -> None:
    for m in sorted((m for m in _mountpoints() if m.startswith(str(under) + "/")), key=len, reverse=True):
        run(["umount", "-l", m], check=False)
