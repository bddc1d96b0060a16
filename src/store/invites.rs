//! Queries on `invites` (docs/contract.md §9): created, listed and revoked by the CLI, looked up
//! by fingerprint before a sign-up spends bcrypt on it. Only the sign-up transaction
//! (`signup.rs`) consumes one. Times come from the database's clock, the one that judges
//! expiry at sign-up.

use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, StoreError};

/// What `invite create` asks for. `groups` are valid names, sorted, without repeats.
pub struct NewInvite<'a> {
    pub token_hash: &'a [u8; 32],
    pub groups: &'a [String],
    pub uses: i32,
    pub valid_for: Duration,
    pub created_by: Option<&'a str>,
}

/// An invite as the CLI shows it. Never its token: only the fingerprint is stored.
#[derive(Debug, Clone)]
pub struct Invite {
    pub id: Uuid,
    pub groups: Vec<String>,
    pub max_uses: i32,
    pub uses_left: i32,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Used,
    Expired,
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Used => "used",
            State::Expired => "expired",
            State::Revoked => "revoked",
        }
    }
}

impl Invite {
    /// What a sign-up with it would meet at `now`: the first reason it is refused, in the
    /// order an administrator acted (revoked, then used up, then expired), else active.
    pub fn state(&self, now: OffsetDateTime) -> State {
        if self.revoked_at.is_some() {
            State::Revoked
        } else if self.uses_left <= 0 {
            State::Used
        } else if self.expires_at <= now {
            State::Expired
        } else {
            State::Active
        }
    }
}

pub enum Created {
    Ok(Invite),
    /// The first of the requested groups that does not exist; nothing was created.
    NoSuchGroup(String),
}

const COLUMNS: &str =
    "id, groups, max_uses, uses_left, expires_at, created_at, revoked_at, created_by";

fn invite(r: &tokio_postgres::Row) -> Result<Invite, StoreError> {
    Ok(Invite {
        id: r.try_get(0)?,
        groups: r.try_get(1)?,
        max_uses: r.try_get(2)?,
        uses_left: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        created_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
        created_by: r.try_get(7)?,
    })
}

/// Creates an invite whose groups all exist. They are held (`FOR KEY SHARE`) until it is
/// written, so a concurrent `group delete` waits rather than leaving it naming nothing; a
/// group deleted later is caught at sign-up.
pub async fn create(db: &Db, new: &NewInvite<'_>) -> Result<Created, StoreError> {
    let mut client = db.conn("invite_create").await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT name FROM groups WHERE name = ANY($1) FOR KEY SHARE",
            &[&new.groups],
        )
        .await?;
    let found = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<String>, _>>()?;
    if let Some(missing) = new.groups.iter().find(|g| !found.contains(g)) {
        return Ok(Created::NoSuchGroup(missing.clone()));
    }
    let secs = i64::try_from(new.valid_for.as_secs()).unwrap_or(i64::MAX);
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO invites (id, token_hash, groups, max_uses, uses_left, expires_at, created_by)
                 VALUES ($1, $2, $3, $4, $4, now() + $5::bigint * interval '1 second', $6)
                 RETURNING {COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &new.token_hash.as_slice(),
                &new.groups,
                &new.uses,
                &secs,
                &new.created_by,
            ],
        )
        .await?;
    let created = invite(&row)?;
    tx.commit().await?;
    Ok(Created::Ok(created))
}

/// Every invite, newest first, with the database's `now` to judge their state by.
pub async fn list(db: &Db) -> Result<(Vec<Invite>, OffsetDateTime), StoreError> {
    let client = db.conn("invite_list").await?;
    let now: OffsetDateTime = client.query_one("SELECT now()", &[]).await?.try_get(0)?;
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM invites ORDER BY created_at DESC, id"),
            &[],
        )
        .await?;
    let invites = rows.iter().map(invite).collect::<Result<Vec<_>, _>>()?;
    Ok((invites, now))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    Ok,
    AlreadyRevoked,
    NoSuchInvite,
}

pub async fn revoke(db: &Db, id: Uuid) -> Result<Revoked, StoreError> {
    let mut client = db.conn("invite_revoke").await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT revoked_at IS NOT NULL FROM invites WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
    let outcome = match row {
        None => Revoked::NoSuchInvite,
        Some(r) if r.try_get::<_, bool>(0)? => Revoked::AlreadyRevoked,
        Some(_) => {
            tx.execute(
                "UPDATE invites SET revoked_at = now() WHERE id = $1",
                &[&id],
            )
            .await?;
            Revoked::Ok
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Whether an invite with this fingerprint could be used now. A cheap look before bcrypt
/// runs for a sign-up; the sign-up transaction decides.
pub async fn usable(db: &Db, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
    let client = db.conn("invite_usable").await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM invites WHERE token_hash = $1
             AND uses_left > 0 AND expires_at > now() AND revoked_at IS NULL",
            &[&token_hash.as_slice()],
        )
        .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn invite(uses_left: i32, expires: i64, revoked: bool) -> Invite {
        Invite {
            id: Uuid::nil(),
            groups: Vec::new(),
            max_uses: 2,
            uses_left,
            expires_at: at(expires),
            created_at: at(0),
            revoked_at: revoked.then(|| at(5)),
            created_by: None,
        }
    }

    #[test]
    fn the_state_names_the_first_reason_a_sign_up_would_be_refused() {
        let now = at(100);
        assert_eq!(invite(1, 200, false).state(now), State::Active);
        assert_eq!(invite(0, 200, false).state(now), State::Used);
        assert_eq!(
            invite(1, 100, false).state(now),
            State::Expired,
            "at expiry"
        );
        assert_eq!(invite(0, 50, false).state(now), State::Used);
        assert_eq!(invite(0, 50, true).state(now), State::Revoked);
        assert_eq!(invite(2, 200, true).state(now), State::Revoked);
    }
}
