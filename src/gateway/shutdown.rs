//! Shutdown: which signal means what, and the drain that keeps `/readyz` honest while
//! in-flight requests finish (docs/contract.md §1).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};

use crate::{App, InFlight};

/// How long shutdown waits for in-flight requests before cutting them.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// How long the listeners stay open after SIGTERM even when nothing is in flight, so that a
/// load balancer's probe sees `/readyz` answer 503 instead of finding the port closed.
const DRAIN_MIN: Duration = Duration::from_secs(2);

/// SIGQUIT hands the listening sockets to a new process started with `serve --upgrade`, then
/// drains. SIGTERM and SIGINT both drain: `/readyz` turns 503 at once, in-flight requests finish
/// (up to `DRAIN_LIMIT`; the listeners stay open at least `DRAIN_MIN`, busy or idle), then
/// Pingora closes the listeners and exits.
pub struct Signals {
    app: Arc<App>,
}

impl Signals {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            return ShutdownSignal::FastShutdown;
        };
        let kind = tokio::select! {
            _ = term.recv() => ShutdownSignal::GracefulTerminate,
            _ = int.recv() => ShutdownSignal::GracefulTerminate,
            _ = quit.recv() => ShutdownSignal::GracefulUpgrade,
        };
        if matches!(kind, ShutdownSignal::GracefulUpgrade) {
            // The new process takes the sockets first; Pingora then lets this one finish.
            tracing::info!("handing the listening sockets to the new process");
            self.app.draining.store(true, Ordering::Relaxed);
            return kind;
        }
        tracing::info!("shutting down: draining in-flight requests");
        self.app.draining.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let deadline = started + DRAIN_LIMIT;
        while (InFlight::count() > 0 || started.elapsed() < DRAIN_MIN) && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kind
    }
}
