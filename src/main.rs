//! The `gatehouse` binary: parse the command line and dispatch. Synchronous on purpose:
//! Pingora owns its runtimes and will not run inside `#[tokio::main]`.

use clap::Parser;

/// glibc's malloc makes a thread lock another thread's arena to free memory that thread
/// allocated, and Tokio moves requests between threads all the time: under load that was half
/// of the gateway's futex calls (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = gatehouse::cli::Cli::parse();
    if let Err(failure) = gatehouse::cli::run(cli) {
        // An empty message is an answer given on stdout (`policy check`'s exit status 1).
        if !failure.message.is_empty() {
            eprintln!("gatehouse: {}", failure.message);
        }
        std::process::exit(failure.status);
    }
}
