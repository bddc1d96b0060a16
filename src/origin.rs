//! Origins: the scheme and authority of an absolute `http(s)` URL, parsed one way (on
//! `http::Uri`) for every caller: the gateway's public origin (parsed once at start-up), the
//! return URLs a sign-in may follow, the CSRF check's `Origin`/`Referer`, and forward auth's
//! `X-Original-URL`.

/// `scheme://host[:port]`, lower-cased, without userinfo, path, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The host as written in a URL (`[::1]` keeps its brackets), lower-cased.
    host: String,
    port: Option<u16>,
    text: String,
}

impl Origin {
    /// The origin of an absolute `http://` or `https://` URL. `None` for anything else,
    /// including userinfo (`https://a@b`), an empty host or a port that is not a number.
    pub fn parse(url: &str) -> Option<Self> {
        let uri: http::Uri = url.parse().ok()?;
        let https = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => true,
            s if s.eq_ignore_ascii_case("http") => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        // `http::Uri` accepts userinfo and percent-escapes in the authority; no origin has them.
        if authority.as_str().contains(['@', '%']) {
            return None;
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        {
            return None;
        }
        // `http::Uri` takes any text after the host's colon; only a number is a port.
        let port = match authority.as_str().get(authority.host().len()..)? {
            "" => None,
            rest => {
                let digits = rest.strip_prefix(':')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some(digits.parse::<u16>().ok()?)
            }
        };
        let text = match port {
            Some(p) => format!("{}://{host}:{p}", if https { "https" } else { "http" }),
            None => format!("{}://{host}", if https { "https" } else { "http" }),
        };
        Some(Self { host, port, text })
    }

    /// The host without its port (IPv6 in brackets), lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `host[:port]` as a `Host` header would carry it.
    pub fn authority(&self) -> &str {
        self.text
            .split_once("://")
            .map_or(self.text.as_str(), |(_, a)| a)
    }

    /// `scheme://host[:port]`: what URLs on this origin start with.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same host and port, as written (the scheme aside: a TLS-terminating proxy may stand
    /// in front of the gateway, so `http://` and `https://` of one authority are one site).
    pub fn same_authority(&self, other: &Origin) -> bool {
        self.host == other.host && self.port == other.port
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_one_way() {
        let o = Origin::parse("HTTPS://Auth.Example.com:8443/x?y#z").unwrap();
        assert_eq!(o.as_str(), "https://auth.example.com:8443");
        assert_eq!(
            (o.host(), o.authority()),
            ("auth.example.com", "auth.example.com:8443")
        );
        let v6 = Origin::parse("http://[::1]:8000").unwrap();
        assert_eq!((v6.host(), v6.authority()), ("[::1]", "[::1]:8000"));
        for bad in [
            "",
            "/relative",
            "//host",
            "ftp://host",
            "https://",
            "https://user@host",
            "https://a%2eb",
            "https://host:port",
            "https://host:",
            "https://host:99999",
            "https://host:+80",
            "javascript:alert(1)",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn authorities_compare_host_and_port_but_not_scheme() {
        let a = Origin::parse("https://h").unwrap();
        assert!(a.same_authority(&Origin::parse("http://H/x").unwrap()));
        assert!(!a.same_authority(&Origin::parse("https://h:8443").unwrap()));
        assert!(!a.same_authority(&Origin::parse("https://other").unwrap()));
    }
}
