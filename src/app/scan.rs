//! `preflight scan`: a list of targets, checked concurrently, streamed or summarised.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use super::{exit, load_trust, render_to, table_options_for, Io};
use std::ops::ControlFlow;
use std::path::PathBuf;

use crate::cli::ScanArgs;
use crate::net::dns::SystemResolver;
use crate::pki::sources::TrustSources;
use crate::report::summary::{self, Row, Tally};
use crate::report::table::TableOptions;
use crate::report::{jsonl, Format, Report};
use crate::scan::{self, Job, Shared};
use crate::target::Product;
use crate::trace::Trace;

/// Reads the list of a scan: a file, or standard input for `-`. Returns (its name for messages, its text).
fn read_targets(path: &std::path::Path) -> Result<(String, String), String> {
    let reason = |e: std::io::Error| crate::errors::io_words(&e);
    if path == std::path::Path::new("-") {
        let mut bytes = Vec::new();
        let limit = crate::local::LIST;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin().lock(), limit + 1),
            &mut bytes,
        )
        .map_err(|e| format!("--targets -: cannot read standard input: {}", reason(e)))?;
        if bytes.len() as u64 > limit {
            return Err(format!(
                "--targets -: standard input holds more than {} MiB, more than a target list ever does",
                limit / (1024 * 1024)
            ));
        }
        return Ok((
            "stdin".to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let bytes = crate::local::read(path, crate::local::LIST)
        .map_err(|e| format!("--targets {}: {e}", path.display()))?;
    Ok((
        path.display().to_string(),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// The scan's runtime: one for the whole run, a worker per core.
fn scan_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(2))
        .enable_all()
        .build()
}

/// A progress bar on stderr when it is a terminal (and no trace is printed there); hidden otherwise. Drawn
/// only from the thread that holds stderr (see `scan::Event::Tick`).
fn progress_bar(len: usize, verbose: u8) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if verbose > 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(u64::try_from(len).unwrap_or(u64::MAX)),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {pos}/{len} targets [{bar:30}] {elapsed} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    // No steady tick: that draws from indicatif's own thread, and this process holds the stderr lock on the
    // main thread (main.rs), so it would wait forever. The scan ticks the bar from the main thread instead.
    bar
}

/// The scan's work, read and validated before anything is contacted.
struct Prepared {
    jobs: Vec<Job>,
    trust: Arc<TrustSources>,
    tally: Tally,
}

/// `preflight scan`: the list's targets, `--concurrency` at a time, reports streamed or summarised.
///
/// Exit code: the worst result. 3 when the tool could not work (a report could not be written, a check
/// crashed); else 2 when a line of the list was bad (the good lines still ran); else 1 when a target failed;
/// else 0.
pub(super) fn scan(args: &ScanArgs, io: &mut Io<'_>) -> i32 {
    let started = std::time::Instant::now();
    let Prepared { jobs, trust, tally } = match prepare(args, io) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut plan = match Plan::open(args, io) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let verbose = io.verbose;
    let (out, err): (&mut dyn Write, &mut dyn Write) = (&mut *io.out, &mut *io.err);
    let streaming = plan.to_stdout == Some(Format::Jsonl);
    let (out, jsonl_out) = if streaming {
        (None, Some(out))
    } else {
        (Some(out), None)
    };
    let rt = match scan_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "preflight: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let mut sinks = Sinks {
        jsonl_file: plan.jsonl_file.take(),
        jsonl_out,
        rows: plan.wants_rows().then(Vec::new),
        reports: plan.wants_reports().then(Vec::new),
        bar: progress_bar(jobs.len(), verbose),
        out_is_terminal: plan.out_is_terminal,
        stop: None,
        tally,
    };
    let concurrency = usize::try_from(args.concurrency).unwrap_or(64);
    run_jobs(&rt, jobs, trust, concurrency, verbose, &mut sinks, err);
    sinks.bar.finish_and_clear();
    // The targets still in flight after a stop (a reader gone, a write error) are dropped, not awaited.
    rt.shutdown_background();
    let mut tally = std::mem::take(&mut sinks.tally);
    tally.elapsed = started.elapsed();
    let code = exit_code(&tally);
    match sinks.stop.take() {
        Some(Stop::WriteFailed(e)) => {
            let _ = writeln!(err, "preflight: cannot write the report: {e}");
            return exit::INTERNAL;
        }
        Some(Stop::ReaderGone) => return code,
        None => {}
    }
    let ended = End {
        rows: sinks.rows.take().unwrap_or_default(),
        reports: sinks.sorted_reports(),
        tally: &tally,
    };
    if let Err(code) = ended.write(plan, out, err) {
        return code;
    }
    code
}

/// The worst result: 3 when a check crashed, else 2 when a line was bad, else 1 when a target failed.
fn exit_code(tally: &Tally) -> i32 {
    let mut code = if tally.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    };
    if !tally.bad_lines.is_empty() {
        code = code.max(exit::USAGE);
    }
    if tally.crashed > 0 {
        code = code.max(exit::INTERNAL);
    }
    code
}

/// Reads the list, the trust sources and the credentials; every problem is a usage error, before anything
/// is contacted.
fn prepare(args: &ScanArgs, io: &mut Io<'_>) -> Result<Prepared, i32> {
    args.check_options().map_err(|e| io.fail(exit::USAGE, e))?;
    // Read once for the whole run, the system store included: every target judges against the same copy.
    let trust = load_trust(&args.trust).map_err(|e| io.fail(exit::USAGE, e))?;
    let trust = Arc::new(trust.resolved().into_owned());
    let (list_name, text) = read_targets(&args.targets).map_err(|e| io.fail(exit::USAGE, e))?;
    let list = scan::parse_list(&text);
    drop(text);
    for b in &list.bad {
        let _ = writeln!(io.err, "preflight: {list_name}:{}: {}", b.line, b.reason);
    }
    if list.entries.is_empty() {
        let why = if list.bad.is_empty() {
            "no target in it; write one per line: host[:port] [product]"
        } else {
            "no usable line; nothing was checked"
        };
        return Err(io.fail(exit::USAGE, format!("{list_name}: {why}")));
    }
    let mut jobs = Vec::with_capacity(list.entries.len());
    for e in list.entries {
        let cfg = args
            .config(e.target, e.product)
            .map_err(|err| io.fail(exit::USAGE, err))?;
        jobs.push(Job { line: e.line, cfg });
    }
    attach_credentials(args, &mut jobs, io)?;
    let tally = Tally {
        list: list_name,
        bad_lines: list.bad.iter().map(|b| b.line).collect(),
        ..Tally::default()
    };
    Ok(Prepared { jobs, trust, tally })
}

/// Credentials: read once per product of the list, before anything runs; each target's pipeline redacts
/// their every form from what its servers send.
fn attach_credentials(args: &ScanArgs, jobs: &mut [Job], io: &mut Io<'_>) -> Result<(), i32> {
    let products: Vec<Product> = jobs.iter().map(|j| j.cfg.product).collect();
    let credentials = args
        .credentials(&products)
        .map_err(|e| io.fail(exit::USAGE, e))?;
    for (_, creds) in &credentials {
        io.notes(&creds.notes);
    }
    for job in jobs {
        if let Some((_, creds)) = credentials.iter().find(|(p, _)| *p == job.cfg.product) {
            job.cfg.credentials = creds.clone();
        }
    }
    Ok(())
}

/// Where the scan's output goes, decided (and `--output` created) before anything is contacted.
struct Plan {
    format: Format,
    /// What stdout shows: with --output, the table only to a person at a terminal (as for `check`).
    to_stdout: Option<Format>,
    /// `--format jsonl --output FILE`: each report appended as it finishes.
    jsonl_file: Option<std::io::BufWriter<std::fs::File>>,
    /// `--output FILE` in any other format: written at the end.
    end_file: Option<(PathBuf, std::fs::File)>,
    opts: TableOptions,
    out_is_terminal: bool,
}

impl Plan {
    fn open(args: &ScanArgs, io: &mut Io<'_>) -> Result<Plan, i32> {
        let format = args.output.format;
        let file = match &args.output.output {
            Some(path) => match std::fs::File::create(path) {
                Ok(f) => Some((path.clone(), f)),
                Err(e) => {
                    let why = format!("cannot write {}: {e}", path.display());
                    return Err(io.fail(exit::USAGE, why));
                }
            },
            None => None,
        };
        let to_stdout = match (&file, io.out_is_terminal) {
            (None, _) => Some(format),
            (Some(_), true) => Some(Format::Table),
            (Some(_), false) => None,
        };
        let (jsonl_file, end_file) = match file {
            Some((_, f)) if format == Format::Jsonl => (Some(std::io::BufWriter::new(f)), None),
            other => (None, other),
        };
        Ok(Plan {
            format,
            to_stdout,
            jsonl_file,
            end_file,
            opts: table_options_for(args.output.color, io),
            out_is_terminal: io.out_is_terminal,
        })
    }

    fn wants_rows(&self) -> bool {
        self.format == Format::Table || self.to_stdout == Some(Format::Table)
    }

    fn wants_reports(&self) -> bool {
        matches!(self.format, Format::Json | Format::Markdown | Format::Junit)
    }
}

/// Why the scan stopped early.
enum Stop {
    WriteFailed(std::io::Error),
    /// The reader of stdout went away (`| head`): stop quietly.
    ReaderGone,
}

/// Where each finished target's report goes while the scan runs.
struct Sinks<'a> {
    jsonl_file: Option<std::io::BufWriter<std::fs::File>>,
    /// `--format jsonl` to stdout.
    jsonl_out: Option<&'a mut dyn Write>,
    /// Summary rows, for the table.
    rows: Option<Vec<Row>>,
    /// Whole reports, for formats rendered at the end (json, markdown, junit).
    reports: Option<Vec<(usize, Report)>>,
    bar: indicatif::ProgressBar,
    out_is_terminal: bool,
    stop: Option<Stop>,
    tally: Tally,
}

impl Sinks<'_> {
    /// One finished target: counted, streamed, kept for the end.
    fn take(&mut self, f: scan::Finished, err: &mut dyn Write) -> ControlFlow<()> {
        let tally = &mut self.tally;
        self.bar.inc(1);
        let report = match f.outcome {
            Ok(r) => r,
            Err(why) => {
                tally.crashed += 1;
                self.bar.suspend(|| {
                    let _ = writeln!(
                        err,
                        "preflight: {}:{}: {}: {why}",
                        tally.list, f.line, f.input
                    );
                });
                return ControlFlow::Continue(());
            }
        };
        tally.add(report.verdict);
        if tally.failed + tally.warned > 0 {
            self.bar
                .set_message(format!("{} failed, {} warned", tally.failed, tally.warned));
        }
        if let Err(stop) = self.stream(&report) {
            self.stop = Some(stop);
            return ControlFlow::Break(());
        }
        if let Some(rows) = self.rows.as_mut() {
            rows.push(Row::of(f.line, &report));
        }
        if let Some(reports) = self.reports.as_mut() {
            reports.push((f.line, report));
        }
        ControlFlow::Continue(())
    }

    /// `--format jsonl`: the report's line to the file and to stdout, as soon as it is there.
    fn stream(&mut self, report: &Report) -> Result<(), Stop> {
        let mut line = Vec::new();
        if self.jsonl_file.is_none() && self.jsonl_out.is_none() {
            return Ok(());
        }
        jsonl::write_line(report, &mut line).map_err(Stop::WriteFailed)?;
        if let Some(file) = self.jsonl_file.as_mut() {
            file.write_all(&line)
                .and_then(|()| file.flush())
                .map_err(Stop::WriteFailed)?;
        }
        if let Some(out) = self.jsonl_out.as_mut() {
            let written = if self.out_is_terminal {
                self.bar.suspend(|| out.write_all(&line))
            } else {
                out.write_all(&line)
            };
            written.map_err(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => Stop::ReaderGone,
                _ => Stop::WriteFailed(e),
            })?;
        }
        Ok(())
    }

    fn sorted_reports(&mut self) -> Vec<Report> {
        let mut kept = self.reports.take().unwrap_or_default();
        kept.sort_by_key(|(line, _)| *line);
        kept.into_iter().map(|(_, r)| r).collect()
    }
}

/// Runs the jobs on `rt`, handing each finished target to the sinks. Targets run on worker threads while
/// this thread holds stderr: their trace lines come here through a channel and are written between events.
fn run_jobs(
    rt: &tokio::runtime::Runtime,
    jobs: Vec<Job>,
    trust: Arc<TrustSources>,
    concurrency: usize,
    verbose: u8,
    sinks: &mut Sinks<'_>,
    err: &mut dyn Write,
) {
    let dns_timeout = jobs[0].cfg.timeouts.dns;
    let (trace_tx, trace_rx) = std::sync::mpsc::channel::<String>();
    let list_name = sinks.tally.list.clone();
    let trace = |job: &Job| {
        if verbose == 0 {
            return Trace::off();
        }
        let label = format!("{}:{}", list_name, job.line);
        let tx = trace_tx.clone();
        Trace::new(verbose, move |line| {
            let _ = tx.send(format!("{label} {line}"));
        })
    };
    let flush_trace = |err: &mut dyn Write| {
        for line in trace_rx.try_iter() {
            let _ = err.write_all(line.as_bytes());
            let _ = err.write_all(b"\n");
        }
    };
    let on = |event: scan::Event| {
        flush_trace(&mut *err);
        match event {
            scan::Event::Tick => {
                sinks.bar.tick();
                ControlFlow::Continue(())
            }
            scan::Event::Finished(f) => sinks.take(*f, &mut *err),
        }
    };
    rt.block_on(async {
        let shared = Shared {
            resolver: Arc::new(SystemResolver::new(dns_timeout)),
            trust,
        };
        scan::run(jobs, shared, concurrency, trace, on).await;
    });
    flush_trace(&mut *err);
}

/// What is rendered at the end: every report (json, markdown, junit), or the summary table.
struct End<'a> {
    rows: Vec<Row>,
    reports: Vec<Report>,
    tally: &'a Tally,
}

impl End<'_> {
    fn render(&self, format: Format, opts: TableOptions, w: &mut dyn Write) -> std::io::Result<()> {
        match format {
            Format::Table => summary::render_summary(&self.rows, self.tally, opts, w),
            Format::Jsonl => Ok(()),
            // An array, even for one target: a scan's JSON has one shape.
            Format::Json => serde_json::to_writer_pretty(&mut *w, &self.reports)
                .map_err(std::io::Error::from)
                .and_then(|()| w.write_all(b"\n")),
            other => render_to(&self.reports, other, opts, w),
        }
    }

    /// To `--output` (plain) and stdout; the counts to a person watching stderr when stdout carries reports.
    fn write(
        &self,
        plan: Plan,
        out: Option<&mut (dyn Write + '_)>,
        err: &mut dyn Write,
    ) -> Result<(), i32> {
        if let Some((path, mut f)) = plan.end_file {
            let mut buf = Vec::new();
            let plain = TableOptions {
                color: false,
                width: Some(110),
                certificates: true,
            };
            let written = self
                .render(plan.format, plain, &mut buf)
                .and_then(|()| f.write_all(&buf));
            if let Err(e) = written {
                let _ = writeln!(err, "preflight: cannot write {}: {e}", path.display());
                return Err(exit::INTERNAL);
            }
        }
        if let (Some(format), Some(out)) = (plan.to_stdout, out) {
            let mut buf = Vec::new();
            let written = self
                .render(format, plan.opts, &mut buf)
                .and_then(|()| out.write_all(&buf));
            if let Err(e) = written {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    let _ = writeln!(err, "preflight: cannot write the report: {e}");
                    return Err(exit::INTERNAL);
                }
            }
        }
        if plan.to_stdout != Some(Format::Table) && std::io::stderr().is_terminal() {
            let _ = writeln!(err, "preflight: scanned {}", self.tally.sentence());
        }
        Ok(())
    }
}
