//! Revocation: the stapled OCSP response judged, `--revocation` asking the lab's OCSP responder and CRL,
//! a revoked chain refused by every trust source (no credential on the wire), stale and garbled answers
//! as warnings, and silent or hostile responders bounded by their deadline and size cap.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use preflight::config::CheckConfig;
use preflight::credentials::Credentials;
use preflight::lab::certs::{self, Ca, Issued};
use preflight::lab::revocation::{ocsp_response, Said, Signer, Spec};
use preflight::lab::Scenario;
use preflight::pki::sources::TrustSources;
use preflight::secret::Secret;
use preflight::target::{Product, Target};
use serde_json::Value;

/// The judging time of these tests: half a day after the lab issued everything (its responses are valid a
/// week from then; the stale one expired eight hours before).
const AT: &str = "2026-01-15T12:00:00Z";

/// `preflight check ARGS --format json --at AT`: (exit code, report, seconds it took).
fn check_at(args: &[&str]) -> (i32, Value, f64) {
    let start = Instant::now();
    let out = preflight()
        .arg("check")
        .args(args)
        .args(["--format", "json", "--no-alt-ports", "--at", AT])
        .output()
        .unwrap();
    let took = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report, took)
}

/// A lab scenario checked with its CA (`--ca`), and `extra` flags.
fn lab_check(lab: &RunningLab, s: Scenario, extra: &[&str]) -> (i32, Value, f64) {
    let addr = lab.addr(s).to_string();
    let ca = lab.trust_file(s);
    let mut args = vec![addr.as_str(), "--ca", ca.to_str().unwrap()];
    args.extend(extra);
    check_at(&args)
}

fn revocation(r: &Value) -> &Value {
    check(r, "cert.revocation")
}

#[test]
fn a_good_staple_passes_with_its_facts() {
    let lab = RunningLab::start(&[Scenario::OcspGood]);
    let (code, r, _) = lab_check(&lab, Scenario::OcspGood, &["--product", "generic"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "cert.revocation"), ("pass".into(), "ok".into()));
    let c = revocation(&r);
    let stapled = &c["facts"]["stapled"];
    assert_eq!(stapled["status"], "good");
    // The lab made it half an hour before it issued everything, valid a week.
    assert_eq!(stapled["this_update"], "2026-01-14T23:30:00Z");
    assert_eq!(stapled["next_update"], "2026-01-22T00:00:00Z");
    assert!(stapled["signer"]
        .as_str()
        .unwrap()
        .contains("the issuer O=preflight lab, CN=preflight lab revocation CA"));
    assert!(stapled["responder"]
        .as_str()
        .unwrap()
        .starts_with("the key with SHA-1 "));
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains("the stapled OCSP response says good"),
        "{summary}"
    );
    assert!(
        summary.contains("nextUpdate 2026-01-22T00:00:00Z"),
        "{summary}"
    );
    // Nothing was asked without --revocation.
    assert!(c["facts"]["ocsp"].is_null() && c["facts"]["crl"].is_null());
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
}

#[test]
fn a_revoked_staple_fails_every_source_that_accepted_it() {
    let lab = RunningLab::start(&[Scenario::Revoked]);
    let leaf_pin = {
        let (_, r, _) = lab_check(&lab, Scenario::Revoked, &["--product", "generic"]);
        r["certificates"][0]["sha256"].as_str().unwrap().to_string()
    };
    let (code, r, _) = lab_check(
        &lab,
        Scenario::Revoked,
        &["--product", "generic", "--pin-sha256", &leaf_pin],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "cert.revocation"),
        ("fail".into(), "revoked".into())
    );
    let c = revocation(&r);
    assert_eq!(c["facts"]["stapled"]["status"], "revoked");
    assert_eq!(c["facts"]["stapled"]["reason"], "keyCompromise");
    assert_eq!(c["facts"]["stapled"]["revoked_at"], "2026-01-14T23:00:00Z");
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains("is revoked since 2026-01-14T23:00:00Z (keyCompromise)"),
        "{summary}"
    );
    assert!(c["fix"]
        .as_str()
        .unwrap()
        .contains("Issue a new certificate"));
    // Both sources that accepted the chain (the CA file, the pin) fail with `revoked`; the default stores
    // never accepted it and keep their own reason.
    for id in ["trust.custom", "trust.pin"] {
        assert_eq!(outcome(&r, id), ("fail".into(), "revoked".into()), "{id}");
        let fix = check(&r, id)["fix"].as_str().unwrap();
        assert!(fix.contains("install it with its key"), "{fix}");
    }
    assert_eq!(outcome(&r, "trust.mozilla").1, "unknown_issuer");
    // The report's first fix is the reissue, and every client connects anyway: that is the danger.
    assert!(r["first_fix"]
        .as_str()
        .unwrap()
        .contains("Issue a new certificate"));
    for client in r["clients"].as_array().unwrap() {
        let with_ca = &client["with_ca"];
        assert_eq!(with_ca["works"], true, "{client:#}");
        assert_eq!(with_ca["decided_by"], "revoked", "{client:#}");
        assert!(
            with_ca["why"]
                .as_str()
                .unwrap()
                .starts_with("connects to a revoked certificate"),
            "{client:#}"
        );
        assert!(
            client["note"].as_str().unwrap().contains("revoked"),
            "{client:#}"
        );
        assert!(client["make_it_work"].is_null(), "{client:#}");
    }
}

#[test]
fn the_lab_login_sends_no_password_to_a_revoked_server() {
    let lab = RunningLab::start(&[Scenario::Revoked]);
    let addr = lab.addr(Scenario::Revoked).to_string();
    let ca = lab.trust_file(Scenario::Revoked);
    let out = preflight()
        .args(["check", &addr, "--product", "prisma", "--no-alt-ports"])
        .args(["--ca", ca.to_str().unwrap(), "--user", "admin"])
        .args(["--password-env", "LAB_PW", "--format", "json", "--at", AT])
        .env("LAB_PW", "lab-password")
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    for id in ["auth.basic", "auth.password"] {
        assert_eq!(
            outcome(&r, id),
            ("skip".into(), "not_attempted_untrusted".into()),
            "{id}"
        );
        let summary = check(&r, id)["summary"].as_str().unwrap();
        assert!(summary.contains("(revoked)"), "{summary}");
    }
    // The unauthenticated ping still identifies the Console.
    assert_eq!(outcome(&r, "product.ping").0, "pass");
}

/// A TLS server sending `chain` (its key `key`) and stapling `ocsp`, recording every decrypted byte and
/// answering each read with an empty 200. Returns its port and the record.
fn stapling_recorder(chain: &[&Issued], key: &Issued, ocsp: Vec<u8>) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert_with_ocsp(
        chain.iter().map(|i| i.der.clone()).collect(),
        key.key(),
        ocsp,
    )
    .unwrap();
    crate::common::record_and_respond(Arc::new(config), |_| {
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
    })
}

/// A CA, its server certificate, and the CA's file.
fn private_ca(dir: &std::path::Path) -> (Ca, Issued, std::path::PathBuf) {
    let ca = certs::ca("recorder revocation CA", "preflight tests", ISSUED_AT, 365).unwrap();
    let leaf = ca
        .server_publishing("recorder.preflight.test", ISSUED_AT, None, None)
        .unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, &ca.cert.cert_pem).unwrap();
    (ca, leaf, file)
}

fn judge_at() -> time::OffsetDateTime {
    time::OffsetDateTime::parse(AT, &time::format_description::well_known::Rfc3339).unwrap()
}

#[test]
fn a_revoked_certificate_gets_no_credential_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf, ca_file) = private_ca(dir.path());
    let revoked_at = ISSUED_AT - time::Duration::hours(1);
    let staple = ocsp_response(
        &ca,
        leaf.der.as_ref(),
        &Spec {
            said: Said::Revoked(revoked_at, 1),
            this_update: ISSUED_AT,
            next_update: Some(ISSUED_AT + time::Duration::days(7)),
            signer: Signer::Ca,
        },
    )
    .unwrap();
    let (port, seen) = stapling_recorder(&[&leaf, &ca.cert], &leaf, staple);
    let canary = "CANARY-revoked-7f3a";
    let mut cfg = CheckConfig::new(
        Target::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Product::Prisma,
    );
    cfg.alt_ports.clear();
    cfg.at = Some(judge_at());
    cfg.credentials = Credentials {
        user: Some("admin".into()),
        password: Some(Secret::new(canary)),
        ..Credentials::default()
    };
    let r = run_pipeline(
        &cfg,
        vec![],
        TrustSources::load(&[ca_file], &[]).unwrap(),
        judge_at(),
    );
    let code = |id: &str| r.check(id).map(|c| c.code.as_str().to_string());
    assert_eq!(code("cert.revocation").as_deref(), Some("revoked"));
    assert_eq!(code("trust.custom").as_deref(), Some("revoked"));
    assert_eq!(
        code("auth.basic").as_deref(),
        Some("not_attempted_untrusted")
    );
    assert_eq!(
        code("auth.password").as_deref(),
        Some("not_attempted_untrusted")
    );
    std::thread::sleep(Duration::from_millis(100));
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        wire.contains("GET /api/v1/_ping"),
        "the ping reached it: {wire}"
    );
    for secret in [canary, "Authorization", "authorization"] {
        assert!(
            !wire.contains(secret),
            "{secret} crossed to a revoked server: {wire}"
        );
    }
}

#[test]
fn a_garbled_or_foreign_staple_is_a_warning_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf, ca_file) = private_ca(dir.path());
    let stranger = certs::ca("someone else's CA", "elsewhere", ISSUED_AT, 365).unwrap();
    let foreign = ocsp_response(
        &stranger,
        leaf.der.as_ref(),
        &Spec {
            said: Said::Good,
            this_update: ISSUED_AT,
            next_update: Some(ISSUED_AT + time::Duration::days(7)),
            signer: Signer::Ca,
        },
    )
    .unwrap();
    let garbage = b"<html>503 Service Unavailable</html>".to_vec();
    for (staple, why) in [
        (garbage, "it is not an OCSP response"),
        (
            foreign,
            "it answers for 1 other certificate(s), not this one",
        ),
    ] {
        let (port, _) = stapling_recorder(&[&leaf, &ca.cert], &leaf, staple);
        let (code, r, _) = check_at(&[
            &format!("127.0.0.1:{port}"),
            "--product",
            "generic",
            "--ca",
            ca_file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "a warning does not fail the run: {r:#}");
        assert_eq!(
            outcome(&r, "cert.revocation"),
            ("warn".into(), "revocation_unchecked".into())
        );
        let c = revocation(&r);
        let summary = c["summary"].as_str().unwrap();
        assert!(
            summary.contains("the stapled OCSP response cannot be used"),
            "{summary}"
        );
        assert!(summary.contains(why), "{summary}");
        assert!(c["fix"].as_str().unwrap().contains("ssl_stapling"));
        // Unverifiable is not revoked: the chain stays trusted.
        assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    }
}

#[test]
fn a_stale_staple_is_a_warning_naming_why() {
    let lab = RunningLab::start(&[Scenario::OcspStale]);
    let (code, r, _) = lab_check(&lab, Scenario::OcspStale, &["--product", "generic"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        outcome(&r, "cert.revocation"),
        ("warn".into(), "revocation_unchecked".into())
    );
    let c = revocation(&r);
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "the stapled OCSP response is stale: its nextUpdate 2026-01-14T16:00:00Z has passed"
        ),
        "{summary}"
    );
    assert_eq!(c["facts"]["stapled"]["judged"], "stale");
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
}

#[test]
fn revocation_finds_a_revoked_certificate_through_ocsp_and_the_crl() {
    let lab = RunningLab::start(&[Scenario::RevokedUnstapled, Scenario::OcspGood]);
    // Nothing stapled, nothing asked: no revocation check, the chain trusted.
    let (code, r, _) = lab_check(&lab, Scenario::RevokedUnstapled, &["--product", "generic"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "cert.revocation"));
    let (code, r, took) = lab_check(
        &lab,
        Scenario::RevokedUnstapled,
        &["--product", "generic", "--revocation"],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "cert.revocation"),
        ("fail".into(), "revoked".into())
    );
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("fail".into(), "revoked".into())
    );
    let facts = &revocation(&r)["facts"];
    // What was asked, and what each answered.
    let ocsp = &facts["ocsp"];
    assert_eq!(ocsp["asked"], "POST application/ocsp-request");
    assert!(ocsp["url"].as_str().unwrap().ends_with("/ocsp"));
    assert_eq!(ocsp["status"], "revoked");
    assert_eq!(ocsp["reason"], "keyCompromise");
    let crl = &facts["crl"];
    assert_eq!(crl["asked"], "GET");
    assert!(crl["url"].as_str().unwrap().ends_with("/crl"));
    assert_eq!(crl["listed"], true);
    assert_eq!(crl["entries"], 2);
    assert_eq!(crl["revoked_at"], "2026-01-14T23:00:00Z");
    assert_eq!(facts["published"]["ocsp"][0], ocsp["url"]);
    let summary = revocation(&r)["summary"].as_str().unwrap();
    assert!(
        summary.contains("as the OCSP responder") && summary.contains("and the CRL"),
        "{summary}"
    );
    assert!(took < 10.0, "{took} s");
    // A good certificate from the same CA: the responder says good and the CRL does not list it.
    let (code, r, _) = lab_check(
        &lab,
        Scenario::OcspGood,
        &["--product", "generic", "--revocation"],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "cert.revocation"), ("pass".into(), "ok".into()));
    let facts = &revocation(&r)["facts"];
    assert_eq!(facts["ocsp"]["status"], "good");
    assert_eq!(facts["crl"]["listed"], false);
    assert_eq!(facts["stapled"]["status"], "good");
}

#[test]
fn a_certificate_that_publishes_nothing_is_a_fact_not_a_failure() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let addr = lab.addr(Scenario::Cvp).to_string();
    let ca = lab.trust_file(Scenario::Cvp);
    let (code, r, _) = check_at(&[
        &addr,
        "--product",
        "generic",
        "--ca",
        ca.to_str().unwrap(),
        "--revocation",
    ]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "cert.revocation"), ("pass".into(), "ok".into()));
    let summary = revocation(&r)["summary"].as_str().unwrap();
    assert!(
        summary.contains("names no OCSP responder and no CRL distribution point"),
        "{summary}"
    );
}

#[test]
fn a_silent_responder_is_bounded_by_the_deadline() {
    let lab = RunningLab::start(&[Scenario::RevocationSilent]);
    // The phase deadline (--tls-timeout) bounds each request; OCSP and CRL are asked at the same time.
    let (code, r, took) = lab_check(
        &lab,
        Scenario::RevocationSilent,
        &[
            "--product",
            "generic",
            "--revocation",
            "--tls-timeout",
            "1s",
        ],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        outcome(&r, "cert.revocation"),
        ("warn".into(), "revocation_unchecked".into())
    );
    let c = revocation(&r);
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains("/silent/ocsp: no answer within 1.0 s"),
        "{summary}"
    );
    assert!(
        summary.contains("/silent/crl: no answer within 1.0 s"),
        "{summary}"
    );
    let elapsed = c["elapsed_ms"].as_u64().unwrap();
    assert!((1000..2500).contains(&elapsed), "{elapsed} ms");
    assert!(took < 6.0, "{took} s");
    // The --max-time budget bounds them too, whatever the phase deadline.
    let (_, r, took) = lab_check(
        &lab,
        Scenario::RevocationSilent,
        &[
            "--product",
            "generic",
            "--revocation",
            "--max-time",
            "1500ms",
        ],
    );
    let (status, code) = outcome(&r, "cert.revocation");
    assert!(
        (status == "warn" && code == "revocation_unchecked")
            || (status == "error" && code == "max_time_exceeded"),
        "{r:#}"
    );
    assert!(took < 6.0, "{took} s");
}

/// A server on loopback that answers every connection with `reply` (after reading the request), or holds it.
fn raw_server(reply: Option<fn(&mut std::net::TcpStream)>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                let _ = s.read(&mut buf);
                match reply {
                    Some(f) => f(&mut s),
                    None => std::thread::sleep(Duration::from_secs(10)),
                }
            });
        }
    });
    port
}

fn fetch(
    port: u16,
    ask: preflight::net::revocation::Ask,
    deadline: Duration,
) -> (
    Result<preflight::net::revocation::Fetched, preflight::net::revocation::FetchError>,
    Duration,
) {
    let resolver = preflight::net::dns::StaticResolver { answers: vec![] };
    let way = preflight::net::revocation::Way {
        resolver: &resolver,
        proxy: None,
        proxy_addr: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let url = format!("http://127.0.0.1:{port}/ocsp");
    let got = rt.block_on(preflight::net::revocation::fetch(
        &url, &ask, &way, deadline,
    ));
    (got, start.elapsed())
}

#[test]
fn hostile_responders_get_a_clear_outcome() {
    use preflight::net::revocation::{Ask, FetchError, CRL_CAP, OCSP_CAP};
    let d = Duration::from_millis(800);
    // Silent: the deadline, and no longer.
    let (got, took) = fetch(raw_server(None), Ask::Crl, d);
    assert_eq!(got, Err(FetchError::Timeout(d)));
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A declared body over the cap is refused unread.
    let (got, _) = fetch(
        raw_server(Some(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n");
        })),
        Ask::Ocsp(vec![0x30, 0x00]),
        d,
    );
    assert_eq!(got, Err(FetchError::TooLarge(OCSP_CAP)));
    // An endless body stops at the cap (10 MiB for a CRL), well within the deadline.
    let (got, took) = fetch(
        raw_server(Some(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
            let chunk = [b'x'; 65536];
            for _ in 0..400 {
                if s.write_all(b"10000\r\n").is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        })),
        Ask::Crl,
        Duration::from_secs(10),
    );
    assert_eq!(got, Err(FetchError::TooLarge(CRL_CAP)));
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Not HTTP at all: said in words.
    let (got, _) = fetch(
        raw_server(Some(|s| {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        })),
        Ask::Crl,
        d,
    );
    assert!(matches!(got, Err(FetchError::Failed(_))), "{got:?}");
    // Garbage with a 200: fetched, and the judgement names it.
    let (got, _) = fetch(
        raw_server(Some(|s| {
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\n\x30\x82\xff\xffjunk");
        })),
        Ask::Ocsp(vec![0x30, 0x00]),
        d,
    );
    let body = got.unwrap().body;
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf, _) = private_ca(dir.path());
    let chain = [leaf.der.clone(), ca.cert.der.clone()];
    let issuer = preflight::pki::revocation::Issuer::find(&chain, std::iter::empty()).unwrap();
    let judged =
        preflight::pki::revocation::ocsp::judge(&body, leaf.der.as_ref(), &issuer, judge_at());
    assert!(
        matches!(
            judged,
            Err(preflight::pki::revocation::ocsp::Problem::Garbled(_))
        ),
        "{judged:?}"
    );
    // An LDAP distribution point is not fetched, and says so.
    let resolver = preflight::net::dns::StaticResolver { answers: vec![] };
    let way = preflight::net::revocation::Way {
        resolver: &resolver,
        proxy: None,
        proxy_addr: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(preflight::net::revocation::fetch(
        "ldap://dc1.corp.example/CN=CA,CN=CDP?certificateRevocationList",
        &Ask::Crl,
        &way,
        d,
    ));
    assert_eq!(got, Err(FetchError::Unsupported("ldap".into())));
}

#[test]
fn revocation_requests_go_through_the_checks_proxy() {
    if !peer("tinyproxy") {
        return;
    }
    let lab = RunningLab::start(&[Scenario::RevokedUnstapled]);
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let log = dir.path().join("tinyproxy.log");
    let conf = dir.path().join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\n",
            log.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new("tinyproxy")
        .args(["-d", "-c", conf.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let target = format!("localhost:{}", lab.addr(Scenario::RevokedUnstapled).port());
    let ca = lab.trust_file(Scenario::RevokedUnstapled);
    let out = preflight()
        .args(["check", &target, "--product", "generic", "--no-alt-ports"])
        .args([
            "--ca",
            ca.to_str().unwrap(),
            "--revocation",
            "--format",
            "json",
        ])
        .args(["--at", AT])
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&r, "proxy.connect").0, "pass", "{r:#}");
    assert_eq!(
        outcome(&r, "cert.revocation"),
        ("fail".into(), "revoked".into())
    );
    // The CA file accepted the chain: no inspecting proxy is suspected because the certificate is revoked.
    assert!(r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "proxy.intercept" || c["status"] == "pass"));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let responder = revocation(&r)["facts"]["ocsp"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(log.contains(&format!("POST {responder} HTTP/1.1")), "{log}");
    assert!(
        log.contains(&format!(
            "GET {} HTTP/1.1",
            responder.replace("/ocsp", "/crl")
        )),
        "{log}"
    );
}
