//! The gateway's own JSON routes under `/auth` (CONTRACT §5): each takes the request's owned
//! parts and `now`, and returns a [`Reply`] or an [`Error`]. No Pingora types here.

use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::input::{self, Accepts};
use super::tokens::{self, Kind};
use super::{authenticate, Credentials, Identity};
use crate::error::Error;
use crate::request::RequestMeta;
use crate::respond::Reply;
use crate::routes::Route;
use crate::store::sessions::{Cause, Refreshed, SessionInfo};
use crate::store::users::{self, Created};
use crate::{forward, App};

/// One request to an `/auth` route, as the handlers see it.
pub struct Request<'a> {
    pub meta: &'a RequestMeta,
    pub body: &'a [u8],
    pub now: OffsetDateTime,
}

impl Request<'_> {
    fn creds<'b>(&'b self, app: &App) -> Credentials<'b> {
        Credentials::from_headers(&self.meta.headers, &app.cookies)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, accepts: Accepts) -> Result<T, Error> {
        input::parse(self.meta.header("content-type"), self.body, accepts)
    }

    async fn identity(&self, app: &App) -> Result<Identity, Error> {
        authenticate(app, &self.creds(app), self.now).await
    }
}

pub async fn handle(app: &App, route: &Route, req: &Request<'_>) -> Result<Reply, Error> {
    if matches!(req.meta.method, http::Method::POST | http::Method::DELETE)
        && !same_origin(app, req.meta)
    {
        return Err(Error::Csrf);
    }
    match route {
        Route::Register => register(app, req).await,
        Route::Login => login(app, req).await,
        Route::Refresh => refresh(app, req).await,
        Route::Logout => logout(app, req).await,
        Route::Me => me(app, req).await,
        Route::Sessions => sessions(app, req).await,
        Route::SessionRevoke(id) => revoke_one(app, req, *id).await,
        Route::SessionsAbort => abort(app, req).await,
        Route::Password => change_password(app, req).await,
        Route::Verify => forward::verify(app, req.meta, req.now).await,
        Route::LoginPage | Route::Account | Route::Forward | Route::AuthNotFound => {
            Err(Error::NotFound)
        }
        Route::WrongMethod(allow) => Err(Error::MethodNotAllowed { allow }),
        Route::Proxy => Err(Error::Internal(
            "proxy route reached the auth handlers".into(),
        )),
    }
}

/// CONTRACT §5: an unsafe request whose `Origin` (or, without one, `Referer`) names another
/// site is refused. Same origin means the gateway's public origin, the request's own `Host`,
/// or an allowed redirect host.
fn same_origin(app: &App, meta: &RequestMeta) -> bool {
    let claimed = match (meta.header("origin"), meta.header("referer")) {
        (Some(o), _) => o,
        (None, Some(r)) => r,
        (None, None) => return true,
    };
    let Some(authority) = authority_of(claimed) else {
        return false;
    };
    if authority_of(&app.config.public_url) == Some(authority) {
        return true;
    }
    if meta
        .header("host")
        .is_some_and(|h| h.eq_ignore_ascii_case(authority))
    {
        return true;
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    forward::host_allowed(&app.config.allowed_redirect_hosts, host)
}

/// `host[:port]` of an absolute http(s) URL.
fn authority_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty() && !authority.contains('@')).then_some(authority)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Postgres keeps microseconds; so do we, so a time we return equals the one we list later.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Cookie,
    Bearer,
}

fn transport(value: Option<&str>) -> Result<Transport, Error> {
    match value {
        None | Some("cookie") => Ok(Transport::Cookie),
        Some("bearer") => Ok(Transport::Bearer),
        Some(_) => Err(Error::Invalid(
            "token_transport must be \"cookie\" or \"bearer\".".into(),
        )),
    }
}

/// Mints an access and a refresh token for `session` at refresh generation `gen`, and answers
/// with the login body plus cookies (or, for bearer transport, the tokens in the body).
fn issue(
    app: &App,
    user_id: Uuid,
    username: &str,
    session: &SessionInfo,
    gen: i64,
    now: OffsetDateTime,
    transport: Transport,
) -> Result<Reply, Error> {
    let now_s = now.unix_timestamp();
    let session_end = session.expires_at.unix_timestamp();
    let access_exp = tokens::expiry(now_s, app.config.access_ttl).min(session_end);
    let refresh_exp = tokens::expiry(now_s, app.config.refresh_ttl).min(session_end);
    let mint = |kind, gen, exp| {
        app.keys
            .mint(kind, user_id, session.id, gen, now_s, exp)
            .map_err(|e| Error::Internal(format!("signing failed: {e}")))
    };
    let access = mint(Kind::Access, None, access_exp)?;
    let refresh = mint(Kind::Refresh, Some(gen), refresh_exp)?;
    let at = |s: i64| rfc3339(OffsetDateTime::from_unix_timestamp(s).unwrap_or(now));
    let mut body = json!({
        "user": { "id": user_id, "username": username },
        "session": {
            "id": session.id,
            "created_at": rfc3339(session.created_at),
            "expires_at": rfc3339(session.expires_at),
        },
        "access_expires_at": at(access_exp),
        "refresh_expires_at": at(refresh_exp),
    });
    if transport == Transport::Bearer {
        body["access_token"] = access.into();
        body["refresh_token"] = refresh.into();
        body["token_type"] = "Bearer".into();
        return Ok(Reply::json(200, &body));
    }
    let max_age =
        |exp: i64| std::time::Duration::from_secs(u64::try_from(exp - now_s).unwrap_or(0));
    let c = &app.cookies;
    Ok(Reply::json(200, &body).cookies([
        c.set(&c.access, &access, max_age(access_exp)),
        c.set(&c.refresh, &refresh, max_age(refresh_exp)),
    ]))
}

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    password: String,
}

async fn register(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    if !app.config.registration_open {
        return Err(Error::RegistrationClosed);
    }
    let body: RegisterBody = req.parse(Accepts::JsonOrForm)?;
    let name = input::username(&body.username)?;
    input::password(&body.password)?;
    let hash = app.hasher.hash(&body.password).await?;
    match users::create(&app.db, &name.display, &name.canonical, &hash).await? {
        Created::Ok(user) => Ok(Reply::json(
            201,
            &json!({ "id": user.id, "username": user.username, "created_at": rfc3339(user.created_at) }),
        )),
        Created::Taken => Err(Error::UsernameTaken),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    token_transport: Option<String>,
}

async fn login(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: LoginBody = req.parse(Accepts::JsonOrForm)?;
    let transport = transport(body.token_transport.as_deref())?;
    // An impossible username is looked up as nobody: the answer and its cost stay the same.
    let user = match input::username(&body.username) {
        Ok(name) => users::credentials(&app.db, &name.canonical).await?,
        Err(_) => None,
    };
    let verified = app
        .hasher
        .verify(
            &body.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        _ => {
            app.metrics.login("failed");
            return Err(Error::InvalidCredentials);
        }
    };
    let user_agent = req.meta.header("user-agent").map(|ua| truncate(ua, 512));
    let session = app
        .sessions
        .create(
            user.id,
            req.meta.client_ip,
            user_agent,
            req.now,
            app.config.session_ttl,
        )
        .await?;
    app.metrics.login("ok");
    issue(
        app,
        user.id,
        &user.username,
        &session,
        0,
        req.now,
        transport,
    )
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[derive(Deserialize, Default)]
struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    token_transport: Option<String>,
}

async fn refresh(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: RefreshBody = req.parse(Accepts::Json)?;
    let transport = transport(body.token_transport.as_deref())?;
    let creds = req.creds(app);
    let from_cookie = body.refresh_token.is_none();
    let token = body.refresh_token.as_deref().or(creds.refresh_cookie);
    let clear = |e: Error| {
        let reply = Reply::error(&e);
        if from_cookie {
            reply.cookies(app.cookies.clear_both())
        } else {
            reply
        }
    };
    let Some(token) = token else {
        return Ok(clear(Error::InvalidToken));
    };
    let Ok(claims) = app
        .keys
        .verify(token, Kind::Refresh, req.now.unix_timestamp())
    else {
        return Ok(clear(Error::InvalidToken));
    };
    let gen = claims.gen.unwrap_or(-1);
    match app
        .sessions
        .refresh(
            claims.sid,
            claims.sub,
            gen,
            req.now,
            app.config.refresh_reuse_grace,
        )
        .await?
    {
        Refreshed::Issued {
            gen,
            session,
            username,
        } => issue(
            app, claims.sub, &username, &session, gen, req.now, transport,
        ),
        Refreshed::Reused => Ok(clear(Error::TokenReused)),
        Refreshed::Invalid => Ok(clear(Error::InvalidToken)),
    }
}

async fn logout(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let creds = req.creds(app);
    let now_s = req.now.unix_timestamp();
    // The access token names the session; an expired one is read through the refresh token.
    let session = creds
        .access()
        .and_then(|t| app.keys.verify(t, Kind::Access, now_s).ok())
        .or_else(|| {
            creds
                .refresh_cookie
                .and_then(|t| app.keys.verify(t, Kind::Refresh, now_s).ok())
        });
    if let Some(claims) = session {
        app.sessions
            .revoke(claims.sid, Some(claims.sub), Cause::Logout, req.now)
            .await?;
    }
    Ok(Reply::empty(204).cookies(app.cookies.clear_both()))
}

async fn me(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let id = req.identity(app).await?;
    let user = users::by_id(&app.db, id.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let session = app
        .sessions
        .active_info(id.session_id, id.user_id, req.now)
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Reply::json(
        200,
        &json!({
            "user": { "id": user.id, "username": user.username, "created_at": rfc3339(user.created_at) },
            "session": {
                "id": session.id,
                "created_at": rfc3339(session.created_at),
                "expires_at": rfc3339(session.expires_at),
                "ip": session.ip,
                "user_agent": session.user_agent,
            },
        }),
    ))
}

async fn sessions(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let id = req.identity(app).await?;
    let list = app.sessions.list_active(id.user_id, req.now).await?;
    let sessions: Vec<_> = list
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "created_at": rfc3339(s.created_at),
                "last_seen_at": rfc3339(s.last_seen_at),
                "expires_at": rfc3339(s.expires_at),
                "ip": s.ip,
                "user_agent": s.user_agent,
                "current": s.id == id.session_id,
            })
        })
        .collect();
    Ok(Reply::json(200, &json!({ "sessions": sessions })))
}

async fn revoke_one(app: &App, req: &Request<'_>, sid: Uuid) -> Result<Reply, Error> {
    let id = req.identity(app).await?;
    if !app
        .sessions
        .revoke(sid, Some(id.user_id), Cause::Revoke, req.now)
        .await?
    {
        return Err(Error::NotFound);
    }
    let reply = Reply::empty(204);
    Ok(if sid == id.session_id {
        reply.cookies(app.cookies.clear_both())
    } else {
        reply
    })
}

#[derive(Deserialize, Default)]
struct AbortBody {
    #[serde(default)]
    keep_current: bool,
}

async fn abort(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: AbortBody = req.parse(Accepts::Json)?;
    let id = req.identity(app).await?;
    let keep = body.keep_current.then_some(id.session_id);
    let revoked = app
        .sessions
        .revoke_all(id.user_id, keep, Cause::Abort, req.now)
        .await?;
    let reply = Reply::json(200, &json!({ "revoked": revoked.len() }));
    Ok(if body.keep_current {
        reply
    } else {
        reply.cookies(app.cookies.clear_both())
    })
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    let hash = users::password_hash(&app.db, id.user_id).await?;
    if !app
        .hasher
        .verify(&body.current_password, hash.as_deref())
        .await?
    {
        return Err(Error::InvalidCredentials);
    }
    input::password(&body.new_password)?;
    let new_hash = app.hasher.hash(&body.new_password).await?;
    users::set_password(&app.db, id.user_id, &new_hash).await?;
    app.sessions
        .revoke_all(
            id.user_id,
            Some(id.session_id),
            Cause::PasswordChange,
            req.now,
        )
        .await?;
    Ok(Reply::empty(204))
}
