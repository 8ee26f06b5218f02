//! Every trust code, from its fixture (`fixtures/`), judged twice: offline by `preflight verify`, and over a
//! real TLS handshake with `openssl s_server` serving the fixture. Where `openssl verify` has an opinion, we
//! agree with it, except where modern clients are deliberately stricter (listed, with the reason).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::Value;

struct Fixture {
    name: String,
    dir: PathBuf,
    verify_name: String,
    at: String,
    with_ca: String,
    status_with_ca: String,
    without_ca: String,
}

impl Fixture {
    fn file(&self, f: &str) -> String {
        self.dir.join(f).to_str().unwrap().to_string()
    }
    fn has(&self, f: &str) -> bool {
        self.dir.join(f).exists()
    }
}

fn fixtures() -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out: Vec<Fixture> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| {
            let dir = e.unwrap().path();
            let meta = std::fs::read_to_string(dir.join("scenario.json")).ok()?;
            let j: Value = serde_json::from_str(&meta).unwrap();
            let s = |k: &str| j[k].as_str().unwrap().to_string();
            Some(Fixture {
                name: s("name"),
                verify_name: s("verify_name"),
                at: s("at"),
                with_ca: s("expect_with_ca"),
                status_with_ca: s("status_with_ca"),
                without_ca: s("expect_without_ca"),
                dir,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 20, "fixtures are missing");
    out
}

fn verify(f: &Fixture, with_ca: bool) -> (i32, Value) {
    let mut cmd = preflight();
    cmd.args([
        "verify",
        "--chain",
        &f.file("chain.pem"),
        "--name",
        &f.verify_name,
        "--at",
        &f.at,
        "--format",
        "json",
    ]);
    if with_ca {
        cmd.args(["--ca", &f.file("ca.pem")]);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: {e}: {}", f.name, String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

/// (status, code) for the source built from ca.pem, and the Mozilla roots' code.
fn verdicts(r: &Value) -> ((String, String), String) {
    (outcome(r, "trust.custom"), outcome(r, "trust.mozilla").1)
}

#[test]
fn every_fixture_offline() {
    for f in fixtures() {
        let (code, r) = verify(&f, true);
        let ((status, got), moz) = verdicts(&r);
        assert_eq!(
            (status.as_str(), got.as_str()),
            (f.status_with_ca.as_str(), f.with_ca.as_str()),
            "{}: {r:#}",
            f.name
        );
        assert_eq!(moz, f.without_ca, "{}: Mozilla roots", f.name);
        assert_eq!(
            code,
            if f.status_with_ca == "fail" { 1 } else { 0 },
            "{}: exit code",
            f.name
        );
        let c = check(&r, "trust.custom");
        if status != "pass" {
            let fix = c["fix"].as_str().unwrap();
            assert!(
                !fix.is_empty() && !fix.contains("{:?}"),
                "{}: {fix}",
                f.name
            );
        }
        // Without --ca, the Mozilla roots are the only judge of note, and fail.
        let (code, r) = verify(&f, false);
        assert_eq!(code, 1, "{}", f.name);
        assert_eq!(
            outcome(&r, "trust.mozilla"),
            ("fail".to_string(), f.without_ca.clone()),
            "{}",
            f.name
        );
    }
}

/// s_server arguments that serve the fixture as its chain.pem says, leaf first.
fn serve(f: &Fixture) -> OpensslServer {
    let mut args: Vec<String> = vec![
        "-cert".into(),
        f.file("leaf.pem"),
        "-key".into(),
        f.file("key.pem"),
    ];
    if f.has("rest.pem") {
        args.extend(["-cert_chain".into(), f.file("rest.pem")]);
    }
    // Let OpenSSL serve what current clients must judge (SHA-1 signatures, RSA-1024) whatever its defaults.
    args.extend(["-cipher".into(), "DEFAULT:@SECLEVEL=0".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    OpensslServer::start(&refs)
}

#[test]
fn every_fixture_over_a_real_handshake() {
    for f in fixtures() {
        let server = serve(&f);
        let is_ip = f.verify_name.parse::<std::net::IpAddr>().is_ok();
        let target = if is_ip {
            server.target()
        } else {
            format!("{}:{}", f.verify_name, server.port)
        };
        let resolve = format!("{}:{}:127.0.0.1", f.verify_name, server.port);
        let ca = f.file("ca.pem");
        let mut args = vec![target.as_str(), "--ca", &ca];
        if !is_ip {
            args.extend(["--resolve", &resolve]);
        }
        let out = preflight()
            .arg("check")
            .args(&args)
            .args(["--format", "json", "--at", &f.at])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            outcome(&r, "trust.custom"),
            (f.status_with_ca.clone(), f.with_ca.clone()),
            "{}: {r:#}",
            f.name
        );
        let moz = outcome(&r, "trust.mozilla");
        assert_eq!(moz.1, f.without_ca, "{}: Mozilla roots", f.name);
        // The chain as captured is the chain as served.
        let served = std::fs::read_to_string(f.file("chain.pem")).unwrap();
        let captured: String = r["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["pem"].as_str().unwrap())
            .collect();
        assert_eq!(
            captured.replace("\r\n", "\n").trim(),
            served.trim(),
            "{}: chain as sent",
            f.name
        );
        // A certificate rustls cannot even read for the handshake signature: the handshake names the cause
        // with the trust checks' code.
        if ["critical_extension", "duplicate_extension", "malformed_san"].contains(&f.name.as_str())
        {
            assert_eq!(
                outcome(&r, "tls.handshake"),
                ("fail".into(), f.with_ca.clone()),
                "{}: {r:#}",
                f.name
            );
        }
        if f.name == "weak_key" {
            // rustls refuses the RSA-1024 handshake signature itself, and says why.
            assert_eq!(
                outcome(&r, "tls.handshake"),
                ("fail".into(), "weak_key".into()),
                "{r:#}"
            );
        }
    }
}

/// Where OpenSSL accepts what current clients refuse, by design.
const STRICTER_THAN_OPENSSL: &[(&str, &str)] = &[
    ("cn_only", "OpenSSL falls back to the CN when there is no DNS SAN; Python, Go, rustls and browsers do not"),
    ("ca_used_as_leaf", "OpenSSL accepts a trusted CA certificate as its own end entity; rustls and Go refuse it"),
    ("self_issued", "OpenSSL does not count a self-issued CA against a path length (RFC 5280); rustls and Go do"),
];

#[test]
fn openssl_verify_agrees() {
    for f in fixtures() {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "verify",
            "-attime",
            "1780272000",
            "-purpose",
            "sslserver",
            "-auth_level",
            "2",
            "-CAfile",
            &f.file("ca.pem"),
        ]);
        if f.has("rest.pem") {
            cmd.args(["-untrusted", &f.file("rest.pem")]);
        }
        if f.name == "intermediate_anchor" {
            // The anchor is an intermediate: OpenSSL wants a self-signed one unless told (curl tells it).
            cmd.arg("-partial_chain");
        }
        if f.verify_name.parse::<std::net::IpAddr>().is_ok() {
            cmd.args(["-verify_ip", &f.verify_name]);
        } else {
            cmd.args(["-verify_hostname", &f.verify_name]);
        }
        let out = cmd.arg(f.file("leaf.pem")).output().unwrap();
        let openssl_accepts = out.status.success();
        let we_accept = f.status_with_ca != "fail";
        match STRICTER_THAN_OPENSSL.iter().find(|(n, _)| *n == f.name) {
            Some((_, why)) => assert!(
                openssl_accepts && !we_accept,
                "{}: expected the known difference ({why})",
                f.name
            ),
            None => assert_eq!(
                openssl_accepts,
                we_accept,
                "{}: openssl says {}{}",
                f.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

#[test]
fn every_trust_code_has_a_fixture() {
    let all = fixtures();
    let seen: Vec<&str> = all
        .iter()
        .flat_map(|f| [f.with_ca.as_str(), f.without_ca.as_str()])
        .collect();
    for code in [
        "ok",
        "expired",
        "not_yet_valid",
        "name_mismatch",
        "no_subject_alt_name",
        "unknown_issuer",
        "self_signed",
        "incomplete_chain",
        "ca_used_as_leaf",
        "missing_server_auth_eku",
        "weak_signature",
        "weak_key",
        "bad_signature",
        "expiring_soon",
        "chain_out_of_order",
        "unrelated_certificate",
        "long_validity",
        "path_length_exceeded",
        "issuer_not_ca",
        "name_constraint_violation",
        "unknown_critical_extension",
        "malformed_extension",
        "duplicate_extension",
        "empty_eku",
        "not_v3",
        "chain_loop",
        "self_issued_intermediate",
    ] {
        assert!(seen.contains(&code), "no fixture produces {code}");
    }
}

fn fixture(name: &str) -> Fixture {
    fixtures().into_iter().find(|f| f.name == name).unwrap()
}

fn custom(r: &Value) -> (String, String) {
    let c = check(r, "trust.custom");
    (
        c["summary"].as_str().unwrap().to_string(),
        c["fix"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn explanations_name_the_certificate_the_name_and_the_date() {
    let (_, r) = verify(&fixture("expired"), true);
    let (summary, _) = custom(&r);
    assert!(
        summary.contains("CN=fixture.preflight.test")
            && summary.contains("expired on 2026-03-01 (92 days ago"),
        "{summary}"
    );

    let (_, r) = verify(&fixture("not_yet_valid"), true);
    let (summary, fix) = custom(&r);
    assert!(
        summary.contains("valid only from 2026-09-01") && summary.contains("in 92 days"),
        "{summary}"
    );
    assert!(
        summary.contains("the time --at gave") && !fix.contains("NTP"),
        "{summary} {fix}"
    );

    let (_, r) = verify(&fixture("name_mismatch"), true);
    let (summary, _) = custom(&r);
    assert!(
        summary.contains("not valid for fixture.preflight.test")
            && summary.contains("DNS:other.preflight.test"),
        "{summary}"
    );

    let (_, r) = verify(&fixture("no_ip_san"), true);
    let (summary, fix) = custom(&r);
    assert!(
        summary.contains("connected by address 127.0.0.1") && summary.contains("no IP SAN"),
        "{summary}"
    );
    assert!(
        fix.contains("connect by name") && fix.contains("IP:127.0.0.1"),
        "{fix}"
    );

    let (_, r) = verify(&fixture("cn_only"), true);
    let (summary, _) = custom(&r);
    assert!(
        summary.contains("no subjectAltName") && summary.contains("ignore"),
        "{summary}"
    );

    let (_, r) = verify(&fixture("incomplete_chain"), true);
    let (summary, fix) = custom(&r);
    assert!(
        summary.contains("Preflight Fixture Issuing CA")
            && summary.contains("http://pki.preflight.test/issuing-ca.crt"),
        "{summary}"
    );
    assert!(
        fix.contains("ssl_certificate") && fix.contains("append"),
        "{fix}"
    );

    let (_, r) = verify(&fixture("ca_used_as_leaf"), true);
    let (summary, fix) = custom(&r);
    assert!(summary.contains("CA:TRUE"), "{summary}");
    assert!(fix.contains("basicConstraints=critical,CA:FALSE"), "{fix}");

    let (_, r) = verify(&fixture("unknown_issuer"), true);
    let (_, fix) = custom(&r);
    assert!(
        fix.contains("Your --ca holds") && fix.contains("Some Other Root CA"),
        "{fix}"
    );

    let (_, r) = verify(&fixture("path_too_long"), true);
    let (summary, fix) = custom(&r);
    assert!(
        summary.contains("CN=Preflight Fixture Issuing CA allows 0 CA")
            && summary.contains("CN=Preflight Fixture Sub CA"),
        "{summary}"
    );
    assert!(fix.contains("pathLenConstraint"), "{fix}");

    let (_, r) = verify(&fixture("weak_signature"), true);
    assert!(custom(&r).0.contains("ecdsa-with-SHA1"));
    let (_, r) = verify(&fixture("weak_key"), true);
    assert!(custom(&r).0.contains("RSA key of 1024 bits"));
}

#[test]
fn product_aware_first_fixes() {
    // Prisma: trust the Console CA, not the leaf.
    let f = fixture("prisma_console");
    let out = preflight()
        .args([
            "verify",
            "--chain",
            &f.file("chain.pem"),
            "--name",
            &f.verify_name,
            "--at",
            &f.at,
            "--product",
            "prisma",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("fail".into(), "unknown_issuer".into())
    );
    let first = r["first_fix"].as_str().unwrap();
    assert!(
        first.contains("Console CA") && first.contains("/api/v1/certs/ca.pem"),
        "{first}"
    );
    assert!(
        first.contains(r["certificates"][1]["sha256"].as_str().unwrap()),
        "the fix names the CA's fingerprint: {first}"
    );

    // CloudVision: the node's /etc/nginx/cvp.crt.
    let f = fixture("self_signed");
    let out = preflight()
        .args([
            "verify",
            "--chain",
            &f.file("chain.pem"),
            "--name",
            &f.verify_name,
            "--at",
            &f.at,
            "--product",
            "cvp",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = r["first_fix"].as_str().unwrap();
    assert!(
        first.contains("/etc/nginx/cvp.crt")
            && first.contains(r["certificates"][0]["sha256"].as_str().unwrap()),
        "{first}"
    );
}

#[test]
fn pins() {
    let f = fixture("self_signed");
    let (_, r) = verify(&f, false);
    let sha = r["certificates"][0]["sha256"].as_str().unwrap().to_string();
    let run = |pin: &str| {
        let out = preflight()
            .args([
                "verify",
                "--chain",
                &f.file("chain.pem"),
                "--name",
                &f.verify_name,
                "--at",
                &f.at,
                "--format",
                "json",
                "--pin-sha256",
                pin,
            ])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&sha.to_lowercase().replace(':', ""));
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome(&r, "trust.pin"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("info".into(), "self_signed".into())
    );
    assert_eq!(code, 0);
    let (code, out, _) = run(&"AB".repeat(32));
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        outcome(&r, "trust.pin"),
        ("fail".into(), "pin_mismatch".into())
    );
    assert!(check(&r, "trust.pin")["summary"]
        .as_str()
        .unwrap()
        .contains(&sha));
    assert_eq!(code, 1);
    let (code, _, err) = run("abcd");
    assert_eq!(code, 2);
    assert!(err.contains("--pin-sha256 `abcd`"), "{err}");
}

#[test]
fn ca_files_dirs_der_and_bad_input() {
    let f = fixture("good");
    let dir = tempfile::tempdir().unwrap();
    // A folder of CA files, and a DER file, both work.
    std::fs::copy(f.file("ca.pem"), dir.path().join("root.crt")).unwrap();
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in", &f.file("ca.pem")])
        .output()
        .unwrap()
        .stdout;
    let der_path = dir.path().join("root.der");
    std::fs::write(&der_path, der).unwrap();
    for ca in [dir.path().to_str().unwrap(), der_path.to_str().unwrap()] {
        let out = preflight()
            .args([
                "verify",
                "--chain",
                &f.file("chain.pem"),
                "--name",
                &f.verify_name,
                "--at",
                &f.at,
                "--format",
                "json",
                "--ca",
                ca,
            ])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            outcome(&r, "trust.custom"),
            ("pass".into(), "ok".into()),
            "{ca}"
        );
        let files = &check(&r, "trust.custom")["facts"]["files"];
        assert!(
            files[0]["certificates"][0]["subject"]
                .as_str()
                .unwrap()
                .contains("Preflight Fixture Root CA"),
            "{files:#}"
        );
    }
    // Unreadable, empty, and certificate-less files are usage errors that name the file.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let key_only = f.file("key.pem");
    for (ca, want) in [
        (
            dir.path().join("missing.pem").to_str().unwrap().to_string(),
            "cannot read it",
        ),
        (empty.to_str().unwrap().to_string(), "no certificate"),
        (key_only.clone(), "no certificate"),
    ] {
        let out = preflight()
            .args(["verify", "--chain", &f.file("chain.pem"), "--ca", &ca])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{ca}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&ca) && err.contains(want), "{err}");
        assert!(
            !err.contains("PRIVATE KEY"),
            "a key file's content is never echoed"
        );
    }
    let out = preflight()
        .args(["verify", "--chain", "/nonexistent/chain.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chain /nonexistent/chain.pem"));
}

#[test]
fn verify_without_a_name_does_not_check_names() {
    let f = fixture("name_mismatch");
    let out = preflight()
        .args([
            "verify",
            "--chain",
            &f.file("chain.pem"),
            "--ca",
            &f.file("ca.pem"),
            "--at",
            &f.at,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    assert!(check(&r, "trust.custom")["facts"]["name"].is_null());
}

#[test]
fn chain_prints_and_saves_what_the_server_sends() {
    let f = fixture("good");
    let server = serve(&f);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("chain.pem");
    let out = preflight()
        .args(["chain", &server.target(), "--save", saved.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let leaf_fp = openssl_fingerprint(Path::new(&f.file("leaf.pem")));
    // What OpenSSL 3 prints, word for word.
    let printed = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            &f.file("leaf.pem"),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(
        text.contains(&format!("must print {}", printed.trim())) && printed.contains(&leaf_fp),
        "{text}"
    );
    assert!(text.contains("openssl x509 -noout -fingerprint -sha256 -in"));
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(
        saved_text.trim(),
        std::fs::read_to_string(f.file("chain.pem")).unwrap().trim()
    );
    // The printed PEM is the same chain: a replay with verify gives the same verdict.
    let out = preflight()
        .args([
            "verify",
            "--chain",
            saved.to_str().unwrap(),
            "--ca",
            &f.file("ca.pem"),
            "--name",
            &f.verify_name,
            "--at",
            &f.at,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    // Nothing to show from a port that refuses: exit 1 and the reason on stderr.
    let out = preflight()
        .args([
            "chain",
            &format!("127.0.0.1:{}", closed_port()),
            "--no-alt-ports",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp_refused"));
}

#[test]
fn clients_get_one_line_each() {
    let f = fixture("self_signed");
    let server = serve(&f);
    let ca = f.file("ca.pem");
    let (_, r) = check_json(&[&server.target(), "--product", "cvp", "--ca", &ca]);
    let clients = r["clients"].as_array().unwrap();
    let requests = clients
        .iter()
        .find(|c| c["client"] == "Python requests")
        .unwrap();
    assert_eq!(requests["works"], false);
    assert!(
        requests["make_it_work"]
            .as_str()
            .unwrap()
            .contains(&format!("verify=\"{ca}\"")),
        "{requests:#}"
    );
    // s_server negotiates no ALPN: gRPC cannot work, whatever the trust.
    let grpc = clients
        .iter()
        .find(|c| c["client"] == "Python grpcio")
        .unwrap();
    assert_eq!(grpc["works"], false);
    assert!(grpc["note"].as_str().unwrap().contains("h2"), "{grpc:#}");
    let curl = clients.iter().find(|c| c["client"] == "curl").unwrap();
    assert!(curl["make_it_work"]
        .as_str()
        .unwrap()
        .starts_with(&format!("curl --cacert {ca} https://127.0.0.1:")));
}

/// A CA or leaf made here with rcgen, valid around [`ISSUED_AT`].
fn made(
    cn: &str,
    ca: Option<rcgen::BasicConstraints>,
    tweak: impl FnOnce(&mut rcgen::CertificateParams),
) -> (rcgen::CertificateParams, rcgen::KeyPair) {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.not_before = ISSUED_AT - time::Duration::days(1);
    p.not_after = ISSUED_AT + time::Duration::days(365);
    match ca {
        Some(bc) => {
            p.is_ca = rcgen::IsCa::Ca(bc);
            p.key_usages = vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::DigitalSignature,
            ];
        }
        None => {
            p.is_ca = rcgen::IsCa::ExplicitNoCa;
            p.subject_alt_names = vec![rcgen::SanType::DnsName(cn.try_into().unwrap())];
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        }
    }
    tweak(&mut p);
    (p, rcgen::KeyPair::generate().unwrap())
}

/// `verify` of `chain` (PEMs, leaf first) for `name`, trusting `root`: the code of trust.custom.
fn custom_code(dir: &Path, chain: &[String], root: &str, name: &str) -> (String, String) {
    let chain_file = dir.join(format!("{name}-chain.pem"));
    let root_file = dir.join(format!("{name}-root.pem"));
    std::fs::write(&chain_file, chain.concat()).unwrap();
    std::fs::write(&root_file, root).unwrap();
    let out = preflight()
        .args(["verify", "--chain"])
        .arg(&chain_file)
        .args(["--name", name, "--at", JUDGE_AT, "--format", "json", "--ca"])
        .arg(&root_file)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = check(&r, "trust.custom");
    (
        c["code"].as_str().unwrap().to_string(),
        c["summary"].as_str().unwrap().to_string(),
    )
}

/// Causes that had only `other`: each now has its own code, named in the summary.
#[test]
fn path_length_issuer_not_ca_name_constraints_and_critical_extensions_have_their_codes() {
    use rcgen::{BasicConstraints, Issuer};
    let dir = tempfile::tempdir().unwrap();

    // pathLenConstraint 0 on an intermediate, yet another intermediate below it (webpki reads no
    // constraint of a trust anchor).
    let (rp, rk) = made(
        "PathLen Root",
        Some(BasicConstraints::Unconstrained),
        |_| {},
    );
    let root = rp.self_signed(&rk).unwrap().pem();
    let root_issuer = Issuer::new(rp, rk);
    let (ap, ak) = made(
        "PathLen Policy CA",
        Some(BasicConstraints::Constrained(0)),
        |_| {},
    );
    let policy = ap.signed_by(&ak, &root_issuer).unwrap().pem();
    let (ip, ik) = made(
        "PathLen Issuing CA",
        Some(BasicConstraints::Unconstrained),
        |_| {},
    );
    let int = ip.signed_by(&ik, &Issuer::new(ap, ak)).unwrap().pem();
    let (lp, lk) = made("pathlen.preflight.test", None, |_| {});
    let leaf = lp.signed_by(&lk, &Issuer::new(ip, ik)).unwrap().pem();
    let chain = [leaf, int, policy];
    let (code, summary) = custom_code(dir.path(), &chain, &root, "pathlen.preflight.test");
    assert_eq!(code, "path_length_exceeded", "{summary}");
    assert!(summary.contains("PathLen Policy CA"), "{summary}");

    // A leaf certificate used to sign the server's.
    let (rp, rk) = made("NotCa Root", Some(BasicConstraints::Unconstrained), |_| {});
    let root = rp.self_signed(&rk).unwrap().pem();
    let root_issuer = Issuer::new(rp, rk);
    let (fp, fk) = made("notca-signer.preflight.test", None, |_| {});
    let fake = fp.signed_by(&fk, &root_issuer).unwrap().pem();
    let (lp, lk) = made("notca.preflight.test", None, |_| {});
    let leaf = lp.signed_by(&lk, &Issuer::new(fp, fk)).unwrap().pem();
    let (code, summary) = custom_code(dir.path(), &[leaf, fake], &root, "notca.preflight.test");
    assert_eq!(code, "issuer_not_ca", "{summary}");
    assert!(summary.contains("notca-signer.preflight.test"), "{summary}");

    // A root whose name constraints permit only another domain.
    let (rp, rk) = made(
        "Constrained Root",
        Some(BasicConstraints::Unconstrained),
        |p| {
            p.name_constraints = Some(rcgen::NameConstraints {
                permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("allowed.test".into())],
                excluded_subtrees: vec![],
            });
        },
    );
    let root = rp.self_signed(&rk).unwrap().pem();
    let (lp, lk) = made("server.forbidden.test", None, |_| {});
    let leaf = lp.signed_by(&lk, &Issuer::new(rp, rk)).unwrap().pem();
    let (code, summary) = custom_code(dir.path(), &[leaf], &root, "server.forbidden.test");
    assert_eq!(code, "name_constraint_violation", "{summary}");
    assert!(summary.contains("server.forbidden.test"), "{summary}");

    // A leaf with a private extension marked critical.
    let (rp, rk) = made(
        "Critical Root",
        Some(BasicConstraints::Unconstrained),
        |_| {},
    );
    let root = rp.self_signed(&rk).unwrap().pem();
    let (lp, lk) = made("critical.preflight.test", None, |p| {
        let mut ext =
            rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 7, 7], vec![5, 0]);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    let leaf = lp.signed_by(&lk, &Issuer::new(rp, rk)).unwrap().pem();
    let (code, summary) = custom_code(dir.path(), &[leaf], &root, "critical.preflight.test");
    assert_eq!(code, "unknown_critical_extension", "{summary}");
    assert!(summary.contains("1.3.6.1.4.1.55555.7.7"), "{summary}");
}

/// A self-signed server certificate whose name an anchor also has, with another key (Debian's snakeoil
/// `CN=localhost` in the system store; a stale copy in `--ca`): self-signed and not trusted, with the
/// colliding anchor named, not a bad signature.
#[test]
fn an_anchor_with_the_same_name_and_another_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (held, held_key) = made("localhost", None, |_| {});
    let held = held.self_signed(&held_key).unwrap().pem();
    let (served, served_key) = made("localhost", None, |_| {});
    let served = served.self_signed(&served_key).unwrap().pem();
    let (code, summary) = custom_code(dir.path(), &[served], &held, "localhost");
    assert_eq!(code, "self_signed", "{summary}");
    assert!(summary.contains("same name (CN=localhost)"), "{summary}");
}

/// Words a ticket reads: an expiry earlier the same day is not "today ago"; one certificate is singular.
#[test]
fn an_expiry_the_same_day_and_one_certificate_read_right() {
    let f = fixture("expired");
    let out = preflight()
        .args(["verify", "--chain"])
        .arg(f.dir.join("chain.pem"))
        .args([
            "--name",
            "fixture.preflight.test",
            "--at",
            "2026-03-01T06:00:00Z",
        ])
        .args(["--format", "json", "--ca"])
        .arg(f.dir.join("ca.pem"))
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = check(&r, "trust.custom")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(summary.contains("(earlier that day;"), "{summary}");
    assert!(!summary.contains("today ago"), "{summary}");
}

/// (summary, fix, the codes of every defect listed) of `trust.custom` for a fixture, offline.
fn defects_of(name: &str) -> (String, String, Vec<String>) {
    let (_, r) = verify(&fixture(name), true);
    let c = check(&r, "trust.custom");
    let codes = c["facts"]["defects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let (summary, fix) = custom(&r);
    (summary, fix, codes)
}

#[test]
fn every_defect_at_once_with_the_fix_that_fits() {
    // Expired and for another name: both, each with its fix, so a renewal does not fail again on the name.
    let (summary, fix, codes) = defects_of("expired_wrong_name");
    assert_eq!(codes, ["expired", "name_mismatch"], "{summary}");
    assert!(
        summary.contains("expired on 2026-03-01")
            && summary.contains("not valid for fixture.preflight.test"),
        "{summary}"
    );
    assert!(
        fix.starts_with("Fix all 2: 1. Renew")
            && fix.contains("renew it for the name clients ask for (`DNS:fixture.preflight.test` in subjectAltName)")
            && fix.contains("2. Connect with a name the certificate lists, or reissue it with `DNS:fixture.preflight.test`"),
        "{fix}"
    );

    // A CA first, the server's own certificate second: both defects of what it presents, then what it also
    // sent; never "regenerate" a certificate that exists.
    let (summary, fix, codes) = defects_of("ca_first");
    assert_eq!(codes, ["ca_used_as_leaf", "name_mismatch"], "{summary}");
    assert!(
        summary.contains("CN=Preflight Fixture Device CA")
            && summary.contains("the certificate for fixture.preflight.test is sent second (#1 CN=fixture.preflight.test)"),
        "{summary}"
    );
    assert!(
        fix.contains("configure it, with its own key, as the server's certificate (first in the file `ssl_certificate` names")
            && !fix.to_lowercase().contains("regenerate")
            && !fix.contains("openssl req"),
        "{fix}"
    );

    // A loop the server sent is not "neither sent by the server".
    let (summary, fix, _) = defects_of("chain_loop");
    assert!(
        summary.contains("issue each other in a circle")
            && summary.contains("CN=Preflight Fixture Loop CA A")
            && !summary.contains("neither sent"),
        "{summary}"
    );
    assert!(
        fix.contains("not both halves of a cross-signature"),
        "{fix}"
    );

    // A weak root, a CA re-keyed under its own name: never "was the CA regenerated?".
    for (name, words) in [
        (
            "weak_root",
            "CN=Preflight Fixture Weak Root CA in your --ca has an RSA key of 1024 bits",
        ),
        (
            "self_issued",
            "is self-issued: the CA CN=Preflight Fixture Rekeyed CA re-keyed under the same name",
        ),
        ("v1_ca", "is an X.509 v1 certificate used as a CA"),
        (
            "duplicate_extension",
            "carries the extension subjectAltName twice",
        ),
        ("malformed_san", "has a malformed subjectAltName"),
        ("critical_extension", "1.3.6.1.4.1.55555.1"),
    ] {
        let (summary, fix, _) = defects_of(name);
        assert!(summary.contains(words), "{name}: {summary}");
        assert!(
            !summary.contains("regenerated") && !fix.contains("regenerated"),
            "{name}: {summary} / {fix}"
        );
    }
}

#[test]
fn an_intermediate_as_the_anchor_does_not_make_the_root_a_stray() {
    let (_, r) = verify(&fixture("intermediate_anchor"), true);
    let c = check(&r, "trust.custom");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        !c["summary"].as_str().unwrap().contains("do not belong"),
        "{c:#}"
    );
}

#[test]
fn no_sentence_has_a_blank_a_double_word_or_a_library_name() {
    for f in fixtures() {
        for with_ca in [true, false] {
            let (_, r) = verify(&f, with_ca);
            for c in r["checks"].as_array().unwrap() {
                for key in ["summary", "fix"] {
                    let text = c[key].as_str().unwrap_or("");
                    for bad in [
                        "certificate certificate",
                        " 1 certificates",
                        ": ,",
                        "()",
                        "Some(",
                        "None",
                        "Error::",
                        "Context(",
                        "  ",
                    ] {
                        assert!(
                            !text.contains(bad),
                            "{} {}: `{bad}` in {text}",
                            f.name,
                            c["id"]
                        );
                    }
                }
            }
        }
    }
}

/// Every command a fix suggests keeps the connection options the user gave: followed literally, it reaches
/// the same server the same way.
#[test]
fn suggested_commands_keep_the_connection_options() {
    let f = fixture("self_signed");
    let server = serve(&f);
    let target = format!("{}:{}", f.verify_name, server.port);
    let resolve = format!("{}:{}:127.0.0.1", f.verify_name, server.port);
    let out = preflight()
        .args([
            "check",
            &target,
            "--resolve",
            &resolve,
            "-4",
            "--tls-timeout",
            "3s",
        ])
        .args(["--no-alt-ports", "--format", "json", "--at", &f.at])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fix = check(&r, "trust.mozilla")["fix"]
        .as_str()
        .unwrap()
        .to_string();
    let flags = format!(" --resolve {resolve} -4 --no-alt-ports --tls-timeout 3s");
    assert!(
        fix.contains(&format!(
            "preflight chain {target}{flags} --save server.crt"
        )),
        "{fix}"
    );
    let flags = format!("{flags} --at {}", f.at);
    assert!(
        fix.contains(&format!(
            "preflight check {target} --product generic{flags} --ca server.crt"
        )),
        "{fix}"
    );
    // And `chain --save` says the same.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("s.pem");
    let out = preflight()
        .args([
            "chain",
            &target,
            "--resolve",
            &resolve,
            "--sni",
            "other.preflight.test",
        ])
        .args(["--save", saved.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "then: preflight check {target} --product auto --resolve {resolve} --sni other.preflight.test --ca {}",
            saved.display()
        )),
        "{text}"
    );
}

/// A private CA passed with --ca: the default stores that do not hold it are information and the run
/// passes; `--require-store` makes the one named fail.
#[test]
fn a_private_ca_setup_passes_unless_a_store_is_required() {
    let f = fixture("good");
    let (code, r) = verify(&f, true);
    assert_eq!((code, r["verdict"].as_str()), (0, Some("pass")), "{r:#}");
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("info".into(), "unknown_issuer".into())
    );
    assert!(r["first_fix"].is_null(), "{r:#}");
    let out = preflight()
        .args([
            "verify",
            "--chain",
            &f.file("chain.pem"),
            "--ca",
            &f.file("ca.pem"),
        ])
        .args(["--name", &f.verify_name, "--at", &f.at, "--format", "json"])
        .args(["--require-store", "mozilla"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{r:#}");
    assert_eq!(
        outcome(&r, "trust.mozilla"),
        ("fail".into(), "unknown_issuer".into())
    );
    assert_eq!(check(&r, "trust.system")["status"], "info", "{r:#}");
}
