//! Real TLS clients against `openssl s_server`: Python `requests` (certifi's roots), Python `ssl` (the system
//! store), `grpcio` (its bundled roots; it also needs ALPN h2), curl and Go's crypto/tls (the system store),
//! each run as its own program (`tests/clients/`), with its default trust and with the CA a user would pass.
//! [`try_client`] runs one of them; [`serve`] starts a server with one of the usual certificate mistakes;
//! `real_clients_matrix` runs every installed client on every scenario and writes what each really did to
//! `target/real_clients_matrix.json`, the ground truth for the "which clients will work" advice.
//!
//! Every server is `s_server -www -alpn h2,http/1.1` (except `no_alpn_h2`): with `-alpn h2` alone s_server
//! refuses a client that offers only `http/1.1` (requests does) with a `no_application_protocol` alert, and a
//! client that negotiates h2 gets HTTP/1.0 text. So curl runs with `--http1.1`, and grpcio's verdict is its
//! security handshake (TLS, the peer check, ALPN h2), not a READY channel (see `tests/clients/probe.py`).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration as StdDuration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{json, Map, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::common::*;

/// A real TLS client, run as its own program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RealClient {
    /// Python `requests` (certifi's roots by default).
    Requests,
    /// Python's `ssl.create_default_context()` (OpenSSL's system store by default).
    PythonSsl,
    /// Python `grpcio` (BoringSSL, its bundled roots by default; needs ALPN h2).
    Grpcio,
    /// curl (OpenSSL, the system store by default), over HTTP/1.1.
    Curl,
    /// Go's crypto/tls (the system roots by default).
    Go,
}

impl RealClient {
    pub(crate) const ALL: [RealClient; 5] = [
        RealClient::Requests,
        RealClient::PythonSsl,
        RealClient::Grpcio,
        RealClient::Curl,
        RealClient::Go,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            RealClient::Requests => "requests",
            RealClient::PythonSsl => "python-ssl",
            RealClient::Grpcio => "grpcio",
            RealClient::Curl => "curl",
            RealClient::Go => "go",
        }
    }

    /// Whether the client is here; when it is not, says so once on stderr (and fails the test under
    /// `PREFLIGHT_REQUIRE_PEERS=1`), as [`peer`] does.
    pub(crate) fn installed(self) -> bool {
        static HERE: [OnceLock<bool>; 5] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        *HERE[self as usize].get_or_init(|| match self {
            RealClient::Requests => python() && python_module("requests", "requests"),
            RealClient::PythonSsl => python() && python_module("ssl", "python3 with ssl"),
            RealClient::Grpcio => python() && python_module("grpc", "grpcio"),
            RealClient::Curl => peer("curl"),
            RealClient::Go => peer("go"),
        })
    }
}

/// What a client did: connected (and got an HTTP answer, or for grpcio passed its security handshake and
/// stayed connected), or its own error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) works: bool,
    pub(crate) said: String,
}

/// Each client's own timeout (connection, handshake, answer).
const TIMEOUT_SECS: u64 = 5;

/// Runs client `c` against `host:port` as `name` (the name in the URL, in SNI and verified), trusting only `ca`
/// when given (else its default trust), presenting `identity` (certificate, key) when given. `None` when the
/// client is not installed (and `PREFLIGHT_REQUIRE_PEERS` is not 1).
pub(crate) fn try_client(
    c: RealClient,
    host: &str,
    port: u16,
    name: &str,
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Option<Seen> {
    try_client_env(c, (host, port, name), ca, identity, &[])
}

/// [`try_client`] with variables set in the client's environment (`REQUESTS_CA_BUNDLE`, ...), as a user's
/// shell would have them. curl runs without them.
pub(crate) fn try_client_env(
    c: RealClient,
    (host, port, name): (&str, u16, &str),
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    env: &[(&str, &Path)],
) -> Option<Seen> {
    if !c.installed() {
        return None;
    }
    let port = port.to_string();
    let mut cmd = match c {
        RealClient::Requests | RealClient::PythonSsl | RealClient::Grpcio => {
            let mode = match c {
                RealClient::Requests => "requests",
                RealClient::PythonSsl => "ssl",
                _ => "grpcio",
            };
            let mut cmd = Command::new("python3");
            cmd.arg(clients_dir().join("probe.py")).args([
                mode,
                host,
                &port,
                name,
                "--timeout",
                &TIMEOUT_SECS.to_string(),
            ]);
            if let Some(ca) = ca {
                cmd.arg("--ca").arg(ca);
            }
            if let Some((cert, key)) = identity {
                cmd.arg("--cert").arg(cert).arg("--key").arg(key);
            }
            cmd
        }
        RealClient::Go => {
            let mut cmd = Command::new(go_probe());
            cmd.args([host, &port, name, "-timeout", &format!("{TIMEOUT_SECS}s")]);
            if let Some(ca) = ca {
                cmd.arg("-ca").arg(ca);
            }
            if let Some((cert, key)) = identity {
                cmd.arg("-cert").arg(cert).arg("-key").arg(key);
            }
            cmd
        }
        RealClient::Curl => return Some(curl(host, &port, name, ca, identity)),
    };
    hermetic(&mut cmd);
    cmd.envs(env.iter().map(|(k, v)| (*k, *v)));
    let out = output_within(
        &mut cmd,
        None,
        StdDuration::from_secs(3 * TIMEOUT_SECS + 15),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the {} probe failed (a harness bug): {stdout}{stderr}",
        c.name()
    );
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "the {} probe printed no JSON ({e}): {stdout}{stderr}",
            c.name()
        )
    });
    Some(Seen {
        works: v["works"].as_bool().unwrap(),
        said: v["said"].as_str().unwrap().to_string(),
    })
}

/// `curl -sS --http1.1 --resolve NAME:PORT:HOST https://NAME:PORT/`: works when curl succeeds or any HTTP
/// status came back.
fn curl(
    host: &str,
    port: &str,
    name: &str,
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Seen {
    let mut cmd = Command::new("curl");
    // -q first: no ~/.curlrc. HTTP/1.1: s_server -www speaks no HTTP/2 (it would negotiate h2 with curl).
    cmd.args([
        "-q",
        "-sS",
        "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ])
    .args(["--max-time", &TIMEOUT_SECS.to_string()])
    .args(["--resolve", &format!("{name}:{port}:{host}")])
    .arg(format!("https://{}:{port}/", bracket(name)));
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    if let Some((cert, key)) = identity {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    hermetic(&mut cmd);
    let out = output_within(&mut cmd, None, StdDuration::from_secs(TIMEOUT_SECS + 15));
    let status: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let works = out.status.success() || status != 0;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = match stderr.lines().find(|l| !l.trim().is_empty()) {
        _ if works => "ok".to_string(),
        Some(line) => line.trim().to_string(),
        None => format!("curl exited with {}", out.status),
    };
    Seen { works, said }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Default trust must mean the machine's stores, whatever the environment running the tests points at, and
/// no proxy may route the clients.
fn hermetic(cmd: &mut Command) {
    for var in preflight::net::proxy::PROXY_VARS {
        cmd.env_remove(var);
    }
    for var in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "GRPC_TRACE",
        "GRPC_VERBOSITY",
        "GODEBUG",
        "OPENSSL_CONF",
    ] {
        cmd.env_remove(var);
    }
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// `target/`: `CARGO_TARGET_TMPDIR` is its `tmp` folder.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn python() -> bool {
    static HERE: OnceLock<bool> = OnceLock::new();
    *HERE.get_or_init(|| peer("python3"))
}

/// Like [`peer`], for a Python module: whether `python3 -c "import MODULE"` works; if not, says so on stderr
/// and passes, or fails under `PREFLIGHT_REQUIRE_PEERS=1`.
pub(crate) fn python_module(module: &str, package: &str) -> bool {
    let here = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !here {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_PEERS").is_none_or(|v| v != "1"),
            "PREFLIGHT_REQUIRE_PEERS=1 but the Python module `{module}` is not installed"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the Python module `{module}` is not installed (pip install {package})"
        );
    }
    here
}

/// Go's environment for the tests: a cache under the target folder, this toolchain only, nothing downloaded.
pub(crate) fn go_env() -> Vec<(&'static str, std::ffi::OsString)> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_clients");
    vec![
        ("GOCACHE", dir.join("go-cache").into_os_string()),
        ("GOPATH", dir.join("go-path").into_os_string()),
        ("GOTOOLCHAIN", "local".into()),
        ("GOPROXY", "off".into()),
        ("GOFLAGS", "".into()),
        ("GOWORK", "off".into()),
    ]
}

/// `tests/clients/probe.go`, built once per test run (the first build, with an empty cache, takes ~25 s on two
/// cores; then well under a second). Standard library only: nothing is downloaded.
fn go_probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_clients");
        std::fs::create_dir_all(&dir).unwrap();
        let built = dir.join(format!("go-probe.{}", std::process::id()));
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&built)
            .arg("probe.go")
            .current_dir(clients_dir())
            .envs(go_env())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "go build tests/clients/probe.go: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Renamed into place: another test run building at the same time never sees half a binary.
        let probe = dir.join("go-probe");
        std::fs::rename(&built, &probe).unwrap();
        probe
    })
}

/// A server with one of the usual certificate mistakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// A self-signed CA:FALSE server certificate (SANs: its name, localhost, 127.0.0.1, ::1); by address.
    SelfSigned,
    /// A leaf signed by a private root; the server sends the leaf only.
    PrivateCa,
    /// Root → intermediate → leaf; the server sends only the leaf.
    MissingIntermediate,
    /// A self-signed CA:TRUE certificate as the server's own (what `openssl req -x509` makes by default).
    CaLeaf,
    /// A leaf with CN=localhost and no subjectAltName, by name.
    CnOnly,
    /// A leaf with only DNS:localhost, by address (127.0.0.1).
    IpWithoutIpSan,
    /// An RSA-1024 leaf signed by an RSA-2048 root (made by `openssl`; served at SECLEVEL=1).
    Rsa1024,
    /// A leaf signed with sha1WithRSAEncryption by an RSA-2048 root (made by `openssl`; SECLEVEL=0).
    Sha1,
    /// `-Verify 1`: a client certificate from another private CA is required ([`Served::identity`]).
    ClientCertRequired,
    /// [`Case::PrivateCa`] without `-alpn`: no ALPN is negotiated.
    NoAlpnH2,
    /// [`Case::PrivateCa`] with `-alpn h2,http/1.1`, the control for [`Case::NoAlpnH2`].
    AlpnH2,
    /// The root expired (2024-01-01 → 2025-01-01); the leaf it signed is valid until 2034.
    ExpiredRoot,
    /// An RSA-2048 leaf signed by an RSA-2048 root (made by `openssl`), TLS 1.2 at most, with only the
    /// ephemeral finite-field Diffie-Hellman suites `DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384`.
    DheOnly,
    /// As [`Case::DheOnly`], with only the static RSA key exchange suites
    /// `AES128-GCM-SHA256:AES256-GCM-SHA384`.
    StaticRsaOnly,
    /// As [`Case::DheOnly`], with TLS 1.0 only (`-tls1`, at SECLEVEL=0, where OpenSSL 3 allows it). s_server
    /// picks ECDHE-RSA-AES256-SHA, whose key exchange TLS 1.0 signs with MD5+SHA-1: curl, which still offers
    /// TLS 1.0, refuses that signature (`legacy sigalg disallowed`); it would take a static RSA suite.
    Tls10Only,
    /// A leaf signed by a root that carries an extension no client knows, marked critical.
    RootCriticalExtension,
    /// A leaf with a 70 KB non-critical extension: the Certificate message is over 64 KB.
    HugeCertificate,
    /// A leaf whose only SAN is a DNS name spelling the address (`DNS:127.0.0.1`), by address.
    IpInDnsSan,
    /// Root → intermediate (pathlen 0) → sub-CA → leaf; the server sends leaf, sub-CA, intermediate.
    PathTooLong,
    /// Root → intermediate (pathlen 0, old key) → the same CA re-keyed (same name, new key, signed by the
    /// old one: self-issued) → leaf; the server sends leaf, link, old intermediate. RFC 5280 does not count
    /// the self-issued link against the path length.
    SelfIssued,
    /// Root → a CA:FALSE certificate → leaf; the server sends leaf and the non-CA.
    IssuerNotCa,
    /// Root → intermediate permitted only `example.net` (name constraints) → leaf for localhost.
    NameConstraints,
    /// A leaf for clientAuth only.
    ClientAuthOnly,
    /// A leaf whose extended key usage extension is an empty SEQUENCE.
    EmptyEku,
    /// A leaf with its subjectAltName extension twice.
    DuplicateSan,
    /// An RSA-2048 leaf signed by an RSA-1024 root (made by `openssl`; SECLEVEL=0).
    WeakRoot,
    /// As [`Case::DheOnly`], with only ECDHE and CBC ciphers with SHA-1 MACs
    /// (`ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA`).
    CbcOnly,
    /// As [`Case::CbcOnly`], with SHA-256/384 MACs (`ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384`).
    CbcSha2Only,
}

impl Case {
    pub(crate) const ALL: [Case; 28] = [
        Case::SelfSigned,
        Case::PrivateCa,
        Case::MissingIntermediate,
        Case::CaLeaf,
        Case::CnOnly,
        Case::IpWithoutIpSan,
        Case::Rsa1024,
        Case::Sha1,
        Case::ClientCertRequired,
        Case::NoAlpnH2,
        Case::AlpnH2,
        Case::ExpiredRoot,
        Case::DheOnly,
        Case::StaticRsaOnly,
        Case::Tls10Only,
        Case::RootCriticalExtension,
        Case::HugeCertificate,
        Case::IpInDnsSan,
        Case::PathTooLong,
        Case::SelfIssued,
        Case::IssuerNotCa,
        Case::NameConstraints,
        Case::ClientAuthOnly,
        Case::EmptyEku,
        Case::DuplicateSan,
        Case::WeakRoot,
        Case::CbcOnly,
        Case::CbcSha2Only,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Case::SelfSigned => "self_signed",
            Case::PrivateCa => "private_ca",
            Case::MissingIntermediate => "missing_intermediate",
            Case::CaLeaf => "ca_leaf",
            Case::CnOnly => "cn_only",
            Case::IpWithoutIpSan => "ip_without_ip_san",
            Case::Rsa1024 => "rsa1024",
            Case::Sha1 => "sha1",
            Case::ClientCertRequired => "client_cert_required",
            Case::NoAlpnH2 => "no_alpn_h2",
            Case::AlpnH2 => "alpn_h2",
            Case::ExpiredRoot => "expired_root",
            Case::DheOnly => "dhe_only",
            Case::StaticRsaOnly => "static_rsa_only",
            Case::Tls10Only => "tls10_only",
            Case::RootCriticalExtension => "root_critical_extension",
            Case::HugeCertificate => "huge_certificate",
            Case::IpInDnsSan => "ip_in_dns_san",
            Case::PathTooLong => "path_too_long",
            Case::SelfIssued => "self_issued",
            Case::IssuerNotCa => "issuer_not_ca",
            Case::NameConstraints => "name_constraints",
            Case::ClientAuthOnly => "client_auth_only",
            Case::EmptyEku => "empty_eku",
            Case::DuplicateSan => "duplicate_san",
            Case::WeakRoot => "weak_root",
            Case::CbcOnly => "cbc_only",
            Case::CbcSha2Only => "cbc_sha2_only",
        }
    }
}

/// A running scenario: connect to `127.0.0.1:server.port` as `name`, trusting `ca`.
pub(crate) struct Served {
    pub(crate) server: OpensslServer,
    /// What a user would pass as the CA (the root, or the self-signed certificate itself).
    pub(crate) ca: PathBuf,
    /// The name to connect as (`localhost` or `127.0.0.1`).
    pub(crate) name: &'static str,
    /// The client certificate and key the server accepts, for [`Case::ClientCertRequired`].
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
    _dir: tempfile::TempDir,
}

/// Validity of everything but the expired root: from the day before [`ISSUED_AT`] for ten years. Real clients
/// judge at the real time, so these must be valid now.
fn valid() -> (OffsetDateTime, OffsetDateTime) {
    (
        ISSUED_AT - Duration::days(1),
        ISSUED_AT + Duration::days(3650),
    )
}

const LOOPBACK_SANS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Starts `openssl s_server -www` for `case`, with certificates made now (rcgen at fixed times; `openssl` for
/// the RSA ones, valid from now) in a temporary folder that lives as long as the server.
pub(crate) fn serve(case: Case) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (from, until) = valid();
    let mut name = "localhost";
    let mut identity = None;
    let mut extra: Vec<String> = Vec::new();
    let (cert, key, ca) = match case {
        Case::SelfSigned => {
            name = "127.0.0.1";
            let (cert, key) = write_self_signed(d, "self-signed.real-clients.test");
            (cert.clone(), key, cert)
        }
        Case::CaLeaf => {
            let key = KeyPair::generate().unwrap();
            let mut p = params("ca-leaf.real-clients.test", &LOOPBACK_SANS, from, until);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let cert = p.self_signed(&key).unwrap().pem();
            let cert = write(d, "ca-leaf.pem", &cert);
            (
                cert.clone(),
                write(d, "ca-leaf.key", &key.serialize_pem()),
                cert,
            )
        }
        Case::PrivateCa | Case::NoAlpnH2 | Case::AlpnH2 => {
            let root = Authority::root("Real Clients Root CA", from, until);
            let (cert, key) = root.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::MissingIntermediate => {
            let root = Authority::root("Real Clients Root CA", from, until);
            let issuing = root.intermediate("Real Clients Issuing CA", from, until);
            let (cert, key) = issuing.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::CnOnly => {
            let root = Authority::root("Real Clients Root CA", from, until);
            let (cert, key) = root.leaf(d, "localhost", &[]);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::IpWithoutIpSan => {
            name = "127.0.0.1";
            let root = Authority::root("Real Clients Root CA", from, until);
            let (cert, key) = root.leaf(d, "server", &["localhost"]);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::PathTooLong
        | Case::SelfIssued
        | Case::IssuerNotCa
        | Case::NameConstraints
        | Case::ClientAuthOnly
        | Case::EmptyEku
        | Case::DuplicateSan => {
            let (cert, key, ca, sent) = structural(d, case);
            if !sent.is_empty() {
                let chain = write(d, "sent-chain.pem", &sent.concat());
                extra.extend(["-cert_chain".into(), path_str(&chain)]);
            }
            (cert, key, ca)
        }
        Case::WeakRoot => {
            let (cert, key, ca) = openssl_chain_with(d, "rsa:1024", "rsa:2048", "-sha256");
            extra.extend(["-cipher".into(), "DEFAULT@SECLEVEL=0".into()]);
            (cert, key, ca)
        }
        Case::Rsa1024 => {
            let (cert, key, ca) = openssl_chain(d, "rsa:1024", "-sha256");
            extra.extend(["-cipher".into(), "DEFAULT@SECLEVEL=1".into()]);
            (cert, key, ca)
        }
        Case::Sha1 => {
            let (cert, key, ca) = openssl_chain(d, "rsa:2048", "-sha1");
            // SHA-1 counts as security level 0 in OpenSSL 3.0: at 1 s_server refuses it (`ca md too weak`).
            extra.extend(["-cipher".into(), "DEFAULT@SECLEVEL=0".into()]);
            (cert, key, ca)
        }
        Case::ClientCertRequired => {
            let root = Authority::root("Real Clients Root CA", from, until);
            let (cert, key) = root.leaf(d, "server", &LOOPBACK_SANS);
            let clients = Authority::root("Real Clients Client CA", from, until);
            identity = Some(clients.client(d, "real-clients-client"));
            let client_ca = clients.write(d, "client-ca.pem");
            extra.extend(["-Verify".into(), "1".into(), "-verify_return_error".into()]);
            extra.extend(["-CAfile".into(), path_str(&client_ca)]);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::IpInDnsSan => {
            name = "127.0.0.1";
            let root = Authority::root("Real Clients Root CA", from, until);
            let key = KeyPair::generate().unwrap();
            let mut p = params("server", &[], root.from, root.until);
            p.is_ca = IsCa::ExplicitNoCa;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.subject_alt_names = vec![SanType::DnsName("127.0.0.1".try_into().unwrap())];
            let pem = p.signed_by(&key, &root.issuer).unwrap().pem();
            (
                write(d, "server.pem", &pem),
                write(d, "server.key", &key.serialize_pem()),
                root.write(d, "root.pem"),
            )
        }
        Case::HugeCertificate => {
            let root = Authority::root("Real Clients Root CA", from, until);
            let key = KeyPair::generate().unwrap();
            let mut p = params("server", &LOOPBACK_SANS, root.from, root.until);
            p.is_ca = IsCa::ExplicitNoCa;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            // An OCTET STRING of 70,000 bytes under a private OID.
            let mut content = vec![0x04, 0x83, 0x01, 0x11, 0x70];
            content.extend(std::iter::repeat_n(0x41, 70_000));
            p.custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 55555, 1, 2],
                    content,
                ));
            let pem = p.signed_by(&key, &root.issuer).unwrap().pem();
            (
                write(d, "server.pem", &pem),
                write(d, "server.key", &key.serialize_pem()),
                root.write(d, "root.pem"),
            )
        }
        Case::RootCriticalExtension => {
            let key = KeyPair::generate().unwrap();
            let mut p = ca_params(
                "Real Clients Root CA With A Critical Extension",
                from,
                until,
            );
            let mut ext = rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 55555, 1, 1],
                vec![0x05, 0x00],
            );
            ext.set_criticality(true);
            p.custom_extensions.push(ext);
            let pem = p.self_signed(&key).unwrap().pem();
            let root = Authority {
                pem,
                issuer: Issuer::new(p, key),
                from,
                until,
            };
            let (cert, key) = root.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, root.write(d, "root.pem"))
        }
        Case::ExpiredRoot => {
            let mut root = Authority::root(
                "Real Clients Expired Root CA",
                datetime!(2024-01-01 00:00:00 UTC),
                datetime!(2025-01-01 00:00:00 UTC),
            );
            root.from = datetime!(2024-06-01 00:00:00 UTC);
            root.until = datetime!(2034-06-01 00:00:00 UTC);
            let (cert, key) = root.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, root.write(d, "root.pem"))
        }
        // RSA keys: the server signs its DHE share with an RSA key, and the client encrypts the premaster
        // secret to it in static RSA.
        Case::DheOnly
        | Case::StaticRsaOnly
        | Case::Tls10Only
        | Case::CbcOnly
        | Case::CbcSha2Only => {
            let (cert, key, ca) = openssl_chain(d, "rsa:2048", "-sha256");
            let only: [&str; 3] = match case {
                Case::DheOnly => [
                    "-no_tls1_3",
                    "-cipher",
                    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384",
                ],
                Case::StaticRsaOnly => [
                    "-no_tls1_3",
                    "-cipher",
                    "AES128-GCM-SHA256:AES256-GCM-SHA384",
                ],
                Case::CbcOnly => [
                    "-no_tls1_3",
                    "-cipher",
                    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA",
                ],
                Case::CbcSha2Only => [
                    "-no_tls1_3",
                    "-cipher",
                    "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384",
                ],
                _ => ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
            };
            extra.extend(only.map(String::from));
            (cert, key, ca)
        }
    };
    if case != Case::NoAlpnH2 {
        extra.extend(["-alpn".into(), "h2,http/1.1".into()]);
    }
    let mut args = vec![
        "-cert".to_string(),
        path_str(&cert),
        "-key".to_string(),
        path_str(&key),
        "-www".to_string(),
    ];
    args.extend(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Served {
        server: OpensslServer::start(&args),
        ca,
        name,
        identity,
        _dir: dir,
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn params(
    cn: &str,
    sans: &[&str],
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Preflight Real Clients");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*s).try_into().unwrap()),
        })
        .collect();
    p.not_before = from;
    p.not_after = until;
    p
}

/// A CA made with rcgen (EC P-256).
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
    /// The validity of what it signs ([`valid`] unless changed).
    from: OffsetDateTime,
    until: OffsetDateTime,
}

impl Authority {
    fn root(cn: &str, from: OffsetDateTime, until: OffsetDateTime) -> Authority {
        let key = KeyPair::generate().unwrap();
        let p = ca_params(cn, from, until);
        let pem = p.self_signed(&key).unwrap().pem();
        let (from, until) = valid();
        Authority {
            pem,
            issuer: Issuer::new(p, key),
            from,
            until,
        }
    }

    fn intermediate(&self, cn: &str, from: OffsetDateTime, until: OffsetDateTime) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut p = ca_params(cn, from, until);
        p.use_authority_key_identifier_extension = true;
        let pem = p.signed_by(&key, &self.issuer).unwrap().pem();
        let (from, until) = valid();
        Authority {
            pem,
            issuer: Issuer::new(p, key),
            from,
            until,
        }
    }

    /// A CA certificate from `p`, signed by this one.
    fn sign_ca(&self, mut p: CertificateParams) -> Authority {
        let key = KeyPair::generate().unwrap();
        p.use_authority_key_identifier_extension = true;
        let pem = p.signed_by(&key, &self.issuer).unwrap().pem();
        let (from, until) = valid();
        Authority {
            pem,
            issuer: Issuer::new(p, key),
            from,
            until,
        }
    }

    /// A server certificate (CA:FALSE, serverAuth) for CN `cn` and `sans`: (cert, key) files `cn.pem`, `cn.key`.
    fn leaf(&self, dir: &Path, cn: &str, sans: &[&str]) -> (PathBuf, PathBuf) {
        self.leaf_with(dir, cn, sans, |_| {})
    }

    /// [`Authority::leaf`], changed by `change` before it is signed.
    fn leaf_with(
        &self,
        dir: &Path,
        cn: &str,
        sans: &[&str],
        change: impl FnOnce(&mut CertificateParams),
    ) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut p = params(cn, sans, self.from, self.until);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        change(&mut p);
        let pem = p.signed_by(&key, &self.issuer).unwrap().pem();
        (
            write(dir, &format!("{cn}.pem"), &pem),
            write(dir, &format!("{cn}.key"), &key.serialize_pem()),
        )
    }

    /// A client certificate (clientAuth): (cert, key) files.
    fn client(&self, dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut p = params(cn, &[], self.from, self.until);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        let pem = p.signed_by(&key, &self.issuer).unwrap().pem();
        (
            write(dir, &format!("{cn}.pem"), &pem),
            write(dir, &format!("{cn}.key"), &key.serialize_pem()),
        )
    }

    fn write(&self, dir: &Path, file: &str) -> PathBuf {
        write(dir, file, &self.pem)
    }
}

fn ca_params(cn: &str, from: OffsetDateTime, until: OffsetDateTime) -> CertificateParams {
    let mut p = params(cn, &[], from, until);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// What ring cannot do (RSA keys, SHA-1 signatures), done by `openssl`: an RSA-2048 root and a leaf with a
/// `newkey` key (`rsa:1024`, `rsa:2048`) for localhost and 127.0.0.1, signed with `digest` (`-sha256`,
/// `-sha1`); both valid from now (OpenSSL 3.0 cannot backdate a signed request). Returns (leaf, key, root).
fn openssl_chain(dir: &Path, newkey: &str, digest: &str) -> (PathBuf, PathBuf, PathBuf) {
    openssl_chain_with(dir, "rsa:2048", newkey, digest)
}

/// As [`openssl_chain`], with the root's key `rootkey`.
fn openssl_chain_with(
    dir: &Path,
    rootkey: &str,
    newkey: &str,
    digest: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let config = write(
        dir,
        "openssl.cnf",
        "[req]\ndistinguished_name = dn\n[dn]\n\
         [root]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [leaf]\nbasicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    );
    let config = path_str(&config);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .env_remove("OPENSSL_CONF")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-config",
        &config,
        "-extensions",
        "root",
        "-newkey",
        rootkey,
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "3650",
        "-sha256",
        "-subj",
        "/O=Preflight Real Clients/CN=Real Clients RSA Root CA",
    ]);
    openssl(&[
        "req",
        "-new",
        "-config",
        &config,
        "-newkey",
        newkey,
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/O=Preflight Real Clients/CN=localhost",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-set_serial",
        "4097",
        "-days",
        "825",
        digest,
        "-extfile",
        &config,
        "-extensions",
        "leaf",
        "-out",
        "leaf.pem",
    ]);
    (
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
        dir.join("root.pem"),
    )
}

/// The chains of defects of the chain itself (rcgen): (leaf, key, root, the CA certificates the server
/// sends after its leaf).
fn structural(d: &Path, case: Case) -> (PathBuf, PathBuf, PathBuf, Vec<String>) {
    let (from, until) = valid();
    let root = Authority::root("Real Clients Root CA", from, until);
    let ca = root.write(d, "root.pem");
    let (cert, key, sent) = match case {
        Case::PathTooLong | Case::SelfIssued => {
            let mut p = ca_params("Real Clients Issuing CA", from, until);
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            let issuing = root.sign_ca(p);
            let below = if case == Case::PathTooLong {
                issuing.intermediate("Real Clients Sub CA", from, until)
            } else {
                issuing.intermediate("Real Clients Issuing CA", from, until)
            };
            let (cert, key) = below.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, vec![below.pem.clone(), issuing.pem.clone()])
        }
        Case::IssuerNotCa => {
            let mut p = ca_params("Real Clients Not A CA", from, until);
            p.is_ca = IsCa::ExplicitNoCa;
            let not_ca = root.sign_ca(p);
            let (cert, key) = not_ca.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, vec![not_ca.pem.clone()])
        }
        Case::NameConstraints => {
            let mut p = ca_params("Real Clients Constrained CA", from, until);
            p.name_constraints = Some(rcgen::NameConstraints {
                permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.net".into())],
                excluded_subtrees: vec![],
            });
            let constrained = root.sign_ca(p);
            let (cert, key) = constrained.leaf(d, "server", &LOOPBACK_SANS);
            (cert, key, vec![constrained.pem.clone()])
        }
        _ => {
            let (cert, key) = root.leaf_with(d, "server", &LOOPBACK_SANS, |p| match case {
                Case::ClientAuthOnly => {
                    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                }
                Case::EmptyEku => {
                    p.extended_key_usages = vec![];
                    p.custom_extensions
                        .push(rcgen::CustomExtension::from_oid_content(
                            &[2, 5, 29, 37],
                            vec![0x30, 0x00],
                        ));
                }
                _ => {
                    // SEQUENCE { [2] "localhost" }, a second subjectAltName.
                    let mut san = vec![0x30, 11, 0x82, 9];
                    san.extend_from_slice(b"localhost");
                    p.custom_extensions
                        .push(rcgen::CustomExtension::from_oid_content(
                            &[2, 5, 29, 17],
                            san,
                        ));
                }
            });
            (cert, key, vec![])
        }
    };
    (cert, key, ca, sent)
}

/// One row of the matrix: a scenario, and whether the client presents the identity the server asks for.
struct Row {
    name: &'static str,
    present_identity: bool,
}

fn rows_of(case: Case) -> Vec<Row> {
    let mut rows = vec![Row {
        name: case.name(),
        present_identity: false,
    }];
    if case == Case::ClientCertRequired {
        rows.push(Row {
            name: "client_cert_presented",
            present_identity: true,
        });
    }
    rows
}

/// (row, client, default trust, with the CA) for every row of `case`, the probes one after the other (s_server
/// serves one connection at a time).
type Results = Vec<(&'static str, RealClient, Seen, Seen)>;

fn run_case(case: Case, clients: &[RealClient]) -> Results {
    let served = serve(case);
    let mut out = Vec::new();
    for row in rows_of(case) {
        let identity = served
            .identity
            .as_ref()
            .filter(|_| row.present_identity)
            .map(|(c, k)| (c.as_path(), k.as_path()));
        for &c in clients {
            let probe = |ca: Option<&Path>| {
                try_client(
                    c,
                    "127.0.0.1",
                    served.server.port,
                    served.name,
                    ca,
                    identity,
                )
                .unwrap()
            };
            let default = probe(None);
            let with_ca = probe(Some(&served.ca));
            out.push((row.name, c, default, with_ca));
        }
    }
    out
}

fn mark(seen: &Seen) -> &'static str {
    if seen.works {
        "✓"
    } else {
        "✗"
    }
}

/// The compact table: a row per scenario, `default/with CA` per client; then why each refused with the CA.
fn table(results: &Results, clients: &[RealClient]) -> String {
    let mut t = String::from("real clients: ✓ connects, ✗ refuses; default trust / with the CA\n");
    t.push_str(&format!("{:<22}", "scenario"));
    for c in clients {
        t.push_str(&format!(" {:>10}", c.name()));
    }
    t.push('\n');
    let mut names: Vec<&str> = results.iter().map(|r| r.0).collect();
    names.dedup();
    for name in &names {
        t.push_str(&format!("{name:<22}"));
        for c in clients {
            let (_, _, d, w) = results.iter().find(|r| r.0 == *name && r.1 == *c).unwrap();
            t.push_str(&format!(" {:>10}", format!("{}/{}", mark(d), mark(w))));
        }
        t.push('\n');
    }
    t.push_str("refused with the CA:\n");
    for (name, c, _, w) in results.iter().filter(|r| !r.3.works) {
        // requests wraps the error in the pool's words: the cause is what matters.
        let cause = w.said.rsplit("(Caused by ").next().unwrap_or_default();
        let said: String = cause.chars().take(150).collect();
        t.push_str(&format!("  {name} {}: {said}\n", c.name()));
    }
    t
}

fn matrix_json(results: &Results) -> Value {
    let mut rows = Map::new();
    for (name, c, default, with_ca) in results {
        let cell = |s: &Seen| json!({"works": s.works, "said": s.said});
        let row = rows.entry(*name).or_insert_with(|| json!({}));
        row[c.name()] = json!({"default": cell(default), "with_ca": cell(with_ca)});
    }
    json!({
        "generated_by": "tests/integration/real_clients.rs real_clients_matrix",
        "note": "each client with its default trust and trusting only the scenario's CA",
        "scenarios": rows,
    })
}

#[test]
fn real_clients_matrix() {
    let started = Instant::now();
    let clients: Vec<RealClient> = RealClient::ALL
        .into_iter()
        .filter(|c| c.installed())
        .collect();
    if clients.is_empty() || !peer("openssl") {
        return;
    }
    // Go's first build is the long pole: it runs while the other clients start on the scenarios (the Go
    // probes come last in each scenario).
    if clients.contains(&RealClient::Go) {
        std::thread::spawn(go_probe);
    }
    let results: Results = std::thread::scope(|s| {
        let clients = &clients;
        let running: Vec<_> = Case::ALL
            .into_iter()
            .map(|case| s.spawn(move || run_case(case, clients)))
            .collect();
        running
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });

    let path = target_dir().join("real_clients_matrix.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&matrix_json(&results)).unwrap() + "\n",
    )
    .unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "{}(written to {}, {:.1} s)",
        table(&results, &clients),
        path.display(),
        started.elapsed().as_secs_f64()
    );

    let cell = |row: &str, c: RealClient| {
        let (_, _, d, w) = results.iter().find(|r| r.0 == row && r.1 == c).unwrap();
        (d, w)
    };
    for (row, c, default, _) in &results {
        // Every scenario is a private PKI: no client's default trust may accept it.
        assert!(
            !default.works,
            "{} accepted {row} with its default trust",
            c.name()
        );
        assert!(!default.said.is_empty() && default.said != "ok");
    }
    for &c in &clients {
        let who = c.name();
        let (d, w) = cell("private_ca", c);
        assert!(w.works && !d.works, "{who} on private_ca: {d:?} / {w:?}");
        assert!(!cell("self_signed", c).0.works, "{who} on self_signed");
        assert!(cell("alpn_h2", c).1.works, "{who} on alpn_h2 with the CA");
        let refused = cell("client_cert_required", c).1;
        assert!(
            !refused.works,
            "{who} without a client certificate: {refused:?}"
        );
        let presented = cell("client_cert_presented", c).1;
        assert!(
            presented.works,
            "{who} with the client certificate: {presented:?}"
        );
        // Only gRPC needs h2.
        let no_alpn = cell("no_alpn_h2", c).1;
        assert_eq!(
            no_alpn.works,
            c != RealClient::Grpcio,
            "{who} on no_alpn_h2: {no_alpn:?}"
        );
    }
}
