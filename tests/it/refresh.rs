//! Refresh rotation, the grace window, reuse detection and concurrency.

use serde_json::json;

use crate::harness::*;

async fn refresh(gw: &Gateway, refresh_token: &str) -> Resp {
    send(
        gw.req("POST", "/auth/refresh")
            .header("cookie", format!("__Host-refresh_token={refresh_token}")),
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_to_a_new_pair_for_the_same_session() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = refresh(&gw, jar.refresh()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new = r.jar();
    assert_ne!(new.access(), jar.access());
    let (old_c, new_c) = (claims_of(jar.refresh()), claims_of(new.refresh()));
    assert_eq!(old_c["sid"], new_c["sid"]);
    assert_eq!(
        (old_c["gen"].as_i64(), new_c["gen"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(r.json()["session"]["id"], old_c["sid"]);
    assert_eq!(gw.get("/app", &new).await.status, 200);
    let again = refresh(&gw, new.refresh()).await;
    assert_eq!(claims_of(again.jar().refresh())["gen"], 2);
}

#[tokio::test]
async fn the_previous_token_inside_the_grace_window_gets_the_current_pair() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let first = refresh(&gw, jar.refresh()).await;
    assert_eq!(first.status, 200);
    // A second tab still holding the old cookie.
    let second = refresh(&gw, jar.refresh()).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        claims_of(second.jar().refresh())["gen"],
        1,
        "no second rotation"
    );
    assert_eq!(gw.get("/app", &second.jar()).await.status, 200);
    assert_eq!(refresh(&gw, first.jar().refresh()).await.status, 200);
}

#[tokio::test]
async fn refresh_token_reused_after_grace_revokes_the_session() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REFRESH_REUSE_GRACE", "1s")]).await;
    let jar = gw.signup("alice").await;
    let fresh = refresh(&gw, jar.refresh()).await.jar();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = refresh(&gw, jar.refresh()).await;
    assert_eq!((r.status, r.error().as_str()), (401, "token_reused"));
    assert!(r.cookies().iter().all(|c| c.contains("Max-Age=0")));
    // Every token of the session is now useless, the legitimate new pair included.
    assert_eq!(gw.get("/app", &fresh).await.status, 401);
    assert_eq!(refresh(&gw, fresh.refresh()).await.status, 401);
}

#[tokio::test]
async fn an_older_generation_is_reuse_even_inside_the_grace_window() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let g1 = refresh(&gw, jar.refresh()).await.jar();
    let g2 = refresh(&gw, g1.refresh()).await.jar();
    let r = refresh(&gw, jar.refresh()).await;
    assert_eq!(r.error(), "token_reused");
    assert_eq!(gw.get("/app", &g2).await.status, 401);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_leave_exactly_one_chain() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let token = jar.refresh().to_string();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let http = gw.http.clone();
            let url = gw.url("/auth/refresh");
            let token = token.clone();
            tokio::spawn(async move {
                send(
                    http.post(url)
                        .header("cookie", format!("__Host-refresh_token={token}")),
                )
                .await
            })
        })
        .collect();
    let mut gens = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        gens.insert(claims_of(r.jar().refresh())["gen"].as_i64().unwrap());
    }
    assert_eq!(gens.into_iter().collect::<Vec<_>>(), vec![1]);
    let db_gen: i64 = gw.refresh_gen().await;
    assert_eq!(db_gen, 1);
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token_and_the_reverse() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let r = refresh(&gw, jar.access()).await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    let r = send(
        gw.req("GET", "/app")
            .header("cookie", format!("__Host-access_token={}", jar.refresh())),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(gw.req("GET", "/app").bearer_auth(jar.refresh())).await;
    assert_eq!(r.status, 401);
}

/// alice, registered and signed in with bearer transport: the login body, tokens in it.
async fn bearer_login(gw: &Gateway) -> serde_json::Value {
    gw.register("alice", PASSWORD).await;
    send(gw.req("POST", "/auth/login").json(&json!({
        "username": "alice", "password": PASSWORD, "token_transport": "bearer",
    })))
    .await
    .json()
}

#[tokio::test]
async fn bearer_clients_refresh_with_the_token_in_the_body() {
    let gw = Gateway::start().await;
    let login = bearer_login(&gw).await;
    let r = send(gw.req("POST", "/auth/refresh").json(&json!({
        "refresh_token": login["refresh_token"], "token_transport": "bearer",
    })))
    .await;
    assert_eq!(r.status, 200);
    assert!(r.cookies().is_empty());
    let body = r.json();
    assert_eq!(body["session"]["id"], login["session"]["id"]);
    assert_eq!(claims_of(body["refresh_token"].as_str().unwrap())["gen"], 1);
}

#[tokio::test]
async fn refresh_without_a_token_is_invalid_token() {
    let gw = Gateway::start().await;
    let r = send(gw.req("POST", "/auth/refresh")).await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    let r = refresh(&gw, "garbage").await;
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
}

#[tokio::test]
async fn a_refresh_when_the_database_is_down_is_503_and_consumes_nothing() {
    let gw = Gateway::start_with_relay().await;
    let jar = gw.signup("alice").await;
    gw.relay().cut();
    let r = refresh(&gw, jar.refresh()).await;
    assert_eq!((r.status, r.error().as_str()), (503, "unavailable"));
    assert!(r.cookies().is_empty(), "cookies must survive an outage");
    gw.relay().restore();
    let status = eventually(200, || async { refresh(&gw, jar.refresh()).await.status }).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_refresh_token_sent_in_the_body_is_answered_in_the_body() {
    let gw = Gateway::start().await;
    let login = bearer_login(&gw).await;
    let r = send(
        gw.req("POST", "/auth/refresh")
            .json(&json!({ "refresh_token": login["refresh_token"] })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.cookies().is_empty(), "{:?}", r.cookies());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(claims_of(body["refresh_token"].as_str().unwrap())["gen"], 1);
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["sid"],
        login["session"]["id"]
    );
    // Asking for cookies outright still gets cookies.
    let r = send(gw.req("POST", "/auth/refresh").json(&json!({
        "refresh_token": body["refresh_token"], "token_transport": "cookie",
    })))
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.cookies().len(), 2);
    assert!(r.json().get("refresh_token").is_none());
}
