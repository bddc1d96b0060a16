//! `/auth/verify` (nginx) and `/auth/forward` (Traefik, Caddy), called the way those proxies
//! call them.

use crate::harness::*;

const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

fn original(rb: reqwest::RequestBuilder, method: &str, uri: &str) -> reqwest::RequestBuilder {
    rb.header("x-forwarded-method", method)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", uri)
}

async fn gateway() -> Gateway {
    Gateway::start_env(&[
        ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
        ("GATEHOUSE_ALLOWED_REDIRECT_HOSTS", "app.example.com"),
        ("GATEHOUSE_PUBLIC_PATHS", "/public"),
    ])
    .await
}

#[tokio::test]
async fn authenticated_checks_answer_200_with_every_identity_header() {
    let gw = gateway().await;
    // Membership changes reach the cache through the listener.
    crate::instances::wait_listening(&gw).await;
    let jar = gw.signup("alice").await;
    for path in ["/auth/verify", "/auth/forward"] {
        let r = send(original(gw.req("GET", path).with(&jar), "GET", "/dash")).await;
        assert_eq!(r.header("x-auth-groups"), Some(""), "{path}: no groups yet");
    }
    for args in [
        &["group", "create", "ops"][..],
        &["group", "create", "admins"],
        &["group", "add", "ops", "alice"],
        &["group", "add", "admins", "alice"],
    ] {
        assert_eq!(gw.cli_async(args, "").await.0, 0, "{args:?}");
    }
    for path in ["/auth/verify", "/auth/forward"] {
        let r = send(original(gw.req("GET", path).with(&jar), "GET", "/dash")).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("x-auth-user"), Some("alice"));
        assert!(uuid::Uuid::parse_str(r.header("x-auth-user-id").unwrap()).is_ok());
        assert_eq!(
            r.header("x-auth-session-id"),
            claims_of(jar.access())["sid"].as_str()
        );
        assert_eq!(r.header("x-auth-groups"), Some("admins,ops"), "{path}");
    }
}

#[tokio::test]
async fn public_paths_answer_200_with_empty_identity_headers() {
    let gw = gateway().await;
    for path in ["/auth/verify", "/auth/forward"] {
        let r = send(original(gw.req("GET", path), "GET", "/public/logo.png")).await;
        assert_eq!(r.status, 200);
        for h in [
            "x-auth-user",
            "x-auth-user-id",
            "x-auth-session-id",
            "x-auth-groups",
        ] {
            assert_eq!(r.header(h), Some(""), "{path} {h}");
        }
        let r = send(original(gw.req("GET", path), "GET", "/publicity")).await;
        assert_eq!(r.status, 401, "{path}");
        for hostile in [
            "/public/%2e%2e/admin",
            "/public/..;/admin/x",
            "/public/%2e%2e%3b/admin",
            "/public/.;x/admin",
            "/public/%252e%252e/admin",
            "/public#/../admin",
            "public/../admin",
        ] {
            let r = send(original(gw.req("GET", path), "GET", hostile)).await;
            assert_eq!(
                (r.status, r.error().as_str()),
                (400, "bad_path"),
                "{hostile}"
            );
        }
    }
}

#[tokio::test]
async fn nginx_mode_answers_401_with_a_location_for_browsers() {
    let gw = gateway().await;
    let r = send(original(
        gw.req("GET", "/auth/verify").header("accept", HTML),
        "GET",
        "/dash?tab=2",
    ))
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("location"),
        Some("https://auth.example.com/auth/login?rd=https%3A%2F%2Fapp%2Eexample%2Ecom%2Fdash%3Ftab%3D2")
    );
    let r = send(original(
        gw.req("GET", "/auth/verify")
            .header("accept", "application/json"),
        "GET",
        "/dash",
    ))
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("location").is_none());
}

#[tokio::test]
async fn redirect_mode_answers_302_for_get_303_for_post_and_401_for_api_calls() {
    let gw = gateway().await;
    let r = send(original(
        gw.req("GET", "/auth/forward").header("accept", HTML),
        "GET",
        "/dash",
    ))
    .await;
    assert_eq!(r.status, 302);
    assert!(r
        .header("location")
        .unwrap()
        .starts_with("https://auth.example.com/auth/login?rd="));
    let r = send(original(
        gw.req("GET", "/auth/forward").header("accept", HTML),
        "POST",
        "/form",
    ))
    .await;
    assert_eq!(r.status, 303);
    let r = send(original(
        gw.req("GET", "/auth/forward")
            .header("accept", "application/json"),
        "GET",
        "/api",
    ))
    .await;
    assert_eq!(r.status, 401);
    let r = send(original(
        gw.req("GET", "/auth/forward")
            .header("accept", HTML)
            .header("x-requested-with", "XMLHttpRequest"),
        "GET",
        "/api",
    ))
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_original_request_is_believed_only_from_trusted_proxies() {
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_PUBLIC_PATHS", "/public"),
        ("GATEHOUSE_TRUSTED_PROXIES", "10.9.9.9/32"),
    ])
    .await;
    let r = send(original(gw.req("GET", "/auth/verify"), "GET", "/public/x")).await;
    assert_eq!(
        r.status, 401,
        "an untrusted caller cannot claim a public path"
    );
}

#[tokio::test]
async fn forward_auth_refreshes_in_line_and_returns_the_cookies() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let r = send(original(
        gw.req("GET", "/auth/forward")
            .with(&jar.only("refresh_token")),
        "GET",
        "/dash",
    ))
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    assert_eq!(r.cookies().len(), 2);
}

#[tokio::test]
async fn forward_auth_with_the_database_down_is_503() {
    let gw = Gateway::start_with_relay().await;
    let jar = gw.signup("alice").await;
    gw.relay().cut();
    for path in ["/auth/verify", "/auth/forward"] {
        let r = gw.get(path, &jar).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (503, "unavailable"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn missing_duplicated_or_garbage_forwarding_headers_never_cause_a_5xx() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let names = [
        "x-forwarded-method",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-uri",
        "x-original-method",
        "x-original-uri",
        "x-original-url",
    ];
    let values: [&[u8]; 10] = [
        b"",
        b"GET",
        b"/public/x",
        b"https://app.example.com/a?b",
        b"//evil.com",
        b"/%zz/../x",
        b"\xff\xfe\x80",
        b"http://[::1",
        b"https",
        b"a b c \t \x7f",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..120 {
        let path = if round % 2 == 0 {
            "/auth/verify"
        } else {
            "/auth/forward"
        };
        let mut rb = gw.req("GET", path);
        if round % 3 == 0 {
            rb = rb.with(&jar);
        }
        if round % 4 == 0 {
            rb = rb.header("accept", "text/html");
        }
        for _ in 0..next(6) {
            let name = names[next(names.len())];
            // Sent once or twice, possibly with different values.
            for _ in 0..=next(2) {
                let value = reqwest::header::HeaderValue::from_bytes(values[next(values.len())])
                    .unwrap_or(reqwest::header::HeaderValue::from_static("x"));
                rb = rb.header(name, value);
            }
        }
        let r = send(rb).await;
        assert!(r.status < 500, "round {round}: {} {}", r.status, r.text());
    }
}
