//! `trust.custom`, `trust.pin`, `trust.mozilla`, `trust.system`: the captured chain judged against every
//! trust source, offline, with one explanation and one fix each; then which common clients will connect.

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
    pub product: Product,
    /// `host:port` for commands in fixes; `None` offline.
    pub authority: Option<String>,
    pub warn_days: i64,
    /// Whether ALPN h2 was negotiated (`None` when not judged).
    pub alpn_h2: Option<bool>,
    /// The server's clock (`Date`), read when a certificate's dates were in doubt.
    pub server_date: Option<OffsetDateTime>,
    /// The inspection CA that made the chain (`proxy.intercept`), when a TLS-inspecting proxy did: fixes
    /// and client advice then point at that CA, not at the server's certificate.
    pub inspected_by: Option<String>,
}

fn server_name(name: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(name.to_string()).ok()
}

fn judge_source(source: &TrustSource, sources: &TrustSources, input: &TrustInput<'_>) -> Check {
    let id = source.kind.check_id();
    if source.kind == SourceKind::Pin {
        return judge_pin(source, input);
    }
    let case = Case {
        chain: input.chain,
        facts: input.facts,
        name: input.name.as_deref(),
        at: input.at,
        source,
        others: sources
            .sources
            .iter()
            .filter(|s| s.kind != source.kind)
            .collect(),
        product: input.product,
        authority: input.authority.clone(),
        warn_days: input.warn_days,
        server_date: input.server_date,
    };
    let name = input.name.as_deref().and_then(server_name);
    let base_facts = |c: Check| {
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
    };
    match judge::judge(&source.anchors, input.chain, name.as_ref(), input.at) {
        Ok(path) => {
            let path_text: Vec<String> = std::iter::once(0)
                .chain(path.intermediates.iter().copied())
                .filter_map(|i| input.facts.get(i).map(|f| f.short_name()))
                .chain(std::iter::once(path.anchor.clone()))
                .collect();
            let with_path = |c: Check| base_facts(c).with_fact("path", path_text.clone());
            if let Some(f) = diagnose::extra_failure(&case, &path) {
                return with_path(Check::fail(id, f.code, f.summary, f.fix));
            }
            let warnings = diagnose::warnings(&case, &path);
            let trusted = format!("trusted by {}: {}", source.label, path_text.join(" → "));
            match warnings.first() {
                None => with_path(Check::pass(id, trusted)),
                Some(first) => {
                    let text: Vec<String> = warnings.iter().map(|w| w.summary.clone()).collect();
                    let list: Vec<serde_json::Value> = warnings
                        .iter()
                        .map(|w| json!({"code": w.code.as_str(), "summary": w.summary, "fix": w.fix}))
                        .collect();
                    with_path(
                        Check::new(
                            id,
                            Status::Warn,
                            first.code,
                            format!("{trusted}; but {}", text.join("; ")),
                        )
                        .with_fix(first.fix.clone())
                        .with_fact("warnings", list),
                    )
                }
            }
        }
        Err(e) => {
            let f = diagnose::diagnose(&e, &case);
            base_facts(Check::fail(id, f.code, f.summary, f.fix))
        }
    }
}

fn judge_pin(source: &TrustSource, input: &TrustInput<'_>) -> Check {
    let id = source.kind.check_id();
    let hit = input.facts.iter().find(|f| source.pins.contains(&f.sha256));
    let check = match hit {
        Some(f) => {
            let mut c = Check::pass(
                id,
                format!(
                    "certificate #{} ({}) matches the pinned SHA-256",
                    f.index,
                    f.short_name()
                ),
            );
            if f.days_left < 0 {
                c = Check::new(
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
            }
            c
        }
        None => {
            let leaf = input
                .facts
                .first()
                .map(|f| f.sha256.clone())
                .unwrap_or_default();
            Check::fail(
                id,
                Code::PinMismatch,
                format!("none of the {} certificates sent matches the pin; the server's certificate is {leaf}", input.facts.len()),
                format!("If the certificate was replaced on purpose, confirm {leaf} on the server (`openssl x509 -noout -fingerprint -sha256 -in <its certificate file>`) and pin that; if not, something between you and the server presents another certificate"),
            )
        }
    };
    check
        .with_fact("source", source.label.clone())
        .with_fact("pins", source.pins.clone())
}

/// Judges every source, then settles statuses: a default store that fails while another source accepts the
/// chain is a warning (the connection works with the chosen trust; clients on that store need it).
pub fn run(sources: &TrustSources, input: &TrustInput<'_>) -> (Vec<Check>, Vec<ClientAdvice>) {
    let resolved = sources.resolved();
    let sources: &TrustSources = &resolved;
    let mut checks: Vec<Check> = sources
        .sources
        .iter()
        .map(|s| judge_source(s, sources, input))
        .collect();
    let any_accepts = checks
        .iter()
        .any(|c| matches!(c.status, Status::Pass | Status::Warn) && c.code != Code::Expired);
    let accepted_by: Vec<&str> = checks
        .iter()
        .filter(|c| {
            c.status == Status::Pass || (c.status == Status::Warn && checks_accepts(c.code))
        })
        .map(|c| c.id.as_str())
        .collect::<Vec<_>>();
    if any_accepts {
        let by = accepted_by.join(", ");
        for (c, s) in checks.iter_mut().zip(&sources.sources) {
            if !s.kind.is_chosen() && c.status == Status::Fail {
                c.status = Status::Warn;
                c.facts.insert("detail".into(), json!(c.summary));
                c.summary = format!(
                    "not trusted by {} ({}), but {by} accepts the chain: clients that use this store by default need the CA",
                    s.name, c.code
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
    let clients = clients(sources, &checks, input);
    (checks, clients)
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

/// Trust-store failures a client can fix by trusting a file.
fn trust_fixable(code: Code) -> bool {
    matches!(
        code,
        Code::SelfSigned | Code::UnknownIssuer | Code::IncompleteChain
    )
}

fn clients(sources: &TrustSources, checks: &[Check], input: &TrustInput<'_>) -> Vec<ClientAdvice> {
    let verdict = |kind: SourceKind| {
        sources
            .sources
            .iter()
            .zip(checks)
            .find(|(s, _)| s.kind == kind)
            .map(|(_, c)| (c.status, c.code))
    };
    let chosen_file = sources.get(SourceKind::Custom).and_then(|s| {
        let passed = verdict(SourceKind::Custom)
            .is_some_and(|(st, _)| matches!(st, Status::Pass | Status::Warn));
        if passed {
            s.files.first().map(|f| f.path.display().to_string())
        } else {
            None
        }
    });
    let file = chosen_file
        .clone()
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
    let hp = input
        .authority
        .clone()
        .unwrap_or_else(|| "HOST:PORT".to_string());
    let table: [(&str, &str, SourceKind, String); 5] = [
        ("Python requests", "certifi: Mozilla roots", SourceKind::Mozilla, format!("requests.get(\"https://{hp}/\", verify=\"{file}\")")),
        ("Python grpcio", "bundled roots: Mozilla", SourceKind::Mozilla, format!("grpc.secure_channel(\"{hp}\", grpc.ssl_channel_credentials(open(\"{file}\", \"rb\").read()))")),
        ("curl", "system store", SourceKind::System, format!("curl --cacert {file} https://{hp}/")),
        ("Go crypto/tls", "system store; no CN fallback", SourceKind::System, format!("pool := x509.NewCertPool(); pem, _ := os.ReadFile(\"{file}\"); pool.AppendCertsFromPEM(pem); cfg := &tls.Config{{RootCAs: pool}}")),
        ("Rust rustls", "webpki-roots or system store", SourceKind::Mozilla, format!("roots.add_parsable_certificates(CertificateDer::pem_file_iter(\"{file}\")?.flatten());")),
    ];
    let grpc_needs_h2 = matches!(input.product, Product::Cvp | Product::Cvaas);
    table
        .into_iter()
        .filter_map(|(client, trust, kind, line)| {
            let (status, code) = verdict(kind)?;
            let accepted = matches!(status, Status::Pass) || (status == Status::Warn && checks_accepts(code));
            let mut advice = ClientAdvice {
                client: client.to_string(),
                default_trust: trust.to_string(),
                works: accepted,
                note: if accepted { "connects with its default trust".to_string() } else { String::new() },
                make_it_work: None,
            };
            if !accepted {
                if code == Code::IncompleteChain {
                    advice.note = "fails (incomplete_chain): the server must send its intermediate; until it does, give the client the intermediate".to_string();
                    advice.make_it_work = Some(line.replace(&file, "intermediate.pem"));
                } else if trust_fixable(code) {
                    advice.note = match &chosen_file {
                        Some(_) => format!("fails by default ({code}); works with your --ca file"),
                        None => format!("fails by default ({code}); works with the certificate or CA (first fix)"),
                    };
                    advice.make_it_work = Some(line);
                } else {
                    advice.note = format!("fails ({code}): no client setting fixes that; fix the server");
                }
            }
            if client == "Python grpcio" && grpc_needs_h2 && input.alpn_h2 == Some(false) {
                advice.works = false;
                advice.note = "fails: the server does not negotiate ALPN h2, which gRPC needs".to_string();
                advice.make_it_work = None;
            }
            Some(advice)
        })
        .collect()
}

/// The first trust source (yours first, then the stores) whose check accepted the chain: the one
/// credentials may travel over.
pub fn accepting_source<'a>(
    sources: &'a TrustSources,
    checks: &[Check],
) -> Option<&'a crate::pki::sources::TrustSource> {
    sources
        .sources
        .iter()
        .find(|s| {
            checks.iter().any(|c| {
                c.id == s.kind.check_id()
                    && (c.status == Status::Pass
                        || (c.status == Status::Warn && checks_accepts(c.code)))
            })
        })
        // The system store is read when first needed: hand out the loaded one.
        .map(|s| s.loaded())
}

/// A warning code on a passing source (the chain was accepted).
fn checks_accepts(code: Code) -> bool {
    matches!(
        code,
        Code::ExpiringSoon
            | Code::ChainOutOfOrder
            | Code::UnrelatedCertificate
            | Code::LongValidity
            | Code::Ok
    )
}
