//! Certificates for the lab, made with rcgen at a given time: a self-signed CloudVision-like server
//! certificate, a Prisma-like Console CA with its server certificate, and a client CA for mutual TLS.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate with its key, as files and as rustls wants them.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Issued {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The key, to sign with (a delegated OCSP responder signs responses).
    pub fn key_pair(&self) -> Result<KeyPair, rcgen::Error> {
        KeyPair::try_from(self.key_der.as_slice())
    }
}

fn issued(cert: rcgen::Certificate, key: &KeyPair) -> Issued {
    Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
        key_der: key.serialize_der(),
    }
}

/// Validity starting one day before `at` (clock skew) and lasting `days`.
fn params(
    cn: &str,
    org: Option<&str>,
    sans: &[&str],
    at: OffsetDateTime,
    days: i64,
) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName((*s).try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    p.not_before = at - Duration::days(1);
    p.not_after = at + Duration::days(days);
    // A fixed serial derived from the name keeps certificates made at the same time comparable.
    let mut serial: Vec<u8> =
        ring::digest::digest(&ring::digest::SHA256, cn.as_bytes()).as_ref()[..16].to_vec();
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    Ok(p)
}

fn server_usage(p: &mut CertificateParams) {
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
}

fn ca_usage(p: &mut CertificateParams) {
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
}

/// An authority information access extension naming one OCSP responder:
/// SEQUENCE { SEQUENCE { id-ad-ocsp, [6] IA5String url } }.
fn aia_ocsp(url: &str) -> rcgen::CustomExtension {
    // id-ad-ocsp, 1.3.6.1.5.5.7.48.1.
    let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let uri = tlv(0x86, url.as_bytes());
    let desc = tlv(0x30, &[oid.as_slice(), &uri].concat());
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &desc))
}

/// One DER element: tag, length, value.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// The names every lab server certificate carries, so `--ca` works by name or by loopback address.
pub const LAB_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A self-signed server certificate, like CloudVision's first-boot `/etc/nginx/cvp.crt`.
pub fn self_signed_server(cn: &str, at: OffsetDateTime) -> Result<Issued, rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut sans = vec![cn];
    sans.extend(LAB_SANS);
    let mut p = params(cn, None, &sans, at, 3650)?;
    server_usage(&mut p);
    Ok(issued(p.self_signed(&key)?, &key))
}

/// A CA and the issuer handle to sign with.
pub struct Ca {
    pub cert: Issued,
    issuer: Issuer<'static, KeyPair>,
}

pub fn ca(cn: &str, org: &str, at: OffsetDateTime, days: i64) -> Result<Ca, rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut p = params(cn, Some(org), &[], at, days)?;
    ca_usage(&mut p);
    let cert = p.self_signed(&key)?;
    let cert = issued(cert, &key);
    Ok(Ca {
        cert,
        issuer: Issuer::new(p, key),
    })
}

impl Ca {
    /// A server certificate for `cn` (plus the lab's loopback names) signed by this CA.
    pub fn server(&self, cn: &str, at: OffsetDateTime, days: i64) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut sans = vec![cn];
        sans.extend(LAB_SANS);
        let mut p = params(cn, None, &sans, at, days)?;
        server_usage(&mut p);
        p.use_authority_key_identifier_extension = true;
        Ok(issued(p.signed_by(&key, &self.issuer)?, &key))
    }

    /// A client certificate for `cn` signed by this CA.
    /// A server certificate for exactly these names (an inspecting proxy's forgery carries the one name
    /// the client asked for).
    pub fn server_for(
        &self,
        name: &str,
        at: OffsetDateTime,
        days: i64,
    ) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut p = params(name, None, &[name], at, days)?;
        server_usage(&mut p);
        p.use_authority_key_identifier_extension = true;
        Ok(issued(p.signed_by(&key, &self.issuer)?, &key))
    }

    /// A server certificate for `cn` that names where its revocation status is published: an OCSP
    /// responder (authority information access) and a CRL distribution point.
    pub fn server_publishing(
        &self,
        cn: &str,
        at: OffsetDateTime,
        ocsp: Option<&str>,
        crl: Option<&str>,
    ) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut sans = vec![cn];
        sans.extend(LAB_SANS);
        let mut p = params(cn, None, &sans, at, 90)?;
        server_usage(&mut p);
        p.use_authority_key_identifier_extension = true;
        if let Some(url) = ocsp {
            p.custom_extensions.push(aia_ocsp(url));
        }
        if let Some(url) = crl {
            p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: vec![url.to_string()],
            }];
        }
        Ok(issued(p.signed_by(&key, &self.issuer)?, &key))
    }

    /// A delegated OCSP responder's certificate: issued by this CA, with the OCSP-signing extended key
    /// usage unless `without_eku` (a certificate that may not sign responses).
    pub fn ocsp_responder(
        &self,
        cn: &str,
        at: OffsetDateTime,
        without_eku: bool,
    ) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut p = params(cn, None, &[], at, 30)?;
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = if without_eku {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::OcspSigning]
        };
        p.use_authority_key_identifier_extension = true;
        Ok(issued(p.signed_by(&key, &self.issuer)?, &key))
    }

    /// `msg` signed with this CA's key (ECDSA P-256 with SHA-256, DER): an OCSP response's signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use rcgen::SigningKey;
        self.issuer.key().sign(msg)
    }

    /// This CA's CRL (DER), listing `revoked` (serial, when, reason).
    pub fn crl(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        revoked: &[(Vec<u8>, OffsetDateTime, rcgen::RevocationReason)],
    ) -> Result<Vec<u8>, rcgen::Error> {
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at, reason)| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: *at,
                    reason_code: Some(*reason),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }

    pub fn client(&self, cn: &str, at: OffsetDateTime, days: i64) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut p = params(cn, None, &[], at, days)?;
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        Ok(issued(p.signed_by(&key, &self.issuer)?, &key))
    }
}
