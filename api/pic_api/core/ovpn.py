"""A provider's OpenVPN client configuration (.ovpn), read for an exit of kind openvpn.

``parse`` takes the uploaded text (and the username and password the server asks for, if any) and
returns what the state keeps (the servers, the protocol, the directives passed on to openvpn, which
credential files the exit has) and, apart, the credentials (the inline ``<ca>``, ``<cert>``,
``<key>``, ``<tls-auth>`` / ``<tls-crypt>`` blocks and the username and password) that go to 0600
files only. Every refusal names the directive it is about (``config.up``), never quoting a
credential.

A whitelist, not a blacklist: only directives an exit needs are accepted, each with its arguments
checked. openvpn runs scripts and plugins, writes files and changes routes on a directive's word
(``up``, ``plugin``, ``route``, ``redirect-gateway``, ``log``, ``management``, ...): any directive not
named here is refused, so a new or forgotten one can do nothing. The cell writes the directives that
set up the interface, its routes and its scripts itself (roles/exits).
"""

from __future__ import annotations

import re
from typing import Any

from .schema import OPENVPN_CREDENTIALS as CREDENTIALS
from .schema import StateError, check_def

__all__ = ["option_error", "parse"]
# What each inline block must hold: PEM blocks of these kinds (text around them, such as easy-rsa's
# dump of a certificate, is left out).
PEM_KINDS = {
    "ca": ("CERTIFICATE",),
    "cert": ("CERTIFICATE",),
    "key": ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"),
    "tls-auth": ("OpenVPN Static key V1",),
    "tls-crypt": ("OpenVPN Static key V1",),
}
_PEM = re.compile(r"-----BEGIN ([A-Za-z0-9 ]+)-----\n([A-Za-z0-9+/=\n]+?)\n?-----END \1-----")
# One argument: no quotes, no spaces, nothing a shell or a template would read.
_ARG = re.compile(r"^[A-Za-z0-9._:@=+,/-]{1,256}$")
_INT = re.compile(r"^[0-9]{1,6}$")

# Directives the cell writes itself or that mean nothing for this client: accepted and left out.
DROPPED = {"client", "pull", "tls-client", "nobind", "persist-key", "persist-tun", "resolv-retry", "verb", "mute",
           "mute-replay-warnings", "auth-nocache", "block-outside-dns", "dev", "dev-type", "script-security",
           "remote", "proto", "port", "rport", "key-direction"} | set(CREDENTIALS)


def _ints(low: int, high: int, count: tuple[int, int] = (1, 1)) -> Any:
    def check(args: list[str]) -> str | None:
        if not count[0] <= len(args) <= count[1]:
            return f"takes {count[0]}" + (f" to {count[1]}" if count[1] != count[0] else "") + " number(s)"
        if not all(_INT.match(a) and low <= int(a) <= high for a in args):
            return f"takes numbers from {low} to {high}"
        return None
    return check


def _words(*choices: str, count: tuple[int, int] = (1, 1)) -> Any:
    """Arguments from ``choices`` (none: any safe word)."""
    def check(args: list[str]) -> str | None:
        if not count[0] <= len(args) <= count[1]:
            return f"takes {count[0]}" + (f" to {count[1]}" if count[1] != count[0] else "") + " argument(s)"
        if choices and not all(a in choices for a in args):
            return "takes " + " or ".join(choices)
        return None
    return check


def _x509_name(args: list[str]) -> str | None:
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] not in ("name", "name-prefix", "subject")):
        return "takes a name and optionally name, name-prefix or subject"
    return None


# Directives passed on to openvpn as given (after the cell's own, so they may tune them), with the
# check of their arguments.
PASSED: dict[str, Any] = {
    "cipher": _words(), "data-ciphers": _words(), "data-ciphers-fallback": _words(), "ncp-ciphers": _words(),
    "auth": _words(), "tls-cipher": _words(), "tls-ciphersuites": _words(), "tls-groups": _words(),
    "remote-cert-tls": _words("server"), "verify-x509-name": _x509_name,
    "remote-cert-ku": _words(count=(1, 8)), "remote-cert-eku": _words(),
    "tls-version-min": _words(count=(1, 2)), "tls-version-max": _words(),
    "ping": _ints(1, 3600), "ping-restart": _ints(1, 3600), "keepalive": _ints(1, 3600, (2, 2)),
    "connect-retry": _ints(1, 3600, (1, 2)), "connect-retry-max": _ints(1, 100000),
    "server-poll-timeout": _ints(1, 3600), "hand-window": _ints(1, 3600), "reneg-sec": _ints(0, 604800, (1, 2)),
    "tun-mtu": _ints(576, 9000), "mssfix": _ints(0, 9000, (0, 1)), "sndbuf": _ints(0, 16777216),
    "rcvbuf": _ints(0, 16777216), "explicit-exit-notify": _ints(0, 10, (0, 1)), "remote-random": _words(count=(0, 0)),
    "float": _words(count=(0, 0)), "auth-retry": _words("none", "nointeract"),
    "allow-compression": _words("no", "asym"),
}
# Refused with a word of why (any other unknown directive is refused as not accepted).
WHY = {
    **dict.fromkeys(("up", "down", "route-up", "route-pre-down", "ipchange", "tls-verify", "auth-user-pass-verify",
                     "client-connect", "client-disconnect", "learn-address", "plugin", "tls-export-cert"),
                    "runs a program: the cell runs its own script only"),
    **dict.fromkeys(("route", "route-ipv6", "redirect-gateway", "redirect-private", "route-gateway",
                     "route-metric", "route-nopull", "route-noexec", "ifconfig", "ifconfig-ipv6", "pull-filter",
                     "iproute", "dhcp-option"),
                    "changes routes or addresses: the cell routes the exit itself"),
    **dict.fromkeys(("log", "log-append", "status", "writepid", "management", "daemon", "cd", "chroot", "config",
                     "user", "group", "setenv", "setenv-safe", "askpass", "echo", "tmp-dir", "tun-ipv6",
                     "lladdr", "mark", "bind", "local", "lport", "http-proxy", "socks-proxy", "ignore-unknown-option"),
                    "is not accepted in an exit's configuration (the cell sets up openvpn itself)"),
    **dict.fromkeys(("compress", "comp-lzo"), "compression is not accepted (it leaks what a tunnel carries)"),
}
PROTOS = {"udp": "udp", "udp4": "udp", "tcp": "tcp", "tcp4": "tcp", "tcp-client": "tcp", "tcp4-client": "tcp"}
MAX_REMOTES = 8
_FIELD_CHARS = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def option_error(line: str) -> str | None:
    """Why a directive line the state keeps (``options``) would not be passed on to openvpn; None when
    it would. The state's check and the exits role's use it: one whitelist."""
    words = line.split(" ")
    if not words[0] or not all(_ARG.match(a) for a in words[1:]):
        return "not a directive and its arguments"
    if words[0] == "key-direction":
        return None if words[1:] in (["0"], ["1"]) else "key-direction takes 0 or 1"
    if words[0] not in PASSED:
        return f"{words[0]} " + WHY.get(words[0], "is not accepted in an exit's configuration")
    problem = PASSED[words[0]](words[1:])
    return f"{words[0]} {problem}" if problem else None


def _field(key: str) -> str:
    # a directive's name as the field, when it is one a person can read (not the text of a garbage line)
    return f"config.{key}" if _FIELD_CHARS.match(key) else "config"


def _pem(which: str, text: str) -> tuple[str | None, str | None]:
    """(the PEM blocks of ``text`` the directive needs, or a reason)."""
    text = "\n".join(line.strip() for line in text.splitlines())
    blocks = _PEM.findall(text)
    if not blocks:
        return None, f"<{which}> holds no PEM block"
    wanted = PEM_KINDS[which]
    if which == "key" and any(kind == "ENCRYPTED PRIVATE KEY" for kind, _ in blocks):
        return None, "the key is encrypted: openvpn would ask for its passphrase at every start; give it unencrypted"
    if any(kind not in wanted for kind, _ in blocks) or (which != "ca" and len(blocks) != 1):
        return None, f"<{which}> must hold " + ("" if which == "ca" else "one ") + " or ".join(wanted)
    return "".join(f"-----BEGIN {k}-----\n{body.strip()}\n-----END {k}-----\n" for k, body in blocks), None


def _lines(text: str, fields: dict[str, str]) -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    """The directives (name, arguments) in order, and the inline blocks by tag."""
    directives: list[tuple[str, list[str]]] = []
    blocks: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].strip()
        i += 1
        if not line or line.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"<([a-z0-9-]{1,20})>", line)
        if m:
            tag = m.group(1)
            end = next((j for j in range(i, len(lines)) if lines[j].strip() == f"</{tag}>"), None)
            if end is None:
                fields.setdefault(_field(tag), f"<{tag}> on line {number} is never closed")
                return directives, blocks
            if tag in blocks:
                fields.setdefault(_field(tag), f"<{tag}> is given twice")
            blocks[tag] = "\n".join(lines[i:end])
            i = end + 1
            continue
        words = line.split()
        name = words[0].lower().removeprefix("--")
        if not all(_ARG.match(a) for a in words[1:]):
            fields.setdefault(_field(name), f"line {number}: an argument has a character that is not accepted "
                              "(quotes, spaces, $, ;, ...)")
            continue
        directives.append((name, words[1:]))
    return directives, blocks


def _remote(args: list[str], port: str, proto: str, fields: dict[str, str]) -> str | None:
    if not 1 <= len(args) <= 3:
        fields.setdefault("config.remote", "remote takes a host, a port and a protocol")
        return None
    host = args[0].lower()
    port = args[1] if len(args) > 1 else port
    if len(args) == 3 and PROTOS.get(args[2].lower()) != proto:
        fields.setdefault("config.remote", f"every remote must use the protocol {proto} (udp or tcp over IPv4)")
        return None
    endpoint = f"{host}:{port}"
    try:
        check_def("ExitEndpoint", endpoint, "remote")
        if not 1 <= int(port) <= 65535:
            raise ValueError
    except ValueError:
        fields.setdefault("config.remote", "remote must name a host (a domain name or an IPv4 address) and a port "
                          "from 1 to 65535")
        return None
    return endpoint


def _credential_text(value: str | None, what: str, fields: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 512 or any(c in value for c in "\r\n\0"):
        fields.setdefault(what, f"{what} must be 1 to 512 characters on one line")
        return None
    return value


def parse(text: str, username: str | None = None, password: str | None = None
          ) -> tuple[dict[str, Any], dict[str, str]]:
    """(the exit's fields for the state, its credentials by file suffix (CREDENTIALS)); StateError
    naming each refused directive (``config.<directive>``), ``username`` or ``password`` otherwise."""
    fields: dict[str, str] = {}
    directives, blocks = _lines(text, fields)
    seen: dict[str, list[str]] = {}
    options: list[str] = []
    for name, args in directives:
        if name in DROPPED:
            if name in seen and seen[name] != args and name in CREDENTIALS:
                fields.setdefault(_field(name), f"{name} is given twice")
            seen.setdefault(name, args)
            if name == "remote":
                seen.setdefault("remotes", []).append(" ".join(args))
            continue
        if name in PASSED:
            problem = PASSED[name](args)
            if problem:
                fields.setdefault(_field(name), f"{name} {problem}")
            else:
                options.append(" ".join([name, *args]))
            continue
        fields.setdefault(_field(name), f"{name} " + WHY.get(name, "is not accepted in an exit's configuration"))

    # the interface: a tun, whatever its name (the cell names it exit-<name>)
    dev = seen.get("dev")
    if dev is not None and (len(dev) != 1 or not re.fullmatch(r"tun[0-9]*", dev[0])):
        fields.setdefault("config.dev", "dev must be tun: an exit is a routed (layer 3) tunnel")
    if seen.get("dev-type", ["tun"]) != ["tun"]:
        fields.setdefault("config.dev-type", "dev-type must be tun")
    security = seen.get("script-security", ["1"])
    if security not in (["0"], ["1"]):
        fields.setdefault("config.script-security", "script-security above 1 is not accepted: the cell runs its "
                          "own script only")
    key_direction = seen.get("key-direction")
    if key_direction is not None and key_direction not in (["0"], ["1"]):
        fields.setdefault("config.key-direction", "key-direction takes 0 or 1")

    proto_arg = seen.get("proto", ["udp"])
    proto = PROTOS.get(proto_arg[0].lower()) if len(proto_arg) == 1 else None
    if proto is None:
        fields.setdefault("config.proto", "proto must be udp or tcp (IPv4: udp4, tcp4, tcp-client)")
        proto = "udp"
    port = (seen.get("rport") or seen.get("port") or ["1194"])[0]
    remotes = [r for r in (_remote(a.split(), port, proto, fields) for a in seen.get("remotes", [])) if r]
    if not seen.get("remotes"):
        fields.setdefault("config.remote", "remote is missing: the cell dials the exit server")
    elif len(seen["remotes"]) > MAX_REMOTES:
        fields.setdefault("config.remote", f"at most {MAX_REMOTES} remotes")

    # credentials: inline only (files next to the config are not uploaded)
    secrets: dict[str, str] = {}
    for which in ("ca", "cert", "key", "tls-auth", "tls-crypt"):
        args = seen.get(which)
        if args is not None and args not in ([], ["[inline]"]) and not (which == "tls-auth" and len(args) == 2
                                                                        and args[0] == "[inline]"):
            fields.setdefault(_field(which), f"{which} names a file: give it inline as <{which}>...</{which}>")
            continue
        if which == "tls-auth" and args is not None and len(args) == 2 and args[1] in ("0", "1"):
            key_direction = [args[1]]
        if which not in blocks:
            if args is not None:
                fields.setdefault(_field(which), f"{which} is given without its <{which}> block")
            continue
        pem, problem = _pem(which, blocks.pop(which))
        if problem:
            fields.setdefault(_field(which), problem)
        elif pem:
            secrets[which] = pem
    for tag in sorted(set(blocks) - {"auth-user-pass"}):
        fields.setdefault(_field(tag), f"<{tag}> is not accepted in an exit's configuration")
    if "ca" not in secrets and "config.ca" not in fields:
        fields["config.ca"] = "the server's CA certificate (<ca>) is missing"
    if ("cert" in secrets) != ("key" in secrets):
        missing = "key" if "cert" in secrets else "cert"
        fields.setdefault(_field(missing), f"<cert> and <key> go together: <{missing}> is missing")
    if "tls-auth" in secrets and "tls-crypt" in secrets:
        fields.setdefault("config.tls-crypt", "give <tls-auth> or <tls-crypt>, not both")

    # the username and password: given apart (or inline), only when the server asks for them
    asks = "auth-user-pass" in seen or "auth-user-pass" in blocks
    if seen.get("auth-user-pass") not in (None, []):
        fields.setdefault("config.auth-user-pass", "auth-user-pass names a file: give the username and password "
                          "with the upload")
    if "auth-user-pass" in blocks:
        inline = [x.strip() for x in blocks["auth-user-pass"].splitlines() if x.strip()]
        if len(inline) != 2:
            fields.setdefault("config.auth-user-pass", "<auth-user-pass> must hold a username and a password line")
        else:
            username, password = username or inline[0], password or inline[1]
    username = _credential_text(username, "username", fields)
    password = _credential_text(password, "password", fields)
    if asks:
        if not username:
            fields.setdefault("username", "the server asks for a username and password (auth-user-pass)")
        if not password:
            fields.setdefault("password", "the server asks for a username and password (auth-user-pass)")
        if username and password:
            secrets["auth-user-pass"] = f"{username}\n{password}"
    elif username or password:
        fields.setdefault("username" if username else "password",
                          "the configuration asks for no username and password (it has no auth-user-pass)")
    if not asks and "cert" not in secrets and "config.cert" not in fields and "config.key" not in fields:
        fields.setdefault("config.cert", "the client needs a certificate and key (<cert>, <key>) or auth-user-pass")

    if fields:
        raise StateError(fields, "invalid exit configuration")
    if key_direction is not None:
        options.insert(0, f"key-direction {key_direction[0]}")
    exit_: dict[str, Any] = {"endpoint": remotes[0], "remotes": remotes, "proto": proto, "options": options,
                             "credentials": [c for c in CREDENTIALS if c in secrets]}
    return exit_, secrets
