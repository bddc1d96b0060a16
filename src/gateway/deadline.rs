//! Deadlines on the request path: a database that accepts connections but stops answering
//! must not hold a request forever (503 instead, never forwarded).

use std::time::Duration;

use crate::error::Error;
use crate::store::StoreError;

/// A database that accepts connections but stops answering must not hold requests forever:
/// the session check of a proxied request gives up after this long (503, never forwarded).
pub const AUTH_DEADLINE: Duration = Duration::from_secs(5);
/// The same for the gateway's own routes, which may also wait for bcrypt.
pub const ROUTE_DEADLINE: Duration = Duration::from_secs(10);

/// `fut`'s output, or `None` if it takes longer than `limit`. Most calls on the request path
/// finish at the first poll (a cache hit); those never read the clock or touch the timer wheel.
///
/// The caller pins `fut` where it lives, so the future is stored once, in the caller's state,
/// and not copied into this one as well.
pub async fn within<F: std::future::Future + ?Sized>(
    limit: Duration,
    mut fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    let first = std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await;
    match first {
        Some(out) => Some(out),
        None => tokio::time::timeout(limit, fut).await.ok(),
    }
}

pub fn stalled() -> Error {
    Error::Store(StoreError::unavailable(
        "timed out waiting for the database",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn within_answers_at_once_or_gives_up_at_the_limit() {
        assert_eq!(
            within(Duration::from_secs(5), std::pin::pin!(async { 7 })).await,
            Some(7)
        );
        let slow = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            8
        };
        assert_eq!(
            within(Duration::from_secs(5), std::pin::pin!(slow)).await,
            Some(8)
        );
        let stuck = std::future::pending::<u8>();
        let started = tokio::time::Instant::now();
        assert_eq!(
            within(Duration::from_secs(5), std::pin::pin!(stuck)).await,
            None
        );
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
