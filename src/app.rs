//! Runs a parsed command and returns its exit code. Output goes to the writers the caller passes in
//! (`main` passes stdout and stderr), so the library itself never prints.

use std::io::{IsTerminal, Write};
use std::net::TcpListener;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::checks::resolve::{Resolver, SystemResolver};
use crate::checks::{self, Deps};
use crate::cli::{CheckArgs, ColorChoice, Command, DemoArgs, LabArgs, OutputArgs};
use crate::config::CheckConfig;
use crate::lab::{Lab, LabOptions, Scenario};
use crate::report::table::TableOptions;
use crate::report::{json, table, Format, Report};
use crate::target::{Product, Target};

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
        Command::Lab(args) => lab(&args, io),
        Command::Demo(args) => demo(&args, io),
        Command::Codes => {
            let _ = io.out.write_all(crate::codes::markdown_table().as_bytes());
            exit::OK
        }
    }
}

fn table_options(o: &OutputArgs, io: &Io<'_>) -> TableOptions {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match o.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => io.out_is_terminal && !no_color_env,
    };
    TableOptions {
        color,
        width: if io.out_is_terminal { None } else { Some(110) },
    }
}

fn render(reports: &[Report], o: &OutputArgs, io: &mut Io<'_>) -> std::io::Result<()> {
    match o.format {
        Format::Table => table::render(reports, table_options(o, io), io.out),
        Format::Json => json::render(reports, io.out),
    }
}

fn check(args: &CheckArgs, io: &mut Io<'_>) -> i32 {
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return io.fail(
                exit::INTERNAL,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    let report = rt.block_on(async {
        let resolver: Arc<dyn Resolver> = Arc::new(SystemResolver::new(cfg.timeouts.dns));
        let deps = Deps {
            resolver,
            now: OffsetDateTime::now_utc(),
        };
        checks::run(&cfg, &deps).await
    });
    let code = if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    };
    match render(std::slice::from_ref(&report), &args.output, io) {
        Ok(()) => code,
        Err(e) => io.write_failed(&e, code),
    }
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
    opts.scenarios = vec![Scenario::Cvp, Scenario::Prisma, Scenario::Plaintext];
    let outcome = rt.block_on(async {
        let lab = Lab::start(&opts).await?;
        let deps = Deps {
            resolver: Arc::new(crate::checks::resolve::StaticResolver { answers: vec![] }),
            now: OffsetDateTime::now_utc(),
        };
        let mut configs: Vec<(String, CheckConfig)> = Vec::new();
        for s in &lab.servers {
            let target = Target::parse(&s.addr.to_string())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let cfg = CheckConfig::new(target, s.scenario.product());
            configs.push((s.scenario.about().to_string(), cfg));
        }
        // An operator on the wrong port: nothing listens there, and the CloudVision port answers instead.
        if let Some(cvp) = lab.server(Scenario::Cvp) {
            let wrong = format!("127.0.0.1:{}", closed_port());
            let target = Target::parse(&wrong).map_err(|e| std::io::Error::other(e.to_string()))?;
            let mut cfg = CheckConfig::new(target, Product::Cvp);
            cfg.alt_ports = vec![cvp.addr.port()];
            configs.push((
                "the wrong port: nothing listens there, the CloudVision port answers".into(),
                cfg,
            ));
        }
        let mut reports = Vec::new();
        for (about, cfg) in &configs {
            reports.push((about.clone(), checks::run(cfg, &deps).await));
        }
        drop(lab);
        Ok::<_, Box<dyn std::error::Error>>(reports)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let reports = match outcome {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, format!("the demo lab could not start: {e}")),
    };
    let written = match args.output.format {
        Format::Json => {
            let only: Vec<Report> = reports.into_iter().map(|(_, r)| r).collect();
            json::render(&only, io.out)
        }
        Format::Table => (|| {
            let opts = table_options(&args.output, io);
            writeln!(
                io.out,
                "preflight demo: the built-in lab on loopback, each server checked.\n"
            )?;
            for (i, (about, report)) in reports.iter().enumerate() {
                writeln!(io.out, "── {}/{}: {about}", i + 1, reports.len())?;
                table::render_one(report, opts, io.out)?;
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

/// Whether stdout is a terminal (for `Io::out_is_terminal`).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
