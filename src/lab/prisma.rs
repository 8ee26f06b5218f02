//! Prisma Cloud Compute Console as the lab emulates it (see `../shared/reference/products.md`): `_ping`
//! without auth, password and client-certificate login to an HS256 JWT, `version` with Basic or Bearer, a
//! call the auditor may not make, token renewal, and Consoles that disable Basic, rate-limit or fail.

use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::http::{self, authorization, is_json, json, respond, Conn, LabBody, Presented};
use super::jwt::{self, Refused};
use super::Credentials;

/// Which Console the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A self-hosted Console with the defaults: Basic allowed, tokens for 30 minutes.
    Console,
    /// SaaS: every path under the tenant segment [`Credentials::PRISMA_SAAS_TENANT`] (without it, 404);
    /// tokens for 60 minutes.
    Saas,
    /// An admin disabled Basic auth: Basic is 401, tokens work.
    BasicDisabled,
    /// Every call but `_ping` is 429 with `Retry-After`.
    RateLimited,
    /// Every call but `_ping` is 500.
    ServerError,
}

/// The version `GET /api/v1/version` reports.
pub const VERSION: &str = "34.04.145";

/// A Console: its flavor and the CA it serves at `/api/v1/certs/ca.pem`, if any.
#[derive(Debug, Clone)]
pub struct Console {
    pub flavor: Flavor,
    pub ca_pem: Option<String>,
}

impl Console {
    /// How long a token lasts, in seconds.
    pub fn token_lifetime(&self) -> i64 {
        match self.flavor {
            Flavor::Saas => 60 * 60,
            _ => 30 * 60,
        }
    }

    fn token(&self, user: &str, role: &str) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        jwt::prisma_token(user, role, now, now + self.token_lifetime())
    }
}

fn err(status: StatusCode, message: &str) -> Response<LabBody> {
    json(status, &json!({"err": message}))
}

fn not_found() -> Response<LabBody> {
    err(StatusCode::NOT_FOUND, "not found")
}

fn method_not_allowed(allow: &'static str) -> Response<LabBody> {
    let mut res = err(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    res
}

/// `(user, role)` for a local user's password.
fn local_user(user: &str, password: &str) -> Option<(&'static str, &'static str)> {
    match (user, password) {
        (Credentials::PRISMA_USER, Credentials::PRISMA_PASSWORD) => {
            Some((Credentials::PRISMA_USER, "admin"))
        }
        (Credentials::PRISMA_AUDITOR_USER, Credentials::PRISMA_AUDITOR_PASSWORD) => {
            Some((Credentials::PRISMA_AUDITOR_USER, "auditor"))
        }
        _ => None,
    }
}

/// Who is calling: `(user, role)`, or why not (the message of the 401 to send).
fn caller(console: &Console, headers: &HeaderMap) -> Result<(String, String), &'static str> {
    match authorization(headers) {
        Presented::None => Err("authentication required"),
        Presented::Malformed => Err("malformed Authorization header"),
        Presented::Basic { .. } if console.flavor == Flavor::BasicDisabled => {
            Err("basic authentication is disabled")
        }
        Presented::Basic { user, password } => local_user(&user, &password)
            .map(|(u, r)| (u.to_string(), r.to_string()))
            .ok_or("invalid credentials"),
        Presented::Bearer(token) => match jwt::verify(&token, "HS256", OffsetDateTime::now_utc()) {
            Err(Refused::Expired) => Err("token expired"),
            Err(Refused::Invalid) => Err("invalid token"),
            Ok(claims) => {
                let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
                match (text("user"), text("role")) {
                    (Some(u), Some(r)) => Ok((u, r)),
                    _ => Err("invalid token"),
                }
            }
        },
    }
}

fn unauthorized(message: &str) -> Response<LabBody> {
    err(StatusCode::UNAUTHORIZED, message)
}

/// The API route under `/api/v1/` (or a versioned `/api/v34.04/`), after the tenant segment on SaaS.
fn api_route<'a>(console: &Console, path: &'a str) -> Option<&'a str> {
    let path = match console.flavor {
        Flavor::Saas => path
            .strip_prefix('/')?
            .strip_prefix(Credentials::PRISMA_SAAS_TENANT)?,
        _ => path,
    };
    let rest = path.strip_prefix("/api/v")?;
    let (version, route) = rest.split_once('/')?;
    // `v1`, or a release such as `v34.04`.
    let known = version
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    known.then_some(route)
}

/// Serves one request.
pub async fn handle(console: &Console, conn: &Conn, req: Request<Incoming>) -> Response<LabBody> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    let console_root = match console.flavor {
        Flavor::Saas => format!("/{}/", Credentials::PRISMA_SAAS_TENANT),
        _ => "/".to_string(),
    };
    if path == console_root || format!("{path}/") == console_root {
        return if get {
            respond(
                StatusCode::OK,
                "text/html",
                "<html><body>Prisma Cloud Compute Console (preflight lab)</body></html>\n",
            )
        } else {
            method_not_allowed("GET, HEAD")
        };
    }
    let Some(route) = api_route(console, &path) else {
        return not_found();
    };
    let route = route.trim_end_matches('/').to_string();
    if route == "_ping" {
        return if get {
            respond(StatusCode::OK, "text/plain", "")
        } else {
            method_not_allowed("GET, HEAD")
        };
    }
    match console.flavor {
        Flavor::RateLimited => {
            let mut res = err(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Flavor::ServerError => {
            return err(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
        _ => {}
    }
    let post = method == Method::POST;
    match route.as_str() {
        "authenticate" if post => {
            let (parts, body) = http::read(req).await;
            authenticate(console, &parts.headers, body.as_ref())
        }
        "authenticate-client" if post => match (&conn.client_cert, &conn.client_cn) {
            (true, Some(cn)) => json(
                StatusCode::OK,
                &json!({"role": "admin", "token": console.token(cn, "admin")}),
            ),
            (true, None) => err(
                StatusCode::UNAUTHORIZED,
                "the client certificate names no user (CN)",
            ),
            (false, _) => err(
                StatusCode::UNAUTHORIZED,
                "no client certificate was presented",
            ),
        },
        "authenticate/renew" if get => match authorization(req.headers()) {
            Presented::Bearer(_) => match caller(console, req.headers()) {
                Ok((user, role)) => json(
                    StatusCode::OK,
                    &json!({"token": console.token(&user, &role)}),
                ),
                Err(m) => unauthorized(m),
            },
            _ => err(
                StatusCode::UNAUTHORIZED,
                "a token (Authorization: Bearer) is required to renew",
            ),
        },
        "version" if get => match caller(console, req.headers()) {
            Ok(_) => json(StatusCode::OK, &json!(VERSION)),
            Err(m) => unauthorized(m),
        },
        "policies/runtime/container" if get => match caller(console, req.headers()) {
            Ok((_, role)) if role == "admin" => json(
                StatusCode::OK,
                &json!({"_id": "containerRuntime", "rules": [], "learningDisabled": false}),
            ),
            Ok((user, role)) => err(
                StatusCode::FORBIDDEN,
                &format!("user {user} (role {role}) lacks permission for this operation"),
            ),
            Err(m) => unauthorized(m),
        },
        "certs/ca.pem" if get => match (&console.ca_pem, caller(console, req.headers())) {
            (_, Err(m)) => unauthorized(m),
            (Some(pem), Ok(_)) => respond(
                StatusCode::OK,
                "application/x-pem-file",
                Bytes::from(pem.clone()),
            ),
            (None, Ok(_)) => not_found(),
        },
        "authenticate" | "authenticate-client" => method_not_allowed("POST"),
        "authenticate/renew" | "version" | "policies/runtime/container" | "certs/ca.pem" => {
            method_not_allowed("GET, HEAD")
        }
        _ => not_found(),
    }
}

fn authenticate(console: &Console, headers: &HeaderMap, body: Option<&Bytes>) -> Response<LabBody> {
    let creds = body
        .filter(|b| is_json(headers) || b.starts_with(b"{"))
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| {
            Some((
                v.get("username")?.as_str()?.to_string(),
                v.get("password")?.as_str()?.to_string(),
            ))
        });
    let Some((user, password)) = creds else {
        return err(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"username\":...,\"password\":...}",
        );
    };
    match local_user(&user, &password) {
        Some((user, role)) => json(StatusCode::OK, &json!({"token": console.token(user, role)})),
        None => err(StatusCode::UNAUTHORIZED, "invalid credentials"),
    }
}
