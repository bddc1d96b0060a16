//! `group …`: groups and their members. Changes go through `store::groups::change`, which
//! announces the members' sessions on the revocation channel, so running instances pick up
//! the new groups at once without signing anyone out (docs/contract.md §9).

use serde_json::json;
use uuid::Uuid;

use super::accounts::{context, table, Ctx};
use super::{print_json, runtime, Failure, GroupCommand};
use crate::clock::rfc3339;
use crate::config::Config;
use crate::store::groups::{self, Change, Changed};

fn checked(name: &str) -> Result<&str, Failure> {
    if groups::valid_name(name) {
        Ok(name)
    } else {
        Err(Failure::new(
            1,
            format!("invalid group name {name:?}: use 1-64 characters of a-z 0-9 . _ -"),
        ))
    }
}

impl Ctx<'_> {
    /// The ids of `names`, all of them or a failure naming the first unknown one, so a typo
    /// changes nothing.
    async fn user_ids(&self, names: &[String]) -> Result<Vec<Uuid>, Failure> {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            ids.push(self.user_id(name).await?);
        }
        Ok(ids)
    }

    async fn change(&self, name: &str, change: Change<'_>) -> Result<usize, Failure> {
        match groups::change(&self.db, &self.sessions, name, change)
            .await
            .map_err(self.db_err())?
        {
            Changed::Ok(n) => Ok(n),
            Changed::NoSuchGroup => Err(Failure::new(1, format!("no such group: {name}"))),
        }
    }
}

pub fn group(config: &Config, cmd: GroupCommand, json: bool) -> Result<(), Failure> {
    let ctx = context(config)?;
    runtime()?.block_on(async {
        match cmd {
            GroupCommand::List => {
                let list = groups::list(&ctx.db).await.map_err(ctx.db_err())?;
                if json {
                    let items: Vec<_> = list
                        .iter()
                        .map(|g| json!({"name": g.name, "created_at": rfc3339(g.created_at), "members": g.members}))
                        .collect();
                    print_json(&serde_json::Value::Array(items));
                } else {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|g| vec![g.name.clone(), g.members.to_string(), rfc3339(g.created_at)])
                        .collect();
                    table(&["NAME", "MEMBERS", "CREATED"], &rows);
                }
                Ok(())
            }
            GroupCommand::Create { name } => {
                let name = checked(&name)?;
                if !groups::create(&ctx.db, name).await.map_err(ctx.db_err())? {
                    return Err(Failure::new(1, format!("group {name} already exists")));
                }
                if json {
                    print_json(&json!({"name": name, "members": 0}));
                } else {
                    println!("created group {name}");
                }
                Ok(())
            }
            GroupCommand::Delete { name } => {
                let name = checked(&name)?;
                let members = ctx.change(name, Change::Delete).await?;
                if json {
                    print_json(&json!({"name": name, "deleted": true, "members": members}));
                } else {
                    println!("deleted group {name} ({members} member(s))");
                }
                Ok(())
            }
            GroupCommand::Add { name, users } => {
                let name = checked(&name)?;
                let ids = ctx.user_ids(&users).await?;
                let added = ctx.change(name, Change::Add(&ids)).await?;
                if json {
                    print_json(&json!({"name": name, "added": added}));
                } else {
                    println!("added {added} user(s) to {name}");
                }
                Ok(())
            }
            GroupCommand::Remove { name, users } => {
                let name = checked(&name)?;
                let ids = ctx.user_ids(&users).await?;
                let removed = ctx.change(name, Change::Remove(&ids)).await?;
                if json {
                    print_json(&json!({"name": name, "removed": removed}));
                } else {
                    println!("removed {removed} user(s) from {name}");
                }
                Ok(())
            }
        }
    })
}
