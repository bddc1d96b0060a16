//! Authentication: which credentials a request carries, and whether they name an active
//! session. Cheap checks first (signature, claims), then the session cache, then the database.
//! Also everything else about who a request is: identity headers, cookies, forward auth,
//! redirects, and the `/auth` handlers. No Pingora types here.

pub mod browser;
pub mod cookies;
pub mod forward;
pub mod handlers;
pub mod identity;
pub mod input;
pub mod limits;
pub mod origin;
pub mod pair;
pub mod password;
pub mod redirect;
pub mod tokens;
pub mod verified;

use std::sync::Arc;

use http::HeaderMap;
use time::OffsetDateTime;

use crate::error::Error;
use crate::request::RequestMeta;
use crate::App;
use cookies::CookieNames;
pub use identity::Identity;
use input::Accepts;
pub use verified::VerifiedTokens;

/// One request to an `/auth` route, as the handlers see it.
pub struct Request<'a> {
    pub meta: &'a RequestMeta,
    pub body: &'a [u8],
    pub now: OffsetDateTime,
}

impl Request<'_> {
    pub fn creds<'b>(&'b self, app: &App) -> Credentials<'b> {
        Credentials::from_headers(&self.meta.headers, &app.cookies).from(self.meta.client_ip)
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self, accepts: Accepts) -> Result<T, Error> {
        input::parse(self.meta.header("content-type"), self.body, accepts)
    }

    pub async fn identity(&self, app: &App) -> Result<Identity, Error> {
        authenticate(app, &self.creds(app), self.now).await
    }
}

/// The credentials a request carries, borrowed from its headers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The access cookie, if sent exactly once.
    pub access_cookie: Option<&'a str>,
    pub bearer: Option<&'a str>,
    /// The refresh cookie, if sent exactly once.
    pub refresh_cookie: Option<&'a str>,
    /// Who is presenting them, for the audit record of an in-line refresh.
    pub client_ip: Option<std::net::IpAddr>,
}

impl<'a> Credentials<'a> {
    pub fn from_headers(headers: &'a HeaderMap, names: &CookieNames) -> Self {
        let cookie_values = headers.get_all(http::header::COOKIE).iter();
        let (access, refresh) = cookies::find_ours(cookie_values.map(|v| v.as_bytes()), names);
        Self {
            access_cookie: access.one(),
            refresh_cookie: refresh.one(),
            bearer: bearer(headers),
            client_ip: None,
        }
    }

    /// The access token to check: the cookie, or else the bearer token.
    pub fn from(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }

    pub fn access(&self) -> Option<&'a str> {
        self.access_cookie.or(self.bearer)
    }
}

/// `Authorization: Bearer <token>`, the scheme matched without case.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
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
        .verified
        .access(&app.keys, token, now.unix_timestamp())
        .ok_or(Error::Unauthorized)?;
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
        session_id: claims.sid,
        header_values: identity::header_values(active.user_id, &active.username, claims.sid),
    })
}

/// [`authenticate`], and when that fails for want of a valid access token, an in-line refresh
/// with the refresh cookie. Returns the new pair when one was minted, so the caller can hand
/// its cookies to the client.
pub async fn authenticate_or_refresh(
    app: &App,
    creds: &Credentials<'_>,
    now: OffsetDateTime,
) -> Result<(Identity, Option<Arc<pair::Pair>>), Error> {
    match authenticate(app, creds, now).await {
        Ok(identity) => Ok((identity, None)),
        Err(Error::Unauthorized) => {
            let refresh = creds.refresh_cookie.ok_or(Error::Unauthorized)?;
            // Boxed so the rare refresh's database work does not make every check's state large.
            match Box::pin(
                app.inline_refresh
                    .refresh(app, refresh, now, creds.client_ip),
            )
            .await?
            {
                Some(p) => Ok((p.identity(), Some(p))),
                None => Err(Error::Unauthorized),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn bearer_extraction_never_panics_and_returns_part_of_the_header(v in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(value) = http::HeaderValue::from_bytes(&v) {
                let mut h = HeaderMap::new();
                h.insert("authorization", value.clone());
                if let Some(token) = bearer(&h) {
                    proptest::prop_assert!(!token.is_empty());
                    proptest::prop_assert!(value.to_str().unwrap().ends_with(token));
                }
            }
        }
    }

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
