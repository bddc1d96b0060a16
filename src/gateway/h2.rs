//! HTTP/2 limits of the public listener (docs/contract.md §11). Pingora 0.9 already bounds
//! streams and header lists by default; they are spelled out here so the protections the
//! tests check (tests/it/tls.rs) do not move with a dependency's defaults.
//!
//! - Concurrent streams: 100 per connection, as nginx and Pingora.
//! - Header list: 64 KiB decoded, the same order as the HTTP/1.1 head limit. The `h2` crate
//!   derives from it how many CONTINUATION frames one header block may take, and answers more
//!   with GOAWAY (CVE-2024-27316).
//! - Rapid reset (CVE-2023-44487): a stream the client resets before the gateway took it still
//!   cost decoding; more than 20 of those pending at once is GOAWAY `ENHANCE_YOUR_CALM`. Streams
//!   the client makes the gateway reset (protocol errors) are bounded the same way at 100.
//! - Idle: a connection with no stream open for 60 s is closed, as HTTP/1.1 keep-alive.

use std::time::Duration;

use pingora::apps::HttpServerOptions;
use pingora::protocols::http::v2::server::{default_h2_options, H2Options};

pub const MAX_CONCURRENT_STREAMS: u32 = 100;
pub const MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
pub const MAX_PENDING_ACCEPT_RESETS: usize = 20;
pub const MAX_LOCAL_ERROR_RESETS: usize = 100;
pub const IDLE: Duration = Duration::from_secs(60);

pub fn options() -> H2Options {
    let mut o = default_h2_options();
    o.max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS));
    o
}

pub fn server_options() -> HttpServerOptions {
    let mut o = HttpServerOptions::default();
    o.h2_idle_timeout = Some(IDLE);
    o
}
