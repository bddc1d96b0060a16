//! Where a route's requests go: `host:port` or `http(s)://host:port`. Lives beside the routes
//! that name it; `config` re-exports it for `GATEHOUSE_UPSTREAM`.

/// Where proxied requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Upstream {
    /// `http(s)://host:port`, as `config check` and `policy check` print it.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.authority()
        )
    }

    /// `host:port` for resolution and for logs.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `host:port`, `http://host[:port]` or `https://host[:port]`; nothing after the authority.
pub fn parse_upstream(s: &str) -> Result<Upstream, String> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else if s.contains("://") {
        return Err(format!(
            "{s:?}: only http:// and https:// upstreams are supported"
        ));
    } else {
        (false, s)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(format!("{s:?} must be host:port without a path"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.ends_with(':') => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("{s:?} has an invalid port"))?;
            (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                port,
            )
        }
        _ if !rest.is_empty() && !rest.contains(':') => {
            (rest.to_string(), if tls { 443 } else { 80 })
        }
        _ => return Err(format!("{s:?} is not host:port")),
    };
    if host.is_empty() || port == 0 {
        return Err(format!("{s:?} is not host:port"));
    }
    Ok(Upstream { host, port, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_prints_as_a_url_with_its_port() {
        assert_eq!(
            parse_upstream("127.0.0.1:3000").unwrap().url(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            parse_upstream("https://app.internal").unwrap().url(),
            "https://app.internal:443"
        );
        assert_eq!(
            parse_upstream("[::1]:8080").unwrap().url(),
            "http://[::1]:8080"
        );
    }
}
