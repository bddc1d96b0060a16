//! Authentication: which credentials a request carries, and whether they name an active
//! session. Cheap checks first (signature, claims), then the session cache, then the database.
//! Also everything else about who a request is: identity headers, cookies, redirects, second
//! factors (`mfa/`), and the `/auth` handlers (forward auth, which decides by route, lives in `access/`). No Pingora types here.

pub mod account;
pub mod assertion;
pub mod bearer;
pub mod browser;
pub mod cookies;
pub mod csrf;
pub mod handlers;
pub mod identity;
pub mod input;
pub mod invite_token;
pub mod limits;
pub mod mfa;
pub mod pair;
pub mod password;
pub mod redirect;
pub mod refusal;
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
    /// The `Cookie` headers hold something besides the gateway's cookies, which the upstream
    /// gets (gateway/upstream.rs); when not, they are dropped without a second reading.
    pub other_cookies: bool,
}

impl<'a> Credentials<'a> {
    pub fn from_headers(headers: &'a HeaderMap, names: &CookieNames) -> Self {
        Self::from_sent(headers, &crate::request::Sent::UNKNOWN, names)
    }

    /// [`Self::from_headers`], looking only for the headers `sent` says may be there.
    pub fn from_sent(
        headers: &'a HeaderMap,
        sent: &crate::request::Sent,
        names: &CookieNames,
    ) -> Self {
        let found = match sent.cookie {
            true => {
                let values = headers.get_all(http::header::COOKIE).iter();
                cookies::scan(values.map(|v| v.as_bytes()), names)
            }
            false => cookies::scan(std::iter::empty(), names),
        };
        Self {
            access_cookie: found.access.one(),
            refresh_cookie: found.refresh.one(),
            bearer: sent
                .authorization
                .then(|| bearer::from_headers(headers))
                .flatten(),
            client_ip: None,
            other_cookies: found.others,
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
        mfa: active.mfa,
        // The cached session was loaded for `claims.sid` (the cache's key), so its encoded
        // ids are this user's and this session's.
        header_values: identity::header_values_of(&active.ids, &active.username, &active.groups),
        session: Some(active),
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
                Some((p, active)) => {
                    let mut identity = p.identity(&active.groups, active.mfa);
                    identity.session = Some(active);
                    Ok((identity, Some(p)))
                }
                None => Err(Error::Unauthorized),
            }
        }
        Err(e) => Err(e),
    }
}
