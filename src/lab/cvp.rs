//! CloudVision as the lab emulates it (see `../shared/reference/products.md`): password login in both body
//! forms with the `access_token` cookie, `getCvpInfo.do` in its three answer forms, the REST root, a legacy
//! REST call that needs a role, and the gRPC inventory service with statuses 0, 5, 7 and 16.

use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, SET_COOKIE};
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
}

/// The version string of each flavor, as `getCvpInfo.do` reports it.
pub fn version(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Modern => "2024.3.0",
        Flavor::Legacy => "2021.2.2",
        Flavor::V2026 => "2026.1.3",
        Flavor::Cvaas => "CVaaS",
    }
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

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// network-admin: everything.
    Admin,
    /// Logged in, but without the inventory permission.
    Viewer,
}

fn role_of(name: &str) -> Option<Role> {
    match name {
        Credentials::CVP_USER | Credentials::CVP_SERVICE_ACCOUNT => Some(Role::Admin),
        Credentials::CVP_VIEWER_USER => Some(Role::Viewer),
        _ => None,
    }
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
fn rest_caller(flavor: Flavor, headers: &HeaderMap) -> Result<Role, NoAuth> {
    let token = match authorization(headers) {
        Presented::Bearer(t) => Some(t),
        _ => cookie(headers, "access_token"),
    };
    token_role(flavor, token.as_deref())
}

fn token_role(flavor: Flavor, token: Option<&str>) -> Result<Role, NoAuth> {
    let token = token.ok_or(NoAuth::Missing)?;
    let claims = jwt::verify(token, "RS256", OffsetDateTime::now_utc()).map_err(NoAuth::Refused)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    // CVaaS knows nothing of on-prem sessions: only service-account tokens.
    if flavor == Flavor::Cvaas && text("dst") != jwt::DST_ACCOUNT {
        return Err(NoAuth::Refused(Refused::Invalid));
    }
    role_of(text("dsn")).ok_or(NoAuth::Refused(Refused::Invalid))
}

fn unauthorized(why: NoAuth) -> Response<LabBody> {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"errorCode": "112499", "errorMessage": why.message()}),
    )
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
    let path = req.uri().path().to_string();
    if wire::is_grpc(req.headers()) || path.starts_with(wire::SERVICE_PREFIX) {
        return grpc_call(flavor, req).await;
    }
    let method = req.method().clone();
    if LOGIN_PATHS.contains(&path.as_str()) {
        if flavor == Flavor::Cvaas {
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
        "/" if get => respond(
            StatusCode::OK,
            "text/html",
            "<html><body>CloudVision (preflight lab)</body></html>\n",
        ),
        INFO_PATH if get => match rest_caller(flavor, req.headers()) {
            Err(why) => unauthorized(why),
            Ok(_) => match flavor {
                Flavor::V2026 => respond(StatusCode::OK, "text/plain", version(flavor)),
                Flavor::Cvaas => json(StatusCode::OK, &json!({"version": version(flavor)})),
                Flavor::Modern | Flavor::Legacy => json(
                    StatusCode::OK,
                    &json!({"version": version(flavor), "appVersion": ""}),
                ),
            },
        },
        "/api/v1/rest" | REST_ROOT if get => match rest_caller(flavor, req.headers()) {
            Err(why) => unauthorized(why),
            Ok(_) => json(StatusCode::OK, &json!({})),
        },
        INVENTORY_PATH if get => match rest_caller(flavor, req.headers()) {
            Err(why) => unauthorized(why),
            Ok(Role::Viewer) => json(
                StatusCode::FORBIDDEN,
                &json!({"errorCode": "112500", "errorMessage": "Forbidden: the user lacks the inventory permission"}),
            ),
            Ok(Role::Admin) => json(StatusCode::OK, &json!([])),
        },
        "/" | INFO_PATH | "/api/v1/rest" | REST_ROOT | INVENTORY_PATH => {
            method_not_allowed("GET, HEAD")
        }
        _ => not_found(),
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

async fn grpc_call(flavor: Flavor, req: Request<Incoming>) -> Response<LabBody> {
    if let Some(refused) = grpc::needs_http2(req.version()) {
        return refused;
    }
    if req.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let path = req.uri().path().to_string();
    let (parts, body) = http::read(req).await;
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
    match token_role(flavor, token.as_deref()) {
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
