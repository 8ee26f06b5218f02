//! `preflight scan`: many targets from a list, checked concurrently with the same pipeline as `check`.
//!
//! The list is parsed up front (bad lines are named with their line number and skipped); the targets then
//! run at most `concurrency` at a time, each on its own task with its own deadlines, sharing one resolver and
//! one set of trust sources. Each report is handed to the caller as soon as its target finishes (completion
//! order), so `--format jsonl` can write it and let it go. The other documents are written in list order
//! through [`Ordered`] (each report rendered as it finishes, then let go); the summary table
//! (`report::summary`) is rendered from small `Row`s, not from kept reports. A stop (a signal) ends the run
//! early, its targets in flight dropped.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The longest line a list may have: a target and a product fit many times over; a longer line is named as
/// bad without being echoed.
pub const MAX_LINE: usize = 4096;

/// Parses a list: one target per line, `host[:port] [product]`; `#` starts a comment (at the start of a line or
/// of a word); blank lines are ignored.
pub fn parse_list(text: &str) -> List {
    let mut list = List::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.chars().count() > MAX_LINE {
            list.bad.push(BadLine {
                line,
                reason: format!(
                    "longer than {MAX_LINE} characters: one target per line, as `host[:port] [product]`"
                ),
            });
            continue;
        }
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
/// dropped). So does `stop` when it completes (a signal): its output is returned, and no target that
/// finishes after it is reported.
pub async fn run<I, T, D, S>(
    jobs: I,
    shared: Shared,
    concurrency: usize,
    trace: T,
    mut on: D,
    stop: S,
) -> Option<S::Output>
where
    I: IntoIterator<Item = Job>,
    T: Fn(&Job) -> Trace,
    D: FnMut(Event) -> ControlFlow<()>,
    S: std::future::Future,
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
    tokio::pin!(stop);
    loop {
        // `stop` first: once it has come, no further target counts as finished.
        let event = tokio::select! {
            biased;
            s = &mut stop => return Some(s),
            f = finished.next() => match f {
                Some(f) => Event::Finished(Box::new(f)),
                None => return None,
            },
            _ = ticks.tick() => Event::Tick,
        };
        if on(event).is_break() {
            return None;
        }
    }
}

/// Pieces of a scan's document (each target's rendered report), released in list order: a piece goes out as
/// soon as every target before it in the list is done, or, when the document's opening needs the totals
/// (JUnit), all at the end. Pieces that wait are kept in memory up to a budget and then in an unnamed
/// temporary file, so that memory stays flat however many targets finish while an earlier one is still
/// waiting for its deadline.
pub struct Ordered {
    /// The lines of the list not released yet, in list order.
    pending: VecDeque<usize>,
    held: BTreeMap<usize, Held>,
    held_bytes: usize,
    budget: usize,
    /// The temporary file, once a piece did not fit the budget.
    spill: Option<Spill>,
    /// Release nothing before [`Ordered::drain`].
    hold_all: bool,
}

/// A finished target's piece, waiting for its turn.
enum Held {
    /// A target without a piece (the check crashed): its turn passes.
    Nothing,
    Memory(Vec<u8>),
    Spilled {
        at: u64,
        len: usize,
    },
}

/// The temporary file pieces wait in beyond the budget, removed from its folder as soon as it is open.
struct Spill {
    file: std::fs::File,
    len: u64,
}

impl Spill {
    fn create() -> io::Result<Spill> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            ".preflight-scan-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Nothing is left behind, even when the process is killed: the open file lives on, unnamed.
        let _ = std::fs::remove_file(&path);
        Ok(Spill { file, len: 0 })
    }

    fn append(&mut self, piece: &[u8]) -> io::Result<Held> {
        let at = self.len;
        self.file.seek(SeekFrom::Start(at))?;
        self.file.write_all(piece)?;
        self.len += piece.len() as u64;
        Ok(Held::Spilled {
            at,
            len: piece.len(),
        })
    }

    fn read(&mut self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file.seek(SeekFrom::Start(at))?;
        self.file.read_exact(&mut buf)?;
        Ok(buf)
    }
}

impl Ordered {
    /// How many bytes of waiting pieces stay in memory.
    pub const BUDGET: usize = 8 << 20;

    /// For a list whose targets are on `lines` (list order); `hold_all` keeps every piece until the end.
    pub fn new(lines: impl IntoIterator<Item = usize>, hold_all: bool, budget: usize) -> Ordered {
        Ordered {
            pending: lines.into_iter().collect(),
            held: BTreeMap::new(),
            held_bytes: 0,
            budget,
            spill: None,
            hold_all,
        }
    }

    /// The target on `line` is done, with its piece (`None`: it has none). Every piece now due goes to `emit`.
    pub fn done(
        &mut self,
        line: usize,
        piece: Option<Vec<u8>>,
        emit: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.hold_all && self.pending.front() == Some(&line) {
            self.pending.pop_front();
            if let Some(p) = piece {
                emit(&p)?;
            }
            return self.release(emit);
        }
        let held = self.hold(piece)?;
        self.held.insert(line, held);
        Ok(())
    }

    /// The end, complete or not: every piece still waiting, in list order (targets that did not finish are
    /// skipped).
    pub fn drain(&mut self, emit: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        self.pending.clear();
        while let Some((_, held)) = self.held.pop_first() {
            self.put(held, emit)?;
        }
        Ok(())
    }

    /// The pieces whose turn has come, from the front of the list.
    fn release(&mut self, emit: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        while let Some(line) = self.pending.front().copied() {
            let Some(held) = self.held.remove(&line) else {
                break;
            };
            self.pending.pop_front();
            self.put(held, emit)?;
        }
        Ok(())
    }

    fn put(&mut self, held: Held, emit: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match held {
            Held::Nothing => Ok(()),
            Held::Memory(p) => {
                self.held_bytes -= p.len();
                emit(&p)
            }
            Held::Spilled { at, len } => {
                let spill = self
                    .spill
                    .as_mut()
                    .ok_or_else(|| io::Error::other("a spilled piece without its file"))?;
                emit(&spill.read(at, len)?)
            }
        }
    }

    /// A piece that must wait: in memory within the budget, else in the temporary file (in memory after
    /// all when no temporary file can be made).
    fn hold(&mut self, piece: Option<Vec<u8>>) -> io::Result<Held> {
        let Some(p) = piece else {
            return Ok(Held::Nothing);
        };
        if self.held_bytes + p.len() > self.budget {
            if self.spill.is_none() {
                match Spill::create() {
                    Ok(spill) => self.spill = Some(spill),
                    Err(_) => self.budget = usize::MAX,
                }
            }
            if let Some(spill) = self.spill.as_mut() {
                return spill.append(&p);
            }
        }
        self.held_bytes += p.len();
        Ok(Held::Memory(p))
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
    fn a_line_too_long_is_bad_and_not_echoed() {
        let long = format!("{}.example.com\nok.example.com\n", "a".repeat(MAX_LINE));
        let list = parse_list(&long);
        assert_eq!(list.entries.len(), 1);
        assert_eq!(list.bad.len(), 1);
        assert!(list.bad[0].reason.contains("longer than 4096"));
        assert!(list.bad[0].reason.len() < 200);
    }

    #[test]
    fn empty_and_comment_only_lists_have_no_entries() {
        for text in ["", "\n\n", "# nothing\n   # at all\n"] {
            let list = parse_list(text);
            assert!(list.entries.is_empty() && list.bad.is_empty(), "{text:?}");
        }
    }

    /// Feeds `order` (line, piece) pairs and returns what was emitted after each.
    fn feed(o: &mut Ordered, done: &[(usize, Option<&str>)]) -> Vec<String> {
        let mut seen = Vec::new();
        for (line, piece) in done {
            let mut out = String::new();
            o.done(*line, piece.map(|p| p.as_bytes().to_vec()), &mut |b| {
                out.push_str(std::str::from_utf8(b).expect("utf-8"));
                Ok(())
            })
            .expect("done");
            seen.push(out);
        }
        seen
    }

    fn drained(o: &mut Ordered) -> String {
        let mut out = String::new();
        o.drain(&mut |b| {
            out.push_str(std::str::from_utf8(b).expect("utf-8"));
            Ok(())
        })
        .expect("drain");
        out
    }

    #[test]
    fn pieces_go_out_in_list_order_as_soon_as_their_turn_comes() {
        for budget in [Ordered::BUDGET, 0, 3] {
            let mut o = Ordered::new([2, 3, 5, 7, 9], false, budget);
            let seen = feed(
                &mut o,
                &[
                    (3, Some("c")),
                    (7, Some("g")),
                    (2, Some("b")),
                    (9, Some("i")),
                    (5, None),
                ],
            );
            assert_eq!(seen, ["", "", "bc", "", "gi"], "budget {budget}");
            assert_eq!(drained(&mut o), "");
        }
    }

    #[test]
    fn held_pieces_wait_for_the_end_and_unfinished_targets_are_skipped() {
        for budget in [Ordered::BUDGET, 0, 5] {
            let mut o = Ordered::new([1, 2, 3, 4], true, budget);
            let seen = feed(&mut o, &[(3, Some("three")), (1, Some("one")), (4, None)]);
            assert_eq!(seen, ["", "", ""], "budget {budget}");
            // Line 2 never finished (a stop): the others, in list order.
            assert_eq!(drained(&mut o), "onethree", "budget {budget}");
        }
        let mut o = Ordered::new([1, 2, 3], false, 0);
        assert_eq!(feed(&mut o, &[(3, Some("c")), (1, Some("a"))]), ["", "a"]);
        assert_eq!(drained(&mut o), "c");
    }
}
