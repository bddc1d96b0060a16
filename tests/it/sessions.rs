//! Listing, revoking one, aborting all, and changing the password.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn sessions_are_listed_newest_first_with_ip_agent_and_current() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let first = gw.login_as("alice", PASSWORD, "first-device").await.jar();
    let second = gw.login_as("alice", PASSWORD, "second-device").await.jar();
    let bob = gw.signup("bob").await;
    let r = gw.get("/auth/sessions", &first).await;
    assert_eq!(r.status, 200);
    let list = r.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "bob's session is not listed");
    assert_eq!(list[0]["user_agent"], "second-device");
    assert_eq!(list[1]["user_agent"], "first-device");
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);
    for s in &list {
        assert_eq!(s["ip"], "127.0.0.1");
        for k in ["id", "created_at", "last_seen_at", "expires_at"] {
            assert!(s[k].is_string(), "{k}");
        }
    }
    assert_eq!(list[0]["id"], claims_of(second.access())["sid"]);
    assert_eq!(
        gw.get("/auth/sessions", &bob).await.json()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(gw.get("/auth/sessions", &Jar::default()).await.status, 401);
}

#[tokio::test]
async fn revoking_one_session_kills_its_access_and_refresh_tokens() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let keep = gw.login("alice", PASSWORD).await.jar();
    let other = gw.login("alice", PASSWORD).await.jar();
    // Used once so this instance holds it in memory.
    assert_eq!(gw.get("/app", &other).await.status, 200);
    let sid = claims_of(other.access())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        gw.req("DELETE", &format!("/auth/sessions/{sid}"))
            .with(&keep),
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(r.cookies().is_empty(), "the current session's cookies stay");
    assert_eq!(gw.get("/app", &other).await.status, 401);
    let r = send(gw.req("POST", "/auth/refresh").with(&other)).await;
    assert_eq!(r.status, 401);
    assert_eq!(gw.get("/app", &keep).await.status, 200);
    let r = send(
        gw.req("DELETE", &format!("/auth/sessions/{sid}"))
            .with(&keep),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (404, "not_found"));
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked_and_looks_absent() {
    let gw = Gateway::start().await;
    let alice = gw.signup("alice").await;
    let bob = gw.signup("bob").await;
    let bob_sid = claims_of(bob.access())["sid"].as_str().unwrap().to_string();
    let r = send(
        gw.req("DELETE", &format!("/auth/sessions/{bob_sid}"))
            .with(&alice),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (404, "not_found"));
    let unknown = uuid::Uuid::new_v4();
    let r = send(
        gw.req("DELETE", &format!("/auth/sessions/{unknown}"))
            .with(&alice),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(gw.get("/app", &bob).await.status, 200);
}

#[tokio::test]
async fn abort_revokes_every_session_and_clears_cookies() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let a = gw.login("alice", PASSWORD).await.jar();
    let b = gw.login("alice", PASSWORD).await.jar();
    let bob = gw.signup("bob").await;
    let r = gw.post("/auth/sessions/abort", &a).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["revoked"], 2);
    assert!(r.cookies().iter().all(|c| c.contains("Max-Age=0")) && r.cookies().len() == 2);
    for jar in [&a, &b] {
        assert_eq!(gw.get("/app", jar).await.status, 401);
        assert_eq!(
            send(gw.req("POST", "/auth/refresh").with(jar)).await.status,
            401
        );
    }
    assert_eq!(gw.get("/app", &bob).await.status, 200);
}

#[tokio::test]
async fn abort_keeping_the_current_session_revokes_only_the_others() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let a = gw.login("alice", PASSWORD).await.jar();
    let b = gw.login("alice", PASSWORD).await.jar();
    let c = gw.login("alice", PASSWORD).await.jar();
    let r = send(
        gw.req("POST", "/auth/sessions/abort")
            .with(&a)
            .json(&json!({"keep_current": true})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["revoked"], 2);
    assert!(r.cookies().is_empty());
    assert_eq!(gw.get("/app", &a).await.status, 200);
    assert_eq!(gw.get("/app", &b).await.status, 401);
    assert_eq!(gw.get("/app", &c).await.status, 401);
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    let a = gw.login("alice", PASSWORD).await.jar();
    let b = gw.login("alice", PASSWORD).await.jar();
    let r = send(gw.req("POST", "/auth/password").with(&a).json(&json!({
        "current_password": "wrong password", "new_password": "a new password",
    })))
    .await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_credentials"));
    let r = send(gw.req("POST", "/auth/password").with(&a).json(&json!({
        "current_password": PASSWORD, "new_password": "short",
    })))
    .await;
    assert_eq!(r.status, 422);
    let r = send(gw.req("POST", "/auth/password").with(&a).json(&json!({
        "current_password": PASSWORD, "new_password": "a new password",
    })))
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(gw.get("/app", &a).await.status, 200);
    assert_eq!(gw.get("/app", &b).await.status, 401);
    assert_eq!(gw.login("alice", PASSWORD).await.status, 401);
    assert_eq!(gw.login("alice", "a new password").await.status, 200);
}

#[tokio::test]
async fn a_disabled_users_sessions_stop_working() {
    let gw = Gateway::start_env(&[("GATEHOUSE_CACHE_TTL", "1s")]).await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    gw.db()
        .await
        .execute("UPDATE users SET disabled_at = now()", &[])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(gw.get("/app", &jar).await.status, 401);
    assert_eq!(
        send(gw.req("POST", "/auth/refresh").with(&jar))
            .await
            .status,
        401
    );
}
