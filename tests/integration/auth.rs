//! Authentication against the lab's product emulator, through the pipeline: each method × each outcome,
//! and no credential over an untrusted connection.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use preflight::config::CheckConfig;
use preflight::credentials::{Credentials, TokenInput};
use preflight::lab::{Credentials as Lab, Scenario};
use preflight::pki::sources::TrustSources;
use preflight::report::Report;
use preflight::secret::Secret;
use preflight::target::{Product, Target};

fn run(
    lab: &RunningLab,
    s: Scenario,
    product: Product,
    creds: Credentials,
    trusted: bool,
) -> Report {
    let mut cfg = CheckConfig::new(Target::parse(&lab.addr(s).to_string()).unwrap(), product);
    cfg.credentials = creds;
    cfg.alt_ports.clear();
    let ca = if trusted {
        vec![lab.trust_file(s)]
    } else {
        vec![]
    };
    run_pipeline(
        &cfg,
        vec![],
        TrustSources::load(&ca, &[]).unwrap(),
        time::OffsetDateTime::now_utc(),
    )
}

fn code(r: &Report, id: &str) -> (String, String) {
    let c = r
        .check(id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", r.checks));
    (c.status.as_str().to_string(), c.code.as_str().to_string())
}

fn password(user: &str, pw: &str) -> Credentials {
    Credentials {
        user: Some(user.into()),
        password: Some(Secret::new(pw)),
        ..Credentials::default()
    }
}

fn token_file(lab: &RunningLab, name: &str) -> TokenInput {
    let path = lab.dir.path().join(name);
    TokenInput {
        method: "token-file",
        origin: path.display().to_string(),
        token: Secret::new(std::fs::read_to_string(&path).unwrap().trim()),
    }
}

#[test]
fn prisma_methods_and_outcomes() {
    let lab = RunningLab::start_at(
        &[
            Scenario::Prisma,
            Scenario::PrismaBasicDisabled,
            Scenario::PrismaRateLimited,
            Scenario::PrismaError,
        ],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let r = run(
        &lab,
        Scenario::Prisma,
        Product::Prisma,
        password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD),
        true,
    );
    assert_eq!(code(&r, "product.ping"), ("pass".into(), "ok".into()));
    assert_eq!(code(&r, "auth.basic"), ("pass".into(), "ok".into()));
    assert_eq!(code(&r, "auth.password"), ("pass".into(), "ok".into()));
    let pw = r.check("auth.password").unwrap();
    assert!(pw.summary.contains("34.04.145"), "{pw:#?}");
    assert!(
        pw.facts.get("token_expires").is_some(),
        "the token's exp is read: {pw:#?}"
    );
    // A token just obtained (30 minutes, no `iat`, as the Console issues them) is not "expiring": its
    // lifetime is a fact.
    let lifetime = pw.facts["token_lifetime_seconds"].as_i64().unwrap();
    assert!((1700..=1810).contains(&lifetime), "{pw:#?}");

    let r = run(
        &lab,
        Scenario::Prisma,
        Product::Prisma,
        password(Lab::PRISMA_USER, "wrong-password"),
        true,
    );
    assert_eq!(
        code(&r, "auth.basic"),
        ("fail".into(), "bad_credentials".into())
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "bad_credentials".into())
    );

    let r = run(
        &lab,
        Scenario::PrismaBasicDisabled,
        Product::Prisma,
        password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD),
        true,
    );
    assert_eq!(
        code(&r, "auth.basic"),
        ("fail".into(), "unsupported_method".into())
    );
    assert_eq!(code(&r, "auth.password"), ("pass".into(), "ok".into()));

    let r = run(
        &lab,
        Scenario::PrismaRateLimited,
        Product::Prisma,
        password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD),
        true,
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "rate_limited".into())
    );
    assert!(r
        .check("auth.password")
        .unwrap()
        .summary
        .contains("Retry-After"));

    let r = run(
        &lab,
        Scenario::PrismaError,
        Product::Prisma,
        password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD),
        true,
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "server_error".into())
    );
}

#[test]
fn cloudvision_methods_and_outcomes() {
    let lab = RunningLab::start_at(
        &[
            Scenario::Cvp,
            Scenario::CvpLegacy,
            Scenario::Cvp2026,
            Scenario::Cvaas,
        ],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let r = run(
        &lab,
        Scenario::Cvp,
        Product::Cvp,
        password(Lab::CVP_USER, Lab::CVP_PASSWORD),
        true,
    );
    assert_eq!(code(&r, "auth.password"), ("pass".into(), "ok".into()));
    assert!(r
        .check("auth.password")
        .unwrap()
        .summary
        .contains("CloudVision 2024.3.0"));

    // Bad credentials come back as HTTP 200 with an errorMessage: still bad credentials.
    let r = run(
        &lab,
        Scenario::Cvp,
        Product::Cvp,
        password(Lab::CVP_USER, "nope-nope"),
        true,
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "bad_credentials".into())
    );
    assert!(r
        .check("auth.password")
        .unwrap()
        .summary
        .contains("HTTP 200"));
    // Older releases answer 401.
    let r = run(
        &lab,
        Scenario::CvpLegacy,
        Product::Cvp,
        password(Lab::CVP_USER, "nope-nope"),
        true,
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "bad_credentials".into())
    );

    let creds = Credentials {
        tokens: vec![token_file(&lab, "cvp-token.txt")],
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp2026, Product::Cvp, creds, true);
    let t = r.check("auth.token-file").unwrap();
    assert_eq!(
        (t.status.as_str(), t.code.as_str()),
        ("pass", "ok"),
        "{t:#?}"
    );
    assert!(
        t.summary.contains("2026.1.3"),
        "the bare-text version form: {t:#?}"
    );
    assert_eq!(t.facts["token_account"], Lab::CVP_SERVICE_ACCOUNT);

    let creds = Credentials {
        tokens: vec![token_file(&lab, "cvp-token-expired.txt")],
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp, Product::Cvp, creds, true);
    assert_eq!(
        code(&r, "auth.token-file"),
        ("fail".into(), "token_expired".into())
    );

    let creds = Credentials {
        tokens: vec![token_file(&lab, "cvp-token-expiring.txt")],
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp, Product::Cvp, creds, true);
    assert_eq!(
        code(&r, "auth.token-file"),
        ("warn".into(), "token_expiring".into())
    );

    // A Prisma Console checked as CloudVision: no login endpoint there.
    let prisma_lab = RunningLab::start_at(
        &[Scenario::Prisma],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let r = run(
        &prisma_lab,
        Scenario::Prisma,
        Product::Cvp,
        Credentials::default(),
        true,
    );
    assert_eq!(
        code(&r, "product.login"),
        ("fail".into(), "endpoint_not_found".into())
    );

    // CloudVision as a Service has no password login.
    let r = run(
        &lab,
        Scenario::Cvaas,
        Product::Cvaas,
        password("someone", "something"),
        true,
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("fail".into(), "unsupported_method".into())
    );
}

#[test]
fn no_credential_over_an_untrusted_chain() {
    let lab = RunningLab::start_at(
        &[Scenario::Prisma],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let r = run(
        &lab,
        Scenario::Prisma,
        Product::Prisma,
        password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD),
        false,
    );
    for id in ["auth.basic", "auth.password"] {
        assert_eq!(
            code(&r, id),
            ("skip".into(), "not_attempted_untrusted".into()),
            "{id}"
        );
    }
    // The ping carries no credential and still runs.
    assert_eq!(code(&r, "product.ping"), ("pass".into(), "ok".into()));

    let mut creds = password(Lab::PRISMA_USER, Lab::PRISMA_PASSWORD);
    creds.insecure = true;
    let r = run(&lab, Scenario::Prisma, Product::Prisma, creds, false);
    let c = r.check("auth.password").unwrap();
    assert_eq!(c.code.as_str(), "ok");
    assert_eq!(c.facts["insecure"], true);
    assert!(c.summary.contains("--insecure"));
}

#[test]
fn the_wire_never_sees_a_credential_without_trust() {
    let issued =
        preflight::lab::certs::self_signed_server("recorder.preflight.test", ISSUED_AT).unwrap();
    let (port, seen) = tls_responder(&issued, |_| {
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
    });
    let secret = "CANARY-wire-5b1d";
    let mut cfg = CheckConfig::new(
        Target::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Product::Prisma,
    );
    cfg.alt_ports.clear();
    cfg.credentials = Credentials {
        user: Some("admin".into()),
        password: Some(Secret::new(secret)),
        tokens: vec![TokenInput {
            method: "token-env",
            origin: "PRISMA_TOKEN".into(),
            token: Secret::new("CANARY-token-9e2c"),
        }],
        ..Credentials::default()
    };
    let r = run_pipeline(
        &cfg,
        vec![],
        TrustSources::load(&[], &[]).unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("skip".into(), "not_attempted_untrusted".into())
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        wire.contains("GET /api/v1/_ping"),
        "the unauthenticated ping did reach the server: {wire}"
    );
    for canary in [
        secret,
        "CANARY-token-9e2c",
        "Authorization",
        "authorization",
    ] {
        assert!(
            !wire.contains(canary),
            "{canary} crossed an untrusted connection: {wire}"
        );
    }
}

/// The pin attacker: a server that holds only its own key sends the pinned (public) certificate after its
/// own. The pin must not pass, and the password must not cross, on the wire.
#[test]
fn a_pinned_certificate_sent_by_another_key_gets_no_credential() {
    let genuine =
        preflight::lab::certs::self_signed_server("genuine.preflight.test", ISSUED_AT).unwrap();
    let attacker =
        preflight::lab::certs::self_signed_server("attacker.preflight.test", ISSUED_AT).unwrap();
    let (port, seen) = tls_responder_sending(&attacker, vec![genuine.der.clone()], |_| {
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
    });
    let secret = "CANARY-pin-3a7f";
    let mut cfg = CheckConfig::new(
        Target::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Product::Prisma,
    );
    cfg.alt_ports.clear();
    cfg.credentials = Credentials {
        user: Some("admin".into()),
        password: Some(Secret::new(secret)),
        ..Credentials::default()
    };
    let pin = preflight::pki::facts::sha256_fingerprint(genuine.der.as_ref());
    let r = run_pipeline(
        &cfg,
        vec![],
        TrustSources::load(&[], &[pin]).unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(
        code(&r, "trust.pin"),
        ("fail".into(), "pin_mismatch".into())
    );
    let pin_check = r.check("trust.pin").unwrap();
    assert!(
        pin_check
            .summary
            .contains("does not certify the server's key"),
        "{}",
        pin_check.summary
    );
    assert_eq!(
        code(&r, "auth.password"),
        ("skip".into(), "not_attempted_untrusted".into())
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        wire.contains("GET /api/v1/_ping"),
        "the probe reached it: {wire}"
    );
    for canary in [secret, "Authorization", "authorization"] {
        assert!(
            !wire.contains(canary),
            "{canary} reached the pin attacker: {wire}"
        );
    }
}

/// The user's own trust is not overruled: `--ca` rejects the chain while a default store accepts it (an
/// inspecting proxy's CA in the system store, on a managed machine). Nothing secret may go.
#[test]
fn a_default_store_does_not_overrule_the_users_ca() {
    let dir = tempfile::tempdir().unwrap();
    let genuine = preflight::lab::certs::self_signed_server("127.0.0.1", ISSUED_AT).unwrap();
    let interceptor = preflight::lab::certs::self_signed_server("127.0.0.1", ISSUED_AT).unwrap();
    let (port, seen) = tls_responder(&interceptor, |_| {
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
    });
    let (yours, theirs) = (dir.path().join("yours.pem"), dir.path().join("theirs.pem"));
    std::fs::write(&yours, &genuine.cert_pem).unwrap();
    std::fs::write(&theirs, &interceptor.cert_pem).unwrap();
    let mut system = preflight::pki::sources::custom(&[theirs]).unwrap();
    system.kind = preflight::pki::sources::SourceKind::System;
    system.name = "the system store";
    let custom = preflight::pki::sources::custom(&[yours]).unwrap();
    let secret = "CANARY-overruled-61c4";
    let mut cfg = CheckConfig::new(
        Target::parse(&format!("127.0.0.1:{port}")).unwrap(),
        Product::Prisma,
    );
    cfg.alt_ports.clear();
    cfg.credentials = Credentials {
        user: Some("admin".into()),
        password: Some(Secret::new(secret)),
        ..Credentials::default()
    };
    let r = run_pipeline(
        &cfg,
        vec![],
        TrustSources {
            sources: vec![custom, system],
        },
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(code(&r, "trust.custom").0, "fail");
    assert_eq!(code(&r, "trust.system").0, "pass");
    assert_eq!(
        code(&r, "auth.password"),
        ("skip".into(), "not_attempted_untrusted".into())
    );
    let skipped = r.check("auth.password").unwrap();
    assert!(
        skipped
            .summary
            .contains("trust.custom (your --ca) rejected"),
        "{}",
        skipped.summary
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    for canary in [secret, "Authorization", "authorization"] {
        assert!(
            !wire.contains(canary),
            "{canary} went past the user's --ca: {wire}"
        );
    }
}

#[test]
fn cloudvision_grpc() {
    let lab = RunningLab::start_at(
        &[Scenario::Cvp, Scenario::CvpNoH2],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let port = lab.addr(Scenario::Cvp).port();
    let creds = Credentials {
        tokens: vec![token_file(&lab, "cvp-token.txt")],
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp, Product::Cvp, creds, true);
    assert_eq!(
        code(&r, &format!("grpc.{port}")),
        ("pass".into(), "ok".into())
    );
    let t = r.check("auth.token-file").unwrap();
    assert!(
        t.summary
            .contains("gRPC GetOne answered NOT_FOUND (accepted)"),
        "{t:#?}"
    );

    // The viewer's token works on REST but gRPC denies the inventory call.
    let creds = Credentials {
        tokens: vec![token_file(&lab, "cvp-token-viewer.txt")],
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp, Product::Cvp, creds, true);
    assert_eq!(
        code(&r, "auth.token-file"),
        ("fail".into(), "forbidden".into())
    );

    // Without a token there is no auth check, but gRPC is still probed.
    let r = run(
        &lab,
        Scenario::CvpNoH2,
        Product::Cvp,
        Credentials::default(),
        true,
    );
    let no_h2_port = lab.addr(Scenario::CvpNoH2).port();
    assert_eq!(
        code(&r, &format!("grpc.{no_h2_port}")),
        ("fail".into(), "alpn_h2_missing".into())
    );
    assert_eq!(
        code(&r, "tls.alpn"),
        ("fail".into(), "alpn_h2_missing".into())
    );
}

#[test]
fn prisma_tokens_and_client_certificate() {
    let lab = RunningLab::start_at(
        &[Scenario::Prisma, Scenario::Mtls],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let tok = |name: &str| TokenInput {
        method: "token-env",
        origin: "$PRISMA_TOKEN".into(),
        token: Secret::new(
            std::fs::read_to_string(lab.dir.path().join(name))
                .unwrap()
                .trim(),
        ),
    };
    let r = run(
        &lab,
        Scenario::Prisma,
        Product::Prisma,
        Credentials {
            tokens: vec![tok("prisma-token.txt")],
            ..Credentials::default()
        },
        true,
    );
    assert_eq!(code(&r, "auth.token-env"), ("pass".into(), "ok".into()));
    let r = run(
        &lab,
        Scenario::Prisma,
        Product::Prisma,
        Credentials {
            tokens: vec![tok("prisma-token-expired.txt")],
            ..Credentials::default()
        },
        true,
    );
    assert_eq!(
        code(&r, "auth.token-env"),
        ("fail".into(), "token_expired".into())
    );

    // Mutual TLS: the handshake presents the lab's client certificate, then authenticate-client logs in.
    let chain = preflight::pki::sources::read_certificates(&lab.client_cert, "--cert").unwrap();
    let key_pem = std::fs::read(&lab.client_key).unwrap();
    use rustls::pki_types::pem::PemObject;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).unwrap();
    let creds = Credentials {
        identity: Some(preflight::pki::channel::Identity { chain, key }),
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Mtls, Product::Prisma, creds, true);
    assert_eq!(
        code(&r, "tls.handshake"),
        ("pass".into(), "ok".into()),
        "{:#?}",
        r.checks
    );
    let c = r.check("auth.client-cert").unwrap();
    assert_eq!(
        (c.status.as_str(), c.code.as_str()),
        ("pass", "ok"),
        "{c:#?}"
    );
    // Without the certificate, the same server stops at the handshake.
    let r = run(
        &lab,
        Scenario::Mtls,
        Product::Prisma,
        Credentials::default(),
        true,
    );
    assert_eq!(
        code(&r, "tls.handshake"),
        ("fail".into(), "client_cert_required".into())
    );
}

#[test]
fn grpc_port_443_or_8443() {
    let lab = RunningLab::start_at(
        &[Scenario::Cvp, Scenario::CvpNoH2],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let good = lab.addr(Scenario::Cvp).port();
    let no_h2 = lab.addr(Scenario::CvpNoH2).port();
    let dead = closed_port();
    let run_alt = |s: Scenario, alt: u16| {
        let mut cfg = CheckConfig::new(
            Target::parse(&lab.addr(s).to_string()).unwrap(),
            Product::Cvp,
        );
        cfg.alt_ports = vec![alt];
        cfg.alt_ports_chosen = true;
        run_pipeline(
            &cfg,
            vec![],
            TrustSources::load(&[lab.trust_file(s)], &[]).unwrap(),
            time::OffsetDateTime::now_utc(),
        )
    };
    // gRPC on the target's port; nothing on the other: as expected, a pass that says so.
    let r = run_alt(Scenario::Cvp, dead);
    assert_eq!(
        code(&r, &format!("grpc.{good}")),
        ("pass".into(), "ok".into())
    );
    let other = r.check(&format!("grpc.{dead}")).unwrap();
    assert_eq!(other.status.as_str(), "pass", "{other:#?}");
    assert!(
        other.summary.contains(&format!("served on {good}")),
        "{other:#?}"
    );

    // No gRPC on the target's port, but on the other one: the fix names it.
    let r = run_alt(Scenario::CvpNoH2, good);
    let main = r.check(&format!("grpc.{no_h2}")).unwrap();
    assert_eq!(main.status.as_str(), "fail");
    assert!(
        main.summary.contains(&format!("served on {good} instead")),
        "{main:#?}"
    );
    assert!(main
        .fix
        .as_deref()
        .unwrap()
        .contains(&format!("port {good}")));
    assert_eq!(
        code(&r, &format!("grpc.{good}")),
        ("pass".into(), "ok".into())
    );
}

#[test]
fn cloudvision_client_certificate_is_tried_and_explained() {
    let lab = RunningLab::start_at(
        &[Scenario::Cvp],
        "127.0.0.1".parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    let chain = preflight::pki::sources::read_certificates(&lab.client_cert, "--cert").unwrap();
    use rustls::pki_types::pem::PemObject;
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(&std::fs::read(&lab.client_key).unwrap())
            .unwrap();
    let creds = Credentials {
        identity: Some(preflight::pki::channel::Identity { chain, key }),
        ..Credentials::default()
    };
    let r = run(&lab, Scenario::Cvp, Product::Cvp, creds, true);
    let c = r.check("auth.client-cert").unwrap();
    // The lab's CloudVision, like today's, does not log in with client certificates.
    assert_eq!(
        (c.status.as_str(), c.code.as_str()),
        ("fail", "bad_credentials"),
        "{c:#?}"
    );
    assert!(c.fix.as_deref().unwrap().contains("service-account token"));
}

/// The password a server echoes back, and the forms it echoes it in.
const ECHOED: &str = "Echo+me/\"now\"<&>";
const ECHOES: [&str; 5] = [
    r#"Echo+me/\"now\"<&>"#,
    "Echo%2Bme%2F%22now%22%3C%26%3E",
    "Echo+me/&quot;now&quot;&lt;&amp;&gt;",
    "RWNobyttZS8ibm93IjwmPg==",
    "YWRtaW46RWNobyttZS8ibm93IjwmPg==",
];

/// Answers every request with a 401 whose body quotes the password in the form `ECHOES[N]`.
fn echo_401<const N: usize>(_: &[u8]) -> Vec<u8> {
    let body = format!(r#"{{"err":"bad password {}"}}"#, ECHOES[N]);
    format!(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A CloudVision login that echoes the password back in another form (JSON-escaped, percent-encoded,
/// HTML-escaped, base64, the Basic value of user and password): no output of any format, nor the trace,
/// holds one; the refusal is still reported.
#[test]
fn no_form_of_a_secret_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let issued = preflight::lab::certs::self_signed_server("127.0.0.1", ISSUED_AT).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &issued.cert_pem).unwrap();
    let servers = [
        tls_responder(&issued, echo_401::<0>),
        tls_responder(&issued, echo_401::<1>),
        tls_responder(&issued, echo_401::<2>),
        tls_responder(&issued, echo_401::<3>),
        tls_responder(&issued, echo_401::<4>),
    ];
    for (i, (port, seen)) in servers.iter().enumerate() {
        let target = format!("127.0.0.1:{port}");
        for format in ["table", "json", "markdown", "junit"] {
            let out = preflight()
                .args(["check", &target, "--product", "cvp", "--ca"])
                .arg(&ca)
                .args(["--user", "admin", "--password-env", "PF_ECHO_PW"])
                .args(["--format", format, "-vv"])
                .env("PF_ECHO_PW", ECHOED)
                .output()
                .unwrap();
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let form = ECHOES[i];
            assert!(
                !text.contains(&form[..8]),
                "{format}: `{form}` in the output:\n{text}"
            );
            assert!(
                text.contains("bad password"),
                "{format}: the refusal is reported:\n{text}"
            );
        }
        let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        assert!(wire.contains("authenticate"), "the login went: {wire}");
    }
}
