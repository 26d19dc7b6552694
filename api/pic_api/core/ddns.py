"""Dynamic DNS: publish the cell's public address under its name, and only when it changed.

Standard library only (the pic_ngo provider also needs dnspython: Debian's python3-dnspython on a
cell), so the ddns role installs this very file as /usr/local/sbin/pic-ddns and a systemd timer runs
it every 5 minutes (one run, then exit; not a thread of the API):

    pic-ddns [--config /etc/pic/ddns.json] [--force]
    pic-ddns [--config /etc/pic/ddns.json] --acme


Each run finds the public IPv4 (and IPv6 where the cell has one) from the configured sources, compares
them with what the provider last accepted (the status file), and sends an update only when one
changed: providers treat repeated no-change updates as abuse. A refused update backs off (doubling
from ``retry`` to ``retry_max`` seconds); an answer that says the credentials or the name are wrong
(badauth, nohost, KO, ...) stops updates until the settings or credentials change. The status file
says what happened in the provider's own words; credentials come from a 0600 file and never appear
in the status, the output or an error message.

The API imports the same classes to check credentials before it saves them (``Provider.verify``).

``--acme`` gets or renews the cell's certificate by ACME DNS-01 with lego (Debian's package: Debian's
Caddy has no DNS plugins), through the DDNS provider: rfc2136 with the cell's own TSIG key for
pic_ngo, Cloudflare's or Duck DNS's API with their stored token; or, for any provider (No-IP and
FreeDNS have no TXT API), through a CNAME delegation of ``_acme-challenge`` into a zone the cell may
update by RFC 2136 with a TSIG key (``acme.delegation``; its secret in the credentials file). A new
certificate is copied to the files Caddy loads by path, and Caddy is reloaded.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import os
import secrets
import socket
import ssl
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

USER_AGENT = "PIC-pic-ddns/1.0"
FAMILIES = ("ipv4", "ipv6")
PIC_NGO_ZONE = "pic.ngo"
NOT_SECRET = frozenset({"username"})  # credential fields that may be shown


class ProviderError(Exception):
    """An update the provider refused or that did not reach it. ``fatal``: do not retry until the
    settings or credentials change (the provider said they are wrong, or that it blocked us)."""

    def __init__(self, message: str, fatal: bool = False, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.field = field  # the credential or setting the answer blames, for the API's 400


class Http:
    """A small HTTP client (urllib) that trusts the configured CA bundle and never follows a redirect
    to another scheme; answers of every status come back as (status, body)."""

    def __init__(self, ca_bundle: str | None = None, timeout: float = 20.0, user_agent: str = USER_AGENT):
        self.timeout = timeout
        self.user_agent = user_agent
        self.context = ssl.create_default_context(cafile=ca_bundle or None)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, str]:
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("User-Agent", self.user_agent)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with self._open(req) as resp:
                return resp.status, resp.read(65536).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(65536).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"could not reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None

    def _open(self, req: urllib.request.Request) -> Any:
        return urllib.request.urlopen(req, timeout=self.timeout, context=self.context)


class DeviceHttp(Http):
    """An ``Http`` whose connections leave through one network interface, whatever the routing
    tables say (SO_BINDTODEVICE, which Linux 5.7 and later grant without privilege): what an
    address source answers through an exit's tunnel is the address the internet sees there. IPv4
    only, as the exits are. The source's name, if it is one, is looked up by the host's resolver."""

    def __init__(self, device: str, ca_bundle: str | None = None, timeout: float = 20.0,
                 user_agent: str = USER_AGENT):
        super().__init__(ca_bundle, timeout, user_agent)
        self.device = device

    def _connect(self, address: tuple[str, int], timeout: Any = None, source_address: Any = None,
                 *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        error: OSError = OSError(f"no IPv4 address for {host}")
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.device.encode())
                sock.settimeout(timeout if isinstance(timeout, (int, float)) else self.timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = OSError(f"{exc.strerror or exc} (through {self.device})")
        raise error

    def _open(self, req: urllib.request.Request) -> Any:
        def through(cls: type[http.client.HTTPConnection]) -> Any:
            def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
                conn = cls(host, **kwargs)
                conn._create_connection = self._connect  # its every socket
                return conn
            return connection

        class Plain(urllib.request.HTTPHandler):
            def http_open(self, r: urllib.request.Request) -> Any:
                return self.do_open(through(http.client.HTTPConnection), r)

        class Secure(urllib.request.HTTPSHandler):
            def https_open(self, r: urllib.request.Request) -> Any:
                return self.do_open(through(http.client.HTTPSConnection), r, context=self._context)

        return urllib.request.build_opener(Plain(), Secure(context=self.context)).open(req, timeout=self.timeout)


# --- providers -------------------------------------------------------------------------------------
class Provider:
    """One DDNS service. ``update`` publishes the addresses and returns the provider's answer."""

    name = ""
    needs: tuple[str, ...] = ()  # credential fields
    default_url = ""

    def __init__(
        self,
        http: Http,
        hostname: str,
        credentials: Mapping[str, str],
        urls: Mapping[str, str] | None = None,
        zone: str | None = None,
        **extra: Any,
    ):
        self.http = http
        self.hostname = hostname
        self.credentials = dict(credentials)
        urls = urls or {}
        self.base = (urls.get(self.name) or self.default_url).rstrip("/")
        self.urls = urls
        self.zone = zone or ".".join(hostname.split(".")[-2:])
        self.extra = extra

    def missing(self) -> list[str]:
        return [k for k in self.needs if not self.credentials.get(k)]

    def update(self, addresses: Mapping[str, str]) -> str:
        raise NotImplementedError

    def verify(self, addresses: Mapping[str, str]) -> str:
        """Prove the credentials work. For the update-URL services that is an update with the cell's
        current address (the same one the timer would send next)."""
        return self.update(addresses)

    def register(self) -> str | None:
        """What must happen once before the first update (pic_ngo registers its key)."""
        return None


class NoIp(Provider):
    """No-IP: the dyndns2 protocol, GET /nic/update?hostname=&myip= with basic auth."""

    name = "noip"
    needs = ("username", "password")
    default_url = "https://dynupdate.no-ip.com"
    # answers after which a client must stop until a person changes something (No-IP's documentation)
    FATAL = {
        "nohost": ("the hostname does not exist under this account", "hostname"),
        "badauth": ("the username or password is wrong", "password"),
        "badagent": ("No-IP blocked this client", None),
        "!donator": ("this feature needs a paid account", None),
        "abuse": ("No-IP blocked the hostname for abuse", "hostname"),
    }

    def update(self, addresses: Mapping[str, str]) -> str:
        myip = ",".join(addresses[f] for f in FAMILIES if addresses.get(f))
        query = urllib.parse.urlencode({"hostname": self.hostname, "myip": myip})
        auth = base64.b64encode(f"{self.credentials['username']}:{self.credentials['password']}".encode()).decode()
        status, body = self.http.request(
            "GET", f"{self.base}/nic/update?{query}", {"Authorization": f"Basic {auth}"}
        )
        answer = body.strip()
        word = answer.split()[0] if answer else ""
        if status == 200 and word in ("good", "nochg"):
            return answer
        if word in self.FATAL:
            meaning, field = self.FATAL[word]
            raise ProviderError(f"{answer}: {meaning}", fatal=True, field=field)
        if word == "911":
            raise ProviderError(f"{answer}: a problem at No-IP, trying again later")
        raise ProviderError(f"unexpected answer (HTTP {status}): {answer[:200]}")


class DuckDns(Provider):
    """Duck DNS: GET /update?domains=&token=&ip=[&ipv6=]; the body is OK or KO."""

    name = "duckdns"
    needs = ("token",)
    default_url = "https://www.duckdns.org"
    SUFFIX = ".duckdns.org"

    def update(self, addresses: Mapping[str, str]) -> str:
        params = {"domains": self.hostname.removesuffix(self.SUFFIX), "token": self.credentials["token"]}
        if addresses.get("ipv4"):
            params["ip"] = addresses["ipv4"]
        if addresses.get("ipv6"):
            params["ipv6"] = addresses["ipv6"]
        status, body = self.http.request("GET", f"{self.base}/update?{urllib.parse.urlencode(params)}")
        answer = body.strip()
        if status == 200 and answer.startswith("OK"):
            return answer
        if answer.startswith("KO"):
            raise ProviderError("KO: Duck DNS refused the token or the domain", fatal=True, field="token")
        raise ProviderError(f"unexpected answer (HTTP {status}): {answer[:200]}")


class Cloudflare(Provider):
    """Cloudflare API v4 with a bearer token: the zone by name, the record by name, PATCH its content,
    or create the record when it is missing."""

    name = "cloudflare"
    needs = ("api_token",)
    default_url = "https://api.cloudflare.com/client/v4"
    RECORD_TYPES = {"ipv4": "A", "ipv6": "AAAA"}
    AUTH_CODES = {9103, 9106, 9109, 10000, 10001}  # Cloudflare's authentication error codes

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.credentials['api_token']}"}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        status, text = self.http.request(method, f"{self.base}{path}", headers, body)
        try:
            data = json.loads(text)
        except ValueError:
            raise ProviderError(f"unexpected answer (HTTP {status}): {text.strip()[:200]}") from None
        if status == 200 and isinstance(data, dict) and data.get("success"):
            return data.get("result")
        errors = data.get("errors") if isinstance(data, dict) else None
        words = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors or [] if isinstance(e, dict))
        codes = {e.get("code") for e in errors or [] if isinstance(e, dict)}
        fatal = status in (401, 403) or bool(codes & self.AUTH_CODES)
        raise ProviderError(
            f"Cloudflare answered HTTP {status}: {words or text.strip()[:200]}",
            fatal=fatal,
            field="api_token" if fatal else None,
        )

    def _zone_id(self) -> str:
        zones = self._call("GET", "/zones?" + urllib.parse.urlencode({"name": self.zone}))
        if not zones:
            raise ProviderError(f"the zone {self.zone} is not in this account (or the token may not read it)",
                                fatal=True, field="zone")
        return str(zones[0]["id"])

    def update(self, addresses: Mapping[str, str]) -> str:
        zone_id = self._zone_id()
        done = []
        for family, rtype in self.RECORD_TYPES.items():
            ip = addresses.get(family)
            if not ip:
                continue
            query = urllib.parse.urlencode({"type": rtype, "name": self.hostname})
            records = self._call("GET", f"/zones/{zone_id}/dns_records?{query}")
            if records:
                self._call("PATCH", f"/zones/{zone_id}/dns_records/{records[0]['id']}", {"content": ip})
                done.append(f"{rtype} {ip} updated")
            else:  # ddclient users trip on a record that does not exist yet: create it
                record = {"type": rtype, "name": self.hostname, "content": ip, "ttl": 1, "proxied": False}
                self._call("POST", f"/zones/{zone_id}/dns_records", record)
                done.append(f"{rtype} {ip} created")
        return ", ".join(done)

    def verify(self, addresses: Mapping[str, str]) -> str:
        """The token is active and may read the zone; nothing is changed."""
        token = self._call("GET", "/user/tokens/verify")
        if not isinstance(token, dict) or token.get("status") != "active":
            raise ProviderError("the token is not active", fatal=True, field="api_token")
        self._zone_id()
        return f"the token may use the zone {self.zone}"


class FreeDns(Provider):
    """FreeDNS (afraid.org): the token update URL of its version 2 interface, /u/<token>/?ip=."""

    name = "freedns"
    needs = ("token",)
    default_url = "https://sync.afraid.org"
    default_url_v6 = "https://v6.sync.afraid.org"

    def update(self, addresses: Mapping[str, str]) -> str:
        answers = []
        for family in FAMILIES:
            ip = addresses.get(family)
            if not ip:
                continue
            base = self.base if family == "ipv4" else (self.urls.get("freedns_v6") or self.default_url_v6).rstrip("/")
            token = urllib.parse.quote(self.credentials["token"], safe="")
            status, body = self.http.request("GET", f"{base}/u/{token}/?{urllib.parse.urlencode({'ip': ip})}")
            answer = body.strip()
            if status == 200 and answer.startswith(("Updated", "No IP change")):
                answers.append(answer)
                continue
            if answer.startswith("ERROR"):
                raise ProviderError(answer[:300], fatal=True, field="token")
            raise ProviderError(f"unexpected answer (HTTP {status}): {answer[:200]}")
        return " ".join(answers)


class PicNgo(Provider):
    """The project's own service: the cell registers a TSIG key it made for <name>.pic.ngo once
    (HTTP), then publishes its addresses by RFC 2136 dynamic update signed with that key. The same key
    may publish _acme-challenge TXT records (DNS-01)."""

    name = "pic_ngo"
    needs = ()
    default_url = "https://ddns.pic.ngo"
    ALGORITHM = "hmac-sha256"
    TTL = 60

    @property
    def label(self) -> str:
        return self.hostname.removesuffix("." + self.zone)

    def key(self) -> dict[str, str]:
        """The cell's TSIG key (made on first use, 0600); its name is the cell's own name."""
        path = self.extra.get("tsig_key_file")
        if not path:
            raise ProviderError("no TSIG key file configured")
        try:
            with open(path, encoding="utf-8") as fh:
                key = json.load(fh)
            if key.get("name") == self.hostname + ".":
                return key
        except FileNotFoundError:
            pass
        except ValueError:
            raise ProviderError(f"{path} is not a key file") from None
        key = {
            "name": self.hostname + ".",
            "algorithm": self.ALGORITHM,
            "secret": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        write_json(path, key, 0o600)
        return key

    def available(self) -> bool:
        status, body = self.http.request("GET", f"{self.base}/v1/names/{urllib.parse.quote(self.label)}")
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("available"), bool):
            raise ProviderError(f"unexpected answer (HTTP {status}): {body.strip()[:200]}")
        return data["available"]

    def register(self) -> str:
        key = self.key()
        payload = {"name": self.label, "key_name": key["name"], "algorithm": key["algorithm"], "secret": key["secret"]}
        status, body = self.http.request(
            "POST", f"{self.base}/v1/names", {"Content-Type": "application/json"}, json.dumps(payload).encode()
        )
        if status in (200, 201):
            return f"{self.hostname} registered"
        if status == 409:
            raise ProviderError(f"{self.hostname} is taken by another cell", fatal=True, field="cell_name")
        raise ProviderError(f"registration refused (HTTP {status}): {body.strip()[:200]}")

    def update(self, addresses: Mapping[str, str]) -> str:
        import dns.exception
        import dns.query
        import dns.rcode
        import dns.tsig
        import dns.tsigkeyring
        import dns.update

        key = self.key()
        keyring = dns.tsigkeyring.from_text({key["name"]: key["secret"]})
        msg = dns.update.UpdateMessage(
            self.zone + ".", keyring=keyring, keyname=key["name"], keyalgorithm=key["algorithm"]
        )
        for family, rtype in (("ipv4", "A"), ("ipv6", "AAAA")):
            if addresses.get(family):
                msg.replace(self.hostname + ".", self.TTL, rtype, addresses[family])
        host, port = self.server()
        try:
            answer = dns.query.tcp(msg, host, port=port, timeout=self.http.timeout)
        except dns.tsig.PeerError as exc:  # the server refused the key (BADKEY, BADSIG) or its clock (BADTIME)
            raise ProviderError(f"the DNS server refused the key: {exc.__doc__ or type(exc).__name__}",
                                fatal=not isinstance(exc, dns.tsig.PeerBadTime)) from None
        except (dns.exception.DNSException, OSError) as exc:
            raise ProviderError(f"could not reach the DNS server {host}: {exc}") from None
        rcode = dns.rcode.to_text(answer.rcode())
        if answer.rcode() == dns.rcode.NOERROR:
            return "NOERROR: " + ", ".join(f"{f} {a}" for f, a in addresses.items() if a)
        fatal = answer.rcode() in (dns.rcode.NOTAUTH, dns.rcode.REFUSED)
        raise ProviderError(f"the DNS server answered {rcode}", fatal=fatal)

    def server(self) -> tuple[str, int]:
        """The DNS server's address and port (a name is resolved here: dnspython takes addresses)."""
        server = self.extra.get("server") or "ns." + self.zone
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "53")
        return server_address(host, int(port or 53))

    def verify(self, addresses: Mapping[str, str]) -> str:
        """Whether the name is free (asked before a cell takes it; a registered name is not)."""
        if not self.available():
            raise ProviderError(f"{self.hostname} is taken by another cell", fatal=True, field="cell_name")
        return f"{self.hostname} is available"


def server_address(host: str, port: int) -> tuple[str, int]:
    """A DNS server's address and port (a name is resolved here: dnspython takes addresses)."""
    import socket

    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]"), port
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)[0][4][0], port
    except OSError as exc:
        raise ProviderError(f"could not resolve the DNS server {host}: {exc}") from None


PROVIDERS: dict[str, type[Provider]] = {p.name: p for p in (PicNgo, Cloudflare, DuckDns, NoIp, FreeDns)}


def make_provider(config: Mapping[str, Any], credentials: Mapping[str, str], http: Http | None = None) -> Provider:
    cls = PROVIDERS[config["provider"]]
    pic_ngo = config.get("pic_ngo") or {}
    return cls(
        http or Http(config.get("ca_bundle") or None, float(config.get("timeout", 20))),
        config["hostname"],
        credentials,
        urls=config.get("urls") or {},
        zone=(pic_ngo.get("zone") or PIC_NGO_ZONE) if cls is PicNgo else config.get("zone"),
        server=pic_ngo.get("server"),
        tsig_key_file=config.get("tsig_key_file"),
    )


# --- the public address ----------------------------------------------------------------------------
def public_address(http: Http, url: str, family: str, accept_private: bool = False) -> str:
    """The address a source URL answers with (plain text, the address alone), checked to be a public
    address of the family (``accept_private``: any address, for labs): a source that answers anything
    else (a captive portal's page, a private address) is an error, never published."""
    status, body = http.request("GET", url)
    text = body.strip()
    if status != 200:
        raise ProviderError(f"the address source answered HTTP {status}")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ProviderError(f"the address source answered {text[:60]!r}, not an address") from None
    if (ip.version == 4) != (family == "ipv4"):
        raise ProviderError(f"the {family} source answered {ip}")
    if not ip.is_global and not accept_private:
        raise ProviderError(f"the address source answered {ip}, which is not a public address")
    return str(ip)


# --- one run ---------------------------------------------------------------------------------------
def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def write_json(path: str, data: Any, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ddns.", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: str | None, default: Any) -> Any:
    if not path:
        return default
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return default
    return data if isinstance(data, type(default)) else default


def credentials_for(config: Mapping[str, Any]) -> dict[str, str]:
    """The provider's credentials from the 0600 file the API writes ({provider: {field: value}})."""
    section = read_json(config.get("credentials_file"), {}).get(config.get("provider"), {})
    return {k: v for k, v in section.items() if isinstance(k, str) and isinstance(v, str)}


def fingerprint(config: Mapping[str, Any], credentials: Mapping[str, str]) -> str:
    """Changes when anything an update depends on changes (a new password unblocks a 'badauth')."""
    keys = ("provider", "hostname", "zone", "ipv6", "urls", "pic_ngo")
    blob = json.dumps([{k: config.get(k) for k in keys}, dict(credentials)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def scrub(text: str, credentials: Mapping[str, str]) -> str:
    for key, value in credentials.items():
        if key not in NOT_SECRET and value and len(value) >= 3:
            text = text.replace(value, "***")
    return text


def backoff(failures: int, base: float, most: float) -> float:
    return min(base * 2 ** max(failures - 1, 0), most)


def run(config: Mapping[str, Any], force: bool = False, now: dt.datetime | None = None, http: Http | None = None
        ) -> dict[str, Any]:
    """One pass of the updater; returns (and writes) the new status."""
    now = now or now_utc()
    http = http or Http(config.get("ca_bundle") or None, float(config.get("timeout", 20)))
    provider_name = config.get("provider") or "none"
    status_file = config["status_file"]
    creds = credentials_for(config)
    fp = fingerprint(config, creds)
    status = read_json(status_file, {})
    if status.get("fingerprint") != fp:
        status = {"fingerprint": fp, "provider": provider_name, "hostname": config.get("hostname"), "failures": 0}
    status["checked_at"] = iso(now)
    if provider_name == "none" or provider_name not in PROVIDERS:
        status.update(message="no dynamic DNS provider chosen")
        write_json(status_file, status)
        return status
    if status.get("blocked") and not force:
        write_json(status_file, status)
        return status
    next_attempt = status.get("next_attempt")
    if next_attempt and not force and iso(now) < next_attempt:
        write_json(status_file, status)
        return status

    def failed(exc: ProviderError, stage: str) -> dict[str, Any]:
        status["failures"] = int(status.get("failures", 0)) + 1
        status["last_error"] = scrub(exc.message, creds)
        status["last_error_at"] = iso(now)
        status["stage"] = stage
        if exc.fatal:
            status["blocked"] = True
            status.pop("next_attempt", None)
        else:
            wait = backoff(status["failures"], float(config.get("retry", 300)), float(config.get("retry_max", 21600)))
            status["next_attempt"] = iso(now + dt.timedelta(seconds=wait))
        write_json(status_file, status)
        return status

    current: dict[str, str] = {}
    sources = {"ipv4": config.get("ipv4_source"), "ipv6": config.get("ipv6_source") if config.get("ipv6") else None}
    source_errors = {}
    for family, url in sources.items():
        if not url:
            continue
        try:
            current[family] = public_address(http, url, family, bool(config.get("accept_private")))
        except ProviderError as exc:
            source_errors[family] = exc.message
    status["public"] = dict(current)
    if not current:
        return failed(ProviderError("; ".join(source_errors.values()) or "no address source configured"), "address")
    accepted = status.setdefault("accepted", {})
    if not force and all(accepted.get(f) == ip for f, ip in current.items()):
        status.pop("next_attempt", None)
        write_json(status_file, status)
        return status  # nothing changed: nothing is sent

    provider = make_provider(config, creds, http)
    missing = provider.missing()
    if missing:
        return failed(ProviderError(f"missing credentials: {', '.join(missing)}", fatal=True), "credentials")
    try:
        if not status.get("registered"):
            registered = provider.register()
            status["registered"] = True
            if registered:
                status["last_answer"] = registered
        answer = provider.update(current)
    except ProviderError as exc:
        return failed(exc, "update")
    for family, ip in current.items():
        accepted[family] = ip
    status.update(
        last_answer=scrub(answer, creds),
        last_success=iso(now),
        last_error=None,
        failures=0,
        blocked=False,
        stage="done",
    )
    status.pop("next_attempt", None)
    write_json(status_file, status)
    return status


# lego's DNS provider per DDNS provider. Any provider (noip and freedns, which have no TXT API, too)
# may instead answer by CNAME delegation: the owner of the name points _acme-challenge.<name> at
# <name>.<delegation zone> once, and lego (which follows that CNAME, Debian's 4.9 by default)
# publishes the TXT record there by RFC 2136 with the delegation's TSIG key.
LEGO_DNS = {"pic_ngo": "rfc2136", "cloudflare": "cloudflare", "duckdns": "duckdns"}
DELEGATED = "acme_delegation"  # its section of the credentials file ({"tsig_secret": ...})
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1")
# The names on the certificate: the domain and these under it for the services the cell runs (the
# names Caddy serves).
ACME_SUBDOMAINS = ("calendar", "files", "mail")


def acme_names(domain: str, services: Any = ()) -> list[str]:
    return [domain] + [f"{s}.{domain}" for s in ACME_SUBDOMAINS if s in (services or ())]


def acme_cname(name: str, zone: str) -> dict[str, str]:
    """The record the owner of ``name`` creates once to delegate its DNS-01 challenge into ``zone``.
    One target per name: lego's rfc2136 provider replaces the TXT set at the name it updates, so
    names sharing a target would undo each other's challenge."""
    return {"name": f"_acme-challenge.{name}.", "type": "CNAME",
            "target": f"{name}.{zone.rstrip('.')}.".lower()}


def _nameserver(server: str, port: int | str = 53) -> str:
    host = str(server).strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def verify_delegation(delegation: Mapping[str, Any], secret: str, timeout: float = 10.0) -> str:
    """Ask the delegation's server for its zone's SOA, signed with the key: a server that does not
    know the key (BADKEY), or whose secret differs (BADSIG), or that does not serve the zone
    (REFUSED, NOTAUTH) makes a fatal error naming that setting; one that does not answer does not
    (lego's next run says whether it works). Nothing is changed on the server."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.tsig
    import dns.tsigkeyring

    key_name = str(delegation["key_name"]).rstrip(".") + "."
    zone = str(delegation["zone"]).rstrip(".") + "."
    host, port = server_address(str(delegation["server"]), int(delegation.get("port", 53)))
    try:
        keyring = dns.tsigkeyring.from_text({key_name: secret})
    except (ValueError, dns.exception.DNSException):
        raise ProviderError("the TSIG secret is not base64", fatal=True, field="acme_delegation_secret") from None
    query = dns.message.make_query(zone, "SOA")
    query.use_tsig(keyring, keyname=key_name, algorithm=delegation.get("algorithm", "hmac-sha256"))
    try:
        answer = dns.query.tcp(query, host, port=port, timeout=timeout)
    except dns.tsig.PeerBadKey:
        raise ProviderError(f"the DNS server does not know the key {key_name}", fatal=True,
                            field="acme_delegation.key_name") from None
    except dns.tsig.PeerError as exc:  # BADSIG (another secret or algorithm), BADTIME (the clock)
        raise ProviderError(f"the DNS server refused the key: {exc.__doc__ or type(exc).__name__}",
                            fatal=not isinstance(exc, dns.tsig.PeerBadTime), field="acme_delegation_secret") from None
    except (dns.exception.DNSException, OSError) as exc:
        raise ProviderError(f"could not reach the DNS server {host}: {exc}") from None
    if answer.rcode() in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
        raise ProviderError(f"the DNS server answered {dns.rcode.to_text(answer.rcode())} for {zone}", fatal=True,
                            field="acme_delegation.zone")
    return f"the DNS server knows the key {key_name}"


def lego_dns(config: Mapping[str, Any]) -> str:
    """The lego DNS provider of this configuration (rfc2136 for a delegation)."""
    if (config.get("acme") or {}).get("delegation"):
        return "rfc2136"
    provider = config["provider"]
    if provider not in LEGO_DNS:
        raise ProviderError(f"DNS-01 with {provider} needs a CNAME delegation of _acme-challenge "
                            "(pic_ngo, cloudflare and duckdns can answer it themselves)", fatal=True)
    return LEGO_DNS[provider]


# lego solves an rfc2136 provider's challenges one name after another and waits SEQUENCE_INTERVAL
# between them (60 s unless set): each name has its own _acme-challenge record (acme_names, acme_cname),
# so nothing needs that wait, and a cell with four names waited three minutes for its certificate.
RFC2136_TIMING = {"RFC2136_TTL": "60", "RFC2136_PROPAGATION_TIMEOUT": "180", "RFC2136_POLLING_INTERVAL": "2",
                  "RFC2136_SEQUENCE_INTERVAL": "2"}


def lego_env(config: Mapping[str, Any], credentials: Mapping[str, str]) -> dict[str, str]:
    """The environment lego reads for the DNS provider ``lego_dns`` names (secrets included: it goes
    to lego's process only, never to a file or a log)."""
    delegation = (config.get("acme") or {}).get("delegation")
    if delegation:
        secret = read_json(config.get("credentials_file"), {}).get(DELEGATED, {}).get("tsig_secret")
        if not isinstance(secret, str) or not secret:
            raise ProviderError("the CNAME delegation has no TSIG secret (stored by the API)", fatal=True)
        return {
            "RFC2136_NAMESERVER": _nameserver(delegation["server"], delegation.get("port", 53)),
            "RFC2136_TSIG_KEY": delegation["key_name"].rstrip(".") + ".",
            "RFC2136_TSIG_SECRET": secret,
            "RFC2136_TSIG_ALGORITHM": delegation.get("algorithm", "hmac-sha256") + ".",
            **RFC2136_TIMING,
            # lego follows _acme-challenge's CNAME unless this says otherwise: say it never does
            "LEGO_DISABLE_CNAME_SUPPORT": "false",
        }
    dns_provider = lego_dns(config)
    if dns_provider == "rfc2136":  # pic_ngo, with the cell's own key
        p = make_provider(config, credentials)
        key = p.key()  # type: ignore[attr-defined]
        host, port = p.server()  # type: ignore[attr-defined]
        return {
            "RFC2136_NAMESERVER": _nameserver(host, port),
            "RFC2136_TSIG_KEY": key["name"],
            "RFC2136_TSIG_SECRET": key["secret"],
            "RFC2136_TSIG_ALGORITHM": key["algorithm"] + ".",
            **RFC2136_TIMING,
        }
    if dns_provider == "cloudflare":
        return {"CF_DNS_API_TOKEN": credentials.get("api_token", "")}
    return {"DUCKDNS_TOKEN": credentials.get("token", "")}


def lego_argv(config: Mapping[str, Any], renew: bool) -> list[str]:
    """lego's command line: ``run`` for a first certificate or new names, ``renew`` when it is due."""
    a = config["acme"]
    argv = [a.get("lego", "lego"), "--accept-tos", "--email", a["email"], "--path", a["path"],
            "--dns", lego_dns(config), "--key-type", "ec256"]
    if a.get("server"):
        argv += ["--server", a["server"]]
    for resolver in a.get("resolvers") or []:
        argv += ["--dns.resolvers", resolver]
    for domain in a["domains"]:
        argv += ["--domains", domain]
    return argv + (["renew", "--days", str(a.get("renew_days", 30))] if renew else ["run"])


def acme(config: Mapping[str, Any]) -> int:
    """Get (or renew, ``renew_days`` before it ends) the certificate of ``acme.domains`` with lego by
    DNS-01, then put it where Caddy loads it and reload Caddy when it changed."""
    import grp
    import shutil
    import subprocess

    a = config["acme"]
    domains = list(a["domains"])
    if (config.get("provider") == "pic_ngo" and not a.get("delegation")
            and not read_json(config["status_file"], {}).get("registered")):
        run(config, force=True)  # the key must be registered before it can publish a TXT record
    creds = credentials_for(config)
    try:
        env = {**os.environ, **lego_env(config, creds)}
        issued = os.path.join(a["path"], "certificates", domains[0].replace("*", "_"))
        names_file = os.path.join(a["path"], "domains.json")  # the names the certificate was issued for
        # a new name (a service switched on) needs a new certificate; otherwise renew when it is due
        argv = lego_argv(config, renew=read_json(names_file, []) == domains and os.path.exists(issued + ".crt"))
    except ProviderError as exc:
        print(f"pic-ddns: {exc.message}", file=sys.stderr)
        return 2
    if a.get("ca_certificates"):
        env["LEGO_CA_CERTIFICATES"] = a["ca_certificates"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        print(scrub(line, {**creds, "secret": env.get("RFC2136_TSIG_SECRET", "")}))
    if done.returncode != 0:
        return done.returncode
    write_json(names_file, domains, 0o600)
    changed = False
    group = grp.getgrnam(a["group"]).gr_gid if a.get("group") else 0
    for src, dest, mode in ((issued + ".crt", a["cert_file"], 0o644), (issued + ".key", a["key_file"], 0o640)):
        with open(src, "rb") as fh:
            new = fh.read()
        try:
            with open(dest, "rb") as fh:
                same = fh.read() == new
        except FileNotFoundError:
            same = False
        if not same:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            tmp = dest + ".new"
            shutil.copyfile(src, tmp)
            os.chown(tmp, 0, group)
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
            changed = True
    if changed and a.get("reload"):  # e.g. systemctl try-reload-or-restart caddy (not started yet: nothing)
        subprocess.run(a["reload"], check=False, timeout=60)
    print(json.dumps({"certificate": a["cert_file"], "domains": domains, "changed": changed}))
    return 0


HOSTNAME_RE = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
# A TSIG key's name: one label or more (BIND's tsig-keygen names like "cell-acme" are common).
KEY_NAME_RE = r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$"


def check_config(config: Any) -> list[str]:
    """What is wrong with an updater configuration (``pic-ddns --check``, the role's validate)."""
    import re

    if not isinstance(config, dict):
        return ["the configuration must be a JSON object"]
    problems = []
    provider = config.get("provider")
    if provider != "none" and provider not in PROVIDERS:
        problems.append(f"provider must be none or one of {', '.join(PROVIDERS)}")
    elif provider != "none" and not re.fullmatch(HOSTNAME_RE, str(config.get("hostname") or "")):
        problems.append("hostname must be a domain name like home.example.org")
    urls = dict(config.get("urls") or {})
    urls.update(ipv4_source=config.get("ipv4_source") or "", ipv6_source=config.get("ipv6_source") or "")
    for key, url in urls.items():
        if url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", str(url)):
            problems.append(f"{key} must be an http or https URL")
    if not config.get("ipv4_source") and not config.get("ipv6_source"):
        problems.append("an address source (ipv4_source or ipv6_source) is needed")
    for key in ("status_file", "credentials_file", *(("tsig_key_file",) if provider == "pic_ngo" else ())):
        if not str(config.get(key) or "").startswith("/"):
            problems.append(f"{key} must be an absolute path")
    acme_section = config.get("acme")
    if isinstance(acme_section, dict):
        delegation = acme_section.get("delegation")
        if delegation:
            problems += [f"acme.delegation.{p}" for p in check_delegation(delegation)]
        elif provider not in LEGO_DNS:
            problems.append(f"acme: DNS-01 with {provider} needs a delegation (acme.delegation)")
    return problems


def check_delegation(delegation: Any) -> list[str]:
    """What is wrong with a CNAME delegation of _acme-challenge (``{server, port, zone, key_name,
    algorithm}``)."""
    import re

    if not isinstance(delegation, dict):
        return ["must be a JSON object"]
    problems = []
    server = str(delegation.get("server") or "")
    try:
        ipaddress.ip_address(server.strip("[]"))
    except ValueError:
        if not re.fullmatch(HOSTNAME_RE, server):
            problems.append("server: must be a host name or an IP address")
    port = delegation.get("port", 53)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append("port: must be a port number from 1 to 65535")
    if not re.fullmatch(HOSTNAME_RE, str(delegation.get("zone") or "").rstrip(".")):
        problems.append("zone: must be a domain name like acme.example.org")
    if not re.fullmatch(KEY_NAME_RE, str(delegation.get("key_name") or "")):
        problems.append("key_name: must be a key name like cell-acme or home.example.org")
    if delegation.get("algorithm", "hmac-sha256") not in TSIG_ALGORITHMS:
        problems.append(f"algorithm: must be one of {', '.join(TSIG_ALGORITHMS)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pic-ddns", description="Publish the cell's public address (DDNS).")
    parser.add_argument("--config", default="/etc/pic/ddns.json")
    parser.add_argument("--force", action="store_true", help="send an update even when nothing changed")
    parser.add_argument("--check", action="store_true", help="check the configuration only")
    parser.add_argument("--acme", action="store_true", help="get or renew the certificate by DNS-01 (lego)")
    args = parser.parse_args(argv)
    config = read_json(args.config, {})
    problems = check_config(config) if config else [f"{args.config} is missing or not a JSON object"]
    if problems or args.check:
        for problem in problems:
            print(f"pic-ddns: {args.config}: {problem}", file=sys.stderr)
        return 2 if problems else 0
    if args.acme:
        if not config.get("acme"):
            print(f"pic-ddns: {args.config} has no acme section (the DNS-01 challenge is off)", file=sys.stderr)
            return 2
        return acme(config)
    status = run(config, force=args.force)
    line = {k: status.get(k) for k in ("provider", "hostname", "public", "accepted", "last_answer", "last_error",
                                       "blocked", "next_attempt")}
    print(json.dumps(line, sort_keys=True))
    return 1 if status.get("last_error") and status.get("stage") != "done" else 0


if __name__ == "__main__":
    sys.exit(main())
