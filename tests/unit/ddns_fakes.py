"""Local stand-ins for the DDNS providers, used by the unit tests and the API's browser tests.

``FakeHttp`` is a real HTTP server on the loopback that records every request (method, path, query,
headers, body) and answers from a script (a list of (status, body) per path prefix, the last one
repeated). ``FakeDns`` is a real DNS server on the loopback (TCP) that checks each UPDATE's TSIG
signature with the key it was given, records the update and answers with a chosen rcode.
"""

from __future__ import annotations

import json
import socketserver
import struct
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHttp:
    """``tls``: (certificate file, key file) to serve HTTPS instead of HTTP."""

    def __init__(self, tls: tuple[str, str] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.script: dict[str, list[tuple[int, str]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                        "raw_query": parts.query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(),
                        "json": json.loads(body) if body and self.headers.get("Content-Type") == "application/json"
                        else None,
                    }
                )
                status, text = fake.answer_for(self.command, parts.path, fake.requests[-1])
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if text[:1] in "{[" else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.server.server_address[1]}"

    def on(self, method: str, prefix: str, *answers: tuple[int, str | dict]) -> None:
        self.script[f"{method} {prefix}"] = [(s, b if isinstance(b, str) else json.dumps(b)) for s, b in answers]

    def on_call(self, method: str, prefix: str, answer: Any) -> None:
        """Answer with ``answer(request)`` -> (status, body): an answer that depends on the request."""
        self.script[f"{method} {prefix}"] = [answer]

    def answer_for(self, method: str, path: str, req: dict[str, Any] | None = None) -> tuple[int, str]:
        best = max((k for k in self.script if f"{method} {path}".startswith(k)), key=len, default=None)
        if best is None:
            return 404, "no such fake path"
        answers = self.script[best]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            status, body = answer(req or {})
            return status, body if isinstance(body, str) else json.dumps(body)
        return answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeDns:
    """An RFC 2136 server that accepts updates signed with ``keys`` ({name: base64 secret})."""

    def __init__(self, keys: dict[str, str], rcode: str = "NOERROR"):
        import dns.tsigkeyring

        self.keyring = dns.tsigkeyring.from_text(keys)
        self.rcode = rcode
        self.updates: list[Any] = []
        self.refused: list[str] = []
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                import dns.message
                import dns.rcode

                (length,) = struct.unpack("!H", self.request.recv(2))
                wire = b""
                while len(wire) < length:
                    wire += self.request.recv(length - len(wire))
                try:
                    msg = dns.message.from_wire(wire, keyring=fake.keyring)
                except Exception as exc:  # a bad signature: NOTAUTH with TSIG error BADSIG, as BIND answers
                    import dns.tsig

                    fake.refused.append(type(exc).__name__)
                    req = dns.message.from_wire(wire, keyring=False)  # parse only, to answer
                    resp = dns.message.make_response(req)
                    resp.set_rcode(dns.rcode.NOTAUTH)
                    resp.use_tsig(dns.tsig.Key(req.keyname, b"\0" * 32, req.keyalgorithm), tsig_error=dns.rcode.BADSIG)
                    out = resp.to_wire()
                else:
                    fake.updates.append(msg)
                    resp = dns.message.make_response(msg)
                    resp.set_rcode(dns.rcode.from_text(fake.rcode))
                    out = resp.to_wire()
                self.request.sendall(struct.pack("!H", len(out)) + out)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
