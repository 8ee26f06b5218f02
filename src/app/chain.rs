//! `preflight chain` (what the server sends, to save and compare) and `preflight verify` (a chain file judged offline).

use std::io::Write;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{emit, exit, load_trust, run_one, stderr_trace, Io};
use crate::checks;
use crate::cli::{ChainArgs, VerifyArgs};
use crate::pki::sources::TrustSources;
use crate::report::Report;
use crate::target::Product;

pub(super) fn chain(args: &ChainArgs, io: &mut Io<'_>) -> i32 {
    let cfg = match args.connect.to_config() {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    // No trust judgement here: the point is to look at what the server sends.
    let report = match run_one(
        &cfg,
        Arc::new(TrustSources::default()),
        stderr_trace(io.verbose),
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

pub(super) fn verify(args: &VerifyArgs, io: &mut Io<'_>) -> i32 {
    let chain = match crate::pki::sources::read_certificates(&args.chain, "--chain") {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
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
