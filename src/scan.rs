//! `preflight scan`: many targets from a list, checked concurrently with the same pipeline as `check`.
//!
//! The list is parsed up front (bad lines are named with their line number and skipped); the targets then
//! run at most `concurrency` at a time, each on its own task with its own deadlines, sharing one resolver and
//! one set of trust sources. Each report is handed to the caller as soon as its target finishes (completion
//! order), so `--format jsonl` can write it and let it go. The summary table (`report::summary`) is rendered
//! from small `Row`s, not from kept reports.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use futures_util::StreamExt;
use time::OffsetDateTime;

use crate::checks::{self, Deps};
use crate::config::CheckConfig;
use crate::net::dns::Resolver;
use crate::pki::sources::TrustSources;
use crate::report::Report;
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
            redactor: Default::default(),
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
}
