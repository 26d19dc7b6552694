"""Port probe for firewall tests: probe.py [--bind ADDR] HOST tcp:PORT udp:PORT ...

Prints a JSON object: for each port "open: from <address the listener saw>", "closed" (refused:
the packet reached the host, nothing listens) or "filtered" (no answer at all)."""

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

args = sys.argv[1:]
bind = None
if args[0] == "--bind":
    bind, args = args[1], args[2:]
host, specs = args[0], args[1:]


def probe(spec):
    proto, port = spec.split(":")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(2)
    if bind:
        s.bind((bind, 0))
    try:
        if proto == "tcp":
            s.connect((host, int(port)))
            return spec, "open: " + s.recv(100).decode().strip()
        s.sendto(b"probe", (host, int(port)))
        return spec, "open: " + s.recvfrom(100)[0].decode().strip()
    except ConnectionRefusedError:
        return spec, "closed"
    except TimeoutError:
        return spec, "filtered"
    except OSError as e:
        return spec, f"error: {e}"
    finally:
        s.close()


with ThreadPoolExecutor(max_workers=32) as pool:
    print(json.dumps(dict(pool.map(probe, specs))))
