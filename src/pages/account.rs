//! The account page: who is signed in, their groups, their sessions (revoke one, sign out everywhere else),
//! and sign out.

use std::fmt::Write as _;

use super::layout::{escape, layout};
use crate::clock::rfc3339;
use crate::store::sessions::SessionInfo;

pub struct AccountPage<'a> {
    pub username: &'a str,
    /// Sorted group names.
    pub groups: &'a [&'a str],
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
