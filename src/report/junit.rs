//! `--format junit`: JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters).
//!
//! One `<testsuite>` per report, named after the target (`host:port`, or the file `verify` judged), one
//! `<testcase>` per check (name: the check id, classname: `preflight.<product>`). `fail` becomes a
//! `<failure>`, `error` an `<error>`, both with the code as `type`, the summary as `message` and summary, fix
//! and code as text; `skip` becomes `<skipped>` with the reason; `warn` passes with the warning in
//! `<system-out>`, so that CI does not fail on a warning.

use std::io::{self, Write};
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report as JunitReport, TestCase, TestCaseStatus, TestSuite,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::model::{Check, Report, Status, Verdict};
use super::summary::Interruption;

/// The name of the `<testsuites>` root.
const ROOT_NAME: &str = "preflight";

/// Renders every report as one JUnit document.
pub fn render(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    let mut root = JunitReport::new(ROOT_NAME);
    if let Some(first) = reports
        .iter()
        .filter_map(|r| timestamp(&r.started_at))
        .min()
    {
        root.set_timestamp(first);
    }
    if !reports.is_empty() {
        root.set_time(Duration::from_millis(
            reports.iter().map(|r| r.elapsed_ms).sum(),
        ));
    }
    root.add_test_suites(reports.iter().map(suite));
    // Serialized in memory, so that an error writing `out` (a closed pipe) keeps its kind.
    let xml = root.to_string().map_err(io::Error::other)?;
    out.write_all(xml.as_bytes())
}

/// One report's `<testsuite>` as it sits in the document, and what the root's attributes need of it: a scan
/// keeps these (or writes them aside) instead of whole reports, and writes the document at the end.
#[derive(Debug, Clone)]
pub struct SuitePart {
    /// The element, starting with its line break and indentation.
    pub xml: String,
    /// `[tests, failures, errors, skipped]`.
    pub counts: [usize; 4],
    pub elapsed_ms: u64,
    pub started: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// What the `<testsuites>` root says of the suites under it.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    counts: [usize; 4],
    elapsed_ms: u64,
    first: Option<chrono::DateTime<chrono::FixedOffset>>,
    suites: usize,
}

impl Totals {
    pub fn add(&mut self, part: &SuitePart) {
        for (t, n) in self.counts.iter_mut().zip(part.counts) {
            *t += n;
        }
        self.elapsed_ms += part.elapsed_ms;
        self.first = match (self.first, part.started) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.suites += 1;
    }
}

/// The report's suite, cut from the document [`render`] would write for it alone.
pub fn suite_part(r: &Report) -> io::Result<SuitePart> {
    let suite = suite(r);
    let counts = [suite.tests, suite.failures, suite.errors, suite.skipped];
    Ok(SuitePart {
        xml: inner(suite)?,
        counts,
        elapsed_ms: r.elapsed_ms,
        started: timestamp(&r.started_at),
    })
}

/// The XML declaration and the `<testsuites>` start tag for suites that add up to `totals`: with the
/// suites' parts and [`CLOSING`], the document [`render`] writes for the same reports.
pub fn opening(totals: &Totals) -> io::Result<String> {
    let mut root = JunitReport::new(ROOT_NAME);
    [root.tests, root.failures, root.errors, root.skipped] = totals.counts;
    if let Some(first) = totals.first {
        root.set_timestamp(first);
    }
    if totals.suites > 0 {
        root.set_time(Duration::from_millis(totals.elapsed_ms));
    }
    let xml = root.to_string().map_err(io::Error::other)?;
    let end = start_tag_end(&xml)?;
    Ok(xml[..end].to_string())
}

/// What follows the last suite.
pub const CLOSING: &str = "\n</testsuites>\n";

/// A last suite for a scan stopped by a signal: no test case, the signal and the count of targets not run
/// as properties, the sentence in `<system-out>`.
pub fn interrupted_suite(i: &Interruption) -> io::Result<String> {
    let mut suite = TestSuite::new("preflight scan");
    suite.add_properties([
        Property::new("interrupted", i.signal),
        Property::new("not_run", i.not_run.to_string()),
    ]);
    suite.set_system_out(format!("{}\n", i.sentence()));
    inner(suite)
}

/// A suite as it sits in a document: between the root's start tag and [`CLOSING`].
fn inner(suite: TestSuite) -> io::Result<String> {
    let mut root = JunitReport::new(ROOT_NAME);
    root.add_test_suite(suite);
    let xml = root.to_string().map_err(io::Error::other)?;
    let start = start_tag_end(&xml)?;
    let end = xml
        .rfind(CLOSING)
        .filter(|end| *end >= start)
        .ok_or_else(|| io::Error::other("unexpected JUnit serialization"))?;
    Ok(xml[start..end].to_string())
}

/// Where the `<testsuites ...>` start tag ends (its attributes are ours: names, numbers and times).
fn start_tag_end(xml: &str) -> io::Result<usize> {
    xml.find("<testsuites")
        .and_then(|at| xml[at..].find('>').map(|end| at + end + 1))
        .ok_or_else(|| io::Error::other("unexpected JUnit serialization"))
}

/// `host:port` (with the URL path, if any: a Prisma SaaS tenant), or the chain file `verify` judged.
fn suite_name(r: &Report) -> String {
    let t = &r.target;
    match t.port {
        Some(port) => {
            let host = if t.host.contains(':') {
                format!("[{}]", t.host)
            } else {
                t.host.clone()
            };
            format!("{host}:{port}{}", t.path.as_deref().unwrap_or_default())
        }
        None => t.input.clone(),
    }
}

fn suite(r: &Report) -> TestSuite {
    let mut suite = TestSuite::new(suite_name(r));
    if let Some(ts) = timestamp(&r.started_at) {
        suite.set_timestamp(ts);
    }
    suite.set_time(Duration::from_millis(r.elapsed_ms));

    let t = &r.target;
    let verdict = match r.verdict {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    };
    let mut props = vec![
        Property::new("target", t.input.as_str()),
        Property::new("product", t.product.as_str()),
        Property::new("verdict", verdict),
        Property::new("judged_at", r.judged_at.as_str()),
        Property::new("tool", format!("{} {}", r.tool.name, r.tool.version)),
    ];
    if t.port.is_none() && !t.host.is_empty() {
        props.push(Property::new("name", t.host.as_str()));
    }
    if let Some(sni) = &t.sni {
        props.push(Property::new("sni", sni.as_str()));
    }
    if let Some(fix) = &r.first_fix {
        props.push(Property::new("first_fix", fix.as_str()));
    }
    suite.add_properties(props);
    if let Some(fix) = &r.first_fix {
        suite.set_system_out(format!("verdict: {verdict}\nfirst fix: {fix}\n"));
    }

    let classname = format!("preflight.{}", t.product.as_str());
    suite.add_test_cases(r.checks.iter().map(|c| case(c, &classname)));
    suite
}

fn case(c: &Check, classname: &str) -> TestCase {
    let status = match c.status {
        Status::Pass | Status::Info | Status::Warn => TestCaseStatus::success(),
        Status::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(one_line(&c.summary));
            s
        }
        Status::Fail | Status::Error => {
            let kind = if c.status == Status::Error {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_type(c.code.as_str())
                .set_message(one_line(&c.summary))
                .set_description(details(c));
            s
        }
    };
    let mut case = TestCase::new(c.id.as_str(), status);
    case.set_classname(classname);
    if let Some(ms) = c.elapsed_ms {
        case.set_time(Duration::from_millis(ms));
    }
    match c.status {
        Status::Warn => {
            case.set_system_out(format!("warning: {}", details(c)));
        }
        Status::Pass => {
            case.set_system_out(format!("{}\n", c.summary));
        }
        Status::Info => {
            case.set_system_out(format!("info: {}", details(c)));
        }
        _ => {}
    }
    case
}

/// An attribute value on one line: XML parsers turn a raw newline in an attribute into a space anyway.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Summary, fix and code, one per line: what a CI page shows under a failure.
fn details(c: &Check) -> String {
    let mut text = format!("{}\n", c.summary);
    if let Some(fix) = &c.fix {
        text.push_str(&format!("fix: {fix}\n"));
    }
    text.push_str(&format!("code: {}\n", c.code));
    text
}

/// `started_at` (RFC 3339) as quick-junit's timestamp; `None` when it does not parse.
fn timestamp(rfc3339: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    let offset = chrono::FixedOffset::east_opt(t.offset().whole_seconds())?;
    let utc = chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())?;
    Some(utc.with_timezone(&offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown::fixtures::{check_report, refused_report, verify_report, NASTY};

    fn render_str(reports: &[Report]) -> String {
        let mut out = Vec::new();
        render(reports, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
        n.attribute(name)
            .unwrap_or_else(|| panic!("<{}> has no {name}", n.tag_name().name()))
    }

    fn count(n: roxmltree::Node<'_, '_>, name: &str) -> usize {
        attr(n, name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    }

    fn children<'a, 'input>(
        n: roxmltree::Node<'a, 'input>,
        tag: &'a str,
    ) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
        n.children()
            .filter(move |c| c.is_element() && c.tag_name().name() == tag)
    }

    fn child<'a, 'input>(
        n: roxmltree::Node<'a, 'input>,
        tag: &'a str,
    ) -> Option<roxmltree::Node<'a, 'input>> {
        children(n, tag).next()
    }

    /// Checks that every count CI reads agrees with the elements, at suite and root level.
    fn check_counts(doc: &roxmltree::Document<'_>) {
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let mut totals = [0usize; 4];
        for suite in children(root, "testsuite") {
            assert!(!attr(suite, "name").is_empty());
            let cases: Vec<_> = children(suite, "testcase").collect();
            let with = |tag: &str| cases.iter().filter(|c| child(**c, tag).is_some()).count();
            let got = [cases.len(), with("failure"), with("error"), with("skipped")];
            let said = [
                count(suite, "tests"),
                count(suite, "failures"),
                count(suite, "errors"),
                count(suite, "skipped"),
            ];
            assert_eq!(got, said, "suite {}", attr(suite, "name"));
            for case in cases {
                assert!(!attr(case, "name").is_empty());
                assert!(attr(case, "classname").starts_with("preflight."));
            }
            for (t, g) in totals.iter_mut().zip(got) {
                *t += g;
            }
        }
        let said = [
            count(root, "tests"),
            count(root, "failures"),
            count(root, "errors"),
            count(root, "skipped"),
        ];
        assert_eq!(totals, said);
    }

    /// `[tests, failures, errors, skipped]` as an element says them.
    fn counts(n: roxmltree::Node<'_, '_>) -> [usize; 4] {
        [
            count(n, "tests"),
            count(n, "failures"),
            count(n, "errors"),
            count(n, "skipped"),
        ]
    }

    #[test]
    fn structure_ci_systems_read() {
        let xml = render_str(&[check_report(), verify_report(), refused_report()]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        check_counts(&doc);
        let root = doc.root_element();
        assert_eq!(attr(root, "name"), "preflight");
        assert_eq!(counts(root), [11, 2, 1, 2]);
        assert_eq!(attr(root, "timestamp"), "2026-06-01T10:00:05.000+02:00");
        assert_eq!(attr(root, "time"), "1.244");

        let suites: Vec<_> = children(root, "testsuite").collect();
        let names: Vec<&str> = suites.iter().map(|s| attr(*s, "name")).collect();
        assert_eq!(
            names,
            [
                "cvp1.example.com:443/cvpservice",
                "fixtures/good/chain.pem",
                "[::1]:8083"
            ]
        );
        let cases = check_cvp_suite(suites[0]);
        check_failure_and_error(&cases, &xml);
        check_skip_warn_and_pass(&cases);
        check_verify_suite(suites[1]);
    }

    /// The check report's suite: counts, time, properties, and its cases in order (returned).
    fn check_cvp_suite<'a, 'input>(
        cvp: roxmltree::Node<'a, 'input>,
    ) -> Vec<roxmltree::Node<'a, 'input>> {
        assert_eq!(counts(cvp), [6, 1, 1, 1]);
        assert_eq!(attr(cvp, "timestamp"), "2026-06-01T10:00:00.250+00:00");
        assert_eq!(attr(cvp, "time"), "1.234");
        let props: Vec<(&str, &str)> = child(cvp, "properties")
            .expect("properties")
            .children()
            .filter(|p| p.is_element())
            .map(|p| (attr(p, "name"), attr(p, "value")))
            .collect();
        assert!(props.contains(&("product", "cvp")));
        assert!(props.contains(&("verdict", "fail")));
        assert!(props.contains(&("sni", "cvp1.example.com")));
        assert!(props.contains(&("target", "https://cvp1.example.com/cvpservice")));

        let cases: Vec<_> = children(cvp, "testcase").collect();
        let ids: Vec<&str> = cases.iter().map(|c| attr(*c, "name")).collect();
        assert_eq!(
            ids,
            [
                "dns.resolve",
                "tcp.connect",
                "tls.handshake",
                "trust.mozilla",
                "trust.system",
                "tls.alpn"
            ]
        );
        assert!(cases
            .iter()
            .all(|c| attr(*c, "classname") == "preflight.cvp"));
        assert_eq!(attr(cases[0], "time"), "0.002");
        assert_eq!(
            cases[5].attribute("time"),
            None,
            "a skipped check has no time"
        );
        cases
    }

    /// fail → `<failure type=code message=summary>summary, fix and code</failure>`; error → `<error>`.
    fn check_failure_and_error(cases: &[roxmltree::Node<'_, '_>], xml: &str) {
        let failure = child(cases[3], "failure").expect("failure");
        assert_eq!(attr(failure, "type"), "self_signed");
        assert_eq!(
            attr(failure, "message"),
            "the server presents a self-signed certificate (CN=cvp1.example.com) | not in the Mozilla roots second line"
        );
        assert!(
            !xml.contains("roots\nsecond line\""),
            "no raw newline in an attribute"
        );
        let text = failure.text().expect("text");
        assert!(
            text.contains("not in the Mozilla roots\nsecond line\n"),
            "{text}"
        );
        assert!(text.contains(
            "fix: Fetch `/etc/nginx/cvp.crt` from the node, compare `openssl x509 -noout -fingerprint -sha256 -in cvp.crt | tr -d :` and pass it with `--ca cvp.crt`\n"
        ), "{text}");
        assert!(text.ends_with("code: self_signed\n"), "{text}");

        // error → <error>
        let error = child(cases[4], "error").expect("error");
        assert_eq!(attr(error, "type"), "other");
        assert!(child(cases[4], "failure").is_none());
    }

    /// skip → `<skipped message=reason>`; warn and pass → pass, their text in system-out.
    fn check_skip_warn_and_pass(cases: &[roxmltree::Node<'_, '_>]) {
        let skipped = child(cases[5], "skipped").expect("skipped");
        assert_eq!(
            attr(skipped, "message"),
            "not run: ALPN (tls.handshake did not pass)"
        );

        // warn → passes, the warning in system-out.
        let warn = cases[2];
        assert!(["failure", "error", "skipped"]
            .iter()
            .all(|t| child(warn, t).is_none()));
        let out = child(warn, "system-out")
            .and_then(|o| o.text())
            .expect("system-out");
        assert!(out.starts_with("warning: TLS 1.3 handshake done"), "{out}");
        assert!(out.contains("fix: Present a client certificate if the API needs one\n"));
        assert!(out.contains("code: client_cert_required"));

        // pass → passes, the summary in system-out.
        assert!(child(cases[0], "failure").is_none());
        assert_eq!(
            child(cases[0], "system-out").and_then(|o| o.text()),
            Some("cvp1.example.com has 1 address: 10.0.0.5 (2 ms)\n")
        );
    }

    /// The verify report: named after its input, everything passing.
    fn check_verify_suite(verify: roxmltree::Node<'_, '_>) {
        assert_eq!(counts(verify), [2, 0, 0, 0]);
        assert!(children(verify, "testcase").all(|c| attr(c, "classname") == "preflight.prisma"));
        assert_eq!(attr(verify, "timestamp"), "2026-06-01T10:00:05.000+02:00");
    }

    #[test]
    fn hostile_summaries_survive_escaping() {
        let xml = render_str(&[check_report()]);
        // The raw document escapes what must be escaped.
        assert!(!xml.contains("<b>"), "{xml}");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let case = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("trust.system"))
            .expect("trust.system");
        let error = child(case, "error").expect("error");
        assert_eq!(attr(error, "message"), NASTY);
        let text = error.text().expect("text");
        assert!(text.starts_with(&format!("{NASTY}\n")), "{text}");
        assert!(text.contains("fix: Read the summary; compare with `openssl verify`.\n"));
    }

    #[test]
    fn a_clean_run_has_no_failures_and_an_empty_run_is_valid() {
        let xml = render_str(&[verify_report()]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        check_counts(&doc);
        let root = doc.root_element();
        assert_eq!([count(root, "failures"), count(root, "errors")], [0, 0]);
        assert!(
            !xml.contains("<system-out>verdict"),
            "no first fix, no suite output"
        );

        let xml = render_str(&[]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        check_counts(&doc);
        assert_eq!(count(doc.root_element(), "tests"), 0);
    }

    /// The document a scan writes from parts: the opening for their totals, the parts, the closing.
    fn assembled(reports: &[Report], interrupted: Option<&Interruption>) -> String {
        let parts: Vec<SuitePart> = reports
            .iter()
            .map(|r| suite_part(r).expect("part"))
            .collect();
        let mut totals = Totals::default();
        // Totals add up in any order (a scan adds them as targets finish).
        for p in parts.iter().rev() {
            totals.add(p);
        }
        let mut xml = opening(&totals).expect("opening");
        for p in &parts {
            xml.push_str(&p.xml);
        }
        if let Some(i) = interrupted {
            xml.push_str(&interrupted_suite(i).expect("suite"));
        }
        xml.push_str(CLOSING);
        xml
    }

    #[test]
    fn a_document_assembled_from_parts_is_the_rendered_document() {
        for reports in [
            vec![],
            vec![refused_report()],
            vec![check_report(), verify_report(), refused_report()],
        ] {
            assert_eq!(assembled(&reports, None), render_str(&reports));
        }
    }

    #[test]
    fn an_interrupted_document_says_so_in_a_last_suite() {
        let i = Interruption {
            signal: "SIGINT",
            not_run: 3,
        };
        let xml = assembled(&[refused_report()], Some(&i));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        check_counts(&doc);
        let suites: Vec<_> = children(doc.root_element(), "testsuite").collect();
        assert_eq!(suites.len(), 2);
        let last = suites[1];
        assert_eq!(counts(last), [0, 0, 0, 0]);
        let props: Vec<(&str, &str)> = child(last, "properties")
            .expect("properties")
            .children()
            .filter(|p| p.is_element())
            .map(|p| (attr(p, "name"), attr(p, "value")))
            .collect();
        assert_eq!(props, [("interrupted", "SIGINT"), ("not_run", "3")]);
        let out = child(last, "system-out").and_then(|o| o.text());
        assert_eq!(
            out,
            Some("Interrupted by SIGINT: 3 targets not run (abandoned in flight or never started).\n")
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp("2026-01-15T10:00:00Z").map(|t| t.to_rfc3339()),
            Some("2026-01-15T10:00:00+00:00".to_string())
        );
        assert_eq!(
            timestamp("2026-01-15T10:00:00.5-05:30").map(|t| t.to_rfc3339()),
            Some("2026-01-15T10:00:00.500-05:30".to_string())
        );
        assert_eq!(timestamp("yesterday"), None);
        assert_eq!(timestamp(""), None);

        let mut r = verify_report();
        r.started_at = "not a time".into();
        let xml = render_str(&[r]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        assert_eq!(doc.root_element().attribute("timestamp"), None);
    }
}
