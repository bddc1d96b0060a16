//! Authentication: which credentials a request carries, and whether they name an active
//! session. Cheap checks first (signature, claims), then the session cache, then the database.

pub mod handlers;
pub mod input;
pub mod password;
pub mod tokens;

use std::sync::Arc;

use http::HeaderMap;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cookies::{self, CookieNames};
use crate::error::Error;
use crate::App;
use tokens::Kind;

/// Who a request is, once authenticated.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub username: Arc<str>,
    pub session_id: Uuid,
}

/// The credentials a request carries, borrowed from its headers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The access cookie, if sent exactly once.
    pub access_cookie: Option<&'a str>,
    pub bearer: Option<&'a str>,
    /// The refresh cookie, if sent exactly once.
    pub refresh_cookie: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    pub fn from_headers(headers: &'a HeaderMap, names: &CookieNames) -> Self {
        let cookie_values = || headers.get_all("cookie").iter().map(|v| v.as_bytes());
        Self {
            access_cookie: cookies::find(cookie_values(), &names.access).one(),
            refresh_cookie: cookies::find(cookie_values(), &names.refresh).one(),
            bearer: bearer(headers),
        }
    }

    /// The access token to check: the cookie, or else the bearer token.
    pub fn access(&self) -> Option<&'a str> {
        self.access_cookie.or(self.bearer)
    }
}

/// `Authorization: Bearer <token>`, the scheme matched without case.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all("authorization").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The identity behind an access token, if its session is active and belongs to its subject.
pub async fn authenticate(
    app: &App,
    creds: &Credentials<'_>,
    now: OffsetDateTime,
) -> Result<Identity, Error> {
    let token = creds.access().ok_or(Error::Unauthorized)?;
    let claims = app
        .keys
        .verify(token, Kind::Access, now.unix_timestamp())
        .map_err(|_| Error::Unauthorized)?;
    let active = app
        .sessions
        .lookup(claims.sid, now)
        .await?
        .ok_or(Error::Unauthorized)?;
    if active.user_id != claims.sub {
        return Err(Error::Unauthorized);
    }
    Ok(Identity {
        user_id: active.user_id,
        username: active.username.clone(),
        session_id: claims.sid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer a".parse().unwrap());
        h.append("authorization", "Bearer b".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
