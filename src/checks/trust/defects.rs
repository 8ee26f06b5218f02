//! Every defect at once: webpki stops at the first error, but an operator renewing an expired certificate
//! for the wrong name must hear both. Also the causes webpki reports only as "signature failed", "unknown
//! issuer" or "malformed": a weak key on the path, a self-issued CA, a loop, an extension twice.

use rustls::pki_types::ServerName;

use super::diagnose::{finding, Case, Finding};
use crate::codes::Code;
use crate::pki::facts::CertFacts;
use crate::pki::shape;

/// webpki's name verdict on certificate `index` of the chain for `name`: `None` when it cannot be asked (the
/// certificate does not parse, the name is not a name).
fn name_verdict(case: &Case<'_>, index: usize, name: &str) -> Option<Result<(), webpki::Error>> {
    let der = case.chain.get(index)?;
    let ee = webpki::EndEntityCert::try_from(der).ok()?;
    let name = ServerName::try_from(name.to_string()).ok()?;
    Some(ee.verify_is_valid_for_subject_name(&name))
}

/// Whether the certificate at `index` of the chain is valid for `name` (its SANs, as rustls judges them).
/// Only a clear "not for this name" is false: a certificate webpki cannot read is not called a mismatch.
pub(super) fn valid_for(case: &Case<'_>, index: usize, name: &str) -> bool {
    !matches!(
        name_verdict(case, index, name),
        Some(Err(webpki::Error::CertNotValidForName(_)))
    )
}

/// A certificate the server also sends that is the one it should present: not a CA, valid for the name.
pub(super) fn sent_for_name<'a>(case: &'a Case<'_>) -> Option<&'a CertFacts> {
    let name = case.name?;
    case.facts.iter().skip(1).find(|f| {
        f.is_ca != Some(true) && matches!(name_verdict(case, f.index, name), Some(Ok(())))
    })
}

/// The fix when the server presents another certificate first and sends its own for the name later.
pub(super) fn configure_the_sent_one(case: &Case<'_>, own: &CertFacts) -> String {
    let name = case.name.unwrap_or("the name");
    format!(
        "The certificate for {name} is sent as #{} ({}): configure it, with its own key, as the server's certificate (first in the file `ssl_certificate` names, its key in `ssl_certificate_key`), followed by the CA certificates that issued it; nothing needs reissuing",
        own.index,
        own.short_name()
    )
}

/// Every defect of the server's own certificate besides `first`, in the order to fix them: what it is (a CA),
/// for which name, when, for what purpose, with which key and signature.
pub fn leaf_defects(case: &Case<'_>, first: &mut Finding) -> Vec<Finding> {
    let Some(leaf) = case.facts.first() else {
        return Vec::new();
    };
    let mut out: Vec<Finding> = Vec::new();
    if leaf.is_ca == Some(true) {
        out.push(super::diagnose::ca_used_as_leaf(case, leaf));
    }
    if case.name.is_some_and(|n| !valid_for(case, 0, n)) {
        let mut f = super::diagnose::name_mismatch(case, leaf);
        if leaf.is_ca == Some(true) {
            if let Some(own) = sent_for_name(case) {
                f.fix = configure_the_sent_one(case, own);
            }
        }
        out.push(f);
    }
    out.extend(dates(case, leaf));
    out.extend(super::diagnose::eku_defect(case, leaf));
    if let Some(weak) = case
        .chain
        .first()
        .and_then(|d| shape::certificate_key_weakness(d))
    {
        out.push(weak_key(case, leaf, &weak, false));
    }
    if super::diagnose::is_weak_signature(&leaf.signature_algorithm) {
        out.push(super::diagnose::weak_signature(case, leaf));
    }
    out.retain(|f| !same_cause(f.code, first.code));
    // A renewal for the old names would fail again on the name.
    let wrong_name = out.iter().any(|f| same_cause(f.code, Code::NameMismatch));
    if let (Code::Expired, true, Some(name)) = (first.code, wrong_name, case.name) {
        first.fix = format!(
            "{}; renew it for the name clients ask for (`{}` in subjectAltName), or the new certificate fails on the name as well",
            first.fix.trim_end_matches('.'),
            super::diagnose::san_entry(name)
        );
    }
    out
}

/// Two codes that name one cause (the name, told two ways).
fn same_cause(a: Code, b: Code) -> bool {
    let name = |c: Code| matches!(c, Code::NameMismatch | Code::NoSubjectAltName);
    a == b || (name(a) && name(b))
}

fn dates(case: &Case<'_>, leaf: &CertFacts) -> Option<Finding> {
    let rfc = &time::format_description::well_known::Rfc3339;
    let nb = time::OffsetDateTime::parse(&leaf.not_before, rfc).ok()?;
    let na = time::OffsetDateTime::parse(&leaf.not_after, rfc).ok()?;
    if case.at > na {
        Some(super::diagnose::expired(
            case,
            na.unix_timestamp().max(0) as u64,
        ))
    } else if case.at < nb {
        Some(super::diagnose::not_yet_valid(
            case,
            nb.unix_timestamp().max(0) as u64,
        ))
    } else {
        None
    }
}

/// A key clients refuse on `f` (`in_store`: the anchor in the trust source, not a certificate sent).
pub(super) fn weak_key(
    case: &Case<'_>,
    f: &CertFacts,
    weak: &shape::Weakness,
    in_store: bool,
) -> Finding {
    let who = if in_store {
        format!("the root {} in {}", f.short_name(), case.source.name)
    } else {
        case.label(f)
    };
    let effect = if f.index == 0 && !in_store {
        "the server's certificate is refused"
    } else {
        "nothing it signed verifies"
    };
    finding(
        Code::WeakKey,
        format!("{who} has an {weak}; {}: {effect}", weak.who_refuses()),
        format!(
            "Reissue {} with an RSA 2048+ or ECDSA P-256 key (openssl: `-newkey rsa:3072` or `-newkey ec -pkeyopt ec_paramgen_curve:P-256`){}",
            f.short_name(),
            if f.is_ca == Some(true) { ", then reissue every certificate it signed" } else { "" }
        ),
    )
}

/// A key clients refuse anywhere on the path the server sent, or in the anchor that ends it.
pub(super) fn weak_key_on_path(case: &Case<'_>) -> Option<Finding> {
    let path = case.sent_path();
    for i in path.iter().skip(1) {
        let f = case.facts.get(*i)?;
        if let Some(weak) = case
            .chain
            .get(*i)
            .and_then(|d| shape::certificate_key_weakness(d))
        {
            return Some(weak_key(case, f, &weak, false));
        }
    }
    let top = case.facts.get(*path.last()?)?;
    let issuer = case.names(top.index).map(|(_, i)| i)?;
    let anchor = case
        .source
        .anchors
        .iter()
        .find(|a| a.subject.as_ref() == issuer.as_slice())?;
    let weak = shape::anchor_key_weakness(anchor.subject_public_key_info.as_ref())?;
    let facts = CertFacts {
        subject: crate::pki::judge::name_text(&issuer),
        common_name: None,
        index: usize::MAX,
        is_ca: Some(true),
        ..CertFacts::default()
    };
    Some(weak_key(case, &facts, &weak, true))
}

/// A self-issued CA certificate on the path (subject = issuer, another key signed it): a CA re-keyed.
pub(super) fn self_issued(case: &Case<'_>) -> Option<Finding> {
    let path = case.sent_path();
    let link = path
        .iter()
        .skip(1)
        .filter_map(|i| case.facts.get(*i))
        .find(|f| f.subject == f.issuer && !f.self_signed && f.is_ca == Some(true))?;
    let old = path
        .iter()
        .filter_map(|i| case.facts.get(*i))
        .find(|f| f.index != link.index && f.subject == link.subject);
    let old_text = old
        .map(|o| format!(" (its old certificate is #{})", o.index))
        .unwrap_or_default();
    Some(finding(
        Code::SelfIssuedIntermediate,
        format!(
            "{} is self-issued: the CA {} re-keyed under the same name, its new key certified by its old one{old_text}. RFC 5280 and OpenSSL accept this path; rustls and Go count the link against the path length (or see a loop) and refuse it",
            case.label(link),
            link.short_name()
        ),
        format!(
            "Have the CA above certify the new key directly (a certificate for {} signed by its issuer's CA, not by its own old key) and send leaf, that certificate; or trust the new CA certificate itself with --ca",
            link.short_name()
        ),
    ))
}

/// The certificates sent issue each other in a circle, and none leads out of it to an anchor.
pub(super) fn chain_loop(case: &Case<'_>) -> Option<Finding> {
    let path = case.sent_path();
    let top = *path.last()?;
    let (subject, issuer) = case.names(top)?;
    if subject == issuer {
        return None;
    }
    let back = path
        .iter()
        .find(|i| case.names(**i).is_some_and(|(s, _)| s == issuer))?;
    let circle: Vec<String> = path
        .iter()
        .skip_while(|i| *i != back)
        .filter_map(|i| case.facts.get(*i))
        .map(|f| format!("#{} {}", f.index, f.short_name()))
        .collect();
    let first = case.facts.get(*back)?;
    Some(finding(
        Code::ChainLoop,
        format!(
            "the certificates sent issue each other in a circle ({} → back to #{}), and none of them is issued by a CA in {}: there is no way out to a root",
            circle.join(" → "),
            first.index,
            case.source.name
        ),
        format!(
            "Send the path to a root the clients trust, not both halves of a cross-signature: find which root issued {} or its partner (ask whoever runs the CA) and send the intermediate it signed, or pass that root with --ca",
            first.short_name()
        ),
    ))
}

/// An extension twice, or one that does not parse: which certificate, which extension.
pub(super) fn extension_defect(case: &Case<'_>) -> Option<Finding> {
    for (der, f) in case.chain.iter().zip(case.facts) {
        let twice = shape::duplicate_extensions(der.as_ref());
        if !twice.is_empty() {
            return Some(finding(
                Code::DuplicateExtension,
                format!(
                    "{} carries the extension {} twice: rustls, Go and OpenSSL refuse a certificate with a repeated extension",
                    case.label(f),
                    twice.join(", ")
                ),
                format!(
                    "Reissue {} with each extension once (look for the same `-addext`, `-extfile` section or template entry given twice)",
                    f.short_name()
                ),
            ));
        }
        let san = shape::san_defects(der.as_ref());
        if !san.is_empty() {
            return Some(finding(
                Code::MalformedExtension,
                format!(
                    "{} has a malformed subjectAltName: {}; rustls and Go refuse the certificate",
                    case.label(f),
                    san.join("; ")
                ),
                format!(
                    "Reissue {} with subjectAltName holding only DNS names (`DNS:host.example.com`) and addresses (`IP:192.0.2.10`)",
                    f.short_name()
                ),
            ));
        }
        let bad = shape::malformed_extensions(der.as_ref());
        if !bad.is_empty() {
            return Some(finding(
                Code::MalformedExtension,
                format!(
                    "{} has a malformed {} extension (its value is not valid DER for its type): clients refuse the certificate",
                    case.label(f),
                    bad.join(", ")
                ),
                format!(
                    "Reissue {} and check the tool or template that wrote its {} extension",
                    f.short_name(),
                    bad.join(", ")
                ),
            ));
        }
    }
    None
}

/// A certificate on the path that is X.509 v1 (no extensions, so it cannot say it is a CA).
pub(super) fn v1_certificate(case: &Case<'_>) -> Option<Finding> {
    let (der, f) = case
        .chain
        .iter()
        .zip(case.facts)
        .find(|(d, _)| shape::version(d.as_ref()).is_some_and(|v| v < 3))?;
    let v = shape::version(der.as_ref()).unwrap_or(1);
    let role = if f.index == 0 {
        "used as the server's certificate"
    } else {
        "used as a CA"
    };
    Some(finding(
        Code::NotV3,
        format!(
            "{} is an X.509 v{v} certificate {role}: it has no extensions, so it cannot say it is a CA (basicConstraints) nor name the server (subjectAltName); rustls, Go and OpenSSL 3 refuse it",
            case.label(f)
        ),
        format!(
            "Reissue {} as X.509 v3 with basicConstraints (`openssl x509 -req ... -extfile ext.cnf`, or `openssl req -x509`, which writes v3)",
            f.short_name()
        ),
    ))
}

/// A CA's name constraints that are not well formed (an address mask, a wildcard in a DNS constraint).
pub(super) fn malformed_name_constraints(case: &Case<'_>) -> Finding {
    let who = case
        .chain
        .iter()
        .zip(case.facts)
        .skip(1)
        .find(|(d, _)| shape::has_name_constraints(d.as_ref()))
        .map(|(_, f)| case.label(f))
        .unwrap_or_else(|| "a CA on the path".to_string());
    finding(
        Code::MalformedExtension,
        format!("{who} has malformed name constraints (an address constraint needs an address and a contiguous mask; a DNS constraint takes no wildcard): clients refuse every certificate under it"),
        "Reissue the CA certificate with well-formed nameConstraints (`permitted;DNS:example.com`, `permitted;IP:192.0.2.0/255.255.255.0`)".to_string(),
    )
}
