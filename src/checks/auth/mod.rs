//! Authentication: each method a product supports, tried in turn, over a channel the trust stage chose.
//! Secrets travel only over [`channel::Channel::Trusted`] (or `--insecure`, flagged); they never enter a
//! check's summary, fix or facts.

pub mod cvp;
pub mod prisma;

use time::OffsetDateTime;

use crate::codes::Code;
use crate::jwt;
use crate::net::http::{Http, HttpError, Reply};
use crate::pki::sources::SourceKind;
use crate::report::{Check, Status};
use crate::secret::Secret;

use crate::credentials::Credentials;

/// The check ids of the methods the credentials allow, for skipping them all at once.
pub fn method_ids(product: crate::target::Product, creds: &Credentials) -> Vec<String> {
    use crate::target::Product;
    let mut ids = Vec::new();
    if creds.password.is_some() {
        if product == Product::Prisma {
            ids.push("auth.basic".to_string());
        }
        ids.push("auth.password".to_string());
    }
    for t in &creds.tokens {
        ids.push(format!("auth.{}", t.method));
    }
    if creds.identity.is_some() {
        ids.push("auth.client-cert".to_string());
    }
    ids
}

/// A token preflight just obtained by logging in: its kind, expiry and lifetime as facts, never a finding
/// (its lifetime is the server's setting: Prisma's are 30 minutes, 60 on SaaS).
pub fn obtained_token_facts(check: Check, token: &Secret, now: OffsetDateTime) -> Check {
    let Some(c) = jwt::claims(token.expose()) else {
        return check.with_fact("token_kind", "opaque");
    };
    let check = check.with_fact("token_kind", "jwt");
    let Some(exp) = c.exp else {
        return check;
    };
    let when = OffsetDateTime::from_unix_timestamp(exp)
        .map(crate::duration::rfc3339)
        .unwrap_or_default();
    let from = c.iat.unwrap_or(now.unix_timestamp());
    check
        .with_fact("token_expires", when)
        .with_fact("token_lifetime_seconds", exp.saturating_sub(from))
}

/// A token's claims as facts, and a finding when it expired or expires soon.
pub fn token_facts(
    check: Check,
    token: &Secret,
    now: OffsetDateTime,
) -> (Check, Option<(Code, String)>) {
    let Some(c) = jwt::claims(token.expose()) else {
        return (check.with_fact("token_kind", "opaque"), None);
    };
    let mut check = check.with_fact("token_kind", "jwt");
    if let Some(dsn) = &c.dsn {
        check = check.with_fact("token_account", dsn.clone());
    }
    let Some(exp) = c.exp else {
        return (check, None);
    };
    let when = OffsetDateTime::from_unix_timestamp(exp)
        .map(crate::duration::rfc3339)
        .unwrap_or_default();
    check = check.with_fact("token_expires", when.clone());
    let left = exp.saturating_sub(now.unix_timestamp());
    // Without `iat` (Prisma's tokens) the lifetime is unknown: what is left stands for it, so a short-lived
    // token is not called expiring for being short-lived.
    let lifetime = c.iat.map(|iat| exp.saturating_sub(iat)).unwrap_or(left);
    if left <= 0 {
        return (
            check,
            Some((
                Code::TokenExpired,
                format!("the token expired at {when} ({} ago)", span(-left)),
            )),
        );
    }
    let soon = if lifetime <= 3600 { 300 } else { 86_400 };
    if left < soon {
        return (
            check,
            Some((
                Code::TokenExpiring,
                format!("the token expires at {when}, in {}", span(left)),
            )),
        );
    }
    (check.with_fact("token_seconds_left", left), None)
}

fn span(secs: i64) -> String {
    match secs {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} hours", s / 3600),
        s if s >= 60 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// A check for an answer that is not a success: the status says why.
pub fn http_failure(http: &Http, id: &str, what: &str, r: &Reply, url_hint: &str) -> Check {
    let base = |code, summary: String, fix: &str| Check::fail(id, code, summary, fix.to_string());
    let check = match r.status {
        401 => base(Code::BadCredentials, format!("{what}: 401 Unauthorized"), "Check the user name and password or the token; an expired token also gives 401"),
        403 => base(Code::Forbidden, format!("{what}: 403 Forbidden: logged in, but the role lacks permission"), "Give the user or service account a role that may call the API"),
        404 => base(Code::EndpointNotFound, format!("{what}: 404 Not Found at {url_hint}"), "Check the base URL and `--product`; Prisma SaaS consoles need the tenant path (https://REGION.cloud.twistlock.com/TENANT)"),
        429 => {
            let after = r.headers.get("retry-after").and_then(|v| v.to_str().ok()).map(|v| format!(" (Retry-After: {})", http.excerpt(v, 40))).unwrap_or_default();
            base(Code::RateLimited, format!("{what}: 429 Too Many Requests{after}"), "Wait and retry; space out automated logins")
        }
        s if s >= 500 => base(Code::ServerError, format!("{what}: {s} from the server"), "Read the server's logs; retry later"),
        s => base(Code::HttpFailed, format!("{what}: unexpected HTTP {s}"), "Compare with `curl -v` against the same URL"),
    };
    check.with_fact("http_status", r.status)
}

pub fn transport_failure(http: &Http, id: &str, what: &str, e: &HttpError) -> Check {
    Check::fail(
        id,
        Code::HttpFailed,
        format!("{what}: {}", http.wire(&e.to_string())),
        "The transport checks above name the cause; retry with -v",
    )
}

/// Every method skipped because no trust source accepted the chain.
pub fn skipped_untrusted(ids: &[String], refused: Option<(SourceKind, Code)>) -> Vec<Check> {
    let (summary, fix) = match refused {
        None => (
            "not attempted: no trust source accepted the server's chain, so no credential was sent".to_string(),
            "Fix the trust failure above (pass the CA or the server's certificate with --ca, or --pin-sha256), or pass --insecure knowingly".to_string(),
        ),
        Some((kind, code)) => (
            format!("not attempted: {} ({}) rejected the server's chain ({code}), so no credential was sent, whatever a default store says", kind.check_id(), match kind {
                SourceKind::Pin => "your --pin-sha256",
                _ => "your --ca",
            }),
            format!("Fix the {} failure above; if the chain is really the server's, pass --insecure knowingly", kind.check_id()),
        ),
    };
    ids.iter()
        .map(|id| {
            Check::new(
                id,
                Status::Skip,
                Code::NotAttemptedUntrusted,
                summary.clone(),
            )
            .with_fix(fix.clone())
        })
        .collect()
}

/// Marks a check made over an unverified channel.
pub fn flag_insecure(c: Check, insecure: bool) -> Check {
    if insecure {
        let mut c = c.with_fact("insecure", true);
        c.summary = format!(
            "{} [--insecure: sent without verifying the server]",
            c.summary
        );
        c
    } else {
        c
    }
}
