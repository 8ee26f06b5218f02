//! The binary against `openssl s_server`: a TLS peer nobody here wrote.
#![allow(clippy::unwrap_used)]

use crate::common::*;

#[test]
fn tls12_server_facts_and_fingerprint_match_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "s-server.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-tls1_2",
    ]);
    let (code, r) = check_json(&[&server.target(), "--ca", cert.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    let hs = &check(&r, "tls.handshake")["facts"];
    assert_eq!(hs["protocol"], "TLS 1.2");
    assert!(
        hs["cipher_suite"]
            .as_str()
            .unwrap()
            .starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{hs:#}"
    );
    assert!(
        hs["alpn"].is_null(),
        "s_server without -alpn negotiates none"
    );
    let leaf = &r["certificates"][0];
    assert_eq!(leaf["subject"], "CN=s-server.test");
    assert_eq!(leaf["sha256"], openssl_fingerprint(&cert));
}

#[test]
fn alpn_missing_fails_for_cloudvision() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "cvp.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
    ]);
    let ca = cert.to_str().unwrap();
    let (code, r) = check_json(&[&server.target(), "--product", "cvp", "--ca", ca]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(outcome(&r, "tls.handshake"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, "tls.alpn"),
        ("fail".into(), "alpn_h2_missing".into())
    );
    assert!(check(&r, "tls.alpn")["fix"]
        .as_str()
        .unwrap()
        .contains("http2"));

    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-alpn",
        "h2",
    ]);
    let (code, r) = check_json(&[
        &server.target(),
        "--product",
        "cvp",
        "--ca",
        ca,
        "--timeout",
        "1s",
    ]);
    assert_eq!(outcome(&r, "tls.alpn"), ("pass".into(), "ok".into()));
    assert_eq!(check(&r, "tls.alpn")["facts"]["alpn"], "h2");
    // s_server negotiates h2 but speaks no HTTP/2: the gRPC probe says so, within its deadline.
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, &format!("grpc.{}", server.port)),
        ("fail".into(), "http_failed".into())
    );
}

#[test]
fn legacy_tls10_server_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "legacy.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-tls1",
        "-cipher",
        "ALL:@SECLEVEL=0",
    ]);
    let (code, r) = check_json(&[&server.target()]);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "legacy_tls_only".into())
    );
    let c = check(&r, "tls.handshake");
    assert!(c["summary"].as_str().unwrap().contains("TLS 1.0"), "{c:#}");
    assert!(c["fix"]
        .as_str()
        .unwrap()
        .contains("ssl_protocols TLSv1.2 TLSv1.3"));
}

#[test]
fn client_certificate_required_tls13_and_tls12() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "mtls.test");
    for version in ["-tls1_3", "-tls1_2"] {
        let server = OpensslServer::start(&[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-Verify",
            "1",
            "-CAfile",
            cert.to_str().unwrap(),
            version,
        ]);
        let (code, r) = check_json(&[&server.target()]);
        assert_eq!(code, 1, "{version}: {r:#}");
        assert_eq!(
            outcome(&r, "tls.handshake"),
            ("fail".into(), "client_cert_required".into()),
            "{version}"
        );
        let facts = &check(&r, "tls.handshake")["facts"];
        assert_eq!(
            facts["client_cert_issuers"],
            serde_json::json!(["CN=mtls.test"]),
            "{version}"
        );
        assert_eq!(
            r["certificates"][0]["subject"], "CN=mtls.test",
            "{version}: the chain is kept"
        );
    }
}

#[test]
fn optional_client_certificate_passes_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "optional.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-verify",
        "1",
    ]);
    let (code, r) = check_json(&[&server.target(), "--ca", cert.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    let c = check(&r, "tls.handshake");
    assert_eq!(c["facts"]["client_cert_requested"], true);
    assert!(c["summary"]
        .as_str()
        .unwrap()
        .contains("optional client certificate"));
}

#[test]
fn rsa_key_size_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("rsa.key");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
        ])
        .arg(&key_path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let key_pem = std::fs::read_to_string(&key_path).unwrap();
    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["rsa.test".to_string()]).unwrap();
    params.not_before = ISSUED_AT;
    params.not_after = ISSUED_AT + time::Duration::days(90);
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.path().join("rsa.crt");
    std::fs::write(&cert_path, cert.pem()).unwrap();

    let server = OpensslServer::start(&[
        "-cert",
        cert_path.to_str().unwrap(),
        "-key",
        key_path.to_str().unwrap(),
    ]);
    let (code, r) = check_json(&[&server.target(), "--ca", cert_path.to_str().unwrap()]);
    // The certificate expired before the judging time: trusted by --ca, but expired.
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("fail".into(), "expired".into())
    );
    assert!(check(&r, "trust.custom")["summary"]
        .as_str()
        .unwrap()
        .contains("expired on 2026-04-15 (47 days ago"));
    let leaf = &r["certificates"][0];
    assert_eq!(leaf["key_type"], "RSA");
    assert_eq!(leaf["key_bits"], 3072);
    assert_eq!(leaf["signature_algorithm"], "sha256WithRSAEncryption");
    // Valid until 2026-04-15, judged at 2026-06-01: expired 47 days before.
    assert_eq!(leaf["days_left"], -47);
    assert_eq!(leaf["sha256"], openssl_fingerprint(&cert_path));
}

#[test]
fn product_auto_leaves_a_non_http_server_generic() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "plain.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
    ]);
    let (code, r) = check_json(&[&server.target(), "--ca", cert.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["target"]["product"], "generic");
    assert!(check(&r, "product.detect")["summary"]
        .as_str()
        .unwrap()
        .contains("no ALPN"));
}

/// The client certificate is a credential: a server nobody trusts never receives it, even when it demands
/// one; once `--ca` accepts the server's chain, it is presented (a second handshake, verified against that
/// CA). `openssl s_server` says which client certificates it received.
#[test]
fn the_client_certificate_goes_only_to_a_trusted_server() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "mtls-server.test");
    let (client, client_key) = write_self_signed(dir.path(), "the-client");
    for version in ["-tls1_3", "-tls1_2"] {
        let server = OpensslServer::start(&[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-Verify",
            "1",
            "-CAfile",
            client.to_str().unwrap(),
            version,
        ]);
        let identity = [
            "--cert",
            client.to_str().unwrap(),
            "--key",
            client_key.to_str().unwrap(),
        ];
        let mut args = vec![server.target()];
        args.extend(identity.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, r) = check_json(&argv);
        assert_eq!(code, 1, "{version}: {r:#}");
        let hs = check(&r, "tls.handshake");
        assert_eq!(hs["code"], "client_cert_required", "{version}: {hs:#}");
        assert_eq!(hs["facts"]["client_cert_presented"], false, "{version}");
        assert!(
            hs["summary"].as_str().unwrap().contains("not presented"),
            "{version}: {hs:#}"
        );
        assert!(
            hs["fix"]
                .as_str()
                .unwrap()
                .starts_with("Make a trust source accept"),
            "{version}: the fix is trust, not a certificate the user already gave: {hs:#}"
        );
        assert!(
            !server.stderr().contains("CN = the-client"),
            "{version}: an untrusted server received the client certificate:\n{}",
            server.stderr()
        );

        let mut trusted = argv.clone();
        trusted.extend(["--ca", cert.to_str().unwrap()]);
        let (_, r) = check_json(&trusted);
        let hs = check(&r, "tls.handshake");
        assert_eq!(hs["status"], "pass", "{version}: {hs:#}");
        assert_eq!(hs["facts"]["client_cert_presented"], true, "{version}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !server.stderr().contains("CN = the-client") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            server.stderr().contains("depth=0 CN = the-client"),
            "{version}: the trusted server never received the certificate:\n{}",
            server.stderr()
        );
    }
}

/// The gRPC probe and the product probes connect again on their own: against a server that asks for a client
/// certificate without demanding it (`-verify 1`) and offers h2, an untrusted chain still gets no client
/// certificate on any of those connections, while the trusted run presents it.
#[test]
fn no_probe_presents_the_client_certificate_to_an_untrusted_server() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "mtls-optional.test");
    let (client, client_key) = write_self_signed(dir.path(), "the-probe-client");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-verify",
        "1",
        "-alpn",
        "h2",
        "-www",
    ]);
    let target = server.target();
    let args = [
        target.as_str(),
        "--product",
        "cvp",
        "--no-alt-ports",
        "--timeout",
        "2s",
        "--cert",
        client.to_str().unwrap(),
        "--key",
        client_key.to_str().unwrap(),
    ];
    let (_, r) = check_json(&args);
    assert_eq!(check(&r, "tls.handshake")["status"], "pass", "{r:#}");
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"].as_str().unwrap().starts_with("grpc.")),
        "the gRPC probe ran: {r:#}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !server.stderr().contains("CN = the-probe-client"),
        "an untrusted server received the client certificate:\n{}",
        server.stderr()
    );
    let mut trusted = args.to_vec();
    trusted.extend(["--ca", cert.to_str().unwrap()]);
    let _ = check_json(&trusted);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.stderr().contains("CN = the-probe-client") && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        server.stderr().contains("CN = the-probe-client"),
        "the trusted server never received the certificate:\n{}",
        server.stderr()
    );
}
