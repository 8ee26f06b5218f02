//! After the TCP connection: the handshake, the chain, the server's clock when a date is in doubt, product
//! recognition, and every trust verdict.

use rustls::pki_types::ServerName;
use time::OffsetDateTime;

use super::{detect, handshake, inspect, proxy_checks, trust};
use super::{skip_trust, Deps};
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

/// The handshake, the chain, trust, product recognition, product probes and authentication.
pub(super) async fn after_connect(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    route: &Route,
    stream: tokio::net::TcpStream,
    judged_at: OffsetDateTime,
) -> AfterConnect {
    let t = &deps.trace;
    let mut checks = Vec::new();
    t.say(1, "tls", || client_hello_text(cfg, name, route));
    // The client certificate is a credential: the first handshake only records whether the server asks
    // for one (and from which issuers); it is presented later, over a channel trust accepted.
    let mut hs = tls::handshake(stream, name.clone(), cfg.timeouts.tls).await;
    t.say(1, "tls", || handshake_text(&hs));
    let parsed = inspect::parse(&hs.captured.chain, judged_at);
    t.say(2, "tls", || chain_text(&parsed));
    let server_date = read_server_clock(cfg, &mut hs, &parsed, judged_at).await;
    t.say(1, "clock", || clock_text(server_date));
    // `--product auto`: recognise the product first; everything after is that product's.
    let detected = match cfg.product {
        crate::target::Product::Auto => Some(detect::detect(cfg, &hs, route).await),
        _ => None,
    };
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
    let mut judged = judge_handshake(
        cfg,
        deps,
        route,
        &hs,
        parsed.clone(),
        judged_at,
        server_date,
    );
    if let Some(by) = present_or_withhold(cfg, deps, name, route, &mut hs, &mut judged).await {
        judged = judge_handshake(cfg, deps, route, &hs, parsed, judged_at, server_date);
        let note = format!("; your --cert was presented in a second handshake, after {by}");
        note_handshake(&mut judged.checks, &note, true);
    }
    let verdicts = judged.trust.as_ref();
    let product_checks = super::products::products_and_auth(cfg, deps, route, &hs, verdicts).await;
    judged.checks.extend(product_checks);
    for c in judged
        .checks
        .iter()
        .filter(|c| c.id.starts_with("trust.") || c.id == "cert.chain" || c.id == "tls.alpn")
    {
        t.say(1, &c.id, || {
            format!("{} [{}]: {}", c.status.as_str(), c.code, c.summary)
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
            "{} {} {:?} ALPN {:?}, {} certificates, client certificate requested: {}",
            f.protocol,
            f.cipher_suite,
            f.key_exchange,
            f.alpn,
            hs.captured.chain.len(),
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
/// asks the server for its clock over the open connection. The connection is closed either way.
async fn read_server_clock(
    cfg: &CheckConfig,
    hs: &mut tls::Handshake,
    facts: &[crate::pki::facts::CertFacts],
    now: OffsetDateTime,
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
    crate::net::clock::server_date(
        stream,
        &cfg.target.authority(cfg.port),
        h2,
        cfg.timeouts.tls,
    )
    .await
}

/// The user's client certificate, when the server demands one: presented in a second handshake that
/// replaces `hs` (returns what allowed it; the caller judges the new handshake), or kept back with a note
/// and a fix on `tls.handshake`.
async fn present_or_withhold(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    route: &Route,
    hs: &mut tls::Handshake,
    judged: &mut Judged,
) -> Option<String> {
    if let Some((second, by)) =
        present_identity(cfg, deps, name, route, hs, judged.trust.as_ref()).await
    {
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

/// Turns a handshake into `tls.*`, `cert.chain` and `trust.*` checks: one captured chain, every verdict.
fn judge_handshake(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    parsed: Vec<crate::pki::facts::CertFacts>,
    judged_at: OffsetDateTime,
    server_date: Option<OffsetDateTime>,
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
    if !chain_ok {
        skip_trust(&mut checks, &deps.trust, inspect::ID);
        return Judged {
            checks,
            certificates: facts,
            clients: vec![],
            trust: None,
        };
    }
    let judged = judge_trust(cfg, deps, route, hs, &facts, judged_at, server_date);
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
    server_date: Option<OffsetDateTime>,
) -> trust::TrustOutcome {
    let host = cfg.target.host.to_string();
    let alpn_h2 = match (&hs.outcome, cfg.product) {
        (Ok(f), crate::target::Product::Cvp | crate::target::Product::Cvaas) => {
            Some(f.alpn.as_deref() == Some("h2"))
        }
        _ => None,
    };
    let input = trust::TrustInput {
        chain: &hs.captured.chain,
        facts,
        name: Some(host.clone()),
        at: judged_at,
        product: cfg.product,
        authority: Some(cfg.target.authority(cfg.port)),
        warn_days: cfg.warn_days,
        alpn_h2,
        server_date,
        inspected_by: proxy_checks::inspection_issuer(facts).map(|(dn, _)| dn),
    };
    let judged = trust::run(&deps.trust, &input);
    // An inspecting proxy's chain is the first thing to say: every trust verdict below is about it.
    let accepted_by = judged
        .verdicts
        .accepting(&deps.trust)
        .map(|s| s.kind.check_id());
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
