#!/usr/bin/env python3
"""Runs a command N times and prints its wall time (median, min, max, in ms) and peak RSS (the largest
"Maximum resident set size" of `/usr/bin/time -v` over the runs); with --jsonl, also checks that stdout
holds one JSON report per line and counts them, with the largest elapsed_ms of a report.

Without /usr/bin/time (apt-get install -y time) the RSS comes from wait4, which also counts what this python
process had resident when it spawned the command (Linux keeps the high-water mark across exec): an
over-estimate.

Usage: measure.py [--runs N] [--jsonl] [--wall-only] [--stdin FILE] -- COMMAND...   (prints one JSON object)
--wall-only runs the command directly (no /usr/bin/time in between), for wall times of a few milliseconds."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

args = sys.argv[1:]
runs, jsonl, stdin_path, wall_only = 1, False, None, False
while args and args[0] != "--":
    flag = args.pop(0)
    if flag == "--runs":
        runs = int(args.pop(0))
    elif flag == "--jsonl":
        jsonl = True
    elif flag == "--wall-only":
        wall_only = True
    elif flag == "--stdin":
        stdin_path = args.pop(0)
    else:
        sys.exit(f"measure.py: unknown option {flag}")
command = args[1:]

gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) and not wall_only else None
report = tempfile.NamedTemporaryFile(prefix="measure-time-", delete=False).name
walls, rss, lines, slowest, codes = [], 0, None, None, set()
for _ in range(runs):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    argv = [gnu_time, "-v", "-o", report, *command] if gnu_time else command
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    walls.append((time.perf_counter() - start) * 1000)
    codes.add(os.waitstatus_to_exitcode(status))
    if gnu_time:
        text = open(report).read()
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        rss = max(rss, int(match.group(1)) if match else 0)
        match = re.search(r"Exit status: (\d+)", text)
        if match:
            codes.discard(os.waitstatus_to_exitcode(status))
            codes.add(int(match.group(1)))
    else:
        rss = max(rss, usage.ru_maxrss)  # KiB on Linux
    if jsonl:
        reports = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        lines = len(reports)
        slowest = max((r["elapsed_ms"] for r in reports), default=None)

os.unlink(report)
print(json.dumps({
    "runs": runs,
    "median_ms": statistics.median(walls),
    "min_ms": min(walls),
    "max_ms": max(walls),
    "peak_rss_kib": rss,
    "rss_from": "/usr/bin/time -v" if gnu_time else "wait4 (over-estimate)",
    "exit_codes": sorted(codes),
    "reports": lines,
    "slowest_report_ms": slowest,
}))
