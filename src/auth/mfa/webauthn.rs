//! Passkeys and security keys (WebAuthn, docs/contract.md §10) on webauthn-rs: the relying
//! party built from the configuration, the ceremonies' start routes, registration, removal and
//! the passwordless sign-in. The second step and step-up finish through `sign_in.rs` and
//! `manage.rs` with a [`Presented`] built here.
//!
//! Every ceremony's state goes to PostgreSQL under its challenge (`store/webauthn.rs`) and
//! comes back for the finish, on whichever instance that lands. The finish reads the challenge
//! from the answer's clientDataJSON to find it; webauthn-rs then checks everything else
//! (origin, relying party, signature, user verification, counter) against that state.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn,
    WebauthnBuilder,
};

use super::{confirm_password, recovery, Check, Presented};
use crate::auth::handlers::{issue, transport, truncate};
use crate::auth::input::Accepts;
use crate::auth::pair::Pair;
use crate::auth::{cookies, invite_token, Request};
use crate::clock::rfc3339;
use crate::config::Config;
use crate::error::Error;
use crate::reply::Reply;
use crate::store::audit::{self, Event};
use crate::store::mfa as mfa_store;
use crate::store::sessions::NewSession;
use crate::store::webauthn::{
    self as store, Begun, PasskeySignIn, Purpose, Registered, Registration, StoredPasskey, Used,
};
use crate::App;

/// How long a ceremony may take: the browser's timeout and the stored state's lifetime.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

/// The longest passkey name.
const NAME_MAX: usize = 64;

/// The relying party: id `GATEHOUSE_WEBAUTHN_RP_ID` (validated against the public URL at
/// start-up), origins the public URL and the allowed redirect hosts. A `.example.com` entry
/// (any subdomain) adds no origin: WebAuthn checks exact origins, and allowing every subdomain
/// would allow them for the public URL too.
pub fn relying_party(config: &Config) -> Result<Webauthn, Error> {
    let id = config
        .webauthn_rp_id
        .as_deref()
        .ok_or(Error::WebauthnUnavailable)?;
    let bad = |e: &dyn std::fmt::Display| Error::Internal(format!("WebAuthn relying party: {e}"));
    let public = Url::parse(config.public_url.as_str()).map_err(|e| bad(&e))?;
    let mut builder = WebauthnBuilder::new(id, &public)
        .map_err(|e| bad(&e))?
        .rp_name(id)
        .timeout(CEREMONY_TTL);
    let scheme = public.scheme();
    for host in config
        .allowed_redirect_hosts
        .iter()
        .filter(|h| !h.starts_with('.'))
    {
        for scheme in [scheme, "https"] {
            if let Ok(origin) = Url::parse(&format!("{scheme}://{host}")) {
                builder = builder.append_allowed_origin(&origin);
            }
        }
    }
    builder.build().map_err(|e| bad(&e))
}

/// The challenge an answer carries (base64url in its clientDataJSON), to find the ceremony by.
fn challenge_of(client_data_json: &[u8]) -> Result<Vec<u8>, Error> {
    #[derive(Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let invalid = || Error::Invalid("credential.response.clientDataJSON is not valid.".into());
    let data: ClientData = serde_json::from_slice(client_data_json).map_err(|_| invalid())?;
    let challenge = URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| invalid())?;
    if !(16..=64).contains(&challenge.len()) {
        return Err(invalid());
    }
    Ok(challenge)
}

fn parse_credential<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, Error> {
    serde_json::from_value(value.clone()).map_err(|e| {
        Error::Invalid(format!(
            "credential is not a WebAuthn response ({}).",
            truncate(&e.to_string(), 120)
        ))
    })
}

fn assertion(value: &Value) -> Result<(PublicKeyCredential, Vec<u8>), Error> {
    let cred: PublicKeyCredential = parse_credential(value)?;
    let challenge = challenge_of(cred.response.client_data_json.as_ref())?;
    Ok((cred, challenge))
}

fn state_json(state: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(state).map_err(|e| Error::Internal(format!("WebAuthn state: {e}")))
}

fn rejected(what: &str, e: &dyn std::fmt::Debug) {
    // The library's reason (wrong origin, counter, signature…) helps an operator; it holds no
    // secret. The client is told only that the answer did not hold.
    tracing::debug!(target: "gatehouse::webauthn", "{what} refused: {e:?}");
}

/// The check of an answer to a second-step or step-up ceremony: against the state stored for
/// it and the user's credentials, it yields the credential used, updated.
fn check_assertion(
    rp: Webauthn,
    cred: PublicKeyCredential,
) -> impl Fn(&str, &[StoredPasskey]) -> Option<Used> {
    move |state, stored| {
        let state: PasskeyAuthentication = serde_json::from_str(state).ok()?;
        let result = rp
            .finish_passkey_authentication(&cred, &state)
            .map_err(|e| rejected("assertion", &e))
            .ok()?;
        stored.iter().enumerate().find_map(|(index, s)| {
            let mut pk: Passkey = serde_json::from_str(&s.passkey).ok()?;
            if pk.cred_id() != result.cred_id() {
                return None;
            }
            pk.update_credential(&result);
            Some(Used {
                index,
                passkey: serde_json::to_string(&pk).ok()?,
                counter: result.counter(),
            })
        })
    }
}

impl Presented {
    /// An answer to a WebAuthn ceremony begun for `purpose`, checked for shape (422 when it is
    /// not one) and ready to be checked against the store.
    pub fn webauthn(config: &Config, credential: &Value, purpose: Purpose) -> Result<Self, Error> {
        let rp = relying_party(config)?;
        let (cred, challenge) = assertion(credential)?;
        Ok(Self(Check::Webauthn {
            challenge,
            purpose,
            check: Box::new(check_assertion(rp, cred)),
        }))
    }
}

/// Options as the browser takes them (`{publicKey: …}`), with the challenge to store under.
fn options(value: &impl serde::Serialize) -> Result<(Value, Vec<u8>), Error> {
    let v = serde_json::to_value(value)
        .map_err(|e| Error::Internal(format!("WebAuthn options: {e}")))?;
    let challenge = v["publicKey"]["challenge"]
        .as_str()
        .and_then(|c| URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok())
        .ok_or_else(|| Error::Internal("WebAuthn options without a challenge".into()))?;
    Ok((v, challenge))
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

/// `POST /auth/mfa/webauthn/register/start {password}`: creation options for a new passkey. The
/// password is re-entered as for an authenticator app: a passkey signs in on its own, so a
/// stolen session must not be able to add one.
pub async fn register_start(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::Json)?;
    let id = req.identity(app).await?;
    let rp = relying_party(&app.config)?;
    confirm_password(app, &id, req.meta.client_ip, &body.password).await?;
    let existing = store::passkeys(&app.db, id.user_id).await?;
    let exclude = existing
        .iter()
        .filter_map(|s| serde_json::from_str::<Passkey>(&s.passkey).ok())
        .map(|pk| pk.cred_id().clone())
        .collect();
    let (ccr, state) = rp
        .start_passkey_registration(id.user_id, id.username(), id.username(), Some(exclude))
        .map_err(|e| Error::Internal(format!("WebAuthn registration: {e}")))?;
    let (mut opts, challenge) = options(&ccr)?;
    // Discoverable when the authenticator can, so the same passkey also signs in without a
    // password; a security key that cannot still works as a second factor.
    opts["publicKey"]["authenticatorSelection"]["residentKey"] = "preferred".into();
    let state = state_json(&state)?;
    let begun = Begun {
        challenge: &challenge,
        purpose: Purpose::Register,
        user_id: Some(id.user_id),
        pending_id: None,
        state: &state,
    };
    store::begin(&app.db, &begun, req.now, CEREMONY_TTL).await?;
    Ok(Reply::json(200, &opts))
}

#[derive(Deserialize)]
struct FinishRegistration {
    name: String,
    credential: Value,
}

fn passkey_name(name: &str) -> Result<&str, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "name is 1 to {NAME_MAX} characters, without control characters."
        )));
    }
    Ok(name)
}

/// `POST /auth/mfa/webauthn/register/finish {name, credential}`: 201 `{id, name, created_at}`
/// (and `recovery_codes` for a first factor); the current session becomes two-factor, as
/// confirming an authenticator app makes it.
pub async fn register_finish(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: FinishRegistration = req.parse(Accepts::Json)?;
    let name = passkey_name(&body.name)?;
    let cred: RegisterPublicKeyCredential = parse_credential(&body.credential)?;
    let challenge = challenge_of(cred.response.client_data_json.as_ref())?;
    let id = req.identity(app).await?;
    let rp = relying_party(&app.config)?;
    let check = |state: &str| -> Option<(Vec<u8>, String)> {
        let state: PasskeyRegistration = serde_json::from_str(state).ok()?;
        let pk = rp
            .finish_passkey_registration(&cred, &state)
            .map_err(|e| rejected("registration", &e))
            .ok()?;
        Some((pk.cred_id().to_vec(), serde_json::to_string(&pk).ok()?))
    };
    let set = recovery::generate()
        .map_err(|e| Error::Internal(format!("the random source failed: {e}")))?;
    let registration = Registration {
        user_id: id.user_id,
        sid: id.session_id,
        challenge: &challenge,
        name,
        check: &check,
        codes: &set.stored,
    };
    let (passkey_id, first) =
        match store::register(&app.db, &app.sessions, &registration, req.now).await? {
            Registered::Done { id, first } => (id, first),
            Registered::NotPending => return Err(Error::WebauthnNotPending),
            Registered::Exists => return Err(Error::PasskeyExists),
            Registered::Rejected => {
                app.metrics
                    .second_factor("enrol", "webauthn", "invalid_code");
                return Err(Error::InvalidCode);
            }
        };
    app.metrics.second_factor("enrol", "webauthn", "ok");
    let event = Event::new(audit::Kind::MfaEnrolled)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    audit::record(&app.db, event.detail("webauthn")).await;
    let mut answer = json!({ "id": passkey_id, "name": name, "created_at": rfc3339(req.now) });
    if first {
        answer["recovery_codes"] = json!(set.codes);
    }
    Ok(Reply::json(201, &answer))
}

/// `DELETE /auth/mfa/webauthn/{id} {password}`: the passkey goes (with the last factor, the
/// recovery codes too, as removing an authenticator app does).
pub async fn remove(app: &App, req: &Request<'_>, passkey: Uuid) -> Result<Reply, Error> {
    let body: PasswordBody = req.parse(Accepts::Json)?;
    let id = req.identity(app).await?;
    confirm_password(app, &id, req.meta.client_ip, &body.password).await?;
    if !store::remove(&app.db, id.user_id, passkey).await? {
        return Err(Error::NotFound);
    }
    let event = Event::new(audit::Kind::MfaRemoved)
        .user(id.user_id)
        .session(id.session_id)
        .ip(req.meta.client_ip);
    audit::record(&app.db, event.detail("webauthn")).await;
    Ok(Reply::empty(204))
}

/// The `webauthn` list of `GET /auth/mfa`.
pub async fn listed(app: &App, user_id: Uuid) -> Result<Value, Error> {
    let list = store::list(&app.db, user_id).await?;
    Ok(Value::Array(
        list.iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "created_at": rfc3339(p.created_at),
                    "last_used_at": p.last_used_at.map(rfc3339),
                })
            })
            .collect(),
    ))
}

/// Request options for an assertion by one of `user_id`'s credentials, the state stored for
/// `purpose` (and the pending sign-in, for the second step).
async fn begin_assertion(
    app: &App,
    req: &Request<'_>,
    user_id: Uuid,
    purpose: Purpose,
    pending_id: Option<Uuid>,
) -> Result<Reply, Error> {
    let rp = relying_party(&app.config)?;
    let passkeys: Vec<Passkey> = store::passkeys(&app.db, user_id)
        .await?
        .iter()
        .filter_map(|s| serde_json::from_str(&s.passkey).ok())
        .collect();
    if passkeys.is_empty() {
        return Err(Error::PasskeyNotEnrolled);
    }
    let (rcr, state) = rp
        .start_passkey_authentication(&passkeys)
        .map_err(|e| Error::Internal(format!("WebAuthn authentication: {e}")))?;
    let (opts, challenge) = options(&rcr)?;
    let state = state_json(&state)?;
    let begun = Begun {
        challenge: &challenge,
        purpose,
        user_id: Some(user_id),
        pending_id,
        state: &state,
    };
    store::begin(&app.db, &begun, req.now, CEREMONY_TTL).await?;
    Ok(Reply::json(200, &opts))
}

/// `POST /auth/mfa/verify/webauthn/start`: options for a step-up with a passkey.
pub async fn step_up_start(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let id = req.identity(app).await?;
    begin_assertion(app, req, id.user_id, Purpose::StepUp, None).await
}

#[derive(Deserialize, Default)]
struct PendingBody {
    #[serde(default)]
    mfa_token: Option<String>,
}

/// A body that may be absent: `{}` then.
fn optional_body<T: serde::de::DeserializeOwned + Default>(req: &Request<'_>) -> Result<T, Error> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    req.parse(Accepts::Json)
}

/// `POST /auth/login/mfa/webauthn/start`: options for the second step of a pending sign-in
/// (its cookie, or `{mfa_token}`). The ceremony belongs to that sign-in and ends with it.
pub async fn sign_in_start(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PendingBody = optional_body(req)?;
    let from_body = body.mfa_token.is_some();
    let cookie = cookies::find_one(
        req.meta
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
        &app.cookies.mfa_pending,
    );
    let token = body.mfa_token.as_deref().or(cookie);
    let pending = match token.and_then(invite_token::fingerprint) {
        Some(hash) => mfa_store::pending_sign_in(&app.db, &hash, req.now).await?,
        None => None,
    };
    let Some((pending_id, user_id)) = pending else {
        let reply = Reply::error(&Error::SignInExpired);
        return Ok(if from_body {
            reply
        } else {
            reply.cookies([app.cookies.clear(&app.cookies.mfa_pending)])
        });
    };
    begin_assertion(app, req, user_id, Purpose::SignIn, Some(pending_id)).await
}

/// `POST /auth/login/passkey/start`: options for a passwordless sign-in with a discoverable
/// credential (user verification required). The ceremony belongs to nobody: the credential
/// names its user.
pub async fn passkey_start(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let rp = relying_party(&app.config)?;
    // Anyone may start one, and each start keeps a row for five minutes: starts are held to
    // the sign-in rate per client address, in a bucket of their own, so a flood of them can
    // neither fill the table nor lock out the address's password sign-ins.
    let key = format!(
        "passkey_start:{}",
        crate::auth::limits::ip_key(req.meta.client_ip)
    );
    app.login_limits.reserve_now(&[&key])?.failed();
    let (rcr, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| Error::Internal(format!("WebAuthn authentication: {e}")))?;
    let (mut opts, challenge) = options(&rcr)?;
    // Asked for by a button, not offered in the username field's autofill.
    if let Some(o) = opts.as_object_mut() {
        o.remove("mediation");
    }
    let state = state_json(&state)?;
    let begun = Begun {
        challenge: &challenge,
        purpose: Purpose::Passkey,
        user_id: None,
        pending_id: None,
        state: &state,
    };
    store::begin(&app.db, &begun, req.now, CEREMONY_TTL).await?;
    Ok(Reply::json(200, &opts))
}

#[derive(Deserialize)]
struct PasskeyFinish {
    credential: Value,
    #[serde(default)]
    token_transport: Option<String>,
}

/// Takes an attempt from the client address's login limit: a failed passkey sign-in counts as
/// a failed sign-in. (No user key: the answer names a user only once it is checked.)
fn reserve_ip(app: &App, ip: Option<IpAddr>) -> Result<crate::auth::limits::Attempt, Error> {
    app.login_limits
        .reserve_now(&[&crate::auth::limits::ip_key(ip)])
}

/// `POST /auth/login/passkey/finish {credential}`: a two-factor session, answered as a login
/// is (cookies, or tokens in the body with `token_transport: "bearer"`). Anything that does not
/// hold is 401 `invalid_credentials`, as a wrong password is.
pub async fn passkey_finish(app: &App, req: &Request<'_>) -> Result<Reply, Error> {
    let body: PasskeyFinish = req.parse(Accepts::Json)?;
    let transport = transport(body.token_transport.as_deref())?;
    let (cred, challenge) = assertion(&body.credential)?;
    let rp = relying_party(&app.config)?;
    let attempt = match reserve_ip(app, req.meta.client_ip) {
        Ok(a) => a,
        Err(e) => {
            app.metrics.login("rate_limited");
            app.metrics
                .second_factor("passkey", "webauthn", "rate_limited");
            return Err(e);
        }
    };
    let credential_id = cred.raw_id.to_vec();
    let check = |state: &str, user_id: Uuid, stored: &StoredPasskey| -> Option<Used> {
        let state: DiscoverableAuthentication = serde_json::from_str(state).ok()?;
        // The user handle the authenticator returned must be the credential's user.
        let (handle, _) = rp.identify_discoverable_authentication(&cred).ok()?;
        if handle != user_id {
            return None;
        }
        let mut pk: Passkey = serde_json::from_str(&stored.passkey).ok()?;
        let result = rp
            .finish_discoverable_authentication(&cred, state, &[DiscoverableKey::from(&pk)])
            .map_err(|e| rejected("passkey sign-in", &e))
            .ok()?;
        pk.update_credential(&result);
        Some(Used {
            index: 0,
            passkey: serde_json::to_string(&pk).ok()?,
            counter: result.counter(),
        })
    };
    let new = NewSession {
        user_id: Uuid::nil(),
        credential_version: 0,
        ip: req.meta.client_ip,
        user_agent: req.meta.header("user-agent").map(|ua| truncate(ua, 512)),
        now: req.now,
        ttl: app.config.session_ttl,
        mfa: true,
    };
    match store::passkey_sign_in(&app.db, &challenge, &credential_id, &check, &new).await? {
        PasskeySignIn::SignedIn {
            session,
            user_id,
            username,
        } => {
            app.metrics.login("ok");
            app.metrics.second_factor("passkey", "webauthn", "ok");
            let event = Event::new(audit::Kind::LoginOk)
                .user(user_id)
                .session(session.id)
                .ip(req.meta.client_ip);
            audit::record(&app.db, event.detail("passkey")).await;
            let pair = Pair::mint(app, user_id, &username, session, 0, req.now)?;
            Ok(issue(app, &pair, transport))
        }
        PasskeySignIn::Rejected { user_id } => {
            attempt.failed();
            app.metrics.login("failed");
            app.metrics
                .second_factor("passkey", "webauthn", "invalid_code");
            let mut event = Event::new(audit::Kind::MfaFailed).ip(req.meta.client_ip);
            if let Some(user_id) = user_id {
                event = event.user(user_id);
            }
            audit::record(&app.db, event.detail("passkey sign-in refused")).await;
            Err(Error::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_comes_from_client_data_and_nothing_else_passes() {
        let c = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let data = format!(r#"{{"type":"webauthn.get","challenge":"{c}","origin":"x"}}"#);
        assert_eq!(challenge_of(data.as_bytes()).unwrap(), vec![7u8; 32]);
        for bad in [
            "".to_string(),
            "{}".to_string(),
            r#"{"challenge":"***"}"#.to_string(),
            format!(r#"{{"challenge":"{}"}}"#, URL_SAFE_NO_PAD.encode([1u8; 8])),
            format!(r#"{{"challenge":"{}"}}"#, URL_SAFE_NO_PAD.encode([1u8; 65])),
        ] {
            let e = challenge_of(bad.as_bytes()).unwrap_err();
            assert_eq!(e.describe().status, 422, "{bad}");
        }
    }

    #[test]
    fn passkey_names_are_bounded_and_printable() {
        assert_eq!(passkey_name("  Laptop  ").unwrap(), "Laptop");
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            assert!(passkey_name(bad).is_err(), "{bad:?}");
        }
        assert!(passkey_name(&"é".repeat(64)).is_ok());
    }
}
