//! The one transaction that admits a user over HTTP (docs/contract.md §9): it spends a use of
//! the invite (or takes the registration groups), creates the user and joins their groups, or
//! does none of it.
//!
//! An invite's use is taken first, with a conditional `UPDATE … WHERE uses_left > 0 …` that
//! holds the invite's row until commit: a concurrent sign-up with the same invite waits, then
//! finds the use gone (or still there, if this one rolled back because the name was taken).
//! So a one-use invite makes exactly one user, and a taken name spends nothing. Checking the
//! invite before the name also means that nobody without a valid invite learns which names
//! exist.

use uuid::Uuid;

use super::users::{self, User};
use super::{Db, StoreError};

/// Why a new user may join, and which groups they join.
#[derive(Debug, Clone, Copy)]
pub enum Admission<'a> {
    /// An invite, by the fingerprint of its token: its groups.
    Invite(&'a [u8; 32]),
    /// Open registration: `GATEHOUSE_REGISTRATION_GROUPS` (valid names, sorted, no repeats).
    Open(&'a [String]),
}

pub enum SignedUp {
    /// The user, and the invite whose use it spent.
    Ok { user: User, invite: Option<Uuid> },
    /// The canonical name is taken; nothing changed.
    Taken,
    /// Unknown, used up, expired or revoked; nothing changed.
    InvalidInvite,
    /// The invite names a group deleted since it was made; nothing changed.
    InviteGroupGone { invite: Uuid, group: String },
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub canonical: &'a str,
    pub password_hash: &'a str,
}

pub async fn sign_up(
    db: &Db,
    new: &NewUser<'_>,
    admission: Admission<'_>,
) -> Result<SignedUp, StoreError> {
    let mut client = db.conn("user_sign_up").await?;
    // Dropped without `commit`, the transaction rolls back: every early return changes nothing.
    let tx = client.transaction().await?;
    let (invite, groups) = match admission {
        Admission::Invite(hash) => {
            let row = tx
                .query_opt(
                    "UPDATE invites SET uses_left = uses_left - 1
                     WHERE token_hash = $1 AND uses_left > 0 AND expires_at > now()
                       AND revoked_at IS NULL
                     RETURNING id, groups",
                    &[&hash.as_slice()],
                )
                .await?;
            let Some(row) = row else {
                return Ok(SignedUp::InvalidInvite);
            };
            (Some(row.try_get::<_, Uuid>(0)?), row.try_get(1)?)
        }
        Admission::Open(groups) => (None, groups.to_vec()),
    };
    let Some(user) = users::insert(&*tx, new.username, new.canonical, new.password_hash).await?
    else {
        return Ok(SignedUp::Taken);
    };
    if !groups.is_empty() {
        let ids = match invite {
            Some(invite) => match existing(&tx, &groups).await? {
                Ok(ids) => ids,
                Err(group) => return Ok(SignedUp::InviteGroupGone { invite, group }),
            },
            None => ensure(&tx, &groups).await?,
        };
        tx.execute(
            "INSERT INTO user_groups (user_id, group_id) SELECT $1, unnest($2::uuid[])",
            &[&user.id, &ids],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(SignedUp::Ok { user, invite })
}

/// The ids of an invite's groups, held (`FOR KEY SHARE`) until commit so that a concurrent
/// `group delete` waits for the membership rather than racing it; or the first one that is
/// gone. A group deleted since the invite was made is the newer decision: the invite is not
/// honoured in part, nor the group made again.
async fn existing(
    tx: &tokio_postgres::Transaction<'_>,
    groups: &[String],
) -> Result<Result<Vec<Uuid>, String>, StoreError> {
    let rows = tx
        .query(
            "SELECT id, name FROM groups WHERE name = ANY($1) FOR KEY SHARE",
            &[&groups],
        )
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<_, Uuid>(0)?);
        names.push(r.try_get::<_, String>(1)?);
    }
    Ok(match groups.iter().find(|g| !names.contains(g)) {
        Some(gone) => Err(gone.clone()),
        None => Ok(ids),
    })
}

/// The ids of the registration groups, each created if missing. The setting is the
/// administrator's standing instruction, read at every start, while groups are made at run
/// time: a group it names is created here rather than failing every sign-up until someone
/// runs `group create`. Creating one grants nothing by itself; access comes only from
/// policies naming it. The no-op update locks each row (in name order, so sign-ups cannot
/// deadlock) and returns its id whether it was new or not, so no delete can slip in between.
async fn ensure(
    tx: &tokio_postgres::Transaction<'_>,
    groups: &[String],
) -> Result<Vec<Uuid>, StoreError> {
    let fresh: Vec<Uuid> = groups.iter().map(|_| Uuid::new_v4()).collect();
    let rows = tx
        .query(
            "INSERT INTO groups (id, name) SELECT * FROM unnest($1::uuid[], $2::text[])
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
             RETURNING id",
            &[&fresh, &groups],
        )
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect::<Result<Vec<Uuid>, StoreError>>()
}
