//! `--format markdown`: the report as GitHub-flavoured Markdown, to paste into a ticket or a pull request.
//!
//! Per report: a heading naming the target, the summary first (verdict, counts, the first fix), the checks as a
//! table, the fixes of every failing or warning check, the chain as sent and which clients will work.
//!
//! Text from the report (summaries carry what a server sent) is escaped so that it renders as written and
//! reaches a terminal inert: control characters (a newline included) become visible escapes (`\n`,
//! `\x1b`, see [`printable`]), Markdown punctuation is backslash-escaped and `|` never splits a table cell.
//! Code spans in summaries and fixes (`` `openssl x509 ...` ``) are kept as code spans, unescaped inside, so
//! that they stay copy-pasteable.

use std::io::{self, Write};

use super::model::{Check, Report, Status, Verdict};
use crate::pki::facts::CertFacts;
use crate::report::model::ClientAdvice;
use crate::text::printable;

/// Renders several reports one after the other.
pub fn render(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        render_one(r, out)?;
    }
    Ok(())
}

/// Renders one report: blocks separated by one blank line, ending with a single newline.
pub fn render_one(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut blocks = vec![format!("## {}", heading(r))];
    blocks.extend(summary(r));
    blocks.push(checks_table(&r.checks));
    blocks.extend(fixes(&r.checks));
    if !r.certificates.is_empty() {
        blocks.push(chain_table(&r.certificates));
    }
    if !r.clients.is_empty() {
        blocks.push(clients_table(&r.clients));
    }
    writeln!(out, "{}", blocks.join("\n\n"))
}

/// `` `host:port/path` · Product ``, or `` verify `file` as `name` · Product `` offline.
fn heading(r: &Report) -> String {
    let t = &r.target;
    let what = match t.port {
        Some(port) => {
            let host = if t.host.contains(':') {
                format!("[{}]", t.host)
            } else {
                t.host.clone()
            };
            let path = t.path.as_deref().unwrap_or_default();
            code(&format!("{host}:{port}{path}"), Ctx::Block)
        }
        None => {
            let name = if t.host.is_empty() {
                "(no name)".to_string()
            } else {
                code(&t.host, Ctx::Block)
            };
            format!("verify {} as {name}", code(&t.input, Ctx::Block))
        }
    };
    format!("{what} · {}", text(t.product.display_name(), Ctx::Block))
}

/// The verdict with the counts, the first fix as a blockquote, then when and how the run was made.
fn summary(r: &Report) -> Vec<String> {
    let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
    let word = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
    };
    let mut blocks = vec![format!(
        "**{word}**: {} passed, {} warned, {} failed, {} skipped in {} ms.",
        count(Status::Pass) + count(Status::Info),
        count(Status::Warn),
        count(Status::Fail) + count(Status::Error),
        count(Status::Skip),
        r.elapsed_ms
    )];
    if let Some(fix) = &r.first_fix {
        blocks.push(format!("> **First fix:** {}", text(fix, Ctx::Block)));
    }
    let mut meta = format!(
        "{} {}, started {}, certificates judged at {}",
        text(&r.tool.name, Ctx::Block),
        text(&r.tool.version, Ctx::Block),
        text(&r.started_at, Ctx::Block),
        text(&r.judged_at, Ctx::Block),
    );
    if let Some(sni) = &r.target.sni {
        meta.push_str(&format!(", SNI {}", code(sni, Ctx::Block)));
    }
    if let Some(proxy) = &r.target.proxy {
        meta.push_str(&format!(", via proxy {}", code(proxy, Ctx::Block)));
    }
    meta.push('.');
    blocks.push(meta);
    blocks
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Info => "INFO",
        Status::Skip => "SKIP",
        Status::Fail => "**FAIL**",
        Status::Error => "**ERROR**",
    }
}

fn checks_table(checks: &[Check]) -> String {
    let rows = checks.iter().map(|c| {
        vec![
            status_word(c.status).to_string(),
            code(&c.id, Ctx::Cell),
            code(c.code.as_str(), Ctx::Cell),
            cell(&c.summary),
        ]
    });
    format!(
        "### Checks\n\n{}",
        table(&["status", "check", "code", "summary"], rows)
    )
}

/// Every failing or warning check with its fix; `None` when there is nothing to fix.
fn fixes(checks: &[Check]) -> Option<String> {
    let items: Vec<String> = checks
        .iter()
        .filter(|c| c.status.is_failure() || c.status == Status::Warn)
        .map(|c| {
            let fix = match &c.fix {
                Some(fix) => text(fix, Ctx::Block),
                None => "(no fix given: see the summary above)".to_string(),
            };
            format!(
                "- {} {} ({}): {fix}",
                status_word(c.status),
                code(&c.id, Ctx::Block),
                code(c.code.as_str(), Ctx::Block)
            )
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    Some(format!("### Fixes\n\n{}", items.join("\n")))
}

fn chain_table(certs: &[CertFacts]) -> String {
    let rows = certs.iter().map(|f| {
        let role = if f.index == 0 {
            "leaf"
        } else if f.self_signed {
            "root"
        } else {
            "intermediate"
        };
        let index = format!("{} ({role})", f.index);
        let sha = code(&f.sha256, Ctx::Cell);
        if let Some(err) = &f.parse_error {
            let dash = || "-".to_string();
            return vec![
                index,
                cell(&format!("unparsable: {err}")),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                sha,
            ];
        }
        let mut subject = f.subject.clone();
        if f.self_signed {
            subject.push_str(" (self-signed)");
        }
        let days = if f.days_left < 0 {
            format!("{} (expired)", f.days_left)
        } else {
            f.days_left.to_string()
        };
        let sans = f.san_list();
        let sans = if sans.is_empty() {
            "(none)".to_string()
        } else {
            sans.join(", ")
        };
        vec![
            index,
            cell(&subject),
            cell(&f.issuer),
            cell(&f.not_after),
            days,
            cell(&sans),
            cell(&f.key_description()),
            sha,
        ]
    });
    let header = [
        "#",
        "subject",
        "issuer",
        "not after",
        "days left",
        "SANs",
        "key",
        "SHA-256",
    ];
    format!(
        "### Certificates, as sent (leaf first)\n\n{}",
        table(&header, rows)
    )
}

fn clients_table(clients: &[ClientAdvice]) -> String {
    let rows = clients.iter().map(|c| {
        let works = if c.works {
            "yes".to_string()
        } else if c.note.is_empty() {
            "**no**".to_string()
        } else {
            format!("**no**: {}", cell(&c.note))
        };
        vec![
            cell(&c.client),
            cell(&c.default_trust),
            works,
            c.make_it_work
                .as_deref()
                .map(|l| code(l, Ctx::Cell))
                .unwrap_or_else(|| "-".to_string()),
        ]
    });
    format!(
        "### Which clients will work\n\n{}",
        table(&["client", "default trust", "works", "one line"], rows)
    )
}

/// A table whose cells are already escaped for a cell, without a trailing newline.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut lines = vec![
        format!("| {} |", header.join(" | ")),
        format!("|{}", " --- |".repeat(header.len())),
    ];
    lines.extend(rows.map(|row| format!("| {} |", row.join(" | "))));
    lines.join("\n")
}

/// Where escaped text goes: inside a table cell, or in a paragraph, list item or blockquote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Cell,
    Block,
}

/// Report text for a table cell: `|` escaped.
fn cell(s: &str) -> String {
    text(s, Ctx::Cell)
}

/// Report text as Markdown that renders as written, on one line. First [`printable`]: a newline or any other
/// control character in the report shows as its escape (`\n`, `\x1b`), so nothing from the report reaches a
/// terminal raw, ends a table row or starts a block (text always starts mid-line: after a label, a list
/// marker or `> `). Then code spans (backtick runs closed by a run of the same length, as CommonMark reads
/// them) are kept verbatim; everywhere else Markdown punctuation is escaped.
fn text(s: &str, ctx: Ctx) -> String {
    let chars: Vec<char> = printable(s.trim()).chars().collect();
    let mut out = String::with_capacity(chars.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let run = run_len(&chars, i);
            if let Some(close) = closing_run(&chars, i + run, run) {
                let content: String = chars[i + run..close].iter().collect();
                let fence = "`".repeat(run);
                out.push_str(&fence);
                out.push_str(&code_content(&content, ctx));
                out.push_str(&fence);
                i = close + run;
            } else {
                // An unmatched run is literal text.
                for _ in 0..run {
                    out.push_str("\\`");
                }
                i += run;
            }
            continue;
        }
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '<' | '~' | '|' | '&') {
            out.push('\\');
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The length of the backtick run starting at `i`.
fn run_len(chars: &[char], i: usize) -> usize {
    chars[i..].iter().take_while(|c| **c == '`').count()
}

/// The start of the first backtick run of exactly `len` at or after `from`.
fn closing_run(chars: &[char], from: usize, len: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '`' {
            let run = run_len(chars, j);
            if run == len {
                return Some(j);
            }
            j += run;
        } else {
            j += 1;
        }
    }
    None
}

/// The inside of a code span (already [`printable`], so on one line): literal, except that `|` would split a
/// cell even inside a code span (GFM reads `\|` there as `|`).
fn code_content(content: &str, ctx: Ctx) -> String {
    match ctx {
        Ctx::Cell => content.replace('|', "\\|"),
        Ctx::Block => content.to_string(),
    }
}

/// A value of the report (a check id, a code, a host, a fingerprint, a command) as a code span, whatever
/// backticks it contains, [`printable`] first.
fn code(s: &str, ctx: Ctx) -> String {
    let s = printable(s);
    let longest = s
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", code_content(&s, ctx))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Realistic reports for the renderers' tests.

    use std::time::Duration;

    use time::macros::datetime;

    use crate::codes::Code;
    use crate::pki::facts::CertFacts;
    use crate::report::model::ClientAdvice;
    use crate::report::model::{Check, Report, Status, TargetInfo};
    use crate::target::Product;

    pub const NASTY: &str = "server said <b>\"hi\" & 'bye'</b> | a|b `<tag> & \"q\"` done";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn leaf() -> CertFacts {
        CertFacts {
            index: 0,
            subject: "CN=cvp1.example.com, O=Arista".into(),
            issuer: "CN=cvp1.example.com, O=Arista".into(),
            common_name: Some("cvp1.example.com".into()),
            serial: "01:02:03".into(),
            not_before: "2026-01-15T00:00:00Z".into(),
            not_after: "2026-06-20T00:00:00Z".into(),
            days_left: 19,
            dns_names: vec!["cvp1.example.com".into(), "*.cvp.example.com".into()],
            ip_addresses: vec!["10.0.0.5".into()],
            key_type: "EC".into(),
            key_bits: 256,
            key_curve: Some("P-256".into()),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            is_ca: Some(false),
            extended_key_usage: vec!["serverAuth".into()],
            sha256: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".into(),
            self_signed: true,
            pem: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n".into(),
            ..CertFacts::default()
        }
    }

    fn expired_ca() -> CertFacts {
        CertFacts {
            index: 1,
            subject: "CN=Twistlock, O=Twistlock".into(),
            issuer: "CN=Twistlock, O=Twistlock".into(),
            common_name: Some("Twistlock".into()),
            not_before: "2020-01-01T00:00:00Z".into(),
            not_after: "2026-05-01T00:00:00Z".into(),
            days_left: -31,
            key_type: "RSA".into(),
            key_bits: 2048,
            signature_algorithm: "sha256WithRSAEncryption".into(),
            is_ca: Some(true),
            sha256: "01:23".into(),
            self_signed: true,
            ..CertFacts::default()
        }
    }

    fn garbage() -> CertFacts {
        CertFacts {
            index: 2,
            sha256: "FF:EE".into(),
            parse_error: Some("not a valid X.509 certificate (Der(InvalidTag))".into()),
            ..CertFacts::default()
        }
    }

    fn clients() -> Vec<ClientAdvice> {
        vec![
            ClientAdvice {
                client: "Python requests".into(),
                default_trust: "certifi: Mozilla roots".into(),
                works: false,
                note:
                    "fails by default (self_signed); works with the certificate or CA (first fix)"
                        .into(),
                make_it_work: Some(
                    "requests.get(\"https://cvp1.example.com:443/\", verify=\"cvp.crt\")".into(),
                ),
                ..Default::default()
            },
            ClientAdvice {
                client: "curl".into(),
                default_trust: "system store".into(),
                works: true,
                note: "connects with its default trust".into(),
                make_it_work: None,
                ..Default::default()
            },
            ClientAdvice {
                client: "odd | client".into(),
                default_trust: "a\nb".into(),
                works: false,
                note: "pipes | and\nnewlines".into(),
                make_it_work: Some("echo a | grep `b`".into()),
                ..Default::default()
            },
        ]
    }

    /// A CloudVision check: pass, warn, fail, error and skip, three certificates, three clients.
    pub fn check_report() -> Report {
        let checks = vec![
            Check::pass("dns.resolve", "cvp1.example.com has 1 address: 10.0.0.5 (2 ms)")
                .with_elapsed(ms(2)),
            Check::pass("tcp.connect", "connected to 10.0.0.5:443").with_elapsed(ms(1)),
            Check::new(
                "tls.handshake",
                Status::Warn,
                Code::ClientCertRequired,
                "TLS 1.3 handshake done; the server asked for an optional client certificate",
            )
            .with_fix("Present a client certificate if the API needs one")
            .with_elapsed(ms(15)),
            Check::fail(
                "trust.mozilla",
                Code::SelfSigned,
                "the server presents a self-signed certificate (CN=cvp1.example.com) | not in the Mozilla roots\nsecond line",
                "Fetch `/etc/nginx/cvp.crt` from the node, compare `openssl x509 -noout -fingerprint -sha256 -in cvp.crt | tr -d :` and pass it with `--ca cvp.crt`",
            )
            .with_elapsed(ms(3)),
            Check::new("trust.system", Status::Error, Code::Other, NASTY)
                .with_fix("Read the summary; compare with `openssl verify`.")
                .with_elapsed(ms(4)),
            Check::skip("tls.alpn", "tls.handshake", "ALPN"),
        ];
        Report::new(
            TargetInfo {
                input: "https://cvp1.example.com/cvpservice".into(),
                host: "cvp1.example.com".into(),
                port: Some(443),
                path: Some("/cvpservice".into()),
                product: Product::Cvp,
                sni: Some("cvp1.example.com".into()),
                proxy: None,
            },
            datetime!(2026-06-01 10:00:00.25 UTC),
            datetime!(2026-06-01 10:00:00 UTC),
            checks,
            vec![leaf(), expired_ca(), garbage()],
            clients(),
            ms(1234),
        )
    }

    /// An offline `verify` of a chain file (no port), everything passing, no clients.
    pub fn verify_report() -> Report {
        Report::new(
            TargetInfo {
                input: "fixtures/good/chain.pem".into(),
                host: "console.example.com".into(),
                port: None,
                path: None,
                product: Product::Prisma,
                sni: None,
                proxy: None,
            },
            datetime!(2026-06-01 10:00:05 +02:00),
            datetime!(2027-01-01 00:00:00 UTC),
            vec![
                Check::pass("cert.chain", "2 certificates, leaf CN=console.example.com"),
                Check::pass(
                    "trust.custom",
                    "trusted by --ca ca.pem: CN=console.example.com → CN=Twistlock",
                ),
            ],
            vec![leaf()],
            vec![],
            ms(7),
        )
    }

    /// An IPv6 target whose TCP connection failed: every later check skipped.
    pub fn refused_report() -> Report {
        Report::new(
            TargetInfo {
                input: "[::1]:8083".into(),
                host: "::1".into(),
                port: Some(8083),
                path: None,
                product: Product::Prisma,
                sni: None,
                proxy: None,
            },
            datetime!(2026-06-01 10:00:01 UTC),
            datetime!(2026-06-01 10:00:01 UTC),
            vec![
                Check::pass("dns.resolve", "an address: nothing to resolve"),
                Check::fail(
                    "tcp.connect",
                    Code::TcpRefused,
                    "[::1]:8083 refused the connection",
                    "Use port 443, which answers TLS",
                ),
                Check::skip("tls.handshake", "tcp.connect", "TLS handshake"),
            ],
            vec![],
            vec![],
            ms(3),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{check_report, refused_report, verify_report};
    use super::*;

    fn render_str(reports: &[Report]) -> String {
        let mut out = Vec::new();
        render(reports, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    /// Splits a GFM table row into cells the way GFM does: on `|` not preceded by a backslash.
    fn cells(row: &str) -> Vec<String> {
        let inner = row
            .trim()
            .strip_prefix('|')
            .and_then(|r| r.strip_suffix('|'))
            .expect("a row starts and ends with |");
        let mut cells = vec![String::new()];
        let mut escaped = false;
        for c in inner.chars() {
            if c == '|' && !escaped {
                cells.push(String::new());
                continue;
            }
            escaped = c == '\\' && !escaped;
            cells.last_mut().expect("a cell").push(c);
        }
        cells.into_iter().map(|c| c.trim().to_string()).collect()
    }

    /// Every table in the document: (header cells, rows of cells), checking the delimiter row.
    fn tables(md: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
        let lines: Vec<&str> = md.lines().collect();
        let mut found = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].starts_with('|') {
                let header = cells(lines[i]);
                let delim = cells(lines[i + 1]);
                assert!(delim.iter().all(|d| d == "---"), "{}", lines[i + 1]);
                assert_eq!(delim.len(), header.len(), "{}", lines[i + 1]);
                let mut rows = Vec::new();
                i += 2;
                while i < lines.len() && lines[i].starts_with('|') {
                    rows.push(cells(lines[i]));
                    i += 1;
                }
                found.push((header, rows));
            } else {
                i += 1;
            }
        }
        found
    }

    fn section<'a>(md: &'a str, title: &str) -> &'a str {
        let start = md.find(title).expect(title);
        let rest = &md[start + title.len()..];
        let end = rest.find("\n#").unwrap_or(rest.len());
        &rest[..end]
    }

    #[test]
    fn check_report_reads_top_down() {
        let md = render_str(&[check_report()]);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "## `cvp1.example.com:443/cvpservice` · CloudVision Portal (on-prem)"
        );
        assert_eq!(
            lines[2],
            "**FAIL**: 2 passed, 1 warned, 2 failed, 1 skipped in 1234 ms."
        );
        // The first fix, as a blockquote, its code spans intact.
        assert_eq!(
            lines[4],
            "> **First fix:** Fetch `/etc/nginx/cvp.crt` from the node, compare `openssl x509 -noout -fingerprint -sha256 -in cvp.crt | tr -d :` and pass it with `--ca cvp.crt`"
        );
        assert!(
            lines[6].starts_with(&format!(
                "preflight {}, started 2026-06-01T10:00:00.25Z, certificates judged at 2026-06-01T10:00:00Z, SNI `cvp1.example.com`",
                env!("CARGO_PKG_VERSION")
            )),
            "{}",
            lines[6]
        );
        // Summary, then checks, fixes, chain, clients: in that order.
        let order = [
            "**FAIL**:",
            "### Checks",
            "### Fixes",
            "### Certificates, as sent (leaf first)",
            "### Which clients will work",
        ];
        let at: Vec<usize> = order.iter().map(|h| md.find(h).expect(h)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        assert!(!md.contains('\x1b'), "no colour");
    }

    #[test]
    fn every_row_has_as_many_cells_as_its_header() {
        let md = render_str(&[check_report(), verify_report(), refused_report()]);
        let tables = tables(&md);
        // Checks, chain, clients; checks, chain; checks.
        assert_eq!(tables.len(), 6, "{md}");
        for (header, rows) in &tables {
            assert!(!rows.is_empty());
            for row in rows {
                assert_eq!(row.len(), header.len(), "{header:?} vs {row:?}");
            }
        }
        let (header, rows) = &tables[0];
        assert_eq!(header, &["status", "check", "code", "summary"]);
        assert_eq!(rows.len(), 6);
        let ids: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(
            ids,
            [
                "`dns.resolve`",
                "`tcp.connect`",
                "`tls.handshake`",
                "`trust.mozilla`",
                "`trust.system`",
                "`tls.alpn`"
            ]
        );
        let statuses: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            statuses,
            ["PASS", "PASS", "WARN", "**FAIL**", "**ERROR**", "SKIP"]
        );
        assert_eq!(rows[3][2], "`self_signed`");
        // A `|` and a newline inside the summary stay in one cell of one row, the newline shown as `\n`.
        assert_eq!(
            rows[3][3],
            "the server presents a self-signed certificate (CN=cvp1.example.com) \\| not in the Mozilla roots\\\\nsecond line"
        );
        assert_eq!(
            tables[1].0,
            [
                "#",
                "subject",
                "issuer",
                "not after",
                "days left",
                "SANs",
                "key",
                "SHA-256"
            ]
        );
        assert_eq!(
            tables[2].0,
            ["client", "default trust", "works", "one line"]
        );
    }

    #[test]
    fn hostile_text_is_escaped_but_code_spans_are_kept() {
        let md = render_str(&[check_report()]);
        let (_, rows) = &tables(&md)[0];
        assert_eq!(
            rows[4][3],
            "server said \\<b>\"hi\" \\& 'bye'\\</b> \\| a\\|b `<tag> & \"q\"` done"
        );
        // Fixes keep their backticks, not escaped: copy-pasteable.
        let fixes = section(&md, "### Fixes");
        assert!(fixes.contains(
            "- **FAIL** `trust.mozilla` (`self_signed`): Fetch `/etc/nginx/cvp.crt` from the node, compare `openssl x509 -noout -fingerprint -sha256 -in cvp.crt | tr -d :` and pass it with `--ca cvp.crt`"
        ), "{fixes}");
        assert!(!fixes.contains("\\`"), "{fixes}");
        assert!(fixes.contains(
            "- **ERROR** `trust.system` (`other`): Read the summary; compare with `openssl verify`."
        ));
        assert!(fixes.contains(
            "- WARN `tls.handshake` (`client_cert_required`): Present a client certificate if the API needs one"
        ));
        // Passing and skipped checks have nothing to fix.
        assert!(!fixes.contains("dns.resolve"));
        assert!(!fixes.contains("tls.alpn"));
        assert_eq!(fixes.matches("\n- ").count(), 3);
    }

    #[test]
    fn chain_and_clients_tables() {
        let md = render_str(&[check_report()]);
        let t = tables(&md);
        let (_, chain) = &t[1];
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0][0], "0 (leaf)");
        assert_eq!(chain[0][1], "CN=cvp1.example.com, O=Arista (self-signed)");
        assert_eq!(chain[0][3], "2026-06-20T00:00:00Z");
        assert_eq!(chain[0][4], "19");
        assert_eq!(
            chain[0][5],
            "DNS:cvp1.example.com, DNS:\\*.cvp.example.com, IP:10.0.0.5"
        );
        assert_eq!(chain[0][6], "EC P-256");
        assert!(chain[0][7].starts_with("`AB:CD:EF:") && chain[0][7].ends_with(":89`"));
        assert_eq!(chain[1][0], "1 (root)");
        assert_eq!(chain[1][4], "-31 (expired)");
        assert_eq!(chain[1][5], "(none)");
        assert_eq!(chain[1][6], "RSA 2048");
        assert_eq!(
            chain[2][1],
            "unparsable: not a valid X.509 certificate (Der(InvalidTag))"
        );
        assert_eq!(chain[2][7], "`FF:EE`");

        let (_, clients) = &t[2];
        assert_eq!(clients.len(), 3);
        assert_eq!(clients[0][0], "Python requests");
        assert!(clients[0][2].starts_with("**no**: fails by default (self\\_signed)"));
        assert_eq!(
            clients[0][3],
            "`requests.get(\"https://cvp1.example.com:443/\", verify=\"cvp.crt\")`"
        );
        assert_eq!(clients[1][2], "yes");
        assert_eq!(clients[1][3], "-");
        assert_eq!(clients[2][0], "odd \\| client");
        assert_eq!(clients[2][1], "a\\\\nb");
        assert_eq!(clients[2][2], "**no**: pipes \\| and\\\\nnewlines");
        // A command with backticks and a pipe: a longer fence, the pipe escaped for the table.
        assert_eq!(clients[2][3], "`` echo a \\| grep `b` ``");
    }

    #[test]
    fn verify_report_names_the_file_and_the_name() {
        let md = render_str(&[verify_report()]);
        assert!(md.starts_with(
            "## verify `fixtures/good/chain.pem` as `console.example.com` · Prisma Cloud Compute Console\n\n**PASS**: 2 passed, 0 warned, 0 failed, 0 skipped in 7 ms.\n"
        ), "{md}");
        assert!(!md.contains("First fix"));
        assert!(!md.contains("### Fixes"));
        assert!(!md.contains("Which clients will work"));
        assert!(md.contains("certificates judged at 2027-01-01T00:00:00Z."));
        assert!(!md.contains("SNI"));

        let mut no_name = verify_report();
        no_name.target.host.clear();
        let md = render_str(&[no_name]);
        assert!(md.starts_with("## verify `fixtures/good/chain.pem` as (no name) · "));
    }

    #[test]
    fn ipv6_target_in_brackets_and_reports_separated() {
        let md = render_str(&[verify_report(), refused_report()]);
        assert_eq!(
            md.matches("\n## ").count() + usize::from(md.starts_with("## ")),
            2
        );
        assert!(md.contains("\n\n## `[::1]:8083` · Prisma Cloud Compute Console\n"));
        assert!(md.contains("> **First fix:** Use port 443, which answers TLS\n"));
        assert!(
            md.ends_with(
                "- **FAIL** `tcp.connect` (`tcp_refused`): Use port 443, which answers TLS\n"
            ),
            "ends with the fixes and one newline: {md:?}"
        );
        let md = render_str(&[check_report()]);
        assert!(md.ends_with("| `` echo a \\| grep `b` `` |\n"), "{md:?}");
    }

    #[test]
    fn text_escaping() {
        let t = |s: &str| text(s, Ctx::Block);
        assert_eq!(t("plain words"), "plain words");
        assert_eq!(
            t("*a* _b_ [c](d) <e> #f ~g~ ![i](j) &amp;"),
            "\\*a\\* \\_b\\_ \\[c\\](d) \\<e> #f \\~g\\~ !\\[i\\](j) \\&amp;"
        );
        // A newline shows as `\n` (its backslash escaped), so nothing after it starts a block.
        assert_eq!(
            t("#1 mid-line\n# not a heading\n> not a quote"),
            "#1 mid-line\\\\n# not a heading\\\\n> not a quote"
        );
        assert_eq!(t("back\\slash"), "back\\\\slash");
        // Unmatched backticks are literal; matched runs are code spans, whatever their length.
        assert_eq!(t("a ` b"), "a \\` b");
        assert_eq!(t("``x`y`` and `z`"), "``x`y`` and `z`");
        assert_eq!(t("``a`b`"), "\\`\\`a`b`");
        // What would open a block after a newline stays mid-line, the newlines shown; the ends trimmed.
        assert_eq!(
            t("one\n- two\n3. three\n  = four  \n"),
            "one\\\\n- two\\\\n3. three\\\\n  = four"
        );
        assert_eq!(t("- starts mid-line"), "- starts mid-line");
        assert_eq!(t("0.1.0 mid-line"), "0.1.0 mid-line");
        assert_eq!(cell("-3 in a cell"), "-3 in a cell");
        assert_eq!(cell("a\r\nb\rc"), "a\\\\r\\\\nb\\\\rc");
        assert_eq!(cell("`a|b` | c"), "`a\\|b` \\| c");
        assert_eq!(code("x", Ctx::Cell), "`x`");
        assert_eq!(code("`x`", Ctx::Block), "`` `x` ``");
        assert_eq!(code("a\nb", Ctx::Block), "`a\\nb`");
        // Control characters, in text and in code spans: escaped, never raw.
        assert_eq!(
            t("CN=\u{1b}]0;pwned\u{7}\u{1b}[2J `x\u{1b}[8m` \u{202e}"),
            "CN=\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J `x\\x1b[8m` \\\\u{202e}"
        );
        assert_eq!(code("h\u{1b}[2J", Ctx::Cell), "`h\\x1b[2J`");
    }

    #[test]
    fn control_characters_in_the_report_reach_the_document_escaped() {
        let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
        let mut r = check_report();
        r.target.host = format!("h{evil}");
        r.target.sni = Some(format!("s{evil}"));
        r.target.proxy = Some(format!("p{evil}"));
        r.first_fix = Some(format!("first{evil}"));
        r.checks[0].id = format!("id{evil}");
        r.checks[3].summary = format!("summary{evil}");
        r.checks[3].fix = Some(format!("fix{evil}"));
        r.certificates[0].subject = format!("CN={evil}");
        r.certificates[0].issuer = format!("CN=issuer{evil}");
        r.certificates[0].dns_names = vec![format!("dns{evil}")];
        r.certificates[2].parse_error = Some(format!("error{evil}"));
        r.clients[0].client = format!("client{evil}");
        r.clients[0].default_trust = format!("trust{evil}");
        r.clients[0].note = format!("note{evil}");
        r.clients[0].make_it_work = Some(format!("line{evil}"));
        let mut v = verify_report();
        v.target.input = format!("file{evil}");
        let md = render_str(&[r, v]);
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!md.contains(bad), "{bad:?} in {md}");
        }
        // Each text shows the escapes; outside code spans their backslash is escaped for Markdown.
        for shown in [
            "summary\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J\\\\x9b31m\\\\u{202e}",
            "`id\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u{202e}`",
            "`h\\x1b]0;pwned",
            "SNI `s\\x1b]0;",
            "via proxy `p\\x1b]0;",
            "**First fix:** first\\\\x1b",
            "fix\\\\x1b\\]0;",
            "CN=\\\\x1b",
            "CN=issuer\\\\x1b",
            "dns\\\\x1b",
            "error\\\\x1b",
            "client\\\\x1b",
            "trust\\\\x1b",
            "note\\\\x1b",
            "`line\\x1b]0;",
            "verify `file\\x1b]0;",
        ] {
            assert!(md.contains(shown), "{shown} not in {md}");
        }
    }

    #[test]
    fn empty_input_renders_nothing() {
        assert_eq!(render_str(&[]), "");
    }

    /// Markdown-significant text in a summary and a fix: none of it may turn into formatting.
    const MD_NASTY: &str = "*not em* _nor_ __this__ ~~struck~~ [a link](http://x) <b>raw</b> <br> &amp; back\\slash 3 < 4 > 2\n# heading?\n- item?\n1. list?\n> quote?\n---\n===\n`code | with pipe` and `unclosed";

    /// What a real GFM parser reads: every table (rows of cells) and every list item, as text. Code spans
    /// come back in single backticks, `<br>` and hard breaks as newlines, and any formatting as a marker
    /// (`**`, `_`, `~`, `[link]`, `<html>`) so that formatting made from report text shows.
    fn parse_gfm(md: &str) -> (Vec<Vec<Vec<String>>>, Vec<String>) {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
        let mut items: Vec<String> = Vec::new();
        // Where text goes: a table cell, a list item, or nowhere.
        #[derive(PartialEq)]
        enum Into {
            Cell,
            Item,
            Nowhere,
        }
        let mut into = Into::Nowhere;
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        for ev in Parser::new_ext(md, opts) {
            let piece: Option<String> = match ev {
                Event::Start(Tag::Table(_)) => {
                    tables.push(Vec::new());
                    None
                }
                Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                    tables.last_mut().expect("a table").push(Vec::new());
                    None
                }
                Event::Start(Tag::TableCell) => {
                    let row = tables.last_mut().and_then(|t| t.last_mut()).expect("a row");
                    row.push(String::new());
                    into = Into::Cell;
                    None
                }
                Event::End(TagEnd::TableCell) | Event::End(TagEnd::Item) => {
                    into = Into::Nowhere;
                    None
                }
                Event::Start(Tag::Item) => {
                    items.push(String::new());
                    into = Into::Item;
                    None
                }
                Event::Text(t) => Some(t.to_string()),
                Event::Code(t) => Some(format!("`{t}`")),
                Event::InlineHtml(h) if h.as_ref() == "<br>" => Some("\n".into()),
                Event::InlineHtml(_) | Event::Html(_) => Some("<html>".into()),
                Event::HardBreak | Event::SoftBreak => Some("\n".into()),
                Event::Start(Tag::Strong) | Event::End(TagEnd::Strong) => Some("**".into()),
                Event::Start(Tag::Emphasis) | Event::End(TagEnd::Emphasis) => Some("_".into()),
                Event::Start(Tag::Strikethrough) | Event::End(TagEnd::Strikethrough) => {
                    Some("~".into())
                }
                Event::Start(Tag::Link { .. }) => Some("[link]".into()),
                Event::Start(Tag::Heading { .. }) if into != Into::Nowhere => {
                    Some("<heading>".into())
                }
                Event::Start(Tag::BlockQuote(_)) if into != Into::Nowhere => Some("<quote>".into()),
                Event::Start(Tag::List(_)) if into == Into::Item => Some("<list>".into()),
                _ => None,
            };
            if let Some(p) = piece {
                match into {
                    Into::Cell => tables
                        .last_mut()
                        .and_then(|t| t.last_mut())
                        .and_then(|r| r.last_mut())
                        .expect("a cell")
                        .push_str(&p),
                    Into::Item => items.last_mut().expect("an item").push_str(&p),
                    Into::Nowhere => {}
                }
            }
        }
        (tables, items)
    }

    #[test]
    fn a_real_gfm_parser_reads_the_text_as_written() {
        let mut r = check_report();
        r.checks[2].summary = MD_NASTY.to_string();
        r.checks[2].fix = Some(MD_NASTY.to_string());
        r.clients[2].note = MD_NASTY.to_string();
        let md = render_str(&[r.clone(), verify_report(), refused_report()]);
        let (tables, items) = parse_gfm(&md);
        assert_eq!(tables.len(), 6);
        for t in &tables {
            for row in t {
                assert_eq!(row.len(), t[0].len(), "{row:?}");
            }
        }
        // Every summary reads back as written (a newline as `\n`): nothing became formatting or split a cell.
        let checks = &tables[0];
        assert_eq!(checks[0], ["status", "check", "code", "summary"]);
        for (row, c) in checks[1..].iter().zip(&r.checks) {
            assert_eq!(row[1], format!("`{}`", c.id));
            assert_eq!(row[2], format!("`{}`", c.code));
            assert_eq!(row[3], printable(&c.summary), "{}", c.id);
        }
        assert_eq!(checks[4][0], "**FAIL**");
        // The chain and the clients, the same.
        let chain = &tables[1];
        assert_eq!(
            chain[1][5],
            "DNS:cvp1.example.com, DNS:*.cvp.example.com, IP:10.0.0.5"
        );
        let clients = &tables[2];
        assert_eq!(clients[3][0], "odd | client");
        assert_eq!(clients[3][1], "a\\nb");
        assert_eq!(clients[3][2], format!("**no**: {}", printable(MD_NASTY)));
        assert_eq!(clients[3][3], "`echo a | grep `b``");
        assert_eq!(
            clients[1][3],
            "`requests.get(\"https://cvp1.example.com:443/\", verify=\"cvp.crt\")`"
        );

        // Fixes: one item per failing or warning check, code spans intact.
        assert_eq!(items.len(), 4, "{items:#?}");
        assert_eq!(
            items[0],
            format!(
                "WARN `tls.handshake` (`client_cert_required`): {}",
                printable(MD_NASTY)
            )
        );
        assert_eq!(
            items[1],
            format!(
                "**FAIL** `trust.mozilla` (`self_signed`): {}",
                r.checks[3].fix.as_deref().expect("a fix")
            )
        );
        assert_eq!(
            items[3],
            "**FAIL** `tcp.connect` (`tcp_refused`): Use port 443, which answers TLS"
        );
    }
}
