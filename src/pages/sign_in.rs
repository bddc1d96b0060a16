//! The sign-in (and sign-up) page: a plain form that posts to `/auth/login` or
//! `/auth/register` and comes back to `rd`.

use std::fmt::Write as _;

use super::layout::{escape, layout};
use crate::config::Registration;

/// Which form the sign-in page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LoginForm {
    SignIn,
    Register,
}

pub struct LoginPage<'a> {
    pub form: LoginForm,
    pub rd: &'a str,
    pub error: Option<&'a str>,
    pub note: Option<&'a str>,
    pub username: &'a str,
    /// What the sign-in form offers newcomers: a sign-up link (open), a word about invite
    /// links (invite), or nothing (closed).
    pub registration: Registration,
    /// The invite the registration form carries, in a hidden field.
    pub invite: Option<&'a str>,
}

pub fn login(p: &LoginPage<'_>) -> String {
    let rd = escape(p.rd);
    let rd_query = percent_encoding::utf8_percent_encode(p.rd, percent_encoding::NON_ALPHANUMERIC);
    let mut body = String::from("<div class=\"card\">");
    let (title, action, button, autocomplete) = match p.form {
        LoginForm::SignIn => ("Sign in", "/auth/login", "Sign in", "current-password"),
        LoginForm::Register => (
            "Create an account",
            "/auth/register",
            "Create account",
            "new-password",
        ),
    };
    let _ = write!(body, "<h1>{title}</h1>");
    if let Some(e) = p.error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", escape(e));
    }
    if let Some(n) = p.note {
        let _ = write!(body, "<p class=\"note\" role=\"status\">{}</p>", escape(n));
    }
    let invite = match (p.form, p.invite) {
        (LoginForm::Register, Some(token)) => format!(
            "<input type=\"hidden\" name=\"invite\" value=\"{}\">",
            escape(token)
        ),
        _ => String::new(),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">{invite}\
<label for=\"username\">Username</label>\
<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required \
autocapitalize=\"none\" spellcheck=\"false\" value=\"{user}\">\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"{autocomplete}\" required>\
<button type=\"submit\">{button}</button></form>",
        user = escape(p.username),
    );
    match (p.form, p.registration) {
        (LoginForm::SignIn, Registration::Open) => {
            let _ = write!(
                body,
                "<p class=\"muted\">No account yet? <a href=\"/auth/register?rd={rd_query}\">Create one</a>.</p>"
            );
        }
        (LoginForm::SignIn, Registration::Invite) => {
            body.push_str(
                "<p class=\"muted\">No account yet? Accounts here are by invitation: open the \
                 sign-up link you were sent.</p>",
            );
        }
        (LoginForm::SignIn, Registration::Closed) => {}
        (LoginForm::Register, _) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Already registered? <a href=\"/auth/login?rd={rd_query}\">Sign in</a>.</p>"
            );
        }
    }
    body.push_str("</div>");
    layout(title, &body)
}
