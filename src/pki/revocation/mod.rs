//! Revocation, certificates only: the issuer of the server's certificate, OCSP responses (x509-ocsp)
//! and CRLs (webpki) judged against it at a chosen time, the URLs a certificate publishes, and the OCSP
//! request for it. Typed outcomes; `checks::revocation` words them, `net::revocation` fetches.

pub mod crl;
pub mod ocsp;

use der::{Decode, Encode, Reader};
use rustls::pki_types::{CertificateDer, TrustAnchor};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

use crate::pki::judge::{der_value, name_text, with_sequence_header};

/// How far a `thisUpdate` may be ahead of the judging time (clocks differ) before it is not valid yet.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// The certificate that issued the server's: what OCSP hashes, what signs responses and CRLs.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Its subject and public key, as webpki anchors them (values, without their tag).
    pub anchor: TrustAnchor<'static>,
    /// Its name, for sentences.
    pub name: String,
}

impl Issuer {
    /// The issuer of `chain[0]`: a certificate sent with it, or an anchor of a trust source, whose subject
    /// is the leaf's issuer and whose key verifies the leaf's signature (the leaf itself when self-signed).
    pub fn find<'a>(
        chain: &[CertificateDer<'_>],
        anchors: impl IntoIterator<Item = &'a TrustAnchor<'a>>,
    ) -> Option<Issuer> {
        let leaf_der = chain.first()?;
        let (_, leaf) = X509Certificate::from_der(leaf_der.as_ref()).ok()?;
        let wanted = der_value(leaf.issuer().as_raw()).to_vec();
        let sent = chain
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .map(|a| a.to_owned())
            .collect::<Vec<_>>();
        let signs = |a: &TrustAnchor<'_>| {
            let spki = with_sequence_header(a.subject_public_key_info.as_ref());
            let key = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki).ok();
            a.subject.as_ref() == wanted.as_slice()
                && key.is_some_and(|(_, k)| leaf.verify_signature(Some(&k)).is_ok())
        };
        let found = sent
            .iter()
            .find(|a| signs(a))
            .cloned()
            .or_else(|| anchors.into_iter().find(|a| signs(a)).map(|a| a.to_owned()))?;
        Some(Issuer {
            name: name_text(found.subject.as_ref()),
            anchor: found,
        })
    }

    /// The issuer's subject, as a DER `Name` (with its tag): what OCSP's `issuerNameHash` hashes.
    pub fn name_der(&self) -> Vec<u8> {
        with_sequence_header(self.anchor.subject.as_ref())
    }

    /// The issuer's public key bits (the BIT STRING's content): what `issuerKeyHash` hashes.
    pub fn key_bits(&self) -> Option<Vec<u8>> {
        spki_parts(self.anchor.subject_public_key_info.as_ref()).map(|(_, k)| k.to_vec())
    }
}

/// Where a certificate says its revocation status is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// OCSP responders (authority information access, id-ad-ocsp).
    pub ocsp: Vec<String>,
    /// CRL distribution points (their full names, as URIs).
    pub crl: Vec<String>,
}

/// The OCSP responders and CRL distribution points `leaf` names.
pub fn published(leaf: &[u8]) -> Published {
    let mut out = Published::default();
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return out;
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in aia.iter() {
                    if let GeneralName::URI(u) = &d.access_location {
                        if d.access_method
                            == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                        {
                            out.ocsp.push(u.to_string());
                        }
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) =
                        &p.distribution_point
                    {
                        out.crl.extend(names.iter().filter_map(|n| match n {
                            GeneralName::URI(u) => Some(u.to_string()),
                            _ => None,
                        }));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// When a response or a CRL was made, and until when it may be used, against the judging time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Current,
    /// Its `nextUpdate` has passed.
    Stale(OffsetDateTime),
    /// Its `thisUpdate` is ahead of the judging time (beyond [`CLOCK_SKEW`]).
    NotYetValid(OffsetDateTime),
}

impl Freshness {
    pub fn at(
        this_update: OffsetDateTime,
        next_update: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Freshness {
        if this_update > at + CLOCK_SKEW {
            return Freshness::NotYetValid(this_update);
        }
        match next_update {
            Some(next) if next < at => Freshness::Stale(next),
            _ => Freshness::Current,
        }
    }
}

/// A revocation: when, and why (the RFC 5280 reason name, when one is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub at: OffsetDateTime,
    pub reason: Option<&'static str>,
}

/// RFC 5280 `CRLReason` names, by number.
pub fn reason_name(n: u32) -> Option<&'static str> {
    Some(match n {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => return None,
    })
}

/// The elements of a DER SEQUENCE's value: each element's whole encoding (tag, length, value).
pub(crate) fn elements(value: &[u8]) -> Result<Vec<&[u8]>, der::Error> {
    let mut reader = der::SliceReader::new(value)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.tlv_bytes()?);
    }
    Ok(out)
}

/// The value of one DER element (its encoding in full), checked to be exactly one element.
pub(crate) fn value_of(tlv: &[u8]) -> Result<&[u8], der::Error> {
    Ok(der::asn1::AnyRef::from_der(tlv)?.value())
}

/// An SPKI value (no tag) split: its AlgorithmIdentifier's value, and the key bits.
pub(crate) fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let parts = elements(spki).ok()?;
    let [alg, key] = parts.as_slice() else {
        return None;
    };
    let bits = der::asn1::BitStringRef::from_der(key).ok()?;
    Some((value_of(alg).ok()?, bits.as_bytes()?))
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No algorithm of the provider takes this key with this signature algorithm.
    Unsupported,
    /// It does not verify.
    Invalid,
}

/// Verifies `signature` over `message` with the key `spki` (an SPKI value) and the signature algorithm
/// `alg` (an AlgorithmIdentifier value), with the provider's (ring) algorithms, as webpki matches them.
pub(crate) fn verify_signature(
    spki: &[u8],
    alg: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureProblem> {
    let (key_alg, key) = spki_parts(spki).ok_or(SignatureProblem::Unsupported)?;
    let provider = crate::pki::provider::provider();
    let mut candidates = provider
        .signature_verification_algorithms
        .all
        .iter()
        .filter(|a| {
            a.public_key_alg_id().as_ref() == key_alg && a.signature_alg_id().as_ref() == alg
        })
        .peekable();
    if candidates.peek().is_none() {
        return Err(SignatureProblem::Unsupported);
    }
    if candidates.any(|a| a.verify_signature(key, message, signature).is_ok()) {
        Ok(())
    } else {
        Err(SignatureProblem::Invalid)
    }
}

/// A DER GeneralizedTime or UTCTime (as `der` decodes them) as a time.
pub(crate) fn time_of(t: der::asn1::GeneralizedTime) -> OffsetDateTime {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An encodable value's DER, or nothing (a value we built ourselves always encodes).
pub(crate) fn to_der(v: &impl Encode) -> Option<Vec<u8>> {
    v.to_der().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_against_the_judging_time() {
        let at = time::macros::datetime!(2026-01-15 12:00 UTC);
        let h = time::Duration::hours(1);
        assert_eq!(Freshness::at(at - h, Some(at + h), at), Freshness::Current);
        assert_eq!(Freshness::at(at - h, None, at), Freshness::Current);
        assert_eq!(
            Freshness::at(at - 2 * h, Some(at - h), at),
            Freshness::Stale(at - h)
        );
        // A minute ahead is clock skew; an hour ahead is not valid yet.
        let skewed = at + time::Duration::minutes(1);
        assert_eq!(Freshness::at(skewed, Some(at + h), at), Freshness::Current);
        assert_eq!(
            Freshness::at(at + h, Some(at + 2 * h), at),
            Freshness::NotYetValid(at + h)
        );
    }

    #[test]
    fn reasons_by_number() {
        assert_eq!(reason_name(1), Some("keyCompromise"));
        assert_eq!(reason_name(4), Some("superseded"));
        assert_eq!(reason_name(7), None);
    }
}
