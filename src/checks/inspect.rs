//! `cert.chain`: the captured chain parsed, certificate by certificate, in the order sent.

use time::OffsetDateTime;

use crate::codes::Code;
use crate::pki::facts::{inspect, CertFacts};
use crate::report::Check;
use rustls::pki_types::CertificateDer;

pub const ID: &str = "cert.chain";

/// Every certificate's facts, in the order sent: parsed once per run, used by every stage after.
pub fn parse(chain: &[CertificateDer<'static>], now: OffsetDateTime) -> Vec<CertFacts> {
    chain
        .iter()
        .enumerate()
        .map(|(i, der)| inspect(i, der.as_ref(), now))
        .collect()
}

pub fn run(chain: &[CertificateDer<'static>], now: OffsetDateTime) -> (Check, Vec<CertFacts>) {
    judge(parse(chain, now))
}

/// The `cert.chain` check on facts already parsed.
pub fn judge(facts: Vec<CertFacts>) -> (Check, Vec<CertFacts>) {
    if facts.is_empty() {
        let check = Check::fail(
            ID,
            Code::EmptyChain,
            "the server sent no certificate",
            "Configure a certificate on the server (nginx: `ssl_certificate`)",
        );
        return (check, facts);
    }
    if let Some(bad) = facts.iter().find(|f| f.parse_error.is_some()) {
        let check = Check::fail(
            ID,
            Code::CertUnparsable,
            format!(
                "certificate #{} of {} does not parse: {}",
                bad.index,
                facts.len(),
                bad.parse_error.as_deref().unwrap_or("")
            ),
            "Re-export the certificate file the server uses (`openssl x509 -in FILE -noout -text` must read it)",
        );
        return (check.with_fact("count", facts.len()), facts);
    }
    let describe = |f: &CertFacts| {
        let mut s = f.short_name();
        if f.self_signed {
            s.push_str(" (self-signed)");
        }
        s
    };
    let leaf = &facts[0];
    let expiry = if leaf.days_left < 0 {
        format!("expired {} days ago", -leaf.days_left)
    } else {
        format!("expires in {} days", leaf.days_left)
    };
    let rest: Vec<String> = facts[1..].iter().map(describe).collect();
    let summary = if rest.is_empty() {
        format!("1 certificate: {}, {expiry}", describe(leaf))
    } else {
        format!(
            "{} certificates: {}, {expiry}; then {}",
            facts.len(),
            describe(leaf),
            rest.join(", ")
        )
    };
    let check = Check::pass(ID, summary)
        .with_fact("count", facts.len())
        .with_fact("leaf_sha256", leaf.sha256.clone());
    (check, facts)
}
