//! A refused sign-in, told twice: one `warn` line that fail2ban-style tools can act on (the
//! format is in the README, "Logs"), and an `auth_events` row with the name that was tried,
//! also when no such user exists.

use std::fmt;
use std::net::IpAddr;

use uuid::Uuid;

use crate::store::audit::{self, Event};
use crate::App;

/// Why a sign-in was refused. The client is told none of this (401 `invalid_credentials` for
/// all but the rate limit); the operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a name any user can have.
    InvalidUsername,
    UnknownUser,
    WrongPassword,
    DisabledUser,
    /// The password changed, or the user was disabled, while this sign-in checked the old one.
    CredentialsChanged,
    RateLimited,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::InvalidUsername => "invalid_username",
            Refusal::UnknownUser => "unknown_user",
            Refusal::WrongPassword => "wrong_password",
            Refusal::DisabledUser => "disabled_user",
            Refusal::CredentialsChanged => "credentials_changed",
            Refusal::RateLimited => "rate_limited",
        }
    }

    fn kind(self) -> audit::Kind {
        match self {
            Refusal::RateLimited => audit::Kind::LoginRateLimited,
            _ => audit::Kind::LoginFailed,
        }
    }

    fn detail(self) -> Option<&'static str> {
        match self {
            Refusal::InvalidUsername => Some("invalid username"),
            Refusal::UnknownUser => Some("unknown user"),
            Refusal::WrongPassword => Some("wrong password"),
            Refusal::DisabledUser => Some("disabled user"),
            Refusal::CredentialsChanged => Some("credentials changed during sign-in"),
            Refusal::RateLimited => None,
        }
    }
}

/// The most of a tried name that is logged and kept: a real username is at most 64 characters
/// after trimming, and a longer "name" is someone filling a log.
const MAX_NAME_CHARS: usize = 64;

/// The name as tried, trimmed and bounded. Everything else about it is the formatter's job:
/// it goes out as a quoted, escaped string (a newline in it is `\n`, not a new log line).
pub fn attempted_name(typed: &str) -> &str {
    let typed = typed.trim();
    match typed.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => &typed[..end],
        None => typed,
    }
}

/// The client address as the log line shows it: the address, or `unknown`.
struct Ip(Option<IpAddr>);

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

/// Logs and records one refused sign-in. The line puts the address, which the client cannot
/// choose, before the name, which it can: a filter anchored on `ip=` cannot be led astray by
/// a name that imitates the rest of a line.
pub async fn record(
    app: &App,
    ip: Option<IpAddr>,
    typed_name: &str,
    user: Option<Uuid>,
    why: Refusal,
) {
    let name = attempted_name(typed_name);
    tracing::warn!(
        target: "auth",
        ip = %Ip(ip),
        username = name,
        reason = %why.reason(),
        "sign-in failed"
    );
    let mut event = Event::new(why.kind()).ip(ip).username(name);
    if let Some(id) = user {
        event = event.user(id);
    }
    if let Some(detail) = why.detail() {
        event = event.detail(detail);
    }
    audit::record(&app.db, event).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tried_name_is_trimmed_and_bounded_in_characters() {
        assert_eq!(attempted_name("  alice \n"), "alice");
        let long = "é".repeat(100);
        assert_eq!(attempted_name(&long).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn an_unknown_address_is_said_so() {
        assert_eq!(Ip(None).to_string(), "unknown");
        assert_eq!(Ip(Some([203, 0, 113, 7].into())).to_string(), "203.0.113.7");
    }
}
