//! The `gatehouse` binary: parse the command line and dispatch. Synchronous on purpose:
//! Pingora owns its runtimes and will not run inside `#[tokio::main]`.

use clap::Parser;

/// glibc's malloc makes a thread lock another thread's arena to free memory that thread
/// allocated, and Tokio moves requests between threads all the time: under load that was half
/// of the gateway's futex calls (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let result = match gatehouse::cli::Cli::try_parse() {
        Ok(cli) => gatehouse::cli::run(cli),
        Err(e) => match gatehouse::cli::usage_failure(&e) {
            Some(failure) => Err(failure),
            // --help, --version: printed as clap prints them.
            None => e.exit(),
        },
    };
    if let Err(failure) = result {
        // An empty message is an answer given on stdout (`policy check`'s exit status 1).
        if !failure.message.is_empty() {
            eprintln!("gatehouse: {}", one_line(&failure.message));
        }
        std::process::exit(failure.status);
    }
}

/// An error is one line on stderr, whatever the error underneath put in it (a database's
/// message may hold a `DETAIL` line), so a script can read it with `read` or `tail -n 1`.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
