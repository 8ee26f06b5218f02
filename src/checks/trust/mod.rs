//! `trust.custom`, `trust.pin`, `trust.mozilla`, `trust.system`: the captured chain judged against every
//! trust source, offline, with one explanation and one fix each; then which common clients will connect.

pub mod defects;
pub mod diagnose;

use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use time::OffsetDateTime;

use crate::codes::Code;
use crate::pki::facts::CertFacts;
use crate::pki::judge;
use crate::pki::sources::{SourceKind, TrustSource, TrustSources};

use crate::report::model::ClientAdvice;
use crate::report::{Check, Status};
use crate::target::Product;
use diagnose::Case;

/// What the trust stage judges.
pub struct TrustInput<'a> {
    pub chain: &'a [CertificateDer<'static>],
    pub facts: &'a [CertFacts],
    /// The name or address clients ask for; `None` skips the name check (offline, no `--name`).
    pub name: Option<String>,
    pub at: OffsetDateTime,
    /// `at` is the user's `--at`, not this machine's clock: no advice about clocks.
    pub at_chosen: bool,
    pub product: Product,
    /// `host:port` for commands in fixes; `None` offline.
    pub authority: Option<String>,
    /// The commands fixes suggest, with the user's connection options; `None` offline.
    pub again: Option<diagnose::Again>,
    /// Default stores that fail rather than inform when a chosen source accepts (`--require-store`).
    pub required_stores: Vec<SourceKind>,
    pub warn_days: i64,
    /// Whether ALPN h2 was negotiated (`None` when not judged).
    pub alpn_h2: Option<bool>,
    /// The server's clock (`Date`), read when a certificate's dates were in doubt.
    pub server_date: Option<OffsetDateTime>,
    /// The server's certificate is revoked (`cert.revocation`): every source that accepted the chain fails.
    pub revoked: Option<&'a crate::checks::revocation::Revoked>,
    /// The inspection CA that made the chain (`proxy.intercept`), when a TLS-inspecting proxy did: fixes
    /// and client advice then point at that CA, not at the server's certificate.
    pub inspected_by: Option<String>,
    /// The server requires a client certificate (the handshake said so).
    pub client_cert_required: bool,
    /// The client certificate and key the user gave (`--cert`, `--key`), absolute, for the client lines.
    pub identity_files: Option<(String, String)>,
    /// What the server negotiates, when rustls could not (raw ClientHellos).
    pub negotiates: Option<crate::checks::clients::Negotiation>,
    /// rustls refused a handshake message over 64 KB (the certificate chain).
    pub message_too_large: bool,
}

fn server_name(name: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(name.to_string()).ok()
}

fn judge_source(
    source: &TrustSource,
    sources: &TrustSources,
    input: &TrustInput<'_>,
) -> (Check, Verdict) {
    let id = source.kind.check_id();
    if source.kind == SourceKind::Pin {
        return judge_pin(source, input);
    }
    let case = Case {
        chain: input.chain,
        facts: input.facts,
        name: input.name.as_deref(),
        at: input.at,
        at_chosen: input.at_chosen,
        source,
        others: sources
            .sources
            .iter()
            .filter(|s| s.kind != source.kind)
            .collect(),
        product: input.product,
        authority: input.authority.clone(),
        again: input.again.clone(),
        warn_days: input.warn_days,
        server_date: input.server_date,
    };
    let name = input.name.as_deref().and_then(server_name);
    let base_facts = |c: Check| base_facts(c, source, input);
    match judge::judge(&source.anchors, input.chain, name.as_ref(), input.at) {
        Ok(path) => {
            if let Some(f) = diagnose::extra_failure(&case, &path) {
                let check = Check::fail(id, f.code, f.summary, f.fix);
                let check = base_facts(check).with_fact("path", path_text(&path, input));
                return (check, Verdict::Rejected(f.code));
            }
            let check = accepted(&case, &path, input);
            (
                base_facts(check).with_fact("path", path_text(&path, input)),
                Verdict::Accepted,
            )
        }
        Err(e) => {
            let mut first = diagnose::diagnose(&e, &case);
            let code = first.code;
            let more = defects::leaf_defects(&case, &mut first);
            let check = base_facts(every_defect(id, first, more));
            (check, Verdict::Rejected(code))
        }
    }
}

/// A failure with every defect found: the first (webpki's) leads, the others follow in the summary and the
/// fix, and all are listed in the fact `defects`.
fn every_defect(id: &str, first: diagnose::Finding, more: Vec<diagnose::Finding>) -> Check {
    if more.is_empty() {
        return Check::fail(id, first.code, first.summary, first.fix);
    }
    let all: Vec<&diagnose::Finding> = std::iter::once(&first).chain(&more).collect();
    let list: Vec<serde_json::Value> = all
        .iter()
        .map(|f| json!({"code": f.code.as_str(), "summary": f.summary, "fix": f.fix}))
        .collect();
    let summary = all
        .iter()
        .map(|f| f.summary.as_str())
        .collect::<Vec<_>>()
        .join("; and ");
    // One fix may cure several defects (the right certificate, sent first): said once.
    let mut fixes: Vec<&str> = Vec::new();
    for f in &all {
        if !fixes.contains(&f.fix.as_str()) {
            fixes.push(&f.fix);
        }
    }
    let fix = match fixes.as_slice() {
        [one] => one.to_string(),
        many => format!(
            "Fix all {}: {}",
            many.len(),
            many.iter()
                .enumerate()
                .map(|(i, f)| format!("{}. {}", i + 1, f.trim_end_matches('.')))
                .collect::<Vec<_>>()
                .join(". ")
        ),
    };
    Check::fail(id, first.code, summary, fix).with_fact("defects", list)
}

/// The facts every source's check carries: the source, the name, the time judged, the files.
fn base_facts(c: Check, source: &TrustSource, input: &TrustInput<'_>) -> Check {
    let mut c = c
        .with_fact("source", source.label.clone())
        .with_fact("anchors", source.anchors.len())
        .with_fact("name", input.name.clone())
        .with_fact("judged_at", crate::duration::rfc3339(input.at));
    if let Some(d) = input.server_date {
        c = c
            .with_fact("server_date", crate::duration::rfc3339(d))
            .with_fact("clock_offset_seconds", (input.at - d).whole_seconds());
    }
    if !source.files.is_empty() {
        c = c.with_fact(
            "files",
            serde_json::to_value(&source.files).unwrap_or_default(),
        );
    }
    if !source.load_errors.is_empty() {
        c = c.with_fact("load_errors", source.load_errors.clone());
    }
    c
}

/// The path webpki built, leaf to anchor, by name.
fn path_text(path: &judge::PathInfo, input: &TrustInput<'_>) -> Vec<String> {
    std::iter::once(0)
        .chain(path.intermediates.iter().copied())
        .filter_map(|i| input.facts.get(i).map(|f| f.short_name()))
        .chain(std::iter::once(path.anchor.clone()))
        .collect()
}

/// An accepted chain: pass, or warn with every warning (expiring soon, order, strays, long validity).
fn accepted(case: &Case<'_>, path: &judge::PathInfo, input: &TrustInput<'_>) -> Check {
    let source = case.source;
    let id = source.kind.check_id();
    let warnings = diagnose::warnings(case, path);
    let trusted = format!(
        "trusted by {}: {}",
        source.label,
        path_text(path, input).join(" → ")
    );
    let Some(first) = warnings.first() else {
        return Check::pass(id, trusted);
    };
    let text: Vec<String> = warnings.iter().map(|w| w.summary.clone()).collect();
    let list: Vec<serde_json::Value> = warnings
        .iter()
        .map(|w| json!({"code": w.code.as_str(), "summary": w.summary, "fix": w.fix}))
        .collect();
    Check::new(
        id,
        Status::Warn,
        first.code,
        format!("{trusted}; but {}", text.join("; ")),
    )
    .with_fix(first.fix.clone())
    .with_fact("warnings", list)
}

fn judge_pin(source: &TrustSource, input: &TrustInput<'_>) -> (Check, Verdict) {
    let id = source.kind.check_id();
    let (check, verdict) = match judge::pin_match(input.chain, &source.pins, input.at) {
        judge::PinMatch::Leaf => pin_hit(id, input, 0, "the server's own certificate"),
        judge::PinMatch::Issuer(i) => pin_hit(id, input, i, "it certifies the server's key"),
        judge::PinMatch::Unrelated(i) => {
            let name = input
                .facts
                .get(i)
                .map(|f| f.short_name())
                .unwrap_or_default();
            let leaf = input
                .facts
                .first()
                .map(|f| f.sha256.clone())
                .unwrap_or_default();
            let check = Check::fail(
                id,
                Code::PinMismatch,
                format!(
                    "the pinned certificate #{i} ({name}) was sent, but it does not certify the server's key: the server's certificate {leaf} is not signed by it (anyone can send a public certificate)"
                ),
                format!("Something other than the pinned server presents this chain: do not send credentials to it. If the server's certificate was replaced on purpose, confirm {leaf} on the server (`openssl x509 -noout -fingerprint -sha256 -in <its certificate file>`) and pin that"),
            );
            (check, Verdict::Rejected(Code::PinMismatch))
        }
        judge::PinMatch::None => {
            let leaf = input
                .facts
                .first()
                .map(|f| f.sha256.clone())
                .unwrap_or_default();
            let check = Check::fail(
                id,
                Code::PinMismatch,
                format!("none of the {} sent matches the pin; the server's certificate is {leaf}", crate::text::certificates(input.facts.len())),
                format!("If the certificate was replaced on purpose, confirm {leaf} on the server (`openssl x509 -noout -fingerprint -sha256 -in <its certificate file>`) and pin that; if not, something between you and the server presents another certificate"),
            );
            (check, Verdict::Rejected(Code::PinMismatch))
        }
    };
    let check = check
        .with_fact("source", source.label.clone())
        .with_fact("pins", source.pins.clone());
    (check, verdict)
}

/// A pin that vouches for the server's key: pass, or (expired) a warning that does not accept.
fn pin_hit(id: &str, input: &TrustInput<'_>, i: usize, why: &str) -> (Check, Verdict) {
    let Some(f) = input.facts.get(i) else {
        return (
            Check::pass(
                id,
                format!("certificate #{i} matches the pinned SHA-256 ({why})"),
            ),
            Verdict::Accepted,
        );
    };
    if f.days_left < 0 {
        let check = Check::new(
            id,
            Status::Warn,
            Code::Expired,
            format!(
                "certificate #{} ({}) matches the pin, but expired {} days ago",
                f.index,
                f.short_name(),
                -f.days_left
            ),
        )
        .with_fix("Renew the certificate and pin the new one");
        return (check, Verdict::Rejected(Code::Expired));
    }
    let summary = format!(
        "certificate #{} ({}) matches the pinned SHA-256 ({why})",
        f.index,
        f.short_name()
    );
    (Check::pass(id, summary), Verdict::Accepted)
}

/// Judges every source, then settles statuses: a default store that fails while another source accepts the
/// chain is a warning (the connection works with the chosen trust; clients on that store need it).
pub fn run(sources: &TrustSources, input: &TrustInput<'_>) -> TrustOutcome {
    let resolved = sources.resolved();
    let sources: &TrustSources = &resolved;
    let (mut checks, verdicts): (Vec<Check>, Vec<Verdict>) = sources
        .sources
        .iter()
        .map(|s| judge_source(s, sources, input))
        .unzip();
    let mut verdicts: Vec<(SourceKind, Verdict)> = sources
        .sources
        .iter()
        .map(|s| s.kind)
        .zip(verdicts)
        .collect();
    if let Some(revoked) = input.revoked {
        super::revocation::refuse(&mut checks, &mut verdicts, revoked, input.product);
    }
    let accepted_by: Vec<&str> = verdicts
        .iter()
        .filter(|(_, v)| *v == Verdict::Accepted)
        .map(|(k, _)| k.check_id())
        .collect();
    if !accepted_by.is_empty() {
        let by = accepted_by.join(", ");
        // A private CA is not in a public store, and need not be: the store is information, unless the
        // user requires it (clients that cannot be given a CA file).
        for (c, s) in checks.iter_mut().zip(&sources.sources) {
            if !s.kind.is_chosen() && c.status == Status::Fail {
                let required = input.required_stores.contains(&s.kind);
                c.status = if required { Status::Fail } else { Status::Info };
                c.facts.insert("detail".into(), json!(c.summary));
                c.facts.insert("required".into(), json!(required));
                c.summary = format!(
                    "not trusted by {} ({}); {by} accepts the chain: clients that use this store by default need the CA{}",
                    s.name,
                    c.code,
                    if required { ", and --require-store asks for this store" } else { "" }
                );
                c.fix = Some("Give those clients the CA file (one line per client under \"Which clients will work\"), or add the CA to that store".to_string());
            }
        }
    }
    if let Some(ca) = &input.inspected_by {
        // Every verdict is about the proxy's chain: the fix is the proxy's, not a CA to fetch.
        for c in checks.iter_mut().filter(|c| c.status.is_failure()) {
            c.fix = Some(format!(
                "This chain is the inspecting proxy's (issued by `{ca}`), not the server's (see proxy.intercept): trust the proxy's CA, or bypass the proxy to judge the server's own certificate"
            ));
        }
    }
    collapse_same_verdicts(&mut checks);
    let verdicts = Verdicts(verdicts);
    let clients = clients(sources, &verdicts, input);
    TrustOutcome {
        checks,
        clients,
        verdicts,
    }
}

/// The system store often fails exactly as the Mozilla roots do: say so once.
fn collapse_same_verdicts(checks: &mut [Check]) {
    let Some(moz) = checks.iter().find(|c| c.id == "trust.mozilla").cloned() else {
        return;
    };
    if moz.status == Status::Pass {
        return;
    }
    for c in checks.iter_mut().filter(|c| c.id == "trust.system") {
        if c.status == moz.status && c.code == moz.code && c.fix == moz.fix {
            c.facts.insert("detail".into(), json!(c.summary));
            c.summary = format!(
                "not trusted either ({}), for the same reason as trust.mozilla",
                c.code
            );
            c.fix = Some("The same fix as trust.mozilla.".to_string());
        }
    }
}

/// Each client's outcome by its own engine's rules (`checks::clients`), with its default trust and with the CA
/// file, and the line that makes it work.
fn clients(
    sources: &TrustSources,
    verdicts: &Verdicts,
    input: &TrustInput<'_>,
) -> Vec<ClientAdvice> {
    // Behind a TLS-inspecting proxy that your --ca does not trust, the CA that helps is the proxy's: the
    // advice is judged with it (as the first fix asks), not with your file.
    let inspected_untrusted =
        input.inspected_by.is_some() && verdicts.of(SourceKind::Custom) != Some(Verdict::Accepted);
    let user_ca = sources
        .get(SourceKind::Custom)
        .filter(|_| verdicts.of(SourceKind::Custom).is_some() && !inspected_untrusted);
    let ca_file = user_ca
        .and_then(|s| s.files.first())
        .map(|f| {
            std::fs::canonicalize(&f.path)
                .unwrap_or_else(|_| f.path.clone())
                .display()
                .to_string()
        })
        .or_else(|| {
            input
                .inspected_by
                .as_ref()
                .map(|_| crate::checks::proxy_checks::INSPECTION_CA_FILE.to_string())
        })
        .unwrap_or_else(|| match input.product {
            Product::Cvp | Product::Cvaas => "cvp.crt".to_string(),
            Product::Prisma => "console-ca.pem".to_string(),
            Product::Generic | Product::Auto => "ca.pem".to_string(),
        });
    let authority = input
        .authority
        .clone()
        .unwrap_or_else(|| "HOST:PORT".to_string());
    let mut defects = super::clients::Defects::of(input.facts, input.name.as_deref());
    defects.alpn_h2 = input.alpn_h2;
    defects.client_cert_required = input.client_cert_required;
    defects.negotiates = input.negotiates;
    defects.message_too_large = input.message_too_large;
    defects.revoked = input.revoked.is_some();
    defects.structure = verdicts.0.iter().find_map(|(_, v)| match v {
        Verdict::Rejected(c) if super::clients::is_structural(*c) => Some(*c),
        _ => None,
    });
    let identity = input
        .identity_files
        .as_ref()
        .map(|(c, k)| (c.as_str(), k.as_str()))
        .or(input
            .client_cert_required
            .then_some(("client.crt", "client.key")));
    let env = |k: &str| std::env::var(k).ok();
    let predicted = super::clients::Input {
        names: super::clients::chain_names(input.chain),
        facts: input.facts,
        name: input.name.as_deref(),
        defects,
        lines: super::clients::Lines {
            curl_flags: input.again.as_ref().map_or("", |a| a.curl.as_str()),
            authority: &authority,
            ca: &ca_file,
            identity,
        },
        user_ca,
        verdicts,
        env: &env,
        security_level: super::clients::security_level(),
        at: input.at,
        have_identity: input.identity_files.is_some(),
    };
    super::clients::predict(sources, &predicted)
}

/// One trust source's verdict on the chain, typed: where credentials may go is decided from this (the
/// sources that accepted), never from a check's id, status or code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The chain verifies for the name (warnings such as `expiring_soon` aside).
    Accepted,
    /// It does not, for this reason.
    Rejected(Code),
}

/// What the trust stage decided: the checks for the report, the client advice, and each source's verdict.
pub struct TrustOutcome {
    pub checks: Vec<Check>,
    pub clients: Vec<ClientAdvice>,
    pub verdicts: Verdicts,
}

/// Each source's verdict, in the order of the sources: the user's own (`--ca`, `--pin-sha256`) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts(pub Vec<(SourceKind, Verdict)>);

impl Verdicts {
    pub fn of(&self, kind: SourceKind) -> Option<Verdict> {
        self.0.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
    }

    /// A source the user chose (`--ca`, `--pin-sha256`) that rejected the chain, and why. Such a refusal
    /// stops every credential, whatever a default store says.
    pub fn refused_by_choice(&self) -> Option<(SourceKind, Code)> {
        self.0.iter().find_map(|(k, v)| match v {
            Verdict::Rejected(code) if k.is_chosen() => Some((*k, *code)),
            _ => None,
        })
    }

    /// The source credentials may travel over: the first that accepted the chain (the user's own first),
    /// loaded; none when a source the user chose rejected it.
    pub fn accepting<'a>(&self, sources: &'a TrustSources) -> Option<&'a TrustSource> {
        if self.refused_by_choice().is_some() {
            return None;
        }
        let (kind, _) = self.0.iter().find(|(_, v)| *v == Verdict::Accepted)?;
        // The system store is read when first needed: hand out the loaded one.
        sources.get(*kind).map(|s| s.loaded())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::sources::{custom, mozilla, pins, read_certificates};

    fn judged(fixture: &str, pin_leaf: bool) -> TrustOutcome {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture);
        let chain = read_certificates(&dir.join("chain.pem"), "--ca").expect("chain");
        let at = time::macros::datetime!(2026-06-01 00:00:00 UTC);
        let facts = crate::checks::inspect::parse(&chain, at);
        let mut sources = vec![custom(&[dir.join("ca.pem")]).expect("ca"), mozilla()];
        if pin_leaf {
            sources.insert(0, pins(&[facts[0].sha256.clone()]).expect("pin"));
        }
        let input = TrustInput {
            chain: &chain,
            facts: &facts,
            name: Some("fixture.preflight.test".into()),
            at,
            at_chosen: false,
            product: Product::Generic,
            authority: None,
            again: None,
            required_stores: Vec::new(),
            warn_days: 30,
            alpn_h2: None,
            server_date: None,
            revoked: None,
            inspected_by: None,
            client_cert_required: false,
            identity_files: None,
            negotiates: None,
            message_too_large: false,
        };
        run(&TrustSources { sources }, &input)
    }

    #[test]
    fn a_warning_still_accepts_and_the_users_source_comes_first() {
        let t = judged("expiring_soon", false);
        assert_eq!(t.verdicts.of(SourceKind::Custom), Some(Verdict::Accepted));
        assert_eq!(
            t.verdicts.of(SourceKind::Mozilla),
            Some(Verdict::Rejected(Code::UnknownIssuer))
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/expiring_soon");
        let sources = TrustSources {
            sources: vec![mozilla(), custom(&[dir.join("ca.pem")]).expect("ca")],
        };
        // The source that accepted is handed out, whatever its place in the list.
        let accepting = t.verdicts.accepting(&sources).expect("accepted");
        assert_eq!(accepting.kind, SourceKind::Custom);
        let refused = Verdicts(vec![(
            SourceKind::Mozilla,
            Verdict::Rejected(Code::UnknownIssuer),
        )]);
        assert!(refused.accepting(&sources).is_none());
        let check = t
            .checks
            .iter()
            .find(|c| c.id == "trust.custom")
            .expect("custom");
        assert_eq!(check.status, Status::Warn);
        assert_eq!(check.code, Code::ExpiringSoon);
    }

    #[test]
    fn rejections_carry_their_code() {
        let t = judged("expired", true);
        // The pin matches an expired certificate: matched, but not accepted.
        assert_eq!(
            t.verdicts.of(SourceKind::Pin),
            Some(Verdict::Rejected(Code::Expired))
        );
        assert_eq!(
            t.verdicts.of(SourceKind::Custom),
            Some(Verdict::Rejected(Code::Expired))
        );
        let good = judged("good", true);
        assert_eq!(good.verdicts.of(SourceKind::Pin), Some(Verdict::Accepted));
        assert_eq!(good.verdicts.0[0].0, SourceKind::Pin);
    }

    fn fixture(name: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        read_certificates(&dir.join(name).join("chain.pem"), "--ca").expect("chain")
    }

    fn pin_verdict(
        chain: &[rustls::pki_types::CertificateDer<'static>],
        pin: &str,
    ) -> (Check, Verdict) {
        let at = time::macros::datetime!(2026-06-01 00:00:00 UTC);
        let facts = crate::checks::inspect::parse(chain, at);
        let input = TrustInput {
            chain,
            facts: &facts,
            name: None,
            at,
            at_chosen: false,
            product: Product::Generic,
            authority: None,
            again: None,
            required_stores: Vec::new(),
            warn_days: 30,
            alpn_h2: None,
            server_date: None,
            revoked: None,
            inspected_by: None,
            client_cert_required: false,
            identity_files: None,
            negotiates: None,
            message_too_large: false,
        };
        judge_pin(&pins(&[pin.to_string()]).expect("pin"), &input)
    }

    #[test]
    fn a_pin_binds_to_the_key_not_to_a_chain_that_contains_it() {
        let good = fixture("good");
        let fp = |c: &rustls::pki_types::CertificateDer<'_>| {
            crate::pki::facts::sha256_fingerprint(c.as_ref())
        };
        // The attacker holds only its own key, and sends the pinned (public) certificate after its own.
        let attacker = vec![fixture("self_signed")[0].clone(), good[0].clone()];
        let (check, verdict) = pin_verdict(&attacker, &fp(&good[0]));
        assert_eq!(verdict, Verdict::Rejected(Code::PinMismatch));
        assert_eq!(check.code, Code::PinMismatch);
        assert!(
            check.summary.contains("does not certify the server's key"),
            "{}",
            check.summary
        );
        // The same attack with a pinned intermediate: sent, but it did not sign the attacker's leaf.
        let attacker = vec![fixture("self_signed")[0].clone(), good[1].clone()];
        assert_eq!(
            pin_verdict(&attacker, &fp(&good[1])).1,
            Verdict::Rejected(Code::PinMismatch)
        );
        // The real server: its own certificate pinned, or the intermediate that signed it.
        assert_eq!(pin_verdict(&good, &fp(&good[0])).1, Verdict::Accepted);
        let (check, verdict) = pin_verdict(&good, &fp(&good[1]));
        assert_eq!(verdict, Verdict::Accepted);
        assert!(
            check.summary.contains("certifies the server's key"),
            "{}",
            check.summary
        );
    }
}
