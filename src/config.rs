//! The validated run configuration (stage 2): what the pipeline needs, checked and typed. `cli` builds it.

use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;

use crate::target::{Product, Target};

/// Per-phase deadlines, and the budget of the whole check on top of them (`--max-time`). Every network phase
/// has one: a hostile server cannot hang a run, and many slow phases cannot add up past `max_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub dns: Duration,
    pub connect: Duration,
    pub tls: Duration,
    /// The whole check of one target (each target of a scan), every phase and request included.
    pub max_time: Duration,
}

impl Timeouts {
    /// The budget when `--max-time` is not given.
    pub const MAX_TIME: Duration = Duration::from_secs(30);

    /// Phase deadlines with the default budget: [`Timeouts::MAX_TIME`], or DNS + TCP + TLS when those are
    /// longer together, so a phase deadline the user raised is never cut short by a budget they did not set.
    pub fn with_phases(dns: Duration, connect: Duration, tls: Duration) -> Timeouts {
        Timeouts {
            dns,
            connect,
            tls,
            max_time: Self::MAX_TIME.max(dns + connect + tls),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::with_phases(
            Duration::from_secs(5),
            Duration::from_secs(5),
            Duration::from_secs(10),
        )
    }
}

/// A `--resolve` value that cannot be used: the value, why, and the form to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--resolve `{input}`: {why}; write HOST:PORT:ADDR, like cvp.example.com:443:10.0.0.5")]
pub struct ResolveError {
    pub input: String,
    pub why: String,
}

/// `--resolve HOST:PORT:ADDR[,ADDR...]`, as curl takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    pub host: String,
    /// `None` for curl's `*` (any port).
    pub port: Option<u16>,
    pub addrs: Vec<IpAddr>,
}

impl ResolveOverride {
    pub fn parse(s: &str) -> Result<ResolveOverride, ResolveError> {
        let bad = |why: &str| ResolveError {
            input: s.to_string(),
            why: why.to_string(),
        };
        let (host, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("no `:` after the host"))?;
        let (port, addrs) = rest
            .split_once(':')
            .ok_or_else(|| bad("no `:` between the port and the address"))?;
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port = if port == "*" {
            None
        } else {
            Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(&format!("`{port}` is not a port")))?,
            )
        };
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                let a = a
                    .strip_prefix('[')
                    .and_then(|x| x.strip_suffix(']'))
                    .unwrap_or(a);
                a.parse::<IpAddr>()
                    .map_err(|_| bad(&format!("`{a}` is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResolveOverride {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            addrs,
        })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

pub use crate::net::tcp::Family;

/// Everything one `check` of one target needs.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub target: Target,
    pub product: Product,
    /// The port to check: the target's, or the product's default.
    pub port: u16,
    pub resolve: Vec<ResolveOverride>,
    /// Server name to send in SNI instead of the target host.
    pub sni: Option<String>,
    /// Ports to probe when `port` does not answer (the product's other known ports unless overridden).
    pub alt_ports: Vec<u16>,
    /// The user named the other ports (`--alt-ports`): probe them even next to an unusual port.
    pub alt_ports_chosen: bool,
    pub timeouts: Timeouts,
    /// Judge certificate dates at this time instead of now.
    pub at: Option<OffsetDateTime>,
    /// Warn when a certificate on the path expires within this many days.
    pub warn_days: i64,
    /// What to log in with (nothing by default).
    pub credentials: crate::credentials::Credentials,
    /// `-4` / `-6`: only addresses of this family.
    pub family: Option<Family>,
    /// The HTTP proxy and its bypass list.
    pub proxy: crate::net::proxy::ProxySettings,
}

impl CheckConfig {
    /// A configuration with the product's defaults for everything the user did not say.
    pub fn new(target: Target, product: Product) -> CheckConfig {
        let port = target.port.unwrap_or(product.default_port());
        let alt_ports = product
            .known_ports()
            .iter()
            .copied()
            .filter(|p| *p != port)
            .collect();
        CheckConfig {
            target,
            product,
            port,
            resolve: Vec::new(),
            sni: None,
            alt_ports,
            alt_ports_chosen: false,
            timeouts: Timeouts::default(),
            at: None,
            warn_days: 30,
            credentials: Default::default(),
            family: None,
            proxy: Default::default(),
        }
    }

    /// Every secret this configuration holds (credentials, proxy credentials), for the run's redactor.
    pub fn secret_values(&self) -> Vec<String> {
        let mut v = self.credentials.secret_values();
        v.extend(self.proxy.secret_values());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_override_forms() {
        let r = ResolveOverride::parse("Console.Example.com:8083:127.0.0.1").expect("parse");
        assert_eq!(r.host, "console.example.com");
        assert_eq!(r.port, Some(8083));
        assert_eq!(r.addrs, vec!["127.0.0.1".parse::<IpAddr>().expect("ip")]);
        assert!(r.matches("console.example.com", 8083));
        assert!(!r.matches("console.example.com", 443));

        let r = ResolveOverride::parse("cvp:*:[::1],10.0.0.5").expect("parse");
        assert_eq!(r.port, None);
        assert_eq!(r.addrs.len(), 2);
        assert!(r.matches("cvp", 1));

        for (bad, want) in [
            ("cvp", "no `:` after"),
            ("cvp:443", "no `:` between"),
            (":443:1.2.3.4", "host is empty"),
            ("cvp:x:1.2.3.4", "not a port"),
            ("cvp:0:1.2.3.4", "not a port"),
            ("cvp:443:nope", "not an IP"),
        ] {
            let e = ResolveOverride::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn default_budget_covers_the_phases() {
        let d = Timeouts::default();
        assert_eq!(d.max_time, Duration::from_secs(30));
        let s = Duration::from_secs;
        assert_eq!(Timeouts::with_phases(s(2), s(2), s(2)).max_time, s(30));
        assert_eq!(Timeouts::with_phases(s(60), s(60), s(60)).max_time, s(180));
        assert_eq!(Timeouts::with_phases(s(5), s(5), s(40)).max_time, s(50));
    }

    #[test]
    fn product_decides_port_and_alternates() {
        let t = Target::parse("cvp1").expect("parse");
        let c = CheckConfig::new(t, Product::Cvp);
        assert_eq!((c.port, c.alt_ports.clone()), (443, vec![8443]));
        let t = Target::parse("cvp1:8443").expect("parse");
        let c = CheckConfig::new(t, Product::Cvp);
        assert_eq!((c.port, c.alt_ports.clone()), (8443, vec![443]));
        let t = Target::parse("10.0.0.5").expect("parse");
        let c = CheckConfig::new(t, Product::Prisma);
        assert_eq!((c.port, c.alt_ports), (8083, vec![443]));
    }
}
