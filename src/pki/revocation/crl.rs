//! CRLs with webpki: the list parsed, its signature verified with the issuer's key, its scope checked
//! (issuer, distribution point), the server's certificate looked up; dates read with x509-parser.

use rustls::pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, ExpirationPolicy, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{Freshness, Issuer, Revocation};

/// id-kp-serverAuth, as a DER OID value: the path is checked for the use a client makes of it.
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];

/// A CRL whose signature verified and that covers the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The certificate's entry, when the CRL lists it.
    pub listed: Option<Revocation>,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    /// How many certificates it lists.
    pub entries: usize,
    pub freshness: Freshness,
}

/// Why a CRL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("it is not a CRL ({0})")]
    Garbled(String),
    #[error("it is not the issuer's CRL for this certificate (another issuer, or another distribution point)")]
    NotForThisCertificate,
    #[error("its signature does not verify with the key of {0}")]
    BadSignature(String),
    #[error("it is signed with an algorithm ring cannot verify")]
    UnsupportedSignature,
    #[error("{0} may not sign CRLs (its key usage lacks cRLSign)")]
    NotCrlSigner(String),
    #[error("webpki cannot check the certificate against it ({0})")]
    Unusable(String),
}

/// A time inside the certificate's validity (`at` itself when it is): webpki checks the path's dates
/// before the CRL, and an expired certificate is the trust checks' finding, not this one's.
fn within_validity(leaf: &[u8], at: OffsetDateTime) -> OffsetDateTime {
    let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
        return at;
    };
    let v = cert.validity();
    at.clamp(v.not_before.to_datetime(), v.not_after.to_datetime())
}

fn unix(t: OffsetDateTime) -> UnixTime {
    let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs))
}

fn time_of(t: UnixTime) -> OffsetDateTime {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Judges the CRL `der` for `leaf` issued by `issuer`, at `at`: webpki verifies the CRL's signature with
/// the issuer's key, that it covers the certificate, and looks the certificate up.
pub fn judge(
    der: &[u8],
    leaf: &[u8],
    issuer: &Issuer,
    at: OffsetDateTime,
) -> Result<Answer, Problem> {
    let borrowed =
        BorrowedCertRevocationList::from_der(der).map_err(|e| Problem::Garbled(e.to_string()))?;
    let crl = CertRevocationList::from(borrowed);
    let crls = [&crl];
    let options = RevocationOptionsBuilder::new(&crls)
        .map_err(|_| Problem::Unusable("no CRL".into()))?
        .with_depth(RevocationCheckDepth::EndEntity)
        .with_status_policy(UnknownStatusPolicy::Deny)
        .with_expiration_policy(ExpirationPolicy::Ignore)
        .build();
    let leaf_der = CertificateDer::from(leaf);
    let ee =
        webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| Problem::Unusable(e.to_string()))?;
    let provider = crate::pki::provider::provider();
    let anchors = [issuer.anchor.clone()];
    let verdict = ee.verify_for_usage(
        provider.signature_verification_algorithms.all,
        &anchors,
        &[],
        unix(within_validity(leaf, at)),
        webpki::KeyUsage::required_if_present(EKU_SERVER_AUTH),
        Some(options),
        None,
    );
    let listed = match verdict {
        Ok(_) => None,
        Err(webpki::Error::CertRevoked) => Some(entry(&crl, leaf)),
        Err(e) => return Err(problem(e, issuer)),
    };
    let (this_update, next_update, entries) = dates(der)?;
    Ok(Answer {
        listed,
        this_update,
        next_update,
        entries,
        freshness: Freshness::at(this_update, next_update, at),
    })
}

/// The certificate's entry in a CRL webpki said lists it: when, and why.
fn entry(crl: &CertRevocationList<'_>, leaf: &[u8]) -> Revocation {
    let serial = X509Certificate::from_der(leaf)
        .map(|(_, c)| c.raw_serial().to_vec())
        .unwrap_or_default();
    match crl.find_serial(&serial) {
        Ok(Some(e)) => Revocation {
            at: time_of(e.revocation_date),
            reason: e.reason_code.and_then(|r| super::reason_name(r as u32)),
        },
        _ => Revocation {
            at: OffsetDateTime::UNIX_EPOCH,
            reason: None,
        },
    }
}

fn problem(e: webpki::Error, issuer: &Issuer) -> Problem {
    match e {
        webpki::Error::UnknownRevocationStatus => Problem::NotForThisCertificate,
        webpki::Error::InvalidCrlSignatureForPublicKey => {
            Problem::BadSignature(issuer.name.clone())
        }
        webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
        | webpki::Error::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => {
            Problem::UnsupportedSignature
        }
        webpki::Error::IssuerNotCrlSigner => Problem::NotCrlSigner(issuer.name.clone()),
        other => Problem::Unusable(other.to_string()),
    }
}

/// The CRL's thisUpdate, nextUpdate and number of entries (x509-parser).
fn dates(der: &[u8]) -> Result<(OffsetDateTime, Option<OffsetDateTime>, usize), Problem> {
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der)
        .map_err(|e| Problem::Garbled(e.to_string()))?;
    Ok((
        crl.last_update().to_datetime(),
        crl.next_update().map(|t| t.to_datetime()),
        crl.iter_revoked_certificates().count(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_crl() {
        let issuer = Issuer {
            anchor: rustls::pki_types::TrustAnchor {
                subject: Vec::new().into(),
                subject_public_key_info: Vec::new().into(),
                name_constraints: None,
            },
            name: "CN=nobody".into(),
        };
        let at = time::macros::datetime!(2026-01-15 12:00 UTC);
        assert!(matches!(
            judge(b"<html>", b"", &issuer, at),
            Err(Problem::Garbled(_))
        ));
    }
}
