//! Who a request is, once authenticated, and how the upstream hears it: the identity header
//! names, their values, and the rule that strips every client spelling of them
//! (docs/contract.md §6). The gateway sets these headers; nothing else may.

use http::{HeaderName, HeaderValue};
use uuid::Uuid;

pub const USER_ID: &str = "x-auth-user-id";
pub const USER: &str = "x-auth-user";
pub const SESSION_ID: &str = "x-auth-session-id";
/// The user's groups, sorted, joined with `,` (docs/contract.md §9).
pub const GROUPS: &str = "x-auth-groups";
/// The signed assertion (docs/contract.md §11, auth/assertion.rs): stripped from every
/// request like the others, set only by the gateway.
pub const ASSERTION: &str = "x-auth-assertion";

pub const X_AUTH_USER_ID: HeaderName = HeaderName::from_static(USER_ID);
pub const X_AUTH_USER: HeaderName = HeaderName::from_static(USER);
pub const X_AUTH_SESSION_ID: HeaderName = HeaderName::from_static(SESSION_ID);
pub const X_AUTH_GROUPS: HeaderName = HeaderName::from_static(GROUPS);
pub const X_AUTH_ASSERTION: HeaderName = HeaderName::from_static(ASSERTION);

/// Who a request is, once authenticated.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// Whether the session was made (or stepped up) with a second factor (docs/contract.md
    /// §10): what a `two_factor` policy asks.
    pub mfa: bool,
    /// The identity headers' values (user id, username, session id, groups), ready to forward.
    /// Built per request rather than shared with the cached session: a shared buffer's
    /// reference count was one cache line every worker thread wrote on every request of that
    /// session.
    pub header_values: [http::HeaderValue; 4],
    /// The cached session this identity was read from, where its signed assertions are
    /// remembered (docs/contract.md §11); the `Arc` the cache handed out, kept rather than
    /// dropped.
    pub session: Option<std::sync::Arc<crate::store::sessions::Active>>,
}

impl Identity {
    pub fn username(&self) -> &str {
        std::str::from_utf8(self.header_values[1].as_bytes()).unwrap_or_default()
    }

    /// The user's group names, sorted.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups_joined().split(',').filter(|g| !g.is_empty())
    }

    /// Where assertions for this session are remembered, when it came from the cache.
    pub fn minted(&self) -> Option<&crate::store::sessions::Minted> {
        self.session.as_ref().map(|s| &s.minted)
    }

    /// The group names joined with `,`, as `X-Auth-Groups` sends them.
    pub fn groups_joined(&self) -> &str {
        std::str::from_utf8(self.header_values[3].as_bytes()).unwrap_or_default()
    }
}

/// `X-Auth-User-Id`, `X-Auth-User`, `X-Auth-Session-Id` and `X-Auth-Groups`, in one
/// allocation. `groups` is already joined with `,` (the session cache keeps it so).
pub fn header_values(user_id: Uuid, username: &str, sid: Uuid, groups: &str) -> [HeaderValue; 4] {
    header_values_of(&encode_ids(user_id, sid), username, groups)
}

/// The user id and the session id as the identity headers carry them, one after the other:
/// encoded once per cached session rather than twice per request.
pub fn encode_ids(user_id: Uuid, sid: Uuid) -> [u8; 72] {
    let mut ids = [0u8; 72];
    let (user, session) = ids.split_at_mut(36);
    user_id.hyphenated().encode_lower(user);
    sid.hyphenated().encode_lower(session);
    ids
}

/// [`header_values`] from ids already encoded by [`encode_ids`].
pub fn header_values_of(ids: &[u8; 72], username: &str, groups: &str) -> [HeaderValue; 4] {
    let mut buf = bytes::BytesMut::with_capacity(72 + username.len() + groups.len());
    buf.extend_from_slice(&ids[..36]);
    // Usernames are letters, digits and `._-@`; non-ASCII letters travel as UTF-8 bytes,
    // which header values allow.
    buf.extend_from_slice(username.as_bytes());
    buf.extend_from_slice(&ids[36..]);
    // Group names are `a-z 0-9 . _ -` (store/groups.rs), always a valid header value.
    buf.extend_from_slice(groups.as_bytes());
    let all = buf.freeze();
    let name_end = 36 + username.len();
    let sid_end = name_end + 36;
    let part = |range: std::ops::Range<usize>| {
        HeaderValue::from_maybe_shared(all.slice(range)).unwrap_or(HeaderValue::from_static(""))
    };
    [
        part(0..36),
        part(36..name_end),
        part(name_end..sid_end),
        part(sid_end..all.len()),
    ]
}

/// docs/contract.md §6: a header whose name, lower-cased with `_` and `.` read as `-`, is an identity
/// header name. Every other character a name may hold beside letters, digits and `-`
/// (`!#$%&'*+^`|~`) is read as `-` too: CGI, WSGI and PHP turn each of them into `_`, so
/// `X!Auth!User` is `HTTP_X_AUTH_USER` to them just as `X_Auth_User` is.
pub fn is_identity_header(name: &str) -> bool {
    const NAMES: [&str; 5] = [USER_ID, USER, SESSION_ID, GROUPS, ASSERTION];
    NAMES.iter().any(|n| {
        n.len() == name.len()
            && n.bytes().zip(name.bytes()).all(|(a, b)| {
                let b = match b.to_ascii_lowercase() {
                    other if other.is_ascii_alphanumeric() => other,
                    _ => b'-',
                };
                a == b
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_are_recognised_in_every_spelling() {
        for name in [
            "X-Auth-User",
            "x_auth_user",
            "X.Auth.User-Id",
            "x-auth-session_id",
            "X_Auth.Groups",
            "x-auth_assertion",
            "X!Auth~User",
            "x+auth*session|id",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in ["x-auth-users", "x-auth", "x-forwarded-user"] {
            assert!(!is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn the_four_values_are_cut_from_one_buffer() {
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let [u, name, s, g] = header_values(user, "Zoë", sid, "admins,ops");
        assert_eq!(u.as_bytes(), user.to_string().as_bytes());
        assert_eq!(name.as_bytes(), "Zoë".as_bytes());
        assert_eq!(s.as_bytes(), sid.to_string().as_bytes());
        assert_eq!(g, "admins,ops");
        let [.., none] = header_values(user, "Zoë", sid, "");
        assert_eq!(none, "", "no groups: an empty value, still sent");
    }

    #[test]
    fn the_groups_are_read_back_from_their_header_value() {
        let id = |groups| Identity {
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            mfa: false,
            header_values: header_values(Uuid::nil(), "a", Uuid::nil(), groups),
            session: None,
        };
        assert_eq!(id("a,b").groups().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(id("").groups().count(), 0);
    }
}
