"""The real management API for the browser tests: the app factory on loopback, over a temporary cell.

Only the converge is not real: ``ScriptedBackend`` stands where ansible-runner runs site.yml and
emits ansible-runner's own events for the roles of a run (three tasks each), which the API trims,
scrubs, stores and streams as it does on a cell. A converge of the wireguard role alone fails at
starting the service (the run the browser tests show as failed); a check-mode run reports a diff.
A converge of the ddns role runs the real updater (core/ddns.py) once, as the role's handler does,
against a local stand-in of No-IP (tests/unit/ddns_fakes.py) that takes the password
"right-password" and answers badauth to any other, and gives 203.0.113.7 as the public address.
A converge of the backup role writes the backup configuration from the state, as the role does; the
backups themselves are real: the agent (AgentServer on a unix socket in the temporary directory, the
API's AgentClient) runs borg on a local repository holding the cell's state and a small data tree
(mail, collections, files), with no unit to pause. The store's engine is the unit tests' fake Docker
client (tests/unit/fake_docker.py) over their test index of apps. Services are healthy, one device
holds a DHCP lease, the CA has a root certificate, the journal is empty. The WireGuard interface is
wg's dump of a running one, parsed by the agent's own parser: every device shook hands 42 seconds
ago, except those whose name ends in "-away", which never did. The other cell of each cell link shook
hands 42 seconds ago too (``link_live``). Beside the API it serves the two files caddy serves with
the UI on a cell, ``/ca.crt`` (the root certificate) and ``/cell.json`` (the HTTPS addresses, from
the state as the caddy role writes them after setup).
File storage is real: a converge of the webdav role renders that role's own templates (the site and
the users' password hashes, from the state) for Debian's Apache (``apache2`` of apache2-bin) on a
loopback port, which it starts or reloads as the role's handler does (``LocalWebdav``); the UI's
``/dav/`` reaches it through vite's proxy as it reaches it through caddy on a cell.

Prints one JSON line, {"url": ..., "setup_code": ..., "backup_repository": <a path for a repository>,
"dav_url": <Apache's address>}, then serves until killed.
    .venv/bin/python tests/ui/serve_api.py [--port 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jinja2
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import WSGIRequestHandler, make_server

from pic_api.agent import actions
from pic_api.agent.client import AgentClient
from pic_api.agent.server import Agent, AgentServer
from pic_api.app import create_app
from pic_api.config import Config
from pic_api.core import ddns, roles, schema, wgkeys
from pic_api.managers.health import HealthMonitor
from pic_api.managers.logsearch import LogSearch
from pic_api.managers.setup import https_urls
from pic_api.managers.store import LocalEngine, StoreConfig, StoreManager

ROOT = Path(__file__).resolve().parents[2]  # the repository: site.yml and roles/
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from ddns_fakes import FakeHttp  # noqa: E402
from fake_docker import FakeDocker, fake_host, hello_index  # noqa: E402

TASKS = ("Install packages", "Write configuration", "Enable and start the service")
HOST = "cell"
EVENT_DELAY = 0.01  # seconds between two events, so the UI sees a run progress


class ScriptedBackend:
    """ansible-runner's events for each role of a run, in the order site.yml runs them."""

    def __init__(self, roles: list[str], on_ddns=None, on_backup=None, on_webdav=None):
        self.roles = roles
        self.on_ddns = on_ddns  # what the ddns role's handler does: one pass of the updater
        self.on_backup = on_backup  # what the backup role writes: its configuration from the state
        self.on_webdav = on_webdav  # what the webdav role does: Apache's site and users from the state

    def execute(self, run, emit, should_cancel) -> str:
        counter = 0

        def event(name: str, **data) -> None:
            nonlocal counter
            counter += 1
            created = dt.datetime.now(dt.UTC).isoformat()
            emit({"event": name, "counter": counter, "created": created, "stdout": "", "event_data": data})
            time.sleep(EVENT_DELAY)

        fail = run.tags == ["wireguard"] and not run.check
        play = "Converge the cell"
        event("playbook_on_start", playbook="site.yml")
        event("playbook_on_play_start", play=play)
        ok = changed = failures = 0
        for role in run.tags or self.roles:
            for task in TASKS:
                if should_cancel():
                    return "canceled"
                details = {"task": task, "role": role, "play": play, "task_uuid": str(uuid.uuid4())}
                event("playbook_on_task_start", **details)
                if fail and task == TASKS[2]:
                    res = {"changed": False, "msg": "Unable to start service wg-quick@wg0"}
                    event("runner_on_failed", host=HOST, res=res, **details)
                    failures += 1
                    break
                res = {"changed": task == TASKS[1]}
                if run.check and res["changed"]:
                    conf = f"/etc/{role}/{role}.conf"
                    res["diff"] = [
                        {
                            "before_header": conf,
                            "after_header": conf,
                            "before": "# managed by PIC\nsetting = old\n",
                            "after": "# managed by PIC\nsetting = new\n",
                        }
                    ]
                event("runner_on_ok", host=HOST, res=res, **details)
                ok, changed = ok + 1, changed + res["changed"]
            if failures:
                break
        event(
            "playbook_on_stats",
            ok={HOST: ok},
            changed={HOST: changed},
            failures={HOST: failures} if failures else {},
            dark={},
            skipped={},
            rescued={},
        )
        if not failures and not run.check and self.on_ddns and (not run.tags or "ddns" in run.tags):
            self.on_ddns()
        if not failures and not run.check and self.on_backup and (not run.tags or "backup" in run.tags):
            self.on_backup()
        if not failures and not run.check and self.on_webdav and (not run.tags or "webdav" in run.tags):
            self.on_webdav()
        return "failed" if failures else "successful"


def with_caddy_files(app, config: Config):
    """The WSGI app plus what caddy serves beside the UI: /ca.crt and /cell.json."""

    def serve(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/ca.crt":
            body = config.ca_root_file.read_bytes()
            start_response("200 OK", [("Content-Type", "application/x-x509-ca-cert")])
            return [body]
        if path == "/cell.json":
            state = app.extensions["pic"].state.load()
            body = json.dumps({"domain": state["cell"]["domain"], "https": https_urls(state)}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        return app(environ, start_response)

    return serve


APACHE = "/usr/sbin/apache2"
APACHE_MODULES = ("mpm_event", "authz_core", "authn_core", "dav", "dav_fs", "auth_basic", "authn_file",
                  "authz_user", "headers")  # roles/webdav's a2enmod list and what Debian enables with them


class LocalWebdav:
    """The webdav role on this machine: its templates rendered from the state into a directory of
    its own, served by Debian's Apache (started as root, its workers www-data, as on a cell; run by
    another user, Apache runs as that user)."""

    def chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            www = pwd.getpwnam("www-data")
            os.chown(path, www.pw_uid if path.is_dir() and path != self.root else 0, www.pw_gid)

    def __init__(self, state):
        self.state = state  # () -> the cell state
        # www-data must reach the storage: a directory of its own, not under the API's private one
        self.dir = Path(tempfile.mkdtemp(prefix="pic-ui-webdav-"))
        self.dir.chmod(0o755)
        self.root = self.dir / "files"
        self.root.mkdir()
        self.chown(self.root)
        self.root.chmod(0o750)
        (self.dir / "logs").mkdir()
        (self.dir / "lock").mkdir()
        self.chown(self.dir / "lock")  # the workers write the lock database
        self.port = free_port()
        self.process = None
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "roles" / "webdav" / "templates"),
                                 trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
        self.site = env.get_template("pic-webdav.conf.j2")
        self.htpasswd = env.get_template("htpasswd.j2")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def converge(self) -> None:
        defaults = yaml.safe_load((ROOT / "roles" / "webdav" / "defaults" / "main.yml").read_text())
        users = [u for u in self.state()["users"] if "files" in u.get("services", [])]
        ctx = {**defaults, "ansible_managed": "Managed by PIC", "webdav_users": users, "webdav_port": self.port,
               "webdav_root": str(self.root), "webdav_htpasswd_file": str(self.dir / "htpasswd"),
               "webdav_server_name": "files.local"}
        for user in users:
            home = self.root / user["name"]
            home.mkdir(exist_ok=True)
            self.chown(home)
        (self.dir / "htpasswd").write_text(self.htpasswd.render(ctx))
        self.chown(self.dir / "htpasswd")
        (self.dir / "htpasswd").chmod(0o640)
        modules = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in APACHE_MODULES)
        (self.dir / "apache2.conf").write_text(
            f"ServerName 127.0.0.1\nServerRoot {self.dir}\nPidFile {self.dir}/apache2.pid\n"
            f"DefaultRuntimeDir {self.dir}\n"
            + ("User www-data\nGroup www-data\n" if os.geteuid() == 0 else "")
            + f"ErrorLog {self.dir}/logs/error.log\n{modules}\n"
            f"DAVLockDB {self.dir}/lock/DAVLock\nListen 127.0.0.1:{self.port}\nInclude {self.dir}/site.conf\n")
        (self.dir / "site.conf").write_text(self.site.render(ctx))
        env = {**os.environ, "APACHE_LOG_DIR": str(self.dir / "logs")}
        check = subprocess.run([APACHE, "-t", "-f", str(self.dir / "apache2.conf")], env=env,
                               capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"apache2 -t: {check.stderr}")
        if self.process is None:
            self.process = subprocess.Popen([APACHE, "-DFOREGROUND", "-f", str(self.dir / "apache2.conf")], env=env)
        else:
            self.process.send_signal(signal.SIGUSR1)  # graceful: the role's "Reload apache2"

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noip_stand_in() -> FakeHttp:
    import base64

    fake = FakeHttp()
    fake.on("GET", "/ip4", (200, "203.0.113.7"))

    def update(req):
        auth = base64.b64decode(req["headers"].get("authorization", "Basic ").split()[-1] or b"").decode()
        return (200, f"good {req['query'].get('myip')}") if auth.endswith(":right-password") else (401, "badauth")

    fake.on_call("GET", "/nic/update", update)
    return fake


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the API's own log has the requests
        pass


def root_certificate(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PIC test root CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (path.parent / "private").mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # the key where the ca role keeps it: the Vault page issues certificates from it
    (path.parent / "private" / "root.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


CELL_WG_KEYS = wgkeys.generate_keypair()  # the fake interface's; the dump holds both halves, as wg's does


def wg_dump_of(state: dict) -> str:
    """What `wg show wg0 dump` prints on a cell whose devices have connected (see the docstring)."""
    private, public = CELL_WG_KEYS
    lines = [f"{private}\t{public}\t{state['network']['wireguard_port']}\toff"]
    now = int(time.time())
    for i, peer in enumerate(state["peers"]):
        if peer["name"].endswith("-away"):
            lines.append(f"{peer['public_key']}\t(none)\t(none)\t{peer['ip']}/32\t0\t0\t0\t25")
        else:
            lines.append(f"{peer['public_key']}\t(none)\t198.51.100.{10 + i}:51820\t{peer['ip']}/32\t{now - 42}"
                         f"\t{1_572_864 + i}\t{348_160 + i}\t25")
    return "\n".join(lines) + "\n"


def link_live(state: dict, cell_id: str) -> dict:
    """A link's tunnel as pic-agent's link_status reads it: its unit active and `wg show cl-<id> dump`
    of a link whose other cell shook hands 42 seconds ago, parsed by the agent's own parser."""
    link = next(ln for ln in state.get("links", []) if ln["cell_id"] == cell_id)
    private, public = CELL_WG_KEYS
    dump = (f"{private}\t{public}\t{link['port']}\toff\n{link['public_key']}\t(none)\t{link['endpoint']}\t"
            f"{','.join(link['subnets'])}\t{int(time.time()) - 42}\t524288\t262144\t25\n")
    peer = actions.parse_wg_dump(dump)["peers"][0]
    return {"unit": "active", "up": True, **{k: peer[k] for k in ("endpoint", "latest_handshake", "rx", "tx")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pic-ui-api-"))
    config = Config.under(
        tmp,
        project_dir=ROOT,
        wg_endpoint="vpn.example.org",
        health_interval=0,
        bcrypt_rounds=4,
        scrypt_n=1024,
        runner="none",
        proxy_hops=0,
    )
    config.backup_config_file = tmp / "etc/backup.yml"
    root_certificate(config.ca_root_file)
    app = None
    provider = noip_stand_in()
    updater = {
        "ipv4_source": provider.url + "/ip4",
        "ipv6": False,
        "accept_private": True,
        # every provider on the loopback: nothing the browser does reaches a public service
        "urls": {p: provider.url for p in ("pic_ngo", "cloudflare", "duckdns", "noip", "freedns", "freedns_v6")},
        "credentials_file": str(config.ddns_credentials_file),
        "status_file": str(config.ddns_status_file),
        "tsig_key_file": str(tmp / "etc/ddns/tsig.json"),
    }
    config.ddns_config_file.parent.mkdir(parents=True, exist_ok=True)
    config.ddns_config_file.write_text(json.dumps(updater))
    # dnsmasq's lease file as it writes it: one device holds a lease (the Network Services page lists
    # it and reserves its address; its address is not in the LAN the wizard finds, so the API refuses it)
    config.dhcp_leases_file.parent.mkdir(parents=True, exist_ok=True)
    config.dhcp_leases_file.write_text(f"{int(time.time()) + 43200} 52:54:00:e2:e2:01 192.0.2.10 printer *\n")
    # the wizard gives this cell a custom domain, outside its zone: the mailserver role publishes no
    # records for it, which the Email page says; Postfix is not installed here, so it says why the
    # queue cannot be read
    config.postqueue = str(tmp / "postfix-not-installed/postqueue")

    def run_updater() -> None:
        """The ddns role's work: the updater's configuration from the state, then one pass."""
        names = schema.state_to_vars(app.extensions["pic"].state.load())
        updater.update(provider=names["pic_ddns_provider"], hostname=names["pic_ddns_hostname"],
                       zone=names["pic_ddns_zone"])
        config.ddns_config_file.write_text(json.dumps(updater))
        ddns.run(updater)

    def enabled() -> list[str]:
        return app.extensions["pic"].state.load()["services"]

    data = tmp / "data"
    for rel, text in {"var/vmail/home.cell/admin/Maildir/cur/1.eml": "Subject: kept\n\nhello\n",
                      "var/lib/radicale/collections/collection-root/admin/e1.ics": "BEGIN:VCALENDAR\nEND:VCALENDAR\n",
                      "var/lib/pic/files/admin/notes.txt": "kept safe\n"}.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_text(text)

    def write_backup_config() -> None:
        """The backup role's configuration file (roles/backup/templates/backup.yml.j2) from the state."""
        state = app.extensions["pic"].state.load() if config.state_file.exists() else {}
        settings = schema.apply_defaults(state)["backup"] if state else {"repository": ""}
        config.backup_config_file.write_text(json.dumps({
            "repository": settings["repository"],
            "passphrase_file": str(tmp / "etc/backup/passphrase"),
            "ssh_key_file": str(tmp / "etc/backup/ssh_key"),
            "known_hosts_file": str(tmp / "etc/backup/known_hosts"),
            "borg_dir": str(tmp / "backup/borg"),
            "status_file": str(tmp / "backup/status.json"),
            "marker_file": str(tmp / "backup/repository"),
            "prefix": "pic",
            "compression": "lz4",
            "keep": {p: settings.get(f"keep_{p}", 1) for p in ("daily", "weekly", "monthly")},
            "state_paths": [str(config.state_file), str(config.state_dir)],
            "data_paths": [str(data / p) for p in ("var/vmail", "var/lib/radicale/collections", "var/lib/pic/files")],
            "exclude": [],
            "quiesce_units": [],
        }))

    health = HealthMonitor(enabled, unit_check=lambda unit: True, port_check=lambda port: True, interval=0)
    skip = set(config.skip_tags.split(","))
    webdav = LocalWebdav(lambda: app.extensions["pic"].state.load())
    backend = ScriptedBackend([r for r in roles.load(ROOT).order if r not in skip], run_updater, write_backup_config,
                              webdav.converge)
    log_search = LogSearch(config.log_file, journal=lambda units, limit: [])
    index, behaviours = hello_index()
    (tmp / "index.yml").write_text(json.dumps(index))
    engine = FakeDocker(behaviours)
    store = StoreManager(
        StoreConfig(index=str(tmp / "index.yml"), apps_dir=tmp / "apps", socket="/nonexistent.sock",
                    health_timeout=5, snapshots_kept=2, limits=True),
        client=lambda: engine,
        host=fake_host(engine),
    )
    app = create_app(config, backend=backend, health=health, log_search=log_search, start_threads=False,
                     store_engine=LocalEngine(lambda: store))
    write_backup_config()
    agent_server = AgentServer(tmp / "agent.sock", Agent(config, backend), {0, os.geteuid()})
    threading.Thread(target=agent_server.serve_forever, daemon=True).start()
    app.extensions["pic"].backups.call = AgentClient(tmp / "agent.sock").call
    app.extensions["pic"].wireguard._live = lambda: {
        "up": True, **actions.parse_wg_dump(wg_dump_of(app.extensions["pic"].state.load()))}
    app.extensions["pic"].links._live = lambda cell_id: link_live(app.extensions["pic"].state.load(), cell_id)
    server = make_server("127.0.0.1", args.port, with_caddy_files(app, config), threaded=True,
                         request_handler=QuietHandler)
    code = app.extensions["pic"].setup_code.current()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_port}", "setup_code": code,
                      "backup_repository": str(tmp / "backup-disk/repo"), "dav_url": webdav.url}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.close()
        webdav.close()
        agent_server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
