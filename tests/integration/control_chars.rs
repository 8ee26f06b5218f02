//! Control characters a server or a file controls (a certificate's names, an HTTP body, a file name) reach
//! the table and Markdown as visible escapes, never raw: an `ESC` sequence in a CN must not retitle the
//! terminal, clear the screen or hide text. The table's own colours stay.
#![allow(clippy::unwrap_used)]

use crate::common::*;

/// Retitles the terminal (OSC 0, ended by BEL), then clears the screen (CSI 2J).
const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J";
/// [`EVIL`] as the table shows it.
const SHOWN: &str = "\\x1b]0;pwned\\x07\\x1b[2J";
/// [`EVIL`] as Markdown writes it outside a code span (backslashes and brackets escaped): it reads [`SHOWN`].
const SHOWN_MD: &str = "\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J";

/// A TLS server whose certificate has [`EVIL`] in its CN and in a DNS SAN (plus the loopback names), and
/// whose HTTP answers carry it in a header and the body.
fn hostile_server() -> u16 {
    let cn = format!("{EVIL}.preflight.test");
    let issued = preflight::lab::certs::self_signed_server(&cn, ISSUED_AT).unwrap();
    let (port, _) = tls_responder(&issued, |_| {
        let body = format!("{EVIL} hello {EVIL}\n");
        format!(
            "HTTP/1.1 200 OK\r\nServer: x{EVIL}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    port
}

/// Runs `preflight ARGS --at JUDGE_AT`; returns (exit code, stdout, stderr) as bytes.
fn run(args: &[&str]) -> (i32, Vec<u8>, Vec<u8>) {
    let out = preflight()
        .args(args)
        .args(["--at", JUDGE_AT])
        .output()
        .unwrap();
    (out.status.code().unwrap(), out.stdout, out.stderr)
}

/// No byte that drives a terminal: ESC, BEL, nor a C1 control (U+0080..U+009F, `C2 80`..`C2 9F` in UTF-8).
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!bytes.contains(&0x1b), "ESC in {what}: {text}");
    assert!(!bytes.contains(&0x07), "BEL in {what}: {text}");
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "a C1 control in {what}: {text}"
    );
}

#[test]
fn hostile_certificate_names_are_shown_escaped_in_table_and_markdown() {
    let port = hostile_server();
    let target = format!("127.0.0.1:{port}");
    for format in ["table", "markdown"] {
        let (code, out, err) = run(&["check", &target, "--format", format]);
        assert_eq!(code, 1, "self-signed: a failure");
        assert_inert(&format!("{format} stdout"), &out);
        assert_inert(&format!("{format} stderr"), &err);
        let text = String::from_utf8(out).unwrap();
        // The escape itself is visible (Markdown escapes its backslash and brackets outside code spans,
        // which still reads `\x1b`).
        assert!(text.contains("\\x1b"), "{format}: {text}");
        let shown = if format == "table" { SHOWN } else { SHOWN_MD };
        let cn = text.lines().find(|l| l.contains("CN=")).unwrap();
        assert!(
            cn.contains(&format!("CN={shown}.preflight.test")),
            "{format}: {cn}"
        );
        let sans = text.lines().find(|l| l.contains("DNS:")).unwrap();
        assert!(
            sans.contains(&format!("DNS:{shown}.preflight.test")),
            "{format}: {sans}"
        );
    }
}

#[test]
fn the_report_model_keeps_the_name_as_sent() {
    // Escaping is the renderers' business: JSON carries the name as the certificate has it (JSON escapes
    // it as `\u001b` on its own).
    let port = hostile_server();
    let (_, r) = check_json(&[&format!("127.0.0.1:{port}")]);
    assert_eq!(
        r["certificates"][0]["common_name"],
        format!("{EVIL}.preflight.test"),
        "{r:#}"
    );
}

#[test]
fn colour_always_keeps_the_tables_own_escapes_only() {
    let port = hostile_server();
    let (_, out, err) = run(&[
        "check",
        &format!("127.0.0.1:{port}"),
        "--format",
        "table",
        "--color",
        "always",
    ]);
    assert_inert("stderr", &err);
    assert!(!out.contains(&0x07), "BEL in stdout");
    let text = String::from_utf8(out).unwrap();
    // The renderer paints: there are escapes, and each is a colour (SGR: `ESC [ digits ; m`), none the
    // certificate's OSC or screen clear.
    assert!(text.contains("\x1b["), "{text}");
    for (i, _) in text.match_indices('\x1b') {
        let rest = &text[i + 1..];
        let params = rest
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("not a colour at {i}: {:?}", &rest[..rest.len().min(12)]));
        let end = params
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap();
        assert!(
            params[end..].starts_with('m'),
            "not a colour at {i}: {:?}",
            &rest[..rest.len().min(12)]
        );
    }
    assert!(
        text.contains(&format!("CN={SHOWN}.preflight.test")),
        "{text}"
    );
}

#[test]
fn a_chain_file_name_is_shown_escaped() {
    // `verify` names the file it read: a name with control characters is shown escaped too.
    let issued =
        preflight::lab::certs::self_signed_server("file.preflight.test", ISSUED_AT).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("chain{EVIL}.pem"));
    std::fs::write(&path, &issued.cert_pem).unwrap();
    let path = path.to_str().unwrap();
    for format in ["table", "markdown"] {
        let (_, out, err) = run(&[
            "verify",
            "--chain",
            path,
            "--name",
            "file.preflight.test",
            "--format",
            format,
        ]);
        assert_inert(&format!("{format} stdout"), &out);
        assert_inert(&format!("{format} stderr"), &err);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!("chain{SHOWN}.pem")),
            "{format}: {text}"
        );
    }
}
