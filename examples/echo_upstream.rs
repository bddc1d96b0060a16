//! The demo upstream on its own: `cargo run --example echo_upstream -- 127.0.0.1:8080`.
//! Answers every request with a JSON echo of its method, path, headers and body.

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let Ok(addr) = addr.parse() else {
        eprintln!("usage: echo_upstream HOST:PORT");
        std::process::exit(2);
    };
    match gatehouse::demo::spawn(addr) {
        Ok(bound) => println!("echo upstream listening on http://{bound}"),
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
    loop {
        std::thread::park();
    }
}
