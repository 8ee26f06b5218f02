//! `tls.offer` (`--offer`): what the server offers, listed as a scanner would (every version, its suites, the
//! groups), with what clients refuse or what is weak flagged.

use std::time::Duration;

use serde_json::json;

use crate::codes::Code;
use crate::net::hello::{version_name, TLS10, TLS11, TLS12, TLS13};
use crate::net::offer::{Cipher, Enumeration, Kx, Suite};
use crate::report::{Check, Status};

pub const ID: &str = "tls.offer";

/// The nginx line that keeps TLS 1.2 and 1.3 with forward-secret AEAD suites only (Mozilla's intermediate).
const NGINX: &str = "nginx: `ssl_protocols TLSv1.2 TLSv1.3;` and `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;`";

struct Finding {
    code: Code,
    summary: String,
    fix: String,
}

/// What is weak in the offer: legacy versions, broken ciphers, no forward secrecy.
fn findings(e: &Enumeration) -> Vec<Finding> {
    let mut out = Vec::new();
    let legacy: Vec<&str> = [TLS11, TLS10]
        .into_iter()
        .filter(|v| !e.at(*v).is_empty())
        .map(version_name)
        .collect();
    if !legacy.is_empty() {
        out.push(Finding {
            code: Code::LegacyTlsEnabled,
            summary: format!("{} still accepted (deprecated by RFC 8996; current clients refuse them, and they allow downgrade attacks on old ones)", legacy.join(" and ")),
            fix: format!("Disable them ({NGINX})"),
        });
    }
    let all = e.all();
    let names = |f: &dyn Fn(&Suite) -> bool| -> Vec<&'static str> {
        all.iter().filter(|s| f(s)).map(|s| s.name).collect()
    };
    let broken = names(&|s| s.cipher == Cipher::Broken || s.kx == Kx::Anonymous);
    if !broken.is_empty() {
        out.push(Finding {
            code: Code::WeakCipherOffered,
            summary: format!("weak suites accepted: {} (3DES, RC4, NULL, EXPORT or anonymous: broken, or no encryption or authentication)", broken.join(", ")),
            fix: format!("Remove them from the server's cipher list ({NGINX})"),
        });
    }
    let rsa = names(&|s| s.kx == Kx::Rsa && s.cipher != Cipher::Broken);
    if !rsa.is_empty() {
        out.push(Finding {
            code: Code::NoForwardSecrecy,
            summary: format!("RSA key exchange accepted: {} (no forward secrecy: whoever gets the server's key reads recorded traffic)", rsa.join(", ")),
            fix: format!("Offer ECDHE suites only ({NGINX})"),
        });
    }
    out
}

/// `TLS 1.2: A, B; TLS 1.0 and 1.1 refused` with at most 6 suites named a version.
fn listing(e: &Enumeration) -> String {
    let mut parts = Vec::new();
    let mut refused = Vec::new();
    for (v, suites) in &e.versions {
        if suites.is_empty() {
            if !e.unanswered.contains(v) {
                refused.push(version_name(*v));
            }
            continue;
        }
        let shown: Vec<&str> = suites.iter().take(6).map(|s| s.name).collect();
        let more = match suites.len() {
            n if n > 6 => format!(" and {} more", n - 6),
            _ => String::new(),
        };
        parts.push(format!("{}: {}{more}", version_name(*v), shown.join(", ")));
    }
    if !refused.is_empty() {
        parts.push(format!("refused: {}", refused.join(", ")));
    }
    if !e.unanswered.is_empty() {
        let silent: Vec<&str> = e.unanswered.iter().map(|v| version_name(*v)).collect();
        parts.push(format!("no answer: {}", silent.join(", ")));
    }
    if !e.groups.is_empty() {
        parts.push(format!("groups: {}", e.groups.join(", ")));
    }
    parts.join("; ")
}

/// The `tls.offer` check of an enumeration that took `elapsed`.
pub fn check(e: &Enumeration, elapsed: Duration) -> Check {
    let found = findings(e);
    let mut summary = format!(
        "{} ({} ClientHellos{})",
        listing(e),
        e.connections,
        if e.incomplete {
            "; some got no answer, so a list may be short"
        } else {
            ""
        }
    );
    let check = match found.first() {
        None => Check::pass(ID, summary),
        Some(first) => {
            let words: Vec<&str> = found.iter().map(|f| f.summary.as_str()).collect();
            summary = format!("{summary}; but {}", words.join("; "));
            let list: Vec<serde_json::Value> = found
                .iter()
                .map(|f| json!({"code": f.code.as_str(), "summary": f.summary, "fix": f.fix}))
                .collect();
            Check::new(ID, Status::Warn, first.code, summary)
                .with_fix(first.fix.clone())
                .with_fact("warnings", list)
        }
    };
    let versions: serde_json::Map<String, serde_json::Value> = e
        .versions
        .iter()
        .map(|(v, suites)| {
            let names: Vec<&str> = suites.iter().map(|s| s.name).collect();
            (version_name(*v).to_string(), json!(names))
        })
        .collect();
    check
        .with_fact("versions", versions)
        .with_fact("groups", e.groups.clone())
        .with_fact("client_hellos", e.connections)
        .with_fact("complete", !e.incomplete)
        .with_elapsed(elapsed)
}

/// Whether the enumeration found any version at all (TLS 1.3 first).
pub fn any(e: &Enumeration) -> bool {
    [TLS13, TLS12, TLS11, TLS10]
        .iter()
        .any(|v| !e.at(*v).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::offer::suite;

    #[test]
    fn weak_offers_are_flagged_each_with_its_fix() {
        let e = Enumeration {
            versions: vec![
                (TLS13, vec![]),
                (
                    TLS12,
                    [0xC02F, 0x002F, 0x003B]
                        .iter()
                        .filter_map(|i| suite(*i))
                        .collect(),
                ),
                (TLS11, vec![]),
                (TLS10, vec![suite(0x002F).unwrap()]),
            ],
            groups: vec!["x25519"],
            connections: 12,
            incomplete: false,
            unanswered: vec![],
        };
        let c = check(&e, Duration::from_millis(40));
        assert_eq!((c.status, c.code), (Status::Warn, Code::LegacyTlsEnabled));
        assert!(
            c.summary.contains("TLS 1.0 still accepted"),
            "{}",
            c.summary
        );
        assert!(c
            .summary
            .contains("weak suites accepted: TLS_RSA_WITH_NULL_SHA256"));
        assert!(c
            .summary
            .contains("RSA key exchange accepted: TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert!(
            c.summary.contains("refused: TLS 1.3, TLS 1.1"),
            "{}",
            c.summary
        );
        assert_eq!(c.facts["warnings"].as_array().map(Vec::len), Some(3));
        let good = Enumeration {
            versions: vec![
                (TLS13, vec![suite(0x1301).unwrap()]),
                (TLS12, vec![suite(0xC02F).unwrap()]),
            ],
            ..e
        };
        assert_eq!(check(&good, Duration::ZERO).status, Status::Pass);
    }
}
