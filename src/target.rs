//! TARGET parsing (`host`, `host:port`, `[v6]:port`, address literals, `https://host:port/path`) and the
//! product profiles that give each product its ports.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A product the tool knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Arista CloudVision Portal, on-prem.
    Cvp,
    /// Arista CloudVision as a Service.
    Cvaas,
    /// Prisma Cloud Compute Console (formerly Twistlock).
    Prisma,
    /// Any TLS server.
    Generic,
    /// Recognise the product from its answers (Prisma's `_ping`, CloudVision's gRPC).
    Auto,
}

impl Product {
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Cvp => "cvp",
            Product::Cvaas => "cvaas",
            Product::Prisma => "prisma",
            Product::Generic => "generic",
            Product::Auto => "auto",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Product::Cvp => "CloudVision Portal (on-prem)",
            Product::Cvaas => "CloudVision as a Service",
            Product::Prisma => "Prisma Cloud Compute Console",
            Product::Generic => "generic TLS server",
            Product::Auto => "product to recognise",
        }
    }

    /// The port used when the target names none.
    pub fn default_port(self) -> u16 {
        match self {
            Product::Prisma => 8083,
            Product::Cvp | Product::Cvaas | Product::Generic | Product::Auto => 443,
        }
    }

    /// Every port the product is known to serve its API on, the default first.
    pub fn known_ports(self) -> &'static [u16] {
        match self {
            Product::Cvp => &[443, 8443],
            Product::Cvaas => &[443],
            Product::Prisma => &[8083, 443],
            Product::Generic | Product::Auto => &[443],
        }
    }

    /// Why the product would answer on `port`, for a fix that names another port.
    pub fn port_note(self, port: u16) -> Option<&'static str> {
        match (self, port) {
            (Product::Cvp, 443) => Some("CVP 2021.3 and later serve REST and gRPC on 443"),
            (Product::Cvp, 8443) => Some("CVP releases up to 2021.2 serve gRPC on 8443"),
            (Product::Prisma, 8083) => {
                Some("8083 is the Console's API port (set at install in twistlock.cfg)")
            }
            (Product::Prisma, 443) => {
                Some("a Console behind a load balancer or on SaaS answers on 443 (SaaS needs the tenant path)")
            }
            _ => None,
        }
    }
}

/// The host part of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// What a Prisma Cloud URL's host name is: a SaaS Compute Console (`REGION.cloud.twistlock.com`), the
/// Prisma Cloud (CSPM) API or app (`api*.prismacloud.io`, `app*.prismacloud.io`), or another name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrismaHost {
    SaasConsole,
    Cspm,
    Other,
}

/// A parsed TARGET. The port is `None` when the user gave none (the product decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub input: String,
    pub host: Host,
    pub port: Option<u16>,
    pub path: Option<String>,
}

/// Why a TARGET was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target `{input}`: {reason}")]
pub struct TargetError {
    pub input: String,
    pub reason: String,
}

impl Target {
    /// `host:port` as curl and openssl write it (`[v6]:port`).
    pub fn authority(&self, port: u16) -> String {
        match &self.host {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            host => format!("{host}:{port}"),
        }
    }

    /// What the host name says about a Prisma Cloud URL (products.md).
    pub fn prisma_host(&self) -> PrismaHost {
        let Host::Name(name) = &self.host else {
            return PrismaHost::Other;
        };
        let first = name.split('.').next().unwrap_or("");
        let cspm_domain = name.ends_with(".prismacloud.io") || name.ends_with(".prismacloud.cn");
        if cspm_domain && (first.starts_with("api") || first.starts_with("app")) {
            PrismaHost::Cspm
        } else if name.ends_with(".cloud.twistlock.com") {
            PrismaHost::SaasConsole
        } else {
            PrismaHost::Other
        }
    }

    /// The port when the target names none: 443 for a Prisma SaaS Console (SaaS has no `:8083`), else the
    /// product's default.
    pub fn default_port(&self, product: Product) -> u16 {
        match (product, self.prisma_host()) {
            (Product::Prisma, PrismaHost::SaasConsole) => 443,
            _ => product.default_port(),
        }
    }

    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let err = |reason: &str| TargetError {
            input: crate::secret::redact_url_credentials(input),
            reason: reason.to_string(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err(
                "it is empty; give a host name, an address, or https://host:port/path",
            ));
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(err("it contains white space"));
        }
        let mut rest = trimmed;
        if let Some(idx) = rest.find("://") {
            let scheme = &rest[..idx];
            if !scheme.eq_ignore_ascii_case("https") {
                return Err(err(&format!(
                    "the scheme `{scheme}://` is not supported; preflight checks TLS endpoints: use https:// or no scheme"
                )));
            }
            rest = &rest[idx + 3..];
        }
        // Split off the path (keep it: SaaS consoles live under a tenant path); drop query and fragment.
        let (authority, path) = match rest.find('/') {
            Some(idx) => (&rest[..idx], Some(&rest[idx..])),
            None => (rest, None),
        };
        let path = path
            .map(|p| {
                p.split(['?', '#'])
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('/')
            })
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        if authority.contains('@') {
            return Err(err(
                "credentials in the target are refused (they would show in reports and shell history); pass them with the authentication options",
            ));
        }
        if authority.is_empty() {
            return Err(err(if path.is_some() {
                "no host before the path"
            } else {
                "the host is empty after the scheme"
            }));
        }
        let (host_str, port_str) = split_host_port(authority).map_err(|r| err(&r))?;
        let host = parse_host(host_str).map_err(|r| err(&r))?;
        let port = match port_str {
            None => None,
            Some(p) => Some(parse_port(p).map_err(|r| err(&r))?),
        };
        Ok(Target {
            input: input.to_string(),
            host,
            port,
            path,
        })
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after) = authority.strip_prefix('[') {
        let close = after
            .find(']')
            .ok_or("`[` opens an IPv6 address but no `]` closes it")?;
        let host = &after[..close];
        let tail = &after[close + 1..];
        if tail.is_empty() {
            return Ok((host, None));
        }
        let port = tail
            .strip_prefix(':')
            .ok_or("after `]` only `:PORT` may follow")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{host}` in brackets is not an IPv6 address"));
        }
        return Ok((host, Some(port)));
    }
    match authority.matches(':').count() {
        0 => Ok((authority, None)),
        1 => {
            let (h, p) = authority.split_once(':').unwrap_or((authority, ""));
            Ok((h, Some(p)))
        }
        // Several colons and no brackets: a bare IPv6 address, which cannot carry a port.
        _ => {
            if authority.parse::<std::net::Ipv6Addr>().is_ok() {
                Ok((authority, None))
            } else {
                Err("it has several `:` but is not an IPv6 address; write an IPv6 address with a port as [ADDR]:PORT".to_string())
            }
        }
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("`:` is not followed by a port number".to_string());
    }
    if !p.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("the port `{p}` is not a number"));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("the port `{p}` is out of range (1-65535)")),
    }
}

fn parse_host(h: &str) -> Result<Host, String> {
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.is_empty() {
        return Err("the host is empty".to_string());
    }
    if name.len() > 253 {
        return Err("the host name is longer than 253 characters".to_string());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("the host name `{h}` has an empty label (`..`)"));
        }
        if label.len() > 63 {
            return Err(format!("the label `{label}` is longer than 63 characters"));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "the host name `{h}` contains `{bad}`; only letters, digits, `-` and `.` are allowed (write international names in punycode, xn--...)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the label `{label}` starts or ends with `-`"));
        }
    }
    if name
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "`{h}` looks like an IPv4 address but is not a valid one"
        ));
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (Host, Option<u16>, Option<String>) {
        let t = Target::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (t.host, t.port, t.path)
    }

    fn name(n: &str) -> Host {
        Host::Name(n.to_string())
    }

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().expect("ip"))
    }

    #[test]
    fn good_targets() {
        let cases: &[(&str, Host, Option<u16>, Option<&str>)] = &[
            ("cvp1.example.com", name("cvp1.example.com"), None, None),
            ("CVP1.Example.COM.", name("cvp1.example.com"), None, None),
            (
                "cvp1.example.com:8443",
                name("cvp1.example.com"),
                Some(8443),
                None,
            ),
            ("localhost", name("localhost"), None, None),
            ("10.0.0.5", ip("10.0.0.5"), None, None),
            ("10.0.0.5:8083", ip("10.0.0.5"), Some(8083), None),
            ("::1", ip("::1"), None, None),
            ("fd00::5", ip("fd00::5"), None, None),
            ("[::1]", ip("::1"), None, None),
            ("[fd00::5]:8443", ip("fd00::5"), Some(8443), None),
            (
                "https://console.example.com:8083",
                name("console.example.com"),
                Some(8083),
                None,
            ),
            (
                "https://console.example.com/",
                name("console.example.com"),
                None,
                None,
            ),
            (
                "https://us-east1.cloud.twistlock.com/us-1-123456789",
                name("us-east1.cloud.twistlock.com"),
                None,
                Some("/us-1-123456789"),
            ),
            (
                "HTTPS://[::1]:9443/tenant/x/?q=1#f",
                ip("::1"),
                Some(9443),
                Some("/tenant/x"),
            ),
            (
                "host_with_underscore.local:1",
                name("host_with_underscore.local"),
                Some(1),
                None,
            ),
            ("h:65535", name("h"), Some(65535), None),
        ];
        for (input, host, port, path) in cases {
            let got = ok(input);
            assert_eq!(
                got,
                (host.clone(), *port, path.map(str::to_string)),
                "{input}"
            );
        }
    }

    #[test]
    fn bad_targets_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("host:", "not followed by a port"),
            ("host:abc", "not a number"),
            ("host:0", "out of range"),
            ("host:65536", "out of range"),
            ("host:99999999999", "out of range"),
            ("[::1", "no `]` closes"),
            ("[::1]x", "only `:PORT`"),
            ("[nothost]:443", "not an IPv6 address"),
            ("a:b:c", "several `:`"),
            ("ftp://host", "scheme `ftp://`"),
            ("http://host", "scheme `http://`"),
            ("https://", "empty"),
            ("https:///path", "no host"),
            ("https://user:secret@host", "credentials"),
            ("bad host", "white space"),
            ("exa mple", "white space"),
            ("ex!ample.com", "contains `!`"),
            ("a..b", "empty label"),
            ("-a.com", "starts or ends with `-`"),
            ("999.1.1.1", "not a valid one"),
            ("1.2.3", "not a valid one"),
            ("héllo.com", "punycode"),
        ];
        for (input, want) in cases {
            let e = Target::parse(input).expect_err(input);
            assert!(
                e.to_string().contains(want),
                "{input:?}: got `{e}`, want it to mention `{want}`"
            );
        }
        let e = Target::parse("https://admin:hunter2@cvp/x").expect_err("userinfo");
        assert_eq!(e.input, "https://***@cvp/x");
        assert!(!e.to_string().contains("hunter2"));
        let long = format!("{}.com", "a".repeat(64));
        assert!(Target::parse(&long)
            .expect_err("long")
            .reason
            .contains("63"));
    }

    #[test]
    fn authority_brackets_v6() {
        let t = Target::parse("fd00::5").expect("parse");
        assert_eq!(t.authority(443), "[fd00::5]:443");
        let t = Target::parse("cvp").expect("parse");
        assert_eq!(t.authority(443), "cvp:443");
    }

    #[test]
    fn prisma_hosts_and_their_ports() {
        for (input, host, port) in [
            ("api.prismacloud.io", PrismaHost::Cspm, 8083),
            ("https://api2.eu.prismacloud.io/", PrismaHost::Cspm, 8083),
            ("app3.prismacloud.io", PrismaHost::Cspm, 8083),
            ("api.prismacloud.cn", PrismaHost::Cspm, 8083),
            (
                "https://us-east1.cloud.twistlock.com/us-1-123456789",
                PrismaHost::SaasConsole,
                443,
            ),
            ("console.example.com", PrismaHost::Other, 8083),
            ("docs.prismacloud.io", PrismaHost::Other, 8083),
            ("10.0.0.5", PrismaHost::Other, 8083),
        ] {
            let t = Target::parse(input).expect("parse");
            assert_eq!(t.prisma_host(), host, "{input}");
            assert_eq!(t.default_port(Product::Prisma), port, "{input}");
            assert_eq!(t.default_port(Product::Cvp), 443, "{input}");
        }
    }
}
