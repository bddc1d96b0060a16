//! Token pairs: minting an access + refresh token for a session, and rotating a refresh token.
//! `POST /auth/refresh` uses it, and so does in-line refresh on the proxy and forward-auth
//! paths, where concurrent requests of one session share one rotation on this instance.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::identity::Identity;
use super::tokens::{self, Kind};
use crate::auth::identity;
use crate::error::Error;
use crate::store::audit::{self, Event};
use crate::store::sessions::{Active, Refreshed, SessionInfo};
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
                "mfa": self.session.mfa,
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

    /// The identity of this pair's session; `groups` and `mfa` as the session cache holds
    /// them.
    pub fn identity(&self, groups: &str, mfa: bool) -> Identity {
        Identity {
            user_id: self.user_id,
            session_id: self.session.id,
            mfa,
            header_values: identity::header_values(
                self.user_id,
                &self.username,
                self.session.id,
                groups,
            ),
            session: None,
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
    /// The database failed; every waiter gets the same error, with its cause.
    Store(crate::store::StoreError),
    Other(String),
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

    /// A new pair for the refresh `token`, or `None` when it is not (or no longer) usable;
    /// with the session as the cache holds it now (its groups are read there).
    pub async fn refresh(
        &self,
        app: &App,
        token: &str,
        now: OffsetDateTime,
        ip: Option<IpAddr>,
    ) -> Result<Option<(Arc<Pair>, Arc<Active>)>, Error> {
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
                    Err(Error::Store(e)) => Err(Failed::Store(e)),
                    Err(e) => Err(Failed::Other(e.to_string())),
                }
            })
            .await;
        match result {
            Ok(pair) if pair.user_id == claims.sub => {
                // A remembered pair must not outlive its session: a logout or revocation
                // inside the grace window ends it too.
                let live = app.sessions.lookup(pair.session.id, now).await?;
                Ok(live
                    .filter(|s| s.user_id == pair.user_id)
                    .map(|active| (pair, active)))
            }
            Ok(_) => Ok(None),
            Err(e) => match &*e {
                Failed::NoPair => Ok(None),
                Failed::Store(e) => Err(Error::Store(e.clone())),
                Failed::Other(m) => Err(Error::Internal(m.clone())),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::auth::cookies::CookieNames;
    use crate::auth::password::Hasher;
    use crate::auth::tokens::Keys;
    use crate::config::RawConfig;
    use crate::metrics::Metrics;
    use crate::store::sessions::Sessions;
    use crate::store::Db;

    const SECRET: &str = "unit-test-secret-0123456789abcdef0123";
    const NOW: i64 = 1_700_000_000;

    /// An [`App`] for unit tests of code that only reads its configuration, keys and cookie
    /// names. Nothing connects: the pool opens connections only when asked for one.
    pub(crate) fn app(env: &[(&str, &str)]) -> App {
        let vars: HashMap<String, String> = [
            ("GATEHOUSE_JWT_SECRET", SECRET),
            ("GATEHOUSE_PUBLIC_URL", "https://gate.example.com"),
            ("GATEHOUSE_BCRYPT_COST", "4"),
        ]
        .into_iter()
        .chain(env.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut raw = RawConfig::default();
        raw.apply_env(&vars, "test");
        let config = raw.validate().unwrap();
        let metrics = Metrics::new();
        let db = Db::new(&config.database_url, metrics.clone()).unwrap();
        let (sessions, _) = Sessions::new(
            db.clone(),
            config.cache_ttl,
            config.refresh_ttl,
            metrics.clone(),
        );
        App {
            keys: Keys::new(&config.jwt_secret.0),
            verified: crate::auth::VerifiedTokens::new(),
            inline_refresh: InlineRefresh::new(config.refresh_reuse_grace),
            login_limits: crate::auth::limits::LoginLimiter::new(config.login_rate),
            hasher: Hasher::new(config.bcrypt_cost, 1).unwrap(),
            db,
            sessions,
            cookies: CookieNames::new(&config),
            routes: arc_swap::ArcSwap::from_pointee(
                crate::access::RouteTable::build(&config, &metrics, 0).unwrap(),
            ),
            metrics,
            assertions: None,
            tls: None,
            draining: AtomicBool::new(false),
            config,
        }
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn session(expires_at: i64) -> SessionInfo {
        SessionInfo {
            id: Uuid::from_u128(0x5e55),
            user_id: Uuid::from_u128(0xa11ce),
            created_at: at(NOW - 3600),
            last_seen_at: at(NOW),
            expires_at: at(expires_at),
            ip: None,
            user_agent: None,
            mfa: false,
        }
    }

    fn pair(app: &App, session_end: i64) -> Pair {
        let s = session(session_end);
        Pair::mint(app, s.user_id, "alice", s, 3, at(NOW)).unwrap()
    }

    fn max_age(cookie: &str) -> &str {
        cookie
            .split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .unwrap()
    }

    #[test]
    fn a_pair_for_a_long_session_lives_for_the_configured_ttls() {
        let app = app(&[
            ("GATEHOUSE_ACCESS_TTL", "15m"),
            ("GATEHOUSE_REFRESH_TTL", "7d"),
        ]);
        let p = pair(&app, NOW + 30 * 86_400);
        assert_eq!(p.access_exp, NOW + 900);
        assert_eq!(p.refresh_exp, NOW + 7 * 86_400);
    }

    #[test]
    fn neither_token_outlives_the_sessions_absolute_expiry() {
        let app = app(&[]);
        let p = pair(&app, NOW + 60);
        assert_eq!((p.access_exp, p.refresh_exp), (NOW + 60, NOW + 60));
        let access = app.keys.verify(&p.access, Kind::Access, NOW).unwrap();
        let refresh = app.keys.verify(&p.refresh, Kind::Refresh, NOW).unwrap();
        assert_eq!((access.exp, refresh.exp), (NOW + 60, NOW + 60));
    }

    #[test]
    fn the_tokens_name_the_user_and_session_and_only_the_refresh_token_has_a_generation() {
        let app = app(&[]);
        let p = pair(&app, NOW + 86_400);
        let access = app.keys.verify(&p.access, Kind::Access, NOW).unwrap();
        let refresh = app.keys.verify(&p.refresh, Kind::Refresh, NOW).unwrap();
        for c in [&access, &refresh] {
            assert_eq!((c.sub, c.sid), (p.user_id, p.session.id));
            assert_eq!(c.iat, NOW);
        }
        assert_eq!((access.gen, refresh.gen), (None, Some(3)));
    }

    #[test]
    fn the_body_without_bearer_transport_holds_no_token() {
        let app = app(&[]);
        let p = pair(&app, NOW + 60);
        assert_eq!(
            p.body(false),
            json!({
                "user": { "id": p.user_id, "username": "alice" },
                "session": {
                    "id": p.session.id,
                    "created_at": "2023-11-14T21:13:20Z",
                    "expires_at": "2023-11-14T22:14:20Z",
                    "mfa": false,
                },
                "access_expires_at": "2023-11-14T22:14:20Z",
                "refresh_expires_at": "2023-11-14T22:14:20Z",
            })
        );
    }

    #[test]
    fn the_body_for_bearer_transport_adds_both_tokens_and_their_type() {
        let app = app(&[]);
        let p = pair(&app, NOW + 86_400);
        let body = p.body(true);
        assert_eq!(body["access_token"], p.access.as_str());
        assert_eq!(body["refresh_token"], p.refresh.as_str());
        assert_eq!(body["token_type"], "Bearer");
        let mut without = body;
        for k in ["access_token", "refresh_token", "token_type"] {
            without.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(without, p.body(false));
    }

    #[test]
    fn the_cookies_carry_the_tokens_under_the_configured_names_until_they_expire() {
        let app = app(&[
            ("GATEHOUSE_COOKIE_SECURE", "false"),
            ("GATEHOUSE_ACCESS_TTL", "15m"),
            ("GATEHOUSE_REFRESH_TTL", "1d"),
        ]);
        let p = pair(&app, NOW + 30 * 86_400);
        let [access, refresh] = p.cookies(&app);
        assert!(
            access.starts_with(&format!("access_token={};", p.access)),
            "{access}"
        );
        assert!(
            refresh.starts_with(&format!("refresh_token={};", p.refresh)),
            "{refresh}"
        );
        assert_eq!((max_age(&access), max_age(&refresh)), ("900", "86400"));
    }

    #[test]
    fn the_cookies_end_with_the_session() {
        let app = app(&[]);
        let p = pair(&app, NOW + 60);
        let [access, refresh] = p.cookies(&app);
        assert!(access.starts_with("__Host-access_token="), "{access}");
        assert_eq!((max_age(&access), max_age(&refresh)), ("60", "60"));
    }

    #[test]
    fn a_pair_for_a_session_already_over_sets_cookies_that_expire_at_once() {
        let app = app(&[]);
        let p = pair(&app, NOW - 1);
        let [access, refresh] = p.cookies(&app);
        assert_eq!((max_age(&access), max_age(&refresh)), ("0", "0"));
    }

    #[test]
    fn the_identity_of_a_pair_is_its_user_and_session() {
        let app = app(&[]);
        let p = pair(&app, NOW + 60);
        let id = p.identity("ops", true);
        assert_eq!((id.user_id, id.session_id), (p.user_id, p.session.id));
        assert!(id.mfa);
        assert_eq!(id.header_values[1], "alice");
        assert_eq!(id.header_values[3], "ops");
    }
}
