//! What is wrong with a certificate's encoding, read from its DER: an extension twice, an extension that does
//! not parse, a key clients refuse. webpki only says "malformed" or "signature failed"; these say which.

use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{self, Oid, OidRegistry};
use x509_parser::prelude::{FromDer, ParsedExtension};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

fn registry() -> OidRegistry<'static> {
    OidRegistry::default().with_all_crypto().with_x509()
}

/// An extension's name as OpenSSL writes it (`subjectAltName`), else its OID.
fn extension_name(registry: &OidRegistry<'_>, oid: &Oid<'_>) -> String {
    registry
        .get(oid)
        .map(|e| e.sn().to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

/// The extensions present more than once, by name, each once.
pub fn duplicate_extensions(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let registry = registry();
    let mut seen: Vec<&Oid<'_>> = Vec::new();
    let mut twice = Vec::new();
    for ext in cert.extensions() {
        if seen.contains(&&ext.oid) {
            let name = extension_name(&registry, &ext.oid);
            if !twice.contains(&name) {
                twice.push(name);
            }
        } else {
            seen.push(&ext.oid);
        }
    }
    twice
}

/// The extensions whose value does not parse as its type says, by name.
pub fn malformed_extensions(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let registry = registry();
    cert.extensions()
        .iter()
        .filter(|e| matches!(e.parsed_extension(), ParsedExtension::ParseError { .. }))
        .map(|e| extension_name(&registry, &e.oid))
        .collect()
}

/// What is wrong with the subjectAltName entries, as rustls and Go parse them: an entry of a kind or an
/// encoding RFC 5280 does not define, an address of the wrong length, a dNSName that is not a DNS name.
pub fn san_defects(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if ext.oid != oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME {
            continue;
        }
        let Some(entries) = tlv(ext.value).and_then(|(tag, body, _)| (tag == 0x30).then_some(body))
        else {
            out.push("its value is not a SEQUENCE of names".to_string());
            continue;
        };
        let mut rest = entries;
        while !rest.is_empty() {
            let Some((tag, body, after)) = tlv(rest) else {
                out.push("an entry's length runs past the extension".to_string());
                break;
            };
            out.extend(san_entry_defect(tag, body));
            rest = after;
        }
    }
    out
}

/// One GeneralName's tag and content: what a strict parser refuses.
fn san_entry_defect(tag: u8, body: &[u8]) -> Option<String> {
    let text = || String::from_utf8_lossy(body).into_owned();
    match tag {
        // otherName, x400Address, directoryName, ediPartyName: constructed; rfc822Name, URI, registeredID.
        0xa0 | 0xa3 | 0xa4 | 0xa5 | 0x81 | 0x86 | 0x88 => None,
        0x82 => {
            let name = text();
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            let valid = rustls::pki_types::DnsName::try_from(bare).is_ok() && !bare.contains('*');
            (!valid).then(|| {
                format!(
                    "the dNSName `{}` is not a DNS name",
                    crate::text::printable(&name)
                )
            })
        }
        0x87 => (body.len() != 4 && body.len() != 16).then(|| {
            format!(
                "an iPAddress entry is {} bytes long (4 or 16 expected)",
                body.len()
            )
        }),
        0x80 | 0x83 | 0x84 | 0x85 => Some(format!(
            "an entry [{}] is primitive where RFC 5280 defines it constructed",
            tag & 0x1f
        )),
        t if t & 0xc0 == 0x80 => Some(format!(
            "an entry has the tag [{}], which is no kind of name",
            t & 0x1f
        )),
        t => Some(format!("an entry has the tag {t:#04x}, not a context tag")),
    }
}

/// One DER element: (tag, content, what follows). Single-byte tags; lengths up to 4 bytes.
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Whether the certificate carries a nameConstraints extension.
pub fn has_name_constraints(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, c)| {
        c.extensions()
            .iter()
            .any(|e| e.oid == oid_registry::OID_X509_EXT_NAME_CONSTRAINTS)
    })
}

/// The X.509 version as people count it (1 or 3).
pub fn version(der: &[u8]) -> Option<u32> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.version().0 + 1)
}

/// A public key clients refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    /// RSA under 2048 bits (its size).
    Rsa(u32),
    Dsa,
    /// An EC curve other than P-256, P-384, P-521 (its name).
    Curve(String),
    /// EC parameters spelled out instead of a named curve.
    ExplicitCurve,
}

impl std::fmt::Display for Weakness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weakness::Rsa(bits) => write!(f, "RSA key of {bits} bits"),
            Weakness::Dsa => f.write_str("DSA key"),
            Weakness::Curve(c) => write!(f, "EC key on the curve {c}"),
            Weakness::ExplicitCurve => f.write_str("EC key with explicit curve parameters"),
        }
    }
}

impl Weakness {
    /// Which clients refuse it.
    pub fn who_refuses(&self) -> &'static str {
        match self {
            Weakness::Rsa(bits) if *bits < 1024 => "every current client (rustls, OpenSSL, Go) refuses it",
            Weakness::Rsa(_) => "rustls, and OpenSSL at security level 2 (the Debian and Ubuntu default), refuse RSA keys under 2048 bits (Go takes 1024 and up)",
            Weakness::Dsa => "rustls, Go and BoringSSL do not verify DSA at all, and OpenSSL 3 refuses it at its default security level",
            Weakness::Curve(_) | Weakness::ExplicitCurve => "rustls, Go and BoringSSL support only P-256, P-384 and P-521 (named curves)",
        }
    }
}

/// Why clients refuse a public key, or `None` for a key they take.
pub fn key_weakness(spki: &SubjectPublicKeyInfo<'_>) -> Option<Weakness> {
    let alg = &spki.algorithm.algorithm;
    if alg.to_id_string() == "1.2.840.10040.4.1" {
        return Some(Weakness::Dsa);
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa_bits(rsa.modulus);
            (bits < 2048).then_some(Weakness::Rsa(bits))
        }
        Ok(PublicKey::EC(_)) => {
            let named = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag().0 == 6);
            let Some(curve) = named.and_then(|p| p.as_oid().ok()) else {
                return Some(Weakness::ExplicitCurve);
            };
            let named = [
                oid_registry::OID_EC_P256,
                oid_registry::OID_NIST_EC_P384,
                oid_registry::OID_NIST_EC_P521,
            ];
            (!named.contains(&curve)).then(|| Weakness::Curve(curve_name(&curve)))
        }
        _ => None,
    }
}

/// Certificate DER's key weakness.
pub fn certificate_key_weakness(der: &[u8]) -> Option<Weakness> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    key_weakness(cert.public_key())
}

/// A trust anchor's key weakness (webpki keeps the SPKI's value, without its SEQUENCE header).
pub fn anchor_key_weakness(spki_value: &[u8]) -> Option<Weakness> {
    let der = super::judge::with_sequence_header(spki_value);
    let (_, spki) = SubjectPublicKeyInfo::from_der(&der).ok()?;
    key_weakness(&spki)
}

fn curve_name(oid: &Oid<'_>) -> String {
    match oid.to_id_string().as_str() {
        "1.2.840.10045.3.1.1" => "P-192".into(),
        "1.3.132.0.33" => "P-224".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        other => registry()
            .get(oid)
            .map(|e| e.sn().to_string())
            .unwrap_or_else(|| other.to_string()),
    }
}

/// The size of an RSA modulus in bits, leading zero bytes (the DER sign byte) ignored.
pub fn rsa_bits(modulus: &[u8]) -> u32 {
    let start = modulus
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(modulus.len());
    let trimmed = &modulus[start..];
    match trimmed.first() {
        None => 0,
        Some(first) => (trimmed.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spki(alg: &[u8], params: &[u8], key: &[u8]) -> Vec<u8> {
        // SEQUENCE { SEQUENCE { alg, params }, BIT STRING key }
        let mut algo = alg.to_vec();
        algo.extend_from_slice(params);
        let mut inner = super::super::judge::with_sequence_header(&algo);
        let mut bits = vec![0x03, (key.len() + 1) as u8, 0];
        bits.extend_from_slice(key);
        inner.extend(bits);
        super::super::judge::with_sequence_header(&inner)
    }

    const EC_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

    fn weakness(der: &[u8]) -> Option<String> {
        let (_, s) = SubjectPublicKeyInfo::from_der(der).expect("spki");
        key_weakness(&s).map(|w| w.to_string())
    }

    #[test]
    fn curves_clients_refuse_are_named() {
        let point = [&[4u8][..], &[1u8; 48]].concat();
        let p192 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
        assert_eq!(
            weakness(&spki(EC_OID, &p192, &point)).as_deref(),
            Some("EC key on the curve P-192")
        );
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let point = [&[4u8][..], &[1u8; 64]].concat();
        assert_eq!(weakness(&spki(EC_OID, &p256, &point)), None);
        // ECParameters as a SEQUENCE (explicit parameters) instead of a named curve.
        let explicit = [0x30, 0x03, 0x02, 0x01, 0x01];
        assert_eq!(
            weakness(&spki(EC_OID, &explicit, &point)).as_deref(),
            Some("EC key with explicit curve parameters")
        );
        let dsa = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
        assert_eq!(
            weakness(&spki(&dsa, &[0x05, 0x00], &[0x02, 0x01, 0x05])).as_deref(),
            Some("DSA key")
        );
    }

    #[test]
    fn san_entries_strict_parsers_refuse_are_named() {
        assert_eq!(san_entry_defect(0x82, b"example.com"), None);
        assert_eq!(san_entry_defect(0x82, b"*.example.com"), None);
        assert!(san_entry_defect(0x82, b"http://test.localhost")
            .is_some_and(|d| d.contains("`http://test.localhost` is not a DNS name")));
        assert!(san_entry_defect(0x87, &[1, 2, 3, 4, 5, 6, 7, 8, 9])
            .is_some_and(|d| d.contains("9 bytes")));
        assert_eq!(san_entry_defect(0x87, &[127, 0, 0, 1]), None);
        assert!(san_entry_defect(0x89, b"x").is_some_and(|d| d.contains("[9]")));
        assert!(san_entry_defect(0x80, b"x").is_some_and(|d| d.contains("primitive")));
        assert_eq!(
            tlv(&[0x30, 0x81, 0x02, 1, 2, 9]),
            Some((0x30, &[1u8, 2][..], &[9u8][..]))
        );
        assert_eq!(tlv(&[0x30, 0x05, 1]), None);
    }

    #[test]
    fn rsa_bits_ignore_the_sign_byte() {
        assert_eq!(rsa_bits(&[0, 0x80, 0, 0]), 24);
        assert_eq!(rsa_bits(&[0x01]), 1);
        assert_eq!(rsa_bits(&[]), 0);
    }
}
