//! Runs a parsed command and returns its exit code. Output goes to the writers the caller passes in
//! (`main` passes stdout and stderr), so the library itself never prints.

use std::io::{IsTerminal, Write};
use std::net::TcpListener;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::checks::{self, Deps};
use crate::cli::{
    ChainArgs, CheckArgs, ColorChoice, Command, DemoArgs, LabArgs, OutputArgs, ScanArgs, TrustArgs,
    VerifyArgs,
};
use crate::config::CheckConfig;
use crate::lab::{Lab, LabOptions, Scenario};
use crate::net::dns::{Resolver, SystemResolver};
use crate::pki::sources::TrustSources;
use crate::report::table::TableOptions;
use crate::report::{json, jsonl, junit, markdown, table, Format, Report};
use crate::target::{Product, Target};
use crate::trace::Trace;

/// Exit codes, as the README documents them.
pub mod exit {
    /// No check failed.
    pub const OK: i32 = 0;
    /// At least one check failed.
    pub const FAILED: i32 = 1;
    /// Bad usage or unreadable input.
    pub const USAGE: i32 = 2;
    /// The tool itself could not work (the lab could not start, output could not be written).
    pub const INTERNAL: i32 = 3;
}

/// Where output goes, and whether stdout is a terminal.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub out_is_terminal: bool,
    /// `-v` count: 0 quiet, 1 steps, 2 details.
    pub verbose: u8,
    /// Values that must never be printed (passwords, tokens, proxy credentials).
    pub secrets: Arc<Vec<String>>,
}

/// The verbose trace goes to stderr, scrubbed of every known secret.
fn stderr_trace(level: u8, secrets: Arc<Vec<String>>) -> Trace {
    if level == 0 {
        return Trace::off();
    }
    Trace::new(level, move |line| {
        let line = crate::secret::scrub(line, &secrets);
        let _ = writeln!(std::io::stderr(), "{line}");
    })
}

/// Secrets the environment holds: proxy passwords (the credentials join them once they are read).
pub fn environment_secrets() -> Vec<String> {
    crate::net::proxy::secrets_in(&crate::net::proxy::urls_in_environment())
}

impl Io<'_> {
    fn fail(&mut self, code: i32, msg: impl std::fmt::Display) -> i32 {
        let _ = writeln!(self.err, "preflight: {msg}");
        code
    }

    /// A report that could not be written: silent when the reader went away (`| head`), like other tools.
    fn write_failed(&mut self, e: &std::io::Error, otherwise: i32) -> i32 {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return otherwise;
        }
        self.fail(exit::INTERNAL, format!("cannot write the report: {e}"))
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

pub fn run(command: Command, io: &mut Io<'_>) -> i32 {
    match command {
        Command::Check(args) => check(&args, io),
        Command::Chain(args) => chain(&args, io),
        Command::Verify(args) => verify(&args, io),
        Command::Bundle(mut args) => {
            args.check.output.bundle = Some(args.out.clone());
            check(&args.check, io)
        }
        Command::Scan(args) => scan(&args, io),
        Command::Lab(args) => lab(&args, io),
        Command::Demo(args) => demo(&args, io),
        Command::Codes => {
            let _ = io.out.write_all(crate::codes::markdown_table().as_bytes());
            exit::OK
        }
    }
}

fn table_options(o: &OutputArgs, io: &Io<'_>) -> TableOptions {
    table_options_for(o.color, io)
}

fn table_options_for(choice: ColorChoice, io: &Io<'_>) -> TableOptions {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => io.out_is_terminal && !no_color_env,
    };
    TableOptions {
        color,
        width: if io.out_is_terminal { None } else { Some(110) },
        certificates: true,
    }
}

/// Writes one report where the output options say: stdout, `--output`, `--bundle`.
fn emit(report: &Report, o: &OutputArgs, io: &mut Io<'_>, code: i32) -> i32 {
    let reports = std::slice::from_ref(report);
    if let Some(path) = &o.output {
        let mut buf = Vec::new();
        let written = render_to(reports, o.format, table_options(o, io), &mut buf)
            .and_then(|()| std::fs::write(path, scrub(&buf, &io.secrets)));
        if let Err(e) = written {
            return io.fail(exit::USAGE, format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = &o.bundle {
        if let Err(e) = write_bundle(report, path, &io.secrets) {
            return io.fail(
                exit::USAGE,
                format!("cannot write the bundle {}: {e}", path.display()),
            );
        }
        let _ = writeln!(
            io.err,
            "preflight: support bundle written to {}",
            path.display()
        );
    }
    // With --output, stdout shows the table only to a person at a terminal.
    let to_stdout = match (&o.output, io.out_is_terminal) {
        (None, _) => Some(o.format),
        (Some(_), true) => Some(Format::Table),
        (Some(_), false) => None,
    };
    if let Some(format) = to_stdout {
        let opts = table_options(o, io);
        let mut buf = Vec::new();
        let written = render_to(reports, format, opts, &mut buf)
            .and_then(|()| io.out.write_all(&scrub(&buf, &io.secrets)));
        if let Err(e) = written {
            return io.write_failed(&e, code);
        }
    }
    code
}

fn scrub(bytes: &[u8], secrets: &[String]) -> Vec<u8> {
    crate::secret::scrub(&String::from_utf8_lossy(bytes), secrets).into_bytes()
}

fn render_to(
    reports: &[Report],
    format: Format,
    opts: TableOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::render(reports, opts, out),
        Format::Json => json::render(reports, out),
        Format::Jsonl => jsonl::render(reports, out),
        Format::Markdown => markdown::render(reports, out),
        Format::Junit => junit::render(reports, out),
    }
}

fn write_bundle(
    report: &Report,
    path: &std::path::Path,
    secrets: &[String],
) -> std::io::Result<()> {
    let reports = std::slice::from_ref(report);
    let mut texts: Vec<(&str, String)> = Vec::new();
    for (name, format) in [
        ("report.json", Format::Json),
        ("report.md", Format::Markdown),
        ("report.txt", Format::Table),
    ] {
        let mut buf = Vec::new();
        let opts = TableOptions {
            color: false,
            width: Some(110),
            certificates: true,
        };
        render_to(reports, format, opts, &mut buf)?;
        texts.push((name, String::from_utf8_lossy(&buf).into_owned()));
    }
    let now = crate::duration::rfc3339(OffsetDateTime::now_utc());
    let env = crate::bundle::Environment::collect(report, &now);
    crate::bundle::write(path, report, &env, &texts, secrets)
}

fn render(reports: &[Report], o: &OutputArgs, io: &mut Io<'_>) -> std::io::Result<()> {
    let opts = table_options(o, io);
    render_to(reports, o.format, opts, io.out)
}

fn check(args: &CheckArgs, io: &mut Io<'_>) -> i32 {
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    // Every credential joins the values scrubbed from all output, the trace and the bundle.
    let mut secrets = (*io.secrets).clone();
    secrets.extend(cfg.credentials.secret_values());
    io.secrets = Arc::new(secrets);
    let trust = match load_trust(&args.trust) {
        Ok(t) => t,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let report = match run_one(&cfg, trust, stderr_trace(io.verbose, io.secrets.clone())) {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, e),
    };
    let code = if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    };
    emit(&report, &args.output, io, code)
}

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
    rows: Option<Vec<crate::scan::Row>>,
    /// Whole reports, for formats rendered at the end (json, markdown, junit).
    reports: Option<Vec<(usize, Report)>>,
}

/// `preflight scan`: the list's targets, `--concurrency` at a time, reports streamed or summarised.
///
/// Exit code: the worst result. 3 when the tool could not work (a report could not be written, a check
/// crashed); else 2 when a line of the list was bad (the good lines still ran); else 1 when a target failed;
/// else 0.
fn scan(args: &ScanArgs, io: &mut Io<'_>) -> i32 {
    use crate::scan::{self, Job, Row, Shared, Tally};
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
        Format::Table => scan::render_summary(&rows, &tally, opts, w),
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

fn load_trust(args: &TrustArgs) -> Result<Arc<TrustSources>, String> {
    TrustSources::load(&args.ca, &args.pin_sha256)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// Checks one target on a fresh runtime with the system resolver.
fn run_one(cfg: &CheckConfig, trust: Arc<TrustSources>, trace: Trace) -> Result<Report, String> {
    let rt = runtime().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(rt.block_on(async {
        let resolver: Arc<dyn Resolver> = Arc::new(SystemResolver::new(cfg.timeouts.dns));
        let deps = Deps {
            resolver,
            trust,
            now: OffsetDateTime::now_utc(),
            trace,
        };
        checks::run(cfg, &deps).await
    }))
}

fn chain(args: &ChainArgs, io: &mut Io<'_>) -> i32 {
    let cfg = match args.connect.to_config() {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    // No trust judgement here: the point is to look at what the server sends.
    let report = match run_one(
        &cfg,
        Arc::new(TrustSources::default()),
        stderr_trace(io.verbose, io.secrets.clone()),
    ) {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, e),
    };
    if report.certificates.is_empty() {
        let why = report
            .checks
            .iter()
            .find(|c| c.status.is_failure())
            .map(|c| format!("{} ({}): {}", c.id, c.code, c.summary))
            .unwrap_or_else(|| "the server sent no certificate".into());
        let fix = report
            .first_fix
            .clone()
            .map(|f| format!("\nfix: {f}"))
            .unwrap_or_default();
        return io.fail(
            exit::FAILED,
            format!(
                "no chain from {}: {why}{fix}",
                cfg.target.authority(cfg.port)
            ),
        );
    }
    let pem: String = report.certificates.iter().map(|c| c.pem.clone()).collect();
    if let Some(path) = &args.save {
        if let Err(e) = std::fs::write(path, &pem) {
            return io.fail(exit::USAGE, format!("cannot write {}: {e}", path.display()));
        }
    }
    match write_chain(&report, args.save.as_deref(), io.out) {
        Ok(()) => exit::OK,
        Err(e) => io.write_failed(&e, exit::OK),
    }
}

fn write_chain(
    report: &Report,
    saved: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let t = &report.target;
    writeln!(
        out,
        "# The chain {}:{} sent, leaf first ({} certificates).",
        t.host,
        t.port.unwrap_or(0),
        report.certificates.len()
    )?;
    for c in &report.certificates {
        writeln!(
            out,
            "#\n# #{} {}\n#    issuer  {}\n#    SHA-256 {}",
            c.index, c.subject, c.issuer, c.sha256
        )?;
    }
    let leaf = &report.certificates[0];
    let file = if report.target.product == Product::Cvp {
        "/etc/nginx/cvp.crt"
    } else {
        "<the server's certificate file>"
    };
    writeln!(out, "#\n# Before trusting it, compare on the server itself (trust on first use, done with a check):")?;
    writeln!(
        out,
        "#    openssl x509 -noout -fingerprint -sha256 -in {file}"
    )?;
    writeln!(out, "# must print SHA256 Fingerprint={}", leaf.sha256)?;
    if let Some(p) = saved {
        writeln!(
            out,
            "# Saved to {}; then: preflight check {}:{} --ca {}",
            p.display(),
            t.host,
            t.port.unwrap_or(0),
            p.display()
        )?;
    }
    for c in &report.certificates {
        out.write_all(c.pem.as_bytes())?;
    }
    Ok(())
}

fn verify(args: &VerifyArgs, io: &mut Io<'_>) -> i32 {
    let chain = match crate::pki::sources::read_certificates(&args.chain) {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e.to_string().replacen("--ca", "--chain", 1)),
    };
    let trust = match load_trust(&args.trust) {
        Ok(t) => t,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let input = checks::OfflineInput {
        label: args.chain.display().to_string(),
        chain: &chain,
        name: args.name.clone(),
        product: args.product,
        warn_days: i64::from(args.trust.warn_days),
    };
    let report = checks::verify_offline(&input, &trust, OffsetDateTime::now_utc(), args.trust.at);
    let code = if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    };
    emit(&report, &args.output, io, code)
}

fn lab(args: &LabArgs, io: &mut Io<'_>) -> i32 {
    let scenarios = args.scenarios();
    if scenarios.is_empty() {
        return io.fail(
            exit::USAGE,
            "no lab server matches that --product and --scenario",
        );
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("preflight-lab-{}", std::process::id()))
    });
    let mut opts = LabOptions::new(dir, OffsetDateTime::now_utc());
    opts.scenarios = scenarios;
    opts.port = args.port;
    opts.bind = args.bind;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return io.fail(
                exit::INTERNAL,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    rt.block_on(async {
        let lab = match Lab::start(&opts).await {
            Ok(l) => l,
            Err(e) => return io.fail(exit::INTERNAL, e),
        };
        let _ = io.out.write_all(lab.describe().as_bytes());
        let _ = io.out.flush();
        let _ = tokio::signal::ctrl_c().await;
        drop(lab);
        exit::OK
    })
}

/// A port on loopback that refuses connections: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9)
}

/// The demo: the lab in-process, each server checked, the reports printed.
fn demo(args: &DemoArgs, io: &mut Io<'_>) -> i32 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return io.fail(
                exit::INTERNAL,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    let dir = std::env::temp_dir().join(format!("preflight-demo-{}", std::process::id()));
    let mut opts = LabOptions::new(dir.clone(), OffsetDateTime::now_utc());
    opts.scenarios = vec![
        Scenario::Cvp,
        Scenario::Prisma,
        Scenario::Plaintext,
        Scenario::ProxyIntercept,
    ];
    let outcome = rt.block_on(demo_reports(&opts));
    let _ = std::fs::remove_dir_all(&dir);
    let reports = match outcome {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, format!("the demo could not run: {e}")),
    };
    let written = match args.output.format {
        Format::Json | Format::Jsonl | Format::Markdown | Format::Junit => {
            let only: Vec<Report> = reports.into_iter().map(|(_, r)| r).collect();
            render(&only, &args.output, io)
        }
        Format::Table => (|| {
            let opts = table_options(&args.output, io);
            writeln!(
                io.out,
                "preflight demo: the built-in lab on loopback, each server checked.\n"
            )?;
            let mut shown = std::collections::HashSet::new();
            for (i, (about, report)) in reports.iter().enumerate() {
                writeln!(io.out, "── {}/{}: {about}", i + 1, reports.len())?;
                // Each chain's details once: the second look at the same server shows only what changed.
                let first_time = report
                    .certificates
                    .first()
                    .is_some_and(|c| shown.insert(c.sha256.clone()));
                table::render_one(
                    report,
                    table::TableOptions {
                        certificates: first_time,
                        ..opts
                    },
                    io.out,
                )?;
                writeln!(io.out)?;
            }
            writeln!(io.out, "Try it yourself: `preflight lab` runs these servers until Ctrl-C and prints a check command for each.")
        })(),
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => io.write_failed(&e, exit::OK),
    }
}

/// The demo's story: a self-signed console failing, then trusted with its own certificate; a private-CA
/// console trusted through its CA; the first console behind a TLS-inspecting proxy; plain text on a TLS
/// port; the wrong port.
async fn demo_reports(
    opts: &LabOptions,
) -> Result<Vec<(String, Report)>, Box<dyn std::error::Error>> {
    let lab = Lab::start(opts).await?;
    let resolver: Arc<dyn Resolver> = Arc::new(crate::net::dns::StaticResolver { answers: vec![] });
    let now = OffsetDateTime::now_utc();
    let defaults = Arc::new(TrustSources::load(&[], &[])?);
    let mut runs: Vec<(String, CheckConfig, Arc<TrustSources>)> = Vec::new();
    let target_of =
        |addr: std::net::SocketAddr| Target::parse(&addr.to_string()).map_err(|e| e.to_string());
    if let Some(cvp) = lab.server(Scenario::Cvp) {
        let cfg = CheckConfig::new(target_of(cvp.addr)?, Product::Cvp);
        runs.push((
            "a CloudVision-like node with its self-signed certificate, checked with no --ca".into(),
            cfg.clone(),
            defaults.clone(),
        ));
        if let Some(file) = &cvp.trust_file {
            let trusted = Arc::new(TrustSources::load(std::slice::from_ref(file), &[])?);
            // The fix applied, and then the question users really have: can my integration log in?
            let mut cfg = cfg;
            cfg.credentials = crate::credentials::Credentials {
                user: Some(crate::lab::Credentials::CVP_USER.into()),
                password: Some(crate::secret::Secret::new(
                    crate::lab::Credentials::CVP_PASSWORD,
                )),
                tokens: vec![crate::credentials::TokenInput {
                    method: "token-file",
                    origin: "cvp-token.txt".into(),
                    token: crate::secret::Secret::new(lab.tokens.cvp_valid.clone()),
                }],
                ..Default::default()
            };
            runs.push(("the same node with --ca cvp.crt (the lab's copy of /etc/nginx/cvp.crt), logging in with a password and a service-account token".into(), cfg, trusted));
        }
    }
    if let Some(prisma) = lab.server(Scenario::Prisma) {
        let mut cfg = CheckConfig::new(target_of(prisma.addr)?, Product::Prisma);
        cfg.credentials = crate::credentials::Credentials {
            user: Some(crate::lab::Credentials::PRISMA_USER.into()),
            password: Some(crate::secret::Secret::new(
                crate::lab::Credentials::PRISMA_PASSWORD,
            )),
            ..Default::default()
        };
        let sources = match &prisma.trust_file {
            Some(f) => Arc::new(TrustSources::load(std::slice::from_ref(f), &[])?),
            None => defaults.clone(),
        };
        runs.push((
            "a Prisma-like Console whose CA (O=Twistlock) is passed with --ca, logging in as admin (Basic and token)".into(),
            cfg,
            sources,
        ));
    }
    // The same node from a corporate network whose proxy inspects TLS: the chain is the proxy's.
    if let (Some(cvp), Some(proxy)) = (
        lab.server(Scenario::Cvp),
        lab.server(Scenario::ProxyIntercept),
    ) {
        let target = Target::parse(&format!("cvp.preflight.lab:{}", cvp.addr.port()))
            .map_err(|e| e.to_string())?;
        let mut cfg = CheckConfig::new(target, Product::Cvp);
        cfg.proxy.proxy = Some(crate::net::proxy::Proxy::parse(&proxy.url, "HTTPS_PROXY")?);
        let sources = match &cvp.trust_file {
            Some(f) => Arc::new(TrustSources::load(std::slice::from_ref(f), &[])?),
            None => defaults.clone(),
        };
        runs.push((
            "the same node with --ca cvp.crt, from a network whose proxy (HTTPS_PROXY) inspects TLS".into(),
            cfg,
            sources,
        ));
    }
    if let Some(plain) = lab.server(Scenario::Plaintext) {
        let cfg = CheckConfig::new(target_of(plain.addr)?, Product::Generic);
        runs.push((
            "plain HTTP on the port: not TLS".into(),
            cfg,
            defaults.clone(),
        ));
    }
    // An operator on the wrong port: nothing listens there, and the CloudVision port answers instead.
    if let Some(cvp) = lab.server(Scenario::Cvp) {
        let wrong: std::net::SocketAddr = ([127, 0, 0, 1], closed_port()).into();
        let mut cfg = CheckConfig::new(target_of(wrong)?, Product::Cvp);
        cfg.alt_ports = vec![cvp.addr.port()];
        runs.push((
            "the wrong port: nothing listens there, the CloudVision port answers".into(),
            cfg,
            defaults.clone(),
        ));
    }
    let mut reports = Vec::new();
    for (about, cfg, trust) in runs {
        let deps = Deps {
            resolver: resolver.clone(),
            trust,
            now,
            trace: Trace::off(),
        };
        reports.push((about, checks::run(&cfg, &deps).await));
    }
    drop(lab);
    Ok(reports)
}

/// Whether stdout is a terminal (for `Io::out_is_terminal`).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
