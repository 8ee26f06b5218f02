//! "Which clients will work", proven: on every scenario of `real_clients`, preflight's prediction for each
//! client (with its default trust, and with the CA file) equals what the real client did. curl, Python
//! requests, grpcio and Go run for real (CI installs them); rustls is preflight's own connection.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::real_clients::*;

/// The report's name for a real client.
fn predicted_name(c: RealClient) -> Option<&'static str> {
    match c {
        RealClient::Requests => Some("Python requests"),
        RealClient::Grpcio => Some("Python grpcio"),
        RealClient::Curl => Some("curl"),
        RealClient::Go => Some("Go crypto/tls"),
        // Plain `ssl` is not one of the report's clients.
        RealClient::PythonSsl => None,
    }
}

/// preflight's report on the scenario: `--ca` its CA, and its client certificate when it has one.
fn predict(s: &Served) -> Value {
    let target = format!("{}:{}", s.name, s.server.port);
    let pin = format!("{}:{}:127.0.0.1", s.name, s.server.port);
    let mut cmd = preflight();
    cmd.args(["check", &target, "--resolve", &pin, "--product", "generic"])
        .args(["--no-alt-ports", "--format", "json", "--ca"])
        .arg(&s.ca);
    if let Some((c, k)) = &s.identity {
        cmd.arg("--cert").arg(c).arg("--key").arg(k);
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

/// How a client runs: the report's key, the CA file, the client certificate.
type Run<'a> = (&'a str, Option<&'a Path>, Option<(&'a Path, &'a Path)>);

/// One disagreement between a prediction and a real client.
fn compare(case: Case, s: &Served, report: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let identity = s.identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    for c in RealClient::ALL {
        let Some(name) = predicted_name(c) else {
            continue;
        };
        let advice = report["clients"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["client"] == name))
            .unwrap_or_else(|| panic!("{}: no advice for {name}: {report:#}", case.name()));
        let runs: [Run<'_>; 2] = [("default", None, None), ("with_ca", Some(&s.ca), identity)];
        for (key, ca, id) in runs {
            let Some(seen) = try_client(c, "127.0.0.1", s.server.port, s.name, ca, id) else {
                continue;
            };
            let said = advice[key]["works"].as_bool();
            if said != Some(seen.works) {
                wrong.push(format!(
                    "{} / {name} / {key}: predicted {said:?} ({}), the real client {} ({})",
                    case.name(),
                    advice[key]["why"],
                    if seen.works { "connected" } else { "failed" },
                    seen.said
                ));
            }
        }
    }
    wrong
}

#[test]
fn every_prediction_equals_what_the_real_client_does() {
    let threads: Vec<_> = Case::ALL
        .into_iter()
        .map(|case| {
            std::thread::spawn(move || {
                let s = serve(case);
                let report = predict(&s);
                compare(case, &s, &report)
            })
        })
        .collect();
    let wrong: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        wrong.is_empty(),
        "{} predictions differ from the real clients:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Runs one advice line as a user would paste it: `python3 -c`, `sh -c`, or a Go program with `go run`.
/// `Some(why)` when it failed.
fn run_line(c: RealClient, line: &str, dir: &Path) -> Option<String> {
    let mut cmd = match c {
        RealClient::Requests => {
            let mut cmd = std::process::Command::new("python3");
            cmd.arg("-c").arg(line);
            cmd
        }
        RealClient::Curl => {
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c").arg(format!("{line} >/dev/null"));
            cmd
        }
        RealClient::Go => {
            std::fs::write(dir.join("main.go"), line).unwrap();
            let mut cmd = std::process::Command::new("go");
            cmd.args(["run", "main.go"]).current_dir(dir).envs(go_env());
            cmd
        }
        _ => return None,
    };
    for var in CLIENT_ROOT_VARIABLES {
        cmd.env_remove(var);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every line under "Which clients will work" runs as printed: pasted into Python, a shell or a Go file, with
/// the CA's absolute path and, where the server requires one, the client certificate, it connects.
/// (curl only against a server without ALPN: s_server's `-www` answers h2 with HTTP/1.0 text, which real
/// consoles do not; grpcio is proven by its verdict above, since s_server never sends HTTP/2 SETTINGS.)
#[test]
fn every_line_runs_as_printed() {
    let plan = [
        (
            Case::PrivateCa,
            [RealClient::Requests, RealClient::Go].as_slice(),
        ),
        (
            Case::NoAlpnH2,
            [RealClient::Requests, RealClient::Curl, RealClient::Go].as_slice(),
        ),
        (
            Case::ClientCertRequired,
            [RealClient::Requests, RealClient::Go].as_slice(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (case, clients) in plan {
        let s = serve(case);
        let report = predict(&s);
        for c in clients {
            if !c.installed() {
                continue;
            }
            let name = predicted_name(*c).unwrap();
            let advice = report["clients"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["client"] == name))
                .unwrap();
            let Some(line) = advice["make_it_work"].as_str() else {
                wrong.push(format!("{} / {name}: no line: {advice}", case.name()));
                continue;
            };
            // curl takes the check's own --resolve (the name is resolved to the lab, as the check did).
            if name == "curl" && !line.contains(" --resolve ") {
                wrong.push(format!("{} / curl: no --resolve in `{line}`", case.name()));
            }
            if let Some(why) = run_line(*c, line, dir.path()) {
                wrong.push(format!("{} / {name}: `{line}` failed: {why}", case.name()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The grpcio line against a server that really speaks gRPC (the lab's CloudVision, HTTP/2 with SETTINGS):
/// pasted into Python with the CA file preflight names, the channel becomes READY.
#[test]
fn the_grpcio_line_runs_as_printed() {
    if !RealClient::Grpcio.installed() {
        return;
    }
    let lab = RunningLab::start(&[preflight::lab::Scenario::Cvp]);
    let addr = lab.addr(preflight::lab::Scenario::Cvp);
    let ca = lab.trust_file(preflight::lab::Scenario::Cvp);
    let out = preflight()
        .args([
            "check",
            &addr.to_string(),
            "--product",
            "cvp",
            "--no-alt-ports",
        ])
        .arg("--ca")
        .arg(&ca)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let advice = report["clients"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["client"] == "Python grpcio"))
        .unwrap();
    let line = advice["make_it_work"]
        .as_str()
        .unwrap_or_else(|| panic!("no line: {advice}"));
    assert!(
        line.contains(&std::fs::canonicalize(&ca).unwrap().display().to_string()),
        "{line}"
    );
    let ran = std::process::Command::new("python3")
        .arg("-c")
        .arg(line)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "`{line}` failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

/// The rustls line compiles and runs as printed: pasted into the body of a `main` that returns a
/// `Result`, in a crate that depends on rustls 0.23 (ring), it reads the CA file preflight names and builds
/// the client configuration. Built with this project's own lock file, so no other version is fetched.
#[test]
fn the_rustls_line_compiles_and_runs_as_printed() {
    // Without and with the client certificate the server requires.
    for case in [Case::PrivateCa, Case::ClientCertRequired] {
        rustls_line_runs(case);
    }
}

fn rustls_line_runs(case: Case) {
    let s = serve(case);
    let report = predict(&s);
    let advice = report["clients"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["client"] == "Rust rustls"))
        .unwrap();
    let line = advice["make_it_work"]
        .as_str()
        .unwrap_or_else(|| panic!("no line: {advice}"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"rustls-line\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
         rustls = { version = \"0.23\", default-features = false, features = [\"ring\", \"std\"] }\n\n\
         [workspace]\n",
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/main.rs"),
        format!("#![deny(warnings)]\nfn main() -> Result<(), Box<dyn std::error::Error>> {{\n    {line}\n    let _ = config;\n    Ok(())\n}}\n"),
    )
    .unwrap();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rustls-line");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", &target)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{line}` did not compile or run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The user's environment decides each client's default trust: with `REQUESTS_CA_BUNDLE` holding the CA,
/// requests connects and grpcio (which ignores it) does not; with `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` too,
/// grpcio connects. preflight, run in the same environment, predicts each, as the real clients do.
#[test]
fn the_environment_decides_the_default_trust() {
    let s = serve(Case::PrivateCa);
    let requests_only: &[(&str, &Path)] = &[("REQUESTS_CA_BUNDLE", s.ca.as_path())];
    let both: &[(&str, &Path)] = &[
        ("REQUESTS_CA_BUNDLE", s.ca.as_path()),
        ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", s.ca.as_path()),
    ];
    for env in [requests_only, both] {
        let target = format!("{}:{}", s.name, s.server.port);
        let pin = format!("{}:{}:127.0.0.1", s.name, s.server.port);
        let out = preflight()
            .args(["check", &target, "--resolve", &pin, "--product", "generic"])
            .args(["--no-alt-ports", "--format", "json"])
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        for c in [RealClient::Requests, RealClient::Grpcio] {
            let name = predicted_name(c).unwrap();
            let advice = report["clients"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["client"] == name))
                .unwrap();
            let at = ("127.0.0.1", s.server.port, s.name);
            let Some(seen) = try_client_env(c, at, None, None, env) else {
                continue;
            };
            assert_eq!(
                advice["default"]["works"].as_bool(),
                Some(seen.works),
                "{name} with {env:?}: predicted {advice}, the real client said {}",
                seen.said
            );
        }
        let requests = &report["clients"][0];
        assert!(
            requests["default_trust"]
                .as_str()
                .unwrap()
                .starts_with("REQUESTS_CA_BUNDLE="),
            "{requests}"
        );
    }
}

/// The clients section never contradicts a trust check: a chain that ends at a root nobody trusts is
/// `unknown_issuer` in trust.mozilla and in the prediction of every client on the Mozilla roots (it once said
/// `self_signed` because the last certificate sent was a self-signed root).
#[test]
fn client_trust_codes_agree_with_the_trust_checks() {
    let lab = RunningLab::start(&[preflight::lab::Scenario::Prisma]);
    let addr = lab.addr(preflight::lab::Scenario::Prisma);
    let ca = lab.trust_file(preflight::lab::Scenario::Prisma);
    let out = preflight()
        .args([
            "check",
            &addr.to_string(),
            "--product",
            "prisma",
            "--no-alt-ports",
        ])
        .arg("--ca")
        .arg(&ca)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mozilla = check(&report, "trust.mozilla")["code"].clone();
    assert_ne!(mozilla, "ok", "{report:#}");
    for name in ["Python requests", "Python grpcio", "Rust rustls"] {
        let advice = report["clients"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["client"] == name))
            .unwrap();
        assert_eq!(advice["default"]["code"], mozilla, "{name}: {advice}");
    }
}
