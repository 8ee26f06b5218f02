//! The command line: usage errors, exit codes, the demo, and the README's code table.
#![allow(clippy::unwrap_used)]

use crate::common::preflight;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = preflight().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_targets_exit_2_with_a_precise_message() {
    let cases = [
        ("host:", "not followed by a port"),
        ("host:99999", "out of range"),
        ("[::1", "no `]` closes"),
        ("ftp://host", "scheme `ftp://`"),
        (
            "https://admin:secret@host",
            "credentials in the target are refused",
        ),
        ("exa mple.com", "white space"),
        ("", "empty"),
    ];
    for (target, want) in cases {
        let (code, out, err) = run(&["check", target]);
        assert_eq!(code, 2, "{target:?}: {err}");
        assert!(out.is_empty(), "{target:?}: no report on bad usage");
        assert!(err.contains(want), "{target:?}: {err}");
        assert!(
            !err.contains("secret"),
            "a refused credential is not echoed back"
        );
    }
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        vec!["check", "h", "--timeout", "soon"],
        vec!["check", "h", "--product", "nope"],
        vec!["check", "h", "--resolve", "h:443"],
        vec!["check", "h", "--sni", "1.2.3.4"],
        vec!["check", "h", "--format", "xml"],
        vec!["check"],
        vec!["frobnicate"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty());
    }
}

#[test]
fn help_and_version_exit_0() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes"));
    let (code, out, _) = run(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--resolve"));
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("preflight "));
}

#[test]
fn readme_lists_every_code_exactly_as_the_tool_does() {
    let (code, table, _) = run(&["codes"]);
    assert_eq!(code, 0);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's code table is out of date: paste the output of `cargo run -- codes` into it"
    );
    for c in preflight::codes::Code::ALL {
        assert!(table.contains(&format!("`{}`", c.as_str())));
    }
}

#[test]
fn readme_opens_with_the_two_commands() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let head: String = readme.lines().take(15).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run --release -- demo"));
    assert!(head.contains("cargo test"));
}

#[test]
fn demo_checks_the_lab() {
    let (code, out, err) = run(&["demo"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CN=cvp.preflight.lab"));
    assert!(out.contains("O=Twistlock, CN=Twistlock"));
    assert!(out.contains("not_tls"));
    assert!(out.contains("answers TLS instead"));
    let (code, out, _) = run(&["demo", "--format", "json"]);
    assert_eq!(code, 0);
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 7);
    // The self-signed node fails without --ca, with the CloudVision fix, then passes with it.
    assert_eq!(reports[0]["verdict"], "fail");
    let first_fix = reports[0]["first_fix"].as_str().unwrap();
    assert!(
        first_fix.contains("/etc/nginx/cvp.crt") && first_fix.contains("--ca cvp.crt"),
        "{first_fix}"
    );
    let custom = reports[1]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trust.custom")
        .unwrap();
    assert_eq!(custom["status"], "pass");
    assert_ne!(reports[1]["verdict"], "fail");
    // Behind an inspecting proxy, the first failure is the proxy, named with its CA.
    assert!(reports[3]["target"]["proxy"]
        .as_str()
        .unwrap()
        .ends_with("(from HTTPS_PROXY)"));
    let first = reports[3]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail")
        .unwrap();
    assert_eq!(first["id"], "proxy.intercept");
    assert!(first["summary"]
        .as_str()
        .unwrap()
        .contains("TLS Inspection CA"));
}

#[test]
fn completions_a_man_page_and_one_code_explained() {
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("_preflight()") && out.contains("--max-time"),
        "{out}"
    );
    let (code, out, _) = run(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("#compdef preflight"), "{out}");
    for shell in ["fish", "powershell"] {
        let (code, out, _) = run(&["completions", shell]);
        assert!(code == 0 && out.contains("preflight"), "{shell}");
    }
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(".TH preflight 1") && out.contains(".SH \"PREFLIGHT CHECK\""),
        "{out}"
    );
    assert!(
        out.contains("\\-\\-resolve") && out.contains(".SS OPTIONS"),
        "{out}"
    );
    let (code, out, _) = run(&["codes", "expired"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("expired\n\nA certificate in the chain is past its notAfter date."),
        "{out}"
    );
    let (code, _, err) = run(&["codes", "expird"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no code `expird`: did you mean expired"),
        "{err}"
    );
    let (code, _, err) = run(&["codes", "zzzz"]);
    assert_eq!(code, 2);
    assert!(err.contains("run `preflight codes` for the list"), "{err}");
}

/// The report on an 80-column terminal (a pseudo-terminal made by `script`), in every colour mode: no line
/// wider than the terminal, colour codes aside.
#[test]
fn the_table_fits_an_80_column_terminal_in_every_colour_mode() {
    if !crate::common::peer("script") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_preflight");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/ca_first");
    for mode in [
        "",
        "NO_COLOR=1",
        "TERM=dumb",
        "--color never",
        "--color always",
    ] {
        let (env, flag) = match mode.strip_prefix("--") {
            Some(_) => ("", mode),
            None => (mode, ""),
        };
        let line = format!(
            "stty cols 80 rows 24; env {env} {bin} verify --chain {dir}/chain.pem --ca {dir}/ca.pem --name fixture.preflight.test --at 2026-06-01T00:00:00Z {flag}"
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let plain = regex_lite_strip(&text);
        let widest = plain
            .lines()
            .map(|l| l.trim_end_matches('\r').chars().count())
            .max();
        assert!(
            widest.is_some_and(|w| w <= 80 && w > 60),
            "{mode}: {widest:?}\n{plain}"
        );
    }
}

/// `text` without ANSI colour sequences (`ESC [ ... m`).
fn regex_lite_strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A single check on a terminal says which stage it is in while it waits (a silent server: the TLS stage);
/// piped, stderr stays empty.
#[test]
fn a_check_on_a_terminal_shows_its_stage_and_is_quiet_when_piped() {
    if !crate::common::peer("script") {
        return;
    }
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap().to_string();
    let bin = env!("CARGO_BIN_EXE_preflight");
    let line = format!("{bin} check {target} --no-alt-ports --tls-timeout 1s --color never");
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tls       ClientHello to"), "{text}");
    assert!(text.contains("tls_timeout"), "{text}");
    let piped = preflight()
        .args(["check", &target, "--no-alt-ports", "--tls-timeout", "1s"])
        .output()
        .unwrap();
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}

/// `--product auto` against a server that answers every path (`openssl s_server -www`: 200 and a status page
/// for any GET): `/api/v1/_ping` answering 200 proves nothing, so no product is recognised.
#[test]
fn a_catch_all_server_is_not_recognised_as_a_product() {
    if !crate::common::peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::common::write_self_signed(dir.path(), "catch-all.preflight.test");
    let server = crate::common::OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-www",
        "-alpn",
        "http/1.1",
    ]);
    let out = preflight()
        .args([
            "check",
            &server.target(),
            "--no-alt-ports",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = crate::common::check(&r, "product.detect");
    assert_eq!(r["target"]["product"], "generic", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("/api/v1/_ping answered 200, but so does a path no product has"),
        "{c:#}"
    );
}

/// `preflight lab` prints, for each server, a command that shows its code: with the login it needs (a
/// password in the environment, a token file, the client certificate); plain HTTP and the black hole are not
/// listed as https. Each printed command is run, and shows what the scenario is for.
#[test]
fn the_labs_printed_commands_log_in_and_show_each_code() {
    use std::io::BufRead;
    let mut child = preflight()
        .args([
            "lab",
            "--scenario",
            "cvp",
            "--scenario",
            "cvp-legacy",
            "--scenario",
            "mtls",
        ])
        .args([
            "--scenario",
            "plaintext",
            "--scenario",
            "silent",
            "--scenario",
            "prisma-projects",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Press Ctrl-C");
        text.push_str(&line);
        text.push('\n');
        if done {
            break;
        }
    }
    let commands: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("preflight check") || l.starts_with("LAB_PASSWORD="))
        .map(String::from)
        .collect();
    assert!(
        text.contains("  plaintext ") && text.contains("http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("tcp://127.0.0.1:"), "{text}");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_preflight"))
        .parent()
        .unwrap()
        .to_path_buf();
    let expect = [
        ("--user cvpadmin --password-env LAB_PASSWORD", None),
        (
            "not-the-password",
            Some(("auth.password", "bad_credentials")),
        ),
        ("--cert ", None),
        ("--product generic", None),
        (
            "--project lab-project",
            Some(("auth.password", "project_not_visible")),
        ),
    ];
    for (words, code) in expect {
        let cmd = commands
            .iter()
            .find(|c| c.contains(words))
            .unwrap_or_else(|| panic!("{words}:\n{text}"));
        let Some((id, want)) = code else { continue };
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("{cmd} --format json")])
            .env("PATH", path)
            .output()
            .unwrap();
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(crate::common::check(&r, id)["code"], want, "{cmd}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("lab-auditor"),
            "{cmd}"
        );
    }
    // -v traces every stage to the logins, without Rust debug text or the password.
    let cvp = commands
        .iter()
        .find(|c| c.contains("--user cvpadmin"))
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{cvp} -v --format json")])
        .env("PATH", path)
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&out.stderr);
    for stage in [
        "dns ",
        "tcp ",
        "tls ",
        "trust.custom pass",
        "grpc.",
        "product.login",
        "auth.password: over a connection verified by trust.custom",
        "auth.password pass",
    ] {
        assert!(trace.contains(stage), "{stage}:\n{trace}");
    }
    for bad in ["Some(", "None", "[443", "lab-password"] {
        assert!(!trace.contains(bad), "{bad}:\n{trace}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
