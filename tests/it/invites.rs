//! Registration modes and invites (docs/contract.md §9): `closed` (the default), `invite` and
//! `open`; `gatehouse invite create|list|revoke`; an invite admitting in every mode, into its
//! groups, exactly as many times as it allows, even when sign-ups race for its last use.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

/// Runs `gatehouse ARGS` and expects it to succeed; returns its standard output.
async fn ok(gw: &Gateway, args: &[&str]) -> String {
    let (code, out, err) = gw.cli_async(args, "").await;
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

/// Runs `gatehouse ARGS` and expects exit `status` with one line on standard error and nothing
/// on standard output; returns that line.
async fn fails(gw: &Gateway, status: i32, args: &[&str]) -> String {
    let (code, out, err) = gw.cli_async(args, "").await;
    assert_eq!(code, status, "{args:?}: {out}{err}");
    assert_eq!(out, "", "{args:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    err
}

/// `invite create ARGS`: the token, read from the sign-up URL on the last line.
async fn invite(gw: &Gateway, args: &[&str]) -> String {
    let mut all = vec!["invite", "create"];
    all.extend_from_slice(args);
    let out = ok(gw, &all).await;
    let url = out.lines().last().unwrap();
    let prefix = format!("{}/auth/register?invite=", gw.base);
    let token = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the last line is the sign-up URL: {out}"));
    assert_eq!(token.len(), 43, "{url}");
    token.to_string()
}

async fn invites(gw: &Gateway) -> Vec<Value> {
    let out = ok(gw, &["invite", "list", "--json"]).await;
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn register_with(gw: &Gateway, username: &str, invite: &str) -> Resp {
    send(gw.req("POST", "/auth/register").json(&json!({
        "username": username, "password": PASSWORD, "invite": invite,
    })))
    .await
}

/// `user.groups` of `/auth/me` after signing `username` in.
async fn groups_of(gw: &Gateway, username: &str) -> Value {
    let jar = gw.login(username, PASSWORD).await.jar();
    let me = gw.get("/auth/me", &jar).await;
    assert_eq!(me.status, 200, "{}", me.text());
    me.json()["user"]["groups"].clone()
}

async fn count(gw: &Gateway, sql: &str) -> i64 {
    gw.db().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn page(gw: &Gateway, path: &str) -> Resp {
    send(gw.req("GET", path).header("accept", HTML)).await
}

#[tokio::test]
async fn registration_is_closed_by_default_and_an_invite_still_admits_into_its_groups() {
    let gw = Gateway::start_with(Options::default().unset("GATEHOUSE_REGISTRATION")).await;
    assert!(ok(&gw, &["config", "check"])
        .await
        .contains("GATEHOUSE_REGISTRATION=closed\n"));
    let r = gw.register("alice", PASSWORD).await;
    assert_eq!((r.status, r.error().as_str()), (403, "registration_closed"));
    let sign_in = page(&gw, "/auth/login").await.text();
    assert!(
        !sign_in.contains("/auth/register") && !sign_in.contains("No account"),
        "closed: no word about signing up\n{sign_in}"
    );
    let r = page(&gw, "/auth/register").await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Registration is closed"), "{}", r.text());
    assert!(!r.text().contains("action=\"/auth/register\""));

    ok(&gw, &["group", "create", "staff"]).await;
    ok(&gw, &["group", "create", "ops"]).await;
    let err = fails(&gw, 2, &["invite", "create", "--groups", "ops,nope,staff"]).await;
    assert!(err.contains("no such group: nope"), "{err}");
    assert!(
        invites(&gw).await.is_empty(),
        "a refused invite is not made"
    );

    let token = invite(&gw, &["--groups", "staff,ops,staff"]).await;
    let r = register_with(&gw, "alice", &token).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(groups_of(&gw, "alice").await, json!(["ops", "staff"]));
    let r = register_with(&gw, "bob", &token).await;
    assert_eq!((r.status, r.error().as_str()), (403, "invalid_invite"));

    let (_, out, _) = gw.cli_async(&["invite", "list", "--json"], "").await;
    assert!(!out.contains(&token), "the token is never shown again");
    let list = invites(&gw).await;
    assert_eq!(list.len(), 1);
    let i = &list[0];
    assert_eq!(
        (&i["state"], &i["uses_left"], &i["max_uses"], &i["groups"]),
        (
            &json!("used"),
            &json!(0),
            &json!(1),
            &json!(["ops", "staff"])
        )
    );
    for key in ["id", "expires_at", "created_at"] {
        assert!(i[key].is_string(), "{key}: {i}");
    }
    assert!(i["revoked_at"].is_null());

    let alice: String = gw
        .db()
        .await
        .query_one("SELECT id::text FROM users WHERE username = 'alice'", &[])
        .await
        .unwrap()
        .get(0);
    let events = gw
        .db()
        .await
        .query(
            "SELECT kind, coalesce(user_id::text, ''), coalesce(detail, '') FROM auth_events
             WHERE kind LIKE 'invite_%' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let events: Vec<(String, String, String)> = events
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let id = i["id"].as_str().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "invite_created");
    assert!(events[0].2.contains(id), "{events:?}");
    assert_eq!(events[1].0, "invite_used");
    assert_eq!(events[1].1, alice, "the use names the new user");
    assert!(events[1].2.contains(id), "{events:?}");
    assert!(events.iter().all(|e| !e.2.contains(&token)));
}

#[tokio::test]
async fn in_invite_mode_sign_up_needs_an_invite_and_a_taken_name_spends_no_use() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REGISTRATION", "invite")]).await;
    let sign_in = page(&gw, "/auth/login").await.text();
    assert!(sign_in.contains("by invitation"), "{sign_in}");
    assert!(!sign_in.contains("/auth/register"), "{sign_in}");
    let r = gw.register("alice", PASSWORD).await;
    assert_eq!((r.status, r.error().as_str()), (403, "registration_closed"));
    assert!(r.json()["message"].as_str().unwrap().contains("invite"));
    let r = register_with(&gw, "alice", "").await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "registration_closed"),
        "an empty invite is no invite"
    );
    assert_eq!(page(&gw, "/auth/register").await.status, 403);

    let (code, out, err) = gw
        .cli_async(&["user", "add", "carol", "--password-stdin"], PASSWORD)
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let once = invite(&gw, &[]).await;
    let r = register_with(&gw, "Carol", &once).await;
    assert_eq!((r.status, r.error().as_str()), (409, "username_taken"));
    let r = register_with(&gw, "ab", &once).await;
    assert_eq!(
        r.status, 422,
        "a bad name is refused before anything is spent"
    );
    let r = register_with(&gw, "dave", &once).await;
    assert_eq!(r.status, 201, "the use was not spent: {}", r.text());
    assert_eq!(register_with(&gw, "erin", &once).await.status, 403);

    let thrice = invite(&gw, &["--uses", "3", "--expires", "12h"]).await;
    for name in ["frank", "grace", "heidi"] {
        assert_eq!(
            register_with(&gw, name, &thrice).await.status,
            201,
            "{name}"
        );
    }
    let r = register_with(&gw, "ivan", &thrice).await;
    assert_eq!((r.status, r.error().as_str()), (403, "invalid_invite"));
    let out = ok(&gw, &["invite", "list"]).await;
    let header = out.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("STATE") && header.contains("USES LEFT"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" used ") && l.contains(" 0/3 ")),
        "{out}"
    );

    let unknown = "A".repeat(43);
    for bad in [unknown.as_str(), "x", "../../etc", &"a".repeat(500)] {
        let r = register_with(&gw, "judy", bad).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (403, "invalid_invite"),
            "{bad}"
        );
    }
    let r = send(gw.req("POST", "/auth/register").json(&json!({
        "username": "judy", "password": PASSWORD, "invite": 7,
    })))
    .await;
    assert_eq!((r.status, r.error().as_str()), (422, "invalid_request"));
    assert_eq!(count(&gw, "SELECT count(*) FROM users").await, 5);
}

#[tokio::test]
async fn expired_and_revoked_invites_are_refused_and_listed_as_such() {
    let gw = Gateway::start().await;
    let expired = invite(&gw, &["--expires", "1h"]).await;
    gw.db()
        .await
        .execute(
            "UPDATE invites SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let r = register_with(&gw, "alice", &expired).await;
    assert_eq!((r.status, r.error().as_str()), (403, "invalid_invite"));
    let r = page(&gw, &format!("/auth/register?invite={expired}")).await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("This invite is not valid"),
        "{}",
        r.text()
    );

    let revoked = invite(&gw, &["--expires", "900"]).await;
    let id = invites(&gw).await[0]["id"].as_str().unwrap().to_string();
    assert!(ok(&gw, &["invite", "revoke", &id])
        .await
        .contains(&format!("revoked invite {id}")));
    let r = register_with(&gw, "alice", &revoked).await;
    assert_eq!((r.status, r.error().as_str()), (403, "invalid_invite"));
    let err = fails(&gw, 1, &["invite", "revoke", &id]).await;
    assert!(err.contains("already revoked"), "{err}");
    let nobody = uuid::Uuid::new_v4().to_string();
    let err = fails(&gw, 1, &["invite", "revoke", &nobody]).await;
    assert!(err.contains(&format!("no such invite: {nobody}")), "{err}");
    let err = fails(&gw, 1, &["invite", "revoke", "not-an-id"]).await;
    assert!(err.contains("no such invite"), "{err}");

    let list = invites(&gw).await;
    let states: Vec<&str> = list.iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["revoked", "expired"], "newest first");
    assert!(list[0]["revoked_at"].is_string());
    let out = ok(&gw, &["invite", "list"]).await;
    assert!(
        out.contains(" revoked ") && out.contains(" expired "),
        "{out}"
    );

    for (args, says) in [
        (vec!["--expires", "7x"], "not a duration"),
        (vec!["--expires", "0"], "longer than zero"),
        (vec!["--uses", "0"], "--uses"),
        (vec!["--uses", "10001"], "--uses"),
        (vec!["--groups", "Admins"], "invalid group name"),
    ] {
        let mut all = vec!["invite", "create"];
        all.extend_from_slice(&args);
        let err = fails(&gw, 2, &all).await;
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, _) = gw
        .cli_async(&["invite", "create", "--uses", "many"], "")
        .await;
    assert_eq!(code, 2);
    assert_eq!(invites(&gw).await.len(), 2, "no refused invite was made");

    let out = ok(&gw, &["invite", "create", "--json", "--uses", "2"]).await;
    let made: Value = serde_json::from_str(&out).unwrap();
    let url = made["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/auth/register?invite=", gw.base)),
        "{out}"
    );
    assert_eq!(
        (&made["max_uses"], &made["groups"]),
        (&json!(2), &json!([]))
    );
    let token = url.rsplit_once('=').unwrap().1;
    assert_eq!(register_with(&gw, "alice", token).await.status, 201);
}

#[tokio::test]
async fn sign_ups_racing_for_the_last_use_of_an_invite_make_exactly_one_user() {
    const RACERS: usize = 10;
    let gw = Gateway::start().await;
    let token = invite(&gw, &[]).await;
    // Hold the invite's row so that every sign-up reaches the consuming UPDATE and waits there;
    // letting go releases them all at once.
    let mut holder = gw.db().await;
    let tx = holder.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM invites FOR UPDATE", &[])
        .await
        .unwrap();
    let watcher = gw.db().await;
    let db_name = gw.db_name.clone();
    let release = async move {
        // Generous: sign-ups hash on idle-class threads, which a busy machine (the suite's
        // other tests, a build) starves; the loop ends as soon as all of them wait.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut waiting = 0;
        while Instant::now() < deadline {
            waiting = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = $1 AND wait_event_type = 'Lock'",
                    &[&db_name],
                )
                .await
                .unwrap()
                .get::<_, i64>(0);
            if waiting >= RACERS as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tx.rollback().await.unwrap();
        waiting
    };
    let names: Vec<String> = (0..RACERS).map(|i| format!("racer{i}")).collect();
    let sign_ups =
        futures_util::future::join_all(names.iter().map(|n| register_with(&gw, n, &token)));
    let (answers, waiting) = tokio::join!(sign_ups, release);
    eprintln!("{waiting} sign-ups were waiting on the invite together");
    assert!(
        waiting >= 2,
        "the sign-ups raced ({waiting} waited together)"
    );
    let created = answers.iter().filter(|r| r.status == 201).count();
    let refused = answers
        .iter()
        .filter(|r| r.status == 403 && r.error() == "invalid_invite")
        .count();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!((created, refused), (1, RACERS - 1), "{statuses:?}");
    assert_eq!(count(&gw, "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(&gw, "SELECT uses_left::bigint FROM invites").await, 0);
}

#[tokio::test]
async fn open_sign_up_joins_the_registration_groups_and_an_invite_only_its_own() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REGISTRATION_GROUPS", "users, beta,users")]).await;
    assert_eq!(gw.register("alice", PASSWORD).await.status, 201);
    assert_eq!(
        groups_of(&gw, "alice").await,
        json!(["beta", "users"]),
        "made at the first sign-up"
    );
    assert_eq!(gw.register("bob", PASSWORD).await.status, 201);
    assert_eq!(groups_of(&gw, "bob").await, json!(["beta", "users"]));
    let out = ok(&gw, &["group", "list"]).await;
    assert!(
        out.lines()
            .any(|l| l.starts_with("users ") && l.contains(" 2 ")),
        "{out}"
    );

    ok(&gw, &["group", "create", "ops"]).await;
    let token = invite(&gw, &["--groups", "ops"]).await;
    assert_eq!(register_with(&gw, "carol", &token).await.status, 201);
    assert_eq!(groups_of(&gw, "carol").await, json!(["ops"]));

    // A group deleted after the invite was made: the deletion is the newer decision.
    let token = invite(&gw, &["--groups", "ops"]).await;
    ok(&gw, &["group", "delete", "ops"]).await;
    let r = register_with(&gw, "dave", &token).await;
    assert_eq!((r.status, r.error().as_str()), (403, "invalid_invite"));
    assert!(gw.log_text().contains("deleted since"), "{}", gw.log_text());
    let list = invites(&gw).await;
    assert_eq!(list[0]["uses_left"], 1, "nothing was spent");
    assert_eq!(
        count(&gw, "SELECT count(*) FROM groups WHERE name = 'ops'").await,
        0
    );
    assert_eq!(
        count(&gw, "SELECT count(*) FROM users WHERE username = 'dave'").await,
        0
    );
}

#[tokio::test]
async fn the_sign_up_page_carries_the_invite_through_the_form() {
    let gw = Gateway::start_env(&[("GATEHOUSE_REGISTRATION", "closed")]).await;
    let (code, _, err) = gw
        .cli_async(&["user", "add", "alice", "--password-stdin"], PASSWORD)
        .await;
    assert_eq!(code, 0, "{err}");
    let token = invite(&gw, &["--uses", "2"]).await;
    let path = format!("/auth/register?invite={token}&rd=%2Fapp");
    let r = page(&gw, &path).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let html = r.text();
    assert!(html.contains("action=\"/auth/register\""), "{html}");
    assert!(
        html.contains(&format!("name=\"invite\" value=\"{token}\"")),
        "{html}"
    );
    assert!(html.contains("name=\"rd\" value=\"/app\""), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let r = send(gw.req("HEAD", &path)).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = send(gw.req("PUT", "/auth/register")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));

    let r = page(&gw, "/auth/register?invite=not-a-token").await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("This invite is not valid"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("name=\"invite\""), "{}", r.text());

    let form = |username: &'static str| {
        send(gw.req("POST", "/auth/register").form(&[
            ("username", username),
            ("password", PASSWORD),
            ("invite", token.as_str()),
            ("rd", "/app"),
        ]))
    };
    let r = form("alice").await;
    assert_eq!(r.status, 409);
    let html = r.text();
    assert!(html.contains("already taken"), "{html}");
    assert!(
        html.contains(&format!("name=\"invite\" value=\"{token}\"")),
        "the form again, still carrying the invite: {html}"
    );
    let r = form("bob").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/app")));
    assert_eq!(
        gw.get("/app", &r.jar()).await.echoed("x-auth-user"),
        vec!["bob"],
        "signed in by the sign-up"
    );
    assert_eq!(form("carol").await.status, 303);
    let r = form("dave").await;
    assert_eq!(r.status, 403);
    let html = r.text();
    assert!(html.contains("This invite is not valid"), "{html}");
    assert!(
        html.contains("action=\"/auth/login\"") && !html.contains("name=\"invite\""),
        "a dead invite leads to sign-in, not to the same form: {html}"
    );
}

#[tokio::test]
async fn serving_the_demo_upstream_opens_registration_unless_told_otherwise() {
    let upstream = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let gw = Gateway::start_with(Options {
        upstream: Some(upstream),
        args: vec!["serve".into(), "--demo-upstream".into()],
        ..Options::default().unset("GATEHOUSE_REGISTRATION")
    })
    .await;
    let jar = gw.signup("alice").await;
    let r = gw.get("/hello", &jar).await;
    assert_eq!(r.status, 200, "the demo upstream answers");
    assert_eq!(r.echoed("x-auth-user"), ["alice"]);
    let log = gw.log_text();
    assert_eq!(
        log.matches("--demo-upstream: anyone may sign up").count(),
        1,
        "{log}"
    );
}
