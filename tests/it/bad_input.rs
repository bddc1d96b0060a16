//! Hostile and broken input: always a 4xx JSON error, never a 500, and nothing changes.

use crate::harness::*;

async fn user_and_session_counts(gw: &Gateway) -> (i64, i64) {
    let db = gw.db().await;
    let u: i64 = db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    let s: i64 = db
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    (u, s)
}

#[tokio::test]
async fn broken_bodies_get_4xx_json_and_change_nothing() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let before = user_and_session_counts(&gw).await;
    let json = "application/json";
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("/auth/register", Some(json), b"{".to_vec(), 400),
        ("/auth/register", Some(json), b"".to_vec(), 400),
        ("/auth/register", Some(json), b"null".to_vec(), 422),
        ("/auth/register", Some(json), b"[1,2]".to_vec(), 422),
        (
            "/auth/register",
            Some(json),
            br#"{"username":"bob"}"#.to_vec(),
            422,
        ),
        (
            "/auth/register",
            Some(json),
            br#"{"username":5,"password":true}"#.to_vec(),
            422,
        ),
        ("/auth/register", Some(json), vec![0xff, 0xfe, 0x00], 400),
        (
            "/auth/register",
            Some("text/plain"),
            b"username=bob".to_vec(),
            415,
        ),
        ("/auth/register", None, b"username=bob".to_vec(), 415),
        (
            "/auth/login",
            Some(json),
            br#"{"username":"alice"}"#.to_vec(),
            422,
        ),
        (
            "/auth/login",
            Some(json),
            br#"{"username":"alice","password":7}"#.to_vec(),
            422,
        ),
        (
            "/auth/login",
            Some(json),
            br#"{"username":"alice","password":"x","token_transport":"smoke"}"#.to_vec(),
            422,
        ),
        (
            "/auth/login",
            Some("application/x-www-form-urlencoded"),
            vec![0xff, b'=', 0xfe],
            400,
        ),
        (
            "/auth/refresh",
            Some(json),
            br#"{"refresh_token":12}"#.to_vec(),
            422,
        ),
        (
            "/auth/sessions/abort",
            Some(json),
            br#"{"keep_current":"yes"}"#.to_vec(),
            422,
        ),
    ];
    for (path, ct, body, status) in cases {
        let mut rb = gw.req("POST", path).body(body.clone());
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = send(rb).await;
        assert_eq!(
            r.status,
            status,
            "{path} {ct:?} {:?}: {}",
            String::from_utf8_lossy(&body),
            r.text()
        );
        if ct != Some("application/x-www-form-urlencoded") {
            assert!(r.json()["error"].is_string() && r.json()["message"].is_string());
        } else {
            // A browser form post gets the page again, with the reason.
            assert!(
                r.header("content-type").unwrap().starts_with("text/html"),
                "{}",
                r.text()
            );
        }
    }
    assert_eq!(user_and_session_counts(&gw).await, before);
}

#[tokio::test]
async fn bodies_over_16_kib_are_413() {
    let gw = Gateway::start().await;
    let big = format!(
        r#"{{"username":"bob","password":"{}"}}"#,
        "x".repeat(17 * 1024)
    );
    let r = send(
        gw.req("POST", "/auth/register")
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (413, "payload_too_large"));
    assert_eq!(user_and_session_counts(&gw).await, (0, 0));
}

#[tokio::test]
async fn garbage_cookies_and_tokens_are_401_not_500() {
    let gw = Gateway::start().await;
    for cookie in [
        "__Host-access_token=",
        "__Host-access_token",
        "=; ;;; =x",
        "__Host-access_token=a.b.c",
        "__Host-access_token=\"quoted\"",
        "__Host-refresh_token=zzz",
    ] {
        for path in ["/app", "/auth/me", "/auth/sessions", "/auth/verify"] {
            let r = send(gw.req("GET", path).header("cookie", cookie)).await;
            assert_eq!(r.status, 401, "{path} {cookie}");
        }
        let r = send(gw.req("POST", "/auth/refresh").header("cookie", cookie)).await;
        assert_eq!(r.status, 401, "refresh {cookie}");
        let r = send(gw.req("POST", "/auth/logout").header("cookie", cookie)).await;
        assert_eq!(r.status, 204, "logout {cookie}");
    }
    let r = send(
        gw.req("GET", "/app")
            .header("authorization", "Bearer junk.junk.junk"),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(
        gw.req("GET", "/app")
            .header("cookie", b"__Host-access_token=\xff\xfe".as_slice()),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn unknown_routes_and_methods_under_auth_are_4xx() {
    let gw = Gateway::start().await;
    let r = send(gw.req("GET", "/auth/nope")).await;
    assert_eq!((r.status, r.error().as_str()), (404, "not_found"));
    // GET is the sign-up page; other methods are not.
    let r = send(gw.req("PATCH", "/auth/register")).await;
    assert_eq!((r.status, r.error().as_str()), (405, "method_not_allowed"));
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = send(gw.req("DELETE", "/auth/sessions/not-a-uuid")).await;
    assert_eq!(r.status, 404);
    let r = send(gw.req("PUT", "/auth/me")).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let gw = Gateway::start().await;
    let r = send(
        gw.req("POST", "/auth/register")
            .header("origin", "https://evil.example")
            .json(&serde_json::json!({"username": "bob", "password": PASSWORD})),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (403, "csrf"));
    let r = send(
        gw.req("POST", "/auth/register")
            .header("referer", "https://evil.example/page")
            .json(&serde_json::json!({"username": "bob", "password": PASSWORD})),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (403, "csrf"));
    assert_eq!(user_and_session_counts(&gw).await, (0, 0));
    let r = send(
        gw.req("POST", "/auth/register")
            .header("origin", gw.base.as_str())
            .json(&serde_json::json!({"username": "bob", "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn a_json_body_with_a_repeated_key_is_refused_like_a_repeated_form_field() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let before = user_and_session_counts(&gw).await;
    for (path, body) in [
        (
            "/auth/register",
            r#"{"username":"bob","password":"a long password","username":"admin"}"#,
        ),
        (
            "/auth/login",
            r#"{"username":"mallory","password":"a long password","\u0075sername":"alice"}"#,
        ),
        (
            "/auth/login",
            r#"{"username":"alice","password":"correct horse battery","password":"x"}"#,
        ),
    ] {
        let r = send(
            gw.req("POST", path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    let r = send(
        gw.req("POST", "/auth/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=alice&password=x&password=y"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(user_and_session_counts(&gw).await, before);
}
