//! Sessions: the queries on `sessions`, and the in-memory cache that lets an authenticated
//! request skip the database. Every revocation goes through here so the cache forgets it at once.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::HeaderValue;
use moka::future::Cache;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use time::OffsetDateTime;
use tokio::sync::{mpsc, Mutex};
use uuid::Uuid;

use super::users::CredentialChange;
use super::{invalidation, Db, StoreError};
use crate::metrics::Metrics;

/// A session known to be active when it was loaded. Checked against `now` on every use.
#[derive(Debug)]
pub struct Active {
    pub user_id: Uuid,
    pub username: Arc<str>,
    pub expires_at: i64,
    /// Unix seconds of the last `last_seen_at` write we asked for; also drives the idle timeout.
    last_seen: AtomicI64,
    /// When this copy was read from the database.
    loaded: Instant,
}

#[derive(Clone)]
enum Cached {
    Active(Arc<Active>),
    /// Revoked, unknown or belonging to a disabled user. Cached too, so a flood of requests
    /// with a dead token does not reach the database.
    Gone,
}

/// `X-Auth-User-Id`, `X-Auth-User` and `X-Auth-Session-Id`, in one allocation.
pub fn identity_headers(user_id: Uuid, username: &str, sid: Uuid) -> [HeaderValue; 3] {
    let mut buf = bytes::BytesMut::with_capacity(72 + username.len());
    let mut uuid = [0u8; 36];
    buf.extend_from_slice(user_id.hyphenated().encode_lower(&mut uuid).as_bytes());
    // Usernames are letters, digits and `._-@`; non-ASCII letters travel as UTF-8 bytes,
    // which header values allow.
    buf.extend_from_slice(username.as_bytes());
    buf.extend_from_slice(sid.hyphenated().encode_lower(&mut uuid).as_bytes());
    let all = buf.freeze();
    let name_end = 36 + username.len();
    let part = |range: std::ops::Range<usize>| {
        HeaderValue::from_maybe_shared(all.slice(range)).unwrap_or(HeaderValue::from_static(""))
    };
    [
        part(0..36),
        part(36..name_end),
        part(name_end..name_end + 36),
    ]
}

/// A session as the listing routes show it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why sessions were revoked; recorded in the row and in metrics.
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    Logout,
    Revoke,
    Abort,
    RefreshReuse,
    PasswordChange,
    Disable,
    Admin,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Logout => "logout",
            Cause::Revoke => "revoke",
            Cause::Abort => "abort",
            Cause::RefreshReuse => "refresh_reuse",
            Cause::PasswordChange => "password_change",
            Cause::Disable => "disable",
            Cause::Admin => "admin",
        }
    }
}

/// What a presented refresh token is worth, given the session's rotation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The current generation: rotate to the next one.
    Rotate,
    /// The previous generation inside the grace window: hand out the current one again.
    Replay,
    /// An older generation, or the previous one after the window: the token was stolen or
    /// replayed, so the whole session dies.
    Reuse,
}

/// The rotation rule of CONTRACT §3, with `now` passed in.
pub fn decide_refresh(
    token_gen: i64,
    current_gen: i64,
    rotated_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    grace: Duration,
) -> RefreshDecision {
    if token_gen == current_gen {
        return RefreshDecision::Rotate;
    }
    let in_grace =
        rotated_at.is_some_and(|at| now - at <= grace && now >= at - Duration::from_secs(5));
    if token_gen + 1 == current_gen && in_grace {
        RefreshDecision::Replay
    } else {
        RefreshDecision::Reuse
    }
}

/// The outcome of a refresh, after the transaction committed.
#[derive(Debug)]
pub enum Refreshed {
    Issued {
        gen: i64,
        session: SessionInfo,
        username: String,
    },
    Reused,
    Invalid,
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
                Fill::Store(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m.clone())),
                Fill::Store(StoreError::Query(m)) => Err(StoreError::Query(m.clone())),
            },
        }
    }

    async fn load(&self, sid: Uuid) -> Result<Cached, StoreError> {
        let client = self.db.conn("session_lookup").await?;
        let row = client
            .query_opt(
                "SELECT s.user_id, u.username, s.expires_at, s.last_seen_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
                &[&sid],
            )
            .await?;
        Ok(match row {
            Some(r) => Cached::Active(Arc::new(Active {
                user_id: r.get(0),
                username: Arc::from(r.get::<_, String>(1)),
                expires_at: r.get::<_, OffsetDateTime>(2).unix_timestamp(),
                last_seen: AtomicI64::new(r.get::<_, OffsetDateTime>(3).unix_timestamp()),
                loaded: Instant::now(),
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
    pub async fn set_listening(&self, up: bool) {
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

    /// A new session for a user whose credentials were checked at `credential_version`.
    /// `Ok(None)` when they changed since (or the user was disabled): the sign-in that read
    /// them lost a race with [`Sessions::change_credentials`] and must not get a session.
    ///
    /// The user's row is share-locked while the session is inserted. A change holds that row
    /// from its `UPDATE` to its commit, so either the change waits for this insert to commit
    /// and then revokes the new session with the rest, or this insert waits for the change,
    /// sees the new version and inserts nothing.
    pub async fn create(
        &self,
        user_id: Uuid,
        credential_version: i64,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<Option<SessionInfo>, StoreError> {
        let id = Uuid::new_v4();
        let expires_at = now + ttl;
        let ip_text = ip.map(|i| i.to_string());
        let client = self.db.conn("session_create").await?;
        let inserted = client
            .execute(
                "WITH u AS (
                    SELECT id FROM users
                    WHERE id = $2 AND credential_version = $7 AND disabled_at IS NULL
                    FOR SHARE
                 )
                 INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
                 SELECT $1, u.id, $3, $3, $4, $5::text::inet, $6 FROM u",
                &[&id, &user_id, &now, &expires_at, &ip_text, &user_agent, &credential_version],
            )
            .await?;
        Ok((inserted == 1).then(|| SessionInfo {
            id,
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at,
            ip: ip_text,
            user_agent: user_agent.map(str::to_string),
        }))
    }

    const INFO_COLUMNS: &'static str = "id, user_id, created_at, last_seen_at, expires_at, \
         host(ip), user_agent";

    fn info(r: &tokio_postgres::Row) -> SessionInfo {
        SessionInfo {
            id: r.get(0),
            user_id: r.get(1),
            created_at: r.get(2),
            last_seen_at: r.get(3),
            expires_at: r.get(4),
            ip: r.get(5),
            user_agent: r.get(6),
        }
    }

    /// One session if it is active at `now` and belongs to `user_id`.
    pub async fn active_info(
        &self,
        sid: Uuid,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<SessionInfo>, StoreError> {
        let client = self.db.conn("session_info").await?;
        let sql = format!(
            "SELECT {} FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
             AND expires_at > $3 AND last_seen_at > $4",
            Self::INFO_COLUMNS
        );
        let row = client
            .query_opt(&sql, &[&sid, &user_id, &now, &(now - self.idle)])
            .await?;
        Ok(row.as_ref().map(Self::info))
    }

    /// The user's active sessions, newest first.
    pub async fn list_active(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let client = self.db.conn("session_list").await?;
        let sql = format!(
            "SELECT {} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL
             AND expires_at > $2 AND last_seen_at > $3 ORDER BY created_at DESC, id",
            Self::INFO_COLUMNS
        );
        let rows = client
            .query(&sql, &[&user_id, &now, &(now - self.idle)])
            .await?;
        Ok(rows.iter().map(Self::info).collect())
    }

    /// Active sessions of one user or of everyone, with usernames, newest first (for the CLI).
    pub async fn list_all_active(
        &self,
        user_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, SessionInfo)>, StoreError> {
        let client = self.db.conn("session_list_all").await?;
        let rows = client
            .query(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, host(s.ip),
                        s.user_agent, u.username
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE ($1::uuid IS NULL OR s.user_id = $1) AND s.revoked_at IS NULL
                   AND s.expires_at > $2 AND s.last_seen_at > $3
                 ORDER BY s.created_at DESC, s.id",
                &[&user_id, &now, &(now - self.idle)],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(7), Self::info(r))).collect())
    }

    /// Revokes one session; `user_id` restricts it to that user's sessions. Returns whether an
    /// active session was revoked.
    pub async fn revoke(
        &self,
        sid: Uuid,
        user_id: Option<Uuid>,
        cause: Cause,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ids = self
            .revoke_where(
                "session_revoke",
                "UPDATE sessions SET revoked_at = $3, revoked_reason = $4
                 WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND revoked_at IS NULL
                 AND expires_at > $3 AND last_seen_at > $5
                 RETURNING id, true",
                &[&sid, &user_id, &now, &cause.as_str(), &(now - self.idle)],
                cause,
            )
            .await?;
        Ok(!ids.is_empty())
    }

    /// Revokes every active session of a user except `keep`. Returns the revoked ids.
    /// Every session of `$1` but `$2`; expired ones are closed too, but only active ones count
    /// as revoked.
    const REVOKE_ALL: &'static str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2) AND revoked_at IS NULL
         RETURNING id, expires_at > $3 AND last_seen_at > $5";

    pub async fn revoke_all(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        cause: Cause,
        now: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError> {
        self.revoke_where(
            "session_revoke_all",
            Self::REVOKE_ALL,
            &[&user_id, &keep, &now, &cause.as_str(), &(now - self.idle)],
            cause,
        )
        .await
    }

    /// Applies `change` to the user's row and revokes every session of the user but `keep`,
    /// in one transaction. `Ok(None)`: no such user, nothing changed. The change bumps the
    /// user's `credential_version`, which defeats sign-ins still in flight (see `create`).
    pub async fn change_credentials(
        &self,
        user_id: Uuid,
        change: CredentialChange<'_>,
        keep: Option<Uuid>,
        cause: Cause,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        let (statement, hash) = change.statement();
        let mut client = self.db.conn("user_credentials_change").await?;
        let tx = client.transaction().await?;
        if tx.execute(statement, &[&user_id, &hash]).await? == 0 {
            return Ok(None);
        }
        self.revoke_in(
            tx,
            Self::REVOKE_ALL,
            &[&user_id, &keep, &now, &cause.as_str(), &(now - self.idle)],
            cause,
        )
        .await
        .map(Some)
    }

    /// Runs a revoking `UPDATE … RETURNING id, was_active` and announces the ids in the same
    /// transaction; once it commits, this instance forgets them and the others hear of it.
    async fn revoke_where(
        &self,
        kind: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        cause: Cause,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut client = self.db.conn(kind).await?;
        let tx = client.transaction().await?;
        self.revoke_in(tx, sql, params, cause).await
    }

    async fn revoke_in(
        &self,
        tx: deadpool_postgres::Transaction<'_>,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        cause: Cause,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = tx.query(sql, params).await?;
        let all: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        invalidation::notify(&tx, &all).await?;
        tx.commit().await?;
        self.forget(&all).await;
        let active: Vec<Uuid> = rows
            .iter()
            .filter(|r| r.get::<_, bool>(1))
            .map(|r| r.get(0))
            .collect();
        self.metrics.revoked(cause.as_str(), active.len() as u64);
        Ok(active)
    }

    /// One atomic refresh: the row is locked, the rule of [`decide_refresh`] applied, and the
    /// new generation (or the revocation) committed before anything is returned.
    pub async fn refresh(
        &self,
        sid: Uuid,
        user_id: Uuid,
        token_gen: i64,
        now: OffsetDateTime,
        grace: Duration,
    ) -> Result<Refreshed, StoreError> {
        let mut client = self.db.conn("session_refresh").await?;
        let tx = client.transaction().await?;
        let sql = "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, host(s.ip),
                    s.user_agent, s.refresh_gen, s.refresh_rotated_at,
                    s.revoked_at IS NULL AND u.disabled_at IS NULL, u.username
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 FOR UPDATE OF s";
        let Some(row) = tx.query_opt(sql, &[&sid]).await? else {
            return Ok(Refreshed::Invalid);
        };
        let mut session = Self::info(&row);
        let current_gen: i64 = row.get(7);
        let rotated_at: Option<OffsetDateTime> = row.get(8);
        let not_revoked: bool = row.get(9);
        let username: String = row.get(10);
        let live = not_revoked
            && session.user_id == user_id
            && session.expires_at > now
            && session.last_seen_at + self.idle > now;
        if !live || token_gen > current_gen {
            return Ok(Refreshed::Invalid);
        }
        match decide_refresh(token_gen, current_gen, rotated_at, now, grace) {
            RefreshDecision::Rotate => {
                tx.execute(
                    "UPDATE sessions SET refresh_gen = refresh_gen + 1, refresh_rotated_at = $2,
                     last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
                    &[&sid, &now],
                )
                .await?;
                tx.commit().await?;
                session.last_seen_at = session.last_seen_at.max(now);
                Ok(Refreshed::Issued {
                    gen: current_gen + 1,
                    session,
                    username,
                })
            }
            RefreshDecision::Replay => {
                tx.commit().await?;
                Ok(Refreshed::Issued {
                    gen: current_gen,
                    session,
                    username,
                })
            }
            RefreshDecision::Reuse => {
                tx.execute(
                    "UPDATE sessions SET revoked_at = $2, revoked_reason = 'refresh_reuse'
                     WHERE id = $1",
                    &[&sid, &now],
                )
                .await?;
                invalidation::notify(&tx, &[sid]).await?;
                tx.commit().await?;
                self.forget(&[sid]).await;
                self.metrics.revoked(Cause::RefreshReuse.as_str(), 1);
                Ok(Refreshed::Reused)
            }
        }
    }
}

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
            tracing::warn!(error = %e, sessions = ids.len(), "could not record last_seen_at");
        }
        ids.clear();
    }
}

#[async_trait]
impl BackgroundService for LastSeenFlusher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn the_current_generation_rotates() {
        let now = datetime!(2026-01-01 12:00 UTC);
        assert_eq!(
            decide_refresh(3, 3, None, now, GRACE),
            RefreshDecision::Rotate
        );
    }

    #[test]
    fn the_previous_generation_inside_the_grace_window_replays() {
        let now = datetime!(2026-01-01 12:00:05 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(
            decide_refresh(2, 3, at, now, GRACE),
            RefreshDecision::Replay
        );
    }

    #[test]
    fn the_previous_generation_after_the_grace_window_is_reuse() {
        let now = datetime!(2026-01-01 12:00:11 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(decide_refresh(2, 3, at, now, GRACE), RefreshDecision::Reuse);
    }

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

    #[test]
    fn an_older_generation_is_reuse_even_inside_the_window() {
        let now = datetime!(2026-01-01 12:00:01 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(decide_refresh(1, 3, at, now, GRACE), RefreshDecision::Reuse);
    }
}
