//! The command line against the same database and revocation path as a running gateway.

use crate::harness::*;

#[tokio::test]
async fn users_are_added_listed_and_given_a_new_password_from_stdin() {
    let gw = Gateway::start().await;
    let (code, out, err) = gw.cli(
        &["user", "add", "carol", "--password-stdin"],
        "a long password\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created user carol"));
    assert_eq!(
        gw.login("carol", "a long password").await.status,
        200,
        "the newline is not part of it"
    );
    let (code, out, _) = gw.cli(
        &["user", "add", "carol", "--password-stdin"],
        "another password",
    );
    assert_ne!(code, 0);
    let _ = out;

    let (code, out, _) = gw.cli(&["user", "list"], "");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("USERNAME") && out.contains("carol") && out.contains("active"),
        "{out}"
    );
    let (_, out, _) = gw.cli(&["user", "list", "--json"], "");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["username"], "carol");
    assert_eq!(users[0]["disabled"], false);

    let jar = gw.login("carol", "a long password").await.jar();
    let (code, out, err) = gw.cli(
        &["user", "passwd", "carol", "--password-stdin"],
        "the new password",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        gw.get("/app", &jar).await.status,
        401,
        "sessions die with the old password"
    );
    assert_eq!(gw.login("carol", "a long password").await.status, 401);
    assert_eq!(gw.login("carol", "the new password").await.status, 200);
    let (code, _, err) = gw.cli(&["user", "passwd", "carol", "--password-stdin"], "short");
    assert_ne!(code, 0);
    assert!(err.contains("8 characters"), "{err}");
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_and_running_instances_notice() {
    let gw = Gateway::start_env(&[("GATEHOUSE_CACHE_TTL", "60s")]).await;
    gw.register("alice", PASSWORD).await;
    let a = gw.login_as("alice", PASSWORD, "cli-test-agent").await.jar();
    let b = gw.login("alice", PASSWORD).await.jar();
    let bob = gw.signup("bob").await;
    assert_eq!(gw.get("/app", &a).await.status, 200);

    let (_, out, _) = gw.cli(&["sessions", "list", "alice", "--json"], "");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["user_agent"] == "cli-test-agent"));
    let (_, out, _) = gw.cli(&["sessions", "list"], "");
    assert!(out.contains("alice") && out.contains("bob"), "{out}");

    let sid = claims_of(a.access())["sid"].as_str().unwrap().to_string();
    let (code, out, err) = gw.cli(&["sessions", "revoke", &sid], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        gw.get("/app", &a).await.status,
        401,
        "the running gateway refuses it at once"
    );
    let (code, _, err) = gw.cli(&["sessions", "revoke", &sid], "");
    assert_ne!(code, 0, "already revoked");
    assert!(err.contains("no active session"), "{err}");

    let (code, out, _) = gw.cli(&["sessions", "revoke", "--user", "alice"], "");
    assert_eq!(code, 0);
    assert!(out.contains("revoked 1 session"), "{out}");
    assert_eq!(gw.get("/app", &b).await.status, 401);
    assert_eq!(gw.get("/app", &bob).await.status, 200);
}

#[tokio::test]
async fn unknown_users_bad_ids_and_no_password_arguments_fail_clearly() {
    let gw = Gateway::start().await;
    for args in [
        vec!["user", "disable", "nobody"],
        vec!["user", "passwd", "nobody", "--password-stdin"],
        vec!["sessions", "list", "nobody"],
        vec!["sessions", "revoke", "--user", "nobody"],
    ] {
        let (code, _, err) = gw.cli(&args, "a long password");
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("no such user: nobody"), "{args:?}: {err}");
    }
    let (code, _, err) = gw.cli(&["sessions", "revoke", "not-a-uuid"], "");
    assert_eq!(code, 1);
    assert!(err.contains("not a session id"), "{err}");
    // A password is never an argument.
    let (code, _, _) = gw.cli(&["user", "add", "dave", "--password", "hunter2hunter2"], "");
    assert_eq!(code, 2);
}

#[tokio::test]
async fn config_check_prints_the_effective_settings_with_secrets_masked() {
    let gw = Gateway::start().await;
    let (code, out, _) = gw.cli(&["config", "check"], "");
    assert_eq!(code, 0);
    assert!(out.contains("GATEHOUSE_JWT_SECRET=***"), "{out}");
    assert!(!out.contains(SECRET));
    assert!(out.contains("GATEHOUSE_BCRYPT_COST=4"));
}
