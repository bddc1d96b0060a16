//! The only code that writes a response the gateway itself produces: JSON bodies, errors from
//! the single table in `error.rs`, cookies, and `Cache-Control: no-store` on all of it.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::Serialize;

use crate::error::Error;

#[derive(Debug)]
pub enum Body {
    Empty,
    Json(Vec<u8>),
    Html(String),
}

/// A response as handlers describe it, with no Pingora types.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        // Serialising our own plain structs cannot fail; an empty object is a safe fallback.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    /// A JSON body that is already serialised.
    pub fn raw_json(status: u16, json: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(json.as_bytes().to_vec()),
        }
    }

    pub fn html(status: u16, html: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Html(html),
        }
    }

    /// The same reply's cookies, as a redirect to `location` with no body.
    pub fn into_redirect(self, status: u16, location: &str) -> Self {
        let cookies = self.headers.into_iter().filter(|(n, _)| *n == "set-cookie");
        Reply {
            status,
            headers: cookies.collect(),
            body: Body::Empty,
        }
        .header("location", location)
    }

    /// Whether this reply clears the gateway's cookies.
    pub fn clears_cookies(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| *n == "set-cookie" && v.contains("Max-Age=0"))
    }

    /// Adds the headers an error needs (`Retry-After`, `Allow`) to a reply made for it.
    pub fn with_error_headers(mut self, e: &Error) -> Self {
        let extra = Reply::error_quiet(e).headers;
        self.headers.extend(extra);
        self
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn cookies(mut self, cookies: impl IntoIterator<Item = String>) -> Self {
        self.headers
            .extend(cookies.into_iter().map(|c| ("set-cookie", c)));
        self
    }

    /// The error table applied: status, `{"error", "message"}`, and the headers some errors need.
    pub fn error(e: &Error) -> Self {
        let d = e.describe();
        if d.status >= 500 {
            tracing::error!(error = %e, code = d.code, "request failed");
        }
        Self::error_quiet(e)
    }

    fn error_quiet(e: &Error) -> Self {
        let d = e.describe();
        let reply = Reply::json(
            d.status,
            &serde_json::json!({ "error": d.code, "message": d.message }),
        );
        match e {
            Error::RateLimited { retry_after_secs } => {
                reply.header("retry-after", retry_after_secs.to_string())
            }
            Error::MethodNotAllowed { allow } => reply.header("allow", *allow),
            Error::Password(crate::auth::password::PasswordError::Busy) => {
                reply.header("retry-after", "1")
            }
            _ => reply,
        }
    }
}

impl From<Error> for Reply {
    fn from(e: Error) -> Self {
        Reply::error(&e)
    }
}

/// Writes `reply` downstream. HEAD requests get the headers without the body.
pub async fn write(session: &mut Session, reply: Reply, request_id: &str) -> pingora::Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD;
    let (content_type, body) = match reply.body {
        Body::Empty => (None, Bytes::new()),
        Body::Json(b) => (Some("application/json"), Bytes::from(b)),
        Body::Html(s) => (Some("text/html; charset=utf-8"), Bytes::from(s)),
    };
    let mut resp = ResponseHeader::build(reply.status, Some(reply.headers.len() + 4))?;
    if let Some(ct) = content_type {
        resp.insert_header("content-type", ct)?;
    }
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("cache-control", "no-store")?;
    resp.insert_header("x-request-id", request_id)?;
    if content_type.is_some_and(|c| c.starts_with("text/html")) {
        // Pages are self-contained: no scripts, no framing, no outside resources.
        resp.insert_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        )?;
        resp.insert_header("x-frame-options", "DENY")?;
        resp.insert_header("referrer-policy", "same-origin")?;
        resp.insert_header("x-content-type-options", "nosniff")?;
    }
    for (name, value) in reply.headers {
        resp.append_header(name, value)?;
    }
    let empty = head_only || body.is_empty();
    session.write_response_header(Box::new(resp), empty).await?;
    if !empty {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
