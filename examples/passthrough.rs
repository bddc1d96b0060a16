//! The benchmark baseline: a plain Pingora proxy with no authentication, configured like
//! gatehouse (same threads, same keep-alive pool), forwarding everything to one upstream.
//!
//! `cargo run --release --example passthrough -- LISTEN UPSTREAM [THREADS [CERT KEY]]`
//!
//! With CERT and KEY (PEM files) it terminates TLS like gatehouse's public listener (TLS 1.2+,
//! ALPN `h2` then `http/1.1`), with the certificate read once: the TLS baseline of
//! bench/tls.sh.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

/// The same allocator as gatehouse, so the comparison measures the gateway and not malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Passthrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _s: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        // The upstream timeouts gatehouse runs with by default (GATEHOUSE_UPSTREAM_TIMEOUT):
        // every production proxy sets them, and Pingora arms a timer per read and write when
        // they are set, which is not the cost of authentication.
        peer.options.connection_timeout = Some(Duration::from_secs(10));
        peer.options.read_timeout = Some(Duration::from_secs(30));
        peer.options.write_timeout = Some(Duration::from_secs(30));
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: passthrough LISTEN UPSTREAM [THREADS [CERT KEY]]");
        std::process::exit(2);
    };
    let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    let Ok(upstream) = upstream.parse() else {
        eprintln!("UPSTREAM must be ip:port");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads,
        upstream_keepalive_pool_size: 256,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Passthrough { upstream });
    match (args.next(), args.next()) {
        (Some(cert), Some(key)) => {
            let mut tls = match pingora::listeners::tls::TlsSettings::intermediate(&cert, &key) {
                Ok(tls) => tls,
                Err(e) => {
                    eprintln!("cannot load {cert} / {key}: {e}");
                    std::process::exit(2);
                }
            };
            tls.enable_h2();
            proxy.add_tls_with_settings(&listen, None, tls);
        }
        _ => proxy.add_tcp(&listen),
    }
    server.add_service(proxy);
    server.run_forever();
}
