//! A session's device as people recognise it ("Chrome on Linux", "Safari on iPhone"), read
//! from the User-Agent it signed in with by woothee, a small parser with its data compiled in.

use woothee::parser::Parser;

/// What woothee calls what it cannot name.
const UNKNOWN: &str = "UNKNOWN";

/// "Browser on system", as much of it as the User-Agent tells.
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|s| !s.is_empty()) else {
        return "Unknown device".into();
    };
    let parsed = Parser::new().parse(ua);
    let browser = parsed
        .as_ref()
        .map(|r| r.name)
        .filter(|n| *n != UNKNOWN && *n != "HTTP Library")
        .map(browser_name);
    let os = parsed
        .as_ref()
        .map(|r| r.os)
        .filter(|o| *o != UNKNOWN)
        .map(os_name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) => product(ua),
    }
}

fn browser_name(name: &str) -> &str {
    match name {
        "SamsungBrowser" => "Samsung Internet",
        "Webview" => "An app",
        other => other,
    }
}

/// woothee names Windows by the version its User-Agent claims, but Windows 11 still sends
/// "Windows NT 10.0": "Windows" is what can be told truthfully.
fn os_name(os: &str) -> &str {
    match os {
        "Mac OSX" => "macOS",
        o if o.starts_with("Windows") && o != "Windows Phone OS" => "Windows",
        "Windows Phone OS" => "Windows Phone",
        other => other,
    }
}

/// For what is no browser (`curl/8.5.0`, `python-requests/2.31`): woothee calls them all
/// "HTTP Library", so the product's own first word says more.
fn product(ua: &str) -> String {
    let word = ua
        .split(|c: char| c == '/' || c.is_whitespace())
        .next()
        .unwrap_or("");
    let word: String = word.chars().take(40).collect();
    if word.is_empty() {
        "Unknown device".into()
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_browsers_are_named_as_people_know_them() {
        for (ua, want) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, \
                 like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPad",
            ),
        ] {
            assert_eq!(describe(Some(ua)), want, "{ua}");
        }
    }

    #[test]
    fn tools_are_named_by_their_product_and_nothing_is_unknown() {
        assert_eq!(describe(Some("curl/8.5.0")), "curl");
        assert_eq!(describe(Some("python-requests/2.31.0")), "python-requests");
        assert_eq!(describe(None), "Unknown device");
        assert_eq!(describe(Some("  ")), "Unknown device");
    }
}
