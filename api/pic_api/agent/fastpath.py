"""A peer applied to the running cell at once (root side), before the converge that makes it durable.

Three parts, each with fixed argv and arguments the agent validated:
- WireGuard: ``wg set <if> peer <key> allowed-ips <ip>/32`` (or ``... remove``) on the running
  interface; the other peers' sessions are untouched.
- The peer's DNS name: the hosts file the DNS server reads (``core.peerhosts``), rendered from the
  cell state on disk exactly as its role renders it; dnsmasq re-reads it on SIGHUP (``systemctl
  reload``), CoreDNS's hosts plugin by itself.
- NAT for full-route peers: the element in the firewall's ``full_peers`` set (inet pic), which its
  forward and masquerade rules use.

``restore`` puts the running parts back to what the converged files say (wg0.conf through
``wg syncconf``, the firewall's ruleset file), for when the converge that should have made a change
durable failed.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import peerhosts
from ..managers.files import write_atomic

log = logging.getLogger("pic.agent.fastpath")

NFT_TABLE = ("inet", "pic")  # the firewall role's table
NFT_FULL_PEERS = "full_peers"  # its set of full-route peers' addresses


class CommandFailed(Exception):
    pass


Run = Callable[..., subprocess.CompletedProcess]


def _run(argv: Sequence[str], input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=15, check=False)


@dataclass
class FastPath:
    interface: str
    private_key_file: Path
    hosts_file: Path
    nft_config: Path
    wg_config_dir: Path = Path("/etc/wireguard")
    run: Run = _run

    # helpers -------------------------------------------------------------------------------------
    def _must(self, argv: Sequence[str], input: str | None = None) -> str:
        out = self.run(argv, input=input)
        if out.returncode != 0:
            raise CommandFailed(f"{' '.join(argv[:3])}: {(out.stderr or out.stdout).strip()[-300:]}")
        return out.stdout

    def wg_up(self) -> bool:
        return self.run(["wg", "show", self.interface, "public-key"]).returncode == 0

    def nat_set(self) -> bool:
        return self.run(["nft", "list", "set", *NFT_TABLE, NFT_FULL_PEERS]).returncode == 0

    def _nat_element(self, verb: str, ip: str) -> list[str]:
        return ["nft", verb, "element", *NFT_TABLE, NFT_FULL_PEERS, "{", ip, "}"]

    # the parts -------------------------------------------------------------------------------------
    def wireguard(self, op: str, peer: dict[str, Any]) -> str:
        if not self.wg_up():
            return f"skipped: {self.interface} is not running"
        if op == "add":
            self._must(["wg", "set", self.interface, "peer", peer["public_key"], "allowed-ips", f"{peer['ip']}/32"])
            return "applied"
        self._must(["wg", "set", self.interface, "peer", peer["public_key"], "remove"])
        return "removed"

    def nat(self, op: str, peer: dict[str, Any]) -> str:
        if not self.nat_set():
            return "skipped: the firewall has no set of full-route peers"
        present = self.run(self._nat_element("get", peer["ip"])).returncode == 0
        wanted = op == "add" and peer.get("route") == "full"
        if wanted and not present:
            self._must(self._nat_element("add", peer["ip"]))
            return "applied"
        if present and not wanted:
            self._must(self._nat_element("delete", peer["ip"]))
            return "removed"
        return "applied" if wanted else "not needed"

    def dns(self, state: dict[str, Any], peers: list[dict[str, Any]] | None = None) -> str:
        """Writes the peers' hosts file from ``peers`` (default: the state's) and has it re-read."""
        if not self.hosts_file.is_file():  # its role writes it where a DNS server reads it
            return f"skipped: no {self.hosts_file} (no DNS server of the cell reads it)"
        text = peerhosts.render(state["peers"] if peers is None else peers, peerhosts.zone_of(state["cell"]["name"]))
        if self.hosts_file.read_text() != text:
            write_atomic(self.hosts_file, text, 0o644)
        if self.run(["systemctl", "is-active", "--quiet", "dnsmasq"]).returncode == 0:
            self._must(["systemctl", "reload", "dnsmasq"])  # SIGHUP: re-reads the hosts files, no restart
        return "applied"

    # what the agent calls ----------------------------------------------------------------------------
    def apply(self, op: str, peer: dict[str, Any], state: dict[str, Any]) -> dict[str, str]:
        """Each part's outcome; a part that fails says so and the others still run."""
        result = {}
        for part, call in (
            ("wireguard", lambda: self.wireguard(op, peer)),
            ("nat", lambda: self.nat(op, peer)),
            ("dns", lambda: self.dns(state)),
        ):
            try:
                result[part] = call()
            except (CommandFailed, OSError, ValueError, subprocess.TimeoutExpired) as exc:
                log.warning("peer %s %s: %s failed: %s", op, peer["name"], part, exc)
                result[part] = f"failed: {exc}"
        return result

    def restore(self, state: dict[str, Any]) -> dict[str, str]:
        """The running interface, NAT and names as the converged files say: wg-quick's config
        (its peers through ``wg syncconf``, sessions of unchanged peers go on), the firewall's
        ruleset file, and the names of the state's peers that are on the interface then."""
        result = {}
        wg_config = self.wg_config_dir / f"{self.interface}.conf"
        try:
            if self.wg_up() and wg_config.is_file():
                stripped = self._must(["wg-quick", "strip", self.interface])
                key = self.private_key_file.read_text().strip()
                # the key goes through a pipe, never a command line or a file
                lines = []
                for line in stripped.splitlines():
                    lines.append(line)
                    if line.strip() == "[Interface]":
                        lines.append(f"PrivateKey = {key}")
                self._must(["wg", "syncconf", self.interface, "/dev/stdin"], input="\n".join(lines) + "\n")
                result["wireguard"] = f"restored from {wg_config}"
            else:
                result["wireguard"] = f"skipped: {self.interface} is not running"
        except (CommandFailed, OSError, subprocess.TimeoutExpired) as exc:
            result["wireguard"] = f"failed: {exc}"
        try:
            if self.nat_set() and self.nft_config.is_file():
                self._must(["nft", "-f", str(self.nft_config)])
                result["nat"] = f"restored from {self.nft_config}"
            else:
                result["nat"] = "skipped: no firewall ruleset"
        except (CommandFailed, OSError, subprocess.TimeoutExpired) as exc:
            result["nat"] = f"failed: {exc}"
        try:
            if self.wg_up():
                live = set(self._must(["wg", "show", self.interface, "peers"]).split())
                result["dns"] = self.dns(state, [p for p in state["peers"] if p["public_key"] in live])
            else:
                result["dns"] = f"skipped: {self.interface} is not running"
        except (CommandFailed, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            result["dns"] = f"failed: {exc}"
        return result
