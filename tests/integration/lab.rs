//! The binary against the built-in lab: real TLS over loopback.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::common::*;
use preflight::lab::Scenario;

#[test]
fn cvp_lab_handshake_and_chain_facts() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let addr = lab.addr(Scenario::Cvp);
    let ca = lab.trust_file(Scenario::Cvp);
    let (code, r) = check_json(&[
        &addr.to_string(),
        "--product",
        "cvp",
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["schema_version"], 1);
    // Trusted through --ca; that the default stores do not know the self-signed certificate is information:
    // the private-CA setup passes.
    assert_eq!(r["verdict"], "pass");
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("info".into(), "self_signed".into())
    );
    assert_eq!(r["target"]["product"], "cvp");
    assert_eq!(r["target"]["port"], addr.port());
    for id in [
        "dns.resolve",
        "tcp.connect",
        "tls.handshake",
        "tls.alpn",
        "cert.chain",
    ] {
        assert_eq!(outcome(&r, id), ("pass".into(), "ok".into()), "{id}");
        assert!(check(&r, id)["fix"].is_null());
    }
    let hs = &check(&r, "tls.handshake")["facts"];
    assert_eq!(hs["protocol"], "TLS 1.3");
    assert_eq!(hs["alpn"], "h2");
    assert_eq!(hs["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    assert!(hs["sni"].is_null(), "an address sends no SNI");
    assert!(hs["cipher_suite"].as_str().unwrap().starts_with("TLS13_"));
    assert!(hs["key_exchange"].is_string());

    let certs = r["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    let leaf = &certs[0];
    assert_eq!(leaf["subject"], "CN=cvp.preflight.lab");
    assert_eq!(leaf["self_signed"], true);
    assert_eq!(leaf["key_type"], "EC");
    assert_eq!(leaf["key_curve"], "P-256");
    assert_eq!(leaf["is_ca"], false);
    assert_eq!(
        leaf["extended_key_usage"],
        serde_json::json!(["serverAuth"])
    );
    assert_eq!(
        leaf["dns_names"],
        serde_json::json!(["cvp.preflight.lab", "localhost"])
    );
    assert_eq!(
        leaf["ip_addresses"],
        serde_json::json!(["127.0.0.1", "::1"])
    );
    assert_eq!(leaf["not_before"], "2026-01-14T00:00:00Z");
    assert_eq!(leaf["not_after"], "2036-01-13T00:00:00Z");
    // Judged at 2026-06-01: 3513 whole days to 2036-01-13.
    assert_eq!(leaf["days_left"], 3513);
    assert_eq!(
        leaf["sha256"],
        openssl_fingerprint(&lab.trust_file(Scenario::Cvp))
    );
}

#[test]
fn prisma_lab_sends_console_ca_chain() {
    let lab = RunningLab::start(&[Scenario::Prisma]);
    let addr = lab.addr(Scenario::Prisma);
    let ca = lab.trust_file(Scenario::Prisma);
    let (code, r) = check_json(&[
        &format!("https://{addr}/tenant-1"),
        "--product",
        "prisma",
        "--ca",
        ca.to_str().unwrap(),
    ]);
    // A path the Console does not serve: the ping says so, before any credential.
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "product.ping"),
        ("fail".into(), "endpoint_not_found".into())
    );
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("info".into(), "unknown_issuer".into())
    );
    assert_eq!(r["target"]["path"], "/tenant-1");
    let (code, plain) = check_json(&[
        &addr.to_string(),
        "--product",
        "prisma",
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{plain:#}");
    assert_eq!(
        outcome(&plain, "product.ping"),
        ("pass".into(), "ok".into())
    );
    let certs = r["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["issuer"], "O=Twistlock, CN=Twistlock");
    assert_eq!(certs[0]["self_signed"], false);
    assert_eq!(certs[1]["subject"], "O=Twistlock, CN=Twistlock");
    assert_eq!(certs[1]["self_signed"], true);
    assert_eq!(certs[1]["is_ca"], true);
    assert_eq!(certs[0]["authority_key_id"], certs[1]["subject_key_id"]);
    assert_eq!(
        certs[1]["sha256"],
        openssl_fingerprint(&lab.trust_file(Scenario::Prisma))
    );
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "tls.alpn"),
        "ALPN is judged for gRPC products only"
    );
}

#[test]
fn sni_and_resolve_keep_the_name() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let port = lab.addr(Scenario::Cvp).port();
    let target = format!("https://cvp.preflight.lab:{port}");
    let resolve = format!("cvp.preflight.lab:{port}:127.0.0.1");
    let ca = lab.trust_file(Scenario::Cvp);
    let (code, r) = check_json(&[
        &target,
        "--resolve",
        &resolve,
        "--sni",
        "other.name",
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{r:#}");
    // The name verified is the target's host, whatever SNI carries.
    assert_eq!(
        check(&r, "trust.custom")["facts"]["name"],
        "cvp.preflight.lab"
    );
    let dns = check(&r, "dns.resolve");
    assert_eq!(dns["facts"]["source"], "--resolve");
    assert_eq!(dns["facts"]["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(r["target"]["host"], "cvp.preflight.lab");
    assert_eq!(r["target"]["sni"], "other.name");
    assert_eq!(check(&r, "tls.handshake")["facts"]["sni"], "other.name");
}

#[test]
fn plaintext_port_is_not_tls() {
    let lab = RunningLab::start(&[Scenario::Plaintext]);
    let (code, r) = check_json(&[&lab.addr(Scenario::Plaintext).to_string()]);
    assert_eq!(code, 1);
    assert_eq!(r["verdict"], "fail");
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "not_tls".into())
    );
    let c = check(&r, "tls.handshake");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("HTTP/1.1 400 Bad Request"),
        "{c:#}"
    );
    assert!(c["fix"].as_str().unwrap().contains("plain text"));
    assert_eq!(outcome(&r, "cert.chain"), ("skip".into(), "skipped".into()));
    assert_eq!(r["first_fix"], c["fix"]);
}

#[test]
fn silent_server_times_out_within_deadline() {
    let lab = RunningLab::start(&[Scenario::Silent]);
    let start = Instant::now();
    let (code, r) = check_json(&[&lab.addr(Scenario::Silent).to_string(), "--timeout", "1s"]);
    let took = start.elapsed();
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "tls_timeout".into())
    );
    assert!(
        took < Duration::from_secs(2) + Duration::from_millis(500),
        "took {took:?}"
    );
}

#[test]
fn mutual_tls_server_demands_client_certificate() {
    let lab = RunningLab::start(&[Scenario::Mtls]);
    let (code, r) = check_json(&[&lab.addr(Scenario::Mtls).to_string(), "--product", "prisma"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "client_cert_required".into())
    );
    let c = check(&r, "tls.handshake");
    assert_eq!(c["facts"]["client_cert_requested"], true);
    assert_eq!(
        c["facts"]["client_cert_issuers"],
        serde_json::json!(["O=preflight lab, CN=preflight lab client CA"])
    );
    assert!(c["fix"].as_str().unwrap().contains("authenticate-client"));
    // TLS 1.3 verifies the client after the handshake: the chain was still captured.
    assert_eq!(r["certificates"][0]["subject"], "CN=mtls.preflight.lab");
}

#[test]
fn refused_port_names_the_port_that_answers() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let good = lab.addr(Scenario::Cvp).port();
    let dead = closed_port();
    let (code, r) = check_json(&[
        &format!("127.0.0.1:{dead}"),
        "--product",
        "cvp",
        "--alt-ports",
        &format!("{good}"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "tcp.connect"),
        ("fail".into(), "tcp_refused".into())
    );
    let c = check(&r, "tcp.connect");
    assert_eq!(c["facts"]["other_ports"][0]["port"], good);
    assert_eq!(c["facts"]["other_ports"][0]["result"], "tls");
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains(&format!("use port {good}")), "{fix}");
    assert!(
        fix.contains(&format!("preflight check 127.0.0.1:{good} --product cvp")),
        "{fix}"
    );
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("skip".into(), "skipped".into())
    );
    assert_eq!(outcome(&r, "cert.chain"), ("skip".into(), "skipped".into()));
}

#[test]
fn refused_port_with_no_alternative_says_so() {
    let dead = closed_port();
    let other = closed_port();
    let (code, r) = check_json(&[
        &format!("127.0.0.1:{dead}"),
        "--alt-ports",
        &other.to_string(),
    ]);
    assert_eq!(code, 1);
    let c = check(&r, "tcp.connect");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("do not answer TLS either"),
        "{c:#}"
    );
    assert_eq!(c["facts"]["other_ports"][0]["result"], "tcp_refused");
}

#[test]
fn ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let lab = RunningLab::start_on(&[Scenario::Cvp], "::1".parse().unwrap());
    let port = lab.addr(Scenario::Cvp).port();
    let ca = lab.trust_file(Scenario::Cvp);
    let ca = ca.to_str().unwrap();
    let (code, r) = check_json(&[&format!("[::1]:{port}"), "--product", "cvp", "--ca", ca]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["target"]["host"], "::1");
    assert_eq!(
        check(&r, "tcp.connect")["facts"]["attempts"][0]["address"],
        format!("[::1]:{port}")
    );
    let (code, r) = check_json(&[&format!("https://[::1]:{port}/x"), "--ca", ca]);
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn table_output_reads_well_without_colour() {
    let lab = RunningLab::start(&[Scenario::Plaintext]);
    let out = preflight()
        .args(["check", &lab.addr(Scenario::Plaintext).to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    assert!(text.contains("FAIL"));
    assert!(text.contains("not_tls"));
    assert!(text.contains("Verdict: FAIL"));
    assert!(text.contains("First fix: "));
}

#[test]
fn colour_always_paints() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let out = preflight()
        .args([
            "check",
            &lab.addr(Scenario::Cvp).to_string(),
            "--color",
            "always",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("\x1b["));
}

#[test]
fn black_holed_port_times_out_and_other_ports_are_probed_meanwhile() {
    let hole = black_hole();
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let good = lab.addr(Scenario::Cvp).port();
    let start = Instant::now();
    let (code, r) = check_json(&[
        &format!("127.0.0.1:{}", hole.port),
        "--product",
        "cvp",
        "--connect-timeout",
        "1s",
        "--alt-ports",
        &good.to_string(),
    ]);
    let took = start.elapsed();
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "tcp.connect"),
        ("fail".into(), "tcp_timeout".into())
    );
    let c = check(&r, "tcp.connect");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("no answer within 1.0 s"),
        "{c:#}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("use port {good}")),
        "{c:#}"
    );
    // The other port was probed while the first one was timing out, not after.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn localhost_resolves_through_the_system_resolver() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let port = lab.addr(Scenario::Cvp).port();
    let (_, r) = check_json(&[&format!("localhost:{port}"), "--product", "cvp"]);
    let dns = check(&r, "dns.resolve");
    assert_eq!(dns["status"], "pass", "{dns:#}");
    let addrs = dns["facts"]["addresses"].as_array().unwrap();
    assert!(addrs.iter().any(|a| a == "127.0.0.1"), "{dns:#}");
    assert_eq!(outcome(&r, "tls.handshake"), ("pass".into(), "ok".into()));
    assert_eq!(r["target"]["sni"], "localhost");
}

#[test]
fn not_yet_valid_compares_with_the_servers_clock() {
    // Issued at the real time: the certificate starts two days from now, by both clocks.
    let lab = RunningLab::start_at(
        &[Scenario::Future],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let ca = lab.trust_file(Scenario::Future);
    let out = preflight()
        .args([
            "check",
            &lab.addr(Scenario::Future).to_string(),
            "--ca",
            ca.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("fail".into(), "not_yet_valid".into())
    );
    let c = check(&r, "trust.custom");
    assert!(
        c["facts"]["server_date"].is_string(),
        "the server's Date was read: {c:#}"
    );
    assert!(c["facts"]["clock_offset_seconds"].as_i64().unwrap().abs() < 60);
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("the server's clock agrees"),
        "{c:#}"
    );

    // With --at the user chose the time: no request is made.
    let (_, r) = check_json(&[
        &lab.addr(Scenario::Future).to_string(),
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert!(check(&r, "trust.custom")["facts"]["server_date"].is_null());
}

#[test]
fn product_auto_recognises_the_lab_consoles() {
    let lab = RunningLab::start_at(
        &[Scenario::Cvp, Scenario::Prisma, Scenario::CvpNoH2],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    for (s, want) in [
        (Scenario::Cvp, "cvp"),
        (Scenario::Prisma, "prisma"),
        (Scenario::CvpNoH2, "cvp"),
    ] {
        let ca = lab.trust_file(s);
        let (_, r) = check_json(&[&lab.addr(s).to_string(), "--ca", ca.to_str().unwrap()]);
        assert_eq!(r["target"]["product"], want, "{s:?}: {r:#}");
        let c = check(&r, "product.detect");
        assert_eq!(c["status"], "pass");
        assert!(
            c["summary"].as_str().unwrap().starts_with("recognised as"),
            "{c:#}"
        );
    }
    // Once recognised, the product's own checks run: CloudVision's ALPN, Prisma's ping.
    let (_, r) = check_json(&[
        &lab.addr(Scenario::CvpNoH2).to_string(),
        "--ca",
        lab.trust_file(Scenario::CvpNoH2).to_str().unwrap(),
    ]);
    assert_eq!(
        outcome(&r, "tls.alpn"),
        ("fail".into(), "alpn_h2_missing".into())
    );
}
