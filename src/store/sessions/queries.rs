//! The queries on `sessions`: creating a session against the user's credential version,
//! listing, revoking (with the `NOTIFY` in the same transaction), the atomic refresh, and the
//! upgrade of a session to two-factor (announced like a revocation).

use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::rotation::{decide_refresh, RefreshDecision};
use super::Sessions;
use crate::store::users::CredentialChange;
use crate::store::{invalidation, mfa, StoreError};

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
    /// Whether its sign-in (or a later step-up) used a second factor (docs/contract.md §10).
    pub mfa: bool,
}

/// A session about to be created, for a user whose credentials were checked at
/// `credential_version`.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub credential_version: i64,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
    pub now: OffsetDateTime,
    pub ttl: Duration,
    pub mfa: bool,
}

/// Inserts `new` on `client` (a connection, or the transaction that finishes a second step):
/// `None` when the user's credentials changed since they were checked, or the user was
/// disabled. See [`Sessions::create`] for why the user's row is share-locked.
pub(crate) async fn insert(
    client: &impl tokio_postgres::GenericClient,
    new: &NewSession<'_>,
) -> Result<Option<SessionInfo>, StoreError> {
    let id = Uuid::new_v4();
    let expires_at = new.now + new.ttl;
    let ip_text = new.ip.map(|i| i.to_string());
    let inserted = client
        .execute(
            "WITH u AS (
                SELECT id FROM users
                WHERE id = $2 AND credential_version = $7 AND disabled_at IS NULL
                FOR SHARE
             )
             INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, mfa)
             SELECT $1, u.id, $3, $3, $4, $5::text::inet, $6, $8 FROM u",
            &[
                &id,
                &new.user_id,
                &new.now,
                &expires_at,
                &ip_text,
                &new.user_agent,
                &new.credential_version,
                &new.mfa,
            ],
        )
        .await?;
    Ok((inserted == 1).then(|| SessionInfo {
        id,
        user_id: new.user_id,
        created_at: new.now,
        last_seen_at: new.now,
        expires_at,
        ip: ip_text,
        user_agent: new.user_agent.map(str::to_string),
        mfa: new.mfa,
    }))
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
    MfaReset,
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
            Cause::MfaReset => "mfa_reset",
        }
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

impl Sessions {
    /// A new session for a user whose credentials were checked at `credential_version`.
    /// `Ok(None)` when they changed since (or the user was disabled): the sign-in that read
    /// them lost a race with [`Sessions::change_credentials`] and must not get a session.
    ///
    /// The user's row is share-locked while the session is inserted. A change holds that row
    /// from its `UPDATE` to its commit, so either the change waits for this insert to commit
    /// and then revokes the new session with the rest, or this insert waits for the change,
    /// sees the new version and inserts nothing.
    pub async fn create(&self, new: &NewSession<'_>) -> Result<Option<SessionInfo>, StoreError> {
        let client = self.db.conn("session_create").await?;
        insert(&**client, new).await
    }

    const INFO_COLUMNS: &'static str = "id, user_id, created_at, last_seen_at, expires_at, \
         host(ip), user_agent, mfa";

    fn info(r: &tokio_postgres::Row) -> Result<SessionInfo, StoreError> {
        Ok(SessionInfo {
            id: r.try_get(0)?,
            user_id: r.try_get(1)?,
            created_at: r.try_get(2)?,
            last_seen_at: r.try_get(3)?,
            expires_at: r.try_get(4)?,
            ip: r.try_get(5)?,
            user_agent: r.try_get(6)?,
            mfa: r.try_get(7)?,
        })
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
        row.as_ref().map(Self::info).transpose()
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
        rows.iter().map(Self::info).collect()
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
                        s.user_agent, s.mfa, u.username
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE ($1::uuid IS NULL OR s.user_id = $1) AND s.revoked_at IS NULL
                   AND s.expires_at > $2 AND s.last_seen_at > $3
                 ORDER BY s.created_at DESC, s.id",
                &[&user_id, &now, &(now - self.idle)],
            )
            .await?;
        rows.iter()
            .map(|r| Ok::<_, StoreError>((r.try_get(8)?, Self::info(r)?)))
            .collect()
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
    /// user's `credential_version`, which defeats sign-ins still in flight (see `create`), and
    /// ends the user's pending second steps (for `user mfa-reset`, after removing every factor).
    /// The pending rows go before the user's row is locked, the order in which a second step
    /// takes them (`store/mfa.rs` `finish_sign_in`), so the two cannot deadlock.
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
        mfa::clear(&tx, user_id, matches!(change, CredentialChange::MfaReset)).await?;
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

    /// Marks the active session `sid` of `user_id` two-factor inside `tx`, with the `NOTIFY`
    /// that makes every instance re-read it (the revocation channel: a session that is not
    /// revoked is simply loaded again). Returns whether the session was active. Once `tx`
    /// commits, [`Sessions::forget`] makes this instance re-read it at once.
    pub(crate) async fn upgrade_in(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        sid: Uuid,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let upgraded = tx
            .execute(
                "UPDATE sessions SET mfa = true
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
                   AND expires_at > $3 AND last_seen_at > $4",
                &[&sid, &user_id, &now, &(now - self.idle)],
            )
            .await?;
        if upgraded == 1 {
            invalidation::notify(tx, &[sid]).await?;
        }
        Ok(upgraded == 1)
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
        let all = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<Uuid>, _>>()?;
        invalidation::notify(&tx, &all).await?;
        tx.commit().await?;
        self.forget(&all).await;
        let mut active = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<_, bool>(1)? {
                active.push(r.try_get(0)?);
            }
        }
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
                    s.user_agent, s.mfa, s.refresh_gen, s.refresh_rotated_at,
                    s.revoked_at IS NULL AND u.disabled_at IS NULL, u.username
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 FOR UPDATE OF s";
        let Some(row) = tx.query_opt(sql, &[&sid]).await? else {
            return Ok(Refreshed::Invalid);
        };
        let mut session = Self::info(&row)?;
        let current_gen: i64 = row.try_get(8)?;
        let rotated_at: Option<OffsetDateTime> = row.try_get(9)?;
        let not_revoked: bool = row.try_get(10)?;
        let username: String = row.try_get(11)?;
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
