//! Token pairs: minting an access + refresh token for a session, and rotating a refresh token.
//! `POST /auth/refresh` uses it, and so does in-line refresh on the proxy and forward-auth
//! paths, where concurrent requests of one session share one rotation on this instance.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::tokens::{self, Kind};
use super::Identity;
use crate::auth::identity;
use crate::error::Error;
use crate::store::audit::{self, Event};
use crate::store::sessions::{Refreshed, SessionInfo};
use crate::App;

/// A freshly minted pair and what it was minted for.
#[derive(Debug)]
pub struct Pair {
    pub user_id: Uuid,
    pub username: String,
    pub session: SessionInfo,
    pub access: String,
    pub refresh: String,
    pub access_exp: i64,
    pub refresh_exp: i64,
    now: i64,
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Pair {
    /// Neither token outlives the session's absolute expiry.
    pub fn mint(
        app: &App,
        user_id: Uuid,
        username: &str,
        session: SessionInfo,
        gen: i64,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let now_s = now.unix_timestamp();
        let session_end = session.expires_at.unix_timestamp();
        let access_exp = tokens::expiry(now_s, app.config.access_ttl).min(session_end);
        let refresh_exp = tokens::expiry(now_s, app.config.refresh_ttl).min(session_end);
        let mint = |kind, gen, exp| {
            app.keys
                .mint(kind, user_id, session.id, gen, now_s, exp)
                .map_err(|e| Error::Internal(format!("signing failed: {e}")))
        };
        Ok(Self {
            access: mint(Kind::Access, None, access_exp)?,
            refresh: mint(Kind::Refresh, Some(gen), refresh_exp)?,
            user_id,
            username: username.to_string(),
            session,
            access_exp,
            refresh_exp,
            now: now_s,
        })
    }

    /// The login/refresh response body; tokens only for bearer transport.
    pub fn body(&self, with_tokens: bool) -> Value {
        let at = |s: i64| {
            OffsetDateTime::from_unix_timestamp(s)
                .map(rfc3339)
                .unwrap_or_default()
        };
        let mut body = json!({
            "user": { "id": self.user_id, "username": self.username },
            "session": {
                "id": self.session.id,
                "created_at": rfc3339(self.session.created_at),
                "expires_at": rfc3339(self.session.expires_at),
            },
            "access_expires_at": at(self.access_exp),
            "refresh_expires_at": at(self.refresh_exp),
        });
        if with_tokens {
            body["access_token"] = self.access.clone().into();
            body["refresh_token"] = self.refresh.clone().into();
            body["token_type"] = "Bearer".into();
        }
        body
    }

    /// `Set-Cookie` values for both tokens.
    pub fn cookies(&self, app: &App) -> [String; 2] {
        let max_age = |exp: i64| Duration::from_secs(u64::try_from(exp - self.now).unwrap_or(0));
        let c = &app.cookies;
        [
            c.set(&c.access, &self.access, max_age(self.access_exp)),
            c.set(&c.refresh, &self.refresh, max_age(self.refresh_exp)),
        ]
    }

    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id,
            session_id: self.session.id,
            header_values: identity::header_values(self.user_id, &self.username, self.session.id),
        }
    }
}

/// What presenting a refresh token produced.
pub enum Rotated {
    Issued(Box<Pair>),
    Reused,
    Invalid,
}

/// Verifies `token` and applies the rotation rule atomically in the database.
pub async fn rotate(
    app: &App,
    token: &str,
    now: OffsetDateTime,
    ip: Option<IpAddr>,
) -> Result<Rotated, Error> {
    let Ok(claims) = app.keys.verify(token, Kind::Refresh, now.unix_timestamp()) else {
        return Ok(Rotated::Invalid);
    };
    let gen = claims.gen.unwrap_or(-1);
    let grace = app.config.refresh_reuse_grace;
    Ok(
        match app
            .sessions
            .refresh(claims.sid, claims.sub, gen, now, grace)
            .await?
        {
            Refreshed::Issued {
                gen,
                session,
                username,
            } => {
                let event = Event::new(audit::Kind::Refresh)
                    .user(claims.sub)
                    .session(claims.sid);
                audit::record(&app.db, event.ip(ip)).await;
                Rotated::Issued(Box::new(Pair::mint(
                    app, claims.sub, &username, session, gen, now,
                )?))
            }
            Refreshed::Reused => {
                let event = Event::new(audit::Kind::RefreshReuse)
                    .user(claims.sub)
                    .session(claims.sid);
                audit::record(&app.db, event.ip(ip).detail("session revoked")).await;
                Rotated::Reused
            }
            Refreshed::Invalid => Rotated::Invalid,
        },
    )
}

/// In-line refresh with at most one rotation per session and generation in flight on this
/// instance: a page that fires thirty requests after its access token expired gets one new
/// pair, shared by all of them for the grace window.
pub struct InlineRefresh {
    results: moka::future::Cache<(Uuid, i64), Arc<Pair>>,
}

#[derive(Debug, Clone)]
enum Failed {
    NoPair,
    Store(String, bool),
}

impl InlineRefresh {
    pub fn new(grace: Duration) -> Self {
        let ttl = grace.max(Duration::from_secs(1));
        Self {
            results: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// A new pair for the refresh `token`, or `None` when it is not (or no longer) usable.
    pub async fn refresh(
        &self,
        app: &App,
        token: &str,
        now: OffsetDateTime,
        ip: Option<IpAddr>,
    ) -> Result<Option<Arc<Pair>>, Error> {
        let Ok(claims) = app.keys.verify(token, Kind::Refresh, now.unix_timestamp()) else {
            return Ok(None);
        };
        // A session already known to be dead (cached negative) costs no database work.
        if app.sessions.known_dead(claims.sid).await {
            return Ok(None);
        }
        let key = (claims.sid, claims.gen.unwrap_or(-1));
        let result = self
            .results
            .try_get_with(key, async {
                match rotate(app, token, now, ip).await {
                    Ok(Rotated::Issued(pair)) => Ok(Arc::new(*pair)),
                    Ok(_) => Err(Failed::NoPair),
                    Err(Error::Store(e)) => Err(Failed::Store(
                        e.to_string(),
                        matches!(e, crate::store::StoreError::Unavailable(_)),
                    )),
                    Err(e) => Err(Failed::Store(e.to_string(), false)),
                }
            })
            .await;
        match result {
            Ok(pair) if pair.user_id == claims.sub => {
                // A remembered pair must not outlive its session: a logout or revocation
                // inside the grace window ends it too.
                let live = app.sessions.lookup(pair.session.id, now).await?;
                Ok(live.filter(|s| s.user_id == pair.user_id).map(|_| pair))
            }
            Ok(_) => Ok(None),
            Err(e) => match &*e {
                Failed::NoPair => Ok(None),
                Failed::Store(m, true) => Err(Error::Store(crate::store::StoreError::Unavailable(
                    m.clone(),
                ))),
                Failed::Store(m, false) => Err(Error::Internal(m.clone())),
            },
        }
    }
}
