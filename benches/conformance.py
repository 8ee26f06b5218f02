#!/usr/bin/env python3
"""Measure `preflight verify` on the x509-limbo conformance suite.

What it measures: for every limbo test case that x509-limbo's rust-webpki
harness would run, the `trust.custom` check of `preflight verify` (status and
code), then: agreement with limbo's expected_result, the codes preflight gives
the chains it rejects, the share of the fallback code `other` (with every
`other` case listed), and the runs that look like bugs (exit code not 0/1,
JSON that does not parse, no `trust.custom` check, deadline exceeded).

Usage:

    cargo build --release
    python3 benches/conformance.py /tmp/limbo.json
    python3 benches/conformance.py /tmp/limbo.json --preflight /tmp/preflight-base \\
        --jobs 2 --timeout 30 --json /tmp/conformance.json
    python3 benches/conformance.py /tmp/limbo.json --include 'webpki::*'

Options: --preflight PATH (default target/release/preflight), --jobs N
(default 2), --timeout SECONDS per case (default 30), --json OUT (per-case
results), --include/--exclude GLOB (fnmatch on limbo ids), --disagreements
(list them, not only count them), --quiet (no progress on stderr). The exit
code is 0 unless the harness itself failed (bad runs are reported, not fatal).

limbo.json is not shipped by x509-limbo; generate it from its source (Python
3.11+; keep it out of this repository):

    python3 -m venv /tmp/limbo-venv
    /tmp/limbo-venv/bin/pip install 'pydantic~=2.13' 'cryptography~=46.0' \\
        'pyyaml~=6.0' pyOpenSSL certifi 'requests~=2.33' Jinja2
    cd x509-limbo && /tmp/limbo-venv/bin/python -m limbo compile -o /tmp/limbo.json

Its bettertls:: cases (about 9,600 of the ~9,800) need
limbo/_assets/bettertls.json (a generated file, absent from some snapshots), which
Netflix/bettertls writes: `go build -C test-suites/cmd/bettertls -o /tmp/bt`
then `/tmp/bt export-tests -out limbo/_assets/bettertls.json` (its certificates
are freshly generated each time; the verdicts do not change). Without it, make
`limbo.testcases.bettertls.register_testcases` a no-op before calling
`limbo._cli.main()`; the suite then has ~200 cases.

Which cases run (as harness/rust-webpki/src/main.rs): SERVER validation only;
skipped are the features max-chain-depth and has-crl (and any case with a
max_chain_depth or CRLs), non-empty signature_algorithms or key_usage, and
RFC822 peer names (preflight's --name takes DNS names and IP addresses; the
webpki 0.22 harness skips IP names, rustls-webpki and preflight check them).
extended_key_usage is ignored, as the harness does (preflight always wants
serverAuth). A case without an expected peer name runs without --name; one
without a validation time runs without --at (now).

Each case runs:

    preflight verify --chain CHAIN.pem --ca CA.pem [--name NAME] [--at TIME] --format json

with CHAIN.pem = peer certificate + untrusted intermediates (leaf first) and
CA.pem = the trusted certificates. "preflight rejects" means trust.custom's
status is `fail`. limbo's expectations follow RFC 5280 and the CA/B Forum,
where webpki (so preflight) knowingly differs on some; disagreements are
counted, not treated as errors.

Stdlib only; not part of any test suite (it needs the generated limbo.json).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

CHECK_ID = "trust.custom"


def skip_reason(tc: dict) -> str | None:
    """Why the rust-webpki harness (or preflight's CLI) cannot run this case."""
    features = tc.get("features") or []
    if "max-chain-depth" in features or tc.get("max_chain_depth") is not None:
        return "max-chain-depth not expressible"
    if "has-crl" in features or tc.get("crls"):
        return "CRLs not supported"
    if tc.get("validation_kind") != "SERVER":
        return "non-SERVER validation"
    if tc.get("signature_algorithms"):
        return "signature_algorithms not supported"
    if tc.get("key_usage"):
        return "key_usage not supported"
    peer = tc.get("expected_peer_name")
    if peer and peer.get("kind") not in ("DNS", "IP"):
        return f"{peer.get('kind')} peer name not expressible"
    return None


def rfc3339(value: str) -> str:
    """limbo's isoformat (`+00:00`, optional millis) as RFC 3339 UTC with `Z`."""
    dt = datetime.fromisoformat(value).astimezone(timezone.utc)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def pem_join(items: list[str]) -> str:
    return "".join(p if p.endswith("\n") else p + "\n" for p in items)


def first_line(text: str) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def gist(text: str) -> str:
    """The description's first line; when that only introduces a chain diagram
    ("Produces the following **invalid** chain:"), the first prose line after it."""
    head = first_line(text)
    if not head.endswith(":"):
        return head
    fenced = False
    for line in (text or "").splitlines()[1:]:
        s = line.strip()
        if s.startswith("```"):
            fenced = not fenced
        elif s and not fenced:
            return f"{head} ... {s}"
    return head


def run_case(tc: dict, preflight: str, timeout: float) -> dict:
    peer = tc.get("expected_peer_name")
    result = {
        "id": tc["id"],
        "description": first_line(tc.get("description", "")),
        "gist": gist(tc.get("description", "")),
        "expected": tc["expected_result"],
        "peer_kind": peer.get("kind") if peer else None,
        "exit_code": None,
        "status": None,
        "code": None,
        "summary": None,
        "verdict": None,
        "problem": None,
        "stderr": None,
        "elapsed_s": None,
    }
    with tempfile.TemporaryDirectory(prefix="limbo-") as tmp:
        chain = os.path.join(tmp, "chain.pem")
        ca = os.path.join(tmp, "ca.pem")
        with open(chain, "w") as f:
            f.write(pem_join([tc["peer_certificate"], *tc.get("untrusted_intermediates", [])]))
        with open(ca, "w") as f:
            f.write(pem_join(tc.get("trusted_certs", [])))
        # Relative names (cwd is the temp dir), so summaries quote no temp path.
        cmd = [preflight, "verify", "--chain", "chain.pem", "--ca", "ca.pem"]
        if peer:
            cmd += ["--name", peer["value"]]
        if tc.get("validation_time"):
            cmd += ["--at", rfc3339(tc["validation_time"])]
        cmd += ["--format", "json", "--color", "never"]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                cwd=tmp,
                env={**os.environ, "NO_COLOR": "1"},
            )
        except subprocess.TimeoutExpired:
            result["elapsed_s"] = round(time.monotonic() - start, 3)
            result["problem"] = f"deadline of {timeout:g}s exceeded"
            return result
        result["elapsed_s"] = round(time.monotonic() - start, 3)
    result["exit_code"] = proc.returncode
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    result["stderr"] = stderr[-2000:] or None
    problems = []
    if proc.returncode not in (0, 1):
        problems.append(f"exit code {proc.returncode}")
    try:
        report = json.loads(proc.stdout)
    except ValueError as e:
        problems.append(f"JSON does not parse ({e.__class__.__name__}: {str(e)[:80]})")
        report = None
    if isinstance(report, dict):
        result["verdict"] = report.get("verdict")
        check = next((c for c in report.get("checks", []) if c.get("id") == CHECK_ID), None)
        if check is None:
            problems.append(f"no {CHECK_ID} check in the report")
        else:
            result["status"] = check.get("status")
            result["code"] = check.get("code")
            result["summary"] = check.get("summary")
            if result["status"] == "fail" and proc.returncode != 1:
                problems.append(f"{CHECK_ID} fails but exit code is {proc.returncode}")
    elif report is not None:
        problems.append("JSON is not an object")
    if problems:
        result["problem"] = "; ".join(problems)
    return result


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "-"


def cause_of(summary: str | None) -> str:
    """A summary's first clause: the cause, without the per-certificate details
    (names, serial numbers) that later clauses add."""
    return (summary or "").split("; ", 1)[0].strip()


def suite_of(case_id: str) -> str:
    return case_id.split("::", 1)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("limbo", help="path of limbo.json")
    ap.add_argument("--preflight", default="target/release/preflight", help="preflight binary")
    ap.add_argument("--jobs", type=int, default=2, help="cases run in parallel (default 2)")
    ap.add_argument("--timeout", type=float, default=30.0, help="deadline per case, seconds")
    ap.add_argument("--json", metavar="OUT", help="write the per-case results here")
    ap.add_argument("--include", metavar="GLOB", help="only limbo ids matching this fnmatch glob")
    ap.add_argument("--exclude", metavar="GLOB", help="leave out limbo ids matching this glob")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument(
        "--disagreements", action="store_true", help="also list the cases where preflight and limbo disagree"
    )
    args = ap.parse_args()

    preflight = os.path.abspath(args.preflight)
    if not os.access(preflight, os.X_OK):
        print(f"error: {args.preflight} is not an executable (cargo build --release?)", file=sys.stderr)
        return 2
    with open(args.limbo) as f:
        limbo = json.load(f)
    cases = limbo["testcases"]
    if args.include:
        cases = [c for c in cases if fnmatch.fnmatchcase(c["id"], args.include)]
    if args.exclude:
        cases = [c for c in cases if not fnmatch.fnmatchcase(c["id"], args.exclude)]

    skipped: collections.Counter[str] = collections.Counter()
    to_run = []
    for tc in cases:
        reason = skip_reason(tc)
        if reason:
            skipped[reason] += 1
        else:
            to_run.append(tc)

    results: list[dict] = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_case, tc, preflight, args.timeout) for tc in to_run]
        for i, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            results.append(fut.result())
            if not args.quiet and (i % 500 == 0 or i == len(futures)):
                print(f"  {i}/{len(futures)} cases", file=sys.stderr)
    wall = time.monotonic() - started
    results.sort(key=lambda r: r["id"])

    out = print
    out(f"x509-limbo: {args.limbo} ({len(limbo['testcases'])} cases)")
    out(f"preflight:  {preflight}")
    out(f"cases run: {len(results)}, skipped: {sum(skipped.values())} ({wall:.0f} s, {args.jobs} jobs)")
    for reason, n in skipped.most_common():
        out(f"  skipped {n:5d}  {reason}")

    # Agreement with limbo's expectation.
    ok_runs = [r for r in results if r["status"] is not None]
    rejects = [r for r in ok_runs if r["status"] == "fail"]
    out("")
    out("agreement (preflight trust.custom fail <-> limbo expected FAILURE):")
    matrix: collections.Counter[tuple[str, str]] = collections.Counter()
    by_suite: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in ok_runs:
        got = "FAILURE" if r["status"] == "fail" else "SUCCESS"
        matrix[(r["expected"], got)] += 1
        agree = "agree" if got == r["expected"] else "disagree"
        by_suite[suite_of(r["id"])][agree] += 1
        if r["peer_kind"] == "IP":
            by_suite["(IP peer names)"][agree] += 1
    agree_n = matrix[("FAILURE", "FAILURE")] + matrix[("SUCCESS", "SUCCESS")]
    out(f"  agree {agree_n}/{len(ok_runs)} ({pct(agree_n, len(ok_runs))})")
    out(f"  expected FAILURE, preflight fails:   {matrix[('FAILURE', 'FAILURE')]}")
    out(f"  expected SUCCESS, preflight accepts: {matrix[('SUCCESS', 'SUCCESS')]}")
    out(f"  expected FAILURE, preflight accepts: {matrix[('FAILURE', 'SUCCESS')]}  (disagreement)")
    out(f"  expected SUCCESS, preflight fails:   {matrix[('SUCCESS', 'FAILURE')]}  (disagreement)")
    out("  by suite:")
    for suite, c in sorted(by_suite.items()):
        tot = c["agree"] + c["disagree"]
        out(f"    {suite:18s} {c['agree']:5d}/{tot:<5d} agree ({pct(c['agree'], tot)})")
    statuses = collections.Counter(r["status"] for r in ok_runs)
    out("  trust.custom statuses: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))

    # Codes among rejections.
    codes = collections.Counter(r["code"] for r in rejects)
    out("")
    out(f"codes of the {len(rejects)} chains preflight rejects:")
    out(f"  {'code':28s} {'count':>6s} {'share':>7s}")
    for code, n in codes.most_common():
        out(f"  {str(code):28s} {n:6d} {pct(n, len(rejects)):>7s}")
    others = [r for r in rejects if r["code"] == "other"]
    out(f"share of `other`: {len(others)}/{len(rejects)} = {pct(len(others), len(rejects))}")

    out("")
    out(f"`other` by cause: the summary up to its first '; ' ({len(others)} cases):")
    for cause, n in collections.Counter(cause_of(r["summary"]) for r in others).most_common():
        out(f"  {n:5d}  {cause}")
    out("")
    out("every `other` case (id | description, first line | trust.custom summary):")
    for r in others:
        out(f"  {r['id']} | {r['gist']} | {r['summary']}")

    # Disagreements, by code, for the cases preflight rejects against limbo.
    strict = collections.Counter(r["code"] for r in rejects if r["expected"] == "SUCCESS")
    if strict:
        out("")
        out("codes where limbo expects SUCCESS but preflight fails: "
            + ", ".join(f"{k} {v}" for k, v in strict.most_common()))

    if args.disagreements:
        out("")
        out("disagreements (expected | trust.custom status, code | id | summary):")
        for r in ok_runs:
            if (r["status"] == "fail") != (r["expected"] == "FAILURE"):
                out(f"  {r['expected']} | {r['status']} {r['code']} | {r['id']} | {r['summary']}")

    bad = [r for r in results if r["problem"]]
    out("")
    out(f"bad runs (exit code not 0/1, unparsable JSON, no {CHECK_ID}, deadline): {len(bad)}")
    for r in bad:
        err = first_line(r["stderr"] or "")
        out(f"  {r['id']}: {r['problem']}" + (f" -- stderr: {err[:200]}" if err else ""))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "limbo": os.path.abspath(args.limbo),
                    "preflight": preflight,
                    "skipped": dict(skipped),
                    "results": results,
                },
                f,
                indent=2,
            )
        out(f"\nper-case results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
