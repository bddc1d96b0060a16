//! The gateway's HTML: the sign-in page and the account page. Self-contained (inline CSS, no
//! scripts, no external assets), plain forms that post to the `/auth` routes, and every value
//! from a user escaped.

use std::fmt::Write as _;

use crate::clock::rfc3339;
use crate::store::sessions::SessionInfo;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
background:#f4f5f7;color:#1c1e21}main{max-width:34rem;margin:3rem auto;padding:0 1rem}\
.card{background:#fff;border:1px solid #d8dbe0;border-radius:10px;padding:1.5rem}\
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:.8rem 0 .25rem}\
input[type=text],input[type=password]{width:100%;padding:.6rem;border:1px solid #9aa0a6;border-radius:6px;font:inherit}\
input:focus,button:focus{outline:3px solid #7aa7ff;outline-offset:1px}\
button{margin-top:1rem;padding:.6rem 1rem;border:0;border-radius:6px;background:#1a56db;color:#fff;font:inherit;cursor:pointer}\
button.secondary{background:#fff;color:#1a56db;border:1px solid #1a56db}button.danger{background:#b42318}\
.error{background:#fdecea;border:1px solid #b42318;color:#7a1a12;padding:.6rem;border-radius:6px}\
.note{background:#e8f3ec;border:1px solid #2e7d4f;padding:.6rem;border-radius:6px}\
table{width:100%;border-collapse:collapse;margin-top:1rem;font-size:.9rem}\
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e3e5e8;vertical-align:top}\
.row{display:flex;gap:.5rem;flex-wrap:wrap}.muted{color:#5f6368;font-size:.9rem}\
@media (max-width:30rem){main{margin:1rem auto}td,th{display:block}}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        title = escape(title),
    )
}

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
    pub registration_open: bool,
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
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"rd\" value=\"{rd}\">\
<label for=\"username\">Username</label>\
<input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required \
autocapitalize=\"none\" spellcheck=\"false\" value=\"{user}\">\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"{autocomplete}\" required>\
<button type=\"submit\">{button}</button></form>",
        user = escape(p.username),
    );
    match (p.form, p.registration_open) {
        (LoginForm::SignIn, true) => {
            let _ = write!(
                body,
                "<p class=\"muted\">No account yet? <a href=\"/auth/login?register=1&amp;rd={rd_query}\">Create one</a>.</p>"
            );
        }
        (LoginForm::Register, _) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Already registered? <a href=\"/auth/login?rd={rd_query}\">Sign in</a>.</p>"
            );
        }
        _ => {}
    }
    body.push_str("</div>");
    layout(title, &body)
}

pub struct AccountPage<'a> {
    pub username: &'a str,
    pub created_at: String,
    pub current: uuid::Uuid,
    pub sessions: &'a [SessionInfo],
}

pub fn account(p: &AccountPage<'_>) -> String {
    let mut body = String::from("<div class=\"card\">");
    let _ = write!(
        body,
        "<h1>Your account</h1><p>Signed in as <strong>{}</strong>. \
<span class=\"muted\">Member since {}.</span></p>",
        escape(p.username),
        escape(&p.created_at)
    );
    let _ = write!(
        body,
        "<h2 style=\"font-size:1.1rem\">Active sessions</h2><table><thead><tr><th scope=\"col\">Device</th>\
<th scope=\"col\">IP</th><th scope=\"col\">Signed in</th><th scope=\"col\">Last seen</th>\
<th scope=\"col\"><span class=\"muted\">Action</span></th></tr></thead><tbody>"
    );
    for s in p.sessions {
        let this = s.id == p.current;
        let device = s.user_agent.as_deref().unwrap_or("unknown device");
        let _ = write!(
            body,
            "<tr><td>{device}{this}</td><td>{ip}</td><td>{created}</td><td>{seen}</td><td>\
<form method=\"post\" action=\"/auth/sessions/{id}\"><button class=\"secondary\" type=\"submit\" \
aria-label=\"Revoke the session of {device}\">Revoke</button></form></td></tr>",
            device = escape(device),
            this = if this {
                " <strong>(this device)</strong>"
            } else {
                ""
            },
            ip = escape(s.ip.as_deref().unwrap_or("")),
            created = escape(&rfc3339(s.created_at)),
            seen = escape(&rfc3339(s.last_seen_at)),
            id = s.id,
        );
    }
    body.push_str("</tbody></table><div class=\"row\">");
    body.push_str(
        "<form method=\"post\" action=\"/auth/sessions/abort\"><input type=\"hidden\" name=\"keep_current\" \
value=\"true\"><button class=\"secondary\" type=\"submit\">Sign out everywhere else</button></form>\
<form method=\"post\" action=\"/auth/logout\"><button class=\"danger\" type=\"submit\">Sign out</button></form>",
    );
    body.push_str("</div></div>");
    layout("Your account", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_are_escaped() {
        let html = login(&LoginPage {
            form: LoginForm::SignIn,
            rd: "/x\"><script>alert(1)</script>",
            error: Some("<b>bad</b>"),
            note: None,
            username: "a\"b",
            registration_open: true,
        });
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>bad"));
        assert!(html.contains("a&quot;b"));
    }

    #[test]
    fn the_register_link_appears_only_when_registration_is_open() {
        let page = |open| {
            login(&LoginPage {
                form: LoginForm::SignIn,
                rd: "/",
                error: None,
                note: None,
                username: "",
                registration_open: open,
            })
        };
        assert!(page(true).contains("register=1"));
        assert!(!page(false).contains("register=1"));
    }
}
