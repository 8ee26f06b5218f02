//! Runs a parsed command and returns its exit code. Output goes to the writers the caller passes in
//! (`main` passes stdout and stderr), so the library itself never prints.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::checks::{self, Deps};
use crate::cli::{CheckArgs, ColorChoice, Command, OutputArgs, TrustArgs};
use crate::config::CheckConfig;
use crate::net::dns::{Resolver, SystemResolver};
use crate::pki::sources::TrustSources;
use crate::report::table::TableOptions;
use crate::report::{json, jsonl, junit, markdown, table, Format, Report};
use crate::trace::Trace;

mod chain;
mod lab;
mod scan;

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
    /// A scan interrupted by SIGINT (Ctrl-C): the output finished with what completed, marked interrupted.
    pub const INTERRUPTED: i32 = 130;
    /// A scan stopped by SIGTERM: as [`INTERRUPTED`].
    pub const TERMINATED: i32 = 143;
}

/// Where output goes, and whether stdout is a terminal.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub out_is_terminal: bool,
    /// `-v` count: 0 quiet, 1 steps, 2 details.
    pub verbose: u8,
}

/// The verbose trace goes to stderr. Its lines hold no secret: text from the wire was redacted before it
/// entered a check (`secret::Redactor`), and the trace says nothing else a server wrote.
/// A spinner on stderr naming the stage in progress.
fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message("starting");
    bar
}

/// The `-v` steps, each replacing the spinner's message (one line, escaped, cut to fit).
fn progress_trace(bar: indicatif::ProgressBar) -> Trace {
    Trace::new(1, move |line| {
        // `[   12 ms] tls       ClientHello to ...`: the stage and its words, without the clock.
        let step = line.split_once("] ").map_or(line, |(_, rest)| rest);
        bar.set_message(crate::text::one_line(&crate::text::printable(step), 70));
    })
}

fn stderr_trace(level: u8) -> Trace {
    if level == 0 {
        return Trace::off();
    }
    Trace::new(level, move |line| {
        // A certificate name or a server's text in a line must not drive the terminal.
        let _ = writeln!(std::io::stderr(), "{}", crate::text::printable(line));
    })
}

impl Io<'_> {
    /// An error on stderr: what a file, a list or the user typed is shown with control characters escaped
    /// (the message's own line breaks kept).
    fn fail(&mut self, code: i32, msg: impl std::fmt::Display) -> i32 {
        let msg = msg.to_string();
        let shown: Vec<String> = msg.split('\n').map(crate::text::printable).collect();
        let _ = writeln!(self.err, "preflight: {}", shown.join("\n"));
        code
    }

    /// What reading the credentials stripped, one line each.
    fn notes(&mut self, notes: &[String]) {
        for n in notes {
            let _ = writeln!(self.err, "preflight: note: {n}");
        }
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
        Command::Chain(args) => chain::chain(&args, io),
        Command::Verify(args) => chain::verify(&args, io),
        Command::Bundle(mut args) => {
            args.check.output.bundle = Some(args.out.clone());
            check_as(&args.check, io, "--out")
        }
        Command::Scan(args) => scan::scan(&args, io),
        Command::Lab(args) => lab::lab(&args, io),
        Command::Demo(args) => lab::demo(&args, io),
        Command::Codes(args) => codes(args.code.as_deref(), io),
        Command::Completions(args) => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "preflight", &mut io.out);
            exit::OK
        }
        Command::Man => {
            match man_page(&mut io.out) {
                Ok(()) => exit::OK,
                // `preflight man | head`: the reader went away, nothing is wrong.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
                Err(e) => io.fail(exit::INTERNAL, format!("cannot write the man page: {e}")),
            }
        }
    }
}

/// The man page: the command, then each subcommand's options under its own heading.
fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands() {
        let name = sub.get_name().to_ascii_uppercase();
        writeln!(out, ".SH \"PREFLIGHT {name}\"")?;
        if let Some(about) = sub.get_about() {
            writeln!(out, "{about}")?;
        }
        let page = clap_mangen::Man::new(sub.clone());
        let mut buf = Vec::new();
        page.render_synopsis_section(&mut buf)?;
        page.render_options_section(&mut buf)?;
        // Its sections are subsections of the command's.
        let text = String::from_utf8_lossy(&buf).replace("\n.SH ", "\n.SS ");
        out.write_all(text.replacen(".SH ", ".SS ", 1).as_bytes())?;
    }
    Ok(())
}

/// `preflight codes [CODE]`: every code as Markdown, or one explained; an unknown one is a usage error
/// naming the nearest.
fn codes(code: Option<&str>, io: &mut Io<'_>) -> i32 {
    use crate::codes::Code;
    let Some(name) = code else {
        let _ = io.out.write_all(crate::codes::markdown_table().as_bytes());
        return exit::OK;
    };
    if let Some(c) = Code::named(name) {
        let _ = io.out.write_all(c.explain().as_bytes());
        return exit::OK;
    }
    let near: Vec<&str> = Code::nearest(name).iter().map(|c| c.as_str()).collect();
    let hint = if near.is_empty() {
        "run `preflight codes` for the list".to_string()
    } else {
        format!("did you mean {}?", near.join(", "))
    };
    let shown = crate::text::printable(name);
    io.fail(exit::USAGE, format!("no code `{shown}`: {hint}"))
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
        // The terminal measured here, not by the renderer (which never does I/O) nor by comfy-table (which
        // stops measuring once styling is off: NO_COLOR, --color never and TERM=dumb drew at full width).
        width: if io.out_is_terminal {
            comfy_table::Table::new().width()
        } else {
            Some(110)
        },
        wrap_lines: io.out_is_terminal,
        certificates: true,
    }
}

/// A file a command will write, created before anything is contacted: a folder, a missing folder or a path
/// that cannot be written is exit 2 at once, with nothing sent anywhere.
pub(super) fn create_output(flag: &str, path: &std::path::Path) -> Result<std::fs::File, String> {
    if path.is_dir() {
        return Err(format!(
            "{flag} {}: it is a folder: give a file name (nothing was contacted)",
            path.display()
        ));
    }
    std::fs::File::create(path).map_err(|e| {
        format!(
            "{flag} {}: cannot write it: {} (nothing was contacted)",
            path.display(),
            crate::errors::io_words(&e)
        )
    })
}

/// `--output` and `--bundle`, opened before the run.
#[derive(Default)]
pub(super) struct Outputs {
    output: Option<std::fs::File>,
    bundle: Option<std::fs::File>,
}

impl Outputs {
    pub(super) fn open(o: &OutputArgs) -> Result<Outputs, String> {
        Outputs::open_as(o, "--bundle")
    }

    /// As [`Outputs::open`], naming the bundle's path by the flag the user typed (`bundle --out`).
    fn open_as(o: &OutputArgs, bundle_flag: &str) -> Result<Outputs, String> {
        Ok(Outputs {
            output: o
                .output
                .as_deref()
                .map(|p| create_output("--output", p))
                .transpose()?,
            bundle: o
                .bundle
                .as_deref()
                .map(|p| create_output(bundle_flag, p))
                .transpose()?,
        })
    }
}

/// Writes one report where the output options say: stdout, `--output`, `--bundle` (opened in `files`). A
/// file that cannot be written after the run: the report goes to stdout instead and the exit code is 3.
fn emit(report: &Report, o: &OutputArgs, files: Outputs, io: &mut Io<'_>, code: i32) -> i32 {
    let reports = std::slice::from_ref(report);
    let mut code = code;
    let mut lost = false;
    if let (Some(path), Some(mut file)) = (&o.output, files.output) {
        let mut buf = Vec::new();
        let written = render_to(reports, o.format, table_options(o, io), &mut buf)
            .and_then(|()| file.write_all(&buf))
            .and_then(|()| file.flush());
        if let Err(e) = written {
            let why = crate::errors::io_words(&e);
            let _ = writeln!(
                io.err,
                "preflight: cannot write {}: {why}; the report follows on stdout",
                path.display()
            );
            (code, lost) = (exit::INTERNAL, true);
        }
    }
    if let (Some(path), Some(file)) = (&o.bundle, files.bundle) {
        match write_bundle(report, file) {
            Ok(()) => {
                let _ = writeln!(
                    io.err,
                    "preflight: support bundle written to {}",
                    path.display()
                );
            }
            Err(e) => {
                let why = crate::errors::io_words(&e);
                let _ = writeln!(
                    io.err,
                    "preflight: cannot write the bundle {}: {why}",
                    path.display()
                );
                code = exit::INTERNAL;
            }
        }
    }
    // With --output, stdout shows the table only to a person at a terminal (or everything, when the file
    // could not be written).
    let to_stdout = match (&o.output, io.out_is_terminal) {
        _ if lost => Some(o.format),
        (None, _) => Some(o.format),
        (Some(_), true) => Some(Format::Table),
        (Some(_), false) => None,
    };
    if let Some(format) = to_stdout {
        let opts = table_options(o, io);
        let mut buf = Vec::new();
        let written =
            render_to(reports, format, opts, &mut buf).and_then(|()| io.out.write_all(&buf));
        if let Err(e) = written {
            return io.write_failed(&e, code);
        }
    }
    code
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

fn write_bundle(report: &Report, file: std::fs::File) -> std::io::Result<()> {
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
            wrap_lines: false,
            certificates: true,
        };
        render_to(reports, format, opts, &mut buf)?;
        texts.push((name, String::from_utf8_lossy(&buf).into_owned()));
    }
    let now = crate::duration::rfc3339(OffsetDateTime::now_utc());
    let env = crate::bundle::Environment::collect(report, &now);
    crate::bundle::write(file, report, &env, &texts)
}

fn render(reports: &[Report], o: &OutputArgs, io: &mut Io<'_>) -> std::io::Result<()> {
    let opts = table_options(o, io);
    render_to(reports, o.format, opts, io.out)
}

fn check(args: &CheckArgs, io: &mut Io<'_>) -> i32 {
    check_as(args, io, "--bundle")
}

/// `check`, its bundle file named by `bundle_flag` in messages.
fn check_as(args: &CheckArgs, io: &mut Io<'_>, bundle_flag: &str) -> i32 {
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    io.notes(&cfg.credentials.notes);
    let trust = match load_trust(&args.trust) {
        Ok(t) => t,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    // Where the report goes is settled before anything is contacted.
    let files = match Outputs::open_as(&args.output, bundle_flag) {
        Ok(f) => f,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    // On a terminal, without -v: the stage in progress on stderr, cleared when the report comes.
    let progress =
        (io.verbose == 0 && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(spinner);
    let trace = match &progress {
        Some(bar) => progress_trace(bar.clone()),
        None => stderr_trace(io.verbose),
    };
    let run = run_one(&cfg, trust, trace);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let report = match run {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, e),
    };
    let code = if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    };
    emit(&report, &args.output, files, io, code)
}

/// Reads the list of a scan: a file, or standard input for `-`. Returns (its name for messages, its text).
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
            redactor: Default::default(),
        };
        checks::run(cfg, &deps).await
    }))
}

/// Whether stdout is a terminal (for `Io::out_is_terminal`).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
