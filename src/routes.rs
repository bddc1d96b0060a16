//! The map of every route: `classify(method, path)` decides once what a request is, and the
//! path rules of CONTRACT §6 (`bad_path`, public prefixes). Pure and unit-tested.

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Register,
    Login,
    LoginPage,
    Refresh,
    Logout,
    Me,
    Sessions,
    SessionRevoke(Uuid),
    SessionsAbort,
    Password,
    Verify,
    Forward,
    Account,
    OpenApi,
    /// Under `/auth` but no such route.
    AuthNotFound,
    /// A known `/auth` route with the wrong method; carries the `Allow` value.
    WrongMethod(&'static str),
    /// Everything outside `/auth`: authenticate (unless public), then forward.
    Proxy,
}

impl Route {
    /// A bounded label for metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Route::Proxy => "proxy",
            Route::Verify | Route::Forward => "forward_auth",
            _ => "auth",
        }
    }
}

/// Every `/auth` operation, as `(method, path template)`: the OpenAPI document is tested
/// against this list, and the list against `classify`.
pub const TABLE: &[(&str, &str)] = &[
    ("POST", "/auth/register"),
    ("GET", "/auth/login"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("GET", "/auth/sessions"),
    ("POST", "/auth/sessions/abort"),
    ("DELETE", "/auth/sessions/{id}"),
    ("POST", "/auth/sessions/{id}"),
    ("POST", "/auth/password"),
    ("GET", "/auth/verify"),
    ("GET", "/auth/forward"),
    ("GET", "/auth/account"),
    ("GET", "/auth/openapi.json"),
];

pub fn classify(method: &str, path: &str) -> Route {
    let rest = match path.strip_prefix("/auth") {
        Some("") => "/",
        Some(r) if r.starts_with('/') => r,
        _ => return Route::Proxy,
    };
    let get = matches!(method, "GET" | "HEAD");
    let post = method == "POST";
    let pick = |ok: bool, route: Route, allow: &'static str| {
        if ok {
            route
        } else {
            Route::WrongMethod(allow)
        }
    };
    match rest {
        "/register" => pick(post, Route::Register, "POST"),
        "/login" if get => Route::LoginPage,
        "/login" => pick(post, Route::Login, "GET, HEAD, POST"),
        "/refresh" => pick(post, Route::Refresh, "POST"),
        "/logout" => pick(post, Route::Logout, "POST"),
        "/me" => pick(get, Route::Me, "GET, HEAD"),
        "/sessions" => pick(get, Route::Sessions, "GET, HEAD"),
        "/sessions/abort" => pick(post, Route::SessionsAbort, "POST"),
        "/password" => pick(post, Route::Password, "POST"),
        "/verify" => pick(get, Route::Verify, "GET, HEAD"),
        "/forward" => pick(get, Route::Forward, "GET, HEAD"),
        "/account" => pick(get, Route::Account, "GET, HEAD"),
        "/openapi.json" => pick(get, Route::OpenApi, "GET, HEAD"),
        _ => match rest.strip_prefix("/sessions/").map(Uuid::try_parse) {
            // POST is the HTML form twin of DELETE.
            Some(Ok(id)) => pick(
                matches!(method, "DELETE" | "POST"),
                Route::SessionRevoke(id),
                "DELETE, POST",
            ),
            _ => Route::AuthNotFound,
        },
    }
}

/// CONTRACT §6: `.`/`..` segments (also percent-encoded), `%2F`, `%5C`, `%00`, a backslash or
/// invalid percent-encoding make a path unacceptable. Checked before any routing decision.
pub fn path_is_acceptable(path: &str) -> bool {
    if !path.starts_with('/') || path.contains('\\') {
        return false;
    }
    path.split('/')
        .all(|segment| match percent_decode(segment) {
            Some(decoded) => {
                decoded != b"."
                    && decoded != b".."
                    && !decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0))
            }
            None => false,
        })
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Whether `path` lies under one of the public prefixes, matching whole segments.
pub fn is_public(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        p == "/"
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auth_routes_are_classified() {
        assert_eq!(classify("POST", "/auth/login"), Route::Login);
        assert_eq!(classify("GET", "/auth/login"), Route::LoginPage);
        assert_eq!(
            classify("PUT", "/auth/login"),
            Route::WrongMethod("GET, HEAD, POST")
        );
        assert_eq!(classify("GET", "/auth/me"), Route::Me);
        assert_eq!(
            classify("POST", "/auth/sessions/abort"),
            Route::SessionsAbort
        );
        let id = Uuid::new_v4();
        assert_eq!(
            classify("DELETE", &format!("/auth/sessions/{id}")),
            Route::SessionRevoke(id)
        );
        assert_eq!(
            classify("DELETE", "/auth/sessions/not-a-uuid"),
            Route::AuthNotFound
        );
        assert_eq!(classify("GET", "/auth/nothing"), Route::AuthNotFound);
        assert_eq!(classify("GET", "/auth"), Route::AuthNotFound);
    }

    #[test]
    fn every_listed_operation_is_routed_and_the_openapi_document_lists_exactly_them() {
        let id = Uuid::new_v4().to_string();
        for (method, template) in TABLE {
            let path = template.replace("{id}", &id);
            let route = classify(method, &path);
            assert!(
                !matches!(
                    route,
                    Route::AuthNotFound | Route::WrongMethod(_) | Route::Proxy
                ),
                "{method} {template}"
            );
        }
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("valid JSON");
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| *k != "parameters")
                    .map(move |m| (m.to_ascii_uppercase(), path.clone()))
            })
            .collect();
        let mut listed: Vec<(String, String)> = TABLE
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        listed.sort();
        assert_eq!(documented, listed);
    }

    #[test]
    fn paths_merely_starting_with_auth_are_proxied() {
        assert_eq!(classify("GET", "/authors"), Route::Proxy);
        assert_eq!(classify("GET", "/"), Route::Proxy);
    }

    #[test]
    fn public_prefixes_match_whole_segments() {
        let p = vec!["/public".to_string()];
        assert!(is_public("/public", &p));
        assert!(is_public("/public/x", &p));
        assert!(!is_public("/publicity", &p));
        assert!(!is_public("/", &p));
        assert!(is_public("/anything", &["/".to_string()]));
    }

    #[test]
    fn hostile_paths_are_refused() {
        for bad in [
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2e/b",
            "/a/%2E/b",
            "/a%2Fb",
            "/a%2fb",
            "/a%5Cb",
            "/a%00",
            "/a\\b",
            "/a%zz",
            "/a%2",
            "relative",
            "",
        ] {
            assert!(!path_is_acceptable(bad), "{bad}");
        }
        for good in [
            "/",
            "/a/b",
            "/a/b/",
            "/a..b",
            "/.well-known/x",
            "/a%20b",
            "//x",
        ] {
            assert!(path_is_acceptable(good), "{good}");
        }
    }

    proptest! {
        #[test]
        fn path_checks_never_panic(s in ".*") {
            let _ = path_is_acceptable(&s);
            let _ = classify("GET", &s);
        }

        #[test]
        fn accepted_paths_have_no_dot_segments(s in "(/[a-z.%0-9A-F]{0,4}){1,4}") {
            if path_is_acceptable(&s) {
                for seg in s.split('/') {
                    let d = percent_decode(seg).unwrap();
                    prop_assert!(d != b"." && d != b"..");
                }
            }
        }
    }
}
