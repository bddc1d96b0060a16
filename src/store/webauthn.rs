//! WebAuthn credentials and ceremonies in PostgreSQL (docs/contract.md §10, migration V7).
//!
//! A ceremony's state (what webauthn-rs needs to check the browser's answer) is stored under
//! its challenge when the options go out and deleted by the finish that reads it, whichever
//! instance that is: one finish per challenge. A ceremony is found only for the purpose and the
//! user (or pending sign-in) it was begun for, so an answer to someone else's challenge finds
//! nothing and spends nothing of theirs.
//!
//! As in `store/mfa.rs`, no cryptography here: the check (`auth/mfa/webauthn.rs`) runs on what
//! the transaction read, and its outcome is written in the same transaction. A use is taken
//! only while the signature counter moves forward (`counter < $new`, or both zero for
//! authenticators that keep none), so two instances cannot both accept one assertion.

use std::time::Duration;

use time::OffsetDateTime;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::mfa::{replace_codes, StoredCode, HAS_FACTOR};
use super::sessions::{self, NewSession, SessionInfo, Sessions};
use super::{Db, StoreError};

/// What a ceremony may finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    StepUp,
    SignIn,
    Passkey,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::StepUp => "step_up",
            Purpose::SignIn => "sign_in",
            Purpose::Passkey => "passkey",
        }
    }
}

/// A stored credential as the check reads it: its row id and webauthn-rs's JSON.
pub struct StoredPasskey {
    pub id: Uuid,
    pub passkey: String,
}

/// A credential the check accepted: which one, and its JSON and counter after the use.
pub struct Used {
    pub index: usize,
    pub passkey: String,
    pub counter: u32,
}

/// The check `auth/mfa/webauthn.rs` runs on a ceremony's state and the user's credentials.
pub type Check<'a> = &'a (dyn Fn(&str, &[StoredPasskey]) -> Option<Used> + Sync);

/// A credential as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

pub async fn list(db: &Db, user_id: Uuid) -> Result<Vec<Listed>, StoreError> {
    let client = db.conn("webauthn_list").await?;
    let rows = client
        .query(
            "SELECT id, name, created_at, last_used_at FROM webauthn_credentials
             WHERE user_id = $1 ORDER BY created_at, id",
            &[&user_id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                created_at: r.try_get(2)?,
                last_used_at: r.try_get(3)?,
            })
        })
        .collect()
}

/// The user's credentials as webauthn-rs serialised them, to start a ceremony with.
pub async fn passkeys(db: &Db, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
    let client = db.conn("webauthn_passkeys").await?;
    read_passkeys(&**client, user_id, false).await
}

async fn read_passkeys(
    client: &impl GenericClient,
    user_id: Uuid,
    lock: bool,
) -> Result<Vec<StoredPasskey>, StoreError> {
    let sql = if lock {
        "SELECT id, passkey::text FROM webauthn_credentials WHERE user_id = $1
         ORDER BY created_at, id FOR UPDATE"
    } else {
        "SELECT id, passkey::text FROM webauthn_credentials WHERE user_id = $1
         ORDER BY created_at, id"
    };
    let rows = client.query(sql, &[&user_id]).await?;
    rows.iter()
        .map(|r| {
            Ok(StoredPasskey {
                id: r.try_get(0)?,
                passkey: r.try_get(1)?,
            })
        })
        .collect()
}

/// A ceremony begun: its state kept under `challenge` until `now + ttl`. Expired ceremonies
/// of everyone are cleared on the way, as `begin_sign_in` clears pending sign-ins.
pub struct Begun<'a> {
    pub challenge: &'a [u8],
    pub purpose: Purpose,
    pub user_id: Option<Uuid>,
    pub pending_id: Option<Uuid>,
    pub state: &'a str,
}

pub async fn begin(
    db: &Db,
    b: &Begun<'_>,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<(), StoreError> {
    let client = db.conn("webauthn_begin").await?;
    client
        .execute(
            "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1",
            &[&now],
        )
        .await?;
    client
        .execute(
            "INSERT INTO webauthn_ceremonies
                 (challenge, purpose, user_id, pending_id, state, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7)",
            &[
                &b.challenge,
                &b.purpose.as_str(),
                &b.user_id,
                &b.pending_id,
                &b.state,
                &now,
                &(now + ttl),
            ],
        )
        .await?;
    Ok(())
}

/// Takes (deletes and returns the state of) the live ceremony under `challenge` begun for
/// `purpose`, `user_id` and `pending_id`; `None` when there is none (never begun, finished
/// already, expired, or begun for someone else, whose ceremony stays as it was).
async fn take(
    client: &impl GenericClient,
    challenge: &[u8],
    purpose: Purpose,
    user_id: Option<Uuid>,
    pending_id: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    let row = client
        .query_opt(
            "DELETE FROM webauthn_ceremonies
             WHERE challenge = $1 AND purpose = $2
               AND user_id IS NOT DISTINCT FROM $3 AND pending_id IS NOT DISTINCT FROM $4
             RETURNING state::text, expires_at",
            &[&challenge, &purpose.as_str(), &user_id, &pending_id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: OffsetDateTime = row.try_get(1)?;
    Ok((expires_at > now).then(|| row.try_get(0)).transpose()?)
}

/// Records the use of credential `id`: only while its counter moves forward (or stays at zero),
/// so the same assertion, or an older one, is refused on every instance.
async fn record_use(
    client: &impl GenericClient,
    id: Uuid,
    used: &Used,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let counter = i64::from(used.counter);
    let n = client
        .execute(
            "UPDATE webauthn_credentials
             SET passkey = $2::text::jsonb, counter = $3, last_used_at = $4
             WHERE id = $1 AND (counter < $3 OR (counter = 0 AND $3 = 0))",
            &[&id, &used.passkey, &counter, &now],
        )
        .await?;
    Ok(n == 1)
}

/// A WebAuthn proof for `store/mfa.rs`: the challenge the answer carries, what the ceremony
/// was begun for, and the check.
#[derive(Clone, Copy)]
pub struct Proof<'a> {
    pub challenge: &'a [u8],
    pub purpose: Purpose,
    pub check: Check<'a>,
}

/// Spends `proof` for `user_id` inside the caller's transaction (`store/mfa.rs` `spend`): takes
/// the ceremony, checks the answer against the user's credentials and records the use.
pub(super) async fn spend(
    client: &impl GenericClient,
    user_id: Uuid,
    pending_id: Option<Uuid>,
    proof: &Proof<'_>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let Some(state) = take(
        client,
        proof.challenge,
        proof.purpose,
        Some(user_id),
        pending_id,
        now,
    )
    .await?
    else {
        return Ok(false);
    };
    let stored = read_passkeys(client, user_id, true).await?;
    let Some(used) = (proof.check)(&state, &stored) else {
        return Ok(false);
    };
    let Some(id) = stored.get(used.index).map(|s| s.id) else {
        return Ok(false);
    };
    record_use(client, id, &used, now).await
}

/// The outcome of finishing a registration.
pub enum Registered {
    /// Stored; `first` when it is the user's first factor (the recovery codes were stored).
    Done { id: Uuid, first: bool },
    /// No such ceremony for this user (never begun, finished already, expired).
    NotPending,
    /// The answer does not hold (another origin, a bad signature or attestation).
    Rejected,
    /// The authenticator's credential is registered already.
    Exists,
}

/// Given a registration ceremony's state, the new credential's id and JSON, or `None`.
pub type RegistrationCheck<'a> = &'a (dyn Fn(&str) -> Option<(Vec<u8>, String)> + Sync);

/// A registration to finish: the check turns the ceremony's state into the credential's id and
/// JSON, or `None`.
pub struct Registration<'a> {
    pub user_id: Uuid,
    /// The session that registers, which becomes two-factor.
    pub sid: Uuid,
    pub challenge: &'a [u8],
    pub name: &'a str,
    pub check: RegistrationCheck<'a>,
    /// The recovery codes to store when it is the user's first factor.
    pub codes: &'a [StoredCode],
}

/// Finishes a registration in one transaction: the ceremony is spent (also when the answer does
/// not hold: a challenge is checked once), the credential stored, the recovery codes stored
/// when it is the first factor, and the session made two-factor.
pub async fn register(
    db: &Db,
    sessions: &Sessions,
    r: &Registration<'_>,
    now: OffsetDateTime,
) -> Result<Registered, StoreError> {
    let mut client = db.conn("webauthn_register").await?;
    let tx = client.transaction().await?;
    let Some(state) = take(
        &*tx,
        r.challenge,
        Purpose::Register,
        Some(r.user_id),
        None,
        now,
    )
    .await?
    else {
        return Ok(Registered::NotPending);
    };
    let Some((credential_id, passkey)) = (r.check)(&state) else {
        tx.commit().await?;
        return Ok(Registered::Rejected);
    };
    let first = !tx
        .query_one(&format!("SELECT {HAS_FACTOR}"), &[&r.user_id])
        .await?
        .try_get::<_, bool>(0)?;
    let id = Uuid::new_v4();
    let n = tx
        .execute(
            "INSERT INTO webauthn_credentials (id, user_id, credential_id, name, passkey, created_at)
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
             ON CONFLICT (credential_id) DO NOTHING",
            &[&id, &r.user_id, &credential_id, &r.name, &passkey, &now],
        )
        .await?;
    if n != 1 {
        tx.commit().await?;
        return Ok(Registered::Exists);
    }
    if first {
        replace_codes(&*tx, r.user_id, r.codes, now).await?;
    }
    sessions.upgrade_in(&tx, r.sid, r.user_id, now).await?;
    tx.commit().await?;
    sessions.forget(&[r.sid]).await;
    Ok(Registered::Done { id, first })
}

/// Removes credential `id` of `user_id` and, when no factor is left, the recovery codes; the
/// user's pending sign-ins end (as `remove_totp` does). `false`: the user has no such credential.
pub async fn remove(db: &Db, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let mut client = db.conn("webauthn_remove").await?;
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM mfa_pending WHERE user_id = $1", &[&user_id])
        .await?;
    let removed = tx
        .execute(
            "DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2",
            &[&id, &user_id],
        )
        .await?;
    tx.execute(
        &format!("DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND NOT {HAS_FACTOR}"),
        &[&user_id],
    )
    .await?;
    tx.commit().await?;
    Ok(removed == 1)
}

/// How a passwordless sign-in ended.
#[derive(Debug)]
pub enum PasskeySignIn {
    SignedIn {
        session: SessionInfo,
        user_id: Uuid,
        username: String,
    },
    /// No live ceremony under the challenge, no such credential, or the answer does not hold;
    /// `user_id` when the credential named one.
    Rejected { user_id: Option<Uuid> },
}

/// The check of a passwordless sign-in: given the ceremony's state and the credential found by
/// its id (with its user), the use, or `None`.
pub type PasskeyCheck<'a> = &'a (dyn Fn(&str, Uuid, &StoredPasskey) -> Option<Used> + Sync);

/// A passwordless sign-in in one transaction: the ceremony spent, the credential found by the
/// id the authenticator gave, checked, its use recorded, and a two-factor session created (only
/// for a user who is not disabled: `sessions::insert` checks the credential version read here).
pub async fn passkey_sign_in(
    db: &Db,
    challenge: &[u8],
    credential_id: &[u8],
    check: PasskeyCheck<'_>,
    new: &NewSession<'_>,
) -> Result<PasskeySignIn, StoreError> {
    let now = new.now;
    let mut client = db.conn("webauthn_passkey_sign_in").await?;
    let tx = client.transaction().await?;
    let Some(state) = take(&*tx, challenge, Purpose::Passkey, None, None, now).await? else {
        return Ok(PasskeySignIn::Rejected { user_id: None });
    };
    let row = tx
        .query_opt(
            "SELECT c.id, c.user_id, c.passkey::text, u.username, u.credential_version
             FROM webauthn_credentials c JOIN users u ON u.id = c.user_id
             WHERE c.credential_id = $1 FOR UPDATE OF c",
            &[&credential_id],
        )
        .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(PasskeySignIn::Rejected { user_id: None });
    };
    let user_id: Uuid = row.try_get(1)?;
    let stored = StoredPasskey {
        id: row.try_get(0)?,
        passkey: row.try_get(2)?,
    };
    let username: String = row.try_get(3)?;
    let credential_version: i64 = row.try_get(4)?;
    let rejected = PasskeySignIn::Rejected {
        user_id: Some(user_id),
    };
    let used = check(&state, user_id, &stored);
    let recorded = match &used {
        Some(used) => record_use(&*tx, stored.id, used, now).await?,
        None => false,
    };
    if !recorded {
        tx.commit().await?;
        return Ok(rejected);
    }
    let new = NewSession {
        user_id,
        credential_version,
        mfa: true,
        ..*new
    };
    let Some(session) = sessions::insert(&*tx, &new).await? else {
        // Disabled, or the credentials changed this instant: nothing is signed in, and the
        // ceremony and the counter stay as they were (the transaction is dropped).
        return Ok(rejected);
    };
    tx.commit().await?;
    Ok(PasskeySignIn::SignedIn {
        session,
        user_id,
        username,
    })
}
