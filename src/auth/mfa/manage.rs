//! The routes a signed-in user manages second factors with (docs/contract.md §10): list them
//! (`GET /auth/mfa`), set up an authenticator app (`POST /auth/mfa/totp`, then
//! `…/totp/confirm`), remove it (`DELETE /auth/mfa/totp`), renew the recovery codes, and step
//! up (`POST /auth/mfa/verify`). A password is re-entered wherever a factor changes.

use serde::Deserialize;
use serde_json::json;

use super::{canonical, confirm_password, recovery, reserve, totp, Presented};
use crate::auth::input::Accepts;
use crate::auth::Request;
use crate::error::Error;
use crate::reply::Reply;
use crate::store::audit::{self, Event};
use crate::store::mfa::{self, Confirmed, SteppedUp};
use crate::App;

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

#[derive(Deserialize)]
struct ConfirmBody {
    code: String,
}

#[derive(Deserialize)]
struct CodeBody {
    method: String,
    code: String,
}

fn random_failed(e: getrandom::Error) -> Error {
    Error::Internal(format!("the operating system's random source failed: {e}"))
}

/// `GET /auth/mfa` for API clients: which factors are set up.
pub async fn status(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let id = req.identity(app).await?;
    let f = mfa::factors(&app.db, id.user_id).await?;
    Ok(Reply::json(
        200,
        &json!({
            "totp": f.totp,
            "webauthn": [],
            "recovery_codes_left": f.recovery_codes_left,
        }),
    ))
}

/// `POST /auth/mfa/totp {password}`: a new secret, pending until a code confirms it. Asking
/// again before confirming replaces the pending secret.
pub async fn start_totp(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    confirm_password(app, &id, req.meta.client_ip, &body.password).await?;
    let secret = totp::Secret::generate().map_err(random_failed)?;
    if !mfa::begin_totp(&app.db, id.user_id, &secret.0, req.now).await? {
        return Err(Error::TotpEnabled);
    }
    let issuer = totp::issuer(app.config.public_url.host());
    let uri = totp::otpauth_uri(&secret, issuer, id.username());
    let svg = totp::qr_svg(&uri).map_err(|e| Error::Internal(format!("QR code: {e}")))?;
    Ok(Reply::json(
        200,
        &json!({ "secret": secret.base32(), "otpauth_uri": uri, "qr_svg": svg }),
    ))
}

/// `POST /auth/mfa/totp/confirm {code}`: the first code proves the app has the secret. The
/// factor is active, the current session two-factor at once (here, and on every instance
/// within the revocation bound), and for a first factor the recovery codes are shown, once.
/// A wrong code changes nothing: the pending secret stays usable.
pub async fn confirm_totp(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: ConfirmBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    if !totp::well_formed(&body.code) {
        return Err(Error::Invalid(
            "A TOTP code is exactly 6 digits, without spaces.".into(),
        ));
    }
    let secret = mfa::pending_totp(&app.db, id.user_id)
        .await?
        .ok_or(Error::TotpNotPending)?;
    let Some(step) = totp::matching_step(&secret, &body.code, req.now.unix_timestamp()) else {
        app.metrics.second_factor("enrol", "totp", "invalid_code");
        return Err(Error::InvalidCode);
    };
    let set = recovery::generate().map_err(random_failed)?;
    let enrolment = mfa::Enrolment {
        user_id: id.user_id,
        sid: id.session_id,
        secret: &secret,
        step,
        codes: &set.stored,
    };
    let confirmed = mfa::confirm_totp(&app.db, &app.sessions, &enrolment, req.now).await?;
    let Confirmed::Done { first } = confirmed else {
        return Err(Error::TotpNotPending);
    };
    app.metrics.second_factor("enrol", "totp", "ok");
    let event = Event::new(audit::Kind::MfaEnrolled)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    audit::record(&app.db, event.detail("totp")).await;
    Ok(Reply::json(
        200,
        &if first {
            json!({ "recovery_codes": set.codes })
        } else {
            json!({})
        },
    ))
}

/// `DELETE /auth/mfa/totp {password}`: the authenticator app goes (and with the last factor,
/// the recovery codes). Sessions keep how they were made.
pub async fn remove_totp(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    confirm_password(app, &id, req.meta.client_ip, &body.password).await?;
    if !mfa::remove_totp(&app.db, id.user_id).await? {
        return Err(Error::NotFound);
    }
    let event = Event::new(audit::Kind::MfaRemoved)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    audit::record(&app.db, event.detail("totp")).await;
    Ok(Reply::empty(204))
}

/// `POST /auth/mfa/recovery-codes {password}`: a new set of ten; the old set stops working.
pub async fn renew_codes(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    confirm_password(app, &id, req.meta.client_ip, &body.password).await?;
    let set = recovery::generate().map_err(random_failed)?;
    if !mfa::renew_codes(&app.db, id.user_id, &set.stored, req.now).await? {
        return Err(Error::MfaNotEnrolled);
    }
    let event = Event::new(audit::Kind::MfaEnrolled)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    audit::record(&app.db, event.detail("new recovery codes")).await;
    Ok(Reply::json(200, &json!({ "recovery_codes": set.codes })))
}

/// `POST /auth/mfa/verify {method, code}`: step-up. The current session becomes two-factor:
/// at once on this instance, and on the others as fast as a revocation reaches them. Wrong
/// codes count against the login limits, so a stolen session cannot guess codes faster than a
/// sign-in could.
pub async fn verify(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: CodeBody = req.parse(Accepts::JsonOrForm)?;
    let id = req.identity(app).await?;
    let presented = Presented::parse(&body.method, &body.code, req.now)?;
    let method = presented.method();
    if !mfa::factors(&app.db, id.user_id).await?.any() {
        return Err(Error::MfaNotEnrolled);
    }
    let attempt = match reserve(app, req.meta.client_ip, &canonical(&id)) {
        Ok(a) => a,
        Err(e) => {
            app.metrics.second_factor("step_up", method, "rate_limited");
            return Err(e);
        }
    };
    let stepped = mfa::step_up(
        &app.db,
        &app.sessions,
        id.user_id,
        id.session_id,
        presented.proof(),
        req.now,
    )
    .await?;
    let event = Event::new(audit::Kind::MfaFailed)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    let spent = match stepped {
        SteppedUp::Done(spent) => spent,
        SteppedUp::SessionGone => return Err(Error::Unauthorized),
        SteppedUp::WrongCode => {
            attempt.failed();
            app.metrics.second_factor("step_up", method, "invalid_code");
            let detail = format!("step-up: wrong {method} code");
            audit::record(&app.db, event.detail(&detail)).await;
            return Err(Error::InvalidCode);
        }
    };
    app.metrics.second_factor("step_up", method, "ok");
    if let Some(left) = spent.recovery_codes_left {
        let detail = format!("step-up; {left} left");
        let event = Event {
            kind: audit::Kind::RecoveryCodeUsed,
            ..event
        };
        audit::record(&app.db, event.detail(&detail)).await;
    }
    Ok(Reply::empty(204))
}
