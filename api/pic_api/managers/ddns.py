"""Dynamic DNS: the state's ddns section, the providers' credentials (a 0600 file beside the state)
and what the cell's updater (pic-ddns, run by a timer as root) last did.

A change is checked against the provider before anything is saved: a provider that blames the
credentials or the name (badauth, KO, a Cloudflare authentication error, a taken pic_ngo name) makes
a 400 naming that field, and neither the credentials nor the state change. A provider that cannot
be reached does not block the change: the updater retries with backoff and its status says why.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import ddns, schema
from .changes import ChangeManager
from .errors import InvalidInput, checked
from .files import file_lock, write_atomic
from .runs import Run

STATUS_KEYS = ("provider", "hostname", "public", "accepted", "last_answer", "last_success", "last_error",
               "last_error_at", "checked_at", "failures", "blocked", "next_attempt")


class DdnsManager:
    def __init__(self, changes: ChangeManager, credentials_file: Path, updater_config: Path, status_file: Path,
                 fallback_endpoint: str = ""):
        self.changes = changes
        self.credentials_file = Path(credentials_file)
        self.updater_config = Path(updater_config)
        self.status_file = Path(status_file)
        self.fallback_endpoint = fallback_endpoint  # the host's own address (config.wg_endpoint)

    # --- reading -------------------------------------------------------------------------------
    def _credentials(self) -> dict[str, dict[str, str]]:
        data = ddns.read_json(str(self.credentials_file), {})
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def _config(self) -> dict[str, Any]:
        """The updater's configuration on this cell (its provider URLs, CA bundle, address sources)."""
        return ddns.read_json(str(self.updater_config), {})

    def seen_through(self, device: str) -> tuple[str, str]:
        """(the IPv4 address the cell's address source answers when asked through DEVICE, that source):
        what the internet sees through an exit's tunnel. The source is the updater's ``ipv4_source``
        (one place says where the cell asks for its public address). ``ddns.ProviderError`` when there
        is no source, it cannot be reached through DEVICE, or it answers no public address."""
        config = self._config()
        source = config.get("ipv4_source") or ""
        if not source:
            raise ddns.ProviderError("the cell has no address source (ddns_ipv4_source)")
        http = ddns.DeviceHttp(device, config.get("ca_bundle") or None, min(float(config.get("timeout", 15)), 10.0))
        return ddns.public_address(http, source, "ipv4", bool(config.get("accept_private"))), source

    def endpoint(self, state: Mapping[str, Any]) -> str:
        """The host devices dial from outside (``schema.public_endpoint``, else the host's address)."""
        return schema.public_endpoint(state) or self.fallback_endpoint or state["cell"]["domain"]

    def status(self) -> dict[str, Any] | None:
        raw = ddns.read_json(str(self.status_file), {})
        return {k: raw.get(k) for k in STATUS_KEYS} if raw else None

    def get(self) -> dict[str, Any]:
        state = self.changes.state.load()
        section = state.get("ddns") or {}
        provider, hostname = schema.ddns_target(state)
        stored = self._credentials()
        status = self.status()
        if status and (status.get("provider"), status.get("hostname")) != (provider, hostname):
            status = None  # about an earlier choice: the updater has not run with this one yet
        return {
            "settings": {
                "provider": section.get("provider", "none"),
                "hostname": section.get("hostname", ""),
                "zone": section.get("zone", ""),
                "ipv6": section.get("ipv6", True),
                "wireguard_endpoint": state["network"].get("wireguard_endpoint", ""),
                "acme_challenge": state["cell"]["acme_challenge"],
                "acme_delegation": dict(section.get("acme_delegation") or {}),
            },
            "domain_mode": state["cell"]["domain_mode"],
            "domain": state["cell"]["domain"],
            "provider": provider,
            "hostname": hostname,
            "endpoint": self.endpoint(state),
            # which credentials are stored, never their values (a username may be shown)
            "credentials": {
                p: {k: (v if k in ddns.NOT_SECRET else True) for k, v in fields.items()}
                for p, fields in stored.items()
            },
            "needs": {p: list(fields) for p, fields in schema.DDNS_CREDENTIALS.items()},
            "status": status,
            **self.acme(state),
        }

    @staticmethod
    def acme(state: Mapping[str, Any]) -> dict[str, Any]:
        """The names on the DNS-01 certificate and, with a CNAME delegation, the records the owner of
        those names must create once (one per name, as lego follows them)."""
        delegation = (state.get("ddns") or {}).get("acme_delegation") or {}
        names = ddns.acme_names(state["cell"]["domain"], state.get("services") or ())
        return {
            "acme_names": names,
            "acme_cnames": [ddns.acme_cname(n, delegation["zone"]) for n in names] if delegation.get("zone") else [],
        }

    # --- changing ------------------------------------------------------------------------------
    def _verify(self, provider: str, hostname: str, zone: str | None, creds: Mapping[str, str]) -> None:
        """Ask the provider whether the credentials (or the pic_ngo name) are good; 400 when it says no."""
        config = {**self._config(), "provider": provider, "hostname": hostname, "zone": zone}
        http = ddns.Http(config.get("ca_bundle") or None, float(config.get("timeout", 15)))
        try:
            addresses = {}
            if provider != "pic_ngo":
                source = config.get("ipv4_source") or "https://ip4.pic.ngo/"
                addresses["ipv4"] = ddns.public_address(http, source, "ipv4", bool(config.get("accept_private")))
            ddns.make_provider(config, creds, http).verify(addresses)
        except ddns.ProviderError as exc:
            if not exc.fatal:
                return  # unreachable, or trouble at the provider: the updater retries and reports
            needs = schema.DDNS_CREDENTIALS[provider]
            message = ddns.scrub(exc.message, creds)
            field = exc.field
            if field in needs:
                field = f"credentials.{field}"
            elif field not in ("hostname", "zone", "cell_name"):
                field = "credentials" if needs else "provider"
            if field == "cell_name":
                field = "provider"  # this request does not name the cell; the wizard's check does
            raise InvalidInput(f"{provider} refused: {message}", {field: message}) from None

    def _verify_delegation(self, delegation: Mapping[str, Any], secret: str) -> None:
        """Ask the delegation's DNS server whether it knows the key; 400 when it says no."""
        try:
            ddns.verify_delegation(delegation, secret, float(self._config().get("timeout", 10)))
        except ddns.ProviderError as exc:
            if not exc.fatal:
                return  # unreachable: lego's run says why, and the page shows the converge
            raise InvalidInput(f"the delegation's DNS server refused: {exc.message}",
                               {exc.field or "acme_delegation": exc.message}) from None

    def update(self, body: Any, preview: bool = False) -> Run:
        data = checked(schema.DDNS, body)
        given = dict(data.get("credentials") or {})
        secret = data.get("acme_delegation_secret")

        def change(state: dict[str, Any]) -> None:
            state.setdefault("ddns", {})
            schema.DDNS.patch(state, data)
            if "wireguard_endpoint" in data:
                if data["wireguard_endpoint"]:
                    state["network"]["wireguard_endpoint"] = data["wireguard_endpoint"]
                else:
                    state["network"].pop("wireguard_endpoint", None)

        old = self.changes.state.load()
        proposed = copy.deepcopy(old)
        change(proposed)
        try:
            schema.validate_state(proposed)
        except schema.StateError as exc:
            raise InvalidInput("the change does not give a valid cell state", schema.DDNS.request_fields(exc.fields)
                               ) from None
        provider, hostname = schema.ddns_target(proposed)
        needs = schema.DDNS_CREDENTIALS[provider]
        unused = sorted(set(given) - set(needs))
        if unused:
            raise InvalidInput(
                f"{provider} does not use {', '.join(unused)}",
                {f"credentials.{k}": f"not used by {provider}" for k in unused},
            )
        stored = self._credentials()
        creds = {**stored.get(provider, {}), **given}
        missing = [k for k in needs if not creds.get(k)]
        if missing:
            fields = {f"credentials.{k}": f"required for {provider}" for k in missing}
            raise InvalidInput(f"{provider} needs {', '.join(missing)}", fields)
        delegation = (proposed.get("ddns") or {}).get("acme_delegation") or {}
        if secret and not delegation:
            raise InvalidInput("a TSIG secret needs a CNAME delegation",
                               {"acme_delegation_secret": "only used with a CNAME delegation (acme_delegation)"})
        if delegation and not (secret or stored.get(ddns.DELEGATED, {}).get("tsig_secret")):
            raise InvalidInput("the CNAME delegation needs its TSIG secret",
                               {"acme_delegation_secret": "required for the CNAME delegation"})
        old_delegation = (old.get("ddns") or {}).get("acme_delegation") or {}
        if delegation and (secret or delegation != old_delegation):
            self._verify_delegation(delegation, secret or stored[ddns.DELEGATED]["tsig_secret"])
        zone = (proposed.get("ddns") or {}).get("zone")
        target_changed = schema.ddns_target(old) != (provider, hostname) or (old.get("ddns") or {}).get("zone") != zone
        if provider != "none" and (given or target_changed):
            self._verify(provider, hostname, zone, creds)
        secrets = ("credentials", "acme_delegation_secret")
        what = "connectivity: " + ", ".join(sorted(k for k in data if k not in secrets) or ["credentials"])
        if preview:
            run, _ = self.changes.preview(change, what, schema.DDNS)
            return run
        if given:
            self._save_credentials(provider, creds)
        if secret:
            self._save_credentials(ddns.DELEGATED, {"tsig_secret": secret})
        elif not delegation and ddns.DELEGATED in stored:
            self._save_credentials(ddns.DELEGATED, None)  # the delegation is gone: so is its key
        run, _ = self.changes.apply(change, what, schema.DDNS)
        return run

    def _save_credentials(self, section: str, creds: Mapping[str, str] | None) -> None:
        """Replace (None: remove) a section of the credentials file: a provider's, or the delegation's."""
        with file_lock(self.credentials_file.with_name(self.credentials_file.name + ".lock")):
            data = self._credentials()
            if creds is None:
                data.pop(section, None)
            else:
                data[section] = dict(creds)
            write_atomic(self.credentials_file, json.dumps(data, indent=2, sort_keys=True) + "\n", 0o600)

    def available(self, label: str) -> dict[str, Any]:
        """Whether <label>.pic.ngo is free, for the wizard: ``available`` is None when the service does
        not answer (which must not block the wizard), with its reason."""
        config = self._config()
        hostname = schema.domain_for(label, "pic_ngo")
        http = ddns.Http(config.get("ca_bundle") or None, 10)
        provider = ddns.make_provider({**config, "provider": "pic_ngo", "hostname": hostname}, {}, http)
        try:
            free = provider.available()  # type: ignore[attr-defined]
        except ddns.ProviderError as exc:
            return {"name": hostname, "available": None, "error": exc.message}
        return {"name": hostname, "available": free, "error": None}
