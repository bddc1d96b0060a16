//! The browser side of second factors (docs/contract.md §10): the sign-in page's second step
//! (`GET /auth/login?step=mfa`), the `/auth/mfa` page (step-up, or setting up an app), and
//! what their form posts get back: the JSON routes do the work, and here a form post gets
//! the next page, or a 303 to it, instead of JSON. The account page's own second-factor forms
//! come back through `auth/account.rs`.

use std::collections::HashMap;

use super::totp;
use crate::auth::browser::{fields, go_to, page, safe_rd};
use crate::auth::redirect::{login_location, mfa_location};
use crate::auth::{authenticate_or_refresh, cookies, invite_token, Credentials, Request};
use crate::error::Error;
use crate::pages::{self, CodeKind, CodePage, CodeStep, LoginForm, LoginPage};
use crate::reply::Reply;
use crate::routes::Route;
use crate::store::mfa as store;
use crate::App;

const WRONG_TOTP: &str = "That code is not right. Enter the code your app shows now.";
const WRONG_RECOVERY: &str = "That recovery code is not right, or it was used already.";
const ENDED: &str =
    "Too many wrong codes: this sign-in has ended. Sign in with your password again.";
const EXPIRED: &str =
    "Your sign-in waited too long for its code and has ended. Sign in with your password again.";
const WRONG_PASSWORD: &str = "The password is not right.";

/// `GET /auth/login?step=mfa&rd=…[&method=recovery]`: the code form, while the sign-in it
/// finishes is alive; otherwise the first step, saying the sign-in has ended.
pub async fn second_step_page(
    app: &App,
    req: &Request<'_>,
    query: &HashMap<String, String>,
    rd: &str,
) -> Result<Reply, Error> {
    let cookie = cookies::find_one(
        req.meta
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
        &app.cookies.mfa_pending,
    );
    let live = match cookie.and_then(invite_token::fingerprint) {
        Some(hash) => store::pending_user(&app.db, &hash, req.now)
            .await?
            .is_some(),
        None => false,
    };
    if !live {
        let reply = first_step(app, rd, 200, EXPIRED);
        return Ok(match cookie {
            Some(_) => reply.cookies([app.cookies.clear(&app.cookies.mfa_pending)]),
            None => reply,
        });
    }
    let kind = CodeKind::from_query(query.get("method").map(String::as_str));
    Ok(code_page(app, CodeStep::SignIn, kind, rd, 200, None))
}

/// `GET /auth/mfa?rd=…` for a browser: what a `two_factor` page needs. Signed out: sign in
/// first. With a factor: step up, unless this session already has. Without one (or asked to,
/// with `setup=totp`, when the app is not set up): set up an authenticator app.
pub async fn mfa_page(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let query = fields(req.meta.query.as_deref().unwrap_or("").as_bytes());
    let rd = safe_rd(app, query.get("rd").map(String::as_str));
    let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
    let (id, pair) = match authenticate_or_refresh(app, &creds, req.now).await {
        Ok(found) => found,
        Err(Error::Unauthorized) => return Ok(go_to(302, &login_location(rd))),
        Err(e) => return Err(e),
    };
    let factors = store::factors(&app.db, id.user_id).await?;
    let setup = query.get("setup").is_some_and(|s| s == "totp");
    let html = if !factors.totp && (setup || !factors.any()) {
        pages::enrol_start(&pages::EnrolStart {
            rd,
            username: id.username(),
            error: None,
            required: !setup,
        })
    } else if id.mfa {
        pages::already_two_factor(rd)
    } else {
        let kind = CodeKind::from_query(query.get("method").map(String::as_str));
        pages::code_form(&CodePage {
            step: CodeStep::StepUp,
            kind,
            rd,
            error: None,
            who: Some(id.username()),
        })
    };
    let reply = page(app, 200, html);
    Ok(match pair {
        Some(p) => reply.cookies(p.cookies(app)),
        None => reply,
    })
}

/// Turns the outcome of a second-factor JSON route into what its form post expects.
pub async fn after_form(
    app: &App,
    route: &Route,
    req: &Request<'_>,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let form = fields(req.body);
    let rd = safe_rd(app, form.get("rd").map(String::as_str));
    let kind = CodeKind::from_query(form.get("method").map(String::as_str));
    match route {
        Route::LoginMfa => second_step_done(app, rd, kind, outcome),
        Route::MfaVerify => step_up_done(app, rd, kind, outcome),
        Route::MfaTotp => enrol_started(app, req, rd, outcome).await,
        Route::MfaTotpConfirm => enrol_confirmed(app, req, rd, outcome).await,
        _ => outcome,
    }
}

/// `/auth/login/mfa` answers its refusals as replies (they clear the pending cookie), so the
/// reply's error code says what happened.
fn second_step_done(
    app: &App,
    rd: &str,
    kind: CodeKind,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let reply = match outcome {
        Ok(reply) if reply.status == 200 => return Ok(reply.into_redirect(303, rd)),
        Ok(reply) => reply,
        Err(e) if e.describe().status < 500 => {
            let d = e.describe();
            let html = code_page(app, CodeStep::SignIn, kind, rd, d.status, Some(&d.message));
            return Ok(html.with_error_headers(&e));
        }
        Err(e) => return Err(e),
    };
    let cleared = reply.clears_cookies();
    let shown = match reply.json_str("error").as_deref() {
        Some("invalid_code") if !cleared => {
            let message = wrong_code(kind);
            code_page(app, CodeStep::SignIn, kind, rd, 401, Some(message))
        }
        Some("invalid_code") => first_step(app, rd, 401, ENDED),
        _ => first_step(app, rd, reply.status, EXPIRED),
    };
    Ok(carry_cookies(reply, shown))
}

fn step_up_done(
    app: &App,
    rd: &str,
    kind: CodeKind,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let e = match outcome {
        Ok(reply) => return Ok(reply.into_redirect(303, rd)),
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location(rd))),
        Err(Error::MfaNotEnrolled) => return Ok(go_to(303, &mfa_location(rd))),
        Err(e) if e.describe().status < 500 => e,
        Err(e) => return Err(e),
    };
    let d = e.describe();
    let message = match e {
        Error::InvalidCode => wrong_code(kind).to_string(),
        _ => d.message,
    };
    Ok(code_page(app, CodeStep::StepUp, kind, rd, d.status, Some(&message)).with_error_headers(&e))
}

/// The password was right: the QR code and the key, from the JSON answer.
async fn enrol_started(
    app: &App,
    req: &Request<'_>,
    rd: &str,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let e = match outcome {
        Ok(reply) => {
            let (Some(secret), Some(svg)) = (reply.json_str("secret"), reply.json_str("qr_svg"))
            else {
                return Err(Error::Internal(
                    "POST /auth/mfa/totp answered without a secret".into(),
                ));
            };
            return Ok(qr_page(app, rd, &secret, &svg, 200, None));
        }
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location(&mfa_location(rd)))),
        Err(Error::TotpEnabled) => return Ok(go_to(303, &mfa_location(rd))),
        Err(e) if e.describe().status < 500 => e,
        Err(e) => return Err(e),
    };
    let d = e.describe();
    let message = match e {
        Error::InvalidCredentials => WRONG_PASSWORD.to_string(),
        _ => d.message,
    };
    Ok(enrol_again(app, req, rd, d.status, &message)
        .await?
        .with_error_headers(&e))
}

/// The first code was right: the recovery codes, once, when this was the first factor.
async fn enrol_confirmed(
    app: &App,
    req: &Request<'_>,
    rd: &str,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let e = match outcome {
        Ok(reply) => {
            let Some(codes) = reply.json_strings("recovery_codes") else {
                return Ok(reply.into_redirect(303, rd));
            };
            let html = pages::recovery_codes(&pages::RecoveryCodes {
                codes: &codes,
                next: rd,
                note: "Your authenticator app is set up, and this session has a second factor.",
            });
            return Ok(page(app, 200, html));
        }
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location(&mfa_location(rd)))),
        Err(e) if e.describe().status < 500 => e,
        Err(e) => return Err(e),
    };
    let d = e.describe();
    if let Error::InvalidCode | Error::Invalid(_) = e {
        // The pending secret is still usable (docs/contract.md §10): the same QR code again.
        let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
        let id = crate::auth::authenticate(app, &creds, req.now).await?;
        if let Some(secret) = store::pending_totp(&app.db, id.user_id).await? {
            let secret = totp::Secret(secret);
            let uri = totp::otpauth_uri(
                &secret,
                totp::issuer(app.config.public_url.host()),
                id.username(),
            );
            let svg = totp::qr_svg(&uri).map_err(|e| Error::Internal(format!("QR code: {e}")))?;
            let message = match e {
                Error::InvalidCode => WRONG_TOTP.to_string(),
                _ => d.message,
            };
            let reply = qr_page(app, rd, &secret.base32(), &svg, d.status, Some(&message));
            return Ok(reply.with_error_headers(&e));
        }
    }
    let message = match e {
        Error::TotpNotPending => {
            "This setup is no longer waiting for its first code. Start again.".to_string()
        }
        _ => d.message,
    };
    enrol_again(app, req, rd, d.status, &message).await
}

/// The setup's first page again, saying why.
async fn enrol_again(
    app: &App,
    req: &Request<'_>,
    rd: &str,
    status: u16,
    message: &str,
) -> Result<Reply, Error> {
    let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
    let id = match crate::auth::authenticate(app, &creds, req.now).await {
        Ok(id) => id,
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location(&mfa_location(rd)))),
        Err(e) => return Err(e),
    };
    let html = pages::enrol_start(&pages::EnrolStart {
        rd,
        username: id.username(),
        error: Some(message),
        required: false,
    });
    Ok(page(app, status, html))
}

fn qr_page(
    app: &App,
    rd: &str,
    secret: &str,
    svg: &str,
    status: u16,
    error: Option<&str>,
) -> Reply {
    let html = pages::enrol_qr(&pages::EnrolQr {
        rd,
        qr_svg: svg,
        secret,
        error,
    });
    page(app, status, html)
}

fn wrong_code(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::Totp => WRONG_TOTP,
        CodeKind::Recovery => WRONG_RECOVERY,
    }
}

fn code_page(
    app: &App,
    step: CodeStep,
    kind: CodeKind,
    rd: &str,
    status: u16,
    error: Option<&str>,
) -> Reply {
    let html = pages::code_form(&CodePage {
        step,
        kind,
        rd,
        error,
        who: None,
    });
    page(app, status, html)
}

/// The sign-in page's first step, with `message` where its errors go.
fn first_step(app: &App, rd: &str, status: u16, message: &str) -> Reply {
    page(
        app,
        status,
        pages::login(&LoginPage {
            form: LoginForm::SignIn,
            rd,
            error: Some(message),
            note: None,
            username: "",
            registration: app.config.registration,
            invite: None,
        }),
    )
}

/// `to`, with the cookies `from` sets or clears.
fn carry_cookies(from: Reply, to: Reply) -> Reply {
    let cookies = from
        .headers
        .into_iter()
        .filter(|(n, _)| *n == "set-cookie")
        .map(|(_, v)| v);
    to.cookies(cookies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::pair::tests::app;
    use crate::reply::Body;

    const SESSION: &str = "access_token=t; HttpOnly; Path=/; SameSite=Lax; Max-Age=900";
    const CLEARED: &str = "mfa_pending=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0";

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn html(reply: &Reply) -> &str {
        match &reply.body {
            Body::Html(h) => h,
            other => panic!("an HTML page, got {other:?}"),
        }
    }

    #[test]
    fn a_finished_second_step_goes_on_to_rd_with_the_session_cookies() {
        let app = app(&[]);
        let done = Reply::json(200, &serde_json::json!({})).cookies([SESSION.to_string()]);
        let reply = second_step_done(&app, "/docs", CodeKind::Totp, Ok(done)).unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(header(&reply, "location"), Some("/docs"));
        assert_eq!(header(&reply, "set-cookie"), Some(SESSION));
    }

    #[test]
    fn a_wrong_code_shows_the_second_step_again_and_the_fifth_the_first_step() {
        let app = app(&[]);
        let wrong = Reply::error(&Error::InvalidCode);
        let reply = second_step_done(&app, "/docs", CodeKind::Recovery, Ok(wrong)).unwrap();
        assert_eq!(reply.status, 401);
        let page = html(&reply);
        assert!(page.contains(WRONG_RECOVERY), "{page}");
        assert!(page.contains("action=\"/auth/login/mfa\""), "{page}");
        assert!(
            page.contains("name=\"method\" value=\"recovery\""),
            "{page}"
        );

        let ended = Reply::error(&Error::InvalidCode).cookies([CLEARED.to_string()]);
        let reply = second_step_done(&app, "/docs", CodeKind::Totp, Ok(ended)).unwrap();
        assert_eq!(reply.status, 401);
        assert!(html(&reply).contains("action=\"/auth/login\""));
        assert!(html(&reply).contains("Too many wrong codes"));
        assert_eq!(header(&reply, "set-cookie"), Some(CLEARED));
    }

    #[test]
    fn an_expired_second_step_is_the_first_step_saying_so() {
        let app = app(&[]);
        let gone = Reply::error(&Error::SignInExpired).cookies([CLEARED.to_string()]);
        let reply = second_step_done(&app, "/docs", CodeKind::Totp, Ok(gone)).unwrap();
        assert_eq!(reply.status, 401);
        assert!(html(&reply).contains("has ended"));
        assert!(html(&reply).contains("name=\"rd\" value=\"/docs\""));
        assert_eq!(header(&reply, "set-cookie"), Some(CLEARED));
    }

    #[test]
    fn step_up_goes_on_to_rd_or_says_why_not() {
        let app = app(&[]);
        let reply = step_up_done(&app, "/docs", CodeKind::Totp, Ok(Reply::empty(204))).unwrap();
        assert_eq!(
            (reply.status, header(&reply, "location")),
            (303, Some("/docs"))
        );
        let reply = step_up_done(&app, "/docs", CodeKind::Totp, Err(Error::InvalidCode)).unwrap();
        assert_eq!(reply.status, 401);
        assert!(html(&reply).contains(WRONG_TOTP));
        assert!(html(&reply).contains("action=\"/auth/mfa/verify\""));
        let limited = Err(Error::RateLimited {
            retry_after_secs: 30,
        });
        let reply = step_up_done(&app, "/docs", CodeKind::Totp, limited).unwrap();
        assert_eq!(
            (reply.status, header(&reply, "retry-after")),
            (429, Some("30"))
        );
        let reply =
            step_up_done(&app, "/docs", CodeKind::Totp, Err(Error::MfaNotEnrolled)).unwrap();
        assert_eq!(header(&reply, "location"), Some("/auth/mfa?rd=%2Fdocs"));
        let outcome = step_up_done(
            &app,
            "/docs",
            CodeKind::Totp,
            Err(Error::Internal("x".into())),
        );
        assert!(matches!(outcome, Err(Error::Internal(_))));
    }
}
