//! `cert.revocation`: the OCSP response the server stapled, judged; with `--revocation`, the OCSP responder
//! and the CRL the server's certificate names, asked through the check's proxy within the budget. A
//! revocation proven by a signed answer fails every trust source that accepted the chain ([`refuse`]), so
//! no credential goes; the clients section says which clients connect anyway.

use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::trust::Verdict;
use super::{Budget, Deps};
use crate::codes::Code;
use crate::config::CheckConfig;
use crate::duration::rfc3339;
use crate::net::revocation::{self as fetch, Ask, FetchError, Way};
use crate::net::route::{Hop, Route};
use crate::pki::revocation::{self as rev, crl, ocsp, Freshness, Issuer, Published, Revocation};
use crate::pki::sources::SourceKind;
use crate::report::{Check, Status};
use crate::target::Product;

pub const ID: &str = "cert.revocation";

/// A revocation proven by a signed answer, as the trust checks and the clients section take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub at: OffsetDateTime,
    pub reason: Option<&'static str>,
    /// Who said so: `the stapled OCSP response`, `the OCSP responder http://…`, `the CRL http://…`.
    pub by: Vec<String>,
}

impl Revoked {
    /// `since 2026-01-14T23:00:00Z (keyCompromise), as the stapled OCSP response says`.
    pub fn words(&self) -> String {
        format!(
            "since {}{}, as {} {}",
            rfc3339(self.at),
            self.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
            self.by.join(" and "),
            if self.by.len() > 1 { "say" } else { "says" }
        )
    }
}

/// What the revocation stage adds to a report: its check, and the revocation when one was proven.
pub struct Outcome {
    pub check: Check,
    pub revoked: Option<Revoked>,
}

/// What one source said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    Good,
    Revoked(Revocation),
    Unknown,
    /// No usable answer.
    Unchecked,
    /// Published where preflight does not ask (an `ldap://` CRL): a fact, not a failure.
    NotAsked,
}

/// One source read or asked: which (`stapled`, `ocsp`, `crl`), what it is, what it said in words, its facts.
struct Heard {
    key: &'static str,
    what: String,
    said: Said,
    text: String,
    facts: Map<String, Value>,
}

impl Heard {
    fn new(key: &'static str, what: String, said: Said, text: String) -> Heard {
        Heard {
            key,
            what,
            said,
            text,
            facts: Map::new(),
        }
    }

    fn fact(mut self, k: &str, v: impl Into<Value>) -> Heard {
        self.facts.insert(k.to_string(), v.into());
        self
    }
}

/// Reads the stapled response and, with `--revocation`, asks the certificate's OCSP responder and CRL:
/// `None` when there is no chain, or nothing stapled and nothing asked.
pub(crate) async fn run(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    budget: &Budget,
    captured: &crate::pki::recorder::Captured,
    at: OffsetDateTime,
) -> Option<Outcome> {
    let leaf = captured.chain.first()?;
    let stapled = !captured.ocsp_response.is_empty();
    if !stapled && !cfg.revocation {
        return None;
    }
    let start = Instant::now();
    let trust = deps.trust.resolved();
    let anchors = trust.sources.iter().flat_map(|s| s.anchors.iter());
    let issuer = Issuer::find(&captured.chain, anchors);
    let mut heard = Vec::new();
    if stapled {
        let what = "the stapled OCSP response".to_string();
        heard.push(ocsp_heard(
            "stapled",
            what,
            &captured.ocsp_response,
            leaf,
            issuer.as_ref(),
            at,
        ));
    }
    let published = cfg.revocation.then(|| rev::published(leaf));
    if let Some(p) = &published {
        let asking = Asking {
            cfg,
            deps,
            route,
            leaf,
            issuer: issuer.as_ref(),
            at,
            budget,
        };
        let what = "the revocation requests (OCSP responder, CRL)";
        match budget.run(ID, what, asking.ask(p)).await {
            Ok(h) => heard.extend(h),
            Err(cut) => {
                let words = word(&heard, published.as_ref(), issuer.as_ref(), leaf);
                let mut check = cut;
                check.facts.extend(words.check.facts);
                return Some(Outcome {
                    check,
                    revoked: words.revoked,
                });
            }
        }
    }
    let mut out = word(&heard, published.as_ref(), issuer.as_ref(), leaf);
    out.check = out.check.with_elapsed(start.elapsed());
    if out.check.code == Code::Revoked {
        out.check.fix = Some(revoked_fix(cfg.product));
    }
    deps.trace.say(1, "revocation", || {
        format!(
            "{} [{}]: {}",
            out.check.status.as_str(),
            out.check.code,
            out.check.summary
        )
    });
    Some(out)
}

/// The judgement of an OCSP response (stapled or fetched) for `leaf`.
fn ocsp_heard(
    key: &'static str,
    what: String,
    der: &[u8],
    leaf: &CertificateDer<'_>,
    issuer: Option<&Issuer>,
    at: OffsetDateTime,
) -> Heard {
    let Some(issuer) = issuer else {
        let text = format!("{what} cannot be checked: the issuer of the server's certificate is neither sent nor in a trust source, so its signature cannot be verified");
        return Heard::new(key, what, Said::Unchecked, text);
    };
    let answer = match ocsp::judge(der, leaf.as_ref(), issuer, at) {
        Ok(a) => a,
        Err(p) => {
            let text = format!("{what} cannot be used: {p}");
            return Heard::new(key, what, Said::Unchecked, text).fact("error", p.to_string());
        }
    };
    let signer = match &answer.signer {
        ocsp::Signer::Issuer => format!("the issuer {}", issuer.name),
        ocsp::Signer::Delegated(n) => format!("{n}, a responder delegated by {}", issuer.name),
    };
    let window = format!(
        "signed by {signer}; thisUpdate {}, nextUpdate {}",
        rfc3339(answer.this_update),
        answer
            .next_update
            .map(rfc3339)
            .unwrap_or_else(|| "none".into())
    );
    let (said, state, text) = match (&answer.state, answer.freshness) {
        (ocsp::CertState::Revoked(r), _) => (Said::Revoked(r.clone()), "revoked", format!("{what} says revoked ({window})")),
        (_, Freshness::Stale(next)) => (Said::Unchecked, "stale", format!("{what} is stale: its nextUpdate {} has passed ({window})", rfc3339(next))),
        (_, Freshness::NotYetValid(this)) => (Said::Unchecked, "not_yet_valid", format!("{what} is not valid yet: its thisUpdate {} is ahead of the judging time ({window})", rfc3339(this))),
        (ocsp::CertState::Good, Freshness::Current) => (Said::Good, "good", format!("{what} says good ({window})")),
        (ocsp::CertState::Unknown, Freshness::Current) => (Said::Unknown, "unknown", format!("{what} says unknown: the responder does not know the certificate ({window})")),
    };
    let status = match &answer.state {
        ocsp::CertState::Good => "good",
        ocsp::CertState::Revoked(_) => "revoked",
        ocsp::CertState::Unknown => "unknown",
    };
    let mut heard = Heard::new(key, what, said, text)
        .fact("status", status)
        .fact("judged", state)
        .fact("this_update", rfc3339(answer.this_update))
        .fact("next_update", answer.next_update.map(rfc3339))
        .fact("produced_at", rfc3339(answer.produced_at))
        .fact("responder", answer.responder.clone())
        .fact("signer", signer);
    if let ocsp::CertState::Revoked(r) = &answer.state {
        heard = heard
            .fact("revoked_at", rfc3339(r.at))
            .fact("reason", r.reason);
    }
    heard
}

/// The judgement of a CRL for `leaf`.
fn crl_heard(
    what: String,
    der: &[u8],
    leaf: &CertificateDer<'_>,
    issuer: &Issuer,
    at: OffsetDateTime,
) -> Heard {
    let answer = match crl::judge(der, leaf.as_ref(), issuer, at) {
        Ok(a) => a,
        Err(p) => {
            let text = format!("{what} cannot be used: {p}");
            return Heard::new("crl", what, Said::Unchecked, text).fact("error", p.to_string());
        }
    };
    let window = format!(
        "{} entries, signed by the issuer {}; thisUpdate {}, nextUpdate {}",
        answer.entries,
        issuer.name,
        rfc3339(answer.this_update),
        answer
            .next_update
            .map(rfc3339)
            .unwrap_or_else(|| "none".into())
    );
    let (said, text) = match (&answer.listed, answer.freshness) {
        (Some(r), _) => (Said::Revoked(r.clone()), format!("{what} lists it ({window})")),
        (None, Freshness::Stale(next)) => (Said::Unchecked, format!("{what} is stale: its nextUpdate {} has passed ({window})", rfc3339(next))),
        (None, Freshness::NotYetValid(this)) => (Said::Unchecked, format!("{what} is not valid yet: its thisUpdate {} is ahead of the judging time ({window})", rfc3339(this))),
        (None, Freshness::Current) => (Said::Good, format!("{what} does not list it ({window})")),
    };
    let mut heard = Heard::new("crl", what, said, text)
        .fact("listed", answer.listed.is_some())
        .fact("entries", answer.entries)
        .fact("this_update", rfc3339(answer.this_update))
        .fact("next_update", answer.next_update.map(rfc3339));
    if let Some(r) = &answer.listed {
        heard = heard
            .fact("revoked_at", rfc3339(r.at))
            .fact("reason", r.reason);
    }
    heard
}

/// What `--revocation` asks with: the check's configuration, route and budget; the certificate and its
/// issuer; the judging time.
struct Asking<'a> {
    cfg: &'a CheckConfig,
    deps: &'a Deps,
    route: &'a Route,
    leaf: &'a CertificateDer<'static>,
    issuer: Option<&'a Issuer>,
    at: OffsetDateTime,
    budget: &'a Budget,
}

impl Asking<'_> {
    /// The first OCSP responder and the first CRL the certificate names, asked at the same time.
    async fn ask(&self, p: &Published) -> Vec<Heard> {
        let ocsp = async {
            match p.ocsp.first() {
                Some(url) => Some(self.ocsp(url).await),
                None => None,
            }
        };
        let crl_url = p
            .crl
            .iter()
            .find(|u| u.starts_with("http://") || u.starts_with("https://"))
            .or(p.crl.first());
        let crl = async {
            match crl_url {
                Some(url) => Some(self.crl(url).await),
                None => None,
            }
        };
        let (o, c) = tokio::join!(ocsp, crl);
        o.into_iter().chain(c).collect()
    }

    /// Each request's deadline: the handshake's phase deadline, or what is left of the budget.
    fn deadline(&self) -> Duration {
        self.budget.cap(self.cfg.timeouts.tls)
    }

    /// How a request to `url` goes: through the check's proxy (at the address it used) unless the
    /// proxy settings bypass that host, else straight, the name resolved by the run's resolver.
    fn way(&self, url: &str) -> Way<'_> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
            .unwrap_or_default();
        let proxy = self.cfg.proxy.for_host(&host);
        let proxy_addr = match (&self.route.hop, proxy) {
            (Hop::Proxy { addr, .. }, Some(_)) => Some(*addr),
            _ => None,
        };
        Way {
            resolver: self.deps.resolver.as_ref(),
            proxy,
            proxy_addr,
        }
    }

    async fn ocsp(&self, url: &str) -> Heard {
        let what = format!("the OCSP responder {url}");
        let Some(issuer) = self.issuer else {
            return ocsp_heard("ocsp", what, &[], self.leaf, None, self.at).fact("url", url);
        };
        let Some(request) = ocsp::request(self.leaf.as_ref(), issuer) else {
            let text = format!(
                "{what} was not asked: the certificate's serial or the issuer's key cannot be read"
            );
            return Heard::new("ocsp", what, Said::Unchecked, text).fact("url", url);
        };
        let deadline = self.deadline();
        let got = fetch::fetch(url, &Ask::Ocsp(request), &self.way(url), deadline).await;
        let heard = match got {
            Ok(f) if f.status == 200 => {
                ocsp_heard("ocsp", what, &f.body, self.leaf, Some(issuer), self.at)
                    .fact("elapsed_ms", millis(f.elapsed))
                    .fact("bytes", f.body.len())
            }
            Ok(f) => http_status("ocsp", what, &f),
            Err(e) => unanswered("ocsp", what, &e, self.capped(deadline)),
        };
        self.redacted(heard)
            .fact("url", url)
            .fact("asked", "POST application/ocsp-request")
    }

    async fn crl(&self, url: &str) -> Heard {
        let what = format!("the CRL {url}");
        let Some(issuer) = self.issuer else {
            let text = format!("{what} was not fetched: the issuer of the server's certificate is neither sent nor in a trust source, so the CRL's signature cannot be verified");
            return Heard::new("crl", what, Said::Unchecked, text).fact("url", url);
        };
        let deadline = self.deadline();
        let got = fetch::fetch(url, &Ask::Crl, &self.way(url), deadline).await;
        let heard = match got {
            Ok(f) if f.status == 200 => crl_heard(what, &f.body, self.leaf, issuer, self.at)
                .fact("elapsed_ms", millis(f.elapsed))
                .fact("bytes", f.body.len()),
            Ok(f) => http_status("crl", what, &f),
            Err(e) => unanswered("crl", what, &e, self.capped(deadline)),
        };
        self.redacted(heard).fact("url", url).fact("asked", "GET")
    }

    /// Text that came from the responder or the proxy (a content type, an error), through the run's
    /// redactor, as every text from the wire.
    fn redacted(&self, mut heard: Heard) -> Heard {
        heard.text = self.deps.redactor.wire(&heard.text);
        if let Some(Value::String(e)) = heard.facts.get_mut("error") {
            *e = self.deps.redactor.wire(e);
        }
        heard
    }

    /// Whether the budget, not the phase deadline, set `deadline`.
    fn capped(&self, deadline: Duration) -> bool {
        deadline < self.cfg.timeouts.tls
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// An answer that is not 200: what came instead.
fn http_status(key: &'static str, what: String, f: &fetch::Fetched) -> Heard {
    let text = format!(
        "{what} answered HTTP {}{} instead of {}",
        f.status,
        f.content_type
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default(),
        if key == "crl" {
            "a CRL"
        } else {
            "an OCSP response"
        }
    );
    Heard::new(key, what, Said::Unchecked, text)
        .fact("http_status", f.status)
        .fact("elapsed_ms", millis(f.elapsed))
}

/// No answer: why, in words; an `ldap://` CRL is a fact, not a failure.
fn unanswered(key: &'static str, what: String, e: &FetchError, capped: bool) -> Heard {
    let said = match e {
        FetchError::Unsupported(_) => Said::NotAsked,
        _ => Said::Unchecked,
    };
    let budget = if capped && matches!(e, FetchError::Timeout(_)) {
        " (what was left of the --max-time budget)"
    } else {
        ""
    };
    let text = format!("{what}: {e}{budget}");
    Heard::new(key, what, said, text).fact("error", e.to_string())
}

/// The check from what was heard: revoked (fail), unknown or unchecked (warn), good (pass); with
/// `--revocation` and nothing published or stapled, a pass that says so.
fn word(
    heard: &[Heard],
    published: Option<&Published>,
    issuer: Option<&Issuer>,
    leaf: &CertificateDer<'_>,
) -> Outcome {
    let mut facts = Map::new();
    for h in heard {
        facts.insert(h.key.to_string(), Value::Object(h.facts.clone()));
    }
    if let Some(p) = published {
        facts.insert("published".into(), json!({"ocsp": p.ocsp, "crl": p.crl}));
    }
    if let Some(i) = issuer {
        facts.insert("issuer".into(), json!(i.name));
    }
    let texts = heard
        .iter()
        .map(|h| h.text.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let revoked = revoked_of(heard);
    let has = |s: &Said| heard.iter().any(|h| h.said == *s);
    let mut check = if let Some(r) = &revoked {
        let serial = crate::pki::facts::inspect(0, leaf.as_ref(), r.at).serial;
        Check::fail(
            ID,
            Code::Revoked,
            format!(
                "the server's certificate (serial {serial}) is revoked {}: {texts}",
                r.words()
            ),
            revoked_fix(Product::Generic),
        )
    } else if has(&Said::Unknown) {
        Check::new(
            ID,
            Status::Warn,
            Code::RevocationUnknown,
            format!("revocation status unknown: {texts}"),
        )
        .with_fix(Code::RevocationUnknown.typical_fix())
    } else if has(&Said::Unchecked) {
        Check::new(
            ID,
            Status::Warn,
            Code::RevocationUnchecked,
            format!("revocation not established: {texts}"),
        )
        .with_fix(unchecked_fix(heard))
    } else if heard.is_empty() {
        Check::pass(ID, "no revocation information to ask: the certificate names no OCSP responder and no CRL distribution point (usual for a private CA), and the server staples no OCSP response")
    } else {
        Check::pass(ID, format!("not revoked: {texts}"))
    };
    check.facts.extend(facts);
    Outcome { check, revoked }
}

/// The revocation the signed answers prove: the first one's time and reason, and every source that said so.
fn revoked_of(heard: &[Heard]) -> Option<Revoked> {
    let first = heard.iter().find_map(|h| match &h.said {
        Said::Revoked(r) => Some(r.clone()),
        _ => None,
    })?;
    Some(Revoked {
        at: first.at,
        reason: first.reason,
        by: heard
            .iter()
            .filter(|h| matches!(h.said, Said::Revoked(_)))
            .map(|h| h.what.clone())
            .collect(),
    })
}

/// Reissue, and where the product keeps its certificate (only the product checked is named).
fn revoked_fix(product: Product) -> String {
    let place = match product {
        Product::Cvp | Product::Cvaas => {
            "CloudVision: Settings > Certificates, or /etc/nginx/cvp.crt and cvp.key on each node"
        }
        Product::Prisma => {
            "Prisma Cloud Compute: Manage > Authentication > Certificates in the Console"
        }
        Product::Generic | Product::Auto => {
            "nginx: the files `ssl_certificate` and `ssl_certificate_key` name"
        }
    };
    format!("Issue a new certificate for this server (with a new key: a revoked key may be known to others), install it with its key where the server reads them ({place}), then reload. Until then clients that check revocation refuse the server, and those that do not (curl, Python, Go, grpcio; see \"Which clients will work\") connect to a certificate its CA withdrew.")
}

/// What to do about an answer that could not be used: the staple's fix, or reachability's.
fn unchecked_fix(heard: &[Heard]) -> String {
    let stapled = heard
        .iter()
        .any(|h| h.key == "stapled" && h.said == Said::Unchecked);
    let fetched: Vec<&str> = heard
        .iter()
        .filter(|h| h.key != "stapled" && h.said == Said::Unchecked)
        .map(|h| h.what.as_str())
        .collect();
    let mut fixes = Vec::new();
    if stapled {
        fixes.push("Have the server staple a fresh response from its CA's responder (nginx: `ssl_stapling on; ssl_stapling_verify on;` and a `resolver` that reaches the responder; a stale staple means the server cannot reach it or caches too long), then reload".to_string());
    }
    if !fetched.is_empty() {
        fixes.push(format!("Make {} reachable from this network (directly or through the proxy), or raise --tls-timeout/--max-time if it is slow; a private CA's responder is often inside its own network", fetched.join(" and ")));
    }
    fixes.join("; ")
}

/// Every trust source that accepted the chain fails with `revoked`: its verdict is no longer `Accepted`,
/// so credentials (decided from verdicts) do not go.
pub fn refuse(
    checks: &mut [Check],
    verdicts: &mut [(SourceKind, Verdict)],
    revoked: &Revoked,
    product: Product,
) {
    for (c, (_, v)) in checks.iter_mut().zip(verdicts.iter_mut()) {
        if *v != Verdict::Accepted {
            continue;
        }
        *v = Verdict::Rejected(Code::Revoked);
        c.facts.insert("detail".into(), json!(c.summary));
        c.facts.remove("warnings");
        c.status = Status::Fail;
        c.code = Code::Revoked;
        c.summary = format!(
            "{}; but the server's certificate is revoked {}",
            c.summary.split("; but ").next().unwrap_or(&c.summary),
            revoked.words()
        );
        c.fix = Some(revoked_fix(product));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoked() -> Revoked {
        Revoked {
            at: time::macros::datetime!(2026-01-14 23:00 UTC),
            reason: Some("keyCompromise"),
            by: vec!["the stapled OCSP response".into()],
        }
    }

    #[test]
    fn a_revocation_refuses_only_the_sources_that_accepted() {
        let mut checks = vec![
            Check::pass("trust.custom", "trusted by your --ca file: a → b"),
            Check::fail("trust.mozilla", Code::UnknownIssuer, "not trusted", "fix"),
        ];
        let mut verdicts = vec![
            (SourceKind::Custom, Verdict::Accepted),
            (SourceKind::Mozilla, Verdict::Rejected(Code::UnknownIssuer)),
        ];
        refuse(&mut checks, &mut verdicts, &revoked(), Product::Prisma);
        assert_eq!(verdicts[0].1, Verdict::Rejected(Code::Revoked));
        assert_eq!(verdicts[1].1, Verdict::Rejected(Code::UnknownIssuer));
        assert_eq!(
            (checks[0].status, checks[0].code),
            (Status::Fail, Code::Revoked)
        );
        assert_eq!(
            checks[0].summary,
            "trusted by your --ca file: a → b; but the server's certificate is revoked since 2026-01-14T23:00:00Z (keyCompromise), as the stapled OCSP response says"
        );
        assert_eq!(
            checks[0].facts["detail"],
            "trusted by your --ca file: a → b"
        );
        assert_eq!(checks[1].code, Code::UnknownIssuer);
        // The fix names where this product keeps its certificate, and no other product.
        let fix = checks[0].fix.as_deref().unwrap_or("");
        assert!(
            fix.contains("Manage > Authentication > Certificates") && !fix.contains("CloudVision"),
            "{fix}"
        );
    }

    #[test]
    fn the_worst_answer_decides() {
        let leaf = CertificateDer::from(Vec::new());
        let heard = |key, said| Heard::new(key, format!("the {key}"), said, format!("{key} text"));
        let r = revocation_of(Revoked::clone(&revoked()));
        let out = word(
            &[heard("stapled", Said::Good), heard("crl", r.clone())],
            None,
            None,
            &leaf,
        );
        assert_eq!(out.check.code, Code::Revoked);
        assert_eq!(out.revoked.map(|r| r.by), Some(vec!["the crl".to_string()]));
        let out = word(
            &[
                heard("stapled", Said::Unchecked),
                heard("ocsp", Said::Unknown),
            ],
            None,
            None,
            &leaf,
        );
        assert_eq!(
            (out.check.status, out.check.code),
            (Status::Warn, Code::RevocationUnknown)
        );
        let out = word(
            &[heard("crl", Said::NotAsked), heard("ocsp", Said::Good)],
            None,
            None,
            &leaf,
        );
        assert_eq!(out.check.status, Status::Pass);
        let out = word(&[], Some(&Published::default()), None, &leaf);
        assert!(
            out.check.summary.contains("names no OCSP responder"),
            "{}",
            out.check.summary
        );
        let out = word(&[heard("ocsp", Said::Unchecked)], None, None, &leaf);
        assert!(out.check.fix.unwrap_or_default().contains("reachable"));
    }

    fn revocation_of(r: Revoked) -> Said {
        Said::Revoked(Revocation {
            at: r.at,
            reason: r.reason,
        })
    }
}
