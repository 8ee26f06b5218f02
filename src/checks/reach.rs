//! The way to the server: DNS, TCP (with the product's other ports probed meanwhile) and, with a proxy,
//! CONNECT. Each step a check; a failure skips the rest with the reason.

use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;

use super::{connect, ports, proxy_checks, resolve};
use super::{out_of_time_after, skip_rest, Budget, Deps};
use crate::config::CheckConfig;
use crate::net::proxy::Proxy;
use crate::net::route::{Hop, Route};
use crate::report::Check;
use crate::target::Host;

/// What every step on the way shares.
struct Way<'a> {
    cfg: &'a CheckConfig,
    deps: &'a Deps,
    host: String,
    proxy: Option<Arc<Proxy>>,
    budget: &'a Budget,
}

type Alternates = Vec<tokio::task::JoinHandle<(u16, ports::PortAnswer)>>;

/// DNS, TCP and (with a proxy) CONNECT, each within the budget: the open connection and the way it went,
/// or `None` with every later check skipped.
pub(super) async fn reach(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    proxy: Option<Arc<Proxy>>,
    budget: &Budget,
    checks: &mut Vec<Check>,
) -> Option<(Route, tokio::net::TcpStream)> {
    let way = Way {
        cfg,
        deps,
        host: cfg.target.host.to_string(),
        proxy,
        budget,
    };
    let lookup = match &way.proxy {
        Some(p) => format!("the DNS lookup of the proxy {}", p.host),
        None => format!("the DNS lookup of {}", way.host),
    };
    let (dns, addrs) = match budget.run(resolve::ID, &lookup, way.resolve()).await {
        Ok(found) => found,
        Err(cut) => {
            checks.push(cut);
            way.out_of_time(checks, resolve::ID);
            return None;
        }
    };
    deps.trace.say(1, "dns", || {
        format!("{} [{}]: {}", dns.status.as_str(), dns.code, dns.summary)
    });
    checks.push(dns);
    if addrs.is_empty() {
        checks.push(Check::skip(
            connect::ID,
            resolve::ID,
            "no address to connect to",
        ));
        skip_rest(checks, &deps.trust, resolve::ID, "no address to connect to");
        return None;
    }
    // The product's other ports are probed at the same time, so a dead port costs no extra wait.
    let alternates = way.probe_other_ports(&way.route_via(addrs[0]), name);
    let (route, stream) = way.connect(&addrs, alternates, checks).await?;
    Some((route, stream))
}

impl Way<'_> {
    /// Every check after `from`, skipped: the budget ran out at `from`.
    fn out_of_time(&self, checks: &mut Vec<Check>, from: &str) {
        let proxied = self.proxy.is_some();
        out_of_time_after(checks, self.cfg, self.deps, self.budget, from, proxied);
    }

    /// How a connection to `ip` (the target's, or the proxy's) goes.
    fn route_via(&self, ip: std::net::IpAddr) -> Route {
        Route {
            host: self.host.clone(),
            port: self.cfg.port,
            hop: match &self.proxy {
                None => Hop::Direct(ip),
                Some(p) => Hop::Proxy {
                    proxy: p.clone(),
                    addr: std::net::SocketAddr::new(ip, p.port),
                },
            },
        }
    }

    /// `dns.resolve`: the target's addresses, or with a proxy the proxy's (the proxy resolves the target).
    async fn resolve(&self) -> (Check, Vec<std::net::IpAddr>) {
        let (cfg, host) = (self.cfg, &self.host);
        let resolver = self.deps.resolver.as_ref();
        let Some(p) = &self.proxy else {
            let (dns, addrs) = resolve::run(cfg, resolver).await;
            return (self.direct_notes(dns), addrs);
        };
        let proxy_host = match p.host.parse::<std::net::IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(p.host.to_ascii_lowercase()),
        };
        let (mut c, a) = resolve::lookup(&proxy_host, p.port, cfg, resolver).await;
        c.summary = match &cfg.target.host {
            Host::Name(_) => format!(
                "proxy {}: {}; the proxy resolves {host} itself",
                p.describe(),
                c.summary
            ),
            Host::Ip(_) => format!("proxy {}: {}", p.describe(), c.summary),
        };
        (c.with_fact("proxy", p.describe()), a)
    }

    /// Going direct: says why a configured proxy is not used (NO_PROXY, or an http-only variable).
    fn direct_notes(&self, mut dns: Check) -> Check {
        let cfg = self.cfg;
        if let Some(p) = &cfg.proxy.proxy {
            dns.summary = format!(
                "{} (direct: {} lists {}, so {} is not used)",
                dns.summary,
                cfg.proxy.no_proxy_source.as_deref().unwrap_or("NO_PROXY"),
                self.host,
                p.describe()
            );
            dns = dns.with_fact("proxy", "bypassed");
        } else if let Some(var) = &cfg.proxy.unused {
            dns = dns.with_fact("proxy", format!("{var} is set but applies to http:// only"));
            if dns.status.is_failure() {
                dns = proxy_checks::unused_hint(dns, var);
            }
        }
        dns
    }

    fn probe_other_ports(&self, first: &Route, name: &ServerName<'static>) -> Alternates {
        self.cfg
            .alt_ports
            .iter()
            .map(|port| {
                tokio::spawn(ports::probe(
                    first.with_port(*port),
                    name.clone(),
                    self.cfg.timeouts,
                ))
            })
            .collect()
    }

    /// `tcp.connect` to every address (with a proxy, the proxy's), then the tunnel.
    async fn connect(
        &self,
        addrs: &[std::net::IpAddr],
        alternates: Alternates,
        checks: &mut Vec<Check>,
    ) -> Option<(Route, tokio::net::TcpStream)> {
        let (cfg, t) = (self.cfg, &self.deps.trace);
        let tcp_port = self.proxy.as_ref().map_or(cfg.port, |p| p.port);
        t.say(1, "tcp", || {
            let list: Vec<String> = addrs
                .iter()
                .map(|a| std::net::SocketAddr::new(*a, tcp_port).to_string())
                .collect();
            format!(
                "connecting to {}{} (deadline {}); other ports probed meanwhile: {}",
                list.join(", "),
                if self.proxy.is_some() {
                    " (the proxy)"
                } else {
                    ""
                },
                crate::duration::human(cfg.timeouts.connect),
                if cfg.alt_ports.is_empty() {
                    "none".to_string()
                } else {
                    let ports: Vec<String> = cfg.alt_ports.iter().map(u16::to_string).collect();
                    ports.join(", ")
                }
            )
        });
        let to = format!(
            "the TCP connection to port {tcp_port} of {}",
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let attempt = connect::run(addrs, tcp_port, cfg.timeouts.connect);
        let mut connected = match self.budget.run(connect::ID, &to, attempt).await {
            Ok(c) => c,
            Err(cut) => {
                alternates.iter().for_each(|h| h.abort());
                checks.push(cut);
                self.out_of_time(checks, connect::ID);
                return None;
            }
        };
        if let Some(p) = &self.proxy {
            connected.check = proxy_checks::tcp_to_proxy(connected.check, p, &self.host);
        } else if let (Some(var), Some(_)) = (&cfg.proxy.unused, &connected.error) {
            connected.check = proxy_checks::unused_hint(connected.check, var);
        }
        t.say(1, "tcp", || {
            let c = &connected.check;
            format!("{} [{}]: {}", c.status.as_str(), c.code, c.summary)
        });
        let Some((addr, stream)) = connected.stream else {
            self.not_connected(connected.check, alternates, checks)
                .await;
            return None;
        };
        checks.push(connected.check);
        let route = self.route_via(addr.ip());
        let stream = match route.proxy() {
            None => {
                alternates.iter().for_each(|h| h.abort());
                stream
            }
            Some(p) => self.tunnel(stream, &route, p, alternates, checks).await?,
        };
        Some((route, stream))
    }

    /// No TCP connection: what the other ports answered goes into the failure, the rest is skipped.
    async fn not_connected(&self, check: Check, alternates: Alternates, checks: &mut Vec<Check>) {
        // Without the proxy, the other ports cannot be reached either: nothing to compare.
        let (answers, all) = if self.proxy.is_some() {
            alternates.iter().for_each(|h| h.abort());
            (Vec::new(), true)
        } else {
            collect(alternates, self.budget).await
        };
        let mut check = with_alternatives(check, self.cfg, &answers);
        if !all {
            check.summary.push_str(&format!(
                "; the --max-time budget of {} ran out while the other known ports were probed",
                crate::duration::human(self.cfg.timeouts.max_time)
            ));
        }
        checks.push(check);
        if self.proxy.is_some() {
            checks.push(Check::skip(
                proxy_checks::CONNECT_ID,
                connect::ID,
                "no connection to the proxy",
            ));
        }
        skip_rest(checks, &self.deps.trust, connect::ID, "no TCP connection");
    }

    /// `proxy.connect`: the tunnel to the target through the proxy.
    async fn tunnel(
        &self,
        stream: tokio::net::TcpStream,
        route: &Route,
        p: &Proxy,
        alternates: Alternates,
        checks: &mut Vec<Check>,
    ) -> Option<tokio::net::TcpStream> {
        let t = &self.deps.trace;
        let started = Instant::now();
        let authority = route.authority();
        t.say(1, "proxy", || {
            format!("CONNECT {authority} through {}", p.describe())
        });
        let what = format!("CONNECT {authority} through {}", p.describe());
        let tunnel = crate::net::proxy::connect(stream, &authority, p, self.cfg.timeouts.connect);
        let answer = match self
            .budget
            .run(proxy_checks::CONNECT_ID, &what, tunnel)
            .await
        {
            Ok(answer) => answer,
            Err(cut) => {
                alternates.iter().for_each(|h| h.abort());
                checks.push(cut.with_elapsed(started.elapsed()));
                self.out_of_time(checks, proxy_checks::CONNECT_ID);
                return None;
            }
        };
        match answer {
            Ok(s) => {
                let c = Check::pass(
                    proxy_checks::CONNECT_ID,
                    format!(
                        "{} opened a tunnel to {authority} in {}",
                        p.describe(),
                        crate::duration::human(started.elapsed())
                    ),
                )
                .with_fact("proxy", p.shown.clone())
                .with_fact("source", p.source.clone())
                .with_fact("authenticated", p.authorization.is_some())
                .with_elapsed(started.elapsed());
                t.say(1, "proxy", || c.summary.clone());
                checks.push(c);
                alternates.iter().for_each(|h| h.abort());
                Some(s)
            }
            Err(e) => {
                let e = e.redacted(&self.deps.redactor);
                let (answers, _) = collect(alternates, self.budget).await;
                let c = proxy_checks::tunnel_failed(&e, route, self.cfg, &answers)
                    .with_elapsed(started.elapsed());
                t.say(1, "proxy", || format!("[{}]: {}", c.code, c.summary));
                checks.push(c);
                let why = "no tunnel through the proxy";
                skip_rest(checks, &self.deps.trust, proxy_checks::CONNECT_ID, why);
                None
            }
        }
    }
}

/// What the other ports answered, as they finish, until the budget runs out (then the probes still running
/// are aborted); and whether every probe finished.
async fn collect(alternates: Alternates, budget: &Budget) -> (Vec<(u16, ports::PortAnswer)>, bool) {
    let aborts: Vec<tokio::task::AbortHandle> =
        alternates.iter().map(|h| h.abort_handle()).collect();
    let mut answers = Vec::new();
    let gather = async {
        for h in alternates {
            if let Ok(a) = h.await {
                answers.push(a);
            }
        }
    };
    let all = tokio::time::timeout(budget.left(), gather).await.is_ok();
    if !all {
        aborts.iter().for_each(tokio::task::AbortHandle::abort);
    }
    (answers, all)
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
            // The same command on the other port: a --resolve for the old port moves with it.
            let mut other = cfg.clone();
            other.port = *port;
            for r in other
                .resolve
                .iter_mut()
                .filter(|r| r.port == Some(cfg.port))
            {
                r.port = Some(*port);
            }
            check.fix = Some(format!(
                "Nothing answers on {}; {port} answers TLS{note}: use port {port} (`{}`)",
                cfg.port,
                other.check_again()
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
