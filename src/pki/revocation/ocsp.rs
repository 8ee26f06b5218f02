//! OCSP (RFC 6960) with x509-ocsp: a response judged for one certificate (its status, who signed it and
//! whether that signer may, its signature with ring, its validity window), and the request that asks.

use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rustls::pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, SingleResponse, TbsRequest,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{elements, reason_name, time_of, value_of, verify_signature, Freshness, Issuer};
use super::{Revocation, SignatureProblem};
use crate::pki::judge::der_value;

/// id-pkix-ocsp-basic.
const BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-kp-OCSPSigning (1.3.6.1.5.5.7.3.9), as a DER OID value: what a delegated responder must carry.
const EKU_OCSP_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// What the response says of the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertState {
    Good,
    Revoked(Revocation),
    /// The responder does not know the certificate.
    Unknown,
}

/// Who signed a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// The CA that issued the certificate.
    Issuer,
    /// A responder certificate the CA issued for OCSP signing (its subject).
    Delegated(String),
}

/// A response whose signature verified, by a signer allowed to sign it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub state: CertState,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub produced_at: OffsetDateTime,
    pub signer: Signer,
    /// The responder as the response names itself (`CN=...`, or `key SHA-1 AB:CD:...`).
    pub responder: String,
    pub freshness: Freshness,
}

/// Why a response cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("it is not an OCSP response ({0})")]
    Garbled(String),
    #[error("the responder answered `{0}` instead of a status")]
    NotSuccessful(&'static str),
    #[error("it is of type {0}, not a basic OCSP response")]
    NotBasic(String),
    #[error("it answers for {0} other certificate(s), not this one")]
    NotForThisCertificate(usize),
    #[error("it is signed with an algorithm or key ring cannot verify")]
    UnsupportedSignature,
    #[error("its signature does not verify with the key of {0}")]
    BadSignature(String),
    #[error(
        "it is signed by {0}, which is neither the issuer nor a certificate the response carries"
    )]
    UnknownSigner(String),
    #[error("its signer {name} may not sign for the issuer: {why}")]
    DelegateRefused { name: String, why: String },
}

fn status_name(s: OcspResponseStatus) -> &'static str {
    match s {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// The parts of a BasicOCSPResponse as sent: the signed bytes, the algorithm, the signature, the
/// certificates; and the same decoded.
struct Basic<'a> {
    tbs: &'a [u8],
    alg: &'a [u8],
    signature: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
    decoded: BasicOcspResponse,
}

fn garbled(e: der::Error) -> Problem {
    Problem::Garbled(e.to_string())
}

/// The BasicOCSPResponse inside `der` (an OCSPResponse), as bytes.
fn basic(der: &[u8]) -> Result<Vec<u8>, Problem> {
    let outer = OcspResponse::from_der(der).map_err(garbled)?;
    if outer.response_status != OcspResponseStatus::Successful {
        return Err(Problem::NotSuccessful(status_name(outer.response_status)));
    }
    let bytes = outer
        .response_bytes
        .ok_or_else(|| Problem::Garbled("successful, but without a response".into()))?;
    if bytes.response_type != BASIC {
        return Err(Problem::NotBasic(bytes.response_type.to_string()));
    }
    Ok(bytes.response.as_bytes().to_vec())
}

impl<'a> Basic<'a> {
    /// Reads the raw parts of `inner` (a BasicOCSPResponse).
    fn read(inner: &'a [u8]) -> Result<Basic<'a>, Problem> {
        let decoded = BasicOcspResponse::from_der(inner).map_err(garbled)?;
        let parts = elements(value_of(inner).map_err(garbled)?).map_err(garbled)?;
        let (tbs, alg) = match parts.as_slice() {
            [tbs, alg, _, ..] => (*tbs, value_of(alg).map_err(garbled)?),
            _ => {
                return Err(Problem::Garbled(
                    "a basic response of fewer than three parts".into(),
                ))
            }
        };
        let signature = decoded
            .signature
            .as_bytes()
            .ok_or_else(|| Problem::Garbled("a signature that is not whole bytes".into()))?
            .to_vec();
        let mut certs = Vec::new();
        if let Some(explicit) = parts.get(3) {
            let list = value_of(value_of(explicit).map_err(garbled)?).map_err(garbled)?;
            for c in elements(list).map_err(garbled)? {
                certs.push(CertificateDer::from(c.to_vec()));
            }
        }
        Ok(Basic {
            tbs,
            alg,
            signature,
            certs,
            decoded,
        })
    }
}

/// `data` hashed with the algorithm `oid` names (SHA-1 for CertIDs as most responders write them).
fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    use ring::digest as d;
    let alg = match *oid {
        SHA1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
        SHA256 => &d::SHA256,
        SHA384 => &d::SHA384,
        SHA512 => &d::SHA512,
        _ => return None,
    };
    Some(d::digest(alg, data).as_ref().to_vec())
}

/// The certificate's serial number as its DER INTEGER's value.
fn serial_of(leaf: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    Some(cert.raw_serial().to_vec())
}

/// Whether `id` names the certificate with `serial` issued by `issuer`.
fn names_certificate(id: &CertId, serial: &[u8], issuer: &Issuer) -> bool {
    let oid = &id.hash_algorithm.oid;
    let name = digest(oid, &issuer.name_der());
    let key = issuer.key_bits().and_then(|k| digest(oid, &k));
    id.serial_number.as_bytes() == serial
        && name.as_deref() == Some(id.issuer_name_hash.as_bytes())
        && key.as_deref() == Some(id.issuer_key_hash.as_bytes())
}

/// Judges the OCSP response `der` for `leaf`, issued by `issuer`, at `at`: the answer for it when the
/// response is signed by the issuer or by a responder the issuer delegated, else why it cannot be used.
pub fn judge(
    der: &[u8],
    leaf: &[u8],
    issuer: &Issuer,
    at: OffsetDateTime,
) -> Result<Answer, Problem> {
    let inner = basic(der)?;
    let basic = Basic::read(&inner)?;
    let data = &basic.decoded.tbs_response_data;
    let serial = serial_of(leaf).unwrap_or_default();
    let single = data
        .responses
        .iter()
        .find(|r| names_certificate(&r.cert_id, &serial, issuer))
        .ok_or(Problem::NotForThisCertificate(data.responses.len()))?;
    let signer = check_signer(&basic, issuer, at)?;
    Ok(answer(single, data, signer, at))
}

/// The answer for one certificate, once its signer is known good.
fn answer(
    single: &SingleResponse,
    data: &x509_ocsp::ResponseData,
    signer: Signer,
    at: OffsetDateTime,
) -> Answer {
    let this_update = time_of(single.this_update.0);
    let next_update = single.next_update.map(|t| time_of(t.0));
    let state = match &single.cert_status {
        CertStatus::Good(_) => CertState::Good,
        CertStatus::Unknown(_) => CertState::Unknown,
        CertStatus::Revoked(info) => CertState::Revoked(Revocation {
            at: time_of(info.revocation_time.0),
            reason: info.revocation_reason.and_then(|r| reason_name(r as u32)),
        }),
    };
    Answer {
        state,
        this_update,
        next_update,
        produced_at: time_of(data.produced_at.0),
        signer,
        responder: responder_text(&data.responder_id),
        freshness: Freshness::at(this_update, next_update, at),
    }
}

fn responder_text(id: &ResponderId) -> String {
    match id {
        ResponderId::ByName(name) => super::to_der(name)
            .map(|d| crate::pki::judge::name_text(der_value(&d)))
            .unwrap_or_else(|| "(an unreadable name)".into()),
        ResponderId::ByKey(hash) => format!(
            "the key with SHA-1 {}",
            crate::pki::facts::colon_hex(hash.as_bytes())
        ),
    }
}

/// Whether the responder id names the certificate of this subject (a Name's DER) and key bits.
fn responder_is(id: &ResponderId, subject_der: &[u8], key_bits: Option<&[u8]>) -> bool {
    match id {
        ResponderId::ByName(name) => super::to_der(name).as_deref() == Some(subject_der),
        ResponderId::ByKey(hash) => {
            key_bits.and_then(|k| digest(&SHA1, k)).as_deref() == Some(hash.as_bytes())
        }
    }
}

/// Who signed the response, if allowed: the issuer, or a certificate the response carries that the issuer
/// issued for OCSP signing (valid at `at`); the signature checked with that key.
fn check_signer(basic: &Basic<'_>, issuer: &Issuer, at: OffsetDateTime) -> Result<Signer, Problem> {
    let id = &basic.decoded.tbs_response_data.responder_id;
    let verify = |spki: &[u8], who: &str| {
        verify_signature(spki, basic.alg, basic.tbs, &basic.signature).map_err(|p| match p {
            SignatureProblem::Unsupported => Problem::UnsupportedSignature,
            SignatureProblem::Invalid => Problem::BadSignature(who.to_string()),
        })
    };
    if responder_is(id, &issuer.name_der(), issuer.key_bits().as_deref()) {
        verify(issuer.anchor.subject_public_key_info.as_ref(), &issuer.name)?;
        return Ok(Signer::Issuer);
    }
    for cert in &basic.certs {
        let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
            continue;
        };
        let key = parsed.public_key();
        if !responder_is(
            id,
            parsed.subject().as_raw(),
            Some(&key.subject_public_key.data),
        ) {
            continue;
        }
        let name = parsed.subject().to_string();
        delegated(cert, issuer, at).map_err(|why| Problem::DelegateRefused {
            name: name.clone(),
            why,
        })?;
        verify(der_value(key.raw), &name)?;
        return Ok(Signer::Delegated(name));
    }
    Err(Problem::UnknownSigner(responder_text(id)))
}

/// A delegated responder's certificate checked by webpki: issued by `issuer`, valid at `at`, with the
/// OCSP-signing extended key usage. Why not, in words.
fn delegated(cert: &CertificateDer<'_>, issuer: &Issuer, at: OffsetDateTime) -> Result<(), String> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| format!("unreadable ({e})"))?;
    let provider = crate::pki::provider::provider();
    let secs = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let anchors = [issuer.anchor.clone()];
    ee.verify_for_usage(
        provider.signature_verification_algorithms.all,
        &anchors,
        &[],
        time,
        webpki::KeyUsage::required(EKU_OCSP_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| match e {
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            "its certificate lacks the OCSP-signing extended key usage".to_string()
        }
        webpki::Error::UnknownIssuer => "the issuer did not issue its certificate".to_string(),
        webpki::Error::CertExpired { .. } => "its certificate has expired".to_string(),
        webpki::Error::CertNotValidYet { .. } => "its certificate is not valid yet".to_string(),
        other => format!("webpki refuses its certificate ({other})"),
    })
}

/// The DER OCSPRequest for `leaf` issued by `issuer` (a SHA-1 CertID, as responders expect), or `None`
/// when the certificate or the issuer's key cannot be read.
pub fn request(leaf: &[u8], issuer: &Issuer) -> Option<Vec<u8>> {
    let serial = serial_of(leaf)?;
    let cert_id = CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(digest(&SHA1, &issuer.name_der())?).ok()?,
        issuer_key_hash: OctetString::new(digest(&SHA1, &issuer.key_bits()?)?).ok()?,
        serial_number: x509_cert::serial_number::SerialNumber::new(&serial).ok()?,
    };
    let req = OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            ..Default::default()
        },
        optional_signature: None,
    };
    req.to_der().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_named_garbled_and_refusals_by_their_status() {
        assert!(matches!(
            basic(b"<html>not ocsp</html>"),
            Err(Problem::Garbled(_))
        ));
        // OCSPResponse { responseStatus tryLater }: 30 03 0a 01 03.
        assert_eq!(
            basic(&[0x30, 0x03, 0x0a, 0x01, 0x03]).err(),
            Some(Problem::NotSuccessful("tryLater"))
        );
        assert!(matches!(basic(&[]), Err(Problem::Garbled(_))));
    }

    #[test]
    fn digests_by_oid() {
        assert_eq!(digest(&SHA1, b"abc").map(|d| d.len()), Some(20));
        assert_eq!(digest(&SHA256, b"abc").map(|d| d.len()), Some(32));
        assert_eq!(digest(&BASIC, b"abc"), None);
    }
}
