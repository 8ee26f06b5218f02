//! `preflight scan`: a list of targets, checked concurrently, streamed or summarised.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use super::{exit, load_trust, render_to, scrub, table_options_for, Io};
use crate::cli::ScanArgs;
use crate::net::dns::SystemResolver;
use crate::report::table::TableOptions;
use crate::report::{jsonl, Format, Report};
use crate::trace::Trace;

/// Reads the list of a scan: a file, or standard input for `-`. Returns (its name for messages, its text).
fn read_targets(path: &std::path::Path) -> Result<(String, String), String> {
    let reason = |e: std::io::Error| crate::errors::io_words(&e);
    if path == std::path::Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .map_err(|e| format!("--targets -: cannot read standard input: {}", reason(e)))?;
        return Ok((
            "stdin".to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "--targets {}: cannot read it: {}",
            path.display(),
            reason(e)
        )
    })?;
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

/// Where each finished target's report goes while the scan runs.
struct ScanSinks<'a> {
    /// `--format jsonl --output FILE`: each report appended as it finishes.
    jsonl_file: Option<std::io::BufWriter<std::fs::File>>,
    /// `--format jsonl` to stdout.
    jsonl_out: Option<&'a mut dyn Write>,
    /// Summary rows, for the table.
    rows: Option<Vec<crate::report::summary::Row>>,
    /// Whole reports, for formats rendered at the end (json, markdown, junit).
    reports: Option<Vec<(usize, Report)>>,
}

/// `preflight scan`: the list's targets, `--concurrency` at a time, reports streamed or summarised.
///
/// Exit code: the worst result. 3 when the tool could not work (a report could not be written, a check
/// crashed); else 2 when a line of the list was bad (the good lines still ran); else 1 when a target failed;
/// else 0.
pub(super) fn scan(args: &ScanArgs, io: &mut Io<'_>) -> i32 {
    use crate::report::summary::{self, Row, Tally};
    use crate::scan::{self, Job, Shared};
    use std::ops::ControlFlow;

    let started = std::time::Instant::now();
    if let Err(e) = args.check_options() {
        return io.fail(exit::USAGE, e);
    }
    let trust = match load_trust(&args.trust) {
        // Read once for the whole run, the system store included: every target judges against the same copy.
        Ok(t) => Arc::new(t.resolved().into_owned()),
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let (list_name, text) = match read_targets(&args.targets) {
        Ok(t) => t,
        Err(e) => return io.fail(exit::USAGE, e),
    };
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
        return io.fail(exit::USAGE, format!("{list_name}: {why}"));
    }
    let mut jobs = Vec::with_capacity(list.entries.len());
    for e in list.entries {
        match args.config(e.target, e.product) {
            Ok(cfg) => jobs.push(Job { line: e.line, cfg }),
            Err(err) => return io.fail(exit::USAGE, err),
        }
    }
    // Credentials: read once per product of the list, before anything runs; every value joins the secrets
    // scrubbed from all output and the trace.
    let products: Vec<crate::target::Product> = jobs.iter().map(|j| j.cfg.product).collect();
    let credentials = match args.credentials(&products) {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let mut secrets = (*io.secrets).clone();
    for (_, creds) in &credentials {
        secrets.extend(creds.secret_values());
    }
    io.secrets = Arc::new(secrets);
    for job in &mut jobs {
        if let Some((_, creds)) = credentials.iter().find(|(p, _)| *p == job.cfg.product) {
            job.cfg.credentials = creds.clone();
        }
    }
    let mut tally = Tally {
        list: list_name.clone(),
        bad_lines: list.bad.iter().map(|b| b.line).collect(),
        ..Tally::default()
    };

    let format = args.output.format;
    let file = match &args.output.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some((path.clone(), f)),
            Err(e) => return io.fail(exit::USAGE, format!("cannot write {}: {e}", path.display())),
        },
        None => None,
    };
    // As for `check`: with --output, stdout shows the table only to a person at a terminal.
    let to_stdout = match (&file, io.out_is_terminal) {
        (None, _) => Some(format),
        (Some(_), true) => Some(Format::Table),
        (Some(_), false) => None,
    };
    let opts = table_options_for(args.output.color, io);
    let out_is_terminal = io.out_is_terminal;
    let secrets = io.secrets.clone();
    let verbose = io.verbose;
    let (out, err) = (&mut *io.out, &mut *io.err);

    let mut jsonl_file = None;
    let mut end_file = None;
    if let Some((path, f)) = file {
        if format == Format::Jsonl {
            jsonl_file = Some(std::io::BufWriter::new(f));
        } else {
            end_file = Some((path, f));
        }
    }
    let keep_reports = matches!(format, Format::Json | Format::Markdown | Format::Junit);
    let mut sinks = ScanSinks {
        jsonl_file,
        jsonl_out: None,
        rows: (format == Format::Table || to_stdout == Some(Format::Table)).then(Vec::new),
        reports: keep_reports.then(Vec::new),
    };
    let (mut out, stream_out) = if to_stdout == Some(Format::Jsonl) {
        sinks.jsonl_out = Some(out);
        (None, true)
    } else {
        (Some(out), false)
    };

    let rt = match scan_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "preflight: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let bar = progress_bar(jobs.len(), verbose);
    let dns_timeout = jobs[0].cfg.timeouts.dns;
    let concurrency = usize::try_from(args.concurrency).unwrap_or(64);
    // Targets run on worker threads, while this thread holds stderr: their trace lines come here through a
    // channel and are written between events.
    let (trace_tx, trace_rx) = std::sync::mpsc::channel::<String>();
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
    let mut write_error: Option<std::io::Error> = None;
    let mut broken_pipe = false;
    let flush_trace = |err: &mut dyn Write| {
        for line in trace_rx.try_iter() {
            let _ = err.write_all(&scrub(line.as_bytes(), &secrets));
            let _ = err.write_all(b"\n");
        }
    };
    let on = |event: scan::Event| {
        flush_trace(&mut *err);
        let f = match event {
            scan::Event::Tick => {
                bar.tick();
                return ControlFlow::Continue(());
            }
            scan::Event::Finished(f) => *f,
        };
        bar.inc(1);
        let report = match f.outcome {
            Ok(r) => r,
            Err(why) => {
                tally.crashed += 1;
                bar.suspend(|| {
                    let _ = writeln!(err, "preflight: {list_name}:{}: {}: {why}", f.line, f.input);
                });
                return ControlFlow::Continue(());
            }
        };
        tally.add(report.verdict);
        if tally.failed + tally.warned > 0 {
            bar.set_message(format!("{} failed, {} warned", tally.failed, tally.warned));
        }
        if let Some(file) = sinks.jsonl_file.as_mut() {
            let mut line = Vec::new();
            let written = jsonl::write_line(&report, &mut line)
                .and_then(|()| file.write_all(&scrub(&line, &secrets)))
                .and_then(|()| file.flush());
            if let Err(e) = written {
                write_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        if let Some(out) = sinks.jsonl_out.as_mut() {
            let mut line = Vec::new();
            let written = jsonl::write_line(&report, &mut line).and_then(|()| {
                let line = scrub(&line, &secrets);
                if out_is_terminal {
                    bar.suspend(|| out.write_all(&line))
                } else {
                    out.write_all(&line)
                }
            });
            if let Err(e) = written {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    broken_pipe = true;
                } else {
                    write_error = Some(e);
                }
                return ControlFlow::Break(());
            }
        }
        if let Some(rows) = sinks.rows.as_mut() {
            rows.push(Row::of(f.line, &report));
        }
        if let Some(reports) = sinks.reports.as_mut() {
            reports.push((f.line, report));
        }
        ControlFlow::Continue(())
    };
    rt.block_on(async {
        let shared = Shared {
            resolver: Arc::new(SystemResolver::new(dns_timeout)),
            trust,
        };
        scan::run(jobs, shared, concurrency, trace, on).await;
    });
    flush_trace(&mut *err);
    bar.finish_and_clear();
    // The targets still in flight after a stop (a reader gone, a write error) are dropped, not awaited.
    rt.shutdown_background();
    tally.elapsed = started.elapsed();

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
    if let Some(e) = write_error {
        let _ = writeln!(err, "preflight: cannot write the report: {e}");
        return exit::INTERNAL;
    }
    if broken_pipe {
        return code;
    }

    // What is rendered at the end: every report (json, markdown, junit), or the summary table.
    let reports: Vec<Report> = match sinks.reports.take() {
        Some(mut kept) => {
            kept.sort_by_key(|(line, _)| *line);
            kept.into_iter().map(|(_, r)| r).collect()
        }
        None => Vec::new(),
    };
    let rows = sinks.rows.take().unwrap_or_default();
    let render_end = |format: Format, opts: TableOptions, w: &mut dyn Write| match format {
        Format::Table => summary::render_summary(&rows, &tally, opts, w),
        Format::Jsonl => Ok(()),
        // An array, even for one target: a scan's JSON has one shape.
        Format::Json => serde_json::to_writer_pretty(&mut *w, &reports)
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n")),
        other => render_to(&reports, other, opts, w),
    };
    if let Some((path, mut f)) = end_file {
        let mut buf = Vec::new();
        let plain = TableOptions {
            color: false,
            width: Some(110),
            certificates: true,
        };
        let written =
            render_end(format, plain, &mut buf).and_then(|()| f.write_all(&scrub(&buf, &secrets)));
        if let Err(e) = written {
            let _ = writeln!(err, "preflight: cannot write {}: {e}", path.display());
            return exit::INTERNAL;
        }
    }
    if let (Some(format), Some(out)) = (to_stdout, out.as_mut()) {
        let mut buf = Vec::new();
        let written =
            render_end(format, opts, &mut buf).and_then(|()| out.write_all(&scrub(&buf, &secrets)));
        if let Err(e) = written {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = writeln!(err, "preflight: cannot write the report: {e}");
                return exit::INTERNAL;
            }
        }
    }
    // The counts for a person watching stderr, when stdout carries reports rather than the summary.
    if (stream_out || to_stdout != Some(Format::Table)) && std::io::stderr().is_terminal() {
        let _ = writeln!(err, "preflight: scanned {}", tally.sentence());
    }
    code
}
