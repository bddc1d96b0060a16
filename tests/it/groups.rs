//! Groups (docs/contract.md §9): the `group` commands, and `X-Auth-Groups` following a change
//! of membership on every instance without anyone signing in again.

use std::time::{Duration, Instant};

use crate::harness::*;
use crate::instances::{pair, wait_listening};

/// Runs `gatehouse ARGS` and expects it to succeed; returns its standard output.
async fn ok(gw: &Gateway, args: &[&str]) -> String {
    let (code, out, err) = gw.cli_async(args, "").await;
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

/// Runs `gatehouse ARGS` and expects exit 1 with one line on standard error and nothing on
/// standard output; returns that line.
async fn fails(gw: &Gateway, args: &[&str]) -> String {
    let (code, out, err) = gw.cli_async(args, "").await;
    assert_eq!(code, 1, "{args:?}: {out}{err}");
    assert_eq!(out, "", "{args:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    err
}

/// What the echo upstream hears as `X-Auth-Groups` for `jar` (every value, in order).
async fn groups_at(gw: &Gateway, jar: &Jar) -> Vec<String> {
    let r = gw.get("/app", jar).await;
    assert_eq!(r.status, 200, "the session stays valid");
    r.echoed("x-auth-groups")
}

/// Polls until the upstream behind `gw` hears `want` for `jar`; returns how long that took.
async fn hears_within(gw: &Gateway, jar: &Jar, want: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let heard = groups_at(gw, jar).await;
        if heard == [want] {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "still {heard:?} after {limit:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn groups_are_created_filled_listed_emptied_and_deleted_from_the_cli() {
    let gw = Gateway::start().await;
    gw.register("alice", PASSWORD).await;
    gw.register("bob", PASSWORD).await;
    assert!(ok(&gw, &["group", "create", "ops"])
        .await
        .contains("created group ops"));
    ok(&gw, &["group", "create", "admins.eu-1_x"]).await;
    assert!(fails(&gw, &["group", "create", "ops"])
        .await
        .contains("already exists"));
    for bad in ["", "Ops", "a b", "a,b", "ops/x", "é", &"a".repeat(65)] {
        let err = fails(&gw, &["group", "create", bad]).await;
        assert!(err.contains("invalid group name"), "{bad}: {err}");
    }
    ok(&gw, &["group", "create", &"a".repeat(64)]).await;

    let out = ok(&gw, &["group", "add", "ops", "alice", "bob"]).await;
    assert!(out.contains("added 2 user(s) to ops"), "{out}");
    let out = ok(&gw, &["group", "add", "ops", "alice"]).await;
    assert!(out.contains("added 0"), "already a member: {out}");
    ok(&gw, &["group", "add", "admins.eu-1_x", "alice"]).await;
    assert!(fails(&gw, &["group", "add", "nope", "alice"])
        .await
        .contains("no such group: nope"));
    let err = fails(&gw, &["group", "add", "ops", "alice", "mallory"]).await;
    assert!(err.contains("no such user: mallory"), "{err}");
    assert!(fails(&gw, &["group", "add", "Ops", "alice"])
        .await
        .contains("invalid group name"));
    let (code, _, _) = gw.cli_async(&["group", "add", "ops"], "").await;
    assert_eq!(code, 2, "at least one user is required");

    let out = ok(&gw, &["group", "list"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("MEMBERS"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("admins.eu-1_x ") && lines[2].contains(" 1 "),
        "{out}"
    );
    assert!(
        lines[3].starts_with("ops ") && lines[3].contains(" 2 "),
        "{out}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&ok(&gw, &["group", "list", "--json"]).await).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[2]["name"], "ops");
    assert_eq!(list[2]["members"], 2);
    assert!(list[2]["created_at"].is_string());

    let users: serde_json::Value =
        serde_json::from_str(&ok(&gw, &["user", "list", "--json"]).await).unwrap();
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(
        users[0]["groups"],
        serde_json::json!(["admins.eu-1_x", "ops"])
    );
    assert_eq!(users[1]["groups"], serde_json::json!(["ops"]));
    let out = ok(&gw, &["user", "list"]).await;
    assert!(out.lines().next().unwrap().contains(" GROUPS "), "{out}");
    assert!(out.contains("admins.eu-1_x,ops"), "{out}");

    let out = ok(&gw, &["group", "remove", "ops", "bob"]).await;
    assert!(out.contains("removed 1 user(s) from ops"), "{out}");
    assert!(fails(&gw, &["group", "remove", "nope", "bob"])
        .await
        .contains("no such group"));
    let out = ok(&gw, &["group", "delete", "ops"]).await;
    assert!(out.contains("deleted group ops (1 member(s))"), "{out}");
    assert!(fails(&gw, &["group", "delete", "ops"])
        .await
        .contains("no such group: ops"));
    let users: serde_json::Value =
        serde_json::from_str(&ok(&gw, &["user", "list", "--json"]).await).unwrap();
    assert_eq!(users[0]["groups"], serde_json::json!(["admins.eu-1_x"]));
    assert_eq!(users[1]["groups"], serde_json::json!([]));
}

#[tokio::test]
async fn a_membership_change_reaches_every_instance_and_signs_nobody_out() {
    let (a, b) = pair().await;
    a.register("alice", PASSWORD).await;
    let jar = a.login("alice", PASSWORD).await.jar();
    for gw in [&a, &b] {
        assert_eq!(groups_at(gw, &jar).await, [""], "no groups: an empty value");
        assert_eq!(groups_at(gw, &jar).await, [""], "now from the cache");
    }
    ok(&a, &["group", "create", "ops"]).await;
    ok(&a, &["group", "create", "admins"]).await;

    ok(&a, &["group", "add", "ops", "alice"]).await;
    ok(&a, &["group", "add", "admins", "alice"]).await;
    for gw in [&b, &a] {
        let took = hears_within(gw, &jar, "admins,ops", Duration::from_secs(1)).await;
        eprintln!("membership latency: {took:?}");
    }
    let me = a.get("/auth/me", &jar).await;
    assert_eq!(
        me.json()["user"]["groups"],
        serde_json::json!(["admins", "ops"])
    );

    ok(&a, &["group", "remove", "admins", "alice"]).await;
    for gw in [&b, &a] {
        hears_within(gw, &jar, "ops", Duration::from_secs(1)).await;
    }
    ok(&a, &["group", "delete", "ops"]).await;
    for gw in [&b, &a] {
        hears_within(gw, &jar, "", Duration::from_secs(1)).await;
    }
    let me = b.get("/auth/me", &jar).await;
    assert_eq!(me.status, 200, "the same session, never revoked");
    assert_eq!(me.json()["user"]["groups"], serde_json::json!([]));
    let r = send(a.req("POST", "/auth/refresh").with(&jar)).await;
    assert_eq!(r.status, 200, "its refresh token still works");
}

#[tokio::test]
async fn clients_cannot_send_their_own_groups() {
    let gw = Gateway::start_env(&[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    wait_listening(&gw).await;
    let jar = gw.signup("alice").await;
    ok(&gw, &["group", "create", "users"]).await;
    ok(&gw, &["group", "add", "users", "alice"]).await;
    hears_within(&gw, &jar, "users", Duration::from_secs(1)).await;
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("X_Auth.Groups", "root")
            .header("x-auth-groups", "root")
            .header("X-AUTH-GROUPS", "admins"),
    )
    .await;
    assert_eq!(r.echoed("x-auth-groups"), ["users"]);
    assert!(!r.echoed_names().contains(&"x_auth.groups".to_string()));
    let r = send(gw.req("GET", "/app").header("X_Auth.Groups", "root")).await;
    assert_eq!(r.status, 401);
    let r = send(gw.req("GET", "/public/x").header("X_Auth.Groups", "root")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.echoed_names().iter().all(|n| !n.contains("groups")),
        "a public path carries no groups at all"
    );
}

#[tokio::test]
async fn the_account_page_names_the_groups() {
    let gw = Gateway::start().await;
    wait_listening(&gw).await;
    let jar = gw.signup("alice").await;
    ok(&gw, &["group", "create", "ops"]).await;
    ok(&gw, &["group", "add", "ops", "alice"]).await;
    let r = send(
        gw.req("GET", "/auth/account")
            .with(&jar)
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("Groups: <strong>ops</strong>."),
        "{}",
        r.text()
    );
}
