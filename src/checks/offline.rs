//! `preflight verify`: the chain and trust checks on a chain read from a file, offline.

use std::time::Instant;

use time::OffsetDateTime;

use super::skip_trust;
use super::{inspect, trust};
use crate::pki::sources::TrustSources;
use crate::report::model::{Report, TargetInfo};

/// What `preflight verify` judges: a chain from a file, offline.
pub struct OfflineInput<'a> {
    /// The file, as the user named it.
    pub label: String,
    pub chain: &'a [rustls::pki_types::CertificateDer<'static>],
    pub name: Option<String>,
    pub product: crate::target::Product,
    pub warn_days: i64,
    /// `--require-store`: default stores that fail rather than inform.
    pub required_stores: Vec<crate::pki::sources::SourceKind>,
}

/// The same chain and trust checks as `run`, on a chain read from a file: no network.
pub fn verify_offline(
    input: &OfflineInput<'_>,
    trust: &TrustSources,
    now: OffsetDateTime,
    at: Option<OffsetDateTime>,
) -> Report {
    let start = Instant::now();
    let judged_at = at.unwrap_or(now);
    let mut checks = Vec::new();
    let (chain_check, facts) = inspect::run(input.chain, judged_at);
    let chain_ok = chain_check.status == crate::report::Status::Pass;
    checks.push(chain_check);
    let mut clients = Vec::new();
    if chain_ok {
        let t = trust::TrustInput {
            chain: input.chain,
            facts: &facts,
            name: input.name.clone(),
            at: judged_at,
            at_chosen: at.is_some(),
            product: input.product,
            authority: None,
            again: None,
            required_stores: input.required_stores.clone(),
            warn_days: input.warn_days,
            alpn_h2: None,
            server_date: None,
            revoked: None,
            inspected_by: None,
            client_cert_required: false,
            identity_files: None,
            negotiates: None,
            message_too_large: false,
        };
        let judged = trust::run(trust, &t);
        checks.extend(judged.checks);
        clients = judged.clients;
    } else {
        skip_trust(&mut checks, trust, inspect::ID);
    }
    let target = TargetInfo {
        input: input.label.clone(),
        host: input.name.clone().unwrap_or_default(),
        port: None,
        path: None,
        product: input.product,
        sni: None,
        proxy: None,
    };
    Report::new(
        target,
        now,
        judged_at,
        checks,
        facts,
        clients,
        start.elapsed(),
    )
}
