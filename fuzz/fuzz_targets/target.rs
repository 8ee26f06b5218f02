//! Everything a user (or a target list) types that preflight parses: TARGET, `--resolve`, durations,
//! `--at` times, `--pin-sha256` values, scan list lines, URL redaction, CVaaS host hints, proxy URLs and
//! bypass lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preflight::checks::auth::cvp::cvaas_host;
use preflight::config::{CheckConfig, ResolveOverride};
use preflight::pki::sources::normalize_pin;
use preflight::target::{Product, Target};

const PRODUCTS: [Product; 5] = [
    Product::Cvp,
    Product::Cvaas,
    Product::Prisma,
    Product::Generic,
    Product::Auto,
];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    // TARGET, then what the pipeline derives from it.
    if let Ok(t) = Target::parse(s) {
        let _ = t.host.to_string();
        for product in PRODUCTS {
            let cfg = CheckConfig::new(t.clone(), product);
            let _ = cfg.target.authority(cfg.port);
            let _ = product.port_note(cfg.port);
        }
        let _ = cvaas_host(&t.host.to_string());
    }
    let _ = cvaas_host(s);

    // `--resolve HOST:PORT:ADDR[,ADDR...]`.
    if let Ok(r) = ResolveOverride::parse(s) {
        let _ = r.matches(&r.host, r.port.unwrap_or(443));
    }

    // `--connect-timeout 2s` and friends.
    if let Ok(d) = preflight::duration::parse(s) {
        let _ = preflight::duration::human(d);
    }

    // `--at RFC3339`, and the time formatted back as reports do.
    if let Ok(t) = preflight::cli::parse_time(s) {
        let _ = preflight::duration::rfc3339(t);
    }

    // `--pin-sha256`.
    let _ = normalize_pin(s);

    // A `scan` target list: every line, good or bad.
    let list = preflight::scan::parse_list(s);
    for e in &list.entries {
        let _ = CheckConfig::new(e.target.clone(), e.product.unwrap_or(Product::Auto));
    }

    // `--proxy URL` / `HTTPS_PROXY`, and `--noproxy LIST` / `NO_PROXY` matched against the input as a host.
    if let Ok(p) = preflight::net::proxy::Proxy::parse(s, "--proxy") {
        let _ = (p.describe(), p.authority());
    }
    let (first, rest) = s.split_once('\n').unwrap_or((s, ""));
    let env = |k: &str| match k {
        "https_proxy" => Some(first.to_string()),
        "no_proxy" => Some(rest.to_string()),
        _ => None,
    };
    if let Ok(settings) = preflight::net::proxy::ProxySettings::from_flags_and_env(None, None, &env) {
        for host in [first, rest, "cvp1.example.com", "10.0.0.5", "::1"] {
            let _ = settings.for_host(host);
        }
        let _ = settings.secret_values();
    }

    // Credentials in URLs (proxy settings, targets): redaction.
    let _ = preflight::secret::redact_url_credentials(s);
    if let Some(p) = preflight::secret::url_password(s) {
        let _ = preflight::secret::Redactor::new(&[p]).excerpt(s, 120);
    }
});
