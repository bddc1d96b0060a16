//! The store's background loops as Pingora background services: they run on Pingora's runtime,
//! beside the listeners, and stop with its shutdown signal.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::access::reload;
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

/// SIGHUP: the routes (docs/contract.md §9) and the TLS certificate (§11) are read again. Without this handler the signal's
/// default action would end the process.
pub struct Reload(pub Arc<App>);

#[async_trait]
impl BackgroundService for Reload {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot listen for SIGHUP: routes will not be reloaded");
            return;
        };
        loop {
            tokio::select! {
                _ = hangup.recv() => {}
                _ = shutdown.changed() => return,
            }
            let app = self.0.clone();
            // Reading files and resolving upstream names blocks.
            match tokio::task::spawn_blocking(move || reload::reload(&app)).await {
                Ok(Ok(routes)) => tracing::info!(
                    routes,
                    "SIGHUP: routes reloaded (other settings take effect at the next start)"
                ),
                Ok(Err(why)) => {
                    tracing::error!(
                        "SIGHUP: configuration not reloaded, the running routes stay: {why}"
                    )
                }
                Err(e) => tracing::error!("SIGHUP: the reload failed: {e}"),
            }
            if let Some(certificates) = self.0.tls.clone() {
                match tokio::task::spawn_blocking(move || certificates.reload()).await {
                    Ok(Ok(fingerprint)) => tracing::info!(
                        sha256 = %fingerprint,
                        "SIGHUP: TLS certificate reloaded for new connections"
                    ),
                    Ok(Err(why)) => tracing::error!(
                        "SIGHUP: TLS certificate not reloaded, the running one stays: {why}"
                    ),
                    Err(e) => tracing::error!("SIGHUP: the certificate reload failed: {e}"),
                }
            }
        }
    }
}
