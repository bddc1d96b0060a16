//! The passkey parts of the pages (docs/contract.md §10): buttons and forms the gateway's own
//! script (`webauthn.js`, served at `/auth/static/webauthn.js`) wires to the WebAuthn
//! ceremonies. They start hidden and the script shows them, so a browser without JavaScript or
//! WebAuthn sees the plain forms only. Kept apart from the pages they go into, which add them
//! with one call each.

use std::fmt::Write as _;

use super::layout::escape;
use crate::clock::rfc3339;
use crate::store::webauthn::Listed;

/// The script tag: the only script the pages load, from the gateway's own origin (the CSP's
/// `script-src 'self'`).
pub const SCRIPT: &str = "<script src=\"/auth/static/webauthn.js\" defer></script>";

/// Inserts `extra` after the page's first form (or, without one, before its last `</div>`).
fn after_first_form(html: String, extra: &str) -> String {
    let at = html
        .find("</form>")
        .map(|i| i + "</form>".len())
        .or_else(|| html.rfind("</div>"));
    match at {
        Some(i) => {
            let mut out = String::with_capacity(html.len() + extra.len());
            out.push_str(&html[..i]);
            out.push_str(extra);
            out.push_str(&html[i..]);
            out
        }
        None => html,
    }
}

/// The sign-in page's first step with "Sign in with a passkey".
pub fn with_sign_in_button(html: String, rd: &str) -> String {
    let extra = format!(
        "<p><button type=\"button\" class=\"secondary\" data-passkey-login data-rd=\"{}\" hidden>\
Sign in with a passkey</button></p><p class=\"hint\" data-passkey-status role=\"status\"></p>{SCRIPT}",
        escape(rd)
    );
    after_first_form(html, &extra)
}

/// The sign-in page's second step (or the step-up page) with a passkey button: `second_step`
/// for a pending sign-in, otherwise a step-up of the current session.
pub fn with_second_step_button(html: String, rd: &str, second_step: bool) -> String {
    after_first_form(html, &second_step_button(rd, second_step))
}

/// The passkey button of a code form, for a page that places it itself.
pub fn second_step_button(rd: &str, second_step: bool) -> String {
    let attr = if second_step {
        "data-passkey-second-step"
    } else {
        "data-passkey-step-up"
    };
    format!(
        "<p><button type=\"button\" class=\"secondary\" {attr} data-rd=\"{}\" hidden>\
Use a passkey or security key</button></p><p class=\"hint\" data-passkey-status role=\"status\"></p>{SCRIPT}",
        escape(rd)
    )
}

/// The account page's "Passkeys" subsection, inside its second-factor section: the list with
/// remove forms, and "Add a passkey".
pub fn account_section(passkeys: &[Listed]) -> String {
    let mut s = String::from("<h3 id=\"passkeys\">Passkeys</h3>");
    if passkeys.is_empty() {
        s.push_str("<p class=\"muted\">No passkey or security key yet.</p>");
    } else {
        s.push_str("<ul>");
        for p in passkeys {
            let used = p.last_used_at.map_or_else(
                || "never used".to_string(),
                |t| format!("last used {}", rfc3339(t)),
            );
            let _ = write!(
                s,
                "<li>{} <span class=\"muted\">added {}, {used}</span>\
<form data-passkey-remove=\"{}\" hidden><label>Password <input type=\"password\" name=\"password\" \
autocomplete=\"current-password\" required></label><button type=\"submit\">Remove</button></form></li>",
                escape(&p.name),
                rfc3339(p.created_at),
                p.id,
            );
        }
        s.push_str("</ul>");
    }
    s.push_str(
        "<form data-passkey-register hidden><label for=\"passkey-name\">Name</label>\
<input type=\"text\" id=\"passkey-name\" name=\"name\" maxlength=\"64\" required placeholder=\"Laptop\">\
<label for=\"passkey-password\">Password</label>\
<input type=\"password\" id=\"passkey-password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Add a passkey</button></form>\
<p class=\"hint\" data-passkey-status role=\"status\"></p>",
    );
    s.push_str(SCRIPT);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buttons_go_after_the_form_hidden_until_the_script_shows_them() {
        let page = with_sign_in_button("<div><form>f</form><p>x</p></div>".into(), "/a\"b");
        assert!(page.starts_with("<div><form>f</form><p><button"), "{page}");
        assert!(page.contains("data-rd=\"/a&quot;b\" hidden"), "{page}");
        assert!(page.ends_with(&format!("{SCRIPT}<p>x</p></div>")), "{page}");
        let page = with_second_step_button("<div>x</div>".into(), "/", true);
        assert!(page.contains("data-passkey-second-step"), "{page}");
    }

    #[test]
    fn passkey_names_are_escaped_on_the_account_page() {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        let html = account_section(&[Listed {
            id: uuid::Uuid::nil(),
            name: "<b>key</b>".into(),
            created_at: t,
            last_used_at: None,
        }]);
        assert!(
            html.contains("&lt;b&gt;key&lt;/b&gt;") && !html.contains("<b>key"),
            "{html}"
        );
        assert!(
            html.contains("never used") && html.contains("Add a passkey"),
            "{html}"
        );
    }
}
