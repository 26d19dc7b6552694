"""A stand-in upstream for caddy's tests: answers every request with its name, method and path, the
Host, X-Forwarded-For and X-Forwarded-Proto it was given.

/api/stream sends one server-sent event, waits, then a second: a proxy that buffers shows
nothing before the wait is over. /api/follow sends an event a second for ten minutes, like a long run.
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        if self.path == "/api/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: first\n\n")
            self.wfile.flush()
            time.sleep(6)
            self.wfile.write(b"data: second\n\n")
            return
        if self.path == "/api/follow":  # a run's event stream: an event a second, for ten minutes
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(600):
                self.wfile.write(f"data: {i}\n\n".encode())
                self.wfile.flush()
                time.sleep(1)
            return
        body = (f"{NAME} {self.command} {self.path} host={self.headers.get('Host')} "
                f"xff={self.headers.get('X-Forwarded-For')} proto={self.headers.get('X-Forwarded-Proto')}\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/api/hsts":  # an upstream's own header: caddy's must replace it
            self.send_header("Strict-Transport-Security", "max-age=1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PROPFIND = do_PUT = _answer


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
