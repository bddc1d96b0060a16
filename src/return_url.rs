//! Return URLs (`rd`): the one function that decides where a sign-in may send the browser next
//! (CONTRACT §7, last paragraph). Anything it does not positively recognise becomes `/`.

/// Longer return URLs are not honoured.
pub const MAX_LEN: usize = 2048;

/// `rd` itself when it is a local path (`/x`, not `//x` or `/\x`) or an absolute http(s) URL on
/// the gateway's own host or an allowed redirect host; otherwise `/`.
pub fn safe<'a>(rd: &'a str, public_url: &str, allowed_hosts: &[String]) -> &'a str {
    if is_safe(rd, public_url, allowed_hosts) {
        rd
    } else {
        "/"
    }
}

fn is_safe(rd: &str, public_url: &str, allowed_hosts: &[String]) -> bool {
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
    let lower = rd.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &rd[8..]
    } else if lower.starts_with("http://") {
        &rd[7..]
    } else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains(['@', '%']) {
        return false;
    }
    let Some(host) = host_of(authority) else {
        return false;
    };
    let own = public_url
        .split_once("://")
        .and_then(|(_, a)| host_of(a.split('/').next().unwrap_or("")));
    own.is_some_and(|own| own.eq_ignore_ascii_case(host))
        || crate::forward::host_allowed(allowed_hosts, host)
}

/// The host of `host[:port]` (or `[v6]:port`), if the port, when present, is numeric.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    valid.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PUBLIC: &str = "https://app.example.com";

    fn allowed() -> Vec<String> {
        vec!["docs.example.com".into(), ".example.org".into()]
    }

    fn check(rd: &str) -> &str {
        safe(rd, PUBLIC, &allowed())
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
}
