//! What crosses the gateway to the upstream and back (docs/contract.md §6). The request goes on without
//! what belongs to the gateway — identity headers under any spelling, its cookies, an
//! `Authorization` that carried its token — and with the identity and forwarding headers; the
//! response comes back with `X-Request-Id` and the cookies of an in-line refresh.
//!
//! Headers are rewritten as a plain `http::HeaderMap`. Pingora's request and response headers
//! also keep a second, case-preserving map of names, and their `insert_header` parses the name
//! again and allocates it twice for every header set; with the eight set on a request that was
//! the largest cost gatehouse added to a proxied request. So the rewritten messages leave that
//! map behind: names cross in lower case, but for the few standard ones Pingora writes in title
//! case (`Host`, `Content-Type`, `Content-Length`, …), as HAProxy and Envoy send them. Field
//! names are case-insensitive (RFC 9110 §5.1).

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, COOKIE, HOST, PROXY_AUTHORIZATION,
    SET_COOKIE,
};
use pingora::http::{RequestHeader, ResponseHeader};

use crate::auth::bearer;
use crate::auth::cookies::{self, CookieNames};
use crate::auth::identity::{
    is_identity_header, X_AUTH_ASSERTION, X_AUTH_GROUPS, X_AUTH_SESSION_ID, X_AUTH_USER,
    X_AUTH_USER_ID,
};
use crate::request::{Sent, X_FORWARDED_FOR, X_FORWARDED_HOST};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// What the gateway knows about the request that the upstream should hear.
pub struct Forwarding<'a> {
    /// The identity headers' values (user id, username, session id, groups); `None` on a
    /// public path.
    pub identity: Option<&'a [HeaderValue; 4]>,
    /// The signed `X-Auth-Assertion` (docs/contract.md §11), when keys are configured.
    pub assertion: Option<&'a HeaderValue>,
    /// The address the connection came from.
    pub peer: Option<IpAddr>,
    /// Whether `peer` is a trusted proxy, whose `X-Forwarded-Proto` and `-Host` are believed.
    pub peer_trusted: bool,
    /// Whether the client reached the gateway over TLS (docs/contract.md §11).
    pub tls: bool,
    pub request_id: &'a HeaderValue,
    /// The client's `Cookie` headers hold more than the gateway's cookies (or were not read).
    pub other_cookies: bool,
    /// Which headers the client sent (request.rs): an absent one is not looked up.
    pub sent: &'a Sent,
}

/// Rewrites `headers` for the upstream. `is_our_token` tells whether a bearer token was signed
/// by this gateway.
pub fn rewrite(
    headers: &mut HeaderMap,
    authority: Option<&str>,
    f: &Forwarding<'_>,
    names: &CookieNames,
    is_our_token: impl Fn(&str) -> bool,
) {
    // Room for what is added below, in one allocation rather than a grow per insert.
    headers.reserve(8);
    if f.sent.identity && headers.keys().any(|name| is_identity_header(name.as_str())) {
        let spoofed: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_identity_header(name.as_str()))
            .cloned()
            .collect();
        for name in spoofed {
            headers.remove(name);
        }
    }
    if !f.other_cookies {
        // Only the gateway's cookies were sent (auth::cookies::scan): nothing to keep.
        headers.remove(COOKIE);
    } else if headers.contains_key(COOKIE) {
        let kept =
            cookies::without_ours(headers.get_all(COOKIE).iter().map(|v| v.as_bytes()), names)
                .and_then(|kept| HeaderValue::try_from(kept).ok());
        headers.remove(COOKIE);
        if let Some(kept) = kept {
            headers.insert(COOKIE, kept);
        }
    }
    if f.sent.authorization {
        bearer::withhold_ours(headers, AUTHORIZATION, &is_our_token);
    }
    if f.sent.proxy_authorization {
        bearer::withhold_ours(headers, PROXY_AUTHORIZATION, &is_our_token);
    }
    if let Some([user_id, user, session_id, groups]) = f.identity {
        headers.insert(X_AUTH_USER_ID, user_id.clone());
        headers.insert(X_AUTH_USER, user.clone());
        headers.insert(X_AUTH_SESSION_ID, session_id.clone());
        // Sent when empty too: the upstream can tell "no groups" from "not told".
        headers.insert(X_AUTH_GROUPS, groups.clone());
        if let Some(assertion) = f.assertion {
            headers.insert(X_AUTH_ASSERTION, assertion.clone());
        }
    }
    if let Some(peer) = f.peer {
        // Appended as nginx does; upstreams should read it from the right.
        let mut xff = String::with_capacity(64);
        let prev = f.sent.forwarded_for.then(|| headers.get(X_FORWARDED_FOR));
        if let Some(prev) = prev.flatten().and_then(|v| v.to_str().ok()) {
            if !prev.trim().is_empty() {
                xff.push_str(prev);
                xff.push_str(", ");
            }
        }
        push_ip(&mut xff, peer);
        if let Ok(v) = HeaderValue::try_from(xff) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    let https = f.tls
        || f.peer_trusted
            && headers
                .get(X_FORWARDED_PROTO)
                .is_some_and(|v| v.as_bytes() == b"https");
    let proto = HeaderValue::from_static(if https { "https" } else { "http" });
    headers.insert(X_FORWARDED_PROTO, proto);
    let host = f
        .peer_trusted
        .then(|| headers.get(X_FORWARDED_HOST).cloned())
        .flatten()
        .or_else(|| headers.get(HOST).cloned())
        .or_else(|| authority.and_then(|a| HeaderValue::from_str(a).ok()));
    match host {
        Some(h) => {
            headers.insert(X_FORWARDED_HOST, h);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
    headers.insert(X_REQUEST_ID, f.request_id.clone());
}

/// [`rewrite`] applied to the request Pingora is about to send, which is rebuilt around the
/// plain header map; the request target, method, version and extensions are kept as they were.
pub fn apply(
    upstream: &mut RequestHeader,
    f: &Forwarding<'_>,
    names: &CookieNames,
    is_our_token: impl Fn(&str) -> bool,
) -> pingora::Result<()> {
    // Pingora keeps the target's own bytes when the URI cannot reproduce them (absolute-form,
    // non-UTF-8); the rebuilt header must send those same bytes.
    let verbatim =
        (upstream.raw_path() != uri_target(&upstream.uri)).then(|| upstream.raw_path().to_vec());
    let end_stream = upstream.send_end_stream();
    let empty = http::Request::new(()).into_parts().0;
    let mut parts =
        http::request::Parts::from(std::mem::replace(upstream, RequestHeader::from(empty)));
    let authority = parts.uri.authority().map(|a| a.as_str());
    rewrite(&mut parts.headers, authority, f, names, is_our_token);
    *upstream = RequestHeader::from(parts);
    if let Some(raw) = verbatim {
        upstream.set_raw_path(&raw)?;
    }
    if let Some(end) = end_stream {
        upstream.set_send_end_stream(end);
    }
    Ok(())
}

/// The upstream's response as the client gets it: with `X-Request-Id` and `set_cookies`, and
/// with the status line's own reason phrase if it had one.
pub fn apply_response(
    response: &mut ResponseHeader,
    request_id: &HeaderValue,
    set_cookies: &[String],
) -> pingora::Result<()> {
    let reason = response
        .get_reason_phrase()
        .filter(|r| Some(*r) != response.status.canonical_reason())
        .map(str::to_owned);
    let empty = http::Response::new(()).into_parts().0;
    let mut parts =
        http::response::Parts::from(std::mem::replace(response, ResponseHeader::from(empty)));
    parts.headers.insert(X_REQUEST_ID, request_id.clone());
    for cookie in set_cookies {
        let value = HeaderValue::from_str(cookie).map_err(|_| {
            pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "bad Set-Cookie")
        })?;
        parts.headers.append(SET_COOKIE, value);
    }
    *response = ResponseHeader::from(parts);
    if reason.is_some() {
        response.set_reason_phrase(reason.as_deref())?;
    }
    Ok(())
}

/// `ip` appended to `out`. IPv4 is written by hand: `Display` goes through the formatting
/// machinery, about a thousand instructions on every proxied request.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// The target Pingora serializes for a request whose URI is the whole truth.
fn uri_target(uri: &http::Uri) -> &[u8] {
    uri.path_and_query()
        .map(|pq| pq.as_str().as_bytes())
        .or_else(|| uri.authority().map(|a| a.as_str().as_bytes()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> CookieNames {
        CookieNames::for_tests()
    }

    fn identity() -> [HeaderValue; 4] {
        [
            HeaderValue::from_static("u-1"),
            HeaderValue::from_static("alice"),
            HeaderValue::from_static("s-1"),
            HeaderValue::from_static("admins,ops"),
        ]
    }

    fn anonymous(request_id: &HeaderValue) -> Forwarding<'_> {
        Forwarding {
            identity: None,
            assertion: None,
            peer: None,
            peer_trusted: false,
            tls: false,
            request_id,
            other_cookies: true,
            sent: &Sent::UNKNOWN,
        }
    }

    fn rewritten(pairs: &[(&'static str, &'static str)], f: &Forwarding<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        rewrite(&mut h, None, f, &names(), |t| t == OURS);
        h
    }

    /// A token shaped like a JWS; the tests' `is_our_token` accepts only it.
    const OURS: &str = "eyJh.eyJz.c2ln";

    fn all<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn addresses_are_written_as_display_writes_them(bits: u32, v6: u128) {
            for ip in [IpAddr::from(bits.to_be_bytes()), IpAddr::from(v6.to_be_bytes())] {
                let mut out = String::new();
                push_ip(&mut out, ip);
                proptest::prop_assert_eq!(out, ip.to_string());
            }
        }
    }

    #[test]
    fn the_response_keeps_its_headers_and_reason_and_gains_ours() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        resp.set_reason_phrase(Some("Fine")).unwrap();
        resp.append_header("Set-Cookie", "theirs=1").unwrap();
        resp.insert_header("X-Thing", "1").unwrap();
        let rid = HeaderValue::from_static("r-1");
        let ours = ["access_token=a".to_string(), "refresh_token=r".to_string()];
        apply_response(&mut resp, &rid, &ours).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.get_reason_phrase(), Some("Fine"));
        assert_eq!(
            all(&resp.headers, "set-cookie"),
            ["theirs=1", "access_token=a", "refresh_token=r"]
        );
        assert_eq!(all(&resp.headers, "x-thing"), ["1"]);
        assert_eq!(all(&resp.headers, "x-request-id"), ["r-1"]);

        let mut plain = ResponseHeader::build(404, None).unwrap();
        apply_response(&mut plain, &rid, &[]).unwrap();
        assert_eq!(plain.get_reason_phrase(), Some("Not Found"));
    }

    #[test]
    fn forged_identity_goes_and_the_gateways_is_set() {
        let rid = HeaderValue::from_static("r-1");
        let id = identity();
        let signed = HeaderValue::from_static("h.c.s");
        let f = Forwarding {
            identity: Some(&id),
            assertion: Some(&signed),
            peer: None,
            peer_trusted: false,
            tls: false,
            request_id: &rid,
            other_cookies: true,
            sent: &Sent::UNKNOWN,
        };
        let h = rewritten(
            &[
                ("x-auth-user", "mallory"),
                ("x_auth_user_id", "forged"),
                ("X_Auth.Groups", "root"),
                ("x-auth-groups", "root"),
                ("X_Auth_Assertion", "forged"),
                ("x-auth-assertion", "forged"),
                ("x.auth-assertion", "forged"),
                ("x-other", "1"),
            ],
            &f,
        );
        assert_eq!(all(&h, "x-auth-assertion"), ["h.c.s"]);
        assert!(h.get("x_auth_assertion").is_none());
        assert!(h.get("x.auth-assertion").is_none());
        assert_eq!(all(&h, "x-auth-user"), ["alice"]);
        assert_eq!(all(&h, "x-auth-user-id"), ["u-1"]);
        assert_eq!(all(&h, "x-auth-session-id"), ["s-1"]);
        assert_eq!(all(&h, "x-auth-groups"), ["admins,ops"]);
        assert!(h.get("x_auth_user_id").is_none());
        assert!(h.get("x_auth.groups").is_none());
        assert_eq!(all(&h, "x-other"), ["1"]);
        assert_eq!(all(&h, "x-request-id"), ["r-1"]);
    }

    #[test]
    fn a_public_request_carries_no_identity_at_all() {
        let rid = HeaderValue::from_static("r-1");
        let f = anonymous(&rid);
        let h = rewritten(
            &[("X.Auth.User", "mallory"), ("x-auth-assertion", "forged")],
            &f,
        );
        assert!(h.keys().all(|n| !is_identity_header(n.as_str())));
    }

    #[test]
    fn only_the_gateways_cookies_and_token_are_withheld() {
        let names = names();
        let rid = HeaderValue::from_static("r-1");
        let f = anonymous(&rid);
        let cookie = format!("a=1; {}=tok; b=2", names.access);
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        h.append(
            COOKIE,
            HeaderValue::from_str(&format!("{}=r", names.refresh)).unwrap(),
        );
        h.append(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer eyJh.eyJz.c2ln"),
        );
        rewrite(&mut h, None, &f, &names, |t| t == OURS);
        assert_eq!(all(&h, "cookie"), ["a=1; b=2"]);
        assert!(h.get(AUTHORIZATION).is_none());

        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_str(&format!("{}=tok", names.access)).unwrap(),
        );
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer th.ei.rs"));
        rewrite(&mut h, None, &f, &names, |t| t == OURS);
        assert!(h.get(COOKIE).is_none());
        assert_eq!(all(&h, "authorization"), ["Bearer th.ei.rs"]);

        // Read as holding only the gateway's cookies: every Cookie header goes, unread.
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        h.append(COOKIE, HeaderValue::from_static("c=3"));
        let f = Forwarding {
            other_cookies: false,
            ..anonymous(&rid)
        };
        rewrite(&mut h, None, &f, &names, |t| t == OURS);
        assert!(h.get(COOKIE).is_none());
    }

    #[test]
    fn forwarding_headers_believe_only_a_trusted_peer() {
        let rid = HeaderValue::from_static("r-1");
        let sent = [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "example.com"),
            ("host", "gw.internal"),
        ];
        let mut f = anonymous(&rid);
        f.peer = Some("10.0.0.7".parse().unwrap());
        let h = rewritten(&sent, &f);
        assert_eq!(all(&h, "x-forwarded-for"), ["203.0.113.9, 10.0.0.7"]);
        assert_eq!(all(&h, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(&h, "x-forwarded-host"), ["gw.internal"]);
        f.peer_trusted = true;
        let h = rewritten(&sent, &f);
        assert_eq!(all(&h, "x-forwarded-proto"), ["https"]);
        assert_eq!(all(&h, "x-forwarded-host"), ["example.com"]);
        let h = rewritten(&[("x-forwarded-for", "  ")], &f);
        assert_eq!(all(&h, "x-forwarded-for"), ["10.0.0.7"]);
        assert!(h.get(X_FORWARDED_HOST).is_none());
    }

    #[test]
    fn a_tls_listener_says_https_whatever_the_client_claims() {
        let rid = HeaderValue::from_static("r-1");
        let mut f = anonymous(&rid);
        f.tls = true;
        assert_eq!(all(&rewritten(&[], &f), "x-forwarded-proto"), ["https"]);
        let h = rewritten(&[("x-forwarded-proto", "http")], &f);
        assert_eq!(all(&h, "x-forwarded-proto"), ["https"]);
    }

    #[test]
    fn the_rebuilt_request_keeps_its_target_and_every_other_header() {
        let rid = HeaderValue::from_static("r-1");
        let f = anonymous(&rid);
        for target in [&b"/a%20b?x=1&y"[..], b"/caf\xe9", b"http://example.com/x?y"] {
            let mut req = RequestHeader::build("POST", target, None).unwrap();
            req.insert_header("Host", "example.com").unwrap();
            req.append_header("X-Thing", "1").unwrap();
            req.append_header("X-Thing", "2").unwrap();
            req.insert_header("Content-Length", "3").unwrap();
            let before = req.raw_path().to_vec();
            apply(&mut req, &f, &names(), |_| false).unwrap();
            assert_eq!(req.raw_path(), before.as_slice());
            assert_eq!(req.method, http::Method::POST);
            let mut wire = bytes::BytesMut::new();
            req.header_to_h1_wire(&mut wire);
            let wire = String::from_utf8_lossy(&wire);
            for line in [
                "Host: example.com\r\n",
                "x-thing: 1\r\nx-thing: 2\r\n",
                "Content-Length: 3\r\n",
                "x-forwarded-host: example.com\r\n",
                "x-request-id: r-1\r\n",
            ] {
                assert!(wire.contains(line), "{line:?} missing from {wire:?}");
            }
        }
    }
}
