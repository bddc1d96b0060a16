//! `GATEHOUSE_REDIRECT_LISTEN` (docs/contract.md §11): plain HTTP answered with `308` to the
//! same path and query on the https public URL. Nothing here reads a cookie or a credential:
//! the only thing taken from the request is its target.

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::origin::Origin;

pub struct Redirect {
    origin: Origin,
}

impl Redirect {
    pub fn new(origin: Origin) -> Self {
        Self { origin }
    }
}

/// The `Location` for a request target: its path and query on `origin`. An absolute-form
/// target keeps only its path and query, so the redirect never leaves the public URL.
pub fn location(origin: &Origin, target: &http::Uri) -> String {
    let path_and_query = target.path_and_query().map_or("/", |p| p.as_str());
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        // `OPTIONS *` and the like: the site's root.
        "/"
    };
    format!("{}{path_and_query}", origin.as_str())
}

#[async_trait]
impl ServeHttp for Redirect {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let location = location(&self.origin, &session.req_header().uri);
        let mut r = http::Response::new(Vec::new());
        *r.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
        let headers = r.headers_mut();
        match http::HeaderValue::try_from(location) {
            Ok(v) => {
                headers.insert(http::header::LOCATION, v);
            }
            // Unreachable for a target Pingora parsed; the root is still the right place.
            Err(_) => {
                if let Ok(v) = http::HeaderValue::try_from(format!("{}/", self.origin.as_str())) {
                    headers.insert(http::header::LOCATION, v);
                }
            }
        }
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(0));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_path_and_query_on_the_public_origin() {
        let origin = Origin::parse("https://app.example.com").unwrap();
        let at = |t: &str| location(&origin, &t.parse().unwrap());
        assert_eq!(at("/a/b?c=d&e"), "https://app.example.com/a/b?c=d&e");
        assert_eq!(at("/"), "https://app.example.com/");
        assert_eq!(at("http://evil.example/x?y"), "https://app.example.com/x?y");
        assert_eq!(at("*"), "https://app.example.com/");
    }
}
