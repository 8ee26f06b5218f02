//! `preflight scan`: a list of targets against the lab, `openssl s_server` serving fixtures and odd listeners.
//! Bounds on time are generous "does not hang" limits, never measurements.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use preflight::lab::Scenario;
use serde_json::Value;

const HANG: Duration = Duration::from_secs(90);
const FIXTURE_NAME: &str = "fixture.preflight.test";

/// (product, verdict, first failing check and its code).
type Expected = (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// `openssl s_server` serving a fixture's chain (leaf first), as tests/trust.rs does.
fn serve_fixture(name: &str) -> OpensslServer {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let file = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let mut args = vec![
        "-cert".to_string(),
        file("leaf.pem"),
        "-key".into(),
        file("key.pem"),
    ];
    if dir.join("rest.pem").exists() {
        args.extend(["-cert_chain".into(), file("rest.pem")]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    OpensslServer::start(&refs)
}

/// Everything a mixed fleet needs, kept alive for the test.
struct Fleet {
    lab: RunningLab,
    self_signed: OpensslServer,
    expired: OpensslServer,
    hole: BlackHole,
    refused: u16,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn start() -> Fleet {
        Fleet {
            lab: RunningLab::start(&[Scenario::Cvp]),
            self_signed: serve_fixture("self_signed"),
            expired: serve_fixture("expired"),
            hole: black_hole(),
            refused: closed_port(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cvp(&self) -> String {
        self.lab.addr(Scenario::Cvp).to_string()
    }

    /// The list, with two bad lines (8 and 9), and the targets each good line names.
    fn list(&self) -> String {
        format!(
            "# a mixed fleet\n\
             {cvp} cvp\n\
             127.0.0.1:{refused}\n\
             \n\
             127.0.0.1:{hole}   generic   # black-holed\n\
             {FIXTURE_NAME}:{ss}\n\
             {FIXTURE_NAME}:{ex} prisma\n\
             cvp9.example.com:443 nosuchproduct\n\
             ftp://old.example.com\n",
            cvp = self.cvp(),
            refused = self.refused,
            hole = self.hole.port,
            ss = self.self_signed.port,
            ex = self.expired.port,
        )
    }

    fn list_file(&self) -> PathBuf {
        let path = self.dir.path().join("fleet.txt");
        std::fs::write(&path, self.list()).unwrap();
        path
    }

    /// The options every scan of the fleet takes: the lab's CloudVision certificate trusted, the fixture
    /// name resolved to loopback, judged at the fixtures' time, short deadlines.
    fn options(&self) -> Vec<String> {
        self.options_with_timeout("2s")
    }

    fn options_with_timeout(&self, timeout: &str) -> Vec<String> {
        vec![
            "--ca".into(),
            self.lab
                .trust_file(Scenario::Cvp)
                .to_str()
                .unwrap()
                .to_string(),
            "--resolve".into(),
            format!("{FIXTURE_NAME}:*:127.0.0.1"),
            "--at".into(),
            JUDGE_AT.into(),
            "--timeout".into(),
            timeout.into(),
            "--no-alt-ports".into(),
        ]
    }

    /// target input → (product, verdict, first failing check and code).
    fn expected(&self) -> HashMap<String, Expected> {
        HashMap::from([
            (self.cvp(), ("cvp", "pass", None)),
            (
                format!("127.0.0.1:{}", self.refused),
                ("generic", "fail", Some(("tcp.connect", "tcp_refused"))),
            ),
            (
                format!("127.0.0.1:{}", self.hole.port),
                ("generic", "fail", Some(("tcp.connect", "tcp_timeout"))),
            ),
            (
                format!("{FIXTURE_NAME}:{}", self.self_signed.port),
                ("generic", "fail", Some(("trust.custom", "self_signed"))),
            ),
            (
                format!("{FIXTURE_NAME}:{}", self.expired.port),
                ("prisma", "fail", Some(("trust.custom", "expired"))),
            ),
        ])
    }
}

/// Checks that every expected target appears exactly once with its verdict and first failing check.
fn assert_reports(fleet: &Fleet, reports: &[Value]) {
    let expected = fleet.expected();
    assert_eq!(reports.len(), expected.len(), "{reports:#?}");
    let mut seen = HashMap::new();
    for r in reports {
        let input = r["target"]["input"].as_str().unwrap().to_string();
        *seen.entry(input.clone()).or_insert(0) += 1;
        let (product, verdict, failure) = expected
            .get(&input)
            .unwrap_or_else(|| panic!("unexpected target {input}"));
        assert_eq!(r["target"]["product"], *product, "{input}");
        assert_eq!(r["verdict"], *verdict, "{input}: {r:#}");
        let got = first_failure(r);
        let want = failure.map(|(id, code)| (id.to_string(), code.to_string()));
        assert_eq!(got, want, "{input}");
    }
    assert!(seen.values().all(|n| *n == 1), "each target once: {seen:?}");
}

fn scan() -> std::process::Command {
    let mut cmd = preflight();
    cmd.arg("scan");
    cmd
}

#[test]
fn mixed_fleet_streams_one_line_per_target_and_names_bad_lines() {
    let fleet = Fleet::start();
    let list = fleet.list_file();
    let out = output_within(
        scan()
            .arg("--targets")
            .arg(&list)
            .args(["--format", "jsonl"])
            .args(fleet.options()),
        None,
        HANG,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Bad lines win over failed checks: exit code 2, each bad line named with the file and its number.
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let name = list.display().to_string();
    assert!(
        stderr.contains(&format!("{name}:8: unknown product `nosuchproduct`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:9: invalid target `ftp://old.example.com`")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "only the bad lines: {stderr}");
    let reports = json_lines(&out.stdout);
    assert_reports(&fleet, &reports);
}

#[test]
fn jsonl_streams_each_report_as_its_target_finishes() {
    let fleet = Fleet::start();
    let list = fleet.dir.path().join("two.txt");
    std::fs::write(
        &list,
        format!("127.0.0.1:{}\n{} cvp\n", fleet.hole.port, fleet.cvp()),
    )
    .unwrap();
    let mut child = scan()
        .arg("--targets")
        .arg(&list)
        .args(["--format", "jsonl"])
        .args(fleet.options_with_timeout("5s"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["target"]["input"], fleet.cvp());
    // The good target's line arrived while the black-holed one still waits for its deadline.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the scan already ended"
    );
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        first_failure(&second),
        Some(("tcp.connect".into(), "tcp_timeout".into()))
    );
    assert!(lines.next().is_none());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn targets_from_stdin_and_exit_codes() {
    let fleet = Fleet::start();
    let run = |list: String| {
        output_within(
            scan()
                .args(["--targets", "-", "--format", "jsonl"])
                .args(fleet.options()),
            Some(&list),
            HANG,
        )
    };
    // Every target passes or warns: 0.
    let out = run(format!("# only good\n{} cvp\n", fleet.cvp()));
    assert_eq!(out.status.code(), Some(0));
    let reports = json_lines(&out.stdout);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["verdict"], "pass");
    // A target fails: 1.
    let out = run(format!(
        "{} cvp\n127.0.0.1:{}\n",
        fleet.cvp(),
        fleet.refused
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout).len(), 2);
    // A bad line on stdin is named as such.
    let out = run(format!("{} cvp\n\nnope nope nope\n", fleet.cvp()));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stdin:3: unexpected `nope`"), "{stderr}");
    assert_eq!(json_lines(&out.stdout).len(), 1);
}

#[test]
fn concurrency_one_still_finishes() {
    let fleet = Fleet::start();
    let list = fleet.list_file();
    let out = output_within(
        scan()
            .arg("--targets")
            .arg(&list)
            .args(["--format", "jsonl", "--concurrency", "1"])
            .args(fleet.options()),
        None,
        HANG,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_reports(&fleet, &json_lines(&out.stdout));
}

#[test]
fn table_summary_lists_every_target_in_list_order() {
    let fleet = Fleet::start();
    let list = fleet.list_file();
    let out = output_within(
        scan().arg("--targets").arg(&list).args(fleet.options()),
        None,
        HANG,
    );
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    for header in [
        "TARGET",
        "PRODUCT",
        "VERDICT",
        "FIRST FAILING CHECK",
        "CODE",
    ] {
        assert!(text.contains(header), "{header}:\n{text}");
    }
    // One row per target, in the list's order, with its verdict, first failing check and code.
    let rows = [
        (fleet.cvp(), "cvp", "PASS", " - ", " - "),
        (
            format!("127.0.0.1:{}", fleet.refused),
            "generic",
            "FAIL",
            "tcp.connect",
            "tcp_refused",
        ),
        (
            format!("127.0.0.1:{}", fleet.hole.port),
            "generic",
            "FAIL",
            "tcp.connect",
            "tcp_timeout",
        ),
        (
            format!("{FIXTURE_NAME}:{}", fleet.self_signed.port),
            "generic",
            "FAIL",
            "trust.custom",
            "self_signed",
        ),
        (
            format!("{FIXTURE_NAME}:{}", fleet.expired.port),
            "prisma",
            "FAIL",
            "trust.custom",
            "expired",
        ),
    ];
    let mut at = 0;
    for (target, product, verdict, check, code) in rows {
        let (pos, row) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(&format!(" {target} ")))
            .unwrap_or_else(|| panic!("no row for {target}:\n{text}"));
        assert!(pos > at, "{target} out of order:\n{text}");
        at = pos;
        for cell in [product, verdict, check, code] {
            assert!(row.contains(cell), "{target}: {cell} in {row}");
        }
    }
    assert!(
        text.contains("Scanned 5 targets in")
            && text.contains(&format!(
                "1 passed, 0 warned, 4 failed; 2 bad lines in {} (lines 8, 9).",
                list.display()
            )),
        "{text}"
    );
}

#[test]
fn json_junit_and_output_file() {
    let fleet = Fleet::start();
    let list = fleet.dir.path().join("two.txt");
    std::fs::write(
        &list,
        format!("127.0.0.1:{}\n{} cvp\n", fleet.refused, fleet.cvp()),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        output_within(
            scan()
                .arg("--targets")
                .arg(&list)
                .args(fleet.options())
                .args(extra),
            None,
            HANG,
        )
    };
    // json: an array in list order, even for a single target.
    let out = run(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let inputs: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"]["input"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        vec![format!("127.0.0.1:{}", fleet.refused), fleet.cvp()]
    );
    // junit: one suite per target.
    let out = run(&["--format", "junit"]);
    let xml = String::from_utf8(out.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .count();
    assert_eq!(suites, 2, "{xml}");
    // jsonl to a file: every line there, nothing on stdout (not a terminal).
    let file = fleet.dir.path().join("out.jsonl");
    let out = run(&["--format", "jsonl", "--output", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(json_lines(&std::fs::read(&file).unwrap()).len(), 2);
}

#[test]
fn bad_invocations_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (
            vec![
                "--targets".into(),
                dir.path().join("missing.txt").display().to_string(),
            ],
            None,
            "missing.txt: cannot read it",
        ),
        (
            vec!["--targets".into(), "-".into()],
            Some("# nothing here\n\n"),
            "stdin: no target in it",
        ),
        (
            vec!["--targets".into(), "-".into()],
            Some("a b c\n"),
            "stdin:1: unexpected `c`",
        ),
        (
            vec![
                "--targets".into(),
                "-".into(),
                "--ca".into(),
                dir.path().join("nope.pem").display().to_string(),
            ],
            Some("localhost:1\n"),
            "nope.pem: cannot read it",
        ),
        (
            vec![
                "--targets".into(),
                "-".into(),
                "--resolve".into(),
                "x".into(),
            ],
            Some("localhost:1\n"),
            "HOST:PORT:ADDR",
        ),
        (
            vec![
                "--targets".into(),
                "-".into(),
                "--concurrency".into(),
                "0".into(),
            ],
            Some("localhost:1\n"),
            "--concurrency",
        ),
    ];
    for (args, stdin, want) in cases {
        let out = output_within(scan().args(&args), stdin, HANG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing ran");
    }
}

#[test]
fn check_speaks_jsonl_too() {
    let port = closed_port();
    let out = output_within(
        preflight()
            .arg("check")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--format", "jsonl", "--no-alt-ports"]),
        None,
        HANG,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        first_failure(&r),
        Some(("tcp.connect".into(), "tcp_refused".into()))
    );
}

#[test]
fn verbose_trace_of_every_target_is_labelled_with_its_line() {
    let fleet = Fleet::start();
    let list = fleet.dir.path().join("two.txt");
    std::fs::write(
        &list,
        format!("# two\n{} cvp\n127.0.0.1:{}\n", fleet.cvp(), fleet.refused),
    )
    .unwrap();
    let out = output_within(
        scan()
            .arg("--targets")
            .arg(&list)
            .args(["--format", "jsonl", "-v"])
            .args(fleet.options()),
        None,
        HANG,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = list.display().to_string();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{name}:2 ")) && l.contains("tls")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{name}:3 ")) && l.contains("tcp_refused")),
        "{stderr}"
    );
    assert_eq!(json_lines(&out.stdout).len(), 2);
}

/// The progress bar draws only on a terminal: run the scan under `script` (a pseudo-terminal) when the
/// machine has it, and check that the bar neither blocks the scan nor reaches stdout.
#[test]
fn progress_bar_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` command for a pseudo-terminal");
        return;
    }
    let fleet = Fleet::start();
    let list = fleet.dir.path().join("many.txt");
    // A black-holed target keeps the scan going for its 2 s deadline: the bar is drawn more than once.
    let mut lines = format!("127.0.0.1:{}\n", fleet.hole.port);
    for i in 0..40 {
        if i % 2 == 0 {
            lines.push_str(&format!("{} cvp\n", fleet.cvp()));
        } else {
            lines.push_str(&format!("127.0.0.1:{}\n", fleet.refused));
        }
    }
    std::fs::write(&list, lines).unwrap();
    let stdout = fleet.dir.path().join("out.jsonl");
    let command = format!(
        "{} scan --targets {} --format jsonl --concurrency 4 {} > {}",
        env!("CARGO_BIN_EXE_preflight"),
        list.display(),
        fleet.options().join(" "),
        stdout.display()
    );
    let out = output_within(
        std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("NO_COLOR", "1"),
        None,
        HANG,
    );
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert_eq!(json_lines(&std::fs::read(&stdout).unwrap()).len(), 41);
    assert!(terminal.contains("/41 targets"), "{terminal}");
    assert!(
        terminal.contains("scanned 41 targets in"),
        "the closing line on a terminal: {terminal}"
    );
}

#[test]
fn auth_options_apply_to_every_target_and_stay_secret() {
    use preflight::lab::Credentials as Lab;
    let fleet = Fleet::start();
    let list = fleet.dir.path().join("nodes.txt");
    std::fs::write(&list, format!("{0} cvp\n{0} cvp\n", fleet.cvp())).unwrap();
    let out = output_within(
        scan()
            .arg("--targets")
            .arg(&list)
            .args(["--format", "jsonl", "--user", Lab::CVP_USER])
            .args(["--password-env", "PREFLIGHT_SCAN_TEST_PASSWORD"])
            .env("PREFLIGHT_SCAN_TEST_PASSWORD", Lab::CVP_PASSWORD)
            .args(fleet.options()),
        None,
        HANG,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let reports = json_lines(&out.stdout);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert_eq!(outcome(r, "auth.password"), ("pass".into(), "ok".into()));
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains(Lab::CVP_PASSWORD));
    assert!(!stderr.contains(Lab::CVP_PASSWORD));

    // A credential that cannot be read is a usage error before anything runs.
    let out = output_within(
        scan()
            .arg("--targets")
            .arg(&list)
            .args([
                "--user",
                "someone",
                "--password-env",
                "PREFLIGHT_SCAN_TEST_UNSET",
            ])
            .env_remove("PREFLIGHT_SCAN_TEST_UNSET"),
        None,
        HANG,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PREFLIGHT_SCAN_TEST_UNSET"));
    assert!(out.stdout.is_empty());
}
