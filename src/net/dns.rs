//! Name resolution through an injectable resolver: the system one (hickory with `/etc/resolv.conf` and
//! `/etc/hosts`, A and AAAA at once) and fixed answers for tests and bundle replays. `checks::resolve`
//! writes the `dns.resolve` check.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

/// Why a lookup found no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    NxDomain,
    NoRecords,
    Timeout,
    /// Anything else, in words.
    Other(String),
}

pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, DnsError>> + Send + 'a>>;

/// A name resolver. The system one uses hickory; tests inject their own.
pub trait Resolver: Send + Sync {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a>;
    /// Where answers come from, for the report (`/etc/resolv.conf: 10.0.0.2`).
    fn describe(&self) -> String;
}

/// hickory with the system configuration (`/etc/resolv.conf`, `/etc/hosts`), asking A and AAAA at once.
pub struct SystemResolver {
    inner: TokioResolver,
    description: String,
}

impl SystemResolver {
    /// Reads the system configuration; without one, only `/etc/hosts` can answer.
    pub fn new(timeout: Duration) -> SystemResolver {
        let (config, mut opts, description) =
            match hickory_resolver::system_conf::read_system_conf() {
                Ok((config, opts)) => {
                    let servers: Vec<String> = config
                        .name_servers()
                        .iter()
                        .map(|ns| ns.socket_addr.ip().to_string())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    (
                        config,
                        opts,
                        format!("system resolver ({})", servers.join(", ")),
                    )
                }
                Err(e) => (
                    ResolverConfig::new(),
                    Default::default(),
                    format!(
                        "/etc/hosts only: the system resolver configuration is unreadable ({e})"
                    ),
                ),
            };
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = timeout;
        opts.attempts = 1;
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        *builder.options_mut() = opts;
        SystemResolver {
            inner: builder.build(),
            description,
        }
    }
}

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            match self.inner.lookup_ip(host).await {
                Ok(answer) => {
                    let addrs: Vec<IpAddr> = answer.iter().collect();
                    if addrs.is_empty() {
                        Err(DnsError::NoRecords)
                    } else {
                        Ok(addrs)
                    }
                }
                Err(e) if e.is_nx_domain() => Err(DnsError::NxDomain),
                Err(e) if e.is_no_records_found() => Err(DnsError::NoRecords),
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("timed out") || text.contains("timeout") {
                        Err(DnsError::Timeout)
                    } else {
                        Err(DnsError::Other(text))
                    }
                }
            }
        })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// A resolver with fixed answers, for tests and for replaying a support bundle.
pub struct StaticResolver {
    pub answers: Vec<(String, Result<Vec<IpAddr>, DnsError>)>,
}

impl Resolver for StaticResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        let found = self
            .answers
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, r)| r.clone())
            .unwrap_or(Err(DnsError::NxDomain));
        Box::pin(async move {
            if found == Err(DnsError::Timeout) {
                // Behave like a resolver that never answers: the check's own deadline must fire.
                std::future::pending::<()>().await;
            }
            found
        })
    }

    fn describe(&self) -> String {
        "static answers".to_string()
    }
}
