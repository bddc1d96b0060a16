//! Cross-site request refusal (docs/contract.md §5): an unsafe `/auth` request must come from
//! the gateway's own site.

use crate::origin::Origin;
use crate::request::RequestMeta;
use crate::App;

/// docs/contract.md §5: an unsafe request whose `Origin` (or, without one, `Referer`) names
/// another site is refused. Same origin means the gateway's public origin, the request's own
/// `Host`, or an allowed redirect host.
pub fn same_origin(app: &App, meta: &RequestMeta) -> bool {
    is_same_origin(
        meta,
        &app.config.public_url,
        &app.config.allowed_redirect_hosts,
    )
}

fn is_same_origin(meta: &RequestMeta, own: &Origin, allowed_hosts: &[String]) -> bool {
    // Browsers say outright when a request comes from another site.
    if meta
        .header("sec-fetch-site")
        .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
    {
        return false;
    }
    let claimed = match (meta.header("origin"), meta.header("referer")) {
        (Some(o), _) => o,
        (None, Some(r)) => r,
        (None, None) => return true,
    };
    let Some(claimed) = Origin::parse(claimed) else {
        return false;
    };
    if claimed.same_authority(own) {
        return true;
    }
    if meta
        .header("host")
        .is_some_and(|h| h.eq_ignore_ascii_case(claimed.authority()))
    {
        return true;
    }
    super::redirect::host_allowed(allowed_hosts, claimed.host())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(headers: &[(&'static str, &'static str)]) -> RequestMeta {
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        RequestMeta {
            method: http::Method::POST,
            path: "/auth/logout".into(),
            query: None,
            headers: h,
            peer: None,
            peer_trusted: false,
            client_ip: None,
        }
    }

    fn own() -> Origin {
        Origin::parse("https://auth.example.com").unwrap()
    }

    fn allowed() -> Vec<String> {
        vec!["app.example.com".into(), ".example.org".into()]
    }

    #[test]
    fn unsafe_requests_from_the_same_site_pass_and_others_do_not() {
        let ok = |h: &[(&'static str, &'static str)]| is_same_origin(&meta(h), &own(), &allowed());
        assert!(
            ok(&[]),
            "no Origin or Referer: not a browser's cross-site request"
        );
        assert!(ok(&[("origin", "https://auth.example.com")]));
        assert!(ok(&[(
            "referer",
            "https://auth.example.com/auth/account?x=1"
        )]));
        assert!(ok(&[("origin", "http://gw:8000"), ("host", "gw:8000")]));
        assert!(ok(&[("origin", "https://app.example.com")]));
        assert!(ok(&[("origin", "https://a.example.org")]));
        assert!(!ok(&[("origin", "https://evil.example")]));
        assert!(!ok(&[("origin", "null")]));
        assert!(!ok(&[("origin", "https://auth.example.com.evil.example")]));
        assert!(!ok(&[(
            "referer",
            "https://auth.example.com@evil.example/"
        )]));
        assert!(
            !ok(&[("origin", "https://example.org")]),
            "the suffix is not the domain"
        );
        assert!(!ok(&[
            ("origin", "https://auth.example.com"),
            ("sec-fetch-site", "cross-site")
        ]));
    }
}
