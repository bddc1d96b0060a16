//! Queries on `users`. Usernames arrive here already canonicalised by `auth::input`.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, StoreError};

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub created_at: OffsetDateTime,
}

/// What login needs to know about a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub disabled: bool,
    /// Read with the hash; a session is created only while it is still current.
    pub credential_version: i64,
}

/// Result of an insert: created, or the canonical name is taken.
pub enum Created {
    Ok(User),
    Taken,
}

pub async fn create(
    db: &Db,
    username: &str,
    canonical: &str,
    password_hash: &str,
) -> Result<Created, StoreError> {
    let client = db.conn("user_create").await?;
    Ok(
        match insert(&**client, username, canonical, password_hash).await? {
            Some(user) => Created::Ok(user),
            None => Created::Taken,
        },
    )
}

/// Inserts a user on `client` (a connection, or the sign-up transaction); `None` when the
/// canonical name is taken.
pub(super) async fn insert(
    client: &impl tokio_postgres::GenericClient,
    username: &str,
    canonical: &str,
    password_hash: &str,
) -> Result<Option<User>, StoreError> {
    let row = client
        .query_opt(
            "INSERT INTO users (id, username, username_canonical, password_hash)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (username_canonical) DO NOTHING
             RETURNING id, username, created_at",
            &[&Uuid::new_v4(), &username, &canonical, &password_hash],
        )
        .await?;
    row.map(|r| {
        Ok(User {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            created_at: r.try_get(2)?,
        })
    })
    .transpose()
}

pub async fn credentials(db: &Db, canonical: &str) -> Result<Option<Credentials>, StoreError> {
    let client = db.conn("user_credentials").await?;
    let row = client
        .query_opt(
            "SELECT id, username, password_hash, disabled_at IS NOT NULL, credential_version
             FROM users WHERE username_canonical = $1",
            &[&canonical],
        )
        .await?;
    row.map(|r| {
        Ok::<_, StoreError>(Credentials {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            password_hash: r.try_get(2)?,
            disabled: r.try_get(3)?,
            credential_version: r.try_get(4)?,
        })
    })
    .transpose()
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<User>, StoreError> {
    let client = db.conn("user_by_id").await?;
    let row = client
        .query_opt(
            "SELECT id, username, created_at FROM users WHERE id = $1",
            &[&id],
        )
        .await?;
    row.map(|r| {
        Ok::<_, StoreError>(User {
            id: r.try_get(0)?,
            username: r.try_get(1)?,
            created_at: r.try_get(2)?,
        })
    })
    .transpose()
}

/// Enables a disabled user again. Returns the user's id, or `None` if unknown. Disabling is a
/// [`CredentialChange`], made together with the revocation of the user's sessions.
pub async fn enable(db: &Db, canonical: &str) -> Result<Option<Uuid>, StoreError> {
    let client = db.conn("user_enable").await?;
    let row = client
        .query_opt(
            "UPDATE users SET disabled_at = NULL WHERE username_canonical = $1 RETURNING id",
            &[&canonical],
        )
        .await?;
    row.map(|r| Ok::<_, StoreError>(r.try_get(0)?)).transpose()
}

pub async fn password_hash(db: &Db, id: Uuid) -> Result<Option<String>, StoreError> {
    let client = db.conn("user_password").await?;
    let row = client
        .query_opt(
            "SELECT password_hash FROM users WHERE id = $1 AND disabled_at IS NULL",
            &[&id],
        )
        .await?;
    row.map(|r| Ok::<_, StoreError>(r.try_get(0)?)).transpose()
}

/// A change to what signs a user in. It is applied by `Sessions::change_credentials`, in the
/// transaction that revokes the user's sessions, and it bumps `credential_version`, which
/// sign-ins in flight check before creating a session.
#[derive(Debug, Clone, Copy)]
pub enum CredentialChange<'a> {
    /// A new bcrypt hash.
    Password(&'a str),
    Disable,
    /// `gatehouse user mfa-reset`: every second factor removed (docs/contract.md §10).
    MfaReset,
}

impl CredentialChange<'_> {
    /// The `UPDATE` of the user's row (`$1` the user id, `$2` the new hash or NULL).
    pub(super) fn statement(&self) -> (&'static str, Option<&str>) {
        match self {
            CredentialChange::Password(hash) => (
                "UPDATE users SET password_hash = $2, credential_version = credential_version + 1
                 WHERE id = $1 AND $2::text IS NOT NULL",
                Some(hash),
            ),
            CredentialChange::Disable => (
                "UPDATE users SET disabled_at = coalesce(disabled_at, now()),
                 credential_version = credential_version + 1
                 WHERE id = $1 AND $2::text IS NULL",
                None,
            ),
            // The factors themselves go in the same transaction (`store/mfa.rs` `clear`).
            CredentialChange::MfaReset => (
                "UPDATE users SET credential_version = credential_version + 1
                 WHERE id = $1 AND $2::text IS NULL",
                None,
            ),
        }
    }
}

/// A user as the CLI lists them.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub username: String,
    pub created_at: OffsetDateTime,
    pub disabled: bool,
}

pub async fn list(db: &Db) -> Result<Vec<Listed>, StoreError> {
    let client = db.conn("user_list").await?;
    let rows = client
        .query(
            "SELECT id, username, created_at, disabled_at IS NOT NULL FROM users ORDER BY username_canonical",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok::<_, StoreError>(Listed {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                created_at: r.try_get(2)?,
                disabled: r.try_get(3)?,
            })
        })
        .collect()
}
