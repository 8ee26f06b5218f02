//! Prisma Cloud Compute: `product.ping`, then `auth.basic`, `auth.password`, `auth.client-cert`, each proven
//! on `GET /api/v1/version` (any authenticated user may call it).

use serde_json::json;
use time::OffsetDateTime;

use super::{http_failure, token_facts, transport_failure};
use crate::codes::Code;
use crate::credentials::Credentials;
use crate::net::http::{Auth, Http};
use crate::report::{Check, Status};
use crate::secret::Secret;

/// `GET /api/v1/_ping`: proves this is a Console before any credential is sent.
pub async fn ping(http: &Http) -> Check {
    let id = "product.ping";
    match http.get("/api/v1/_ping", Auth::None).await {
        Ok(r) if r.status == 200 => Check::pass(id, "GET /api/v1/_ping answered 200 without credentials: a Prisma Cloud Compute Console"),
        Ok(r) if r.status == 404 => Check::fail(
            id,
            Code::EndpointNotFound,
            format!("GET {} answered 404: no Console API at this base URL", http.url("/api/v1/_ping")),
            "A SaaS Console lives under a tenant path: use https://REGION.cloud.twistlock.com/TENANT (copy it from Manage > System > Utilities, Path to Console); a self-hosted Console answers on port 8083",
        ),
        Ok(r) => Check::fail(
            id,
            Code::NotAConsole,
            format!("GET /api/v1/_ping answered HTTP {}, not as a Prisma Cloud Compute Console does (200)", r.status),
            "Check `--product` and the port (the Console's API is on 8083 unless twistlock.cfg says otherwise)",
        )
        .with_fact("http_status", r.status),
        Err(e) => transport_failure(http, id, "GET /api/v1/_ping", &e),
    }
}

/// `"34.04.145"` from `/api/v1/version`.
fn version(body: &str) -> Option<String> {
    serde_json::from_str::<String>(body).ok().or_else(|| {
        let t = body.trim().trim_matches('"');
        (!t.is_empty() && t.len() < 40 && t.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .then(|| t.to_string())
    })
}

async fn prove(http: &Http, id: &str, auth: Auth<'_>, who: &str) -> Check {
    match http.get("/api/v1/version", auth).await {
        Ok(r) if r.status == 200 => {
            let v = version(&r.body)
                .map(|v| http.excerpt(&v, 40))
                .unwrap_or_else(|| "unknown".into());
            Check::pass(
                id,
                format!("{who}: GET /api/v1/version answered 200 (Console {v})"),
            )
            .with_fact("console_version", v)
        }
        Ok(r) => http_failure(
            http,
            id,
            &format!("{who}: GET /api/v1/version"),
            &r,
            &http.url("/api/v1/version"),
        ),
        Err(e) => transport_failure(http, id, &format!("{who}: GET /api/v1/version"), &e),
    }
}

async fn token_login(
    http: &Http,
    id: &str,
    path: &str,
    body: Option<serde_json::Value>,
    who: &str,
    now: OffsetDateTime,
) -> Check {
    let sent = match &body {
        Some(b) => http.post_json(path, b, Auth::None).await,
        None => http.post_empty(path, Auth::None).await,
    };
    let reply = match sent {
        Ok(r) => r,
        Err(e) => return transport_failure(http, id, &format!("POST {path}"), &e),
    };
    if reply.status != 200 {
        let mut c = http_failure(
            http,
            id,
            &format!("{who}: POST {path}"),
            &reply,
            &http.url(path),
        );
        if reply.status == 401 && path.ends_with("authenticate-client") {
            c.fix = Some("The Console does not accept this client certificate: upload its issuing CA in the Console (Manage > Authentication > Certificates) and map the certificate's CN or UPN to a user".into());
        }
        return c;
    }
    let Some(token) = reply
        .json()
        .and_then(|j| j.get("token").and_then(|t| t.as_str()).map(Secret::new))
    else {
        // Whatever came back may hold a token under another name: nothing of it is quoted.
        return Check::fail(
            id,
            Code::NotAConsole,
            format!("{who}: POST {path} answered 200 without a token"),
            "Check that this is a Prisma Cloud Compute Console API",
        );
    };
    // The token is a secret from the moment it arrives.
    http.learn(&token);
    let proof = prove(
        http,
        id,
        Auth::Bearer(&token),
        &format!("{who} (token from {path})"),
    )
    .await;
    // Just obtained: its lifetime is a fact (30 minutes by default), not a warning.
    super::obtained_token_facts(proof, &token, now)
}

/// Every Prisma method the credentials allow, in turn.
pub async fn run(http: &Http, creds: &Credentials, now: OffsetDateTime) -> Vec<Check> {
    let mut checks = Vec::new();
    if let (Some(user), Some(password)) = (&creds.user, &creds.password) {
        let basic = prove(
            http,
            "auth.basic",
            Auth::Basic(user, password),
            &format!("Basic auth as {user}"),
        )
        .await;
        let body = json!({"username": user, "password": password.expose()});
        let token = token_login(
            http,
            "auth.password",
            "/api/v1/authenticate",
            Some(body),
            &format!("user {user}"),
            now,
        )
        .await;
        let basic = if basic.code == Code::BadCredentials && token.status == Status::Pass {
            Check::fail(
                "auth.basic",
                Code::UnsupportedMethod,
                format!("Basic auth as {user} is refused (401) while the same credentials log in through /api/v1/authenticate: Basic auth is disabled on this Console"),
                "Use token authentication (POST /api/v1/authenticate, then Authorization: Bearer), or ask the Console admin to allow Basic auth",
            )
        } else {
            basic
        };
        checks.push(basic);
        checks.push(token);
    }
    for t in &creds.tokens {
        let id = format!("auth.{}", t.method);
        let who = format!("token from {}", t.origin);
        let proof = prove(http, &id, Auth::Bearer(&t.token), &who).await;
        let (proof, finding) = token_facts(proof, &t.token, now);
        let proof = match finding {
            Some((code, text)) => {
                let status = if code == Code::TokenExpired {
                    Status::Fail
                } else if proof.status == Status::Pass {
                    Status::Warn
                } else {
                    proof.status
                };
                let mut c = Check::new(&id, status, code, format!("{}; {text}", proof.summary)).with_fix("Authenticate again (POST /api/v1/authenticate) or renew the token (GET /api/v1/authenticate/renew)");
                c.facts = proof.facts;
                c
            }
            None => proof,
        };
        checks.push(proof.with_fact("token_origin", t.origin.clone()));
    }
    if creds.identity.is_some() {
        checks.push(
            token_login(
                http,
                "auth.client-cert",
                "/api/v1/authenticate-client",
                None,
                "client certificate",
                now,
            )
            .await,
        );
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::version;

    #[test]
    fn versions() {
        assert_eq!(version("\"34.04.145\"").as_deref(), Some("34.04.145"));
        assert_eq!(version("34.04.145\n").as_deref(), Some("34.04.145"));
        assert_eq!(version("<html>"), None);
    }
}
