#!/usr/bin/env bash
# preflight's speed, side by side with curl and openssl, on loopback. Run by hand; not part of `cargo test`.
#
#   (a) one TLS-only check of an `openssl s_server` against `openssl s_client` and `curl -sk` on the same server
#       (median of RUNS runs each; hyperfine when installed, else a python loop). Target: ≤ 1.5 × curl.
#   (b) 1,000 loopback targets in one `preflight scan --format jsonl`, at --concurrency 64 and 256: targets per
#       second and peak RSS. Targets: ≥ 300 targets/s, peak RSS < 150 MB.
#   (c) black-holed ports (a full accept queue: no SYN-ACK) with --timeout 2s: time to a verdict for one check,
#       and for 100 such targets in one scan at --concurrency 100. Target: ≤ 2.5 s each.
#   (d) the check of (a) through tinyproxy (HTTPS_PROXY-style CONNECT) against `curl -sk --proxy` through the
#       same proxy: what the tunnel costs each (skipped when tinyproxy is not installed).
#
# Usage: benches/run.sh [RUNS]        RUNS: runs per command in (a) (default 30); (b) runs 3 times, (c) 3 and 1
# Needs cargo, openssl, curl and python3; hyperfine is optional (apt-get install -y hyperfine; BENCH_NO_HYPERFINE=1
# uses the python loop even so), and so is /usr/bin/time for peak RSS (apt-get install -y time).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-30}
SCAN_RUNS=3
HERE=$PWD/benches
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  # Only what this script started, by process id.
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "benches/run.sh: $tool is needed" >&2; exit 2; }
done

echo "# building: cargo build --release" >&2
cargo build --release --quiet
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
BIN=$PWD/target/release/preflight
MEASURE="python3 $HERE/measure.py"

# Waits for a line matching $2 in file $1 (a server's output), up to 10 s.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "benches/run.sh: gave up waiting for '$2' in $1" >&2
  cat "$1" >&2
  exit 3
}

# ---------------------------------------------------------------------------------------------------------------
# (a) One TLS-only check: preflight vs openssl s_client vs curl -sk, against one loopback openssl s_server.
# ---------------------------------------------------------------------------------------------------------------
echo "# (a) one TLS check: preflight, curl -sk, openssl s_client (median of $RUNS runs each)" >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE \
  -addext extendedKeyUsage=serverAuth -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
# -www answers curl's GET; s_client and preflight only shake hands.
openssl s_server -accept 127.0.0.1:0 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www </dev/null \
  >"$WORK/s_server.out" 2>&1 &
PIDS+=($!)
wait_for "$WORK/s_server.out" '^ACCEPT'
PORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$WORK/s_server.out" | head -1)

PF_CMD="$BIN check 127.0.0.1:$PORT --no-alt-ports --ca $WORK/cert.pem --format json"
CURL_CMD="curl -sk https://127.0.0.1:$PORT/ -o /dev/null"
SC_CMD="openssl s_client -connect 127.0.0.1:$PORT -servername localhost"
# Sanity: preflight passes this server (exit 0), curl gets the page.
$PF_CMD >/dev/null || { echo "benches/run.sh: preflight did not pass the s_server" >&2; exit 3; }
$CURL_CMD || { echo "benches/run.sh: curl failed against the s_server" >&2; exit 3; }

if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
  TOOL="hyperfine $(hyperfine --version | awk '{print $2}')"
  hyperfine --warmup 3 --runs "$RUNS" --export-json "$WORK/a.json" \
    "$PF_CMD" "$CURL_CMD" "$SC_CMD </dev/null" </dev/null >/dev/null 2>&1
  python3 - "$WORK/a.json" >"$WORK/a.txt" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print(" ".join(str(r["median"] * 1000) for r in results))
EOF
else
  TOOL="a python loop"
  for cmd in "$PF_CMD" "$CURL_CMD" "$SC_CMD"; do
    # shellcheck disable=SC2086
    $MEASURE --runs "$RUNS" --wall-only -- $cmd | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'
  done | paste -sd' ' >"$WORK/a.txt"
fi
read -r A_PF A_CURL A_SC <"$WORK/a.txt"

# ---------------------------------------------------------------------------------------------------------------
# (d) The same check through tinyproxy: preflight --proxy vs curl --proxy.
# ---------------------------------------------------------------------------------------------------------------
D_PF=0 D_CURL=0
if command -v tinyproxy >/dev/null; then
  echo "# (d) through tinyproxy: preflight --proxy, curl -sk --proxy (median of $RUNS runs each)" >&2
  TP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'Port %s\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\nLogLevel Critical\n' "$TP_PORT" \
    >"$WORK/tinyproxy.conf"
  tinyproxy -d -c "$WORK/tinyproxy.conf" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$TP_PORT") 2>/dev/null && break; sleep 0.1; done
  PFP_CMD="$BIN check localhost:$PORT --no-alt-ports --ca $WORK/cert.pem --format json --proxy http://127.0.0.1:$TP_PORT"
  CURLP_CMD="curl -sk --proxy http://127.0.0.1:$TP_PORT https://localhost:$PORT/ -o /dev/null"
  $PFP_CMD >/dev/null || { echo "benches/run.sh: preflight did not pass the s_server through tinyproxy" >&2; exit 3; }
  if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs "$RUNS" --export-json "$WORK/d.json" "$PFP_CMD" "$CURLP_CMD" </dev/null >/dev/null 2>&1
    python3 -c 'import json,sys; print(" ".join(str(r["median"]*1000) for r in json.load(open(sys.argv[1]))["results"]))' \
      "$WORK/d.json" >"$WORK/d.txt"
  else
    for cmd in "$PFP_CMD" "$CURLP_CMD"; do
      # shellcheck disable=SC2086
      $MEASURE --runs "$RUNS" --wall-only -- $cmd | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'
    done | paste -sd' ' >"$WORK/d.txt"
  fi
  read -r D_PF D_CURL <"$WORK/d.txt"
fi

# ---------------------------------------------------------------------------------------------------------------
# (b) 1,000 loopback targets in one scan.
# ---------------------------------------------------------------------------------------------------------------
# The fleet: the built-in lab (its own process: rustls servers, the CloudVision-like gRPC and the Prisma-like
# ping endpoints) plays the consoles, so every target gets a real handshake, chain, trust judgement and product
# probe: 35 % CloudVision by address (gRPC probe), 35 % Prisma by address (ping), 15 % generic TLS, 10 %
# CloudVision by the name localhost (through the system resolver and /etc/hosts; its ::1 address is dead, a
# warning), 3 % plain HTTP (not_tls), 2 % a refused port (tcp_refused, the other known port probed too).
# Every target is a new connection and a full handshake (no session resumption); the servers share the
# machine's two cores with the scanner.
echo "# (b) 1,000 loopback targets: preflight scan --format jsonl at --concurrency 64 and 256 ($SCAN_RUNS runs each)" >&2
"$BIN" lab --scenario cvp --scenario prisma --scenario plaintext --dir "$WORK/lab" >"$WORK/lab.out" 2>&1 &
PIDS+=($!)
wait_for "$WORK/lab.out" 'Press Ctrl-C'
python3 - "$WORK/lab/lab.json" >"$WORK/fleet.txt" <<'EOF'
import json, socket, sys
lab = {s["scenario"]: s["addr"] for s in json.load(open(sys.argv[1]))}
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
closed = probe.getsockname()[1]
probe.close()
cvp_port = lab["cvp"].rsplit(":", 1)[1]
mix = [
    (35, f"{lab['cvp']} cvp"),
    (35, f"{lab['prisma']} prisma"),
    (15, f"{lab['cvp']}"),
    (10, f"localhost:{cvp_port} cvp"),
    (3, f"{lab['plaintext']}"),
    (2, f"127.0.0.1:{closed}"),
]
print("# 1,000 loopback targets (benches/run.sh)")
for i in range(1000):
    slot, edge = i % 100, 0
    for share, line in mix:
        edge += share
        if slot < edge:
            print(line)
            break
EOF
CAS="--ca $WORK/lab/cvp.crt --ca $WORK/lab/prisma-console-ca.pem"
for c in 64 256; do
  # shellcheck disable=SC2086
  $MEASURE --runs "$SCAN_RUNS" --jsonl -- "$BIN" scan --targets "$WORK/fleet.txt" --format jsonl \
    --concurrency "$c" $CAS >"$WORK/b$c.json"
done

# ---------------------------------------------------------------------------------------------------------------
# (c) Black-holed ports with --timeout 2s.
# ---------------------------------------------------------------------------------------------------------------
echo "# (c) black-holed ports, --timeout 2s: one check, then 100 targets at --concurrency 100" >&2
mkfifo "$WORK/holes.in"
python3 "$HERE/blackhole.py" 100 <"$WORK/holes.in" >"$WORK/holes.txt" &
PIDS+=($!)
exec 7>"$WORK/holes.in" # held open: the holes stay until this script ends
for _ in $(seq 100); do [ "$(wc -l <"$WORK/holes.txt")" -ge 100 ] && break; sleep 0.1; done
HOLE=$(head -1 "$WORK/holes.txt")
$MEASURE --runs 3 --jsonl -- "$BIN" check "127.0.0.1:$HOLE" --timeout 2s --no-alt-ports --format jsonl \
  >"$WORK/c1.json"
sed 's/^/127.0.0.1:/' "$WORK/holes.txt" >"$WORK/holes.list"
$MEASURE --runs 1 --jsonl -- "$BIN" scan --targets "$WORK/holes.list" --timeout 2s --no-alt-ports \
  --concurrency 100 --format jsonl >"$WORK/c100.json"
exec 7>&-

# ---------------------------------------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
python3 - "$WORK" "$A_PF" "$A_CURL" "$A_SC" "$TOOL" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$D_PF" "$D_CURL" <<'EOF'
import json, os, platform, sys
work, pf, curl, sc, tool, runs = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5], sys.argv[6]
load_before, load_after = sys.argv[7], sys.argv[8]
d_pf, d_curl = float(sys.argv[9]), float(sys.argv[10])
load = lambda name: json.load(open(os.path.join(work, name)))
ok = lambda cond: "met" if cond else "MISSED"
cores = os.cpu_count()
print(f"preflight benchmarks on {platform.machine()}, {cores} cores, {platform.system()} {platform.release()}")
print(f"load average before {load_before}, after {load_after} (the runs themselves load the machine; a load above"
      " about 1 before the start means other work skews these numbers: rerun on a quiet machine)")
print()
print(f"(a) one TLS check of a loopback openssl s_server, median of {runs} runs ({tool})")
print(f"    preflight check --no-alt-ports   {pf:7.1f} ms")
print(f"    curl -sk                         {curl:7.1f} ms")
print(f"    openssl s_client                 {sc:7.1f} ms")
print(f"    preflight/curl = {pf / curl:.2f}   preflight/s_client = {pf / sc:.2f}   target ≤ 1.5 × curl: {ok(pf <= 1.5 * curl)}")
print()
print("(b) 1,000 loopback targets, one preflight scan --format jsonl (median wall of 3 runs, peak RSS of any run,"
      f" from {load('b64.json')['rss_from']})")
for c in (64, 256):
    b = load(f"b{c}.json")
    rate = 1000 / (b["median_ms"] / 1000)
    mb = b["peak_rss_kib"] / 1024
    print(f"    --concurrency {c:<4} {b['median_ms'] / 1000:5.2f} s  {rate:6.0f} targets/s  peak RSS {mb:5.1f} MB  "
          f"reports {b['reports']}  slowest target {b['slowest_report_ms']} ms  "
          f"targets ≥ 300/s, < 150 MB: {ok(rate >= 300 and mb < 150 and b['reports'] == 1000)}")
print()
c1, c100 = load("c1.json"), load("c100.json")
print("(c) black-holed port, --timeout 2s")
print(f"    one check                        {c1['median_ms'] / 1000:5.2f} s to its verdict (median of 3)   "
      f"target ≤ 2.5 s: {ok(c1['median_ms'] <= 2500)}")
print(f"    100 targets, --concurrency 100   {c100['max_ms'] / 1000:5.2f} s for the whole scan, "
      f"{c100['reports']} reports, slowest {c100['slowest_report_ms']} ms   target ≤ 2.5 s: "
      f"{ok(c100['max_ms'] <= 2500 and c100['reports'] == 100)}")
print()
if d_pf and d_curl:
    print(f"(d) the check of (a) through tinyproxy (CONNECT), median of {runs} runs ({tool})")
    print(f"    preflight check --proxy          {d_pf:7.1f} ms   (+{d_pf - pf:.1f} ms over direct)")
    print(f"    curl -sk --proxy                 {d_curl:7.1f} ms   (+{d_curl - curl:.1f} ms over direct)")
    print(f"    preflight/curl through the proxy = {d_pf / d_curl:.2f}")
else:
    print("(d) skipped: tinyproxy is not installed (apt-get install -y tinyproxy)")
EOF
