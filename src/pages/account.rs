//! The account page: who is signed in, their groups, their sessions as cards (revoke one, sign
//! out everywhere else), a change-password form, sign out, and the way back to where they were.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::device;
use super::layout::{error_box, escape, layout_wide, note_box, PASSWORD_RULES};
use crate::clock::{ago, readable, rfc3339};
use crate::store::sessions::SessionInfo;

pub struct AccountPage<'a> {
    pub username: &'a str,
    /// Sorted group names.
    pub groups: &'a [&'a str],
    pub created_at: OffsetDateTime,
    pub now: OffsetDateTime,
    pub current: uuid::Uuid,
    pub sessions: &'a [SessionInfo],
    /// Where "Back" goes: where the user came from, else the gateway's public URL.
    pub back: Back<'a>,
    /// The `rd` the page came with, carried by its forms so the page they lead back to keeps
    /// its way back.
    pub rd: Option<&'a str>,
    /// What the last form post did.
    pub note: Option<&'a str>,
    /// Why the change of password was refused.
    pub password_error: Option<&'a str>,
    pub security: Security<'a>,
}

/// The account's second factors, for the security section.
pub struct Security<'a> {
    /// A confirmed authenticator app.
    pub totp: bool,
    pub recovery_codes_left: i64,
    /// Why turning the app off or renewing the recovery codes was refused.
    pub error: Option<&'a str>,
}

pub struct Back<'a> {
    pub href: &'a str,
    /// The host it leads to, which names it.
    pub host: &'a str,
}

pub fn account(p: &AccountPage<'_>) -> String {
    let rd_field = p.rd.map_or_else(String::new, |rd| {
        format!(
            "<input type=\"hidden\" name=\"rd\" value=\"{}\">",
            escape(rd)
        )
    });
    let mut body = String::from("<div class=\"card\">");
    if let Some(n) = p.note {
        let focus = p.password_error.is_none() && p.security.error.is_none();
        body.push_str(&note_box(n, focus));
    }
    let _ = write!(
        body,
        "<h1>Your account</h1><p>Signed in as <strong>{}</strong>. \
<span class=\"muted\">Member since {}.</span></p>",
        escape(p.username),
        time_tag(p.created_at, p.now),
    );
    if p.groups.is_empty() {
        body.push_str("<p class=\"muted\">You are in no groups.</p>");
    } else {
        let names: Vec<String> = p
            .groups
            .iter()
            .map(|g| format!("<strong>{}</strong>", escape(g)))
            .collect();
        let _ = write!(body, "<p>Groups: {}.</p>", names.join(", "));
    }
    let _ = write!(
        body,
        "<div class=\"row actions\"><a href=\"{href}\">Back to {host}</a>\
<form method=\"post\" action=\"/auth/logout\">{rd_field}<button class=\"secondary\" type=\"submit\">\
Sign out</button></form></div></div>",
        href = escape(p.back.href),
        host = escape(p.back.host),
    );
    security(&mut body, p, &rd_field);
    sessions(&mut body, p, &rd_field);
    password_form(&mut body, p, &rd_field);
    layout_wide("Your account", &body)
}

/// A card per session, this device first: a list rather than a table, so that nothing needs
/// columns a narrow screen does not have.
fn sessions(body: &mut String, p: &AccountPage<'_>, rd_field: &str) {
    body.push_str(
        "<section class=\"card\" aria-labelledby=\"sessions-title\">\
<h2 id=\"sessions-title\">Where you are signed in</h2><ul class=\"sessions\">",
    );
    let (this, others): (Vec<&SessionInfo>, Vec<&SessionInfo>) =
        p.sessions.iter().partition(|s| s.id == p.current);
    for s in this.iter().chain(&others) {
        let current = s.id == p.current;
        let device = device::describe(s.user_agent.as_deref());
        let ip = s.ip.as_deref().unwrap_or("unknown");
        let _ = write!(
            body,
            "<li class=\"session\"><div class=\"what\"><span class=\"device\" title=\"{ua}\">{device}</span>{badge}\
<dl><dt>IP address</dt><dd>{ip}</dd><dt>Signed in</dt><dd>{created}</dd>\
<dt>Last active</dt><dd>{seen}</dd><dt>Signed in with</dt><dd>{how}</dd></dl></div>",
            ua = escape(s.user_agent.as_deref().unwrap_or("")),
            device = escape(&device),
            badge = if current {
                "<span class=\"badge\">This device</span>"
            } else {
                ""
            },
            ip = escape(ip),
            created = time_tag(s.created_at, p.now),
            // This request is this device's activity, whatever the last flush recorded.
            seen = time_tag(if current { p.now } else { s.last_seen_at }, p.now),
            how = if s.mfa {
                "Password and second factor"
            } else {
                "Password only"
            },
        );
        if !current {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/auth/sessions/{id}\">{rd_field}\
<button class=\"secondary\" type=\"submit\" aria-label=\"Revoke {device}, {ip}\">Revoke</button></form>",
                id = s.id,
                device = escape(&device),
                ip = escape(ip),
            );
        }
        body.push_str("</li>");
    }
    body.push_str("</ul>");
    if others.is_empty() {
        body.push_str("<p class=\"muted\">You are not signed in anywhere else.</p>");
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/auth/sessions/abort\">{rd_field}\
<input type=\"hidden\" name=\"keep_current\" value=\"true\">\
<button class=\"secondary\" type=\"submit\">Sign out everywhere else</button></form>"
        );
    }
    body.push_str("</section>");
}

/// Second factors: the authenticator app (set up, or turned off with the password), the
/// recovery codes (how many are left, a new set with the password), and passkeys.
fn security(body: &mut String, p: &AccountPage<'_>, rd_field: &str) {
    let sec = &p.security;
    body.push_str(
        "<section class=\"card\" aria-labelledby=\"security-title\">\
<h2 id=\"security-title\">Second factor</h2>",
    );
    if let Some(e) = sec.error {
        body.push_str(&error_box(e));
    }
    body.push_str("<h3>Authenticator app</h3>");
    let setup = format!(
        "/auth/mfa?setup=totp&rd={}",
        percent_encoding::utf8_percent_encode(
            &account_with_rd(p.rd),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    // The unnamed username field is for password managers, and is not sent.
    let user = escape(p.username);
    if sec.totp {
        let _ = write!(
            body,
            "<p><strong>On.</strong> Signing in asks for a code from your app.</p>\
<form method=\"post\" action=\"/auth/mfa/totp/remove\">{rd_field}\
<input type=\"text\" autocomplete=\"username\" value=\"{user}\" hidden>\
<label for=\"totp_off_password\">Password, to turn it off</label>\
<input type=\"password\" id=\"totp_off_password\" name=\"password\" \
autocomplete=\"current-password\" required>\
<button class=\"danger\" type=\"submit\">Turn off the authenticator app</button></form>"
        );
    } else {
        let _ = write!(
            body,
            "<p><strong>Off.</strong> Signing in asks for your password only.</p>\
<p><a class=\"button\" href=\"{}\">Set up an authenticator app</a></p>",
            escape(&setup)
        );
    }
    body.push_str("<h3>Recovery codes</h3>");
    if sec.totp || sec.recovery_codes_left > 0 {
        let left = match sec.recovery_codes_left {
            0 => "<strong>None left.</strong> Make a new set, or you cannot sign in without \
your app."
                .to_string(),
            1 => "<strong>1</strong> left, each usable once.".to_string(),
            n => format!("<strong>{n}</strong> left, each usable once."),
        };
        let _ = write!(
            body,
            "<p>{left}</p>\
<form method=\"post\" action=\"/auth/mfa/recovery-codes\">{rd_field}\
<input type=\"text\" autocomplete=\"username\" value=\"{user}\" hidden>\
<label for=\"codes_password\">Password, for a new set</label>\
<p class=\"hint\" id=\"codes-hint\">The old codes stop working.</p>\
<input type=\"password\" id=\"codes_password\" name=\"password\" \
autocomplete=\"current-password\" required aria-describedby=\"codes-hint\">\
<button class=\"secondary\" type=\"submit\">Generate new codes</button></form>"
        );
    } else {
        body.push_str("<p class=\"muted\">You get ten with your first second factor.</p>");
    }
    // Passkeys (docs/contract.md §10) are listed and added here.
    body.push_str(
        "<h3 id=\"passkeys\">Passkeys</h3><p class=\"muted\">Passkeys cannot be added here \
yet.</p></section>",
    );
}

/// The account page's own address, keeping its `rd`: where a setup started here returns.
fn account_with_rd(rd: Option<&str>) -> String {
    match rd {
        Some(rd) => format!(
            "/auth/account?rd={}",
            percent_encoding::utf8_percent_encode(rd, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "/auth/account".into(),
    }
}

fn password_form(body: &mut String, p: &AccountPage<'_>, rd_field: &str) {
    body.push_str(
        "<section class=\"card\" aria-labelledby=\"password-title\">\
<h2 id=\"password-title\">Change password</h2>",
    );
    if let Some(e) = p.password_error {
        body.push_str(&error_box(e));
    }
    // The unnamed username field is for password managers, and is not sent.
    let _ = write!(
        body,
        "<p class=\"muted\">Changing it signs out every other session.</p>\
<form method=\"post\" action=\"/auth/password\">{rd_field}\
<input type=\"text\" autocomplete=\"username\" value=\"{user}\" hidden>\
<label for=\"current_password\">Current password</label>\
<input type=\"password\" id=\"current_password\" name=\"current_password\" \
autocomplete=\"current-password\" required>\
<label for=\"new_password\">New password</label>\
<p class=\"hint\" id=\"password-rules\">{PASSWORD_RULES}</p>\
<input type=\"password\" id=\"new_password\" name=\"new_password\" autocomplete=\"new-password\" \
minlength=\"8\" required aria-describedby=\"password-rules\">\
<label for=\"confirm_password\">New password again</label>\
<input type=\"password\" id=\"confirm_password\" name=\"confirm_password\" \
autocomplete=\"new-password\" minlength=\"8\" required>\
<button type=\"submit\">Change password</button></form></section>",
        user = escape(p.username),
    );
}

/// "2 hours ago", with the exact time for machines and for a pointer resting on it.
fn time_tag(t: OffsetDateTime, now: OffsetDateTime) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        rfc3339(t),
        readable(t),
        ago(t, now)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn session(id: Uuid, ua: &str, minutes_ago: i64, now: OffsetDateTime) -> SessionInfo {
        SessionInfo {
            id,
            user_id: Uuid::nil(),
            created_at: now - time::Duration::minutes(minutes_ago),
            last_seen_at: now - time::Duration::minutes(minutes_ago),
            expires_at: now + time::Duration::days(30),
            ip: Some("203.0.113.7".into()),
            user_agent: Some(ua.into()),
            mfa: false,
        }
    }

    fn page(sessions: &[SessionInfo], current: Uuid, now: OffsetDateTime) -> String {
        account(&AccountPage {
            username: "alice",
            groups: &[],
            created_at: now - time::Duration::days(3),
            now,
            current,
            sessions,
            back: Back {
                href: "/docs",
                host: "app.example.com",
            },
            rd: Some("/docs"),
            note: None,
            password_error: None,
            security: Security {
                totp: false,
                recovery_codes_left: 0,
                error: None,
            },
        })
    }

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/131.0.0.0 Safari/537.36";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
                          AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 \
                          Safari/604.1";

    #[test]
    fn sessions_show_the_device_the_ip_and_times_as_people_read_them() {
        let now = datetime!(2026-11-30 17:33:46.123456 UTC);
        let (me, phone) = (Uuid::new_v4(), Uuid::new_v4());
        let html = page(
            &[
                session(phone, IPHONE, 120, now),
                session(me, CHROME, 5, now),
            ],
            me,
            now,
        );
        assert!(html.contains(">Chrome on Linux</span><span class=\"badge\">This device"));
        assert!(html.contains(">Safari on iPhone</span><dl>"), "{html}");
        assert!(html.contains("<dd>203.0.113.7</dd>"));
        assert!(html.contains(
            "<time datetime=\"2026-11-30T15:33:46.123456Z\" title=\"30 Nov 2026, 15:33 UTC\">2 hours ago</time>"
        ));
        assert!(
            html.find("Chrome on Linux") < html.find("Safari on iPhone"),
            "this device comes first"
        );
        assert!(html.contains(&format!("action=\"/auth/sessions/{phone}\"")));
        assert!(
            !html.contains(&format!("action=\"/auth/sessions/{me}\"")),
            "this device signs out with Sign out"
        );
        assert!(html.contains("Sign out everywhere else"));
        assert!(html.contains("<a href=\"/docs\">Back to app.example.com</a>"));
        assert!(html.contains("name=\"rd\" value=\"/docs\""));
        assert!(!html.contains("<table"));
    }

    #[test]
    fn alone_there_is_nothing_else_to_sign_out_of() {
        let now = datetime!(2026-11-30 17:33:46 UTC);
        let me = Uuid::new_v4();
        let html = page(&[session(me, CHROME, 1, now)], me, now);
        assert!(!html.contains("Sign out everywhere else"));
        assert!(html.contains("not signed in anywhere else"));
    }

    #[test]
    fn the_change_password_form_shows_the_rules_and_takes_the_focus_when_refused() {
        let now = datetime!(2026-11-30 17:33:46 UTC);
        let me = Uuid::new_v4();
        let html = page(&[session(me, CHROME, 1, now)], me, now);
        assert!(html.contains("action=\"/auth/password\""));
        assert!(html.contains(PASSWORD_RULES));
        for field in ["current_password", "new_password", "confirm_password"] {
            assert!(
                html.contains(&format!("<label for=\"{field}\">")),
                "{field}"
            );
        }
        assert!(!html.contains("autofocus"));
        let refused = account(&AccountPage {
            username: "alice",
            groups: &[],
            created_at: now,
            now,
            current: me,
            sessions: &[],
            back: Back {
                href: "/",
                host: "app.example.com",
            },
            rd: None,
            note: None,
            password_error: Some("The new passwords do not match."),
            security: Security {
                totp: false,
                recovery_codes_left: 0,
                error: None,
            },
        });
        assert!(refused.contains("role=\"alert\" tabindex=\"-1\" autofocus>The new passwords"));
    }

    #[test]
    fn the_security_section_offers_setup_or_removal_and_counts_the_codes_left() {
        let now = datetime!(2026-11-30 17:33:46 UTC);
        let me = Uuid::new_v4();
        let mut two = session(me, CHROME, 1, now);
        two.mfa = true;
        let off = page(&[two], me, now);
        assert!(
            off.contains("href=\"/auth/mfa?setup=totp&amp;rd=%2Fauth%2Faccount%3Frd%3D%252Fdocs\""),
            "{off}"
        );
        assert!(!off.contains("/auth/mfa/totp/remove"));
        assert!(!off.contains("/auth/mfa/recovery-codes"));
        assert!(off.contains("<dt>Signed in with</dt><dd>Password and second factor</dd>"));
        assert!(off.contains("id=\"passkeys\""));
        let on = account(&AccountPage {
            username: "alice",
            groups: &[],
            created_at: now,
            now,
            current: me,
            sessions: &[session(me, CHROME, 1, now)],
            back: Back {
                href: "/",
                host: "app.example.com",
            },
            rd: None,
            note: None,
            password_error: None,
            security: Security {
                totp: true,
                recovery_codes_left: 7,
                error: Some("The password is not right."),
            },
        });
        assert!(on.contains("action=\"/auth/mfa/totp/remove\""));
        assert!(on.contains("action=\"/auth/mfa/recovery-codes\""));
        assert!(on.contains("<strong>7</strong> left"));
        assert!(on.contains("<dd>Password only</dd>"));
        assert!(on.contains("autofocus>The password is not right."));
    }
}
