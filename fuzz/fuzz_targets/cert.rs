//! A server's certificate chain, as hostile as it likes: facts, `cert.chain`, and the trust stage (webpki
//! judgement, diagnosis, warnings, client advice) at the fixed time 2026-06-01T00:00:00Z.
//!
//! Input layout: byte 0 = `CCCCCNNN`: `NNN` = number of certificates (0 means "the rest is one DER
//! certificate"), `CCCCC` picks the name asked for (2 bits), the product (1 bit) and the
//! server's clock (2 bits). Then, per certificate,
//! a big-endian u16 length and that many bytes (the last one is cut short at the end of the input).
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use preflight::checks::trust::{self, TrustInput};
use preflight::pki::facts::{distinguished_names, inspect};
use preflight::pki::sources::{custom, mozilla, pins, TrustSource, TrustSources};
use preflight::checks::trust::diagnose::{diagnose, extra_failure, warnings, Case};
use preflight::pki::judge::{der_value, judge, name_text};
use preflight::target::Product;
use rustls_pki_types::{CertificateDer, ServerName};
use time::macros::datetime;
use time::OffsetDateTime;

const AT: OffsetDateTime = datetime!(2026-06-01 00:00:00 UTC);

/// The fixtures' root (`fixtures/good/ca.pem`), loaded once: the `--ca` of every run.
static GOOD_CA: LazyLock<TrustSource> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/good/ca.pem");
    custom(&[path]).expect("fixtures/good/ca.pem loads")
});
static MOZILLA: LazyLock<TrustSource> = LazyLock::new(mozilla);
/// A pin no input matches (the SHA-256 of nothing), so `trust.pin` is judged and fails.
static PIN: LazyLock<TrustSource> = LazyLock::new(|| {
    pins(&["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string()])
        .expect("pin")
});

const NAMES: [Option<&str>; 4] = [
    None,
    Some("fixture.preflight.test"),
    Some("127.0.0.1"),
    Some("console.preflight.test"),
];
const PRODUCTS: [Product; 2] = [Product::Cvp, Product::Prisma];

fn split_chain(data: &[u8]) -> (u8, Vec<CertificateDer<'static>>) {
    let Some((&head, mut rest)) = data.split_first() else {
        return (0, vec![]);
    };
    let count = head & 0x07;
    if count == 0 {
        return (head >> 3, vec![CertificateDer::from(rest.to_vec())]);
    }
    let mut chain = Vec::new();
    for _ in 0..count {
        if rest.len() < 2 {
            break;
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let take = len.min(rest.len());
        chain.push(CertificateDer::from(rest[..take].to_vec()));
        rest = &rest[take..];
    }
    (head >> 3, chain)
}

fuzz_target!(|data: &[u8]| {
    let (choice, chain) = split_chain(data);
    let name = NAMES[(choice & 0x03) as usize];
    let product = PRODUCTS[((choice >> 2) & 0x01) as usize];
    // The server's clock: unknown, right, or 400 days off either way (the clock-skew explanations).
    let server_date = match (choice >> 3) & 0x03 {
        0 => None,
        1 => Some(AT),
        2 => Some(AT - time::Duration::days(400)),
        _ => Some(AT + time::Duration::days(400)),
    };

    // Facts, one certificate at a time, and what reports print from them.
    for (i, der) in chain.iter().enumerate() {
        let f = inspect(i, der.as_ref(), AT);
        assert_eq!(f.sha256.len(), 95);
        let _ = (f.short_name(), f.key_description(), f.san_list());
        let _ = name_text(der_value(der.as_ref()));
    }
    let raw: Vec<Vec<u8>> = chain.iter().map(|d| d.to_vec()).collect();
    let _ = distinguished_names(&raw);

    // `cert.chain`, as the pipeline runs it.
    let (check, facts) = preflight::checks::inspect::run(&chain, AT);
    let _ = serde_json::to_string(&check);

    // The properties.rs way: webpki's verdict on the `--ca` source, then our explanation of it.
    let good = &*GOOD_CA;
    let case = Case {
        chain: &chain,
        facts: &facts,
        name,
        at: AT,
        source: good,
        others: vec![&*MOZILLA],
        product,
        authority: name.map(|n| format!("{n}:443")),
        warn_days: 30,
        server_date,
    };
    let server_name = name.and_then(|n| ServerName::try_from(n.to_string()).ok());
    match judge(&good.anchors, &chain, server_name.as_ref(), AT) {
        Ok(path) => {
            let _ = extra_failure(&case, &path);
            let _ = warnings(&case, &path);
        }
        Err(e) => {
            let f = diagnose(&e, &case);
            assert!(!f.summary.is_empty() && !f.fix.is_empty());
        }
    }

    // The whole trust stage, with the chain's own last certificate as a second `--ca` anchor when it can be
    // one (so self-signed and private chains reach the "trusted, but ..." warnings too).
    let mut own = good.clone();
    if let Some(last) = chain.last() {
        if let Ok(anchor) = webpki::anchor_from_trusted_cert(last) {
            own.anchors.push(anchor.to_owned());
        }
    }
    let sources = TrustSources {
        sources: vec![own, PIN.clone(), MOZILLA.clone()],
    };
    let input = TrustInput {
        chain: &chain,
        facts: &facts,
        name: name.map(str::to_string),
        at: AT,
        product,
        authority: name.map(|n| format!("{n}:443")),
        warn_days: 30,
        alpn_h2: Some(choice & 0x04 == 0),
        server_date,
        revoked: None,
        inspected_by: None,
        client_cert_required: false,
        identity_files: None,
        negotiates: None,
        message_too_large: false,
    };
    let judged = trust::run(&sources, &input);
    let (checks, advice) = (judged.checks, judged.clients);
    for c in &checks {
        assert!(!c.summary.is_empty());
        let _ = serde_json::to_string(c);
    }
    let _ = serde_json::to_string(&advice);
});
