"""The HTTP layer: one module and blueprint per area, over the managers; the access gate in gate.py."""

from __future__ import annotations

from .auth import account_bp, auth_bp
from .backup import backup_bp, setup_restore_bp
from .ca import ca_bp
from .calendars import calendars_bp
from .ddns import ddns_bp
from .exits import exits_bp
from .health import health_bp
from .links import links_bp
from .mail import mail_bp
from .netsvc import dhcp_bp, dns_bp, firewall_bp, ntp_bp
from .peer_sync import peer_sync_bp
from .peers import peers_bp
from .runs import runs_bp
from .services import logs_bp, services_bp
from .settings import settings_bp
from .setup import setup_bp
from .state import state_bp
from .store import containers_bp, store_bp
from .system import system_bp
from .users import users_bp
from .wireguard import wireguard_bp

BLUEPRINTS = [
    health_bp,
    setup_bp,
    auth_bp,
    account_bp,
    runs_bp,
    peers_bp,
    wireguard_bp,
    calendars_bp,
    mail_bp,
    exits_bp,
    links_bp,
    peer_sync_bp,
    users_bp,
    settings_bp,
    state_bp,
    services_bp,
    system_bp,
    logs_bp,
    ca_bp,
    ddns_bp,
    dns_bp,
    dhcp_bp,
    ntp_bp,
    firewall_bp,
    store_bp,
    containers_bp,
    backup_bp,
    setup_restore_bp,
]
