//! `dns.resolve`: every A and AAAA answer and the time taken, through an injectable resolver.

use std::net::IpAddr;
use std::time::Instant;

use crate::codes::Code;
use crate::config::CheckConfig;
use crate::duration::human;
use crate::net::dns::{DnsError, Resolver};
use crate::report::Check;
use crate::target::Host;

pub const ID: &str = "dns.resolve";

/// Runs the check. Returns the addresses in the order to try (as answered; IPv4 and IPv6 interleaved as
/// the resolver gave them).
pub async fn run(cfg: &CheckConfig, resolver: &dyn Resolver) -> (Check, Vec<IpAddr>) {
    lookup(&cfg.target.host, cfg.port, cfg, resolver).await
}

/// Resolves `host` (the target's, or the proxy's) for `port`, keeping only the `-4`/`-6` family.
pub async fn lookup(
    host: &Host,
    port: u16,
    cfg: &CheckConfig,
    resolver: &dyn Resolver,
) -> (Check, Vec<IpAddr>) {
    let (check, addrs) = answer(host, port, cfg, resolver).await;
    match cfg.family {
        Some(family) if check.status == crate::report::Status::Pass => {
            keep_family(check, addrs, family, host)
        }
        _ => (check, addrs),
    }
}

/// Drops the addresses `-4`/`-6` excludes; none left is a failure that says which family there is.
fn keep_family(
    check: Check,
    addrs: Vec<IpAddr>,
    family: crate::config::Family,
    host: &Host,
) -> (Check, Vec<IpAddr>) {
    use crate::config::Family;
    let (kept, dropped): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.into_iter().partition(|a| Family::of(a) == family);
    let list = |v: &[IpAddr]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if kept.is_empty() {
        let other = match family {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        };
        let fix = match (host, family) {
            (Host::Ip(_), _) => format!(
                "Drop {} (the address is {}), or give an {} address",
                family.flag(),
                other.name(),
                family.name()
            ),
            (Host::Name(n), Family::V6) => format!(
                "Drop -6 to use {}, or publish an AAAA record for {n}",
                other.name()
            ),
            (Host::Name(n), Family::V4) => format!(
                "Drop -4 to use {}, or publish an A record for {n}",
                other.name()
            ),
        };
        let failed = Check::fail(
            ID,
            Code::DnsNoAddressOfFamily,
            format!(
                "{host} has only {} addresses ({}); {} asks for {}",
                other.name(),
                list(&dropped),
                family.flag(),
                family.name()
            ),
            fix,
        );
        let failed = Check {
            facts: check.facts,
            elapsed_ms: check.elapsed_ms,
            ..failed
        };
        return (failed, Vec::new());
    }
    if dropped.is_empty() {
        return (check.with_fact("family", family.name()), kept);
    }
    let summary = format!(
        "{}; {} keeps {} ({} left out)",
        check.summary,
        family.flag(),
        list(&kept),
        list(&dropped)
    );
    let mut check = check.with_fact("family", family.name());
    check.summary = summary;
    (check, kept)
}

async fn answer(
    host: &Host,
    port: u16,
    cfg: &CheckConfig,
    resolver: &dyn Resolver,
) -> (Check, Vec<IpAddr>) {
    let name = match host {
        Host::Ip(ip) => {
            let check = Check::pass(ID, format!("{ip} is an address: no lookup needed"))
                .with_fact("addresses", vec![ip.to_string()])
                .with_fact("source", "literal");
            return (check, vec![*ip]);
        }
        Host::Name(n) => n.clone(),
    };
    if let Some(o) = cfg.resolve.iter().find(|o| o.matches(&name, port)) {
        let list: Vec<String> = o.addrs.iter().map(ToString::to_string).collect();
        let check = Check::pass(
            ID,
            format!(
                "{name} → {} (from --resolve; DNS not consulted)",
                list.join(", ")
            ),
        )
        .with_fact("addresses", list)
        .with_fact("source", "--resolve");
        return (check, o.addrs.clone());
    }
    let start = Instant::now();
    let outcome = match tokio::time::timeout(cfg.timeouts.dns, resolver.lookup(&name)).await {
        Ok(r) => r,
        Err(_) => Err(DnsError::Timeout),
    };
    let elapsed = start.elapsed();
    let source = resolver.describe();
    let check = lookup_check(&name, port, &outcome, (elapsed, cfg.timeouts.dns));
    let check = check.with_fact("source", source).with_elapsed(elapsed);
    (check, outcome.unwrap_or_default())
}

/// The lookup's answer, or its failure with the fix for that kind.
fn lookup_check(
    name: &str,
    port: u16,
    outcome: &Result<Vec<IpAddr>, DnsError>,
    (elapsed, deadline): (std::time::Duration, std::time::Duration),
) -> Check {
    let override_hint =
        format!("to test the server by address meanwhile: --resolve {name}:{port}:ADDRESS");
    match outcome {
        Ok(addrs) => {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let v4 = addrs.iter().filter(|a| a.is_ipv4()).count();
            let v6 = addrs.len() - v4;
            Check::pass(
                ID,
                format!("{name} → {} in {}", list.join(", "), human(elapsed)),
            )
            .with_fact("addresses", list)
            .with_fact("ipv4", v4)
            .with_fact("ipv6", v6)
        }
        Err(DnsError::NxDomain) => Check::fail(
            ID,
            Code::DnsNxdomain,
            format!("{name} does not exist in DNS (NXDOMAIN)"),
            format!(
                "Check the spelling and use the full name (`getent hosts {name}` shows what this machine resolves); {override_hint}"
            ),
        ),
        Err(DnsError::NoRecords) => Check::fail(
            ID,
            Code::DnsNoRecords,
            format!("{name} exists but has no A or AAAA record"),
            format!("Add an A or AAAA record for {name}; {override_hint}"),
        ),
        Err(DnsError::Timeout) => Check::fail(
            ID,
            Code::DnsTimeout,
            format!(
                "no DNS answer for {name} within {}",
                human(deadline)
            ),
            format!(
                "Check the nameservers in /etc/resolv.conf and that UDP/TCP 53 to them is open (`dig {name}`); {override_hint}"
            ),
        ),
        Err(DnsError::Other(why)) => Check::fail(
            ID,
            Code::DnsFailed,
            format!("the lookup of {name} failed: {why}"),
            format!("Check /etc/resolv.conf and try `dig {name}`; {override_hint}"),
        ),
    }
}
