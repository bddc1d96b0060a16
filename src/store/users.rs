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
    let row = client
        .query_opt(
            "INSERT INTO users (id, username, username_canonical, password_hash)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (username_canonical) DO NOTHING
             RETURNING id, username, created_at",
            &[&Uuid::new_v4(), &username, &canonical, &password_hash],
        )
        .await?;
    Ok(match row {
        Some(r) => Created::Ok(User {
            id: r.get(0),
            username: r.get(1),
            created_at: r.get(2),
        }),
        None => Created::Taken,
    })
}

pub async fn credentials(db: &Db, canonical: &str) -> Result<Option<Credentials>, StoreError> {
    let client = db.conn("user_credentials").await?;
    let row = client
        .query_opt(
            "SELECT id, username, password_hash, disabled_at IS NOT NULL
             FROM users WHERE username_canonical = $1",
            &[&canonical],
        )
        .await?;
    Ok(row.map(|r| Credentials {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        disabled: r.get(3),
    }))
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<User>, StoreError> {
    let client = db.conn("user_by_id").await?;
    let row = client
        .query_opt(
            "SELECT id, username, created_at FROM users WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| User {
        id: r.get(0),
        username: r.get(1),
        created_at: r.get(2),
    }))
}

/// Marks a user disabled (or enabled again). Returns the user's id, or `None` if unknown.
pub async fn set_disabled(
    db: &Db,
    canonical: &str,
    disabled: bool,
) -> Result<Option<Uuid>, StoreError> {
    let client = db.conn("user_disable").await?;
    let row = client
        .query_opt(
            "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
             WHERE username_canonical = $1 RETURNING id",
            &[&canonical, &disabled],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn password_hash(db: &Db, id: Uuid) -> Result<Option<String>, StoreError> {
    let client = db.conn("user_password").await?;
    let row = client
        .query_opt(
            "SELECT password_hash FROM users WHERE id = $1 AND disabled_at IS NULL",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn set_password(db: &Db, id: Uuid, hash: &str) -> Result<(), StoreError> {
    let client = db.conn("user_set_password").await?;
    client
        .execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&id, &hash],
        )
        .await?;
    Ok(())
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
    Ok(rows
        .iter()
        .map(|r| Listed {
            id: r.get(0),
            username: r.get(1),
            created_at: r.get(2),
            disabled: r.get(3),
        })
        .collect())
}
