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

    /// Whether this reply sets a cookie (rather than only clearing them): someone is signed in.
    pub fn sets_cookies(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| *n == "set-cookie" && !v.contains("Max-Age=0"))
    }

    /// A number at the top of this reply's JSON body, such as `revoked` of an abort.
    pub fn json_u64(&self, field: &str) -> Option<u64> {
        self.json_field(field)?.as_u64()
    }

    /// A string at the top of this reply's JSON body, such as the `error` code of a refusal.
    pub fn json_str(&self, field: &str) -> Option<String> {
        self.json_field(field)?.as_str().map(str::to_string)
    }

    /// An array of strings at the top of this reply's JSON body, such as `recovery_codes`.
    pub fn json_strings(&self, field: &str) -> Option<Vec<String>> {
        self.json_field(field)?
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    fn json_field(&self, field: &str) -> Option<serde_json::Value> {
        match &self.body {
            Body::Json(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()?
                .get_mut(field)
                .map(serde_json::Value::take),
            _ => None,
        }
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
    /// A 5xx is logged here with its cause chain, but for an upstream's failure, which the
    /// proxy logs once with the route and upstream it concerns (gateway/proxy.rs).
    pub fn error(e: &Error) -> Self {
        let d = e.describe();
        if d.status >= 500 && !matches!(e, Error::BadGateway | Error::GatewayTimeout) {
            tracing::error!(error = %crate::chain::Chain(e), code = d.code, "request failed");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CHALLENGE;

    fn header<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
        reply
            .headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(reply: &Reply) -> serde_json::Value {
        match &reply.body {
            Body::Json(bytes) => serde_json::from_slice(bytes).unwrap(),
            other => panic!("a JSON body, got {other:?}"),
        }
    }

    #[test]
    fn an_error_reply_is_the_tables_status_code_and_message_as_json() {
        let reply = Reply::error(&Error::UsernameTaken);
        assert_eq!(reply.status, 409);
        assert_eq!(
            json(&reply),
            serde_json::json!({
                "error": "username_taken",
                "message": "That username is already taken.",
            })
        );
        assert!(reply.headers.is_empty());
    }

    #[test]
    fn a_401_error_reply_carries_the_bearer_challenge() {
        let reply = Reply::from(Error::Unauthorized);
        assert_eq!(reply.status, 401);
        assert_eq!(header(&reply, "www-authenticate"), [CHALLENGE]);
    }

    #[test]
    fn error_replies_carry_retry_after_and_allow_from_the_table() {
        let reply = Reply::error(&Error::RateLimited {
            retry_after_secs: 42,
        });
        assert_eq!(reply.status, 429);
        assert_eq!(header(&reply, "retry-after"), ["42"]);
        let reply = Reply::error(&Error::MethodNotAllowed { allow: "POST" });
        assert_eq!(reply.status, 405);
        assert_eq!(header(&reply, "allow"), ["POST"]);
    }

    #[test]
    fn a_server_error_reply_says_nothing_of_its_cause() {
        let reply = Reply::error(&Error::Internal("pool exhausted at 10.0.0.7".into()));
        assert_eq!(reply.status, 500);
        let body = json(&reply);
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains("10.0.0.7"), "{body}");
    }

    #[test]
    fn a_redirect_keeps_only_the_cookies_and_drops_the_body() {
        let reply = Reply::json(200, &serde_json::json!({ "ok": true }))
            .header("cache-control", "no-store")
            .cookies(["a=1; Path=/".to_string(), "b=2; Path=/".to_string()])
            .header("x-extra", "gone")
            .into_redirect(303, "/auth/account");
        assert_eq!(reply.status, 303);
        assert!(matches!(reply.body, Body::Empty));
        assert_eq!(
            reply.headers,
            [
                ("set-cookie", "a=1; Path=/".to_string()),
                ("set-cookie", "b=2; Path=/".to_string()),
                ("location", "/auth/account".to_string()),
            ]
        );
    }

    #[test]
    fn a_redirect_from_a_reply_without_cookies_sets_only_the_location() {
        let reply = Reply::html(200, "<p>hi</p>".into()).into_redirect(302, "/");
        assert_eq!(reply.status, 302);
        assert_eq!(reply.headers, [("location", "/".to_string())]);
    }

    #[test]
    fn only_a_max_age_zero_cookie_counts_as_clearing_cookies() {
        let clearing = Reply::empty(204).cookies(["access_token=; Path=/; Max-Age=0".to_string()]);
        assert!(clearing.clears_cookies());
        let setting =
            Reply::empty(204).cookies(["access_token=t; Path=/; Max-Age=900".to_string()]);
        assert!(!setting.clears_cookies());
        // The attribute counts only on a Set-Cookie header, not on any header that mentions it.
        let elsewhere = Reply::empty(204).header("x-note", "Max-Age=0");
        assert!(!elsewhere.clears_cookies());
    }

    #[test]
    fn an_error_page_gains_the_errors_headers_and_keeps_its_own() {
        let page = Reply::html(401, "<form></form>".into())
            .header("strict-transport-security", "max-age=31536000")
            .with_error_headers(&Error::InvalidCredentials);
        assert_eq!(page.status, 401);
        assert!(matches!(page.body, Body::Html(_)));
        assert_eq!(
            header(&page, "strict-transport-security"),
            ["max-age=31536000"]
        );
        assert_eq!(header(&page, "www-authenticate"), [CHALLENGE]);
    }

    #[test]
    fn an_error_without_table_headers_adds_none_to_its_page() {
        let page = Reply::html(409, String::new()).with_error_headers(&Error::UsernameTaken);
        assert!(page.headers.is_empty());
    }
}
