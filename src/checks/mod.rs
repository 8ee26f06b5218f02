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

use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use time::OffsetDateTime;

use crate::config::CheckConfig;
use crate::net::dns::Resolver;
use crate::net::route::{Hop, Route};
use crate::net::tls;
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
    if let Some((route, stream)) = reach(cfg, deps, &name, proxy, &mut checks).await {
        let done = after_connect(cfg, deps, &name, &route, stream, judged_at).await;
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

/// DNS, TCP and (with a proxy) CONNECT: the open connection and the way it went, or `None` with every
/// later check skipped.
async fn reach(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    proxy: Option<Arc<crate::net::proxy::Proxy>>,
    checks: &mut Vec<Check>,
) -> Option<(Route, tokio::net::TcpStream)> {
    let t = &deps.trace;
    let host = cfg.target.host.to_string();
    // With a proxy, this machine resolves and connects to the proxy; the proxy resolves the target.
    let (mut dns, addrs) = match &proxy {
        None => resolve::run(cfg, deps.resolver.as_ref()).await,
        Some(p) => {
            let proxy_host = match p.host.parse::<std::net::IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(p.host.to_ascii_lowercase()),
            };
            let (mut c, a) =
                resolve::lookup(&proxy_host, p.port, cfg, deps.resolver.as_ref()).await;
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
    };
    if proxy.is_none() {
        if let Some(p) = &cfg.proxy.proxy {
            dns.summary = format!(
                "{} (direct: {} lists {host}, so {} is not used)",
                dns.summary,
                cfg.proxy.no_proxy_source.as_deref().unwrap_or("NO_PROXY"),
                p.describe()
            );
            dns = dns.with_fact("proxy", "bypassed");
        } else if let Some(var) = &cfg.proxy.unused {
            dns = dns.with_fact("proxy", format!("{var} is set but applies to http:// only"));
            if dns.status.is_failure() {
                dns = proxy_checks::unused_hint(dns, var);
            }
        }
    }
    t.say(1, "dns", || {
        format!("{} [{}]: {}", dns.status.as_str(), dns.code, dns.summary)
    });
    let dns_failed = addrs.is_empty();
    checks.push(dns);
    if dns_failed {
        checks.push(Check::skip(
            connect::ID,
            resolve::ID,
            "no address to connect to",
        ));
        skip_rest(checks, &deps.trust, resolve::ID, "no address to connect to");
        return None;
    }
    let route_via = |ip: std::net::IpAddr| Route {
        host: host.clone(),
        port: cfg.port,
        hop: match &proxy {
            None => Hop::Direct(ip),
            Some(p) => Hop::Proxy {
                proxy: p.clone(),
                addr: std::net::SocketAddr::new(ip, p.port),
            },
        },
    };
    // The product's other ports are probed at the same time, so a dead port costs no extra wait.
    let first = route_via(addrs[0]);
    let alternates: Vec<_> = cfg
        .alt_ports
        .iter()
        .map(|port| {
            tokio::spawn(ports::probe(
                first.with_port(*port),
                name.clone(),
                cfg.timeouts,
            ))
        })
        .collect();
    let tcp_port = proxy.as_ref().map_or(cfg.port, |p| p.port);
    t.say(1, "tcp", || {
        let list: Vec<String> = addrs
            .iter()
            .map(|a| std::net::SocketAddr::new(*a, tcp_port).to_string())
            .collect();
        format!(
            "connecting to {}{} (deadline {}); other ports probed meanwhile: {:?}",
            list.join(", "),
            if proxy.is_some() { " (the proxy)" } else { "" },
            crate::duration::human(cfg.timeouts.connect),
            cfg.alt_ports
        )
    });
    let mut connected = connect::run(&addrs, tcp_port, cfg.timeouts.connect).await;
    if let Some(p) = &proxy {
        connected.check = proxy_checks::tcp_to_proxy(connected.check, p, &host);
    } else if let (Some(var), Some(_)) = (&cfg.proxy.unused, &connected.error) {
        connected.check = proxy_checks::unused_hint(connected.check, var);
    }
    t.say(1, "tcp", || {
        format!(
            "{} [{}]: {}",
            connected.check.status.as_str(),
            connected.check.code,
            connected.check.summary
        )
    });
    let collect = |alternates: Vec<tokio::task::JoinHandle<(u16, ports::PortAnswer)>>| async move {
        let mut answers = Vec::new();
        for h in alternates {
            if let Ok(a) = h.await {
                answers.push(a);
            }
        }
        answers
    };
    let Some((addr, stream)) = connected.stream else {
        // Without the proxy, the other ports cannot be reached either: nothing to compare.
        let answers = if proxy.is_some() {
            alternates.iter().for_each(|h| h.abort());
            Vec::new()
        } else {
            collect(alternates).await
        };
        checks.push(with_alternatives(connected.check, cfg, &answers));
        if proxy.is_some() {
            checks.push(Check::skip(
                proxy_checks::CONNECT_ID,
                connect::ID,
                "no connection to the proxy",
            ));
        }
        skip_rest(checks, &deps.trust, connect::ID, "no TCP connection");
        return None;
    };
    checks.push(connected.check);
    let route = route_via(addr.ip());
    let stream = match route.proxy() {
        None => stream,
        Some(p) => {
            let started = Instant::now();
            let authority = route.authority();
            t.say(1, "proxy", || {
                format!("CONNECT {authority} through {}", p.describe())
            });
            match crate::net::proxy::connect(stream, &authority, p, cfg.timeouts.connect).await {
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
                    s
                }
                Err(e) => {
                    let answers = collect(alternates).await;
                    let c = proxy_checks::tunnel_failed(&e, &route, cfg, &answers)
                        .with_elapsed(started.elapsed());
                    t.say(1, "proxy", || format!("[{}]: {}", c.code, c.summary));
                    checks.push(c);
                    skip_rest(
                        checks,
                        &deps.trust,
                        proxy_checks::CONNECT_ID,
                        "no tunnel through the proxy",
                    );
                    return None;
                }
            }
        }
    };
    for h in &alternates {
        h.abort();
    }
    Some((route, stream))
}

/// What the checks after the TCP connection add to a report.
struct AfterConnect {
    checks: Vec<Check>,
    certificates: Vec<crate::pki::facts::CertFacts>,
    clients: Vec<crate::report::model::ClientAdvice>,
    product: crate::target::Product,
}

/// The handshake, the chain, trust, product recognition, product probes and authentication.
async fn after_connect(
    cfg: &CheckConfig,
    deps: &Deps,
    name: &ServerName<'static>,
    route: &Route,
    stream: tokio::net::TcpStream,
    judged_at: OffsetDateTime,
) -> AfterConnect {
    let t = &deps.trace;
    let mut checks = Vec::new();
    t.say(1, "tls", || {
        let sni = match name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            _ => "(none: an address)".into(),
        };
        format!(
            "ClientHello to {}: SNI {sni}, ALPN h2, http/1.1, TLS 1.3 and 1.2 (deadline {})",
            route.describe(),
            crate::duration::human(cfg.timeouts.tls)
        )
    });
    let identity = cfg
        .credentials
        .identity
        .as_ref()
        .and_then(|i| i.certified_key());
    let mut hs = tls::handshake_as(stream, name.clone(), cfg.timeouts.tls, identity).await;
    t.say(1, "tls", || match &hs.outcome {
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
    });
    let parsed = inspect::parse(&hs.captured.chain, judged_at);
    t.say(2, "tls", || {
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
    });
    let server_date = read_server_clock(cfg, &mut hs, &parsed, judged_at).await;
    t.say(1, "clock", || match server_date {
        Some(d) => format!("server Date {}", crate::duration::rfc3339(d)),
        None => {
            "server clock not read (no certificate date in doubt, --at given, or no Date)".into()
        }
    });
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
    let mut judged = judge_handshake(cfg, deps, route, &hs, parsed, judged_at, server_date);
    let product_checks = products_and_auth(cfg, deps, route, &hs, &judged.checks).await;
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

/// Product probes and every authentication method the credentials allow, over the channel trust chose.
async fn products_and_auth(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    checks: &[Check],
) -> Vec<Check> {
    use crate::target::Product;
    let creds = &cfg.credentials;
    let ids = auth::method_ids(cfg.product, creds);
    let wants_http = cfg.product != Product::Generic || !ids.is_empty();
    if !wants_http {
        return Vec::new();
    }
    if hs.outcome.is_err() {
        return ids
            .iter()
            .map(|id| Check::skip(id, handshake::ID, "no TLS connection"))
            .collect();
    }
    let identity = creds.identity.as_ref();
    let accepted = trust::accepting_source(&deps.trust, checks);
    let channel =
        match crate::pki::channel::choose(accepted, creds.insecure, identity, &tls::ALPN_OFFERED) {
            Ok(c) => c,
            Err(e) => {
                return vec![Check::new(
                    "auth.setup",
                    crate::report::Status::Error,
                    crate::codes::Code::HttpFailed,
                    format!("cannot prepare the authenticated connection: {e}"),
                )
                .with_fix("Check the --cert and --key files")];
            }
        };
    // Requests without credentials (the Prisma ping) may use an unverified connection: nothing secret goes.
    let probe_config = match channel.config() {
        Some(c) => c,
        None => match crate::pki::channel::config_for(None, None, &tls::ALPN_OFFERED) {
            Ok(c) => std::sync::Arc::new(c),
            Err(_) => return Vec::new(),
        },
    };
    let host = cfg.target.host.to_string();
    // The URL path is a Prisma SaaS tenant path; CloudVision's API is at the root.
    let path = if cfg.product == Product::Prisma {
        cfg.target.path.as_deref()
    } else {
        None
    };
    let timeout = cfg.timeouts.tls;
    let mut out = Vec::new();
    let is_cv = matches!(cfg.product, Product::Cvp | Product::Cvaas);
    // gRPC goes over the trusted channel when there is one (h2 only); the unauthenticated probe may go
    // over an unverified one, since it carries nothing secret.
    let grpc_target = |source| -> Option<auth::cvp::GrpcTarget> {
        let config = crate::pki::channel::config_for(source, identity, &["h2"]).ok()?;
        Some(auth::cvp::GrpcTarget {
            config: std::sync::Arc::new(config),
            name: verify_name(cfg),
            authority: cfg.target.authority(cfg.port),
            route: route.clone(),
            timeout,
        })
    };
    if cfg.product == Product::Cvaas {
        out.extend(auth::cvp::cvaas_host(&host));
    }
    if is_cv {
        if let Some(g) = grpc_target(accepted) {
            // gRPC on the target's port and on the product's other ports (CVP: 443 from 2021.3, 8443
            // before), at the same time; then say which one serves it.
            // Only when the target's port is itself a CloudVision port (or the user named the others):
            // comparing 443 with 8443 tells an old release from a new one; next to another port it is noise.
            let known = cfg.product.known_ports().contains(&cfg.port) || cfg.alt_ports_chosen;
            let others: Vec<auth::cvp::GrpcTarget> = if cfg.product == Product::Cvp && known {
                cfg.alt_ports
                    .iter()
                    .map(|p| auth::cvp::GrpcTarget {
                        route: g.route.with_port(*p),
                        authority: cfg.target.authority(*p),
                        // A filtered legacy port must not hold the run: a LAN answers in milliseconds.
                        timeout: timeout.min(std::time::Duration::from_secs(1)),
                        ..g.clone()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let main = auth::cvp::grpc_served(cfg.port, &g);
            let rest = futures_util::future::join_all(
                others
                    .iter()
                    .map(|o| auth::cvp::grpc_served(o.route.port, o)),
            );
            let (main, rest) = tokio::join!(main, rest);
            out.extend(auth::cvp::which_grpc_port(cfg.port, main, rest));
        }
    }
    // Probes without credentials get a short deadline: a server that is not HTTP must not cost the TLS timeout.
    let probe_timeout = timeout.min(std::time::Duration::from_secs(3));
    if cfg.product == Product::Cvp {
        if let Ok(http) =
            crate::net::http::Http::new(probe_config.clone(), route, path, probe_timeout)
        {
            out.push(auth::cvp::login_endpoint(&http).await);
        }
    }
    if cfg.product == Product::Prisma {
        if let Ok(http) =
            crate::net::http::Http::new(probe_config.clone(), route, path, probe_timeout)
        {
            out.push(auth::prisma::ping(&http).await);
        }
    }
    if ids.is_empty() {
        return out;
    }
    let Some(config) = channel.config() else {
        out.extend(auth::skipped_untrusted(&ids));
        return out;
    };
    let http = match crate::net::http::Http::new(config, route, path, timeout) {
        Ok(h) => h,
        Err(e) => {
            out.push(
                Check::new(
                    "auth.setup",
                    crate::report::Status::Error,
                    crate::codes::Code::HttpFailed,
                    e,
                )
                .with_fix("Retry with -v"),
            );
            return out;
        }
    };
    let now = deps.now;
    let methods = match cfg.product {
        Product::Prisma => auth::prisma::run(&http, creds, now).await,
        Product::Cvp | Product::Cvaas => {
            let g = match &channel {
                crate::pki::channel::Channel::Trusted { .. } => grpc_target(accepted),
                _ => grpc_target(None),
            };
            auth::cvp::run(&http, creds, cfg.product, now, g.as_ref()).await
        }
        Product::Generic | Product::Auto => ids
            .iter()
            .map(|id| {
                Check::new(
                    id,
                    crate::report::Status::Skip,
                    crate::codes::Code::UnsupportedMethod,
                    "not attempted: a generic TLS server has no known login API",
                )
                .with_fix("Pass --product cvp, cvaas or prisma to check logging in")
            })
            .collect(),
    };
    let insecure = channel.insecure();
    let via = match &channel {
        crate::pki::channel::Channel::Trusted { source, .. } => Some(source.check_id()),
        _ => None,
    };
    out.extend(methods.into_iter().map(|c| {
        let c = auth::flag_insecure(c, insecure);
        match via {
            Some(v) => c.with_fact("trusted_via", v),
            None => c,
        }
    }));
    out
}

/// What the handshake stage adds to a report.
struct Judged {
    checks: Vec<Check>,
    certificates: Vec<crate::pki::facts::CertFacts>,
    clients: Vec<crate::report::model::ClientAdvice>,
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
        };
    }
    let alpn_h2 = match (&hs.outcome, cfg.product) {
        (Ok(f), crate::target::Product::Cvp | crate::target::Product::Cvaas) => {
            Some(f.alpn.as_deref() == Some("h2"))
        }
        _ => None,
    };
    let input = trust::TrustInput {
        chain: &hs.captured.chain,
        facts: &facts,
        name: Some(host.clone()),
        at: judged_at,
        product: cfg.product,
        authority: Some(cfg.target.authority(cfg.port)),
        warn_days: cfg.warn_days,
        alpn_h2,
        server_date,
        inspected_by: proxy_checks::inspection_issuer(&facts).map(|(dn, _)| dn),
    };
    let (trust_checks, clients) = trust::run(&deps.trust, &input);
    // An inspecting proxy's chain is the first thing to say: every trust verdict below is about it.
    let accepted_by =
        trust::accepting_source(&deps.trust, &trust_checks).map(|s| s.kind.check_id());
    let you_gave = deps.trust.sources.iter().any(|s| {
        matches!(
            s.kind,
            crate::pki::sources::SourceKind::Custom | crate::pki::sources::SourceKind::Pin
        )
    });
    checks.extend(proxy_checks::intercept(
        route,
        &facts,
        accepted_by,
        you_gave,
    ));
    checks.extend(trust_checks);
    Judged {
        checks,
        certificates: facts,
        clients,
    }
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

/// What `preflight verify` judges: a chain from a file, offline.
pub struct OfflineInput<'a> {
    /// The file, as the user named it.
    pub label: String,
    pub chain: &'a [rustls::pki_types::CertificateDer<'static>],
    pub name: Option<String>,
    pub product: crate::target::Product,
    pub warn_days: i64,
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
            product: input.product,
            authority: None,
            warn_days: input.warn_days,
            alpn_h2: None,
            server_date: None,
            inspected_by: None,
        };
        let (trust_checks, advice) = trust::run(trust, &t);
        checks.extend(trust_checks);
        clients = advice;
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
