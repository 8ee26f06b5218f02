//! The pipeline: resolve → connect → handshake → inspect, each stage a check in one report. A failure is an
//! outcome, never a crash: later stages that depend on it become `skip` with the reason.

pub mod auth;
pub mod clients;
pub mod connect;
pub mod detect;
pub mod handshake;
pub mod inspect;
pub mod offer;
pub mod ports;
pub mod proxy_checks;
pub mod resolve;
pub mod revocation;
pub mod trust;

mod offline;
mod products;
mod reach;
mod secure;

pub use offline::{verify_offline, OfflineInput};

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use time::OffsetDateTime;

use crate::codes::Code;
use crate::config::CheckConfig;
use crate::net::dns::Resolver;
use crate::pki::sources::TrustSources;
use crate::report::model::{Report, TargetInfo};
use crate::report::{Check, Status};
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

/// Checks one target and returns its report, within `--max-time` (`cfg.timeouts.max_time`): each network
/// stage runs inside the [`Budget`], so when it runs out the checks that finished stay, the one running is
/// an `error` and the ones after it are `skip`, both `max_time_exceeded`.
pub async fn run(cfg: &CheckConfig, deps: &Deps) -> Report {
    let start = Instant::now();
    let budget = Budget::start(cfg.timeouts.max_time);
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
            "{} → {}:{} ({}, within --max-time {}){}",
            cfg.target.input,
            cfg.target.host,
            cfg.port,
            cfg.product.display_name(),
            crate::duration::human(cfg.timeouts.max_time),
            match &proxy {
                Some(p) => format!(" through the proxy {}", p.describe()),
                None => String::new(),
            }
        )
    });
    let proxy_shown = proxy.as_ref().map(|p| p.describe());
    // What a Prisma URL says stands first, and whatever answers (or nothing).
    checks.extend(auth::prisma::console_url(cfg));
    let way = reach::reach(cfg, deps, &name, proxy, &budget, &mut checks).await;
    if let Some((route, stream)) = way {
        let at = secure::Reached {
            name: &name,
            route: &route,
            judged_at,
            budget: &budget,
        };
        let done = secure::after_connect(cfg, deps, &at, stream).await;
        checks.extend(done.checks);
        certificates = done.certificates;
        clients = done.clients;
        reported_product = done.product;
    }
    let cut = checks.iter().find(|c| c.code == Code::MaxTimeExceeded);
    if let Some(c) = cut.filter(|c| c.status == Status::Error) {
        t.say(1, "max-time", || format!("{}: {}", c.id, c.summary));
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

/// The `--max-time` budget of one check: a deadline from its start that every network stage runs within
/// ([`Budget::run`]). The first stage it stops is an `error` (cut off, or not started), every later one a
/// `skip` naming it; both `max_time_exceeded`, with a fix naming `--max-time`. An optional step that reports
/// no check of its own (the server's clock) takes [`Budget::cap`] of its deadline instead.
#[derive(Debug)]
pub(crate) struct Budget {
    total: Duration,
    deadline: tokio::time::Instant,
    /// The first check the budget stopped, and whether it had started.
    stopped: OnceLock<(String, bool)>,
}

impl Budget {
    pub(crate) fn start(total: Duration) -> Budget {
        Budget {
            total,
            deadline: tokio::time::Instant::now() + total,
            stopped: OnceLock::new(),
        }
    }

    /// What is left of the budget.
    pub(crate) fn left(&self) -> Duration {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// A deadline of `phase`, or what is left of the budget when that is less.
    pub(crate) fn cap(&self, phase: Duration) -> Duration {
        phase.min(self.left())
    }

    /// Runs `work` (the step `what` of check `id`) until the budget ends: its output, or the check saying
    /// that the budget ran out (the work is dropped, its connections closed). Work is not started when
    /// nothing is left.
    pub(crate) async fn run<F: Future>(
        &self,
        id: &str,
        what: &str,
        work: F,
    ) -> Result<F::Output, Check> {
        if self.left().is_zero() {
            return Err(self.stop(id, what, false));
        }
        let started = Instant::now();
        tokio::time::timeout_at(self.deadline, work)
            .await
            .map_err(|_| self.stop(id, what, true).with_elapsed(started.elapsed()))
    }

    /// The check `id` stopped by the budget: the first one is an `error` saying what was running (or about
    /// to start), the next ones `skip`s naming it.
    pub(crate) fn stop(&self, id: &str, what: &str, started: bool) -> Check {
        let total = crate::duration::human(self.total);
        let first = self.stopped.set((id.to_string(), started)).is_ok();
        let check = if first {
            let summary = if started {
                format!("cut off: the --max-time budget of {total} ran out during {what}")
            } else {
                format!("not run: the --max-time budget of {total} ran out before {what}")
            };
            Check::new(id, Status::Error, Code::MaxTimeExceeded, summary).with_fix(self.fix())
        } else {
            let (by, by_started) = self.stopped.get().cloned().unwrap_or_default();
            let when = if by_started { "during" } else { "before" };
            Check::new(
                id,
                Status::Skip,
                Code::MaxTimeExceeded,
                format!("not run: the --max-time budget of {total} ran out {when} {by}"),
            )
            .with_fix(format!("The same fix as {by} (raise --max-time)."))
            .with_fact("blocked_by", by)
        };
        check.with_fact("max_time_ms", millis(self.total))
    }

    /// Turns a check whose follow-up step (`what`) the budget cut off into the `error` that says so.
    pub(crate) fn cut_short(&self, check: &mut Check, what: &str) {
        let _ = self.stopped.set((check.id.clone(), true));
        check.status = Status::Error;
        check.code = Code::MaxTimeExceeded;
        check.summary = format!(
            "{}; then the --max-time budget of {} ran out during {what}",
            check.summary,
            crate::duration::human(self.total)
        );
        check.fix = Some(self.fix());
        check
            .facts
            .insert("max_time_ms".into(), millis(self.total).into());
    }

    fn fix(&self) -> String {
        format!(
            "Raise --max-time (now {}), the budget of the whole check; to find the slow step, run with -v (each step with its time) or lower the phase deadlines (--timeout, --dns-timeout, --connect-timeout, --tls-timeout)",
            crate::duration::human(self.total)
        )
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Every check after `from` on the way to a trust verdict and a login (`tcp.connect`, `proxy.connect` with a
/// proxy, `tls.handshake`, `cert.chain`, `trust.*`, `auth.*`), skipped because the budget ran out at `from`.
fn out_of_time_after(
    checks: &mut Vec<Check>,
    cfg: &CheckConfig,
    deps: &Deps,
    budget: &Budget,
    from: &str,
    proxied: bool,
) {
    let mut ids: Vec<String> = vec![resolve::ID.into(), connect::ID.into()];
    if proxied {
        ids.push(proxy_checks::CONNECT_ID.into());
    }
    ids.extend([handshake::ID.to_string(), inspect::ID.to_string()]);
    ids.extend(
        deps.trust
            .sources
            .iter()
            .map(|s| s.kind.check_id().to_string()),
    );
    ids.extend(auth::method_ids(cfg.product, &cfg.credentials));
    let after = ids.iter().position(|id| id == from).map_or(0, |p| p + 1);
    for id in &ids[after..] {
        checks.push(budget.stop(id, id, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_cuts_the_running_step_and_skips_the_rest() {
        let budget = Budget::start(Duration::from_millis(50));
        assert_eq!(budget.run("a", "step a", async { 1 }).await.ok(), Some(1));
        let cut = budget
            .run("b", "step b", std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(
            (cut.status, cut.code),
            (Status::Error, Code::MaxTimeExceeded)
        );
        assert!(
            cut.summary.contains("ran out during step b"),
            "{}",
            cut.summary
        );
        assert!(cut.fix.as_deref().is_some_and(|f| f.contains("--max-time")));
        assert_eq!(budget.left(), Duration::ZERO);
        assert_eq!(budget.cap(Duration::from_secs(1)), Duration::ZERO);
        let skip = budget.run("c", "step c", async { 3 }).await.unwrap_err();
        assert_eq!(
            (skip.status, skip.code),
            (Status::Skip, Code::MaxTimeExceeded)
        );
        assert!(
            skip.summary.contains("ran out during b"),
            "{}",
            skip.summary
        );
        assert_eq!(skip.facts["blocked_by"], "b");
    }

    #[tokio::test]
    async fn a_step_the_budget_left_no_time_for_is_the_error() {
        let budget = Budget::start(Duration::from_millis(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let first = budget.stop("x", "step x", false);
        assert_eq!(first.status, Status::Error);
        assert!(
            first.summary.contains("ran out before step x"),
            "{}",
            first.summary
        );
        let mut late = Check::pass("y", "fine");
        budget.cut_short(&mut late, "step z");
        assert_eq!(
            (late.status, late.code),
            (Status::Error, Code::MaxTimeExceeded)
        );
        assert!(late.summary.starts_with("fine; then"), "{}", late.summary);
    }
}
