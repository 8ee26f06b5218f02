//! `preflight scan`: a list of targets, checked concurrently, streamed or summarised.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use super::{exit, load_trust, table_options_for, Io};
use std::ops::ControlFlow;
use std::path::PathBuf;

use crate::cli::ScanArgs;
use crate::net::dns::SystemResolver;
use crate::pki::sources::TrustSources;
use crate::report::summary::{self, Interruption, Row, Tally};
use crate::report::table::TableOptions;
use crate::report::{json, jsonl, junit, markdown, Format, Report};
use crate::scan::{self, Job, Ordered, Shared};
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
/// Exit code: 130 (SIGINT) or 143 (SIGTERM) when a signal stopped the scan (what finished is written, marked
/// interrupted); else the worst result. 3 when the tool could not work (a report could not be written, a
/// check crashed); else 2 when a line of the list was bad (the good lines still ran); else 1 when a target
/// failed; else 0.
pub(super) fn scan(args: &ScanArgs, io: &mut Io<'_>) -> i32 {
    let started = std::time::Instant::now();
    let Prepared { jobs, trust, tally } = match prepare(args, io) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match Plan::open(args, io) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (out, err): (&mut dyn Write, &mut dyn Write) = (&mut *io.out, &mut *io.err);
    let rt = match scan_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "preflight: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let total = jobs.len();
    let bar = progress_bar(total, io.verbose);
    let mut sinks = Sinks::new(plan, out, &jobs, bar, tally);
    let concurrency = usize::try_from(args.concurrency).unwrap_or(64);
    let signal = run_jobs(&rt, jobs, trust, concurrency, io.verbose, &mut sinks, err);
    sinks.bar.finish_and_clear();
    // The targets still in flight after a stop (a signal, a reader gone, a write error) are dropped, not
    // awaited.
    rt.shutdown_background();
    let mut tally = std::mem::take(&mut sinks.tally);
    tally.elapsed = started.elapsed();
    tally.interrupted = signal.map(|s| Interruption {
        signal: s.name(),
        not_run: total.saturating_sub(tally.checked() + tally.crashed),
    });
    if let Some(i) = &tally.interrupted {
        let _ = writeln!(err, "preflight: interrupted {}", i.words());
    }
    let code = match signal {
        Some(s) => s.exit_code(),
        None => exit_code(&tally),
    };
    match sinks.stop.take() {
        Some(Stop::WriteFailed(e)) => {
            let _ = writeln!(err, "preflight: cannot write the report: {e}");
            return signal.map_or(exit::INTERNAL, Signal::exit_code);
        }
        Some(Stop::ReaderGone) => return code,
        None => {}
    }
    match sinks.finish(&tally, err) {
        Ok(()) => code,
        Err(failed) => signal.map_or(failed, Signal::exit_code),
    }
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
        let _ = writeln!(
            io.err,
            "preflight: {}:{}: {}",
            crate::text::printable(&list_name),
            b.line,
            crate::text::printable(&b.reason)
        );
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
    /// `--output FILE`, in `format`.
    file: Option<OutFile>,
    opts: TableOptions,
    out_is_terminal: bool,
}

/// `--output FILE`, written through a buffer.
struct OutFile {
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
}

impl OutFile {
    /// Writes and flushes; an error names the file.
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.w
            .write_all(bytes)
            .and_then(|()| self.w.flush())
            .map_err(|e| self.named(e))
    }

    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}

impl Plan {
    fn open(args: &ScanArgs, io: &mut Io<'_>) -> Result<Plan, i32> {
        let format = args.output.format;
        let file = match &args.output.output {
            Some(path) => match super::create_output("--output", path) {
                Ok(f) => Some(OutFile {
                    path: path.clone(),
                    w: std::io::BufWriter::new(f),
                }),
                Err(why) => return Err(io.fail(exit::USAGE, why)),
            },
            None => None,
        };
        let to_stdout = match (&file, io.out_is_terminal) {
            (None, _) => Some(format),
            (Some(_), true) => Some(Format::Table),
            (Some(_), false) => None,
        };
        Ok(Plan {
            format,
            to_stdout,
            file,
            opts: table_options_for(args.output.color, io),
            out_is_terminal: io.out_is_terminal,
        })
    }

    fn wants_rows(&self) -> bool {
        self.format == Format::Table || self.to_stdout == Some(Format::Table)
    }
}

/// Why the scan stopped early.
enum Stop {
    WriteFailed(std::io::Error),
    /// The reader of stdout went away (`| head`): stop quietly.
    ReaderGone,
}

impl Stop {
    /// An error writing stdout: a reader gone away is no failure.
    fn from_stdout(e: std::io::Error) -> Stop {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Stop::ReaderGone,
            _ => Stop::WriteFailed(e),
        }
    }
}

/// stdout while the progress bar may be drawn on the same terminal: each write hides the bar meanwhile.
struct Stdout<'s, 'a> {
    out: &'s mut (dyn Write + 'a),
    bar: &'s indicatif::ProgressBar,
    is_terminal: bool,
}

impl Write for Stdout<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.is_terminal {
            self.bar.suspend(|| self.out.write(buf))
        } else {
            self.out.write(buf)
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.is_terminal {
            self.bar.suspend(|| self.out.write_all(buf))
        } else {
            self.out.write_all(buf)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Where each finished target goes while the scan runs. Nothing keeps a whole report: jsonl writes it, a
/// document (json, markdown, junit) renders its piece, the summary table keeps a `Row`.
struct Sinks<'a> {
    /// stdout, when it shows something (`to_stdout`).
    out: Option<&'a mut dyn Write>,
    to_stdout: Option<Format>,
    /// `--output FILE`, in `format`.
    file: Option<OutFile>,
    format: Format,
    /// json, markdown or junit: to the file when there is one, else to stdout.
    doc: Option<Document>,
    /// Summary rows, for the table.
    rows: Option<Vec<Row>>,
    opts: TableOptions,
    bar: indicatif::ProgressBar,
    out_is_terminal: bool,
    stop: Option<Stop>,
    tally: Tally,
}

impl<'a> Sinks<'a> {
    fn new(
        plan: Plan,
        out: &'a mut dyn Write,
        jobs: &[Job],
        bar: indicatif::ProgressBar,
        tally: Tally,
    ) -> Sinks<'a> {
        let doc = Document::new(plan.format, jobs.iter().map(|j| j.line));
        Sinks {
            out: plan.to_stdout.is_some().then_some(out),
            to_stdout: plan.to_stdout,
            rows: plan.wants_rows().then(Vec::new),
            file: plan.file,
            format: plan.format,
            doc,
            opts: plan.opts,
            bar,
            out_is_terminal: plan.out_is_terminal,
            stop: None,
            tally,
        }
    }

    /// One finished target: counted, written or rendered, let go.
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
                        crate::text::printable(&tally.list),
                        f.line,
                        crate::text::printable(&f.input)
                    );
                });
                // Its turn in the document passes.
                let passed = self.document(f.line, None);
                return self.stopped_by(passed);
            }
        };
        tally.add(report.verdict);
        if tally.failed + tally.warned > 0 {
            self.bar
                .set_message(format!("{} failed, {} warned", tally.failed, tally.warned));
        }
        if let Some(rows) = self.rows.as_mut() {
            rows.push(Row::of(f.line, &report));
        }
        let written = self
            .stream(&report)
            .and_then(|()| self.document(f.line, Some(&report)));
        self.stopped_by(written)
    }

    fn stopped_by(&mut self, written: Result<(), Stop>) -> ControlFlow<()> {
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(stop) => {
                self.stop = Some(stop);
                ControlFlow::Break(())
            }
        }
    }

    /// `--format jsonl`: the report's line to the file and to stdout, as soon as it is there.
    fn stream(&mut self, report: &Report) -> Result<(), Stop> {
        if self.format != Format::Jsonl && self.to_stdout != Some(Format::Jsonl) {
            return Ok(());
        }
        let mut line = Vec::new();
        jsonl::write_line(report, &mut line).map_err(Stop::WriteFailed)?;
        if let Some(file) = self.file.as_mut().filter(|_| self.format == Format::Jsonl) {
            file.write_all(&line).map_err(Stop::WriteFailed)?;
        }
        if self.to_stdout == Some(Format::Jsonl) {
            if let Some(out) = self.out.as_mut() {
                let mut out = Stdout {
                    out: &mut **out,
                    bar: &self.bar,
                    is_terminal: self.out_is_terminal,
                };
                out.write_all(&line).map_err(Stop::from_stdout)?;
            }
        }
        Ok(())
    }

    /// json, markdown, junit: the report's piece, and whatever is now due of the document.
    fn document(&mut self, line: usize, report: Option<&Report>) -> Result<(), Stop> {
        let Some(doc) = self.doc.as_mut() else {
            return Ok(());
        };
        let piece = report
            .map(|r| doc.piece(r))
            .transpose()
            .map_err(Stop::WriteFailed)?;
        match (self.file.as_mut(), self.out.as_mut()) {
            (Some(file), _) => doc
                .done(line, piece, &mut file.w)
                .and_then(|()| file.w.flush())
                .map_err(|e| Stop::WriteFailed(file.named(e))),
            (None, Some(out)) => {
                let mut out = Stdout {
                    out: &mut **out,
                    bar: &self.bar,
                    is_terminal: self.out_is_terminal,
                };
                doc.done(line, piece, &mut out).map_err(Stop::from_stdout)
            }
            (None, None) => Ok(()),
        }
    }

    /// The end, complete or interrupted: the rest of the document, the summary table, the closing line.
    fn finish(&mut self, tally: &Tally, err: &mut dyn Write) -> Result<(), i32> {
        let interrupted = tally.interrupted.as_ref();
        if let Some(doc) = self.doc.as_mut() {
            let written = match (self.file.as_mut(), self.out.as_mut()) {
                (Some(file), _) => doc
                    .finish(interrupted, &mut file.w)
                    .map_err(|e| Some(file.named(e))),
                (None, Some(out)) => doc
                    .finish(interrupted, &mut **out)
                    .map_err(|e| (e.kind() != std::io::ErrorKind::BrokenPipe).then_some(e)),
                (None, None) => Ok(()),
            };
            if let Err(Some(e)) = written {
                let _ = writeln!(err, "preflight: cannot write the report: {e}");
                return Err(exit::INTERNAL);
            }
        }
        self.tables(tally, err)?;
        if self.to_stdout != Some(Format::Table) && std::io::stderr().is_terminal() {
            let _ = writeln!(err, "preflight: scanned {}", tally.sentence());
        }
        Ok(())
    }

    /// The summary table: to `--output` (plain) in `--format table`, and to stdout when it shows it.
    fn tables(&mut self, tally: &Tally, err: &mut dyn Write) -> Result<(), i32> {
        let rows = self.rows.take().unwrap_or_default();
        if let Some(file) = self.file.as_mut().filter(|_| self.format == Format::Table) {
            let plain = TableOptions {
                color: false,
                width: Some(110),
                wrap_lines: false,
                certificates: true,
            };
            let mut buf = Vec::new();
            let written = summary::render_summary(&rows, tally, plain, &mut buf)
                .and_then(|()| file.write_all(&buf));
            if let Err(e) = written {
                let _ = writeln!(err, "preflight: cannot write {e}");
                return Err(exit::INTERNAL);
            }
        }
        if let (Some(Format::Table), Some(out)) = (self.to_stdout, self.out.as_mut()) {
            let mut buf = Vec::new();
            let written = summary::render_summary(&rows, tally, self.opts, &mut buf)
                .and_then(|()| out.write_all(&buf));
            if let Err(e) = written {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    let _ = writeln!(err, "preflight: cannot write the report: {e}");
                    return Err(exit::INTERNAL);
                }
            }
        }
        Ok(())
    }
}

/// A json, markdown or junit document, written in list order as its targets finish: each report is rendered
/// into its piece at once and let go; a piece waits (in memory up to a budget, then on disk) only while an
/// earlier target of the list is still running, or, for JUnit, whose root needs the totals, until the end.
struct Document {
    format: Format,
    order: Ordered,
    /// json: the array's brackets and commas.
    array: json::Array,
    /// Pieces written so far (markdown: a blank line between reports).
    written: usize,
    /// junit: what the root says of its suites.
    totals: junit::Totals,
}

impl Document {
    fn new(format: Format, lines: impl IntoIterator<Item = usize>) -> Option<Document> {
        let hold_all = match format {
            Format::Json | Format::Markdown => false,
            Format::Junit => true,
            Format::Table | Format::Jsonl => return None,
        };
        Some(Document {
            format,
            order: Ordered::new(lines, hold_all, Ordered::BUDGET),
            array: json::Array::default(),
            written: 0,
            totals: junit::Totals::default(),
        })
    }

    /// One report's piece: what the document holds of it, rendered as it will be written.
    fn piece(&mut self, r: &Report) -> std::io::Result<Vec<u8>> {
        match self.format {
            Format::Json => json::element(r),
            Format::Junit => {
                let part = junit::suite_part(r)?;
                self.totals.add(&part);
                Ok(part.xml.into_bytes())
            }
            _ => {
                let mut piece = Vec::new();
                markdown::render_one(r, &mut piece)?;
                Ok(piece)
            }
        }
    }

    /// A target done: its piece (`None`: it has none), and every piece now due, to `w`.
    fn done(
        &mut self,
        line: usize,
        piece: Option<Vec<u8>>,
        w: &mut dyn Write,
    ) -> std::io::Result<()> {
        let (format, array, written) = (self.format, &mut self.array, &mut self.written);
        self.order
            .done(line, piece, &mut |p| put(format, array, written, p, w))
    }

    /// The rest: the opening (junit), every piece still waiting, what was not run, the closing.
    fn finish(
        &mut self,
        interrupted: Option<&Interruption>,
        w: &mut dyn Write,
    ) -> std::io::Result<()> {
        if self.format == Format::Junit {
            w.write_all(junit::opening(&self.totals)?.as_bytes())?;
        }
        let (format, array, written) = (self.format, &mut self.array, &mut self.written);
        self.order
            .drain(&mut |p| put(format, array, written, p, &mut *w))?;
        match (self.format, interrupted) {
            (Format::Json, Some(i)) => self.array.push(&json::interrupted_element(i)?, w)?,
            (Format::Junit, Some(i)) => w.write_all(junit::interrupted_suite(i)?.as_bytes())?,
            (Format::Markdown, Some(i)) => {
                if self.written > 0 {
                    w.write_all(b"\n")?;
                }
                w.write_all(i.markdown().as_bytes())?;
            }
            _ => {}
        }
        match self.format {
            Format::Json => self.array.finish(w)?,
            Format::Junit => w.write_all(junit::CLOSING.as_bytes())?,
            _ => {}
        }
        w.flush()
    }
}

/// Writes one piece where it belongs in its document: an element of the json array, a markdown report after
/// a blank line, a junit suite as it is.
fn put(
    format: Format,
    array: &mut json::Array,
    written: &mut usize,
    piece: &[u8],
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => array.push(piece, w)?,
        Format::Markdown if *written > 0 => {
            w.write_all(b"\n")?;
            w.write_all(piece)?;
        }
        _ => w.write_all(piece)?,
    }
    *written += 1;
    Ok(())
}

/// The signal that stopped a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            Signal::Int => exit::INTERRUPTED,
            Signal::Term => exit::TERMINATED,
        }
    }
}

/// SIGINT and SIGTERM, caught from this call on (inside the runtime): the first that comes. A signal whose
/// handler cannot be installed keeps its default action.
#[cfg(unix)]
fn signals() -> impl std::future::Future<Output = Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    async fn next(s: Option<tokio::signal::unix::Signal>) {
        if let Some(mut s) = s {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            () = next(int) => Signal::Int,
            () = next(term) => Signal::Term,
        }
    }
}

#[cfg(not(unix))]
fn signals() -> impl std::future::Future<Output = Signal> {
    std::future::pending()
}

/// Runs the jobs on `rt`, handing each finished target to the sinks, until the last or a signal (returned).
/// Targets run on worker threads while this thread holds stderr: their trace lines come here through a
/// channel and are written between events.
fn run_jobs(
    rt: &tokio::runtime::Runtime,
    jobs: Vec<Job>,
    trust: Arc<TrustSources>,
    concurrency: usize,
    verbose: u8,
    sinks: &mut Sinks<'_>,
    err: &mut dyn Write,
) -> Option<Signal> {
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
    let signal = rt.block_on(async {
        let stop = signals();
        let shared = Shared {
            resolver: Arc::new(SystemResolver::new(dns_timeout)),
            trust,
        };
        scan::run(jobs, shared, concurrency, trace, on, stop).await
    });
    flush_trace(&mut *err);
    signal
}
