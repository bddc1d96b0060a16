//! A bound on how long a client may take to send a request head (nginx's
//! `client_header_timeout`).
//!
//! Pingora 0.9 times each read of a request head separately (60 s), so a client that sends one
//! byte a minute holds a connection, and a worker's attention, for as long as it likes. Pingora
//! offers no hook before it reads the head, so the bound sits one layer down: every accepted
//! connection is wrapped in [`Guarded`], which watches the bytes go by.
//!
//! The clock starts at accept for the first request and at the first byte of every later one
//! (time spent idle between requests is the keep-alive timeout's business). It stops at the
//! blank line that ends the head. The next request's clock is armed when the gateway writes a
//! final (non-1xx) response head; after `101 Switching Protocols` the connection is a tunnel and
//! is left alone. Bodies are not covered here: their reads have their own timeouts.
//!
//! On an HTTP/2 connection (TLS with ALPN `h2`) the same clock follows frames instead: see
//! [`H2Scan`].
//!
//! The same wrapper closes HTTP/1 connections left idle between requests (nginx's
//! `keepalive_timeout`). Pingora's own keep-alive timeout arms a timer for every request read
//! on a kept-alive connection, the largest single cost gatehouse added to a proxied request;
//! here one timer per connection ticks every [`IDLE_TICK`], and a connection that read nothing
//! for a whole tick while waiting for its next request is closed: after one to two ticks of
//! idleness, never during a request.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::Stream;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use pingora::server::ShutdownWatch;
use prometheus::IntCounter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How often an idle HTTP/1 connection is looked at: one that read nothing for a whole tick
/// while waiting for a request is closed.
pub const IDLE_TICK: Duration = Duration::from_secs(60);

/// A [`ServerApp`] that hands `inner` only guarded connections.
pub struct HeaderTimeout<A> {
    inner: Arc<A>,
    limit: Duration,
    idle_tick: Duration,
    expired: IntCounter,
}

impl<A> HeaderTimeout<A> {
    pub fn new(inner: A, limit: Duration, expired: IntCounter) -> Self {
        Self {
            inner: Arc::new(inner),
            limit,
            idle_tick: IDLE_TICK,
            expired,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for HeaderTimeout<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // A connection handed back for reuse is already wrapped.
        let stream: Stream = if stream.as_any().is::<Guarded>() {
            stream
        } else {
            let h2 = matches!(
                stream.selected_alpn_proto(),
                Some(pingora::protocols::ALPN::H2)
            );
            let mut guarded =
                Guarded::new(stream, self.limit, self.idle_tick, self.expired.clone());
            if h2 {
                guarded.phase = Phase::H2(H2Scan::default());
            }
            Box::new(guarded)
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head; `ends` counts the line feeds of a possible blank line so far.
    Head { ends: u8 },
    /// The head is in; waiting for the gateway's final response head.
    Answering,
    /// Between requests: the next byte read starts a head.
    Idle,
    /// After `101`: bytes are someone else's protocol.
    Tunnel,
    /// An HTTP/2 connection (ALPN `h2`): its frames are followed instead of lines.
    H2(H2Scan),
}

/// Where an HTTP/2 byte stream stands. The clock runs from accept until the first header
/// block is complete, and again whenever a header block is open (a HEADERS frame until the
/// frame that carries END_HEADERS): a client that drips CONTINUATION frames is held to the
/// same bound as one that drips an HTTP/1.1 head. Between requests the h2 idle timeout rules
/// (gateway/h2.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Scan {
    /// Bytes still to pass before the next frame header: the client preface, then payloads.
    skip: usize,
    head: [u8; 9],
    have: u8,
    /// The frame being skipped ends a header block.
    ends_block: bool,
    /// A header block is open.
    open: bool,
    /// A first header block has been completed.
    started: bool,
}

const H2_PREFACE_LEN: usize = 24;
const H2_HEADERS: u8 = 0x1;
const H2_CONTINUATION: u8 = 0x9;
const H2_END_HEADERS: u8 = 0x4;

impl Default for H2Scan {
    fn default() -> Self {
        Self {
            skip: H2_PREFACE_LEN,
            head: [0; 9],
            have: 0,
            ends_block: false,
            open: false,
            started: false,
        }
    }
}

impl H2Scan {
    /// Follows `bytes`; returns whether the connection is now waiting for a header block.
    fn saw(&mut self, mut bytes: &[u8]) -> bool {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                if self.skip > 0 {
                    break;
                }
                self.payload_done();
                continue;
            }
            let Some((&b, rest)) = bytes.split_first() else {
                break;
            };
            self.head[usize::from(self.have)] = b;
            self.have += 1;
            bytes = rest;
            if self.have == 9 {
                self.have = 0;
                let [l0, l1, l2, kind, flags, ..] = self.head;
                let len = (usize::from(l0) << 16) | (usize::from(l1) << 8) | usize::from(l2);
                if kind == H2_HEADERS {
                    self.open = true;
                }
                self.ends_block =
                    matches!(kind, H2_HEADERS | H2_CONTINUATION) && flags & H2_END_HEADERS != 0;
                self.skip = len;
                if len == 0 {
                    self.payload_done();
                }
            }
        }
        self.open || !self.started
    }

    fn payload_done(&mut self) {
        if self.ends_block {
            self.open = false;
            self.started = true;
            self.ends_block = false;
        }
    }
}

/// One client connection with the head clock attached.
pub struct Guarded {
    inner: Stream,
    limit: Duration,
    phase: Phase,
    /// When the head being read must be complete. `None` while it has not had to wait: a
    /// head that arrives in one read (nearly all of them) never reads the clock.
    deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The idle clock: made at the first wait for a second request, then re-armed once a
    /// tick, never per request.
    idle: Option<Pin<Box<Sleep>>>,
    idle_tick: Duration,
    /// Bytes were read since the idle clock last ticked.
    read_since_tick: bool,
    expired: IntCounter,
}

impl Guarded {
    fn new(inner: Stream, limit: Duration, idle_tick: Duration, expired: IntCounter) -> Self {
        Self {
            inner,
            limit,
            phase: Phase::Head { ends: 0 },
            deadline: Some(Instant::now() + limit),
            timer: None,
            idle: None,
            idle_tick,
            read_since_tick: true,
            expired,
        }
    }

    /// Waiting between requests: `Ready` once the connection has been idle for a whole tick,
    /// which the caller reads as the end of the stream (Pingora then closes it quietly, as
    /// after its own keep-alive timeout).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let tick = self.idle_tick;
        let timer = self.idle.get_or_insert_with(|| {
            // What was read before the first wait belongs to the requests already answered.
            self.read_since_tick = false;
            Box::pin(tokio::time::sleep(tick))
        });
        while timer.as_mut().poll(cx).is_ready() {
            if !std::mem::take(&mut self.read_since_tick) {
                return Poll::Ready(());
            }
            timer.as_mut().reset(Instant::now() + tick);
        }
        Poll::Pending
    }

    /// Feeds bytes just read through the head scanner.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Phase::H2(mut scan) = self.phase {
            let waiting = scan.saw(bytes);
            self.phase = Phase::H2(scan);
            if waiting {
                self.deadline
                    .get_or_insert_with(|| Instant::now() + self.limit);
            } else {
                self.deadline = None;
                self.timer = None;
            }
            return;
        }
        if self.phase == Phase::Idle {
            self.phase = Phase::Head { ends: 0 };
        }
        if let Phase::Head { ends } = self.phase {
            match head_end(ends, bytes) {
                Ok(()) => {
                    self.phase = Phase::Answering;
                    self.deadline = None;
                    self.timer = None;
                }
                Err(ends) => {
                    self.phase = Phase::Head { ends };
                    // The clock starts at the first read that did not finish the head, a
                    // moment after its first byte.
                    self.deadline
                        .get_or_insert_with(|| Instant::now() + self.limit);
                }
            }
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        self.phase = after_write(self.phase, bytes);
    }

    fn timed_out(&mut self) -> io::Error {
        self.expired.inc();
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the request head did not arrive within the header timeout",
        )
    }
}

/// Scans for the blank line ending a head; bare LF line ends count, as httparse allows them.
/// `ends` is the state left by the previous call; `Err` carries the state to resume with.
fn head_end(mut ends: u8, bytes: &[u8]) -> Result<(), u8> {
    // Nearly every head arrives whole, in one read that ends with its blank line: that read
    // holds a blank line whatever came before it, and no line needs looking at.
    if bytes.ends_with(b"\r\n\r\n") {
        return Ok(());
    }
    let mut line_start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let only_cr = bytes[line_start..nl].iter().all(|&b| b == b'\r');
        ends = if only_cr { ends + 1 } else { 1 };
        if ends >= 2 {
            return Ok(());
        }
        line_start = nl + 1;
    }
    if bytes[line_start..].iter().any(|&b| b != b'\r') {
        ends = 0;
    }
    Err(ends)
}

/// The phase after the gateway writes `bytes`: a final response head re-arms the clock for
/// the next request; interim ones (`100 Continue`, `103`) do not, and `101` ends HTTP.
fn after_write(phase: Phase, bytes: &[u8]) -> Phase {
    if phase != Phase::Answering {
        return phase;
    }
    match response_status_class(bytes) {
        Some(b'1') if bytes.get(9..12) == Some(b"101") => Phase::Tunnel,
        Some(b'1') | None => phase,
        Some(_) => Phase::Idle,
    }
}

/// The status class digit when `bytes` starts with an HTTP/1.x status line.
fn response_status_class(bytes: &[u8]) -> Option<u8> {
    if bytes.len() >= 10 && bytes.starts_with(b"HTTP/1.") && bytes[8] == b' ' {
        Some(bytes[9]).filter(u8::is_ascii_digit)
    } else {
        None
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // A client trickling bytes keeps every read ready, so the timer alone would never fire.
        if let Some(deadline) = this.deadline {
            if Instant::now() >= deadline {
                return Poll::Ready(Err(this.timed_out()));
            }
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = buf.filled().get(before..).unwrap_or_default();
                this.read_since_tick |= !new.is_empty();
                this.saw(new);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let Some(deadline) = this.deadline else {
                    if this.phase == Phase::Idle && this.poll_idle(cx).is_ready() {
                        // Idle for a whole tick: the end of the stream, read as nothing.
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(this.timed_out())),
                    Poll::Pending => Poll::Pending,
                }
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                this.wrote(buf);
            }
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()).filter(|_| n > 0) {
                this.wrote(first);
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl fmt::Debug for Guarded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .field("phase", &self.phase)
            .finish()
    }
}

#[async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Guarded {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for Guarded {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h2_frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `bytes` in every two-piece split and returns what the scanner says after each
    /// whole frame list.
    fn h2_waiting(bytes: &[u8]) -> bool {
        let mut last = None;
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            let mut scan = H2Scan::default();
            scan.saw(a);
            let now = scan.saw(b);
            assert!(last.is_none_or(|l| l == now), "split at {split}");
            last = Some(now);
        }
        last.unwrap_or(true)
    }

    #[test]
    fn the_h2_clock_runs_until_a_header_block_is_complete_and_while_one_is_open() {
        let mut c = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        c.extend(h2_frame(0x4, 0, &[]));
        assert!(h2_waiting(&c), "no request yet");
        let mut open = c.clone();
        open.extend(h2_frame(H2_HEADERS, 0, b"abc"));
        assert!(h2_waiting(&open));
        let mut more = open.clone();
        more.extend(h2_frame(H2_CONTINUATION, 0, b"de"));
        more.extend(h2_frame(H2_CONTINUATION, 0, b""));
        assert!(
            h2_waiting(&more),
            "CONTINUATION without END_HEADERS keeps it open"
        );
        let mut done = more.clone();
        done.extend(h2_frame(H2_CONTINUATION, H2_END_HEADERS, b"f"));
        assert!(!h2_waiting(&done));
        let mut whole = c.clone();
        whole.extend(h2_frame(H2_HEADERS, H2_END_HEADERS | 0x1, b"abc"));
        whole.extend(h2_frame(0x0, 0x1, b"a body that mentions \x01\x04"));
        assert!(!h2_waiting(&whole), "a complete request, then DATA");
        let mut again = whole.clone();
        again.extend(h2_frame(H2_HEADERS, 0, b""));
        assert!(h2_waiting(&again), "the next request's block is open");
    }

    #[test]
    fn a_head_ends_at_the_first_blank_line_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody";
        for split in 0..head.len() {
            let (a, b) = head.split_at(split);
            let end = match head_end(0, a) {
                Ok(()) => true,
                Err(s) => head_end(s, b).is_ok(),
            };
            assert!(end, "split at {split}");
        }
        assert!(head_end(0, b"GET / HTTP/1.1\nHost: a\n\n").is_ok());
        assert_eq!(head_end(0, b"GET / HTTP/1.1\r\nHost: a\r\n"), Err(1));
        assert_eq!(head_end(0, b"GET / HTTP/1.1\r\nHost"), Err(0));
    }

    /// The obvious byte-at-a-time scanner, as the model `head_end` must agree with.
    fn model(mut ends: u8, bytes: &[u8]) -> Result<(), u8> {
        for &b in bytes {
            match b {
                b'\n' => {
                    ends += 1;
                    if ends == 2 {
                        return Ok(());
                    }
                }
                b'\r' => {}
                _ => ends = 0,
            }
        }
        Err(ends)
    }

    proptest::proptest! {
        #[test]
        fn the_scanner_agrees_with_the_model_across_any_split(
            bytes in proptest::collection::vec(proptest::sample::select(vec![b'\r', b'\n', b'a', b':']), 0..40),
            split in 0usize..40,
        ) {
            let split = split.min(bytes.len());
            let (a, b) = bytes.split_at(split);
            let run = |scan: fn(u8, &[u8]) -> Result<(), u8>| match scan(0, a) {
                Ok(()) => Ok(()),
                Err(state) => scan(state, b),
            };
            proptest::prop_assert_eq!(run(head_end), run(model));
            proptest::prop_assert_eq!(head_end(0, &bytes), model(0, &bytes));
        }
    }

    /// A guarded server end and the client end of a real loopback connection.
    async fn connection(idle_tick: Duration) -> (Guarded, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let stream: Stream = Box::new(pingora::protocols::l4::stream::Stream::from(
            accepted.unwrap().0,
        ));
        let expired = IntCounter::new("t", "t").unwrap();
        let guarded = Guarded::new(stream, Duration::from_secs(10), idle_tick, expired);
        (guarded, client.unwrap())
    }

    /// The client sends a request head and `server` reads it.
    async fn receive(server: &mut Guarded, client: &mut tokio::net::TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        assert!(server.read(&mut buf).await.unwrap() > 0);
        assert_eq!(server.phase, Phase::Answering);
    }

    /// `server` answers, and the client reads the answer.
    async fn respond(server: &mut Guarded, client: &mut tokio::net::TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        server
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(server.phase, Phase::Idle);
        let mut response = [0u8; 64];
        assert!(client.read(&mut response).await.unwrap() > 0);
    }

    /// Serves one request on `server`.
    async fn answer(server: &mut Guarded, client: &mut tokio::net::TcpStream) {
        receive(server, client).await;
        respond(server, client).await;
    }

    #[tokio::test]
    async fn an_idle_connection_ends_after_a_tick_and_a_busy_one_does_not() {
        use tokio::io::AsyncReadExt;
        let tick = Duration::from_millis(300);
        let (mut server, mut client) = connection(tick).await;
        answer(&mut server, &mut client).await;
        // Requests closer together than a tick keep the connection, over several ticks.
        let started = std::time::Instant::now();
        while started.elapsed() < tick * 4 {
            let read = async {
                tokio::time::sleep(tick / 3).await;
                answer(&mut server, &mut client).await;
            };
            tokio::time::timeout(tick, read)
                .await
                .expect("the connection is kept");
        }
        // Then nothing: the wait for the next request ends, as at the end of the stream, after
        // one to two ticks.
        let idle = std::time::Instant::now();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(tick * 3, server.read(&mut buf)).await;
        assert_eq!(n.expect("closed within two ticks").unwrap(), 0);
        assert!(idle.elapsed() >= tick, "{:?}", idle.elapsed());
    }

    #[tokio::test]
    async fn a_request_slower_than_a_tick_is_not_cut_as_idle() {
        use tokio::io::AsyncReadExt;
        let tick = Duration::from_millis(200);
        let (mut server, mut client) = connection(tick).await;
        answer(&mut server, &mut client).await;
        receive(&mut server, &mut client).await;
        // The upstream takes three ticks; the client waits, sending nothing; the server end
        // reads meanwhile (as Pingora does, to notice a client going away) and must not see
        // the end of the stream.
        let mut buf = [0u8; 16];
        let waiting = tokio::time::timeout(tick * 3, server.read(&mut buf)).await;
        assert!(waiting.is_err(), "a request in progress is never idle");
        respond(&mut server, &mut client).await;
        // And the next request on the connection is served.
        answer(&mut server, &mut client).await;
    }

    #[test]
    fn only_a_final_response_head_starts_the_next_requests_clock() {
        let answering = Phase::Answering;
        let w = |bytes: &[u8]| after_write(answering, bytes);
        assert_eq!(w(b"HTTP/1.1 100 Continue\r\n\r\n"), Phase::Answering);
        assert_eq!(w(b"HTTP/1.1 103 Early Hints\r\n"), Phase::Answering);
        assert_eq!(w(b"HTTP/1.1 101 Switching Protocols\r\n"), Phase::Tunnel);
        assert_eq!(w(b"HTTP/1.1 200 OK\r\n"), Phase::Idle);
        assert_eq!(w(b"HTTP/1.1 413 Payload Too Large\r\n"), Phase::Idle);
        // Body bytes, and anything written outside the answering phase, change nothing.
        assert_eq!(w(b"{\"status\": 200}"), Phase::Answering);
        assert_eq!(
            after_write(Phase::Tunnel, b"HTTP/1.1 200 OK\r\n"),
            Phase::Tunnel
        );
        assert_eq!(
            after_write(Phase::Head { ends: 1 }, b"HTTP/1.1 200 OK\r\n"),
            Phase::Head { ends: 1 }
        );
    }

    #[test]
    fn only_status_lines_are_read_as_response_heads() {
        assert_eq!(response_status_class(b"HTTP/1.1 200 OK\r\n"), Some(b'2'));
        assert_eq!(response_status_class(b"HTTP/1.1 100 Continue"), Some(b'1'));
        assert_eq!(response_status_class(b"HTTP/1.0 404 "), Some(b'4'));
        assert_eq!(response_status_class(b"{\"error\":1}"), None);
        assert_eq!(response_status_class(b"HTTP/1.1"), None);
        assert_eq!(response_status_class(b"HTTP/1.1 xyz"), None);
    }
}
