//! Forward auth (CONTRACT §7): answering nginx `auth_request` (`/auth/verify`) about a request
//! another proxy holds. The original request is read from `X-Forwarded-*` / `X-Original-*`,
//! and only when the caller is a trusted proxy.

use time::OffsetDateTime;

use crate::auth::{authenticate, Credentials};
use crate::error::Error;
use crate::request::RequestMeta;
use crate::respond::Reply;
use crate::routes;
use crate::App;

pub const USER_ID: &str = "x-auth-user-id";
pub const USER: &str = "x-auth-user";
pub const SESSION_ID: &str = "x-auth-session-id";

/// The path of the original request, when a trusted proxy tells it.
pub fn original_path(meta: &RequestMeta) -> Option<String> {
    if !meta.peer_trusted {
        return None;
    }
    let uri = meta
        .header("x-forwarded-uri")
        .or_else(|| meta.header("x-original-uri"))
        .map(str::to_string)
        .or_else(|| {
            // X-Original-URL is absolute: keep its path and query.
            let url = meta.header("x-original-url")?;
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))?;
            Some(
                rest.find('/')
                    .map_or("/".to_string(), |i| rest[i..].to_string()),
            )
        })?;
    let path = uri.split(['?', '#']).next().unwrap_or("");
    Some(path.to_string())
}

pub async fn verify(
    app: &App,
    meta: &RequestMeta,
    now: OffsetDateTime,
) -> Result<crate::respond::Reply, Error> {
    if let Some(path) = original_path(meta) {
        if !routes::path_is_acceptable(&path) {
            return Err(Error::BadPath);
        }
        if routes::is_public(&path, &app.config.public_paths) {
            return Ok(Reply::empty(200)
                .header(USER_ID, "")
                .header(USER, "")
                .header(SESSION_ID, ""));
        }
    }
    let creds = Credentials::from_headers(&meta.headers, &app.cookies);
    let id = authenticate(app, &creds, now).await?;
    Ok(Reply::empty(200)
        .header(USER_ID, id.user_id.to_string())
        .header(USER, id.username.to_string())
        .header(SESSION_ID, id.session_id.to_string()))
}

/// Whether `host` is one of the allowed redirect hosts (exact, or `.example.com` for its
/// subdomains).
pub fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.iter().any(|a| match a.strip_prefix('.') {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(a.as_str()),
        None => host == *a,
    })
}
