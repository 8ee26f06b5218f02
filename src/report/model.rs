//! The report model: what every renderer reads. Fields may grow, never silently change (`schema_version`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes::Code;
use crate::pki::facts::CertFacts;

/// Bumped when a field changes meaning or disappears; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Worth knowing, not a problem: a default store that does not hold a private CA the user chose.
    Info,
    Skip,
    Warn,
    Fail,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Info => "info",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }

    /// A failed or errored check makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// The whole run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// One check: a stage of the pipeline, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id: `dns.resolve`, `tcp.connect`, `tls.handshake`, `cert.chain`, ...
    pub id: String,
    pub status: Status,
    pub code: Code,
    /// One sentence for a person, naming what was seen.
    pub summary: String,
    /// What to do; `None` on a pass.
    pub fix: Option<String>,
    /// Structured evidence.
    pub facts: Map<String, Value>,
    pub elapsed_ms: Option<u64>,
}

impl Check {
    pub fn new(id: &str, status: Status, code: Code, summary: impl Into<String>) -> Check {
        Check {
            id: id.to_string(),
            status,
            code,
            summary: summary.into(),
            fix: None,
            facts: Map::new(),
            elapsed_ms: None,
        }
    }

    pub fn pass(id: &str, summary: impl Into<String>) -> Check {
        Check::new(id, Status::Pass, Code::Ok, summary)
    }

    pub fn fail(id: &str, code: Code, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, code, summary).with_fix(fix)
    }

    /// A check that could not run because `because` (a check id) did not succeed.
    pub fn skip(id: &str, because: &str, what: &str) -> Check {
        Check::new(
            id,
            Status::Skip,
            Code::Skipped,
            format!("not run: {what} ({because} did not pass)"),
        )
        .with_fact("blocked_by", because)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_fact(mut self, key: &str, value: impl Into<Value>) -> Check {
        self.facts.insert(key.to_string(), value.into());
        self
    }

    pub fn with_elapsed(mut self, elapsed: std::time::Duration) -> Check {
        self.elapsed_ms = Some(elapsed.as_millis().try_into().unwrap_or(u64::MAX));
        self
    }
}

/// What was checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// As the user typed it.
    pub input: String,
    pub host: String,
    /// `None` when judging a chain file offline.
    pub port: Option<u16>,
    /// URL path kept from the target (a Prisma SaaS tenant path), `None` when empty.
    pub path: Option<String>,
    pub product: crate::target::Product,
    /// The server name sent in SNI, `None` when connecting to an address without `--sni`.
    pub sni: Option<String>,
    /// The HTTP proxy the connections went through (`http://proxy:3128 (from HTTPS_PROXY)`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The report of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub target: TargetInfo,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The time certificates were judged at (RFC 3339): now, or `--at`.
    pub judged_at: String,
    pub verdict: Verdict,
    /// The fix of the first failing check, or the first warning: the one thing to do first.
    pub first_fix: Option<String>,
    pub checks: Vec<Check>,
    /// The chain as the server sent it, leaf first.
    pub certificates: Vec<CertFacts>,
    /// Which common clients connect with their default trust, and the one line that makes each work.
    pub clients: Vec<ClientAdvice>,
    pub elapsed_ms: u64,
}

impl Report {
    /// A finished report: verdict and first fix derived from the checks.
    pub fn new(
        target: TargetInfo,
        started: time::OffsetDateTime,
        judged: time::OffsetDateTime,
        checks: Vec<Check>,
        certificates: Vec<CertFacts>,
        clients: Vec<ClientAdvice>,
        elapsed: std::time::Duration,
    ) -> Report {
        let fmt = crate::duration::rfc3339;
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            target,
            started_at: fmt(started),
            judged_at: fmt(judged),
            verdict: Verdict::Pass,
            first_fix: None,
            checks,
            certificates,
            clients,
            elapsed_ms: elapsed.as_millis().try_into().unwrap_or(u64::MAX),
        };
        report.finish();
        report
    }

    /// Derives `verdict` and `first_fix` from the checks.
    pub fn finish(&mut self) {
        let worst = self
            .checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Pass);
        self.verdict = match worst {
            Status::Fail | Status::Error => Verdict::Fail,
            Status::Warn => Verdict::Warn,
            Status::Pass | Status::Info | Status::Skip => Verdict::Pass,
        };
        let first = |pred: fn(Status) -> bool| {
            self.checks
                .iter()
                .find(|c| pred(c.status) && c.fix.is_some())
                .and_then(|c| c.fix.clone())
        };
        self.first_fix = first(Status::is_failure).or_else(|| first(|s| s == Status::Warn));
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// True when any check failed: exit code 1.
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }
}

/// Whether a common client connects with its default trust, and the one line that makes it work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientAdvice {
    pub client: String,
    pub default_trust: String,
    /// With its default trust (the same as `default.works`).
    pub works: bool,
    pub note: String,
    /// Null when no client setting helps (the server must change) or when it already works.
    pub make_it_work: Option<String>,
    /// The TLS library whose rules decided (`OpenSSL 3`, `BoringSSL`, `Go crypto/x509`, `rustls/webpki`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The outcome with the client's default trust, as this machine's environment sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ClientOutcome>,
    /// The outcome with the CA file (your `--ca`, else the first fix's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_ca: Option<ClientOutcome>,
}

/// One client's outcome with one trust, and the rule that decided it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientOutcome {
    pub works: bool,
    /// The rule: `ok`, `trust`, `ca_leaf`, `cn_fallback`, `ip_san`, `name`, `weak_key`, `weak_signature`,
    /// `expired_root`, `validity`, `client_cert`, `alpn_h2`.
    pub decided_by: String,
    /// The failure's code, null when it works.
    pub code: Option<String>,
    /// In words.
    pub why: String,
}
