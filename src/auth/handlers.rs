//! The gateway's own JSON routes under `/auth` (docs/contract.md §5): each takes the request's owned
//! parts and `now`, and returns a [`Reply`] or an [`Error`]. No Pingora types here.

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::input::Accepts;
use super::limits;
use super::pair::{self, Pair, Rotated};
use super::refusal::{self, Refusal};
use super::tokens::Kind;
use super::{account, browser, csrf, input, invite_token, mfa, Request};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::reply::Reply;
use crate::routes::Route;
use crate::store::audit::{self, Event};
use crate::store::invites;
use crate::store::mfa as mfa_store;
use crate::store::sessions::{Cause, NewSession};
use crate::store::signup::{self, Admission, NewUser, SignedUp};
use crate::store::users::{self, CredentialChange};
use crate::App;

pub async fn handle(app: &App, route: &Route, req: &Request<'_>) -> Result<Reply, Error> {
    if matches!(req.meta.method, http::Method::POST | http::Method::DELETE)
        && !csrf::same_origin(app, req.meta)
    {
        return Err(Error::Csrf);
    }
    let outcome = match account::unconfirmed(route, req) {
        Some(mismatch) => Err(mismatch),
        None => dispatch(app, route, req).await,
    };
    let form_twin = matches!(
        route,
        Route::Login
            | Route::Register
            | Route::Logout
            | Route::SessionsAbort
            | Route::SessionRevoke(_)
            | Route::Password
            | Route::LoginMfa
            | Route::MfaTotp
            | Route::MfaTotpConfirm
            | Route::MfaTotpRemove
            | Route::MfaRecoveryCodes
            | Route::MfaVerify
    );
    if form_twin && req.meta.method == http::Method::POST && browser::is_form(req) {
        match route {
            Route::Password => return account::after_password_form(app, req, outcome).await,
            Route::MfaTotpRemove | Route::MfaRecoveryCodes => {
                return account::after_security_form(app, route, req, outcome).await
            }
            Route::LoginMfa | Route::MfaTotp | Route::MfaTotpConfirm | Route::MfaVerify => {
                return mfa::forms::after_form(app, route, req, outcome).await
            }
            _ => {}
        }
        return browser::after_form(app, route, req, outcome);
    }
    // A browser that opens an address under /auth gets a page for what has one (404, 503),
    // as it does on the proxy path (docs/contract.md §6).
    match outcome {
        Err(e)
            if req.meta.method == http::Method::GET
                && crate::request::is_browser(&req.meta.headers) =>
        {
            Ok(crate::pages::answer(&e, true, None))
        }
        outcome => outcome,
    }
}

async fn dispatch(app: &App, route: &Route, req: &Request<'_>) -> Result<Reply, Error> {
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
        Route::LoginPage => browser::login_page(app, req).await,
        Route::RegisterPage => browser::register_page(app, req).await,
        Route::Account => account::account(app, req).await,
        Route::MfaPage if crate::request::is_browser(&req.meta.headers) => {
            mfa::forms::mfa_page(app, req).await
        }
        Route::MfaPage => mfa::status(app, req).await,
        Route::LoginMfa => mfa::sign_in::finish(app, req).await,
        Route::MfaTotp => mfa::start_totp(app, req).await,
        Route::MfaTotpConfirm => mfa::confirm_totp(app, req).await,
        Route::MfaTotpRemove => mfa::remove_totp(app, req).await,
        Route::MfaRecoveryCodes => mfa::renew_codes(app, req).await,
        Route::MfaVerify => mfa::verify(app, req).await,
        Route::MfaVerifyWebauthnStart => mfa::webauthn_step_up_start(app, req).await,
        Route::MfaWebauthnRegisterStart => mfa::register_start(app, req).await,
        Route::MfaWebauthnRegisterFinish => mfa::register_finish(app, req).await,
        Route::MfaWebauthnRemove(id) => mfa::remove_passkey(app, req, *id).await,
        Route::LoginMfaWebauthnStart => mfa::webauthn_sign_in_start(app, req).await,
        Route::LoginPasskeyStart => mfa::passkey_start(app, req).await,
        Route::LoginPasskeyFinish => mfa::passkey_finish(app, req).await,
        Route::WebauthnScript => Ok(Reply::script(WEBAUTHN_JS)),
        Route::OpenApi => Ok(Reply::raw_json(200, OPENAPI)),
        Route::Jwks => Ok(super::assertion::jwks_reply(app)),
        Route::AuthNotFound => Err(Error::NotFound),
        Route::WrongMethod(allow) => Err(Error::MethodNotAllowed { allow }),
        // The gateway answers these itself (access/): reaching here is a wiring bug.
        Route::Proxy | Route::Verify | Route::Forward => Err(Error::Internal(format!(
            "{route:?} reached the auth handlers"
        ))),
    }
}

/// The pages' WebAuthn ceremonies, served at `/auth/static/webauthn.js` (the pages' CSP
/// allows scripts from the gateway's own origin only).
pub const WEBAUTHN_JS: &str = include_str!("../pages/webauthn.js");

/// The OpenAPI 3.1 document of these routes, served at `/auth/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Cookie,
    Bearer,
}

pub(crate) fn transport(value: Option<&str>) -> Result<Transport, Error> {
    match value {
        None | Some("cookie") => Ok(Transport::Cookie),
        Some("bearer") => Ok(Transport::Bearer),
        Some(_) => Err(Error::Invalid(
            "token_transport must be \"cookie\" or \"bearer\".".into(),
        )),
    }
}

/// The login/refresh answer: body plus cookies, or for bearer transport the tokens in the body.
pub(crate) fn issue(app: &App, pair: &Pair, transport: Transport) -> Reply {
    match transport {
        Transport::Bearer => Reply::json(200, &pair.body(true)),
        Transport::Cookie => Reply::json(200, &pair.body(false)).cookies(pair.cookies(app)),
    }
}

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    password: String,
    #[serde(default)]
    invite: Option<String>,
}

/// docs/contract.md §9: an invite is accepted in every mode; without one, only open
/// registration admits. The cheap refusals come first, then a look at the invite before bcrypt
/// runs for it, then the transaction that decides (`store::signup`).
async fn register(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: RegisterBody = req.parse(Accepts::JsonOrForm)?;
    let invite = match body.invite.as_deref().filter(|s| !s.is_empty()) {
        Some(token) => Some(invite_token::fingerprint(token).ok_or(Error::InvalidInvite)?),
        None => match browser::refusal_without_invite(app.config.registration) {
            Some(refused) => return Err(refused),
            None => None,
        },
    };
    let name = input::username(&body.username)?;
    input::password(&body.password)?;
    if let Some(hash) = &invite {
        if !invites::usable(&app.db, hash).await? {
            return Err(Error::InvalidInvite);
        }
    }
    let hash = app.hasher.hash(&body.password).await?;
    let admission = match &invite {
        Some(hash) => Admission::Invite(hash),
        None => Admission::Open(&app.config.registration_groups),
    };
    let new = NewUser {
        username: &name.display,
        canonical: &name.canonical,
        password_hash: &hash,
    };
    match signup::sign_up(&app.db, &new, admission).await? {
        SignedUp::Ok { user, invite } => {
            if let Some(invite) = invite {
                let detail = format!("invite {invite}");
                let event = Event::new(audit::Kind::InviteUsed).user(user.id);
                audit::record(&app.db, event.ip(req.meta.client_ip).detail(&detail)).await;
            }
            let reply = Reply::json(
                201,
                &json!({ "id": user.id, "username": user.username, "created_at": rfc3339(user.created_at) }),
            );
            // The sign-up page's form post is signed in at once, so that nobody types the new
            // password a second time; the JSON route stays as it was (docs/contract.md §5).
            if !browser::is_form(req) {
                return Ok(reply);
            }
            let creds = users::credentials(&app.db, &name.canonical).await?;
            match creds.filter(|c| c.id == user.id && !c.disabled) {
                Some(c) => match open_session(app, req, &c).await? {
                    Some(pair) => Ok(reply.cookies(pair.cookies(app))),
                    None => Ok(reply),
                },
                None => Ok(reply),
            }
        }
        SignedUp::Taken => Err(Error::UsernameTaken),
        SignedUp::InvalidInvite => Err(Error::InvalidInvite),
        SignedUp::InviteGroupGone { invite, group } => {
            tracing::warn!(
                invite_id = %invite,
                group = %group,
                "a sign-up was refused: its invite names a group deleted since; make a new invite"
            );
            Err(Error::InvalidInvite)
        }
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
    let name = input::username(&body.username).ok();
    let ip_key = limits::ip_key(req.meta.client_ip);
    let user_key = name.as_ref().map(|n| limits::user_key(&n.canonical));
    let keys: Vec<&str> = [Some(ip_key.as_str()), user_key.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let attempt = match app.login_limits.reserve(&keys, std::time::Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            app.metrics.login("rate_limited");
            let ip = req.meta.client_ip;
            refusal::record(app, ip, &body.username, None, Refusal::RateLimited).await;
            return Err(Error::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
    };
    // An impossible username is looked up as nobody: the answer and its cost stay the same.
    let user = match &name {
        Some(name) => users::credentials(&app.db, &name.canonical).await?,
        None => None,
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
        other => {
            app.metrics.login("failed");
            attempt.failed();
            let why = match &other {
                None if name.is_none() => Refusal::InvalidUsername,
                None => Refusal::UnknownUser,
                Some(u) if u.disabled => Refusal::DisabledUser,
                Some(_) => Refusal::WrongPassword,
            };
            let (ip, user) = (req.meta.client_ip, other.map(|u| u.id));
            refusal::record(app, ip, &body.username, user, why).await;
            return Err(Error::InvalidCredentials);
        }
    };
    // docs/contract.md §10: a user with a second factor gets a pending sign-in, not a session.
    let factors = mfa_store::factors(&app.db, user.id).await?;
    if factors.any() {
        let bearer = transport == Transport::Bearer;
        return mfa::sign_in::begin(app, req, &user, &factors, bearer).await;
    }
    let Some(pair) = open_session(app, req, &user).await? else {
        // The password changed (or the user was disabled) while this sign-in checked the old
        // one: the credentials it verified are no longer the user's.
        app.metrics.login("failed");
        let why = Refusal::CredentialsChanged;
        refusal::record(app, req.meta.client_ip, &body.username, Some(user.id), why).await;
        return Err(Error::InvalidCredentials);
    };
    app.metrics.login("ok");
    Ok(issue(app, &pair, transport))
}

/// A new one-factor session for `user`, whose password was just verified (a sign-in without a
/// second factor, or a sign-up that set it), and its first token pair; `None` when the
/// credentials changed since they were read.
async fn open_session(
    app: &App,
    req: &Request<'_>,
    user: &users::Credentials,
) -> Result<Option<Pair>, Error> {
    let user_agent = req.meta.header("user-agent").map(|ua| truncate(ua, 512));
    let new = NewSession {
        user_id: user.id,
        credential_version: user.credential_version,
        ip: req.meta.client_ip,
        user_agent,
        now: req.now,
        ttl: app.config.session_ttl,
        mfa: false,
    };
    let Some(session) = app.sessions.create(&new).await? else {
        return Ok(None);
    };
    audit::record(
        &app.db,
        Event::new(audit::Kind::LoginOk)
            .user(user.id)
            .session(session.id)
            .ip(req.meta.client_ip)
            .username(&user.username),
    )
    .await;
    Ok(Some(Pair::mint(
        app,
        user.id,
        &user.username,
        session,
        0,
        req.now,
    )?))
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> &str {
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
    // A client that holds its refresh token itself wants the new pair where it keeps the old
    // one (docs/contract.md §5), unless it asks for cookies outright.
    let transport = match body.token_transport.as_deref() {
        None if body.refresh_token.is_some() => Transport::Bearer,
        given => transport(given)?,
    };
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
    match pair::rotate(app, token, req.now, req.meta.client_ip).await? {
        Rotated::Issued(pair) => Ok(issue(app, &pair, transport)),
        Rotated::Reused => Ok(clear(Error::TokenReused)),
        Rotated::Invalid => Ok(clear(Error::InvalidToken)),
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
        let revoked = app
            .sessions
            .revoke(claims.sid, Some(claims.sub), Cause::Logout, req.now)
            .await?;
        if revoked {
            let event = Event::new(audit::Kind::Logout)
                .user(claims.sub)
                .session(claims.sid);
            audit::record(&app.db, event.ip(req.meta.client_ip)).await;
        }
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
            "user": {
                "id": user.id,
                "username": user.username,
                "created_at": rfc3339(user.created_at),
                "groups": id.groups().collect::<Vec<_>>(),
            },
            "session": {
                "id": session.id,
                "created_at": rfc3339(session.created_at),
                "expires_at": rfc3339(session.expires_at),
                "ip": session.ip,
                "user_agent": session.user_agent,
                "mfa": session.mfa,
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
                "mfa": s.mfa,
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
    let event = Event::new(audit::Kind::Revoke)
        .user(id.user_id)
        .session(sid);
    audit::record(&app.db, event.ip(req.meta.client_ip)).await;
    let reply = Reply::empty(204);
    Ok(if sid == id.session_id {
        reply.cookies(app.cookies.clear_both())
    } else {
        reply
    })
}

#[derive(Deserialize, Default)]
struct AbortBody {
    #[serde(default, deserialize_with = "input::flag")]
    keep_current: bool,
}

async fn abort(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: AbortBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    let keep = body.keep_current.then_some(id.session_id);
    let revoked = app
        .sessions
        .revoke_all(id.user_id, keep, Cause::Abort, req.now)
        .await?;
    let detail = format!("{} session(s) revoked", revoked.len());
    let event = Event::new(audit::Kind::Abort)
        .user(id.user_id)
        .session(id.session_id);
    audit::record(&app.db, event.ip(req.meta.client_ip).detail(&detail)).await;
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
    app.sessions
        .change_credentials(
            id.user_id,
            CredentialChange::Password(&new_hash),
            Some(id.session_id),
            Cause::PasswordChange,
            req.now,
        )
        .await?
        .ok_or(Error::Unauthorized)?;
    let event = Event::new(audit::Kind::PasswordChange)
        .user(id.user_id)
        .session(id.session_id);
    audit::record(&app.db, event.ip(req.meta.client_ip)).await;
    Ok(Reply::empty(204))
}
