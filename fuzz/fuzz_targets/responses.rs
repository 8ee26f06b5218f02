//! What product servers answer, as the auth checks read it: tokens (JWT claims and expiry facts), CVP
//! version bodies, JSON bodies, HTTP failures with their headers, gRPC outcomes.
//!
//! The whole input is the response body (lossy UTF-8, as `Http` reads it). Its first line also serves as a
//! header value (`Retry-After`) and as a gRPC `grpc-status`, the rest as `grpc-message`.
//!
//! Not reachable from here (private, no public wrapper; `src/` is not changed for fuzzing):
//! `prisma::version` (the `/api/v1/version` body), `cvp::error_message` (`errorMessage` in a 200),
//! `cvp::first_line`, and the gRPC status/trailer reading inside the async `grpc::get_one`. Their JSON goes
//! through `Reply::json` below, the gRPC status through `cvp::describe`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preflight::checks::auth::cvp::{cvp_version, describe};
use preflight::net::grpc::{status_name, Outcome};
use preflight::net::http::Reply;
use preflight::checks::auth::{http_failure, token_facts};
use preflight::jwt;
use preflight::report::Check;
use preflight::secret::Secret;
use time::macros::datetime;
use time::OffsetDateTime;

const AT: OffsetDateTime = datetime!(2026-06-01 00:00:00 UTC);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let (first, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));

    // A token as a server hands it out (Prisma's `token`, CVP's `sessionId`) or a user gives it.
    if let Some(c) = jwt::claims(&text) {
        let _ = c.seconds_left(AT);
    }
    let (check, finding) = token_facts(
        Check::pass("auth.token-file", "accepted"),
        &Secret::new(text.clone()),
        AT,
    );
    let _ = serde_json::to_string(&check);
    let _ = finding;

    // CloudVision's version answer, in its three forms.
    let _ = cvp_version(&text);

    // A JSON body, and the failures that quote a reply's status and headers.
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(first) {
        headers.insert("retry-after", v);
    }
    let status = data
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) % 600)
        .unwrap_or(200);
    for status in [status, 401, 403, 404, 429, 503] {
        let reply = Reply {
            status,
            headers: headers.clone(),
            body: text.clone(),
            elapsed: std::time::Duration::from_millis(5),
        };
        if let Some(j) = reply.json() {
            for key in ["token", "sessionId", "errorMessage", "version"] {
                let _ = j.get(key).and_then(|t| t.as_str());
            }
        }
        let c = http_failure("auth.password", "POST /api/v1/authenticate", &reply, first);
        let _ = serde_json::to_string(&c);
    }

    // gRPC: the status as `get_one` reads it from headers or trailers (`parse().unwrap_or(2)`).
    let code: u32 = first.trim().parse().unwrap_or(2);
    let _ = status_name(code);
    for o in [
        Outcome::Status(code, rest.to_string()),
        Outcome::Status(code, String::new()),
        Outcome::Http(status),
        Outcome::NoH2(Some(first.to_string())),
        Outcome::Failed(text.clone()),
    ] {
        let _ = describe(&o);
    }
});
