//! The scan's summary: one row per target and the counts, for the closing line, the table and the exit code.

use std::io::{self, Write};
use std::time::Duration;

use comfy_table::{Cell, Color};

use crate::codes::Code;
use crate::report::table::TableOptions;
use crate::report::{Report, Status, Verdict};
use crate::target::Product;

/// One line of the summary table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub target: String,
    pub product: Product,
    pub verdict: Verdict,
    /// The first failing check; for a warning, the first warning; `None` on a pass.
    pub check: Option<String>,
    pub code: Option<Code>,
}

impl Row {
    pub fn of(line: usize, r: &Report) -> Row {
        let wanted = |s: Status| match r.verdict {
            Verdict::Fail => s.is_failure(),
            Verdict::Warn => s == Status::Warn,
            Verdict::Pass => false,
        };
        let first = r.checks.iter().find(|c| wanted(c.status));
        Row {
            line,
            target: r.target.input.clone(),
            product: r.target.product,
            verdict: r.verdict,
            check: first.map(|c| c.id.clone()),
            code: first.map(|c| c.code),
        }
    }
}

/// A scan stopped by a signal before every target of its list ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interruption {
    /// `SIGINT` or `SIGTERM`.
    pub signal: &'static str,
    /// The targets that did not finish: in flight at the signal (abandoned) or never started.
    pub not_run: usize,
}

impl Interruption {
    /// `by SIGTERM: 7 targets not run (abandoned in flight or never started)`.
    pub fn words(&self) -> String {
        format!(
            "by {}: {} {} not run (abandoned in flight or never started)",
            self.signal,
            self.not_run,
            if self.not_run == 1 {
                "target"
            } else {
                "targets"
            }
        )
    }

    /// `Interrupted by SIGTERM: 7 targets not run (abandoned in flight or never started).`
    pub fn sentence(&self) -> String {
        format!("Interrupted {}.", self.words())
    }

    /// The closing block of an interrupted scan's Markdown: the sentence, and what the document holds.
    pub fn markdown(&self) -> String {
        format!(
            "**{}** This document holds the targets that finished before it.\n",
            self.sentence()
        )
    }
}

/// The counts of a scan, for the closing line and the exit code.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    /// Targets the pipeline could not finish (crashes).
    pub crashed: usize,
    /// Lines of the list that were not used.
    pub bad_lines: Vec<usize>,
    /// Where the list came from, for the closing line.
    pub list: String,
    pub elapsed: Duration,
    /// Set when a signal stopped the scan.
    pub interrupted: Option<Interruption>,
}

impl Tally {
    pub fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Warn => self.warned += 1,
            Verdict::Fail => self.failed += 1,
        }
    }

    pub fn checked(&self) -> usize {
        self.passed + self.warned + self.failed
    }

    /// `7 targets in 2.1 s: 2 passed, 1 warned, 4 failed; 1 bad line in hosts.txt (line 6)`.
    pub fn sentence(&self) -> String {
        let n = self.checked();
        let mut s = format!(
            "{n} {} in {:.1} s: {} passed, {} warned, {} failed",
            if n == 1 { "target" } else { "targets" },
            self.elapsed.as_secs_f64(),
            self.passed,
            self.warned,
            self.failed
        );
        if self.crashed > 0 {
            s.push_str(&format!(", {} not finished (crashed)", self.crashed));
        }
        if !self.bad_lines.is_empty() {
            let lines: Vec<String> = self.bad_lines.iter().map(usize::to_string).collect();
            s.push_str(&format!(
                "; {} bad {} in {} ({} {})",
                lines.len(),
                if lines.len() == 1 { "line" } else { "lines" },
                self.list,
                if lines.len() == 1 { "line" } else { "lines" },
                lines.join(", ")
            ));
        }
        s
    }
}

fn verdict_cell(v: Verdict, color: bool) -> Cell {
    let (word, c) = match v {
        Verdict::Pass => ("PASS", Color::Green),
        Verdict::Warn => ("WARN", Color::Yellow),
        Verdict::Fail => ("FAIL", Color::Red),
    };
    let cell = Cell::new(word);
    if color {
        cell.fg(c)
    } else {
        cell
    }
}

/// The summary table: one row per target (in list order), then the counts.
pub fn render_summary(
    rows: &[Row],
    tally: &Tally,
    opts: TableOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| r.line);
    if !sorted.is_empty() {
        let mut table = crate::report::table::new_table(opts);
        table.set_header(vec![
            "TARGET",
            "PRODUCT",
            "VERDICT",
            "FIRST FAILING CHECK",
            "CODE",
        ]);
        for r in sorted {
            table.add_row(vec![
                Cell::new(crate::text::printable(&r.target)),
                Cell::new(r.product.as_str()),
                verdict_cell(r.verdict, opts.color),
                Cell::new(match (&r.check, r.verdict) {
                    (None, _) => "-".to_string(),
                    (Some(c), Verdict::Warn) => format!("{c} (warning)"),
                    (Some(c), _) => c.clone(),
                }),
                Cell::new(r.code.map(|c| c.as_str()).unwrap_or("-")),
            ]);
        }
        writeln!(out, "{table}")?;
    }
    writeln!(out, "Scanned {}.", tally.sentence())?;
    if let Some(i) = &tally.interrupted {
        writeln!(out, "{}", i.sentence())?;
    }
    if tally.failed + tally.warned > 0 {
        writeln!(
            out,
            "The full report of a target, with every fix: preflight check TARGET --product PRODUCT (and the same options)."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_rows_and_counts() {
        let rows = vec![
            Row {
                line: 3,
                target: "b:1".into(),
                product: Product::Generic,
                verdict: Verdict::Fail,
                check: Some("tcp.connect".into()),
                code: Some(Code::TcpRefused),
            },
            Row {
                line: 1,
                target: "a:443".into(),
                product: Product::Cvp,
                verdict: Verdict::Pass,
                check: None,
                code: None,
            },
        ];
        let tally = Tally {
            passed: 1,
            failed: 1,
            bad_lines: vec![2],
            list: "hosts.txt".into(),
            elapsed: Duration::from_millis(1500),
            ..Tally::default()
        };
        let mut out = Vec::new();
        render_summary(&rows, &tally, TableOptions::default(), &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let a = text.find("a:443").expect("a");
        let b = text.find("b:1").expect("b");
        assert!(a < b, "list order:\n{text}");
        assert!(
            text.contains("tcp_refused") && text.contains("FAIL"),
            "{text}"
        );
        assert!(
            text.contains(
                "Scanned 2 targets in 1.5 s: 1 passed, 0 warned, 1 failed; 1 bad line in hosts.txt (line 2)."
            ),
            "{text}"
        );
    }

    #[test]
    fn an_interrupted_summary_says_so() {
        let tally = Tally {
            failed: 1,
            list: "hosts.txt".into(),
            interrupted: Some(Interruption {
                signal: "SIGINT",
                not_run: 1,
            }),
            ..Tally::default()
        };
        let mut out = Vec::new();
        render_summary(&[], &tally, TableOptions::default(), &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..2],
            [
                "Scanned 1 target in 0.0 s: 0 passed, 0 warned, 1 failed.",
                "Interrupted by SIGINT: 1 target not run (abandoned in flight or never started)."
            ],
            "{text}"
        );
    }
}
