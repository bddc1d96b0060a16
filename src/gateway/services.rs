//! The store's background loops as Pingora background services: they run on Pingora's runtime,
//! beside the listeners, and stop with its shutdown signal.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::store::invalidation;
use crate::store::sessions::LastSeenFlusher;
use crate::App;

/// Batched `last_seen_at` writes.
pub struct LastSeen(pub LastSeenFlusher);

#[async_trait]
impl BackgroundService for LastSeen {
    async fn start(&self, shutdown: ShutdownWatch) {
        self.0.run(shutdown).await;
    }
}

/// The `LISTEN` connection that hears other instances' revocations.
pub struct Revocations(pub Arc<App>);

#[async_trait]
impl BackgroundService for Revocations {
    async fn start(&self, shutdown: ShutdownWatch) {
        let app = &self.0;
        invalidation::Listener {
            database_url: &app.config.database_url,
            sessions: &app.sessions,
            metrics: &app.metrics,
        }
        .run(shutdown)
        .await;
    }
}
