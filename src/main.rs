//! The binary: parse, run, exit. Everything else lives in the library.

use clap::Parser;

fn main() {
    let cli = preflight::cli::Cli::parse();
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let mut io = preflight::app::Io {
        out: &mut stdout.lock(),
        err: &mut stderr.lock(),
        out_is_terminal: preflight::app::stdout_is_terminal(),
        verbose: cli.verbose,
        secrets: std::sync::Arc::new(preflight::app::environment_secrets()),
    };
    std::process::exit(preflight::app::run(cli.command, &mut io));
}
