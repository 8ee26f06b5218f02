//! What comes from the operator's own machine: files that are not regular files or are far too large, values
//! that are not UTF-8, and secrets read with one rule. Each is exit 2 naming the flag or variable, at once.

use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::common::*;

/// Runs the binary with `args` (and `env`), which must end within 5 s; returns (exit code, stderr).
fn quick(args: &[&std::ffi::OsStr], env: &[(&str, &std::ffi::OsStr)]) -> (i32, String) {
    let started = Instant::now();
    let mut child = preflight()
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("{args:?} did not end within 5 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn pipes_devices_folders_and_huge_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = dir.path().join("big.pem");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 * 1024 * 1024 * 1024)
        .unwrap();
    let target = os("127.0.0.1:1");
    let cases: Vec<(&str, &std::path::Path, &str)> = vec![
        ("--ca", &fifo, "named pipe"),
        ("--ca", std::path::Path::new("/dev/zero"), "device"),
        ("--ca", &big, "larger than 4 MiB"),
        ("--password-file", &fifo, "named pipe"),
        ("--token-file", &fifo, "named pipe"),
        ("--token-file", dir.path(), "folder"),
        ("--cert", &fifo, "named pipe"),
    ];
    for (flag, path, why) in cases {
        let mut args = vec![os("check"), target, os(flag), path.as_os_str()];
        if flag == "--password-file" {
            args.extend([os("--user"), os("admin")]);
        }
        if flag == "--cert" {
            args.extend([os("--key"), os("/dev/null")]);
        }
        let (code, err) = quick(&args, &[]);
        assert_eq!(code, 2, "{flag} {}: {err}", path.display());
        assert!(
            err.contains(flag) && err.contains(why),
            "{flag} {}: {err}",
            path.display()
        );
    }
    for list in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let (code, err) = quick(&[os("scan"), os("--targets"), list.as_os_str()], &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("--targets"), "{err}");
    }
}

#[test]
fn values_that_are_not_utf8_are_refused_naming_them() {
    let bad = std::ffi::OsStr::from_bytes(b"/tmp/\xff\xfe.pem");
    let (code, err) = quick(&[os("check"), os("127.0.0.1:1"), os("--ca"), bad], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ca"), "{err}");
    let value = std::ffi::OsStr::from_bytes(b"http://\xffproxy:3128");
    for var in ["HTTPS_PROXY", "NO_PROXY"] {
        let (code, err) = quick(&[os("check"), os("127.0.0.1:1")], &[(var, value)]);
        assert_eq!(code, 2, "{var}: {err}");
        assert!(err.contains(var) && err.contains("UTF-8"), "{var}: {err}");
    }
    let (code, err) = quick(
        &[
            os("check"),
            os("127.0.0.1:1"),
            os("--user"),
            os("admin"),
            os("--password-env"),
            os("PF_BAD"),
        ],
        &[("PF_BAD", value)],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("PF_BAD") && err.contains("UTF-8"), "{err}");
}

/// One rule for a secret from a file or a variable: a byte-order mark, blank lines before it and spaces
/// around it are stripped, and a note says so; the token that goes on the wire is the bare value.
#[test]
fn secrets_are_read_with_one_rule_and_the_stripping_is_said() {
    let lab = RunningLab::start(&[preflight::lab::Scenario::Cvp]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.txt");
    let token = std::fs::read_to_string(lab.dir.path().join("cvp-token.txt")).unwrap();
    let token = token.trim().to_string();
    let target = lab.addr(preflight::lab::Scenario::Cvp).to_string();
    std::fs::write(&file, format!("\u{feff}\n\n  {token}  \r\n")).unwrap();
    let ca = lab.trust_file(preflight::lab::Scenario::Cvp);
    let out = preflight()
        .args(["check", &target, "--product", "cvp"])
        .arg("--ca")
        .arg(&ca)
        .arg("--token-file")
        .arg(&file)
        .args(["--format", "json", "--no-alt-ports"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a byte-order mark, blank lines before it, spaces around it stripped"),
        "{err}"
    );
    assert!(!err.contains(&token), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    // A variable: the same rule.
    let out = preflight()
        .args(["check", &target, "--product", "cvp"])
        .arg("--ca")
        .arg(&ca)
        .args([
            "--token-env",
            "PF_TOKEN",
            "--format",
            "json",
            "--no-alt-ports",
        ])
        .env("PF_TOKEN", format!(" {token}\n"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$PF_TOKEN: spaces around it stripped"),
        "{err}"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome(&r, "auth.token-env"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
}

/// A listener that counts the connections it was offered: nothing may be contacted when the output is bad.
fn untouched_listener() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let target = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    (l, target)
}

fn contacted(l: &std::net::TcpListener) -> bool {
    !matches!(l.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn a_bad_output_path_is_exit_2_before_anything_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder").join("r.json");
    let folder = dir.path().to_path_buf();
    let (listener, target) = untouched_listener();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("{target}\n")).unwrap();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                os("scan"),
                os("--targets"),
                list.as_os_str(),
                os("--output"),
                folder.as_os_str(),
            ],
            "--output",
        ),
        (
            vec![
                os("check"),
                os(&target),
                os("--output"),
                missing.as_os_str(),
            ],
            "--output",
        ),
        (
            vec![os("check"), os(&target), os("--output"), folder.as_os_str()],
            "--output",
        ),
        (
            vec![
                os("check"),
                os(&target),
                os("--bundle"),
                missing.as_os_str(),
            ],
            "--bundle",
        ),
        (
            vec![os("bundle"), os(&target), os("--out"), missing.as_os_str()],
            "--out",
        ),
        (
            vec![os("chain"), os(&target), os("--save"), folder.as_os_str()],
            "--save",
        ),
    ];
    for (args, flag) in cases {
        let (code, err) = quick(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(flag) && err.contains("nothing was contacted"),
            "{args:?}: {err}"
        );
        assert!(!contacted(&listener), "{args:?} contacted the server");
    }
    // The demo prints to stdout only: it offers no --output.
    let (code, err) = quick(&[os("demo"), os("--output"), missing.as_os_str()], &[]);
    assert_eq!(code, 2, "{err}");
}

/// A file that cannot be written after the run (/dev/full: opened, then every write fails): the report goes
/// to stdout instead, and the exit code is 3.
#[test]
fn a_write_that_fails_after_the_run_prints_the_report_and_exits_3() {
    let (listener, target) = untouched_listener();
    drop(listener);
    let out = preflight()
        .args([
            "check",
            &target,
            "--no-alt-ports",
            "--format",
            "json",
            "--output",
            "/dev/full",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/full") && err.contains("the report follows on stdout"),
        "{err}"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&r, "tcp.connect").1, "tcp_refused");
}

/// `preflight lab` without --dir keeps its private keys and tokens in a temporary folder: gone after SIGTERM.
#[test]
fn the_lab_removes_its_temporary_folder_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = preflight()
        .args(["lab", "--scenario", "cvp"])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let folder = tmp.path().join(format!("preflight-lab-{}", child.id()));
    assert!(folder.is_dir(), "{first}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lab did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!folder.exists(), "{} is left behind", folder.display());
}

/// What the user or a file typed, echoed in an error, cannot drive the terminal.
#[test]
fn errors_on_stderr_show_control_characters_escaped() {
    let out = preflight()
        .args(["check", "bad\u{1b}]0;pwned\u{7}host:99999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !out.stderr.iter().any(|b| *b == 0x1b || *b == 0x07),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("\\x1b]0;pwned\\x07"));
}
