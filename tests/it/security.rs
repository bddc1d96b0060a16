//! Attacks gatehouse stops, one test each (issue: hardening). Named for the attack.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

async fn login_from(gw: &Gateway, ip: &str, user: &str, password: &str) -> Resp {
    send(
        gw.req("POST", "/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": user, "password": password })),
    )
    .await
}

#[tokio::test]
async fn password_guessing_from_one_address_is_rate_limited_with_retry_after() {
    let gw = Gateway::start_env(&[("GATEHOUSE_LOGIN_RATE", "3/min")]).await;
    gw.register("alice", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(
            login_from(&gw, "198.51.100.1", "alice", "wrong password")
                .await
                .status,
            401
        );
    }
    let r = login_from(&gw, "198.51.100.1", "alice", PASSWORD).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (429, "rate_limited"),
        "even the right password waits"
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("try again in {retry} second"))
            || message.contains("try again in 1 minute"),
        "the message says when: {message}"
    );
    // Another address and another user are not affected.
    assert_eq!(
        login_from(&gw, "198.51.100.2", "bob", "wrong password")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn guessing_one_username_from_many_addresses_is_rate_limited() {
    let gw = Gateway::start_env(&[("GATEHOUSE_LOGIN_RATE", "3/min")]).await;
    gw.register("alice", PASSWORD).await;
    for i in 0..3 {
        let r = login_from(&gw, &format!("198.51.100.{i}"), "ALICE", "wrong password").await;
        assert_eq!(r.status, 401);
    }
    let r = login_from(&gw, "203.0.113.77", "alice", "wrong password").await;
    assert_eq!(r.status, 429, "the canonical username's bucket is shared");
}

#[tokio::test]
async fn a_lock_out_ends_once_the_failures_stop() {
    let gw = Gateway::start_env(&[("GATEHOUSE_LOGIN_RATE", "2/s")]).await;
    gw.register("alice", PASSWORD).await;
    for _ in 0..2 {
        login_from(&gw, "198.51.100.1", "alice", "wrong password").await;
    }
    assert_eq!(
        login_from(&gw, "198.51.100.1", "alice", PASSWORD)
            .await
            .status,
        429
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        login_from(&gw, "198.51.100.1", "alice", PASSWORD)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_login_storm_beyond_bcrypt_capacity_is_shed_not_queued() {
    let gw = Gateway::start_env(&[
        ("GATEHOUSE_BCRYPT_COST", "8"),
        ("GATEHOUSE_LOGIN_RATE", "1000/s"),
    ])
    .await;
    gw.register("alice", PASSWORD).await;
    let jar = gw.login("alice", PASSWORD).await.jar();
    let storm: Vec<_> = (0..120)
        .map(|i| {
            let http = gw.http.clone();
            let url = gw.url("/auth/login");
            tokio::spawn(async move {
                send(
                    http.post(url)
                        .header("x-forwarded-for", format!("10.1.{}.{}", i / 200, i % 200))
                        .json(&json!({"username": "alice", "password": "wrong password"})),
                )
                .await
            })
        })
        .collect();
    // Proxied traffic keeps flowing while the storm runs.
    let proxied = gw.get("/app", &jar).await;
    assert_eq!(proxied.status, 200);
    let mut shed = 0;
    for t in storm {
        let r = t.await.unwrap();
        assert!(matches!(r.status, 401 | 503), "{} {}", r.status, r.text());
        if r.status == 503 {
            assert_eq!(r.header("retry-after"), Some("1"));
            shed += 1;
        }
    }
    assert!(shed > 0, "some logins were shed");
}

#[tokio::test]
async fn spoofed_x_forwarded_for_from_an_untrusted_peer_is_not_believed() {
    let trusted = Gateway::start().await;
    trusted.register("alice", PASSWORD).await;
    let jar = login_from(&trusted, "203.0.113.5", "alice", PASSWORD)
        .await
        .jar();
    let me = trusted.get("/auth/me", &jar).await.json();
    assert_eq!(
        me["session"]["ip"], "203.0.113.5",
        "the trusted proxy's word is taken"
    );

    let untrusted = Gateway::start_env(&[("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    untrusted.register("alice", PASSWORD).await;
    let jar = login_from(&untrusted, "203.0.113.5", "alice", PASSWORD)
        .await
        .jar();
    let me = untrusted.get("/auth/me", &jar).await.json();
    assert_eq!(
        me["session"]["ip"], "127.0.0.1",
        "the socket peer, not the claim"
    );
}

#[tokio::test]
async fn a_cross_site_fetch_is_refused_by_sec_fetch_site() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("POST", "/auth/sessions/abort")
            .with(&jar)
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (403, "csrf"));
    assert_eq!(gw.get("/app", &jar).await.status, 200, "nothing changed");
    let r = send(
        gw.req("POST", "/auth/logout")
            .with(&jar)
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn no_cors_headers_are_ever_sent() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let preflight = send(
        gw.req("OPTIONS", "/auth/login")
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST"),
    )
    .await;
    let me = send(
        gw.req("GET", "/auth/me")
            .with(&jar)
            .header("origin", "https://evil.example"),
    )
    .await;
    for r in [&preflight, &me] {
        assert!(
            r.headers
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn request_smuggling_framing_is_refused_and_never_forwarded() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let cookie = jar.header();
    let cases = [
        ("CL and TE", format!("POST /app HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")),
        ("duplicate CL", format!("POST /app HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")),
        ("TE not chunked", format!("POST /app HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")),
        ("obsolete line folding", format!("GET /app HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nX-Folded: a\r\n b\r\n\r\n")),
        ("h2c upgrade", format!("GET /app HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")),
    ];
    for (what, request) in cases {
        let (status, body) = raw(&gw, &request).await;
        assert!((400..500).contains(&status), "{what}: {status} {body}");
        assert!(
            !body.contains("\"headers\""),
            "{what} reached the upstream: {body}"
        );
    }
}

#[tokio::test]
async fn every_account_event_is_audited_without_secrets() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REFRESH_REUSE_GRACE", "0s")]).await;
    gw.register("alice", PASSWORD).await;
    gw.login("alice", "bad-guess-123").await;
    let a = gw.login("alice", PASSWORD).await.jar();
    let b = gw.login("alice", PASSWORD).await.jar();
    let c = gw.login("alice", PASSWORD).await.jar();
    let d = gw.login("alice", PASSWORD).await.jar();
    let refresh = |jar: &Jar| {
        send(
            gw.req("POST", "/auth/refresh")
                .header("cookie", format!("__Host-refresh_token={}", jar.refresh())),
        )
    };
    refresh(&a).await;
    assert_eq!(refresh(&a).await.error(), "token_reused");
    let sid = claims_of(c.access())["sid"].as_str().unwrap().to_string();
    send(gw.req("DELETE", &format!("/auth/sessions/{sid}")).with(&b)).await;
    gw.post("/auth/logout", &b).await;
    send(
        gw.req("POST", "/auth/password")
            .with(&d)
            .json(&json!({"current_password": PASSWORD, "new_password": "another password"})),
    )
    .await;
    send(gw.req("POST", "/auth/sessions/abort").with(&d)).await;
    let (code, _, err) = gw.cli(&["user", "disable", "alice"], "");
    assert_eq!(code, 0, "{err}");

    let rows = gw.db().await.query("SELECT kind, coalesce(detail, ''), user_id IS NOT NULL, host(ip) FROM auth_events ORDER BY id", &[]).await.unwrap();
    let kinds: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    for kind in [
        "login_failed",
        "login_ok",
        "refresh",
        "refresh_reuse",
        "revoke",
        "logout",
        "password_change",
        "abort",
        "disable",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    assert!(
        rows.iter().all(|r| r.get::<_, bool>(2)),
        "every event names the user"
    );
    let dump = format!(
        "{:?}",
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect::<Vec<_>>()
    );
    for secret in [
        PASSWORD,
        "another password",
        "bad-guess-123",
        a.access(),
        a.refresh(),
    ] {
        assert!(!dump.contains(secret), "audit holds a secret");
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log_even_at_debug_level() {
    let canary_password = "canary-PASSWORD-7f3a9c";
    let gw = Gateway::start_env(&[("GATEHOUSE_LOG", "debug")]).await;
    assert_eq!(gw.register("alice", canary_password).await.status, 201);
    let login = gw.login("alice", canary_password).await;
    let jar = login.jar();
    gw.get("/app", &jar).await;
    let bearer = send(gw.req("POST", "/auth/login").json(
        &json!({"username": "alice", "password": canary_password, "token_transport": "bearer"}),
    ))
    .await
    .json();
    send(
        gw.req("GET", "/app")
            .bearer_auth(bearer["access_token"].as_str().unwrap()),
    )
    .await;
    let refreshed = send(gw.req("POST", "/auth/refresh").with(&jar)).await.jar();
    gw.get("/app", &jar.only("refresh_token")).await;
    send(
        gw.req("POST", "/auth/password").with(&refreshed).json(
            &json!({"current_password": canary_password, "new_password": "canary-NEW-5511aa"}),
        ),
    )
    .await;
    gw.post("/auth/logout", &refreshed).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = gw.log_text();
    assert!(log.contains("DEBUG"), "the log really is at debug level");
    let secrets = [
        canary_password.to_string(),
        "canary-NEW-5511aa".to_string(),
        jar.access().to_string(),
        jar.refresh().to_string(),
        refreshed.access().to_string(),
        bearer["access_token"].as_str().unwrap().to_string(),
        bearer["refresh_token"].as_str().unwrap().to_string(),
        SECRET.to_string(),
    ];
    for secret in &secrets {
        // Any 24-character slice of a token is enough to call it leaked.
        let probe = &secret[secret.len().saturating_sub(24)..];
        assert!(!log.contains(probe), "a secret reached the log: …{probe}");
    }
}

#[tokio::test]
async fn a_hanging_database_gives_503_in_bounded_time_and_forwards_nothing() {
    let gw = Gateway::start_with_relay().await;
    let jar = gw.signup("alice").await;
    gw.relay().stall();
    let started = std::time::Instant::now();
    let r = gw.get("/app", &jar).await;
    assert_eq!((r.status, r.error().as_str()), (503, "unavailable"));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(r.cookies().is_empty(), "cookies survive");
    let started = std::time::Instant::now();
    let r = send(gw.req("POST", "/auth/refresh").with(&jar)).await;
    assert_eq!(r.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    // Drop the hung connections (nothing they held back is delivered), then come back.
    gw.relay().cut();
    gw.relay().unstall();
    gw.relay().restore();
    let status = eventually(200, || async { gw.get("/app", &jar).await.status }).await;
    assert_eq!(status, 200, "recovers without a restart");
    // The refresh that timed out burnt nothing: the original refresh token still rotates.
    assert_eq!(
        send(gw.req("POST", "/auth/refresh").with(&jar))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn oversized_or_too_many_headers_are_refused_quickly() {
    let gw = Gateway::start().await;
    let many: String = (0..300).map(|i| format!("X-Filler-{i}: {i}\r\n")).collect();
    let (status, _) = raw(
        &gw,
        &format!("GET /app HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n"),
    )
    .await;
    assert!(
        (400..500).contains(&status) || status == 0,
        "too many headers: {status}"
    );
    let huge = "a".repeat(1_100_000);
    let started = std::time::Instant::now();
    let (status, _) = raw(
        &gw,
        &format!("GET /app HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(
        (400..500).contains(&status) || status == 0,
        "oversized header: {status}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // And the gateway is still fine.
    assert_eq!(send(gw.req("GET", "/auth/me")).await.status, 401);
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_does_not_pin_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start().await;
    let mut stream = connect(&gw).await;
    stream
        .write_all(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the gateway gave up on the body");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
}

/// Reads one response with a `Content-Length` body off a kept-alive connection.
async fn read_one_response(stream: &mut tokio::net::TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return head.split(' ').nth(1).and_then(|s| s.parse().ok());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends one header line every 200 ms until the gateway closes the connection; returns how
/// long that took (`None`: still open after 10 s).
async fn trickle_until_closed(stream: &mut tokio::net::TcpStream) -> Option<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut chunk = [0u8; 1024];
    for i in 0..50 {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return Some(started.elapsed());
                }
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if stream.write_all(format!("X-Slow-{i}: y\r\n").as_bytes()).await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn a_slowloris_request_head_is_cut_at_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start_env(&[("GATEHOUSE_HEADER_TIMEOUT", "1s")]).await;
    let mut stream = connect(&gw).await;
    stream.write_all(b"GET /app HTTP/1.1\r\n").await.unwrap();
    let closed = trickle_until_closed(&mut stream).await;
    let closed = closed.expect("a head trickling in for 10 s was never cut");
    assert!(closed < Duration::from_secs(4), "cut after {closed:?}");
    assert!(gw.metric("gatehouse_header_timeouts_total").await >= 1.0);
    assert_eq!(send(gw.req("GET", "/auth/me")).await.status, 401);
}

#[tokio::test]
async fn a_kept_alive_connection_may_idle_but_its_next_head_is_on_the_clock() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start_env(&[("GATEHOUSE_HEADER_TIMEOUT", "1s")]).await;
    let mut stream = connect(&gw).await;
    let request = b"GET /auth/me HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request).await.unwrap();
    assert_eq!(read_one_response(&mut stream).await, Some(401));
    // Idle for longer than the header timeout: that is the keep-alive timeout's business.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(request).await.unwrap();
    assert_eq!(read_one_response(&mut stream).await, Some(401));
    stream
        .write_all(b"GET /auth/me HTTP/1.1\r\n")
        .await
        .unwrap();
    let closed = trickle_until_closed(&mut stream).await;
    let closed = closed.expect("the second head trickled for 10 s and was never cut");
    assert!(closed < Duration::from_secs(4), "cut after {closed:?}");
}

#[tokio::test]
async fn a_slow_request_body_is_not_mistaken_for_a_slow_head() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start_env(&[("GATEHOUSE_HEADER_TIMEOUT", "1s")]).await;
    let jar = gw.signup("alice").await;
    let mut stream = connect(&gw).await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nContent-Length: 10\r\n\r\n",
        jar.header()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream.write_all(b"x").await.unwrap();
    }
    assert_eq!(read_one_response(&mut stream).await, Some(200));
}

/// Sends `head`, then one body byte every `every` until the gateway answers or closes, for at
/// most 30 s; returns the status it answered (0: none) and how many bytes it took.
async fn trickle(gw: &Gateway, head: &str, every: Duration) -> (u16, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = connect(gw).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut sent = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(every, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
                sent += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, sent)
}

#[tokio::test]
async fn a_body_trickled_byte_by_byte_cannot_hold_an_auth_route() {
    let gw = Gateway::start_env(&[("GATEHOUSE_HEADER_TIMEOUT", "2s")]).await;
    let head = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 4000\r\n\r\n";
    // Every read arrives well within any per-read timeout; the whole body never does.
    let (status, sent) = trickle(&gw, head, Duration::from_millis(250)).await;
    assert_eq!(status, 408);
    assert!(sent < 20, "{sent} bytes were read before giving up");
}

#[tokio::test]
async fn a_proxied_body_must_keep_a_minimum_rate() {
    let gw = Gateway::start_env(&[("GATEHOUSE_HEADER_TIMEOUT", "2s")]).await;
    let jar = gw.signup("alice").await;
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nContent-Length: 100000\r\n\r\n",
        jar.header()
    );
    let (status, sent) = trickle(&gw, &head, Duration::from_millis(250)).await;
    assert_eq!(status, 408);
    assert!(sent < 40, "{sent} bytes were read before giving up");
}

#[tokio::test]
async fn a_gateway_token_never_reaches_the_upstream_however_the_authorization_is_spelled() {
    use base64::Engine;
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    let jar = gw.signup("alice").await;
    let t = jar.access().to_string();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{t}"));
    let spellings = [
        format!("Bearer {t} junk"),
        format!("Token {t}"),
        format!("JWT {t}"),
        t.clone(),
        format!("Bearer  {t}"),
        format!("Basic {basic}"),
        format!("Bearer {}", t.replace('.', "%2E")),
    ];
    for spelling in &spellings {
        for path in ["/public/x", "/app"] {
            let r = send(
                gw.req("GET", path)
                    .with(&jar)
                    .header("authorization", spelling.as_str()),
            )
            .await;
            assert_eq!(r.status, 200, "{path} {spelling}");
            assert!(r.echoed("authorization").is_empty(), "{path} {spelling}");
        }
    }
    // Two headers: the one with the token goes, the upstream's own stays.
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("authorization", format!("Bearer {t}"))
            .header("authorization", "Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_eq!(r.echoed("authorization"), vec!["Basic dXNlcjpwYXNz"]);
    assert!(!r.text().contains(&t), "the token reached the upstream");
}

#[tokio::test]
async fn a_connection_header_cannot_drop_what_the_gateway_sets() {
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    let jar = gw.signup("alice").await;
    for nominated in [
        "x-forwarded-for",
        "X-Forwarded-Proto",
        "x-forwarded-host",
        "host",
        "x-auth-user",
        "X_Auth_User_Id, x-request-id",
        "keep-alive, x-forwarded-for",
    ] {
        for path in ["/public/x", "/app"] {
            let r = send(
                gw.req("GET", path)
                    .with(&jar)
                    .header("connection", nominated),
            )
            .await;
            assert_eq!(r.status, 200, "{path} {nominated}: {}", r.text());
            assert_eq!(r.echoed("x-forwarded-for").len(), 1, "{nominated}");
            assert_eq!(r.echoed("x-forwarded-proto"), vec!["http"], "{nominated}");
            if path == "/app" {
                assert_eq!(r.echoed("x-auth-user"), vec!["alice"], "{nominated}");
            }
        }
    }
    // A malformed option is a client error, answered.
    let (status, body) = raw(
        &gw,
        "GET /public/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: \"x-forwarded-for\"\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!gw.log_text().contains("ERROR"), "{}", gw.log_text());
}
