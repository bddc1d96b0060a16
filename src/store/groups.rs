//! Queries on `groups` and `user_groups`. A change of membership commits together with a
//! `NOTIFY` naming the members' active sessions (store/invalidation.rs), so every instance
//! drops them from its cache and reloads them, with the new groups, on their next request:
//! as fast as a revocation, and nobody is signed out (docs/contract.md §9).

use time::OffsetDateTime;
use uuid::Uuid;

use super::sessions::Sessions;
use super::{invalidation, Db, StoreError};

/// Whether `name` is a group name. The migration's CHECK says the same, so a name that passes
/// here is never refused by the database.
pub use crate::policy::is_group_name as valid_name;

/// A group as the CLI lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub created_at: OffsetDateTime,
    pub members: i64,
}

/// The outcome of a change naming a group that may not exist.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed<T> {
    Ok(T),
    NoSuchGroup,
}

/// Creates `name`; `Ok(false)` when it exists already.
pub async fn create(db: &Db, name: &str) -> Result<bool, StoreError> {
    let client = db.conn("group_create").await?;
    let inserted = client
        .execute(
            "INSERT INTO groups (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&Uuid::new_v4(), &name],
        )
        .await?;
    Ok(inserted == 1)
}

pub async fn list(db: &Db) -> Result<Vec<Listed>, StoreError> {
    let client = db.conn("group_list").await?;
    let rows = client
        .query(
            "SELECT g.name, g.created_at, count(ug.user_id)
             FROM groups g LEFT JOIN user_groups ug ON ug.group_id = g.id
             GROUP BY g.id ORDER BY g.name COLLATE \"C\"",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok::<_, StoreError>(Listed {
                name: r.try_get(0)?,
                created_at: r.try_get(1)?,
                members: r.try_get(2)?,
            })
        })
        .collect()
}

/// The names of `user_id`'s groups, sorted.
pub async fn of_user(db: &Db, user_id: Uuid) -> Result<Vec<String>, StoreError> {
    let client = db.conn("group_of_user").await?;
    let rows = client
        .query(
            "SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id
             WHERE ug.user_id = $1 ORDER BY g.name COLLATE \"C\"",
            &[&user_id],
        )
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Every user's groups (sorted names), for `user list`: one query rather than one per user.
pub async fn of_everyone(db: &Db) -> Result<Vec<(Uuid, Vec<String>)>, StoreError> {
    let client = db.conn("group_of_everyone").await?;
    let rows = client
        .query(
            "SELECT ug.user_id, array_agg(g.name ORDER BY g.name COLLATE \"C\")
             FROM user_groups ug JOIN groups g ON g.id = ug.group_id GROUP BY ug.user_id",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A change of membership; every one names a group that must exist.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    Add(&'a [Uuid]),
    Remove(&'a [Uuid]),
    Delete,
}

impl Change<'_> {
    /// The metric's name, and the statement (`$1` the group's name, `$2` the users, NULL for
    /// a delete) returning the users whose groups it changed.
    fn statement(&self) -> (&'static str, &'static str) {
        match self {
            Change::Add(_) => (
                "group_add",
                "INSERT INTO user_groups (user_id, group_id)
                 SELECT u.id, g.id FROM groups g, users u
                 WHERE g.name = $1 AND u.id = ANY($2)
                 ON CONFLICT DO NOTHING RETURNING user_id",
            ),
            Change::Remove(_) => (
                "group_remove",
                "DELETE FROM user_groups ug USING groups g
                 WHERE g.id = ug.group_id AND g.name = $1 AND ug.user_id = ANY($2)
                 RETURNING ug.user_id",
            ),
            // The members are read before the cascade removes them (a CTE sees the snapshot
            // taken before the statement).
            Change::Delete => (
                "group_delete",
                "WITH g AS (DELETE FROM groups WHERE name = $1 AND $2::uuid[] IS NULL RETURNING id)
                 SELECT ug.user_id FROM user_groups ug JOIN g ON g.id = ug.group_id",
            ),
        }
    }

    fn users(&self) -> Option<Vec<Uuid>> {
        match self {
            Change::Add(u) | Change::Remove(u) => Some(u.to_vec()),
            Change::Delete => None,
        }
    }
}

/// Applies `change` to the group `name` and, in the same transaction, announces the active
/// sessions of every user whose groups it changed; once it commits this instance forgets
/// them too. The sessions are not revoked: each instance re-reads them on their next request.
/// Returns how many users it changed.
pub async fn change(
    db: &Db,
    sessions: &Sessions,
    name: &str,
    change: Change<'_>,
) -> Result<Changed<usize>, StoreError> {
    let (kind, sql) = change.statement();
    let mut client = db.conn(kind).await?;
    let tx = client.transaction().await?;
    // Locked so a concurrent delete cannot slip between this check and the change.
    let exists = tx
        .query_opt("SELECT 1 FROM groups WHERE name = $1 FOR UPDATE", &[&name])
        .await?
        .is_some();
    if !exists {
        return Ok(Changed::NoSuchGroup);
    }
    let rows = tx.query(sql, &[&name, &change.users()]).await?;
    let users = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<Uuid>, _>>()?;
    let rows = tx
        .query(
            "SELECT id FROM sessions
             WHERE user_id = ANY($1) AND revoked_at IS NULL AND expires_at > now()",
            &[&users],
        )
        .await?;
    let ids = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<Uuid>, _>>()?;
    invalidation::notify(&tx, &ids).await?;
    tx.commit().await?;
    sessions.forget(&ids).await;
    Ok(Changed::Ok(users.len()))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn group_names_are_short_lower_case_words() {
        for ok in ["a", "admins", "ops.eu-1", "x_y", &"a".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Admins", "a b", "a,b", "é", "a/b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
