"""Throwaway listeners for firewall tests: listen.py tcp:PORT udp:PORT ...

Each TCP connection and each UDP datagram is answered with "from <source address>", so a prober
also learns whether its traffic was masqueraded on the way."""

import socket
import sys
import threading


def tcp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    while True:
        conn, addr = s.accept()
        with conn:
            conn.sendall(f"from {addr[0]}\n".encode())


def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, addr = s.recvfrom(2048)
        s.sendto(f"from {addr[0]}\n".encode(), addr)


threads = []
for spec in sys.argv[1:]:
    proto, port = spec.split(":")
    t = threading.Thread(target=tcp if proto == "tcp" else udp, args=(int(port),), daemon=True)
    t.start()
    threads.append(t)
for t in threads:
    t.join()
