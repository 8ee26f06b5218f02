//! CloudVision as it is in the field, against the lab (loopback only; `--resolve` sends the real CloudVision
//! as a Service names to it): `www.<cluster>` and `apiserver.<cluster>`, a token for another cluster or
//! tenant, a token's kind (`dst`), CVP 2020's `LOG OUT MESSAGE` page and `112498 Unauthorized User`, the
//! Resource API over REST, and a 403 that names the account (`dsn`). Every run is the binary, and no token
//! it was given appears in what it printed.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use crate::common::*;
use preflight::lab::cvp::{cvaas_token, LAB_TENANT, LAB_TENANT_ID};
use preflight::lab::jwt::{cvp_token, DST_ACCOUNT, DST_USER};
use preflight::lab::{Credentials as Lab, Scenario};
use serde_json::Value;

/// The lab with certificates issued now: its tokens are judged against the real clock, and so are they here.
fn lab(scenarios: &[Scenario]) -> RunningLab {
    RunningLab::start_at(
        scenarios,
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `preflight check ARGS --format json`; every secret in `secrets` absent from stdout and stderr.
fn run(args: &[&str], secrets: &[&str]) -> Value {
    let out = preflight()
        .arg("check")
        .args(args)
        .args(["--format", "json"])
        .env_remove("CLOUDVISION_ACCESS_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for s in secrets {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "a secret reached the output:\n{stdout}\n{stderr}"
        );
    }
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

/// A CloudVision as a Service check of `name` (served by `s`), trusting the lab's public-like CA.
fn cvaas(lab: &RunningLab, s: Scenario, name: &str, extra: &[&str], secrets: &[&str]) -> Value {
    let port = lab.addr(s).port();
    let target = format!("{name}:{port}");
    let resolve = format!("{name}:{port}:127.0.0.1");
    let ca = lab.trust_file(s).display().to_string();
    let mut args = vec![
        target.as_str(),
        "--resolve",
        &resolve,
        "--ca",
        &ca,
        "--product",
        "cvaas",
    ];
    args.extend_from_slice(extra);
    run(&args, secrets)
}

/// An on-prem CloudVision check of scenario `s` by address, trusting its certificate.
fn cvp(lab: &RunningLab, s: Scenario, extra: &[&str], secrets: &[&str]) -> Value {
    let target = lab.addr(s).to_string();
    let ca = lab.trust_file(s).display().to_string();
    let mut args = vec![target.as_str(), "--ca", &ca, "--product", "cvp"];
    args.extend_from_slice(extra);
    run(&args, secrets)
}

/// A token written to a file in the lab's folder: its path.
fn token_file(lab: &RunningLab, name: &str, token: &str) -> String {
    let path: PathBuf = lab.dir.path().join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.display().to_string()
}

fn lab_token(lab: &RunningLab, name: &str) -> (String, String) {
    let path = lab.dir.path().join(name);
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    (path.display().to_string(), token)
}

fn text<'a>(c: &'a Value, field: &str) -> &'a str {
    c[field].as_str().unwrap_or("")
}

fn fact<'a>(c: &'a Value, key: &str) -> &'a Value {
    &c["facts"][key]
}

/// `apiserver.<cluster>` is device streaming: the name check, the gRPC probe and the token's proof each
/// name `www.<cluster>`; `auto` recognises CloudVision as a Service by the name alone.
#[test]
fn apiserver_names_the_www_host() {
    let lab = lab(&[Scenario::CvaasApiserver]);
    let s = Scenario::CvaasApiserver;
    let (file, token) = lab_token(&lab, "cvp-token.txt");
    let r = cvaas(
        &lab,
        s,
        "apiserver.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    let host = check(&r, "product.host");
    assert_eq!(
        outcome(&r, "product.host"),
        ("fail".into(), "unsupported_host".into())
    );
    assert!(text(host, "summary").contains("devices stream"), "{host:#}");
    assert!(
        text(host, "fix").starts_with("Use www.arista.io "),
        "{host:#}"
    );
    let port = lab.addr(s).port();
    let grpc = check(&r, &format!("grpc.{port}"));
    assert_eq!(text(grpc, "code"), "unsupported_host", "{grpc:#}");
    assert!(text(grpc, "summary").contains("UNKNOWN"), "{grpc:#}");
    assert!(text(grpc, "fix").contains("www.arista.io"), "{grpc:#}");
    let auth = check(&r, "auth.token-file");
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("fail".into(), "unsupported_host".into())
    );
    assert!(text(auth, "summary").contains("404"), "{auth:#}");
    assert!(
        text(auth, "fix").contains("https://www.arista.io"),
        "{auth:#}"
    );

    // Without --product: recognised by the name, though nothing there answers as an API.
    let port = lab.addr(s).port();
    let (target, resolve) = (
        format!("apiserver.arista.io:{port}"),
        format!("apiserver.arista.io:{port}:127.0.0.1"),
    );
    let ca = lab.trust_file(s).display().to_string();
    let r = run(&[&target, "--resolve", &resolve, "--ca", &ca], &[]);
    let detect = check(&r, "product.detect");
    assert_eq!(fact(detect, "product"), "cvaas", "{detect:#}");
    assert_eq!(
        outcome(&r, "product.host"),
        ("fail".into(), "unsupported_host".into())
    );
}

/// `www.<cluster>` is the API host: every cluster named in the field is known; one without `www.` gets the
/// name with it; a service account's token is proven on getCvpInfo, the Resource API and gRPC.
#[test]
fn www_is_the_api_host() {
    let lab = lab(&[Scenario::CvaasCluster]);
    let s = Scenario::CvaasCluster;
    let (file, token) = lab_token(&lab, "cvp-token.txt");
    let r = cvaas(
        &lab,
        s,
        "www.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    assert_eq!(outcome(&r, "product.host"), ("pass".into(), "ok".into()));
    let port = lab.addr(s).port();
    assert_eq!(
        outcome(&r, &format!("grpc.{port}")),
        ("pass".into(), "ok".into())
    );
    let auth = check(&r, "auth.token-file");
    assert_eq!(outcome(&r, "auth.token-file"), ("pass".into(), "ok".into()));
    let summary = text(auth, "summary");
    assert!(
        summary.contains("(service account `preflight-lab`)"),
        "{auth:#}"
    );
    assert!(summary.contains("CloudVision CVaaS"), "{auth:#}");
    assert!(
        summary.contains(
            "the Resource API answers (GET /api/resources/inventory/v1/Device/all: 2 devices)"
        ),
        "{auth:#}"
    );
    assert!(
        summary.contains("gRPC GetOne answered NOT_FOUND (accepted)"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_type"), "account");
    assert_eq!(fact(auth, "resource_api"), "2 results");

    // A cluster's name without www. (the certificate is for *.arista.io, so the chain is still trusted).
    let r = cvaas(&lab, s, "cv-prod-uk-1.arista.io", &[], &[]);
    let host = check(&r, "product.host");
    assert_eq!(text(host, "code"), "unsupported_host", "{host:#}");
    assert!(
        text(host, "fix").starts_with("Use www.cv-prod-uk-1.arista.io "),
        "{host:#}"
    );
    // Newer clusters are known.
    for name in [
        "www.cv-prod-india-1.arista.io",
        "www.cv-prod-us-4.arista.io",
        "www.cv-prod-eu-3.arista.io",
        "www.cv-prod-us-central1-a.arista.io",
    ] {
        let c = preflight::checks::auth::cvp::cvaas_host(name).unwrap();
        assert_eq!(c.code.as_str(), "ok", "{name}");
    }
}

/// A token whose claims name another cluster is called out with both clusters; one of another tenant names
/// the tenant; a user's session is refused as one; this cluster's own token passes with its tenant as facts.
#[test]
fn a_token_for_another_cluster_or_tenant() {
    let lab = lab(&[Scenario::CvaasCluster]);
    let s = Scenario::CvaasCluster;
    let (t, account) = (now(), Lab::CVP_SERVICE_ACCOUNT);
    let month = t + 30 * 86400;

    let euwest = "cv-prod-euwest-2.arista.io";
    let token = cvaas_token(account, DST_ACCOUNT, euwest, LAB_TENANT, t, month);
    let file = token_file(&lab, "euwest.txt", &token);
    let r = cvaas(
        &lab,
        s,
        "www.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    let auth = check(&r, "auth.token-file");
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("fail".into(), "token_other_cluster".into())
    );
    assert!(
        text(auth, "summary")
            .contains("issued by the cluster cv-prod-euwest-2.arista.io, and this is arista.io"),
        "{auth:#}"
    );
    assert!(
        text(auth, "fix").contains("https://www.cv-prod-euwest-2.arista.io"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_cluster"), euwest);
    assert_eq!(fact(auth, "http_status"), 401);

    let token = cvaas_token(account, DST_ACCOUNT, "arista.io", "acme-corp", t, month);
    let file = token_file(&lab, "acme.txt", &token);
    let r = cvaas(
        &lab,
        s,
        "www.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    let auth = check(&r, "auth.token-file");
    assert_eq!(text(auth, "code"), "bad_credentials", "{auth:#}");
    assert!(
        text(auth, "summary").contains("the token belongs to tenant `acme-corp` (`ogn`, `ogi`"),
        "{auth:#}"
    );
    assert!(
        text(auth, "fix").contains("https://www.arista.io is the cluster of tenant `acme-corp`"),
        "{auth:#}"
    );

    let token = cvaas_token(account, DST_USER, "arista.io", LAB_TENANT, t, t + 86400);
    let file = token_file(&lab, "session.txt", &token);
    let r = cvaas(
        &lab,
        s,
        "www.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    let auth = check(&r, "auth.token-file");
    assert_eq!(text(auth, "code"), "bad_credentials", "{auth:#}");
    assert!(
        text(auth, "summary").contains("user's login session"),
        "{auth:#}"
    );
    assert!(
        text(auth, "fix").contains("service-account token"),
        "{auth:#}"
    );

    let token = cvaas_token(account, DST_ACCOUNT, "arista.io", LAB_TENANT, t, month);
    let file = token_file(&lab, "mine.txt", &token);
    let r = cvaas(
        &lab,
        s,
        "www.arista.io",
        &["--token-file", &file],
        &[&token],
    );
    let auth = check(&r, "auth.token-file");
    assert_eq!(outcome(&r, "auth.token-file"), ("pass".into(), "ok".into()));
    assert!(
        text(auth, "summary").contains("(service account `preflight-lab`, tenant `preflight-lab`)"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_tenant"), LAB_TENANT);
    assert_eq!(fact(auth, "token_tenant_id"), &LAB_TENANT_ID.to_string());
    assert_eq!(fact(auth, "token_cluster"), "arista.io");
}

/// `dst`: a service account's token says so; a user's session supplied to an integration is a warning (it
/// expires daily), an expired one says to use a service account; a login's own session is not warned about.
#[test]
fn a_tokens_kind() {
    let lab = lab(&[Scenario::Cvp]);
    let s = Scenario::Cvp;
    let t = now();
    let (file, token) = lab_token(&lab, "cvp-token.txt");
    let r = cvp(&lab, s, &["--token-file", &file], &[&token]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(outcome(&r, "auth.token-file"), ("pass".into(), "ok".into()));
    assert!(
        text(auth, "summary").starts_with(&format!(
            "token from {file} (service account `preflight-lab`)"
        )),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_type"), "account");

    let session = cvp_token(Lab::CVP_USER, DST_USER, t, t + 86400);
    let file = token_file(&lab, "session.txt", &session);
    let r = cvp(&lab, s, &["--token-file", &file], &[&session]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("warn".into(), "user_session_token".into())
    );
    let summary = text(auth, "summary");
    assert!(
        summary.contains("(login session of user `cvpadmin`)"),
        "{auth:#}"
    );
    assert!(
        summary.contains("stops working when it expires, daily"),
        "{auth:#}"
    );
    assert!(summary.contains("daily (this one at 20"), "{auth:#}");
    assert!(
        text(auth, "fix").contains("service-account token"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_type"), "user");

    let old = cvp_token(Lab::CVP_USER, DST_USER, t - 2 * 86400, t - 86400);
    let file = token_file(&lab, "old-session.txt", &old);
    let r = cvp(&lab, s, &["--token-file", &file], &[&old]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(text(auth, "code"), "token_expired", "{auth:#}");
    assert!(text(auth, "fix").contains("login session"), "{auth:#}");

    // The session a login returns is a user's by nature: its lifetime is a fact, not a warning.
    let r = run_login(&lab, s, Lab::CVP_USER, Lab::CVP_PASSWORD);
    let auth = check(&r, "auth.password");
    assert_eq!(outcome(&r, "auth.password"), ("pass".into(), "ok".into()));
    assert_eq!(fact(auth, "token_type"), "user");
    let lifetime = fact(auth, "token_lifetime_seconds").as_i64().unwrap();
    assert!((86_300..=86_400).contains(&lifetime), "{auth:#}");
}

fn run_login(lab: &RunningLab, s: Scenario, user: &str, password: &str) -> Value {
    let target = lab.addr(s).to_string();
    let ca = lab.trust_file(s).display().to_string();
    let out = preflight()
        .args([
            "check",
            &target,
            "--ca",
            &ca,
            "--product",
            "cvp",
            "--format",
            "json",
        ])
        .args([
            "--user",
            user,
            "--password-env",
            "PREFLIGHT_TEST_CVP_PASSWORD",
        ])
        .env("PREFLIGHT_TEST_CVP_PASSWORD", password)
        .env_remove("CLOUDVISION_ACCESS_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(password),
        "the password reached the output: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap()
}

/// CVP 2020 answers a session it does not know with HTTP 200 and its `LOG OUT MESSAGE` page: never success.
#[test]
fn a_logged_out_session_is_not_a_success() {
    let lab = lab(&[Scenario::CvpLegacySessionExpired]);
    let s = Scenario::CvpLegacySessionExpired;
    // The lab does answer 200 with the page.
    let (status, body) = raw_get(&lab, s, "/cvpservice/cvpInfo/getCvpInfo.do", "0a1b2c3d4e5f");
    assert_eq!(status, 200);
    assert!(body.contains("LOG OUT MESSAGE"), "{body}");

    // An opaque session id, and a JWT session from another server (its signature is not this lab's).
    let forged = {
        let t = cvp_token(Lab::CVP_USER, DST_USER, now(), now() + 86400);
        let (head, _) = t.rsplit_once('.').unwrap();
        format!("{head}.c2lnbmVkLWVsc2V3aGVyZQ")
    };
    for token in ["1768435200123.3f9e2a1c7b", forged.as_str()] {
        let file = token_file(&lab, "stale-session.txt", token);
        let r = cvp(&lab, s, &["--token-file", &file], &[token]);
        let auth = check(&r, "auth.token-file");
        assert_eq!(
            outcome(&r, "auth.token-file"),
            ("fail".into(), "session_expired".into()),
            "{auth:#}"
        );
        assert!(
            text(auth, "summary")
                .contains("answered HTTP 200 with CloudVision's `LOG OUT MESSAGE` page"),
            "{auth:#}"
        );
        assert!(
            text(auth, "fix").contains("checks only the status code"),
            "{auth:#}"
        );
    }

    // A live session works; this release has no Resource API over REST, which is said, not failed.
    let r = run_login(&lab, s, Lab::CVP_USER, Lab::CVP_PASSWORD);
    let auth = check(&r, "auth.password");
    assert_eq!(outcome(&r, "auth.password"), ("pass".into(), "ok".into()));
    assert!(
        text(auth, "summary").contains("CloudVision 2020.2.3"),
        "{auth:#}"
    );
    assert!(
        text(auth, "summary").contains("no Resource API over REST here"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "resource_api"), "not served (404)");
}

/// A GET with a Bearer token, straight to the lab (its certificate trusted): status and body.
fn raw_get(lab: &RunningLab, s: Scenario, path: &str, token: &str) -> (u16, String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(lab.trust_file(s)).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let url = format!("https://localhost:{}{path}", lab.addr(s).port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .unwrap();
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

/// CVP 2020 reports a failed login as HTTP 200 `{"errorCode":"112498","errorMessage":"Unauthorized User"}`.
#[test]
fn login_112498_is_bad_credentials() {
    let lab = lab(&[Scenario::CvpLogin112498]);
    let s = Scenario::CvpLogin112498;
    let r = run_login(&lab, s, Lab::CVP_USER, "not-the-password");
    let auth = check(&r, "auth.password");
    assert_eq!(
        outcome(&r, "auth.password"),
        ("fail".into(), "bad_credentials".into())
    );
    assert!(
        text(auth, "summary")
            .contains("HTTP 200, but the body says `Unauthorized User` (errorCode 112498)"),
        "{auth:#}"
    );
    let r = run_login(&lab, s, Lab::CVP_USER, Lab::CVP_PASSWORD);
    assert_eq!(outcome(&r, "auth.password"), ("pass".into(), "ok".into()));
}

/// The Resource API over REST proves a token next to getCvpInfo: it streams the devices; a token it refuses
/// is refused, whatever the legacy call said.
#[test]
fn the_resource_api_proves_a_token() {
    let lab = lab(&[Scenario::Cvp, Scenario::Cvp2026]);
    let (status, body) = raw_get(
        &lab,
        Scenario::Cvp,
        "/api/resources/inventory/v1/Device/all",
        &lab_token(&lab, "cvp-token.txt").1,
    );
    assert_eq!(status, 200);
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l["result"]["value"]["key"]["deviceId"].is_string()));

    let (file, token) = lab_token(&lab, "cvp-token.txt");
    let r = cvp(&lab, Scenario::Cvp2026, &["--token-file", &file], &[&token]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(outcome(&r, "auth.token-file"), ("pass".into(), "ok".into()));
    assert!(
        text(auth, "summary").contains(
            "the Resource API answers (GET /api/resources/inventory/v1/Device/all: 2 devices)"
        ),
        "{auth:#}"
    );

    // A token the server does not know: 401 on getCvpInfo already.
    let forged = {
        let t = cvp_token(Lab::CVP_SERVICE_ACCOUNT, DST_ACCOUNT, now(), now() + 86400);
        let (head, _) = t.rsplit_once('.').unwrap();
        format!("{head}.bm90LXRoZS1sYWItc2lnbmF0dXJl")
    };
    let file = token_file(&lab, "forged.txt", &forged);
    let r = cvp(&lab, Scenario::Cvp, &["--token-file", &file], &[&forged]);
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("fail".into(), "bad_credentials".into())
    );
}

/// A 403 with a valid token: the role lacks permission; the account (`dsn`) is named, and for a service
/// account the fix says its name must be a user the switches know.
#[test]
fn forbidden_names_the_account() {
    let lab = lab(&[Scenario::Cvp403, Scenario::Cvp]);
    let (file, token) = lab_token(&lab, "cvp-token.txt");
    let r = cvp(&lab, Scenario::Cvp403, &["--token-file", &file], &[&token]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(
        outcome(&r, "auth.token-file"),
        ("fail".into(), "forbidden".into())
    );
    let summary = text(auth, "summary");
    assert!(
        summary.contains("the token is accepted (GET /cvpservice/cvpInfo/getCvpInfo.do"),
        "{auth:#}"
    );
    assert!(
        summary.contains("GET /api/resources/inventory/v1/Device/all answered 403 Forbidden: service account `preflight-lab` is authenticated, but its role lacks permission"),
        "{auth:#}"
    );
    let fix = text(auth, "fix");
    assert!(
        fix.starts_with("Give service account `preflight-lab` a role"),
        "{auth:#}"
    );
    assert!(
        fix.contains("`preflight-lab` must also be a user the switches authorize"),
        "{auth:#}"
    );
    assert_eq!(fact(auth, "token_account"), "preflight-lab");

    // A read-only user's session: named as the user, without the device-account advice.
    let (file, token) = lab_token(&lab, "cvp-token-viewer.txt");
    let r = cvp(&lab, Scenario::Cvp, &["--token-file", &file], &[&token]);
    let auth = check(&r, "auth.token-file");
    assert_eq!(text(auth, "code"), "forbidden", "{auth:#}");
    assert!(
        text(auth, "summary").contains("user `viewer` is authenticated"),
        "{auth:#}"
    );
    assert!(!text(auth, "fix").contains("switches"), "{auth:#}");
}
