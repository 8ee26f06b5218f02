//! The table for people: checks with their fixes, the chain as sent, and the verdict with the first fix.
//!
//! Every text taken from the report goes through [`printable`] before it is laid out (a server or a file
//! controls much of it: an `ESC` in a certificate's name must not drive the terminal); the table's own
//! colours and line breaks are added after, around the escaped text.

use std::io::{self, Write};

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};

use super::model::{Report, Status, Verdict};
use crate::pki::facts::CertFacts;
use crate::text::printable;

/// How to draw: decided by the caller (terminal or not, `NO_COLOR`), never by the renderer.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub color: bool,
    /// Total width to wrap to (the terminal's, measured by the caller); `None`: no limit.
    pub width: Option<u16>,
    /// On a terminal: the heading and "First fix" wrap to `width` too; elsewhere (a file, a pipe, a CI log)
    /// they stay one line each, for grep.
    pub wrap_lines: bool,
    /// Print the certificate details (the demo shows each chain once).
    pub certificates: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            color: false,
            width: Some(110),
            wrap_lines: false,
            certificates: true,
        }
    }
}

fn status_cell(status: Status, color: bool) -> Cell {
    let cell = Cell::new(status.as_str().to_uppercase());
    if !color {
        return cell;
    }
    match status {
        Status::Pass => cell.fg(Color::Green),
        Status::Warn => cell.fg(Color::Yellow),
        Status::Info => cell.fg(Color::Cyan),
        Status::Fail | Status::Error => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Status::Skip => cell.fg(Color::DarkGrey),
    }
}

/// A table drawn the way every table of the tool is (preset, wrapping, colour or not).
pub fn new_table(opts: TableOptions) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = opts.width {
        table.set_width(w);
    }
    if opts.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table
}

/// A cell holding one text of the report, escaped.
fn data(text: &str) -> Cell {
    Cell::new(printable(text))
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Renders several reports one after the other.
pub fn render(reports: &[Report], opts: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        render_one(r, opts, out)?;
    }
    Ok(())
}

/// The width plain lines wrap to: the terminal's on a terminal, else none.
fn line_width(opts: TableOptions) -> usize {
    match (opts.wrap_lines, opts.width) {
        (true, Some(w)) => usize::from(w),
        _ => usize::MAX,
    }
}

pub fn render_one(r: &Report, opts: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    let head = crate::text::wrap(&heading(r), line_width(opts), 2);
    writeln!(out, "{}", paint(&head, "1", opts.color))?;
    writeln!(out, "{}", checks_table(r, opts))?;
    if opts.certificates && !r.certificates.is_empty() {
        writeln!(out, "\nCertificates, as sent (leaf first):")?;
        for f in &r.certificates {
            writeln!(out, "{}", cert_table(f, opts))?;
        }
    }
    if !r.clients.is_empty() {
        writeln!(out, "\nWhich clients will work:")?;
        writeln!(out, "{}", clients_table(r, opts))?;
    }
    write_verdict(r, opts, out)
}

/// The first line: tool, target (or the chain file verified), path, product, SNI, proxy.
fn heading(r: &Report) -> String {
    let t = &r.target;
    let tool = format!("{} {}", printable(&r.tool.name), printable(&r.tool.version));
    let mut head = match t.port {
        Some(port) => format!("{tool} · {}:{port}", printable(&t.host)),
        None => format!(
            "{tool} · verify {} as {}",
            printable(&t.input),
            if t.host.is_empty() {
                "(no name)".to_string()
            } else {
                printable(&t.host)
            }
        ),
    };
    if let Some(p) = &t.path {
        head.push_str(&printable(p));
    }
    head.push_str(&format!(" · {}", t.product.display_name()));
    if let Some(sni) = &t.sni {
        head.push_str(&format!(" · SNI {}", printable(sni)));
    }
    if let Some(proxy) = &r.target.proxy {
        head.push_str(&format!(" · via proxy {}", printable(proxy)));
    }
    head
}

/// One row per check; a check that did not pass also shows its fix, and its code unless skipped.
fn checks_table(r: &Report, opts: TableOptions) -> Table {
    let mut table = new_table(opts);
    table.set_header(vec!["STATUS", "CHECK", "RESULT"]);
    for c in &r.checks {
        // The lines are the table's; the texts in them are escaped (a newline in a summary shows as `\n`).
        let mut text = printable(&c.summary);
        if c.status != Status::Pass {
            if let Some(fix) = &c.fix {
                text.push_str(&format!("\nfix: {}", printable(fix)));
            }
            if c.status != Status::Skip {
                text.push_str(&format!("\ncode: {}", c.code));
            }
        }
        table.add_row(vec![
            status_cell(c.status, opts.color),
            data(&c.id),
            Cell::new(text),
        ]);
    }
    table
}

/// "Which clients will work": each client with its default trust, yes or why not, and the one line.
fn clients_table(r: &Report, opts: TableOptions) -> Table {
    let mut table = new_table(opts);
    table.set_header(vec![
        "CLIENT (DEFAULT TRUST)",
        "WORKS",
        "ONE LINE TO MAKE IT WORK",
    ]);
    for c in &r.clients {
        let works = if c.works {
            Cell::new("yes")
        } else {
            data(&c.note)
        };
        let works = match (opts.color, c.works) {
            (true, true) => works.fg(Color::Green),
            (true, false) => works.fg(Color::Red),
            _ => works,
        };
        let line = c
            .make_it_work
            .as_deref()
            .map_or_else(|| Cell::new("-"), data);
        table.add_row(vec![
            Cell::new(format!(
                "{}\n({})",
                printable(&c.client),
                printable(&c.default_trust)
            )),
            works,
            line,
        ]);
    }
    table
}

/// The verdict with the tally of statuses and the time taken, then the first fix.
fn write_verdict(r: &Report, opts: TableOptions, out: &mut dyn Write) -> io::Result<()> {
    let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
    let (word, code) = match r.verdict {
        Verdict::Pass => ("PASS", "1;32"),
        Verdict::Warn => ("WARN", "1;33"),
        Verdict::Fail => ("FAIL", "1;31"),
    };
    let tally = format!(
        "{} passed, {} warned, {} failed, {} skipped",
        count(Status::Pass) + count(Status::Info),
        count(Status::Warn),
        count(Status::Fail) + count(Status::Error),
        count(Status::Skip)
    );
    writeln!(
        out,
        "\nVerdict: {} ({tally}) in {} ms",
        paint(word, code, opts.color),
        r.elapsed_ms
    )?;
    if let Some(fix) = &r.first_fix {
        let line = format!("First fix: {}", printable(fix));
        writeln!(out, "{}", crate::text::wrap(&line, line_width(opts), 2))?;
    }
    Ok(())
}

fn cert_table(f: &CertFacts, opts: TableOptions) -> Table {
    let mut table = new_table(opts);
    // Fingerprints and serials are copied and compared: never wrap them where they fit whole; on a narrow
    // terminal the fingerprint is cut at a byte boundary instead (below), and the rest wraps.
    let narrow = opts.width.is_some_and(|w| w < 100);
    if !narrow {
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    let role = if f.index == 0 {
        "leaf"
    } else if f.self_signed {
        "root"
    } else {
        "intermediate"
    };
    let title = format!("#{} {role}", f.index);
    let mut rows: Vec<(&str, String)> = match &f.parse_error {
        Some(err) => vec![("error", err.clone())],
        None => cert_rows(f),
    };
    // 95 characters: on a terminal under 100 columns, in two halves of 16 bytes.
    let sha = match (narrow, f.sha256.get(..47), f.sha256.get(48..)) {
        (true, Some(a), Some(b)) => format!("{a}:\n{b}"),
        _ => f.sha256.clone(),
    };
    rows.push(("SHA-256", sha));
    table.set_header(vec![Cell::new(title), data(&f.short_name())]);
    // Every value holds text of the certificate (names, URLs) or of its parser: escaped whole.
    for (k, v) in rows {
        table.add_row(vec![Cell::new(k), data(&v)]);
    }
    table
}

/// The rows of a parsed certificate, from subject to OCSP (the fingerprint is added by the caller).
fn cert_rows(f: &CertFacts) -> Vec<(&'static str, String)> {
    let mut subject = f.subject.clone();
    if f.self_signed {
        subject.push_str("  (self-signed)");
    }
    let mut rows = vec![
        ("subject", subject),
        ("issuer", f.issuer.clone()),
        ("valid", validity_text(f)),
        ("SANs", sans_text(f)),
        (
            "key",
            format!("{}, signed {}", f.key_description(), f.signature_algorithm),
        ),
        ("usage", usage_text(f)),
    ];
    if f.serial.is_empty() {
        rows.push(("serial", "(empty)".into()));
    } else {
        rows.push(("serial", f.serial.clone()));
    }
    if let Some(ski) = &f.subject_key_id {
        rows.push(("SKI", ski.clone()));
    }
    if let Some(aki) = &f.authority_key_id {
        rows.push(("AKI", aki.clone()));
    }
    for u in &f.ca_issuers_urls {
        rows.push(("CA issuers", u.clone()));
    }
    for u in &f.ocsp_urls {
        rows.push(("OCSP", u.clone()));
    }
    rows
}

/// `notBefore → notAfter (N days left)`, or how long ago it expired.
fn validity_text(f: &CertFacts) -> String {
    let left = if f.days_left < 0 {
        format!("expired {} days ago", -f.days_left)
    } else {
        format!("{} days left", f.days_left)
    };
    format!("{} → {} ({left})", f.not_before, f.not_after)
}

/// The SANs, or why having none matters on a leaf.
fn sans_text(f: &CertFacts) -> String {
    let sans = f.san_list();
    if !sans.is_empty() {
        sans.join(", ")
    } else if f.index == 0 {
        "(none: clients that ignore the CN will reject this certificate)".to_string()
    } else {
        "(none)".to_string()
    }
}

/// Basic constraints, key usage and extended key usage, `; `-separated.
fn usage_text(f: &CertFacts) -> String {
    let ca = match f.is_ca {
        Some(true) => format!(
            "CA{}",
            f.path_len
                .map(|p| format!(", path length {p}"))
                .unwrap_or_default()
        ),
        Some(false) => "not a CA".to_string(),
        None => "no basic constraints".to_string(),
    };
    let mut usage = vec![ca];
    if !f.key_usage.is_empty() {
        usage.push(f.key_usage.join(", "));
    }
    if !f.extended_key_usage.is_empty() {
        usage.push(format!("EKU {}", f.extended_key_usage.join(", ")));
    }
    usage.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown::fixtures::{check_report, verify_report};

    const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";

    /// A report with a hostile text in every place a server, a file or the command line fills.
    fn hostile() -> Vec<Report> {
        let mut r = check_report();
        r.target.host = format!("h{EVIL}");
        r.target.path = Some(format!("/p{EVIL}"));
        r.target.sni = Some(format!("s{EVIL}"));
        r.target.proxy = Some(format!("x{EVIL}"));
        r.first_fix = Some(format!("first{EVIL}"));
        r.checks[0].id = format!("id{EVIL}");
        r.checks[3].summary = format!("summary{EVIL}\nsecond");
        r.checks[3].fix = Some(format!("fix{EVIL}"));
        let leaf = &mut r.certificates[0];
        leaf.subject = format!("CN={EVIL}");
        leaf.common_name = Some(format!("cn{EVIL}"));
        leaf.issuer = format!("CN=issuer{EVIL}");
        leaf.dns_names = vec![format!("dns{EVIL}")];
        leaf.ca_issuers_urls = vec![format!("http://aia{EVIL}")];
        r.certificates[2].parse_error = Some(format!("error{EVIL}"));
        let client = &mut r.clients[0];
        client.client = format!("client{EVIL}");
        client.default_trust = format!("trust{EVIL}");
        client.note = format!("note{EVIL}");
        client.make_it_work = Some(format!("line{EVIL}"));
        let mut v = verify_report();
        v.target.input = format!("file{EVIL}");
        vec![r, v]
    }

    fn render_str(reports: &[Report], color: bool) -> String {
        let opts = TableOptions {
            color,
            // Wide enough that no escaped text is wrapped.
            width: Some(400),
            wrap_lines: false,
            certificates: true,
        };
        let mut out = Vec::new();
        render(reports, opts, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn report_texts_are_shown_escaped() {
        let out = render_str(&hostile(), false);
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!out.contains(bad), "{bad:?} in {out}");
        }
        let shown = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u{202e}";
        for what in [
            "h",
            "/p",
            "SNI s",
            "via proxy x",
            "First fix: first",
            "id",
            "summary",
            "fix: fix",
            "CN=",
            "cn",
            "CN=issuer",
            "DNS:dns",
            "http://aia",
            "error",
            "client",
            "trust",
            "note",
            "line",
            "verify file",
        ] {
            assert!(out.contains(&format!("{what}{shown}")), "{what} in {out}");
        }
        // A newline inside a summary is shown; the table's own lines (fix, code) stay lines.
        assert!(out.contains(&format!("summary{shown}\\nsecond")), "{out}");
        assert!(
            out.lines().any(|l| l
                .trim_end_matches([' ', '│'])
                .ends_with(&format!("┆ fix: fix{shown}"))),
            "{out}"
        );
    }

    #[test]
    fn the_tables_own_colours_stay() {
        let out = render_str(&hostile(), true);
        assert!(!out.contains('\u{7}'), "{out}");
        // Every ESC left is one of the renderer's colours (SGR: `ESC [ digits ; m`).
        let mut colours = 0;
        for (i, _) in out.match_indices('\u{1b}') {
            let rest = &out[i + 1..];
            let sgr = rest.strip_prefix('[').and_then(|r| {
                let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
                r[end..].starts_with('m').then_some(())
            });
            assert!(sgr.is_some(), "not a colour at {i}: {:?}", &out[i..i + 12]);
            colours += 1;
        }
        assert!(colours > 10, "{out}");
        assert!(out.contains("\u{1b}[1;31mFAIL\u{1b}[0m"), "{out}");
        assert!(out.contains("summary\\x1b]0;pwned"), "{out}");
    }
}
