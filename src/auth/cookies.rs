//! The gateway's cookies (docs/contract.md §4): the access and refresh cookies and the
//! `mfa_pending` cookie of a sign-in waiting for its second factor (§10), their names for the
//! configured security mode, how a `Cookie` header is read (a name sent twice authenticates
//! nothing), and `Set-Cookie` values.

use std::time::Duration;

use crate::config::Config;

#[derive(Debug, Clone)]
pub struct CookieNames {
    pub access: String,
    pub refresh: String,
    pub mfa_pending: String,
    secure: bool,
    domain: Option<String>,
}

#[cfg(test)]
impl CookieNames {
    /// The names in the default (secure, host-only) mode, for other modules' tests.
    pub fn for_tests() -> Self {
        Self {
            access: "__Host-access_token".into(),
            refresh: "__Host-refresh_token".into(),
            mfa_pending: "__Host-mfa_pending".into(),
            secure: true,
            domain: None,
        }
    }
}

/// What a request's cookies say about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    Missing,
    One(&'a str),
    /// Sent more than once: possibly a cookie planted by a sibling domain; trusted for nothing.
    Ambiguous,
}

impl<'a> Found<'a> {
    pub fn one(self) -> Option<&'a str> {
        match self {
            Found::One(v) => Some(v),
            _ => None,
        }
    }
}

impl CookieNames {
    pub fn new(config: &Config) -> Self {
        let prefix = match (config.cookie_secure, &config.cookie_domain) {
            (true, None) => "__Host-",
            (true, Some(_)) => "__Secure-",
            (false, _) => "",
        };
        Self {
            access: format!("{prefix}access_token"),
            refresh: format!("{prefix}refresh_token"),
            mfa_pending: format!("{prefix}mfa_pending"),
            secure: config.cookie_secure,
            domain: config.cookie_domain.clone(),
        }
    }

    pub fn set(&self, name: &str, value: &str, max_age: Duration) -> String {
        let mut s = format!(
            "{name}={value}; HttpOnly; Path=/; SameSite=Lax; Max-Age={}",
            max_age.as_secs()
        );
        self.finish(&mut s);
        s
    }

    pub fn clear(&self, name: &str) -> String {
        let mut s = format!("{name}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0");
        self.finish(&mut s);
        s
    }

    fn finish(&self, s: &mut String) {
        if let Some(d) = &self.domain {
            s.push_str("; Domain=");
            s.push_str(d);
        }
        if self.secure {
            s.push_str("; Secure");
        }
    }

    /// Both cookies cleared.
    pub fn clear_both(&self) -> Vec<String> {
        vec![self.clear(&self.access), self.clear(&self.refresh)]
    }

    /// Every cookie of the gateway's, which never goes upstream.
    pub fn is_ours(&self, name: &str) -> bool {
        name == self.access || name == self.refresh || name == self.mfa_pending
    }
}

/// The pairs of one or more `Cookie` header values. Malformed pairs are skipped.
pub fn pairs<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    segments(headers).filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then(|| (name, value.trim().trim_matches('"')))
    })
}

/// The `;`-separated segments of every `Cookie` value that is UTF-8; a value that is not is
/// skipped whole, by the reading that authenticates and the one that forwards alike. The
/// separator is found with `memchr`: a cookie header carries a token of some 250 bytes on
/// every proxied request, and `str::split` walks it a byte at a time.
fn segments<'a>(headers: impl Iterator<Item = &'a [u8]>) -> impl Iterator<Item = &'a str> {
    headers
        .filter_map(|h| std::str::from_utf8(h).ok())
        .flat_map(|mut rest| {
            let mut done = false;
            std::iter::from_fn(move || {
                if done {
                    return None;
                }
                // `;` is ASCII, so both sides of it are on character boundaries.
                Some(match memchr::memchr(b';', rest.as_bytes()) {
                    Some(at) => {
                        let segment = &rest[..at];
                        rest = &rest[at + 1..];
                        segment
                    }
                    None => {
                        done = true;
                        rest
                    }
                })
            })
        })
}

/// The value of the cookie `name` if it was sent exactly once.
pub fn find_one<'a>(headers: impl Iterator<Item = &'a [u8]>, name: &str) -> Option<&'a str> {
    let mut found = Found::Missing;
    for (n, v) in pairs(headers) {
        if n == name {
            found = match found {
                Found::Missing => Found::One(v),
                _ => Found::Ambiguous,
            };
        }
    }
    found.one()
}

/// What one pass over a request's `Cookie` headers found: the gateway's two cookies, and
/// whether anything else would be forwarded (see [`without_ours`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<'a> {
    pub access: Found<'a>,
    pub refresh: Found<'a>,
    /// Some segment is not one of the gateway's cookies; when false, the upstream gets no
    /// `Cookie` header at all and the headers need no second reading.
    pub others: bool,
}

/// Looks up the gateway's two cookies in one pass over all `Cookie` headers, and notes whether
/// [`without_ours`] would keep anything.
pub fn scan<'a>(headers: impl Iterator<Item = &'a [u8]>, names: &CookieNames) -> Scan<'a> {
    let mut found = Scan {
        access: Found::Missing,
        refresh: Found::Missing,
        others: false,
    };
    for segment in segments(headers) {
        // Split as `without_ours` splits, so "other" means exactly what it would keep.
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        // `=` and `"` are ASCII: every slice below is on character boundaries.
        let (name, value) = match memchr::memchr(b'=', segment.as_bytes()) {
            Some(eq) => (segment[..eq].trim(), Some(&segment[eq + 1..])),
            None => (segment, None),
        };
        let slot = if name == names.access {
            &mut found.access
        } else if name == names.refresh {
            &mut found.refresh
        } else {
            found.others |= !names.is_ours(name);
            continue;
        };
        // As `pairs` reads them: a name without `=` is no cookie.
        let Some(value) = value else { continue };
        *slot = match slot {
            Found::Missing => Found::One(trim_quotes(value.trim())),
            _ => Found::Ambiguous,
        };
    }
    found
}

/// `s.trim_matches('"')`, without decoding characters: a cookie value is some 250 bytes.
fn trim_quotes(s: &str) -> &str {
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| *b != b'"').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| *b != b'"')
        .map_or(start, |last| last + 1);
    &s[start..end]
}

/// Looks up the gateway's two cookies in one pass over all `Cookie` headers: `(access,
/// refresh)`.
pub fn find_ours<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
    names: &CookieNames,
) -> (Found<'a>, Found<'a>) {
    let found = scan(headers, names);
    (found.access, found.refresh)
}

/// The `Cookie` header to forward: every pair except the gateway's own, in order. `None` when
/// nothing is left.
pub fn without_ours<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
    names: &CookieNames,
) -> Option<String> {
    let mut kept = String::new();
    let pairs = segments(headers)
        .map(str::trim)
        .filter(|pair| !pair.is_empty());
    for pair in pairs {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
        if names.is_ours(name) {
            continue;
        }
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(pair);
    }
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(secure: bool, domain: Option<&str>) -> CookieNames {
        CookieNames {
            access: CookieNames::new(&test_config(secure, domain)).access,
            refresh: CookieNames::new(&test_config(secure, domain)).refresh,
            mfa_pending: CookieNames::new(&test_config(secure, domain)).mfa_pending,
            secure,
            domain: domain.map(str::to_string),
        }
    }

    fn test_config(secure: bool, domain: Option<&str>) -> Config {
        let mut env = std::collections::HashMap::new();
        env.insert("GATEHOUSE_COOKIE_SECURE".to_string(), secure.to_string());
        if let Some(d) = domain {
            env.insert("GATEHOUSE_COOKIE_DOMAIN".to_string(), d.to_string());
        }
        let mut raw = crate::config::RawConfig::default();
        raw.apply_env(&env, "test");
        raw.validate().unwrap()
    }

    #[test]
    fn names_follow_the_security_mode() {
        assert_eq!(names(true, None).access, "__Host-access_token");
        assert_eq!(
            names(true, Some("example.com")).refresh,
            "__Secure-refresh_token"
        );
        assert_eq!(names(false, None).access, "access_token");
        assert_eq!(names(true, None).mfa_pending, "__Host-mfa_pending");
        assert_eq!(
            names(true, Some("example.com")).mfa_pending,
            "__Secure-mfa_pending"
        );
        assert_eq!(names(false, None).mfa_pending, "mfa_pending");
    }

    #[test]
    fn set_cookie_attributes() {
        let n = names(true, Some("example.com"));
        assert_eq!(
            n.set("__Secure-access_token", "t", Duration::from_secs(900)),
            "__Secure-access_token=t; HttpOnly; Path=/; SameSite=Lax; Max-Age=900; Domain=example.com; Secure"
        );
        assert_eq!(
            names(false, None).clear("access_token"),
            "access_token=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn a_cookie_sent_twice_is_ambiguous() {
        let n = names(false, None);
        let h: Vec<&[u8]> = vec![b"a=1; access_token=x; refresh_token=r", b"access_token=y"];
        assert_eq!(
            find_ours(h.into_iter(), &n),
            (Found::Ambiguous, Found::One("r"))
        );
        let h: Vec<&[u8]> = vec![b"a=1; access_token=x"];
        assert_eq!(
            find_ours(h.into_iter(), &n),
            (Found::One("x"), Found::Missing)
        );
    }

    #[test]
    fn our_cookies_are_removed_and_others_kept() {
        let n = names(false, None);
        let h: Vec<&[u8]> = vec![b"a=1; access_token=x; refresh_token=y; b=2"];
        assert_eq!(
            without_ours(h.into_iter(), &n),
            Some("a=1; b=2".to_string())
        );
        let h: Vec<&[u8]> = vec![b"access_token=x"];
        assert_eq!(without_ours(h.into_iter(), &n), None);
        let h: Vec<&[u8]> = vec![b"mfa_pending=p; c=3"];
        assert_eq!(without_ours(h.into_iter(), &n), Some("c=3".to_string()));
    }

    #[test]
    fn a_single_cookie_is_found_once_and_a_repeated_one_not_at_all() {
        let h: Vec<&[u8]> = vec![b"a=1; mfa_pending=p"];
        assert_eq!(find_one(h.into_iter(), "mfa_pending"), Some("p"));
        let h: Vec<&[u8]> = vec![b"mfa_pending=p", b"mfa_pending=q"];
        assert_eq!(find_one(h.into_iter(), "mfa_pending"), None);
    }

    /// Headers made of the pieces a cookie parser trips on: separators, spaces, quotes, our
    /// names, and bytes that are not UTF-8.
    fn cookie_headers() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let piece = prop::sample::select(vec![
            &b"access_token"[..],
            b"refresh_token",
            b"mfa_pending",
            b"a",
            b"=",
            b";",
            b" ",
            b"\t",
            b"\"",
            b"x.y.z",
            "\u{a0}".as_bytes(),
            b"\xff",
        ]);
        prop::collection::vec(
            prop::collection::vec(piece, 0..10).prop_map(|p| p.concat()),
            0..3,
        )
    }

    proptest! {
        #[test]
        fn one_scan_reads_as_the_two_readings_do(h in cookie_headers()) {
            let n = names(false, None);
            let found = scan(h.iter().map(|v| v.as_slice()), &n);
            // The reading that authenticates, spelt with `str::split`: the pairs, name by name.
            let mut access = Found::Missing;
            let mut refresh = Found::Missing;
            let reference = h
                .iter()
                .filter_map(|v| std::str::from_utf8(v).ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    let name = name.trim();
                    (!name.is_empty()).then(|| (name, value.trim().trim_matches('"')))
                });
            prop_assert!(reference.clone().eq(pairs(h.iter().map(|v| v.as_slice()))));
            for (name, value) in reference {
                let slot = if name == n.access {
                    &mut access
                } else if name == n.refresh {
                    &mut refresh
                } else {
                    continue;
                };
                *slot = match slot {
                    Found::Missing => Found::One(value),
                    _ => Found::Ambiguous,
                };
            }
            prop_assert_eq!(&found.access, &access);
            prop_assert_eq!(&found.refresh, &refresh);
            // The reading that forwards: something is kept exactly when `others` says so.
            let kept = without_ours(h.iter().map(|v| v.as_slice()), &n);
            prop_assert_eq!(found.others, kept.is_some());
        }

        #[test]
        fn quotes_are_trimmed_as_trim_matches_trims_them(s in "[\"a é]{0,8}") {
            prop_assert_eq!(trim_quotes(&s), s.trim_matches('"'));
        }

        #[test]
        fn cookie_parsing_never_panics(h in proptest::collection::vec(any::<Vec<u8>>(), 0..4)) {
            let n = names(false, None);
            let _ = find_ours(h.iter().map(|v| v.as_slice()), &n);
            if let Some(rest) = without_ours(h.iter().map(|v| v.as_slice()), &n) {
                let again: Vec<&[u8]> = vec![rest.as_bytes()];
                prop_assert_eq!(
                    find_ours(again.into_iter(), &n),
                    (Found::Missing, Found::Missing)
                );
            }
        }
    }
}
