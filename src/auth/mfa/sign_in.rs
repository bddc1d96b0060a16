//! Signing in with a second factor (docs/contract.md §10). The right password of a user with a
//! factor starts a pending sign-in instead of a session: 200 `{mfa_required, methods}` with a
//! 5-minute `mfa_pending` cookie, or an `mfa_token` in the body for bearer transport. Then
//! `POST /auth/login/mfa {method, code}` finishes it and answers as a login does.
//!
//! The pending sign-in lives in PostgreSQL (`store/mfa.rs`), so the second step may reach any
//! instance. It ends after five wrong codes, after five minutes, and when the user's password
//! changes, the user is disabled or an administrator resets their factors; each wrong code
//! also counts against the login limits of the client address and the user.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::{reserve, Presented};
use crate::auth::handlers::{issue, transport, truncate, Transport};
use crate::auth::input::Accepts;
use crate::auth::pair::Pair;
use crate::auth::{cookies, invite_token, Request};
use crate::error::Error;
use crate::reply::Reply;
use crate::store::audit::{self, Event};
use crate::store::mfa::{self, Factors, Finished};
use crate::store::sessions::NewSession;
use crate::store::users;
use crate::App;

/// How long the second step may take.
pub const PENDING_TTL: Duration = Duration::from_secs(300);

/// The answer to the right password of a user with a factor: a pending sign-in, no session
/// and no tokens. The token is made like an invite's (32 random bytes, only its SHA-256
/// stored).
pub async fn begin(
    app: &App,
    req: &Request<'_>,
    user: &users::Credentials,
    factors: &Factors,
    bearer: bool,
) -> Result<Reply, Error> {
    let minted = invite_token::mint()
        .map_err(|e| Error::Internal(format!("the random source failed: {e}")))?;
    let begun = mfa::begin_sign_in(
        &app.db,
        user.id,
        user.credential_version,
        &minted.hash,
        req.now,
        PENDING_TTL,
    )
    .await?;
    if !begun {
        // The password changed (or the user was disabled, or reset) while this sign-in
        // checked the old one, as `handlers::login` answers the same race.
        app.metrics.login("failed");
        return Err(Error::InvalidCredentials);
    }
    app.metrics.login("mfa_required");
    let mut body = json!({ "mfa_required": true, "methods": factors.methods() });
    if bearer {
        body["mfa_token"] = minted.token.into();
        return Ok(Reply::json(200, &body));
    }
    let c = &app.cookies;
    Ok(Reply::json(200, &body).cookies([c.set(&c.mfa_pending, &minted.token, PENDING_TTL)]))
}

/// Whether `reply` is [`begin`]'s (it sets the pending cookie), for the sign-in form's twin.
pub fn is_pending(app: &App, reply: &Reply) -> bool {
    let prefix = format!("{}=", app.cookies.mfa_pending);
    reply
        .headers
        .iter()
        .any(|(n, v)| *n == "set-cookie" && v.starts_with(&prefix) && !v.contains("Max-Age=0"))
}

#[derive(Deserialize)]
struct SecondStep {
    method: String,
    code: String,
    #[serde(default)]
    mfa_token: Option<String>,
    #[serde(default)]
    token_transport: Option<String>,
}

/// `POST /auth/login/mfa`.
pub async fn finish(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: SecondStep = req.parse(Accepts::JsonOrForm)?;
    let presented = Presented::parse(&body.method, &body.code, req.now)?;
    let method = presented.method();
    let from_body = body.mfa_token.is_some();
    // As with refresh: a token the client holds itself is answered in the body.
    let transport = match body.token_transport.as_deref() {
        None if from_body => Transport::Bearer,
        given => transport(given)?,
    };
    let cookie = cookies::find_one(
        req.meta
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
        &app.cookies.mfa_pending,
    );
    let clear = |reply: Reply| {
        if from_body {
            reply
        } else {
            reply.cookies([app.cookies.clear(&app.cookies.mfa_pending)])
        }
    };
    let expired = || {
        app.metrics.second_factor("sign_in", method, "expired");
        Ok(clear(Reply::error(&Error::SignInExpired)))
    };
    let token = body.mfa_token.as_deref().or(cookie);
    let Some(hash) = token.and_then(invite_token::fingerprint) else {
        return expired();
    };
    let Some((user_id, canonical)) = mfa::pending_user(&app.db, &hash, req.now).await? else {
        return expired();
    };
    let attempt = match reserve(app, req.meta.client_ip, &canonical) {
        Ok(a) => a,
        Err(e) => {
            app.metrics.second_factor("sign_in", method, "rate_limited");
            let event = Event::new(audit::Kind::LoginRateLimited).user(user_id);
            audit::record(&app.db, event.ip(req.meta.client_ip)).await;
            return Err(e);
        }
    };
    let new = NewSession {
        user_id,
        credential_version: 0,
        ip: req.meta.client_ip,
        user_agent: req.meta.header("user-agent").map(|ua| truncate(ua, 512)),
        now: req.now,
        ttl: app.config.session_ttl,
        mfa: true,
    };
    match mfa::finish_sign_in(&app.db, &hash, presented.proof(), &new).await? {
        Finished::SignedIn {
            session,
            user_id,
            username,
            spent,
        } => {
            app.metrics.login("ok");
            app.metrics.second_factor("sign_in", method, "ok");
            let event = Event::new(audit::Kind::LoginOk)
                .user(user_id)
                .session(session.id)
                .ip(req.meta.client_ip);
            let detail = format!("second factor: {method}");
            audit::record(&app.db, event.clone().detail(&detail)).await;
            if let Some(left) = spent.recovery_codes_left {
                let detail = format!("{left} left");
                let used = Event {
                    kind: audit::Kind::RecoveryCodeUsed,
                    ..event
                };
                audit::record(&app.db, used.detail(&detail)).await;
            }
            let pair = Pair::mint(app, user_id, &username, session, 0, req.now)?;
            Ok(clear(issue(app, &pair, transport)))
        }
        Finished::WrongCode { user_id, ended } => {
            attempt.failed();
            app.metrics.login("failed");
            let outcome = if ended { "ended" } else { "invalid_code" };
            app.metrics.second_factor("sign_in", method, outcome);
            let detail = if ended {
                format!(
                    "wrong {method} code; the sign-in ended after {} failures",
                    mfa::MAX_FAILURES
                )
            } else {
                format!("wrong {method} code")
            };
            let event = Event::new(audit::Kind::MfaFailed)
                .user(user_id)
                .ip(req.meta.client_ip);
            audit::record(&app.db, event.detail(&detail)).await;
            let reply = Reply::error(&Error::InvalidCode);
            Ok(if ended { clear(reply) } else { reply })
        }
        Finished::Gone => expired(),
    }
}
