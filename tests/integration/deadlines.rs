//! Deadlines: `--max-time` bounds a whole check (each target of a scan) and keeps what finished; the
//! server's clock costs at most a second; deadlines under 10 ms are refused. Every bound here is generous
//! (a 1 s budget must end "well under 3 s"): a loaded two-core machine passes, a regression to the phase
//! deadlines (10 s) does not.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use preflight::lab::Scenario;
use serde_json::Value;
use time::macros::datetime;

use crate::common::*;

/// How long a run with `--max-time 1s` may take, start to exit: the budget, the process, and slack.
const WELL_UNDER: Duration = Duration::from_secs(3);

/// A TLS server that completes the handshake (ALPN h2, http/1.1) and then never sends a byte: a console
/// whose application hangs. Each connection stays open until the client closes it.
fn silent_console(issued: &preflight::lab::certs::Issued) -> u16 {
    use tokio::io::AsyncReadExt;
    let config = server_config(
        vec![issued.der.clone()],
        issued.key(),
        &[b"h2", b"http/1.1"],
    );
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// Runs `preflight ARGS` (killed after 20 s: a hang fails loudly); returns (exit code, stdout, stderr, time).
fn run_timed(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, Duration) {
    let mut cmd = preflight();
    cmd.args(args).envs(env.iter().copied());
    let started = Instant::now();
    let out = output_within(&mut cmd, None, Duration::from_secs(20));
    let took = started.elapsed();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    )
}

fn parse(stdout: &str, stderr: &str) -> Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"))
}

/// The checks the budget stopped: (id, status, summary), each with `max_time_exceeded` and a fix naming
/// `--max-time`; exactly one is the `error` (the step running), the others `skip`s naming it.
fn stopped(report: &Value) -> Vec<(String, String, String)> {
    let all: Vec<(String, String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "max_time_exceeded")
        .map(|c| {
            let fix = c["fix"].as_str().unwrap_or_default();
            assert!(fix.contains("--max-time"), "{c:#}");
            let summary = c["summary"].as_str().unwrap().to_string();
            assert!(
                summary.contains("--max-time budget of 1.0 s ran out"),
                "{c:#}"
            );
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                summary,
            )
        })
        .collect();
    let errors: Vec<_> = all.iter().filter(|(_, s, _)| s == "error").collect();
    assert_eq!(errors.len(), 1, "one step was running: {all:#?}");
    let cut = &errors[0].0;
    for (id, status, summary) in &all {
        if status == "skip" {
            assert!(
                summary.contains(cut.as_str()),
                "{id} names {cut}: {summary}"
            );
        }
    }
    assert_eq!(
        report["verdict"], "fail",
        "an unfinished check does not pass"
    );
    all
}

fn ids(stopped: &[(String, String, String)]) -> Vec<&str> {
    stopped.iter().map(|(id, _, _)| id.as_str()).collect()
}

#[test]
fn max_time_cuts_a_silent_console_and_keeps_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let issued = preflight::lab::certs::self_signed_server("localhost", ISSUED_AT).unwrap();
    let ca = dir.path().join("console.crt");
    std::fs::write(&ca, &issued.cert_pem).unwrap();
    let token = dir.path().join("token.txt");
    std::fs::write(&token, "opaque-token-1").unwrap();
    let port = silent_console(&issued);
    let target = format!("127.0.0.1:{port}");
    let ca = ca.display().to_string();
    let token = token.display().to_string();
    // A password and two tokens: at --timeout 10s this was 10 s for each probe and each login.
    let (code, stdout, stderr, took) = run_timed(
        &[
            "check",
            &target,
            "--product",
            "cvp",
            "--no-alt-ports",
            "--ca",
            &ca,
            "--user",
            "cvpadmin",
            "--password-env",
            "DEADLINE_PW",
            "--token-file",
            &token,
            "--token-env",
            "DEADLINE_TOKEN",
            "--timeout",
            "10s",
            "--max-time",
            "1s",
            "--format",
            "json",
            "--at",
            JUDGE_AT,
        ],
        &[
            ("DEADLINE_PW", "lab-password"),
            ("DEADLINE_TOKEN", "opaque-token-2"),
        ],
    );
    assert!(took < WELL_UNDER, "took {took:?}");
    assert_eq!(code, 1, "{stderr}");
    let r = parse(&stdout, &stderr);
    // What finished is there, as it was.
    for id in ["tcp.connect", "tls.handshake", "cert.chain", "trust.custom"] {
        assert_eq!(outcome(&r, id).0, "pass", "{id}: {r:#}");
    }
    let stopped = stopped(&r);
    let stopped_ids = ids(&stopped);
    for id in ["auth.password", "auth.token-file", "auth.token-env"] {
        assert!(stopped_ids.contains(&id), "{id} in {stopped:#?}");
    }
    let (cut, _, summary) = stopped.iter().find(|(_, s, _)| s == "error").unwrap();
    assert_eq!(cut, &format!("grpc.{port}"), "the first probe was running");
    assert!(summary.contains("during the gRPC probe"), "{summary}");
    eprintln!("silent console, --max-time 1s: {took:?}");
}

#[test]
fn max_time_cuts_a_silent_handshake_and_a_black_hole() {
    let lab = RunningLab::start(&[Scenario::Silent]);
    let silent = lab.addr(Scenario::Silent).to_string();
    let hole = black_hole();
    let black_holed = format!("127.0.0.1:{}", hole.port);
    for (target, cut, after) in [
        (&silent, "tls.handshake", "cert.chain"),
        (&black_holed, "tcp.connect", "tls.handshake"),
    ] {
        let (code, stdout, stderr, took) = run_timed(
            &[
                "check",
                target,
                "--product",
                "generic",
                "--no-alt-ports",
                "--timeout",
                "10s",
                "--max-time",
                "1s",
                "--format",
                "json",
                "--at",
                JUDGE_AT,
            ],
            &[],
        );
        assert!(took < WELL_UNDER, "{target}: took {took:?}");
        assert_eq!(code, 1, "{stderr}");
        let r = parse(&stdout, &stderr);
        assert_eq!(outcome(&r, "dns.resolve").0, "pass");
        let stopped = stopped(&r);
        assert_eq!(stopped[0].0, cut, "{stopped:#?}");
        assert_eq!(stopped[0].1, "error");
        let stopped_ids = ids(&stopped);
        for id in [after, "trust.mozilla", "trust.system"] {
            assert!(stopped_ids.contains(&id), "{target}: {id} in {stopped:#?}");
        }
        eprintln!("{cut} cut at --max-time 1s: {took:?}");
    }
}

#[test]
fn max_time_bounds_each_target_of_a_scan() {
    let lab = RunningLab::start(&[Scenario::Silent, Scenario::Cvp]);
    let hole = black_hole();
    let list = format!(
        "{}\n127.0.0.1:{}\n{} cvp\n",
        lab.addr(Scenario::Silent),
        hole.port,
        lab.addr(Scenario::Cvp)
    );
    let trust = lab.trust_file(Scenario::Cvp).display().to_string();
    let started = Instant::now();
    let out = output_within(
        preflight().args([
            "scan",
            "--targets",
            "-",
            "--no-alt-ports",
            "--ca",
            &trust,
            "--timeout",
            "10s",
            "--max-time",
            "1s",
            "--format",
            "jsonl",
            "--at",
            JUDGE_AT,
        ]),
        Some(&list),
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    assert!(took < WELL_UNDER, "took {took:?}");
    let reports = json_lines(&out.stdout);
    assert_eq!(reports.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    let by_cut = |id: &str| {
        reports.iter().any(|r| {
            r["checks"].as_array().unwrap().iter().any(|c| {
                c["id"] == id && c["status"] == "error" && c["code"] == "max_time_exceeded"
            })
        })
    };
    assert!(by_cut("tls.handshake"), "the silent target was cut");
    assert!(by_cut("tcp.connect"), "the black-holed target was cut");
    // The healthy console finished well within its own budget.
    let cvp = reports
        .iter()
        .find(|r| r["target"]["product"] == "cvp")
        .unwrap();
    assert_eq!(outcome(cvp, "trust.custom").0, "pass", "{cvp:#}");
    assert!(
        cvp["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["code"] != "max_time_exceeded"),
        "{cvp:#}"
    );
    eprintln!("scan of 3 targets, --max-time 1s: {took:?}");
}

#[test]
fn deadlines_under_10ms_are_refused_naming_the_flag() {
    for flag in [
        "--timeout",
        "--dns-timeout",
        "--connect-timeout",
        "--tls-timeout",
        "--max-time",
    ] {
        for value in ["1ns", "5ms"] {
            for command in ["check", "scan"] {
                let target = match command {
                    "check" => ["h", "--no-alt-ports"],
                    _ => ["--targets", "-"],
                };
                let (code, stdout, stderr, _) =
                    run_timed(&[command, target[0], target[1], flag, value], &[]);
                assert_eq!(code, 2, "{command} {flag} {value}: {stderr}");
                assert!(stdout.is_empty(), "no report: {stdout}");
                assert!(
                    stderr.contains(flag) && stderr.contains(value) && stderr.contains("10ms"),
                    "{command} {flag} {value}: {stderr}"
                );
            }
        }
    }
}

#[test]
fn the_server_clock_costs_a_second_at_most() {
    // Expired at any real time these tests run; s_server -www serves one connection at a time, answers
    // only GET, and sends no Date: the clock read (HEAD /, no --at) gets no answer.
    let dir = tempfile::tempdir().unwrap();
    let issued =
        preflight::lab::certs::self_signed_server("localhost", datetime!(2000-01-01 00:00:00 UTC))
            .unwrap();
    let (cert, key) = (dir.path().join("old.crt"), dir.path().join("old.key"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let server = OpensslServer::start(&["-cert", &cert, "-key", &key, "-www"]);
    for product in ["generic", "prisma"] {
        let (code, stdout, stderr, took) = run_timed(
            &[
                "check",
                &server.target(),
                "--product",
                product,
                "--no-alt-ports",
                "--ca",
                &cert,
                "--timeout",
                "10s",
                "--format",
                "json",
            ],
            &[],
        );
        assert!(took < WELL_UNDER, "{product}: took {took:?}");
        assert_eq!(code, 1, "{stderr}");
        let r = parse(&stdout, &stderr);
        assert_eq!(outcome(&r, "tls.handshake").0, "pass");
        assert_eq!(
            outcome(&r, "trust.custom"),
            ("fail".to_string(), "expired".to_string())
        );
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["code"] != "max_time_exceeded"),
            "{r:#}"
        );
        if product == "prisma" {
            // The one connection s_server serves was free again for the probe after the clock read.
            assert_eq!(outcome(&r, "product.ping").0, "pass", "{r:#}");
        }
        eprintln!("expired certificate, clock read unanswered, --product {product}: {took:?}");
    }
}

#[test]
fn max_time_cuts_a_resolver_that_never_answers_in_the_pipeline() {
    use preflight::codes::Code;
    use preflight::report::Status;
    let mut cfg = preflight::config::CheckConfig::new(
        preflight::target::Target::parse("slow.example").unwrap(),
        preflight::target::Product::Generic,
    );
    cfg.timeouts.dns = Duration::from_secs(10);
    cfg.timeouts.max_time = Duration::from_millis(300);
    let trust = preflight::pki::sources::TrustSources {
        sources: vec![preflight::pki::sources::mozilla()],
    };
    let started = Instant::now();
    // A resolver that never answers (the static resolver's timeout), under a 10 s DNS deadline.
    let answers = vec![(
        "slow.example".to_string(),
        Err(preflight::net::dns::DnsError::Timeout),
    )];
    let r = run_pipeline(&cfg, answers, trust, ISSUED_AT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let dns = r.check("dns.resolve").unwrap();
    assert_eq!(
        (dns.status, dns.code),
        (Status::Error, Code::MaxTimeExceeded)
    );
    assert!(
        dns.summary
            .contains("during the DNS lookup of slow.example"),
        "{}",
        dns.summary
    );
    for id in [
        "tcp.connect",
        "tls.handshake",
        "cert.chain",
        "trust.mozilla",
    ] {
        let c = r.check(id).unwrap();
        assert_eq!(
            (c.status, c.code),
            (Status::Skip, Code::MaxTimeExceeded),
            "{id}"
        );
        assert_eq!(c.facts["blocked_by"], "dns.resolve", "{id}");
    }
    assert!(r.failed());
    assert!(r.first_fix.as_deref().unwrap().contains("--max-time"));
}
