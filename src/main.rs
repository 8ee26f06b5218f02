//! The binary: parse, run, exit. Everything else lives in the library.

use clap::Parser;

fn main() {
    let cli = preflight::cli::Cli::parse();
    let stdout = std::io::stdout();
    // stderr stays unlocked: the trace and the progress bar write to it from other threads.
    let mut io = preflight::app::Io {
        out: &mut stdout.lock(),
        err: &mut std::io::stderr(),
        out_is_terminal: preflight::app::stdout_is_terminal(),
        verbose: cli.verbose,
    };
    std::process::exit(preflight::app::run(cli.command, &mut io));
}
