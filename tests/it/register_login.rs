//! Registration, login, logout, `/auth/me` and the cookies they set.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn register_creates_a_user_and_answers_201_without_caching() {
    let gw = Gateway::start().await;
    let r = gw.register("Alice", PASSWORD).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    assert_eq!(body["username"], "Alice");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(body.get("password_hash").is_none());
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case_and_width() {
    let gw = Gateway::start().await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    let r = gw.register("ALICE", PASSWORD).await;
    assert_eq!((r.status, r.error().as_str()), (409, "username_taken"));
    let r = gw.register("  ａｌｉｃｅ ", PASSWORD).await;
    assert_eq!((r.status, r.error().as_str()), (409, "username_taken"));
}

#[tokio::test]
async fn invalid_usernames_and_passwords_are_422_and_create_nothing() {
    let gw = Gateway::start().await;
    for (name, pw) in [
        ("ab", PASSWORD),
        ("has space", PASSWORD),
        ("semi;colon", PASSWORD),
        ("bob", "short"),
        ("bob", &"p".repeat(73)),
    ] {
        let r = gw.register(name, pw).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (422, "invalid_request"),
            "{name}"
        );
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    let count: i64 = gw
        .db()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_72_byte_password_is_accepted_and_checked_in_full() {
    let gw = Gateway::start().await;
    let pw = "p".repeat(72);
    assert_eq!(gw.register("bob", &pw).await.status, 201);
    assert_eq!(gw.login("bob", &pw).await.status, 200);
    let mut other = "p".repeat(71);
    other.push('q');
    assert_eq!(gw.login("bob", &other).await.status, 401);
}

#[tokio::test]
async fn passwords_are_taken_exactly_as_sent() {
    let gw = Gateway::start().await;
    assert_eq!(gw.register("carol", " padded password ").await.status, 201);
    assert_eq!(gw.login("carol", "padded password").await.status, 401);
    assert_eq!(gw.login("carol", " padded password ").await.status, 200);
}

#[tokio::test]
async fn closed_registration_is_403() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REGISTRATION", "closed")]).await;
    let r = gw.register("alice", PASSWORD).await;
    assert_eq!((r.status, r.error().as_str()), (403, "registration_closed"));
}

#[tokio::test]
async fn login_sets_host_prefixed_secure_cookies_by_default() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cookies = r.cookies();
    assert_eq!(cookies.len(), 2);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("__Host-access_token="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("__Host-refresh_token="))
        .unwrap();
    for (c, age) in [(access, 900), (refresh, 604_800)] {
        for attr in [
            "HttpOnly",
            "Path=/",
            "SameSite=Lax",
            "Secure",
            &format!("Max-Age={age}"),
        ] {
            assert!(c.split("; ").any(|a| a == attr), "{c} lacks {attr}");
        }
        assert!(!c.contains("Domain="), "{c}");
    }
    let body = r.json();
    assert_eq!(body["user"]["username"], "alice");
    for key in ["id", "created_at", "expires_at"] {
        assert!(body["session"][key].is_string(), "{key}");
    }
    assert!(body["access_expires_at"].is_string() && body["refresh_expires_at"].is_string());
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
}

#[tokio::test]
async fn cookie_names_follow_the_domain_and_insecure_settings() {
    let gw = Gateway::start_env(&[("GATEHOUSE_COOKIE_DOMAIN", "example.com")]).await;
    gw.register("alice", PASSWORD).await;
    let cookies = gw.login("alice", PASSWORD).await.cookies();
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("__Secure-access_token=")
            && c.contains("; Domain=example.com")
            && c.contains("; Secure")));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("__Secure-refresh_token=")));

    let gw = Gateway::start_env(&[("GATEHOUSE_COOKIE_SECURE", "false")]).await;
    gw.register("alice", PASSWORD).await;
    let cookies = gw.login("alice", PASSWORD).await.cookies();
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("access_token=") && !c.contains("Secure")));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("refresh_token=") && !c.contains("Secure")));
}

#[tokio::test]
async fn login_failures_look_the_same_for_unknown_wrong_and_disabled() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    gw.register("dave", PASSWORD).await;
    gw.db()
        .await
        .execute(
            "UPDATE users SET disabled_at = now() WHERE username = 'dave'",
            &[],
        )
        .await
        .unwrap();
    let unknown = gw.login("nobody", PASSWORD).await;
    let wrong = gw.login("alice", "wrong password").await;
    let disabled = gw.login("dave", PASSWORD).await;
    for r in [&unknown, &wrong, &disabled] {
        assert_eq!(r.status, 401);
        assert_eq!(r.body, unknown.body);
        assert_eq!(r.error(), "invalid_credentials");
        assert!(r.cookies().is_empty());
    }
}

#[tokio::test]
async fn every_login_creates_a_new_session() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let a = gw.login("alice", PASSWORD).await.json()["session"]["id"].clone();
    let b = gw.login("alice", PASSWORD).await.json()["session"]["id"].clone();
    assert_ne!(a, b);
    let jar = gw.login("alice", PASSWORD).await.jar();
    let claims = claims_of(jar.access());
    assert_eq!(claims["sid"], claims_of(jar.refresh())["sid"]);
}

#[tokio::test]
async fn bearer_transport_returns_tokens_in_the_body_and_sets_no_cookies() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let r = send(gw.req("POST", "/auth/login").json(&json!({
        "username": "alice", "password": PASSWORD, "token_transport": "bearer",
    })))
    .await;
    assert_eq!(r.status, 200);
    assert!(r.cookies().is_empty());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    let me = send(gw.req("GET", "/auth/me").bearer_auth(access)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["user"]["username"], "alice");
    let proxied = send(gw.req("GET", "/app").bearer_auth(access)).await;
    assert_eq!(proxied.status, 200);
    assert_eq!(proxied.echoed("x-auth-user"), vec!["alice"]);
    // The gateway's token does not travel on to the upstream.
    assert!(proxied.echoed("authorization").is_empty());
}

#[tokio::test]
async fn login_and_register_accept_form_posts_and_answer_with_redirects() {
    let gw = Gateway::start().await;
    let r = send(gw.req("POST", "/auth/register").form(&[
        ("username", "erin"),
        ("password", PASSWORD),
        ("rd", "/app"),
    ]))
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/app"),
        "signed in by the sign-up"
    );
    assert_eq!(gw.get("/app", &r.jar()).await.status, 200);
    let r = send(gw.req("POST", "/auth/login").form(&[
        ("username", "erin"),
        ("password", PASSWORD),
        ("rd", "/app?x=1"),
    ]))
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/app?x=1"));
    assert_eq!(r.cookies().len(), 2);
    assert_eq!(gw.get("/app", &r.jar()).await.status, 200);
}

#[tokio::test]
async fn me_describes_the_user_and_the_current_session() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let jar = gw.login_as("alice", PASSWORD, "agent-x/2").await.jar();
    let r = gw.get("/auth/me", &jar).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    assert_eq!(body["user"]["username"], "alice");
    assert!(body["user"]["created_at"].is_string());
    assert_eq!(body["session"]["ip"], "127.0.0.1");
    assert_eq!(body["session"]["user_agent"], "agent-x/2");
    assert_eq!(body["session"]["id"], claims_of(jar.access())["sid"]);
    let r = gw.get("/auth/me", &Jar::default()).await;
    assert_eq!((r.status, r.error().as_str()), (401, "unauthorized"));
}

#[tokio::test]
async fn logout_revokes_the_session_clears_cookies_and_is_idempotent() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    let r = gw.post("/auth/logout", &jar).await;
    assert_eq!(r.status, 204);
    let cleared = r.cookies();
    assert_eq!(cleared.len(), 2);
    assert!(cleared
        .iter()
        .all(|c| c.contains("=; ") && c.contains("Max-Age=0") && c.contains("Path=/")));
    assert_eq!(gw.get("/app", &jar).await.status, 401);
    let r = send(gw.req("POST", "/auth/refresh").with(&jar)).await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    assert_eq!(gw.post("/auth/logout", &jar).await.status, 204);
    assert_eq!(gw.post("/auth/logout", &Jar::default()).await.status, 204);
    let revoked: i64 = gw
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn logout_with_only_the_refresh_cookie_still_ends_the_session() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    assert_eq!(
        gw.post("/auth/logout", &jar.only("refresh_token"))
            .await
            .status,
        204
    );
    assert_eq!(gw.get("/app", &jar).await.status, 401);
}
