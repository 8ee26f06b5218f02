#!/usr/bin/env python3
"""One real Python TLS client against one server; prints what it did as one JSON line.

    python3 probe.py MODE HOST PORT NAME [--ca FILE] [--cert CRT --key KEY] [--timeout SECONDS]

MODE is the client:

- ``requests``: ``requests.get(f"https://{NAME}:{PORT}/", verify=CA or True, cert=(CRT, KEY))``; NAME resolves
  to HOST inside this process (as ``curl --resolve`` does), so the URL, SNI and name check all use NAME.
  Default trust is certifi's bundle.
- ``ssl``: ``ssl.create_default_context(cafile=CA)`` (the system store without CA), a socket to HOST and
  ``wrap_socket(server_hostname=NAME)``, then ``GET /`` over it: with TLS 1.3 a server that refuses the client
  certificate says so only after the handshake, on the first read.
- ``grpcio``: ``grpc.secure_channel("HOST:PORT", grpc.ssl_channel_credentials(CA, KEY, CRT))`` with
  ``grpc.ssl_target_name_override`` = NAME when NAME is not HOST. Default trust is grpcio's bundled roots.
  See ``grpcio`` below for how the verdict is read.

Prints ``{"works": bool, "said": "ok" or the client's own error message}`` and exits 0 either way; a non-zero
exit is a bug in this harness (bad arguments, an unreadable file).
"""

import argparse
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["requests", "ssl", "grpcio", "_grpcio_channel"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("name")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args(argv)
    if (args.cert is None) != (args.key is None):
        p.error("--cert and --key go together")
    for path in (args.ca, args.cert, args.key):
        if path is not None and not os.path.isfile(path):
            p.error(f"no such file: {path}")
    return args


def bracket(host):
    """A host as it appears in a URL or a gRPC target: IPv6 literals in brackets."""
    return f"[{host}]" if ":" in host else host


def pin_name(name, host):
    """Resolves NAME to HOST in this process (like curl's --resolve), for every other name as usual."""
    real = socket.getaddrinfo

    def pinned(node, *rest, **kw):
        return real(host if node == name else node, *rest, **kw)

    socket.getaddrinfo = pinned


def with_requests(args):
    import requests

    pin_name(args.name, args.host)
    url = f"https://{bracket(args.name)}:{args.port}/"
    cert = (args.cert, args.key) if args.cert else None
    try:
        requests.get(url, verify=args.ca or True, cert=cert, timeout=args.timeout)
    except requests.exceptions.RequestException as e:
        return False, str(e)
    # Any HTTP answer, whatever its status, means TLS worked.
    return True, "ok"


def with_ssl(args):
    import ssl

    try:
        ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=args.name) as tls:
                tls.sendall(f"GET / HTTP/1.0\r\nHost: {args.name}\r\n\r\n".encode())
                reply = tls.recv(64)
    except (OSError, ssl.SSLError) as e:
        return False, str(e)
    if not reply.startswith(b"HTTP/"):
        return False, f"the server answered {reply!r}, not HTTP"
    return True, "ok"


def grpc_channel(args):
    """The child process of ``grpcio``: tries to make the channel ready and says READY or NOT_READY."""
    import grpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    creds = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca) if args.ca else None,
        private_key=read(args.key) if args.key else None,
        certificate_chain=read(args.cert) if args.cert else None,
    )
    options = []
    if args.name != args.host:
        options.append(("grpc.ssl_target_name_override", args.name))
    channel = grpc.secure_channel(f"{bracket(args.host)}:{args.port}", creds, options=options)
    try:
        grpc.channel_ready_future(channel).result(timeout=args.timeout)
        print("READY", flush=True)
    except grpc.FutureTimeoutError:
        print("NOT_READY", flush=True)


# gRPC's own trace lines (GRPC_TRACE=handshaker,connectivity_state), which carry its error messages.
SECURED = "CallNextHandshakerLocked: error=OK"  # ... with grpc.auth_context=: TLS and the peer check passed
AUTH_CONTEXT = "grpc.auth_context="
HANDSHAKE_FAILED = "Failed with error: "
CHANNEL_FAILED = "CONNECTING -> TRANSIENT_FAILURE ("
TLS_ERROR = re.compile(r"error:[0-9A-Fa-f]{8}:")
# After the handshake, a TLS 1.3 server that refuses the client (no client certificate) sends its alert: it
# arrives within milliseconds, so a connection that is still up this long after the handshake works.
GRACE_AFTER_HANDSHAKE = 1.0


def with_grpcio(args, argv):
    """A channel is READY only once the server's HTTP/2 SETTINGS arrive, which a TLS server that is not a
    gRPC server (openssl s_server -www) never sends. So the channel runs in a child process with gRPC's
    trace on, and the verdict is gRPC's own: its security handshake (TLS, the peer's chain and name, ALPN h2)
    passed and the connection stayed up, or the error it gave."""
    child_argv = [sys.executable, os.path.abspath(__file__), "_grpcio_channel"] + argv[1:]
    env = dict(os.environ, GRPC_VERBOSITY="debug", GRPC_TRACE="handshaker,connectivity_state")
    child = subprocess.Popen(
        child_argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
    )
    lines = queue.Queue()

    def pump(stream, tag):
        for line in stream:
            lines.put((tag, line.rstrip("\n")))
        lines.put((tag, None))

    for stream, tag in ((child.stdout, "out"), (child.stderr, "err")):
        threading.Thread(target=pump, args=(stream, tag), daemon=True).start()

    deadline = time.monotonic() + args.timeout + 3  # the child's own timeout, and its start-up
    secured_at = None
    last_error = None  # an E-level line: the TLS library's error when the failure comes after the handshake
    ended = set()
    verdict = None
    try:
        while verdict is None:
            now = time.monotonic()
            if secured_at is not None and now >= secured_at + GRACE_AFTER_HANDSHAKE:
                verdict = (True, "ok")
                break
            wait = deadline - now
            if secured_at is not None:
                wait = min(wait, secured_at + GRACE_AFTER_HANDSHAKE - now)
            if wait <= 0:
                verdict = (False, f"not ready after {args.timeout:g} s" + (f": {last_error}" if last_error else ""))
                break
            try:
                tag, line = lines.get(timeout=wait)
            except queue.Empty:
                continue
            if line is None:
                ended.add(tag)
                if ended == {"out", "err"}:
                    verdict = (False, "the gRPC child ended without a verdict" + (f": {last_error}" if last_error else ""))
                continue
            if tag == "out":
                if line.strip() == "READY":
                    verdict = (True, "ok")
                elif line.strip() == "NOT_READY":
                    verdict = (False, "not ready" + (f": {last_error}" if last_error else ""))
                continue
            text = line.split("] ", 1)[1] if "] " in line else line
            if line.startswith("E") and (last_error is None or not TLS_ERROR.search(last_error)):
                last_error = text  # the TLS library's "error:1000045c:..." line, when there is one
            if HANDSHAKE_FAILED in line:
                verdict = (False, line.split(HANDSHAKE_FAILED, 1)[1])
            elif CHANNEL_FAILED in line and "client_channel" in line:
                reason = line.split(CHANNEL_FAILED, 1)[1].removesuffix(")")
                reason = reason.split(", ", 1)[1] if reason.startswith("helper, ") else reason
                verdict = (False, reason + (f" ({last_error})" if last_error else ""))
            elif SECURED in line and AUTH_CONTEXT in line and secured_at is None:
                secured_at = time.monotonic()
    finally:
        child.kill()
        child.wait()
    return verdict


def main(argv):
    args = parse(argv)
    if args.mode == "_grpcio_channel":
        grpc_channel(args)
        return 0
    if args.mode == "requests":
        works, said = with_requests(args)
    elif args.mode == "ssl":
        works, said = with_ssl(args)
    else:
        works, said = with_grpcio(args, argv)
    print(json.dumps({"works": works, "said": said}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
