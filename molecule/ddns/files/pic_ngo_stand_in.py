"""Stands in for the pic_ngo service on the BIND host of the ddns scenario (port 8053):

  GET  /v1/names/<label>  {"available": bool}
  POST /v1/names          {"name", "key_name", "algorithm", "secret"}: 201 (200 again for the same key),
                          409 when another key holds the name; the key goes into BIND's keys file
                          (rndc reconfig), where the zone's update-policy lets it change its own name
  GET  /ip4               the cell's "public address": the content of /srv/public-ip
Every request is appended to /var/lib/pic-ngo/requests.log (method and path).
"""

import base64
import json
import re
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ZONE = "pic.ngo"
NAMES = Path("/var/lib/pic-ngo/names.json")
KEYS = Path("/etc/bind/pic-ngo-keys.conf")
ADDRESS = Path("/srv/public-ip")
LOG = Path("/var/lib/pic-ngo/requests.log")


def names():
    return json.loads(NAMES.read_text()) if NAMES.exists() else {}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOG.open("a") as fh:
            fh.write(f"GET {self.path}\n")
        if self.path == "/ip4":
            return self.answer(200, ADDRESS.read_text().strip())
        m = re.fullmatch(r"/v1/names/([a-z][a-z0-9-]{0,31})", self.path)
        if m:
            return self.answer(200, {"available": m.group(1) not in names()})
        return self.answer(404, {"error": "not found"})

    def do_POST(self):
        with LOG.open("a") as fh:
            fh.write(f"POST {self.path}\n")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        label = str(body.get("name", ""))
        ok = (
            self.path == "/v1/names"
            and re.fullmatch(r"[a-z][a-z0-9-]{0,31}", label)
            and body.get("key_name") == f"{label}.{ZONE}."
            and body.get("algorithm") == "hmac-sha256"
            and len(base64.b64decode(str(body.get("secret", "")), validate=True)) == 32
        )
        if not ok:
            return self.answer(400, {"error": "bad registration"})
        known = names()
        if label in known and known[label]["secret"] != body["secret"]:
            return self.answer(409, {"error": f"{label}.{ZONE} is taken"})
        status = 200 if label in known else 201
        known[label] = {"key_name": body["key_name"], "secret": body["secret"]}
        NAMES.write_text(json.dumps(known))
        KEYS.write_text("".join(
            f'key "{v["key_name"]}" {{ algorithm hmac-sha256; secret "{v["secret"]}"; }};\n' for v in known.values()
        ))
        subprocess.run(["rndc", "reconfig"], check=True)
        return self.answer(status, {"name": f"{label}.{ZONE}"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    NAMES.parent.mkdir(parents=True, exist_ok=True)
    ThreadingHTTPServer(("0.0.0.0", 8053), Handler).serve_forever()
