//! The browser side of `/auth`: the sign-in and sign-up pages, and what a plain HTML form post
//! gets back (a 303 to the next page instead of JSON); the account page is `account.rs`, the
//! second-factor pages `mfa/forms.rs`. The JSON routes do the work.

use std::collections::HashMap;

use super::redirect::{self, login_location};
use super::Request;
use super::{authenticate_or_refresh, invite_token, Credentials};
use crate::config::Registration;
use crate::error::Error;
use crate::pages::{self, LoginForm, LoginPage};
use crate::reply::Reply;
use crate::routes::Route;
use crate::store::invites;
use crate::App;

/// Whether the request is a plain HTML form post (what the pages send).
pub fn is_form(req: &Request<'_>) -> bool {
    req.meta.header("content-type").is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

pub(super) fn fields(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// An HTML page with the headers every gateway page carries.
pub fn page(app: &App, status: u16, html: String) -> Reply {
    let reply = Reply::html(status, html);
    if app.config.cookie_secure {
        reply.header("strict-transport-security", "max-age=31536000")
    } else {
        reply
    }
}

pub(super) fn go_to(status: u16, location: &str) -> Reply {
    Reply::empty(status).header("location", location)
}

pub(super) fn safe_rd<'a>(app: &App, rd: Option<&'a str>) -> &'a str {
    redirect::safe(
        rd.unwrap_or("/"),
        &app.config.public_url,
        &app.config.allowed_redirect_hosts,
    )
}

/// `GET /auth/login?rd=…[&register=1]`: the sign-in (or registration) form, or straight on to
/// `rd` for someone already signed in.
pub async fn login_page(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let query = fields(req.meta.query.as_deref().unwrap_or("").as_bytes());
    let rd = safe_rd(app, query.get("rd").map(String::as_str));
    let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
    match authenticate_or_refresh(app, &creds, req.now).await {
        Ok((_, pair)) => {
            let reply = go_to(302, rd);
            return Ok(match pair {
                Some(p) => reply.cookies(p.cookies(app)),
                None => reply,
            });
        }
        Err(Error::Unauthorized) => {}
        Err(e) => return Err(e),
    }
    if query.get("step").is_some_and(|s| s == "mfa") {
        return super::mfa::forms::second_step_page(app, req, &query, rd).await;
    }
    // `?register=1`, the sign-up form's address before `GET /auth/register`, still works.
    let form = if query.contains_key("register") && app.config.registration == Registration::Open {
        LoginForm::Register
    } else {
        LoginForm::SignIn
    };
    let note = if query.contains_key("signed_out") {
        Some("You are signed out.")
    } else if query.contains_key("registered") {
        Some("Account created. Sign in to continue.")
    } else {
        None
    };
    Ok(page(
        app,
        200,
        pages::login(&LoginPage {
            form,
            rd,
            error: None,
            note,
            username: "",
            registration: app.config.registration,
            invite: None,
        }),
    ))
}

/// `GET /auth/register?rd=…[&invite=…]`: the sign-up form, carrying the invite when there is
/// one. The invite is looked at here too, so a dead link says so before anyone picks a
/// password; without one, the form is offered only when registration is open. A refusal is
/// the sign-in page with the reason, 403.
pub async fn register_page(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let query = fields(req.meta.query.as_deref().unwrap_or("").as_bytes());
    let rd = safe_rd(app, query.get("rd").map(String::as_str));
    let invite = query
        .get("invite")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let refused = match invite {
        Some(token) => match invite_token::fingerprint(token) {
            Some(hash) if invites::usable(&app.db, &hash).await? => None,
            _ => Some(Error::InvalidInvite),
        },
        None => refusal_without_invite(app.config.registration),
    };
    let (form, status, message) = match &refused {
        Some(e) => (LoginForm::SignIn, 403, Some(e.describe().message)),
        None => (LoginForm::Register, 200, None),
    };
    Ok(page(
        app,
        status,
        pages::login(&LoginPage {
            form,
            rd,
            error: message.as_deref(),
            note: None,
            username: "",
            registration: app.config.registration,
            invite,
        }),
    ))
}

/// Why a sign-up without an invite is refused in `mode`, if it is: the sign-up page and
/// `POST /auth/register` give the same answer.
pub fn refusal_without_invite(mode: Registration) -> Option<Error> {
    match mode {
        Registration::Open => None,
        Registration::Invite => Some(Error::InviteRequired),
        Registration::Closed => Some(Error::RegistrationClosed),
    }
}

/// Turns the outcome of a JSON route into what a browser form post expects.
pub fn after_form(
    app: &App,
    route: &Route,
    req: &Request<'_>,
    outcome: Result<Reply, Error>,
) -> Result<Reply, Error> {
    let form = fields(req.body);
    let rd = safe_rd(app, form.get("rd").map(String::as_str));
    // Only an `rd` the form carried is passed on: none means the public URL, not `/`.
    let given_rd = form.get("rd").map(|_| rd);
    let username = form.get("username").map(String::as_str).unwrap_or("");
    let invite = form
        .get("invite")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let login_form = |kind, status, message: String| {
        page(
            app,
            status,
            pages::login(&LoginPage {
                form: kind,
                rd,
                error: Some(&message),
                note: None,
                username,
                registration: app.config.registration,
                invite,
            }),
        )
    };
    match (route, outcome) {
        // The password was right and a second factor is due: the sign-in page's second step
        // (`step=mfa`), carrying the pending cookie.
        (Route::Login, Ok(reply)) if super::mfa::sign_in::is_pending(app, &reply) => {
            let next = format!("{}&step=mfa", login_location(rd));
            Ok(reply.into_redirect(303, &next))
        }
        (Route::Login, Ok(reply)) => Ok(reply.into_redirect(303, rd)),
        (Route::Login, Err(e)) if e.describe().status < 500 => {
            let d = e.describe();
            Ok(login_form(LoginForm::SignIn, d.status, d.message).with_error_headers(&e))
        }
        // Signed in by the sign-up itself: on to `rd`, no second password entry.
        (Route::Register, Ok(reply)) if reply.sets_cookies() => Ok(reply.into_redirect(303, rd)),
        (Route::Register, Ok(_)) => {
            let next = format!("{}&registered=1", login_location(rd));
            Ok(go_to(303, &next))
        }
        (Route::Register, Err(e)) if e.describe().status < 500 => {
            let d = e.describe();
            // The form again only when trying again can work: not for a dead invite or a
            // closed registration.
            let kind = match e {
                Error::InvalidInvite | Error::RegistrationClosed | Error::InviteRequired => {
                    LoginForm::SignIn
                }
                _ => LoginForm::Register,
            };
            Ok(login_form(kind, d.status, d.message))
        }
        (Route::Logout, Ok(reply)) => Ok(reply.into_redirect(303, &signed_out(given_rd))),
        (Route::SessionsAbort | Route::SessionRevoke(_), Ok(reply)) => {
            // Cookies cleared means the current session went: back to sign-in.
            let next = if reply.clears_cookies() {
                signed_out(given_rd)
            } else if *route == Route::SessionsAbort {
                match reply.json_u64("revoked") {
                    Some(n) => account_location(&format!("done=others&n={n}"), given_rd),
                    None => account_location("done=others", given_rd),
                }
            } else {
                account_location("done=revoked", given_rd)
            };
            Ok(reply.into_redirect(303, &next))
        }
        (_, Err(Error::Unauthorized)) => Ok(go_to(303, &login_location("/auth/account"))),
        (_, outcome) => outcome,
    }
}

/// The sign-in page saying that the browser is signed out, and still knowing the way back.
fn signed_out(rd: Option<&str>) -> String {
    match rd {
        Some(rd) => format!("{}&signed_out=1", login_location(rd)),
        None => "/auth/login?signed_out=1".into(),
    }
}

/// The account page saying what a form post did (`what`, a query of fixed words).
pub(super) fn account_location(what: &str, rd: Option<&str>) -> String {
    match rd {
        Some(rd) => format!(
            "/auth/account?{what}&rd={}",
            percent_encoding::utf8_percent_encode(rd, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => format!("/auth/account?{what}"),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::auth::pair::tests::app;
    use crate::error::CHALLENGE;
    use crate::reply::Body;
    use crate::request::RequestMeta;

    const COOKIE: &str = "access_token=t; HttpOnly; Path=/; SameSite=Lax; Max-Age=900";
    const CLEARED: &str = "access_token=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0";

    fn meta(content_type: Option<&str>) -> RequestMeta {
        let mut headers = HeaderMap::new();
        if let Some(c) = content_type {
            headers.insert("content-type", c.parse().unwrap());
        }
        RequestMeta {
            method: http::Method::POST,
            path: "/auth/login".into(),
            query: None,
            headers,
            peer: None,
            peer_trusted: false,
            client_ip: None,
        }
    }

    /// What `route` answers to a form post of `body` when the JSON route produced `outcome`.
    fn post(
        app: &App,
        route: Route,
        body: &str,
        outcome: Result<Reply, Error>,
    ) -> Result<Reply, Error> {
        let meta = meta(Some("application/x-www-form-urlencoded"));
        let req = Request {
            meta: &meta,
            body: body.as_bytes(),
            now: OffsetDateTime::UNIX_EPOCH,
        };
        after_form(app, &route, &req, outcome)
    }

    fn signed_in() -> Reply {
        Reply::json(200, &serde_json::json!({ "user": "alice" })).cookies([COOKIE.to_string()])
    }

    fn urlencode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

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
    fn only_a_urlencoded_body_counts_as_a_form_post() {
        for (content_type, form) in [
            (Some("application/x-www-form-urlencoded"), true),
            (
                Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
                true,
            ),
            (Some("application/json"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (Some("application/x-www-form-urlencoded-not"), false),
            (None, false),
        ] {
            let meta = meta(content_type);
            let req = Request {
                meta: &meta,
                body: b"",
                now: OffsetDateTime::UNIX_EPOCH,
            };
            assert_eq!(is_form(&req), form, "{content_type:?}");
        }
    }

    #[test]
    fn a_signed_in_form_post_is_a_303_to_rd_with_the_cookies_and_no_body() {
        let app = app(&[]);
        let reply = post(&app, Route::Login, "rd=%2Fdocs%3Fpage%3D2", Ok(signed_in())).unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(header(&reply, "location"), Some("/docs?page=2"));
        assert_eq!(header(&reply, "set-cookie"), Some(COOKIE));
        assert!(matches!(reply.body, Body::Empty));
    }

    #[test]
    fn a_password_that_needs_a_second_factor_goes_to_the_second_step_with_its_cookie() {
        let app = app(&[]);
        let pending = "__Host-mfa_pending=p; HttpOnly; Path=/; SameSite=Lax; Max-Age=300; Secure";
        let answer = Reply::json(200, &serde_json::json!({ "mfa_required": true }))
            .cookies([pending.to_string()]);
        let reply = post(&app, Route::Login, "rd=%2Fdocs", Ok(answer)).unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(
            header(&reply, "location"),
            Some("/auth/login?rd=%2Fdocs&step=mfa")
        );
        assert_eq!(header(&reply, "set-cookie"), Some(pending));
    }

    #[test]
    fn a_sign_in_without_rd_goes_to_the_root() {
        let app = app(&[]);
        let reply = post(&app, Route::Login, "username=alice", Ok(signed_in())).unwrap();
        assert_eq!(header(&reply, "location"), Some("/"));
    }

    #[test]
    fn a_hostile_rd_becomes_the_root() {
        let app = app(&[]);
        for rd in [
            "https%3A%2F%2Fevil.example",
            "%2F%2Fevil.example",
            "%2F%5Cevil.example",
            "javascript%3Aalert(1)",
        ] {
            let body = format!("rd={rd}");
            let reply = post(&app, Route::Login, &body, Ok(signed_in())).unwrap();
            assert_eq!(header(&reply, "location"), Some("/"), "{rd}");
        }
    }

    #[test]
    fn an_rd_on_the_gateways_own_host_or_an_allowed_host_is_kept() {
        let app = app(&[("GATEHOUSE_ALLOWED_REDIRECT_HOSTS", "docs.example.org")]);
        for rd in [
            "https://gate.example.com/account",
            "https://docs.example.org/guide",
        ] {
            let body = format!("rd={}", urlencode(rd));
            let reply = post(&app, Route::Login, &body, Ok(signed_in())).unwrap();
            assert_eq!(header(&reply, "location"), Some(rd));
        }
    }

    #[test]
    fn wrong_credentials_re_render_the_sign_in_page_with_the_message_and_challenge() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::Login,
            "username=alice&password=nope&rd=%2Fdocs",
            Err(Error::InvalidCredentials),
        )
        .unwrap();
        assert_eq!(reply.status, 401);
        assert_eq!(header(&reply, "www-authenticate"), Some(CHALLENGE));
        let page = html(&reply);
        assert!(
            page.contains("The username or password is incorrect."),
            "{page}"
        );
        assert!(page.contains("action=\"/auth/login\""), "{page}");
        assert!(page.contains("name=\"rd\" value=\"/docs\""), "{page}");
        assert!(page.contains("value=\"alice\""), "{page}");
    }

    #[test]
    fn a_rate_limited_sign_in_page_says_when_to_retry() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::Login,
            "username=alice",
            Err(Error::RateLimited {
                retry_after_secs: 30,
            }),
        )
        .unwrap();
        assert_eq!(reply.status, 429);
        assert_eq!(header(&reply, "retry-after"), Some("30"));
        assert!(html(&reply).contains("Too many failed attempts"));
    }

    #[test]
    fn the_re_rendered_page_never_echoes_a_hostile_rd() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::Login,
            "rd=https%3A%2F%2Fevil.example%2F",
            Err(Error::InvalidCredentials),
        )
        .unwrap();
        let page = html(&reply);
        assert!(page.contains("name=\"rd\" value=\"/\""), "{page}");
        assert!(!page.contains("evil.example"), "{page}");
    }

    #[test]
    fn a_server_error_on_sign_in_is_passed_on_not_rendered_as_the_form() {
        let app = app(&[]);
        let outcome = post(
            &app,
            Route::Login,
            "username=alice",
            Err(Error::Internal("boom".into())),
        );
        assert!(matches!(outcome, Err(Error::Internal(_))));
    }

    #[test]
    fn a_registration_goes_to_sign_in_with_rd_and_a_note() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::Register,
            "username=bob&rd=%2Fdocs",
            Ok(Reply::empty(201)),
        )
        .unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(
            header(&reply, "location"),
            Some("/auth/login?rd=%2Fdocs&registered=1")
        );
    }

    #[test]
    fn a_registration_that_signed_in_goes_straight_to_rd_with_the_cookies() {
        let app = app(&[]);
        let signed_up = Reply::json(201, &serde_json::json!({})).cookies([COOKIE.to_string()]);
        let reply = post(
            &app,
            Route::Register,
            "username=bob&rd=%2Fdocs",
            Ok(signed_up),
        )
        .unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(header(&reply, "location"), Some("/docs"));
        assert_eq!(header(&reply, "set-cookie"), Some(COOKIE));
    }

    #[test]
    fn a_refused_registration_re_renders_the_registration_form() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::Register,
            "username=bob",
            Err(Error::UsernameTaken),
        )
        .unwrap();
        assert_eq!(reply.status, 409);
        let page = html(&reply);
        assert!(page.contains("That username is already taken."), "{page}");
        assert!(page.contains("action=\"/auth/register\""), "{page}");
        assert!(page.contains("value=\"bob\""), "{page}");
    }

    #[test]
    fn a_refused_registration_form_keeps_carrying_its_invite() {
        let app = app(&[]);
        let token = "q9YhV0kRk2c1tIhQn0bCzZp7m3yQJ4rX1hD8fW6sA2E";
        let body = format!("username=bob&invite={token}&rd=%2Fdocs");
        let reply = post(&app, Route::Register, &body, Err(Error::UsernameTaken)).unwrap();
        assert_eq!(reply.status, 409);
        let page = html(&reply);
        assert!(page.contains("action=\"/auth/register\""), "{page}");
        assert!(
            page.contains(&format!("name=\"invite\" value=\"{token}\"")),
            "{page}"
        );
    }

    #[test]
    fn a_dead_invite_or_closed_registration_leads_to_sign_in_not_the_same_form() {
        let app = app(&[]);
        for (e, says) in [
            (Error::InvalidInvite, "This invite is not valid"),
            (Error::RegistrationClosed, "Registration is closed"),
            (Error::InviteRequired, "needs an invite link"),
        ] {
            let reply = post(&app, Route::Register, "username=bob&invite=x", Err(e)).unwrap();
            assert_eq!(reply.status, 403);
            let page = html(&reply);
            assert!(page.contains(says), "{page}");
            assert!(page.contains("action=\"/auth/login\""), "{page}");
            assert!(!page.contains("name=\"invite\""), "{page}");
        }
    }

    #[test]
    fn only_open_registration_admits_without_an_invite() {
        assert!(refusal_without_invite(Registration::Open).is_none());
        assert!(matches!(
            refusal_without_invite(Registration::Invite),
            Some(Error::InviteRequired)
        ));
        assert!(matches!(
            refusal_without_invite(Registration::Closed),
            Some(Error::RegistrationClosed)
        ));
        for e in [Error::InviteRequired, Error::RegistrationClosed] {
            assert_eq!(
                (e.describe().status, e.describe().code),
                (403, "registration_closed")
            );
        }
        let d = Error::InvalidInvite.describe();
        assert_eq!((d.status, d.code), (403, "invalid_invite"));
    }

    #[test]
    fn signing_out_goes_to_the_sign_in_page_clearing_the_cookies() {
        let app = app(&[]);
        let out = Reply::empty(204).cookies([CLEARED.to_string()]);
        let reply = post(&app, Route::Logout, "", Ok(out)).unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(header(&reply, "location"), Some("/auth/login?signed_out=1"));
        assert_eq!(header(&reply, "set-cookie"), Some(CLEARED));
    }

    #[test]
    fn revoking_another_session_returns_to_the_account_page_saying_what_happened() {
        let app = app(&[]);
        let revoked = Reply::json(200, &serde_json::json!({ "revoked": 2 }));
        for (route, outcome, location) in [
            (
                Route::SessionRevoke(Uuid::nil()),
                Reply::empty(204),
                "/auth/account?done=revoked",
            ),
            (
                Route::SessionsAbort,
                revoked,
                "/auth/account?done=others&n=2",
            ),
        ] {
            let reply = post(&app, route, "", Ok(outcome)).unwrap();
            assert_eq!(reply.status, 303);
            assert_eq!(header(&reply, "location"), Some(location));
        }
    }

    #[test]
    fn a_form_that_carried_rd_comes_back_with_it() {
        let app = app(&[]);
        let reply = post(
            &app,
            Route::SessionRevoke(Uuid::nil()),
            "rd=%2Fdocs%3Fa%3D1",
            Ok(Reply::empty(204)),
        )
        .unwrap();
        assert_eq!(
            header(&reply, "location"),
            Some("/auth/account?done=revoked&rd=%2Fdocs%3Fa%3D1")
        );
        let out = Reply::empty(204).cookies([CLEARED.to_string()]);
        let reply = post(&app, Route::Logout, "rd=%2Fdocs", Ok(out)).unwrap();
        assert_eq!(
            header(&reply, "location"),
            Some("/auth/login?rd=%2Fdocs&signed_out=1")
        );
        let hostile = post(
            &app,
            Route::SessionRevoke(Uuid::nil()),
            "rd=https%3A%2F%2Fevil.example%2F",
            Ok(Reply::empty(204)),
        )
        .unwrap();
        assert_eq!(
            header(&hostile, "location"),
            Some("/auth/account?done=revoked&rd=%2F")
        );
    }

    #[test]
    fn revoking_the_current_session_returns_to_sign_in() {
        let app = app(&[]);
        for route in [Route::SessionRevoke(Uuid::nil()), Route::SessionsAbort] {
            let out = Reply::empty(204).cookies([CLEARED.to_string()]);
            let reply = post(&app, route, "", Ok(out)).unwrap();
            assert_eq!(header(&reply, "location"), Some("/auth/login?signed_out=1"));
            assert_eq!(header(&reply, "set-cookie"), Some(CLEARED));
        }
    }

    #[test]
    fn a_signed_out_form_post_is_sent_to_sign_in_and_back_to_the_account() {
        let app = app(&[]);
        let reply = post(&app, Route::SessionsAbort, "", Err(Error::Unauthorized)).unwrap();
        assert_eq!(reply.status, 303);
        assert_eq!(
            header(&reply, "location"),
            Some("/auth/login?rd=%2Fauth%2Faccount")
        );
    }

    #[test]
    fn other_outcomes_pass_through_unchanged() {
        let app = app(&[]);
        let reply = post(&app, Route::Refresh, "", Ok(Reply::empty(204))).unwrap();
        assert_eq!((reply.status, reply.headers.len()), (204, 0));
        let outcome = post(&app, Route::Refresh, "", Err(Error::Csrf));
        assert!(matches!(outcome, Err(Error::Csrf)));
    }
}
