//! Forward auth (docs/contract.md §7): answering another proxy about a request it holds.
//! `/auth/verify` speaks nginx `auth_request` (401 + `Location` for browsers), `/auth/forward`
//! speaks Traefik `ForwardAuth` and Caddy `forward_auth` (302/303 for browsers). The original
//! request is read from `X-Forwarded-*` / `X-Original-*`, and only when the caller is trusted;
//! it is decided by [`super::admit`], exactly as the proxy decides its own requests (§9).

use time::OffsetDateTime;

use super::{admit, Ask, Verdict};
use crate::auth::identity::{ASSERTION, GROUPS, SESSION_ID, USER, USER_ID};
use crate::auth::{redirect, Credentials};
use crate::error::Error;
use crate::origin::Origin;
use crate::pages;
use crate::policy::host_is_valid;
use crate::reply::Reply;
use crate::request::{is_browser, RequestMeta};
use crate::routes;
use crate::App;

/// The refresh cookie of an in-line refresh, again, for proxies that see one `Set-Cookie` only.
pub const SECOND_COOKIE: &str = "x-gatehouse-refresh-cookie";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// nginx `auth_request`: only 2xx, 401 and 403 are understood.
    Nginx,
    /// Traefik and Caddy pass any non-2xx answer to the client, so browsers get a redirect.
    Redirect,
}

/// The request the calling proxy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// `proto://host` when the proxy said so.
    pub origin: Option<String>,
    /// The host the request named, as the proxy said it (`X-Forwarded-Host`, or the
    /// authority of `X-Original-URL`), port and all: routes are chosen by it.
    pub host: Option<String>,
}

impl Original {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("")
    }

    /// The URL to come back to after signing in.
    pub fn url(&self) -> String {
        match &self.origin {
            Some(o) => format!("{o}{}", self.uri),
            None => self.uri.clone(),
        }
    }
}

/// The original request, when a trusted proxy describes it.
pub fn original(meta: &RequestMeta) -> Option<Original> {
    if !meta.peer_trusted {
        return None;
    }
    let from_url = meta.header("x-original-url").and_then(|url| {
        let (scheme, rest) = url.split_once("://")?;
        // The path is kept as sent (a `#` in it is refused later, not cut off here).
        let slash = rest.find('/').unwrap_or(rest.len());
        let path = if slash < rest.len() {
            &rest[slash..]
        } else {
            "/"
        };
        let origin = Origin::parse(&url[..scheme.len() + 3 + slash])?;
        Some((
            origin.to_string(),
            path.to_string(),
            rest[..slash].to_string(),
        ))
    });
    let uri = meta
        .header("x-forwarded-uri")
        .or_else(|| meta.header("x-original-uri"))
        .map(str::to_string)
        .or_else(|| from_url.as_ref().map(|(_, p, _)| p.clone()))?;
    let host = meta
        .header("x-forwarded-host")
        .map(str::to_string)
        .or_else(|| from_url.as_ref().map(|(_, _, h)| h.clone()))
        // nginx's subrequest carries the original `Host` unless told otherwise.
        .or_else(|| meta.header("host").map(str::to_string));
    let origin = match (
        meta.header("x-forwarded-proto"),
        meta.header("x-forwarded-host"),
    ) {
        (Some(proto), Some(host)) if matches!(proto, "http" | "https") => {
            Origin::parse(&format!("{proto}://{host}")).map(|o| o.to_string())
        }
        _ => from_url.map(|(o, _, _)| o),
    };
    let method = meta
        .header("x-forwarded-method")
        .or_else(|| meta.header("x-original-method"))
        .unwrap_or("GET")
        .to_ascii_uppercase();
    Some(Original {
        method,
        uri,
        origin,
        host,
    })
}

/// The sign-in URL for coming back to `rd`, on the gateway's public origin.
pub fn login_url(app: &App, rd: &str) -> String {
    format!("{}{}", app.config.public_url, redirect::login_location(rd))
}

fn identified(user_id: &str, user: &str, session_id: &str, groups: &str) -> Reply {
    Reply::empty(200)
        .header(USER_ID, user_id)
        .header(USER, user)
        .header(SESSION_ID, session_id)
        .header(GROUPS, groups)
}

pub async fn check(
    app: &App,
    meta: &RequestMeta,
    now: OffsetDateTime,
    mode: Mode,
) -> Result<Reply, Error> {
    let original = original(meta);
    let browser = is_browser(&meta.headers);
    let (host, path, method) = match &original {
        Some(o) => {
            if !routes::target_is_acceptable(o.uri.as_bytes(), o.path()) {
                return Err(Error::BadPath);
            }
            let host = o.host.as_deref().unwrap_or_default();
            if !host_is_valid(host) {
                return Err(Error::Malformed(
                    "X-Forwarded-Host does not name a host.".into(),
                ));
            }
            let method = http::Method::from_bytes(o.method.as_bytes())
                .map_err(|_| Error::Malformed("X-Forwarded-Method is not a method name.".into()))?;
            (host, o.path(), method)
        }
        // Nobody trusted described a request. With `[[routes]]` no route can be chosen, so
        // nothing is allowed; the implicit route serves every host and path, and is asked
        // about its own policy.
        None if app.routes.load().configured => {
            return Ok(refusal(
                &Error::Forbidden,
                "Forward auth needs the original request (X-Forwarded-Host, -Uri, -Method) \
                 from a proxy listed in GATEHOUSE_TRUSTED_PROXIES.",
            ))
        }
        None => ("", "/", http::Method::GET),
    };
    let ask = Ask {
        host,
        path,
        method: &method,
        client: &|| meta.client_ip,
        // The forwarded host is the host decided on here; nothing else goes upstream.
        forwarded_host: &|| None,
    };
    let creds = Credentials::from_headers(&meta.headers, &app.cookies);
    let admitted = admit(app, &ask, &creds, now).await?;
    let rd = || {
        original
            .as_ref()
            .map_or_else(|| "/".to_string(), Original::url)
    };
    let get_or_head = matches!(method, http::Method::GET | http::Method::HEAD);
    Ok(match admitted.verdict {
        Verdict::Forward(id, pair) => {
            let mut reply = identified(
                &id.user_id.to_string(),
                id.username(),
                &id.session_id.to_string(),
                id.groups_joined(),
            );
            if let Some(keys) = &app.assertions {
                // docs/contract.md §11: the original request's host; when no trusted proxy
                // described one (the implicit route), the host this request was sent to.
                let aud = match host {
                    "" => meta.header("host").unwrap_or_default(),
                    named => named,
                };
                let aud = crate::policy::normalise_host(aud);
                let iss = app.config.public_url.as_str();
                let value = keys.assert(&id, iss, &aud, now.unix_timestamp())?;
                reply = reply.header(ASSERTION, value.to_str().unwrap_or_default());
            }
            match pair {
                Some(p) => {
                    let [access, refresh] = p.cookies(app);
                    // Proxies that keep only the first Set-Cookie of an auth answer (nginx
                    // before 1.23 does) find the second one here.
                    reply
                        .header(SECOND_COOKIE, refresh.clone())
                        .cookies([access, refresh])
                }
                None => reply,
            }
        }
        // Empty, like the other identity headers, so a proxy that copies it overwrites a
        // client's own.
        Verdict::Bypass if app.assertions.is_some() => {
            identified("", "", "", "").header(ASSERTION, "")
        }
        Verdict::Bypass => identified("", "", "", ""),
        // nginx understands 2xx, 401 and 403 only; anything else would be its own 500.
        Verdict::NoRoute if mode == Mode::Nginx => Reply::error(&Error::Forbidden),
        Verdict::NoRoute => pages::answer(&Error::NotFound, browser, None),
        Verdict::Forbidden(who) => pages::answer(
            &Error::Forbidden,
            browser && mode == Mode::Redirect,
            who.as_ref().map(|i| i.username()),
        ),
        Verdict::MfaRequired(_) => {
            let location = format!("{}{}", app.config.public_url, redirect::mfa_location(&rd()));
            match (mode, browser) {
                // For `error_page 403`, as 401 has `error_page 401`.
                (Mode::Nginx, true) => {
                    Reply::error(&Error::MfaRequired).header("location", location)
                }
                (Mode::Redirect, true) if get_or_head => {
                    Reply::empty(302).header("location", location)
                }
                _ => Reply::error(&Error::MfaRequired),
            }
        }
        Verdict::Unauthenticated => {
            let location = login_url(app, &rd());
            match (mode, browser) {
                (Mode::Nginx, true) => {
                    Reply::error(&Error::Unauthorized).header("location", location)
                }
                (Mode::Redirect, true) => {
                    let status = if get_or_head { 302 } else { 303 };
                    Reply::empty(status).header("location", location)
                }
                (_, false) => Reply::error(&Error::Unauthorized),
            }
        }
    })
}

/// A refusal whose sentence says more than the error's own.
fn refusal(e: &Error, message: &str) -> Reply {
    let mut d = e.describe();
    d.message = message.to_string();
    Reply::json(
        d.status,
        &serde_json::json!({ "error": d.code, "message": d.message }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(trusted: bool, headers: &[(&'static str, &'static str)]) -> RequestMeta {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        RequestMeta {
            method: http::Method::GET,
            path: "/auth/verify".into(),
            query: None,
            headers: h,
            peer: None,
            peer_trusted: trusted,
            client_ip: None,
        }
    }

    #[test]
    fn the_original_request_is_read_from_either_family_of_headers() {
        let m = meta(
            true,
            &[
                ("x-forwarded-method", "post"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "app.example.com"),
                ("x-forwarded-uri", "/a?b=1"),
            ],
        );
        let o = original(&m).unwrap();
        assert_eq!(o.method, "POST");
        assert_eq!(o.host.as_deref(), Some("app.example.com"));
        assert_eq!(o.path(), "/a");
        assert_eq!(o.url(), "https://app.example.com/a?b=1");
        let m = meta(
            true,
            &[
                ("x-original-url", "https://app.example.com/x?y"),
                ("x-original-method", "GET"),
            ],
        );
        let o = original(&m).unwrap();
        assert_eq!(
            (o.uri.as_str(), o.url()),
            ("/x?y", "https://app.example.com/x?y".to_string())
        );
        assert_eq!(o.host.as_deref(), Some("app.example.com"));
    }

    #[test]
    fn untrusted_callers_describe_nothing() {
        let m = meta(false, &[("x-forwarded-uri", "/public")]);
        assert_eq!(original(&m), None);
    }
}
