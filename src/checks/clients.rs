//! Which clients will work: each client judged by its own engine's rules (OpenSSL 3, BoringSSL, Go
//! `crypto/x509`, rustls) from the facts already captured — the chain's, the handshake's, each trust source's
//! webpki verdict — once with its default trust (as this machine's environment sets it) and once with the CA
//! file. Every answer names the rule that decided it. The conformance test (`tests/integration/clients.rs`)
//! runs the real clients on the same servers and compares.

use std::path::Path;

use rustls::pki_types::{CertificateDer, TrustAnchor};

use crate::codes::Code;
use crate::pki::facts::CertFacts;
use crate::pki::sources::{SourceKind, TrustSource, TrustSources};
use crate::report::model::{ClientAdvice, ClientOutcome};

/// The TLS library a client is built on: whose rules decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// OpenSSL 3 (curl, Python `ssl`); `cn_fallback`: the client still reads the CN when there is no SAN
    /// (curl does; Python sets `hostname_checks_common_name = False`).
    OpenSsl { cn_fallback: bool },
    /// BoringSSL, as grpcio bundles it.
    BoringSsl,
    /// Go `crypto/x509` and `crypto/tls`, current release.
    Go,
    /// rustls with webpki: our own judgement.
    Rustls,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::OpenSsl { .. } => "OpenSSL 3",
            Engine::BoringSsl => "BoringSSL",
            Engine::Go => "Go crypto/x509",
            Engine::Rustls => "rustls/webpki",
        }
    }
}

/// What decides a client's outcome besides trust: facts of the chain and of the handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects {
    /// The server's own certificate is a CA (basic constraints CA:TRUE).
    pub ca_leaf: bool,
    /// The name is only in the CN: the certificate has no subjectAltName.
    pub cn_only: bool,
    /// The target is an address that only a DNS SAN spells (no IP SAN).
    pub ip_as_dns: bool,
    /// The name matches nothing, whatever the rules.
    pub name_mismatch: bool,
    /// The smallest RSA key on the chain as sent, when under 2048 bits.
    pub weak_rsa: Option<u32>,
    /// A certificate other than a self-signed root is signed with SHA-1.
    pub sha1: bool,
    /// A certificate as sent (not a self-signed root) is outside its dates.
    pub expired: bool,
    /// The top of the chain is a self-signed root outside its dates.
    pub expired_root: bool,
    /// The certificate message is over 64 KB: rustls refuses it; OpenSSL (100 KB), Go and BoringSSL take it.
    pub message_too_large: bool,
    /// The anchor carries an extension marked critical that no client knows (its OID).
    pub root_critical_extension: Option<String>,
    /// The anchor's key is one no client takes (DSA, a curve other than P-256/384/521): in words.
    pub weak_root_key: Option<String>,
    /// A defect of the chain itself that a trust check named, the same whatever the anchor (a path length
    /// constraint, an extension twice, a self-issued CA, ...): its code.
    pub structure: Option<Code>,
    /// The server requires a client certificate.
    pub client_cert_required: bool,
    /// ALPN h2 was negotiated (`None`: no handshake to tell).
    pub alpn_h2: Option<bool>,
    /// What the server negotiates, when rustls could not (read with raw ClientHellos); `None` when the
    /// handshake worked (TLS 1.2 or 1.3 with ECDHE).
    pub negotiates: Option<Negotiation>,
    /// The server's certificate is revoked (a signed OCSP response or CRL says so): no client here checks
    /// revocation by default, so each connects anyway.
    pub revoked: bool,
}

/// The key exchanges and versions a server accepts, from raw ClientHellos.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// TLS 1.2 with ECDHE and an AEAD cipher (AES-GCM, ChaCha20).
    pub ecdhe: bool,
    /// TLS 1.2 with ECDHE and a CBC cipher with a SHA-1 MAC.
    pub ecdhe_cbc: bool,
    /// TLS 1.2 with ECDHE and a CBC cipher with a SHA-256/384 MAC.
    pub ecdhe_cbc_sha2: bool,
    /// TLS 1.2 with finite-field Diffie-Hellman (DHE).
    pub dhe: bool,
    /// TLS 1.2 with RSA key exchange (no forward secrecy).
    pub static_rsa: bool,
    /// Only TLS 1.0 or 1.1.
    pub legacy_only: bool,
    /// The server answered a ClientHello in TLS (a ServerHello or an alert), rather than closing the
    /// connection or staying silent.
    pub answered: bool,
}

impl Defects {
    /// The defects of `facts` for a client asking for `name`.
    pub fn of(facts: &[CertFacts], name: Option<&str>) -> Defects {
        let mut d = Defects::default();
        let Some(leaf) = facts.first() else {
            return d;
        };
        d.ca_leaf = leaf.is_ca == Some(true);
        if let Some(name) = name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let is_ip = name.parse::<std::net::IpAddr>().is_ok();
            let dns_match = leaf.dns_names.iter().any(|d| dns_matches(d, &name));
            let ip_match = is_ip
                && leaf.ip_addresses.iter().any(|a| {
                    a.parse::<std::net::IpAddr>().ok() == name.parse::<std::net::IpAddr>().ok()
                });
            let no_san = leaf.dns_names.is_empty() && leaf.ip_addresses.is_empty();
            let cn = leaf.common_name.as_deref().map(str::to_ascii_lowercase);
            if is_ip {
                d.ip_as_dns =
                    !ip_match && leaf.dns_names.iter().any(|d| d.eq_ignore_ascii_case(&name));
                d.name_mismatch = !ip_match && !d.ip_as_dns;
            } else if !dns_match {
                d.cn_only = no_san && cn.as_deref().is_some_and(|c| dns_matches(c, &name));
                d.name_mismatch = !d.cn_only;
            }
        }
        let top = facts.len() - 1;
        for (i, f) in facts.iter().enumerate() {
            let root = i == top && f.self_signed;
            if f.key_type == "RSA" && f.key_bits > 0 && f.key_bits < 2048 {
                d.weak_rsa = Some(d.weak_rsa.map_or(f.key_bits, |b| b.min(f.key_bits)));
            }
            let sig = f.signature_algorithm.to_ascii_lowercase();
            if !root && (sig.contains("sha1") || sig.contains("sha-1")) {
                d.sha1 = true;
            }
            if f.days_left < 0 || f.parse_error.is_none() && not_yet(f) {
                if root {
                    d.expired_root = true;
                } else {
                    d.expired = true;
                }
            }
        }
        d
    }
}

fn not_yet(f: &CertFacts) -> bool {
    time::OffsetDateTime::parse(
        &f.not_before,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|t| t > time::OffsetDateTime::now_utc())
}

/// A DNS name pattern (`*.example.com` allowed) against a name, case-insensitively.
fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == name,
    }
}

/// The outcome of one client with one trust, before the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub works: bool,
    /// The rule that decided, stable (`trust`, `ca_leaf`, `cn_fallback`, `weak_key`, ...).
    pub rule: &'static str,
    /// The code of a failure (a trust code, or the defect's).
    pub code: Option<Code>,
    /// In words, naming the engine's rule.
    pub why: String,
}

impl Decision {
    fn fail(rule: &'static str, code: Code, why: String) -> Decision {
        Decision {
            works: false,
            rule,
            code: Some(code),
            why,
        }
    }

    fn into_outcome(self) -> ClientOutcome {
        ClientOutcome {
            works: self.works,
            decided_by: self.rule.to_string(),
            code: self.code.map(|c| c.as_str().to_string()),
            why: self.why,
        }
    }
}

/// Whether a trust (a store, or the CA file) holds an anchor for the chain: `Ok` when it does, else the trust
/// code (`self_signed`, `unknown_issuer`, `incomplete_chain`).
pub type Anchored = Result<(), Code>;

/// This engine's decision for a chain with `defects`, anchored (or not) in the trust it uses. `security_level`
/// is OpenSSL's (`@SECLEVEL`), `with_identity` whether the client presents a certificate.
pub fn decide(
    engine: Engine,
    anchored: Anchored,
    defects: &Defects,
    security_level: u8,
    with_identity: bool,
) -> Decision {
    let e = engine.name();
    if let Some(d) = connection_decision(engine, defects) {
        return d;
    }
    if let Err(code) = anchored {
        let why = match code {
            Code::IncompleteChain => {
                "the server does not send the intermediate, and no client fetches it"
            }
            _ => "no certificate of its trust issued the chain",
        };
        return Decision::fail("trust", code, why.to_string());
    }
    if defects.expired {
        return Decision::fail(
            "validity",
            Code::Expired,
            "a certificate on the chain is outside its dates: every client refuses".into(),
        );
    }
    if defects.expired_root && engine != Engine::Rustls {
        return Decision::fail(
            "expired_root",
            Code::Expired,
            format!("{e} checks the root's own dates, and the root has expired (rustls does not)"),
        );
    }
    if let Some(d) = structure_decision(engine, defects) {
        return d;
    }
    if let Some(oid) = &defects.root_critical_extension {
        if matches!(engine, Engine::OpenSsl { .. } | Engine::Go) {
            return Decision::fail(
                "critical_extension",
                Code::UnknownCriticalExtension,
                format!("the root carries the unknown critical extension {oid}: {e} refuses it (BoringSSL and rustls do not check the root's extensions)"),
            );
        }
    }
    if defects.ca_leaf && engine == Engine::Rustls {
        return Decision::fail("ca_leaf", Code::CaUsedAsLeaf, "webpki refuses a CA certificate (CA:TRUE) as the server's own; OpenSSL, BoringSSL and Go accept it".into());
    }
    if let Some(d) = name_decision(engine, defects) {
        return d;
    }
    if let Some(d) = crypto_decision(engine, defects, security_level) {
        return d;
    }
    if defects.client_cert_required && !with_identity {
        return Decision::fail(
            "client_cert",
            Code::ClientCertRequired,
            "the server requires a client certificate, and none is given".into(),
        );
    }
    connects(e, defects)
}

/// A client that connects, and what it overlooks to: a revoked certificate (no client here checks
/// revocation by default), the CN fallback, an address in a DNS SAN, a CA as the server's certificate.
fn connects(e: &str, defects: &Defects) -> Decision {
    if defects.revoked {
        // curl, Python (requests, ssl), grpcio and Go ask no OCSP responder and read no CRL by default;
        // rustls's WebPkiServerVerifier checks revocation only when given CRLs.
        return Decision {
            works: true,
            rule: "revoked",
            code: Some(Code::Revoked),
            why: format!(
                "connects to a revoked certificate: {e} checks neither OCSP nor CRLs by default"
            ),
        };
    }
    let why = match (defects.ca_leaf, defects.cn_only, defects.ip_as_dns) {
        (_, true, _) => {
            format!("connects: {e} falls back to the CN when there is no subjectAltName")
        }
        (_, _, true) => format!("connects: {e} matches the address against a DNS SAN spelling it"),
        (true, _, _) => format!("connects: {e} accepts a CA certificate as the server's own"),
        _ => "connects".to_string(),
    };
    Decision {
        works: true,
        rule: "ok",
        code: None,
        why,
    }
}

/// The codes of defects of the chain itself: judged the same whatever the trust, by each engine's rule.
pub fn is_structural(code: Code) -> bool {
    matches!(
        code,
        Code::PathLengthExceeded
            | Code::IssuerNotCa
            | Code::NameConstraintViolation
            | Code::MalformedExtension
            | Code::DuplicateExtension
            | Code::EmptyEku
            | Code::NotV3
            | Code::ChainTooLong
            | Code::SelfIssuedIntermediate
            | Code::BadSignature
            | Code::MissingServerAuthEku
            | Code::UnknownCriticalExtension
    )
}

/// A defect of the chain itself: which engines refuse it. OpenSSL and BoringSSL do not count a self-issued
/// CA against a path length (RFC 5280), Go and webpki do; Go takes an empty extended key usage; only webpki
/// stops at six intermediates.
fn structure_decision(engine: Engine, defects: &Defects) -> Option<Decision> {
    let code = defects.structure?;
    let e = engine.name();
    let refused = match code {
        Code::SelfIssuedIntermediate => matches!(engine, Engine::Rustls | Engine::Go),
        Code::ChainTooLong => engine == Engine::Rustls,
        // Go reads an empty extended key usage as no restriction.
        Code::EmptyEku => engine != Engine::Go,
        _ => true,
    };
    let what = match code {
        Code::PathLengthExceeded => "a CA's path length constraint is exceeded",
        Code::IssuerNotCa => "a certificate that is not a CA signed another",
        Code::NameConstraintViolation => "a CA's name constraints forbid the name",
        Code::MalformedExtension => "a certificate has a malformed extension",
        Code::DuplicateExtension => "a certificate carries an extension twice",
        Code::EmptyEku => "a certificate's extended key usage is empty",
        Code::NotV3 => "a certificate is not X.509 v3",
        Code::ChainTooLong => "the chain has more than six intermediates",
        Code::SelfIssuedIntermediate => "the path goes through a self-issued (re-keyed) CA",
        Code::BadSignature => "a signature on the chain does not verify",
        Code::MissingServerAuthEku => "the certificate is not for TLS servers (no serverAuth)",
        _ => "a certificate carries an unknown critical extension",
    };
    refused.then(|| Decision::fail("structure", code, format!("{what}: {e} refuses it")))
}

/// What stops the connection before the chain is judged: the key exchange or version, the size of the
/// certificate message, ALPN h2 for grpcio.
fn connection_decision(engine: Engine, defects: &Defects) -> Option<Decision> {
    if let Some(n) = defects.negotiates {
        if let Some(d) = negotiation_decision(engine, n) {
            return Some(d);
        }
    }
    if engine == Engine::Rustls && defects.message_too_large {
        return Some(Decision::fail(
            "message_size",
            Code::CertificateTooLarge,
            "the certificate message is over 64 KB: rustls refuses it (OpenSSL, Go and BoringSSL take it)".into(),
        ));
    }
    if engine == Engine::BoringSsl && defects.alpn_h2 == Some(false) {
        return Some(Decision::fail("alpn_h2", Code::AlpnH2Missing, "gRPC needs ALPN h2 and the server negotiates none (grpcio: \"missing selected ALPN property\")".into()));
    }
    None
}

/// The key and signature rules: RSA under 2048 bits (OpenSSL at level 2, webpki), under 1024 (Go), SHA-1
/// (all but BoringSSL).
fn crypto_decision(engine: Engine, defects: &Defects, security_level: u8) -> Option<Decision> {
    if let Some(weak) = &defects.weak_root_key {
        return Some(Decision::fail(
            "weak_key",
            Code::WeakKey,
            format!(
                "the root in the CA file has an {weak}: {} does not verify with it",
                engine.name()
            ),
        ));
    }
    if let Some(bits) = defects.weak_rsa {
        let refused = match engine {
            Engine::OpenSsl { .. } => security_level >= 2 || (security_level == 1 && bits < 1024),
            Engine::Rustls => true,
            Engine::Go => bits < 1024,
            Engine::BoringSsl => false,
        };
        if refused {
            let rule = match engine {
                Engine::OpenSsl { .. } => format!(
                    "OpenSSL at security level {security_level} refuses RSA keys under {} bits",
                    if security_level >= 2 { 2048 } else { 1024 }
                ),
                Engine::Go => "Go refuses RSA keys under 1024 bits (since Go 1.24)".into(),
                _ => "webpki refuses RSA keys under 2048 bits".into(),
            };
            return Some(Decision::fail(
                "weak_key",
                Code::WeakKey,
                format!("an RSA-{bits} key on the chain: {rule}"),
            ));
        }
    }
    if defects.sha1 {
        let refused = match engine {
            Engine::OpenSsl { .. } => security_level >= 1,
            Engine::Go | Engine::Rustls => true,
            Engine::BoringSsl => false,
        };
        if refused {
            let rule = match engine {
                Engine::OpenSsl { .. } => {
                    format!("OpenSSL at security level {security_level} refuses SHA-1 signatures")
                }
                Engine::Go => "Go refuses SHA-1 signatures on certificates (since Go 1.18)".into(),
                _ => "webpki does not accept SHA-1 signatures".into(),
            };
            return Some(Decision::fail(
                "weak_signature",
                Code::WeakSignature,
                format!("a certificate is signed with SHA-1: {rule}"),
            ));
        }
    }
    None
}

/// Whether the engine can negotiate with a server that rustls could not: curl's OpenSSL speaks DHE and RSA key
/// exchange; Python's default cipher string keeps DHE but not RSA key exchange; Go (RSA key exchange gone from
/// its defaults since 1.22), BoringSSL as grpcio configures it and rustls speak ECDHE only; nobody current
/// speaks TLS 1.0 or 1.1 at its defaults.
fn negotiation_decision(engine: Engine, n: Negotiation) -> Option<Decision> {
    if n.legacy_only {
        return Some(Decision::fail(
            "tls_version",
            Code::LegacyTlsOnly,
            "the server speaks only TLS 1.0/1.1, which current clients refuse".into(),
        ));
    }
    // curl takes OpenSSL's defaults; Python's default ciphers drop RSA key exchange and SHA-1 MACs; Go has
    // ECDHE with CBC and SHA-1 (not SHA-256) but no DHE, and no RSA key exchange since 1.22; grpcio and
    // rustls offer ECDHE with AEAD ciphers only.
    let cbc = n.ecdhe_cbc || n.ecdhe_cbc_sha2;
    let ok = match engine {
        Engine::OpenSsl { cn_fallback: true } => n.ecdhe || cbc || n.dhe || n.static_rsa,
        Engine::OpenSsl { cn_fallback: false } => n.ecdhe || n.ecdhe_cbc_sha2 || n.dhe,
        Engine::Go => n.ecdhe || n.ecdhe_cbc,
        Engine::BoringSsl | Engine::Rustls => n.ecdhe,
    };
    if ok {
        return None;
    }
    let code = n.code();
    let offered = match code {
        Code::DheOnly => "DHE key exchange",
        Code::StaticRsaOnly => "RSA key exchange",
        Code::CbcOnly => "ECDHE with CBC ciphers",
        _ => "no suite it offers",
    };
    let rule = match engine {
        Engine::OpenSsl { .. } => {
            "Python's default ciphers have neither RSA key exchange nor SHA-1 MACs"
        }
        Engine::Go => {
            "Go offers ECDHE only (RSA key exchange left its defaults in Go 1.22; it never had DHE)"
        }
        Engine::BoringSsl => "grpcio offers ECDHE with AES-GCM only",
        Engine::Rustls => "rustls offers ECDHE with AEAD ciphers (and TLS 1.3) only",
    };
    Some(Decision::fail(
        "key_exchange",
        code,
        format!("the server offers only {offered}: {rule}"),
    ))
}

impl Negotiation {
    /// What the raw ClientHellos found the server accepts.
    pub fn of(offer: &crate::net::hello::Offer) -> Negotiation {
        Negotiation {
            ecdhe: offer.ecdhe_tls12,
            ecdhe_cbc: offer.ecdhe_cbc,
            ecdhe_cbc_sha2: offer.ecdhe_cbc_sha2,
            dhe: offer.dhe,
            static_rsa: offer.static_rsa,
            legacy_only: offer.legacy_only_version.is_some(),
            answered: offer.answers.iter().any(|(_, a)| {
                matches!(
                    a,
                    Ok(crate::net::hello::Answer::Accepted { .. }
                        | crate::net::hello::Answer::Refused { .. })
                )
            }),
        }
    }

    /// The code for what the server offers, when a modern client (ECDHE, AEAD) finds nothing in common.
    pub fn code(&self) -> Code {
        if self.legacy_only {
            Code::LegacyTlsOnly
        } else if self.ecdhe_cbc || self.ecdhe_cbc_sha2 {
            Code::CbcOnly
        } else if self.dhe {
            Code::DheOnly
        } else if self.static_rsa {
            Code::StaticRsaOnly
        } else if self.answered {
            Code::NoSharedCipher
        } else {
            Code::TlsHandshakeFailed
        }
    }
}

/// The name rules: CN fallback, an address in a DNS SAN, no match at all.
fn name_decision(engine: Engine, d: &Defects) -> Option<Decision> {
    let e = engine.name();
    if d.name_mismatch {
        return Some(Decision::fail(
            "name",
            Code::NameMismatch,
            "the certificate is not for this name: every client refuses".into(),
        ));
    }
    if d.cn_only {
        let falls_back = matches!(
            engine,
            Engine::OpenSsl { cn_fallback: true } | Engine::BoringSsl
        );
        if !falls_back {
            let rule = match engine {
                Engine::Go => "Go ignores the CN (since Go 1.15)",
                Engine::OpenSsl { .. } => {
                    "Python checks names with hostname_checks_common_name off"
                }
                _ => "webpki reads names from the subjectAltName only",
            };
            return Some(Decision::fail(
                "cn_fallback",
                Code::NoSubjectAltName,
                format!("the name is only in the CN, with no subjectAltName: {rule}"),
            ));
        }
    }
    // grpcio compares the address with DNS SANs as text, and accepts one spelling it (the real client,
    // tests/integration/client_predictions.rs); the others want an IP SAN.
    if d.ip_as_dns && engine != Engine::BoringSsl {
        return Some(Decision::fail(
            "ip_san",
            Code::NameMismatch,
            format!("the address is only spelled in a DNS SAN, not an IP SAN: {e} refuses"),
        ));
    }
    None
}

/// [`openssl_security_level`], read once per process.
pub fn security_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(openssl_security_level)
}

/// OpenSSL's security level on this machine: `@SECLEVEL=N` in the configuration (`OPENSSL_CONF`, else
/// `/etc/ssl/openssl.cnf`), else 2 (Debian's and most distributions' build default).
pub fn openssl_security_level() -> u8 {
    let path = std::env::var_os("OPENSSL_CONF")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/openssl.cnf".into());
    let text = crate::local::read(&path, crate::local::SMALL)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let at = l.find("@SECLEVEL=")?;
            l[at + 10..].chars().next()?.to_digit(10)
        })
        .and_then(|d| u8::try_from(d).ok())
        .unwrap_or(2)
}

/// One certificate's issuer and subject, as DER values (what an anchor's subject is compared with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainName {
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
}

/// The names of `chain`, parsed once for every client and trust judged.
pub fn chain_names(chain: &[CertificateDer<'_>]) -> Vec<ChainName> {
    use x509_parser::prelude::FromDer;
    let value = crate::pki::judge::der_value;
    chain
        .iter()
        .filter_map(|der| x509_parser::certificate::X509Certificate::from_der(der.as_ref()).ok())
        .map(|(_, c)| ChainName {
            issuer: value(c.issuer().as_raw()).to_vec(),
            subject: value(c.subject().as_raw()).to_vec(),
        })
        .collect()
}

/// Whether `anchors` hold an anchor for `chain`: a certificate on it whose issuer (or whose own subject, for a
/// certificate trusted as itself) is an anchor's subject. `Err` names why not.
pub fn anchored(names: &[ChainName], anchors: &[TrustAnchor<'_>], facts: &[CertFacts]) -> Anchored {
    let found = anchors.iter().any(|a| {
        let subject = a.subject.as_ref();
        names
            .iter()
            .any(|n| n.issuer == subject || n.subject == subject)
    });
    if found {
        return Ok(());
    }
    // As the trust checks say it: `self_signed` when the server's own certificate is; a chain that ends at a
    // self-signed root nobody trusts is `unknown_issuer`.
    match facts.first() {
        Some(leaf) if leaf.self_signed => Err(Code::SelfSigned),
        _ => Err(Code::UnknownIssuer),
    }
}

/// One client: its name, engine, default trust (the store and the variable that replaces it), and how to
/// write its one line.
struct Profile {
    client: &'static str,
    engine: Engine,
    default_store: SourceKind,
    /// The variable that replaces its default roots, when set.
    variable: &'static [&'static str],
    trust_words: &'static str,
}

const PROFILES: [Profile; 5] = [
    Profile {
        client: "Python requests",
        engine: Engine::OpenSsl { cn_fallback: false },
        default_store: SourceKind::Mozilla,
        variable: &["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"],
        trust_words: "certifi: Mozilla roots",
    },
    Profile {
        client: "Python grpcio",
        engine: Engine::BoringSsl,
        default_store: SourceKind::Mozilla,
        variable: &["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"],
        trust_words: "bundled roots: Mozilla",
    },
    Profile {
        client: "curl",
        engine: Engine::OpenSsl { cn_fallback: true },
        default_store: SourceKind::System,
        variable: &["CURL_CA_BUNDLE"],
        trust_words: "system store",
    },
    Profile {
        client: "Go crypto/tls",
        engine: Engine::Go,
        default_store: SourceKind::System,
        variable: &[],
        trust_words: "system store (SSL_CERT_FILE, SSL_CERT_DIR)",
    },
    Profile {
        client: "Rust rustls",
        engine: Engine::Rustls,
        default_store: SourceKind::Mozilla,
        variable: &[],
        trust_words: "webpki-roots: Mozilla",
    },
];

/// What the client lines need: where the CA and the client certificate are, and the server.
#[derive(Debug, Clone, Copy)]
pub struct Lines<'a> {
    /// `host:port`.
    pub authority: &'a str,
    /// The CA file, absolute.
    pub ca: &'a str,
    /// The client certificate and key, absolute, when the server requires one.
    pub identity: Option<(&'a str, &'a str)>,
    /// curl's own options for the way the check connected (` --resolve ... --proxy ... -4`): preflight's
    /// flags of those names are curl's.
    pub curl_flags: &'a str,
}

/// The one line that makes `client` work with the CA file, as it runs when pasted: Python for `python3 -c`
/// (the grpcio line waits for the connection), a shell command, a whole Go program on one line (`go run`),
/// Rust statements with their `use` for a function body.
pub fn make_it_work(client: &str, l: &Lines<'_>) -> String {
    let (hp, ca) = (l.authority, l.ca);
    match (client, l.identity) {
        ("Python requests", None) => format!("import requests; requests.get(\"https://{hp}/\", verify=\"{ca}\")"),
        ("Python requests", Some((c, k))) => format!("import requests; requests.get(\"https://{hp}/\", verify=\"{ca}\", cert=(\"{c}\", \"{k}\"))"),
        ("Python grpcio", id) => {
            let creds = match id {
                Some((c, k)) => format!("open(\"{ca}\", \"rb\").read(), open(\"{k}\", \"rb\").read(), open(\"{c}\", \"rb\").read()"),
                None => format!("open(\"{ca}\", \"rb\").read()"),
            };
            format!("import grpc; channel = grpc.secure_channel(\"{hp}\", grpc.ssl_channel_credentials({creds})); grpc.channel_ready_future(channel).result(timeout=10)")
        }
        ("curl", None) => format!("curl --cacert {ca}{} https://{hp}/", l.curl_flags),
        ("curl", Some((c, k))) => format!(
            "curl --cacert {ca} --cert {c} --key {k}{} https://{hp}/",
            l.curl_flags
        ),
        ("Go crypto/tls", id) => {
            let cert = match id {
                Some((c, k)) => format!(" pair, err := tls.LoadX509KeyPair(\"{c}\", \"{k}\"); if err != nil {{ panic(err) }}; cfg.Certificates = []tls.Certificate{{pair}};"),
                None => String::new(),
            };
            format!("package main; import (\"crypto/tls\"; \"crypto/x509\"; \"os\"); func main() {{ pool := x509.NewCertPool(); pem, err := os.ReadFile(\"{ca}\"); if err != nil {{ panic(err) }}; pool.AppendCertsFromPEM(pem); cfg := &tls.Config{{RootCAs: pool}};{cert} conn, err := tls.Dial(\"tcp\", \"{hp}\", cfg); if err != nil {{ panic(err) }}; conn.Close() }}")
        }
        (_, id) => {
            let (auth, key_type) = match id {
                Some((c, k)) => (format!(".with_client_auth_cert(CertificateDer::pem_file_iter(\"{c}\")?.collect::<Result<Vec<_>, _>>()?, PrivateKeyDer::from_pem_file(\"{k}\")?)?"), ", PrivateKeyDer"),
                None => (".with_no_client_auth()".to_string(), ""),
            };
            format!("use rustls::pki_types::{{pem::PemObject, CertificateDer{key_type}}}; let mut roots = rustls::RootCertStore::empty(); roots.add_parsable_certificates(CertificateDer::pem_file_iter(\"{ca}\")?.flatten()); let config = rustls::ClientConfig::builder().with_root_certificates(roots){auth};")
        }
    }
}

/// Everything the predictions need from the trust stage.
pub struct Input<'a> {
    /// The chain's names ([`chain_names`]).
    pub names: Vec<ChainName>,
    pub facts: &'a [CertFacts],
    pub name: Option<&'a str>,
    pub defects: Defects,
    /// The CA file the line should name (the user's `--ca`, absolute; else the first fix's file).
    pub lines: Lines<'a>,
    /// The user gave `--ca`: "with the CA" is judged against it, not assumed.
    pub user_ca: Option<&'a TrustSource>,
    /// Each source's webpki verdict: a trust failure it names (`incomplete_chain`) is kept.
    pub verdicts: &'a crate::checks::trust::Verdicts,
    /// The environment: a variable's value by name.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub security_level: u8,
    /// The judging time.
    pub at: time::OffsetDateTime,
    /// The client certificate the user gave (`--cert`), which the lines then name.
    pub have_identity: bool,
}

/// The anchors of a store a variable names (`REQUESTS_CA_BUNDLE=/path`): `None` when it cannot be read.
/// Read once per process and path: a bundle such as `/etc/ssl/certs/ca-certificates.crt` holds well over a
/// hundred roots, and every check would otherwise parse it again for each client.
fn anchors_of(path: &str) -> Option<std::sync::Arc<Vec<TrustAnchor<'static>>>> {
    type Cache =
        std::collections::HashMap<String, Option<std::sync::Arc<Vec<TrustAnchor<'static>>>>>;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok()?.get(path) {
        return hit.clone();
    }
    // Only the anchors: the facts `--ca` files get are not needed here.
    let anchors = crate::pki::sources::read_certificates(Path::new(path), "--ca")
        .ok()
        .map(|certs| {
            let anchors: Vec<TrustAnchor<'static>> = certs
                .iter()
                .filter_map(|der| {
                    webpki::anchor_from_trusted_cert(der)
                        .ok()
                        .map(|a| a.to_owned())
                })
                .collect();
            std::sync::Arc::new(anchors)
        });
    if let Ok(mut c) = cache.lock() {
        c.insert(path.to_string(), anchors.clone());
    }
    anchors
}

/// Each client's default-trust outcome, with-the-CA outcome and line.
pub fn predict(sources: &TrustSources, input: &Input<'_>) -> Vec<ClientAdvice> {
    PROFILES
        .iter()
        .map(|p| predict_one(p, sources, input))
        .collect()
}

/// A trust failure named as the same source's check names it (its webpki verdict), so the clients section
/// never contradicts a `trust.*` check; `incomplete_chain` only that verdict can tell.
fn named(input: &Input<'_>, kind: SourceKind, a: Anchored) -> Anchored {
    use crate::checks::trust::Verdict;
    match (a, input.verdicts.of(kind)) {
        (
            Err(_),
            Some(Verdict::Rejected(
                code @ (Code::IncompleteChain
                | Code::SelfSigned
                | Code::UnknownIssuer
                | Code::ChainLoop),
            )),
        ) => Err(code),
        (a, _) => a,
    }
}

/// The client's default trust in words, and whether it anchors the chain: the variable that replaces its
/// roots when set, else its store.
fn default_trust(p: &Profile, sources: &TrustSources, input: &Input<'_>) -> (String, Anchored) {
    let set = p
        .variable
        .iter()
        .find_map(|v| (input.env)(v).filter(|x| !x.is_empty()).map(|x| (*v, x)));
    match &set {
        Some((var, path)) => match anchors_of(path) {
            Some(store) => (
                format!("{var}={path}"),
                anchored(&input.names, &store, input.facts),
            ),
            None => (
                format!("{var}={path} (unreadable)"),
                Err(Code::UnknownIssuer),
            ),
        },
        None => {
            let a = match sources.get(p.default_store) {
                Some(s) if !s.deferred => anchored(&input.names, &s.anchors, input.facts),
                _ => Err(Code::UnknownIssuer),
            };
            (p.trust_words.to_string(), named(input, p.default_store, a))
        }
    }
}

/// Whether the CA file anchors the chain (your `--ca`; without one, the first fix's file is assumed to,
/// unless an intermediate is missing), and the defects with it: an anchor of the file that has expired.
fn ca_trust(input: &Input<'_>) -> (Anchored, Defects) {
    let mut defects = input.defects.clone();
    let Some(ca) = input.user_ca else {
        let incomplete = input
            .verdicts
            .0
            .iter()
            .any(|(_, v)| *v == crate::checks::trust::Verdict::Rejected(Code::IncompleteChain));
        let a = if incomplete {
            Err(Code::IncompleteChain)
        } else {
            Ok(())
        };
        return (a, defects);
    };
    let a = named(
        input,
        SourceKind::Custom,
        anchored(&input.names, &ca.anchors, input.facts),
    );
    if let Some(top) = input.facts.last() {
        let expired = |c: &crate::pki::sources::CaCert| {
            time::OffsetDateTime::parse(
                &c.not_after,
                &time::format_description::well_known::Rfc3339,
            )
            .is_ok_and(|t| t < input.at)
        };
        let anchors = || {
            ca.files
                .iter()
                .flat_map(|f| &f.certificates)
                .filter(|c| c.subject == top.issuer || c.subject == top.subject)
        };
        defects.expired_root |= anchors().any(expired);
        if let Some(bits) = anchors().filter_map(|c| c.weak_rsa_bits).min() {
            defects.weak_rsa = Some(defects.weak_rsa.map_or(bits, |b| b.min(bits)));
        }
        defects.weak_root_key = anchors()
            .find(|c| c.weak_rsa_bits.is_none())
            .and_then(|c| c.weak_key.clone());
        defects.root_critical_extension = anchors()
            .find_map(|c| c.unknown_critical.first().cloned())
            .or(defects.root_critical_extension);
    }
    (a, defects)
}

fn predict_one(p: &Profile, sources: &TrustSources, input: &Input<'_>) -> ClientAdvice {
    let d = &input.defects;
    let level = input.security_level;
    let (trust_words, default_anchored) = default_trust(p, sources, input);
    let default = decide(p.engine, default_anchored, d, level, false);
    let (ca_anchored, ca_defects) = ca_trust(input);
    let identity = input.have_identity || d.client_cert_required;
    let with_ca = decide(p.engine, ca_anchored, &ca_defects, level, identity);
    // A missing intermediate: no CA file of the root alone helps, but one that holds the intermediate too
    // does, until the server sends it.
    let bundle = Lines {
        ca: "chain-bundle.pem",
        ..input.lines
    };
    let line = match (with_ca.works, with_ca.code) {
        // Connecting to a revoked certificate is the danger, not a setting to recommend.
        (true, Some(Code::Revoked)) => None,
        (true, _) => Some(make_it_work(p.client, &input.lines)),
        (false, Some(Code::IncompleteChain)) => Some(make_it_work(p.client, &bundle)),
        _ => None,
    };
    let note = note(p, &default, &with_ca, input);
    ClientAdvice {
        client: p.client.to_string(),
        default_trust: trust_words,
        works: default.works,
        note,
        make_it_work: if default.works { None } else { line },
        engine: Some(p.engine.name().to_string()),
        default: Some(default.into_outcome()),
        with_ca: Some(with_ca.into_outcome()),
    }
}

fn note(p: &Profile, default: &Decision, with_ca: &Decision, input: &Input<'_>) -> String {
    let which = if input.user_ca.is_some() {
        "your --ca file"
    } else {
        "the certificate or CA (first fix)"
    };
    if default.works {
        return format!("{} with its default trust", default.why);
    }
    // A trust failure is said by its code (the trust checks above explain it); another rule in words.
    let first = match default.code {
        Some(c) if default.rule == "trust" => format!("fails by default ({c})"),
        Some(c) => format!("fails by default ({c}: {})", default.why),
        None => "fails by default".to_string(),
    };
    if with_ca.works && with_ca.rule == "revoked" {
        format!("{first}; with {which} it {}", with_ca.why)
    } else if with_ca.works {
        let id = if input.defects.client_cert_required {
            " and the client certificate"
        } else {
            ""
        };
        format!("{first}; works with {which}{id}")
    } else if with_ca.code == Some(Code::IncompleteChain) {
        format!("{first}; the server must send its intermediate: until it does, give the client a CA file holding the intermediate and the root (`cat intermediate.pem root.pem > chain-bundle.pem`)")
    } else {
        let c = with_ca.code.map(|c| c.to_string()).unwrap_or_default();
        let _ = p;
        format!("{first}; with {which} still fails ({c}: {}): no client setting fixes that, the server must change", with_ca.why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defects() -> Defects {
        Defects {
            alpn_h2: Some(true),
            ..Defects::default()
        }
    }

    /// Each engine's outcome on a trusted chain with `d`: requests, curl, grpcio, Go, rustls.
    fn works(d: &Defects) -> Vec<bool> {
        let ssl = Engine::OpenSsl { cn_fallback: false };
        let curl = Engine::OpenSsl { cn_fallback: true };
        [ssl, curl, Engine::BoringSsl, Engine::Go, Engine::Rustls]
            .iter()
            .map(|e| decide(*e, Ok(()), d, 2, false).works)
            .collect()
    }

    #[test]
    fn each_engine_by_its_own_rules() {
        assert_eq!(
            works(&Defects {
                ca_leaf: true,
                ..defects()
            }),
            [true, true, true, true, false]
        );
        assert_eq!(
            works(&Defects {
                cn_only: true,
                ..defects()
            }),
            [false, true, true, false, false]
        );
        assert_eq!(
            works(&Defects {
                weak_rsa: Some(1024),
                ..defects()
            }),
            [false, false, true, true, false]
        );
        assert_eq!(
            works(&Defects {
                sha1: true,
                ..defects()
            }),
            [false, false, true, false, false]
        );
        assert_eq!(
            works(&Defects {
                ip_as_dns: true,
                ..defects()
            }),
            [false, false, true, false, false]
        );
        assert_eq!(
            works(&Defects {
                expired_root: true,
                ..defects()
            }),
            [false, false, false, false, true]
        );
        assert_eq!(
            works(&Defects {
                alpn_h2: Some(false),
                ..defects()
            }),
            [true, true, false, true, true]
        );
        assert_eq!(
            works(&Defects {
                client_cert_required: true,
                ..defects()
            }),
            [false; 5]
        );
    }

    #[test]
    fn what_each_engine_negotiates() {
        let dhe = Negotiation {
            dhe: true,
            ..Negotiation::default()
        };
        assert_eq!(
            works(&Defects {
                negotiates: Some(dhe),
                ..defects()
            }),
            [true, true, false, false, false]
        );
        let rsa = Negotiation {
            static_rsa: true,
            ..Negotiation::default()
        };
        assert_eq!(
            works(&Defects {
                negotiates: Some(rsa),
                ..defects()
            }),
            [false, true, false, false, false]
        );
        let old = Negotiation {
            legacy_only: true,
            ..Negotiation::default()
        };
        assert_eq!(
            works(&Defects {
                negotiates: Some(old),
                ..defects()
            }),
            [false; 5]
        );
        let d = decide(Engine::Go, Err(Code::SelfSigned), &defects(), 2, false);
        assert_eq!(
            (d.works, d.rule, d.code),
            (false, "trust", Some(Code::SelfSigned))
        );
    }

    #[test]
    fn what_the_server_offers_names_the_code() {
        let n = |f: fn(&mut Negotiation)| {
            let mut n = Negotiation {
                answered: true,
                ..Negotiation::default()
            };
            f(&mut n);
            n.code()
        };
        assert_eq!(n(|n| n.dhe = true), Code::DheOnly);
        assert_eq!(n(|n| n.static_rsa = true), Code::StaticRsaOnly);
        assert_eq!(n(|n| n.ecdhe_cbc = true), Code::CbcOnly);
        assert_eq!(n(|n| n.legacy_only = true), Code::LegacyTlsOnly);
        assert_eq!(n(|_| {}), Code::NoSharedCipher);
        // A server that never answered in TLS shares no cipher only as far as anyone knows.
        assert_eq!(Negotiation::default().code(), Code::TlsHandshakeFailed);
        let d = decide(
            Engine::Rustls,
            Ok(()),
            &Defects {
                negotiates: Some(Negotiation {
                    dhe: true,
                    answered: true,
                    ..Negotiation::default()
                }),
                ..defects()
            },
            2,
            false,
        );
        assert_eq!((d.works, d.code), (false, Some(Code::DheOnly)));
    }
}
