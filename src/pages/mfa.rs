//! The second-factor pages (docs/contract.md §10): the sign-in's second step and the step-up
//! form (a code from the authenticator app, or a recovery code), setting up an authenticator
//! app (password, then the QR code and its key, then the first code), and the recovery codes,
//! shown once. Plain forms that post to the `/auth` routes, as the sign-in page's do.

use std::fmt::Write as _;

use super::layout::{error_box, escape, layout, note_box};

/// Which code a code form asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CodeKind {
    Totp,
    Recovery,
}

impl CodeKind {
    /// The `method` of `/auth/login/mfa` and `/auth/mfa/verify`.
    pub fn method(self) -> &'static str {
        match self {
            CodeKind::Totp => "totp",
            CodeKind::Recovery => "recovery",
        }
    }

    /// `?method=recovery` asks for a recovery code; anything else for the app's code.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("recovery") => CodeKind::Recovery,
            _ => CodeKind::Totp,
        }
    }
}

/// What a code form finishes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CodeStep {
    /// The second step of a sign-in (`/auth/login?step=mfa`).
    SignIn,
    /// Step-up of a one-factor session (`/auth/mfa`).
    StepUp,
}

pub struct CodePage<'a> {
    pub step: CodeStep,
    pub kind: CodeKind,
    pub rd: &'a str,
    pub error: Option<&'a str>,
    /// The signed-in username, for step-up.
    pub who: Option<&'a str>,
}

fn rd_query(rd: &str) -> String {
    percent_encoding::utf8_percent_encode(rd, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn rd_field(rd: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"rd\" value=\"{}\">",
        escape(rd)
    )
}

/// The code form of the sign-in's second step and of step-up.
pub fn code_form(p: &CodePage<'_>) -> String {
    let rd = rd_query(p.rd);
    let (title, action, button, here) = match p.step {
        CodeStep::SignIn => (
            "Enter your code",
            "/auth/login/mfa",
            "Sign in",
            format!("/auth/login?rd={rd}&step=mfa"),
        ),
        CodeStep::StepUp => (
            "Confirm it is you",
            "/auth/mfa/verify",
            "Continue",
            format!("/auth/mfa?rd={rd}"),
        ),
    };
    let mut body = format!("<div class=\"card\"><h1>{title}</h1>");
    if let Some(e) = p.error {
        body.push_str(&error_box(e));
    }
    if p.step == CodeStep::StepUp {
        body.push_str("<p>The page you asked for needs a second factor.</p>");
    }
    let focus = if p.error.is_none() { " autofocus" } else { "" };
    let (lead, label, field, other) = match p.kind {
        CodeKind::Totp => (
            "Open your authenticator app and enter the 6-digit code it shows for this account.",
            "Code",
            format!(
                "<input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" \
autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" minlength=\"6\" maxlength=\"6\" required \
autocapitalize=\"none\" spellcheck=\"false\" aria-describedby=\"code-hint\"{focus}>"
            ),
            format!(
                "<p class=\"muted\">No access to your app? \
<a href=\"{here}&amp;method=recovery\">Use a recovery code</a>.</p>",
                here = escape(&here)
            ),
        ),
        CodeKind::Recovery => (
            "Enter one of the recovery codes you stored when you set up your second factor. \
Each code works once.",
            "Recovery code",
            format!(
                "<input type=\"text\" id=\"code\" name=\"code\" autocomplete=\"off\" required \
autocapitalize=\"none\" spellcheck=\"false\" aria-describedby=\"code-hint\"{focus}>"
            ),
            format!(
                "<p class=\"muted\"><a href=\"{here}\">Use your authenticator app instead</a>.</p>",
                here = escape(&here)
            ),
        ),
    };
    let hint = match p.kind {
        CodeKind::Totp => "6 digits, no spaces.",
        CodeKind::Recovery => "Written xxxx-xxxx-xxxx.",
    };
    let _ = write!(
        body,
        "<p>{lead}</p><form method=\"post\" action=\"{action}\">{rd_field}\
<input type=\"hidden\" name=\"method\" value=\"{method}\">\
<label for=\"code\">{label}</label><p class=\"hint\" id=\"code-hint\">{hint}</p>{field}\
<button type=\"submit\">{button}</button></form>{other}",
        rd_field = rd_field(p.rd),
        method = p.kind.method(),
    );
    // Passkeys (docs/contract.md §10) add their button here, beside the code form.
    body.push_str(&passkey_slot(p.step));
    match (p.step, p.who) {
        (CodeStep::SignIn, _) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Not you, or stuck? <a href=\"/auth/login?rd={rd}\">Start again</a>.</p>"
            );
        }
        (CodeStep::StepUp, Some(name)) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Signed in as <strong>{}</strong>. \
<a href=\"/auth/account\">Your account</a></p>",
                escape(name)
            );
        }
        (CodeStep::StepUp, None) => {}
    }
    body.push_str("</div>");
    layout(title, &body)
}

/// Where the passkey button of a code form goes: nothing until passkeys exist.
fn passkey_slot(_step: CodeStep) -> String {
    String::new()
}

/// Where leaving a setup goes: back to the account page it started from, else to the account
/// page (`rd` is then a `two_factor` page, which would only send the user here again).
fn cancel_href(rd: &str) -> &str {
    if rd.starts_with("/auth/account") {
        rd
    } else {
        "/auth/account"
    }
}

pub struct EnrolStart<'a> {
    pub rd: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// Whether a `two_factor` page sent the user here (rather than the account page).
    pub required: bool,
}

/// The first page of setting up an authenticator app: the password, re-entered.
pub fn enrol_start(p: &EnrolStart<'_>) -> String {
    let mut body = String::from("<div class=\"card\"><h1>Set up a second factor</h1>");
    if let Some(e) = p.error {
        body.push_str(&error_box(e));
    }
    if p.required {
        body.push_str(
            "<p>The page you asked for needs a second factor, and your account has none yet.</p>",
        );
    }
    let focus = if p.error.is_none() { " autofocus" } else { "" };
    let _ = write!(
        body,
        "<p>You will need an authenticator app on your phone or computer (such as Aegis, \
Google Authenticator, 1Password or Microsoft Authenticator). Enter your password to start.</p>\
<form method=\"post\" action=\"/auth/mfa/totp\">{rd_field}\
<input type=\"text\" autocomplete=\"username\" value=\"{user}\" hidden>\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" \
required{focus}>\
<button type=\"submit\">Continue</button></form>\
<p class=\"muted\"><a href=\"{back}\">Not now</a></p></div>",
        rd_field = rd_field(p.rd),
        user = escape(p.username),
        back = escape(cancel_href(p.rd)),
    );
    layout("Set up a second factor", &body)
}

pub struct EnrolQr<'a> {
    pub rd: &'a str,
    /// The QR code, an `<svg>` element made by `auth/mfa/totp.rs` (no user text in it but
    /// the escaped `otpauth://` URI's modules).
    pub qr_svg: &'a str,
    /// The key in base32, for typing in.
    pub secret: &'a str,
    pub error: Option<&'a str>,
}

/// The second page of setting up an authenticator app: the QR code, the key to type in
/// instead, and the first code.
pub fn enrol_qr(p: &EnrolQr<'_>) -> String {
    let mut body = String::from("<div class=\"card\"><h1>Scan the QR code</h1>");
    if let Some(e) = p.error {
        body.push_str(&error_box(e));
    }
    // Groups of four, as apps show keys; a space is not part of the key, and apps ignore it.
    let grouped: Vec<String> = p
        .secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let focus = if p.error.is_none() { " autofocus" } else { "" };
    let _ = write!(
        body,
        "<p>Scan this code with your authenticator app.</p><div class=\"qr\">{svg}</div>\
<p>Cannot scan it? Add an account in the app by hand, with this key (time-based):</p>\
<p><code class=\"secret\" id=\"secret\">{secret}</code></p>\
<form method=\"post\" action=\"/auth/mfa/totp/confirm\">{rd_field}\
<label for=\"code\">Code from the app</label>\
<p class=\"hint\" id=\"code-hint\">The 6 digits the app now shows for this account.</p>\
<input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
pattern=\"[0-9]{{6}}\" minlength=\"6\" maxlength=\"6\" required autocapitalize=\"none\" \
spellcheck=\"false\" aria-describedby=\"code-hint\"{focus}>\
<button type=\"submit\">Turn on</button></form>\
<p class=\"muted\"><a href=\"{back}\">Not now</a></p></div>",
        svg = p.qr_svg,
        secret = escape(&grouped.join(" ")),
        rd_field = rd_field(p.rd),
        back = escape(cancel_href(p.rd)),
    );
    layout("Scan the QR code", &body)
}

pub struct RecoveryCodes<'a> {
    pub codes: &'a [String],
    /// Where "Continue" goes.
    pub next: &'a str,
    /// What was just done, such as "Your authenticator app is on."
    pub note: &'a str,
}

/// The recovery codes, shown once: after the first factor is set up, and when renewed.
pub fn recovery_codes(p: &RecoveryCodes<'_>) -> String {
    let mut body = String::from("<div class=\"card\">");
    body.push_str(&note_box(p.note, false));
    body.push_str(
        "<h1>Your recovery codes</h1><p>If you lose your authenticator, each of these codes \
signs you in once. <strong>Store them now</strong>, somewhere safe such as a password manager \
or on paper: they are not shown again.</p><ol class=\"codes\">",
    );
    for code in p.codes {
        let _ = write!(body, "<li><code>{}</code></li>", escape(code));
    }
    let _ = write!(
        body,
        "</ol><p class=\"actions\"><a class=\"button\" href=\"{}\">I have stored them, continue</a></p></div>",
        escape(p.next)
    );
    layout("Your recovery codes", &body)
}

/// `/auth/mfa` for a session that already has its second factor.
pub fn already_two_factor(rd: &str) -> String {
    let body = format!(
        "<div class=\"card\"><h1>Second factor confirmed</h1>\
<p>This session was made with a second factor.</p>\
<p class=\"actions\"><a class=\"button\" href=\"{}\" autofocus>Continue</a></p></div>",
        escape(rd)
    );
    layout("Second factor confirmed", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_page(step: CodeStep, kind: CodeKind, error: Option<&str>) -> String {
        code_form(&CodePage {
            step,
            kind,
            rd: "/docs?a=1",
            error,
            who: Some("alice"),
        })
    }

    #[test]
    fn the_second_step_asks_for_a_one_time_code_and_offers_a_recovery_code() {
        let html = code_page(CodeStep::SignIn, CodeKind::Totp, None);
        assert!(html.contains("action=\"/auth/login/mfa\""), "{html}");
        assert!(html.contains("autocomplete=\"one-time-code\""));
        assert!(html.contains("inputmode=\"numeric\""));
        assert!(html.contains("name=\"method\" value=\"totp\""));
        assert!(html.contains("name=\"rd\" value=\"/docs?a=1\""));
        assert!(html
            .contains("href=\"/auth/login?rd=%2Fdocs%3Fa%3D1&amp;step=mfa&amp;method=recovery\""));
        assert!(html.contains(" autofocus>"), "the field takes the focus");
        let recovery = code_page(CodeStep::SignIn, CodeKind::Recovery, None);
        assert!(recovery.contains("name=\"method\" value=\"recovery\""));
        assert!(!recovery.contains("one-time-code"));
    }

    #[test]
    fn a_refused_code_puts_the_focus_on_the_error() {
        let html = code_page(
            CodeStep::SignIn,
            CodeKind::Totp,
            Some("The code <is> wrong."),
        );
        assert!(html.contains("role=\"alert\" tabindex=\"-1\" autofocus>The code &lt;is&gt;"));
        assert_eq!(html.matches("autofocus").count(), 1);
    }

    #[test]
    fn step_up_posts_to_verify_and_names_who_is_signed_in() {
        let html = code_page(CodeStep::StepUp, CodeKind::Totp, None);
        assert!(html.contains("action=\"/auth/mfa/verify\""));
        assert!(html.contains("href=\"/auth/mfa?rd=%2Fdocs%3Fa%3D1&amp;method=recovery\""));
        assert!(html.contains("<strong>alice</strong>"));
    }

    #[test]
    fn the_qr_page_shows_the_key_grouped_and_asks_for_the_first_code() {
        let html = enrol_qr(&EnrolQr {
            rd: "/",
            qr_svg: "<svg role=\"img\"></svg>",
            secret: "ABCDEFGHIJKLMNOPQR",
            error: None,
        });
        assert!(html.contains("<div class=\"qr\"><svg role=\"img\"></svg></div>"));
        assert!(html.contains(">ABCD EFGH IJKL MNOP QR</code>"));
        assert!(html.contains("action=\"/auth/mfa/totp/confirm\""));
        assert!(
            html.contains("href=\"/auth/account\">Not now"),
            "not back to the page that sent here"
        );
        let from_account = enrol_start(&EnrolStart {
            rd: "/auth/account?rd=%2Fdocs",
            username: "alice",
            error: None,
            required: false,
        });
        assert!(from_account.contains("href=\"/auth/account?rd=%2Fdocs\">Not now"));
    }

    #[test]
    fn recovery_codes_are_listed_with_the_way_on() {
        let codes = vec!["abcd-efgh-jk23".to_string(), "<b>".to_string()];
        let html = recovery_codes(&RecoveryCodes {
            codes: &codes,
            next: "/docs",
            note: "Done.",
        });
        assert!(html.contains("<li><code>abcd-efgh-jk23</code></li>"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("href=\"/docs\""));
    }
}
