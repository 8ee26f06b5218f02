//! CloudVision: `auth.password` (login, on-prem only), `auth.token-file`, `auth.token-env`, each token read
//! as a JWT when it is one and proven on `GET /cvpservice/cvpInfo/getCvpInfo.do`.

use serde_json::json;
use time::OffsetDateTime;

use super::http::{Auth, Http, Reply};
use super::{http_failure, token_facts, transport_failure, Credentials};
use crate::codes::Code;
use crate::report::{Check, Status};
use crate::secret::Secret;
use crate::target::Product;

const LOGIN: &str = "/cvpservice/login/authenticate.do";
const INFO: &str = "/cvpservice/cvpInfo/getCvpInfo.do";

/// The version in any of the three answers seen: `{"version":"2024.3.0"}`, bare `2026.1.3`, `{"version":"CVaaS"}`.
pub fn cvp_version(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(s) = v.get("version").and_then(|x| x.as_str()) {
            return Some(s.to_string());
        }
        if let Some(s) = v.as_str() {
            return Some(s.to_string());
        }
    }
    let t = body.trim();
    (!t.is_empty()
        && t.len() < 40
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    .then(|| t.to_string())
}

/// A CloudVision "200 with errorMessage": bad credentials, not success.
fn error_message(r: &Reply) -> Option<String> {
    let j = r.json()?;
    j.get("errorMessage")
        .and_then(|m| m.as_str())
        .map(str::to_string)
}

async fn prove(http: &Http, id: &str, token: &Secret, who: &str, now: OffsetDateTime) -> Check {
    let (facts_only, finding) = token_facts(Check::pass(id, ""), token, now);
    if let Some((Code::TokenExpired, text)) = &finding {
        let mut c = Check::fail(id, Code::TokenExpired, format!("{who}: {text}"), "Create a new service-account token (Settings > Access Control > Service Accounts) or log in again; an expired token can also show up as empty results rather than an error");
        c.facts = facts_only.facts;
        return c;
    }
    let check = match http.get(INFO, Auth::Bearer(token)).await {
        Ok(r) if r.status == 200 => match error_message(&r) {
            Some(m) => Check::fail(
                id,
                Code::BadCredentials,
                format!("{who}: {INFO} answered 200 with errorMessage `{m}`"),
                "Check the token; create a new one if in doubt",
            ),
            None => {
                let v = cvp_version(&r.body).unwrap_or_else(|| "unknown".into());
                Check::pass(
                    id,
                    format!("{who}: the token is accepted (GET {INFO}: CloudVision {v})"),
                )
                .with_fact("cvp_version", v)
            }
        },
        Ok(r) => http_failure(id, &format!("{who}: GET {INFO}"), &r, &http.url(INFO)),
        Err(e) => transport_failure(id, &format!("{who}: GET {INFO}"), &e),
    };
    let mut check = check;
    for (k, v) in facts_only.facts {
        check.facts.insert(k, v);
    }
    match finding {
        Some((code, text)) if check.status == Status::Pass => {
            let mut c = Check::new(
                id,
                Status::Warn,
                code,
                format!("{}; but {text}", check.summary),
            )
            .with_fix("Renew the token before the job that uses it runs");
            c.facts = check.facts;
            c
        }
        _ => check,
    }
}

async fn password(
    http: &Http,
    user: &str,
    pass: &Secret,
    product: Product,
    now: OffsetDateTime,
) -> Check {
    let id = "auth.password";
    if product == Product::Cvaas {
        return Check::fail(
            id,
            Code::UnsupportedMethod,
            "CloudVision as a Service has no password login: API clients use service-account tokens",
            "Create a service-account token in CloudVision (Settings > Access Control > Service Accounts) and pass it with --token-file or CLOUDVISION_ACCESS_TOKEN",
        );
    }
    let body = json!({"userId": user, "password": pass.expose()});
    let reply = match http.post_json(LOGIN, &body, Auth::None).await {
        Ok(r) => r,
        Err(e) => return transport_failure(id, &format!("POST {LOGIN}"), &e),
    };
    if reply.status != 200 {
        let mut c = http_failure(
            id,
            &format!("login as {user}: POST {LOGIN}"),
            &reply,
            &http.url(LOGIN),
        );
        if c.code == Code::BadCredentials {
            c.summary = format!(
                "login as {user} refused: POST {LOGIN} answered {} ({})",
                reply.status,
                first_line(&reply.body)
            );
        }
        return c;
    }
    if let Some(m) = error_message(&reply) {
        return Check::fail(
            id,
            Code::BadCredentials,
            format!("login as {user} refused: HTTP 200, but the body says `{m}` (CloudVision reports bad credentials with a 200)"),
            "Check the user name and password (local users, or the AAA server CloudVision uses); a script that only checks the status code will think this login worked",
        );
    }
    let Some(token) = reply
        .json()
        .and_then(|j| j.get("sessionId").and_then(|t| t.as_str()).map(Secret::new))
    else {
        return Check::fail(
            id,
            Code::NotAConsole,
            format!("POST {LOGIN} answered 200 without a sessionId"),
            "Check `--product` and the port: this does not answer like CloudVision",
        );
    };
    prove(http, id, &token, &format!("logged in as {user}"), now).await
}

fn first_line(body: &str) -> String {
    let line: String = body
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    if line.is_empty() {
        "empty body".into()
    } else {
        line
    }
}

/// Every CloudVision method the credentials allow, in turn.
pub async fn run(
    http: &Http,
    creds: &Credentials,
    product: Product,
    now: OffsetDateTime,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if let (Some(user), Some(pass)) = (&creds.user, &creds.password) {
        checks.push(password(http, user, pass, product, now).await);
    }
    for t in &creds.tokens {
        let id = format!("auth.{}", t.method);
        let c = prove(
            http,
            &id,
            &t.token,
            &format!("token from {}", t.origin),
            now,
        )
        .await;
        checks.push(c.with_fact("token_origin", t.origin.clone()));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::cvp_version;

    #[test]
    fn three_version_forms() {
        assert_eq!(
            cvp_version(r#"{"version":"2024.3.0","appVersion":""}"#).as_deref(),
            Some("2024.3.0")
        );
        assert_eq!(cvp_version("2026.1.3\n").as_deref(), Some("2026.1.3"));
        assert_eq!(
            cvp_version(r#"{"version":"CVaaS"}"#).as_deref(),
            Some("CVaaS")
        );
        assert_eq!(cvp_version("<html><body>login</body></html>"), None);
    }
}
