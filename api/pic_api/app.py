"""The Flask app factory."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config
from .logs import Throttle, setup_logging
from .managers.auth import LoginLocked
from .managers.errors import ManagerError
from .managers.health import HealthMonitor
from .managers.logsearch import LogSearch
from .managers.runs import Backend
from .managers.store_service import Engine
from .services import Cell
from .web import BLUEPRINTS, gate
from .web.openapi import openapi_bp

log = logging.getLogger("pic.api")
TRACEBACK_INTERVAL = 60.0  # seconds between two tracebacks of the same fault in the log


class LoopbackProxyFix:
    """Believe X-Forwarded-For and X-Forwarded-Proto only from a peer on the loopback: Caddy on the
    cell, which replaces whatever a client sent in them. From anyone else they are dropped, so no
    client can claim another address (the login rate limit) or a scheme (the Secure cookies)."""

    HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")

    def __init__(self, app: Callable[..., Iterable[bytes]], hops: int):
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    @staticmethod
    def from_loopback(remote: str) -> bool:
        try:
            return ipaddress.ip_address(remote).is_loopback
        except ValueError:
            return False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.from_loopback(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        for key in self.HEADERS:
            environ.pop(key, None)
        return self.app(environ, start_response)


def create_app(
    config: Config | None = None,
    backend: Backend | None = None,
    health: HealthMonitor | None = None,
    log_search: LogSearch | None = None,
    start_threads: bool = True,
    store_engine: Engine | None = None,
) -> Flask:
    config = config or Config.load()
    setup_logging(config.log_file, config.log_level, config.log_levels)
    app = Flask(__name__)
    if config.proxy_hops > 0:
        # the client's address behind Caddy (the login rate limit, the logs) and whether it came over
        # HTTPS (the Secure cookies)
        app.wsgi_app = LoopbackProxyFix(app.wsgi_app, config.proxy_hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    pic = Cell(config, backend=backend, health=health, log_search=log_search, store_engine=store_engine)
    app.extensions["pic"] = pic
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    app.register_blueprint(openapi_bp)
    if start_threads:
        pic.health.start()
        pic.peer_sync.start()
    with contextlib.suppress(ManagerError, OSError):  # a damaged state: no wizard, no code
        if not pic.setup.completed():
            pic.setup_code.current()  # made on first start, so `pic setup-code` and the converge can print it

    gate.install(app, pic)

    @app.errorhandler(ManagerError)
    def manager_error(exc: ManagerError) -> Any:
        resp = gate.error(exc.status, exc.message, exc.fields)
        if isinstance(exc, LoginLocked):
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        resp = gate.error(exc.code or 500, exc.description or exc.name)
        if exc.code == 405 and exc.get_response().headers.get("Allow"):
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
        return resp

    tracebacks = Throttle(TRACEBACK_INTERVAL)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        # one traceback per kind of fault a minute: a flood of failing requests cannot flush the log
        where = exc.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        kind = (type(exc).__name__, where.tb_frame.f_code.co_filename if where else "", where.tb_lineno if where else 0)
        allowed, suppressed = tracebacks.allow(kind)
        if allowed:
            more = f" ({suppressed} more like it not logged)" if suppressed else ""
            log.exception("unhandled error on %s %s%s", request.method, request.path, more)
        return gate.error(500, "internal error; see the API log")

    @app.after_request
    def headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Cache-Control", "no-store")
        if request.path.startswith("/api/"):
            log.debug("%s %s -> %s", request.method, request.path, resp.status_code)
        return resp

    return app
