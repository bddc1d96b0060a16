//! Host matching (docs/contract.md §9 "Choosing the route"): exact names first, then the
//! longest `*.suffix`, then routes that name no host.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// The host a request names, as routes compare it: port dropped, lower-cased, a trailing dot
/// dropped (`Example.COM.:443` is `example.com`). An IPv6 literal keeps its brackets.
///
/// Borrowed unless the name has upper-case letters: choosing a route allocates nothing.
pub fn normalise_host(host: &str) -> Cow<'_, str> {
    let host = host.trim();
    let name = if host.starts_with('[') {
        // `[::1]:8080`: the port follows the closing bracket.
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        // `memrchr` rather than `rsplit_once`, which walks back a byte at a time: every
        // proxied request's host comes through here.
        memchr::memrchr(b':', host.as_bytes()).map_or(host, |colon| &host[..colon])
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// Whether a `Host` (or `:authority`) value is one a route can be chosen by: empty (no host:
/// only routes without `hosts` apply), a DNS-style name of letters, digits, `-`, `_` and
/// single dots with at most one trailing dot, or a bracketed IPv6 literal; then an optional
/// numeric port. Anything else (spaces, `@`, `/`, `%`, non-ASCII, two ports) is 400: a value
/// the gateway cannot read is not guessed at, since an upstream might read it differently.
pub fn host_is_valid(host: &str) -> bool {
    if host.is_empty() {
        return true;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return false;
        };
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        // `:` is ASCII: both sides of it are on character boundaries.
        match memchr::memchr(b':', host.as_bytes()) {
            Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
            None => (host, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok {
        return false;
    }
    if name.is_empty() {
        // `[v6]:port` was checked above; `:80` alone names no host.
        return host.starts_with('[');
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return false;
    }
    // One pass over the bytes: every request's host goes through here.
    let mut label = 0usize;
    for &b in name.as_bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// Whether an absolute-form request target (`GET http://a.example/ HTTP/1.1`) names another
/// host than `Host`: a proxy in front may route by one and the gateway by the other, so the
/// request is refused (400) rather than judged by either. Ports are not compared: routes do
/// not look at them.
pub fn authority_disagrees(target_authority: Option<&str>, host: Option<&str>) -> bool {
    match (target_authority, host) {
        (Some(authority), Some(host)) => {
            // Userinfo (`user@host`) is not part of the host.
            let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            normalise_host(authority) != normalise_host(host)
        }
        _ => false,
    }
}

/// A configured `hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Suffix(String),
}

impl HostPattern {
    /// `name`, `*.suffix`, or a bracketed IPv6 literal; lower-cased, without a port.
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        let is_name = |n: &str| {
            !n.is_empty()
                && !n.starts_with('.')
                && !n.contains("..")
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if let Some(suffix) = lower.strip_prefix("*.") {
            if is_name(suffix) {
                return Ok(HostPattern::Suffix(format!(".{suffix}")));
            }
        } else if lower.contains('*') {
            return Err(format!(
                "host {s:?}: a wildcard must be the whole first label, as in *.example.com"
            ));
        } else if is_name(lower)
            || (lower.starts_with('[')
                && lower.ends_with(']')
                && lower[1..lower.len() - 1]
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok())
        {
            return Ok(HostPattern::Exact(lower.to_string()));
        }
        Err(format!(
            "host {s:?} is not a host name or *.suffix (no port, no scheme)"
        ))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Suffix(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// Route indices by host: exact names, suffixes longest first, and routes without hosts.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    exact: HashMap<String, Vec<usize>>,
    suffixes: Vec<(String, Vec<usize>)>,
    any: Vec<usize>,
}

impl HostTable {
    /// Registers route `index` under each of its patterns (none: any host).
    pub fn add(&mut self, index: usize, patterns: &[HostPattern]) {
        if patterns.is_empty() {
            self.any.push(index);
        }
        for pattern in patterns {
            match pattern {
                HostPattern::Exact(name) => {
                    self.exact.entry(name.clone()).or_default().push(index);
                }
                HostPattern::Suffix(suffix) => {
                    match self.suffixes.iter_mut().find(|(s, _)| s == suffix) {
                        Some((_, routes)) => routes.push(index),
                        None => self.suffixes.push((suffix.clone(), vec![index])),
                    }
                    // Longest first, so the first suffix that matches is the longest.
                    self.suffixes
                        .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
                }
            }
        }
    }

    /// The routes a normalised host selects: exact, else longest suffix, else those without
    /// hosts. No fallback between the three: a host a route names is that route's business.
    pub fn candidates(&self, host: &str) -> &[usize] {
        // Without exact names (the implicit route), no host is hashed.
        if let Some(routes) = (!self.exact.is_empty())
            .then(|| self.exact.get(host))
            .flatten()
        {
            return routes;
        }
        self.suffixes
            .iter()
            .find(|(suffix, _)| host.ends_with(suffix.as_str()) && host.len() > suffix.len())
            .map_or(&self.any, |(_, routes)| routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_loses_its_port_case_and_trailing_dot() {
        assert_eq!(normalise_host("Example.COM"), "example.com");
        assert_eq!(normalise_host("example.com:8443"), "example.com");
        assert_eq!(normalise_host("example.com."), "example.com");
        assert_eq!(normalise_host("Example.com.:80"), "example.com");
        assert_eq!(normalise_host("[::1]:8080"), "[::1]");
        assert_eq!(normalise_host("[::1]"), "[::1]");
    }

    #[test]
    fn hosts_that_cannot_be_read_are_invalid() {
        for good in [
            "",
            "example.com",
            "Example.COM.:8443",
            "a_b.local",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "localhost",
        ] {
            assert!(host_is_valid(good), "{good}");
        }
        for bad in [
            "example.com..",
            "a..b",
            ".example.com",
            "exa mple.com",
            "example.com:",
            "example.com:80:80",
            "example.com:8o",
            "user@example.com",
            "example.com/x",
            "ex%61mple.com",
            "exämple.com",
            "[::1",
            "[zz]",
            "[::1]x",
            ":80",
            "*.example.com",
        ] {
            assert!(!host_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn an_absolute_target_naming_another_host_disagrees() {
        assert!(authority_disagrees(
            Some("evil.example"),
            Some("app.example")
        ));
        assert!(!authority_disagrees(
            Some("APP.example:80"),
            Some("app.example")
        ));
        assert!(!authority_disagrees(
            Some("user@app.example"),
            Some("app.example.")
        ));
        assert!(!authority_disagrees(None, Some("app.example")));
        assert!(!authority_disagrees(Some("app.example"), None));
    }

    #[test]
    fn host_patterns_are_names_or_leading_wildcards() {
        assert_eq!(
            HostPattern::parse("*.Example.com"),
            Ok(HostPattern::Suffix(".example.com".into()))
        );
        assert_eq!(
            HostPattern::parse("App.example.com."),
            Ok(HostPattern::Exact("app.example.com".into()))
        );
        assert!(HostPattern::parse("[::1]").is_ok());
        for bad in [
            "*example.com",
            "a.*.example.com",
            "*",
            "*.",
            "example.com:80",
            "http://example.com",
            "",
            "a..b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_beats_the_longest_suffix_which_beats_no_hosts() {
        let mut t = HostTable::default();
        t.add(0, &[]);
        t.add(1, &[HostPattern::Suffix(".example.com".into())]);
        t.add(2, &[HostPattern::Suffix(".dev.example.com".into())]);
        t.add(3, &[HostPattern::Exact("api.dev.example.com".into())]);
        assert_eq!(t.candidates("api.dev.example.com"), &[3]);
        assert_eq!(t.candidates("web.dev.example.com"), &[2]);
        assert_eq!(t.candidates("dev.example.com"), &[1]);
        assert_eq!(t.candidates("example.com"), &[0]);
        assert_eq!(t.candidates("other.org"), &[0]);
    }
}
