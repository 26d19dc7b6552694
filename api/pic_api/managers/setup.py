"""The first-run wizard's backend, and the headless path that skips it."""

from __future__ import annotations

from typing import Any

from ..core import addressing, schema
from .auth import AuthManager
from .changes import ChangeManager
from .errors import Conflict, InvalidInput, checked
from .files import file_lock
from .runs import Run
from .setupcode import SetupCode
from .users import service_hash

# The LAN values of the network the wizard shows (as found) and may change.
LAN_FIELDS = ("lan_interface", "lan_subnet", "lan_address", "dhcp_range")
ADMIN = "admin"


def https_urls(state: dict[str, Any]) -> list[str]:
    """Where the UI answers once the setup's converge is done: the cell's name, then its LAN address
    (the caddy role's sites; after setup :8081 serves only the page that leads there)."""
    urls = [f"https://{state['cell']['domain']}/"]
    if state.get("network", {}).get("lan_address"):
        urls.append(f"https://{state['network']['lan_address']}/")
    return urls


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
        """The seed with the wizard's answers: each answer goes to its state path (``schema.SETUP``)."""
        seed = self.changes.state.seed()
        state = schema.apply_defaults(seed)
        state["setup_completed"] = True
        schema.SETUP.patch(state, data)
        if "vpn_subnet" not in seed.get("network", {}):
            # no inventory chose one: a random /24 (docs/architecture.md), clear of the LAN
            net = state["network"]
            net["vpn_subnet"] = addressing.pick_vpn_subnet([net["lan_subnet"]])
        mode = data["domain_mode"]
        if "domain" not in data:  # the domain follows the name, unless the mode is custom (then the schema asks)
            state["cell"].pop("domain", None)
            if mode != "custom":
                state["cell"]["domain"] = schema.domain_for(data["cell_name"], mode)
        state["services"] = [s for s in schema.SERVICES if s in data["services"]]
        user_services = [s for s, needs in schema.USER_SERVICE_NEEDS.items() if needs in data["services"]]
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
            fields = schema.SETUP.request_fields(exc.fields)
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
            data = checked(schema.SETUP, answers)
            state = self.build_state(data)
            self.auth.set_password(ADMIN, data["admin_password"], "admin")
            version = self.changes.state.save(state)
            self.code.remove()
        if not converge:
            return None
        return self.changes.converge("first converge after setup", version=version)
