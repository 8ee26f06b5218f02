//! Prisma Cloud Compute Console as the lab emulates it (see `../shared/reference/products.md`): `_ping`
//! without auth, password and client-certificate login to an HS256 JWT, `version` with Basic or Bearer, a
//! call the auditor may not make, token renewal, the logon settings (`sessionTimeoutSec`), projects
//! (`?project=NAME`), SaaS (a tenant path, access keys only), Consoles that disable Basic, rate-limit or
//! fail, and the Prisma Cloud (CSPM) API that users give where the Compute Console belongs.

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
    /// Not a Compute Console: the Prisma Cloud (CSPM) API (`api*.prismacloud.io`). `POST /login` takes an
    /// access key; every other call is 401 with an `x-redlock-status` header, `/api/v1/_ping` too [I].
    Cspm,
    /// A central Console with projects: [`Credentials::PRISMA_PROJECT`], to which the admin is assigned and
    /// the auditor is not.
    Projects,
}

/// The host name of the lab's SaaS Console certificate (and of the region in products.md's example URL).
pub const SAAS_HOST: &str = "us-east1.cloud.twistlock.com";
/// The host name of the lab's CSPM API certificate.
pub const CSPM_HOST: &str = "api.prismacloud.io";
/// The central Console's own name as a project (`?project=Central+Console`): every self-hosted Console.
pub const CENTRAL_CONSOLE: &str = "Central Console";

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
        jwt::prisma_token(user, role, now + self.token_lifetime())
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

/// `(user, role)` for a user name and password: SaaS takes an access key only; a self-hosted Console its
/// local users.
fn local_user(flavor: Flavor, user: &str, password: &str) -> Option<(&'static str, &'static str)> {
    if matches!(flavor, Flavor::Saas | Flavor::Cspm) {
        let key = (
            Credentials::PRISMA_ACCESS_KEY_ID,
            Credentials::PRISMA_ACCESS_KEY_SECRET,
        );
        return ((user, password) == key).then_some((Credentials::PRISMA_ACCESS_KEY_ID, "admin"));
    }
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
        Presented::Basic { user, password } => local_user(console.flavor, &user, &password)
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

/// Serves one request: the Console's page, `_ping`, then (unless the Console refuses every call) the API.
pub async fn handle(console: &Console, conn: &Conn, req: Request<Incoming>) -> Response<LabBody> {
    if console.flavor == Flavor::Cspm {
        return cspm(req).await;
    }
    let path = req.uri().path().to_string();
    let get = *req.method() == Method::GET || *req.method() == Method::HEAD;
    if let Some(page) = console_page(console, &path, get) {
        return page;
    }
    let Some(route) = api_route(console, &path) else {
        return not_found();
    };
    let route = route.trim_end_matches('/');
    if route == "_ping" {
        return if get {
            respond(StatusCode::OK, "text/plain", "")
        } else {
            method_not_allowed("GET, HEAD")
        };
    }
    if let Some(refused) = refusal(console.flavor) {
        return refused;
    }
    let Some(&(_, takes, api)) = ROUTES.iter().find(|(p, _, _)| *p == route) else {
        return not_found();
    };
    if !takes.allows(req.method()) {
        return method_not_allowed(takes.allow());
    }
    if let Some(refused) = project_refusal(console, api, &req) {
        return refused;
    }
    api.answer(console, conn, req).await
}

/// The Console's web page, at `/` (on SaaS, `/TENANT/`), when `path` is it.
fn console_page(console: &Console, path: &str, get: bool) -> Option<Response<LabBody>> {
    let console_root = match console.flavor {
        Flavor::Saas => format!("/{}/", Credentials::PRISMA_SAAS_TENANT),
        _ => "/".to_string(),
    };
    (path == console_root || format!("{path}/") == console_root).then(|| {
        if get {
            respond(
                StatusCode::OK,
                "text/html",
                "<html><body>Prisma Cloud Compute Console (preflight lab)</body></html>\n",
            )
        } else {
            method_not_allowed("GET, HEAD")
        }
    })
}

/// What a rate-limited or failing Console answers every call but `_ping`.
fn refusal(flavor: Flavor) -> Option<Response<LabBody>> {
    match flavor {
        Flavor::RateLimited => {
            let mut res = err(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Some(res)
        }
        Flavor::ServerError => Some(err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error",
        )),
        _ => None,
    }
}

/// The methods a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Post,
    /// GET, and HEAD with it.
    Get,
}

impl Takes {
    fn allows(self, method: &Method) -> bool {
        match self {
            Takes::Post => method == Method::POST,
            Takes::Get => method == Method::GET || method == Method::HEAD,
        }
    }

    /// The `Allow` header of a 405.
    fn allow(self) -> &'static str {
        match self {
            Takes::Post => "POST",
            Takes::Get => "GET, HEAD",
        }
    }
}

/// What answers a route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Authenticate,
    AuthenticateClient,
    Renew,
    Version,
    RuntimePolicy,
    CaPem,
    LogonSettings,
}

/// The API's routes under `/api/v1/`: the path, the methods it takes, what answers.
const ROUTES: [(&str, Takes, Api); 7] = [
    ("authenticate", Takes::Post, Api::Authenticate),
    ("authenticate-client", Takes::Post, Api::AuthenticateClient),
    ("authenticate/renew", Takes::Get, Api::Renew),
    ("version", Takes::Get, Api::Version),
    ("policies/runtime/container", Takes::Get, Api::RuntimePolicy),
    ("certs/ca.pem", Takes::Get, Api::CaPem),
    ("settings/logon", Takes::Get, Api::LogonSettings),
];

impl Api {
    async fn answer(
        self,
        console: &Console,
        conn: &Conn,
        req: Request<Incoming>,
    ) -> Response<LabBody> {
        match self {
            Api::Authenticate => {
                let (parts, body) = http::read(req).await;
                authenticate(console, &parts.headers, body.as_ref())
            }
            Api::AuthenticateClient => authenticate_client(console, conn),
            Api::Renew => renew(console, req.headers()),
            Api::Version => match caller(console, req.headers()) {
                Ok(_) => json(StatusCode::OK, &json!(VERSION)),
                Err(m) => unauthorized(m),
            },
            Api::RuntimePolicy => runtime_policy(console, req.headers()),
            Api::CaPem => ca_pem(console, req.headers()),
            Api::LogonSettings => logon_settings(console, req.headers()),
        }
    }
}

/// `authenticate-client`: a token for the client certificate's CN.
fn authenticate_client(console: &Console, conn: &Conn) -> Response<LabBody> {
    match (&conn.client_cert, &conn.client_cn) {
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
    }
}

/// `authenticate/renew`: a fresh token for a bearer token's caller.
fn renew(console: &Console, headers: &HeaderMap) -> Response<LabBody> {
    match authorization(headers) {
        Presented::Bearer(_) => match caller(console, headers) {
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
    }
}

/// `policies/runtime/container`: the admin's only.
fn runtime_policy(console: &Console, headers: &HeaderMap) -> Response<LabBody> {
    match caller(console, headers) {
        Ok((_, role)) if role == "admin" => json(
            StatusCode::OK,
            &json!({"_id": "containerRuntime", "rules": [], "learningDisabled": false}),
        ),
        Ok((user, role)) => err(
            StatusCode::FORBIDDEN,
            &format!("user {user} (role {role}) lacks permission for this operation"),
        ),
        Err(m) => unauthorized(m),
    }
}

/// `certs/ca.pem`: the Console CA, to any caller, when the Console has one.
fn ca_pem(console: &Console, headers: &HeaderMap) -> Response<LabBody> {
    match (&console.ca_pem, caller(console, headers)) {
        (_, Err(m)) => unauthorized(m),
        (Some(pem), Ok(_)) => respond(
            StatusCode::OK,
            "application/x-pem-file",
            Bytes::from(pem.clone()),
        ),
        (None, Ok(_)) => not_found(),
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
    match local_user(console.flavor, &user, &password) {
        Some((user, role)) => json(StatusCode::OK, &json!({"token": console.token(user, role)})),
        None => err(StatusCode::UNAUTHORIZED, "invalid credentials"),
    }
}

/// `settings/logon`: the Console's logon settings (the token lifetime is `sessionTimeoutSec`), the admin's
/// only.
fn logon_settings(console: &Console, headers: &HeaderMap) -> Response<LabBody> {
    match caller(console, headers) {
        Ok((_, role)) if role == "admin" => json(
            StatusCode::OK,
            &json!({
                "sessionTimeoutSec": console.token_lifetime(),
                "basicAuthDisabled": console.flavor == Flavor::BasicDisabled,
                "useSupportCredentials": false,
            }),
        ),
        Ok((user, role)) => err(
            StatusCode::FORBIDDEN,
            &format!("user {user} (role {role}) lacks permission for this operation"),
        ),
        Err(m) => unauthorized(m),
    }
}

/// The `project` of a request's query, decoded (`+` and `%XX`).
fn project(req: &Request<Incoming>) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "project")
        .map(|(_, v)| v.into_owned())
}

/// A call that names a project the caller may not see: 404 for a project this Console does not have, 403
/// for one the caller is not assigned to [I]. Logins and `_ping` ignore the project; a caller who is not
/// authenticated gets the route's own 401.
fn project_refusal(
    console: &Console,
    api: Api,
    req: &Request<Incoming>,
) -> Option<Response<LabBody>> {
    if matches!(api, Api::Authenticate | Api::AuthenticateClient) {
        return None;
    }
    let name = project(req)?;
    let (user, role) = caller(console, req.headers()).ok()?;
    if name == CENTRAL_CONSOLE {
        return None;
    }
    if console.flavor != Flavor::Projects || name != Credentials::PRISMA_PROJECT {
        return Some(err(
            StatusCode::NOT_FOUND,
            &format!("project {name} not found"),
        ));
    }
    (role != "admin").then(|| {
        err(
            StatusCode::FORBIDDEN,
            &format!("user {user} is not assigned to project {name}"),
        )
    })
}

/// What the Prisma Cloud (CSPM) API answers: `POST /login` with an access key gives a token; every other
/// call, and a refused login, is 401 with an `x-redlock-status` header and an empty body [I].
async fn cspm(req: Request<Incoming>) -> Response<LabBody> {
    let login = req.method() == Method::POST && req.uri().path() == "/login";
    if !login {
        return redlock_401("auth_token_missing");
    }
    let (parts, body) = http::read(req).await;
    let creds = body
        .filter(|_| is_json(&parts.headers))
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| {
            Some((
                v.get("username")?.as_str()?.to_string(),
                v.get("password")?.as_str()?.to_string(),
            ))
        });
    match creds.and_then(|(u, p)| local_user(Flavor::Cspm, &u, &p)) {
        Some((user, _)) => {
            let exp = OffsetDateTime::now_utc().unix_timestamp() + 600;
            json(
                StatusCode::OK,
                &json!({"token": jwt::prisma_token(user, "System Admin", exp), "message": "login_successful"}),
            )
        }
        None => redlock_401("invalid_credentials"),
    }
}

/// A CSPM 401: the reason in `x-redlock-status`, no body.
fn redlock_401(key: &str) -> Response<LabBody> {
    let mut res = respond(StatusCode::UNAUTHORIZED, "application/json", "");
    let status = json!([{"i18nKey": key, "severity": "error", "subject": null}]).to_string();
    if let Ok(v) = HeaderValue::from_str(&status) {
        res.headers_mut().insert(REDLOCK_STATUS, v);
    }
    res
}

/// The header the Prisma Cloud (CSPM) API explains its refusals in.
pub const REDLOCK_STATUS: &str = "x-redlock-status";
