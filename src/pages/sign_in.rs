//! The sign-in (and sign-up) page: a plain form that posts to `/auth/login` or
//! `/auth/register` and comes back to `rd`.

use std::fmt::Write as _;

use super::layout::{error_box, escape, layout, note_box, PASSWORD_RULES};
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
        body.push_str(&error_box(e));
    }
    if let Some(n) = p.note {
        body.push_str(&note_box(n, false));
    }
    let invite = match (p.form, p.invite) {
        (LoginForm::Register, Some(token)) => format!(
            "<input type=\"hidden\" name=\"invite\" value=\"{}\">",
            escape(token)
        ),
        _ => String::new(),
    };
    // The first field takes the focus on load, unless an error above it has taken it.
    let focus = if p.error.is_none() { " autofocus" } else { "" };
    // Someone choosing a name and a password sees the rules before submitting.
    let (user_rules, user_attrs, password_rules, password_attrs) = match p.form {
        LoginForm::SignIn => ("", "", String::new(), ""),
        LoginForm::Register => (
            "<p class=\"hint\" id=\"username-rules\">3 to 64 characters: letters, digits and \
. _ - @</p>",
            " minlength=\"3\" maxlength=\"64\" aria-describedby=\"username-rules\"",
            format!("<p class=\"hint\" id=\"password-rules\">{PASSWORD_RULES}</p>"),
            " minlength=\"8\" aria-describedby=\"password-rules\"",
        ),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">{invite}\
<label for=\"username\">Username</label>{user_rules}\
<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required \
autocapitalize=\"none\" spellcheck=\"false\" value=\"{user}\"{user_attrs}{focus}>\
<label for=\"password\">Password</label>{password_rules}\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"{autocomplete}\" \
required{password_attrs}>\
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
