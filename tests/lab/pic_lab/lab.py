"""A lab: a named set of throwaway Debian 12 hosts on one private bridge.

Each host is an overlayfs clone of the base rootfs booted by systemd-nspawn with systemd as PID 1.
Everything a lab makes is findable from its name alone, so `down-all` can remove it even after the
process that made it was killed:

  state      PIC_LAB_STATE/<lab>/ (default /var/lib/pic-lab): lab.json, hosts/<name>/{upper,work,root}
  cgroups    /sys/fs/cgroup/{systemd,unified}/pic-lab/<lab>/<name>
  bridge     pl-<lab> (or pl-<hash> for long names), the lab's subnet, .1 on the bridge
  netfilter  iptables rules with the comment "pic-lab:<lab>" (NAT to reach the package mirrors)
  machines   nspawn machine name <lab>-<name>; its veth (vb-...) goes away with the host
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import zlib
from pathlib import Path

from . import base
from . import image as images
from .util import file_lock, log, out, run

CGROUP_ROOTS = [Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified")]
READY_STATES = {"running", "degraded"}


def state_root() -> Path:
    return Path(os.environ.get("PIC_LAB_STATE", "/var/lib/pic-lab"))


def _subnets_in_use() -> set[str]:
    used = set()
    root = state_root()
    if root.is_dir():
        for f in root.glob("*/lab.json"):
            used.add(json.loads(f.read_text()).get("subnet"))
    for word in out(["ip", "-4", "-o", "addr"]).split():
        if "/" in word and word[0].isdigit():
            used.add(str(ipaddress.ip_interface(word).network.supernet(new_prefix=24)
                         if ipaddress.ip_interface(word).network.prefixlen > 24
                         else ipaddress.ip_interface(word).network))
    return used


def default_subnet(lab: str) -> str:
    """A /24 in 10.213.0.0/16 no other lab and no interface of this machine uses (stable per name)."""
    used = _subnets_in_use()
    start = zlib.crc32(lab.encode()) % 224
    for i in range(224):
        candidate = f"10.213.{16 + (start + i) % 224}.0/24"
        if candidate not in used:
            return candidate
    raise LabError("no free lab subnet left in 10.213.0.0/16")


@contextlib.contextmanager
def machine_lock():
    """Serializes lab changes on this machine (subnet and address allocation, bridge and NAT)."""
    with file_lock(state_root() / ".lock"):
        yield


class LabError(RuntimeError):
    pass


class Lab:
    def __init__(self, name: str, subnet: str | None = None):
        if not name.replace("-", "").isalnum() or len(name) > 24:
            raise LabError(f"lab name {name!r}: letters, digits and '-' only, at most 24 characters")
        self.name = name
        self.dir = state_root() / name
        saved = self._load()
        self._requested = subnet or os.environ.get("PIC_LAB_SUBNET")
        self.subnet = ipaddress.ip_network(saved.get("subnet") or self._requested or default_subnet(name))
        if subnet and saved.get("subnet") and subnet != saved["subnet"]:
            raise LabError(f"lab {name} already uses {saved['subnet']}; down-all first to change it")
        short = name if len(name) <= 12 else hashlib.sha1(name.encode()).hexdigest()[:8]
        self.bridge = f"pl-{short}"
        self.gateway = str(next(self.subnet.hosts()))
        self.comment = f"pic-lab:{name}"

    # ---- lab-wide network ------------------------------------------------------------------
    def _load(self) -> dict:
        f = self.dir / "lab.json"
        return json.loads(f.read_text()) if f.exists() else {}

    def _save(self, data: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "lab.json").write_text(json.dumps(data, indent=1))

    def _ensure_network(self) -> None:
        """Bridge, forwarding and NAT of the lab; called under machine_lock()."""
        if not self._load() and not self._requested:
            # Chosen before the lock was held: choose again now that no other lab can race us.
            self.subnet = ipaddress.ip_network(default_subnet(self.name))
            self.gateway = str(next(self.subnet.hosts()))
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            run(["ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge])
            run(["ip", "link", "set", self.bridge, "up"])
        data = self._load()
        fwd = Path("/proc/sys/net/ipv4/ip_forward")
        if "ip_forward_before" not in data:
            data["ip_forward_before"] = fwd.read_text().strip()
        data["subnet"] = str(self.subnet)
        self._save(data)
        fwd.write_text("1\n")
        _raise_inotify_limit()
        if not any(self._owns(line) for line in out(["iptables-save"]).splitlines()):
            c = ["-m", "comment", "--comment", self.comment]
            run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", str(self.subnet), "!", "-o",
                 self.bridge, "-j", "MASQUERADE", *c])
            # The FORWARD policy may be DROP (a Docker engine leaves it so): accept the lab's traffic.
            run(["iptables", "-I", "FORWARD", "1", "-i", self.bridge, "-j", "ACCEPT", *c])
            run(["iptables", "-I", "FORWARD", "1", "-o", self.bridge, "-m", "conntrack", "--ctstate",
                 "RELATED,ESTABLISHED", "-j", "ACCEPT", *c])

    # ---- a browser of its own --------------------------------------------------------------
    @contextlib.contextmanager
    def browser_netns(self):
        """A network namespace for a browser driving the lab's hosts; yields the command prefix that
        runs a program in it (``ip netns exec <ns>``). Chromium drops its requests in flight with
        net::ERR_NETWORK_CHANGED whenever a link of its namespace appears or goes, and in the host's
        namespace other labs' hosts come and go all the time; in its own, nothing changes. It reaches
        the lab through a veth pair routed by this host and masqueraded onto the lab's bridge, so the
        lab's hosts see the browser at the bridge's address, as they would from the host itself."""
        ns, outer, inner = f"{self.bridge}-browser", f"pb-{self.bridge[3:]}", f"pn-{self.bridge[3:]}"
        with file_lock(self.dir / ".browser.lock"):  # one browser namespace per lab at a time
            with machine_lock():
                self._ensure_network()
                self._remove_browser_netns()
                net = self._free_browser_net()
                host_ip, ns_ip = (str(a) for a in net.hosts())
                c = ["-m", "comment", "--comment", self.comment]
                run(["ip", "netns", "add", ns])
                # No IPv6 in it: a link's IPv6 address turns valid a second or two after the link is
                # up (duplicate address detection), a change Chromium answers by dropping the requests
                # it has in flight ("Failed to fetch" of a login right after the page loaded).
                run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                     "net.ipv6.conf.default.disable_ipv6=1"])
                run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
                run(["ip", "link", "set", inner, "netns", ns])
                run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{inner}.disable_ipv6=1"])
                run(["ip", "addr", "add", f"{host_ip}/{net.prefixlen}", "dev", outer])
                run(["ip", "link", "set", outer, "up"])
                run(["ip", "-n", ns, "addr", "add", f"{ns_ip}/{net.prefixlen}", "dev", inner])
                run(["ip", "-n", ns, "link", "set", inner, "up"])
                run(["ip", "-n", ns, "link", "set", "lo", "up"])
                run(["ip", "-n", ns, "route", "add", "default", "via", host_ip])
                run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", ns_ip, "-o", self.bridge, "-j", "MASQUERADE",
                     *c])
                run(["iptables", "-I", "FORWARD", "1", "-i", outer, "-o", self.bridge, "-j", "ACCEPT", *c])
            try:
                yield ["ip", "netns", "exec", ns]
            finally:
                with machine_lock():
                    self._remove_browser_netns()
                    for line in out(["iptables-save"]).splitlines():
                        if self._owns(line) and (f"-s {ns_ip}/" in line or f"-i {outer} " in line):
                            table = "nat" if "MASQUERADE" in line else "filter"
                            run(["iptables", "-t", table, "-D", *_split_rule(line[3:])], check=False)

    def _remove_browser_netns(self) -> None:
        """The lab's browser namespace and its veth pair (deleting the namespace deletes both ends)."""
        ns = f"{self.bridge}-browser"
        if ns in out(["ip", "netns", "list"]).split():
            run(["ip", "netns", "del", ns], check=False)

    @staticmethod
    def _free_browser_net() -> ipaddress.IPv4Network:
        """A /30 for a browser's veth pair, outside every lab's subnet (10.213.16-239.0/24): in
        10.213.250.0/24, one no link of this host has yet. Called under machine_lock()."""
        taken = out(["ip", "-o", "-4", "addr", "show"])
        for net in ipaddress.ip_network("10.213.250.0/24").subnets(new_prefix=30):
            if not any(f" {a}/" in taken for a in net.hosts()):
                return net
        raise LabError("no free /30 left in 10.213.250.0/24 for a browser namespace")

    def _owns(self, rule: str) -> bool:
        """True for an iptables rule of this lab: its comment is exactly this lab's (the rules of
        lab "ci-caddy" are not those of lab "ci-ca")."""
        args = _split_rule(rule) if "--comment" in rule else []
        return any(a == "--comment" and b == self.comment for a, b in zip(args, args[1:], strict=False))

    def _remove_network(self) -> None:
        self._remove_browser_netns()  # left by a browser run that was killed
        for table in ("filter", "nat"):
            for line in out(["iptables", "-t", table, "-S"]).splitlines():
                if self._owns(line):
                    run(["iptables", "-t", table, "-D", *_split_rule(line[3:])], check=False)
        if Path(f"/sys/class/net/{self.bridge}").exists():
            run(["ip", "link", "del", self.bridge], check=False)
        before = self._load().get("ip_forward_before")
        if before is not None and not _other_labs_running(self.name):
            Path("/proc/sys/net/ipv4/ip_forward").write_text(before + "\n")

    # ---- hosts -----------------------------------------------------------------------------
    def host_dir(self, host: str) -> Path:
        return self.dir / "hosts" / host

    def hosts(self) -> list[str]:
        d = self.dir / "hosts"
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []

    def host_info(self, host: str) -> dict:
        f = self.host_dir(host) / "host.json"
        return json.loads(f.read_text()) if f.exists() else {}

    def _next_ip(self) -> str:
        used = {self.host_info(h).get("ip") for h in self.hosts()}
        for addr in list(self.subnet.hosts())[9:]:
            if str(addr) not in used:
                return str(addr)
        raise LabError(f"no free address left in {self.subnet}")

    def machine(self, host: str) -> str:
        return f"{self.name}-{host}"

    def up(self, host: str, ip: str | None = None, dhcp: bool = False, timeout: float = 60,
           image: str = "base") -> dict:
        """Boots HOST from IMAGE: "base" (the bare debootstrapped rootfs) or "provisioned" (the
        base plus every package the roles install, see image.py)."""
        if not host.replace("-", "").isalnum() or len(host) > 20:
            raise LabError(f"host name {host!r}: letters, digits and '-', at most 20 characters")
        if self.is_running(host):
            return self.host_info(host)
        if self.host_dir(host).exists():
            self.down(host)
        lower = ":".join(str(d) for d in images.lower_dirs(image))
        if ip and ipaddress.ip_address(ip) not in self.subnet:
            raise LabError(f"{ip} is not in the lab's subnet {self.subnet}")
        hd = self.host_dir(host)
        with machine_lock():
            self._ensure_network()
            ip = None if dhcp else (ip or self._next_ip())
            for sub in ("upper", "work", "root"):
                (hd / sub).mkdir(parents=True, exist_ok=True)
            self.ssh_control_dir().mkdir(exist_ok=True, mode=0o700)  # ssh needs it for its masters
            (hd / "host.json").write_text(json.dumps({"name": host, "ip": ip, "image": image}))
        root = hd / "root"
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={lower},upperdir={hd / 'upper'},workdir={hd / 'work'}", str(root)])
        self._personalize(root, host, ip)
        info = {"name": host, "ip": ip, "dhcp": dhcp, "machine": self.machine(host), "image": image}
        (hd / "host.json").write_text(json.dumps(info))
        self._start(host)
        self._wait_ready(host, timeout)
        if dhcp:
            info["ip"] = self._dhcp_address(host, timeout)
            (hd / "host.json").write_text(json.dumps(info))
        if info["ip"]:
            _wait_port(info["ip"], 22, timeout)
        log(f"{host} is up at {info['ip'] or 'no address yet'}")
        return info

    def _personalize(self, root: Path, host: str, ip: str | None) -> None:
        (root / "etc/machine-id").write_text(secrets.token_hex(16) + "\n")
        (root / "etc/hostname").write_text(host + "\n")
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {host}\n")
        run(["ssh-keygen", "-A", "-f", str(root)])
        net = root / "etc/systemd/network/10-host0.network"
        if ip:
            net.write_text(
                "[Match]\nName=host0\n\n[Network]\n"
                f"Address={ip}/{self.subnet.prefixlen}\nGateway={self.gateway}\n"
                "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
            )
        else:
            net.unlink(missing_ok=True)

    def _cgroups(self, host: str) -> list[Path]:
        return [r / "pic-lab" / self.name / host for r in CGROUP_ROOTS if r.is_dir()]

    def _start(self, host: str) -> None:
        hd = self.host_dir(host)
        for cg in self._cgroups(host):
            cg.mkdir(parents=True, exist_ok=True)
        (hd / "stop").unlink(missing_ok=True)
        base.shared_caches()
        (hd / "apt-archives").mkdir(parents=True, exist_ok=True)
        nspawn = [
            "systemd-nspawn", "--boot", "--register=no", "--keep-unit", "-M", self.machine(host),
            "-D", str(hd / "root"), f"--network-bridge={self.bridge}", "--resolv-conf=copy-host",
            "--console=read-only",
            # The shared .deb cache is the lower layer of an overlay, so hosts never contend for one
            # apt lock; what a host downloads is gathered into the shared cache when it goes down.
            f"--overlay={base.apt_cache_dir()}:{hd / 'apt-archives'}:/var/cache/apt/archives",
            f"--bind={base.pip_cache_dir()}:/root/.cache/pip",
        ]
        procs = " ".join(str(cg / "cgroup.procs") for cg in self._cgroups(host))
        # The supervisor moves itself into the host's own cgroups (nspawn needs one per host when
        # PID 1 of this machine is not systemd) and restarts nspawn when the host reboots (exit 133).
        script = (
            f"for f in {procs}; do echo $$ > $f; done\n"
            "while :; do\n"
            f"  {' '.join(_q(a) for a in nspawn)}\n"
            "  rc=$?\n"
            f"  [ -e {_q(str(hd / 'stop'))} ] && break\n"
            "  [ $rc -eq 133 ] || break\n"
            "done\n"
        )
        console = open(hd / "console.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT, start_new_session=True)
        console.close()
        (hd / "supervisor.pid").write_text(str(proc.pid))

    def supervisor_pid(self, host: str) -> int | None:
        f = self.host_dir(host) / "supervisor.pid"
        if not f.exists():
            return None
        pid = int(f.read_text())
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # Right after the start the command line may still read empty; a reused PID would not.
        return pid if not cmdline or b"systemd-nspawn" in cmdline else None

    def nspawn_pid(self, host: str) -> int | None:
        sup = self.supervisor_pid(host)
        if not sup:
            return None
        pids = out(["pgrep", "-P", str(sup), "-x", "systemd-nspawn"]).split()
        return int(pids[0]) if pids else None

    def init_pid(self, host: str) -> int | None:
        ns = self.nspawn_pid(host)
        if not ns:
            return None
        pids = out(["pgrep", "-P", str(ns), "-x", "systemd"]).split()
        return int(pids[0]) if pids else None

    def is_running(self, host: str) -> bool:
        return self.init_pid(host) is not None

    def _wait_ready(self, host: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = "not started"
        while time.monotonic() < deadline:
            pid = self.init_pid(host)
            if pid:
                state = out(["nsenter", "-t", str(pid), "-a", "systemctl", "is-system-running"]).strip()
                if state in READY_STATES:
                    return
            elif not self.supervisor_pid(host):
                break
            time.sleep(0.2)
        tail = (self.host_dir(host) / "console.log").read_text(errors="replace")[-3000:]
        raise LabError(f"{host} did not boot (state: {state}); console:\n{tail}")

    def _dhcp_address(self, host: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for word in self.exec(host, ["ip", "-4", "-o", "addr", "show", "host0"]).stdout.split():
                # systemd-networkd adds a link-local address while it still waits for the lease.
                if "/" in word and word[0].isdigit() and not word.startswith("169.254."):
                    return word.split("/")[0]
            time.sleep(0.5)
        raise LabError(f"{host} got no DHCP lease within {timeout:.0f} s")

    def exec(self, host: str, cmd: list[str], check: bool = False, **kw) -> subprocess.CompletedProcess:
        """Runs a command inside a host's namespaces (no ssh: fast, for tests and debugging)."""
        pid = self.init_pid(host)
        if not pid:
            raise LabError(f"{host} is not running in lab {self.name}")
        return run(["nsenter", "-t", str(pid), "-a", *cmd], check=check, capture=True, **kw)

    def ipv4_addresses(self, host: str, interface: str = "host0") -> list[str]:
        """The IPv4 addresses on a host's interface."""
        out = self.exec(host, ["ip", "-4", "-o", "addr", "show", interface]).stdout
        return [part.split("/")[0] for part in out.split() if "/" in part and part[0].isdigit()]

    def dhcp_renew_until(self, host: str, ok, timeout: float = 120, interface: str = "host0") -> list[str]:
        """Has a DHCP host (systemd-networkd) get its lease again until its addresses satisfy ``ok``:
        first a renewal (``networkctl renew``), then, as a device that reconnects, the link down and
        up (a new DISCOVER). Returns the addresses it has at the end."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            if attempt % 2 == 0:
                self.exec(host, ["networkctl", "renew", interface])
            else:
                self.exec(host, ["sh", "-c", f"ip link set {interface} down; sleep 1; ip link set {interface} up"])
            attempt += 1
            # 10 s for each attempt, looked at every 0.2 s rather than every second.
            for _ in range(50):
                time.sleep(0.2)
                have = self.ipv4_addresses(host, interface)
                if ok(have):
                    return have
            if time.monotonic() > deadline:
                return have

    def netns_exec(self, host: str, cmd: list[str], check: bool = False, **kw) -> subprocess.CompletedProcess:
        """Runs one of this machine's programs (dig, curl, ...) in a host's network namespace only:
        the traffic is the host's, the tools need not be installed in it."""
        pid = self.init_pid(host)
        if not pid:
            raise LabError(f"{host} is not running in lab {self.name}")
        return run(["nsenter", "-t", str(pid), "-n", *cmd], check=check, capture=True, **kw)

    def wait_reboot(self, host: str, old_pid: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.init_pid(host)
            if pid and pid != old_pid:
                self._wait_ready(host, max(1, deadline - time.monotonic()))
                return
            time.sleep(0.3)
        raise LabError(f"{host} did not come back from a reboot within {timeout:.0f} s")

    def down(self, host: str) -> None:
        hd = self.host_dir(host)
        if not hd.exists():
            return
        address = self.host_info(host).get("ip")
        if address:
            self.end_ssh_masters(address)
        (hd / "stop").touch()
        pid = self.init_pid(host)
        if pid:
            os.kill(pid, signal.SIGRTMIN + 4)  # a clean poweroff
        sup = self.supervisor_pid(host)
        if sup and not _wait_gone(sup, 20):
            # The host ignored the poweroff: kill what runs inside it, then nspawn ends by itself.
            for cg in self._cgroups(host):
                _kill_cgroup(cg / "payload")
            if not _wait_gone(sup, 10):
                _kill_cgroup_all(self._cgroups(host))
                _wait_gone(sup, 5)
        root = hd / "root"
        if _is_mounted(root):
            if run(["umount", str(root)], check=False).returncode != 0:
                run(["umount", "-l", str(root)], check=False)
        for cg in self._cgroups(host):
            _rmdir_tree(cg)
        _gather_debs(hd / "apt-archives", base.apt_cache_dir())
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.machine(host)}", ignore_errors=True)
        shutil.rmtree(hd, ignore_errors=True)
        log(f"{host} is down")

    def down_all(self) -> None:
        for host in self.hosts():
            self.down(host)
        self.end_ssh_masters()  # also masters of hosts whose directory is already gone
        with machine_lock():
            self._remove_network()
        for root in CGROUP_ROOTS:
            _rmdir_tree(root / "pic-lab" / self.name)
            try:
                (root / "pic-lab").rmdir()
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- access ----------------------------------------------------------------------------
    def ssh_control_dir(self) -> Path:
        """Where the lab's ssh masters keep their sockets (one per host: root@<address>:22)."""
        return self.dir / "ssh"

    def ssh_args(self) -> list[str]:
        # One shared ssh connection per host (ControlPersist): a task or a testinfra command then
        # costs a channel on it, not a new ssh handshake (a no-op converge of the whole site: 120 s
        # with a new connection per task, 58 s shared). The masters' sockets live in the lab's own
        # directory, so `down` and `down_all` find them and end them by PID; 60 s idle ends them too.
        return ["-i", str(base.ssh_key()), "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ControlMaster=auto",
                "-o", "ControlPersist=60s", "-o", f"ControlPath={self.ssh_control_dir()}/%r@%h:%p",
                "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"]

    def end_ssh_masters(self, address: str | None = None) -> list[int]:
        """Ends, by PID, the lab's ssh masters (only the one for `address` when given); returns the
        PIDs ended."""
        path = f"{self.ssh_control_dir()}/root@{address}:22" if address else f"{self.ssh_control_dir()}/"
        ended = []
        for pid in ssh_masters(path):
            try:
                os.kill(pid, signal.SIGTERM)
                ended.append(pid)
            except ProcessLookupError:
                pass
        for pid in ended:
            _wait_gone(pid, 5)
        # A master removes its socket when it ends; one killed harder would leave it, and ssh then
        # refuses to multiplex over a stale socket.
        for sock in self.ssh_control_dir().glob(f"root@{address}:22" if address else "*"):
            sock.unlink(missing_ok=True)
        return ended

    def inventory(self, groups: dict[str, list[str]] | None = None) -> dict:
        hostvars = {}
        for h in self.hosts():
            info = self.host_info(h)
            if not info.get("ip"):
                continue
            hostvars[h] = {
                "ansible_host": info["ip"], "ansible_user": "root",
                "ansible_ssh_private_key_file": str(base.ssh_key()),
                "ansible_ssh_args": " ".join(self.ssh_args()[2:]),
                "ansible_python_interpreter": "/usr/bin/python3",
            }
        inv: dict = {"all": {"hosts": hostvars, "children": {}}}
        for group, members in (groups or {}).items():
            inv["all"]["children"][group] = {"hosts": {m: {} for m in members}}
        return inv

    def write_inventory(self, directory: Path, groups: dict[str, list[str]], group_vars: dict | None = None,
                        repo: Path | None = None) -> Path:
        """An inventory directory for the lab's hosts that also carries the repository's
        group_vars/all (linked), so `ansible-playbook -i DIR/hosts.yml site.yml` sees the same pic_*
        defaults as inventory/hosts.yml does. `group_vars` go to group_vars/<group>.yml: Ansible ranks
        those over group_vars/all, whereas vars written inside hosts.yml would rank under it."""
        import yaml

        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.yml").write_text(yaml.safe_dump(self.inventory(groups), sort_keys=False))
        gv = directory / "group_vars"
        if gv.is_symlink() or gv.is_file():
            gv.unlink()
        gv.mkdir(exist_ok=True)
        if repo:
            link = gv / "all"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(repo / "inventory" / "group_vars" / "all")
        for group in groups:
            path = gv / f"{group}.yml"
            if group_vars:
                path.write_text(yaml.safe_dump(group_vars, sort_keys=False))
            else:
                path.unlink(missing_ok=True)
        return directory / "hosts.yml"

    def molecule_instances(self) -> list[dict]:
        """The instance config molecule's delegated driver reads (molecule/shared/create.yml)."""
        return [
            {"instance": h, "address": self.host_info(h)["ip"], "user": "root", "port": 22,
             "identity_file": str(base.ssh_key())}
            for h in self.hosts() if self.host_info(h).get("ip")
        ]

    def status(self) -> list[dict]:
        rows = []
        for h in self.hosts():
            info = self.host_info(h)
            rows.append({**info, "running": self.is_running(h)})
        return rows


# Every lab host's systemd, journald, udevd, logind and dbus each hold inotify instances, all counted
# against root on this machine: with Linux's default of 128, about fifteen hosts of labs side by
# side exhaust it and a daemon in the next host fails with "failed to create inotify: Too many open
# files" (measured: dnsmasq in a demo cell while two scenarios and two other labs ran).
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_MIN = 8192


def _raise_inotify_limit() -> None:
    """Raises this machine's inotify instance limit to INOTIFY_MIN (never lowers it)."""
    try:
        if int(INOTIFY_INSTANCES.read_text()) < INOTIFY_MIN:
            INOTIFY_INSTANCES.write_text(f"{INOTIFY_MIN}\n")
    except OSError as e:
        log(f"cannot raise {INOTIFY_INSTANCES} to {INOTIFY_MIN}: {e}")


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _split_rule(rule: str) -> list[str]:
    import shlex

    return shlex.split(rule)


def _other_labs_running(me: str) -> bool:
    root = state_root()
    return root.is_dir() and any(p.name != me and (p / "lab.json").exists() for p in root.iterdir())


def _gone(pid: int) -> bool:
    """True when the process has ended (a zombie counts as ended; when it is our child, reap it)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return _gone(pid)


def ssh_masters(control_path_prefix: str) -> list[int]:
    """PIDs of ssh connection masters whose control socket path starts with the prefix (a master
    names its socket in its process title: "ssh: <ControlPath> [mux]")."""
    title = f"ssh: {control_path_prefix}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        first = cmdline.split(b"\0")[0].rstrip()  # the title, padded with spaces
        if first.startswith(title) and first.endswith(b" [mux]"):
            pids.append(int(proc.name))
    return pids


def _procs(cg: Path) -> list[int]:
    pids: list[int] = []
    if cg.is_dir():
        for f in cg.rglob("cgroup.procs"):
            try:
                pids += [int(p) for p in f.read_text().split()]
            except OSError:
                pass
    return pids


def _kill_cgroup(cg: Path) -> None:
    for pid in _procs(cg):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_cgroup_all(cgs: list[Path]) -> None:
    for cg in cgs:
        _kill_cgroup(cg)


def _rmdir_tree(cg: Path) -> None:
    if not cg.is_dir():
        return
    dirs = sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for d in [*dirs, cg]:
        for _ in range(50):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                _kill_cgroup(d)
                time.sleep(0.1)


def _gather_debs(upper: Path, shared: Path) -> None:
    """Moves the .debs a host downloaded into the shared cache (complete files only)."""
    if not upper.is_dir():
        return
    for deb in upper.glob("*.deb"):
        target = shared / deb.name
        if not target.exists():
            tmp = shared / f".{deb.name}.tmp"
            shutil.copyfile(deb, tmp)
            tmp.rename(target)


def _is_mounted(path: Path) -> bool:
    return any(line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines())


def _wait_port(ip: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise LabError(f"{ip}:{port} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def throwaway_lab(suffix: str, default_prefix: str):
    """A lab a test owns, named ``$PIC_LAB-<suffix>`` (``<default_prefix>-<suffix>`` without
    PIC_LAB): removed first (what a killed earlier run left) and again when the test ends, also when
    it fails."""
    lab = Lab(f"{os.environ.get('PIC_LAB') or default_prefix}-{suffix}")
    lab.down_all()
    try:
        yield lab
    finally:
        lab.down_all()


def all_labs() -> list[str]:
    root = state_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
