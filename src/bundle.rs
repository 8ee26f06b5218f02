//! The support bundle: one `.tar.gz` a customer attaches to a ticket. The report in every format, the chain
//! as sent, the environment that shaped the run, timings, and a README, with every secret removed.

use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::net::proxy::PROXY_VARS;
use crate::report::Report;

/// The environment the run happened in, as far as it shapes a TLS connection.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub preflight_version: String,
    pub os: String,
    /// `/etc/resolv.conf` lines that matter (nameserver, search, options), comments dropped.
    pub resolver: Vec<String>,
    /// `/etc/hosts` lines that mention the target's host.
    pub hosts_lines: Vec<String>,
    /// Proxy variables, with any credentials replaced by `***`.
    pub proxy: Vec<(String, String)>,
    pub ssl_cert_file: Option<String>,
    pub ssl_cert_dir: Option<String>,
    /// This machine's clock when the report was made (RFC 3339).
    pub local_clock: String,
    /// The server's clock and the offset, when a trust check read it.
    pub server_clock: Option<String>,
    pub clock_offset_seconds: Option<i64>,
}

impl Environment {
    /// Reads what the run's environment was. (This is I/O: the app calls it, never a renderer.)
    pub fn collect(report: &Report, local_clock: &str) -> Environment {
        let resolver = std::fs::read_to_string("/etc/resolv.conf")
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| {
                        l.starts_with("nameserver")
                            || l.starts_with("search")
                            || l.starts_with("options")
                            || l.starts_with("domain")
                    })
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let host = report.target.host.to_ascii_lowercase();
        let hosts_lines = std::fs::read_to_string("/etc/hosts")
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.starts_with('#') && !host.is_empty())
                    .filter(|l| l.split_whitespace().any(|w| w.eq_ignore_ascii_case(&host)))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let proxy = PROXY_VARS
            .iter()
            .filter_map(|k| {
                std::env::var(k)
                    .ok()
                    .map(|v| (k.to_string(), crate::secret::redact_url_credentials(&v)))
            })
            .collect();
        let os_release = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("PRETTY_NAME=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            });
        let os = match os_release {
            Some(name) => format!(
                "{} ({} {})",
                name,
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            None => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        };
        let (server_clock, clock_offset_seconds) = report
            .checks
            .iter()
            .find_map(|c| {
                let d = c.facts.get("server_date")?.as_str()?.to_string();
                Some((
                    Some(d),
                    c.facts.get("clock_offset_seconds").and_then(|o| o.as_i64()),
                ))
            })
            .unwrap_or((None, None));
        Environment {
            preflight_version: env!("CARGO_PKG_VERSION").to_string(),
            os,
            resolver,
            hosts_lines,
            proxy,
            ssl_cert_file: std::env::var("SSL_CERT_FILE").ok(),
            ssl_cert_dir: std::env::var("SSL_CERT_DIR").ok(),
            local_clock: local_clock.to_string(),
            server_clock,
            clock_offset_seconds,
        }
    }
}

const README: &str = "preflight support bundle
========================

report.json      the report (schema_version 1): every check with its code, summary, fix and facts
report.md        the same report as Markdown, to paste into a ticket
report.txt       the same report as the table preflight prints
chain.pem        the certificate chain exactly as the server sent it, leaf first (absent when none was sent)
environment.json preflight version, OS, resolver configuration, /etc/hosts lines for the target, proxy
                 variables (credentials removed), SSL_CERT_FILE / SSL_CERT_DIR, this machine's clock and
                 its offset from the server's Date when it was read
timings.json     how long each check took, in milliseconds

Replay the trust diagnosis without the server:
    preflight verify --chain chain.pem --name HOST [--ca YOUR-CA.pem] --at STARTED_AT

Secrets were removed before anything was written: passwords, tokens, Authorization and Cookie values,
private keys, and credentials in proxy URLs never enter a bundle.
";

/// Writes the bundle. `texts` are the rendered formats (name, content), rendered from a report that holds
/// no secret (text from the wire was redacted as it arrived).
pub fn write(
    file: std::fs::File,
    report: &Report,
    env: &Environment,
    texts: &[(&str, String)],
) -> std::io::Result<()> {
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let dir = bundle_dir(report);
    let mut add = |name: &str, content: &str| -> std::io::Result<()> {
        let bytes = content.as_bytes();
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(report_mtime(report));
        header.set_cksum();
        tar.append_data(&mut header, format!("{dir}/{name}"), bytes)
    };
    add("README.txt", README)?;
    for (name, content) in texts {
        add(name, content)?;
    }
    if !report.certificates.is_empty() {
        let pem: String = report.certificates.iter().map(|c| c.pem.clone()).collect();
        add("chain.pem", &pem)?;
    }
    add(
        "environment.json",
        &(serde_json::to_string_pretty(env)? + "\n"),
    )?;
    let timings: Vec<_> = report
        .checks
        .iter()
        .map(|c| json!({"check": c.id, "status": c.status, "elapsed_ms": c.elapsed_ms}))
        .collect();
    let timings = json!({"total_ms": report.elapsed_ms, "checks": timings});
    add(
        "timings.json",
        &(serde_json::to_string_pretty(&timings)? + "\n"),
    )?;
    let gz = tar.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()
}

/// `preflight-HOST-PORT-20260601T000000Z`: the folder inside the archive.
fn bundle_dir(report: &Report) -> String {
    let host: String = report
        .target
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp: String = report
        .started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    match report.target.port {
        Some(p) => format!("preflight-{host}-{p}-{stamp}"),
        None => format!("preflight-verify-{stamp}"),
    }
}

fn report_mtime(report: &Report) -> u64 {
    time::OffsetDateTime::parse(
        &report.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp().max(0) as u64)
    .unwrap_or(0)
}
