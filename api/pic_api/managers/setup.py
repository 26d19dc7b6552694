"""The first-run wizard's backend, and the headless path that skips it."""

from __future__ import annotations

from typing import Any

from ..core import schema
from ..core.validators import (
    ValidationError,
    check_choice,
    check_domain,
    check_interface,
    check_ipv4,
    check_ipv4_cidr,
    check_label,
    check_password,
    check_timezone,
)
from .auth import AuthManager
from .changes import ChangeManager
from .errors import Conflict, InvalidInput
from .files import file_lock
from .runner import Run
from .setupcode import SetupCode
from .users import service_hash

# The LAN values of the network the wizard shows (as found) and may change.
LAN_FIELDS = ("lan_interface", "lan_subnet", "lan_address", "dhcp_range")
SETUP_FIELDS = {
    "cell_name",
    "domain_mode",
    "domain",
    "timezone",
    "admin_password",
    "services",
    "upstream_dns",
    *LAN_FIELDS,
}
ADMIN = "admin"


def https_urls(state: dict[str, Any]) -> list[str]:
    """Where the UI answers once the setup's converge is done: the cell's name, then its LAN address
    (the caddy role's sites; after setup :8081 serves only the page that leads there)."""
    urls = [f"https://{state['cell']['domain']}/"]
    if state.get("network", {}).get("lan_address"):
        urls.append(f"https://{state['network']['lan_address']}/")
    return urls


def validate_setup(body: Any) -> dict[str, Any]:
    """Check the wizard's answers; raises InvalidInput naming every refused field."""
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key in body:
        if key not in SETUP_FIELDS:
            errors[key] = "unknown field"

    def take(key: str, fn: Any, *args: Any, required: bool = True) -> None:
        if key not in body:
            if required:
                errors[key] = f"{key} is required"
            return
        try:
            out[key] = fn(body[key], *args)
        except ValidationError as exc:
            errors[key] = str(exc)

    take("cell_name", check_label, "cell name")
    take("domain_mode", check_choice, schema.DOMAIN_MODES, "domain mode")
    take("timezone", check_timezone)
    take("admin_password", check_password, "admin password")
    take("domain", check_domain, required=out.get("domain_mode") == "custom")
    mode, name = out.get("domain_mode"), out.get("cell_name")
    if mode in ("internal", "pic_ngo") and name and "domain" in out and out["domain"] != schema.domain_for(name, mode):
        errors["domain"] = f"with domain mode {mode} the domain is {schema.domain_for(name, mode)}"
    if mode == "custom" and out.get("domain", "").endswith((".cell", ".pic.ngo")):
        errors["domain"] = "a custom domain must not be under .cell or .pic.ngo"
    services = body.get("services")
    if services is None:
        errors["services"] = "services is required"
    elif not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        errors["services"] = "services must be a list of service names"
    else:
        bad = [s for s in services if s not in schema.SERVICES]
        if bad:
            errors["services"] = f"unknown services {', '.join(bad)}; choose from: {', '.join(schema.SERVICES)}"
        elif len(set(services)) != len(services):
            errors["services"] = "services lists a service twice"
        else:
            out["services"] = [s for s in schema.SERVICES if s in services]
    if "upstream_dns" in body:
        ups = body["upstream_dns"]
        if not isinstance(ups, list) or len(ups) > 8:
            errors["upstream_dns"] = "upstream_dns must be a list of at most 8 IPv4 addresses"
        else:
            for i, item in enumerate(ups):
                try:
                    check_ipv4(item, "upstream resolver")
                except ValidationError as exc:
                    errors[f"upstream_dns[{i}]"] = str(exc)
            out["upstream_dns"] = ups
    # The LAN: what the cell found (GET /api/setup/options) unless the person changed it. How the
    # values fit together (the address and the pool inside the subnet) is the schema's check.
    take("lan_interface", check_interface, "LAN interface", required=False)
    take("lan_subnet", check_ipv4_cidr, "LAN subnet", required=False)
    take("lan_address", check_ipv4, "LAN address", required=False)
    if "dhcp_range" in body:
        rng = body["dhcp_range"]
        if not (isinstance(rng, list) and len(rng) == 2):
            errors["dhcp_range"] = "dhcp_range must be a list of two addresses [start, end]"
        else:
            for i, item in enumerate(rng):
                try:
                    check_ipv4(item, "DHCP range " + ("start", "end")[i])
                except ValidationError as exc:
                    errors[f"dhcp_range[{i}]"] = str(exc)
            out["dhcp_range"] = rng
    if errors:
        raise InvalidInput("the setup answers are not valid", errors)
    return out


class SetupManager:
    def __init__(self, changes: ChangeManager, auth: AuthManager, code: SetupCode, bcrypt_rounds: int = 12):
        self.changes = changes
        self.auth = auth
        self.code = code
        self.rounds = bcrypt_rounds
        # one setup at a time, also across processes (the API and `pic setup`)
        self.lock_file = changes.state.versions_dir / ".setup.lock"

    def completed(self) -> bool:
        """Fail closed: set up when the state says so, any state version exists, or an admin login exists.

        Raises Unavailable (503) when the state does not load: a damaged file never reopens the wizard."""
        return self.changes.state.setup_completed() or self.auth.has_admin()

    def build_state(self, data: dict[str, Any]) -> dict[str, Any]:
        state = schema.apply_defaults(self.changes.state.seed())
        mode = data["domain_mode"]
        state["setup_completed"] = True
        state["cell"] = {
            "name": data["cell_name"],
            "domain_mode": mode,
            "domain": data["domain"] if mode == "custom" else schema.domain_for(data["cell_name"], mode),
            "timezone": data["timezone"],
        }
        state["services"] = data["services"]
        for key in ("upstream_dns", *LAN_FIELDS):
            if key in data:
                state["network"][key] = data[key]
        user_services = [s for s in schema.USER_SERVICES if s in data["services"]]
        state["users"] = [u for u in state.get("users", []) if u.get("name") != ADMIN]
        state["users"].insert(
            0,
            {
                "name": ADMIN,
                "role": "admin",
                "password_hash": service_hash(data["admin_password"], self.rounds),
                "services": user_services,
            },
        )
        try:
            schema.validate_state(state)
        except schema.StateError as exc:
            # network.lan_subnet -> lan_subnet: the field of the request that gave the value
            fields = {k.removeprefix("network."): v for k, v in exc.fields.items()}
            raise InvalidInput("the setup answers do not give a valid cell state", fields) from exc
        return state

    def check_code(self, body: Any, remote: str = "") -> None:
        """The wizard's first step: is this the setup code? (409 once the cell is set up.)"""
        if self.completed():
            raise Conflict("the cell is already set up")
        self.code.verify(body, remote)

    def setup(self, body: Any, converge: bool = True, remote: str = "", need_code: bool = True) -> Run | None:
        """Validate, store the state and the admin login, and queue the first converge.

        Nothing is stored when the answers are refused. The wizard's answers carry ``setup_code``;
        ``need_code=False`` and ``converge=False`` are the headless path (``pic setup``, run as root
        on the host by the api role, which is itself inside a converge).
        """
        with file_lock(self.lock_file):
            if self.completed():
                raise Conflict("the cell is already set up")
            if need_code:
                self.code.verify(body, remote)
            answers = {k: v for k, v in body.items() if k != "setup_code"} if isinstance(body, dict) else body
            data = validate_setup(answers)
            state = self.build_state(data)
            self.auth.set_password(ADMIN, data["admin_password"], "admin")
            version = self.changes.state.save(state)
            self.code.remove()
        if not converge:
            return None
        return self.changes.converge("first converge after setup", version=version)
