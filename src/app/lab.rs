//! `preflight lab` (the built-in servers until Ctrl-C) and `preflight demo` (the lab checked in-process).

use std::net::TcpListener;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{exit, render, runtime, table_options, Io};
use crate::checks::{self, Deps};
use crate::cli::{DemoArgs, LabArgs};
use crate::config::CheckConfig;
use crate::lab::{Lab, LabOptions, Scenario};
use crate::net::dns::Resolver;
use crate::pki::sources::TrustSources;
use crate::report::{table, Format, Report};
use crate::target::{Product, Target};
use crate::trace::Trace;

pub(super) fn lab(args: &LabArgs, io: &mut Io<'_>) -> i32 {
    let scenarios = args.scenarios();
    if scenarios.is_empty() {
        return io.fail(
            exit::USAGE,
            "no lab server matches that --product and --scenario",
        );
    }
    // Without --dir the lab's files (private keys, tokens) go to a temporary folder, removed on the way out.
    let temporary = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("preflight-lab-{}", std::process::id()))
    });
    let mut opts = LabOptions::new(dir.clone(), OffsetDateTime::now_utc());
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
    let code = rt.block_on(async {
        // The handlers are in place before anything is printed: a signal right after cannot kill the process
        // before it cleans up.
        let stop = Interrupt::listen();
        let lab = match Lab::start(&opts).await {
            Ok(l) => l,
            Err(e) => return io.fail(exit::INTERNAL, e),
        };
        let _ = io.out.write_all(lab.describe().as_bytes());
        let _ = io.out.flush();
        stop.wait().await;
        drop(lab);
        exit::OK
    });
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment `listen` is called.
struct Interrupt {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupt {
    fn listen() -> Interrupt {
        use tokio::signal::unix::{signal, SignalKind};
        Interrupt {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn wait(mut self) {
        let int = async {
            match self.int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let term = async {
            match self.term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = int => {}
            () = term => {}
        }
    }
}

/// A port on loopback that refuses connections: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9)
}

/// The demo: the lab in-process, each server checked, the reports printed.
pub(super) fn demo(args: &DemoArgs, io: &mut Io<'_>) -> i32 {
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
        Scenario::Revoked,
    ];
    let outcome = rt.block_on(demo_reports(&opts));
    let _ = std::fs::remove_dir_all(&dir);
    let reports = match outcome {
        Ok(r) => r,
        Err(e) => return io.fail(exit::INTERNAL, format!("the demo could not run: {e}")),
    };
    let output = crate::cli::OutputArgs {
        format: args.format,
        color: args.color,
        output: None,
        bundle: None,
    };
    let written = match output.format {
        Format::Json | Format::Jsonl | Format::Markdown | Format::Junit => {
            let only: Vec<Report> = reports.into_iter().map(|(_, r)| r).collect();
            render(&only, &output, io)
        }
        Format::Table => (|| {
            let opts = table_options(&output, io);
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

/// One run of the demo: what it shows, the configuration, the trust sources.
type DemoRun = (String, CheckConfig, Arc<TrustSources>);
type DemoError = Box<dyn std::error::Error>;

fn target_of(addr: std::net::SocketAddr) -> Result<Target, DemoError> {
    Target::parse(&addr.to_string()).map_err(|e| e.to_string().into())
}

/// The lab's copy of a server's certificate or CA as the only `--ca`, or the defaults when there is none.
fn trusting(
    file: Option<&std::path::PathBuf>,
    defaults: &Arc<TrustSources>,
) -> Result<Arc<TrustSources>, DemoError> {
    Ok(match file {
        Some(f) => Arc::new(TrustSources::load(std::slice::from_ref(f), &[])?),
        None => defaults.clone(),
    })
}

/// The demo's story: a self-signed console failing, then trusted with its own certificate; a private-CA
/// console trusted through its CA; the first console behind a TLS-inspecting proxy; plain text on a TLS
/// port; the wrong port.
async fn demo_reports(opts: &LabOptions) -> Result<Vec<(String, Report)>, DemoError> {
    let lab = Lab::start(opts).await?;
    let resolver: Arc<dyn Resolver> = Arc::new(crate::net::dns::StaticResolver { answers: vec![] });
    let now = OffsetDateTime::now_utc();
    let defaults = Arc::new(TrustSources::load(&[], &[])?);
    let mut runs = cvp_runs(&lab, &defaults)?;
    runs.extend(prisma_run(&lab, &defaults)?);
    runs.extend(proxy_run(&lab, &defaults)?);
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
    runs.extend(revoked_run(&lab, &defaults)?);
    let mut reports = Vec::new();
    for (about, cfg, trust) in runs {
        let deps = Deps {
            resolver: resolver.clone(),
            trust,
            now,
            trace: Trace::off(),
            redactor: Default::default(),
        };
        reports.push((about, checks::run(&cfg, &deps).await));
    }
    drop(lab);
    Ok(reports)
}

/// The CloudVision node without `--ca`, then with its certificate, logging in with a password and a token.
fn cvp_runs(lab: &Lab, defaults: &Arc<TrustSources>) -> Result<Vec<DemoRun>, DemoError> {
    let mut runs = Vec::new();
    let Some(cvp) = lab.server(Scenario::Cvp) else {
        return Ok(runs);
    };
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
    Ok(runs)
}

/// The Prisma Console trusted through its CA, logging in as admin.
fn prisma_run(lab: &Lab, defaults: &Arc<TrustSources>) -> Result<Option<DemoRun>, DemoError> {
    let Some(prisma) = lab.server(Scenario::Prisma) else {
        return Ok(None);
    };
    let mut cfg = CheckConfig::new(target_of(prisma.addr)?, Product::Prisma);
    cfg.credentials = crate::credentials::Credentials {
        user: Some(crate::lab::Credentials::PRISMA_USER.into()),
        password: Some(crate::secret::Secret::new(
            crate::lab::Credentials::PRISMA_PASSWORD,
        )),
        ..Default::default()
    };
    Ok(Some((
        "a Prisma-like Console whose CA (O=Twistlock) is passed with --ca, logging in as admin (Basic and token)".into(),
        cfg,
        trusting(prisma.trust_file.as_ref(), defaults)?,
    )))
}

/// The CloudVision node from a corporate network whose proxy inspects TLS: the chain is the proxy's.
fn proxy_run(lab: &Lab, defaults: &Arc<TrustSources>) -> Result<Option<DemoRun>, DemoError> {
    let (Some(cvp), Some(proxy)) = (
        lab.server(Scenario::Cvp),
        lab.server(Scenario::ProxyIntercept),
    ) else {
        return Ok(None);
    };
    let target = Target::parse(&format!("cvp.preflight.lab:{}", cvp.addr.port()))
        .map_err(|e| e.to_string())?;
    let mut cfg = CheckConfig::new(target, Product::Cvp);
    cfg.proxy.proxy = Some(crate::net::proxy::Proxy::parse(&proxy.url, "HTTPS_PROXY")?);
    Ok(Some((
        "the same node with --ca cvp.crt, from a network whose proxy (HTTPS_PROXY) inspects TLS"
            .into(),
        cfg,
        trusting(cvp.trust_file.as_ref(), defaults)?,
    )))
}

/// A Console whose certificate its CA revoked, trusted through that CA, logging in as admin, with
/// `--revocation`: the stapled response, the responder and the CRL say revoked; nothing is sent.
fn revoked_run(lab: &Lab, defaults: &Arc<TrustSources>) -> Result<Option<DemoRun>, DemoError> {
    let Some(revoked) = lab.server(Scenario::Revoked) else {
        return Ok(None);
    };
    let mut cfg = CheckConfig::new(target_of(revoked.addr)?, Product::Prisma);
    cfg.revocation = true;
    cfg.alt_ports.clear();
    cfg.credentials = crate::credentials::Credentials {
        user: Some(crate::lab::Credentials::PRISMA_USER.into()),
        password: Some(crate::secret::Secret::new(
            crate::lab::Credentials::PRISMA_PASSWORD,
        )),
        ..Default::default()
    };
    Ok(Some((
        "a Console whose certificate its CA revoked, with --ca and --revocation, logging in as admin: the stapled OCSP response, the responder and the CRL say revoked; no password is sent".into(),
        cfg,
        trusting(revoked.trust_file.as_ref(), defaults)?,
    )))
}
