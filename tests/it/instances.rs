//! Several instances on one database: a revocation on one is refused by the others within
//! milliseconds, even with a long cache TTL, and even after the listener connection was cut.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Two gateways on one database, both caching sessions for 60 s.
pub(crate) async fn pair() -> (Gateway, Gateway) {
    let a = Gateway::start_env(&[("GATEHOUSE_CACHE_TTL", "60s")]).await;
    let b = Gateway::start_with(
        Options {
            database: Some(a.db_name.clone()),
            ..Default::default()
        }
        .env("GATEHOUSE_CACHE_TTL", "60s"),
    )
    .await;
    wait_listening(&a).await;
    wait_listening(&b).await;
    (a, b)
}

/// Waits until the gateway's revocation listener has connected.
pub(crate) async fn wait_listening(gw: &Gateway) {
    for _ in 0..200 {
        if gw.log_text().contains("listening for session revocations") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("listener never connected:\n{}", gw.log_text());
}

/// Polls `gw` with `jar` until it is refused; returns how long that took.
async fn refused_within(gw: &Gateway, jar: &Jar, limit: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if gw.get("/app", jar).await.status == 401 {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("still accepted after {limit:?}");
}

/// Logs in on A, warms the session on B's cache, runs `revoke` on A, and reports how long B
/// kept accepting the session.
async fn revocation_reaches_b<F, Fut>(event: &str, revoke: F)
where
    F: FnOnce(Gateway, Jar, Jar) -> Fut,
    Fut: std::future::Future<Output = Gateway>,
{
    let (a, b) = pair().await;
    a.register("alice", PASSWORD).await;
    let victim = a.login("alice", PASSWORD).await.jar();
    let other = a.login("alice", PASSWORD).await.jar();
    assert_eq!(b.get("/app", &victim).await.status, 200);
    assert_eq!(
        b.get("/app", &victim).await.status,
        200,
        "served from B's cache"
    );
    let _a = revoke(a, victim.clone(), other).await;
    let took = refused_within(&b, &victim, Duration::from_secs(1)).await;
    eprintln!("revocation latency on the other instance ({event}): {took:?}");
}

#[tokio::test]
async fn logout_on_one_instance_is_refused_by_another_at_once() {
    revocation_reaches_b("logout", |a, victim, _| async move {
        assert_eq!(a.post("/auth/logout", &victim).await.status, 204);
        a
    })
    .await;
}

#[tokio::test]
async fn revoking_one_session_reaches_every_instance() {
    revocation_reaches_b("revoke", |a, victim, other| async move {
        let sid = claims_of(victim.access())["sid"]
            .as_str()
            .unwrap()
            .to_string();
        let r = send(
            a.req("DELETE", &format!("/auth/sessions/{sid}"))
                .with(&other),
        )
        .await;
        assert_eq!(r.status, 204);
        a
    })
    .await;
}

#[tokio::test]
async fn abort_reaches_every_instance() {
    revocation_reaches_b("abort", |a, _victim, other| async move {
        let r = send(
            a.req("POST", "/auth/sessions/abort")
                .with(&other)
                .json(&json!({"keep_current": true})),
        )
        .await;
        assert_eq!(r.status, 200);
        a
    })
    .await;
}

#[tokio::test]
async fn refresh_token_reuse_reaches_every_instance() {
    revocation_reaches_b("refresh reuse", |a, victim, _| async move {
        let refresh = |jar: &Jar| {
            send(
                a.req("POST", "/auth/refresh")
                    .header("cookie", format!("__Host-refresh_token={}", jar.refresh())),
            )
        };
        let g1 = refresh(&victim).await.jar();
        refresh(&g1).await;
        assert_eq!(refresh(&victim).await.error(), "token_reused");
        a
    })
    .await;
}

#[tokio::test]
async fn a_password_change_reaches_every_instance() {
    revocation_reaches_b("password change", |a, _victim, other| async move {
        let r = send(a.req("POST", "/auth/password").with(&other).json(&json!({
            "current_password": PASSWORD, "new_password": "another password",
        })))
        .await;
        assert_eq!(r.status, 204);
        a
    })
    .await;
}

#[tokio::test]
async fn disabling_the_user_from_the_cli_reaches_every_instance() {
    revocation_reaches_b("user disable (CLI)", |a, _victim, _| async move {
        let (code, out, err) = a.cli(&["user", "disable", "alice"], "");
        assert_eq!(code, 0, "{out}{err}");
        a
    })
    .await;
}

#[tokio::test]
async fn a_cut_listener_connection_does_not_let_a_revocation_slip_past() {
    let (a, b) = pair().await;
    a.register("alice", PASSWORD).await;
    let victim = a.login("alice", PASSWORD).await.jar();
    assert_eq!(b.get("/app", &victim).await.status, 200);
    // Kill B's LISTEN connection from the server side.
    let db = a.db().await;
    let killed: i64 = db
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1",
            &[&format!("gatehouse-listener-{}", b.pid())],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    assert_eq!(a.post("/auth/logout", &victim).await.status, 204);
    let took = refused_within(&b, &victim, Duration::from_secs(3)).await;
    eprintln!("revocation latency with B's listener cut: {took:?}");
    // And B is back to push invalidation afterwards.
    let again = a.login("alice", PASSWORD).await.jar();
    assert_eq!(b.get("/app", &again).await.status, 200);
    for _ in 0..300 {
        if b.metric("gatehouse_listener_reconnects_total").await >= 1.0
            && b.log_text()
                .matches("listening for session revocations")
                .count()
                >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.get("/app", &again).await.status, 200);
    assert_eq!(a.post("/auth/logout", &again).await.status, 204);
    refused_within(&b, &again, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_thousand_authenticated_requests_need_almost_no_database_work() {
    let gw = Gateway::start_env(&[("GATEHOUSE_CACHE_TTL", "60s")]).await;
    let jar = gw.signup("alice").await;
    assert_eq!(gw.get("/app", &jar).await.status, 200);
    let before = gw.metric("gatehouse_db_queries_total").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let http = gw.http.clone();
            let url = gw.url("/app");
            let cookie = jar.header();
            tokio::spawn(async move {
                for _ in 0..100 {
                    let r = send(http.get(&url).header("cookie", &cookie)).await;
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let queries = gw.metric("gatehouse_db_queries_total").await - before;
    eprintln!("database queries for 1,000 authenticated requests: {queries}");
    assert!(queries < 20.0, "{queries} queries");
}
