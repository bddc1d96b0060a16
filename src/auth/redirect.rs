//! Where a browser may be sent: the sign-in page's location, and return URLs (`rd`), decided by
//! one function (docs/contract.md §7, last paragraph). Anything it does not positively recognise
//! becomes `/`.

use crate::origin::Origin;

/// The sign-in page's path with `rd` to come back to: the one place that spells it.
pub fn login_location(rd: &str) -> String {
    format!(
        "/auth/login?rd={}",
        percent_encoding::utf8_percent_encode(rd, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// The second-factor page for coming back to `rd` (docs/contract.md §9 `two_factor`).
pub fn mfa_location(rd: &str) -> String {
    format!(
        "/auth/mfa?rd={}",
        percent_encoding::utf8_percent_encode(rd, percent_encoding::NON_ALPHANUMERIC)
    )
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

/// Longer return URLs are not honoured.
pub const MAX_LEN: usize = 2048;

/// `rd` itself when it is a local path (`/x`, not `//x` or `/\x`) or an absolute http(s) URL on
/// the gateway's own host or an allowed redirect host; otherwise `/`.
pub fn safe<'a>(rd: &'a str, own: &Origin, allowed_hosts: &[String]) -> &'a str {
    if is_safe(rd, own, allowed_hosts) {
        rd
    } else {
        "/"
    }
}

fn is_safe(rd: &str, own: &Origin, allowed_hosts: &[String]) -> bool {
    if rd.is_empty()
        || rd.len() > MAX_LEN
        || rd
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\')
    {
        return false;
    }
    if let Some(rest) = rd.strip_prefix('/') {
        return !rest.starts_with('/');
    }
    let Some(target) = Origin::parse(rd) else {
        return false;
    };
    target.host() == own.host() || host_allowed(allowed_hosts, target.host())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn public() -> Origin {
        Origin::parse("https://app.example.com").unwrap()
    }

    fn allowed() -> Vec<String> {
        vec!["docs.example.com".into(), ".example.org".into()]
    }

    fn check(rd: &str) -> &str {
        safe(rd, &public(), &allowed())
    }

    #[test]
    fn hostile_return_urls_fall_back_to_the_root() {
        let long = format!("/{}", "a".repeat(MAX_LEN));
        for rd in [
            "//evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "http:evil.com",
            "https:/evil.com",
            "%2F%2Fevil.com",
            "https://evil.com@app.example.com",
            "https://app.example.com@evil.com",
            "https://app.example.com.evil",
            "https://evil.com",
            "https://example.org",
            " /app",
            "/app\u{0}",
            "/app\r\nSet-Cookie: x=y",
            "\t/app",
            "https://app.example.com\\@evil.com",
            "https://app.example.com:evil/",
            "ftp://app.example.com/",
            "data:text/html,x",
            "",
            long.as_str(),
        ] {
            assert_eq!(check(rd), "/", "{rd:?}");
        }
    }

    #[test]
    fn local_paths_and_known_hosts_are_honoured() {
        for rd in [
            "/",
            "/app?x=1#top",
            "/%2F%2Fevil.com",
            "https://app.example.com/x",
            "HTTPS://APP.EXAMPLE.COM/x",
            "https://app.example.com:443/x",
            "http://docs.example.com",
            "https://a.example.org/x",
        ] {
            assert_eq!(check(rd), rd, "{rd:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_answers_the_input_or_the_root(rd in ".{0,64}") {
            let out = check(&rd);
            prop_assert!(out == "/" || out == rd);
        }

        #[test]
        fn what_passes_never_leaves_for_an_unknown_host(rd in "(https?://)?[a-z./@:%\\\\]{0,24}") {
            let out = check(&rd);
            prop_assert!(!out.starts_with("//") && !out.contains('\\'));
            if !out.starts_with('/') {
                prop_assert!(!out.contains('@'));
                let host = out.split("://").nth(1).unwrap().split(['/', ':']).next().unwrap();
                prop_assert!(
                    host == "app.example.com" || host == "docs.example.com" || host.ends_with(".example.org"),
                    "{out}"
                );
            }
        }
    }

    #[test]
    fn allowed_hosts_match_exactly_or_as_subdomains() {
        let allowed = vec!["a.example.com".to_string(), ".example.org".to_string()];
        assert!(host_allowed(&allowed, "A.example.com"));
        assert!(host_allowed(&allowed, "x.example.org"));
        assert!(!host_allowed(&allowed, "example.org"));
        assert!(!host_allowed(&allowed, "evil-example.org"));
        assert!(!host_allowed(&allowed, "b.example.com"));
    }
}
