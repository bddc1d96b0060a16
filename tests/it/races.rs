//! Attacks that race the gateway's own checks: many requests in flight at once against a
//! limit or a credential change, at a real bcrypt cost so that the windows are as wide as in
//! production.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// A cost at which one hash takes tens of milliseconds here, as cost 12 does on a server.
const REAL_COST: &str = "10";
/// Sign-ins racing a change: within what the gateway queues for bcrypt rather than shedding.
const SIGN_INS: usize = 12;

async fn slow_gateway(extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![("GATEHOUSE_BCRYPT_COST", REAL_COST)];
    env.extend_from_slice(extra);
    Gateway::start_env(&env).await
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_failed_login_limit() {
    let gw = slow_gateway(&[("GATEHOUSE_LOGIN_RATE", "5/min")]).await;
    gw.register("alice", PASSWORD).await;
    let guesses = (0..30).map(|i| {
        send(gw.req("POST", "/auth/login").json(&json!({
            "username": "alice", "password": format!("wrong password {i}"),
        })))
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let limited = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + limited, 30);
    assert!(
        checked <= 5,
        "{checked} guesses reached bcrypt against a limit of 5"
    );
}

/// Signs `alice` in `n` times at once on `signing_in` while `change` runs; returns each
/// sign-in's answer and when it ended.
async fn sign_ins_racing<F>(
    signing_in: &Gateway,
    n: usize,
    change: F,
) -> (Vec<(Resp, Instant)>, Instant)
where
    F: std::future::Future<Output = ()>,
{
    let sign_ins = futures_util::future::join_all((0..n).map(|_| async {
        let r = signing_in.login("alice", PASSWORD).await;
        (r, Instant::now())
    }));
    let change = async {
        // Let every sign-in read the old hash first.
        tokio::time::sleep(Duration::from_millis(150)).await;
        change.await;
        Instant::now()
    };
    tokio::join!(sign_ins, change)
}

async fn assert_no_session_survives(gw: &Gateway, answers: &[(Resp, Instant)], changed: Instant) {
    let late = answers.iter().filter(|(_, at)| *at > changed).count();
    assert!(
        late > 0,
        "no sign-in was still in flight when the password changed"
    );
    for (r, _) in answers {
        match r.status {
            200 => {
                let me = gw.get("/auth/me", &r.jar()).await;
                assert_eq!(
                    me.status, 401,
                    "a sign-in with the old password survived the change"
                );
            }
            401 => assert_eq!(r.error(), "invalid_credentials"),
            // On a loaded machine bcrypt's idle-class thread may be starved past the route's
            // deadline; a sign-in that gave up created nothing, which is all this test asks.
            503 => assert_eq!(r.error(), "unavailable"),
            other => panic!("sign-in answered {other}: {}", r.text()),
        }
    }
}

#[tokio::test]
async fn sign_ins_that_checked_the_old_password_do_not_survive_gatehouse_user_passwd() {
    let gw = slow_gateway(&[("GATEHOUSE_LOGIN_RATE", "1000/min")]).await;
    gw.register("alice", PASSWORD).await;
    let cli = async {
        let (code, _, err) = gw
            .cli_async(
                &["user", "passwd", "alice", "--password-stdin"],
                "a brand new password\n",
            )
            .await;
        assert_eq!(code, 0, "{err}");
    };
    let (answers, changed) = sign_ins_racing(&gw, SIGN_INS, cli).await;
    assert_no_session_survives(&gw, &answers, changed).await;
}

#[tokio::test]
async fn sign_ins_that_checked_the_old_password_do_not_survive_a_change_on_another_instance() {
    let a = slow_gateway(&[("GATEHOUSE_LOGIN_RATE", "1000/min")]).await;
    let b = Gateway::start_with(Options {
        database: Some(a.db_name.clone()),
        ..Default::default()
    })
    .await;
    a.register("alice", PASSWORD).await;
    let owner = b.login("alice", PASSWORD).await.jar();
    let change = async {
        let r = send(b.req("POST", "/auth/password").with(&owner).json(
            &json!({ "current_password": PASSWORD, "new_password": "a brand new password" }),
        ))
        .await;
        assert_eq!(r.status, 204, "{}", r.text());
    };
    let (answers, changed) = sign_ins_racing(&a, SIGN_INS, change).await;
    assert_no_session_survives(&a, &answers, changed).await;
    assert_eq!(
        b.get("/auth/me", &owner).await.status,
        200,
        "the changer stays signed in"
    );
}
