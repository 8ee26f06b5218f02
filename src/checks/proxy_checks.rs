//! What a proxy adds to a report: `proxy.connect` (the CONNECT tunnel: 407, 403, 502 are findings of their
//! own), the proxy named in the TCP check, and `proxy.intercept`: a chain that a TLS-inspecting proxy or
//! firewall made, not the server.

use crate::codes::Code;
use crate::config::CheckConfig;
use crate::net::proxy::{Proxy, TunnelError};
use crate::net::route::Route;
use crate::pki::facts::CertFacts;
use crate::report::{Check, Status};

pub const CONNECT_ID: &str = "proxy.connect";
pub const INTERCEPT_ID: &str = "proxy.intercept";

fn bypass(host: &str) -> String {
    format!("--noproxy {host} (or NO_PROXY={host})")
}

/// `tcp.connect` to the proxy: the summary and the fix name the proxy, not the server.
pub fn tcp_to_proxy(mut check: Check, proxy: &Proxy, host: &str) -> Check {
    // `127.0.0.1:3128 connected in 1 ms` → `proxy http://127.0.0.1:3128 (from HTTPS_PROXY) connected in 1 ms`.
    check.summary = match check.summary.strip_prefix(&proxy.authority()) {
        Some(rest) => format!("proxy {}{rest}", proxy.describe()),
        None => format!("proxy {}: {}", proxy.describe(), check.summary),
    };
    if check.status == Status::Fail {
        check.fix = Some(format!(
            "The proxy does not take connections: check the proxy URL in {} ({}), or connect without it: {}",
            proxy.source,
            proxy.shown,
            bypass(host)
        ));
    }
    check
}

/// A direct connection that failed while only `HTTP_PROXY` is set: the proxy may be what was meant.
pub fn unused_hint(mut check: Check, var: &str) -> Check {
    let hint = format!(
        "{var} is set but applies to http:// URLs only, so this https connection went direct (as curl's and Python requests' would); if https must go through that proxy, set HTTPS_PROXY too (`export HTTPS_PROXY=${var}`)"
    );
    check.fix = Some(match check.fix.take() {
        Some(f) => format!("{f}. {hint}"),
        None => hint,
    });
    check.with_fact("proxy_not_used", var)
}

/// `proxy.connect` failed: what the proxy said, and what to do about it.
pub fn tunnel_failed(
    e: &TunnelError,
    route: &Route,
    cfg: &CheckConfig,
    answers: &[(u16, super::ports::PortAnswer)],
) -> Check {
    let Some(proxy) = route.proxy() else {
        return Check::fail(CONNECT_ID, e.code(), e.describe(), "Retry with -v");
    };
    let to = route.authority();
    let host = &route.host;
    let (summary, fix) = match e {
        TunnelError::AuthRequired { offered, sent } => auth_required(e, proxy, (&to, host), offered, *sent),
        TunnelError::Refused { .. } => (
            format!("{} refuses to open a tunnel to {to}: {}", proxy.describe(), e.describe()),
            format!(
                "The proxy's policy forbids {to} (many proxies allow CONNECT to port 443 only): ask its owners to allow it, or reach {host} without the proxy: {}",
                bypass(host)
            ),
        ),
        TunnelError::Upstream { .. } => (
            format!("{} could not reach {to}: {}", proxy.describe(), e.describe()),
            format!(
                "The proxy cannot resolve or connect to {to}: check that the name resolves on the proxy's network and that the firewall between the proxy and the server allows the port; or, if {host} is internal, reach it without the proxy: {}",
                bypass(host)
            ),
        ),
        TunnelError::Timeout => (
            format!(
                "{} did not answer CONNECT {to} within {}",
                proxy.describe(),
                crate::duration::human(cfg.timeouts.connect)
            ),
            format!(
                "The proxy is still trying to reach {to} (a firewall may drop it there): retry with a longer --connect-timeout, or reach {host} without the proxy: {}",
                bypass(host)
            ),
        ),
        TunnelError::Unexpected { .. } | TunnelError::NotHttp(_) => (
            format!("{}: CONNECT {to} failed: {}", proxy.describe(), e.describe()),
            format!(
                "Check that {} is an HTTP proxy's address and port (http://HOST:PORT; HTTPS and SOCKS proxies are not supported), or reach {host} without it: {}",
                proxy.shown,
                bypass(host)
            ),
        ),
    };
    let mut check = Check::fail(CONNECT_ID, e.code(), summary, fix)
        .with_fact("proxy", proxy.shown.clone())
        .with_fact("source", proxy.source.clone());
    if !answers.is_empty() {
        check = with_other_ports(check, host, cfg, answers);
    }
    check
}

/// HTTP 407: which scheme the proxy wants, and whether the credentials sent were refused.
fn auth_required(
    e: &TunnelError,
    proxy: &Proxy,
    (to, host): (&str, &str),
    offered: &[String],
    sent: bool,
) -> (String, String) {
    let basic = offered.iter().any(|s| s.eq_ignore_ascii_case("basic"));
    let summary = format!(
        "{} wants authentication to open a tunnel to {to}: {}",
        proxy.describe(),
        e.describe()
    );
    let fix = if !basic && !offered.is_empty() {
        format!(
            "The proxy accepts only {} (Kerberos/NTLM), which preflight does not speak: ask for a proxy account that may use Basic, or for {host} to be reachable without the proxy ({})",
            offered.join(", "),
            bypass(host)
        )
    } else if sent {
        format!(
            "The proxy refused the user and password in {}: check them (percent-encode `@`, `:` and `%` in the URL: http://USER:PASS%40WORD@{})",
            proxy.source,
            proxy.authority()
        )
    } else {
        format!(
            "Give the proxy account in the proxy URL, in the environment: export HTTPS_PROXY='http://USER:PASSWORD@{}' (percent-encode `@`, `:` and `%` in the password); preflight never shows it",
            proxy.authority()
        )
    };
    (summary, fix)
}

/// What the other ports answered through the proxy; one that answers TLS goes into the fix.
fn with_other_ports(
    mut check: Check,
    host: &str,
    cfg: &CheckConfig,
    answers: &[(u16, super::ports::PortAnswer)],
) -> Check {
    check = check.with_fact("other_ports", super::ports::facts(answers, cfg.timeouts));
    let through: Vec<u16> = answers
        .iter()
        .filter(|(_, a)| matches!(a, super::ports::PortAnswer::Tls(_)))
        .map(|(p, _)| *p)
        .collect();
    if let (Some(port), Some(fix)) = (through.first(), check.fix.as_mut()) {
        check.summary = format!(
            "{}; through the proxy, port {port} answers TLS",
            check.summary
        );
        *fix = format!(
            "{fix}. Through this proxy, {host}:{port} works: if the service is there too, use that port"
        );
    }
    check
}

/// Words in the name of a CA that makes certificates for TLS inspection: products and generic terms.
const INSPECTION_WORDS: &[&str] = &[
    "zscaler",
    "netskope",
    "fortinet",
    "fortigate",
    "palo alto",
    "paloalto",
    "blue coat",
    "bluecoat",
    "forcepoint",
    "websense",
    "sophos",
    "mcafee web gateway",
    "skyhigh",
    "umbrella",
    "check point",
    "checkpoint",
    "barracuda",
    "iboss",
    "menlo security",
    "cato networks",
    "squid",
    "mitmproxy",
    "charles proxy",
    "fiddler",
    "portswigger",
    "burp",
    "ssl inspection",
    "tls inspection",
    "ssl-inspection",
    "inspection ca",
    "inspection",
    "intercept",
    "decrypt",
    "ssl proxy",
    "proxy ca",
];

/// The inspection word in a distinguished name, if any.
fn inspection_word(dn: &str) -> Option<&'static str> {
    let lower = dn.to_ascii_lowercase();
    INSPECTION_WORDS.iter().copied().find(|w| lower.contains(w))
}

/// The file name fixes and client advice give the inspection CA.
pub const INSPECTION_CA_FILE: &str = "corp-inspection-ca.pem";

/// The inspection CA that made this chain, when its name gives it away: the leaf's issuer or a CA sent
/// with it, and the word that matched.
pub fn inspection_issuer(facts: &[CertFacts]) -> Option<(String, &'static str)> {
    let leaf = facts.first()?;
    std::iter::once(&leaf.issuer)
        .chain(facts.iter().skip(1).map(|f| &f.subject))
        .find_map(|dn| inspection_word(dn).map(|w| (dn.clone(), w)))
}

/// `proxy.intercept`: the chain was made by a TLS-inspecting proxy or firewall. Named when an issuer on the
/// chain is an inspection product's CA (with or without a configured proxy: inspection can be
/// transparent), or when a chain that came through a proxy matches none of the CAs or pins you gave.
pub fn intercept(
    route: &Route,
    facts: &[CertFacts],
    accepted_by: Option<&str>,
    you_gave_trust: bool,
) -> Option<Check> {
    let leaf = facts.first()?;
    let host = &route.host;
    let through = match route.proxy() {
        Some(p) => format!("the proxy {}", p.describe()),
        None => "a TLS-inspecting device on the path (a transparent proxy or firewall)".to_string(),
    };
    let named = inspection_issuer(facts);
    let trust_it = format!(
        "Get the inspection CA from your IT team (managed machines often have it in the system store) and trust it: --ca {INSPECTION_CA_FILE} here, and REQUESTS_CA_BUNDLE / GRPC_DEFAULT_SSL_ROOTS_FILE_PATH in scripts; or reach {host} without inspection: {}, or ask for an inspection exemption for {host}",
        bypass(host)
    );
    match (named, accepted_by) {
        (Some((dn, word)), Some(source)) => Some(
            Check::new(
                INTERCEPT_ID,
                Status::Warn,
                Code::ProxyIntercepting,
                format!("{through} decrypts this connection: the chain was issued by `{dn}` (a TLS-inspection CA), and {source} trusts it"),
            )
            .with_fix(format!(
                "Expected where TLS is inspected, but the inspecting proxy sees every request, passwords and tokens included, and clients that pin the server's certificate will fail. To judge the server's own certificate, reach {host} without inspection: {}",
                bypass(host)
            ))
            .with_fact("issuer", dn)
            .with_fact("matched", word),
        ),
        (Some((dn, word)), None) => Some(
            Check::fail(
                INTERCEPT_ID,
                Code::ProxyIntercepting,
                format!("{through} replaced the server's certificate: the chain was issued by `{dn}` (a TLS-inspection CA), so the server's own certificate never reached this machine"),
                trust_it,
            )
            .with_fact("issuer", dn)
            .with_fact("matched", word),
        ),
        (None, None) if route.proxy().is_some() && you_gave_trust && !leaf.self_signed => Some(
            Check::new(
                INTERCEPT_ID,
                Status::Warn,
                Code::ProxyIntercepting,
                format!("the chain that came through {through} matches none of the CAs or pins you gave: its issuer is `{}`; if that is your company's proxy CA, the proxy inspects TLS", leaf.issuer),
            )
            .with_fix(format!(
                "Compare with the server's certificate seen without the proxy ({}); if the proxy inspects TLS: {trust_it}",
                bypass(host)
            ))
            .with_fact("issuer", leaf.issuer.clone()),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspection_names() {
        assert_eq!(
            inspection_word("CN=Zscaler Intermediate Root CA, O=Zscaler Inc."),
            Some("zscaler")
        );
        assert_eq!(
            inspection_word("CN=preflight lab TLS Inspection CA"),
            Some("tls inspection")
        );
        assert_eq!(inspection_word("CN=Twistlock, O=Twistlock"), None);
        assert_eq!(inspection_word("CN=R11, O=Let's Encrypt, C=US"), None);
        assert_eq!(
            inspection_word("CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1"),
            None
        );
    }
}
