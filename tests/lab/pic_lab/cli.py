"""pic-lab: throwaway Debian 12 hosts (systemd-nspawn) for tests, molecule and demos.

  pic-lab [--lab NAME] [--subnet CIDR] up HOST [HOST...] [--ip A | --dhcp]
  pic-lab [--lab NAME] down HOST [HOST...]
  pic-lab [--lab NAME] down-all          (every host, the bridge, NAT rules, cgroups of the lab)
  pic-lab down-all --every-lab           (every lab on this machine)
  pic-lab [--lab NAME] exec HOST CMD...  (inside the host, without ssh)
  pic-lab [--lab NAME] ssh HOST [CMD...]
  pic-lab [--lab NAME] inventory [-o FILE] [--group G=H1,H2]
  pic-lab [--lab NAME] status
  pic-lab [--lab NAME] up HOST --image provisioned   (boot from the image with the roles' packages)
  pic-lab base                           (build the cached base rootfs now)
  pic-lab image                          (build the cached provisioned image now)

The lab name comes from --lab, else $PIC_LAB, else "pic"; its subnet from --subnet, else
$PIC_LAB_SUBNET, else one derived from the name (10.213.x.0/24).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import yaml

from . import base
from . import image as images
from .lab import Lab, LabError, all_labs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pic-lab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab", default=os.environ.get("PIC_LAB", "pic"))
    p.add_argument("--subnet")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="create and boot hosts")
    up.add_argument("hosts", nargs="+")
    g = up.add_mutually_exclusive_group()
    g.add_argument("--ip", help="static address (one host only)")
    g.add_argument("--dhcp", action="store_true", help="take the address from a DHCP server on the lab")
    up.add_argument("--image", choices=images.IMAGES, default="base",
                    help="boot from the bare base rootfs, or from the image with the roles' packages")
    down = sub.add_parser("down", help="power off and remove hosts")
    down.add_argument("hosts", nargs="+")
    da = sub.add_parser("down-all", help="remove every host and the network of the lab")
    da.add_argument("--every-lab", action="store_true", help="every lab on this machine")
    da.add_argument("--matching", metavar="PREFIX", help="every lab whose name starts with PREFIX")
    ex = sub.add_parser("exec", help="run a command in a host")
    ex.add_argument("host")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ssh = sub.add_parser("ssh", help="ssh into a host as root")
    ssh.add_argument("host")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    inv = sub.add_parser("inventory", help="write an Ansible inventory of the lab")
    inv.add_argument("-o", "--output")
    inv.add_argument("--group", action="append", default=[], help="GROUP=HOST1,HOST2")
    inv.add_argument("--format", choices=["ansible", "molecule"], default="ansible",
                     help="an Ansible inventory, or molecule's instance config")
    sub.add_parser("status", help="list the lab's hosts")
    sub.add_parser("base", help="build the base rootfs (cached)")
    sub.add_parser("image", help="build the provisioned image (cached) and list its packages")
    a = p.parse_args(argv)

    try:
        if a.cmd == "base":
            print(base.base_dir())
            return 0
        if a.cmd == "image":
            print(images.lower_dirs("provisioned")[0])
            print(" ".join(images.role_packages()))
            return 0
        if a.cmd == "down-all" and (a.every_lab or a.matching):
            for name in all_labs():
                if a.every_lab or name.startswith(a.matching):
                    Lab(name).down_all()
            return 0
        lab = Lab(a.lab, a.subnet)
        if a.cmd == "up":
            if a.ip and len(a.hosts) > 1:
                raise LabError("--ip takes one host")
            for h in a.hosts:
                info = lab.up(h, ip=a.ip, dhcp=a.dhcp, image=a.image)
                print(f"{h} {info['ip']}")
        elif a.cmd == "down":
            for h in a.hosts:
                lab.down(h)
        elif a.cmd == "down-all":
            lab.down_all()
        elif a.cmd == "exec":
            res = lab.exec(a.host, a.command or ["bash"])
            sys.stdout.write(res.stdout)
            sys.stderr.write(res.stderr)
            return res.returncode
        elif a.cmd == "ssh":
            ip = lab.host_info(a.host).get("ip")
            if not ip:
                raise LabError(f"{a.host} has no address in lab {lab.name}")
            os.execvp("ssh", ["ssh", *lab.ssh_args(), f"root@{ip}", *a.command])
        elif a.cmd == "inventory":
            groups = {}
            for spec in a.group:
                g_name, _, members = spec.partition("=")
                groups[g_name] = [m for m in members.split(",") if m]
            if a.format == "molecule":
                text = yaml.safe_dump(lab.molecule_instances(), sort_keys=False)
            else:
                text = yaml.safe_dump(lab.inventory(groups), sort_keys=False)
            if a.output:
                with open(a.output, "w") as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
        elif a.cmd == "status":
            print(json.dumps({"lab": lab.name, "subnet": str(lab.subnet), "bridge": lab.bridge,
                              "hosts": lab.status()}, indent=1))
    except LabError as e:
        print(f"pic-lab: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
