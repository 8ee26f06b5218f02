//! CloudVision: `auth.password` (login, on-prem only), `auth.token-file`, `auth.token-env`, each token read
//! as a JWT when it is one and proven on `GET /cvpservice/cvpInfo/getCvpInfo.do`.

use serde_json::json;
use time::OffsetDateTime;

use super::{http_failure, token_facts, transport_failure};
use crate::codes::Code;
use crate::credentials::Credentials;
use crate::net::grpc::{self, Outcome};
use crate::net::http::{Auth, Http, Reply};
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

/// A CloudVision "200 with errorMessage": bad credentials, not success. The message, redacted.
fn error_message(http: &Http, r: &Reply) -> Option<String> {
    let j = r.json()?;
    j.get("errorMessage")
        .and_then(|m| m.as_str())
        .map(|m| http.excerpt(m, 160))
}

/// The CloudVision version a body names, redacted (a bare body is server text).
fn version_in(http: &Http, body: &str) -> String {
    cvp_version(body)
        .map(|v| http.excerpt(&v, 40))
        .unwrap_or_else(|| "unknown".into())
}

/// Where gRPC calls go: the same server, over the same trusted channel, with ALPN h2.
#[derive(Clone)]
pub struct GrpcTarget {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    pub name: rustls::pki_types::ServerName<'static>,
    pub authority: String,
    /// How connections reach the server (directly or through the proxy).
    pub route: crate::net::route::Route,
    pub timeout: std::time::Duration,
    /// The run's secrets: a gRPC message is server text.
    pub redactor: crate::secret::Redactor,
}

impl GrpcTarget {
    /// The call's outcome with every text the server wrote (a grpc-message, an error) redacted.
    async fn get_one(&self, token: Option<&Secret>) -> Outcome {
        let outcome = grpc::get_one(
            self.config.clone(),
            self.name.clone(),
            &self.authority,
            &self.route,
            token,
            self.timeout,
        )
        .await;
        match outcome {
            Outcome::Status(c, m) => Outcome::Status(c, self.redactor.excerpt(&m, 200)),
            Outcome::Failed(w) => Outcome::Failed(self.redactor.excerpt(&w, 200)),
            Outcome::NoH2(p) => Outcome::NoH2(p.map(|p| self.redactor.excerpt(&p, 40))),
            other => other,
        }
    }
}

/// Adds the gRPC verdict on a token REST accepted.
async fn prove_grpc(check: Check, id: &str, token: &Secret, g: &GrpcTarget) -> Check {
    let outcome = g.get_one(Some(token)).await;
    let mut check = check.with_fact("grpc", format!("{outcome:?}").replace('"', "'"));
    match outcome {
        Outcome::Status(c @ (0 | 5), _) => {
            check.summary = format!(
                "{}; gRPC GetOne answered {} (accepted)",
                check.summary,
                grpc::status_name(c)
            );
            check
        }
        Outcome::Status(16, _) => {
            let mut c = Check::fail(id, Code::BadCredentials, format!("{}; but gRPC refuses the same token (UNAUTHENTICATED)", check.summary), "gRPC clients need a token gRPC accepts: use a service-account token, and check the clock (an expired token is refused)");
            c.facts = check.facts;
            c
        }
        Outcome::Status(7, m) => {
            let mut c = Check::fail(
                id,
                Code::Forbidden,
                format!(
                    "{}; but gRPC GetOne answered PERMISSION_DENIED{}",
                    check.summary,
                    if m.is_empty() {
                        String::new()
                    } else {
                        format!(" ({m})")
                    }
                ),
                "Give the user or service account a role with inventory read access",
            );
            c.facts = check.facts;
            c
        }
        Outcome::NoH2(_) => {
            check.summary = format!(
                "{}; gRPC not tried: the server does not negotiate h2 (see tls.alpn)",
                check.summary
            );
            check
        }
        other => {
            check.summary = format!("{}; gRPC GetOne: {}", check.summary, describe(&other));
            check
        }
    }
}

pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Status(c, m) if m.is_empty() => format!("{} ({c})", grpc::status_name(*c)),
        Outcome::Status(c, m) => format!("{} ({c}): {m}", grpc::status_name(*c)),
        Outcome::Http(s) => format!("HTTP {s} instead of a gRPC answer (a proxy in front?)"),
        Outcome::NoH2(p) => format!("no h2 (ALPN {})", p.as_deref().unwrap_or("none")),
        Outcome::Failed(w) => w.clone(),
    }
}

/// `grpc.<port>`: a call without a token must come back UNAUTHENTICATED, which proves gRPC is served.
pub async fn grpc_served(port: u16, g: &GrpcTarget) -> Check {
    let id = format!("grpc.{port}");
    let outcome = g.get_one(None).await;
    let check = match &outcome {
        Outcome::Status(16, _) => Check::pass(&id, format!("gRPC is served on {port}: GetOne without a token answered UNAUTHENTICATED, as it should")),
        Outcome::Status(c @ (0 | 5), _) => Check::new(&id, Status::Warn, Code::Ok, format!("gRPC on {port} answered {} without any token", grpc::status_name(*c))).with_fix("Check that the API requires authentication"),
        Outcome::Status(12, _) => Check::fail(&id, Code::NotAConsole, format!("gRPC is served on {port}, but not the CloudVision inventory service (UNIMPLEMENTED)"), "Check `--product` and the port: CVP 2021.3+ serves gRPC on 443, older releases on 8443"),
        Outcome::Status(c, m) => Check::new(&id, Status::Warn, Code::Ok, format!("gRPC on {port} answered {}{}", grpc::status_name(*c), if m.is_empty() { String::new() } else { format!(": {m}") })).with_fix("Retry with -v; the server may be starting up"),
        Outcome::Http(s) => Check::fail(&id, Code::HttpFailed, format!("port {port} answered HTTP {s} to a gRPC call: something in front of CloudVision handles HTTP/2 but not gRPC"), "Make the proxy or load balancer pass gRPC (HTTP/2 with trailers) through to CloudVision"),
        Outcome::NoH2(p) => Check::fail(&id, Code::AlpnH2Missing, format!("gRPC cannot work on {port}: ALPN chose {} instead of h2", p.as_deref().unwrap_or("nothing")), "Whatever terminates TLS must negotiate HTTP/2 (nginx: `listen 443 ssl http2;`)"),
        Outcome::Failed(w) => Check::fail(&id, Code::HttpFailed, format!("the gRPC call on {port} failed: {w}"), format!("Port {port} negotiates HTTP/2 but does not answer gRPC as CloudVision does: check what terminates TLS there (a proxy or load balancer must pass gRPC, HTTP/2 with trailers, through); retry with -v")),
    };
    check.with_fact("outcome", describe(&outcome))
}

async fn prove(
    http: &Http,
    id: &str,
    token: &Secret,
    who: &str,
    now: OffsetDateTime,
    g: Option<&GrpcTarget>,
) -> Check {
    let checked = prove_rest(http, id, token, who, now).await;
    match g {
        Some(g) if checked.status == Status::Pass || checked.status == Status::Warn => {
            prove_grpc(checked, id, token, g).await
        }
        _ => checked,
    }
}

async fn prove_rest(
    http: &Http,
    id: &str,
    token: &Secret,
    who: &str,
    now: OffsetDateTime,
) -> Check {
    let (facts_only, finding) = token_facts(Check::pass(id, ""), token, now);
    if let Some((Code::TokenExpired, text)) = &finding {
        let mut c = Check::fail(id, Code::TokenExpired, format!("{who}: {text}"), "Create a new service-account token (Settings > Access Control > Service Accounts) or log in again; an expired token can also show up as empty results rather than an error");
        c.facts = facts_only.facts;
        return c;
    }
    let check = match http.get(INFO, Auth::Bearer(token)).await {
        Ok(r) if r.status == 200 => match error_message(http, &r) {
            Some(m) => Check::fail(
                id,
                Code::BadCredentials,
                format!("{who}: {INFO} answered 200 with errorMessage `{m}`"),
                "Check the token; create a new one if in doubt",
            ),
            None => {
                let v = version_in(http, &r.body);
                Check::pass(
                    id,
                    format!("{who}: the token is accepted (GET {INFO}: CloudVision {v})"),
                )
                .with_fact("cvp_version", v)
            }
        },
        Ok(r) => http_failure(http, id, &format!("{who}: GET {INFO}"), &r, &http.url(INFO)),
        Err(e) => transport_failure(http, id, &format!("{who}: GET {INFO}"), &e),
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
    g: Option<&GrpcTarget>,
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
    let mut reply = match http.post_json(LOGIN, &body, Auth::None).await {
        Ok(r) => r,
        Err(e) => return transport_failure(http, id, &format!("POST {LOGIN}"), &e),
    };
    // Releases that do not take the JSON body answer 400/415: try HTTP Basic, as the vendor's example does.
    if matches!(reply.status, 400 | 415) {
        match http.post_empty(LOGIN, Auth::Basic(user, pass)).await {
            Ok(r) => reply = r,
            Err(e) => return transport_failure(http, id, &format!("POST {LOGIN} (Basic)"), &e),
        }
    }
    if reply.status != 200 {
        let mut c = http_failure(
            http,
            id,
            &format!("login as {user}: POST {LOGIN}"),
            &reply,
            &http.url(LOGIN),
        );
        if c.code == Code::BadCredentials {
            c.summary = format!(
                "login as {user} refused: POST {LOGIN} answered {} ({})",
                reply.status,
                first_line(http, &reply.body)
            );
        }
        return c;
    }
    if let Some(m) = error_message(http, &reply) {
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
        // Whatever came back may hold a session under another name: nothing of it is quoted.
        return Check::fail(
            id,
            Code::NotAConsole,
            format!("POST {LOGIN} answered 200 without a sessionId"),
            "Check `--product` and the port: this does not answer like CloudVision",
        );
    };
    // The session is a secret from the moment it arrives.
    http.learn(&token);
    prove(http, id, &token, &format!("logged in as {user}"), now, g).await
}

fn first_line(http: &Http, body: &str) -> String {
    let line = http.excerpt(body, 120);
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
    g: Option<&GrpcTarget>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    if let (Some(user), Some(pass)) = (&creds.user, &creds.password) {
        checks.push(password(http, user, pass, product, now, g).await);
    }
    if creds.identity.is_some() {
        // Mutual TLS: the client certificate is on the connection; no token is sent.
        let id = "auth.client-cert";
        let check = match http.get(INFO, Auth::None).await {
            Ok(r) if r.status == 200 && error_message(http, &r).is_none() => {
                let v = version_in(http, &r.body);
                Check::pass(id, format!("the client certificate is accepted: GET {INFO} answered 200 (CloudVision {v})"))
            }
            Ok(r) if r.status == 200 => Check::fail(
                id,
                Code::BadCredentials,
                format!("GET {INFO} with the client certificate answered 200 with an errorMessage"),
                "Map the certificate to a CloudVision user, or use a token",
            ),
            Ok(r) => {
                let mut c = http_failure(
                    http,
                    id,
                    &format!("client certificate: GET {INFO}"),
                    &r,
                    &http.url(INFO),
                );
                if r.status == 401 {
                    c.fix = Some("This CloudVision does not log in with client certificates (the vendor plans mutual TLS): use a service-account token".into());
                }
                c
            }
            Err(e) => transport_failure(http, id, &format!("client certificate: GET {INFO}"), &e),
        };
        checks.push(check);
    }
    for t in &creds.tokens {
        let id = format!("auth.{}", t.method);
        let c = prove(
            http,
            &id,
            &t.token,
            &format!("token from {}", t.origin),
            now,
            g,
        )
        .await;
        checks.push(c.with_fact("token_origin", t.origin.clone()));
    }
    checks
}

/// `product.login`: the CloudVision login endpoint answers (no credential is sent): anything but a 404 says
/// it is there (a GET is usually refused with 405).
pub async fn login_endpoint(http: &Http) -> Check {
    let id = "product.login";
    match http.get(LOGIN, Auth::None).await {
        Ok(r) if r.status == 404 => Check::fail(
            id,
            Code::EndpointNotFound,
            format!("{} answered 404: no CloudVision login API here", http.url(LOGIN)),
            "Check `--product` and the port: CloudVision serves its API on 443 (CloudVision as a Service has no login endpoint: use --product cvaas)",
        ),
        Ok(r) if r.status >= 500 => Check::fail(id, Code::ServerError, format!("{LOGIN} answered {}", r.status), "CloudVision may be starting up or unhealthy: check `cvpi status all` on the node"),
        Ok(r) => Check::pass(id, format!("the CloudVision login endpoint answers ({LOGIN}: HTTP {} to a GET without credentials)", r.status)).with_fact("http_status", r.status),
        Err(e) => transport_failure(http, id, &format!("GET {LOGIN}"), &e),
    }
}

/// Settles `grpc.<port>` for the target's port and the other known ports: which one serves gRPC.
pub fn which_grpc_port(port: u16, main: Check, others: Vec<Check>) -> Vec<Check> {
    let served = |c: &Check| c.status == Status::Pass;
    let working: Vec<String> = others
        .iter()
        .filter(|c| served(c))
        .map(|c| c.id.trim_start_matches("grpc.").to_string())
        .collect();
    let mut out = Vec::new();
    let main_ok = served(&main);
    match (main_ok, working.first()) {
        (false, Some(other)) => {
            let mut m = main;
            m.summary = format!("{}; gRPC is served on {other} instead", m.summary);
            m.fix = Some(format!("Point gRPC clients at port {other}: CloudVision up to 2021.2 serves gRPC on 8443, 2021.3 and later on 443 (`preflight check HOST:{other} --product cvp`)"));
            out.push(m);
        }
        _ => out.push(main),
    }
    for c in others {
        if served(&c) || !main_ok {
            out.push(c);
        } else {
            // The other port does not serve gRPC while the target's does: as expected, not a failure.
            let other = c.id.trim_start_matches("grpc.").to_string();
            let note = match other.as_str() {
                "8443" => " (CloudVision 2021.3 and later serve gRPC on 443 only)",
                _ => "",
            };
            out.push(
                Check::pass(
                    &c.id,
                    format!("no gRPC on {other}; it is served on {port}{note}"),
                )
                .with_fact(
                    "outcome",
                    c.facts.get("outcome").cloned().unwrap_or_default(),
                ),
            );
        }
    }
    out
}

/// The CloudVision as a Service API hosts (products.md); names without `www.` are not served.
pub const CVAAS_HOSTS: [&str; 8] = [
    "www.arista.io",
    "www.cv-prod-us-central1-b.arista.io",
    "www.cv-prod-us-central1-c.arista.io",
    "www.cv-prod-euwest-2.arista.io",
    "www.cv-prod-na-northeast1-b.arista.io",
    "www.cv-prod-apnortheast-1.arista.io",
    "www.cv-prod-ausoutheast-1.arista.io",
    "www.cv-prod-uk-1.arista.io",
];

/// `product.host` for CVaaS: a host without `www.`, or outside the known regions, gets the hint.
pub fn cvaas_host(host: &str) -> Option<Check> {
    let id = "product.host";
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if CVAAS_HOSTS.contains(&host.as_str()) {
        return Some(Check::pass(
            id,
            format!("{host} is a CloudVision as a Service API host"),
        ));
    }
    if host == "arista.io" || (host.ends_with(".arista.io") && !host.starts_with("www.")) {
        let with_www = if host == "arista.io" {
            "www.arista.io".to_string()
        } else {
            format!("www.{host}")
        };
        return Some(Check::fail(
            id,
            Code::UnsupportedHost,
            format!("{host} is not served: CloudVision as a Service answers the API only on names that start with www."),
            format!("Use {with_www} (regional hosts: www.cv-prod-REGION.arista.io)"),
        ));
    }
    if host.ends_with(".arista.io") {
        return Some(
            Check::new(
                id,
                Status::Warn,
                Code::UnsupportedHost,
                format!("{host} is not one of the known CloudVision as a Service regions"),
            )
            .with_fix(format!(
                "Check the region in the CloudVision URL; known hosts: {}",
                CVAAS_HOSTS.join(", ")
            )),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::cvp_version;

    #[test]
    fn cvaas_hosts() {
        use super::cvaas_host;
        assert_eq!(
            cvaas_host("www.arista.io").map(|c| c.code.as_str()),
            Some("ok")
        );
        let c = cvaas_host("arista.io").expect("check");
        assert_eq!(c.code.as_str(), "unsupported_host");
        assert!(c.fix.as_deref().unwrap_or("").contains("www.arista.io"));
        let c = cvaas_host("cv-prod-uk-1.arista.io").expect("check");
        assert!(c
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("www.cv-prod-uk-1.arista.io"));
        assert_eq!(
            cvaas_host("www.cv-prod-mars-1.arista.io").map(|c| c.status.as_str()),
            Some("warn")
        );
        assert!(cvaas_host("10.0.0.5").is_none());
    }

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
