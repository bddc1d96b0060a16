//! Second factors through the real gateway (docs/contract.md §10): enrolling an authenticator
//! app, signing in in two steps (cookie and bearer), recovery codes, removal, step-up and the
//! `two_factor` policy. TOTP codes are computed here from the secret the gateway shows, with
//! `totp-rs` on this machine's clock, which the gateway shares.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::upstreams::labelled;
use crate::harness::*;

/// An authenticator app holding `secret` (base32, as the gateway shows it).
#[derive(Clone)]
pub(crate) struct App {
    pub secret: String,
}

impl App {
    pub fn code(&self, step: i64) -> String {
        let bytes = totp_rs::Secret::Encoded(self.secret.clone())
            .to_bytes()
            .unwrap();
        totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            0,
            30,
            bytes,
            None,
            String::new(),
        )
        .generate(u64::try_from(step).unwrap() * 30)
    }

    /// A six-digit code that no step within two of `step` has.
    pub fn wrong(&self, step: i64) -> String {
        let taken: Vec<String> = (step - 2..=step + 2).map(|s| self.code(s)).collect();
        (0..)
            .map(|n| format!("{n:06}"))
            .find(|c| !taken.contains(c))
            .unwrap()
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The current time step, once at least 10 s of it are left (waiting for the next one if
/// not): codes for the step before, this one and the next are then all accepted for a while,
/// and a test uses them in that order, since each step signs in once.
pub(crate) async fn fresh_step() -> i64 {
    let now = unix_now();
    let left = 30.0 - now % 30.0;
    if left < 10.0 {
        tokio::time::sleep(Duration::from_secs_f64(left + 0.2)).await;
    }
    (unix_now() / 30.0).floor() as i64
}

pub(crate) struct Enrolled {
    pub app: App,
    pub recovery_codes: Vec<String>,
    /// The step the confirming code used; later codes must be of later steps.
    pub step: i64,
}

/// Sets up an authenticator app for the session in `jar`, confirmed with the code of the step
/// before the current one.
pub(crate) async fn enrol(gw: &Gateway, jar: &Jar) -> Enrolled {
    let r = send(
        gw.req("POST", "/auth/mfa/totp")
            .with(jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let app = App {
        secret: r.json()["secret"].as_str().unwrap().to_string(),
    };
    let step = fresh_step().await - 1;
    let r = confirm(gw, jar, &app.code(step)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let recovery_codes = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    Enrolled {
        app,
        recovery_codes,
        step,
    }
}

async fn confirm(gw: &Gateway, jar: &Jar, code: &str) -> Resp {
    send(
        gw.req("POST", "/auth/mfa/totp/confirm")
            .with(jar)
            .json(&json!({ "code": code })),
    )
    .await
}

/// Signs `user` in with the right password: the pending sign-in's cookie.
pub(crate) async fn pending(gw: &Gateway, user: &str) -> Jar {
    let r = gw.login(user, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["mfa_required"], true, "{}", r.text());
    let jar = r.jar();
    assert!(jar.get("mfa_pending").is_some(), "{:?}", r.cookies());
    jar
}

/// The second step with the pending cookie in `jar`.
pub(crate) async fn second(gw: &Gateway, jar: &Jar, method: &str, code: &str) -> Resp {
    send(
        gw.req("POST", "/auth/login/mfa")
            .with(jar)
            .json(&json!({ "method": method, "code": code })),
    )
    .await
}

async fn factors(gw: &Gateway, jar: &Jar) -> Value {
    let r = gw.get("/auth/mfa", jar).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

pub(crate) async fn audit_count(gw: &Gateway, kind: &str) -> i64 {
    gw.db()
        .await
        .query_one("SELECT count(*) FROM auth_events WHERE kind = $1", &[&kind])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn enrolment_shows_the_secret_once_and_a_wrong_first_code_leaves_it_usable() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let wrong = send(
        gw.req("POST", "/auth/mfa/totp")
            .with(&jar)
            .json(&json!({ "password": "not the password" })),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.error()),
        (401, "invalid_credentials".into())
    );

    let r = send(
        gw.req("POST", "/auth/mfa/totp")
            .with(&jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/127.0.0.1:alice?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(
        factors(&gw, &jar).await,
        json!({ "totp": false, "webauthn": [], "recovery_codes_left": 0 }),
        "a pending secret is no factor"
    );

    let app = App {
        secret: secret.to_string(),
    };
    let step = fresh_step().await;
    let r = confirm(&gw, &jar, &app.wrong(step)).await;
    assert_eq!((r.status, r.error()), (401, "invalid_code".into()));
    for malformed in ["12 345", "1234567", "abcdef", ""] {
        let r = confirm(&gw, &jar, malformed).await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{malformed:?}"
        );
    }
    let me = gw.get("/auth/me", &jar).await.json();
    assert_eq!(me["session"]["mfa"], false);

    let r = confirm(&gw, &jar, &app.code(step)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let codes = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    for c in &codes {
        let c = c.as_str().unwrap();
        assert!(
            c.len() == 14 && c.as_bytes()[4] == b'-' && c.as_bytes()[9] == b'-',
            "{c}"
        );
    }
    // The session that confirmed is two-factor at once.
    let me = gw.get("/auth/me", &jar).await.json();
    assert_eq!(me["session"]["mfa"], true);
    assert_eq!(
        factors(&gw, &jar).await,
        json!({ "totp": true, "webauthn": [], "recovery_codes_left": 10 })
    );
    assert_eq!(audit_count(&gw, "mfa_enrolled").await, 1);

    // Never shown again: no new enrolment over an active app, nothing left to confirm.
    let again = send(
        gw.req("POST", "/auth/mfa/totp")
            .with(&jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!((again.status, again.error()), (409, "totp_enabled".into()));
    assert!(!again.text().contains(secret));
    let r = confirm(&gw, &jar, &app.code(step + 1)).await;
    assert_eq!((r.status, r.error()), (409, "totp_not_pending".into()));

    let (code, out, err) = gw.cli_async(&["user", "list", "--json"], "").await;
    assert_eq!(code, 0, "{err}");
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["mfa"]["totp"], true);
    assert_eq!(users[0]["mfa"]["recovery_codes_left"], 10);
    let (_, table, _) = gw.cli_async(&["user", "list"], "").await;
    assert!(table.contains("totp, recovery codes: 10"), "{table}");
}

#[tokio::test]
async fn a_user_with_a_factor_signs_in_in_two_steps() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;

    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({ "mfa_required": true, "methods": ["totp", "recovery"] })
    );
    let cookies = r.cookies();
    assert_eq!(cookies.len(), 1, "no session cookie yet: {cookies:?}");
    let pending_cookie = &cookies[0];
    assert!(
        pending_cookie.starts_with("__Host-mfa_pending="),
        "{pending_cookie}"
    );
    for attr in [
        "HttpOnly",
        "Path=/",
        "SameSite=Lax",
        "Max-Age=300",
        "Secure",
    ] {
        assert!(
            pending_cookie.contains(attr),
            "{attr} missing: {pending_cookie}"
        );
    }
    let jar = r.jar();

    // The pending cookie is no session, and never reaches the upstream.
    assert_eq!(gw.get("/app", &jar).await.status, 401);
    assert_eq!(gw.get("/auth/me", &jar).await.status, 401);
    let mut both = first.clone();
    both.0.extend(jar.0.clone());
    let echoed = gw.get("/app", &both).await;
    assert_eq!(echoed.status, 200);
    assert!(
        echoed
            .echoed("cookie")
            .iter()
            .all(|c| !c.contains("mfa_pending")),
        "{:?}",
        echoed.echoed("cookie")
    );

    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["session"]["mfa"], true);
    assert!(
        body.get("access_token").is_none(),
        "cookie transport: no tokens in the body"
    );
    let signed_in = r.jar();
    assert!(signed_in.get("access_token").is_some() && signed_in.get("refresh_token").is_some());
    assert!(
        r.cookies()
            .iter()
            .any(|c| c.starts_with("__Host-mfa_pending=;") && c.contains("Max-Age=0")),
        "the pending cookie is cleared: {:?}",
        r.cookies()
    );
    let me = gw.get("/auth/me", &signed_in).await.json();
    assert_eq!(me["session"]["mfa"], true);
    let list = gw.get("/auth/sessions", &signed_in).await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s["mfa"] == true), "{sessions:?}");
    assert_eq!(gw.get("/app", &signed_in).await.status, 200);

    // A time step signs in once: the same code again is refused, the next step's works.
    let jar = pending(&gw, "alice").await;
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "invalid_code".into()));
    assert!(r.header("www-authenticate").is_some());
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 2)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // So is the enrolment's own code.
    let jar = pending(&gw, "alice").await;
    let r = second(&gw, &jar, "totp", &e.app.code(e.step)).await;
    assert_eq!(r.error(), "invalid_code");
    assert!(gw.metric("gatehouse_second_factor_total").await >= 4.0);
}

#[tokio::test]
async fn five_wrong_codes_end_the_pending_sign_in_and_malformed_ones_count_for_nothing() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let jar = pending(&gw, "alice").await;
    for (method, code) in [
        ("totp", "123 456"),
        ("totp", "12345"),
        ("totp", "1234567"),
        ("totp", "12345x"),
        ("recovery", "abcd-efgh"),
        ("webauthn", "123456"),
    ] {
        let r = second(&gw, &jar, method, code).await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{method} {code:?}"
        );
    }
    for bad in [
        json!({ "method": "totp" }),
        json!({ "code": "123456" }),
        json!([]),
    ] {
        let r = send(gw.req("POST", "/auth/login/mfa").with(&jar).json(&bad)).await;
        assert_eq!(r.status, 422, "{bad}");
    }
    let wrong = e.app.wrong(e.step + 1);
    for attempt in 1..=5 {
        let r = second(&gw, &jar, "totp", &wrong).await;
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_code".into()),
            "attempt {attempt}"
        );
        let cleared = r.cookies().iter().any(|c| c.contains("Max-Age=0"));
        assert_eq!(
            cleared,
            attempt == 5,
            "attempt {attempt}: {:?}",
            r.cookies()
        );
    }
    // Ended: even the right code is refused now, and spends nothing.
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
    assert_eq!(audit_count(&gw, "mfa_failed").await, 5);
    let jar = pending(&gw, "alice").await;
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!(r.status, 200, "the code was not spent: {}", r.text());

    // No pending sign-in at all, or a made-up one.
    let r = second(&gw, &Jar::default(), "totp", "123456").await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
    let forged = send(gw.req("POST", "/auth/login/mfa").json(&json!({
        "method": "totp", "code": "123456", "mfa_token": "not-a-token",
    })))
    .await;
    assert_eq!(
        (forged.status, forged.error()),
        (401, "sign_in_expired".into())
    );
}

#[tokio::test]
async fn an_expired_pending_sign_in_cannot_be_finished() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let jar = pending(&gw, "alice").await;
    gw.db()
        .await
        .execute(
            "UPDATE mfa_pending SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
    let jar = pending(&gw, "alice").await;
    assert_eq!(
        second(&gw, &jar, "totp", &e.app.code(e.step + 1))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn wrong_codes_count_against_the_login_rate_limit() {
    let gw = Gateway::start_env(&[("GATEHOUSE_LOGIN_RATE", "3/min")]).await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let jar = pending(&gw, "alice").await;
    let wrong = e.app.wrong(e.step + 1);
    for _ in 0..3 {
        assert_eq!(
            second(&gw, &jar, "totp", &wrong).await.error(),
            "invalid_code"
        );
    }
    let r = second(&gw, &jar, "totp", &e.app.code(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (429, "rate_limited".into()));
    assert!(r.header("retry-after").is_some());
    // The same buckets as a password: the user's sign-ins wait too.
    assert_eq!(gw.login("alice", PASSWORD).await.status, 429);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let jar = pending(&gw, "alice").await;
    let r = second(&gw, &jar, "recovery", &e.recovery_codes[0]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["session"]["mfa"], true);
    assert_eq!(factors(&gw, &first).await["recovery_codes_left"], 9);
    assert_eq!(audit_count(&gw, "recovery_code_used").await, 1);

    let jar = pending(&gw, "alice").await;
    let r = second(&gw, &jar, "recovery", &e.recovery_codes[0]).await;
    assert_eq!((r.status, r.error()), (401, "invalid_code".into()));
    // Typed in capitals and without dashes, the next one works.
    let typed = e.recovery_codes[1].replace('-', "").to_uppercase();
    let r = second(&gw, &jar, "recovery", &typed).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(factors(&gw, &first).await["recovery_codes_left"], 8);
}

#[tokio::test]
async fn a_bearer_sign_in_carries_the_pending_token_and_the_tokens_in_bodies() {
    let gw = Gateway::start().await;
    let first = gw.signup("alice").await;
    let e = enrol(&gw, &first).await;
    let r = send(gw.req("POST", "/auth/login").json(&json!({
        "username": "alice", "password": PASSWORD, "token_transport": "bearer",
    })))
    .await;
    assert_eq!(r.status, 200);
    assert!(r.cookies().is_empty(), "{:?}", r.cookies());
    let token = r.json()["mfa_token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["methods"], json!(["totp", "recovery"]));
    // It is no access token.
    let as_bearer = send(gw.req("GET", "/auth/me").bearer_auth(&token)).await;
    assert_eq!(as_bearer.status, 401);

    let r = send(gw.req("POST", "/auth/login/mfa").json(&json!({
        "mfa_token": token, "method": "totp", "code": e.app.code(e.step + 1),
    })))
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.cookies().is_empty(), "{:?}", r.cookies());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    let me = send(gw.req("GET", "/auth/me").bearer_auth(access)).await;
    assert_eq!(me.json()["session"]["mfa"], true);
    // The token is spent.
    let again = send(gw.req("POST", "/auth/login/mfa").json(&json!({
        "mfa_token": token, "method": "totp", "code": e.app.code(e.step + 2),
    })))
    .await;
    assert_eq!(
        (again.status, again.error()),
        (401, "sign_in_expired".into())
    );
}

#[tokio::test]
async fn removing_the_app_needs_the_password_and_takes_the_recovery_codes_with_it() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    enrol(&gw, &jar).await;
    let remove = |password: &'static str| {
        send(
            gw.req("DELETE", "/auth/mfa/totp")
                .with(&jar)
                .json(&json!({ "password": password })),
        )
    };
    let r = remove("not the password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));
    assert_eq!(factors(&gw, &jar).await["totp"], true);
    let r = remove(PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        factors(&gw, &jar).await,
        json!({ "totp": false, "webauthn": [], "recovery_codes_left": 0 })
    );
    assert_eq!(audit_count(&gw, "mfa_removed").await, 1);
    assert_eq!(remove(PASSWORD).await.status, 404);
    // One step again.
    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["session"]["mfa"], false);
    let renew = send(
        gw.req("POST", "/auth/mfa/recovery-codes")
            .with(&jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(
        (renew.status, renew.error()),
        (409, "mfa_not_enrolled".into())
    );
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_set() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    let e = enrol(&gw, &jar).await;
    let renew = |password: &'static str| {
        send(
            gw.req("POST", "/auth/mfa/recovery-codes")
                .with(&jar)
                .json(&json!({ "password": password })),
        )
    };
    assert_eq!(renew("not the password").await.status, 401);
    let r = renew(PASSWORD).await;
    assert_eq!(r.status, 200);
    let fresh: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !e.recovery_codes.contains(c)));
    let pending_jar = pending(&gw, "alice").await;
    let r = second(&gw, &pending_jar, "recovery", &e.recovery_codes[3]).await;
    assert_eq!(r.error(), "invalid_code", "the old set is dead");
    let r = second(&gw, &pending_jar, "recovery", &fresh[3]).await;
    assert_eq!(r.status, 200);
}

pub(crate) fn two_factor_admin(upstream: std::net::SocketAddr) -> String {
    format!(
        "[[routes]]\nname = \"app\"\nupstream = \"{upstream}\"\n\n  [[routes.rules]]\n  \
         paths = [\"/admin\"]\n  policy = \"two_factor\"\n"
    )
}

#[tokio::test]
async fn step_up_makes_a_one_factor_session_reach_two_factor_routes() {
    let gw =
        Gateway::start_with(Options::default().config(&two_factor_admin(labelled("app")))).await;
    let enrolling = gw.signup("alice").await;
    let other = gw.login("alice", PASSWORD).await.jar();
    let e = enrol(&gw, &enrolling).await;
    assert_eq!(
        gw.get("/admin", &enrolling).await.status,
        200,
        "enrolling made it two-factor"
    );
    let r = gw.get("/admin", &other).await;
    assert_eq!((r.status, r.error()), (403, "mfa_required".into()));
    assert_eq!(
        gw.get("/reports", &other).await.status,
        200,
        "one factor is enough here"
    );

    // Forward auth decides the same way.
    let forward = || {
        send(
            gw.req("GET", "/auth/verify")
                .header("x-forwarded-host", "app.example")
                .header("x-forwarded-uri", "/admin/keys")
                .header("x-forwarded-method", "GET")
                .with(&other),
        )
    };
    assert_eq!(forward().await.status, 403);

    let verify = |method: &'static str, code: String| {
        send(
            gw.req("POST", "/auth/mfa/verify")
                .with(&other)
                .json(&json!({ "method": method, "code": code })),
        )
    };
    let r = verify("totp", e.app.wrong(e.step + 1)).await;
    assert_eq!((r.status, r.error()), (401, "invalid_code".into()));
    assert_eq!(verify("totp", "12 34 56".into()).await.status, 422);
    assert_eq!(gw.get("/admin", &other).await.status, 403);
    let r = verify("totp", e.app.code(e.step + 1)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    // At once on this instance.
    let r = gw.get("/admin", &other).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.get("/auth/me", &other).await.json()["session"]["mfa"],
        true
    );
    let r = forward().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-auth-user"), Some("alice"));
    // The step is spent for sign-ins too.
    let jar = pending(&gw, "alice").await;
    assert_eq!(
        second(&gw, &jar, "totp", &e.app.code(e.step + 1))
            .await
            .error(),
        "invalid_code"
    );

    // Without a factor there is nothing to step up with.
    let bob = gw.signup("bob").await;
    let r = send(
        gw.req("POST", "/auth/mfa/verify")
            .with(&bob)
            .json(&json!({ "method": "totp", "code": "123456" })),
    )
    .await;
    assert_eq!((r.status, r.error()), (409, "mfa_not_enrolled".into()));
    let anonymous = send(
        gw.req("POST", "/auth/mfa/verify")
            .json(&json!({ "method": "totp", "code": "123456" })),
    )
    .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_recovery_code_steps_up_too_and_a_signed_in_api_client_reads_its_factors() {
    let gw = Gateway::start().await;
    let enrolling = gw.signup("alice").await;
    let other = gw.login("alice", PASSWORD).await.jar();
    let e = enrol(&gw, &enrolling).await;
    let r = send(
        gw.req("POST", "/auth/mfa/verify")
            .with(&other)
            .json(&json!({ "method": "recovery", "code": e.recovery_codes[9] })),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(factors(&gw, &other).await["recovery_codes_left"], 9);
    assert_eq!(gw.get("/auth/mfa", &Jar::default()).await.status, 401);
    // A browser still gets the page.
    let page = send(
        gw.req("GET", "/auth/mfa")
            .header("accept", "text/html")
            .with(&other),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
}
