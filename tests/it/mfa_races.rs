//! Second factors against what runs beside them (docs/contract.md §10): two instances on one
//! database, credential changes and `user mfa-reset` during a pending sign-in, and the log at
//! `trace` with every second-factor secret going through the gateway.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::upstreams::labelled;
use crate::harness::*;
use crate::instances::wait_listening;
use crate::mfa::{audit_count, enrol, pending, second};

/// Two gateways on one database with a `two_factor` path, caching sessions for 60 s so that
/// only the revocation channel can make B see a change quickly.
async fn pair() -> (Gateway, Gateway) {
    let config = format!(
        "[[routes]]\nname = \"app\"\nupstream = \"{}\"\n\n  [[routes.rules]]\n  paths = \
         [\"/admin\"]\n  policy = \"two_factor\"\n",
        labelled("app")
    );
    let a = Gateway::start_with(
        Options::default()
            .config(&config)
            .env("GATEHOUSE_CACHE_TTL", "60s"),
    )
    .await;
    let b = Gateway::start_with(
        Options {
            database: Some(a.db_name.clone()),
            ..Default::default()
        }
        .config(&config)
        .env("GATEHOUSE_CACHE_TTL", "60s"),
    )
    .await;
    wait_listening(&a).await;
    wait_listening(&b).await;
    (a, b)
}

#[tokio::test]
async fn a_sign_in_begun_on_one_instance_finishes_on_another_and_a_code_used_on_one_is_refused_on_the_other(
) {
    let (a, b) = pair().await;
    let first = a.signup("alice").await;
    let e = enrol(&a, &first).await;

    let jar = pending(&a, "alice").await;
    let r = second(&b, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(a.get("/admin", &r.jar()).await.status, 200);

    let jar = pending(&b, "alice").await;
    let r = second(&a, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "replayed on the other instance"
    );
    let r = second(&a, &jar, "totp", &e.app.code(e.step + 2)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The same for a recovery code.
    let jar = pending(&a, "alice").await;
    assert_eq!(
        second(&a, &jar, "recovery", &e.recovery_codes[0])
            .await
            .status,
        200
    );
    let jar = pending(&b, "alice").await;
    assert_eq!(
        second(&b, &jar, "recovery", &e.recovery_codes[0])
            .await
            .error(),
        "invalid_code"
    );
}

#[tokio::test]
async fn a_step_up_on_one_instance_reaches_the_other_within_the_revocation_bound() {
    let (a, b) = pair().await;
    let enrolling = a.signup("alice").await;
    let other = a.login("alice", PASSWORD).await.jar();
    let e = enrol(&a, &enrolling).await;
    // B holds the one-factor session in its cache.
    assert_eq!(b.get("/admin", &other).await.status, 403);
    assert_eq!(b.get("/admin", &other).await.status, 403);
    let r = send(
        a.req("POST", "/auth/mfa/verify")
            .with(&other)
            .json(&json!({ "method": "totp", "code": e.app.code(e.step + 1) })),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let started = Instant::now();
    while b.get("/admin", &other).await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still refuses the stepped-up session"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "step-up reached the other instance in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn mfa_reset_removes_every_factor_revokes_every_session_and_ends_pending_sign_ins() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let waiting = pending(&gw, "alice").await;

    let (code, out, err) = gw.cli_async(&["user", "mfa-reset", "alice"], "").await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked 1 session(s)"), "{out}");
    assert_eq!(gw.get("/auth/me", &first).await.status, 401);
    let r = second(&gw, &waiting, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
    let db = gw.db().await;
    for table in ["mfa_totp", "mfa_recovery_codes", "mfa_pending"] {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(audit_count(&gw, "mfa_removed").await, 1);
    // The password alone signs in again, with one factor.
    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.json()["session"]["mfa"], false);
    let (code, _, err) = gw.cli_async(&["user", "mfa-reset", "nobody"], "").await;
    assert_eq!(code, 1);
    assert!(err.contains("no such user: nobody"), "{err}");
}

#[tokio::test]
async fn mfa_reset_wins_against_second_steps_in_flight() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let mut jars = Vec::new();
    for _ in 0..e.recovery_codes.len() {
        jars.push(pending(&gw, "alice").await);
    }
    // Every pending sign-in tries its own recovery code, one every 40 ms from the moment the
    // reset command starts, so that some arrive before it, some while it runs, some after.
    let gw_ref = &gw;
    let steps = futures_util::future::join_all(jars.iter().zip(&e.recovery_codes).enumerate().map(
        |(i, (jar, code))| async move {
            tokio::time::sleep(Duration::from_millis(40 * i as u64)).await;
            second(gw_ref, jar, "recovery", code).await
        },
    ));
    let reset = gw.cli_async(&["user", "mfa-reset", "alice"], "");
    let (answers, (code, _, err)) = tokio::join!(steps, reset);
    assert_eq!(code, 0, "{err}");
    let signed_in = answers.iter().filter(|r| r.status == 200).count();
    eprintln!("second steps racing the reset: {signed_in} signed in before it, the rest refused");
    for r in &answers {
        match r.status {
            200 => assert_eq!(
                gw.get("/auth/me", &r.jar()).await.status,
                401,
                "a second step survived the reset"
            ),
            401 => assert!(
                ["sign_in_expired", "invalid_code"].contains(&r.error().as_str()),
                "{}",
                r.text()
            ),
            other => panic!("{other}: {}", r.text()),
        }
    }
    let jar = pending_after_reset(&gw).await;
    assert!(
        jar.get("access_token").is_some(),
        "one factor after the reset"
    );
}

/// After a reset the password alone signs in.
async fn pending_after_reset(gw: &Gateway) -> Jar {
    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.jar()
}

#[tokio::test]
async fn a_password_change_ends_a_pending_sign_in() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let waiting = pending(&gw, "alice").await;
    let r = send(gw.req("POST", "/auth/password").with(&first).json(&json!({
        "current_password": PASSWORD, "new_password": "a brand new password",
    })))
    .await;
    assert_eq!(r.status, 204);
    let r = second(&gw, &waiting, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
    // The factor itself stays: the new password still needs it.
    let r = gw.login("alice", "a brand new password").await;
    assert_eq!(r.json()["mfa_required"], true);
    assert_eq!(
        second(&gw, &r.jar(), "totp", &e.app.code(e.step + 1))
            .await
            .status,
        200
    );
}

async fn second_factor_secrets_stay_out_of_the_log(format: &str) {
    let gw =
        Gateway::start_env(&[("GATEHOUSE_LOG", "trace"), ("GATEHOUSE_LOG_FORMAT", format)]).await;
    let first = gw.signup("alice").await;
    let r = send(
        gw.req("POST", "/auth/mfa/totp")
            .with(&first)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    let started = r.json();
    let secret = started["secret"].as_str().unwrap().to_string();
    // Enrol again over the pending one so the shown secret is the one used.
    let e = enrol(&gw, &first).await;
    let cookie = pending(&gw, "alice").await;
    assert_eq!(
        second(&gw, &cookie, "recovery", &e.recovery_codes[0])
            .await
            .status,
        200
    );
    let r = send(gw.req("POST", "/auth/login").json(&json!({
        "username": "alice", "password": PASSWORD, "token_transport": "bearer",
    })))
    .await;
    let token = r.json()["mfa_token"].as_str().unwrap().to_string();
    let r = send(gw.req("POST", "/auth/login/mfa").json(&json!({
        "mfa_token": token, "method": "recovery", "code": e.recovery_codes[1],
    })))
    .await;
    assert_eq!(r.status, 200);
    let renewed = send(
        gw.req("POST", "/auth/mfa/recovery-codes")
            .with(&first)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    let fresh = renewed.json()["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = gw.log_text() + &gw.stdout_text();
    assert!(
        log.contains("TRACE") || log.contains("\"TRACE\""),
        "the log is at trace"
    );
    let mut secrets = vec![
        secret,
        e.app.secret.clone(),
        cookie.get("mfa_pending").unwrap().to_string(),
        token,
        fresh,
    ];
    secrets.extend(e.recovery_codes.iter().cloned());
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "{s} reached the {format} log");
    }
}

#[tokio::test]
async fn second_factor_secrets_never_reach_the_text_log() {
    second_factor_secrets_stay_out_of_the_log("text").await;
}

#[tokio::test]
async fn second_factor_secrets_never_reach_the_json_log() {
    second_factor_secrets_stay_out_of_the_log("json").await;
}
