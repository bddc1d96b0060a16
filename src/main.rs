//! The `gatehouse` binary: parse the command line and dispatch. Synchronous on purpose:
//! Pingora owns its runtimes and will not run inside `#[tokio::main]`.

use clap::Parser;

fn main() {
    let cli = gatehouse::cli::Cli::parse();
    if let Err(failure) = gatehouse::cli::run(cli) {
        eprintln!("gatehouse: {}", failure.message);
        std::process::exit(failure.status);
    }
}
