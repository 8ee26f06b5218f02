//! `tcp.connect`: a TCP connection to every address at once, each under the connect deadline. Refused,
//! timed out (filtered) and unreachable are different findings with different fixes.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpStream;

use crate::duration::human;
use crate::net::tcp::{connect_one, Family, TcpError};
use crate::report::{Check, Status};

pub const ID: &str = "tcp.connect";

/// The outcome of connecting to every address.
pub struct Connected {
    pub check: Check,
    /// The first address (in resolver order) that connected, with its stream.
    pub stream: Option<(SocketAddr, TcpStream)>,
    /// The error most addresses gave, when none connected.
    pub error: Option<TcpError>,
}

fn sock(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

pub async fn run(addrs: &[IpAddr], port: u16, timeout: Duration) -> Connected {
    let start = Instant::now();
    let attempts = addrs.iter().map(|ip| connect_one(sock(*ip, port), timeout));
    let results = futures_util::future::join_all(attempts).await;

    let mut stream = None;
    let mut per_addr = Vec::new();
    let mut errors: Vec<(SocketAddr, TcpError)> = Vec::new();
    for (ip, (result, took)) in addrs.iter().zip(results) {
        let addr = sock(*ip, port);
        match result {
            Ok(s) => {
                per_addr.push(json!({"address": addr.to_string(), "family": Family::of(ip).name(), "result": "connected", "elapsed_ms": took.as_millis() as u64}));
                if stream.is_none() {
                    stream = Some((addr, s));
                }
            }
            Err(e) => {
                per_addr.push(json!({"address": addr.to_string(), "family": Family::of(ip).name(), "result": e.code().as_str(), "detail": e.describe(timeout), "elapsed_ms": took.as_millis() as u64}));
                errors.push((addr, e));
            }
        }
    }
    let elapsed = start.elapsed();
    let (check, error) = match &stream {
        Some((addr, _)) if errors.is_empty() => (all_connected(addrs, *addr, elapsed), None),
        Some((addr, _)) => (some_failed(*addr, &errors, timeout), None),
        None => {
            let (check, first_err) = none_connected(&errors, port, timeout);
            (check, Some(first_err))
        }
    };
    let check = match &stream {
        Some((addr, _)) => check.with_fact("family", Family::of(&addr.ip()).name()),
        None => check,
    };
    Connected {
        check: check.with_fact("attempts", per_addr).with_elapsed(elapsed),
        stream,
        error,
    }
}

/// Every address connected.
fn all_connected(addrs: &[IpAddr], addr: SocketAddr, elapsed: Duration) -> Check {
    let summary = if addrs.len() == 1 {
        format!("{addr} connected in {}", human(elapsed))
    } else if addrs.iter().any(|a| a.is_ipv4()) && addrs.iter().any(|a| a.is_ipv6()) {
        format!(
            "all {} addresses connected, IPv4 and IPv6; using {addr} ({})",
            addrs.len(),
            Family::of(&addr.ip()).name()
        )
    } else {
        format!("all {} addresses connected; using {addr}", addrs.len())
    };
    Check::pass(ID, summary)
}

/// One address connected, others did not: clients that try those first stall or fail.
fn some_failed(addr: SocketAddr, errors: &[(SocketAddr, TcpError)], timeout: Duration) -> Check {
    let failed: Vec<String> = errors
        .iter()
        .map(|(a, e)| format!("{a} {}", e.describe(timeout)))
        .collect();
    let (_, first_err) = &errors[0];
    let works = Family::of(&addr.ip());
    let all_failed_other = errors.iter().all(|(a, _)| Family::of(&a.ip()) != works);
    let families = if all_failed_other {
        format!(
            " ({} works, {} does not)",
            works.name(),
            Family::of(&errors[0].0.ip()).name()
        )
    } else {
        String::new()
    };
    let check = Check::new(
        ID,
        Status::Warn,
        first_err.code(),
        format!("{addr} connected, but {}{families}", failed.join("; ")),
    )
    .with_fix(format!(
        "Clients that try the failing address first stall or fail: make the service listen on {} too (or open the firewall for it), or remove that address from DNS or /etc/hosts",
        errors.iter().map(|(a, _)| a.ip().to_string()).collect::<Vec<_>>().join(", ")
    ));
    check
}

/// No address connected: the failure, and the fix for its kind.
fn none_connected(
    errors: &[(SocketAddr, TcpError)],
    port: u16,
    timeout: Duration,
) -> (Check, TcpError) {
    let (first_addr, first_err) = errors[0].clone();
    let summary = if errors.len() == 1 {
        format!("{first_addr}: {}", first_err.describe(timeout))
    } else {
        errors
            .iter()
            .map(|(a, e)| format!("{a}: {}", e.describe(timeout)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let fix = match &first_err {
        TcpError::Refused => format!("Nothing listens on port {port}: start the service, or use the port it listens on"),
        TcpError::Timeout => format!("Packets to port {port} are dropped: open TCP {port} in every firewall and security group between this machine and {}", first_addr.ip()),
        TcpError::Unreachable(_) => format!("This machine has no route to {}: check VPN, routing (`ip route get {}`) and the address family", first_addr.ip(), first_addr.ip()),
        TcpError::Other(_) => format!("Check the address {} and local socket limits", first_addr.ip()),
    };
    let check = Check::fail(ID, first_err.code(), summary, fix);
    (check, first_err)
}
