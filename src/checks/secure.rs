//! After the TCP connection: the handshake, the chain, the server's clock when a date is in doubt, product
//! recognition, and every trust verdict.

use std::time::Duration;

use rustls::pki_types::ServerName;
use time::OffsetDateTime;

use super::{detect, handshake, inspect, proxy_checks, trust};
use super::{skip_trust, Budget, Deps};
use crate::config::CheckConfig;
use crate::net::route::Route;
use crate::net::tls;
use crate::report::Check;

/// What the checks after the TCP connection add to a report.
pub(super) struct AfterConnect {
    pub(super) checks: Vec<Check>,
    pub(super) certificates: Vec<crate::pki::facts::CertFacts>,
    pub(super) clients: Vec<crate::report::model::ClientAdvice>,
    pub(super) product: crate::target::Product,
}

/// The longest the server's clock is waited for: it is optional, so it never costs a whole phase deadline
/// (a server that sends no `Date`, or serves one connection at a time, would hold the check that long).
const CLOCK_WAIT: Duration = Duration::from_secs(1);

/// Where the TCP connection went, and what the checks after it share.
pub(super) struct Reached<'a> {
    pub(super) name: &'a ServerName<'static>,
    pub(super) route: &'a Route,
    pub(super) judged_at: OffsetDateTime,
    pub(super) budget: &'a Budget,
}

/// The handshake, the chain, trust, product recognition, product probes and authentication, every network
/// step within the budget; trust is judged offline, so a chain received is always judged.
pub(super) async fn after_connect(
    cfg: &CheckConfig,
    deps: &Deps,
    at: &Reached<'_>,
    stream: tokio::net::TcpStream,
) -> AfterConnect {
    let (route, judged_at) = (at.route, at.judged_at);
    let t = &deps.trace;
    let mut checks = Vec::new();
    let Some(mut hs) = first_handshake(cfg, deps, at, stream, &mut checks).await else {
        return AfterConnect {
            checks,
            certificates: vec![],
            clients: vec![],
            product: cfg.product,
        };
    };
    read_offer(cfg, deps, at, &mut hs).await;
    let parsed = inspect::parse(&hs.captured.chain, judged_at);
    t.say(2, "tls", || chain_text(&parsed));
    let server_date = read_server_clock(cfg, &mut hs, &parsed, judged_at, at.budget).await;
    t.say(1, "clock", || clock_text(server_date));
    // `--product auto`: recognise the product first; everything after is that product's.
    let detected = recognise(cfg, &hs, at).await;
    let cfg = match &detected {
        Some((eff, _)) => eff,
        None => cfg,
    };
    let mut product = cfg.product;
    if let Some((eff, check)) = &detected {
        t.say(1, "product", || check.summary.clone());
        checks.push(check.clone());
        product = eff.product;
    }
    let revocation =
        super::revocation::run(cfg, deps, route, at.budget, &hs.captured, judged_at).await;
    let learnt = Learnt {
        server_date,
        revocation,
    };
    let mut judged = judge_handshake(cfg, deps, route, &hs, parsed.clone(), judged_at, &learnt);
    if let Some(by) = present_or_withhold(cfg, deps, at, &mut hs, &mut judged).await {
        judged = judge_handshake(cfg, deps, route, &hs, parsed, judged_at, &learnt);
        let note = format!("; your --cert was presented in a second handshake, after {by}");
        note_handshake(&mut judged.checks, &note, true);
    }
    let verdicts = judged.trust.as_ref();
    let product_checks =
        super::products::products_and_auth(cfg, deps, route, &hs, verdicts, at.budget).await;
    judged.checks.extend(product_checks);
    // Last, with the handshake's connection closed: a server that serves one connection at a time
    // (`openssl s_server`) answers the ClientHellos only then.
    hs.stream = None;
    if let Some(c) = enumerate_offer(cfg, deps, at, &hs).await {
        let after = judged.checks.iter().position(|c| c.id == handshake::ID);
        judged.checks.insert(after.map_or(0, |i| i + 1), c);
    }
    // Every verdict after the handshake: the chain, trust, and each product probe and login (its text is
    // the check's, redacted like the report), with the time it took.
    for c in judged
        .checks
        .iter()
        .filter(|c| c.id != handshake::ID && c.id != super::offer::ID)
    {
        t.say(1, &c.id, || {
            let took = c
                .elapsed_ms
                .map(|ms| format!(" in {ms} ms"))
                .unwrap_or_default();
            format!("{} [{}]{took}: {}", c.status.as_str(), c.code, c.summary)
        });
    }
    checks.extend(judged.checks);
    AfterConnect {
        checks,
        certificates: judged.certificates,
        clients: judged.clients,
        product,
    }
}

/// The first handshake, within the budget; `None` (with the handshake cut off and every later check
/// skipped in `checks`) when the budget ran out first.
async fn first_handshake(
    cfg: &CheckConfig,
    deps: &Deps,
    at: &Reached<'_>,
    stream: tokio::net::TcpStream,
    checks: &mut Vec<Check>,
) -> Option<tls::Handshake> {
    let t = &deps.trace;
    t.say(1, "tls", || client_hello_text(cfg, at.name, at.route));
    // The client certificate is a credential: the first handshake only records whether the server asks
    // for one (and from which issuers); it is presented later, over a channel trust accepted.
    let handshake = tls::handshake(stream, at.name.clone(), cfg.timeouts.tls);
    let with = format!("the TLS handshake with {}", at.route.describe());
    match at.budget.run(handshake::ID, &with, handshake).await {
        Ok(hs) => {
            t.say(1, "tls", || handshake_text(&hs));
            Some(hs)
        }
        Err(cut) => {
            checks.push(cut);
            super::out_of_time_after(checks, cfg, deps, at.budget, handshake::ID, false);
            None
        }
    }
}

/// `--offer`: every version, suite and group the server accepts (`tls.offer`), within what is left of the
/// budget; each ClientHello has the TLS deadline (at most 2 s). Not run when nothing answered in TLS.
async fn enumerate_offer(
    cfg: &CheckConfig,
    deps: &Deps,
    at: &Reached<'_>,
    hs: &tls::Handshake,
) -> Option<crate::report::Check> {
    use tls::TlsFailure;
    if !cfg.offer
        || matches!(
            hs.outcome,
            Err(TlsFailure::NotTls(_) | TlsFailure::Timeout | TlsFailure::Closed)
        )
    {
        return None;
    }
    let started = std::time::Instant::now();
    let each = at.budget.cap(cfg.timeouts.tls.min(Duration::from_secs(2)));
    let run = crate::net::offer::enumerate_route(at.route, hs.sni.as_deref(), each);
    let Ok(e) = tokio::time::timeout(at.budget.left(), run).await else {
        let what = "listing what the server offers";
        return Some(at.budget.stop(super::offer::ID, what, true));
    };
    deps.trace.say(1, "offer", || {
        let counts: Vec<String> = e
            .versions
            .iter()
            .map(|(v, s)| format!("{} {}", crate::net::hello::version_name(*v), s.len()))
            .collect();
        format!(
            "{} ClientHellos; suites by version: {}",
            e.connections,
            counts.join(", ")
        )
    });
    Some(super::offer::check(&e, started.elapsed()))
}

/// rustls could not negotiate (a handshake alert, a legacy version, a closed connection) and saw no chain: what
/// the server accepts, read with raw ClientHellos (ECDHE, DHE, RSA key exchange, TLS 1.0), and the chain from a
/// TLS 1.2 handshake it accepted, so the chain is judged and each client predicted by what it can negotiate.
/// Optional: at most 2 s a probe, within what is left of the budget.
async fn read_offer(cfg: &CheckConfig, deps: &Deps, at: &Reached<'_>, hs: &mut tls::Handshake) {
    use tls::TlsFailure;
    let failed = matches!(
        hs.outcome,
        Err(TlsFailure::Alert(_)
            | TlsFailure::LegacyOnly(_)
            | TlsFailure::Closed
            | TlsFailure::MessageTooLarge)
    );
    if !failed || !hs.captured.chain.is_empty() {
        return;
    }
    let each = at.budget.cap(cfg.timeouts.tls.min(Duration::from_secs(2)));
    let probe = crate::net::hello::what_route_accepts(at.route, hs.sni.as_deref(), each);
    let Ok(offer) = tokio::time::timeout(at.budget.left(), probe).await else {
        return;
    };
    deps.trace.say(1, "tls", || {
        format!(
            "what the server accepts: {}",
            if offer.suites.is_empty() {
                "nothing offered".to_string()
            } else {
                offer.suites.join(", ")
            }
        )
    });
    hs.captured.chain = offer.chain.clone();
    hs.offer = Some(offer);
}

/// `--product auto`: the product recognised, within the budget (cut off: checked as a generic TLS server).
async fn recognise(
    cfg: &CheckConfig,
    hs: &tls::Handshake,
    at: &Reached<'_>,
) -> Option<(CheckConfig, Check)> {
    if cfg.product != crate::target::Product::Auto {
        return None;
    }
    let what = "product recognition (Prisma's _ping, CloudVision's gRPC or login endpoint)";
    let probe = detect::detect(cfg, hs, at.route);
    Some(match at.budget.run(detect::ID, what, probe).await {
        Ok(found) => found,
        Err(mut cut) => {
            cut.summary.push_str("; checked as a generic TLS server");
            let mut eff = cfg.clone();
            eff.product = crate::target::Product::Generic;
            (eff, cut)
        }
    })
}

/// `-v`: the server's clock, or why it was not read.
fn clock_text(server_date: Option<OffsetDateTime>) -> String {
    match server_date {
        Some(d) => format!("server Date {}", crate::duration::rfc3339(d)),
        None => {
            "server clock not read (no certificate date in doubt, --at given, or no Date)".into()
        }
    }
}

/// `-v`: the ClientHello about to go.
fn client_hello_text(cfg: &CheckConfig, name: &ServerName<'static>, route: &Route) -> String {
    let sni = match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        _ => "(none: an address)".into(),
    };
    format!(
        "ClientHello to {}: SNI {sni}, ALPN h2, http/1.1, TLS 1.3 and 1.2 (deadline {})",
        route.describe(),
        crate::duration::human(cfg.timeouts.tls)
    )
}

/// `-v`: what the handshake negotiated, or why it failed.
fn handshake_text(hs: &tls::Handshake) -> String {
    match &hs.outcome {
        Ok(f) => format!(
            "{} {} {}, ALPN {}, {}, client certificate requested: {}",
            f.protocol,
            f.cipher_suite,
            f.key_exchange
                .as_deref()
                .unwrap_or("(no key exchange group)"),
            f.alpn.as_deref().unwrap_or("none"),
            crate::text::certificates(hs.captured.chain.len()),
            hs.captured.client_cert_requested
        ),
        Err(e) => format!("failed [{}]: {}", e.code(), e.describe()),
    }
}

/// `-vv`: every certificate received.
fn chain_text(parsed: &[crate::pki::facts::CertFacts]) -> String {
    let subjects: Vec<String> = parsed
        .iter()
        .map(|f| {
            format!(
                "#{} {} (issuer {}, SHA-256 {})",
                f.index, f.subject, f.issuer, f.sha256
            )
        })
        .collect();
    format!(
        "chain received: {}",
        if subjects.is_empty() {
            "none".into()
        } else {
            subjects.join("; ")
        }
    )
}

/// When a certificate sent is outside its validity now (and the user did not choose the time with `--at`),
/// asks the server for its clock over the open connection, for at most [`CLOCK_WAIT`] (less when less of
/// the budget is left). The connection is closed either way.
async fn read_server_clock(
    cfg: &CheckConfig,
    hs: &mut tls::Handshake,
    facts: &[crate::pki::facts::CertFacts],
    now: OffsetDateTime,
    budget: &Budget,
) -> Option<OffsetDateTime> {
    let stream = hs.stream.take()?;
    if cfg.at.is_some() {
        return None;
    }
    let in_doubt = facts.iter().any(|f| {
        let not_before = OffsetDateTime::parse(
            &f.not_before,
            &time::format_description::well_known::Rfc3339,
        );
        f.days_left < 0 || not_before.is_ok_and(|nb| nb > now)
    });
    if !in_doubt {
        return None;
    }
    let h2 = hs
        .outcome
        .as_ref()
        .is_ok_and(|f| f.alpn.as_deref() == Some("h2"));
    let wait = budget.cap(CLOCK_WAIT.min(cfg.timeouts.tls));
    if wait.is_zero() {
        return None;
    }
    crate::net::clock::server_date(stream, &cfg.target.authority(cfg.port), h2, wait).await
}

/// The user's client certificate, when the server demands one: presented in a second handshake that
/// replaces `hs` (returns what allowed it; the caller judges the new handshake), or kept back with a note
/// and a fix on `tls.handshake`. A second handshake the budget cuts off makes `tls.handshake` say so.
async fn present_or_withhold(
    cfg: &CheckConfig,
    deps: &Deps,
    at: &Reached<'_>,
    hs: &mut tls::Handshake,
    judged: &mut Judged,
) -> Option<String> {
    let demanded = matches!(hs.outcome, Err(tls::TlsFailure::ClientCertRequired));
    let second = if cfg.credentials.identity.is_some() && demanded {
        let what = "the second handshake, presenting your --cert";
        let second = present_identity(cfg, deps, at.name, at.route, hs, judged.trust.as_ref());
        match at.budget.run(handshake::ID, what, second).await {
            Ok(second) => second,
            Err(_) => {
                let first = judged.checks.iter_mut().find(|c| c.id == handshake::ID);
                if let Some(c) = first {
                    at.budget.cut_short(c, what);
                }
                return None;
            }
        }
    } else {
        None
    };
    if let Some((second, by)) = second {
        deps.trace.say(1, "tls", || {
            format!("with your --cert, after {by}: {}", handshake_text(&second))
        });
        *hs = tls::Handshake {
            captured: std::mem::take(&mut hs.captured),
            ..second
        };
        return Some(by);
    }
    if withheld_identity(cfg, hs) {
        note_handshake(
            &mut judged.checks,
            "; your --cert was not presented: no trust source accepted the server's chain (see trust.*), and a client certificate is a credential",
            false,
        );
        if let Some(c) = judged
            .checks
            .iter_mut()
            .find(|c| c.id == handshake::ID && c.status.is_failure())
        {
            c.fix = Some("Make a trust source accept the server's chain first (the fix under trust.*, for example `--ca` with the server's certificate or CA, checked with `preflight chain`); your --cert is then presented. `--insecure` would present it to whatever answers.".into());
        }
    }
    None
}

/// The server demands a client certificate and the user gave one: a second handshake presenting it, over
/// the channel of the source that accepted the chain (its verifier checks this connection's chain before the
/// certificate goes), or `--insecure`. `None` when the certificate must not or need not go. Returns the
/// handshake and what allowed it (`your --ca`, `--insecure`).
async fn present_identity(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    route: &Route,
    hs: &tls::Handshake,
    verdicts: Option<&trust::Verdicts>,
) -> Option<(tls::Handshake, String)> {
    let identity = cfg.credentials.identity.as_ref()?;
    if !matches!(hs.outcome, Err(tls::TlsFailure::ClientCertRequired)) {
        return None;
    }
    let accepted = verdicts.and_then(|v| v.accepting(&deps.trust));
    let channel = crate::pki::channel::choose(
        accepted,
        cfg.credentials.insecure,
        Some(identity),
        &tls::ALPN_OFFERED,
    )
    .ok()?;
    let config = channel.config()?;
    let by = match accepted {
        Some(source) => format!("{} accepted the chain", source.kind.check_id()),
        None => "--insecure".to_string(),
    };
    let stream = route.open(cfg.timeouts.connect).await.ok()?;
    let second = tls::handshake_with(stream, name.clone(), cfg.timeouts.tls, &config).await;
    Some((second, by))
}

/// A client certificate the server asked for, kept back because nothing trusted the server.
fn withheld_identity(cfg: &CheckConfig, hs: &tls::Handshake) -> bool {
    cfg.credentials.identity.is_some() && hs.captured.client_cert_requested
}

/// Adds to the `tls.handshake` summary what happened to the user's client certificate.
fn note_handshake(checks: &mut [Check], note: &str, presented: bool) {
    if let Some(c) = checks.iter_mut().find(|c| c.id == handshake::ID) {
        c.summary.push_str(note);
        c.facts
            .insert("client_cert_presented".into(), presented.into());
    }
}

/// What the handshake stage adds to a report.
struct Judged {
    checks: Vec<Check>,
    certificates: Vec<crate::pki::facts::CertFacts>,
    clients: Vec<crate::report::model::ClientAdvice>,
    /// Each trust source's verdict, when there was a chain to judge.
    trust: Option<trust::Verdicts>,
}

/// What was learnt between the handshake and the judgement: the server's clock (when a date was in
/// doubt), and the revocation status (`cert.revocation`, when there was something to read or ask).
struct Learnt {
    server_date: Option<OffsetDateTime>,
    revocation: Option<super::revocation::Outcome>,
}

/// Turns a handshake into `tls.*`, `cert.chain`, `cert.revocation` and `trust.*` checks: one captured
/// chain, every verdict.
fn judge_handshake(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    parsed: Vec<crate::pki::facts::CertFacts>,
    judged_at: OffsetDateTime,
    learnt: &Learnt,
) -> Judged {
    let mut checks = Vec::new();
    let host = cfg.target.host.to_string();
    let at = handshake::Where {
        route,
        host: &host,
        port: cfg.port,
        product: cfg.product,
        timeout: cfg.timeouts.tls,
    };
    checks.push(handshake::check(hs, &at));
    if let Ok(facts) = &hs.outcome {
        checks.extend(handshake::alpn_check(facts, cfg.product, cfg.port));
    }
    if hs.captured.chain.is_empty() {
        checks.push(Check::skip(
            inspect::ID,
            handshake::ID,
            "the server sent no certificate",
        ));
        skip_trust(&mut checks, &deps.trust, handshake::ID);
        return Judged {
            checks,
            certificates: vec![],
            clients: vec![],
            trust: None,
        };
    }
    let (chain_check, facts) = inspect::judge(parsed);
    let chain_ok = chain_check.status == crate::report::Status::Pass;
    checks.push(chain_check);
    checks.extend(learnt.revocation.as_ref().map(|r| r.check.clone()));
    if !chain_ok {
        skip_trust(&mut checks, &deps.trust, inspect::ID);
        return Judged {
            checks,
            certificates: facts,
            clients: vec![],
            trust: None,
        };
    }
    let judged = judge_trust(cfg, deps, route, hs, &facts, judged_at, learnt);
    checks.extend(judged.checks);
    Judged {
        checks,
        certificates: facts,
        clients: judged.clients,
        trust: Some(judged.verdicts),
    }
}

/// The trust sources' verdicts on the chain, after `proxy.intercept` when a TLS-inspecting proxy made it.
fn judge_trust(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    facts: &[crate::pki::facts::CertFacts],
    judged_at: OffsetDateTime,
    learnt: &Learnt,
) -> trust::TrustOutcome {
    let host = cfg.target.host.to_string();
    // Whether h2 was negotiated, for every product: grpcio needs it whatever the server is.
    let alpn_h2 = match &hs.outcome {
        Ok(f) => Some(f.alpn.as_deref() == Some("h2")),
        Err(_) => None,
    };
    let absolute = |p: &std::path::Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let input = trust::TrustInput {
        chain: &hs.captured.chain,
        facts,
        name: Some(host.clone()),
        at: judged_at,
        at_chosen: cfg.at.is_some(),
        product: cfg.product,
        authority: Some(cfg.target.authority(cfg.port)),
        again: Some(trust::diagnose::Again::of(cfg)),
        required_stores: cfg.required_stores.clone(),
        warn_days: cfg.warn_days,
        alpn_h2,
        server_date: learnt.server_date,
        revoked: learnt.revocation.as_ref().and_then(|r| r.revoked.as_ref()),
        inspected_by: proxy_checks::inspection_issuer(facts).map(|(dn, _)| dn),
        client_cert_required: matches!(hs.outcome, Err(tls::TlsFailure::ClientCertRequired)),
        identity_files: cfg
            .credentials
            .identity_files
            .as_ref()
            .map(|(c, k)| (absolute(c), absolute(k))),
        message_too_large: matches!(hs.outcome, Err(tls::TlsFailure::MessageTooLarge)),
        negotiates: hs
            .offer
            .as_ref()
            .map(crate::checks::clients::Negotiation::of),
    };
    let judged = trust::run(&deps.trust, &input);
    // An inspecting proxy's chain is the first thing to say: every trust verdict below is about it.
    // A source that refused the chain only because the certificate is revoked did accept the chain itself.
    let revoked = trust::Verdict::Rejected(crate::codes::Code::Revoked);
    let accepted_by = judged
        .verdicts
        .accepting(&deps.trust)
        .map(|s| s.kind.check_id())
        .or_else(|| {
            let by = judged.verdicts.0.iter().find(|(_, v)| *v == revoked);
            by.map(|(k, _)| k.check_id())
        });
    let you_gave = deps.trust.sources.iter().any(|s| {
        matches!(
            s.kind,
            crate::pki::sources::SourceKind::Custom | crate::pki::sources::SourceKind::Pin
        )
    });
    let mut checks: Vec<Check> = proxy_checks::intercept(route, facts, accepted_by, you_gave)
        .into_iter()
        .collect();
    checks.extend(judged.checks);
    trust::TrustOutcome { checks, ..judged }
}
