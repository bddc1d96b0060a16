//! `invite …`: sign-up invites (docs/contract.md §9). The token is made here and printed once,
//! inside the sign-up URL; the database keeps only its SHA-256, so `invite list` can never show
//! it and a lost link is revoked and made again.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::accounts::{context, table};
use super::{print_json, runtime, Failure, InviteCommand};
use crate::auth::invite_token;
use crate::clock::rfc3339;
use crate::config::{parse_duration, Config};
use crate::store::audit::{self, Event};
use crate::store::invites::{self, Created, NewInvite, Revoked};

/// The most accounts one invite may make: enough for a class or a team, small enough that a
/// leaked link is not an open door.
const MAX_USES: u32 = 10_000;

/// An `invite` command whose arguments have been checked.
pub(super) enum Checked {
    Create {
        groups: Vec<String>,
        valid_for: Duration,
        uses: i32,
    },
    List,
    Revoke(Uuid),
}

/// Checks the arguments before anything touches the database. A wrong argument is a usage
/// error, exit 2, as clap's own are.
pub(super) fn checked(cmd: InviteCommand) -> Result<Checked, Failure> {
    match cmd {
        InviteCommand::Create {
            groups,
            expires,
            uses,
        } => Ok(Checked::Create {
            groups: group_list(&groups).map_err(|m| Failure::new(2, m))?,
            valid_for: lifetime(&expires).map_err(|m| Failure::new(2, m))?,
            uses: use_count(uses).map_err(|m| Failure::new(2, m))?,
        }),
        InviteCommand::List => Ok(Checked::List),
        InviteCommand::Revoke { id } => Uuid::try_parse(id.trim())
            .map(Checked::Revoke)
            .map_err(|_| Failure::new(1, format!("no such invite: {id}"))),
    }
}

/// `a,b`: valid group names, sorted, without repeats.
fn group_list(s: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !crate::store::groups::valid_name(name) {
            return Err(format!(
                "invalid group name {name:?}: use 1-64 characters of a-z 0-9 . _ -"
            ));
        }
        names.push(name.to_string());
    }
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

fn lifetime(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err("--expires must be longer than zero".into()),
        None => Err(format!(
            "--expires {s:?} is not a duration (use seconds or 30m, 12h, 7d)"
        )),
    }
}

fn use_count(uses: u32) -> Result<i32, String> {
    if (1..=MAX_USES).contains(&uses) {
        i32::try_from(uses).map_err(|_| format!("--uses must be within 1..={MAX_USES}"))
    } else {
        Err(format!("--uses must be within 1..={MAX_USES}"))
    }
}

/// Who ran the command, as the operating system names them, for `created_by`.
fn operator() -> Option<String> {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

pub(super) fn invite(config: &Config, cmd: Checked, json: bool) -> Result<(), Failure> {
    let ctx = context(config)?;
    runtime()?.block_on(async {
        match cmd {
            Checked::Create {
                groups,
                valid_for,
                uses,
            } => {
                let minted = invite_token::mint()
                    .map_err(|e| Failure::new(1, format!("cannot make a random token: {e}")))?;
                let operator = operator();
                let new = NewInvite {
                    token_hash: &minted.hash,
                    groups: &groups,
                    uses,
                    valid_for,
                    created_by: operator.as_deref(),
                };
                let invite = match invites::create(&ctx.db, &new)
                    .await
                    .map_err(ctx.db_err())?
                {
                    Created::Ok(invite) => invite,
                    Created::NoSuchGroup(name) => {
                        return Err(Failure::new(
                            2,
                            format!(
                                "no such group: {name} (create it first: gatehouse group create {name})"
                            ),
                        ))
                    }
                };
                let detail = format!("by the CLI; invite {}", invite.id);
                audit::record(&ctx.db, Event::new(audit::Kind::InviteCreated).detail(&detail))
                    .await;
                let url = format!(
                    "{}/auth/register?invite={}",
                    config.public_url.as_str(),
                    minted.token
                );
                if json {
                    print_json(&json!({
                        "id": invite.id, "url": url, "groups": invite.groups,
                        "max_uses": invite.max_uses, "expires_at": rfc3339(invite.expires_at),
                        "created_at": rfc3339(invite.created_at),
                    }));
                } else {
                    let groups = if invite.groups.is_empty() {
                        "no groups".to_string()
                    } else {
                        format!("groups {}", invite.groups.join(","))
                    };
                    println!(
                        "created invite {}: {} use(s), expires {}, {groups}",
                        invite.id,
                        invite.max_uses,
                        rfc3339(invite.expires_at)
                    );
                    // Last, on a line of its own, so that `| tail -n 1` is the link.
                    println!("{url}");
                }
                Ok(())
            }
            Checked::List => {
                let (list, now) = invites::list(&ctx.db).await.map_err(ctx.db_err())?;
                if json {
                    let items: Vec<_> = list
                        .iter()
                        .map(|i| {
                            json!({
                                "id": i.id, "state": i.state(now).as_str(), "groups": i.groups,
                                "uses_left": i.uses_left, "max_uses": i.max_uses,
                                "expires_at": rfc3339(i.expires_at), "created_at": rfc3339(i.created_at),
                                "revoked_at": i.revoked_at.map(rfc3339), "created_by": i.created_by,
                            })
                        })
                        .collect();
                    print_json(&serde_json::Value::Array(items));
                } else {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|i| {
                            vec![
                                i.id.to_string(),
                                i.state(now).as_str().to_string(),
                                format!("{}/{}", i.uses_left, i.max_uses),
                                i.groups.join(","),
                                rfc3339(i.expires_at),
                                rfc3339(i.created_at),
                            ]
                        })
                        .collect();
                    table(
                        &["ID", "STATE", "USES LEFT", "GROUPS", "EXPIRES", "CREATED"],
                        &rows,
                    );
                }
                Ok(())
            }
            Checked::Revoke(id) => {
                match invites::revoke(&ctx.db, id).await.map_err(ctx.db_err())? {
                    Revoked::Ok => {}
                    Revoked::AlreadyRevoked => {
                        return Err(Failure::new(1, format!("invite {id} is already revoked")))
                    }
                    Revoked::NoSuchInvite => {
                        return Err(Failure::new(1, format!("no such invite: {id}")))
                    }
                }
                let detail = format!("by the CLI; invite {id}");
                audit::record(&ctx.db, Event::new(audit::Kind::InviteRevoked).detail(&detail))
                    .await;
                if json {
                    print_json(&json!({"id": id, "state": "revoked"}));
                } else {
                    println!("revoked invite {id}");
                }
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_checked_sorted_and_deduplicated() {
        assert_eq!(group_list(""), Ok(vec![]));
        assert_eq!(
            group_list("ops, admins,ops,"),
            Ok(vec!["admins".to_string(), "ops".to_string()])
        );
        for bad in ["Ops", "a b", "ops/x", &"a".repeat(65)] {
            assert!(
                group_list(bad).unwrap_err().contains("invalid group name"),
                "{bad}"
            );
        }
    }

    #[test]
    fn lifetimes_read_like_the_duration_settings_and_are_never_zero() {
        assert_eq!(lifetime("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(lifetime("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(lifetime("900"), Ok(Duration::from_secs(900)));
        assert!(lifetime("0").unwrap_err().contains("longer than zero"));
        for bad in ["", "7x", "-1", "1.5d"] {
            assert!(
                lifetime(bad).unwrap_err().contains("not a duration"),
                "{bad}"
            );
        }
    }

    #[test]
    fn uses_are_bounded() {
        assert_eq!(use_count(1), Ok(1));
        assert_eq!(use_count(MAX_USES), Ok(10_000));
        assert!(use_count(0).is_err());
        assert!(use_count(MAX_USES + 1).is_err());
    }
}
