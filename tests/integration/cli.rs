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
    assert_eq!(reports.len(), 6);
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
