//! The account page (`GET /auth/account`) and what its change-password form gets back: who is
//! signed in, their sessions, what the last form post did, and the way back to `rd`. The JSON
//! routes do the work; `browser.rs` turns the other form posts into the 303s that lead here.

use super::browser::{account_location, fields, go_to, is_form, page, safe_rd};
use super::redirect::login_location;
use super::{authenticate_or_refresh, Credentials, Request};
use crate::error::Error;
use crate::origin::Origin;
use crate::pages::{self, AccountPage, Back, Security};
use crate::reply::Reply;
use crate::routes::Route;
use crate::store::{mfa, users};
use crate::App;

/// The change-password form's confirmation, checked before anything changes: a form post
/// whose two new passwords differ. The JSON route has no confirmation to check.
pub fn unconfirmed(route: &Route, req: &Request<'_>) -> Option<Error> {
    if *route != Route::Password || !is_form(req) {
        return None;
    }
    let form = fields(req.body);
    let confirm = form.get("confirm_password")?;
    (form.get("new_password") != Some(confirm))
        .then(|| Error::Invalid("The new password and its confirmation are not the same.".into()))
}

/// What the change-password form gets back: the account page saying it is done, or the same
/// page with the reason in the form.
pub async fn after_password_form(
    app: &App,
    req: &Request<'_>,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let form = fields(req.body);
    let given_rd = form
        .get("rd")
        .map(|rd| safe_rd(app, Some(rd.as_str())).to_string());
    let e = match outcome {
        Ok(reply) => {
            let next = account_location("done=password", given_rd.as_deref());
            return Ok(reply.into_redirect(303, &next));
        }
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location("/auth/account"))),
        Err(e) if e.describe().status < 500 => e,
        Err(e) => return Err(e),
    };
    let d = e.describe();
    let message = match e {
        Error::InvalidCredentials => "The current password is not right.".to_string(),
        _ => d.message,
    };
    let view = AccountView {
        rd: given_rd.as_deref(),
        note: None,
        password_error: Some(&message),
        security_error: None,
        status: d.status,
        to_sign_in: 303,
    };
    Ok(account_page(app, req, &view).await?.with_error_headers(&e))
}

/// What the security section's forms get back: turning the authenticator app off returns to
/// the account page saying so; new recovery codes are shown, once, on a page of their own;
/// a refusal is the account page with the reason in the section.
pub async fn after_security_form(
    app: &App,
    route: &Route,
    req: &Request<'_>,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let form = fields(req.body);
    let given_rd = form
        .get("rd")
        .map(|rd| safe_rd(app, Some(rd.as_str())).to_string());
    let e = match outcome {
        Ok(reply) => {
            if let Some(codes) = reply.json_strings("recovery_codes") {
                let next = account_location("done=codes", given_rd.as_deref());
                let html = pages::recovery_codes(&pages::RecoveryCodes {
                    codes: &codes,
                    next: &next,
                    note: "Here is your new set of recovery codes; the old ones no longer work.",
                });
                return Ok(page(app, 200, html));
            }
            let done = match route {
                Route::MfaTotpRemove => "done=totp_off",
                _ => "done=codes",
            };
            let next = account_location(done, given_rd.as_deref());
            return Ok(reply.into_redirect(303, &next));
        }
        Err(Error::Unauthorized) => return Ok(go_to(303, &login_location("/auth/account"))),
        Err(e) if e.describe().status < 500 => e,
        Err(e) => return Err(e),
    };
    let d = e.describe();
    let message = match e {
        Error::InvalidCredentials => "The password is not right.".to_string(),
        Error::NotFound => "No authenticator app is set up.".to_string(),
        _ => d.message,
    };
    let view = AccountView {
        rd: given_rd.as_deref(),
        note: None,
        password_error: None,
        security_error: Some(&message),
        status: d.status,
        to_sign_in: 303,
    };
    Ok(account_page(app, req, &view).await?.with_error_headers(&e))
}

/// `GET /auth/account[?rd=…][&done=…]`: who you are and your sessions, with forms to revoke
/// them, change the password and sign out; `done` names what the last form post did.
pub async fn account(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let query = fields(req.meta.query.as_deref().unwrap_or("").as_bytes());
    let rd = query
        .get("rd")
        .map(|rd| safe_rd(app, Some(rd.as_str())).to_string());
    let others = query.get("n").and_then(|n| n.parse::<u32>().ok());
    let note = query.get("done").and_then(|done| done_note(done, others));
    let view = AccountView {
        rd: rd.as_deref(),
        note: note.as_deref(),
        password_error: None,
        security_error: None,
        status: 200,
        to_sign_in: 302,
    };
    account_page(app, req, &view).await
}

/// What the account page says after a form post sent the browser back to it.
fn done_note(done: &str, others: Option<u32>) -> Option<String> {
    Some(match (done, others) {
        ("revoked", _) => "That session is signed out.".into(),
        ("others", Some(0)) => "You were not signed in anywhere else.".into(),
        ("others", Some(1)) => "Signed out of 1 other session.".into(),
        ("others", Some(n)) => format!("Signed out of {n} other sessions."),
        ("others", None) => "Signed out everywhere else.".into(),
        ("totp_off", _) => "The authenticator app is removed from your account.".into(),
        ("codes", _) => "Your new recovery codes are the only ones that work now.".into(),
        ("password", _) => {
            "Your password is changed, and every other session is signed out.".into()
        }
        _ => return None,
    })
}

struct AccountView<'a> {
    rd: Option<&'a str>,
    note: Option<&'a str>,
    password_error: Option<&'a str>,
    /// Why a form of the security section was refused.
    security_error: Option<&'a str>,
    status: u16,
    /// How someone signed out is sent to sign in: 302 after a GET, 303 after a form post.
    to_sign_in: u16,
}

async fn account_page(
    app: &App,
    req: &Request<'_>,
    view: &AccountView<'_>,
) -> Result<Reply, Error> {
    let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
    let (id, pair) = match authenticate_or_refresh(app, &creds, req.now).await {
        Ok(found) => found,
        Err(Error::Unauthorized) => {
            return Ok(go_to(view.to_sign_in, &login_location("/auth/account")))
        }
        Err(e) => return Err(e),
    };
    let user = users::by_id(&app.db, id.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let sessions = app.sessions.list_active(id.user_id, req.now).await?;
    let factors = mfa::factors(&app.db, id.user_id).await?;
    let groups: Vec<&str> = id.groups().collect();
    // Back to `rd`, named by its host; without one, to the public URL.
    let public = format!("{}/", app.config.public_url.as_str().trim_end_matches('/'));
    let rd_origin = view.rd.and_then(Origin::parse);
    let back = Back {
        href: view.rd.unwrap_or(&public),
        host: rd_origin
            .as_ref()
            .map_or(app.config.public_url.host(), Origin::host),
    };
    let html = pages::account(&AccountPage {
        username: &user.username,
        groups: &groups,
        created_at: user.created_at,
        now: req.now,
        current: id.session_id,
        sessions: &sessions,
        back,
        rd: view.rd,
        note: view.note,
        password_error: view.password_error,
        security: Security {
            totp: factors.totp,
            recovery_codes_left: factors.recovery_codes_left,
            error: view.security_error,
        },
    });
    let reply = page(app, view.status, html);
    Ok(match pair {
        Some(p) => reply.cookies(p.cookies(app)),
        None => reply,
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use time::OffsetDateTime;

    use super::*;
    use crate::request::RequestMeta;

    #[test]
    fn the_account_page_says_what_the_last_form_did_in_fixed_words() {
        assert_eq!(
            done_note("others", Some(2)).as_deref(),
            Some("Signed out of 2 other sessions.")
        );
        assert_eq!(
            done_note("others", Some(1)).as_deref(),
            Some("Signed out of 1 other session.")
        );
        assert!(done_note("revoked", None).is_some());
        assert!(done_note("<script>", None).is_none());
    }

    #[test]
    fn only_a_change_password_form_with_two_different_new_passwords_is_unconfirmed() {
        let check = |route: Route, body: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "content-type",
                "application/x-www-form-urlencoded".parse().unwrap(),
            );
            let meta = RequestMeta {
                method: http::Method::POST,
                path: "/auth/password".into(),
                query: None,
                headers,
                peer: None,
                peer_trusted: false,
                client_ip: None,
            };
            let req = Request {
                meta: &meta,
                body: body.as_bytes(),
                now: OffsetDateTime::UNIX_EPOCH,
            };
            unconfirmed(&route, &req).is_some()
        };
        assert!(check(
            Route::Password,
            "new_password=abcdefgh&confirm_password=abcdefgi"
        ));
        assert!(check(Route::Password, "confirm_password=abcdefgh"));
        assert!(!check(
            Route::Password,
            "new_password=abcdefgh&confirm_password=abcdefgh"
        ));
        assert!(
            !check(Route::Password, "new_password=abcdefgh"),
            "no confirmation, nothing to check"
        );
        assert!(!check(Route::Login, "new_password=a&confirm_password=b"));
    }
}
