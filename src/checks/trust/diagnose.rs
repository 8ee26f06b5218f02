//! Why a trust source rejected the chain, and what to do: our own reading of the parsed chain explains
//! webpki's verdict ([`crate::pki::judge`]) — which certificate, which name, which date — and writes the
//! code and the fix; warnings on a chain that passed.

use std::net::IpAddr;

use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::codes::Code;
use crate::duration::rfc3339;
use crate::pki::facts::CertFacts;
use crate::pki::judge::{der_value, PathInfo};
use crate::pki::sources::{SourceKind, TrustSource};
use crate::target::Product;

use super::defects;

/// Certificates valid for longer than this are refused by Apple platforms and browsers.
pub const MAX_LEAF_DAYS: i64 = 825;

/// What the diagnosis needs besides the chain.
pub struct Case<'a> {
    pub chain: &'a [CertificateDer<'static>],
    pub facts: &'a [CertFacts],
    /// The name or address the client asks for, if any.
    pub name: Option<&'a str>,
    pub at: OffsetDateTime,
    /// `at` is the user's `--at`, not this machine's clock.
    pub at_chosen: bool,
    pub source: &'a TrustSource,
    /// The other sources of the run (to tell "not in this store" from "nowhere").
    pub others: Vec<&'a TrustSource>,
    pub product: Product,
    /// `host:port` as the user would type it again, or `None` offline.
    pub authority: Option<String>,
    /// The commands to suggest, with the user's connection options; `None` offline.
    pub again: Option<Again>,
    pub warn_days: i64,
    /// The server's clock, when it was read.
    pub server_date: Option<OffsetDateTime>,
}

/// The commands a fix tells the user to run again, made from the validated configuration
/// (`CheckConfig::check_again`, `chain_again`, `connection_flags`): they keep `--resolve`, `--sni`, the proxy,
/// `-4`/`-6`, the ports, the deadlines and a tenant path, so followed literally they reach the same server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Again {
    /// `preflight check TARGET --product P FLAGS`.
    pub check: String,
    /// `preflight chain HOST:PORT FLAGS`.
    pub chain: String,
    /// ` --resolve ... --sni ...`: the connection options alone.
    pub flags: String,
    /// The options curl shares with preflight (`--resolve`, `--proxy`, `--noproxy`, `-4`, `-6`).
    pub curl: String,
}

impl Again {
    pub fn of(cfg: &crate::config::CheckConfig) -> Again {
        Again {
            check: cfg.check_again(),
            chain: cfg.chain_again(),
            flags: cfg.connection_flags(),
            curl: cfg.curl_flags(),
        }
    }
}

/// One reason, with its evidence and fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub summary: String,
    pub fix: String,
}

pub(super) fn finding(code: Code, summary: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        code,
        summary: summary.into(),
        fix: fix.into(),
    }
}

fn days_phrase(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day".to_string(),
        d => format!("{d} days"),
    }
}

fn date_of(ts: &str) -> &str {
    ts.split('T').next().unwrap_or(ts)
}

impl Case<'_> {
    fn leaf(&self) -> Option<&CertFacts> {
        self.facts.first()
    }

    pub(super) fn label(&self, f: &CertFacts) -> String {
        let role = if f.index == 0 {
            "the server certificate"
        } else {
            "the chain certificate"
        };
        if f.common_name.is_none() && f.subject.is_empty() {
            return format!("{role} #{}", f.index);
        }
        format!("{role} {} (#{})", f.short_name(), f.index)
    }

    /// `preflight check HOST:PORT --product P` for fixes, or the verify form offline.
    fn again(&self, extra: &str) -> String {
        match &self.again {
            Some(a) => format!("{}{extra}", a.check),
            None => format!("preflight verify --chain CHAIN.pem{extra}"),
        }
    }

    fn chain_cmd(&self, file: &str) -> String {
        match &self.again {
            Some(a) => format!("{} --save {file}", a.chain),
            None => format!("take it from your chain file into {file}"),
        }
    }

    /// Subject (DER value) of a certificate's issuer and subject, parsed from the chain.
    pub(super) fn names(&self, index: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        use x509_parser::prelude::FromDer;
        let der = self.chain.get(index)?;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der.as_ref()).ok()?;
        Some((
            der_value(cert.subject().as_raw()).to_vec(),
            der_value(cert.issuer().as_raw()).to_vec(),
        ))
    }

    /// Whether the key of certificate `issuer` verifies the signature on certificate `index`.
    fn signed_by(&self, index: usize, issuer: usize) -> bool {
        use x509_parser::prelude::FromDer;
        let parse = |i: usize| {
            self.chain.get(i).and_then(|d| {
                x509_parser::certificate::X509Certificate::from_der(d.as_ref())
                    .ok()
                    .map(|(_, c)| c)
            })
        };
        match (parse(index), parse(issuer)) {
            (Some(c), Some(i)) => c.verify_signature(Some(i.public_key())).is_ok(),
            _ => false,
        }
    }

    /// Follows issuer names from the leaf through the certificates sent; returns the path's indices.
    pub(super) fn sent_path(&self) -> Vec<usize> {
        // Each certificate's names parsed once (the walk looks at every certificate at every step).
        let names: Vec<Option<(Vec<u8>, Vec<u8>)>> =
            (0..self.chain.len()).map(|i| self.names(i)).collect();
        let mut path = vec![0];
        let mut current = 0;
        while let Some((subject, issuer)) = names.get(current).cloned().flatten() {
            // A self-signed root ends the path; a self-issued CA (re-keyed) goes on to its old certificate.
            if subject == issuer && self.facts.get(current).is_none_or(|f| f.self_signed) {
                break;
            }
            // Of the certificates with the issuer's name, the one whose key signed this one (a CA re-keyed
            // under its own name sends two); else the first.
            let named: Vec<usize> = (0..self.chain.len())
                .filter(|i| !path.contains(i))
                .filter(|i| names[*i].as_ref().is_some_and(|(s, _)| *s == issuer))
                .collect();
            let next = named
                .iter()
                .copied()
                .find(|i| self.signed_by(current, *i))
                .or(named.first().copied());
            match next {
                Some(n) => {
                    path.push(n);
                    current = n;
                }
                None => break,
            }
        }
        path
    }
}

/// Explains why `case.source` rejected the chain.
pub fn diagnose(err: &webpki::Error, case: &Case<'_>) -> Finding {
    use webpki::Error as E;
    let Some(leaf) = case.leaf() else {
        return finding(
            Code::EmptyChain,
            "no certificate to judge",
            "Configure a certificate on the server",
        );
    };
    let signature = matches!(
        err,
        E::UnsupportedSignatureAlgorithmContext(_)
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            | E::SignatureAlgorithmMismatch
            | E::InvalidSignatureForPublicKey
    );
    // What webpki reports as a signature that fails, an unknown issuer or a path too long may be a key no
    // client verifies with, a CA re-keyed under its own name, or an anchor that merely shares the name.
    if signature || matches!(err, E::UnknownIssuer | E::PathLenConstraintViolated) {
        let found = defects::weak_key_on_path(case)
            .or_else(|| defects::self_issued(case))
            .or_else(|| signature.then(|| same_name_other_key(case, leaf)).flatten());
        if let Some(f) = found {
            return f;
        }
    }
    match err {
        E::CertExpired { not_after, .. } => expired(case, not_after.as_secs()),
        E::InvalidCertValidity => expired(case, 0),
        E::CertNotValidYet { not_before, .. } => not_yet_valid(case, not_before.as_secs()),
        E::CertNotValidForName(_) => name_mismatch(case, leaf),
        E::UnknownIssuer => unknown_issuer(case, leaf),
        E::CaUsedAsEndEntity => ca_used_as_leaf(case, leaf),
        E::RequiredEkuNotFoundContext(_) => {
            let bad = case.facts.iter().find(|f| !f.extended_key_usage.is_empty() && !f.extended_key_usage.iter().any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage")).unwrap_or(leaf);
            missing_eku(case, bad)
        }
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => {
            let weak = case.facts.iter().find(|f| is_weak_signature(&f.signature_algorithm));
            match weak {
                Some(f) => weak_signature(case, f),
                None if matches!(err, E::SignatureAlgorithmMismatch) => finding(
                    Code::Other,
                    "a certificate names one signature algorithm in its signed part and another outside it: it is malformed".to_string(),
                    "Reissue the certificate from the CA; the tool that wrote it is broken".to_string(),
                ),
                None => finding(
                    Code::Other,
                    "a certificate in the chain uses a signature algorithm this client does not support".to_string(),
                    "Reissue the chain with ECDSA P-256/P-384 or RSA (2048+) and SHA-256".to_string(),
                ),
            }
        }
        E::InvalidSignatureForPublicKey => bad_signature(case),
        E::PathLenConstraintViolated => path_too_long(case),
        other => structure(other, case).unwrap_or_else(|| finding(Code::Other, format!("the chain is not valid: {}", other_words(other)), "Compare with `openssl verify -CAfile CA.pem -untrusted CHAIN.pem LEAF.pem`; reissue the chain from the CA".to_string())),
    }
}

/// The server presents a CA certificate as its own; when it sends its real certificate later, say so.
pub(super) fn ca_used_as_leaf(case: &Case<'_>, leaf: &CertFacts) -> Finding {
    let summary = format!(
        "{} is a CA certificate (basic constraints CA:TRUE) presented as the server's own: rustls, Go and other strict clients refuse it even when it is trusted",
        case.label(leaf)
    );
    if let Some(own) = defects::sent_for_name(case) {
        return finding(
            Code::CaUsedAsLeaf,
            format!(
                "{summary}; the certificate for {} is sent second (#{} {})",
                case.name.unwrap_or("the name"),
                own.index,
                own.short_name()
            ),
            defects::configure_the_sent_one(case, own),
        );
    }
    finding(
        Code::CaUsedAsLeaf,
        summary,
        format!(
            "Regenerate the server certificate as a non-CA certificate: `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj '/CN={cn}' -addext 'subjectAltName={san}' -addext 'basicConstraints=critical,CA:FALSE' -addext 'extendedKeyUsage=serverAuth' -keyout server.key -out server.crt`, install it, then trust the new certificate with --ca",
            cn = case.name.unwrap_or("HOST"),
            san = san_entry(case.name.unwrap_or("HOST")),
        ),
    )
}

fn missing_eku(case: &Case<'_>, bad: &CertFacts) -> Finding {
    finding(
        Code::MissingServerAuthEku,
        format!(
            "{} allows only {} (extended key usage), not serverAuth: it is not meant for a TLS server",
            case.label(bad),
            bad.extended_key_usage.join(", ")
        ),
        "Reissue the server certificate with extended key usage serverAuth (openssl: `-addext extendedKeyUsage=serverAuth`; a CA profile for TLS servers)".to_string(),
    )
}

/// The server certificate's extended key usage, when it leaves out serverAuth.
pub(super) fn eku_defect(case: &Case<'_>, leaf: &CertFacts) -> Option<Finding> {
    let eku = &leaf.extended_key_usage;
    let allowed = eku.is_empty()
        || eku
            .iter()
            .any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage");
    (!allowed).then(|| missing_eku(case, leaf))
}

pub(super) fn weak_signature(case: &Case<'_>, f: &CertFacts) -> Finding {
    finding(
        Code::WeakSignature,
        format!(
            "{} is signed with {} ({}), which current clients refuse",
            case.label(f),
            f.signature_algorithm,
            if f.signature_algorithm.to_ascii_lowercase().contains("md5") {
                "MD5"
            } else {
                "SHA-1"
            }
        ),
        format!(
            "Reissue {} signed with SHA-256 (openssl: `-sha256`)",
            f.short_name()
        ),
    )
}

/// The chain's structure: who may sign, for which names, with which extensions, how deep.
fn structure(err: &webpki::Error, case: &Case<'_>) -> Option<Finding> {
    use webpki::Error as E;
    Some(match err {
        E::EndEntityUsedAsCa => issuer_not_ca(case),
        E::NameConstraintViolation => finding(
            Code::NameConstraintViolation,
            format!(
                "a CA on the path has name constraints that forbid {}",
                case.name.map(|n| format!("`{n}`")).unwrap_or_else(|| "the server's name".into())
            ),
            "Issue the certificate from a CA allowed to certify that name (its permittedSubtrees), or widen the CA's constraints",
        ),
        E::UnsupportedCriticalExtension => critical_extension(case),
        E::MalformedExtensions | E::ExtensionValueInvalid | E::BadDer => {
            match defects::extension_defect(case) {
                Some(f) => f,
                None if matches!(err, E::BadDer) => return None,
                None => finding(
                    Code::MalformedExtension,
                    "a certificate on the chain has an extension that is not well formed",
                    "Reissue the certificate; check the tool or template that wrote its extensions",
                ),
            }
        }
        E::MalformedDnsIdentifier => defects::extension_defect(case).unwrap_or_else(|| finding(
            Code::MalformedExtension,
            "the server certificate's subjectAltName holds a dNSName that is not a DNS name",
            "Reissue the certificate with subjectAltName holding only DNS names and addresses",
        )),
        E::InvalidNetworkMaskConstraint | E::MalformedNameConstraint => {
            defects::malformed_name_constraints(case)
        }
        E::EmptyEkuExtension => finding(
            Code::EmptyEku,
            "a certificate has an extended key usage extension with no purpose in it",
            "Reissue it with extendedKeyUsage=serverAuth (or without the extension)",
        ),
        E::UnsupportedCertVersion => defects::v1_certificate(case).unwrap_or_else(|| finding(
            Code::NotV3,
            "a certificate on the chain is not X.509 version 3",
            "Reissue it as an X.509 v3 certificate (`openssl req -x509` writes v3; with `openssl x509 -req`, pass `-extfile`)",
        )),
        E::MaximumPathDepthExceeded => finding(
            Code::ChainTooLong,
            "the chain is deeper than clients follow",
            "Issue the server certificate closer to the root: fewer intermediates",
        ),
        _ => return None,
    })
}

fn other_words(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "a certificate is not valid DER".into(),
        E::PathLenConstraintViolated => {
            "the chain is longer than a CA's path length constraint allows".into()
        }
        E::NameConstraintViolation => "a CA's name constraints forbid the server's name".into(),
        E::MaximumPathDepthExceeded => "the chain is too long".into(),
        E::EndEntityUsedAsCa => "a non-CA certificate is used to sign another certificate".into(),
        E::UnsupportedCriticalExtension => {
            "a certificate has a critical extension clients do not understand".into()
        }
        E::UnsupportedCertVersion => "a certificate is not X.509 version 3".into(),
        E::EmptyEkuExtension => "a certificate has an empty extended key usage extension".into(),
        E::MalformedExtensions | E::ExtensionValueInvalid => {
            "a certificate has a malformed extension".into()
        }
        E::InvalidSerialNumber => "a certificate has an invalid serial number".into(),
        E::CertDistrusted => "a certificate in the chain is distrusted".into(),
        E::MaximumNameConstraintComparisonsExceeded => "checking the names against the CAs' name constraints takes more comparisons than clients allow (a guard against denial of service): too many names or constraints".into(),
        E::MaximumPathBuildCallsExceeded | E::MaximumSignatureChecksExceeded => "building a path takes more attempts than clients allow (a guard against denial of service): too many certificates with the same names".into(),
        other => format!("webpki refused it: {}", crate::net::tls::snake(&format!("{other:?}"))),
    }
}

pub fn is_weak_signature(alg: &str) -> bool {
    let a = alg.to_ascii_lowercase();
    a.contains("sha1") || a.contains("md5") || a.contains("md2")
}

pub(super) fn expired(case: &Case<'_>, not_after: u64) -> Finding {
    let f = case
        .facts
        .iter()
        .find(|f| {
            OffsetDateTime::parse(&f.not_after, &time::format_description::well_known::Rfc3339)
                .is_ok_and(|t| t.unix_timestamp() as u64 == not_after)
        })
        .or_else(|| case.facts.iter().find(|f| f.days_left < 0))
        .or(case.leaf());
    let Some(f) = f else {
        return finding(Code::Expired, "a certificate has expired", "Renew it");
    };
    let ends =
        OffsetDateTime::parse(&f.not_after, &time::format_description::well_known::Rfc3339).ok();
    if let (Some(Skew::Ahead(d)), Some(ends)) = (clock_skew(case), ends) {
        if case.at - d <= ends {
            return finding(
                Code::Expired,
                format!(
                    "{} looks expired ({}) only because this machine's clock is {} ahead of the server's (server Date {})",
                    case.label(f),
                    date_of(&f.not_after),
                    human_span(d),
                    rfc3339(case.at - d)
                ),
                "Fix this machine's clock: enable NTP (`timedatectl set-ntp true`; check with `chronyc tracking`)",
            );
        }
    }
    let ago = match -f.days_left {
        0 => "earlier that day".to_string(),
        d => format!("{} ago", days_phrase(d)),
    };
    let summary = format!(
        "{} expired on {} ({ago}; judged at {}{})",
        case.label(f),
        date_of(&f.not_after),
        date_of(&rfc3339(case.at)),
        if case.at_chosen {
            ", the time --at gave"
        } else {
            ""
        }
    );
    let fix = if f.index == 0 {
        match case.product {
            Product::Cvp => "Renew the CloudVision certificate (Settings > Certificates, or regenerate /etc/nginx/cvp.crt on the node), then trust the new one with --ca".to_string(),
            Product::Prisma => "Renew the Console certificate (Manage > Authentication > Certificates in the Console), or let the Console regenerate its own".to_string(),
            _ => "Renew the server certificate and install it where the server's TLS configuration points (nginx: `ssl_certificate`)".to_string(),
        }
    } else {
        format!(
            "The server sends an expired chain certificate {}: replace it in the server's chain file (nginx: the file `ssl_certificate` names) with the current one from the CA",
            f.short_name()
        )
    };
    finding(Code::Expired, summary, fix)
}

pub(super) fn not_yet_valid(case: &Case<'_>, not_before: u64) -> Finding {
    let f = case
        .facts
        .iter()
        .find(|f| {
            OffsetDateTime::parse(
                &f.not_before,
                &time::format_description::well_known::Rfc3339,
            )
            .is_ok_and(|t| t.unix_timestamp() as u64 == not_before)
        })
        .or(case.leaf());
    let Some(f) = f else {
        return finding(
            Code::NotYetValid,
            "a certificate is not valid yet",
            "Check the clock",
        );
    };
    let starts = OffsetDateTime::from_unix_timestamp(not_before as i64).unwrap_or(case.at);
    let ahead = (starts - case.at).whole_hours();
    let (clock, fix) = match clock_skew(case) {
        _ if case.at_chosen => (
            format!("judged at {}, the time --at gave, it becomes valid in {}", rfc3339(case.at), days_phrase((starts - case.at).whole_days())),
            "Judge it at a time inside its validity, or install a certificate valid at the time you chose".to_string(),
        ),
        Some(Skew::Behind(d)) if case.at + d >= starts => (
            format!("this machine's clock is {} behind the server's (server Date {}); by the server's clock the certificate is already valid", human_span(d), rfc3339(case.at + d)),
            "Fix this machine's clock: enable NTP (`timedatectl set-ntp true`; check with `chronyc tracking`)".to_string(),
        ),
        Some(_) | None if case.server_date.is_some() => (
            format!("the server's clock agrees with this machine's (server Date {}): the certificate was issued for the future, or by a machine whose clock is ahead", rfc3339(case.server_date.unwrap_or(case.at))),
            "Install a certificate whose validity has begun, and check the clock of the machine that issued it".to_string(),
        ),
        _ if ahead <= 48 => (
            format!("it becomes valid in {ahead} hours: it was just issued, or this machine's clock is behind (now {}): compare `date -u` with a time server (`chronyc tracking`)", rfc3339(case.at)),
            "Wait until it is valid or install the current certificate; if the clock is wrong, fix NTP on this machine (or on the machine that issued the certificate)".to_string(),
        ),
        _ => (
            format!("it becomes valid in {} days: it was issued for the future, or a clock is badly wrong", (starts - case.at).whole_days()),
            "Install the current certificate; if the clock is wrong, fix NTP on this machine (or on the machine that issued the certificate)".to_string(),
        ),
    };
    finding(
        Code::NotYetValid,
        format!(
            "{} is valid only from {}; {clock}",
            case.label(f),
            f.not_before
        ),
        fix,
    )
}

/// How this machine's clock stands against the server's, when the difference matters (over 5 minutes).
enum Skew {
    Behind(time::Duration),
    Ahead(time::Duration),
}

fn clock_skew(case: &Case<'_>) -> Option<Skew> {
    let server = case.server_date?;
    let diff = server - case.at;
    if diff > time::Duration::minutes(5) {
        Some(Skew::Behind(diff))
    } else if -diff > time::Duration::minutes(5) {
        Some(Skew::Ahead(-diff))
    } else {
        None
    }
}

/// `3 days`, `2 hours`, `7 minutes`.
fn human_span(d: time::Duration) -> String {
    if d.whole_days() >= 1 {
        days_phrase(d.whole_days())
    } else if d.whole_hours() >= 1 {
        format!("{} hours", d.whole_hours())
    } else {
        format!("{} minutes", d.whole_minutes())
    }
}

pub(super) fn name_mismatch(case: &Case<'_>, leaf: &CertFacts) -> Finding {
    let asked = case.name.unwrap_or("");
    let is_ip = asked.parse::<IpAddr>().is_ok();
    let sans = leaf.san_list();
    let names = match sans.len() {
        0 => "none".to_string(),
        n if n > 12 => format!("{} and {} more", sans[..10].join(", "), n - 10),
        _ => sans.join(", "),
    };
    let cn_is_the_name = leaf
        .common_name
        .as_deref()
        .is_some_and(|cn| cn.eq_ignore_ascii_case(asked));
    if leaf.dns_names.is_empty() && leaf.ip_addresses.is_empty() && cn_is_the_name {
        let cn = leaf.common_name.clone().unwrap_or_default();
        return finding(
            Code::NoSubjectAltName,
            format!(
                "{} has no subjectAltName: its name is only in the CN ({cn}), which modern clients (Python, Go, rustls, browsers) ignore",
                case.label(leaf)
            ),
            format!(
                "Reissue the certificate with the names in subjectAltName (openssl: `-addext 'subjectAltName=DNS:{}'`{})",
                if cn.is_empty() { asked } else { &cn },
                if is_ip { format!(", and IP:{asked} to connect by address") } else { String::new() }
            ),
        );
    }
    if is_ip {
        let usable = leaf.dns_names.first().cloned();
        let connect = match (&usable, &case.authority) {
            (Some(n), Some(a)) => {
                let port = a.rsplit(':').next().unwrap_or("443");
                let flags = case.again.as_ref().map(|a| a.flags.as_str()).unwrap_or("");
                format!(
                    "connect by name: `preflight check {n}:{port} --product {}{flags}`",
                    case.product.as_str()
                )
            }
            (Some(n), None) => format!("connect by name ({n})"),
            (None, _) => "connect by a name the certificate lists".to_string(),
        };
        return finding(
            Code::NameMismatch,
            format!(
                "connected by address {asked}, but {} has no IP SAN for it; it names: {names}",
                case.label(leaf)
            ),
            format!(
                "Either {connect}, or reissue the certificate with `IP:{asked}` in subjectAltName{}",
                if case.product == Product::Cvp { " (CloudVision: list every node's IP and FQDN and the cluster VIP)" } else { "" }
            ),
        );
    }
    let names = match (&leaf.common_name, sans.is_empty()) {
        (Some(cn), true) => format!("it has no subjectAltName, and its CN is {cn}"),
        (None, true) => "it has no subjectAltName and no CN".to_string(),
        _ => format!("it names {names}"),
    };
    finding(
        Code::NameMismatch,
        format!("{} is not valid for {asked}: {names}", case.label(leaf)),
        format!(
            "Connect with a name the certificate lists, or reissue it with `DNS:{asked}` in subjectAltName{}",
            if case.product == Product::Cvp { " (CloudVision: every node FQDN and IP, load-balancer names; no wildcards)" } else { "" }
        ),
    )
}

fn self_signed_fix(case: &Case<'_>, leaf: &CertFacts) -> String {
    let host = case
        .authority
        .as_deref()
        .map(|a| a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a))
        .unwrap_or("HOST");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match case.product {
        Product::Cvp | Product::Cvaas => format!(
            "Trust the node's own certificate: `scp root@{host}:/etc/nginx/cvp.crt .`, check that `openssl x509 -noout -fingerprint -sha256 -in cvp.crt` prints {}, then `{}`",
            leaf.sha256,
            case.again(" --ca cvp.crt")
        ),
        _ => format!(
            "Save the certificate with `{}`, confirm on the server that its SHA-256 is {} (`openssl x509 -noout -fingerprint -sha256 -in <the server's certificate file>`), then `{}` (or pin it: --pin-sha256 {})",
            case.chain_cmd("server.crt"),
            leaf.sha256,
            case.again(" --ca server.crt"),
            leaf.sha256
        ),
    }
}

fn unknown_issuer(case: &Case<'_>, leaf: &CertFacts) -> Finding {
    if leaf.self_signed {
        return self_signed_unknown(case, leaf);
    }
    let path = case.sent_path();
    let top_index = *path.last().unwrap_or(&0);
    let Some(top) = case.facts.get(top_index) else {
        return finding(
            Code::UnknownIssuer,
            "the issuer is unknown",
            "Pass the CA with --ca",
        );
    };
    if top.self_signed {
        return root_not_in_store(case, top);
    }
    if let Some(f) = defects::chain_loop(case) {
        return f;
    }
    // The topmost certificate sent is not a root: its issuer was not sent and this store lacks it.
    let label = case.source.name;
    let issuer_value = case.names(top_index).map(|(_, i)| i).unwrap_or_default();
    let elsewhere: Vec<&str> = case
        .others
        .iter()
        .filter(|s| s.has_subject(&issuer_value))
        .map(|s| s.kind.check_id())
        .collect();
    if !elsewhere.is_empty() {
        let summary = format!(
            "issued by {}, which is not in {label} (it is in {})",
            top.issuer,
            elsewhere.join(", ")
        );
        let fix = format!(
            "Clients that use {label} need the CA {}: pass it explicitly (`--ca`, `verify=`, `--cacert`), or add it to that store",
            top.issuer
        );
        return finding(Code::UnknownIssuer, summary, fix);
    }
    if top_index == 0 || !top.ca_issuers_urls.is_empty() {
        return intermediate_missing(top);
    }
    let fix = format!(
        "Pass the CA `{}` with --ca (ask whoever runs this PKI for it), or make the server send the full chain",
        top.issuer
    );
    finding(
        Code::UnknownIssuer,
        format!(
            "issued by {}, which is neither sent by the server nor in {label}",
            top.issuer
        ),
        custom_hint(case, fix),
    )
}

/// A self-signed server certificate that this source does not hold.
/// A self-signed server certificate whose name an anchor of the source also has, with another key (Debian's
/// snakeoil `CN=localhost` in the system store; a stale copy in `--ca`): webpki checks the signature against
/// that anchor and fails. The cause is that this certificate is not trusted, not its signature.
fn same_name_other_key(case: &Case<'_>, leaf: &CertFacts) -> Option<Finding> {
    use x509_parser::prelude::FromDer;
    if !leaf.self_signed {
        return None;
    }
    let (_, cert) =
        x509_parser::certificate::X509Certificate::from_der(case.chain.first()?.as_ref()).ok()?;
    let value = crate::pki::judge::der_value;
    let subject = value(cert.subject().as_raw());
    let spki = value(cert.public_key().raw);
    let clash = case
        .source
        .anchors
        .iter()
        .any(|a| a.subject.as_ref() == subject && a.subject_public_key_info.as_ref() != spki);
    if !clash {
        return None;
    }
    let mut f = self_signed_unknown(case, leaf);
    f.summary = format!(
        "{}; {} holds another certificate with the same name ({}) and a different key, which is why the signature seemed wrong",
        f.summary, case.source.name, leaf.subject
    );
    Some(f)
}

fn self_signed_unknown(case: &Case<'_>, leaf: &CertFacts) -> Finding {
    let label = case.source.name;
    let summary = if case.source.kind == SourceKind::Custom {
        format!(
            "the server presents a self-signed certificate ({}) that is not in {label}",
            leaf.short_name()
        )
    } else {
        format!(
            "the server presents a self-signed certificate ({}): no public store trusts it",
            leaf.short_name()
        )
    };
    let mut fix = self_signed_fix(case, leaf);
    if case.source.kind == SourceKind::Custom {
        let held: Vec<String> = case
            .source
            .files
            .iter()
            .flat_map(|f| {
                f.certificates
                    .iter()
                    .map(|c| format!("{} ({}…)", c.subject, &c.sha256[..11]))
            })
            .collect();
        fix = format!(
            "Your --ca holds {}, not this certificate. {fix}",
            held.join(", ")
        );
    }
    finding(Code::SelfSigned, summary, fix)
}

/// The server sent its root; this store does not have it.
fn root_not_in_store(case: &Case<'_>, top: &CertFacts) -> Finding {
    let fix = match case.product {
        Product::Prisma if top.subject.contains("Twistlock") => {
            let host = case.authority.clone().unwrap_or_else(|| "CONSOLE:8083".into());
            format!(
                "Trust the Console CA, not the server certificate: `curl -sk -u USER https://{host}/api/v1/certs/ca.pem -o console-ca.pem`, check that `openssl x509 -noout -fingerprint -sha256 -in console-ca.pem` prints {}, then `{}`",
                top.sha256,
                case.again(" --ca console-ca.pem")
            )
        }
        _ => format!(
            "Get the root {} (SHA-256 {}) from whoever runs this CA, or save the chain with `{}` and keep its last certificate after checking that fingerprint; then `{}`",
            top.short_name(),
            top.sha256,
            case.chain_cmd("chain.pem"),
            case.again(" --ca root.pem")
        ),
    };
    let summary = format!(
        "the chain ends at the self-signed root {}, which is not in {}",
        top.short_name(),
        case.source.name
    );
    finding(Code::UnknownIssuer, summary, custom_hint(case, fix))
}

/// The server sent a certificate but not the intermediate that signed it.
fn intermediate_missing(top: &CertFacts) -> Finding {
    let aki = top
        .authority_key_id
        .as_deref()
        .map(|k| format!(", key id {k}"))
        .unwrap_or_default();
    let url = top
        .ca_issuers_urls
        .first()
        .map(|u| format!(" (its issuer's certificate is published at {u})"))
        .unwrap_or_default();
    let issuer = if top.issuer.is_empty() {
        "a CA with an empty name".to_string()
    } else {
        top.issuer.clone()
    };
    let summary = format!(
        "the server sent {} but not the certificate that signed it: {issuer}{aki}{url}",
        top.short_name(),
    );
    let fix = format!(
        "On the server, append the intermediate `{}` to the certificate file (nginx: the file `ssl_certificate` names, leaf first, then intermediates){}; if `{}` is a root rather than an intermediate, pass it with --ca instead",
        top.issuer,
        match top.ca_issuers_urls.first() {
            Some(u) => format!("; download it from {u} (the address the certificate names; usually DER: `curl -s {u} | openssl x509 -inform der >> FILE`)"),
            None => "; the certificate names no address for it: take it from the CA's download page or whoever issued the certificate, or from a server of the same CA that sends it (`openssl s_client -connect OTHER:443 -showcerts`)".to_string(),
        },
        top.issuer
    );
    finding(Code::IncompleteChain, summary, fix)
}

/// Adds, for a failing --ca, what the files hold instead.
fn custom_hint(case: &Case<'_>, fix: String) -> String {
    if case.source.kind != SourceKind::Custom {
        return fix;
    }
    let held: Vec<String> = case
        .source
        .files
        .iter()
        .flat_map(|f| f.certificates.iter().map(|c| c.subject.clone()))
        .collect();
    format!(
        "Your --ca holds {}, which did not issue this chain. {fix}",
        held.join("; ")
    )
}

/// A certificate that is not a CA signed another one: which.
fn issuer_not_ca(case: &Case<'_>) -> Finding {
    let signer = case.facts.iter().skip(1).find(|f| {
        f.is_ca != Some(true)
            && case
                .facts
                .iter()
                .any(|g| g.issuer == f.subject && g.index != f.index)
    });
    let who = signer
        .map(|f| f.short_name())
        .unwrap_or_else(|| "a certificate".into());
    finding(
        Code::IssuerNotCa,
        format!("{who} signed another certificate of the chain, but it is not a CA (no basicConstraints CA:TRUE)"),
        format!("Issue the server certificate from a real CA certificate (basicConstraints=critical,CA:TRUE, keyUsage keyCertSign), not from {who}"),
    )
}

/// A certificate with an extension marked critical that no client knows: which, and its OID.
fn critical_extension(case: &Case<'_>) -> Finding {
    let hit = case.chain.iter().zip(case.facts).find_map(|(der, f)| {
        crate::pki::sources::unknown_critical(der.as_ref())
            .first()
            .map(|oid| (f.short_name(), oid.clone()))
    });
    let (who, oid) = hit.unwrap_or_else(|| ("a certificate".into(), "an unknown OID".into()));
    finding(
        Code::UnknownCriticalExtension,
        format!("{who} carries the extension {oid}, marked critical, which no client understands: every client refuses the chain"),
        format!("Reissue {who} without the extension {oid}, or with it marked non-critical"),
    )
}

fn path_too_long(case: &Case<'_>) -> Finding {
    let path = case.sent_path();
    for (pos, i) in path.iter().enumerate() {
        let Some(f) = case.facts.get(*i) else {
            continue;
        };
        if let (Some(true), Some(limit)) = (f.is_ca, f.path_len) {
            let below: Vec<String> = path[1..pos]
                .iter()
                .filter_map(|j| case.facts.get(*j))
                .map(|c| c.short_name())
                .collect();
            if below.len() > limit as usize {
                return finding(
                    Code::PathLengthExceeded,
                    format!(
                        "{} allows {limit} CA certificate(s) below it (path length constraint), but the chain puts {} under it",
                        f.short_name(),
                        below.join(", ")
                    ),
                    format!(
                        "Issue the server certificate directly from {} (or from a CA it may sign), or reissue {} with a larger pathLenConstraint",
                        f.short_name(),
                        f.short_name()
                    ),
                );
            }
        }
    }
    finding(
        Code::PathLengthExceeded,
        "the chain is longer than a CA's path length constraint allows",
        "Issue the server certificate from a CA whose path length constraint allows it",
    )
}

fn bad_signature(case: &Case<'_>) -> Finding {
    // Which certificate's signature fails: the first one (leaf side) whose issuer's key does not verify it.
    use x509_parser::prelude::FromDer;
    let parsed: Vec<_> = case
        .chain
        .iter()
        .filter_map(|d| {
            x509_parser::certificate::X509Certificate::from_der(d.as_ref())
                .ok()
                .map(|(_, c)| c)
        })
        .collect();
    let mut culprit = None;
    for (i, cert) in parsed.iter().enumerate() {
        if let Some(issuer) = parsed
            .iter()
            .find(|c| c.subject().as_raw() == cert.issuer().as_raw())
        {
            if cert.verify_signature(Some(issuer.public_key())).is_err() {
                culprit = Some((i, issuer.subject().to_string()));
                break;
            }
        }
    }
    let same_name_in_store = case.source.kind == SourceKind::Custom
        && case.facts.first().is_some_and(|l| {
            case.source
                .files
                .iter()
                .any(|f| f.certificates.iter().any(|c| c.subject == l.issuer))
        });
    let (who, issuer) = match culprit {
        Some((i, issuer)) => (
            case.facts.get(i).map(|f| case.label(f)).unwrap_or_default(),
            issuer,
        ),
        None => (
            case.facts
                .first()
                .map(|f| case.label(f))
                .unwrap_or_default(),
            case.facts
                .first()
                .map(|f| f.issuer.clone())
                .unwrap_or_default(),
        ),
    };
    let mut summary = format!("the signature on {who} does not verify with the key of its issuer {issuer}: the certificate was altered, or two CAs share that name");
    if same_name_in_store {
        summary.push_str(
            "; your --ca holds a CA of that name with a different key (was the CA regenerated?)",
        );
    }
    finding(
        Code::BadSignature,
        summary,
        "Re-export the server certificate and its chain from the CA that really issued them, and compare the CA's SHA-256 with the one in your --ca file".to_string(),
    )
}

/// Failures webpki does not judge but clients do: a key they refuse (RSA under 2048 bits, DSA, P-192, ...).
pub fn extra_failure(case: &Case<'_>, path: &PathInfo) -> Option<Finding> {
    let on_path = std::iter::once(0).chain(path.intermediates.iter().copied());
    for i in on_path {
        let f = case.facts.get(i)?;
        let der = case.chain.get(i)?;
        if let Some(weak) = crate::pki::shape::certificate_key_weakness(der.as_ref()) {
            return Some(defects::weak_key(case, f, &weak, false));
        }
    }
    None
}

/// Warnings on a chain that passed: expiry soon, order, strays, long validity.
pub fn warnings(case: &Case<'_>, path: &PathInfo) -> Vec<Finding> {
    let on_path: Vec<usize> = std::iter::once(0)
        .chain(path.intermediates.iter().copied())
        .collect();
    let mut out = expiring_soon(case, &on_path);
    out.extend(out_of_order(&on_path));
    out.extend(strays(case, path, &on_path));
    out.extend(long_validity(case));
    out
}

/// Each certificate on the path that expires within `--warn-days`.
fn expiring_soon(case: &Case<'_>, on_path: &[usize]) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in on_path {
        let Some(f) = case.facts.get(*i) else {
            continue;
        };
        if f.days_left < case.warn_days {
            out.push(finding(
                Code::ExpiringSoon,
                format!(
                    "{} expires on {}, in {}",
                    case.label(f),
                    date_of(&f.not_after),
                    days_phrase(f.days_left)
                ),
                if f.index == 0 {
                    "Renew the server certificate before it expires".to_string()
                } else {
                    format!(
                        "Replace the chain certificate {} before it expires",
                        f.short_name()
                    )
                },
            ));
        }
    }
    out
}

fn out_of_order(on_path: &[usize]) -> Option<Finding> {
    if on_path.windows(2).any(|w| w[1] < w[0])
        || on_path.iter().enumerate().any(|(pos, i)| pos != *i)
    {
        let order: Vec<String> = on_path.iter().map(|i| format!("#{i}")).collect();
        return Some(finding(
            Code::ChainOutOfOrder,
            format!("the chain is sent out of order: the path is {} (leaf first); some clients fail on that", order.join(" → ")),
            "Order the server's certificate file leaf first, then each issuer in turn (nginx: the file `ssl_certificate` names)".to_string(),
        ));
    }
    None
}

/// Certificates sent that are not on the path (a leftover, an old intermediate).
fn strays(case: &Case<'_>, path: &PathInfo, on_path: &[usize]) -> Option<Finding> {
    // The path as sent goes on above an anchor that is an intermediate (the root other clients need).
    let sent = case.sent_path();
    let stray: Vec<&CertFacts> = case
        .facts
        .iter()
        .filter(|f| !on_path.contains(&f.index) && !sent.contains(&f.index))
        .filter(|f| !(f.self_signed && f.subject == path.anchor))
        .collect();
    if !stray.is_empty() {
        let names: Vec<String> = stray
            .iter()
            .map(|f| format!("#{} {}", f.index, f.short_name()))
            .collect();
        return Some(finding(
            Code::UnrelatedCertificate,
            format!(
                "the server also sends {} that {} not belong to this chain",
                names.join(", "),
                if names.len() == 1 { "does" } else { "do" }
            ),
            "Remove the leftover certificates from the server's certificate file".to_string(),
        ));
    }
    None
}

/// A server certificate valid for longer than Apple platforms and browsers accept.
fn long_validity(case: &Case<'_>) -> Option<Finding> {
    let leaf = case.leaf().filter(|l| !l.self_signed)?;
    let rfc = &time::format_description::well_known::Rfc3339;
    let nb = OffsetDateTime::parse(&leaf.not_before, rfc).ok()?;
    let na = OffsetDateTime::parse(&leaf.not_after, rfc).ok()?;
    let days = (na - nb).whole_days();
    (days > MAX_LEAF_DAYS).then(|| finding(
        Code::LongValidity,
        format!("{} is valid for {days} days; macOS, iOS and browsers refuse server certificates valid for more than {MAX_LEAF_DAYS} days", case.label(leaf)),
        format!("Reissue it valid for at most {MAX_LEAF_DAYS} days if Apple clients or browsers must connect; API clients do not mind"),
    ))
}

/// The subjectAltName entry for a name as openssl's `-addext` writes it: `IP:` for an address, `DNS:` else.
pub(super) fn san_entry(name: &str) -> String {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        format!("IP:{bare}")
    } else {
        format!("DNS:{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::judge::judge;
    use rustls::pki_types::ServerName;

    fn fixture_case(name: &str, server_offset_days: i64, check: impl FnOnce(Finding)) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        let chain =
            crate::pki::sources::read_certificates(&dir.join("chain.pem"), "--ca").expect("chain");
        let source = crate::pki::sources::custom(&[dir.join("ca.pem")]).expect("ca");
        let at = time::macros::datetime!(2026-06-01 00:00:00 UTC);
        let facts: Vec<CertFacts> = chain
            .iter()
            .enumerate()
            .map(|(i, d)| crate::pki::facts::inspect(i, d.as_ref(), at))
            .collect();
        let case = Case {
            chain: &chain,
            facts: &facts,
            name: Some("fixture.preflight.test"),
            at,
            at_chosen: false,
            source: &source,
            others: vec![],
            product: Product::Generic,
            authority: Some("fixture.preflight.test:443".into()),
            again: None,
            warn_days: 30,
            server_date: Some(at + time::Duration::days(server_offset_days)),
        };
        let name = ServerName::try_from("fixture.preflight.test").expect("name");
        let err = judge(&source.anchors, &chain, Some(&name), at).expect_err("fixture fails");
        check(diagnose(&err, &case));
    }

    #[test]
    fn a_clock_behind_the_server_explains_not_yet_valid() {
        // The certificate starts 2026-09-01; the server says it is 2026-10-01.
        fixture_case("not_yet_valid", 122, |f| {
            assert_eq!(f.code, Code::NotYetValid);
            assert!(
                f.summary
                    .contains("this machine's clock is 122 days behind the server's"),
                "{}",
                f.summary
            );
            assert!(f.fix.contains("timedatectl set-ntp true"), "{}", f.fix);
        });
        // The server agrees with this machine: the certificate is from the future.
        fixture_case("not_yet_valid", 0, |f| {
            assert!(f.summary.contains("agrees"), "{}", f.summary)
        });
    }

    #[test]
    fn a_clock_ahead_of_the_server_explains_expired() {
        // The certificate ended 2026-03-01; the server says it is 2026-02-01.
        fixture_case("expired", -120, |f| {
            assert_eq!(f.code, Code::Expired);
            assert!(
                f.summary.contains("120 days ahead of the server's"),
                "{}",
                f.summary
            );
            assert!(f.fix.contains("NTP"), "{}", f.fix);
        });
        fixture_case("expired", 0, |f| {
            assert!(f.summary.contains("expired on 2026-03-01"), "{}", f.summary)
        });
    }

    #[test]
    fn weak_signatures() {
        assert!(is_weak_signature("sha1WithRSAEncryption"));
        assert!(is_weak_signature("ecdsa-with-SHA1"));
        assert!(is_weak_signature("md5WithRSAEncryption"));
        assert!(!is_weak_signature("ecdsa-with-SHA256"));
    }

    #[test]
    fn a_suggested_san_is_ip_for_an_address() {
        assert_eq!(super::san_entry("127.0.0.1"), "IP:127.0.0.1");
        assert_eq!(super::san_entry("[::1]"), "IP:::1");
        assert_eq!(super::san_entry("cvp.example.com"), "DNS:cvp.example.com");
    }
}
