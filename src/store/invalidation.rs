//! Push invalidation across instances. Every revocation commits together with a `NOTIFY` naming
//! the revoked session ids; every instance holds one `LISTEN` connection (outside the pool) and
//! drops what it hears from its session cache. While that connection is down the cache is
//! flushed and trusted only briefly, so a missed message cannot keep a revoked session alive.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use super::sessions::Sessions;
use super::StoreError;
use crate::metrics::Metrics;

pub const CHANNEL: &str = "gatehouse_revocations";
/// Ids per message: PostgreSQL caps a payload at 8000 bytes; 200 hyphenated ids fit.
const IDS_PER_MESSAGE: usize = 200;
/// How often the listening connection proves it is alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// The payloads announcing that `ids` were revoked.
pub fn payloads(ids: &[Uuid]) -> Vec<String> {
    ids.chunks(IDS_PER_MESSAGE)
        .map(|chunk| {
            chunk
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The session ids in a payload; anything unreadable is skipped.
pub fn parse(payload: &str) -> Vec<Uuid> {
    payload
        .split(',')
        .filter_map(|s| Uuid::try_parse(s.trim()).ok())
        .collect()
}

/// Sends the notifications inside `tx`, so they are delivered if and only if it commits.
pub async fn notify(tx: &tokio_postgres::Transaction<'_>, ids: &[Uuid]) -> Result<(), StoreError> {
    for payload in payloads(ids) {
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .await?;
    }
    Ok(())
}

/// This instance's `LISTEN` connection: what it hears, its sessions forget.
pub struct Listener<'a> {
    pub database_url: &'a str,
    pub sessions: &'a Sessions,
    pub metrics: &'a Metrics,
}

impl Listener<'_> {
    /// Listens until the connection fails or shutdown; `Ok(())` means shutdown. `since` is set
    /// when the `LISTEN` took effect.
    async fn listen_once(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        since: &mut Option<Instant>,
    ) -> Result<(), StoreError> {
        let mut cfg: tokio_postgres::Config =
            self.database_url.parse().map_err(StoreError::from)?;
        cfg.connect_timeout(Duration::from_secs(3));
        cfg.keepalives(true);
        cfg.keepalives_idle(Duration::from_secs(10));
        cfg.application_name(format!("gatehouse-listener-{}", std::process::id()));
        let (client, mut connection) = cfg.connect(NoTls).await?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(n) = message {
                    if tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        let result = async {
            client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
            // Whatever was revoked while we were not listening is unknown: start from empty.
            self.sessions.set_listening(true);
            *since = Some(Instant::now());
            tracing::info!("listening for session revocations");
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return Ok(()),
                    message = rx.recv() => match message {
                        Some(payload) => {
                            self.metrics.invalidation_received();
                            self.sessions.forget(&parse(&payload)).await;
                        }
                        None => return Err(StoreError::unavailable("listen connection closed")),
                    },
                    _ = heartbeat.tick() => {
                        match tokio::time::timeout(HEARTBEAT_TIMEOUT, client.simple_query("SELECT 1")).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => return Err(e.into()),
                            Err(_) => return Err(StoreError::unavailable("listen heartbeat timed out")),
                        }
                    }
                }
            }
        }
        .await;
        driver.abort();
        result
    }
    /// Listens, reconnecting with [`Backoff`], until `shutdown` turns.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        loop {
            let mut since = None;
            let wait = match self.listen_once(&mut shutdown, &mut since).await {
                Ok(()) => return,
                Err(e) => {
                    let wait = backoff.after_failure(since.map(|t| t.elapsed()));
                    self.sessions.set_listening(false);
                    self.metrics.listener_reconnect();
                    tracing::warn!(error = %crate::chain::Chain(&e), retry_in_ms = wait.as_millis() as u64,
                        "revocation listener down; serving sessions from the database");
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// How long to wait before reconnecting the listener. Each failure in a row doubles the wait up
/// to a cap; a connection that then stayed up for `STABLE` starts the count again, so a drop
/// after a healthy day costs the shortest wait, not the cap (every wait is time in which
/// sessions are served from the database with a short cache).
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const CAP: Duration = Duration::from_secs(5);
    const STABLE: Duration = Duration::from_secs(10);

    /// The wait after a failure; `up_for` is how long the connection had been listening
    /// (`None`: it never got that far).
    fn after_failure(&mut self, up_for: Option<Duration>) -> Duration {
        if up_for.is_some_and(|d| d >= Self::STABLE) {
            self.next = Self::FIRST;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        wait
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_and_starts_over_after_a_stable_connection() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..9).map(|_| b.after_failure(None).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        let brief = Some(Duration::from_secs(1));
        assert_eq!(
            b.after_failure(brief),
            Backoff::CAP,
            "a flapping connection stays backed off"
        );
        let healthy = Some(Duration::from_secs(3600));
        assert_eq!(b.after_failure(healthy), Backoff::FIRST);
        assert_eq!(b.after_failure(None), Duration::from_millis(100));
    }

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let ids: Vec<Uuid> = (0..450).map(|_| Uuid::new_v4()).collect();
        let p = payloads(&ids);
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|s| s.len() < 8000));
        let back: Vec<Uuid> = p.iter().flat_map(|s| parse(s)).collect();
        assert_eq!(back, ids);
        assert!(parse("garbage,,x").is_empty());
    }
}
