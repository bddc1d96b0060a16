//! Passkeys and security keys through the real gateway (docs/contract.md §10): registration,
//! the list, the second step, the passwordless sign-in, step-up and removal, each answered by a
//! software authenticator (webauthn-authenticator-rs's `SoftPasskey`: a P-256 key it makes and
//! signs with, and a counter it moves). Then what must be refused: an answer to another user's
//! challenge or from another origin, a replayed challenge, a counter that goes back, malformed
//! bodies; and a ceremony begun on one instance finished on another.

use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
};

use crate::harness::*;
use crate::instances::wait_listening;
use crate::mfa::{audit_count, pending};

/// The public URL the tests' gateways claim: a host name, since an IP address cannot be a
/// relying party id. Requests still go to 127.0.0.1; only the authenticator's origin says it.
const ORIGIN: &str = "http://localhost:8000";

fn options() -> Options {
    Options::default().env("GATEHOUSE_PUBLIC_URL", ORIGIN)
}

async fn gateway() -> Gateway {
    Gateway::start_with(options()).await
}

/// A passkey on a software authenticator: what it registered, to sign in with again.
struct Key {
    auth: WebauthnAuthenticator<SoftPasskey>,
    origin: Url,
    /// The credential id (base64url), once registered.
    id: Option<String>,
    /// The user handle the gateway gave at registration (base64url).
    user_handle: Option<String>,
}

impl Key {
    fn new() -> Self {
        Self::at(ORIGIN)
    }

    fn at(origin: &str) -> Self {
        Key {
            // `true`: it claims user verification, which passkeys require.
            auth: WebauthnAuthenticator::new(SoftPasskey::new(true)),
            origin: Url::parse(origin).unwrap(),
            id: None,
            user_handle: None,
        }
    }

    fn create(&mut self, options: &Value) -> Value {
        let ccr: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        self.user_handle = options["publicKey"]["user"]["id"]
            .as_str()
            .map(String::from);
        let cred = self.auth.do_registration(self.origin.clone(), ccr).unwrap();
        let v = serde_json::to_value(&cred).unwrap();
        self.id = v["rawId"].as_str().map(String::from);
        v
    }

    fn get(&mut self, options: &Value) -> Value {
        let rcr: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        let cred: PublicKeyCredential = self
            .auth
            .do_authentication(self.origin.clone(), rcr)
            .unwrap();
        serde_json::to_value(&cred).unwrap()
    }

    /// An answer to passwordless options, which name no credential: this authenticator keeps
    /// no resident keys, so it is told its own credential, and the user handle a discoverable
    /// credential returns is added (it is outside the signature, as in a browser).
    fn discover(&mut self, options: &Value) -> Value {
        let mut o = options.clone();
        o["publicKey"]["allowCredentials"] =
            json!([{ "type": "public-key", "id": self.id.clone().unwrap() }]);
        let mut v = self.get(&o);
        v["response"]["userHandle"] = json!(self.user_handle.clone().unwrap());
        v
    }
}

async fn post(gw: &Gateway, path: &str, jar: &Jar, body: Value) -> Resp {
    send(gw.req("POST", path).with(jar).json(&body)).await
}

/// Registers `key` as `name` for the session in `jar`; the 201 answer.
async fn register(gw: &Gateway, jar: &Jar, key: &mut Key, name: &str) -> Value {
    let r = post(
        gw,
        "/auth/mfa/webauthn/register/start",
        jar,
        json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let credential = key.create(&r.json());
    let r = post(
        gw,
        "/auth/mfa/webauthn/register/finish",
        jar,
        json!({ "name": name, "credential": credential }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn me_mfa(gw: &Gateway, jar: &Jar) -> bool {
    let r = gw.get("/auth/me", jar).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["session"]["mfa"].as_bool().unwrap()
}

async fn step_up_options(gw: &Gateway, jar: &Jar) -> Value {
    let r = post(gw, "/auth/mfa/verify/webauthn/start", jar, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn step_up(gw: &Gateway, jar: &Jar, credential: &Value) -> Resp {
    post(
        gw,
        "/auth/mfa/verify",
        jar,
        json!({ "method": "webauthn", "credential": credential }),
    )
    .await
}

#[tokio::test]
async fn a_passkey_registers_is_listed_and_finishes_a_sign_in_as_its_second_step() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    assert!(!me_mfa(&gw, &jar).await);
    let mut key = Key::new();
    let made = register(&gw, &jar, &mut key, "  Laptop ").await;
    assert_eq!(made["name"], "Laptop");
    assert_eq!(
        made["recovery_codes"].as_array().unwrap().len(),
        10,
        "first factor: codes"
    );
    assert!(
        me_mfa(&gw, &jar).await,
        "registering made the session two-factor"
    );
    assert_eq!(audit_count(&gw, "mfa_enrolled").await, 1);

    let r = gw.get("/auth/mfa", &jar).await;
    let listed = &r.json()["webauthn"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], made["id"]);
    assert_eq!(listed[0]["name"], "Laptop");
    assert_eq!(listed[0]["created_at"], made["created_at"]);
    assert_eq!(listed[0]["last_used_at"], Value::Null);

    // A second passkey is no first factor: no new codes.
    let mut other = Key::new();
    let second = register(&gw, &jar, &mut other, "Phone").await;
    assert!(second.get("recovery_codes").is_none(), "{second}");

    let r = gw.login("alice", PASSWORD).await;
    assert_eq!(r.json()["methods"], json!(["webauthn", "recovery"]));
    let pending = r.jar();
    let r = post(&gw, "/auth/login/mfa/webauthn/start", &pending, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = key.get(&r.json());
    let r = post(
        &gw,
        "/auth/login/mfa",
        &pending,
        json!({ "method": "webauthn", "credential": answer }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["session"]["mfa"], true);
    let signed_in = r.jar();
    assert!(me_mfa(&gw, &signed_in).await);
    let listed = gw.get("/auth/mfa", &signed_in).await.json()["webauthn"].clone();
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
    assert_eq!(listed[1]["last_used_at"], Value::Null, "{listed}");

    // The same answer again: its ceremony went with the sign-in.
    let jar2 = crate::mfa::pending(&gw, "alice").await;
    let r = post(
        &gw,
        "/auth/login/mfa",
        &jar2,
        json!({ "method": "webauthn", "credential": answer }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "replayed challenge"
    );
}

#[tokio::test]
async fn the_second_step_with_a_passkey_works_with_bearer_transport() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    register(&gw, &jar, &mut key, "Key").await;
    let r =
        send(gw.req("POST", "/auth/login").json(
            &json!({ "username": "alice", "password": PASSWORD, "token_transport": "bearer" }),
        ))
        .await;
    let token = r.json()["mfa_token"].as_str().unwrap().to_string();
    let none = Jar::default();
    let r = post(
        &gw,
        "/auth/login/mfa/webauthn/start",
        &none,
        json!({ "mfa_token": token }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = key.get(&r.json());
    let r = post(
        &gw,
        "/auth/login/mfa",
        &none,
        json!({ "method": "webauthn", "credential": answer, "mfa_token": token }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["access_token"].is_string(), "{}", r.text());
    // Without a pending sign-in there is nothing to begin.
    let r = post(&gw, "/auth/login/mfa/webauthn/start", &none, json!({})).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
}

#[tokio::test]
async fn a_passkey_alone_signs_in_with_a_two_factor_session() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    register(&gw, &jar, &mut key, "Laptop").await;

    let none = Jar::default();
    let r = post(&gw, "/auth/login/passkey/start", &none, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let options = r.json();
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(options["publicKey"]["allowCredentials"]
        .as_array()
        .is_none_or(Vec::is_empty));
    let answer = key.discover(&options);
    let r = post(
        &gw,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": answer }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let signed_in = r.jar();
    let me = gw.get("/auth/me", &signed_in).await.json();
    assert_eq!(me["session"]["mfa"], true, "{me}");
    assert_eq!(me["user"]["username"], "alice", "{me}");

    // Replayed: the ceremony was spent.
    let r = post(
        &gw,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": answer }),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));

    // Bearer transport answers as a bearer login does.
    let r = post(&gw, "/auth/login/passkey/start", &none, json!({})).await;
    let answer = key.discover(&r.json());
    let r = post(
        &gw,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": answer, "token_transport": "bearer" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["access_token"].is_string());

    // A user handle that is not the credential's user is refused.
    let r = post(&gw, "/auth/login/passkey/start", &none, json!({})).await;
    let mut answer = key.discover(&r.json());
    answer["response"]["userHandle"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    let r = post(
        &gw,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": answer }),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));
}

#[tokio::test]
async fn step_up_with_a_passkey_and_a_counter_that_goes_back_is_refused() {
    let gw =
        Gateway::start_with(options().env("GATEHOUSE_ALLOWED_REDIRECT_HOSTS", "app.localhost"))
            .await;
    let first = gw.signup("alice").await;
    // A session made before the factor existed stays one-factor.
    let later = gw.login("alice", PASSWORD).await.jar();
    let mut key = Key::new();
    register(&gw, &first, &mut key, "Laptop").await;
    assert!(!me_mfa(&gw, &later).await);

    // Two ceremonies answered in order: counters 1 and 2. The later one goes first; the
    // earlier one then shows a counter going back (a cloned authenticator) and is refused,
    // though its own ceremony was live.
    let older = key.get(&step_up_options(&gw, &later).await);
    let newer = key.get(&step_up_options(&gw, &later).await);
    let r = step_up(&gw, &later, &newer).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(me_mfa(&gw, &later).await);
    let r = step_up(&gw, &later, &older).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "counter went back"
    );
    let r = step_up(&gw, &later, &newer).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "replayed challenge"
    );

    // An allowed redirect host is an allowed origin.
    let mut elsewhere = Key::at("https://app.localhost");
    elsewhere.auth = key.auth;
    let answer = elsewhere.get(&step_up_options(&gw, &later).await);
    assert_eq!(step_up(&gw, &later, &answer).await.status, 204);
}

#[tokio::test]
async fn removing_the_last_passkey_takes_the_recovery_codes_with_it() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    let made = register(&gw, &jar, &mut key, "Laptop").await;
    let path = format!("/auth/mfa/webauthn/{}", made["id"].as_str().unwrap());
    let r = send(
        gw.req("DELETE", &path)
            .with(&jar)
            .json(&json!({ "password": "wrong password!" })),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));
    let r = send(
        gw.req("DELETE", &path)
            .with(&jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let f = gw.get("/auth/mfa", &jar).await.json();
    assert_eq!(f["webauthn"], json!([]));
    assert_eq!(f["recovery_codes_left"], 0);
    let r = send(
        gw.req("DELETE", &path)
            .with(&jar)
            .json(&json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!((r.status, r.error()), (404, "not_found".into()));
    assert_eq!(audit_count(&gw, "mfa_removed").await, 1);
    // One factor again: the password alone signs in.
    let r = gw.login("alice", PASSWORD).await;
    assert!(r.json().get("mfa_required").is_none(), "{}", r.text());
}

#[tokio::test]
async fn a_ceremony_begun_on_one_instance_finishes_on_the_other() {
    let a = gateway().await;
    let b = Gateway::start_with(Options {
        database: Some(a.db_name.clone()),
        ..options()
    })
    .await;
    wait_listening(&a).await;
    wait_listening(&b).await;
    let jar = a.signup("alice").await;
    let mut key = Key::new();
    let r = post(
        &a,
        "/auth/mfa/webauthn/register/start",
        &jar,
        json!({ "password": PASSWORD }),
    )
    .await;
    let credential = key.create(&r.json());
    let r = post(
        &b,
        "/auth/mfa/webauthn/register/finish",
        &jar,
        json!({ "name": "Key", "credential": credential }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    let none = Jar::default();
    let r = post(&b, "/auth/login/passkey/start", &none, json!({})).await;
    let answer = key.discover(&r.json());
    let r = post(
        &a,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": answer }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let jar = pending(&a, "alice").await;
    let r = post(&a, "/auth/login/mfa/webauthn/start", &jar, json!({})).await;
    let answer = key.get(&r.json());
    let r = post(
        &b,
        "/auth/login/mfa",
        &jar,
        json!({ "method": "webauthn", "credential": answer }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn answers_to_another_users_challenge_or_from_another_origin_are_refused() {
    let gw = gateway().await;
    let alice = gw.signup("alice").await;
    let bob = gw.signup("bob").await;
    let mut alice_key = Key::new();
    let mut bob_key = Key::new();
    register(&gw, &alice, &mut alice_key, "A").await;
    register(&gw, &bob, &mut bob_key, "B").await;

    // Bob presents alice's answer to alice's challenge: nothing of his, nothing of hers spent.
    let answer = alice_key.get(&step_up_options(&gw, &alice).await);
    let r = step_up(&gw, &bob, &answer).await;
    assert_eq!((r.status, r.error()), (401, "invalid_code".into()));
    assert_eq!(
        step_up(&gw, &alice, &answer).await.status,
        204,
        "alice's ceremony is intact"
    );

    // A registration begun by alice cannot be finished by bob.
    let r = post(
        &gw,
        "/auth/mfa/webauthn/register/start",
        &alice,
        json!({ "password": PASSWORD }),
    )
    .await;
    let mut third = Key::new();
    let credential = third.create(&r.json());
    let r = post(
        &gw,
        "/auth/mfa/webauthn/register/finish",
        &bob,
        json!({ "name": "x", "credential": credential }),
    )
    .await;
    assert_eq!((r.status, r.error()), (409, "webauthn_not_pending".into()));
    let r = post(
        &gw,
        "/auth/mfa/webauthn/register/finish",
        &alice,
        json!({ "name": "x", "credential": credential }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Signed at another origin (the same host, another port): refused, and the challenge is
    // spent, so it is checked once.
    let options = step_up_options(&gw, &alice).await;
    let mut foreign = Key::at("http://localhost:8001");
    foreign.auth = alice_key.auth;
    let answer = foreign.get(&options);
    let r = step_up(&gw, &alice, &answer).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "another origin"
    );
    alice_key.auth = foreign.auth;
    let answer = alice_key.get(&options);
    let r = step_up(&gw, &alice, &answer).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "a challenge is checked once"
    );

    // At the second step a foreign answer counts as a wrong code: the fifth ends the sign-in.
    let jar = pending(&gw, "alice").await;
    for n in 1..=5 {
        let r = post(&gw, "/auth/login/mfa/webauthn/start", &jar, json!({})).await;
        assert_eq!(r.status, 200, "attempt {n}: {}", r.text());
        foreign.auth = alice_key.auth;
        let answer = foreign.get(&r.json());
        alice_key.auth = foreign.auth;
        let r = post(
            &gw,
            "/auth/login/mfa",
            &jar,
            json!({ "method": "webauthn", "credential": answer }),
        )
        .await;
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_code".into()),
            "attempt {n}"
        );
    }
    let r = post(&gw, "/auth/login/mfa/webauthn/start", &jar, json!({})).await;
    assert_eq!((r.status, r.error()), (401, "sign_in_expired".into()));
}

#[tokio::test]
async fn malformed_webauthn_bodies_are_clear_4xx_and_spend_nothing() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    register(&gw, &jar, &mut key, "Laptop").await;
    let options = step_up_options(&gw, &jar).await;
    let good = key.get(&options);
    let challenge = options["publicKey"]["challenge"].as_str().unwrap();
    let client_data = |challenge: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"{ORIGIN}"}}"#
        ))
    };
    let bads = [
        json!("not an object"),
        json!({}),
        json!({ "id": "x", "rawId": "x", "type": "public-key", "response": {} }),
        json!({ "id": "x", "rawId": "***", "type": "public-key",
                "response": { "clientDataJSON": "***", "authenticatorData": "", "signature": "" } }),
        json!({ "id": "x", "rawId": "AAAA", "type": "public-key",
                "response": { "clientDataJSON": "e30", "authenticatorData": "", "signature": "" } }),
        json!({ "id": "x", "rawId": "AAAA", "type": "public-key",
                "response": { "clientDataJSON": client_data("AAAA"), "authenticatorData": "", "signature": "" } }),
    ];
    let none = Jar::default();
    for bad in &bads {
        let r = step_up(&gw, &jar, bad).await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{bad}: {}",
            r.text()
        );
        let r = post(
            &gw,
            "/auth/login/passkey/finish",
            &none,
            json!({ "credential": bad }),
        )
        .await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{bad}: {}",
            r.text()
        );
        let r = post(
            &gw,
            "/auth/mfa/webauthn/register/finish",
            &jar,
            json!({ "name": "n", "credential": bad }),
        )
        .await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{bad}: {}",
            r.text()
        );
    }
    for body in [
        json!({ "method": "webauthn" }),
        json!({ "method": "webauthn", "code": "123456" }),
    ] {
        let r = post(&gw, "/auth/mfa/verify", &jar, body.clone()).await;
        assert_eq!(
            (r.status, r.error()),
            (422, "invalid_request".into()),
            "{body}"
        );
    }
    let r = send(
        gw.req("POST", "/auth/login/passkey/finish")
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text());
    // Garbage CBOR and signature behind the real challenge: a wrong answer, never a 500.
    let mut garbage = good.clone();
    garbage["response"]["authenticatorData"] = json!("3q2-7w");
    garbage["response"]["signature"] = json!("AAAA");
    assert_eq!(
        garbage["response"]["clientDataJSON"],
        good["response"]["clientDataJSON"]
    );
    let _ = challenge;
    let r = step_up(&gw, &jar, &garbage).await;
    assert_eq!(
        (r.status, r.error()),
        (401, "invalid_code".into()),
        "{}",
        r.text()
    );

    // None of the malformed bodies above spent the ceremony the good answer belongs to… but
    // the garbage one carried its challenge, so it did: a fresh one works.
    let answer = key.get(&step_up_options(&gw, &jar).await);
    assert_eq!(step_up(&gw, &jar, &answer).await.status, 204);
    let r = post(
        &gw,
        "/auth/mfa/webauthn/register/finish",
        &jar,
        json!({ "name": "", "credential": answer }),
    )
    .await;
    assert_eq!((r.status, r.error()), (422, "invalid_request".into()));
}

#[tokio::test]
async fn malformed_answers_spend_no_ceremony() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    register(&gw, &jar, &mut key, "Laptop").await;
    let answer = key.get(&step_up_options(&gw, &jar).await);
    let mut broken = answer.clone();
    broken["response"]["clientDataJSON"] = json!("!!");
    let r = step_up(&gw, &jar, &broken).await;
    assert_eq!((r.status, r.error()), (422, "invalid_request".into()));
    let mut broken = answer.clone();
    broken["response"]["signature"] = json!(17);
    let r = step_up(&gw, &jar, &broken).await;
    assert_eq!((r.status, r.error()), (422, "invalid_request".into()));
    assert_eq!(
        step_up(&gw, &jar, &answer).await.status,
        204,
        "the ceremony was still there"
    );
}

/// Anyone may start a passkey sign-in, and each start keeps a row: starts are held to the
/// sign-in rate per address, in a bucket of their own that leaves password sign-ins alone.
#[tokio::test]
async fn passkey_sign_in_starts_are_rate_limited_per_address() {
    let gw = Gateway::start_with(options().env("GATEHOUSE_LOGIN_RATE", "3/min")).await;
    let jar = Jar::default();
    for _ in 0..3 {
        let r = post(&gw, "/auth/login/passkey/start", &jar, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = post(&gw, "/auth/login/passkey/start", &jar, json!({})).await;
    assert_eq!((r.status, r.error()), (429, "rate_limited".into()));
    assert!(r.header("retry-after").is_some());
    gw.register("alice", PASSWORD).await;
    assert_eq!(gw.login("alice", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn passkeys_are_off_while_the_public_url_is_an_ip_address() {
    let gw = Gateway::start().await;
    let jar = gw.signup("alice").await;
    for path in [
        "/auth/mfa/webauthn/register/start",
        "/auth/login/passkey/start",
    ] {
        let r = post(&gw, path, &jar, json!({ "password": PASSWORD })).await;
        assert_eq!(
            (r.status, r.error()),
            (404, "webauthn_unavailable".into()),
            "{path}"
        );
    }
    let r = send(gw.req("GET", "/auth/login").header("accept", "text/html")).await;
    assert!(
        !r.text().contains("<script"),
        "no passkey button, no script"
    );
}

#[tokio::test]
async fn the_pages_load_the_gateways_own_webauthn_script_under_the_csp() {
    let gw = gateway().await;
    let r = send(gw.req("GET", "/auth/static/webauthn.js")).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.text().contains("navigator.credentials"));
    let r = send(gw.req("GET", "/auth/login").header("accept", "text/html")).await;
    let csp = r.header("content-security-policy").unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = r.text();
    assert!(
        html.contains(r#"<script src="/auth/static/webauthn.js" defer></script>"#),
        "{html}"
    );
    assert!(html.contains("data-passkey-login"), "{html}");
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn user_list_shows_passkeys_and_mfa_reset_removes_them_with_their_ceremonies() {
    let gw = gateway().await;
    let jar = gw.signup("alice").await;
    let mut key = Key::new();
    register(&gw, &jar, &mut key, "Laptop").await;
    let (code, out, err) = gw.cli_async(&["user", "list", "--json"], "").await;
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["mfa"]["webauthn"], 1, "{out}");
    let (_, out, _) = gw.cli_async(&["user", "list"], "").await;
    assert!(out.contains("passkeys: 1"), "{out}");

    // A step-up begun before the reset cannot finish after it.
    let options = step_up_options(&gw, &jar).await;
    let (code, _, err) = gw.cli_async(&["user", "mfa-reset", "alice"], "").await;
    assert_eq!(code, 0, "{err}");
    let r = gw.login("alice", PASSWORD).await;
    assert!(
        r.json().get("mfa_required").is_none(),
        "no factor left: {}",
        r.text()
    );
    let jar = r.jar();
    assert_eq!(
        gw.get("/auth/mfa", &jar).await.json()["webauthn"],
        json!([])
    );
    let r = step_up(&gw, &jar, &key.get(&options)).await;
    assert_eq!((r.status, r.error()), (409, "mfa_not_enrolled".into()));
    let left: i64 = gw
        .db()
        .await
        .query_one("SELECT count(*) FROM webauthn_ceremonies", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the reset took the user's ceremonies");
    // And no passwordless sign-in with the removed credential.
    let none = Jar::default();
    let r = post(&gw, "/auth/login/passkey/start", &none, json!({})).await;
    let r = post(
        &gw,
        "/auth/login/passkey/finish",
        &none,
        json!({ "credential": key.discover(&r.json()) }),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));
}
