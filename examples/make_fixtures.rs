//! Writes the certificate fixtures: one folder per trust scenario under the folder given.
//!
//! ```sh
//! cargo run --example make_fixtures -- fixtures
//! cargo run --example make_fixtures -- fixtures --only weak_root,v1_ca
//! ```
//!
//! Every certificate has fixed validity dates, so tests judge them at the fixed time 2026-06-01T00:00:00Z
//! (`at` in each `scenario.json`). Keys are new at every run; the fixtures are committed files and tests
//! never regenerate them. The CAs' private keys live only in memory and in a temporary folder.
//!
//! `--only NAME[,NAME...]` writes only the scenarios named and leaves `pki/` and every other folder as they
//! are. It takes the scenarios that make their own CAs in the run (`STANDALONE`); the others are signed by
//! the shared CAs in `pki/`, whose keys are gone, so only a full regeneration can write them.
//!
//! Certificates are made with rcgen (ring). What ring cannot do is done by the `openssl` command
//! (OpenSSL 3.0 or later on `PATH`), and only this:
//! - `weak_signature`: ring cannot sign with SHA-1, so the TBSCertificate rcgen made, with its signature
//!   algorithm changed to ecdsa-with-SHA1, is signed by the intermediate's key with
//!   `openssl dgst -sha1 -sign` (same dates, serial, names, key and extensions). OpenSSL 3.0's
//!   `x509 -CA` cannot do it: it certifies only requests and self-signed certificates.
//! - `weak_key`, `weak_root`: ring cannot load RSA keys under 2048 bits, so the RSA-1024 keys are made with
//!   `openssl genpkey`. For `weak_key` rcgen signs the key's certificate with the (EC) intermediate; for
//!   `weak_root` the RSA-1024 root signs, through an rcgen `SigningKey` whose `sign` runs
//!   `openssl dgst -sha256 -sign` (sha256WithRSAEncryption).
//! - `v1_ca`: rcgen writes only v3, so the intermediate's TBSCertificate loses its version and extensions
//!   and the root's key signs it again with `openssl dgst -sha256 -sign` (ecdsa-with-SHA256).
//!
//! Layout of `<out>/<scenario>/`: `chain.pem` (as the server sends it, leaf first), `leaf.pem`, `rest.pem`
//! (omitted when the chain is the leaf alone), `key.pem` (PKCS#8, the key of the first certificate sent),
//! `ca.pem` (what a user passes as `--ca`) and `scenario.json` (the codes expected). `<out>/pki/` holds the
//! shared root and intermediate certificates.
#![allow(clippy::print_stdout)]

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, PublicKeyData, SanType, SignatureAlgorithm, SigningKey,
};
use serde::Serialize;
use time::macros::datetime;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The name tests verify, and the time they judge at.
const VERIFY_NAME: &str = "fixture.preflight.test";
const AT: &str = "2026-06-01T00:00:00Z";

const CA_NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);
const CA_NOT_AFTER: OffsetDateTime = datetime!(2036-01-01 00:00:00 UTC);
const LEAF_NOT_BEFORE: OffsetDateTime = datetime!(2026-01-15 00:00:00 UTC);
const LEAF_NOT_AFTER: OffsetDateTime = datetime!(2026-12-31 00:00:00 UTC);
/// Self-signed server certificates last ten years, as CloudVision's first-boot certificate does.
const SELF_SIGNED_NOT_AFTER: OffsetDateTime = datetime!(2036-01-13 00:00:00 UTC);

const DEFAULT_SANS: [&str; 4] = [VERIFY_NAME, "localhost", "127.0.0.1", "::1"];
const FIXTURE_ORG: &str = "Preflight Fixtures";
const AIA_CA_ISSUERS: &str = "http://pki.preflight.test/issuing-ca.crt";

/// OID 1.2.840.10045.4.1, ecdsa-with-SHA1.
const ECDSA_WITH_SHA1: &str = "1.2.840.10045.4.1";

const USAGE: &str =
    "usage: cargo run --example make_fixtures -- OUTPUT_FOLDER [--only NAME[,NAME...]]";

fn main() -> Result<()> {
    let (out, only) = parse_args()?;
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let (scenarios, pki) = match only {
        Some(names) => (only_scenarios(&names, tmp.path())?, None),
        None => {
            let pki = Pki::new()?;
            let mut all = scenarios(&pki, tmp.path())?;
            for (_, make) in STANDALONE {
                all.push(make(tmp.path())?);
            }
            (all, Some(pki))
        }
    };

    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    if let Some(pki) = &pki {
        let pki_dir = fresh_dir(&out.join("pki"))?;
        write(&pki_dir.join("root.pem"), &pki.root.pem)?;
        write(&pki_dir.join("intermediate.pem"), &pki.intermediate.pem)?;
    }
    for s in &scenarios {
        s.write(&out)?;
        println!("{:<24} {}", s.name, s.description);
    }
    let and_pki = if pki.is_some() { " and pki/" } else { "" };
    println!(
        "wrote {} scenarios{and_pki} under {}",
        scenarios.len(),
        out.display()
    );
    Ok(())
}

/// `OUTPUT_FOLDER [--only NAME[,NAME...]]`: the folder, and the scenarios `--only` names.
fn parse_args() -> Result<(PathBuf, Option<Vec<String>>)> {
    let (mut out, mut only) = (None, None);
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--only" {
            let list = args.next().context(USAGE)?;
            let list = list.to_str().context("--only: the names are not UTF-8")?;
            let names: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect();
            ensure!(!names.is_empty(), "--only needs at least one name; {USAGE}");
            only.get_or_insert_with(Vec::new).extend(names);
        } else if out.is_none() {
            out = Some(PathBuf::from(arg));
        } else {
            bail!(USAGE);
        }
    }
    Ok((out.context(USAGE)?, only))
}

/// The scenarios `names` says, made alone: only those that make their own CAs can be, since the shared
/// CAs' keys are not kept (a scenario on them needs a full regeneration, which rewrites `pki/`).
fn only_scenarios(names: &[String], tmp: &Path) -> Result<Vec<Scenario>> {
    let mut out: Vec<Scenario> = Vec::new();
    for name in names {
        let Some((_, make)) = STANDALONE.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = STANDALONE.iter().map(|(n, _)| *n).collect();
            bail!(
                "--only {name}: not a scenario with its own CAs (those are {}); the scenarios on the shared \
                 pki/ CAs are written only by a full regeneration",
                known.join(", ")
            );
        };
        if out.iter().all(|s| s.name != *name) {
            out.push(make(tmp)?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Certificates

/// A CA: its certificate and the handle rcgen signs with (the key stays in memory).
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate with the private key of its subject.
struct Issued {
    der: Vec<u8>,
    key_pem: String,
}

impl Issued {
    fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }
}

/// The shared fixture PKI: one root and one intermediate for every scenario that uses them.
struct Pki {
    root: Ca,
    intermediate: Ca,
}

impl Pki {
    fn new() -> Result<Pki> {
        Pki::build(
            "Preflight Fixture Root CA",
            intermediate_params("Preflight Fixture Issuing CA"),
        )
    }

    /// A scenario's own CAs: `Preflight Fixture <label> Root CA` and `Preflight Fixture <label> Issuing CA`,
    /// shaped like the shared ones.
    fn named(label: &str) -> Result<Pki> {
        Pki::build(
            &format!("Preflight Fixture {label} Root CA"),
            intermediate_params(&format!("Preflight Fixture {label} Issuing CA")),
        )
    }

    fn build(root_cn: &str, intermediate: CertificateParams) -> Result<Pki> {
        let root = self_signed_ca(FIXTURE_ORG, root_cn)?;
        let intermediate = ca_signed_by(&root.issuer, intermediate)?;
        Ok(Pki { root, intermediate })
    }
}

/// An intermediate like the shared one: CA:TRUE pathlen 0, keyCertSign + cRLSign, SKI and AKI.
fn intermediate_params(cn: &str) -> CertificateParams {
    let mut p = ca_params(FIXTURE_ORG, cn, BasicConstraints::Constrained(0));
    p.use_authority_key_identifier_extension = true;
    p
}

/// The CA `p` describes, with a new key, signed by `issuer`.
fn ca_signed_by(issuer: &Issuer<'_, impl SigningKey>, p: CertificateParams) -> Result<Ca> {
    let key = new_key()?;
    let cert = p.signed_by(&key, issuer)?;
    Ok(Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    })
}

fn new_key() -> Result<KeyPair> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

fn dn(org: Option<&str>, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn sans(names: &[&str]) -> Result<Vec<SanType>> {
    names
        .iter()
        .map(|s| match s.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName((*s).try_into()?)),
        })
        .collect()
}

/// A CA valid 2026-01-01 → 2036-01-01, keyCertSign + cRLSign; rcgen adds the SKI to every CA.
fn ca_params(org: &str, cn: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(Some(org), cn);
    p.not_before = CA_NOT_BEFORE;
    p.not_after = CA_NOT_AFTER;
    p.is_ca = IsCa::Ca(constraints);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn self_signed_ca(org: &str, cn: &str) -> Result<Ca> {
    self_signed_ca_with(ca_params(org, cn, BasicConstraints::Unconstrained))
}

fn self_signed_ca_with(p: CertificateParams) -> Result<Ca> {
    let key = new_key()?;
    let cert = p.self_signed(&key)?;
    Ok(Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    })
}

/// A server certificate: explicit CA:FALSE, digitalSignature, serverAuth (and an SKI, from rcgen).
fn server_params(
    cn: &str,
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(None, cn);
    p.subject_alt_names = sans(names)?;
    p.not_before = not_before;
    p.not_after = not_after;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(p)
}

/// The default leaf: fixture.preflight.test, localhost, 127.0.0.1, ::1, valid 2026-01-15 → 2026-12-31.
fn default_leaf() -> Result<CertificateParams> {
    server_params(VERIFY_NAME, &DEFAULT_SANS, LEAF_NOT_BEFORE, LEAF_NOT_AFTER)
}

/// The default leaf with other dates.
fn leaf_valid(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<CertificateParams> {
    server_params(VERIFY_NAME, &DEFAULT_SANS, not_before, not_after)
}

/// Signs `p` with the fixture intermediate, adding the AKI and the AIA caIssuers URL.
fn from_intermediate(pki: &Pki, p: CertificateParams) -> Result<Issued> {
    with_aia_signed_by(&pki.intermediate, p)
}

/// Signs `p` with `ca`, adding the AKI and the AIA caIssuers URL, as the default leaf has them.
fn with_aia_signed_by(ca: &Ca, mut p: CertificateParams) -> Result<Issued> {
    p.custom_extensions.push(aia_ca_issuers(AIA_CA_ISSUERS));
    signed_by(ca, p)
}

/// Signs `p` with `ca`, adding the AKI.
fn signed_by(ca: &Ca, mut p: CertificateParams) -> Result<Issued> {
    p.use_authority_key_identifier_extension = true;
    let key = new_key()?;
    let cert = p.signed_by(&key, &ca.issuer)?;
    Ok(Issued {
        der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    })
}

fn self_signed(p: CertificateParams) -> Result<Issued> {
    let key = new_key()?;
    let cert = p.self_signed(&key)?;
    Ok(Issued {
        der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    })
}

// ---------------------------------------------------------------------------------------------------
// DER by hand (rcgen has no Authority Information Access helper)

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
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
    out.extend_from_slice(content);
    out
}

/// authorityInfoAccess (1.3.6.1.5.5.7.1.1), not critical:
/// SEQUENCE { SEQUENCE { OID id-ad-caIssuers (1.3.6.1.5.5.7.48.2), [6] IA5String uri } }.
fn aia_ca_issuers(uri: &str) -> CustomExtension {
    const ID_AD_CA_ISSUERS: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut access = der_tlv(0x06, &ID_AD_CA_ISSUERS);
    access.extend(der_tlv(0x86, uri.as_bytes())); // [6] IMPLICIT uniformResourceIdentifier
    let der = der_tlv(0x30, &der_tlv(0x30, &access));
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], der)
}

/// `der` with one bit flipped in the last byte of the signature: the last byte of the certificate
/// is the last byte of the signature BIT STRING (the end of ECDSA's `s`), so the DER stays valid.
fn flip_signature_byte(der: &[u8]) -> Result<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).context("parsing the leaf")?;
    let sig = cert.signature_value.data.as_ref();
    ensure!(
        der.ends_with(sig) && sig.len() > 8,
        "the certificate does not end with its signature"
    );
    let mut out = der.to_vec();
    let last = out.len() - 1;
    out[last] ^= 0x01;
    X509Certificate::from_der(&out).context("the flipped certificate no longer parses")?;
    Ok(out)
}

fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---------------------------------------------------------------------------------------------------
// What openssl does (ring cannot)

fn openssl(args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl (OpenSSL 3.0 or later must be on PATH)")?;
    ensure!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(out.stdout)
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

/// The leaf re-signed by the intermediate with ecdsa-with-SHA1. OpenSSL 3.0's `x509 -CA` certifies
/// only requests and self-signed certificates, and cannot set dates (`-not_before` came in 3.4), so the
/// TBSCertificate made by rcgen is kept byte for byte except its signature algorithm, and openssl only
/// signs it: `openssl dgst -sha1 -sign intermediate.key`. Checked after: the algorithm, and every other
/// field unchanged.
fn resign_sha1(pki: &Pki, leaf: &Issued, tmp: &Path) -> Result<Issued> {
    // AlgorithmIdentifier { ecdsa-with-SHA1 } (no parameters, RFC 5758).
    const SHA1_ALG: [u8; 11] = [
        0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01,
    ];
    let cert = der_elements(der_content(&leaf.der, 0x30)?)?;
    let tbs = cert.first().context("empty certificate")?;
    let mut fields = der_elements(der_content(tbs, 0x30)?)?;
    // version [0], serialNumber, signature (the algorithm, repeated inside what is signed), ...
    ensure!(
        fields.len() > 3 && fields[0].first() == Some(&0xa0),
        "unexpected TBSCertificate"
    );
    fields[2] = &SHA1_ALG;
    let tbs = der_tlv(0x30, &fields.concat());

    let (tbs_path, key_path) = (tmp.join("tbs.der"), tmp.join("intermediate.key"));
    fs::write(&tbs_path, &tbs)?;
    write(&key_path, &pki.intermediate.issuer.key().serialize_pem())?;
    let sig = openssl(&[
        "dgst",
        "-sha1",
        "-sign",
        path_str(&key_path)?,
        path_str(&tbs_path)?,
    ])?;
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(sig);
    let der = der_tlv(
        0x30,
        &[tbs, SHA1_ALG.to_vec(), der_tlv(0x03, &bits)].concat(),
    );

    let (_, before) = X509Certificate::from_der(&leaf.der).context("parsing the leaf")?;
    let (_, after) = X509Certificate::from_der(&der).context("parsing the re-signed leaf")?;
    ensure!(
        after.signature_algorithm.algorithm.to_id_string() == ECDSA_WITH_SHA1
            && after.tbs_certificate.signature == after.signature_algorithm,
        "the re-signed leaf does not say ecdsa-with-SHA1"
    );
    let (b, a) = (&before.tbs_certificate, &after.tbs_certificate);
    ensure!(
        a.validity == b.validity
            && a.serial == b.serial
            && a.subject == b.subject
            && a.issuer == b.issuer
            && a.subject_pki.raw == b.subject_pki.raw
            && a.extensions() == b.extensions(),
        "re-signing changed more than the signature"
    );
    Ok(Issued {
        der,
        key_pem: leaf.key_pem.clone(),
    })
}

/// The content of a DER element with tag `tag` that fills all of `der`.
fn der_content(der: &[u8], tag: u8) -> Result<&[u8]> {
    let (header, len) = der_header(der)?;
    ensure!(
        der[0] == tag && header + len == der.len(),
        "unexpected DER element"
    );
    Ok(&der[header..])
}

/// The elements (each a whole TLV) of a DER sequence's content.
fn der_elements(mut content: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (header, len) = der_header(content)?;
        let (element, rest) = content.split_at(header + len);
        out.push(element);
        content = rest;
    }
    Ok(out)
}

/// (header length, content length) of the DER element at the start of `der` (one-byte tags).
fn der_header(der: &[u8]) -> Result<(usize, usize)> {
    let (&first, rest) = der
        .get(1..)
        .and_then(|r| r.split_first())
        .context("truncated DER")?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        ensure!((1..=4).contains(&n) && rest.len() >= n, "bad DER length");
        let len = rest[..n]
            .iter()
            .fold(0usize, |l, b| l << 8 | usize::from(*b));
        (2 + n, len)
    };
    ensure!(der.len() >= header + len, "truncated DER");
    Ok((header, len))
}

/// An RSA public key for rcgen to certify: the key itself is made by openssl.
struct RsaPublicKey(Vec<u8>);

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        // Only its SubjectPublicKeyInfo algorithm (rsaEncryption, NULL) is used: the intermediate signs.
        &rcgen::PKCS_RSA_SHA256
    }
}

/// An RSA-1024 key made by `openssl genpkey` into `tmp/<stem>.key` (PKCS#8), and its public key as rcgen
/// would write it.
fn rsa1024_key(tmp: &Path, stem: &str) -> Result<(RsaPublicKey, PathBuf)> {
    let key_path = tmp.join(format!("{stem}.key"));
    let pub_path = tmp.join(format!("{stem}.pub.der"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        path_str(&key_path)?,
    ])?;
    openssl(&[
        "pkey",
        "-in",
        path_str(&key_path)?,
        "-pubout",
        "-outform",
        "DER",
        "-out",
        path_str(&pub_path)?,
    ])?;
    let spki_der = fs::read(&pub_path)?;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki_der)
        .context("parsing the RSA public key")?;
    let public = RsaPublicKey(spki.subject_public_key.data.to_vec());
    ensure!(
        public.subject_public_key_info() == spki_der,
        "rcgen would encode the RSA public key differently"
    );
    Ok((public, key_path))
}

/// A default leaf for an RSA-1024 key made by openssl, signed by the intermediate with rcgen.
fn rsa1024_leaf(pki: &Pki, tmp: &Path) -> Result<Issued> {
    let (public, key_path) = rsa1024_key(tmp, "rsa1024")?;
    let mut p = default_leaf()?;
    p.custom_extensions.push(aia_ca_issuers(AIA_CA_ISSUERS));
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&public, &pki.intermediate.issuer)?;
    let key_pem = fs::read_to_string(&key_path)?;
    ensure!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "openssl genpkey did not write PKCS#8"
    );
    Ok(Issued {
        der: cert.der().to_vec(),
        key_pem,
    })
}

/// An RSA key only openssl can use (ring cannot sign with RSA under 2048 bits): rcgen signs with it
/// through `openssl dgst -sha256 -sign`, which makes sha256WithRSAEncryption (PKCS#1 v1.5) signatures.
struct OpensslRsaKey {
    public: RsaPublicKey,
    key_path: PathBuf,
}

impl PublicKeyData for OpensslRsaKey {
    fn der_bytes(&self) -> &[u8] {
        self.public.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl SigningKey for OpensslRsaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let msg_path = self.key_path.with_extension("tbs.der");
        let signed = fs::write(&msg_path, msg)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                openssl(&[
                    "dgst",
                    "-sha256",
                    "-sign",
                    path_str(&self.key_path)?,
                    path_str(&msg_path)?,
                ])
            });
        // rcgen's error type has no room for the cause: RemoteKeyError says the external signer failed.
        signed.map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

// ---------------------------------------------------------------------------------------------------
// Scenarios

struct Scenario {
    name: &'static str,
    description: &'static str,
    verify_name: &'static str,
    expect_with_ca: &'static str,
    status_with_ca: &'static str,
    expect_without_ca: &'static str,
    /// As sent, leaf first; `key` is the leaf's key.
    chain: Vec<String>,
    key: String,
    ca: Vec<String>,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    name: &'a str,
    description: &'a str,
    verify_name: &'a str,
    at: &'a str,
    expect_with_ca: &'a str,
    status_with_ca: &'a str,
    expect_without_ca: &'a str,
}

impl Scenario {
    fn write(&self, out: &Path) -> Result<()> {
        let dir = fresh_dir(&out.join(self.name))?;
        let (leaf, rest) = self.chain.split_first().context("empty chain")?;
        write(&dir.join("chain.pem"), &self.chain.concat())?;
        write(&dir.join("leaf.pem"), leaf)?;
        if !rest.is_empty() {
            write(&dir.join("rest.pem"), &rest.concat())?;
        }
        write(&dir.join("key.pem"), &self.key)?;
        write(&dir.join("ca.pem"), &self.ca.concat())?;
        let json = ScenarioJson {
            name: self.name,
            description: self.description,
            verify_name: self.verify_name,
            at: AT,
            expect_with_ca: self.expect_with_ca,
            status_with_ca: self.status_with_ca,
            expect_without_ca: self.expect_without_ca,
        };
        write(
            &dir.join("scenario.json"),
            &(serde_json::to_string_pretty(&json)? + "\n"),
        )
    }
}

/// A scenario whose leaf comes from the fixture intermediate: chain = leaf, intermediate; ca = root.
fn issued(
    pki: &Pki,
    name: &'static str,
    description: &'static str,
    leaf: Issued,
    expect_with_ca: &'static str,
    status_with_ca: &'static str,
) -> Scenario {
    Scenario {
        name,
        description,
        verify_name: VERIFY_NAME,
        expect_with_ca,
        status_with_ca,
        expect_without_ca: "unknown_issuer",
        chain: vec![leaf.pem(), pki.intermediate.pem.clone()],
        key: leaf.key_pem,
        ca: vec![pki.root.pem.clone()],
    }
}

fn scenarios(pki: &Pki, tmp: &Path) -> Result<Vec<Scenario>> {
    let mut all = Vec::new();
    dates(pki, &mut all)?;
    names(pki, &mut all)?;
    anchors(pki, &mut all)?;
    purposes_and_signatures(pki, &mut all, tmp)?;
    chain_shapes(pki, &mut all)?;
    lifetimes_and_products(pki, &mut all)?;
    Ok(all)
}

/// The good chain, and leaves outside their validity.
fn dates(pki: &Pki, all: &mut Vec<Scenario>) -> Result<()> {
    let leaf = from_intermediate(pki, default_leaf()?)?;
    all.push(issued(
        pki,
        "good",
        "A valid leaf for fixture.preflight.test sent with its intermediate, trusted through the fixture root.",
        leaf,
        "ok",
        "pass",
    ));

    let leaf = from_intermediate(
        pki,
        leaf_valid(
            datetime!(2025-06-01 00:00:00 UTC),
            datetime!(2026-03-01 00:00:00 UTC),
        )?,
    )?;
    all.push(Scenario {
        expect_without_ca: "expired",
        ..issued(
            pki,
            "expired",
            "The leaf expired on 2026-03-01, three months before the judging time.",
            leaf,
            "expired",
            "fail",
        )
    });

    let leaf = from_intermediate(
        pki,
        leaf_valid(
            datetime!(2026-09-01 00:00:00 UTC),
            datetime!(2027-06-01 00:00:00 UTC),
        )?,
    )?;
    all.push(Scenario {
        expect_without_ca: "not_yet_valid",
        ..issued(
            pki,
            "not_yet_valid",
            "The leaf becomes valid on 2026-09-01, three months after the judging time.",
            leaf,
            "not_yet_valid",
            "fail",
        )
    });
    Ok(())
}

/// Leaves that do not name what is verified.
fn names(pki: &Pki, all: &mut Vec<Scenario>) -> Result<()> {
    let p = server_params(
        "other.preflight.test",
        &["other.preflight.test"],
        LEAF_NOT_BEFORE,
        LEAF_NOT_AFTER,
    )?;
    all.push(issued(
        pki,
        "name_mismatch",
        "The leaf names only other.preflight.test, not the name verified.",
        from_intermediate(pki, p)?,
        "name_mismatch",
        "fail",
    ));

    let p = server_params(
        VERIFY_NAME,
        &[VERIFY_NAME, "localhost"],
        LEAF_NOT_BEFORE,
        LEAF_NOT_AFTER,
    )?;
    all.push(Scenario {
        verify_name: "127.0.0.1",
        ..issued(
            pki,
            "no_ip_san",
            "The leaf has DNS names only and is verified for the address 127.0.0.1, which it does not name.",
            from_intermediate(pki, p)?,
            "name_mismatch",
            "fail",
        )
    });

    let mut p = default_leaf()?;
    p.subject_alt_names.clear();
    all.push(issued(
        pki,
        "cn_only",
        "The leaf has no subjectAltName extension, only CN=fixture.preflight.test, which modern clients ignore.",
        from_intermediate(pki, p)?,
        "no_subject_alt_name",
        "fail",
    ));
    Ok(())
}

/// What is trusted and what is sent: an unrelated root, self-signed server certificates, no intermediate.
fn anchors(pki: &Pki, all: &mut Vec<Scenario>) -> Result<()> {
    let other_root = self_signed_ca("Elsewhere", "Some Other Root CA")?;
    let leaf = from_intermediate(pki, default_leaf()?)?;
    all.push(Scenario {
        ca: vec![other_root.pem.clone()],
        ..issued(
            pki,
            "unknown_issuer",
            "A valid chain from the fixture root, checked against an unrelated root CA.",
            leaf,
            "unknown_issuer",
            "fail",
        )
    });

    let ss = self_signed(leaf_valid(LEAF_NOT_BEFORE, SELF_SIGNED_NOT_AFTER)?)?;
    all.push(Scenario {
        name: "self_signed",
        description: "A self-signed server certificate, like CloudVision's /etc/nginx/cvp.crt, trusted as itself.",
        verify_name: VERIFY_NAME,
        expect_with_ca: "ok",
        status_with_ca: "pass",
        expect_without_ca: "self_signed",
        chain: vec![ss.pem()],
        key: ss.key_pem.clone(),
        ca: vec![ss.pem()],
    });

    let leaf = from_intermediate(pki, default_leaf()?)?;
    all.push(Scenario {
        chain: vec![leaf.pem()],
        expect_without_ca: "incomplete_chain",
        ..issued(
            pki,
            "incomplete_chain",
            "The server sends the leaf without the intermediate that issued it.",
            leaf,
            "incomplete_chain",
            "fail",
        )
    });

    let mut p = leaf_valid(LEAF_NOT_BEFORE, SELF_SIGNED_NOT_AFTER)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let ca_leaf = self_signed(p)?;
    all.push(Scenario {
        name: "ca_used_as_leaf",
        description:
            "A self-signed server certificate marked CA:TRUE with keyCertSign, trusted as itself.",
        verify_name: VERIFY_NAME,
        expect_with_ca: "ca_used_as_leaf",
        status_with_ca: "fail",
        // webpki rejects a CA certificate as the end entity before it looks for an issuer.
        expect_without_ca: "ca_used_as_leaf",
        chain: vec![ca_leaf.pem()],
        key: ca_leaf.key_pem.clone(),
        ca: vec![ca_leaf.pem()],
    });
    Ok(())
}

/// What the leaf is for, and how it is signed.
fn purposes_and_signatures(pki: &Pki, all: &mut Vec<Scenario>, tmp: &Path) -> Result<()> {
    let mut p = default_leaf()?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    all.push(Scenario {
        // webpki checks the end entity's purpose before it looks for an issuer.
        expect_without_ca: "missing_server_auth_eku",
        ..issued(
            pki,
            "missing_server_auth_eku",
            "The leaf's extended key usage allows clientAuth only, not serverAuth.",
            from_intermediate(pki, p)?,
            "missing_server_auth_eku",
            "fail",
        )
    });

    let leaf = resign_sha1(pki, &from_intermediate(pki, default_leaf()?)?, tmp)?;
    all.push(issued(
        pki,
        "weak_signature",
        "The leaf is signed by the intermediate with ecdsa-with-SHA1.",
        leaf,
        "weak_signature",
        "fail",
    ));

    all.push(issued(
        pki,
        "weak_key",
        "The leaf's key is RSA 1024 bits.",
        rsa1024_leaf(pki, tmp)?,
        "weak_key",
        "fail",
    ));

    let leaf = from_intermediate(pki, default_leaf()?)?;
    let leaf = Issued {
        der: flip_signature_byte(&leaf.der)?,
        key_pem: leaf.key_pem,
    };
    all.push(issued(
        pki,
        "bad_signature",
        "The leaf's signature has one bit flipped, so the intermediate's key does not verify it.",
        leaf,
        "bad_signature",
        "fail",
    ));
    Ok(())
}

/// Chains in the wrong order, with extras, or too deep.
fn chain_shapes(pki: &Pki, all: &mut Vec<Scenario>) -> Result<()> {
    let leaf = from_intermediate(pki, default_leaf()?)?;
    all.push(Scenario {
        chain: vec![
            leaf.pem(),
            pki.root.pem.clone(),
            pki.intermediate.pem.clone(),
        ],
        ..issued(
            pki,
            "out_of_order",
            "The server sends the leaf, then the root, then the intermediate: the root comes before the certificate it issued.",
            leaf,
            "chain_out_of_order",
            "warn",
        )
    });

    let p = server_params("Unrelated Leftover", &[], CA_NOT_BEFORE, CA_NOT_AFTER)?;
    let leftover = self_signed(p)?;
    let leaf = from_intermediate(pki, default_leaf()?)?;
    all.push(Scenario {
        chain: vec![
            leaf.pem(),
            pki.intermediate.pem.clone(),
            leftover.pem(),
        ],
        ..issued(
            pki,
            "unrelated_certificate",
            "The server sends its chain plus a self-signed certificate that has nothing to do with it.",
            leaf,
            "unrelated_certificate",
            "warn",
        )
    });

    // A sub-CA under the intermediate, whose path length constraint (0) forbids any CA below it.
    let mut p = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Sub CA",
        BasicConstraints::Unconstrained,
    );
    p.use_authority_key_identifier_extension = true;
    let sub_key = new_key()?;
    let sub_cert = p.signed_by(&sub_key, &pki.intermediate.issuer)?;
    let sub = Ca {
        pem: sub_cert.pem(),
        issuer: Issuer::new(p, sub_key),
    };
    let leaf = signed_by(&sub, default_leaf()?)?;
    all.push(Scenario {
        chain: vec![leaf.pem(), sub.pem.clone(), pki.intermediate.pem.clone()],
        // webpki meets the constraint while building the path, before it looks for an anchor.
        expect_without_ca: "path_length_exceeded",
        ..issued(
            pki,
            "path_too_long",
            "A sub-CA below the intermediate, whose path length constraint (0) forbids it, issues the leaf.",
            leaf,
            "path_length_exceeded",
            "fail",
        )
    });
    Ok(())
}

/// Warnings about the leaf's lifetime, and a product's own CA.
fn lifetimes_and_products(pki: &Pki, all: &mut Vec<Scenario>) -> Result<()> {
    let leaf = from_intermediate(
        pki,
        leaf_valid(LEAF_NOT_BEFORE, datetime!(2026-06-15 00:00:00 UTC))?,
    )?;
    all.push(issued(
        pki,
        "expiring_soon",
        "The leaf expires on 2026-06-15, two weeks after the judging time.",
        leaf,
        "expiring_soon",
        "warn",
    ));

    let leaf = from_intermediate(
        pki,
        leaf_valid(LEAF_NOT_BEFORE, datetime!(2029-01-15 00:00:00 UTC))?,
    )?;
    all.push(issued(
        pki,
        "long_validity",
        "The leaf is valid for three years (1096 days), more than the 825 days clients accept.",
        leaf,
        "long_validity",
        "warn",
    ));

    let mut console_ca = ca_params("Twistlock", "Twistlock", BasicConstraints::Unconstrained);
    console_ca.not_after = datetime!(2029-01-01 00:00:00 UTC);
    let console_ca = self_signed_ca_with(console_ca)?;
    let p = server_params(
        "console.preflight.test",
        &["console.preflight.test", "localhost", "127.0.0.1", "::1"],
        LEAF_NOT_BEFORE,
        datetime!(2028-01-15 00:00:00 UTC),
    )?;
    let leaf = signed_by(&console_ca, p)?;
    all.push(Scenario {
        name: "prisma_console",
        description: "A Prisma Cloud Compute-like Console CA (O=Twistlock, CN=Twistlock) and the console certificate it issued.",
        verify_name: "console.preflight.test",
        expect_with_ca: "ok",
        status_with_ca: "pass",
        expect_without_ca: "unknown_issuer",
        chain: vec![leaf.pem(), console_ca.pem.clone()],
        key: leaf.key_pem,
        ca: vec![console_ca.pem.clone()],
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Scenarios with their own CAs: made at every regeneration, and alone with `--only`

type Make = fn(&Path) -> Result<Scenario>;

/// Each makes its own CAs (distinct names), so writing it leaves `pki/` and every other folder alone.
const STANDALONE: [(&str, Make); 13] = [
    ("expired_wrong_name", expired_wrong_name),
    ("ca_first", ca_first),
    ("weak_root", weak_root),
    ("self_issued", self_issued),
    ("chain_loop", chain_loop),
    ("duplicate_extension", duplicate_extension),
    ("malformed_san", malformed_san),
    ("v1_ca", v1_ca),
    ("empty_eku", empty_eku),
    ("intermediate_anchor", intermediate_anchor),
    ("critical_extension", critical_extension),
    ("name_constraints", name_constraints),
    ("issuer_not_ca", issuer_not_ca),
];

/// A scenario made of a leaf from `intermediate`: chain = leaf, intermediate; ca = root.
fn two_tier(
    root_pem: &str,
    intermediate: &Ca,
    leaf: Issued,
    (name, description): (&'static str, &'static str),
    (expect_with_ca, status_with_ca, expect_without_ca): (&'static str, &'static str, &'static str),
) -> Scenario {
    Scenario {
        name,
        description,
        verify_name: VERIFY_NAME,
        expect_with_ca,
        status_with_ca,
        expect_without_ca,
        chain: vec![leaf.pem(), intermediate.pem.clone()],
        key: leaf.key_pem,
        ca: vec![root_pem.to_string()],
    }
}

/// A scenario on the scenario's own `Pki::named(label)`, whose leaf is the default one changed by `change`.
fn own_pki_leaf(
    label: &str,
    change: impl FnOnce(&mut CertificateParams) -> Result<()>,
    what: (&'static str, &'static str),
    codes: (&'static str, &'static str, &'static str),
) -> Result<Scenario> {
    let pki = Pki::named(label)?;
    let mut p = default_leaf()?;
    change(&mut p)?;
    let leaf = from_intermediate(&pki, p)?;
    Ok(two_tier(
        &pki.root.pem,
        &pki.intermediate,
        leaf,
        what,
        codes,
    ))
}

fn expired_wrong_name(_: &Path) -> Result<Scenario> {
    own_pki_leaf(
        "Expired Wrong Name",
        |p| {
            *p = server_params(
                "other.preflight.test",
                &["other.preflight.test"],
                datetime!(2025-06-01 00:00:00 UTC),
                datetime!(2026-03-01 00:00:00 UTC),
            )?;
            Ok(())
        },
        (
            "expired_wrong_name",
            "The leaf expired on 2026-03-01 and names only other.preflight.test: two faults, the expiry reported.",
        ),
        ("expired", "fail", "expired"),
    )
}

/// The operator configured the CA's certificate and key as the server's: the server sends the CA first,
/// then the leaf it issued, and signs the handshake with the CA's key.
fn ca_first(_: &Path) -> Result<Scenario> {
    let mut p = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Device CA",
        BasicConstraints::Unconstrained,
    );
    p.key_usages.push(KeyUsagePurpose::DigitalSignature);
    let ca = self_signed_ca_with(p)?;
    let leaf = signed_by(&ca, default_leaf()?)?;
    Ok(Scenario {
        name: "ca_first",
        description: "The server sends its self-signed Device CA first (with the CA's key) and the leaf that CA issued second.",
        verify_name: VERIFY_NAME,
        expect_with_ca: "ca_used_as_leaf",
        status_with_ca: "fail",
        expect_without_ca: "ca_used_as_leaf",
        chain: vec![ca.pem.clone(), leaf.pem()],
        key: ca.issuer.key().serialize_pem(),
        ca: vec![ca.pem.clone()],
    })
}

/// A root with an RSA-1024 key (self-signed, and signing its intermediate, through openssl).
fn weak_root(tmp: &Path) -> Result<Scenario> {
    let (public, key_path) = rsa1024_key(tmp, "weak_root")?;
    let key = OpensslRsaKey { public, key_path };
    let p = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Weak Root CA",
        BasicConstraints::Unconstrained,
    );
    let root_pem = p.self_signed(&key)?.pem();
    let root = Issuer::new(p, key);
    let intermediate = ca_signed_by(
        &root,
        intermediate_params("Preflight Fixture Weak Root Issuing CA"),
    )?;
    let leaf = with_aia_signed_by(&intermediate, default_leaf()?)?;
    Ok(two_tier(
        &root_pem,
        &intermediate,
        leaf,
        (
            "weak_root",
            "The root CA's key is RSA 1024 bits; it signed an EC intermediate, which issued the leaf.",
        ),
        ("weak_key", "fail", "unknown_issuer"),
    ))
}

/// A CA re-keyed under the same name: the old intermediate (pathlen 0) signs a self-issued link
/// certificate for its new key, which issues the leaf. RFC 5280 (and OpenSSL) do not count the
/// self-issued link against the old intermediate's pathlen 0; webpki counts every CA.
fn self_issued(_: &Path) -> Result<Scenario> {
    let root = self_signed_ca(FIXTURE_ORG, "Preflight Fixture Rekey Root CA")?;
    let old = ca_signed_by(
        &root.issuer,
        intermediate_params("Preflight Fixture Rekeyed CA"),
    )?;
    let mut p = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Rekeyed CA",
        BasicConstraints::Unconstrained,
    );
    p.use_authority_key_identifier_extension = true;
    let link = ca_signed_by(&old.issuer, p)?;
    let leaf = with_aia_signed_by(&link, default_leaf()?)?;
    Ok(Scenario {
        chain: vec![leaf.pem(), link.pem.clone(), old.pem.clone()],
        ..two_tier(
            &root.pem,
            &link,
            leaf,
            (
                "self_issued",
                "A re-keyed CA: the old intermediate (pathlen 0) signs a self-issued link to its new key, which issues the leaf.",
            ),
            ("self_issued_intermediate", "fail", "unknown_issuer"),
        )
    })
}

/// Two CAs that issued each other's certificates; A issues the leaf. The anchor is unrelated.
fn chain_loop(_: &Path) -> Result<Scenario> {
    let (key_a, key_b) = (new_key()?, new_key()?);
    let mut pa = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Loop CA A",
        BasicConstraints::Unconstrained,
    );
    let mut pb = ca_params(
        FIXTURE_ORG,
        "Preflight Fixture Loop CA B",
        BasicConstraints::Unconstrained,
    );
    pa.use_authority_key_identifier_extension = true;
    pb.use_authority_key_identifier_extension = true;
    let a_pem = pa
        .signed_by(&key_a, &Issuer::from_params(&pb, &key_b))?
        .pem();
    let b_pem = pb
        .signed_by(&key_b, &Issuer::from_params(&pa, &key_a))?
        .pem();
    let a = Ca {
        pem: a_pem,
        issuer: Issuer::new(pa, key_a),
    };
    let anchor = self_signed_ca(FIXTURE_ORG, "Preflight Fixture Loop Anchor")?;
    let leaf = with_aia_signed_by(&a, default_leaf()?)?;
    Ok(Scenario {
        chain: vec![leaf.pem(), a.pem.clone(), b_pem],
        ..two_tier(
            &anchor.pem,
            &a,
            leaf,
            (
                "chain_loop",
                "CA A's certificate is issued by CA B and B's by A; A issues the leaf, so the chain never reaches a root.",
            ),
            ("chain_loop", "fail", "chain_loop"),
        )
    })
}

/// subjectAltName (2.5.29.17) content for `names`: DNS names as [2], addresses as [7].
fn san_der(names: &[&str]) -> Vec<u8> {
    let general_names: Vec<u8> = names
        .iter()
        .flat_map(|n| match n.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => der_tlv(0x87, &ip.octets()),
            Ok(IpAddr::V6(ip)) => der_tlv(0x87, &ip.octets()),
            Err(_) => der_tlv(0x82, n.as_bytes()),
        })
        .collect();
    der_tlv(0x30, &general_names)
}

const SAN_OID: [u64; 4] = [2, 5, 29, 17];

fn duplicate_extension(_: &Path) -> Result<Scenario> {
    own_pki_leaf(
        "Duplicate Extension",
        |p| {
            let san = CustomExtension::from_oid_content(&SAN_OID, san_der(&DEFAULT_SANS));
            p.custom_extensions.push(san);
            Ok(())
        },
        (
            "duplicate_extension",
            "The leaf carries the subjectAltName extension twice (same value), which RFC 5280 forbids.",
        ),
        ("duplicate_extension", "fail", "duplicate_extension"),
    )
}

fn malformed_san(_: &Path) -> Result<Scenario> {
    own_pki_leaf(
        "Malformed SAN",
        |p| {
            // A SEQUENCE that says 64 bytes and holds 24: the OCTET STRING around it, and so the
            // certificate, still parse.
            let mut content = vec![0x30, 0x40];
            content.extend(der_tlv(0x82, VERIFY_NAME.as_bytes()));
            p.subject_alt_names.clear();
            p.custom_extensions
                .push(CustomExtension::from_oid_content(&SAN_OID, content));
            Ok(())
        },
        (
            "malformed_san",
            "The leaf's subjectAltName value is not valid DER: its SEQUENCE says 64 bytes and holds 24.",
        ),
        ("malformed_extension", "fail", "malformed_extension"),
    )
}

/// The intermediate is an X.509 v1 certificate (no version, no extensions), made by `as_v1`.
fn v1_ca(tmp: &Path) -> Result<Scenario> {
    let root = self_signed_ca(FIXTURE_ORG, "Preflight Fixture V1 Root CA")?;
    let p = intermediate_params("Preflight Fixture V1 Issuing CA");
    let key = new_key()?;
    let v3 = p.signed_by(&key, &root.issuer)?;
    let intermediate = Ca {
        pem: pem("CERTIFICATE", &as_v1(v3.der(), root.issuer.key(), tmp)?),
        issuer: Issuer::new(p, key),
    };
    let leaf = with_aia_signed_by(&intermediate, default_leaf()?)?;
    Ok(two_tier(
        &root.pem,
        &intermediate,
        leaf,
        (
            "v1_ca",
            "The intermediate is an X.509 v1 certificate: no version field and no extensions, so no CA:TRUE.",
        ),
        ("not_v3", "fail", "unknown_issuer"),
    ))
}

/// `der` (a v3 certificate signed by `issuer_key`, EC P-256) as a v1 certificate: the TBSCertificate
/// without its `[0]` version and `[3]` extensions, signed again by `openssl dgst -sha256 -sign`
/// (ecdsa-with-SHA256, as the algorithm identifiers rcgen wrote already say).
fn as_v1(der: &[u8], issuer_key: &KeyPair, tmp: &Path) -> Result<Vec<u8>> {
    let cert = der_elements(der_content(der, 0x30)?)?;
    let (Some(tbs), Some(alg)) = (cert.first(), cert.get(1)) else {
        bail!("unexpected certificate");
    };
    let fields = der_elements(der_content(tbs, 0x30)?)?;
    let (Some(first), Some(last)) = (fields.first(), fields.last()) else {
        bail!("empty TBSCertificate");
    };
    ensure!(
        fields.len() == 8 && first[0] == 0xa0 && last[0] == 0xa3,
        "expected version, 6 fields and extensions in the TBSCertificate"
    );
    let tbs_v1 = der_tlv(0x30, &fields[1..7].concat());
    let (tbs_path, key_path) = (tmp.join("v1_tbs.der"), tmp.join("v1_issuer.key"));
    fs::write(&tbs_path, &tbs_v1)?;
    write(&key_path, &issuer_key.serialize_pem())?;
    let sig = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        path_str(&key_path)?,
        path_str(&tbs_path)?,
    ])?;
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(sig);
    let v1 = der_tlv(0x30, &[tbs_v1, alg.to_vec(), der_tlv(0x03, &bits)].concat());

    let (_, before) = X509Certificate::from_der(der).context("parsing the v3 certificate")?;
    let (_, after) = X509Certificate::from_der(&v1).context("parsing the v1 certificate")?;
    let (b, a) = (&before.tbs_certificate, &after.tbs_certificate);
    ensure!(
        a.version == x509_parser::x509::X509Version::V1
            && a.extensions().is_empty()
            && a.validity == b.validity
            && a.serial == b.serial
            && a.subject == b.subject
            && a.issuer == b.issuer
            && a.subject_pki.raw == b.subject_pki.raw
            && after.signature_algorithm == before.signature_algorithm,
        "the v1 certificate differs from the v3 one in more than version and extensions"
    );
    Ok(v1)
}

fn empty_eku(_: &Path) -> Result<Scenario> {
    own_pki_leaf(
        "Empty EKU",
        |p| {
            p.extended_key_usages.clear();
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[2, 5, 29, 37],
                vec![0x30, 0x00],
            ));
            Ok(())
        },
        (
            "empty_eku",
            "The leaf's extendedKeyUsage extension is an empty SEQUENCE: it allows no purpose at all.",
        ),
        ("empty_eku", "fail", "empty_eku"),
    )
}

fn intermediate_anchor(_: &Path) -> Result<Scenario> {
    let pki = Pki::named("Intermediate Anchor")?;
    let leaf = from_intermediate(&pki, default_leaf()?)?;
    Ok(Scenario {
        chain: vec![
            leaf.pem(),
            pki.intermediate.pem.clone(),
            pki.root.pem.clone(),
        ],
        ..two_tier(
            &pki.intermediate.pem,
            &pki.intermediate,
            leaf,
            (
                "intermediate_anchor",
                "The server sends leaf, intermediate and root; ca.pem holds the intermediate alone, which is enough.",
            ),
            ("ok", "pass", "unknown_issuer"),
        )
    })
}

fn critical_extension(_: &Path) -> Result<Scenario> {
    own_pki_leaf(
        "Critical Extension",
        |p| {
            let mut ext =
                CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x30, 0x00]);
            ext.set_criticality(true);
            p.custom_extensions.push(ext);
            Ok(())
        },
        (
            "critical_extension",
            "The leaf has a private extension (1.3.6.1.4.1.55555.1) marked critical, which no client knows.",
        ),
        (
            "unknown_critical_extension",
            "fail",
            "unknown_critical_extension",
        ),
    )
}

/// The intermediate may issue only for DNS names under `.example.net`.
fn name_constraints(_: &Path) -> Result<Scenario> {
    let mut p = intermediate_params("Preflight Fixture Name Constraints Issuing CA");
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName(".example.net".into())],
        excluded_subtrees: Vec::new(),
    });
    let pki = Pki::build("Preflight Fixture Name Constraints Root CA", p)?;
    let leaf = from_intermediate(&pki, default_leaf()?)?;
    Ok(two_tier(
        &pki.root.pem,
        &pki.intermediate,
        leaf,
        (
            "name_constraints",
            "The intermediate is constrained to DNS names under .example.net and issues a leaf for fixture.preflight.test.",
        ),
        ("name_constraint_violation", "fail", "unknown_issuer"),
    ))
}

/// The leaf is signed by a certificate that is not a CA (CA:FALSE), itself issued by the root.
fn issuer_not_ca(_: &Path) -> Result<Scenario> {
    let root = self_signed_ca(FIXTURE_ORG, "Preflight Fixture Issuer Not CA Root CA")?;
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(Some(FIXTURE_ORG), "Preflight Fixture Not A CA");
    p.not_before = CA_NOT_BEFORE;
    p.not_after = CA_NOT_AFTER;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    let not_ca = ca_signed_by(&root.issuer, p)?;
    let leaf = with_aia_signed_by(&not_ca, default_leaf()?)?;
    Ok(two_tier(
        &root.pem,
        &not_ca,
        leaf,
        (
            "issuer_not_ca",
            "The leaf is signed by a certificate marked CA:FALSE (CN=Preflight Fixture Not A CA), which the root issued.",
        ),
        // webpki meets CA:FALSE while building the path, before it looks for an anchor.
        ("issuer_not_ca", "fail", "issuer_not_ca"),
    ))
}

// ---------------------------------------------------------------------------------------------------
// Files

/// `dir` emptied (or created), so a regeneration leaves no stale file behind.
fn fresh_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
