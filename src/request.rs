//! What the gateway needs from a request, copied out of Pingora's session so the domain code
//! never sees Pingora types: method, path, headers, and who the client is.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// Looked up by constant: a name given as `&str` is parsed and lower-cased on every lookup.
pub const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub method: http::Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The socket peer.
    pub peer: Option<IpAddr>,
    /// Whether the peer is a trusted proxy, whose `X-Forwarded-*` headers are believed.
    pub peer_trusted: bool,
    /// The client: the peer, or what a trusted proxy says in `X-Forwarded-For`.
    pub client_ip: Option<IpAddr>,
}

impl RequestMeta {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Which of the headers the gateway looks for a request carries, found in one pass over its
/// headers. A hashed lookup costs about as much as looking at every header of a typical
/// request once, and the proxy path asks about a dozen names, most of them absent; each of
/// those is now looked up only when it was sent. The flags only ever say "maybe": the headers
/// stay the truth, and between the request filter and the upstream rewrite, headers are only
/// removed (Pingora's hop-by-hop sanitising), never added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// `Content-Length` values, counted up to 2.
    pub content_lengths: u8,
    pub transfer_encoding: bool,
    pub upgrade: bool,
    pub connection: bool,
    pub cookie: bool,
    pub authorization: bool,
    pub proxy_authorization: bool,
    pub forwarded_for: bool,
    pub request_id: bool,
    /// A name that reads as an identity header (docs/contract.md §6) in some spelling.
    pub identity: bool,
}

impl Sent {
    /// Nothing known: every name may have been sent, and each is looked up.
    pub const UNKNOWN: Sent = Sent {
        content_lengths: 2,
        transfer_encoding: true,
        upgrade: true,
        connection: true,
        cookie: true,
        authorization: true,
        proxy_authorization: true,
        forwarded_for: true,
        request_id: true,
        identity: true,
    };

    pub fn of(headers: &HeaderMap, is_identity_header: impl Fn(&str) -> bool) -> Self {
        let mut sent = Sent::default();
        for (name, _) in headers {
            match name.as_str() {
                "content-length" => sent.content_lengths = (sent.content_lengths + 1).min(2),
                "transfer-encoding" => sent.transfer_encoding = true,
                "upgrade" => sent.upgrade = true,
                "connection" => sent.connection = true,
                "cookie" => sent.cookie = true,
                "authorization" => sent.authorization = true,
                "proxy-authorization" => sent.proxy_authorization = true,
                "x-forwarded-for" => sent.forwarded_for = true,
                "x-request-id" => sent.request_id = true,
                other => sent.identity |= is_identity_header(other),
            }
        }
        sent
    }

    /// Whether [`framing_problem`] could find anything: the common request, with at most one
    /// `Content-Length` and no `Transfer-Encoding` or `Upgrade`, is well framed.
    pub fn framing_in_doubt(&self) -> bool {
        self.content_lengths > 1 || self.transfer_encoding || self.upgrade
    }
}

/// docs/contract.md §6: a browser request lists `text/html` explicitly in `Accept` (`*/*` alone does
/// not count) and is not an `XMLHttpRequest`.
pub fn is_browser(headers: &HeaderMap) -> bool {
    let html = headers.get_all("accept").iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|part| {
                let mut params = part.split(';');
                let mime = params.next().unwrap_or("").trim();
                // `q=0` means "not acceptable".
                let refused = params.any(|p| {
                    let p = p.trim().replace(' ', "");
                    p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
                });
                mime.eq_ignore_ascii_case("text/html") && !refused
            })
        })
    });
    let xhr = headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"xmlhttprequest"));
    html && !xhr
}

/// Request framing the gateway refuses to interpret or pass on (ASVS V4.2): both
/// `Content-Length` and `Transfer-Encoding`, more than one `Content-Length`, a
/// `Transfer-Encoding` other than plain `chunked`, or an `Upgrade` to cleartext HTTP/2.
///
/// `raw_head` is the request head as received: the HTTP parser drops `Content-Length` when
/// `Transfer-Encoding` is present, so that combination is only visible there.
pub fn framing_problem(headers: &HeaderMap, raw_head: Option<&[u8]>) -> Option<&'static str> {
    use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE};
    let lengths = headers.get_all(CONTENT_LENGTH).iter().count()
        + usize::from(
            raw_head.is_some_and(head_has_content_length) && !headers.contains_key(CONTENT_LENGTH),
        );
    let encodings: Vec<&http::HeaderValue> = headers.get_all(TRANSFER_ENCODING).iter().collect();
    if lengths > 1 {
        return Some("The request has more than one Content-Length.");
    }
    if lengths == 1 && !encodings.is_empty() {
        return Some("The request has both Content-Length and Transfer-Encoding.");
    }
    if encodings.len() > 1
        || encodings
            .first()
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"chunked"))
    {
        return Some("Only a single Transfer-Encoding: chunked is accepted.");
    }
    let h2c = headers.get_all(UPGRADE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case("h2c")))
    });
    if h2c {
        return Some("Upgrading to cleartext HTTP/2 is not allowed.");
    }
    None
}

/// What to do with the request's `Connection` header before it is forwarded.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectionOptions {
    /// Nothing in it concerns the gateway.
    Keep,
    /// Send this instead (`None`: no `Connection` header at all).
    Rewrite(Option<http::HeaderValue>),
}

/// At most this many options; Pingora refuses a request with ten.
const MAX_CONNECTION_OPTIONS: usize = 8;

/// A client may name headers in `Connection` for the next hop to drop (RFC 9110 §7.6.1). It may
/// not use that to drop a header the gateway sets (`Host`, `X-Forwarded-*`, `X-Request-Id`, the
/// identity headers in any spelling): those options are dropped from `Connection` instead, and
/// the request is answered normally. Pingora would otherwise abort the request with no answer.
/// A malformed option, or too many, is refused (400).
pub fn connection_options(
    headers: &HeaderMap,
    is_identity_header: impl Fn(&str) -> bool,
) -> Result<ConnectionOptions, &'static str> {
    let values = headers.get_all(http::header::CONNECTION);
    let options = || {
        values
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|o| !o.is_empty())
    };
    // The common header (`keep-alive`, `close`, `upgrade`) is read once, without allocating.
    let (mut count, mut dropped) = (0, false);
    for option in options() {
        if !option.iter().copied().all(is_tchar) {
            return Err("The Connection header names something that is not a header.");
        }
        count += 1;
        dropped |= sets_itself(option, &is_identity_header);
    }
    if count > MAX_CONNECTION_OPTIONS {
        return Err("The Connection header names too many headers.");
    }
    if !dropped {
        return Ok(ConnectionOptions::Keep);
    }
    let kept: Vec<&[u8]> = options()
        .filter(|o| !sets_itself(o, &is_identity_header))
        .collect();
    let value = (!kept.is_empty())
        .then(|| http::HeaderValue::from_bytes(&kept.join(&b", "[..])).ok())
        .flatten();
    Ok(ConnectionOptions::Rewrite(value))
}

/// Headers the gateway writes on every forwarded request.
fn sets_itself(name: &[u8], is_identity_header: &impl Fn(&str) -> bool) -> bool {
    const SET: [&[u8]; 5] = [
        b"host",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-request-id",
    ];
    SET.iter().any(|n| n.eq_ignore_ascii_case(name))
        || std::str::from_utf8(name).is_ok_and(is_identity_header)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn head_has_content_length(head: &[u8]) -> bool {
    head.split(|b| *b == b'\n')
        .any(|line| line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:"))
}

/// The slowest a proxied request body may arrive, on average, once [`BODY_RATE_GRACE`] is
/// over (as Kestrel's `MinRequestBodyDataRate`). Pingora's per-read timeout (60 s) alone lets
/// one byte every few seconds hold a connection for hours.
pub const MIN_BODY_RATE: u64 = 1024;
/// How long a body may take before [`MIN_BODY_RATE`] applies: small bodies from slow clients,
/// and the first round trips of a large one, are never cut.
pub const BODY_RATE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a body of which `received` bytes arrived in `elapsed` (since its head) is too slow.
pub fn body_too_slow(elapsed: std::time::Duration, received: u64) -> bool {
    elapsed > BODY_RATE_GRACE && (received as f64) < elapsed.as_secs_f64() * MIN_BODY_RATE as f64
}

/// The host a request names, as routes read it (docs/contract.md §9): `Host`, or the
/// target's authority when there is no `Host` (HTTP/2's `:authority`); `""` when there is
/// neither. `None` when it cannot be trusted to mean one thing: two `Host` headers, a value
/// that is not a host name, or an absolute-form target (or `:authority`) naming another host
/// than `Host` — a proxy in front may route by one and the gateway by the other.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return None,
        (Some(v), None) => Some(v.to_str().ok()?),
        (None, _) => None,
    };
    let authority = uri.authority().map(http::uri::Authority::as_str);
    if authority.is_some_and(|a| a.contains('@')) {
        // Userinfo has no place in a request target (RFC 9110 §4.2.4).
        return None;
    }
    if crate::policy::authority_disagrees(authority, host) {
        return None;
    }
    let chosen = host.or(authority).unwrap_or("");
    crate::policy::host_is_valid(chosen).then_some(chosen)
}

pub fn is_trusted(ip: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    ip.is_some_and(|ip| trusted.iter().any(|n| n.contains(&canonical(ip))))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address: the socket peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.map(canonical);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(s) = value.to_str() else { return peer };
        for part in s.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(canonical(ip)),
                // A malformed chain is not believed at all.
                Err(_) => return peer,
            }
        }
    }
    for ip in chain.iter().rev() {
        if !is_trusted(Some(*ip), trusted) {
            return Some(*ip);
        }
    }
    chain.first().copied().or(peer)
}

#[cfg(test)]
mod host_tests {
    use super::*;

    fn host(target: &str, hosts: &[&str]) -> Option<String> {
        let uri: http::Uri = target.parse().unwrap();
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(http::header::HOST, v.parse().unwrap());
        }
        request_host(&h, &uri).map(str::to_string)
    }

    #[test]
    fn the_host_comes_from_host_or_the_authority() {
        assert_eq!(
            host("/x", &["App.example:80"]).as_deref(),
            Some("App.example:80")
        );
        assert_eq!(
            host("https://app.example/x", &[]).as_deref(),
            Some("app.example")
        );
        assert_eq!(host("/x", &[]).as_deref(), Some(""));
        assert_eq!(
            host("http://APP.example./x", &["app.example"]).as_deref(),
            Some("app.example")
        );
    }

    #[test]
    fn hosts_that_could_mean_two_things_are_refused() {
        assert_eq!(host("/x", &["a.example", "b.example"]), None);
        assert_eq!(host("http://evil.example/x", &["app.example"]), None);
        assert_eq!(host("http://u@app.example/x", &["app.example"]), None);
        assert_eq!(host("/x", &["app.example/x"]), None);
        assert_eq!(host("/x", &["app example"]), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one pass says exactly which of its names were sent, and never calls a request
        /// well framed that `framing_problem` would refuse.
        #[test]
        fn one_pass_over_the_headers_says_what_lookups_would(
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "content-length", "transfer-encoding", "upgrade", "connection", "cookie",
                        "authorization", "proxy-authorization", "x-forwarded-for", "x-request-id",
                        "x-auth-user", "x_auth_groups", "x.auth-assertion", "host", "accept",
                        "x-other",
                    ]),
                    proptest::sample::select(vec!["1", "2", "chunked", "h2c", "gzip, chunked", "x"]),
                ),
                0..8,
            )
        ) {
            let mut h = HeaderMap::new();
            for (name, value) in &pairs {
                h.append(*name, http::HeaderValue::from_static(value));
            }
            let sent = Sent::of(&h, crate::auth::identity::is_identity_header);
            let has = |name: &str| h.contains_key(name);
            proptest::prop_assert_eq!(sent.transfer_encoding, has("transfer-encoding"));
            proptest::prop_assert_eq!(sent.upgrade, has("upgrade"));
            proptest::prop_assert_eq!(sent.connection, has("connection"));
            proptest::prop_assert_eq!(sent.cookie, has("cookie"));
            proptest::prop_assert_eq!(sent.authorization, has("authorization"));
            proptest::prop_assert_eq!(sent.proxy_authorization, has("proxy-authorization"));
            proptest::prop_assert_eq!(sent.forwarded_for, has("x-forwarded-for"));
            proptest::prop_assert_eq!(sent.request_id, has("x-request-id"));
            proptest::prop_assert_eq!(
                usize::from(sent.content_lengths),
                h.get_all("content-length").iter().count().min(2)
            );
            proptest::prop_assert_eq!(
                sent.identity,
                h.keys().any(|n| crate::auth::identity::is_identity_header(n.as_str()))
            );
            if framing_problem(&h, None).is_some() {
                proptest::prop_assert!(sent.framing_in_doubt());
            }
        }
    }

    fn trusted() -> Vec<IpNet> {
        vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]
    }

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn browsers_are_told_apart_by_accept_and_x_requested_with() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, v.parse().unwrap());
            }
            m
        };
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(is_browser(&h(&[("accept", chrome)])));
        assert!(!is_browser(&h(&[("accept", "*/*")])));
        assert!(!is_browser(&h(&[("accept", "application/json")])));
        assert!(!is_browser(&h(&[("accept", "text/html;q=0")])));
        assert!(!is_browser(&h(&[
            ("accept", chrome),
            ("x-requested-with", "XMLHttpRequest")
        ])));
        assert!(!is_browser(&h(&[])));
    }

    #[test]
    fn connection_cannot_name_a_header_the_gateway_sets() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.append("connection", v.parse().unwrap());
            connection_options(&h, crate::auth::identity::is_identity_header)
        };
        assert_eq!(
            connection_options(&HeaderMap::new(), |_| false),
            Ok(ConnectionOptions::Keep)
        );
        assert_eq!(with("keep-alive"), Ok(ConnectionOptions::Keep));
        assert_eq!(with("close, x-custom"), Ok(ConnectionOptions::Keep));
        assert_eq!(
            with("X-Forwarded-For"),
            Ok(ConnectionOptions::Rewrite(None))
        );
        assert_eq!(
            with("close, x-forwarded-proto, Host, X_Auth_User, x-request-id"),
            Ok(ConnectionOptions::Rewrite(Some("close".parse().unwrap())))
        );
        assert!(with("\"x-forwarded-for\"").is_err());
        assert!(with("a,b,c,d,e,f,g,h,i").is_err());
    }

    #[test]
    fn a_body_must_keep_up_a_minimum_rate_after_its_grace_period() {
        use std::time::Duration;
        assert!(!body_too_slow(Duration::from_secs(4), 1), "grace");
        assert!(body_too_slow(Duration::from_secs(6), 5), "a trickle");
        assert!(!body_too_slow(Duration::from_secs(60), 60 * 1024));
        assert!(body_too_slow(Duration::from_secs(60), 60 * 1024 - 1));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let peer = Some("203.0.113.9".parse().unwrap());
        assert_eq!(client_ip(peer, &headers("1.2.3.4"), &trusted()), peer);
    }

    #[test]
    fn a_trusted_peer_is_believed_up_to_the_first_untrusted_hop() {
        let peer = Some("127.0.0.1".parse().unwrap());
        let got = client_ip(
            peer,
            &headers("6.6.6.6, 198.51.100.7, 10.1.1.1"),
            &trusted(),
        );
        assert_eq!(got, Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn a_garbled_chain_falls_back_to_the_peer() {
        let peer = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_ip(peer, &headers("nonsense"), &trusted()), peer);
    }
}
