//! Second factors in PostgreSQL (docs/contract.md §10): the TOTP factor, recovery codes, pending
//! sign-ins, and the transactions that use them. Every use is a conditional `UPDATE` (a TOTP
//! step only if later than the last one, a recovery code only if unused), so a code works once
//! however many instances are asked at the same moment.
//!
//! The store does no cryptography: a [`Proof`] carries the check (`auth/mfa/`) that is run on
//! what the store reads, inside the transaction that then spends it.
//!
//! Lock order, the same everywhere so that nothing deadlocks: the pending sign-in, then the
//! factor rows, then the user's row (share-locked by a session insert, locked by a credential
//! change), then sessions.

use std::time::Duration;

use time::OffsetDateTime;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::sessions::{self, NewSession, SessionInfo, Sessions};
use super::{webauthn, Db, StoreError};

/// Wrong codes a pending sign-in survives; the fifth ends it.
pub const MAX_FAILURES: i32 = 5;

/// Whether the user (`$1`) has a second factor.
pub(super) const HAS_FACTOR: &str =
    "(EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)
      OR EXISTS (SELECT 1 FROM webauthn_credentials WHERE user_id = $1))";

/// A recovery code as stored: a salt and the SHA-256 of salt and code (`auth/mfa/recovery.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
}

impl std::fmt::Debug for StoredCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredCode(***)")
    }
}

/// What the user's second factors are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Factors {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// How many WebAuthn credentials (passkeys, security keys).
    pub webauthn: i64,
    pub recovery_codes_left: i64,
}

impl Factors {
    pub fn any(&self) -> bool {
        self.totp || self.webauthn > 0
    }

    /// The `method` names `/auth/login/mfa` accepts for this user.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.totp {
            m.push("totp");
        }
        if self.webauthn > 0 {
            m.push("webauthn");
        }
        if self.recovery_codes_left > 0 {
            m.push("recovery");
        }
        m
    }
}

pub async fn factors(db: &Db, user_id: Uuid) -> Result<Factors, StoreError> {
    let client = db.conn("mfa_factors").await?;
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL),
                    (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL),
                    (SELECT count(*) FROM webauthn_credentials WHERE user_id = $1)",
            &[&user_id],
        )
        .await?;
    Ok(Factors {
        totp: row.try_get(0)?,
        recovery_codes_left: row.try_get(1)?,
        webauthn: row.try_get(2)?,
    })
}

/// What proves a second factor: the check `auth/mfa/` runs on what the store reads.
#[derive(Clone, Copy)]
pub enum Proof<'a> {
    /// Given the TOTP secret, the time step the code matches, if any.
    Totp(&'a (dyn Fn(&[u8]) -> Option<i64> + Sync)),
    /// Given the user's unused recovery codes, the position of the one presented, if any.
    Recovery(&'a (dyn Fn(&[StoredCode]) -> Option<usize> + Sync)),
    /// An answer to a WebAuthn ceremony (`store/webauthn.rs`).
    Webauthn(webauthn::Proof<'a>),
}

impl Proof<'_> {
    pub fn method(&self) -> &'static str {
        match self {
            Proof::Totp(_) => "totp",
            Proof::Recovery(_) => "recovery",
            Proof::Webauthn(_) => "webauthn",
        }
    }
}

/// A proof that held: for a recovery code, how many are left after it.
#[derive(Debug, Clone, Copy)]
pub struct Spent {
    pub recovery_codes_left: Option<i64>,
}

/// Checks `proof` for `user_id` and spends it: the TOTP step becomes the last one used, or the
/// recovery code used. `None` when it does not hold, was spent already, or the user has no
/// such factor. The spending `UPDATE` runs whether or not the check held (with a step no row
/// can take), so a wrong code and a replayed one cost the same.
pub async fn spend(
    client: &impl GenericClient,
    user_id: Uuid,
    pending_id: Option<Uuid>,
    proof: Proof<'_>,
    now: OffsetDateTime,
) -> Result<Option<Spent>, StoreError> {
    match proof {
        Proof::Webauthn(p) => {
            let spent = webauthn::spend(client, user_id, pending_id, &p, now).await?;
            Ok(spent.then_some(Spent {
                recovery_codes_left: None,
            }))
        }
        Proof::Totp(check) => {
            let row = client
                .query_opt(
                    "SELECT secret FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                    &[&user_id],
                )
                .await?;
            let secret: Option<Vec<u8>> = row.map(|r| r.try_get(0)).transpose()?;
            let step = secret.as_deref().and_then(check).unwrap_or(-1);
            let taken = client
                .execute(
                    "UPDATE mfa_totp SET last_step = $2, last_used_at = $3
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
                    &[&user_id, &step, &now],
                )
                .await?;
            Ok((taken == 1 && step >= 0).then_some(Spent {
                recovery_codes_left: None,
            }))
        }
        Proof::Recovery(check) => {
            let rows = client
                .query(
                    "SELECT id, salt, hash FROM mfa_recovery_codes
                     WHERE user_id = $1 AND used_at IS NULL ORDER BY id",
                    &[&user_id],
                )
                .await?;
            let mut ids = Vec::with_capacity(rows.len());
            let mut codes = Vec::with_capacity(rows.len());
            for r in &rows {
                let salt: Vec<u8> = r.try_get(1)?;
                let hash: Vec<u8> = r.try_get(2)?;
                if let (Ok(salt), Ok(hash)) = (salt.try_into(), hash.try_into()) {
                    ids.push(r.try_get::<_, Uuid>(0)?);
                    codes.push(StoredCode { salt, hash });
                }
            }
            let id = check(&codes).and_then(|i| ids.get(i).copied());
            let row = client
                .query_one(
                    "WITH used AS (
                        UPDATE mfa_recovery_codes SET used_at = $3
                        WHERE id = $2 AND user_id = $1 AND used_at IS NULL RETURNING id
                     )
                     SELECT (SELECT count(*) FROM used),
                            (SELECT count(*) FROM mfa_recovery_codes
                             WHERE user_id = $1 AND used_at IS NULL)",
                    &[&user_id, &id.unwrap_or(Uuid::nil()), &now],
                )
                .await?;
            let used: i64 = row.try_get(0)?;
            // The count was taken before this statement's own update: one fewer is left.
            let left: i64 = row.try_get(1)?;
            Ok((used == 1).then_some(Spent {
                recovery_codes_left: Some(left - 1),
            }))
        }
    }
}

/// Starts (or restarts) TOTP enrolment with `secret`. `false`: the user already has a confirmed
/// authenticator app, which stays as it is.
pub async fn begin_totp(
    db: &Db,
    user_id: Uuid,
    secret: &[u8],
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let client = db.conn("mfa_totp_begin").await?;
    let n = client
        .execute(
            "INSERT INTO mfa_totp (user_id, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret,
                 created_at = EXCLUDED.created_at, last_step = 0, last_used_at = NULL
             WHERE mfa_totp.confirmed_at IS NULL",
            &[&user_id, &secret, &now],
        )
        .await?;
    Ok(n == 1)
}

/// The secret of a pending (unconfirmed) TOTP enrolment.
pub async fn pending_totp(db: &Db, user_id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
    let client = db.conn("mfa_totp_pending").await?;
    let row = client
        .query_opt(
            "SELECT secret FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NULL",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The outcome of confirming TOTP enrolment.
pub enum Confirmed {
    /// Active; `first` when it is the user's first factor (the new recovery codes were stored).
    Done { first: bool },
    /// The pending secret changed or went meanwhile (another enrolment, a removal): nothing done.
    Gone,
}

/// A pending TOTP enrolment proved by a code, to be confirmed.
pub struct Enrolment<'a> {
    pub user_id: Uuid,
    /// The session that proved it, which becomes two-factor.
    pub sid: Uuid,
    /// The secret the code was checked against: the confirmation holds only if it is still
    /// the pending one.
    pub secret: &'a [u8],
    /// The step of the code that proved it, which therefore cannot sign in again.
    pub step: i64,
    /// The recovery codes to store when it is the user's first factor.
    pub codes: &'a [StoredCode],
}

/// Confirms `e`, stores its recovery codes when it is the first factor, and makes its session
/// two-factor, all in one transaction announced to every instance.
pub async fn confirm_totp(
    db: &Db,
    sessions: &Sessions,
    e: &Enrolment<'_>,
    now: OffsetDateTime,
) -> Result<Confirmed, StoreError> {
    let (user_id, sid) = (e.user_id, e.sid);
    let mut client = db.conn("mfa_totp_confirm").await?;
    let tx = client.transaction().await?;
    let first = !tx
        .query_one(&format!("SELECT {HAS_FACTOR}"), &[&user_id])
        .await?
        .try_get::<_, bool>(0)?;
    let n = tx
        .execute(
            "UPDATE mfa_totp SET confirmed_at = $3, last_step = $4, last_used_at = $3
             WHERE user_id = $1 AND confirmed_at IS NULL AND secret = $2",
            &[&user_id, &e.secret, &now, &e.step],
        )
        .await?;
    if n != 1 {
        return Ok(Confirmed::Gone);
    }
    if first {
        replace_codes(&*tx, user_id, e.codes, now).await?;
    }
    sessions.upgrade_in(&tx, sid, user_id, now).await?;
    tx.commit().await?;
    sessions.forget(&[sid]).await;
    Ok(Confirmed::Done { first })
}

pub(super) async fn replace_codes(
    client: &impl GenericClient,
    user_id: Uuid,
    codes: &[StoredCode],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    for c in codes {
        client
            .execute(
                "INSERT INTO mfa_recovery_codes (id, user_id, salt, hash, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &Uuid::new_v4(),
                    &user_id,
                    &c.salt.as_slice(),
                    &c.hash.as_slice(),
                    &now,
                ],
            )
            .await?;
    }
    Ok(())
}

/// A new set of recovery codes in place of the old one. `false`: the user has no factor, and
/// codes without one would be a factor of their own; nothing changed.
pub async fn renew_codes(
    db: &Db,
    user_id: Uuid,
    codes: &[StoredCode],
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut client = db.conn("mfa_codes_renew").await?;
    let tx = client.transaction().await?;
    // Held until commit, so a concurrent removal of the factor waits and then takes these too.
    let totp = tx
        .query_opt(
            "SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL FOR SHARE",
            &[&user_id],
        )
        .await?;
    let passkeys = tx
        .query(
            "SELECT 1 FROM webauthn_credentials WHERE user_id = $1 FOR SHARE",
            &[&user_id],
        )
        .await?;
    if totp.is_none() && passkeys.is_empty() {
        return Ok(false);
    }
    replace_codes(&*tx, user_id, codes, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Removes the user's TOTP factor (confirmed or pending) and, when no factor is left, the
/// recovery codes with it; the user's pending sign-ins end. `false`: there was none.
pub async fn remove_totp(db: &Db, user_id: Uuid) -> Result<bool, StoreError> {
    let mut client = db.conn("mfa_totp_remove").await?;
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM mfa_pending WHERE user_id = $1", &[&user_id])
        .await?;
    let removed = tx
        .execute("DELETE FROM mfa_totp WHERE user_id = $1", &[&user_id])
        .await?;
    tx.execute(
        &format!("DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND NOT {HAS_FACTOR}"),
        &[&user_id],
    )
    .await?;
    tx.commit().await?;
    Ok(removed == 1)
}

/// Inside a credential change (`Sessions::change_credentials`): ends the user's pending sign-ins
/// and, with `factors`, removes every factor and recovery code. Runs before the user's row is
/// locked (the module's lock order).
pub(super) async fn clear(
    tx: &tokio_postgres::Transaction<'_>,
    user_id: Uuid,
    factors: bool,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM mfa_pending WHERE user_id = $1", &[&user_id])
        .await?;
    if factors {
        tx.execute("DELETE FROM mfa_totp WHERE user_id = $1", &[&user_id])
            .await?;
        tx.execute(
            "DELETE FROM webauthn_credentials WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM webauthn_ceremonies WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    }
    Ok(())
}

/// Starts a pending sign-in for a user whose password was checked at `credential_version`.
/// `false` when the credentials changed since (the sign-in lost a race with a change). Expired
/// pending sign-ins of everyone are cleared on the way.
pub async fn begin_sign_in(
    db: &Db,
    user_id: Uuid,
    credential_version: i64,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let client = db.conn("mfa_sign_in_begin").await?;
    client
        .execute("DELETE FROM mfa_pending WHERE expires_at <= $1", &[&now])
        .await?;
    let n = client
        .execute(
            "WITH u AS (
                SELECT id FROM users
                WHERE id = $2 AND credential_version = $3 AND disabled_at IS NULL
                FOR SHARE
             )
             INSERT INTO mfa_pending (id, token_hash, user_id, credential_version, created_at, expires_at)
             SELECT $1, $4, u.id, $3, $5, $6 FROM u",
            &[
                &Uuid::new_v4(),
                &user_id,
                &credential_version,
                &token_hash.as_slice(),
                &now,
                &(now + ttl),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Who a live pending sign-in is for: user id and canonical username (for the rate limits).
pub async fn pending_user(
    db: &Db,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<(Uuid, String)>, StoreError> {
    let client = db.conn("mfa_sign_in_user").await?;
    let row = client
        .query_opt(
            "SELECT u.id, u.username_canonical FROM mfa_pending p JOIN users u ON u.id = p.user_id
             WHERE p.token_hash = $1 AND p.expires_at > $2",
            &[&token_hash.as_slice(), &now],
        )
        .await?;
    row.map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
}

/// The live pending sign-in under `token_hash`: its id and user, for a WebAuthn ceremony begun
/// for it.
pub async fn pending_sign_in(
    db: &Db,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<(Uuid, Uuid)>, StoreError> {
    let client = db.conn("mfa_sign_in_pending").await?;
    let row = client
        .query_opt(
            "SELECT id, user_id FROM mfa_pending
             WHERE token_hash = $1 AND expires_at > $2 AND failures < $3",
            &[&token_hash.as_slice(), &now, &MAX_FAILURES],
        )
        .await?;
    row.map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
}

/// How a second step ended.
#[derive(Debug)]
pub enum Finished {
    /// Signed in: a two-factor session.
    SignedIn {
        session: SessionInfo,
        user_id: Uuid,
        username: String,
        spent: Spent,
    },
    /// The proof did not hold; `ended` when that was the last failure allowed.
    WrongCode { user_id: Uuid, ended: bool },
    /// No such pending sign-in, or it expired, failed too often, or the user's credentials
    /// changed since the password was checked. Nothing was spent.
    Gone,
}

/// The second step of a sign-in, in one transaction: the pending sign-in is locked (concurrent
/// attempts at it take turns, so five failures are five), the proof checked and spent, and
/// either the session created (only while the credentials are those the password step read,
/// as `Sessions::create` does) and the pending sign-in deleted, or the failure counted.
pub async fn finish_sign_in(
    db: &Db,
    token_hash: &[u8; 32],
    proof: Proof<'_>,
    new: &NewSession<'_>,
) -> Result<Finished, StoreError> {
    let now = new.now;
    let mut client = db.conn("mfa_sign_in_finish").await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT p.id, p.user_id, p.credential_version, p.failures, p.expires_at, u.username
             FROM mfa_pending p JOIN users u ON u.id = p.user_id
             WHERE p.token_hash = $1 FOR UPDATE OF p",
            &[&token_hash.as_slice()],
        )
        .await?
    else {
        return Ok(Finished::Gone);
    };
    let pending: Uuid = row.try_get(0)?;
    let user_id: Uuid = row.try_get(1)?;
    let credential_version: i64 = row.try_get(2)?;
    let failures: i32 = row.try_get(3)?;
    let expires_at: OffsetDateTime = row.try_get(4)?;
    let username: String = row.try_get(5)?;
    let delete = "DELETE FROM mfa_pending WHERE id = $1";
    if expires_at <= now || failures >= MAX_FAILURES {
        tx.execute(delete, &[&pending]).await?;
        tx.commit().await?;
        return Ok(Finished::Gone);
    }
    let Some(spent) = spend(&*tx, user_id, Some(pending), proof, now).await? else {
        let failures: i32 = tx
            .query_one(
                "UPDATE mfa_pending SET failures = failures + 1 WHERE id = $1 RETURNING failures",
                &[&pending],
            )
            .await?
            .try_get(0)?;
        let ended = failures >= MAX_FAILURES;
        if ended {
            tx.execute(delete, &[&pending]).await?;
        }
        tx.commit().await?;
        return Ok(Finished::WrongCode { user_id, ended });
    };
    tx.execute(delete, &[&pending]).await?;
    let new = NewSession {
        user_id,
        credential_version,
        mfa: true,
        ..*new
    };
    // Dropped without commit: the code stays unspent, as nothing was signed in with it.
    let Some(session) = sessions::insert(&*tx, &new).await? else {
        return Ok(Finished::Gone);
    };
    tx.commit().await?;
    Ok(Finished::SignedIn {
        session,
        user_id,
        username,
        spent,
    })
}

/// How a step-up ended.
#[derive(Debug)]
pub enum SteppedUp {
    /// The session is two-factor.
    Done(Spent),
    /// The proof did not hold.
    WrongCode,
    /// The session was revoked (or expired) meanwhile; nothing was spent.
    SessionGone,
}

/// Step-up: checks and spends `proof` and makes session `sid` two-factor, in one transaction.
pub async fn step_up(
    db: &Db,
    sessions: &Sessions,
    user_id: Uuid,
    sid: Uuid,
    proof: Proof<'_>,
    now: OffsetDateTime,
) -> Result<SteppedUp, StoreError> {
    let mut client = db.conn("mfa_step_up").await?;
    let tx = client.transaction().await?;
    let Some(spent) = spend(&*tx, user_id, None, proof, now).await? else {
        tx.commit().await?;
        return Ok(SteppedUp::WrongCode);
    };
    if !sessions.upgrade_in(&tx, sid, user_id, now).await? {
        return Ok(SteppedUp::SessionGone);
    }
    tx.commit().await?;
    sessions.forget(&[sid]).await;
    Ok(SteppedUp::Done(spent))
}

/// Who has which factors, for `gatehouse user list`: user id → factors.
pub async fn everyone(db: &Db) -> Result<Vec<(Uuid, Factors)>, StoreError> {
    let client = db.conn("mfa_everyone").await?;
    let rows = client
        .query(
            "SELECT u.id,
                    EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
                    (SELECT count(*) FROM mfa_recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL),
                    (SELECT count(*) FROM webauthn_credentials w WHERE w.user_id = u.id)
             FROM users u",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok::<_, StoreError>((
                r.try_get(0)?,
                Factors {
                    totp: r.try_get(1)?,
                    recovery_codes_left: r.try_get(2)?,
                    webauthn: r.try_get(3)?,
                },
            ))
        })
        .collect()
}
