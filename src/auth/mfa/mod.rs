//! Second factors (docs/contract.md §10): TOTP (`totp.rs`) and recovery codes (`recovery.rs`),
//! pure; the sign-in's second step (`sign_in.rs`); and the routes that set them up, list,
//! remove and step up with them (`manage.rs`). The store (`store/mfa.rs`) keeps them and spends
//! codes atomically; what a presented code is checked with is built here ([`Presented`]).
//!
//! Passkeys (WebAuthn, `webauthn.rs`) slot in beside TOTP: one more [`Presented`] kind, one
//! more `Proof` and factor table in the store, one more name in `methods`.

pub mod forms;
mod manage;
pub mod recovery;
pub mod sign_in;
pub mod totp;
pub mod webauthn;

use std::net::IpAddr;

use time::OffsetDateTime;

use super::limits::{self, Attempt};
use super::{input, Identity};
use crate::error::Error;
use crate::store::mfa::{Proof, StoredCode};
use crate::store::users;
use crate::store::webauthn::{self as webauthn_store, StoredPasskey, Used};
use crate::App;
pub use manage::{confirm_totp, remove_totp, renew_codes, start_totp, status, verify};
pub use webauthn::{
    passkey_finish, passkey_start, register_finish, register_start, remove as remove_passkey,
    sign_in_start as webauthn_sign_in_start, step_up_start as webauthn_step_up_start,
};

type TotpCheck = Box<dyn Fn(&[u8]) -> Option<i64> + Send + Sync>;
type RecoveryCheck = Box<dyn Fn(&[StoredCode]) -> Option<usize> + Send + Sync>;
type WebauthnCheck = Box<dyn Fn(&str, &[StoredPasskey]) -> Option<Used> + Send + Sync>;

enum Check {
    Totp(TotpCheck),
    Recovery(RecoveryCheck),
    Webauthn {
        challenge: Vec<u8>,
        purpose: webauthn_store::Purpose,
        check: WebauthnCheck,
    },
}

/// A code a client presented, checked for shape and ready to be checked against the store.
pub struct Presented(Check);

impl Presented {
    /// `method` is `totp` (six digits) or `recovery` (`xxxx-xxxx-xxxx`); anything else, or a
    /// code that cannot be one (spaces, wrong length, other characters), is 422 before anything
    /// is read or counted.
    pub fn parse(method: &str, code: &str, now: OffsetDateTime) -> Result<Self, Error> {
        let now = now.unix_timestamp();
        match method {
            "totp" => {
                if !totp::well_formed(code) {
                    return Err(Error::Invalid(
                        "A TOTP code is exactly 6 digits, without spaces.".into(),
                    ));
                }
                let code = code.to_string();
                Ok(Self(Check::Totp(Box::new(move |secret| {
                    totp::matching_step(secret, &code, now)
                }))))
            }
            "recovery" => {
                let code = recovery::canonical(code).ok_or_else(|| {
                    Error::Invalid(
                        "A recovery code is 12 letters and digits, written xxxx-xxxx-xxxx.".into(),
                    )
                })?;
                Ok(Self(Check::Recovery(Box::new(move |stored| {
                    recovery::find(stored, &code)
                }))))
            }
            "webauthn" => Err(Error::Invalid(
                "method \"webauthn\" takes a credential, not a code.".into(),
            )),
            _ => Err(Error::Invalid(
                "method must be \"totp\", \"recovery\" or \"webauthn\".".into(),
            )),
        }
    }

    pub fn proof(&self) -> Proof<'_> {
        match &self.0 {
            Check::Totp(f) => Proof::Totp(f.as_ref()),
            Check::Recovery(f) => Proof::Recovery(f.as_ref()),
            Check::Webauthn {
                challenge,
                purpose,
                check,
            } => Proof::Webauthn(webauthn_store::Proof {
                challenge,
                purpose: *purpose,
                check: check.as_ref(),
            }),
        }
    }

    pub fn method(&self) -> &'static str {
        self.proof().method()
    }

    /// What a second step or step-up body presents: a `code` for `totp` and `recovery`, a
    /// `credential` (an answer to the ceremony begun for `purpose`) for `webauthn`.
    pub fn from_body(
        config: &crate::config::Config,
        method: &str,
        code: Option<&str>,
        credential: Option<&serde_json::Value>,
        purpose: webauthn_store::Purpose,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        match (method, code, credential) {
            ("webauthn", _, Some(c)) => Self::webauthn(config, c, purpose),
            ("webauthn", _, None) => Err(Error::Invalid(
                "method \"webauthn\" needs a credential.".into(),
            )),
            (method, Some(code), _) => Self::parse(method, code, now),
            (method, None, _) => {
                // An unknown method is named as such before a missing code.
                Self::parse(method, "", now)
            }
        }
    }
}

/// Takes an attempt from the login limits (docs/contract.md §1 `GATEHOUSE_LOGIN_RATE`) of the
/// client address and the user, as a password check does: a wrong code counts as a failed
/// sign-in against both, a right one costs nothing.
fn reserve(app: &App, ip: Option<IpAddr>, canonical_username: &str) -> Result<Attempt, Error> {
    let (ip_key, user_key) = (limits::ip_key(ip), limits::user_key(canonical_username));
    app.login_limits.reserve_now(&[&ip_key, &user_key])
}

/// The canonical form of a signed-in user's name, as the limits key it.
fn canonical(id: &Identity) -> String {
    input::username(id.username()).map_or_else(|_| id.user_id.to_string(), |n| n.canonical)
}

/// Checks the password re-entered to change a factor, under the login limits: a stolen
/// session cannot guess it faster than a sign-in could.
async fn confirm_password(
    app: &App,
    id: &Identity,
    ip: Option<IpAddr>,
    password: &str,
) -> Result<(), Error> {
    let attempt = reserve(app, ip, &canonical(id))?;
    let hash = users::password_hash(&app.db, id.user_id).await?;
    if app.hasher.verify(password, hash.as_deref()).await? {
        Ok(())
    } else {
        attempt.failed();
        Err(Error::InvalidCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_codes_and_unknown_methods_are_refused_before_anything_is_checked() {
        let now = OffsetDateTime::UNIX_EPOCH;
        for (method, code) in [
            ("totp", "12345"),
            ("totp", "123 456"),
            ("totp", "abcdef"),
            ("recovery", "abcd-efgh"),
            ("recovery", "abcd efgh jk23"),
            ("webauthn", "123456"),
            ("", "123456"),
            ("TOTP", "123456"),
        ] {
            match Presented::parse(method, code, now) {
                Err(e) => assert_eq!(
                    (e.describe().status, e.describe().code),
                    (422, "invalid_request"),
                    "{method} {code}"
                ),
                Ok(_) => panic!("{method} {code:?} accepted"),
            }
        }
        assert_eq!(
            Presented::parse("totp", "123456", now).unwrap().method(),
            "totp"
        );
        assert_eq!(
            Presented::parse("recovery", "abcd-efgh-jk23", now)
                .unwrap()
                .method(),
            "recovery"
        );
    }

    #[test]
    fn a_presented_totp_code_checks_against_the_secret_at_its_time() {
        let key = b"12345678901234567890";
        let at = OffsetDateTime::from_unix_timestamp(59).unwrap();
        let p = Presented::parse("totp", "287082", at).unwrap();
        let Proof::Totp(check) = p.proof() else {
            panic!("a TOTP proof")
        };
        assert_eq!(check(key), Some(1));
        assert_eq!(check(b"another secret, 20 b"), None);
    }
}
