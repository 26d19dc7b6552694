"""The base root filesystem every lab host starts from: a debootstrapped Debian 12, built once.

The base lives outside the repository (PIC_LAB_CACHE, default /var/cache/pic-lab) under a name that
is a hash of its recipe, so a changed recipe (packages, preparation steps, the machine's extra CA
certificates) builds a new base and an unchanged one is reused across runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .util import file_lock, log, run

SUITE = "bookworm"
PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "python3", "python3-apt", "iproute2", "iputils-ping",
    "openssh-server", "sudo", "ca-certificates", "curl", "procps", "kmod", "gnupg",
]
SOURCES_FILE = Path("/etc/apt/sources.list.d/debian.sources")
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
# Bump when the preparation below changes in a way the hash of its inputs cannot see.
RECIPE_VERSION = "3"


def cache_dir() -> Path:
    return Path(os.environ.get("PIC_LAB_CACHE", "/var/cache/pic-lab"))


def apt_cache_dir() -> Path:
    return cache_dir() / "apt-archives"


def pip_cache_dir() -> Path:
    return cache_dir() / "pip"


def shared_caches() -> tuple[Path, Path]:
    """The .deb and pip caches that lab hosts and image builds bind-mount, made when missing (on a
    machine with no cache yet, the image was built before any host had made the pip one)."""
    dirs = (apt_cache_dir(), pip_cache_dir())
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def ssh_key() -> Path:
    """The lab's private key (root on every lab host accepts it)."""
    key = cache_dir() / "ssh" / "id_ed25519"
    if key.with_suffix(".pub").exists():
        return key
    with file_lock(cache_dir() / ".ssh.lock"):
        if not key.with_suffix(".pub").exists():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key.unlink(missing_ok=True)  # a half-made key from an interrupted run
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pic-lab", "-f", str(key)])
    return key


def mirror() -> str:
    """The Debian mirror this machine uses (its apt sources decide, never a hard-coded host)."""
    for line in SOURCES_FILE.read_text().splitlines():
        if line.startswith("URIs:"):
            return line.split()[1]
    raise RuntimeError(f"no URIs line in {SOURCES_FILE}")


def _extra_cas() -> list[Path]:
    return sorted(EXTRA_CA_DIR.glob("*.crt")) if EXTRA_CA_DIR.is_dir() else []


def recipe_hash() -> str:
    h = hashlib.sha256()
    h.update(RECIPE_VERSION.encode())
    h.update(" ".join([SUITE, *PACKAGES]).encode())
    h.update(SOURCES_FILE.read_bytes())
    h.update(ssh_key().with_suffix(".pub").read_bytes())
    for ca in _extra_cas():
        h.update(ca.read_bytes())
    return h.hexdigest()[:12]


def base_dir() -> Path:
    """Returns the base rootfs for the current recipe, building it when missing."""
    base = cache_dir() / f"base-{recipe_hash()}"
    if (base / ".pic-lab-complete").exists():
        return base
    # Labs started side by side on a clean machine all ask for the base: one builds, the rest wait.
    with file_lock(cache_dir() / ".base.lock"):
        if not (base / ".pic-lab-complete").exists():
            build(base)
    return base


def build(base: Path) -> None:
    tmp = base.with_name(base.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log(f"building the lab base rootfs in {base} (about a minute, once)")
    apt_cache_dir().mkdir(parents=True, exist_ok=True)
    run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
         f"--cache-dir={apt_cache_dir()}", SUITE, str(tmp), mirror()])
    _prepare(tmp)
    (tmp / ".pic-lab-complete").write_text(recipe_hash() + "\n")
    tmp.rename(base)
    # Older bases (other recipes) are no longer used by anything new.
    for old in cache_dir().glob("base-*"):
        if old != base and not old.name.endswith(".tmp") and not _in_use(old):
            shutil.rmtree(old, ignore_errors=True)


def _in_use(base: Path) -> bool:
    return str(base) in Path("/proc/mounts").read_text()


def _prepare(root: Path) -> None:
    # apt: the machine's sources (with the security suite), no periodic jobs inside throwaway hosts.
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    shutil.copy(SOURCES_FILE, root / "etc/apt/sources.list.d/debian.sources")
    (root / "etc/apt/apt.conf.d/99pic-lab").write_text(
        'APT::Install-Recommends "false";\nAPT::Keep-Downloaded-Packages "true";\n'
        'Acquire::Retries "3";\n'
    )
    # TLS: the machine reaches package registries through a proxy whose CA it trusts.
    for ca in _extra_cas():
        shutil.copy(ca, root / "usr/local/share/ca-certificates" / ca.name)
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    # Identity is per host: ssh host keys and machine-id are made when a host is created.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(ssh_key().with_suffix(".pub"), ssh_dir / "authorized_keys")
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    (root / "etc/ssh/sshd_config.d").mkdir(exist_ok=True)
    (root / "etc/ssh/sshd_config.d/pic-lab.conf").write_text(
        "PermitRootLogin prohibit-password\nUseDNS no\n"
    )
    run(["systemctl", f"--root={root}", "enable", "systemd-networkd", "ssh"])
    run(["systemctl", f"--root={root}", "mask", "apt-daily.timer", "apt-daily-upgrade.timer",
         "systemd-resolved.service", "getty@tty1.service"], check=False)
    subprocess.run(["chroot", str(root), "apt-get", "clean"], check=False)
