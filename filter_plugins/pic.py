"""Ansible filters over PIC's pure logic (api/pic_api/core). Thin adapters only."""

from __future__ import annotations

import os
import sys

try:
    import pic_api.core  # noqa: F401
except ImportError:  # not installed: use the copy in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "api"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from pic_api.core import addressing, schema, validators, wgkeys, zone  # noqa: E402


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


def pic_zone_serial(previous=None):
    """The next YYYYMMDDnn zone serial after ``previous``."""
    try:
        return zone.next_serial(previous)
    except ValueError as exc:
        raise AnsibleFilterError(f"pic_zone_serial: {exc}") from exc


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


def pic_subnets_overlap(a, b):
    try:
        return addressing.overlaps(a, b)
    except addressing.AddressError as exc:
        raise AnsibleFilterError(f"pic_subnets_overlap: {exc}") from exc


class FilterModule:
    def filters(self):
        return {
            "pic_state_vars": pic_state_vars,
            "pic_wg_pubkey": pic_wg_pubkey,
            "pic_wg_valid_key": pic_wg_valid_key,
            "pic_zone_serial": pic_zone_serial,
            "pic_valid_name": pic_valid_name,
            "pic_valid_domain": pic_valid_domain,
            "pic_next_vpn_address": pic_next_vpn_address,
            "pic_cell_vpn_address": pic_cell_vpn_address,
            "pic_subnets_overlap": pic_subnets_overlap,
        }
