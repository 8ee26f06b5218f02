//! `preflight scan`: many targets from a list, checked concurrently with the same pipeline as `check`.
//!
//! The list is parsed up front (bad lines are named with their line number and skipped); the targets then
//! run at most `concurrency` at a time, each on its own task with its own deadlines, sharing one resolver and
//! one set of trust sources. Each report is handed to the caller as soon as its target finishes (completion
//! order), so `--format jsonl` can write it and let it go. The summary table is rendered from small `Row`s,
//! not from kept reports.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use comfy_table::{Cell, Color};
use futures_util::StreamExt;
use time::OffsetDateTime;

use crate::checks::{self, Deps};
use crate::codes::Code;
use crate::config::CheckConfig;
use crate::net::dns::Resolver;
use crate::pki::sources::TrustSources;
use crate::report::table::TableOptions;
use crate::report::{Report, Status, Verdict};
use crate::target::{Product, Target};
use crate::trace::Trace;

/// One good line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the list.
    pub line: usize,
    pub target: Target,
    /// The product the line names; `None` means `--product`.
    pub product: Option<Product>,
}

/// A line that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// The list, parsed.
#[derive(Debug, Default)]
pub struct List {
    pub entries: Vec<Entry>,
    pub bad: Vec<BadLine>,
}

/// Parses a list: one target per line, `host[:port] [product]`; `#` starts a comment (at the start of a line or
/// of a word); blank lines are ignored.
pub fn parse_list(text: &str) -> List {
    let mut list = List::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((target, product))) => list.entries.push(Entry {
                line,
                target,
                product,
            }),
            Err(reason) => list.bad.push(BadLine { line, reason }),
        }
    }
    list
}

fn parse_line(raw: &str) -> Result<Option<(Target, Option<Product>)>, String> {
    let words: Vec<&str> = raw
        .split_whitespace()
        .take_while(|w| !w.starts_with('#'))
        .collect();
    let (target, product) = match words.as_slice() {
        [] => return Ok(None),
        [target] => (*target, None),
        [target, product] => (*target, Some(*product)),
        [_, _, extra, ..] => {
            return Err(format!(
                "unexpected `{extra}`: write one target per line as `host[:port] [product]`"
            ))
        }
    };
    let product = match product {
        None => None,
        Some(p) => Some(Product::from_str(p, true).map_err(|_| {
            let known: Vec<&str> = Product::value_variants()
                .iter()
                .map(|v| v.as_str())
                .collect();
            format!("unknown product `{p}`; use one of {}", known.join(", "))
        })?),
    };
    let target = Target::parse(target).map_err(|e| e.to_string())?;
    Ok(Some((target, product)))
}

/// One target to check.
#[derive(Debug, Clone)]
pub struct Job {
    pub line: usize,
    pub cfg: CheckConfig,
}

/// What every target shares: one resolver, one set of trust sources (loaded once per run).
#[derive(Clone)]
pub struct Shared {
    pub resolver: Arc<dyn Resolver>,
    pub trust: Arc<TrustSources>,
}

/// A finished target: its report, or the reason the pipeline could not produce one (a crash, which the
/// pipeline never means to have).
#[derive(Debug)]
pub struct Finished {
    pub line: usize,
    pub input: String,
    pub outcome: Result<Report, String>,
}

/// What the caller of [`run`] hears about, always on the thread that drives the scan.
#[derive(Debug)]
pub enum Event {
    /// A target finished (boxed: a report is large, a tick is nothing).
    Finished(Box<Finished>),
    /// Time passed (every [`TICK`]): a moment to redraw progress or print trace lines.
    Tick,
}

/// How often [`Event::Tick`] comes while targets are in flight.
pub const TICK: Duration = Duration::from_millis(100);

/// Checks every job, at most `concurrency` at a time, each on its own task (so the work spreads over the
/// runtime's threads) with its own deadlines. `on` hears of each target as it finishes, in completion order,
/// and of the time passing; it runs on the thread that drives this future (the one holding stdout and
/// stderr), never on a worker. Returning `ControlFlow::Break` stops the scan (the targets in flight are
/// dropped).
pub async fn run<I, T, D>(jobs: I, shared: Shared, concurrency: usize, trace: T, mut on: D)
where
    I: IntoIterator<Item = Job>,
    T: Fn(&Job) -> Trace,
    D: FnMut(Event) -> ControlFlow<()>,
{
    let tasks = futures_util::stream::iter(jobs).map(|job| {
        let deps = Deps {
            resolver: shared.resolver.clone(),
            trust: shared.trust.clone(),
            now: OffsetDateTime::now_utc(),
            trace: trace(&job),
        };
        let line = job.line;
        let input = job.cfg.target.input.clone();
        let handle = tokio::spawn(async move { checks::run(&job.cfg, &deps).await });
        async move {
            let outcome = handle.await.map_err(|e| {
                if e.is_panic() {
                    "the check crashed (a bug in preflight: please report it)".to_string()
                } else {
                    "the check was cancelled".to_string()
                }
            });
            Finished {
                line,
                input,
                outcome,
            }
        }
    });
    let mut finished = tasks.buffer_unordered(concurrency.max(1));
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let event = tokio::select! {
            f = finished.next() => match f {
                Some(f) => Event::Finished(Box::new(f)),
                None => break,
            },
            _ = ticks.tick() => Event::Tick,
        };
        if on(event).is_break() {
            break;
        }
    }
}

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
                Cell::new(&r.target),
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
    fn lines_comments_products_and_bad_lines() {
        let text = "\
# the fleet
cvp1.example.com cvp
  10.0.0.5:8083   prisma   # node 2

https://console.example.com/tenant-1 PRISMA
[::1]:443
#cvp9 cvp
bad target here
cvp2 nosuchproduct
ftp://x
https://user:secret@host
";
        let list = parse_list(text);
        let got: Vec<(usize, String, Option<Product>)> = list
            .entries
            .iter()
            .map(|e| (e.line, e.target.input.clone(), e.product))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "cvp1.example.com".into(), Some(Product::Cvp)),
                (3, "10.0.0.5:8083".into(), Some(Product::Prisma)),
                (
                    5,
                    "https://console.example.com/tenant-1".into(),
                    Some(Product::Prisma)
                ),
                (6, "[::1]:443".into(), None),
            ]
        );
        let bad: Vec<usize> = list.bad.iter().map(|b| b.line).collect();
        assert_eq!(bad, vec![8, 9, 10, 11]);
        assert!(
            list.bad[0].reason.contains("unexpected `here`"),
            "{:?}",
            list.bad[0]
        );
        assert!(
            list.bad[1]
                .reason
                .contains("unknown product `nosuchproduct`")
                && list.bad[1].reason.contains("cvp, cvaas, prisma, generic"),
            "{:?}",
            list.bad[1]
        );
        assert!(list.bad[2].reason.contains("ftp://"), "{:?}", list.bad[2]);
        assert!(!list.bad[3].reason.contains("secret"), "{:?}", list.bad[3]);
    }

    #[test]
    fn empty_and_comment_only_lists_have_no_entries() {
        for text in ["", "\n\n", "# nothing\n   # at all\n"] {
            let list = parse_list(text);
            assert!(list.entries.is_empty() && list.bad.is_empty(), "{text:?}");
        }
    }

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
}
