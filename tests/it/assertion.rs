//! The signed identity assertion (docs/contract.md §11): `X-Auth-Assertion` on forwarded
//! requests and forward-auth answers, checked against the JWKS the gateway publishes with the
//! curves' own crates (ed25519-dalek, p256) and with jsonwebtoken's validation of the claims;
//! keys made by `openssl genpkey` for each test.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::harness::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh private key in PKCS#8 PEM, as `openssl genpkey` writes it.
fn keygen(curve: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-keys-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{curve}.pem"));
    let args: &[&str] = match curve {
        "ed25519" => &["-algorithm", "ed25519"],
        "p256" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "rsa" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        other => panic!("no such curve {other}"),
    };
    let out = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn keys_env(paths: &[&PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

async fn start(paths: &[&PathBuf], extra: &[(&str, &str)]) -> Gateway {
    let keys = keys_env(paths);
    let mut env = vec![("GATEHOUSE_ASSERTION_KEYS", keys.as_str())];
    env.extend_from_slice(extra);
    Gateway::start_env(&env).await
}

async fn jwks(gw: &Gateway) -> Value {
    let r = send(gw.req("GET", "/.well-known/jwks.json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("max-age=300"));
    r.json()
}

/// The claims of `token` when its signature is one of `jwks`'s keys (chosen by `kid`) and its
/// `aud`, `iss` and `exp` are right; why not otherwise.
fn verify(token: &str, jwks: &Value, aud: &str, iss: &str) -> Result<Value, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three segments".into());
    };
    let header: Value = serde_json::from_slice(&B64.decode(h).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("kid not published")?;
    let signed = format!("{h}.{p}");
    let sig = B64.decode(s).map_err(|e| e.to_string())?;
    let x = B64.decode(key["x"].as_str().unwrap()).unwrap();
    // The signature, checked by the curve's own crate.
    match (header["alg"].as_str(), key["kty"].as_str()) {
        (Some("EdDSA"), Some("OKP")) => {
            use ed25519_dalek::Verifier;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
            vk.verify(signed.as_bytes(), &sig)
                .map_err(|e| e.to_string())?;
        }
        (Some("ES256"), Some("EC")) => {
            use p256::ecdsa::signature::Verifier;
            let y = B64.decode(key["y"].as_str().unwrap()).unwrap();
            let point = [&[4u8][..], &x, &y].concat();
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
            vk.verify(signed.as_bytes(), &sig)
                .map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unexpected alg/kty {other:?}")),
    }
    // And the claims, by a JWT library from the published JWK.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    let alg = if key["kty"] == "OKP" {
        jsonwebtoken::Algorithm::EdDSA
    } else {
        jsonwebtoken::Algorithm::ES256
    };
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[iss]);
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(token, &dk, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

/// The one `X-Auth-Assertion` the echo upstream heard.
fn heard(r: &Resp) -> String {
    let values = r.echoed("x-auth-assertion");
    assert_eq!(values.len(), 1, "{values:?}");
    values[0].clone()
}

#[tokio::test]
async fn an_authenticated_request_carries_an_assertion_the_published_key_verifies() {
    let key = keygen("ed25519");
    let gw = start(&[&key], &[]).await;
    let published = jwks(&gw).await;
    let keys = published["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(
        (k["alg"].as_str(), k["use"].as_str()),
        (Some("EdDSA"), Some("sig"))
    );
    assert!(k.get("d").is_none(), "never the private half: {k}");
    let pem = std::fs::read_to_string(&key).unwrap();
    let secret_line = pem.lines().nth(1).unwrap();
    assert!(!published.to_string().contains(secret_line));

    let jar = gw.signup("alice").await;
    let sid = claims_of(jar.access())["sid"].clone();
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("X-Auth-Assertion", "forged.by.client")
            .header("X_Auth_Assertion", "forged")
            .header("x.auth.assertion", "forged")
            .header("x-auth_assertion", "forged"),
    )
    .await;
    assert_eq!(r.status, 200);
    let names = r.echoed_names();
    for odd in ["x_auth_assertion", "x.auth.assertion", "x-auth_assertion"] {
        assert!(
            !names.contains(&odd.to_string()),
            "{odd} reached the upstream"
        );
    }
    let token = heard(&r);
    assert_ne!(token, "forged.by.client");
    let claims = verify(&token, &published, "127.0.0.1", &gw.base).unwrap();
    assert_eq!(claims["name"], "alice");
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], claims_of(jar.access())["sub"]);
    assert_eq!(claims["groups"], serde_json::json!([]));
    assert_eq!(claims["mfa"], false);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    let header: Value =
        serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], k["kid"]);

    // The audience is the host the request named, port dropped and lower-cased; the
    // assertion for one host is reused, not signed again.
    let on = |host: &'static str| send(gw.req("GET", "/app").with(&jar).header("host", host));
    let first = heard(&on("App.Example.COM:8443").await);
    let again = heard(&on("app.example.com").await);
    assert_eq!(first, again, "reused for the same session and audience");
    let claims = verify(&first, &published, "app.example.com", &gw.base).unwrap();
    assert_eq!(claims["aud"], "app.example.com");
    assert!(verify(&first, &published, "127.0.0.1", &gw.base).is_err());
}

#[tokio::test]
async fn tampered_or_misaddressed_assertions_are_refused() {
    let key = keygen("p256");
    let gw = start(&[&key], &[]).await;
    let published = jwks(&gw).await;
    let k = &published["keys"][0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(k["alg"], "ES256");
    assert!(k["y"].is_string() && k.get("d").is_none());
    let jar = gw.signup("alice").await;
    let token = heard(&gw.get("/app", &jar).await);
    assert!(verify(&token, &published, "127.0.0.1", &gw.base).is_ok());

    let (h, rest) = token.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let mut claims: Value = serde_json::from_slice(&B64.decode(p).unwrap()).unwrap();
    claims["groups"] = serde_json::json!(["admins"]);
    let forged = format!("{h}.{}.{s}", B64.encode(claims.to_string()));
    assert!(
        verify(&forged, &published, "127.0.0.1", &gw.base).is_err(),
        "claims changed"
    );
    let mut sig = B64.decode(s).unwrap();
    sig[5] ^= 1;
    let flipped = format!("{h}.{p}.{}", B64.encode(sig));
    assert!(
        verify(&flipped, &published, "127.0.0.1", &gw.base).is_err(),
        "signature changed"
    );
    let e = verify(&token, &published, "other.example.com", &gw.base).unwrap_err();
    assert!(e.contains("Audience") || e.contains("audience"), "{e}");
    assert!(verify(&token, &published, "127.0.0.1", "https://evil.example.com").is_err());
}

#[tokio::test]
async fn rotation_publishes_both_keys_signs_with_the_first_and_old_assertions_still_verify() {
    let (old, new) = (keygen("ed25519"), keygen("p256"));
    let gw = start(&[&old, &new], &[]).await;
    let before = jwks(&gw).await;
    let kids: Vec<&str> = before["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    let jar = gw.signup("alice").await;
    let old_token = heard(&gw.get("/app", &jar).await);
    assert_eq!(claims_kid(&old_token), kids[0], "the first key signs");

    // The new key listed first: it signs, and the old one is still published.
    let rotated = Gateway::start_with(Options {
        database: Some(gw.db_name.clone()),
        ..Options::default().env("GATEHOUSE_ASSERTION_KEYS", &keys_env(&[&new, &old]))
    })
    .await;
    let after = jwks(&rotated).await;
    let new_kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(new_kids, [kids[1], kids[0]]);
    let new_token = heard(&rotated.get("/app", &jar).await);
    assert_eq!(claims_kid(&new_token), kids[1]);
    assert!(verify(&new_token, &after, "127.0.0.1", &rotated.base).is_ok());
    assert!(
        verify(&old_token, &after, "127.0.0.1", &gw.base).is_ok(),
        "old assertions still verify"
    );
}

fn claims_kid(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bypass_routes_carry_no_assertion_not_even_the_clients() {
    let key = keygen("ed25519");
    let gw = start(&[&key], &[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/public/x")
            .with(&jar)
            .header("X-Auth-Assertion", "forged")
            .header("x_auth_assertion", "forged"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.echoed_names().iter().all(|n| !n.contains("assertion")),
        "{:?}",
        r.echoed_names()
    );
}

#[tokio::test]
async fn a_forward_auth_200_carries_an_assertion_for_the_forwarded_host() {
    let key = keygen("ed25519");
    let gw = start(&[&key], &[("GATEHOUSE_PUBLIC_PATHS", "/public")]).await;
    let published = jwks(&gw).await;
    let jar = gw.signup("alice").await;
    for path in ["/auth/verify", "/auth/forward"] {
        let r = send(
            gw.req("GET", path)
                .with(&jar)
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "App.Example.com:443")
                .header("x-forwarded-uri", "/dash"),
        )
        .await;
        assert_eq!(r.status, 200, "{path}");
        let token = r.header("x-auth-assertion").unwrap();
        let claims = verify(token, &published, "app.example.com", &gw.base).unwrap();
        assert_eq!(claims["name"], "alice");
        // Bypassed: empty, so the proxy overwrites what a client sent.
        let r = send(
            gw.req("GET", path)
                .with(&jar)
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-host", "app.example.com")
                .header("x-forwarded-uri", "/public/logo.png"),
        )
        .await;
        assert_eq!(
            (r.status, r.header("x-auth-assertion")),
            (200, Some("")),
            "{path}"
        );
    }
}

/// Polls the upstream until the assertion for `jar` satisfies `want`; bounded.
async fn assertion_until(gw: &Gateway, jar: &Jar, want: impl Fn(&Value) -> bool) -> Value {
    let published = jwks(gw).await;
    let start = Instant::now();
    loop {
        let token = heard(&gw.get("/app", jar).await);
        let claims = verify(&token, &published, "127.0.0.1", &gw.base).unwrap();
        if want(&claims) {
            return claims;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still {claims}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_group_change_reaches_the_next_assertion() {
    let key = keygen("ed25519");
    let gw = start(&[&key], &[]).await;
    crate::instances::wait_listening(&gw).await;
    let jar = gw.signup("alice").await;
    let before = assertion_until(&gw, &jar, |_| true).await;
    assert_eq!(before["groups"], serde_json::json!([]));
    for args in [
        &["group", "create", "ops"][..],
        &["group", "create", "admins"],
        &["group", "add", "ops", "alice"],
        &["group", "add", "admins", "alice"],
    ] {
        assert_eq!(gw.cli_async(args, "").await.0, 0, "{args:?}");
    }
    let after = assertion_until(&gw, &jar, |c| c["groups"] != serde_json::json!([])).await;
    assert_eq!(after["groups"], serde_json::json!(["admins", "ops"]));
    assert_eq!(after["sid"], before["sid"], "nobody signed out");
}

#[tokio::test]
async fn a_step_up_makes_the_next_assertion_say_mfa() {
    let key = keygen("p256");
    let gw = start(&[&key], &[]).await;
    let jar = gw.signup("alice").await;
    let before = assertion_until(&gw, &jar, |_| true).await;
    assert_eq!(before["mfa"], false);
    // Confirming the first factor makes the current session two-factor.
    crate::mfa::enrol(&gw, &jar).await;
    let after = assertion_until(&gw, &jar, |c| c["mfa"] == true).await;
    assert_eq!(after["sid"], before["sid"]);
}

#[tokio::test]
async fn without_keys_the_jwks_is_empty_and_nothing_is_asserted() {
    let gw = Gateway::start().await;
    assert_eq!(jwks(&gw).await, serde_json::json!({ "keys": [] }));
    let jar = gw.signup("alice").await;
    let r = send(
        gw.req("GET", "/app")
            .with(&jar)
            .header("x-auth-assertion", "forged"),
    )
    .await;
    assert!(r.echoed("x-auth-assertion").is_empty());
    let r = send(gw.req("POST", "/.well-known/jwks.json")).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn the_jwks_belongs_to_the_gateway_whatever_the_routes_say() {
    let key = keygen("ed25519");
    let gw = Gateway::start_with(
        Options::default()
            .env("GATEHOUSE_ASSERTION_KEYS", &keys_env(&[&key]))
            .config(
                r#"
[[routes]]
name = "all"
upstream = "http://127.0.0.1:9"
policy = "bypass"
"#,
            ),
    )
    .await;
    let published = jwks(&gw).await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 1);
    let r = send(
        gw.req("GET", "/.well-known/jwks.json")
            .header("host", "other.example.com"),
    )
    .await;
    assert_eq!(r.status, 200, "answered on every host, never forwarded");
}

#[tokio::test]
async fn a_key_that_is_not_ours_stops_start_up_naming_it_and_not_quoting_it() {
    let rsa = keygen("rsa");
    let pem = std::fs::read_to_string(&rsa).unwrap();
    let missing = PathBuf::from("/nonexistent/assertion.pem");
    for (path, says) in [(&rsa, "not an Ed25519 or P-256"), (&missing, "cannot read")] {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("GATEHOUSE_ASSERTION_KEYS", path)
            .env(
                "DATABASE_URL",
                format!(
                    "postgres://postgres@{}/gh_never_{}",
                    pg_host(),
                    uuid::Uuid::new_v4().simple()
                ),
            )
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env(
                "GATEHOUSE_ADMIN_LISTEN",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("GATEHOUSE_JWT_SECRET", SECRET)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("GATEHOUSE_ASSERTION_KEYS"), "{stderr}");
        assert!(
            stderr.contains(&path.display().to_string()) && stderr.contains(says),
            "{stderr}"
        );
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!stderr.contains(line), "key material printed");
        }
    }
}
