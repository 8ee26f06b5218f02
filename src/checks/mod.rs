//! The pipeline: resolve → connect → handshake → inspect, each stage a check in one report. A failure is an
//! outcome, never a crash: later stages that depend on it become `skip` with the reason.

pub mod connect;
pub mod handshake;
pub mod inspect;
pub mod ports;
pub mod resolve;

use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::CheckConfig;
use crate::report::model::{Report, TargetInfo, Tool, SCHEMA_VERSION};
use crate::report::{Check, Verdict};
use crate::target::Host;
use resolve::Resolver;

/// What the pipeline needs from outside: injectable, so tests need no real DNS and no real clock.
#[derive(Clone)]
pub struct Deps {
    pub resolver: Arc<dyn Resolver>,
    /// The wall clock at the start of the run.
    pub now: OffsetDateTime,
}

/// The server name for SNI: `--sni`, else the host name; an address sends none.
pub fn server_name(cfg: &CheckConfig) -> ServerName<'static> {
    if let Some(sni) = &cfg.sni {
        if let Ok(name) = ServerName::try_from(sni.clone()) {
            return name;
        }
    }
    match &cfg.target.host {
        Host::Name(n) => ServerName::try_from(n.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())),
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
    }
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Checks one target and returns its report.
pub async fn run(cfg: &CheckConfig, deps: &Deps) -> Report {
    let start = Instant::now();
    let judged_at = cfg.at.unwrap_or(deps.now);
    let name = server_name(cfg);
    let mut checks: Vec<Check> = Vec::new();
    let mut certificates = Vec::new();

    let (dns, addrs) = resolve::run(cfg, deps.resolver.as_ref()).await;
    checks.push(dns);

    if addrs.is_empty() {
        checks.push(Check::skip(
            connect::ID,
            resolve::ID,
            "no address to connect to",
        ));
        checks.push(Check::skip(
            handshake::ID,
            resolve::ID,
            "no address to connect to",
        ));
        checks.push(Check::skip(
            inspect::ID,
            resolve::ID,
            "no certificate without a handshake",
        ));
    } else {
        // The product's other ports are probed at the same time, so a dead port costs no extra wait.
        let alternates: Vec<_> = cfg
            .alt_ports
            .iter()
            .map(|port| tokio::spawn(ports::probe(addrs[0], *port, name.clone(), cfg.timeouts)))
            .collect();
        let connected = connect::run(&addrs, cfg.port, cfg.timeouts.connect).await;
        match connected.stream {
            None => {
                let mut answers = Vec::new();
                for h in alternates {
                    if let Ok(a) = h.await {
                        answers.push(a);
                    }
                }
                checks.push(with_alternatives(connected.check, cfg, &answers));
                checks.push(Check::skip(handshake::ID, connect::ID, "no TCP connection"));
                checks.push(Check::skip(
                    inspect::ID,
                    connect::ID,
                    "no certificate without a handshake",
                ));
            }
            Some((addr, stream)) => {
                for h in &alternates {
                    h.abort();
                }
                checks.push(connected.check);
                let hs = handshake::handshake(stream, name.clone(), cfg.timeouts.tls).await;
                let host = cfg.target.host.to_string();
                let at = handshake::Where {
                    addr,
                    host: &host,
                    port: cfg.port,
                    product: cfg.product,
                    timeout: cfg.timeouts.tls,
                };
                checks.push(handshake::check(&hs, &at));
                if let Ok(facts) = &hs.outcome {
                    checks.extend(handshake::alpn_check(facts, cfg.product, cfg.port));
                }
                if hs.captured.chain.is_empty() && hs.outcome.is_err() {
                    checks.push(Check::skip(
                        inspect::ID,
                        handshake::ID,
                        "the server sent no certificate before the handshake failed",
                    ));
                } else {
                    let (chain_check, facts) = inspect::run(&hs.captured.chain, judged_at);
                    checks.push(chain_check);
                    certificates = facts;
                }
            }
        }
    }

    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        target: TargetInfo {
            input: cfg.target.input.clone(),
            host: cfg.target.host.to_string(),
            port: cfg.port,
            path: cfg.target.path.clone(),
            product: cfg.product,
            sni: match &name {
                ServerName::DnsName(d) => Some(d.as_ref().to_string()),
                _ => None,
            },
        },
        started_at: fmt_time(deps.now),
        judged_at: fmt_time(judged_at),
        verdict: Verdict::Pass,
        first_fix: None,
        checks,
        certificates,
        elapsed_ms: start.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
    };
    report.finish();
    report
}

/// Adds what the other known ports answered to a failed `tcp.connect`, and points the fix at one that works.
fn with_alternatives(
    mut check: Check,
    cfg: &CheckConfig,
    answers: &[(u16, ports::PortAnswer)],
) -> Check {
    if answers.is_empty() {
        return check;
    }
    check
        .facts
        .insert("other_ports".into(), ports::facts(answers, cfg.timeouts));
    let working: Vec<&(u16, ports::PortAnswer)> = answers
        .iter()
        .filter(|(_, a)| matches!(a, ports::PortAnswer::Tls(_)))
        .collect();
    let others = answers
        .iter()
        .map(|(p, _)| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match working.first() {
        Some((port, _)) => {
            let note = cfg
                .product
                .port_note(*port)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            check.summary = format!("{}; port {port} answers TLS instead", check.summary);
            let mut example = cfg.target.authority(*port);
            if let Some(path) = &cfg.target.path {
                example = format!("https://{example}{path}");
            }
            check.fix = Some(format!(
                "Nothing answers on {}; {port} answers TLS{note}: use port {port} (`preflight check {example} --product {}`)",
                cfg.port,
                cfg.product.as_str()
            ));
        }
        None => {
            check.summary = format!(
                "{}; the other known ports ({others}) do not answer TLS either",
                check.summary
            );
        }
    }
    check
}
