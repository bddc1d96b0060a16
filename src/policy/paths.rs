//! Paths as an upstream reads them (docs/contract.md §9): a route's `path` and a rule's
//! prefixes and regexes are judged against the normalised path, never the raw one, so that
//! `/admin;x/y`, `/%61dmin` and `//admin` cannot slip past a rule about `/admin`.

use std::borrow::Cow;

/// The path as a typical upstream resolves it: each segment with its `;parameters` dropped
/// (Tomcat, Jetty and Spring ignore them) and percent-decoded once, empty segments dropped
/// (nginx and most frameworks merge `//`), a trailing `/` kept for regexes that care.
///
/// The gateway refuses dot segments, `%2F` and `%5C` before routing (`routes.rs`), so decoding
/// cannot invent a segment here; bytes that are not UTF-8 after decoding are read lossily.
///
/// Borrowed when the path is already in that form, as nearly every path is: deciding a request
/// allocates nothing.
pub fn normalise_path(path: &str) -> Cow<'_, str> {
    if is_plain(path) {
        return Cow::Borrowed(path);
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = String::with_capacity(path.len() + 1);
    for segment in path.split('/') {
        let name = segment.split(';').next().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        out.push('/');
        if name.contains('%') {
            out.push_str(&percent_encoding::percent_decode_str(name).decode_utf8_lossy());
        } else {
            out.push_str(name);
        }
    }
    if out.is_empty() || (path.ends_with('/') && path.len() > 1) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Whether `path` is already in normal form: starts with `/`, and has no `;`, `%`, `?`, `#`
/// or `//`. One pass over the bytes, since every request's path goes through here.
fn is_plain(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut slash = false;
    for &b in bytes {
        match b {
            b';' | b'%' | b'?' | b'#' => return false,
            b'/' if slash => return false,
            _ => {}
        }
        slash = b == b'/';
    }
    true
}

/// A whole-segment path prefix, normalised like a request path, without a trailing `/` (the
/// root is `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    /// A configured prefix: must start with `/`; normalised the same way as requests, so a
    /// prefix written with an escape matches the path it stands for.
    pub fn parse(s: &str) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("path {s:?} must start with /"));
        }
        if s.contains(['?', '#', '\\']) {
            return Err(format!("path {s:?} must be a plain path"));
        }
        let normal = normalise_path(s);
        let trimmed = normal.trim_end_matches('/');
        Ok(Prefix(if trimmed.is_empty() {
            "/".to_string()
        } else {
            trimmed.to_string()
        }))
    }

    /// Whether a normalised path lies under this prefix, matching whole segments.
    pub fn matches(&self, normalised: &str) -> bool {
        self.0 == "/"
            || normalised
                .strip_prefix(self.0.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// How specific the prefix is: longer wins when routes compete.
    pub fn len(&self) -> usize {
        if self.0 == "/" {
            0
        } else {
            self.0.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under(prefix: &str, path: &str) -> bool {
        Prefix::parse(prefix)
            .unwrap()
            .matches(&normalise_path(path))
    }

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert!(under("/admin", "/admin"));
        assert!(under("/admin", "/admin/"));
        assert!(under("/admin", "/admin/users"));
        assert!(!under("/admin", "/administrator"));
        assert!(!under("/admin", "/adm"));
        assert!(under("/", "/anything"));
        assert!(under("/admin/", "/admin/x"));
    }

    #[test]
    fn parameters_and_escapes_do_not_hide_a_segment() {
        assert!(under("/admin", "/admin;x/y"));
        assert!(under("/admin", "/admin;jsessionid=1"));
        assert!(under("/admin", "/%61dmin"));
        assert!(under("/admin", "/%61%64%6D%69%6E/users"));
        assert!(under("/admin/users", "/admin;a=b/us%65rs;c"));
        assert!(under("/admin", "//admin"));
        assert!(!under("/admin", "/admin%20x"));
    }

    #[test]
    fn a_prefix_written_with_an_escape_means_the_decoded_path() {
        assert!(under("/caf%C3%A9", "/café/menu"));
        assert!(under("/café", "/caf%c3%a9"));
    }

    #[test]
    fn the_normalised_path_keeps_a_trailing_slash_and_drops_the_query() {
        assert_eq!(normalise_path("/a;p/b/"), "/a/b/");
        assert_eq!(normalise_path("/a?x=/admin"), "/a");
        assert_eq!(normalise_path(""), "/");
        assert_eq!(normalise_path("/"), "/");
        assert_eq!(normalise_path(";x"), "/");
    }

    #[test]
    fn a_prefix_must_be_a_plain_absolute_path() {
        assert!(Prefix::parse("admin").is_err());
        assert!(Prefix::parse("/a?b").is_err());
        assert!(Prefix::parse("/a\\b").is_err());
        assert_eq!(Prefix::parse("/a/").unwrap().as_str(), "/a");
        assert_eq!(Prefix::parse("/").unwrap().len(), 0);
    }

    mod variants {
        use super::*;
        use crate::policy::{decide, routes_from, Facts, Outcome};
        use proptest::prelude::*;

        /// A segment spelt another way: some characters percent-encoded (either case of hex),
        /// maybe a `;parameter`.
        fn spelt(segment: &str, encode: &[bool], upper: bool, param: &Option<String>) -> String {
            let mut out = String::new();
            for (i, c) in segment.chars().enumerate() {
                if encode.get(i).copied().unwrap_or(false) {
                    let hex = format!("%{:02x}", c as u32);
                    out.push_str(&if upper { hex.to_uppercase() } else { hex });
                } else {
                    out.push(c);
                }
            }
            if let Some(p) = param {
                out.push(';');
                out.push_str(p);
            }
            out
        }

        fn segment() -> impl Strategy<Value = String> {
            // No `.`/`..` segments: those are refused before routing (routes.rs).
            "[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,7}"
        }

        fn spelling() -> impl Strategy<Value = (Vec<bool>, bool, Option<String>, bool)> {
            (
                proptest::collection::vec(any::<bool>(), 8),
                any::<bool>(),
                proptest::option::of("[a-z0-9=]{0,6}"),
                any::<bool>(),
            )
        }

        proptest! {
            #[test]
            fn a_denied_prefix_stays_denied_however_its_segments_are_spelt(
                prefix in proptest::collection::vec(segment(), 1..4),
                rest in proptest::collection::vec(segment(), 0..3),
                spellings in proptest::collection::vec(spelling(), 7),
            ) {
                let config = format!(
                    "[[routes]]\nname = \"r\"\nupstream = \"127.0.0.1:1\"\npolicy = \"bypass\"\n\
                     [[routes.rules]]\npaths = [\"/{}\"]\npolicy = \"deny\"",
                    prefix.join("/")
                );
                let routes = routes_from(&config).unwrap();
                let mut path = String::new();
                for (seg, (encode, upper, param, doubled)) in
                    prefix.iter().chain(rest.iter()).zip(spellings.iter())
                {
                    path.push_str(if *doubled { "//" } else { "/" });
                    path.push_str(&spelt(seg, encode, *upper, param));
                }
                prop_assume!(crate::routes::path_is_acceptable(&path));
                let route = routes.choose("any.example", &path).unwrap();
                let normal = normalise_path(&path);
                let facts = Facts {
                    method: &http::Method::GET,
                    path: &normal,
                    client: None,
                    user: None,
                };
                let d = decide(route, &facts);
                prop_assert_eq!((d.outcome, d.rule), (Outcome::Forbidden, Some(0)), "{}", path);
            }
        }
    }
}
