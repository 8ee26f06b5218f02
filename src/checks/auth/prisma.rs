//! Prisma Cloud Compute: `product.url` (what the URL itself says, before anything is sent), `product.ping`,
//! then `auth.basic`, `auth.password`, the tokens and `auth.client-cert`, each proven on
//! `GET /api/v1/version` (any authenticated user may call it). A token preflight obtains is followed by the
//! Console's logon settings (`sessionTimeoutSec`, where the role may read them) and one renewal, proven.
//! With `--project NAME`, every call names it (`?project=NAME`), and a project the user cannot see is told
//! apart from a role that lacks permission by the same call without it.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{http_failure, token_facts, transport_failure};
use crate::codes::Code;
use crate::config::CheckConfig;
use crate::credentials::{Credentials, TokenInput};
use crate::net::http::{Auth, Http, HttpError, Reply};
use crate::report::{Check, Status};
use crate::secret::Secret;
use crate::target::{PrismaHost, Product, Target};

/// The check of what the URL says.
pub const URL_ID: &str = "product.url";
const PING_ID: &str = "product.ping";

const PING: &str = "/api/v1/_ping";
const VERSION: &str = "/api/v1/version";
const AUTHENTICATE: &str = "/api/v1/authenticate";
const AUTHENTICATE_CLIENT: &str = "/api/v1/authenticate-client";
const RENEW: &str = "/api/v1/authenticate/renew";
const SETTINGS: &str = "/api/v1/settings/logon";

/// The header the Prisma Cloud (CSPM) API explains its refusals in; a Compute Console never sends it.
const REDLOCK_STATUS: &str = "x-redlock-status";

/// Where the Compute Console's URL is shown, in the Prisma Cloud console.
const PATH_TO_CONSOLE: &str = "Runtime Security > Manage > System > Utilities, \"Path to Console\" (older consoles: Compute > Manage > System > Downloads)";

fn cspm_fix() -> String {
    format!("Use the Compute Console's URL, not the Prisma Cloud API's: in Prisma Cloud, {PATH_TO_CONSOLE}; a SaaS Console looks like https://REGION.cloud.twistlock.com/TENANT and takes the same access key")
}

/// The tenant segment of a SaaS Console's path (`/us-1-123456789`): letters, then numbers, dash-separated.
fn tenant(path: Option<&str>) -> Option<&str> {
    let first = path?.trim_start_matches('/').split('/').next()?;
    let parts: Vec<&str> = first.split('-').collect();
    let digits = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let shaped = parts.len() >= 3
        && parts[0].bytes().all(|b| b.is_ascii_alphabetic())
        && parts[parts.len() - 2..].iter().all(digits);
    shaped.then_some(first)
}

/// A SaaS Compute Console: by its host name, or by a tenant path.
fn is_saas(target: &Target) -> bool {
    target.prisma_host() == PrismaHost::SaasConsole || tenant(target.path.as_deref()).is_some()
}

/// The URL a script gives its client: `https://HOST[:PORT][/TENANT]` (no `:443`).
fn client_url(target: &Target, port: u16) -> String {
    let authority = target.authority(port);
    let authority = match port {
        443 => authority.trim_end_matches(":443"),
        _ => &authority,
    };
    format!(
        "https://{authority}{}",
        target.path.as_deref().unwrap_or("")
    )
}

/// `product.url`, from the target alone (so it stands when nothing answers): the Prisma Cloud (CSPM) API
/// given for a Compute Console, a SaaS URL with `:8083` or without its tenant path; else the URL scripts
/// use, with a hint when the target has no scheme. For Prisma, and for `auto` on a Prisma host name.
pub fn console_url(cfg: &CheckConfig) -> Option<Check> {
    let t = &cfg.target;
    let host = t.prisma_host();
    let prisma = match cfg.product {
        Product::Prisma => true,
        Product::Auto => host != PrismaHost::Other,
        _ => false,
    };
    if !prisma {
        return None;
    }
    let check = match host {
        PrismaHost::Cspm => Check::fail(
            URL_ID,
            Code::PrismaCspmHost,
            format!("{} is the Prisma Cloud (CSPM) API, not a Compute Console: the Compute API (/api/v1/...) is not served there", t.host),
            cspm_fix(),
        ),
        PrismaHost::SaasConsole if t.port == Some(8083) => Check::fail(
            URL_ID,
            Code::PrismaSaasPort,
            format!("{} names port 8083, but a SaaS Compute Console answers on 443 only (8083 is a self-hosted Console's port)", t.input),
            format!("Drop `:8083`: {}", client_url(t, 443)),
        ),
        PrismaHost::SaasConsole if t.path.is_none() => Check::fail(
            URL_ID,
            Code::PrismaTenantMissing,
            format!("{} has no tenant path: a SaaS Compute Console's API lives under /TENANT and answers 404 without it", t.input),
            format!("Use the whole URL, https://{}/TENANT, as Prisma Cloud shows it: {PATH_TO_CONSOLE}", t.host),
        ),
        _ => Check::pass(URL_ID, url_summary(cfg)),
    };
    let deployment = if is_saas(t) { "saas" } else { "self-hosted" };
    Some(
        check
            .with_fact("console_url", client_url(t, cfg.port))
            .with_fact("deployment", deployment),
    )
}

/// What a script needs: the whole URL, the project on every call.
fn url_summary(cfg: &CheckConfig) -> String {
    let t = &cfg.target;
    let mut s = format!("scripts reach this Console at {}", client_url(t, cfg.port));
    if !t.input.trim().to_ascii_lowercase().starts_with("https://") {
        s.push_str("; the target has no scheme: give scripts the whole URL, https:// included (a bare host fails in clients: Python requests raises MissingSchema, Go's net/http \"unsupported protocol scheme\")");
    }
    if let Some(p) = &cfg.project {
        s.push_str(&format!(
            "; every call names the project: ?{}",
            project_query(p)
        ));
    }
    s
}

/// `project=NAME`, URL-encoded.
fn project_query(name: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("project", name)
        .finish()
}

/// The Console a check talks to: its client, the project every call names, whether it is SaaS.
struct Console<'a> {
    http: &'a Http,
    project: Option<&'a str>,
    saas: bool,
}

/// A credential a request presents, reusable (a call is sent again without the project).
#[derive(Clone, Copy)]
enum Cred<'a> {
    Basic(&'a str, &'a Secret),
    Bearer(&'a Secret),
}

impl Cred<'_> {
    fn auth(&self) -> Auth<'_> {
        match *self {
            Cred::Basic(user, password) => Auth::Basic(user, password),
            Cred::Bearer(token) => Auth::Bearer(token),
        }
    }
}

impl<'a> Console<'a> {
    fn new(http: &'a Http, cfg: &'a CheckConfig) -> Console<'a> {
        Console {
            http,
            project: cfg.project.as_deref(),
            saas: is_saas(&cfg.target),
        }
    }

    /// `path`, with `?project=NAME` when a project was named.
    fn at(&self, path: &str) -> String {
        match self.project {
            Some(p) => format!("{path}?{}", project_query(p)),
            None => path.to_string(),
        }
    }

    async fn get(&self, path: &str, auth: Auth<'_>) -> Result<Reply, HttpError> {
        self.http.get(&self.at(path), auth).await
    }

    async fn post(&self, path: &str, body: Option<&Value>) -> Result<Reply, HttpError> {
        match body {
            Some(b) => self.http.post_json(&self.at(path), b, Auth::None).await,
            None => self.http.post_empty(&self.at(path), Auth::None).await,
        }
    }

    /// The check for a reply that is not a success: the CSPM API, a project the user cannot see (`cred`
    /// given: the same GET without the project succeeds), or what the status says.
    async fn refused(
        &self,
        id: &str,
        what: &str,
        path: &str,
        r: &Reply,
        cred: Option<Cred<'_>>,
    ) -> Check {
        if let Some(c) = cspm_answer(self.http, id, what, r) {
            return c;
        }
        if let Some(c) = self.project_refused(id, what, path, r, cred).await {
            return c;
        }
        http_failure(self.http, id, what, r, &self.http.url(path))
    }

    /// A 400, 403 or 404 with the project, and 200 for the same call without it: the project is the cause.
    async fn project_refused(
        &self,
        id: &str,
        what: &str,
        path: &str,
        r: &Reply,
        cred: Option<Cred<'_>>,
    ) -> Option<Check> {
        let (project, cred) = (self.project?, cred?);
        if !matches!(r.status, 400 | 403 | 404) {
            return None;
        }
        let bare = self.http.get(path, cred.auth()).await.ok()?;
        if bare.status != 200 {
            return None;
        }
        let said = server_error(self.http, r)
            .map(|e| format!(" (\"{e}\")"))
            .unwrap_or_default();
        Some(
            Check::fail(
                id,
                Code::ProjectNotVisible,
                format!("{what}: HTTP {} with ?project={project}{said}, 200 without it: the Console has no project {project} that this user can see", r.status),
                format!("Check the project's name (Manage > Projects on the central Console) and that the user's role is assigned to {project}; without --project, calls go to the central Console"),
            )
            .with_fact("http_status", r.status),
        )
    }
}

/// The Console's own explanation (`{"err": "..."}`), redacted, when it gave one.
fn server_error(http: &Http, r: &Reply) -> Option<String> {
    let j = r.json()?;
    let e = j.get("err")?.as_str()?;
    Some(http.excerpt(e, 120))
}

/// The Prisma Cloud (CSPM) API, recognised by its `x-redlock-status` header.
fn cspm_answer(http: &Http, id: &str, what: &str, r: &Reply) -> Option<Check> {
    let said = r.headers.get(REDLOCK_STATUS)?;
    let said = http.excerpt(&String::from_utf8_lossy(said.as_bytes()), 120);
    Some(
        Check::fail(
            id,
            Code::PrismaCspmHost,
            format!("{what} answered HTTP {} with an x-redlock-status header ({said}), as the Prisma Cloud (CSPM) API does: this is not a Compute Console", r.status),
            cspm_fix(),
        )
        .with_fact("http_status", r.status),
    )
}

/// `GET /api/v1/_ping`: proves this is a Console before any credential is sent.
pub async fn ping(http: &Http, cfg: &CheckConfig) -> Check {
    let console = Console::new(http, cfg);
    let what = format!("GET {PING}");
    let r = match console.get(PING, Auth::None).await {
        Ok(r) => r,
        Err(e) => return transport_failure(http, PING_ID, &what, &e),
    };
    if let Some(c) = cspm_answer(http, PING_ID, &what, &r) {
        return c;
    }
    match r.status {
        200 => Check::pass(PING_ID, format!("{what} answered 200 without credentials: a Prisma Cloud Compute Console")),
        404 => Check::fail(
            PING_ID,
            Code::EndpointNotFound,
            format!("{what} answered 404: no Console API at {}", http.url(PING)),
            format!("A SaaS Console lives under its tenant path on 443 (https://REGION.cloud.twistlock.com/TENANT): copy the whole URL from {PATH_TO_CONSOLE}; a self-hosted Console answers at https://HOST:8083 without a path"),
        )
        .with_fact("http_status", 404),
        s => Check::fail(
            PING_ID,
            Code::NotAConsole,
            format!("{what} answered HTTP {s}, not as a Prisma Cloud Compute Console does (200)"),
            "Check `--product` and the port (the Console's API is on 8083 unless twistlock.cfg says otherwise)",
        )
        .with_fact("http_status", s),
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

async fn prove(console: &Console<'_>, id: &str, cred: Cred<'_>, who: &str) -> Check {
    let http = console.http;
    let what = format!("{who}: GET {VERSION}");
    match console.get(VERSION, cred.auth()).await {
        Ok(r) if r.status == 200 => {
            let v = version(&r.body)
                .map(|v| http.excerpt(&v, 40))
                .unwrap_or_else(|| "unknown".into());
            Check::pass(id, format!("{what} answered 200 (Console {v})"))
                .with_fact("console_version", v)
        }
        Ok(r) => console.refused(id, &what, VERSION, &r, Some(cred)).await,
        Err(e) => transport_failure(http, id, &what, &e),
    }
}

/// A refused login on SaaS: the access key, not a console password, is what SaaS takes.
fn access_key(c: Check) -> Check {
    let mut c = c;
    c.code = Code::AccessKeyRequired;
    c.summary = format!("{}: a SaaS Compute Console takes a Prisma Cloud access key ID and secret as user name and password, not a console password (SAML users have none)", c.summary);
    c.fix = Some("Create an access key (Prisma Cloud: Settings > Access Control > Access Keys; a SAML user creates one after signing in through SSO) and pass its ID with --user and its secret with --password-env or --password-file; a key that is refused may be expired or disabled".into());
    c
}

/// The check for a login that did not answer 200.
async fn login_refused(console: &Console<'_>, id: &str, path: &str, r: &Reply, who: &str) -> Check {
    let what = format!("{who}: POST {path}");
    let c = console.refused(id, &what, path, r, None).await;
    if c.code != Code::BadCredentials {
        return c;
    }
    match path {
        AUTHENTICATE_CLIENT => c.with_fix("The Console does not accept this client certificate: upload its issuing CA in the Console (Manage > Authentication > Certificates) and map the certificate's CN or UPN to a user"),
        _ if console.saas => access_key(c),
        _ => c,
    }
}

async fn token_login(
    console: &Console<'_>,
    id: &str,
    path: &str,
    body: Option<Value>,
    who: &str,
    now: OffsetDateTime,
) -> Check {
    let http = console.http;
    let reply = match console.post(path, body.as_ref()).await {
        Ok(r) => r,
        Err(e) => return transport_failure(http, id, &format!("POST {path}"), &e),
    };
    if reply.status != 200 {
        return login_refused(console, id, path, &reply, who).await;
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
    let who = format!("{who} (token from {path})");
    let proof = prove(console, id, Cred::Bearer(&token), &who).await;
    // Just obtained: its lifetime is a fact (30 minutes by default), not a warning.
    let proof = super::obtained_token_facts(proof, &token, now);
    if proof.status != Status::Pass {
        return proof;
    }
    let proof = logon_settings(console, proof, &token).await;
    renew(console, proof, &token).await
}

/// The token lifetime the Console is set to (`sessionTimeoutSec`), where the role may read it; else the
/// token's `exp` stands for it.
async fn logon_settings(console: &Console<'_>, check: Check, token: &Secret) -> Check {
    let mut check = check;
    let reply = console.get(SETTINGS, Auth::Bearer(token)).await;
    let settings = reply
        .as_ref()
        .ok()
        .filter(|r| r.status == 200)
        .and_then(Reply::json);
    let Some(settings) = settings else {
        let why = match &reply {
            Ok(r) => format!("HTTP {}", r.status),
            Err(_) => "no answer".into(),
        };
        check.summary = format!(
            "{}; the role may not read GET {SETTINGS} ({why}): the lifetime is the token's exp",
            check.summary
        );
        return check.with_fact("token_lifetime_source", "exp");
    };
    if let Some(b) = settings.get("basicAuthDisabled").and_then(Value::as_bool) {
        check = check.with_fact("basic_auth_disabled", b);
    }
    let Some(secs) = settings.get("sessionTimeoutSec").and_then(Value::as_i64) else {
        return check.with_fact("token_lifetime_source", "exp");
    };
    check.summary = format!(
        "{}; tokens last {} (sessionTimeoutSec {secs} in GET {SETTINGS})",
        check.summary,
        lifetime_words(secs)
    );
    check
        .with_fact("session_timeout_seconds", secs)
        .with_fact("token_lifetime_source", "settings")
}

/// A token lifetime in words: `30 minutes`, `1 hour`, `49 days`.
fn lifetime_words(secs: i64) -> String {
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `GET /api/v1/authenticate/renew` once, and the new token proven on `version`: a failure is a warning
/// (scripts that renew will fail; logging in again still works).
async fn renew(console: &Console<'_>, check: Check, token: &Secret) -> Check {
    let (http, id) = (console.http, check.id.clone());
    let what = format!("GET {RENEW}");
    let reply = match console.get(RENEW, Auth::Bearer(token)).await {
        Ok(r) => r,
        Err(e) => return renew_failed(check, transport_failure(http, &id, &what, &e)),
    };
    if reply.status != 200 {
        let failed = http_failure(http, &check.id, &what, &reply, &http.url(RENEW));
        return renew_failed(check, failed);
    }
    let fresh = reply
        .json()
        .and_then(|j| j.get("token").and_then(|t| t.as_str()).map(Secret::new));
    let Some(fresh) = fresh else {
        let failed = Check::fail(
            &check.id,
            Code::HttpFailed,
            format!("{what} answered 200 without a token"),
            "",
        );
        return renew_failed(check, failed);
    };
    http.learn(&fresh);
    match console.get(VERSION, Auth::Bearer(&fresh)).await {
        Ok(r) if r.status == 200 => {
            let mut check = check;
            check.summary = format!(
                "{}; renewed once ({what}), and the new token works",
                check.summary
            );
            check.with_fact("token_renewed", true)
        }
        Ok(r) => {
            let failed = http_failure(
                http,
                &check.id,
                &format!("the renewed token: GET {VERSION}"),
                &r,
                &http.url(VERSION),
            );
            renew_failed(check, failed)
        }
        Err(e) => renew_failed(check, transport_failure(http, &id, &what, &e)),
    }
}

/// A login that works and a renewal that does not: a warning with the renewal's code.
fn renew_failed(check: Check, failed: Check) -> Check {
    let mut check = check;
    check.status = Status::Warn;
    check.code = failed.code;
    check.summary = format!("{}; but renewing failed: {}", check.summary, failed.summary);
    check.fix = Some("Scripts that run longer than the token's lifetime cannot renew it: they must log in again (POST /api/v1/authenticate); ask the Console admin why GET /api/v1/authenticate/renew is refused".into());
    check.with_fact("token_renewed", false)
}

/// `auth.basic` and `auth.password` with one user and password.
async fn password_methods(
    console: &Console<'_>,
    user: &str,
    password: &Secret,
    now: OffsetDateTime,
) -> [Check; 2] {
    let who = format!("Basic auth as {user}");
    let basic = prove(console, "auth.basic", Cred::Basic(user, password), &who).await;
    let body = json!({"username": user, "password": password.expose()});
    let who = format!("user {user}");
    let token = token_login(
        console,
        "auth.password",
        AUTHENTICATE,
        Some(body),
        &who,
        now,
    )
    .await;
    let basic = if basic.code == Code::BadCredentials
        && matches!(token.status, Status::Pass | Status::Warn)
    {
        Check::fail(
            "auth.basic",
            Code::UnsupportedMethod,
            format!("Basic auth as {user} is refused (401) while the same credentials log in through {AUTHENTICATE}: Basic auth is disabled on this Console"),
            "Use token authentication (POST /api/v1/authenticate, then Authorization: Bearer), or ask the Console admin to allow Basic auth",
        )
        .with_fact("http_status", 401)
    } else if basic.code == Code::BadCredentials && console.saas {
        access_key(basic)
    } else {
        basic
    };
    [basic, token]
}

/// A token the user gave, proven; its expiry judged.
async fn token_method(console: &Console<'_>, t: &TokenInput, now: OffsetDateTime) -> Check {
    let id = format!("auth.{}", t.method);
    let who = format!("token from {}", t.origin);
    let proof = prove(console, &id, Cred::Bearer(&t.token), &who).await;
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
            let mut c = Check::new(&id, status, code, format!("{}; {text}", proof.summary))
                .with_fix("Authenticate again (POST /api/v1/authenticate) or renew the token (GET /api/v1/authenticate/renew)");
            c.facts = proof.facts;
            c
        }
        None => proof,
    };
    proof.with_fact("token_origin", t.origin.clone())
}

/// Every Prisma method the credentials allow, in turn; with `--project`, each names it.
pub async fn run(
    http: &Http,
    cfg: &CheckConfig,
    creds: &Credentials,
    now: OffsetDateTime,
) -> Vec<Check> {
    let console = Console::new(http, cfg);
    let mut checks = Vec::new();
    if let (Some(user), Some(password)) = (&creds.user, &creds.password) {
        checks.extend(password_methods(&console, user, password, now).await);
    }
    for t in &creds.tokens {
        checks.push(token_method(&console, t, now).await);
    }
    if creds.identity.is_some() {
        let (id, who) = ("auth.client-cert", "client certificate");
        checks.push(token_login(&console, id, AUTHENTICATE_CLIENT, None, who, now).await);
    }
    match console.project {
        Some(p) => checks
            .into_iter()
            .map(|c| c.with_fact("project", p))
            .collect(),
        None => checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version("\"34.04.145\"").as_deref(), Some("34.04.145"));
        assert_eq!(version("34.04.145\n").as_deref(), Some("34.04.145"));
        assert_eq!(version("<html>"), None);
    }

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(lifetime_words(1800), "30 minutes");
        assert_eq!(lifetime_words(3600), "1 hour");
        assert_eq!(lifetime_words(5400), "90 minutes");
        assert_eq!(lifetime_words(49 * 86_400), "49 days");
        assert_eq!(lifetime_words(61), "61 seconds");
    }

    #[test]
    fn tenants() {
        assert_eq!(tenant(Some("/us-1-123456789")), Some("us-1-123456789"));
        assert_eq!(tenant(Some("/eu-2-143541095/api")), Some("eu-2-143541095"));
        assert_eq!(tenant(Some("/tenant-1")), None);
        assert_eq!(tenant(Some("/console")), None);
        assert_eq!(tenant(None), None);
    }

    #[test]
    fn projects_are_url_encoded() {
        assert_eq!(project_query("lab-project"), "project=lab-project");
        assert_eq!(project_query("Central Console"), "project=Central+Console");
        assert_eq!(project_query("a&b=c/d"), "project=a%26b%3Dc%2Fd");
    }

    #[test]
    fn client_urls() {
        let t = Target::parse("https://us-east1.cloud.twistlock.com/us-1-123456789").unwrap();
        assert_eq!(
            client_url(&t, 443),
            "https://us-east1.cloud.twistlock.com/us-1-123456789"
        );
        let t = Target::parse("10.0.0.5").unwrap();
        assert_eq!(client_url(&t, 8083), "https://10.0.0.5:8083");
        let t = Target::parse("[fd00::5]:8083").unwrap();
        assert_eq!(client_url(&t, 8083), "https://[fd00::5]:8083");
        assert_eq!(client_url(&t, 443), "https://[fd00::5]");
    }
}
