#!/usr/bin/env python3
"""Black-holed loopback ports for benches/run.sh: each a listener whose accept queue is full, so a new
connection's SYN gets no answer (like a firewall that drops packets), as black_hole() in tests/common does.

Usage: blackhole.py N   prints N ports, one per line, then holds them until stdin closes."""
import socket
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
holes = []
for _ in range(count):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    # A backlog of 0 queues one connection that is never accepted; the next SYN is dropped.
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    holes.append((listener, filler))
    print(port)
sys.stdout.flush()
sys.stdin.read()
