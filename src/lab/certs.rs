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
