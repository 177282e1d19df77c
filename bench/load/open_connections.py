#!/usr/bin/env python3
"""Opens COUNT keep-alive connections to HOST:PORT for the memory case of bench/load/run.sh.

Each connection sends one complete cheap request (GET /login without credentials) and reads the
whole response, so the server has accepted it and served it at the HTTP level; then all of them are
kept open and idle. Prints one JSON line {"open": N, "failed": M, "seconds": S} once they are all
open, then holds them until SIGTERM (or HOLD seconds, 120 by default, so that it can never linger)
and closes them. The connections come from 500 at most per source address (127.0.0.2, 127.0.0.3,
... when HOST is on loopback), as from many clients: authd allows 1,000 per address by default
(--max-connections-per-address).

    bench/load/open_connections.py HOST PORT COUNT [HOLD]
"""

import json
import resource
import signal
import socket
import sys
import time

REQUEST = b"GET /login HTTP/1.1\r\nHost: bench\r\n\r\n"
TIMEOUT_S = 10.0
PER_SOURCE = 500


def raise_fd_limit(count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        new_soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))


def read_response(sock):
    """Reads one response (head plus Content-Length bytes of body); False if it did not come, or
    if the server refused the request (5xx) or announced it closes the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 ") or lines[0][9:10] == b"5":
        return False
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            return False
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


def source_for(host, index):
    """A loopback source address of its own for each PER_SOURCE connections (None elsewhere)."""
    if not host.startswith("127."):
        return None
    return ("127.0.%d.%d" % divmod(2 + index // PER_SOURCE, 256), 0)


def open_one(host, port, index):
    sock = socket.create_connection((host, port), timeout=TIMEOUT_S,
                                    source_address=source_for(host, index))
    try:
        sock.sendall(REQUEST)
        if not read_response(sock):
            raise ConnectionError("no response, or not one that keeps the connection")
    except Exception:
        sock.close()
        raise
    return sock


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hold = float(sys.argv[4]) if len(sys.argv) == 5 else 120.0
    raise_fd_limit(count)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socks, failed = [], 0
    start = time.monotonic()
    for i in range(count):
        try:
            socks.append(open_one(host, port, i))
        except OSError:
            failed += 1
            if failed > 100:
                break
    print(json.dumps({"open": len(socks), "failed": failed,
                      "seconds": round(time.monotonic() - start, 3)}), flush=True)
    try:
        time.sleep(hold)  # SIGTERM ends it early, through sys.exit
    finally:
        for sock in socks:
            sock.close()


if __name__ == "__main__":
    main()
