//! `preflight chain` (what the server sends, to save and compare) and `preflight verify` (a chain file judged offline).

use std::io::Write;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{create_output, emit, exit, load_trust, run_one, stderr_trace, Io, Outputs};
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
    // The file to save to is created before anything is contacted.
    let mut save = match args
        .save
        .as_deref()
        .map(|p| create_output("--save", p))
        .transpose()
    {
        Ok(f) => f,
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
    let mut code = exit::OK;
    let mut saved = args.save.as_deref();
    if let (Some(path), Some(file)) = (&args.save, save.as_mut()) {
        if let Err(e) = file.write_all(pem.as_bytes()).and_then(|()| file.flush()) {
            let why = crate::errors::io_words(&e);
            let _ = writeln!(
                io.err,
                "preflight: cannot write {}: {why}; the chain follows on stdout",
                path.display()
            );
            (code, saved) = (exit::INTERNAL, None);
        }
    }
    let again = cfg.check_again();
    match write_chain(&report, saved, &again, io.out) {
        Ok(()) => code,
        Err(e) => io.write_failed(&e, code),
    }
}

fn write_chain(
    report: &Report,
    saved: Option<&std::path::Path>,
    again: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let t = &report.target;
    writeln!(
        out,
        "# The chain {}:{} sent, leaf first ({}).",
        t.host,
        t.port.unwrap_or(0),
        crate::text::certificates(report.certificates.len())
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
    writeln!(
        out,
        "# must print sha256 Fingerprint={} (OpenSSL 1.1 writes SHA256)",
        leaf.sha256
    )?;
    if let Some(p) = saved {
        writeln!(
            out,
            "# Saved to {}; then: {again} --ca {}",
            p.display(),
            p.display()
        )?;
    }
    for c in &report.certificates {
        out.write_all(c.pem.as_bytes())?;
    }
    Ok(())
}

pub(super) fn verify(args: &VerifyArgs, io: &mut Io<'_>) -> i32 {
    if args.trust.revocation {
        return io.fail(
            exit::USAGE,
            "--revocation asks the CA's OCSP responder and CRL over the network, and `verify` contacts nothing: use `preflight check HOST --revocation`",
        );
    }
    let chain = match crate::pki::sources::read_certificates(&args.chain, "--chain") {
        Ok(c) => c,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let trust = match load_trust(&args.trust) {
        Ok(t) => t,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let files = match Outputs::open(&args.output) {
        Ok(f) => f,
        Err(e) => return io.fail(exit::USAGE, e),
    };
    let input = checks::OfflineInput {
        label: args.chain.display().to_string(),
        chain: &chain,
        name: args.name.clone(),
        product: args.product,
        warn_days: i64::from(args.trust.warn_days),
        required_stores: args.trust.required_stores(),
    };
    let report = checks::verify_offline(&input, &trust, OffsetDateTime::now_utc(), args.trust.at);
    let code = if report.failed() {
        exit::FAILED
    } else {
        exit::OK
    };
    emit(&report, &args.output, files, io, code)
}
