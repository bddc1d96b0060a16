//! A response the gateway itself produces, as the domain describes it: status, headers and a
//! JSON, HTML or empty body, with no Pingora types. `gateway/respond.rs` writes it; errors become
//! replies through the one table in `error.rs`.

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

    /// Adds the headers an error needs (`WWW-Authenticate`, `Retry-After`, `Allow`) to a reply
    /// made for it, such as its HTML page.
    pub fn with_error_headers(mut self, e: &Error) -> Self {
        self.headers.extend(e.describe().headers);
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
        let mut reply = Reply::json(
            d.status,
            &serde_json::json!({ "error": d.code, "message": d.message }),
        );
        reply.headers.extend(d.headers);
        reply
    }
}

impl From<Error> for Reply {
    fn from(e: Error) -> Self {
        Reply::error(&e)
    }
}
