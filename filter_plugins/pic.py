"""Ansible filters over PIC's pure logic (api/pic_api/core). Thin adapters only."""

from __future__ import annotations

import os
import sys

try:
    import pic_api.core  # noqa: F401
except ImportError:  # not installed: use the copy in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "api"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from pic_api.core import addressing, ddns, ovpn, peerhosts, schema, validators, wgkeys, zone  # noqa: E402


def pic_state_vars(state):
    """Validate a cell state and return its pic_* variables."""
    try:
        return schema.state_to_vars(state)
    except schema.StateError as exc:
        lines = "; ".join(f"{k}: {v}" for k, v in sorted(exc.fields.items()))
        raise AnsibleFilterError(f"invalid cell state: {lines}") from exc


def pic_wg_pubkey(private_key):
    """The WireGuard public key of a private key."""
    try:
        return wgkeys.public_key(private_key)
    except validators.ValidationError as exc:
        raise AnsibleFilterError(f"pic_wg_pubkey: {exc}") from exc


def pic_wg_valid_key(value):
    return wgkeys.is_valid_key(value)


def pic_openvpn_refused(options):
    """The directive lines of an OpenVPN exit that openvpn must not be given (core/ovpn.py's whitelist)."""
    return [line for line in options if ovpn.option_error(line)]


def pic_peer_hosts(peers, zone_name):
    """The peers' hosts file (``<ip> <name>.<zone>`` lines) the DNS server reads; pic-agent writes
    the same text when a peer changes."""
    try:
        return peerhosts.render(peers, zone_name)
    except ValueError as exc:
        raise AnsibleFilterError(f"pic_peer_hosts: {exc}") from exc


def pic_not_installed(packages, dpkg_status=None):
    """The packages of ``packages`` that ``dpkg_status`` (the output of site.yml's
    ``dpkg-query --show --showformat='${db:Status-Abbrev}${Package}\\n'``) does not list as
    installed: all of them when there is no such output. site.yml reads it once before the roles, so
    a role whose packages are all there skips its apt task (a no-op converge never opens apt's
    cache); it is not read again when a role installs packages, which only makes a later role run
    apt for a package already there. Alone (molecule), a role has no such output and always runs
    apt. (dpkg-query, not package_facts: the same answer about 1-2 s sooner, without apt's cache.)"""
    installed = {line[3:].strip() for line in (dpkg_status or "").splitlines() if line[1:2] == "i"}
    return [p for p in packages if p not in installed]


def pic_stale_tunnels(files, wanted):
    """The interfaces of the tunnels a role's `find` found (its `<interface>.conf` files) that the
    role no longer wants: the ones to stop and remove (exits' WireGuard and OpenVPN, cell links)."""
    wanted = set(wanted)
    names = (os.path.basename(f["path"]).removesuffix(".conf") for f in files)
    return [name for name in names if name not in wanted]


def pic_zone_serial(previous=None):
    """The next YYYYMMDDnn zone serial after ``previous``."""
    try:
        return zone.next_serial(previous)
    except ValueError as exc:
        raise AnsibleFilterError(f"pic_zone_serial: {exc}") from exc


def pic_dns_records(records):
    """The records other roles publish, checked by one rule for both DNS servers (core.zone)."""
    try:
        return zone.check_records(records)
    except ValueError as exc:
        raise AnsibleFilterError(f"pic_dns_records: {exc}") from exc


def pic_dns_records_error(records):
    """Why the records are refused (the first invalid one), or '' (a task's clean failure message)."""
    try:
        zone.check_records(records)
    except ValueError as exc:
        return str(exc)
    return ""


def pic_valid_name(value):
    return validators.error_of(validators.check_label, value) is None


def pic_valid_domain(value):
    return validators.error_of(validators.check_domain, value) is None


def pic_next_vpn_address(vpn_subnet, used=()):
    try:
        return addressing.next_free_address(vpn_subnet, used)
    except addressing.AddressError as exc:
        raise AnsibleFilterError(f"pic_next_vpn_address: {exc}") from exc


def pic_cell_vpn_address(vpn_subnet):
    try:
        return addressing.cell_address(vpn_subnet)
    except addressing.AddressError as exc:
        raise AnsibleFilterError(f"pic_cell_vpn_address: {exc}") from exc


def pic_pick_vpn_subnet(avoid=()):
    """A random /24 of addressing.VPN_POOL clear of ``avoid`` (a headless setup's VPN subnet)."""
    try:
        return addressing.pick_vpn_subnet(list(avoid))
    except addressing.AddressError as exc:
        raise AnsibleFilterError(f"pic_pick_vpn_subnet: {exc}") from exc


def pic_subnets_overlap(a, b):
    try:
        return addressing.overlaps(a, b)
    except addressing.AddressError as exc:
        raise AnsibleFilterError(f"pic_subnets_overlap: {exc}") from exc


def pic_found_lan(default_ipv4):
    """The cell's LAN from the host's default IPv4 interface (the fact ansible_default_ipv4), as
    pic_lan_interface, pic_lan_subnet, pic_lan_address, pic_dhcp_range. Without one, the schema's
    defaults."""
    ipv4 = default_ipv4 if isinstance(default_ipv4, dict) else {}
    found = {key: schema.DEFAULT_NETWORK[key] for key in ("lan_interface", "lan_subnet", "lan_address", "dhcp_range")}
    if ipv4.get("interface"):
        found["lan_interface"] = ipv4["interface"]
    if ipv4.get("address") and ipv4.get("netmask"):
        try:
            found.update(addressing.lan_of(ipv4["address"], ipv4["netmask"]))
        except addressing.AddressError as exc:
            raise AnsibleFilterError(f"pic_found_lan: {exc}") from exc
    return {f"pic_{key}": value for key, value in found.items()}


def pic_acme_names(domain, services=()):
    """The names on the cell's DNS-01 certificate: the domain and those of its services under it."""
    return ddns.acme_names(domain, services)


class FilterModule:
    def filters(self):
        return {
            "pic_state_vars": pic_state_vars,
            "pic_wg_pubkey": pic_wg_pubkey,
            "pic_wg_valid_key": pic_wg_valid_key,
            "pic_zone_serial": pic_zone_serial,
            "pic_peer_hosts": pic_peer_hosts,
            "pic_openvpn_refused": pic_openvpn_refused,
            "pic_not_installed": pic_not_installed,
            "pic_stale_tunnels": pic_stale_tunnels,
            "pic_dns_records": pic_dns_records,
            "pic_dns_records_error": pic_dns_records_error,
            "pic_valid_name": pic_valid_name,
            "pic_valid_domain": pic_valid_domain,
            "pic_next_vpn_address": pic_next_vpn_address,
            "pic_cell_vpn_address": pic_cell_vpn_address,
            "pic_pick_vpn_subnet": pic_pick_vpn_subnet,
            "pic_subnets_overlap": pic_subnets_overlap,
            "pic_found_lan": pic_found_lan,
            "pic_acme_names": pic_acme_names,
        }
