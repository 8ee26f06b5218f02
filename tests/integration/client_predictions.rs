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
