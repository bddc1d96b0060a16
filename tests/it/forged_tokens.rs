//! Tokens the gateway did not mint, or minted for something else, open nothing.

use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::harness::*;

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn refused(gw: &Gateway, token: &str, what: &str) {
    let r = send(
        gw.req("GET", "/app")
            .header("cookie", format!("__Host-access_token={token}")),
    )
    .await;
    assert_eq!(r.status, 401, "{what} via cookie");
    let r = send(gw.req("GET", "/app").bearer_auth(token)).await;
    assert_eq!(r.status, 401, "{what} via bearer");
    let r = send(gw.req("GET", "/auth/verify").bearer_auth(token)).await;
    assert_eq!(r.status, 401, "{what} via verify");
}

#[tokio::test]
async fn forged_and_mismatched_tokens_are_refused() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let good = claims_of(jar.access());
    // The genuine claims re-signed with our key pass: the forgeries below differ in one thing.
    let resigned = sign(&good, Algorithm::HS256, SECRET.as_bytes());
    assert_eq!(
        send(gw.req("GET", "/app").bearer_auth(&resigned))
            .await
            .status,
        200
    );

    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let now = now_secs();
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "wrong key",
            sign(
                &good,
                Algorithm::HS256,
                b"another-secret-that-is-long-enough!!",
            ),
        ),
        ("HS512", sign(&good, Algorithm::HS512, SECRET.as_bytes())),
        (
            "expired",
            sign(
                &with("exp", json!(now - 60)),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "future nbf",
            sign(
                &with("nbf", json!(now + 600)),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong iss",
            sign(
                &with("iss", json!("evil")),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong aud",
            sign(
                &with("aud", json!("evil")),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "typ refresh",
            sign(
                &with("typ", json!("refresh")),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "typ unknown",
            sign(
                &with("typ", json!("id")),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "string exp",
            sign(
                &with("exp", json!((now + 600).to_string())),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        ("no exp", {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove("exp");
            sign(&c, Algorithm::HS256, SECRET.as_bytes())
        }),
        (
            "unknown session",
            sign(
                &with("sid", json!(uuid::Uuid::new_v4())),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        ("garbage", "not.a.token".to_string()),
        ("empty", String::new()),
    ];
    for (what, token) in &cases {
        refused(&gw, token, what).await;
    }
}

#[tokio::test]
async fn a_token_naming_another_users_session_is_refused() {
    let gw = Gateway::start().await;
    let alice = gw.signup("alice").await;
    let bob = gw.signup("bob").await;
    let mut c = claims_of(alice.access());
    c["sid"] = claims_of(bob.access())["sid"].clone();
    let token = sign(&c, Algorithm::HS256, SECRET.as_bytes());
    refused(&gw, &token, "alice's sub with bob's sid").await;
}

#[tokio::test]
async fn a_cookie_sent_twice_authenticates_nothing() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(gw.req("GET", "/app").header(
        "cookie",
        format!(
            "__Host-access_token={0}; __Host-access_token={0}",
            jar.access()
        ),
    ))
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn tokens_in_the_query_string_are_ignored() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = send(gw.req("GET", &format!("/app?access_token={}", jar.access()))).await;
    assert_eq!(r.status, 401);
}
