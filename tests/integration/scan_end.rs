//! How a scan ends: a JSON document written as its targets finish has every target in list order, and a
//! scan stopped by SIGTERM or SIGINT finishes its `--output` with what completed, marked interrupted, and
//! exits 143 or 130. Structure only: the bounds on time are "does not hang" limits, not measurements.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;
use preflight::lab::Scenario;
use serde_json::Value;

const HANG: Duration = Duration::from_secs(90);
/// How long a scan may take to end after the signal: it abandons its targets in flight and writes what it
/// has, so far less than their `--timeout 5s`.
const AFTER_SIGNAL: Duration = Duration::from_secs(3);
/// Refused ports first (done at once), then black holes (each waiting for its 5 s deadline).
const REFUSED: usize = 3;
const HOLES: usize = 12;

fn scan() -> std::process::Command {
    let mut cmd = preflight();
    cmd.arg("scan");
    cmd
}

/// `REFUSED` refused ports, then `HOLES` times the black-holed port; returns the refused targets.
fn slow_list(dir: &Path, hole: &BlackHole) -> (PathBuf, Vec<String>) {
    let refused: Vec<String> = (0..REFUSED)
        .map(|_| format!("127.0.0.1:{}", closed_port()))
        .collect();
    let mut text = refused.join("\n");
    text.push('\n');
    for _ in 0..HOLES {
        text.push_str(&format!("127.0.0.1:{}\n", hole.port));
    }
    let list = dir.join("slow.txt");
    std::fs::write(&list, text).unwrap();
    (list, refused)
}

/// A scan of `list` that takes a while: black holes wait for 5 s, 6 at a time.
fn slow_scan(list: &Path, extra: &[&str]) -> Child {
    scan()
        .arg("--targets")
        .arg(list)
        .args(["--no-alt-ports", "--timeout", "5s", "--concurrency", "6"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `ready` holds, polling; panics (after killing the child) past `limit`.
fn wait_until(child: &mut Child, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("not ready after {:?}", start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`TERM`, `INT`) with kill(1).
fn send(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// The exit code, once the child has ended within `limit` (else it is killed and the test fails).
fn exit_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// stderr, line by line, from a thread.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn inputs(reports: &[Value]) -> Vec<&str> {
    reports
        .iter()
        .map(|r| r["target"]["input"].as_str().unwrap())
        .collect()
}

#[test]
fn json_scan_has_every_target_in_list_order() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let dir = tempfile::tempdir().unwrap();
    // A TLS target first (slower than the refused ports after it), so later targets finish first.
    let mut targets = vec![lab.addr(Scenario::Cvp).to_string()];
    targets.extend((0..20).map(|_| format!("127.0.0.1:{}", closed_port())));
    let list = dir.path().join("list.txt");
    let mut text = format!("# a fleet\n{} cvp\n", targets[0]);
    for t in &targets[1..] {
        text.push_str(&format!("{t}\n"));
    }
    std::fs::write(&list, text).unwrap();
    let file = dir.path().join("scan.json");
    let run = |extra: &[&str]| {
        output_within(
            scan()
                .arg("--targets")
                .arg(&list)
                .args(["--format", "json", "--no-alt-ports", "--concurrency", "4"])
                .args(["--timeout", "5s", "--at", JUDGE_AT])
                .args(extra),
            None,
            HANG,
        )
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = doc.as_array().unwrap();
    assert_eq!(inputs(reports), targets, "every target, in list order");
    assert_eq!(reports[0]["target"]["product"], "cvp");
    assert!(reports.iter().all(|r| r.get("interrupted").is_none()));
    for r in &reports[1..] {
        assert_eq!(
            first_failure(r),
            Some(("tcp.connect".into(), "tcp_refused".into()))
        );
    }
    // The same document to --output.
    let out = run(&["--output", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(inputs(doc.as_array().unwrap()), targets);
}

#[test]
fn sigterm_finishes_the_json_output_with_what_completed() {
    let dir = tempfile::tempdir().unwrap();
    let hole = black_hole();
    let (list, refused) = slow_list(dir.path(), &hole);
    let file = dir.path().join("scan.json");
    let mut child = slow_scan(
        &list,
        &["--format", "json", "--output", file.to_str().unwrap()],
    );
    let stderr = stderr_lines(&mut child);
    // The document is written as targets finish: the refused ones are in the file while the holes wait.
    wait_until(&mut child, Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        text.matches("\"schema_version\"").count() == REFUSED
    });
    send(&child, "TERM");
    assert_eq!(exit_within(&mut child, AFTER_SIGNAL), Some(143));

    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let items = doc.as_array().unwrap();
    assert_eq!(items.len(), REFUSED + 1, "{doc:#}");
    assert_eq!(inputs(&items[..REFUSED]), refused);
    assert_eq!(
        items[REFUSED],
        serde_json::json!({"interrupted": {"signal": "SIGTERM", "not_run": HOLES}})
    );
    // Every line, to the end of stderr (the process has exited: the reader thread ends at EOF).
    let said: Vec<String> = stderr.iter().collect();
    assert!(
        said.iter()
            .any(|l| l.contains(&format!("interrupted by SIGTERM: {HOLES} targets not run"))),
        "{said:?}"
    );
}

#[test]
fn sigint_finishes_the_junit_output_with_what_completed() {
    let dir = tempfile::tempdir().unwrap();
    let hole = black_hole();
    let (list, refused) = slow_list(dir.path(), &hole);
    let file = dir.path().join("scan.xml");
    let mut child = slow_scan(
        &list,
        &[
            "--format",
            "junit",
            "--output",
            file.to_str().unwrap(),
            "-v",
        ],
    );
    // JUnit is written at the end (its root counts every suite): the trace says when the refused are done.
    let stderr = stderr_lines(&mut child);
    let name = list.display().to_string();
    let mut done = 0;
    wait_until(&mut child, Duration::from_secs(30), || {
        done += stderr
            .try_iter()
            .filter(|l| l.starts_with(&format!("{name}:")) && l.contains("tcp_refused"))
            .count();
        done >= REFUSED
    });
    // The trace line comes just before its target's result is taken: a moment for that.
    std::thread::sleep(Duration::from_millis(300));
    send(&child, "INT");
    assert_eq!(exit_within(&mut child, AFTER_SIGNAL), Some(130));

    let xml = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    let mut want: Vec<&str> = refused.iter().map(String::as_str).collect();
    want.push("preflight scan");
    assert_eq!(names, want, "{xml}");
    let root_tests: usize = doc
        .root_element()
        .attribute("tests")
        .unwrap()
        .parse()
        .unwrap();
    let suite_tests: usize = suites
        .iter()
        .map(|s| s.attribute("tests").unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(root_tests, suite_tests);
    let last = suites[REFUSED];
    let props: Vec<(&str, &str)> = last
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
        .collect();
    let not_run = HOLES.to_string();
    assert_eq!(
        props,
        [("interrupted", "SIGINT"), ("not_run", not_run.as_str())]
    );
    let out = last
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(out.contains("Interrupted by SIGINT"), "{out}");
}
