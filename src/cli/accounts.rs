//! The account commands: `user …` and `sessions …` (and what `group …` shares with them). They use the same queries and the same
//! revocation path as the server, so a revocation here reaches running instances at once.

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use super::{password, print_json, runtime, unreachable_db, Failure, SessionsCommand, UserCommand};
use crate::auth::{input, password::Hasher};
use crate::clock::{now, rfc3339};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::audit::{self, Event};
use crate::store::sessions::{Cause, Sessions};
use crate::store::{groups, mfa, users, Db, StoreError};

pub(super) struct Ctx<'a> {
    config: &'a Config,
    pub(super) db: Db,
    pub(super) sessions: Sessions,
}

impl Ctx<'_> {
    pub(super) fn db_err(&self) -> impl Fn(StoreError) -> Failure + '_ {
        move |e| unreachable_db(self.config, &e)
    }

    pub(super) async fn user_id(&self, name: &str) -> Result<Uuid, Failure> {
        let no_such = || Failure::new(1, format!("no such user: {name}"));
        let canonical = input::username(name).map_err(|_| no_such())?.canonical;
        users::credentials(&self.db, &canonical)
            .await
            .map_err(self.db_err())?
            .map(|c| c.id)
            .ok_or_else(no_such)
    }

    async fn enable(&self, name: &str) -> Result<Uuid, Failure> {
        let no_such = || Failure::new(1, format!("no such user: {name}"));
        let canonical = input::username(name).map_err(|_| no_such())?.canonical;
        users::enable(&self.db, &canonical)
            .await
            .map_err(self.db_err())?
            .ok_or_else(no_such)
    }

    /// Applies `change` and revokes every session of `name` in one transaction (sign-ins in
    /// flight with the old credentials get nothing), then audits it as `kind`.
    async fn change_credentials(
        &self,
        name: &str,
        change: users::CredentialChange<'_>,
        cause: Cause,
        kind: audit::Kind,
    ) -> Result<(Uuid, usize), Failure> {
        let id = self.user_id(name).await?;
        let revoked = self
            .sessions
            .change_credentials(id, change, None, cause, now())
            .await
            .map_err(self.db_err())?
            .ok_or_else(|| Failure::new(1, format!("no such user: {name}")))?;
        let detail = format!("by the CLI; {} session(s) revoked", revoked.len());
        audit::record(&self.db, Event::new(kind).user(id).detail(&detail)).await;
        Ok((id, revoked.len()))
    }

    /// Revokes every session of `id` (other instances hear of it) and audits it as `kind`.
    async fn revoke_all(
        &self,
        id: Uuid,
        cause: Cause,
        kind: audit::Kind,
    ) -> Result<usize, Failure> {
        let revoked = self
            .sessions
            .revoke_all(id, None, cause, now())
            .await
            .map_err(self.db_err())?;
        let detail = format!("by the CLI; {} session(s) revoked", revoked.len());
        audit::record(&self.db, Event::new(kind).user(id).detail(&detail)).await;
        Ok(revoked.len())
    }
}

pub(super) fn context(config: &Config) -> Result<Ctx<'_>, Failure> {
    let db = Db::new(&config.database_url, Metrics::new())
        .map_err(|e| Failure::new(1, e.to_string()))?;
    let (sessions, _touches) = Sessions::new(
        db.clone(),
        config.cache_ttl,
        config.refresh_ttl,
        Metrics::new(),
    );
    Ok(Ctx {
        config,
        db,
        sessions,
    })
}

/// Prints rows as an aligned table.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn invalid(e: crate::error::Error) -> Failure {
    Failure::new(1, e.describe().message)
}

/// The rules the sign-up form applies, so the CLI cannot make a password the web refuses.
fn rules(password: &str) -> Result<(), Failure> {
    input::password(password).map_err(invalid)
}

fn taken(name: &str) -> Failure {
    Failure::new(1, format!("user {name} already exists"))
}

async fn hash(config: &Config, password: &str) -> Result<String, Failure> {
    let hasher = Hasher::new(config.bcrypt_cost, 1).map_err(|e| Failure::new(1, e.to_string()))?;
    hasher
        .hash(password)
        .await
        .map_err(|e| Failure::new(1, e.to_string()))
}

pub fn user(config: &Config, cmd: UserCommand, json: bool) -> Result<(), Failure> {
    let ctx = context(config)?;
    runtime()?.block_on(async {
        match cmd {
            UserCommand::Add { name, password_stdin } => {
                let name = input::username(&name).map_err(invalid)?;
                // Before anyone types a password twice for nothing (the insert still decides).
                if users::credentials(&ctx.db, &name.canonical).await.map_err(ctx.db_err())?.is_some() {
                    return Err(taken(&name.display));
                }
                let password = password::read(&name.display, password_stdin, rules)?;
                let hash = hash(config, &password).await?;
                match users::create(&ctx.db, &name.display, &name.canonical, &hash).await.map_err(ctx.db_err())? {
                    users::Created::Ok(u) if json => {
                        print_json(&json!({"id": u.id, "username": u.username, "created_at": rfc3339(u.created_at)}));
                        Ok(())
                    }
                    users::Created::Ok(u) => {
                        println!("created user {} ({})", u.username, u.id);
                        Ok(())
                    }
                    users::Created::Taken => Err(taken(&name.display)),
                }
            }
            UserCommand::Passwd { name, password_stdin } => {
                ctx.user_id(&name).await?;
                let password = password::read(&name, password_stdin, rules)?;
                let hash = hash(config, &password).await?;
                let change = users::CredentialChange::Password(&hash);
                let (id, revoked) = ctx.change_credentials(&name, change, Cause::PasswordChange, audit::Kind::PasswordChange).await?;
                if json {
                    print_json(&json!({"id": id, "username": name, "revoked_sessions": revoked}));
                } else {
                    println!("password changed for {name}; revoked {revoked} session(s)");
                }
                Ok(())
            }
            UserCommand::Disable { name } => {
                let (id, revoked) = ctx.change_credentials(&name, users::CredentialChange::Disable, Cause::Disable, audit::Kind::Disable).await?;
                if json {
                    print_json(&json!({"id": id, "username": name, "disabled": true, "revoked_sessions": revoked}));
                } else {
                    println!("disabled {name}; revoked {revoked} session(s)");
                }
                Ok(())
            }
            UserCommand::Enable { name } => {
                let id = ctx.enable(&name).await?;
                audit::record(&ctx.db, Event::new(audit::Kind::Enable).user(id).detail("by the CLI")).await;
                if json {
                    print_json(&json!({"id": id, "username": name, "disabled": false}));
                } else {
                    println!("enabled {name}");
                }
                Ok(())
            }
            UserCommand::List => {
                let list = users::list(&ctx.db).await.map_err(ctx.db_err())?;
                let memberships: HashMap<Uuid, Vec<String>> =
                    groups::of_everyone(&ctx.db).await.map_err(ctx.db_err())?.into_iter().collect();
                let none = Vec::new();
                let groups_of = |id: &Uuid| memberships.get(id).unwrap_or(&none);
                let factors: HashMap<Uuid, mfa::Factors> = mfa::everyone(&ctx.db).await.map_err(ctx.db_err())?.into_iter().collect();
                let factors_of = |id: &Uuid| factors.get(id).cloned().unwrap_or_default();
                if json {
                    let items: Vec<_> = list
                        .iter()
                        .map(|u| {
                            let f = factors_of(&u.id);
                            json!({"id": u.id, "username": u.username, "created_at": rfc3339(u.created_at), "disabled": u.disabled, "groups": groups_of(&u.id),
                                   "mfa": {"totp": f.totp, "webauthn": f.webauthn, "recovery_codes_left": f.recovery_codes_left}})
                        })
                        .collect();
                    print_json(&serde_json::Value::Array(items));
                } else {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|u| vec![u.username.clone(), u.id.to_string(), rfc3339(u.created_at), if u.disabled { "disabled" } else { "active" }.into(), groups_of(&u.id).join(","), mfa_cell(&factors_of(&u.id))])
                        .collect();
                    table(&["USERNAME", "ID", "CREATED", "STATE", "GROUPS", "MFA"], &rows);
                }
                Ok(())
            }
            UserCommand::MfaReset { name } => {
                let (id, revoked) = ctx.change_credentials(&name, users::CredentialChange::MfaReset, Cause::MfaReset, audit::Kind::MfaRemoved).await?;
                if json {
                    print_json(&json!({"id": id, "username": name, "revoked_sessions": revoked}));
                } else {
                    println!("removed every second factor of {name}; revoked {revoked} session(s)");
                }
                Ok(())
            }
        }
    })
}

/// The MFA column of `user list`: the factors, and how many recovery codes are left.
fn mfa_cell(f: &mfa::Factors) -> String {
    if !f.any() {
        return "-".into();
    }
    let mut parts: Vec<String> = f
        .methods()
        .iter()
        .filter(|m| **m != "recovery")
        .map(|m| match *m {
            "webauthn" => format!("passkeys: {}", f.webauthn),
            m => m.to_string(),
        })
        .collect();
    parts.push(format!("recovery codes: {}", f.recovery_codes_left));
    parts.join(", ")
}

pub fn sessions(config: &Config, cmd: SessionsCommand, json: bool) -> Result<(), Failure> {
    let ctx = context(config)?;
    runtime()?.block_on(async {
        match cmd {
            SessionsCommand::List { user } => {
                let user_id = match &user {
                    Some(name) => Some(ctx.user_id(name).await?),
                    None => None,
                };
                let list = ctx.sessions.list_all_active(user_id, now()).await.map_err(ctx.db_err())?;
                if json {
                    let items: Vec<_> = list
                        .iter()
                        .map(|(username, s)| {
                            json!({
                                "id": s.id, "user_id": s.user_id, "username": username,
                                "created_at": rfc3339(s.created_at), "last_seen_at": rfc3339(s.last_seen_at),
                                "expires_at": rfc3339(s.expires_at), "ip": s.ip, "user_agent": s.user_agent,
                            })
                        })
                        .collect();
                    print_json(&serde_json::Value::Array(items));
                } else {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|(username, s)| {
                            vec![
                                s.id.to_string(),
                                username.clone(),
                                s.ip.clone().unwrap_or_default(),
                                rfc3339(s.created_at),
                                rfc3339(s.last_seen_at),
                                s.user_agent.clone().unwrap_or_default().chars().take(40).collect(),
                            ]
                        })
                        .collect();
                    table(&["ID", "USER", "IP", "CREATED", "LAST SEEN", "USER AGENT"], &rows);
                }
                Ok(())
            }
            SessionsCommand::Revoke { id: Some(id), .. } => {
                let sid = Uuid::try_parse(&id).map_err(|_| Failure::new(1, format!("not a session id: {id}")))?;
                if !ctx.sessions.revoke(sid, None, Cause::Admin, now()).await.map_err(ctx.db_err())? {
                    return Err(Failure::new(1, format!("no active session {sid}")));
                }
                audit::record(&ctx.db, Event::new(audit::Kind::Revoke).session(sid).detail("by the CLI")).await;
                if json {
                    print_json(&json!({"session_id": sid, "revoked_sessions": 1}));
                } else {
                    println!("revoked session {sid}");
                }
                Ok(())
            }
            SessionsCommand::Revoke { user: Some(name), .. } => {
                let id = ctx.user_id(&name).await?;
                let revoked = ctx.revoke_all(id, Cause::Admin, audit::Kind::Abort).await?;
                if json {
                    print_json(&json!({"id": id, "username": name, "revoked_sessions": revoked}));
                } else {
                    println!("revoked {revoked} session(s) of {name}");
                }
                Ok(())
            }
            SessionsCommand::Revoke { .. } => Err(Failure::new(2, "name a session id or --user NAME")),
        }
    })
}
