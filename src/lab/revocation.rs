//! The lab's revocation CA and its services: server certificates that name the lab's OCSP responder
//! (authority information access) and CRL (distribution point), the OCSP responses the lab staples and
//! serves (x509-ocsp's types, DER-encoded and signed with the CA's or a delegated responder's key), the
//! CRL (rcgen), and the plain-HTTP responder serving both on loopback, with paths that never answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, ObjectIdentifier, OctetString};
use der::Encode;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::certs::{self, Ca, Issued};
use super::http::{respond, LabBody};
use super::LabError;

/// ecdsa-with-SHA256: how lab keys (rcgen's default, ECDSA P-256) sign.
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");

/// What a response the lab builds says of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    Good,
    /// Revoked at this time, for this RFC 5280 reason (1: keyCompromise).
    Revoked(OffsetDateTime, u32),
    Unknown,
}

/// Who signs a response the lab builds.
pub enum Signer<'a> {
    /// The CA itself.
    Ca,
    /// A responder certificate (issued by the CA or not), carried in the response.
    Delegate(&'a Issued),
}

/// One OCSP response to build: what it says, its validity window, its signer.
pub struct Spec<'a> {
    pub said: Said,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub signer: Signer<'a>,
}

fn der_err(e: der::Error) -> LabError {
    LabError::Tls(format!("cannot encode an OCSP response: {e}"))
}

fn generalized(t: OffsetDateTime) -> Result<OcspGeneralizedTime, LabError> {
    let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map(OcspGeneralizedTime)
        .map_err(der_err)
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

/// What OCSP and CRLs name a certificate by: its subject (a DER Name), its key bits, its serial.
struct Parts {
    subject: Vec<u8>,
    key: Vec<u8>,
    serial: Vec<u8>,
}

fn parts(der: &[u8]) -> Result<Parts, LabError> {
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|e| LabError::Tls(format!("cannot read a lab certificate: {e}")))?;
    Ok(Parts {
        subject: c.subject().as_raw().to_vec(),
        key: c.public_key().subject_public_key.data.to_vec(),
        serial: c.raw_serial().to_vec(),
    })
}

/// The SHA-1 CertID of `leaf` issued by `ca`.
fn cert_id(ca: &Ca, leaf: &[u8]) -> Result<CertId, LabError> {
    let Parts { subject, key, .. } = parts(ca.cert.der.as_ref())?;
    let serial = parts(leaf)?.serial;
    Ok(CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(sha1(&subject)).map_err(der_err)?,
        issuer_key_hash: OctetString::new(sha1(&key)).map_err(der_err)?,
        serial_number: x509_cert::serial_number::SerialNumber::new(&serial).map_err(der_err)?,
    })
}

fn status(said: Said) -> Result<CertStatus, LabError> {
    Ok(match said {
        Said::Good => CertStatus::good(),
        Said::Unknown => CertStatus::unknown(),
        Said::Revoked(at, reason) => CertStatus::revoked(RevokedInfo {
            revocation_time: generalized(at)?,
            revocation_reason: crl_reason(reason),
        }),
    })
}

fn crl_reason(n: u32) -> Option<x509_cert::ext::pkix::CrlReason> {
    use x509_cert::ext::pkix::CrlReason as R;
    Some(match n {
        1 => R::KeyCompromise,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        _ => R::Unspecified,
    })
}

/// A DER OCSPResponse for `leaf` (issued by `ca`): `r.said`, signed by `r.signer`, responder named by key.
pub fn ocsp_response(ca: &Ca, leaf: &[u8], r: &Spec<'_>) -> Result<Vec<u8>, LabError> {
    let signer_der = match r.signer {
        Signer::Ca => ca.cert.der.as_ref(),
        Signer::Delegate(d) => d.der.as_ref(),
    };
    let signer_key = parts(signer_der)?.key;
    let single = SingleResponse {
        cert_id: cert_id(ca, leaf)?,
        cert_status: status(r.said)?,
        this_update: generalized(r.this_update)?,
        next_update: r.next_update.map(generalized).transpose()?,
        single_extensions: None,
    };
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(sha1(&signer_key)).map_err(der_err)?),
        produced_at: generalized(r.this_update)?,
        responses: vec![single],
        response_extensions: None,
    };
    let tbs = data.to_der().map_err(der_err)?;
    let (signature, certs) = match r.signer {
        Signer::Ca => (ca.sign(&tbs)?, None),
        Signer::Delegate(d) => {
            use rcgen::SigningKey;
            let cert = <x509_cert::Certificate as der::Decode>::from_der(d.der.as_ref())
                .map_err(der_err)?;
            (d.key_pair()?.sign(&tbs)?, Some(vec![cert]))
        }
    };
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: spki::AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(der_err)?,
        certs,
    };
    OcspResponse::successful(basic)
        .and_then(|o| o.to_der())
        .map_err(der_err)
}

/// The revocation scenarios' certificates, issued by the lab's revocation CA at one time, and what the
/// responder and the CRL say of each.
pub(super) struct RevocationCerts {
    pub(super) ca: Arc<Ca>,
    pub(super) at: OffsetDateTime,
    pub(super) good: Issued,
    pub(super) revoked: Issued,
    pub(super) unstapled: Issued,
    pub(super) stale: Issued,
    pub(super) silent: Issued,
}

/// When the lab revoked its revoked certificates: an hour before it issued everything (their validity
/// starts a day before).
fn revoked_at(at: OffsetDateTime) -> OffsetDateTime {
    at - time::Duration::hours(1)
}

impl RevocationCerts {
    /// Certificates naming the responder at `base` (`http://127.0.0.1:PORT`).
    pub(super) fn issue(at: OffsetDateTime, base: &str) -> Result<RevocationCerts, LabError> {
        let ca = certs::ca("preflight lab revocation CA", "preflight lab", at, 3650)?;
        let (ocsp, crl) = (format!("{base}/ocsp"), format!("{base}/crl"));
        let publishing = |cn: &str| ca.server_publishing(cn, at, Some(&ocsp), Some(&crl));
        let silent = ca.server_publishing(
            "revocation-silent.preflight.lab",
            at,
            Some(&format!("{base}/silent/ocsp")),
            Some(&format!("{base}/silent/crl")),
        )?;
        Ok(RevocationCerts {
            good: publishing("ocsp-good.preflight.lab")?,
            revoked: publishing("revoked.preflight.lab")?,
            unstapled: publishing("revoked-unstapled.preflight.lab")?,
            stale: publishing("ocsp-stale.preflight.lab")?,
            silent,
            ca: Arc::new(ca),
            at,
        })
    }

    /// What the lab says of `leaf`: revoked for the two revoked certificates, good for the others.
    fn said(&self, serial: &[u8]) -> Said {
        let of = |i: &Issued| parts(i.der.as_ref()).map(|p| p.serial).unwrap_or_default();
        if serial == of(&self.revoked) || serial == of(&self.unstapled) {
            Said::Revoked(revoked_at(self.at), 1)
        } else if [&self.good, &self.stale, &self.silent]
            .iter()
            .any(|i| of(i) == serial)
        {
            Said::Good
        } else {
            Said::Unknown
        }
    }

    /// A fresh response from the CA for `leaf`: made half an hour before the lab's time, valid a week.
    pub(super) fn fresh(&self, leaf: &Issued) -> Result<Vec<u8>, LabError> {
        let serial = parts(leaf.der.as_ref())?.serial;
        ocsp_response(
            &self.ca,
            leaf.der.as_ref(),
            &Spec {
                said: self.said(&serial),
                this_update: self.at - time::Duration::minutes(30),
                next_update: Some(self.at + time::Duration::days(7)),
                signer: Signer::Ca,
            },
        )
    }

    /// The stale scenario's staple: good, but its nextUpdate passed eight hours before the lab's time.
    pub(super) fn stale_staple(&self) -> Result<Vec<u8>, LabError> {
        ocsp_response(
            &self.ca,
            self.stale.der.as_ref(),
            &Spec {
                said: Said::Good,
                this_update: self.at - time::Duration::days(8),
                next_update: Some(self.at - time::Duration::hours(8)),
                signer: Signer::Ca,
            },
        )
    }

    /// The CA's CRL: both revoked certificates, keyCompromise; made with the fresh responses, valid a week.
    pub(super) fn crl(&self) -> Result<Vec<u8>, LabError> {
        let revoked = [&self.revoked, &self.unstapled]
            .iter()
            .map(|i| {
                parts(i.der.as_ref()).map(|p| {
                    (
                        p.serial,
                        revoked_at(self.at),
                        rcgen::RevocationReason::KeyCompromise,
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.ca.crl(
            self.at - time::Duration::minutes(30),
            self.at + time::Duration::days(7),
            &revoked,
        )?)
    }

    /// A TLS configuration sending `leaf` and the CA, stapling `ocsp` when there is one.
    pub(super) fn tls(
        &self,
        leaf: &Issued,
        ocsp: Option<Vec<u8>>,
        alpn: &[&[u8]],
    ) -> Result<Arc<ServerConfig>, LabError> {
        let chain = vec![leaf.der.clone(), self.ca.cert.der.clone()];
        let builder = ServerConfig::builder_with_provider(crate::pki::provider::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| LabError::Tls(e.to_string()))?
            .with_no_client_auth();
        let mut config = match ocsp {
            Some(o) => builder.with_single_cert_with_ocsp(chain, leaf.key(), o),
            None => builder.with_single_cert(chain, leaf.key()),
        }
        .map_err(|e| LabError::Tls(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// How long the responder's silent paths hold a request before giving up.
const SILENCE: Duration = Duration::from_secs(60);

/// Serves the revocation CA's OCSP responder (`POST /ocsp`) and CRL (`GET /crl`) over plain HTTP; the
/// paths under `/silent/` accept the request and never answer.
pub(super) async fn serve(listener: TcpListener, certs: Arc<RevocationCerts>) {
    let crl = Arc::new(certs.crl().unwrap_or_default());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (certs, crl) = (certs.clone(), crl.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (certs, crl) = (certs.clone(), crl.clone());
                async move { Ok::<_, std::convert::Infallible>(answer(&certs, &crl, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(SILENCE + Duration::from_secs(5), conn).await;
        });
    }
}

async fn answer(certs: &RevocationCerts, crl: &[u8], req: Request<Incoming>) -> Response<LabBody> {
    let path = req.uri().path().to_string();
    if path.starts_with("/silent/") {
        tokio::time::sleep(SILENCE).await;
        return respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "gave up\n");
    }
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/crl") => respond(StatusCode::OK, "application/pkix-crl", crl.to_vec()),
        (Method::POST, "/ocsp") => {
            let (_, body) = super::http::read(req).await;
            let der = ocsp_answer(certs, body.as_deref().unwrap_or_default());
            respond(StatusCode::OK, "application/ocsp-response", der)
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// The responder's answer to a DER OCSPRequest: the CA's fresh response for the first certificate asked
/// about (unknown to the lab: `unknown`), or `malformedRequest`.
fn ocsp_answer(certs: &RevocationCerts, request: &[u8]) -> Vec<u8> {
    let malformed = || {
        OcspResponse::malformed_request()
            .to_der()
            .unwrap_or_default()
    };
    let Ok(req) = <OcspRequest as der::Decode>::from_der(request) else {
        return malformed();
    };
    let Some(first) = req.tbs_request.request_list.first() else {
        return malformed();
    };
    let serial = first.req_cert.serial_number.as_bytes();
    let known = [
        &certs.good,
        &certs.revoked,
        &certs.unstapled,
        &certs.stale,
        &certs.silent,
    ]
    .into_iter()
    .find(|i| parts(i.der.as_ref()).is_ok_and(|p| p.serial == serial));
    match known {
        Some(leaf) => certs.fresh(leaf).unwrap_or_else(|_| malformed()),
        None => unknown(certs, &first.req_cert).unwrap_or_else(|_| malformed()),
    }
}

/// `unknown` for a certificate the lab never issued, for the CertID asked about.
fn unknown(certs: &RevocationCerts, id: &CertId) -> Result<Vec<u8>, LabError> {
    let key = parts(certs.ca.cert.der.as_ref())?.key;
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(sha1(&key)).map_err(der_err)?),
        produced_at: generalized(certs.at)?,
        responses: vec![SingleResponse {
            cert_id: id.clone(),
            cert_status: CertStatus::unknown(),
            this_update: generalized(certs.at)?,
            next_update: None,
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let signature = certs.ca.sign(&data.to_der().map_err(der_err)?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: spki::AlgorithmIdentifierOwned {
            oid: ECDSA_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(der_err)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .and_then(|o| o.to_der())
        .map_err(der_err)
}

/// The responder's base URL for a listener at `addr`.
pub(super) fn base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

#[cfg(test)]
mod tests {
    //! The product's judgement (`pki::revocation`) of what the lab builds: every answer, every signer,
    //! every broken response.
    use super::*;
    use crate::pki::revocation::{crl, ocsp, Freshness, Issuer};

    const AT: OffsetDateTime = time::macros::datetime!(2026-01-15 00:00 UTC);

    fn lab() -> RevocationCerts {
        RevocationCerts::issue(AT, "http://127.0.0.1:9").expect("certificates")
    }

    fn issuer(ca: &Ca) -> Issuer {
        let chain = [ca.cert.der.clone()];
        Issuer::find(&chain, std::iter::empty()).expect("a self-signed CA is its own issuer")
    }

    fn judged(
        lab: &RevocationCerts,
        leaf: &Issued,
        der: &[u8],
    ) -> Result<ocsp::Answer, ocsp::Problem> {
        let chain = [leaf.der.clone(), lab.ca.cert.der.clone()];
        let issuer = Issuer::find(&chain, std::iter::empty()).expect("the CA is sent");
        ocsp::judge(
            der,
            leaf.der.as_ref(),
            &issuer,
            AT + time::Duration::hours(1),
        )
    }

    fn spec(said: Said, signer: Signer<'_>) -> Spec<'_> {
        Spec {
            said,
            this_update: AT,
            next_update: Some(AT + time::Duration::days(7)),
            signer,
        }
    }

    #[test]
    fn good_revoked_and_unknown_as_the_issuer_signs_them() {
        let lab = lab();
        let good = judged(&lab, &lab.good, &lab.fresh(&lab.good).expect("good")).expect("judged");
        assert_eq!(good.state, ocsp::CertState::Good);
        assert_eq!(good.signer, ocsp::Signer::Issuer);
        assert_eq!(good.freshness, Freshness::Current);
        assert_eq!(good.next_update, Some(AT + time::Duration::days(7)));
        let revoked = judged(
            &lab,
            &lab.revoked,
            &lab.fresh(&lab.revoked).expect("revoked"),
        )
        .expect("judged");
        match revoked.state {
            ocsp::CertState::Revoked(r) => {
                assert_eq!(r.at, revoked_at(AT));
                assert_eq!(r.reason, Some("keyCompromise"));
            }
            other => panic!("{other:?}"),
        }
        let der = ocsp_response(
            &lab.ca,
            lab.good.der.as_ref(),
            &spec(Said::Unknown, Signer::Ca),
        )
        .expect("built");
        assert_eq!(
            judged(&lab, &lab.good, &der).expect("judged").state,
            ocsp::CertState::Unknown
        );
        let stale = judged(&lab, &lab.stale, &lab.stale_staple().expect("stale")).expect("judged");
        assert_eq!(
            stale.freshness,
            Freshness::Stale(AT - time::Duration::hours(8))
        );
    }

    #[test]
    fn a_delegated_responder_needs_the_issuers_certificate_and_the_ocsp_signing_eku() {
        let lab = lab();
        let delegate = lab
            .ca
            .ocsp_responder("lab OCSP responder", AT, false)
            .expect("delegate");
        let der = ocsp_response(
            &lab.ca,
            lab.good.der.as_ref(),
            &spec(Said::Good, Signer::Delegate(&delegate)),
        )
        .expect("built");
        let a = judged(&lab, &lab.good, &der).expect("judged");
        assert!(
            matches!(&a.signer, ocsp::Signer::Delegated(n) if n.contains("lab OCSP responder")),
            "{:?}",
            a.signer
        );

        let no_eku = lab
            .ca
            .ocsp_responder("lab server, not a responder", AT, true)
            .expect("no eku");
        let der = ocsp_response(
            &lab.ca,
            lab.good.der.as_ref(),
            &spec(Said::Good, Signer::Delegate(&no_eku)),
        )
        .expect("built");
        match judged(&lab, &lab.good, &der) {
            Err(ocsp::Problem::DelegateRefused { why, .. }) => {
                assert!(why.contains("OCSP-signing"), "{why}")
            }
            other => panic!("{other:?}"),
        }

        // A responder certificate from another CA, carried in the response: not the issuer's delegate.
        let other = certs::ca("another CA", "elsewhere", AT, 30).expect("ca");
        let stranger = other
            .ocsp_responder("someone else's responder", AT, false)
            .expect("stranger");
        let der = ocsp_response(
            &lab.ca,
            lab.good.der.as_ref(),
            &spec(Said::Revoked(AT, 1), Signer::Delegate(&stranger)),
        )
        .expect("built");
        match judged(&lab, &lab.good, &der) {
            Err(ocsp::Problem::DelegateRefused { why, .. }) => {
                assert!(why.contains("did not issue"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn broken_responses_are_named() {
        let lab = lab();
        let mut der = lab.fresh(&lab.good).expect("good");
        // The last bytes are the signature's: a flipped bit no longer verifies.
        let last = der.len() - 2;
        der[last] ^= 0x01;
        assert!(matches!(
            judged(&lab, &lab.good, &der),
            Err(ocsp::Problem::BadSignature(_))
        ));
        // A response about another certificate.
        let other = lab.fresh(&lab.revoked).expect("revoked");
        assert_eq!(
            judged(&lab, &lab.good, &other),
            Err(ocsp::Problem::NotForThisCertificate(1))
        );
        // Signed by another CA that names itself: an unknown signer.
        let stranger = certs::ca("another CA", "elsewhere", AT, 30).expect("ca");
        let der = ocsp_response(
            &stranger,
            lab.good.der.as_ref(),
            &spec(Said::Good, Signer::Ca),
        )
        .expect("built");
        assert!(matches!(
            judged(&lab, &lab.good, &der),
            Err(ocsp::Problem::NotForThisCertificate(_))
        ));
        assert!(matches!(
            judged(&lab, &lab.good, &der[..der.len() / 2]),
            Err(ocsp::Problem::Garbled(_))
        ));
        let refused = OcspResponse::try_later().to_der().expect("der");
        assert_eq!(
            judged(&lab, &lab.good, &refused),
            Err(ocsp::Problem::NotSuccessful("tryLater"))
        );
    }

    #[test]
    fn the_responder_answers_the_request_the_product_builds() {
        let lab = lab();
        let issuer = issuer(&lab.ca);
        for (leaf, revoked) in [(&lab.good, false), (&lab.unstapled, true)] {
            let request = ocsp::request(leaf.der.as_ref(), &issuer).expect("request");
            let answer = ocsp_answer(&lab, &request);
            let a = ocsp::judge(&answer, leaf.der.as_ref(), &issuer, AT).expect("judged");
            assert_eq!(matches!(a.state, ocsp::CertState::Revoked(_)), revoked);
        }
        let malformed = ocsp_answer(&lab, b"not a request");
        assert_eq!(
            ocsp::judge(&malformed, lab.good.der.as_ref(), &issuer, AT),
            Err(ocsp::Problem::NotSuccessful("malformedRequest"))
        );
    }

    #[test]
    fn the_crl_lists_the_revoked_and_is_verified_with_the_issuers_key() {
        let lab = lab();
        let issuer = issuer(&lab.ca);
        let der = lab.crl().expect("crl");
        let at = AT + time::Duration::hours(1);
        let listed = crl::judge(&der, lab.unstapled.der.as_ref(), &issuer, at).expect("judged");
        assert_eq!(listed.listed.map(|r| r.reason), Some(Some("keyCompromise")));
        assert_eq!(listed.entries, 2);
        let clean = crl::judge(&der, lab.good.der.as_ref(), &issuer, at).expect("judged");
        assert_eq!((clean.listed, clean.freshness), (None, Freshness::Current));
        let later = crl::judge(
            &der,
            lab.good.der.as_ref(),
            &issuer,
            AT + time::Duration::days(8),
        )
        .expect("judged");
        assert!(matches!(later.freshness, Freshness::Stale(_)));
        // The same list signed by another CA under another name: not this certificate's CRL.
        let other = certs::ca("another CA", "elsewhere", AT, 30).expect("ca");
        let foreign = other
            .crl(AT, AT + time::Duration::days(1), &[])
            .expect("crl");
        assert_eq!(
            crl::judge(&foreign, lab.good.der.as_ref(), &issuer, at),
            Err(crl::Problem::NotForThisCertificate)
        );
        let mut tampered = der.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 0x01;
        assert!(matches!(
            crl::judge(&tampered, lab.good.der.as_ref(), &issuer, at),
            Err(crl::Problem::BadSignature(_))
        ));
    }

    #[test]
    fn certificates_publish_the_responder_and_the_crl() {
        let lab = lab();
        let p = crate::pki::revocation::published(lab.good.der.as_ref());
        assert_eq!(p.ocsp, vec!["http://127.0.0.1:9/ocsp".to_string()]);
        assert_eq!(p.crl, vec!["http://127.0.0.1:9/crl".to_string()]);
        let none = crate::pki::revocation::published(lab.ca.cert.der.as_ref());
        assert!(none.ocsp.is_empty() && none.crl.is_empty());
    }
}
