//! Trust judged offline: webpki (the same code a rustls connection runs) gives the verdict for one trust
//! source at a chosen time, with the path it built. `checks::trust::diagnose` explains a rejection.

use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use time::OffsetDateTime;

/// A path webpki accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// Indices (in the chain as sent) of the intermediates used, leaf side first.
    pub intermediates: Vec<usize>,
    /// The trust anchor's subject, as text.
    pub anchor: String,
}

/// A DER value (no tag) of a Name, as text: `CN=x, O=y`.
pub fn name_text(value: &[u8]) -> String {
    let der = with_sequence_header(value);
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(&der) {
        Ok((_, n)) => n.to_string(),
        Err(_) => "(unreadable name)".to_string(),
    }
}

/// A SEQUENCE's content octets with the tag and length put back (webpki keeps names and keys as values).
pub fn with_sequence_header(value: &[u8]) -> Vec<u8> {
    let mut der = vec![0x30];
    let len = value.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend(bytes);
    }
    der.extend_from_slice(value);
    der
}

/// The value (content octets) of a DER element: strips tag and length.
pub fn der_value(der: &[u8]) -> &[u8] {
    if der.len() < 2 {
        return der;
    }
    let first = der[1];
    if first < 0x80 {
        return der.get(2..).unwrap_or(der);
    }
    let n = (first & 0x7f) as usize;
    der.get(2 + n..).unwrap_or(der)
}

/// The verdict of one trust source on the chain (leaf first), as a rustls connection would reach it:
/// path building and validity at `at`, then the name when one is given.
pub fn judge(
    anchors: &[TrustAnchor<'_>],
    chain: &[CertificateDer<'static>],
    name: Option<&ServerName<'_>>,
    at: OffsetDateTime,
) -> Result<PathInfo, webpki::Error> {
    let leaf = chain.first().ok_or(webpki::Error::BadDer)?;
    let ee = webpki::EndEntityCert::try_from(leaf)?;
    let provider = crate::pki::provider::provider();
    let algs = provider.signature_verification_algorithms.all;
    let secs = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let intermediates = &chain[1..];
    let path = ee.verify_for_usage(
        algs,
        anchors,
        intermediates,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )?;
    let used: Vec<usize> = path
        .intermediate_certificates()
        .filter_map(|c| {
            intermediates
                .iter()
                .position(|d| d.as_ref() == c.der().as_ref())
                .map(|i| i + 1)
        })
        .collect();
    let anchor = name_text(path.anchor().subject.as_ref());
    if let Some(name) = name {
        ee.verify_is_valid_for_subject_name(name)?;
    }
    Ok(PathInfo {
        intermediates: used,
        anchor,
    })
}

/// Which pinned certificate, if any, vouches for the key that signed the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMatch {
    /// The server's own certificate (whose key signed the handshake) is pinned.
    Leaf,
    /// Certificate `n` of the chain as sent is pinned and certifies the leaf: the signatures on the path
    /// from the leaf up to it verify.
    Issuer(usize),
    /// Certificate `n` is pinned and was sent, but does not certify the leaf's key (anyone can send a
    /// public certificate).
    Unrelated(usize),
    /// No certificate sent is pinned.
    None,
}

/// Binds `pins` (SHA-256 of whole certificates, as [`crate::pki::facts::sha256_fingerprint`] writes them) to
/// the key that signed the handshake: the leaf, or a certificate sent on a verified path from it. Validity
/// dates are not the pin's business (the caller reports them): the path is checked at `at`, and again at the
/// leaf's own start when only a date failed.
pub fn pin_match(chain: &[CertificateDer<'_>], pins: &[String], at: OffsetDateTime) -> PinMatch {
    let pinned =
        |c: &CertificateDer<'_>| pins.contains(&crate::pki::facts::sha256_fingerprint(c.as_ref()));
    let Some(leaf) = chain.first() else {
        return PinMatch::None;
    };
    if pinned(leaf) {
        return PinMatch::Leaf;
    }
    let mut unrelated = None;
    for (i, cert) in chain.iter().enumerate().skip(1) {
        if !pinned(cert) {
            continue;
        }
        if certifies(cert, leaf, &chain[1..], at) {
            return PinMatch::Issuer(i);
        }
        unrelated.get_or_insert(i);
    }
    unrelated.map_or(PinMatch::None, PinMatch::Unrelated)
}

/// Whether `anchor` (a certificate the server sent) is the end of a path from `leaf` whose signatures verify.
fn certifies(
    anchor: &CertificateDer<'_>,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    at: OffsetDateTime,
) -> bool {
    let Ok(anchor) = webpki::anchor_from_trusted_cert(anchor) else {
        return false;
    };
    let Ok(ee) = webpki::EndEntityCert::try_from(leaf) else {
        return false;
    };
    let intermediates: Vec<CertificateDer<'static>> = intermediates
        .iter()
        .map(|c| c.clone().into_owned())
        .collect();
    let provider = crate::pki::provider::provider();
    let algs = provider.signature_verification_algorithms.all;
    let verify = |t: OffsetDateTime| {
        let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        ee.verify_for_usage(
            algs,
            std::slice::from_ref(&anchor),
            &intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
    };
    match verify(at) {
        Ok(()) => true,
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
            leaf_start(leaf).is_some_and(|t| verify(t).is_ok())
        }
        Err(_) => false,
    }
}

/// One second after the leaf's notBefore.
fn leaf_start(leaf: &CertificateDer<'_>) -> Option<OffsetDateTime> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(leaf.as_ref()).ok()?;
    let t = cert.validity().not_before.timestamp() + 1;
    OffsetDateTime::from_unix_timestamp(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_value_strips_short_and_long_headers() {
        assert_eq!(der_value(&[0x30, 2, 0xAA, 0xBB]), &[0xAA, 0xBB]);
        let mut long = vec![0x30, 0x81, 200];
        long.extend(std::iter::repeat_n(7u8, 200));
        assert_eq!(der_value(&long).len(), 200);
        assert_eq!(der_value(&[0x30]), &[0x30]);
    }
}
