//! Trust sources, loaded once per run: the bundled Mozilla roots, the system store, the user's `--ca` files,
//! and SHA-256 pins. Loading is input reading: an unreadable `--ca` is a usage error (exit 2) naming the file.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, TrustAnchor};
use serde::Serialize;

use crate::pki::facts::{inspect, sha256_fingerprint};

/// Which kind of trust a source stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `--ca` files: what the user chose.
    Custom,
    /// `--pin-sha256`: a certificate in the chain must have this fingerprint.
    Pin,
    /// webpki-roots: the Mozilla roots that certifi, grpcio and webpki-roots clients use.
    Mozilla,
    /// The operating system's store (rustls-native-certs; `SSL_CERT_FILE`, `SSL_CERT_DIR`).
    System,
}

impl SourceKind {
    pub fn check_id(self) -> &'static str {
        match self {
            SourceKind::Custom => "trust.custom",
            SourceKind::Pin => "trust.pin",
            SourceKind::Mozilla => "trust.mozilla",
            SourceKind::System => "trust.system",
        }
    }

    /// Chosen by the user, as opposed to a default store.
    pub fn is_chosen(self) -> bool {
        matches!(self, SourceKind::Custom | SourceKind::Pin)
    }
}

/// One certificate found in a `--ca` file.
#[derive(Debug, Clone, Serialize)]
pub struct CaCert {
    pub subject: String,
    pub sha256: String,
    pub is_ca: Option<bool>,
    pub self_signed: bool,
    /// The end of its validity (RFC 3339): clients other than rustls refuse an expired anchor.
    pub not_after: String,
    /// Extensions marked critical that no client knows (their OIDs): OpenSSL and Go refuse such an anchor.
    pub unknown_critical: Vec<String>,
    /// A key clients refuse (RSA under 2048 bits, DSA, a curve other than P-256/384/521).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weak_key: Option<String>,
    /// Its RSA key's size when under 2048 bits (clients differ on 1024).
    #[serde(skip)]
    pub weak_rsa_bits: Option<u32>,
}

impl CaCert {
    /// What clients judge of an anchor: its dates, unknown critical extensions, its key.
    fn of(f: crate::pki::facts::CertFacts, der: &[u8]) -> CaCert {
        let weak = crate::pki::shape::certificate_key_weakness(der);
        CaCert {
            subject: f.subject,
            sha256: f.sha256,
            is_ca: f.is_ca,
            self_signed: f.self_signed,
            not_after: f.not_after,
            unknown_critical: unknown_critical(der),
            weak_key: weak.as_ref().map(|w| w.to_string()),
            weak_rsa_bits: match weak {
                Some(crate::pki::shape::Weakness::Rsa(bits)) => Some(bits),
                _ => None,
            },
        }
    }
}

/// One `--ca` file and what was in it.
#[derive(Debug, Clone, Serialize)]
pub struct CaFile {
    pub path: PathBuf,
    pub certificates: Vec<CaCert>,
}

/// A loaded trust source.
#[derive(Debug, Clone)]
pub struct TrustSource {
    pub kind: SourceKind,
    /// For people: `the Mozilla roots (146 roots, ...)`.
    pub label: String,
    /// Short, for sentences: `the Mozilla roots`.
    pub name: &'static str,
    pub anchors: Vec<TrustAnchor<'static>>,
    /// `--ca` files (custom only).
    pub files: Vec<CaFile>,
    /// Pinned fingerprints, normalised to `AB:CD:...` (pin only).
    pub pins: Vec<String>,
    /// Where the system store came from, and what could not be read (system only).
    pub origin: Option<String>,
    pub load_errors: Vec<String>,
    /// The system store not read yet: `TrustSources::resolved` reads it when a chain is judged.
    pub deferred: bool,
}

impl TrustSource {
    fn new(kind: SourceKind, label: String, anchors: Vec<TrustAnchor<'static>>) -> TrustSource {
        let name = match kind {
            SourceKind::Custom => "your --ca",
            SourceKind::Pin => "your pin",
            SourceKind::Mozilla => "the Mozilla roots",
            SourceKind::System => "the system store",
        };
        TrustSource {
            kind,
            label,
            name,
            anchors,
            files: vec![],
            pins: vec![],
            origin: None,
            load_errors: vec![],
            deferred: false,
        }
    }

    /// The source ready to judge with: a deferred system store is read now (once per process). Whoever
    /// reads `anchors` or `label` of a source taken from `TrustSources::load` goes through this or
    /// `TrustSources::resolved`.
    pub fn loaded(&self) -> &TrustSource {
        if self.deferred {
            system_store()
        } else {
            self
        }
    }

    /// Raw subject names (DER value, no tag) of every anchor, for "who else trusts this issuer" questions.
    pub fn has_subject(&self, subject_value: &[u8]) -> bool {
        self.anchors
            .iter()
            .any(|a| a.subject.as_ref() == subject_value)
    }
}

/// The bundled Mozilla roots.
pub fn mozilla() -> TrustSource {
    let anchors: Vec<TrustAnchor<'static>> = webpki_roots::TLS_SERVER_ROOTS.to_vec();
    let label = format!(
        "the Mozilla roots ({} roots, as bundled by certifi, grpcio and webpki-roots)",
        anchors.len()
    );
    TrustSource::new(SourceKind::Mozilla, label, anchors)
}

/// The system store, honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`: read once per process, when first asked.
pub fn system() -> TrustSource {
    system_store().clone()
}

/// The system store, read once per process.
fn system_store() -> &'static TrustSource {
    static SYSTEM: std::sync::OnceLock<TrustSource> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(read_system)
}

/// A stand-in for the system store until a chain is judged: a run that stops before the trust stage
/// (refused port, no DNS answer) never reads it.
fn system_deferred() -> TrustSource {
    let mut s = TrustSource::new(
        SourceKind::System,
        "the system store (read when a chain is judged)".into(),
        vec![],
    );
    s.deferred = true;
    s
}

fn read_system() -> TrustSource {
    let result = rustls_native_certs::load_native_certs();
    let mut anchors = Vec::new();
    let mut errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
    let mut bad = 0usize;
    for der in &result.certs {
        match webpki::anchor_from_trusted_cert(der) {
            Ok(a) => anchors.push(a.to_owned()),
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        errors.push(format!(
            "{bad} certificates in the store could not be used as roots"
        ));
    }
    let origin = match (
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR"),
    ) {
        (Some(f), Some(d)) => format!(
            "SSL_CERT_FILE={} and SSL_CERT_DIR={}",
            Path::new(&f).display(),
            Path::new(&d).display()
        ),
        (Some(f), None) => format!("SSL_CERT_FILE={}", Path::new(&f).display()),
        (None, Some(d)) => format!("SSL_CERT_DIR={}", Path::new(&d).display()),
        (None, None) => "the operating system's default locations".to_string(),
    };
    let label = format!("the system store ({} roots from {origin})", anchors.len());
    let mut s = TrustSource::new(SourceKind::System, label, anchors);
    s.origin = Some(origin);
    s.load_errors = errors;
    s
}

/// Why a certificate file (`--ca`, `--chain`, `--cert`) or a `--pin-sha256` was refused: a usage error naming
/// the flag and the file or value.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{flag} {path}: {reason}")]
    Unreadable {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{flag} {path}: no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----` blocks or one DER certificate)")]
    NoCertificate { flag: &'static str, path: PathBuf },
    #[error("--ca {path}: the certificate `{subject}` cannot be used as a trust anchor")]
    BadAnchor { path: PathBuf, subject: String },
    #[error("--pin-sha256 `{value}`: expected 64 hexadecimal digits (colons allowed), as `openssl x509 -noout -fingerprint -sha256` prints them")]
    BadPin { value: String },
}

fn io_reason(e: &std::io::Error) -> String {
    crate::errors::io_words(e)
}

/// The OIDs of the extensions of `der` that are critical and unknown to x509-parser (and so to clients).
pub fn unknown_critical(der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    cert.extensions()
        .iter()
        .filter(|e| {
            e.critical
                && matches!(
                    e.parsed_extension(),
                    ParsedExtension::UnsupportedExtension { .. }
                )
        })
        .map(|e| e.oid.to_id_string())
        .collect()
}

/// Reads every certificate in a PEM bundle or a DER file given with `flag`.
pub fn read_certificates(
    path: &Path,
    flag: &'static str,
) -> Result<Vec<CertificateDer<'static>>, SourceError> {
    let bytes =
        crate::local::read(path, crate::local::SMALL).map_err(|e| SourceError::Unreadable {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let pem: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if !pem.is_empty() {
        return Ok(pem);
    }
    // Not PEM: one DER certificate (a SEQUENCE) that x509-parser accepts.
    if bytes.first() == Some(&0x30) {
        use x509_parser::prelude::FromDer;
        if x509_parser::certificate::X509Certificate::from_der(&bytes).is_ok() {
            return Ok(vec![CertificateDer::from(bytes)]);
        }
    }
    Err(SourceError::NoCertificate {
        flag,
        path: path.to_path_buf(),
    })
}

/// The `--ca` files (each a PEM bundle, a DER certificate, or a folder of them), as one source.
pub fn custom(paths: &[PathBuf]) -> Result<TrustSource, SourceError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| SourceError::Unreadable {
                    flag: "--ca",
                    path: path.clone(),
                    reason: format!("cannot read it: {}", io_reason(&e)),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                        matches!(
                            x.to_ascii_lowercase().as_str(),
                            "pem" | "crt" | "cer" | "der"
                        )
                    })
                })
                .collect();
            entries.sort();
            let before = files.len();
            for p in entries {
                files.push((p.clone(), read_certificates(&p, "--ca")?));
            }
            if files.len() == before {
                return Err(SourceError::NoCertificate {
                    flag: "--ca",
                    path: path.clone(),
                });
            }
        } else {
            files.push((path.clone(), read_certificates(path, "--ca")?));
        }
    }
    let mut anchors = Vec::new();
    let mut described = Vec::new();
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    for (path, certs) in files {
        let mut listed = Vec::new();
        for der in &certs {
            let f = inspect(0, der.as_ref(), epoch);
            let anchor =
                webpki::anchor_from_trusted_cert(der).map_err(|_| SourceError::BadAnchor {
                    path: path.clone(),
                    subject: f.subject.clone(),
                })?;
            anchors.push(anchor.to_owned());
            listed.push(CaCert::of(f, der.as_ref()));
        }
        described.push(CaFile {
            path,
            certificates: listed,
        });
    }
    let names: Vec<String> = described
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let label = format!(
        "your --ca {} ({})",
        if names.len() == 1 { "file" } else { "files" },
        names.join(", ")
    );
    let mut s = TrustSource::new(SourceKind::Custom, label, anchors);
    s.files = described;
    Ok(s)
}

/// Normalises a SHA-256 fingerprint: `ab:cd...` or `ABCD...` → `AB:CD:...`.
pub fn normalize_pin(value: &str) -> Result<String, SourceError> {
    let v = value.trim();
    let v = v
        .strip_prefix("sha256:")
        .or_else(|| v.strip_prefix("SHA256:"))
        .unwrap_or(v);
    let hex: String = v.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(SourceError::BadPin {
            value: value.to_string(),
        });
    }
    let upper = hex.to_ascii_uppercase();
    Ok(upper
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":"))
}

pub fn pins(values: &[String]) -> Result<TrustSource, SourceError> {
    let pins = values
        .iter()
        .map(|v| normalize_pin(v))
        .collect::<Result<Vec<_>, _>>()?;
    let label = format!(
        "your --pin-sha256 ({})",
        pins.iter()
            .map(|p| format!("{}…", &p[..11]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut s = TrustSource::new(SourceKind::Pin, label, vec![]);
    s.pins = pins;
    Ok(s)
}

/// Every source of a run, in report order: the user's choices first, then the default stores.
#[derive(Debug, Clone, Default)]
pub struct TrustSources {
    pub sources: Vec<TrustSource>,
}

impl TrustSources {
    /// Loads what the options name. The system store is read from disk later, once per process, when the
    /// first chain is judged (see `resolved`).
    pub fn load(ca: &[PathBuf], pin_values: &[String]) -> Result<TrustSources, SourceError> {
        let mut sources = Vec::new();
        if !ca.is_empty() {
            sources.push(custom(ca)?);
        }
        if !pin_values.is_empty() {
            sources.push(pins(pin_values)?);
        }
        sources.push(mozilla());
        sources.push(system_deferred());
        Ok(TrustSources { sources })
    }

    /// Every source ready to judge: a deferred system store is read now (once per process).
    pub fn resolved(&self) -> std::borrow::Cow<'_, TrustSources> {
        if !self.sources.iter().any(|s| s.deferred) {
            return std::borrow::Cow::Borrowed(self);
        }
        let sources = self.sources.iter().map(|s| s.loaded().clone()).collect();
        std::borrow::Cow::Owned(TrustSources { sources })
    }

    pub fn get(&self, kind: SourceKind) -> Option<&TrustSource> {
        self.sources.iter().find(|s| s.kind == kind)
    }
}

/// The SHA-256 of a certificate, for pins.
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    sha256_fingerprint(der.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_normalise() {
        let hex = "ab".repeat(32);
        let want = vec!["AB"; 32].join(":");
        assert_eq!(normalize_pin(&hex).expect("hex"), want);
        assert_eq!(normalize_pin(&want.to_lowercase()).expect("colons"), want);
        assert_eq!(
            normalize_pin(&format!("sha256:{hex}")).expect("prefix"),
            want
        );
        assert!(normalize_pin("abcd").is_err());
        assert!(normalize_pin(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn unreadable_and_empty_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let e = custom(std::slice::from_ref(&missing)).expect_err("missing");
        assert!(
            e.to_string().contains("missing.pem") && e.to_string().contains("cannot read"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = custom(&[empty]).expect_err("empty");
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = custom(&[dir.path().join("nothing-here")]).expect_err("dir");
        assert!(e.to_string().contains("nothing-here"), "{e}");
    }

    #[test]
    fn system_store_is_read_when_resolved() {
        let loaded = TrustSources::load(&[], &[]).expect("load");
        let system = loaded.get(SourceKind::System).expect("listed");
        assert!(system.deferred && system.anchors.is_empty());
        let resolved = loaded.resolved();
        let system = resolved.get(SourceKind::System).expect("listed");
        assert!(!system.deferred);
        assert!(system.label.starts_with("the system store ("));
        assert!(system.origin.is_some());
        let direct = loaded.get(SourceKind::System).expect("listed").loaded();
        assert!(!direct.deferred && direct.label == system.label);
        // Already resolved: no copy.
        assert!(matches!(resolved.resolved(), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn mozilla_has_roots() {
        assert!(mozilla().anchors.len() > 100);
    }
}
