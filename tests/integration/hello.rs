//! The raw ClientHello prober (`net::hello`) against `openssl s_server`: an independent server configured for
//! DHE only, static RSA only, TLS 1.0 only, and its defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use preflight::net::hello::{
    offer, suite_name, what_it_accepts, Answer, Offer, Probe, TLS10, TLS12, TLS13,
};
use tokio::net::TcpStream;

use crate::common::{peer, write_self_signed, OpensslServer};

/// Each probe's deadline; the whole test is bounded by [`LIMIT`].
const PROBE: Duration = Duration::from_secs(2);
const LIMIT: Duration = Duration::from_secs(15);

/// An RSA-2048 certificate and key (DHE-RSA and static RSA need an RSA key): (cert, key).
fn rsa_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", "/CN=localhost", "-days", "30"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    (cert, key)
}

/// `s_server` with an RSA certificate and `args`.
fn rsa_server(dir: &Path, args: &[&str]) -> OpensslServer {
    let (cert, key) = rsa_cert(dir);
    let mut all = vec![
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    OpensslServer::start(&all)
}

async fn probe_all(server: &OpensslServer) -> Offer {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let run = what_it_accepts(move || TcpStream::connect(addr), Some("localhost"), PROBE);
    tokio::time::timeout(LIMIT, run)
        .await
        .expect("the probes keep their deadlines")
}

#[tokio::test]
async fn dhe_only_server_accepts_dhe_only() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(
        dir.path(),
        &["-cipher", "DHE-RSA-AES128-GCM-SHA256", "-no_tls1_3"],
    );
    let offer = probe_all(&server).await;
    assert!(offer.dhe, "{offer:#?}");
    assert!(!offer.ecdhe_tls12 && !offer.static_rsa, "{offer:#?}");
    assert_eq!(offer.legacy_only_version, None, "{offer:#?}");
    assert_eq!(offer.suites, ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]);
    // The ECDHE probe is refused with an alert (handshake_failure), not a closed connection.
    assert!(
        matches!(offer.answers[0], (p, Ok(Answer::Refused { .. })) if p == Probe::ECDHE_12),
        "{offer:#?}"
    );
}

#[tokio::test]
async fn static_rsa_only_server_accepts_static_rsa_only() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(dir.path(), &["-cipher", "AES128-GCM-SHA256", "-no_tls1_3"]);
    let offer = probe_all(&server).await;
    assert!(offer.static_rsa, "{offer:#?}");
    assert!(!offer.ecdhe_tls12 && !offer.dhe, "{offer:#?}");
    assert_eq!(offer.legacy_only_version, None, "{offer:#?}");
    assert_eq!(offer.suites, ["TLS_RSA_WITH_AES_128_GCM_SHA256"]);
}

#[tokio::test]
async fn tls10_only_server_is_legacy_only() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(dir.path(), &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let offer = probe_all(&server).await;
    assert_eq!(offer.legacy_only_version, Some(TLS10), "{offer:#?}");
    assert_eq!(offer.legacy_version, Some(TLS10), "{offer:#?}");
    assert!(
        !offer.ecdhe_tls12 && !offer.dhe && !offer.static_rsa,
        "{offer:#?}"
    );
}

#[tokio::test]
async fn default_server_accepts_ecdhe_at_tls12() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_self_signed(dir.path(), "hello.test");
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
    ]);
    let offer = probe_all(&server).await;
    assert!(offer.ecdhe_tls12, "{offer:#?}");
    assert!(!offer.dhe && !offer.static_rsa, "{offer:#?}");
    // OpenSSL 3 refuses TLS 1.0 at its default security level (its MD5-SHA1 handshake signature).
    assert_eq!(offer.legacy_version, None, "{offer:#?}");
}

#[tokio::test]
async fn one_offer_names_the_chosen_suite_and_version() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(
        dir.path(),
        &[
            "-cipher",
            "ECDHE-RSA-AES256-GCM-SHA384",
            "-no_tls1_3",
            "-no_tls1",
            "-no_tls1_1",
        ],
    );
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let answer = offer(stream, Some("localhost"), Probe::ECDHE_12, PROBE).await;
    assert_eq!(
        answer,
        Answer::Accepted {
            version: TLS12,
            suite: 0xC030
        }
    );
    assert_eq!(suite_name(0xC030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    // A TLS 1.0 ClientHello to a TLS 1.2 server: refused with protocol_version (70).
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let answer = offer(stream, None, Probe::LEGACY, PROBE).await;
    assert_eq!(answer, Answer::Refused { alert: 70 });
}

/// `tls.handshake` of `preflight check` against `s_server` with `args`: (code, summary).
fn handshake_of(args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(dir.path(), args);
    let out = crate::common::preflight()
        .args([
            "check",
            &server.target(),
            "--no-alt-ports",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hs = crate::common::check(&r, "tls.handshake");
    (
        hs["code"].as_str().unwrap().to_string(),
        hs["summary"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_server_rustls_cannot_negotiate_with_is_named_by_what_it_offers() {
    if !peer("openssl") {
        return;
    }
    for (ciphers, code, words) in [
        (
            "DHE-RSA-AES128-GCM-SHA256",
            "dhe_only",
            "only TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 (finite-field DHE key exchange) at TLS 1.2; OpenSSL clients (curl, Python) connect; Go, rustls and grpcio cannot",
        ),
        (
            "AES128-GCM-SHA256",
            "static_rsa_only",
            "only TLS_RSA_WITH_AES_128_GCM_SHA256 (RSA key exchange, no forward secrecy)",
        ),
        (
            "ECDHE-RSA-AES128-SHA",
            "cbc_only",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (ECDHE with CBC ciphers, no AES-GCM or ChaCha20) at TLS 1.2; curl and Go connect",
        ),
    ] {
        let (got, summary) = handshake_of(&["-cipher", ciphers, "-no_tls1_3"]);
        assert_eq!(got, code, "{ciphers}: {summary}");
        assert!(summary.contains(words), "{ciphers}: {summary}");
    }
}

async fn enumerate_server(server: &OpensslServer) -> preflight::net::offer::Enumeration {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let run = preflight::net::offer::enumerate(
        move || TcpStream::connect(addr),
        Some("localhost"),
        PROBE,
    );
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the enumeration keeps its deadlines")
}

fn names(suites: &[preflight::net::offer::Suite]) -> Vec<&'static str> {
    suites.iter().map(|s| s.name).collect()
}

#[tokio::test]
async fn enumerates_versions_suites_and_groups_like_a_scanner() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // TLS 1.2 and 1.3, three TLS 1.2 suites of three kinds, a NULL cipher among them, two groups.
    let server = rsa_server(
        dir.path(),
        &[
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:NULL-SHA256:@SECLEVEL=0",
            "-ciphersuites",
            "TLS_AES_256_GCM_SHA384",
            "-groups",
            "P-256:P-384",
            "-min_protocol",
            "TLSv1.2",
        ],
    );
    let e = enumerate_server(&server).await;
    assert_eq!(names(e.at(TLS13)), ["TLS_AES_256_GCM_SHA384"], "{e:#?}");
    let mut tls12 = names(e.at(TLS12));
    tls12.sort();
    assert_eq!(
        tls12,
        [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_256_CBC_SHA",
            "TLS_RSA_WITH_NULL_SHA256"
        ],
        "{e:#?}"
    );
    assert!(e.at(TLS10).is_empty() && e.at(0x0302).is_empty(), "{e:#?}");
    assert_eq!(e.groups, ["secp256r1", "secp384r1"], "{e:#?}");
    assert!(!e.incomplete && e.connections <= 20, "{e:#?}");
}

#[test]
fn check_offer_lists_every_version_and_flags_what_is_weak() {
    if !peer("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = rsa_server(
        dir.path(),
        &[
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:@SECLEVEL=0",
            "-min_protocol",
            "TLSv1",
        ],
    );
    let out = crate::common::preflight()
        .args(["check", &server.target(), "--no-alt-ports", "--offer"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = crate::common::check(&r, "tls.offer");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(c["code"], "legacy_tls_enabled", "{c:#}");
    let v = &c["facts"]["versions"];
    assert_eq!(
        v["TLS 1.0"],
        serde_json::json!(["TLS_RSA_WITH_AES_256_CBC_SHA"]),
        "{c:#}"
    );
    assert_eq!(v["TLS 1.3"].as_array().unwrap().len(), 3, "{c:#}");
    let codes: Vec<&str> = c["facts"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["legacy_tls_enabled", "no_forward_secrecy"], "{c:#}");
    // The check lists it right after the handshake; without --offer there is no such check.
    let ids: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let at = ids.iter().position(|i| *i == "tls.handshake").unwrap();
    assert_eq!(ids[at + 1], "tls.offer", "{ids:?}");
}
