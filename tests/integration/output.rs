//! Ticket-ready output: Markdown, JUnit, `--output`, the support bundle, the verbose trace, and that no
//! secret leaves through any of them. The table people read is snapshot-tested (times redacted).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::common::*;
use preflight::lab::Scenario;
use serde_json::Value;

const CANARY: &str = "CANARY-pw-7f3a9c";

fn run_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = preflight()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn junit_is_valid_and_counts_failures() {
    let lab = RunningLab::start(&[Scenario::Plaintext]);
    let (code, out, _) = run_with(
        &[
            "check",
            &lab.addr(Scenario::Plaintext).to_string(),
            "--format",
            "junit",
        ],
        &[],
    );
    assert_eq!(code, 1);
    let doc = roxmltree::Document::parse(&out).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(suite.attribute("tests").unwrap(), cases.len().to_string());
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .collect();
    assert_eq!(
        suite.attribute("failures").unwrap(),
        failed.len().to_string()
    );
    let hs = failed
        .iter()
        .find(|c| c.attribute("name") == Some("tls.handshake"))
        .unwrap();
    let failure = hs.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("type"), Some("not_tls"));
}

#[test]
fn output_file_gets_the_format_and_stdout_stays_quiet_when_piped() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.md");
    let (code, out, _) = run_with(
        &[
            "check",
            &lab.addr(Scenario::Cvp).to_string(),
            "--format",
            "markdown",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        out.is_empty(),
        "piped stdout gets nothing when --output is given: {out}"
    );
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(md.starts_with("## "), "{md}");
    assert!(md.contains("| status | check | code | summary |"));
    assert!(md.contains("`self_signed`"));
}

#[test]
fn bundle_has_everything_and_replays() {
    let lab = RunningLab::start(&[Scenario::Prisma]);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ticket.tar.gz");
    let addr = lab.addr(Scenario::Prisma);
    let (code, out, err) = run_with(
        &[
            "bundle",
            &format!("localhost:{}", addr.port()),
            "--product",
            "prisma",
            "-o",
            bundle.to_str().unwrap(),
            "--at",
            JUDGE_AT,
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("Verdict: FAIL"), "the report is still shown");
    assert!(err.contains("support bundle written to"));
    let files = untar(&bundle);
    let names: Vec<String> = files
        .iter()
        .map(|(n, _)| n.rsplit('/').next().unwrap().to_string())
        .collect();
    for want in [
        "README.txt",
        "report.json",
        "report.md",
        "report.txt",
        "chain.pem",
        "environment.json",
        "timings.json",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let get = |n: &str| {
        files
            .iter()
            .find(|(p, _)| p.ends_with(n))
            .unwrap()
            .1
            .clone()
    };
    let report: Value = serde_json::from_str(&get("report.json")).unwrap();
    let env: Value = serde_json::from_str(&get("environment.json")).unwrap();
    assert!(
        env["os"].is_string() && env["local_clock"].is_string(),
        "{env:#}"
    );
    assert!(
        env["hosts_lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("localhost")),
        "{env:#}"
    );
    let timings: Value = serde_json::from_str(&get("timings.json")).unwrap();
    assert_eq!(
        timings["checks"].as_array().unwrap().len(),
        report["checks"].as_array().unwrap().len()
    );
    assert!(
        get("README.txt").contains("secrets were removed")
            || get("README.txt").contains("Secrets were removed")
    );

    // A support engineer replays the diagnosis from the bundle alone.
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, get("chain.pem")).unwrap();
    let (_, out, _) = run_with(
        &[
            "verify",
            "--chain",
            chain.to_str().unwrap(),
            "--name",
            "localhost",
            "--product",
            "prisma",
            "--at",
            JUDGE_AT,
            "--format",
            "json",
        ],
        &[],
    );
    let replay: Value = serde_json::from_str(&out).unwrap();
    for id in ["trust.mozilla", "trust.system"] {
        assert_eq!(outcome(&replay, id), outcome(&report, id), "{id}");
    }
    // The same fix, offline: trust the Console CA with this fingerprint.
    let ca_sha = report["certificates"][1]["sha256"].as_str().unwrap();
    for r in [&report, &replay] {
        let fix = r["first_fix"].as_str().unwrap();
        assert!(fix.contains("Console CA") && fix.contains(ca_sha), "{fix}");
    }
}

#[test]
fn verbose_trace_goes_to_stderr() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let (_, out, err) = run_with(
        &[
            "check",
            &lab.addr(Scenario::Cvp).to_string(),
            "-vv",
            "--format",
            "json",
        ],
        &[],
    );
    serde_json::from_str::<Value>(&out).expect("stdout is still only the report");
    for stage in ["target", "dns", "tcp", "tls", "trust.mozilla"] {
        assert!(
            err.lines().any(|l| l.contains(&format!(" {stage} "))),
            "{stage} missing from the trace:\n{err}"
        );
    }
    assert!(
        err.contains("chain received: #0 CN=cvp.preflight.lab"),
        "-vv shows the chain:\n{err}"
    );
    let (_, _, quiet) = run_with(
        &[
            "check",
            &lab.addr(Scenario::Cvp).to_string(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(quiet.is_empty(), "no trace without -v: {quiet}");
}

#[test]
fn no_secret_leaves_in_any_output() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let dir = tempfile::tempdir().unwrap();
    let target = lab.addr(Scenario::Cvp).to_string();
    let proxy = format!("http://operator:{CANARY}@127.0.0.1:9");
    let env = [
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let mut seen = Vec::new();
    for format in ["table", "json", "markdown", "junit"] {
        let file = dir.path().join(format!("out.{format}"));
        let bundle = dir.path().join(format!("b-{format}.tar.gz"));
        let (_, out, err) = run_with(
            &[
                "check",
                &target,
                "-vv",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
                "--bundle",
                bundle.to_str().unwrap(),
            ],
            &env,
        );
        seen.push((format!("{format} stdout"), out));
        seen.push((format!("{format} stderr (trace)"), err));
        seen.push((
            format!("{format} --output"),
            std::fs::read_to_string(&file).unwrap(),
        ));
        for (name, text) in untar(&bundle) {
            seen.push((format!("{format} bundle {name}"), text));
        }
    }
    // Credentials that are really sent (a trusted Prisma lab), from the environment, a file and a token.
    let plab = RunningLab::start_at(
        &[Scenario::Prisma],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let pw_file = dir.path().join("pw.txt");
    std::fs::write(&pw_file, format!("{CANARY}\n")).unwrap();
    let prisma = plab.addr(Scenario::Prisma).to_string();
    let ca = plab.trust_file(Scenario::Prisma);
    let token_canary = format!("{CANARY}-token");
    for format in ["table", "json", "markdown", "junit"] {
        let bundle = dir.path().join(format!("auth-{format}.tar.gz"));
        for how in [
            vec!["--password-env", "PF_PW"],
            vec!["--password-file", pw_file.to_str().unwrap()],
        ] {
            let mut args = vec![
                "check",
                &prisma,
                "--product",
                "prisma",
                "--ca",
                ca.to_str().unwrap(),
                "--user",
                "admin",
                "--token-env",
                "PF_TOKEN",
                "-vv",
                "--format",
                format,
                "--bundle",
                bundle.to_str().unwrap(),
            ];
            args.extend(how);
            let (_, out, err) = run_with(
                &args,
                &[("PF_PW", CANARY), ("PF_TOKEN", token_canary.as_str())],
            );
            seen.push((format!("auth {format} stdout"), out));
            seen.push((format!("auth {format} trace"), err));
            for (name, text) in untar(&bundle) {
                seen.push((format!("auth {format} bundle {name}"), text));
            }
        }
    }
    // The credentials were really sent (and refused: the canary is not the lab's password).
    let json_run = &seen
        .iter()
        .find(|(p, _)| p == "auth json stdout")
        .unwrap()
        .1;
    let r: Value = serde_json::from_str(json_run).unwrap();
    assert_eq!(
        outcome(&r, "auth.password"),
        ("fail".into(), "bad_credentials".into())
    );
    assert_eq!(outcome(&r, "auth.token-env").1, "bad_credentials");
    // A password on the command line is refused, and not repeated.
    let (code, out, err) = run_with(
        &["check", &prisma, "--user", "admin", "--password", CANARY],
        &[],
    );
    assert_eq!(code, 2);
    seen.push(("--password refusal".into(), out + &err));

    // A credential typed into the target is refused without being echoed.
    let (_, out, err) = run_with(
        &["check", &format!("https://admin:{CANARY}@{target}/")],
        &env,
    );
    seen.push(("refused target".into(), out + &err));
    for (place, text) in &seen {
        assert!(!text.contains(CANARY), "the canary leaked in {place}");
    }
    // The proxy setting itself is reported, without its password.
    let bundle_env = seen
        .iter()
        .find(|(p, _)| p.ends_with("environment.json"))
        .unwrap();
    assert!(
        bundle_env.1.contains("http://***@127.0.0.1:9"),
        "{}",
        bundle_env.1
    );
}

#[test]
fn table_snapshot() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/incomplete_chain");
    let (code, out, _) = run_with(
        &[
            "verify",
            "--chain",
            f.join("chain.pem").to_str().unwrap(),
            "--ca",
            "fixtures/incomplete_chain/ca.pem",
            "--name",
            "fixture.preflight.test",
            "--at",
            JUDGE_AT,
        ],
        &[
            ("SSL_CERT_FILE", "fixtures/pki/root.pem"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    assert_eq!(code, 1);
    insta::with_settings!({filters => vec![
        (r"in \d+ ms", "in [ms]"),
        (r"verify \S+/fixtures/", "verify [dir]/fixtures/"),
    ]}, {
        insta::assert_snapshot!(out);
    });
}

#[test]
fn a_server_that_echoes_credentials_does_not_leak_them() {
    let issued =
        preflight::lab::certs::self_signed_server("echo.preflight.test", ISSUED_AT).unwrap();
    // A server that answers 401 with the request itself as the body: it echoes credentials back.
    let (port, _) = tls_responder(&issued, |req| {
        let body = format!(
            "{}\n",
            String::from_utf8_lossy(req).replace(['\r', '\n'], " ")
        );
        format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("echo.crt");
    std::fs::write(&ca, &issued.cert_pem).unwrap();
    for format in ["table", "json", "markdown", "junit"] {
        let (_, out, err) = run_with(
            &[
                "check",
                &format!("127.0.0.1:{port}"),
                "--product",
                "cvp",
                "--ca",
                ca.to_str().unwrap(),
                "--user",
                "cvpadmin",
                "--password-env",
                "PF_PW",
                "--token-env",
                "PF_TOK",
                "-vv",
                "--format",
                format,
                "--no-alt-ports",
            ],
            &[("PF_PW", CANARY), ("PF_TOK", "CANARY-echo-token-11")],
        );
        assert!(
            out.contains("auth.password"),
            "the login was attempted: {out}"
        );
        for canary in [CANARY, "CANARY-echo-token-11"] {
            assert!(
                !out.contains(canary) && !err.contains(canary),
                "{format}: the echoed {canary} leaked:\n{out}\n{err}"
            );
        }
    }
}
