//! Prisma Cloud Compute as it is in the field, against the lab on loopback (any host name reaches it through
//! `--resolve`): the Prisma Cloud (CSPM) API given for a Compute Console, SaaS access keys, the URL's shape
//! (no scheme, `:8083` on SaaS, no tenant path), the token lifetime from the logon settings and one renewal,
//! and projects (`--project NAME` on every call; a project the user cannot see).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use crate::common::*;
use preflight::config::CheckConfig;
use preflight::credentials::Credentials;
use preflight::lab::prisma::{CSPM_HOST, SAAS_HOST};
use preflight::lab::{Credentials as Lab, Scenario};
use preflight::pki::sources::TrustSources;
use preflight::secret::Secret;
use preflight::target::{Product, Target};
use serde_json::Value;

const TENANT_URL_PATH: &str = "/us-1-123456789";
/// The variable the tests pass the password or the access key's secret in.
const SECRET_VAR: &str = "PF_TEST_PRISMA_SECRET";

/// `preflight check ARGS --format json --at JUDGE_AT` with `SECRET_VAR=secret`: (exit code, report, stdout).
fn run(args: &[&str], secret: &str) -> (i32, Value, String) {
    let out = preflight()
        .arg("check")
        .args(args)
        .args(["--format", "json", "--at", JUDGE_AT])
        .env(SECRET_VAR, secret)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report, stdout)
}

fn text<'a>(report: &'a Value, id: &str, field: &str) -> &'a str {
    check(report, id)[field].as_str().unwrap_or("")
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// `--user USER --password-env SECRET_VAR`, with `--ca` and `--product prisma`.
fn login<'a>(user: &'a str, ca: &'a str) -> Vec<&'a str> {
    vec![
        "--product",
        "prisma",
        "--ca",
        ca,
        "--user",
        user,
        "--password-env",
        SECRET_VAR,
    ]
}

fn lab(scenarios: &[Scenario]) -> RunningLab {
    // The lab judges tokens by the real clock; certificates are issued at ISSUED_AT and judged at JUDGE_AT.
    RunningLab::start(scenarios)
}

#[test]
fn a_cspm_host_is_named_with_where_the_compute_url_is() {
    let lab = lab(&[Scenario::PrismaCspm]);
    let port = lab.addr(Scenario::PrismaCspm).port();
    let ca = lab.trust_file(Scenario::PrismaCspm);
    let target = format!("{CSPM_HOST}:{port}");
    let resolve = format!("{CSPM_HOST}:{port}:127.0.0.1");
    let mut args = vec![target.as_str(), "--resolve", &resolve];
    args.extend(login(Lab::PRISMA_ACCESS_KEY_ID, ca.to_str().unwrap()));
    let (code, r, stdout) = run(&args, Lab::PRISMA_ACCESS_KEY_SECRET);
    assert_eq!(code, 1, "{r:#}");
    // From the name, before anything is sent: the first fix says where the Compute URL is.
    assert_eq!(
        outcome(&r, "product.url"),
        ("fail".into(), "prisma_cspm_host".into())
    );
    let fix = text(&r, "product.url", "fix");
    assert!(
        fix.contains("Runtime Security > Manage > System > Utilities")
            && fix.contains("Path to Console"),
        "{fix}"
    );
    assert_eq!(r["first_fix"], fix);
    assert_eq!(r["checks"][0]["id"], "product.url");
    // From the wire: the CSPM API's own header, on the ping and on the login.
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    for id in ["product.ping", "auth.password", "auth.basic"] {
        assert_eq!(
            outcome(&r, id),
            ("fail".into(), "prisma_cspm_host".into()),
            "{id}"
        );
    }
    assert!(text(&r, "product.ping", "summary").contains("x-redlock-status"));
    assert!(!stdout.contains(Lab::PRISMA_ACCESS_KEY_SECRET));

    // By address, --product auto: recognised from the header, and the ping says what it is.
    let addr = lab.addr(Scenario::PrismaCspm).to_string();
    let (_, r, _) = run(&[&addr, "--ca", ca.to_str().unwrap()], "");
    assert_eq!(r["target"]["product"], "prisma", "{r:#}");
    assert!(text(&r, "product.detect", "summary").contains("x-redlock-status"));
    assert_eq!(
        outcome(&r, "product.ping"),
        ("fail".into(), "prisma_cspm_host".into())
    );
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "product.url"));
}

#[test]
fn the_cspm_emulation_answers_as_the_cspm_api() {
    let lab = lab(&[Scenario::PrismaCspm]);
    let port = lab.addr(Scenario::PrismaCspm).port();
    let client = client(&lab.trust_file(Scenario::PrismaCspm));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let base = format!("https://localhost:{port}");
        let ping = client
            .get(format!("{base}/api/v1/_ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(ping.status(), 401);
        let status = ping.headers()["x-redlock-status"].to_str().unwrap();
        assert!(status.contains("auth_token_missing"), "{status}");
        let body = serde_json::json!({"username": Lab::PRISMA_ACCESS_KEY_ID, "password": Lab::PRISMA_ACCESS_KEY_SECRET});
        let login = client
            .post(format!("{base}/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let v: Value = login.json().await.unwrap();
        assert!(v["token"].as_str().unwrap().starts_with("eyJ"), "{v}");
        let bad = serde_json::json!({"username": Lab::PRISMA_USER, "password": Lab::PRISMA_PASSWORD});
        let refused = client
            .post(format!("{base}/login"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert!(refused.headers()["x-redlock-status"]
            .to_str()
            .unwrap()
            .contains("invalid_credentials"));
    });
}

/// reqwest over rustls (ring), trusting `ca`.
fn client(ca: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

#[test]
fn a_saas_console_takes_an_access_key_not_a_password() {
    let lab = lab(&[Scenario::PrismaSaas]);
    let port = lab.addr(Scenario::PrismaSaas).port();
    let ca = lab.trust_file(Scenario::PrismaSaas);
    let ca = ca.to_str().unwrap();
    let url = format!("https://{SAAS_HOST}:{port}{TENANT_URL_PATH}");
    let resolve = format!("{SAAS_HOST}:{port}:127.0.0.1");
    let with = |user: &'static str| -> Vec<String> {
        let mut a = vec![url.clone(), "--resolve".into(), resolve.clone()];
        a.extend(login(user, ca).into_iter().map(String::from));
        a
    };

    // A console password: 401, and the finding says what SaaS takes instead.
    let args = with(Lab::PRISMA_USER);
    let (code, r, stdout) = run(&strs(&args), Lab::PRISMA_PASSWORD);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(outcome(&r, "product.url"), ("pass".into(), "ok".into()));
    assert_eq!(check(&r, "product.url")["facts"]["deployment"], "saas");
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    for id in ["auth.basic", "auth.password"] {
        assert_eq!(
            outcome(&r, id),
            ("fail".into(), "access_key_required".into()),
            "{id}"
        );
        assert!(text(&r, id, "summary").contains("SAML"), "{r:#}");
        assert!(text(&r, id, "fix").contains("Access Keys"), "{r:#}");
    }
    assert!(!stdout.contains(Lab::PRISMA_PASSWORD));

    // The access key: both methods work; SaaS tokens last 60 minutes, as its settings say.
    let args = with(Lab::PRISMA_ACCESS_KEY_ID);
    let (code, r, stdout) = run(&strs(&args), Lab::PRISMA_ACCESS_KEY_SECRET);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "auth.basic"), ("pass".into(), "ok".into()));
    let pw = check(&r, "auth.password");
    assert_eq!(pw["code"], "ok", "{pw:#}");
    assert_eq!(pw["facts"]["session_timeout_seconds"], 3600);
    assert_eq!(pw["facts"]["token_lifetime_source"], "settings");
    assert_eq!(pw["facts"]["token_renewed"], true);
    let lifetime = pw["facts"]["token_lifetime_seconds"].as_i64().unwrap();
    assert!((3500..=3610).contains(&lifetime), "{pw:#}");
    assert!(!stdout.contains(Lab::PRISMA_ACCESS_KEY_SECRET));

    // By address: the tenant path alone says SaaS.
    let by_addr = format!("https://127.0.0.1:{port}{TENANT_URL_PATH}");
    let mut args = vec![by_addr.as_str()];
    args.extend(login(Lab::PRISMA_USER, ca));
    let (_, r, _) = run(&args, Lab::PRISMA_PASSWORD);
    assert_eq!(
        outcome(&r, "auth.password"),
        ("fail".into(), "access_key_required".into())
    );
}

#[test]
fn a_saas_url_without_its_tenant_path_is_named_before_the_404() {
    let lab = lab(&[Scenario::PrismaSaas]);
    let port = lab.addr(Scenario::PrismaSaas).port();
    let ca = lab.trust_file(Scenario::PrismaSaas);
    let target = format!("{SAAS_HOST}:{port}");
    let resolve = format!("{SAAS_HOST}:{port}:127.0.0.1");
    let (code, r, _) = run(
        &[
            &target,
            "--resolve",
            &resolve,
            "--product",
            "prisma",
            "--ca",
            ca.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "product.url"),
        ("fail".into(), "prisma_tenant_missing".into())
    );
    let fix = text(&r, "product.url", "fix");
    assert!(
        fix.contains(&format!("https://{SAAS_HOST}/TENANT")) && fix.contains("Path to Console"),
        "{fix}"
    );
    assert_eq!(r["first_fix"], fix);
    // The Console agrees: no API without the tenant.
    assert_eq!(
        outcome(&r, "product.ping"),
        ("fail".into(), "endpoint_not_found".into())
    );
}

#[test]
fn a_saas_url_with_8083_is_named_and_443_is_the_default() {
    // SaaS answers on its one port (the lab's, standing for 443) and nothing on 8083: an address of the
    // loopback network nothing else uses.
    let addr = "127.0.0.83";
    if std::net::TcpListener::bind((addr, 8083)).is_err() {
        eprintln!("skipped: {addr}:8083 is taken on this machine");
        return;
    }
    let lab = RunningLab::start_on(&[Scenario::PrismaSaas], addr.parse().unwrap());
    let port = lab.addr(Scenario::PrismaSaas).port().to_string();
    let ca = lab.trust_file(Scenario::PrismaSaas);
    let url = format!("https://{SAAS_HOST}:8083{TENANT_URL_PATH}");
    let resolve = format!("{SAAS_HOST}:*:{addr}");
    let (code, r, _) = run(
        &[
            &url,
            "--resolve",
            &resolve,
            "--product",
            "prisma",
            "--alt-ports",
            &port,
            "--ca",
            ca.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "product.url"),
        ("fail".into(), "prisma_saas_port".into())
    );
    let fix = text(&r, "product.url", "fix");
    assert_eq!(
        fix,
        format!("Drop `:8083`: https://{SAAS_HOST}{TENANT_URL_PATH}")
    );
    assert_eq!(r["first_fix"], fix);
    assert_eq!(
        outcome(&r, "tcp.connect"),
        ("fail".into(), "tcp_refused".into())
    );
    assert!(text(&r, "tcp.connect", "fix").contains(&port), "{r:#}");

    // Without a port, a SaaS URL is 443 (a self-hosted Console 8083).
    let saas = Target::parse(&format!("https://{SAAS_HOST}{TENANT_URL_PATH}")).unwrap();
    assert_eq!(CheckConfig::new(saas, Product::Prisma).port, 443);
    let onprem = Target::parse("https://console.example.com").unwrap();
    assert_eq!(CheckConfig::new(onprem, Product::Prisma).port, 8083);
}

#[test]
fn a_bare_host_gets_the_url_scripts_need() {
    let lab = lab(&[Scenario::Prisma]);
    let port = lab.addr(Scenario::Prisma).port();
    let ca = lab.trust_file(Scenario::Prisma);
    let ca = ca.to_str().unwrap();
    let bare = format!("127.0.0.1:{port}");
    let (code, r, _) = run(&[&bare, "--product", "prisma", "--ca", ca], "");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "product.url"), ("pass".into(), "ok".into()));
    let url = check(&r, "product.url");
    let want = format!("https://127.0.0.1:{port}");
    assert_eq!(url["facts"]["console_url"], want.as_str());
    assert_eq!(url["facts"]["deployment"], "self-hosted");
    let summary = url["summary"].as_str().unwrap();
    assert!(
        summary.contains(&want) && summary.contains("MissingSchema"),
        "{summary}"
    );
    let full = format!("https://localhost:{port}");
    let (_, r, _) = run(&[&full, "--product", "prisma", "--ca", ca], "");
    let summary = text(&r, "product.url", "summary");
    assert!(
        summary.contains(&full) && !summary.contains("MissingSchema"),
        "{summary}"
    );
}

#[test]
fn token_lifetime_comes_from_the_logon_settings_and_one_renewal_is_proven() {
    let lab = lab(&[Scenario::Prisma]);
    let addr = lab.addr(Scenario::Prisma).to_string();
    let ca = lab.trust_file(Scenario::Prisma);
    let ca = ca.to_str().unwrap();
    let mut args = vec![addr.as_str()];
    args.extend(login(Lab::PRISMA_USER, ca));
    let (code, r, _) = run(&args, Lab::PRISMA_PASSWORD);
    assert_eq!(code, 0, "{r:#}");
    let pw = check(&r, "auth.password");
    assert_eq!(pw["code"], "ok");
    assert_eq!(pw["facts"]["session_timeout_seconds"], 1800);
    assert_eq!(pw["facts"]["token_lifetime_source"], "settings");
    assert_eq!(pw["facts"]["basic_auth_disabled"], false);
    assert_eq!(pw["facts"]["token_renewed"], true);
    let summary = pw["summary"].as_str().unwrap();
    assert!(
        summary.contains("tokens last 30 minutes (sessionTimeoutSec 1800")
            && summary.contains("renewed once"),
        "{summary}"
    );

    // The auditor may not read the settings: the token's exp stands for them; renewing still works.
    let mut args = vec![addr.as_str()];
    args.extend(login(Lab::PRISMA_AUDITOR_USER, ca));
    let (code, r, _) = run(&args, Lab::PRISMA_AUDITOR_PASSWORD);
    assert_eq!(code, 0, "{r:#}");
    let pw = check(&r, "auth.password");
    assert_eq!(pw["facts"]["token_lifetime_source"], "exp");
    assert!(pw["facts"].get("session_timeout_seconds").is_none());
    assert_eq!(pw["facts"]["token_renewed"], true);
    let lifetime = pw["facts"]["token_lifetime_seconds"].as_i64().unwrap();
    assert!((1700..=1810).contains(&lifetime), "{pw:#}");
    assert!(pw["summary"].as_str().unwrap().contains("may not read"));
}

#[test]
fn projects_are_named_and_one_the_user_cannot_see_is_its_own_finding() {
    let lab = lab(&[Scenario::PrismaProjects, Scenario::Prisma]);
    let central = lab.addr(Scenario::PrismaProjects).to_string();
    let ca = lab.trust_file(Scenario::PrismaProjects);
    let ca = ca.to_str().unwrap();
    let project = |target: &str, user: &'static str, secret: &str, name: &str| {
        let mut args = vec![target, "--project", name];
        args.extend(login(user, ca));
        run(&args, secret).1
    };
    let admin = (Lab::PRISMA_USER, Lab::PRISMA_PASSWORD);
    let auditor = (Lab::PRISMA_AUDITOR_USER, Lab::PRISMA_AUDITOR_PASSWORD);

    let r = project(&central, admin.0, admin.1, Lab::PRISMA_PROJECT);
    for id in ["auth.basic", "auth.password"] {
        assert_eq!(outcome(&r, id), ("pass".into(), "ok".into()), "{id}");
        assert_eq!(check(&r, id)["facts"]["project"], Lab::PRISMA_PROJECT);
    }
    assert!(text(&r, "product.url", "summary").contains("?project=lab-project"));

    // The auditor is not assigned to it (403), nobody sees a project that does not exist (404), and a
    // Console without projects has none: each is the project, not the role, since the same call works
    // without it.
    let prisma = lab.addr(Scenario::Prisma).to_string();
    for (target, who, name, said) in [
        (&central, auditor, Lab::PRISMA_PROJECT, "not assigned"),
        (&central, admin, "no-such-project", "not found"),
        (&prisma, admin, Lab::PRISMA_PROJECT, "not found"),
    ] {
        let r = project(target, who.0, who.1, name);
        for id in ["auth.basic", "auth.password"] {
            assert_eq!(
                outcome(&r, id),
                ("fail".into(), "project_not_visible".into()),
                "{id} {name}: {r:#}"
            );
            assert!(text(&r, id, "summary").contains(said), "{r:#}");
            assert!(text(&r, id, "fix").contains("Manage > Projects"));
        }
    }
    // The central Console by its own name: a space, URL-encoded.
    let r = project(&central, auditor.0, auditor.1, "Central Console");
    assert_eq!(
        outcome(&r, "auth.password"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
}

/// A Console that answers every call with success, for the recording server below.
fn console_reply(read: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(read);
    let line = text.lines().next().unwrap_or("");
    if !(line.starts_with("GET ") || line.starts_with("POST ")) {
        return Vec::new();
    }
    // exp 2100-01-01, no iat, like the Console's.
    let token = r#"{"token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWRtaW4iLCJleHAiOjQxMDI0NDQ4MDB9.c2ln"}"#;
    let body = if line.contains("/api/v1/authenticate") {
        token
    } else if line.contains("/api/v1/settings/logon") {
        r#"{"sessionTimeoutSec":1800}"#
    } else if line.contains("/api/v1/version") {
        "\"34.04.145\""
    } else {
        ""
    };
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn the_project_goes_in_every_call_url_encoded() {
    let issued =
        preflight::lab::certs::self_signed_server("recorder.preflight.test", ISSUED_AT).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("recorder.pem");
    std::fs::write(&pem, &issued.cert_pem).unwrap();
    let (port, seen) = tls_responder(&issued, console_reply);
    let mut cfg = CheckConfig::new(
        Target::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Product::Prisma,
    );
    cfg.alt_ports.clear();
    cfg.project = Some("Team A/B&C".into());
    cfg.credentials = Credentials {
        user: Some("admin".into()),
        password: Some(Secret::new("recorder-password")),
        ..Credentials::default()
    };
    let report = run_pipeline(
        &cfg,
        vec![],
        TrustSources::load(&[pem], &[]).unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let pw = report.check("auth.password").unwrap();
    assert_eq!(pw.code.as_str(), "ok", "{:#?}", report.checks);
    assert_eq!(pw.facts["token_renewed"], true);
    let record = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    // Every request line (a POST's body has no line end: the next request follows it on the same line).
    let mut calls: Vec<&str> = ["GET /api/", "POST /api/"]
        .iter()
        .flat_map(|m| record.match_indices(m).map(|(i, _)| i))
        .map(|i| record[i..].split(" HTTP/1.1").next().unwrap())
        .collect();
    calls.sort();
    // _ping; version (Basic); authenticate; version, settings, renew, version (the renewed token).
    assert_eq!(calls.len(), 7, "{calls:#?}");
    for call in calls {
        assert!(call.ends_with("?project=Team+A%2FB%26C"), "{call}");
    }
}

#[test]
fn project_names_are_checked_and_need_prisma() {
    for (args, want) in [
        (vec!["127.0.0.1:1", "--project", ""], "empty"),
        (vec!["127.0.0.1:1", "--project", "a\tb"], "control"),
        (
            vec!["127.0.0.1:1", "--project", "p", "--product", "cvp"],
            "--product prisma",
        ),
    ] {
        let out = preflight().arg("check").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
