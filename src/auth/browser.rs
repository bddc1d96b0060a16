//! The browser side of `/auth`: the sign-in and account pages, and what a plain HTML form post
//! gets back (a 303 to the next page instead of JSON). The JSON routes do the work.

use std::collections::HashMap;

use super::redirect::{self, login_location};
use super::Request;
use super::{authenticate_or_refresh, Credentials};
use crate::error::Error;
use crate::pages::{self, AccountPage, LoginForm, LoginPage};
use crate::reply::Reply;
use crate::routes::Route;
use crate::store::users;
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

fn fields(bytes: &[u8]) -> HashMap<String, String> {
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

fn go_to(status: u16, location: &str) -> Reply {
    Reply::empty(status).header("location", location)
}

fn safe_rd<'a>(app: &App, rd: Option<&'a str>) -> &'a str {
    redirect::safe(
        rd.unwrap_or("/"),
        &app.origin,
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
    let form = if query.contains_key("register") && app.config.registration_open {
        LoginForm::Register
    } else {
        LoginForm::SignIn
    };
    let note = query
        .contains_key("registered")
        .then_some("Account created. Sign in to continue.");
    Ok(page(
        app,
        200,
        pages::login(&LoginPage {
            form,
            rd,
            error: None,
            note,
            username: "",
            registration_open: app.config.registration_open,
        }),
    ))
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
    let username = form.get("username").map(String::as_str).unwrap_or("");
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
                registration_open: app.config.registration_open,
            }),
        )
    };
    match (route, outcome) {
        (Route::Login, Ok(reply)) => Ok(reply.into_redirect(303, rd)),
        (Route::Login, Err(e)) if e.describe().status < 500 => {
            let d = e.describe();
            Ok(login_form(LoginForm::SignIn, d.status, d.message).with_error_headers(&e))
        }
        (Route::Register, Ok(_)) => {
            let next = format!("{}&registered=1", login_location(rd));
            Ok(go_to(303, &next))
        }
        (Route::Register, Err(e)) if e.describe().status < 500 => {
            let d = e.describe();
            Ok(login_form(LoginForm::Register, d.status, d.message))
        }
        (Route::Logout, Ok(reply)) => Ok(reply.into_redirect(303, "/auth/login")),
        (Route::SessionsAbort | Route::SessionRevoke(_), Ok(reply)) => {
            // Cookies cleared means the current session went: back to sign-in.
            let next = if reply.clears_cookies() {
                "/auth/login"
            } else {
                "/auth/account"
            };
            Ok(reply.into_redirect(303, next))
        }
        (_, Err(Error::Unauthorized)) => Ok(go_to(303, &login_location("/auth/account"))),
        (_, outcome) => outcome,
    }
}

/// `GET /auth/account`: who you are and your sessions, with forms to revoke them.
pub async fn account(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let creds = Credentials::from_headers(&req.meta.headers, &app.cookies);
    let (id, pair) = match authenticate_or_refresh(app, &creds, req.now).await {
        Ok(found) => found,
        Err(Error::Unauthorized) => return Ok(go_to(302, &login_location("/auth/account"))),
        Err(e) => return Err(e),
    };
    let user = users::by_id(&app.db, id.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let sessions = app.sessions.list_active(id.user_id, req.now).await?;
    let html = pages::account(&AccountPage {
        username: &user.username,
        created_at: crate::clock::rfc3339(user.created_at),
        current: id.session_id,
        sessions: &sessions,
    });
    let reply = page(app, 200, html);
    Ok(match pair {
        Some(p) => reply.cookies(p.cookies(app)),
        None => reply,
    })
}
