//! CloudVision: `auth.password` (login, on-prem only), `auth.token-file`, `auth.token-env`, each token read
//! as a JWT when it is one (whose: `dsn`; what: `dst`, a service account's or a user's 24-hour session;
//! where: the tenant `ogi`/`ogn` and a cluster an `iss`/`aud` names) and proven on the legacy
//! `GET /cvpservice/cvpInfo/getCvpInfo.do`, on the Resource API over REST
//! (`GET /api/resources/inventory/v1/Device/all`, newline-delimited `{"result": ...}`) and on gRPC. A 200 is
//! never success by itself: CloudVision reports a failed login as 200 with an `errorMessage`, and CVP 2020 a
//! session it does not know as 200 with its `LOG OUT MESSAGE` page. Also the CloudVision as a Service host
//! names (`www.<cluster>` serves the APIs, `apiserver.<cluster>` device streaming).

use serde_json::json;
use time::OffsetDateTime;

use super::{http_failure, obtained_token_facts, token_facts, transport_failure};
use crate::codes::Code;
use crate::credentials::Credentials;
use crate::jwt::{self, Claims};
use crate::net::grpc::{self, Outcome};
use crate::net::http::{Auth, Http, Reply};
use crate::report::{Check, Status};
use crate::secret::Secret;
use crate::target::Product;

const LOGIN: &str = "/cvpservice/login/authenticate.do";
const INFO: &str = "/cvpservice/cvpInfo/getCvpInfo.do";
/// The Resource API over REST, as integrations use it now.
const RESOURCES: &str = "/api/resources/inventory/v1/Device/all";
/// What CVP 2020 answers (HTTP 200, a page of HTML) for a session it does not know.
const LOG_OUT: &str = "LOG OUT MESSAGE";

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

/// A CloudVision "200 with errorMessage": bad credentials, not success. The message in backticks, with the
/// `errorCode` when there is one (`112498`), redacted.
fn error_message(http: &Http, r: &Reply) -> Option<String> {
    let j = r.json()?;
    let m = j.get("errorMessage").and_then(|m| m.as_str())?;
    let code = match j.get("errorCode") {
        Some(serde_json::Value::String(c)) => Some(c.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let m = http.excerpt(m, 160);
    Some(match code {
        Some(c) => format!("`{m}` (errorCode {})", http.excerpt(&c, 20)),
        None => format!("`{m}`"),
    })
}

/// CVP 2020's answer to a session it does not know: HTTP 200 and its log-out page.
fn logged_out(body: &str) -> bool {
    body.contains(LOG_OUT)
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

/// One credential being proven: where, whose, and what its claims say.
struct Proof<'a> {
    http: &'a Http,
    id: &'a str,
    token: &'a Secret,
    /// Who presents it, for sentences: `token from FILE (service account `x`)`, `logged in as cvpadmin`.
    who: String,
    product: Product,
    now: OffsetDateTime,
    /// The token's claims, when it is a JWT.
    claims: Option<Claims>,
    /// Supplied by the user (a file, a variable), not the session a login just returned.
    supplied: bool,
}

impl Proof<'_> {
    fn user_session(&self) -> bool {
        self.claims.as_ref().is_some_and(Claims::is_user_session)
    }

    /// The account the token names, in words: `service account `ci``, `user `alice``.
    fn holder(&self) -> String {
        let c = self.claims.as_ref();
        match (
            c.and_then(|c| c.dsn.as_deref()),
            c.and_then(|c| c.dst.as_deref()),
        ) {
            (Some(n), Some(jwt::DST_ACCOUNT)) => format!("service account `{n}`"),
            (Some(n), Some(jwt::DST_USER)) => format!("user `{n}`"),
            (Some(n), _) => format!("account `{n}`"),
            (None, _) => "the token's account".into(),
        }
    }

    /// The cluster of the host checked (`www.arista.io` → `arista.io`).
    fn cluster_here(&self) -> Option<String> {
        host_of_url(&self.http.url("/")).map(|h| jwt::cluster_of(&h))
    }

    /// `apiserver.<cluster>` was checked: the API host to use instead.
    fn api_host(&self) -> Option<(String, String)> {
        let host = host_of_url(&self.http.url("/"))?;
        streaming_front(&host).map(|www| (host, www))
    }
}

/// The host of `https://HOST:PORT/...`.
fn host_of_url(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
}

/// The host of an `authority` (`apiserver.arista.io:443`, `[::1]:443`).
fn host_of_authority(authority: &str) -> String {
    host_of_url(&format!("https://{authority}/")).unwrap_or_default()
}

/// For `apiserver.<cluster>` (device streaming), the API host `www.<cluster>`.
fn streaming_front(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host.strip_prefix("apiserver.")
        .filter(|c| c.contains('.'))
        .map(|c| format!("www.{c}"))
}

/// `who` for a supplied token: its origin and, when its claims say, whose and what it is.
fn supplied_who(origin: &str, claims: Option<&Claims>) -> String {
    let c = claims;
    let kind = match (
        c.and_then(|c| c.dst.as_deref()),
        c.and_then(|c| c.dsn.as_deref()),
    ) {
        (Some(jwt::DST_ACCOUNT), Some(n)) => format!(" (service account `{n}`)"),
        (Some(jwt::DST_ACCOUNT), None) => " (a service account's)".into(),
        (Some(jwt::DST_USER), Some(n)) => format!(" (login session of user `{n}`)"),
        (Some(jwt::DST_USER), None) => " (a user's login session)".into(),
        _ => String::new(),
    };
    // Newer CloudVision as a Service tokens name their tenant.
    let kind = match (c.and_then(|c| c.ogn.as_deref()), kind.strip_suffix(')')) {
        (Some(t), Some(k)) => format!("{k}, tenant `{t}`)"),
        (Some(t), None) => format!(" (tenant `{t}`)"),
        (None, _) => kind,
    };
    format!("token from {origin}{kind}")
}

/// What the claims say of kind and place, as facts: `token_type` (`account`, `user`), `token_tenant`
/// (`ogn`), `token_tenant_id` (`ogi`), `token_cluster`.
fn claim_facts(check: Check, claims: Option<&Claims>) -> Check {
    let Some(c) = claims else {
        return check;
    };
    let mut check = check;
    let facts = [
        ("token_type", c.dst.clone()),
        ("token_tenant", c.ogn.clone()),
        ("token_tenant_id", c.ogi.clone()),
        ("token_cluster", c.cluster()),
    ];
    for (k, v) in facts {
        if let Some(v) = v {
            check = check.with_fact(k, v);
        }
    }
    check
}

/// `check` with the facts of `from` added (its own win).
fn with_facts(mut check: Check, from: &Check) -> Check {
    for (k, v) in &from.facts {
        check.facts.entry(k.clone()).or_insert_with(|| v.clone());
    }
    check
}

/// `check` failed for another reason, its facts kept.
fn replaced(check: &Check, code: Code, summary: String, fix: String) -> Check {
    let c = Check::fail(&check.id, code, summary, fix);
    with_facts(c, check)
}

fn passing(c: &Check) -> bool {
    matches!(c.status, Status::Pass | Status::Warn)
}

/// Adds the gRPC verdict on a token REST accepted.
async fn prove_grpc(check: Check, p: &Proof<'_>, g: &GrpcTarget) -> Check {
    let outcome = g.get_one(Some(p.token)).await;
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
            let lead = format!(
                "{}; but gRPC refuses the same token (UNAUTHENTICATED)",
                check.summary
            );
            match other_cluster(p) {
                Some((theirs, here)) => other_cluster_check(&check, lead, &theirs, &here),
                None => replaced(&check, Code::BadCredentials, lead, "gRPC clients need a token gRPC accepts: use a service-account token, and check the clock (an expired token is refused)".into()),
            }
        }
        Outcome::Status(7, m) => {
            let said = if m.is_empty() {
                String::new()
            } else {
                format!(" ({m})")
            };
            let answer = format!("gRPC GetOne answered PERMISSION_DENIED{said}");
            forbidden(&check, p, &format!("{}; but", check.summary), &answer)
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

/// A 403 or `PERMISSION_DENIED` with a token that was accepted: the role lacks permission, and for the
/// device APIs the account's name must be a user the switches know. Names the account (`dsn`).
fn forbidden(check: &Check, p: &Proof<'_>, lead: &str, answer: &str) -> Check {
    let holder = p.holder();
    let summary = format!(
        "{lead} {answer}: {holder} is authenticated, but its role lacks permission for the call"
    );
    let dsn = p.claims.as_ref().and_then(|c| c.dsn.clone());
    let fix = match dsn {
        Some(n) if !p.user_session() => format!("Give {holder} a role with read access to the inventory (Settings > Access Control > Roles). For the device APIs (commands CloudVision runs on the switches), `{n}` must also be a user the switches authorize (their AAA configuration): name the service account after that user, or create `{n}` on the switches"),
        Some(_) => format!("Give {holder} a role with read access to the inventory (Settings > Access Control > Roles)"),
        None => "Give the user or service account a role with read access to the inventory (Settings > Access Control > Roles)".into(),
    };
    replaced(check, Code::Forbidden, summary, fix).with_fact("http_status", 403)
}

/// The token's claims name a CloudVision as a Service cluster that is not the one checked: both.
fn other_cluster(p: &Proof<'_>) -> Option<(String, String)> {
    if p.product != Product::Cvaas {
        return None;
    }
    let theirs = p.claims.as_ref()?.cluster()?;
    let here = p.cluster_here()?;
    (theirs != here).then_some((theirs, here))
}

fn other_cluster_check(check: &Check, lead: String, theirs: &str, here: &str) -> Check {
    replaced(
        check,
        Code::TokenOtherCluster,
        format!("{lead}: the token was issued by the cluster {theirs}, and this is {here}: a CloudVision as a Service token works only on the cluster that issued it"),
        format!("Point the client at https://www.{theirs} (the token's cluster), or create a service-account token on https://www.{here} (Settings > Access Control > Service Accounts)"),
    )
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

/// `grpc.<port>`: a call without a token must come back UNAUTHENTICATED, which proves gRPC is served. On
/// `apiserver.<cluster>`, anything else names the API host.
pub async fn grpc_served(port: u16, g: &GrpcTarget) -> Check {
    let id = format!("grpc.{port}");
    let outcome = g.get_one(None).await;
    let host = host_of_authority(&g.authority);
    let check = match (streaming_front(&host), &outcome) {
        (Some(www), o) if !matches!(o, Outcome::Status(0 | 5 | 16, _)) => Check::fail(
            &id,
            Code::UnsupportedHost,
            format!("gRPC on {port} answered {}: {host} is where devices stream to (TerminAttr), not the CloudVision APIs", describe(o)),
            format!("Point gRPC and REST clients at {www} (port 443); apiserver. names are for devices only"),
        ),
        _ => served(port, &id, &outcome),
    };
    check.with_fact("outcome", describe(&outcome))
}

fn served(port: u16, id: &str, outcome: &Outcome) -> Check {
    match outcome {
        Outcome::Status(16, _) => Check::pass(id, format!("gRPC is served on {port}: GetOne without a token answered UNAUTHENTICATED, as it should")),
        Outcome::Status(c @ (0 | 5), _) => Check::new(id, Status::Warn, Code::Ok, format!("gRPC on {port} answered {} without any token", grpc::status_name(*c))).with_fix("Check that the API requires authentication"),
        Outcome::Status(12, _) => Check::fail(id, Code::NotAConsole, format!("gRPC is served on {port}, but not the CloudVision inventory service (UNIMPLEMENTED)"), "Check `--product` and the port: CVP 2021.3+ serves gRPC on 443, older releases on 8443"),
        Outcome::Status(c, m) => Check::new(id, Status::Warn, Code::Ok, format!("gRPC on {port} answered {}{}", grpc::status_name(*c), if m.is_empty() { String::new() } else { format!(": {m}") })).with_fix("Retry with -v; the server may be starting up"),
        Outcome::Http(s) => Check::fail(id, Code::HttpFailed, format!("port {port} answered HTTP {s} to a gRPC call: something in front of CloudVision handles HTTP/2 but not gRPC"), "Make the proxy or load balancer pass gRPC (HTTP/2 with trailers) through to CloudVision"),
        Outcome::NoH2(p) => Check::fail(id, Code::AlpnH2Missing, format!("gRPC cannot work on {port}: ALPN chose {} instead of h2", p.as_deref().unwrap_or("nothing")), "Whatever terminates TLS must negotiate HTTP/2 (nginx 1.25.1 and later: `http2 on;` in the server block; older: `listen 443 ssl http2;`)"),
        Outcome::Failed(w) => Check::fail(id, Code::HttpFailed, format!("the gRPC call on {port} failed: {w}"), format!("Port {port} negotiates HTTP/2 but does not answer gRPC as CloudVision does: check what terminates TLS there (a proxy or load balancer must pass gRPC, HTTP/2 with trailers, through); retry with -v")),
    }
}

/// A credential proven: its claims (expired: nothing is sent), the legacy `getCvpInfo.do`, the Resource
/// API over REST, gRPC; then what the claims warn of.
async fn prove(p: &Proof<'_>, g: Option<&GrpcTarget>) -> Check {
    // Expiry is judged for tokens the user supplies; a session a login just returned has its lifetime.
    let (facts, finding) = match p.supplied {
        true => token_facts(Check::pass(p.id, ""), p.token, p.now),
        false => (
            obtained_token_facts(Check::pass(p.id, ""), p.token, p.now),
            None,
        ),
    };
    let facts = claim_facts(facts, p.claims.as_ref());
    if let Some((Code::TokenExpired, text)) = &finding {
        return with_facts(expired(p, text), &facts);
    }
    let mut check = with_facts(info(p).await, &facts);
    if passing(&check) {
        check = resources(p, check).await;
    }
    if let (Some(g), true) = (g, passing(&check)) {
        check = prove_grpc(check, p, g).await;
    }
    settle(p, check, finding)
}

fn expired(p: &Proof<'_>, text: &str) -> Check {
    let fix = if p.user_session() {
        "This is a user's login session, and sessions last 24 hours: log in again, or better, create a service-account token for the integration (Settings > Access Control > Service Accounts)"
    } else {
        "Create a new service-account token (Settings > Access Control > Service Accounts) or log in again; an expired token can also show up as empty results rather than an error"
    };
    Check::fail(p.id, Code::TokenExpired, format!("{}: {text}", p.who), fix)
}

/// The legacy proof: `GET getCvpInfo.do`, where a 200 may still be a refusal.
async fn info(p: &Proof<'_>) -> Check {
    let what = format!("{}: GET {INFO}", p.who);
    let r = match p.http.get(INFO, Auth::Bearer(p.token)).await {
        Ok(r) => r,
        Err(e) => return transport_failure(p.http, p.id, &what, &e),
    };
    if r.status != 200 {
        return refused(p, &what, &r).with_fact("http_status", r.status);
    }
    if logged_out(&r.body) {
        return session_expired(p, INFO);
    }
    if let Some(m) = error_message(p.http, &r) {
        return Check::fail(
            p.id,
            Code::BadCredentials,
            format!("{}: {INFO} answered 200 with errorMessage {m}", p.who),
            "Check the token; create a new one if in doubt",
        );
    }
    let v = version_in(p.http, &r.body);
    Check::pass(
        p.id,
        format!(
            "{}: the token is accepted (GET {INFO}: CloudVision {v})",
            p.who
        ),
    )
    .with_fact("cvp_version", v)
}

/// HTTP 200 with CVP 2020's log-out page: the server does not know the session.
fn session_expired(p: &Proof<'_>, path: &str) -> Check {
    Check::fail(
        p.id,
        Code::SessionExpired,
        format!("{}: GET {path} answered HTTP 200 with CloudVision's `{LOG_OUT}` page instead of data: the server does not know this session (it expired, was logged out, or another server issued it)", p.who),
        format!("Log in again for a new session (sessions last 24 hours), or use a service-account token in an integration. A script that checks only the status code takes this page for success: treat a body containing `{LOG_OUT}` as a failed call"),
    )
    .with_fact("http_status", 200)
}

/// `getCvpInfo.do` answered something other than 200.
fn refused(p: &Proof<'_>, what: &str, r: &Reply) -> Check {
    let base = http_failure(p.http, p.id, what, r, &p.http.url(INFO));
    match r.status {
        401 if p.product == Product::Cvaas => cvaas_refused(p, base, what),
        403 => forbidden(&base, p, &format!("{what}:"), "403 Forbidden"),
        404 => match p.api_host() {
            Some((host, www)) => replaced(&base, Code::UnsupportedHost, format!("{what}: 404: {host} is where devices stream to (TerminAttr), not the CloudVision APIs"), format!("Use https://{www}: the APIs of a CloudVision as a Service cluster are on its www. name")),
            None => base,
        },
        _ => base,
    }
}

/// A 401 from CloudVision as a Service: another cluster's token, a user's session, or another tenant's.
fn cvaas_refused(p: &Proof<'_>, base: Check, what: &str) -> Check {
    if let Some((theirs, here)) = other_cluster(p) {
        return other_cluster_check(&base, format!("{what}: 401"), &theirs, &here);
    }
    let c = p.claims.as_ref();
    if p.user_session() {
        return replaced(&base, Code::BadCredentials, format!("{what}: 401: this is a user's login session (`dst` user), and CloudVision as a Service takes service-account tokens only"), "Create a service-account token (Settings > Access Control > Service Accounts) and use it instead".into());
    }
    let Some(tenant) = c.and_then(|c| c.ogn.clone()) else {
        return base;
    };
    let id = c
        .and_then(|c| c.ogi.clone())
        .map(|i| format!(", `ogi` {i}"))
        .unwrap_or_default();
    let here = p.cluster_here().unwrap_or_else(|| "this cluster".into());
    let mut check = base;
    check.summary = format!(
        "{}: the token belongs to tenant `{tenant}` (`ogn`{id})",
        check.summary
    );
    check.fix = Some(format!("Check that https://www.{here} is the cluster of tenant `{tenant}` (the address you open CloudVision at): a token works only on its tenant's cluster; check too that {} still exists and the token was not revoked", p.holder()));
    check
}

/// The Resource API over REST, with the same token: what integrations use now.
async fn resources(p: &Proof<'_>, check: Check) -> Check {
    let call = format!("GET {RESOURCES}");
    match p.http.get(RESOURCES, Auth::Bearer(p.token)).await {
        Ok(r) if r.status == 200 => streamed(p, check, &r),
        Ok(r) if r.status == 401 => replaced(&check, Code::BadCredentials, format!("{}; but the Resource API refuses the same token ({call}: 401)", check.summary), "The Resource APIs need a token they accept: use a service-account token, and check the clock (an expired token is refused)".into()).with_fact("resource_api", "401"),
        Ok(r) if r.status == 403 => forbidden(&check, p, &format!("{}; but", check.summary), &format!("{call} answered 403 Forbidden")).with_fact("resource_api", "403"),
        Ok(r) if r.status == 404 => note(check, format!("no Resource API over REST here ({call}: 404; this release predates it)"), "not served (404)"),
        Ok(r) => note(check, format!("the Resource API answered HTTP {} ({call})", r.status), &format!("HTTP {}", r.status)),
        Err(e) => note(check, format!("the Resource API did not answer ({call}: {})", p.http.wire(&e.to_string())), "no answer"),
    }
}

fn note(mut check: Check, text: String, fact: &str) -> Check {
    check.summary = format!("{}; {text}", check.summary);
    check.with_fact("resource_api", fact.to_string())
}

/// A 200 from the Resource API: newline-delimited `{"result": ...}` objects, or an `{"error": ...}` one.
fn streamed(p: &Proof<'_>, check: Check, r: &Reply) -> Check {
    if logged_out(&r.body) {
        return with_facts(session_expired(p, RESOURCES), &check);
    }
    let (mut results, mut error, mut other) = (0u64, None, 0u64);
    for line in r.body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.get("result").is_some() => results += 1,
            Ok(v) if v.get("error").is_some() => error = Some(v["error"].clone()),
            _ => other += 1,
        }
    }
    let call = format!("GET {RESOURCES}");
    if let Some(e) = error {
        let code = e
            .get("grpcCode")
            .or_else(|| e.get("code"))
            .and_then(|c| c.as_u64());
        let said = e
            .get("message")
            .and_then(|m| m.as_str())
            .map(|m| format!(": {}", p.http.excerpt(m, 120)))
            .unwrap_or_default();
        return match code {
            Some(7) => forbidden(&check, p, &format!("{}; but", check.summary), &format!("{call} streamed PERMISSION_DENIED{said}")),
            Some(16) => replaced(&check, Code::BadCredentials, format!("{}; but the Resource API streamed UNAUTHENTICATED{said}", check.summary), "The Resource APIs need a token they accept: use a service-account token, and check the clock".into()),
            _ => note(check, format!("the Resource API streamed an error ({call}{said})"), "error"),
        };
    }
    if results == 0 && other > 0 {
        return note(
            check,
            format!("{call} answered 200, but not with the Resource API's newline-delimited JSON"),
            "not the Resource API",
        );
    }
    let text = match results {
        0 => format!("the Resource API answers ({call}: 200, no device; an empty answer alone would prove nothing)"),
        n => format!("the Resource API answers ({call}: {n} devices)"),
    };
    note(check, text, &format!("{results} results"))
}

/// The warnings a working token still deserves: a user's session in an integration, or an `exp` near.
fn settle(p: &Proof<'_>, check: Check, finding: Option<(Code, String)>) -> Check {
    if check.status != Status::Pass {
        return check;
    }
    if p.supplied && p.user_session() {
        let when = check
            .facts
            .get("token_expires")
            .and_then(|v| v.as_str())
            .map(|w| format!(" (this one at {w})"))
            .unwrap_or_default();
        let summary = format!("{}; but this is a user's login session (`dst` user), not a service account's token: an integration that stores it stops working when it expires, daily{when}", check.summary);
        let c = Check::new(p.id, Status::Warn, Code::UserSessionToken, summary)
            .with_fix("Create a service-account token for the integration (Settings > Access Control > Service Accounts): user sessions last 24 hours");
        return with_facts(c, &check);
    }
    match finding {
        Some((code, text)) => {
            let c = Check::new(
                p.id,
                Status::Warn,
                code,
                format!("{}; but {text}", check.summary),
            )
            .with_fix("Renew the token before the job that uses it runs");
            with_facts(c, &check)
        }
        None => check,
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
    let reply = match login(http, user, pass).await {
        Ok(r) => r,
        Err(c) => return c,
    };
    if let Some(m) = error_message(http, &reply) {
        return Check::fail(
            id,
            Code::BadCredentials,
            format!("login as {user} refused: HTTP 200, but the body says {m} (CloudVision reports bad credentials with a 200)"),
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
    let p = Proof {
        http,
        id,
        claims: jwt::claims(token.expose()),
        token: &token,
        who: format!("logged in as {user}"),
        product,
        now,
        supplied: false,
    };
    prove(&p, g).await
}

/// `POST authenticate.do`, JSON first, then HTTP Basic for releases that refuse JSON: a 200, or the check
/// that says why not.
async fn login(http: &Http, user: &str, pass: &Secret) -> Result<Reply, Check> {
    let id = "auth.password";
    let body = json!({"userId": user, "password": pass.expose()});
    let mut reply = match http.post_json(LOGIN, &body, Auth::None).await {
        Ok(r) => r,
        Err(e) => return Err(transport_failure(http, id, &format!("POST {LOGIN}"), &e)),
    };
    // Releases that do not take the JSON body answer 400/415: try HTTP Basic, as the vendor's example does.
    if matches!(reply.status, 400 | 415) {
        match http.post_empty(LOGIN, Auth::Basic(user, pass)).await {
            Ok(r) => reply = r,
            Err(e) => {
                return Err(transport_failure(
                    http,
                    id,
                    &format!("POST {LOGIN} (Basic)"),
                    &e,
                ))
            }
        }
    }
    if reply.status == 200 {
        return Ok(reply);
    }
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
    Err(c)
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
        checks.push(client_cert(http).await);
    }
    for t in &creds.tokens {
        let id = format!("auth.{}", t.method);
        let claims = jwt::claims(t.token.expose());
        let p = Proof {
            http,
            id: &id,
            token: &t.token,
            who: supplied_who(&t.origin, claims.as_ref()),
            claims,
            product,
            now,
            supplied: true,
        };
        let c = prove(&p, g).await;
        checks.push(c.with_fact("token_origin", t.origin.clone()));
    }
    checks
}

/// Mutual TLS: the client certificate is on the connection; no token is sent.
async fn client_cert(http: &Http) -> Check {
    let id = "auth.client-cert";
    match http.get(INFO, Auth::None).await {
        Ok(r) if r.status == 200 && logged_out(&r.body) => Check::fail(
            id,
            Code::BadCredentials,
            format!("GET {INFO} with the client certificate answered 200 with the `{LOG_OUT}` page: not logged in"),
            "This CloudVision does not log in with client certificates: use a service-account token",
        ),
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
    }
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

/// The CloudVision as a Service API hosts (products.md): `www.<cluster>`; `apiserver.<cluster>` is device
/// streaming, and names without `www.` are not served.
pub const CVAAS_HOSTS: [&str; 12] = [
    "www.arista.io",
    "www.cv-prod-us-central1-a.arista.io",
    "www.cv-prod-us-central1-b.arista.io",
    "www.cv-prod-us-central1-c.arista.io",
    "www.cv-prod-euwest-2.arista.io",
    "www.cv-prod-na-northeast1-b.arista.io",
    "www.cv-prod-apnortheast-1.arista.io",
    "www.cv-prod-ausoutheast-1.arista.io",
    "www.cv-prod-uk-1.arista.io",
    "www.cv-prod-india-1.arista.io",
    "www.cv-prod-us-4.arista.io",
    "www.cv-prod-eu-3.arista.io",
];

/// `product.host` for CVaaS: `apiserver.<cluster>` (device streaming) and a host without `www.` get the
/// right name; a `www.` host outside the known clusters a warning.
pub fn cvaas_host(host: &str) -> Option<Check> {
    let id = "product.host";
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if CVAAS_HOSTS.contains(&host.as_str()) {
        return Some(Check::pass(
            id,
            format!("{host} is a CloudVision as a Service API host"),
        ));
    }
    if let Some(www) = streaming_front(&host) {
        return Some(Check::fail(
            id,
            Code::UnsupportedHost,
            format!("{host} is where devices stream to (TerminAttr's -cvaddr), not the CloudVision APIs: REST there answers 404 and gRPC UNKNOWN"),
            format!("Use {www} for the APIs (REST and gRPC, port 443); keep apiserver. names for the devices"),
        ));
    }
    if host == "arista.io" || (host.ends_with(".arista.io") && !host.starts_with("www.")) {
        let with_www = format!("www.{host}");
        return Some(Check::fail(
            id,
            Code::UnsupportedHost,
            format!("{host} is not served: CloudVision as a Service answers the API only on names that start with www."),
            format!("Use {with_www} (regional clusters: www.cv-prod-REGION.arista.io)"),
        ));
    }
    if host.ends_with(".arista.io") {
        return Some(
            Check::new(
                id,
                Status::Warn,
                Code::UnsupportedHost,
                format!("{host} is not one of the known CloudVision as a Service clusters"),
            )
            .with_fix(format!(
                "Check the cluster in the address you open CloudVision at (new clusters appear; if it works in the browser, it is right); known hosts: {}",
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
        for host in [
            "www.cv-prod-india-1.arista.io",
            "www.cv-prod-us-4.arista.io",
            "www.cv-prod-eu-3.arista.io",
            "WWW.cv-prod-us-central1-a.arista.io.",
        ] {
            assert_eq!(
                cvaas_host(host).map(|c| c.code.as_str()),
                Some("ok"),
                "{host}"
            );
        }
        let c = cvaas_host("apiserver.cv-prod-euwest-2.arista.io").expect("check");
        assert_eq!(c.code.as_str(), "unsupported_host");
        assert!(c.summary.contains("devices stream"), "{c:?}");
        assert!(
            c.fix
                .as_deref()
                .unwrap_or("")
                .starts_with("Use www.cv-prod-euwest-2.arista.io "),
            "{c:?}"
        );
        let c = cvaas_host("apiserver.arista.io").expect("check");
        assert!(
            c.fix
                .as_deref()
                .unwrap_or("")
                .starts_with("Use www.arista.io "),
            "{c:?}"
        );
    }

    #[test]
    fn who_says_whose_and_what() {
        use super::supplied_who;
        use crate::jwt::Claims;
        let claims = |dst: Option<&str>, dsn: Option<&str>, ogn: Option<&str>| Claims {
            dst: dst.map(str::to_string),
            dsn: dsn.map(str::to_string),
            ogn: ogn.map(str::to_string),
            ..Claims::default()
        };
        let who = |c: &Claims| supplied_who("t.txt", Some(c));
        assert_eq!(
            who(&claims(Some("account"), Some("ci"), None)),
            "token from t.txt (service account `ci`)"
        );
        assert_eq!(
            who(&claims(Some("user"), Some("al"), Some("acme"))),
            "token from t.txt (login session of user `al`, tenant `acme`)"
        );
        assert_eq!(
            who(&claims(None, Some("x"), Some("acme"))),
            "token from t.txt (tenant `acme`)"
        );
        assert_eq!(supplied_who("$V", None), "token from $V");
    }

    #[test]
    fn hosts_in_urls_and_authorities() {
        use super::{host_of_authority, streaming_front};
        assert_eq!(
            host_of_authority("apiserver.arista.io:443"),
            "apiserver.arista.io"
        );
        assert_eq!(host_of_authority("[::1]:8443"), "::1");
        assert_eq!(
            streaming_front("apiserver.cv-prod-uk-1.arista.io").as_deref(),
            Some("www.cv-prod-uk-1.arista.io")
        );
        assert_eq!(streaming_front("apiserver"), None);
        assert_eq!(streaming_front("www.arista.io"), None);
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
