//! `last_seen_at`, written at most once a minute per session and off the request path: the
//! request only queues the id; this loop writes them in batches.

use std::time::Duration;

use tokio::sync::{mpsc, watch, Mutex};
use uuid::Uuid;

use crate::store::{Db, StoreError};

/// Writes queued `last_seen_at` updates in batches, off the request path.
pub struct LastSeenFlusher {
    db: Db,
    rx: Mutex<mpsc::Receiver<Uuid>>,
}

impl LastSeenFlusher {
    pub fn new(db: Db, rx: mpsc::Receiver<Uuid>) -> Self {
        Self {
            db,
            rx: Mutex::new(rx),
        }
    }

    async fn flush(&self, ids: &mut Vec<Uuid>) {
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        ids.dedup();
        let result = async {
            let client = self.db.conn("session_touch").await?;
            client
                .execute(
                    "UPDATE sessions SET last_seen_at = greatest(last_seen_at, now())
                     WHERE id = ANY($1) AND revoked_at IS NULL",
                    &[&*ids],
                )
                .await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %crate::chain::Chain(&e), sessions = ids.len(), "could not record last_seen_at");
        }
        ids.clear();
    }
}

impl LastSeenFlusher {
    /// Writes queued ids every second (or every 1,000) until `shutdown` turns, then writes what
    /// is left.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut rx = self.rx.lock().await;
        let mut batch = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    while let Ok(id) = rx.try_recv() { batch.push(id); }
                    self.flush(&mut batch).await;
                    return;
                }
                msg = rx.recv() => match msg {
                    Some(id) => {
                        batch.push(id);
                        if batch.len() >= 1_000 { self.flush(&mut batch).await; }
                    }
                    None => return,
                },
                _ = tick.tick() => self.flush(&mut batch).await,
            }
        }
    }
}
