//! Sessions: the in-memory cache that lets an authenticated request skip the database, in
//! front of the queries on `sessions` (`queries.rs`), the refresh rotation rule
//! (`rotation.rs`) and the batched `last_seen_at` writes (`last_seen.rs`). Every revocation goes
//! through here so the cache forgets it at once.

mod last_seen;
mod minted;
mod queries;
mod rotation;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Db, StoreError};
use crate::metrics::Metrics;
pub use last_seen::LastSeenFlusher;
pub use minted::Minted;
pub(crate) use queries::insert;
pub use queries::{Cause, NewSession, Refreshed, SessionInfo};
pub use rotation::{decide_refresh, RefreshDecision};

/// A session known to be active when it was loaded. Checked against `now` on every use.
#[derive(Debug)]
pub struct Active {
    pub user_id: Uuid,
    pub username: Arc<str>,
    /// The user's group names, sorted and joined with `,` as `X-Auth-Groups` carries them
    /// (names hold no commas). A change of membership makes every instance forget the entry.
    pub groups: Arc<str>,
    /// Whether the session was made (or stepped up) with a second factor. An upgrade is
    /// announced like a revocation, so every instance re-reads the session with it set.
    pub mfa: bool,
    pub expires_at: i64,
    /// Unix seconds of the last `last_seen_at` write we asked for; also drives the idle timeout.
    last_seen: AtomicI64,
    /// When this copy was read from the database.
    loaded: Instant,
    /// Signed assertions minted for this copy of the session (auth/assertion.rs).
    pub minted: Minted,
    /// The user id and this session's id as the identity headers spell them
    /// (auth::identity::encode_ids).
    pub ids: [u8; 72],
}

#[derive(Clone)]
enum Cached {
    Active(Arc<Active>),
    /// Revoked, unknown or belonging to a disabled user. Cached too, so a flood of requests
    /// with a dead token does not reach the database.
    Gone,
}

pub struct Sessions {
    db: Db,
    cache: Cache<Uuid, Cached>,
    /// Bumped after every revocation; a cache fill that started before a bump is not kept.
    epoch: AtomicU64,
    /// Whether the revocation listener is connected. While it is not, a cached session is
    /// trusted for `short_ttl` at most.
    listening: AtomicBool,
    short_ttl: Duration,
    idle: Duration,
    touches: mpsc::Sender<Uuid>,
    metrics: Metrics,
}

const TOUCH_EVERY_SECS: i64 = 60;

impl Active {
    /// The group names, sorted.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.split(',').filter(|g| !g.is_empty())
    }
}

impl Sessions {
    /// Returns the sessions store and the receiving end of its `last_seen_at` queue, which
    /// [`LastSeenFlusher`] drains.
    pub fn new(
        db: Db,
        cache_ttl: Duration,
        idle: Duration,
        metrics: Metrics,
    ) -> (Self, mpsc::Receiver<Uuid>) {
        let (touches, rx) = mpsc::channel(16_384);
        let cache = Cache::builder()
            .max_capacity(1_000_000)
            .time_to_live(cache_ttl)
            .build();
        (
            Self {
                db,
                cache,
                epoch: AtomicU64::new(0),
                listening: AtomicBool::new(false),
                short_ttl: cache_ttl.min(Duration::from_secs(1)),
                idle,
                touches,
                metrics,
            },
            rx,
        )
    }

    fn is_live(&self, s: &Active, now: i64) -> bool {
        let idle = i64::try_from(self.idle.as_secs()).unwrap_or(i64::MAX);
        s.expires_at > now && s.last_seen.load(Ordering::Relaxed).saturating_add(idle) > now
    }

    /// The active session `sid`, from memory when possible. `Ok(None)`: not active.
    pub async fn lookup(
        &self,
        sid: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<Arc<Active>>, StoreError> {
        let now_s = now.unix_timestamp();
        let cached = match self.cache.get(&sid).await {
            Some(Cached::Active(a))
                if !self.listening.load(Ordering::Acquire)
                    && a.loaded.elapsed() > self.short_ttl =>
            {
                // No revocation messages are arriving: re-read rather than trust an old copy.
                self.metrics.cache_miss();
                Box::pin(async {
                    self.cache.invalidate(&sid).await;
                    self.load_coalesced(sid).await
                })
                .await?
            }
            Some(c) => {
                self.metrics.cache_hit();
                c
            }
            None => {
                self.metrics.cache_miss();
                // Boxed: the database read's state is kilobytes, and every hit would carry it.
                Box::pin(self.load_coalesced(sid)).await?
            }
        };
        let Cached::Active(active) = cached else {
            return Ok(None);
        };
        if !self.is_live(&active, now_s) {
            return Ok(None);
        }
        let seen = active.last_seen.load(Ordering::Relaxed);
        if now_s - seen >= TOUCH_EVERY_SECS
            && active
                .last_seen
                .compare_exchange(seen, now_s, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // A full queue only delays a last_seen_at write; it never blocks a request.
            let _ = self.touches.try_send(sid);
        }
        Ok(Some(active))
    }

    /// Concurrent misses for one session share one query.
    async fn load_coalesced(&self, sid: Uuid) -> Result<Cached, StoreError> {
        enum Fill {
            Store(StoreError),
            Raced(Cached),
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let result = self
            .cache
            .try_get_with(sid, async {
                let loaded = self.load(sid).await.map_err(Fill::Store)?;
                if self.epoch.load(Ordering::Acquire) != epoch {
                    // A revocation landed while we were reading: use the answer once,
                    // but do not let a possibly stale row live in the cache.
                    return Err(Fill::Raced(loaded));
                }
                Ok(loaded)
            })
            .await;
        self.metrics.cache_size(self.cache.entry_count());
        match result {
            Ok(c) => Ok(c),
            Err(e) => match &*e {
                Fill::Raced(c) => Ok(c.clone()),
                Fill::Store(e) => Err(e.clone()),
            },
        }
    }

    async fn load(&self, sid: Uuid) -> Result<Cached, StoreError> {
        let client = self.db.conn("session_lookup").await?;
        let row = client
            .query_opt(
                "SELECT s.user_id, u.username, s.expires_at, s.last_seen_at,
                        coalesce((SELECT string_agg(g.name, ',' ORDER BY g.name COLLATE \"C\")
                                  FROM user_groups ug JOIN groups g ON g.id = ug.group_id
                                  WHERE ug.user_id = s.user_id), ''),
                        s.mfa
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
                &[&sid],
            )
            .await?;
        Ok(match row {
            Some(r) => Cached::Active(Arc::new(Active {
                ids: crate::auth::identity::encode_ids(r.try_get(0)?, sid),
                user_id: r.try_get(0)?,
                username: Arc::from(r.try_get::<_, String>(1)?),
                expires_at: r.try_get::<_, OffsetDateTime>(2)?.unix_timestamp(),
                last_seen: AtomicI64::new(r.try_get::<_, OffsetDateTime>(3)?.unix_timestamp()),
                groups: Arc::from(r.try_get::<_, String>(4)?),
                mfa: r.try_get(5)?,
                loaded: Instant::now(),
                minted: Minted::default(),
            })),
            None => Cached::Gone,
        })
    }

    /// Whether this instance already knows `sid` to be revoked or unknown (no database work).
    pub async fn known_dead(&self, sid: Uuid) -> bool {
        matches!(self.cache.get(&sid).await, Some(Cached::Gone))
    }

    /// Records whether the revocation listener is connected. Either way the cache starts over:
    /// messages sent while nobody listened are lost.
    pub fn set_listening(&self, up: bool) {
        self.listening.store(up, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }

    /// Drops sessions from this instance's memory; called after every committed revocation.
    pub async fn forget(&self, ids: &[Uuid]) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            self.cache.invalidate(id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every proxied request allocates its session check's state; a cache hit must not pay
    /// for the kilobytes a database read needs (that path is boxed).
    #[test]
    fn a_lookup_carries_no_database_state_inline() {
        // Never connected: the pool is lazy and the future is never polled.
        let db = Db::new("postgres://nobody@127.0.0.1:1/none", Metrics::new()).unwrap();
        let hour = Duration::from_secs(3600);
        let (sessions, _rx) = Sessions::new(db, hour, hour, Metrics::new());
        let lookup = sessions.lookup(Uuid::nil(), OffsetDateTime::UNIX_EPOCH);
        let size = std::mem::size_of_val(&lookup);
        assert!(size <= 1536, "lookup future is {size} bytes");
    }
}
