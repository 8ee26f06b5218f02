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
    /// Enumerate what the server offers (`--offer`): versions, suites, groups (`tls.offer`).
    pub offer: bool,
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
    /// `--revocation`: ask the OCSP responder and fetch the CRL the server's certificate names.
    pub revocation: bool,
    /// `--require-store`: default stores that fail (not inform) when a chosen source accepts the chain.
    pub required_stores: Vec<crate::pki::sources::SourceKind>,
    /// `--project NAME`: the Prisma Cloud Compute project every Prisma call names (`?project=NAME`).
    pub project: Option<String>,
}

/// A value as a POSIX shell reads it back: bare when it is only safe characters, else single-quoted.
fn shell_word(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._:/,@=+-[]%".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// A deadline as `--timeout` reads it back: `2s`, `1500ms`.
fn duration_word(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl CheckConfig {
    /// The options a suggested command must keep to reach the same server the same way: `--resolve`,
    /// `--sni`, a `--proxy`/`--noproxy` typed (not one from the environment, which the shell still has;
    /// a proxy account as `USER:PASSWORD`, never its value), `-4`/`-6`, the other ports, the deadlines and
    /// `--at`, each quoted for a shell. Empty, or starting with a space.
    pub fn connection_flags(&self) -> String {
        self.flags(true)
    }

    /// [`CheckConfig::connection_flags`], `--at` and `--revocation` only when `with_at` (`chain` judges
    /// nothing).
    fn flags(&self, with_at: bool) -> String {
        let mut flags = self.route_flags();
        if let Some(sni) = &self.sni {
            flags.insert(self.resolve.len(), format!("--sni {}", shell_word(sni)));
        }
        match self.family {
            Some(Family::V4) => flags.push("-4".into()),
            Some(Family::V6) => flags.push("-6".into()),
            None => {}
        }
        let defaults: Vec<u16> = (self.product.known_ports().iter())
            .copied()
            .filter(|p| *p != self.port)
            .collect();
        if self.alt_ports_chosen {
            let ports: Vec<String> = self.alt_ports.iter().map(u16::to_string).collect();
            flags.push(format!("--alt-ports {}", ports.join(",")));
        } else if self.alt_ports.is_empty() && !defaults.is_empty() {
            flags.push("--no-alt-ports".into());
        }
        let d = Timeouts::default();
        for (flag, value, default) in [
            ("--dns-timeout", self.timeouts.dns, d.dns),
            ("--connect-timeout", self.timeouts.connect, d.connect),
            ("--tls-timeout", self.timeouts.tls, d.tls),
        ] {
            if value != default {
                flags.push(format!("{flag} {}", duration_word(value)));
            }
        }
        let t = &self.timeouts;
        if t.max_time != Timeouts::with_phases(t.dns, t.connect, t.tls).max_time {
            flags.push(format!(
                "--max-time {}",
                duration_word(self.timeouts.max_time)
            ));
        }
        if let Some(at) = self.at.filter(|_| with_at) {
            flags.push(format!("--at {}", crate::duration::rfc3339(at)));
        }
        // What the check judged besides the connection, so the same verdict comes back.
        if with_at && self.revocation {
            flags.push("--revocation".into());
        }
        flags.iter().map(|f| format!(" {f}")).collect()
    }

    /// `--resolve`, a typed `--proxy` and `--noproxy`: the options curl shares with preflight.
    fn route_flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = Vec::new();
        for r in &self.resolve {
            let addrs: Vec<String> = r
                .addrs
                .iter()
                .map(|a| match a {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                })
                .collect();
            let port = r.port.map_or("*".to_string(), |p| p.to_string());
            flags.push(format!(
                "--resolve {}",
                shell_word(&format!("{}:{port}:{}", r.host, addrs.join(",")))
            ));
        }
        if let Some(p) = self.proxy.proxy.as_ref().filter(|p| p.source == "--proxy") {
            let url = match &p.authorization {
                Some(_) => p.shown.replacen("://", "://USER:PASSWORD@", 1),
                None => p.shown.clone(),
            };
            flags.push(format!("--proxy {}", shell_word(&url)));
        }
        if self.proxy.no_proxy_source.as_deref() == Some("--noproxy") {
            flags.push(format!("--noproxy {}", shell_word(&self.proxy.no_proxy)));
        }
        flags
    }

    /// The options curl takes as preflight does, for the curl line of "which clients will work":
    /// `--resolve`, a typed `--proxy` and `--noproxy`, `-4`/`-6`.
    pub fn curl_flags(&self) -> String {
        let mut flags = self.route_flags();
        match self.family {
            Some(Family::V4) => flags.push("-4".into()),
            Some(Family::V6) => flags.push("-6".into()),
            None => {}
        }
        flags.iter().map(|f| format!(" {f}")).collect()
    }

    /// The target as typed again: `host:port`, or the URL when it has a path (a Prisma SaaS tenant).
    pub fn target_again(&self) -> String {
        let authority = self.target.authority(self.port);
        match &self.target.path {
            Some(path) => format!("https://{authority}{path}"),
            None => authority,
        }
    }

    /// `preflight check TARGET --product P` with the connection options: what a fix tells the user to run.
    pub fn check_again(&self) -> String {
        format!(
            "preflight check {} --product {}{}",
            shell_word(&self.target_again()),
            self.product.as_str(),
            self.connection_flags()
        )
    }

    /// `preflight chain HOST:PORT` with the connection options.
    pub fn chain_again(&self) -> String {
        format!(
            "preflight chain {}{}",
            shell_word(&self.target.authority(self.port)),
            self.flags(false)
        )
    }

    /// A configuration with the product's defaults for everything the user did not say.
    pub fn new(target: Target, product: Product) -> CheckConfig {
        let port = target.port.unwrap_or(target.default_port(product));
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
            offer: false,
            timeouts: Timeouts::default(),
            at: None,
            warn_days: 30,
            credentials: Default::default(),
            family: None,
            proxy: Default::default(),
            revocation: false,
            required_stores: Vec::new(),
            project: None,
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
    fn suggested_commands_keep_every_connection_option_quoted() {
        let target = Target::parse("https://console.example.com:8083/tenant-1").expect("target");
        let mut cfg = CheckConfig::new(target, Product::Prisma);
        cfg.resolve = vec![ResolveOverride::parse("console.example.com:8083:[::1]").expect("r")];
        cfg.sni = Some("other.example.com".into());
        cfg.family = Some(Family::V6);
        cfg.alt_ports.clear();
        cfg.timeouts = Timeouts::with_phases(
            Duration::from_secs(5),
            Duration::from_millis(1500),
            Duration::from_secs(10),
        );
        assert_eq!(
            cfg.check_again(),
            "preflight check https://console.example.com:8083/tenant-1 --product prisma --resolve console.example.com:8083:[::1] --sni other.example.com -6 --no-alt-ports --connect-timeout 1500ms"
        );
        assert_eq!(
            cfg.chain_again(),
            "preflight chain console.example.com:8083 --resolve console.example.com:8083:[::1] --sni other.example.com -6 --no-alt-ports --connect-timeout 1500ms"
        );
        assert_eq!(
            cfg.curl_flags(),
            " --resolve console.example.com:8083:[::1] -6"
        );
        assert_eq!(shell_word("a b'c"), "'a b'\\''c'");
    }

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
