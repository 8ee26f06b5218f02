//! The pipeline: resolve → connect → handshake → inspect, each stage a check in one report. A failure is an
//! outcome, never a crash: later stages that depend on it become `skip` with the reason.

pub mod auth;
pub mod connect;
pub mod detect;
pub mod handshake;
pub mod inspect;
pub mod ports;
pub mod proxy_checks;
pub mod resolve;
pub mod trust;

mod offline;
mod products;
mod reach;
mod secure;

pub use offline::{verify_offline, OfflineInput};

use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use time::OffsetDateTime;

use crate::config::CheckConfig;
use crate::net::dns::Resolver;
use crate::pki::sources::TrustSources;
use crate::report::model::{Report, TargetInfo};
use crate::report::Check;
use crate::target::Host;

/// What the pipeline needs from outside: injectable, so tests need no real DNS and no real clock.
#[derive(Clone)]
pub struct Deps {
    pub resolver: Arc<dyn Resolver>,
    /// Trust sources, loaded once per run.
    pub trust: Arc<TrustSources>,
    /// The wall clock at the start of the run.
    pub now: OffsetDateTime,
    /// `-v` / `-vv`.
    pub trace: crate::trace::Trace,
    /// Every secret of the run in every form, growing as servers issue tokens: every text from the wire
    /// passes through it before it enters a check. [`run`] adds the configuration's own secrets.
    pub redactor: crate::secret::Redactor,
}

/// The name certificates are verified against: the target's host (whatever SNI carries), as a client
/// connecting to that URL would.
pub fn verify_name(cfg: &CheckConfig) -> ServerName<'static> {
    match &cfg.target.host {
        Host::Name(n) => ServerName::try_from(n.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())),
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
    }
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

/// Checks one target and returns its report.
pub async fn run(cfg: &CheckConfig, deps: &Deps) -> Report {
    let start = Instant::now();
    for s in cfg.secret_values() {
        deps.redactor.learn(&s);
    }
    let judged_at = cfg.at.unwrap_or(deps.now);
    let name = server_name(cfg);
    let mut checks: Vec<Check> = Vec::new();
    let mut certificates = Vec::new();
    let mut clients = Vec::new();
    let mut reported_product = cfg.product;

    let t = &deps.trace;
    let host = cfg.target.host.to_string();
    let proxy = cfg.proxy.for_host(&host).cloned().map(Arc::new);
    t.say(1, "target", || {
        format!(
            "{} → {}:{} ({}){}",
            cfg.target.input,
            cfg.target.host,
            cfg.port,
            cfg.product.display_name(),
            match &proxy {
                Some(p) => format!(" through the proxy {}", p.describe()),
                None => String::new(),
            }
        )
    });
    let proxy_shown = proxy.as_ref().map(|p| p.describe());
    if let Some((route, stream)) = reach::reach(cfg, deps, &name, proxy, &mut checks).await {
        let done = secure::after_connect(cfg, deps, &name, &route, stream, judged_at).await;
        checks.extend(done.checks);
        certificates = done.certificates;
        clients = done.clients;
        reported_product = done.product;
    }

    let target = TargetInfo {
        input: cfg.target.input.clone(),
        host,
        port: Some(cfg.port),
        path: cfg.target.path.clone(),
        product: reported_product,
        sni: match &name {
            ServerName::DnsName(d) => Some(d.as_ref().to_string()),
            _ => None,
        },
        proxy: proxy_shown,
    };
    Report::new(
        target,
        deps.now,
        judged_at,
        checks,
        certificates,
        clients,
        start.elapsed(),
    )
}

/// Marks every trust source's check as skipped because `because` did not pass.
fn skip_trust(checks: &mut Vec<Check>, trust: &TrustSources, because: &str) {
    for s in &trust.sources {
        checks.push(Check::skip(s.kind.check_id(), because, "no chain to judge"));
    }
}

/// The handshake, the chain and the trust checks after a TCP connection: everything after `tcp.connect`
/// skipped because `because` did not pass.
fn skip_rest(checks: &mut Vec<Check>, trust: &TrustSources, because: &str, why: &str) {
    checks.push(Check::skip(handshake::ID, because, why));
    checks.push(Check::skip(
        inspect::ID,
        because,
        "no certificate without a handshake",
    ));
    skip_trust(checks, trust, because);
}
