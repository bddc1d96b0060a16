//! The proxy path: what reaches the upstream, public prefixes, upstream and database failures,
//! and the first forward-auth endpoint.

use crate::harness::*;

#[tokio::test]
async fn identity_headers_from_clients_never_reach_the_upstream() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("X-Auth-User", "mallory")
            .header("x_auth_user", "mallory")
            .header("X.Auth.User-Id", "00000000-0000-0000-0000-000000000000")
            .header("x-auth-session_id", "forged")
            .header("X-Auth-Groups", "admins")
            .header("x_auth.groups", "admins")
            .header("X-Auth-Assertion", "forged"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed("x-auth-user"), vec!["alice"]);
    assert_eq!(r.echoed("x-auth-user-id").len(), 1);
    assert_eq!(
        r.echoed("x-auth-session-id"),
        vec![claims_of(jar.access())["sid"].as_str().unwrap()]
    );
    assert_eq!(
        r.echoed("x-auth-groups"),
        vec![""],
        "alice is in no group: the gateway's own empty value, not the client's"
    );
    let names = r.echoed_names();
    for spoof in [
        "x_auth_user",
        "x.auth.user-id",
        "x-auth-session_id",
        "x_auth.groups",
        "x-auth-assertion",
    ] {
        assert!(
            !names.contains(&spoof.to_string()),
            "{spoof} reached the upstream"
        );
    }
}

#[tokio::test]
async fn the_gateways_cookies_and_bearer_tokens_are_not_forwarded_but_others_are() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/app")
            .header("cookie", format!("theme=dark; {}; lang=en", jar.header())),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.echoed("cookie"), vec!["theme=dark; lang=en"]);
    let r = send(gw.req("GET", "/app").bearer_auth(jar.access())).await;
    assert!(r.echoed("authorization").is_empty());
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("authorization", "Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_eq!(r.echoed("authorization"), vec!["Basic dXNlcjpwYXNz"]);
    let r = send(gw.req("GET", "/app").with(&jar)).await;
    assert!(r.echoed("cookie").is_empty());
}

#[tokio::test]
async fn forwarding_headers_are_set() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/app?x=1")
            .with(&jar)
            .header("x-forwarded-for", "198.51.100.1")
            .header("x-request-id", "req-42"),
    )
    .await;
    assert_eq!(r.json()["path"], "/app?x=1");
    assert_eq!(r.echoed("x-forwarded-for"), vec!["198.51.100.1, 127.0.0.1"]);
    assert_eq!(r.echoed("x-forwarded-proto"), vec!["http"]);
    assert_eq!(
        r.echoed("x-forwarded-host"),
        vec![gw.base.trim_start_matches("http://")]
    );
    assert_eq!(r.echoed("x-request-id"), vec!["req-42"]);
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    let r = send(gw.req("GET", "/app").with(&jar)).await;
    let generated = r.echoed("x-request-id");
    assert_eq!(generated.len(), 1);
    assert!(uuid::Uuid::parse_str(&generated[0]).is_ok());
}

#[tokio::test]
async fn public_prefixes_match_whole_segments() {
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public,/assets/")]).await;
    for path in ["/public", "/public/x", "/assets/app.css"] {
        let r = send(gw.req("GET", path).header("x-auth-user", "mallory")).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.echoed("x-auth-user").is_empty(),
            "spoofed identity on a public path"
        );
    }
    for path in ["/publicity", "/assetsx", "/Public"] {
        assert_eq!(send(gw.req("GET", path)).await.status, 401, "{path}");
    }
}

#[tokio::test]
async fn unauthenticated_requests_get_401_json() {
    let gw = Gateway::start().await;
    let r = send(gw.req("GET", "/app")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "unauthorized");
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let r = send(gw.req("POST", "/app").body("x")).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_down_upstream_is_502_but_unauthenticated_requests_still_get_401() {
    let refusing = Refusing::new();
    let dead = refusing.addr();
    let gw = Gateway::start_with(Options {
        upstream: Some(dead),
        ..Default::default()
    })
    .await;
    let jar = gw.signup("alice").await;
    let r = gw.get("/app", &jar).await;
    assert_eq!((r.status, r.error().as_str()), (502, "bad_gateway"));
    assert_eq!(send(gw.req("GET", "/app")).await.status, 401);
}

#[tokio::test]
async fn a_silent_upstream_is_504() {
    let gw = Gateway::start_env(&[("GATEHOUSE_UPSTREAM_TIMEOUT", "1s")]).await;
    let jar = gw.signup("alice").await;
    let r = gw.get("/slow?sleep_ms=3000", &jar).await;
    assert_eq!((r.status, r.error().as_str()), (504, "gateway_timeout"));
}

#[tokio::test]
async fn a_session_not_in_memory_with_the_database_down_is_503_and_not_forwarded() {
    let gw = Gateway::start_with_relay().await;
    let jar = gw.signup("alice").await;
    gw.relay().cut();
    let r = gw.get("/app", &jar).await;
    assert_eq!((r.status, r.error().as_str()), (503, "unavailable"));
    assert!(r.cookies().is_empty());
    gw.relay().restore();
    let status = eventually(200, || async { gw.get("/app", &jar).await.status }).await;
    assert_eq!(status, 200, "recovers without a restart");
}

#[tokio::test]
async fn an_authenticated_request_is_served_from_memory() {
    let gw = Gateway::start_env(&[("GATEHOUSE_CACHE_TTL", "60s")]).await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    let before = gw.metric("gatehouse_db_queries_total").await;
    for _ in 0..50 {
        assert_eq!(gw.get("/app", &jar).await.status, 200);
    }
    assert_eq!(gw.metric("gatehouse_db_queries_total").await, before);
}

#[tokio::test]
async fn verify_answers_200_with_identity_headers_or_401() {
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    let jar = gw.signup("alice").await;
    let r = gw.get("/auth/verify", &jar).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    assert_eq!(
        r.header("x-auth-session-id"),
        claims_of(jar.access())["sid"].as_str()
    );
    assert!(r.header("x-auth-user-id").is_some());
    assert_eq!(gw.get("/auth/verify", &Jar::default()).await.status, 401);
    let r = send(
        gw.req("GET", "/auth/verify")
            .header("x-original-uri", "/public/page"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-user"), Some(""));
}

#[tokio::test]
async fn bad_paths_are_refused_before_anything_else() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    // Sent raw: HTTP clients would normalise these paths before sending.
    for path in [
        "/a/%2e%2e/b",
        "/a/../b",
        "/./a",
        "/a%2Fb",
        "/a%5Cb",
        "/a\\b",
        "/a%00",
        "/a%zz",
        "/public/%2e%2e/x",
    ] {
        let (status, body) = raw(
            &gw,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
                jar.header()
            ),
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("\"bad_path\""), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_admin_routes_are_not_on_the_public_listener() {
    let gw = Gateway::start().await;
    let r = send(gw.req("GET", "/metrics")).await;
    assert_eq!(r.status, 401);
    let r = send(gw.http.get(format!("{}/readyz", gw.admin))).await;
    assert_eq!(r.status, 200);
    let r = send(gw.http.get(format!("{}/metrics", gw.admin))).await;
    assert!(r.text().contains("gatehouse_requests_total"));
}

#[tokio::test]
async fn websocket_upgrades_pass_after_auth_with_identity_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let upgrade = |cookie: String| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\n{cookie}Connection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Auth-User: mallory\r\n\r\n"
        )
    };
    let mut stream = connect(&gw).await;
    stream
        .write_all(upgrade(format!("Cookie: {}\r\n", jar.header())).as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "{}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("x-echo-user: alice\r\n"),
        "the backend saw the gateway's identity: {head}"
    );
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");

    let unauthenticated =
        upgrade(String::new()).replace("Connection: Upgrade", "Connection: Upgrade, close");
    let (status, _) = raw(&gw, &unauthenticated).await;
    assert_eq!(status, 401, "no session, no upgrade");
}

/// Tomcat, Jetty and Spring drop `;parameters` before resolving dot segments, some servers
/// decode twice, and a fragment is cut by one parser and kept by another: every reading in
/// which a segment climbs is refused, on a public prefix and without a session.
#[tokio::test]
async fn dot_segments_behind_parameters_encodings_or_fragments_are_refused() {
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    for path in [
        "/public/..;/admin/x",
        "/public/..;jsessionid=1/admin",
        "/public/.;/admin",
        "/public/..%3b/admin",
        "/public/%2e%2e;/admin",
        "/public/%2E.%3Bx/admin",
        "/public/%252e%252e/admin",
        "/public/%c0%ae%c0%ae/admin",
        "/public/%ef%bc%8e%ef%bc%8e/admin",
    ] {
        let (status, body) = raw(
            &gw,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("\"bad_path\""), "{path}: {body}");
    }
    // A fragment is no part of a request target: the upstream gets the path without it.
    let (status, body) = raw(
        &gw,
        "GET /public#/../../admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        status == 400 || body.contains("\"path\":\"/public\""),
        "{status} {body}"
    );
    // Parameters that do not hide a dot segment pass as before.
    let (status, _) = raw(
        &gw,
        "GET /public/x;v=1/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
}

/// A client that asks for its connection to be closed (`Connection: close`, or HTTP/1.0
/// without keep-alive) gets its answer and then the end of the connection: the gateway keeps
/// a connection open only when the client asked it to.
#[tokio::test]
async fn a_client_that_asks_to_close_gets_its_answer_and_the_end_of_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    for request in [
        "GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /public/x HTTP/1.0\r\nHost: a\r\n\r\n",
        "GET /private HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ] {
        let mut stream = connect(&gw).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut out),
        )
        .await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            read.is_ok(),
            "still open after answering {request:?}: {text}"
        );
        assert!(text.starts_with("HTTP/1."), "{request:?}: {text}");
        assert!(
            !text.to_ascii_lowercase().contains("connection: keep-alive"),
            "{request:?}: {text}"
        );
    }
}
