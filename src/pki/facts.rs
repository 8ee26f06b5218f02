//! Certificate facts, parsed with x509-parser: everything an operator asks about a certificate, in the order
//! the server sent them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{
    AccessDescription, ExtendedKeyUsage, GeneralName, KeyUsage, ParsedExtension,
};
use x509_parser::oid_registry::{self, Oid, OidRegistry};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The facts of one certificate. An unparsable certificate has only `index`, `sha256` and `parse_error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Position in the chain as sent; 0 is the server's own certificate.
    pub index: usize,
    pub subject: String,
    pub issuer: String,
    /// The subject's first common name, for short summaries.
    pub common_name: Option<String>,
    /// Colon-separated hex, as `openssl x509 -serial` prints it without colons.
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// Whole days from the judging time to `not_after`; negative once expired.
    pub days_left: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// Other SAN kinds (email, URI), written `kind:value`.
    pub other_names: Vec<String>,
    /// `RSA`, `EC`, `Ed25519`, ...
    pub key_type: String,
    pub key_bits: u32,
    /// The curve for EC keys (`P-256`).
    pub key_curve: Option<String>,
    pub signature_algorithm: String,
    /// Basic constraints: `Some(true)` for a CA, `None` when the extension is absent.
    pub is_ca: Option<bool>,
    pub path_len: Option<u32>,
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    pub ocsp_urls: Vec<String>,
    pub ca_issuers_urls: Vec<String>,
    /// SHA-256 of the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`).
    pub sha256: String,
    /// Subject equals issuer and the certificate's own key verifies its signature.
    pub self_signed: bool,
    pub parse_error: Option<String>,
    /// The certificate as PEM, to save it or replay it with `preflight verify`.
    pub pem: String,
}

/// Colon-separated upper-case hex: `AB:CD:...`.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A certificate as PEM.
pub fn to_pem(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// SHA-256 fingerprint of DER bytes, as `openssl x509 -fingerprint -sha256` prints it.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    colon_hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

fn rfc3339(ts: i64) -> (String, Option<OffsetDateTime>) {
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => (
            crate::duration::rfc3339_checked(t).unwrap_or_else(|| ts.to_string()),
            Some(t),
        ),
        Err(_) => (format!("(unix time {ts})"), None),
    }
}

fn oid_name(registry: &OidRegistry, oid: &Oid) -> String {
    // Names the registry lacks but operators need to see (weak algorithms are the ones worth naming).
    match oid.to_id_string().as_str() {
        "1.2.840.10045.4.1" => return "ecdsa-with-SHA1".to_string(),
        "1.2.840.113549.1.1.4" => return "md5WithRSAEncryption".to_string(),
        "1.2.840.113549.1.1.5" => return "sha1WithRSAEncryption".to_string(),
        "1.2.840.10040.4.3" => return "dsa-with-SHA1".to_string(),
        _ => {}
    }
    registry
        .get(oid)
        .map(|e| e.sn().to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

fn ip_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => {
            let a: [u8; 4] = bytes.try_into().unwrap_or([0; 4]);
            std::net::Ipv4Addr::from(a).to_string()
        }
        16 => {
            let a: [u8; 16] = bytes.try_into().unwrap_or([0; 16]);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => format!("(malformed IP {})", colon_hex(bytes)),
    }
}

/// Parses one certificate. Never fails: a certificate that does not parse is reported as such.
pub fn inspect(index: usize, der: &[u8], now: OffsetDateTime) -> CertFacts {
    let mut facts = CertFacts {
        index,
        sha256: sha256_fingerprint(der),
        pem: to_pem(der),
        ..CertFacts::default()
    };
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            facts.parse_error = Some(format!("not a valid X.509 certificate ({e})"));
            return facts;
        }
    };
    let registry = OidRegistry::default().with_all_crypto().with_x509();
    read_names(&mut facts, &cert);
    read_validity(&mut facts, &cert, now);
    facts.signature_algorithm = oid_name(&registry, &cert.signature_algorithm.algorithm);
    read_key(&mut facts, &cert, &registry);
    for ext in cert.extensions() {
        read_extension(&mut facts, ext.parsed_extension());
    }
    facts.self_signed =
        cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    facts
}

/// Subject, issuer, the first common name and the serial.
fn read_names(facts: &mut CertFacts, cert: &X509Certificate<'_>) {
    facts.subject = cert.subject().to_string();
    facts.issuer = cert.issuer().to_string();
    facts.common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    facts.serial = cert.raw_serial_as_string().to_ascii_uppercase();
}

/// `notBefore`, `notAfter`, and the whole days left at `now`.
fn read_validity(facts: &mut CertFacts, cert: &X509Certificate<'_>, now: OffsetDateTime) {
    let (nb, _) = rfc3339(cert.validity().not_before.timestamp());
    let (na, na_time) = rfc3339(cert.validity().not_after.timestamp());
    facts.not_before = nb;
    facts.not_after = na;
    facts.days_left = na_time.map(|t| (t - now).whole_days()).unwrap_or(0);
}

/// The public key: its type, size and (for EC) curve.
fn read_key(facts: &mut CertFacts, cert: &X509Certificate<'_>, registry: &OidRegistry) {
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            facts.key_type = "RSA".into();
            facts.key_bits = crate::pki::shape::rsa_bits(rsa.modulus);
        }
        Ok(PublicKey::EC(point)) => {
            facts.key_type = "EC".into();
            facts.key_bits = point.key_size() as u32;
            facts.key_curve = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag().0 == 6)
                .and_then(|p| p.as_oid().ok())
                .map(|oid| curve_name(registry, &oid))
                .or_else(|| Some("explicit parameters".into()));
        }
        _ => {
            let alg = &spki.algorithm.algorithm;
            if *alg == oid_registry::OID_SIG_ED25519 {
                facts.key_type = "Ed25519".into();
                facts.key_bits = 256;
            } else if *alg == oid_registry::OID_SIG_ED448 {
                facts.key_type = "Ed448".into();
                facts.key_bits = 456;
            } else {
                facts.key_type = oid_name(registry, alg);
            }
        }
    }
}

/// `P-256`, `P-384`, `P-521`, else the registry's name for the curve.
fn curve_name(registry: &OidRegistry, oid: &Oid) -> String {
    if *oid == oid_registry::OID_EC_P256 {
        "P-256".to_string()
    } else if *oid == oid_registry::OID_NIST_EC_P384 {
        "P-384".to_string()
    } else if *oid == oid_registry::OID_NIST_EC_P521 {
        "P-521".to_string()
    } else {
        oid_name(registry, oid)
    }
}

/// One extension's facts: SANs, basic constraints, (extended) key usage, key identifiers, AIA URLs.
fn read_extension(facts: &mut CertFacts, ext: &ParsedExtension<'_>) {
    match ext {
        ParsedExtension::SubjectAlternativeName(san) => {
            for name in &san.general_names {
                read_san(facts, name);
            }
        }
        ParsedExtension::BasicConstraints(bc) => {
            facts.is_ca = Some(bc.ca);
            facts.path_len = bc.path_len_constraint;
        }
        ParsedExtension::KeyUsage(ku) => facts.key_usage = key_usage_names(ku),
        ParsedExtension::ExtendedKeyUsage(eku) => {
            facts.extended_key_usage = extended_key_usage_names(eku);
        }
        ParsedExtension::SubjectKeyIdentifier(ki) => {
            facts.subject_key_id = Some(colon_hex(ki.0));
        }
        ParsedExtension::AuthorityKeyIdentifier(aki) => {
            facts.authority_key_id = aki.key_identifier.as_ref().map(|k| colon_hex(k.0));
        }
        ParsedExtension::AuthorityInfoAccess(aia) => {
            for desc in aia.iter() {
                read_access_description(facts, desc);
            }
        }
        _ => {}
    }
}

/// One subject alternative name, filed by kind.
fn read_san(facts: &mut CertFacts, name: &GeneralName<'_>) {
    match name {
        GeneralName::DNSName(d) => facts.dns_names.push(d.to_string()),
        GeneralName::IPAddress(b) => facts.ip_addresses.push(ip_string(b)),
        GeneralName::RFC822Name(m) => facts.other_names.push(format!("email:{m}")),
        GeneralName::URI(u) => facts.other_names.push(format!("uri:{u}")),
        GeneralName::DirectoryName(n) => facts.other_names.push(format!("dirName:{n}")),
        GeneralName::OtherName(oid, _) => facts.other_names.push(format!("otherName:{oid}")),
        GeneralName::RegisteredID(oid) => facts.other_names.push(format!("registeredID:{oid}")),
        GeneralName::X400Address(_) => facts.other_names.push("x400Address".into()),
        GeneralName::EDIPartyName(_) => facts.other_names.push("ediPartyName".into()),
        GeneralName::Invalid(tag, _) => facts
            .other_names
            .push(format!("(a malformed entry, tag [{}])", tag.0)),
    }
}

/// The key usage bits that are set, by their RFC 5280 names.
fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    let names = [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// The extended key usages present, by name, then any others by OID.
fn extended_key_usage_names(eku: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let names = [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n.to_string())
        .chain(eku.other.iter().map(|o| o.to_id_string()))
        .collect()
}

/// An authority information access entry: an OCSP responder or a CA issuers URL.
fn read_access_description(facts: &mut CertFacts, desc: &AccessDescription<'_>) {
    if let GeneralName::URI(u) = &desc.access_location {
        if desc.access_method == oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
            facts.ocsp_urls.push(u.to_string());
        } else if desc.access_method == oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
            facts.ca_issuers_urls.push(u.to_string());
        }
    }
}

/// DER distinguished names (a server's acceptable client-certificate issuers) as text.
pub fn distinguished_names(ders: &[Vec<u8>]) -> Vec<String> {
    ders.iter()
        .map(|der| match x509_parser::x509::X509Name::from_der(der) {
            Ok((_, name)) => name.to_string(),
            Err(_) => format!("(unparsable name, {} bytes)", der.len()),
        })
        .collect()
}

impl CertFacts {
    /// `CN=name` when there is a common name, else the whole subject: for one-line summaries.
    pub fn short_name(&self) -> String {
        match &self.common_name {
            Some(cn) => format!("CN={cn}"),
            None if self.subject.is_empty() => format!("certificate #{}", self.index),
            None => self.subject.clone(),
        }
    }

    /// `EC P-256`, `RSA 2048`.
    pub fn key_description(&self) -> String {
        match (&self.key_curve, self.key_bits) {
            (Some(curve), _) => format!("{} {curve}", self.key_type),
            (None, 0) => self.key_type.clone(),
            (None, bits) => format!("{} {bits}", self.key_type),
        }
    }

    /// Every SAN, written `DNS:x` / `IP:y`, as openssl prints them.
    pub fn san_list(&self) -> Vec<String> {
        self.dns_names
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(self.ip_addresses.iter().map(|i| format!("IP:{i}")))
            .chain(self.other_names.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_bits_ignores_sign_byte() {
        let mut m = vec![0u8];
        m.extend(std::iter::repeat_n(0xFF, 256));
        assert_eq!(crate::pki::shape::rsa_bits(&m), 2048);
        assert_eq!(crate::pki::shape::rsa_bits(&[0x01, 0x00]), 9);
        assert_eq!(crate::pki::shape::rsa_bits(&[]), 0);
    }

    #[test]
    fn garbage_is_reported_not_panicked() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let f = inspect(3, b"not a certificate", now);
        assert_eq!(f.index, 3);
        assert!(f.parse_error.is_some());
        assert_eq!(f.sha256.len(), 95);
    }
}
