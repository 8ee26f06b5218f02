//! CloudVision as the lab emulates it (see `../shared/reference/products.md`): password login in both body
//! forms with the `access_token` cookie, `getCvpInfo.do` in its three answer forms, the REST root, a legacy
//! REST call that needs a role, the Resource API over REST (newline-delimited `{"result": ...}`), and the
//! gRPC inventory service with statuses 0, 5, 7 and 16. Releases and fronts as met in the field: CVP 2020's
//! `LOG OUT MESSAGE` page for a dead session and `112498 Unauthorized User` for a failed login, a service
//! account whose role lacks the inventory, a CloudVision as a Service cluster that refuses another
//! cluster's or tenant's token, and `apiserver.<cluster>` (device streaming: 404, gRPC `UNKNOWN`).

use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, HOST, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::grpc;
use super::http::{self, authorization, cookie, is_json, json, respond, LabBody, Presented};
use super::jwt::{self, Refused};
use super::Credentials;
use crate::net::grpc::wire::{self, Code, GET_ALL, GET_ONE};

/// Which CloudVision the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// CVP 2024.3 on-prem: a bad login is HTTP 200 with `errorCode`; `{"version":"2024.3.0","appVersion":""}`.
    Modern,
    /// An older CVP (2021.2): a bad login is HTTP 401 `{"errorMessage":"User is unauthorized"}`.
    Legacy,
    /// CVP 2026.1: `getCvpInfo.do` answers the bare text `2026.1.3`.
    V2026,
    /// CloudVision as a Service: no password login (404), service-account tokens only,
    /// `{"version":"CVaaS"}`.
    Cvaas,
    /// CVP 2020.2: a missing, expired or unknown session gets HTTP 200 and the `LOG OUT MESSAGE` page on
    /// every REST call; no Resource API over REST (404).
    LogoutPage,
    /// CVP 2020.2: a failed login is HTTP 200 `{"errorCode":"112498","errorMessage":"Unauthorized User"}`;
    /// no Resource API over REST (404).
    Login112498,
    /// CVP 2024.3 whose service account ([`Credentials::CVP_SERVICE_ACCOUNT`]) has a role without the
    /// inventory: its token is accepted, the inventory is 403 and gRPC `PERMISSION_DENIED`.
    Forbidden,
    /// CloudVision as a Service as one cluster among others: it is the cluster its host name names
    /// (`www.arista.io` → `arista.io`), serves tenant [`LAB_TENANT`], and refuses (401, `UNAUTHENTICATED`)
    /// a token whose claims name another cluster or tenant, as a cluster refuses another's signature.
    CvaasCluster,
    /// `apiserver.<cluster>`: where devices stream to, not the APIs. Every REST path is nginx's 404; gRPC
    /// answers `UNKNOWN` for the inventory service.
    CvaasApiserver,
}

impl Flavor {
    /// CloudVision as a Service: no password login, service-account tokens only.
    pub fn is_cvaas(self) -> bool {
        matches!(
            self,
            Flavor::Cvaas | Flavor::CvaasCluster | Flavor::CvaasApiserver
        )
    }

    /// Whether `GET /api/resources/...` is served (not by the 2020 releases).
    fn has_resource_api(self) -> bool {
        !matches!(self, Flavor::LogoutPage | Flavor::Login112498)
    }
}

/// The tenant (`ogn`, `ogi`) the cluster-aware CloudVision as a Service serves.
pub const LAB_TENANT: &str = "preflight-lab";
pub const LAB_TENANT_ID: u64 = 4242;

/// The version string of each flavor, as `getCvpInfo.do` reports it.
pub fn version(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Modern | Flavor::Forbidden => "2024.3.0",
        Flavor::Legacy => "2021.2.2",
        Flavor::LogoutPage | Flavor::Login112498 => "2020.2.3",
        Flavor::V2026 => "2026.1.3",
        Flavor::Cvaas | Flavor::CvaasCluster | Flavor::CvaasApiserver => "CVaaS",
    }
}

/// A CloudVision as a Service token as newer ones are (ES256 header): `did, dsn, dst, exp, iat, sid`, the
/// tenant `ogi`/`ogn`, and the cluster that issued it as `iss` (`https://www.<cluster>`). Signed with the
/// lab's key, so a test can make one for any account, kind, cluster and tenant.
pub fn cvaas_token(
    dsn: &str,
    dst: &str,
    cluster: &str,
    tenant: &str,
    iat: i64,
    exp: i64,
) -> String {
    let ogi = match tenant {
        LAB_TENANT => LAB_TENANT_ID,
        t => 5000 + t.bytes().map(u64::from).sum::<u64>(),
    };
    let claims = json!({
        "did": 7_100_000 + (iat % 100_000), "dsn": dsn, "dst": dst, "exp": exp, "iat": iat,
        "sid": format!("{:032x}", (iat as u128) << 20 | u128::from(ogi)),
        "ogi": ogi, "ogn": tenant, "iss": format!("https://www.{cluster}"),
    });
    jwt::encode("ES256", &claims)
}

/// The paths that log in.
pub const LOGIN_PATHS: [&str; 2] = [
    "/cvpservice/login/authenticate.do",
    "/web/login/authenticate.do",
];
pub const INFO_PATH: &str = "/cvpservice/cvpInfo/getCvpInfo.do";
pub const REST_ROOT: &str = "/api/v1/rest/";
/// A legacy REST call that needs the inventory role (403 for the viewer).
pub const INVENTORY_PATH: &str = "/cvpservice/inventory/devices";
/// The Resource API over REST: every device, as newline-delimited `{"result": ...}` objects.
pub const RESOURCE_DEVICES: &str = "/api/resources/inventory/v1/Device/all";
/// What CVP 2020 shows a session it does not know: a page of HTML, with HTTP 200.
pub const LOG_OUT_MARK: &str = "LOG OUT MESSAGE";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// network-admin: everything.
    Admin,
    /// Logged in, but without the inventory permission.
    Viewer,
}

fn role_of(flavor: Flavor, name: &str) -> Option<Role> {
    match name {
        Credentials::CVP_SERVICE_ACCOUNT if flavor == Flavor::Forbidden => Some(Role::Viewer),
        Credentials::CVP_USER | Credentials::CVP_SERVICE_ACCOUNT => Some(Role::Admin),
        Credentials::CVP_VIEWER_USER => Some(Role::Viewer),
        _ => None,
    }
}

/// What a request is asked of: which server, under which host name (a cluster is the one its name says).
#[derive(Debug, Clone)]
struct Ask {
    flavor: Flavor,
    host: String,
}

/// The host the client asked for: HTTP/2's `:authority`, else the `Host` header, without the port.
fn host_of<B>(req: &Request<B>) -> String {
    if let Some(h) = req.uri().host() {
        return h.to_ascii_lowercase();
    }
    req.headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<hyper::http::uri::Authority>().ok())
        .map(|a| a.host().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Why a request's token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoAuth {
    Missing,
    Refused(Refused),
}

impl NoAuth {
    fn message(self) -> &'static str {
        match self {
            NoAuth::Missing => {
                "Unauthorized: no token (Authorization: Bearer or the access_token cookie)"
            }
            NoAuth::Refused(Refused::Invalid) => "Unauthorized: invalid token",
            NoAuth::Refused(Refused::Expired) => "Unauthorized: the token has expired",
        }
    }
}

/// The role of the token on a REST request: `Authorization: Bearer`, else the `access_token` cookie.
fn rest_caller(ask: &Ask, headers: &HeaderMap) -> Result<Role, NoAuth> {
    let token = match authorization(headers) {
        Presented::Bearer(t) => Some(t),
        _ => cookie(headers, "access_token"),
    };
    token_role(ask, token.as_deref())
}

fn token_role(ask: &Ask, token: Option<&str>) -> Result<Role, NoAuth> {
    let token = token.ok_or(NoAuth::Missing)?;
    let now = OffsetDateTime::now_utc();
    // CVaaS signs with ES256 (newer tokens) or RS256.
    let claims = match jwt::verify(token, "RS256", now) {
        Err(Refused::Invalid) if ask.flavor.is_cvaas() => jwt::verify(token, "ES256", now),
        other => other,
    }
    .map_err(NoAuth::Refused)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    // CVaaS knows nothing of on-prem sessions: only service-account tokens.
    if ask.flavor.is_cvaas() && text("dst") != jwt::DST_ACCOUNT {
        return Err(NoAuth::Refused(Refused::Invalid));
    }
    if ask.flavor == Flavor::CvaasCluster && !this_cluster(ask, token) {
        return Err(NoAuth::Refused(Refused::Invalid));
    }
    role_of(ask.flavor, text("dsn")).ok_or(NoAuth::Refused(Refused::Invalid))
}

/// Whether a token belongs here: the cluster its claims name (if any) is the one asked for, and its tenant
/// (if named) is [`LAB_TENANT`].
fn this_cluster(ask: &Ask, token: &str) -> bool {
    let Some(c) = crate::jwt::claims(token) else {
        return false;
    };
    let cluster_ok = c
        .cluster()
        .is_none_or(|t| t == crate::jwt::cluster_of(&ask.host));
    cluster_ok && c.ogn.as_deref().is_none_or(|t| t == LAB_TENANT)
}

fn unauthorized(why: NoAuth) -> Response<LabBody> {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"errorCode": "112499", "errorMessage": why.message()}),
    )
}

/// A request without a session this server knows: CVP 2020's log-out page with HTTP 200, else a 401.
fn refused(flavor: Flavor, why: NoAuth) -> Response<LabBody> {
    if flavor != Flavor::LogoutPage {
        return unauthorized(why);
    }
    respond(
        StatusCode::OK,
        "text/html;charset=UTF-8",
        format!(
            "<!DOCTYPE html>\n<html><head><title>CloudVision Portal</title></head>\n<body>\n<!-- {LOG_OUT_MARK} -->\n<div class=\"logout-message\">You have been logged out: your session has expired or is not valid. Please log in again.</div>\n<form action=\"/web/login/authenticate.do\" method=\"post\"></form>\n</body></html>\n"
        ),
    )
}

/// The Resource API's devices: one `{"result": ...}` object a line, as the REST gateway streams them.
fn devices() -> Response<LabBody> {
    let device = |n: u32| {
        json!({"result": {"value": {
            "key": {"deviceId": format!("JPE2000000{n}")},
            "softwareVersion": "4.32.2F", "modelName": "DCS-7050SX3-48YC8",
            "fqdn": format!("leaf{n}.preflight.lab"), "hostname": format!("leaf{n}"),
            "systemMacAddress": format!("00:1c:73:00:00:0{n}"),
            "streamingStatus": "STREAMING_STATUS_ACTIVE",
        }, "time": "2026-01-15T00:00:00Z", "type": "INITIAL"}})
    };
    respond(
        StatusCode::OK,
        "application/json",
        format!("{}\n{}\n", device(1), device(2)),
    )
}

/// `GET /api/resources/inventory/v1/Device/all`: errors as the REST gateway writes a gRPC status.
fn resource_devices(ask: &Ask, headers: &HeaderMap) -> Response<LabBody> {
    match rest_caller(ask, headers) {
        Err(why) if ask.flavor == Flavor::LogoutPage => refused(ask.flavor, why),
        Err(why) => json(
            StatusCode::UNAUTHORIZED,
            &json!({"code": Code::Unauthenticated.value(), "message": why.message(), "details": []}),
        ),
        Ok(Role::Viewer) => json(
            StatusCode::FORBIDDEN,
            &json!({"code": Code::PermissionDenied.value(), "message": "permission denied: no read access to inventory", "details": []}),
        ),
        Ok(Role::Admin) => devices(),
    }
}

fn not_found() -> Response<LabBody> {
    respond(
        StatusCode::NOT_FOUND,
        "text/html",
        "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>\n",
    )
}

fn method_not_allowed(allow: &'static str) -> Response<LabBody> {
    let mut res = json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"errorMessage": "Method Not Allowed"}),
    );
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    res
}

/// Serves one request.
pub async fn handle(flavor: Flavor, req: Request<Incoming>) -> Response<LabBody> {
    let ask = Ask {
        flavor,
        host: host_of(&req),
    };
    let path = req.uri().path().to_string();
    if wire::is_grpc(req.headers()) || path.starts_with(wire::SERVICE_PREFIX) {
        return grpc_call(&ask, req).await;
    }
    if flavor == Flavor::CvaasApiserver {
        return not_found();
    }
    let method = req.method().clone();
    if LOGIN_PATHS.contains(&path.as_str()) {
        if flavor.is_cvaas() {
            return not_found();
        }
        if method != Method::POST {
            return method_not_allowed("POST");
        }
        let (parts, body) = http::read(req).await;
        return login(flavor, &parts.headers, body.as_ref());
    }
    let get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        _ if !get => match path.as_str() {
            "/" | INFO_PATH | "/api/v1/rest" | REST_ROOT | INVENTORY_PATH => {
                method_not_allowed("GET, HEAD")
            }
            RESOURCE_DEVICES if flavor.has_resource_api() => method_not_allowed("GET, HEAD"),
            _ => not_found(),
        },
        "/" => respond(
            StatusCode::OK,
            "text/html",
            "<html><body>CloudVision (preflight lab)</body></html>\n",
        ),
        INFO_PATH => match rest_caller(&ask, req.headers()) {
            Err(why) => refused(flavor, why),
            Ok(_) => info(flavor),
        },
        "/api/v1/rest" | REST_ROOT => match rest_caller(&ask, req.headers()) {
            Err(why) => refused(flavor, why),
            Ok(_) => json(StatusCode::OK, &json!({})),
        },
        INVENTORY_PATH => match rest_caller(&ask, req.headers()) {
            Err(why) => refused(flavor, why),
            Ok(Role::Viewer) => json(
                StatusCode::FORBIDDEN,
                &json!({"errorCode": "112500", "errorMessage": "Forbidden: the user lacks the inventory permission"}),
            ),
            Ok(Role::Admin) => json(StatusCode::OK, &json!([])),
        },
        RESOURCE_DEVICES if flavor.has_resource_api() => resource_devices(&ask, req.headers()),
        _ => not_found(),
    }
}

/// `getCvpInfo.do` as each release answers it.
fn info(flavor: Flavor) -> Response<LabBody> {
    match flavor {
        Flavor::V2026 => respond(StatusCode::OK, "text/plain", version(flavor)),
        f if f.is_cvaas() => json(StatusCode::OK, &json!({"version": version(flavor)})),
        _ => json(
            StatusCode::OK,
            &json!({"version": version(flavor), "appVersion": ""}),
        ),
    }
}

/// `{"userId","password"}` from a JSON body, else HTTP Basic.
fn login_credentials(headers: &HeaderMap, body: Option<&Bytes>) -> Option<(String, String)> {
    let from_body = body
        .filter(|b| !b.is_empty() && (is_json(headers) || b.starts_with(b"{")))
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| {
            let user = v.get("userId")?.as_str()?.to_string();
            let password = v.get("password")?.as_str()?.to_string();
            Some((user, password))
        });
    from_body.or_else(|| match authorization(headers) {
        Presented::Basic { user, password } => Some((user, password)),
        _ => None,
    })
}

fn login(flavor: Flavor, headers: &HeaderMap, body: Option<&Bytes>) -> Response<LabBody> {
    // The legacy release takes HTTP Basic only (the vendor page's example): a JSON body is a 415.
    if flavor == Flavor::Legacy && is_json(headers) {
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!({"errorMessage": "Unsupported Media Type: use HTTP Basic"}),
        );
    }
    let Some((user, password)) = login_credentials(headers, body) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"errorCode": "112497", "errorMessage": "Missing userId or password (JSON body or HTTP Basic)"}),
        );
    };
    let role = match (user.as_str(), password.as_str()) {
        (Credentials::CVP_USER, Credentials::CVP_PASSWORD) => Some(Role::Admin),
        (Credentials::CVP_VIEWER_USER, Credentials::CVP_VIEWER_PASSWORD) => Some(Role::Viewer),
        _ => None,
    };
    let Some(role) = role else {
        return match flavor {
            Flavor::Legacy => json(
                StatusCode::UNAUTHORIZED,
                &json!({"errorMessage": "User is unauthorized"}),
            ),
            Flavor::Login112498 => json(
                StatusCode::OK,
                &json!({"errorCode": "112498", "errorMessage": "Unauthorized User"}),
            ),
            _ => json(
                StatusCode::OK,
                &json!({"errorCode": "112498", "errorMessage": "Invalid credentials"}),
            ),
        };
    };
    session(&user, role)
}

/// A logged-in user's answer: the session token, in the body and as the `access_token` cookie.
fn session(user: &str, role: Role) -> Response<LabBody> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = jwt::cvp_token(user, jwt::DST_USER, now, now + 24 * 3600);
    let (roles, permissions) = match role {
        Role::Admin => (
            json!(["network-admin"]),
            json!([{"name": "inventory", "mode": "rw"}, {"name": "provisioning", "mode": "rw"}]),
        ),
        Role::Viewer => (json!(["viewer"]), json!([])),
    };
    let mut res = json(
        StatusCode::OK,
        &json!({
            "sessionId": token,
            "username": user,
            "roles": roles,
            "permissionList": permissions,
            "user": {
                "userId": user,
                "email": "",
                "firstName": "",
                "lastName": "",
                "userStatus": "Enabled",
                "userType": "Local",
                "currentStatus": "Online",
            },
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("access_token={token}; Path=/; Secure; HttpOnly"))
    {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

async fn grpc_call(ask: &Ask, req: Request<Incoming>) -> Response<LabBody> {
    if let Some(refused) = grpc::needs_http2(req.version()) {
        return refused;
    }
    if req.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let path = req.uri().path().to_string();
    let (parts, body) = http::read(req).await;
    if ask.flavor == Flavor::CvaasApiserver {
        // The streaming front serves its own services, not the Resource APIs.
        return grpc::status(
            Code::Unknown,
            &format!("unknown service {}", service(&path)),
        );
    }
    if path != GET_ONE && path != GET_ALL {
        return grpc::status(
            Code::Unimplemented,
            &format!("unknown service or method {path}"),
        );
    }
    if body.as_deref().and_then(wire::messages).is_none() {
        return grpc::status(Code::Internal, "grpc: malformed request message framing");
    }
    let token = match authorization(&parts.headers) {
        Presented::Bearer(t) => Some(t),
        Presented::None => None,
        // Another scheme is no token at all for a gRPC server.
        _ => Some(String::new()),
    };
    match token_role(ask, token.as_deref()) {
        Err(why) => grpc::status(Code::Unauthenticated, why.message()),
        Ok(Role::Viewer) => grpc::status(
            Code::PermissionDenied,
            "permission denied: the token lacks the inventory role",
        ),
        Ok(Role::Admin) if path == GET_ONE => grpc::status(Code::NotFound, "device not found"),
        // GetAll: the lab has no devices; the stream ends at once.
        Ok(Role::Admin) => grpc::status(Code::Ok, ""),
    }
}

/// `arista.inventory.v1.DeviceService` of `/arista.inventory.v1.DeviceService/GetOne`.
fn service(path: &str) -> &str {
    let p = path.trim_start_matches('/');
    p.split_once('/').map_or(p, |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_takes_its_own_tenants_tokens_only() {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ask = Ask {
            flavor: Flavor::CvaasCluster,
            host: "www.arista.io".into(),
        };
        let account = Credentials::CVP_SERVICE_ACCOUNT;
        let mine = cvaas_token(
            account,
            jwt::DST_ACCOUNT,
            "arista.io",
            LAB_TENANT,
            now,
            now + 60,
        );
        assert_eq!(token_role(&ask, Some(&mine)), Ok(Role::Admin));
        let other = cvaas_token(
            account,
            jwt::DST_ACCOUNT,
            "cv-prod-euwest-2.arista.io",
            LAB_TENANT,
            now,
            now + 60,
        );
        assert_eq!(
            token_role(&ask, Some(&other)),
            Err(NoAuth::Refused(Refused::Invalid))
        );
        let tenant = cvaas_token(
            account,
            jwt::DST_ACCOUNT,
            "arista.io",
            "someone-else",
            now,
            now + 60,
        );
        assert_eq!(
            token_role(&ask, Some(&tenant)),
            Err(NoAuth::Refused(Refused::Invalid))
        );
        let user = cvaas_token(
            account,
            jwt::DST_USER,
            "arista.io",
            LAB_TENANT,
            now,
            now + 60,
        );
        assert_eq!(
            token_role(&ask, Some(&user)),
            Err(NoAuth::Refused(Refused::Invalid))
        );
        // Tokens that name no cluster or tenant (older ones) are taken.
        let old = jwt::cvp_token(account, jwt::DST_ACCOUNT, now, now + 60);
        assert_eq!(token_role(&ask, Some(&old)), Ok(Role::Admin));
        let forbidden = Ask {
            flavor: Flavor::Forbidden,
            host: String::new(),
        };
        assert_eq!(token_role(&forbidden, Some(&old)), Ok(Role::Viewer));
        assert_eq!(service(GET_ONE), "arista.inventory.v1.DeviceService");
    }
}
