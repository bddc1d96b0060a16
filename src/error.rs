//! The gateway's error type and the one table that turns an error into a status, a stable code
//! and a human sentence. Causes of 5xx are logged, never sent.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("username taken")]
    UsernameTaken,
    #[error("registration closed")]
    RegistrationClosed,
    /// Registration is by invite only and none was given: `registration_closed`, saying how.
    #[error("registration by invite only")]
    InviteRequired,
    #[error("invalid invite")]
    InvalidInvite,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("invalid token")]
    InvalidToken,
    #[error("token reused")]
    TokenReused,
    #[error("unauthorized")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    /// A route or rule denies the request, or the signed-in user is not in its `allow`.
    #[error("forbidden")]
    Forbidden,
    /// A `two_factor` route, and the session's sign-in used one factor.
    #[error("second factor required")]
    MfaRequired,
    /// A second-factor code that does not hold (wrong, replayed, or of a factor not set up).
    #[error("invalid code")]
    InvalidCode,
    /// No pending sign-in to finish: none was started, or it expired or failed five times.
    #[error("sign-in expired")]
    SignInExpired,
    /// The account has no second factor for what was asked.
    #[error("no second factor")]
    MfaNotEnrolled,
    /// An authenticator app is set up already; it must be removed before another is.
    #[error("totp already enabled")]
    TotpEnabled,
    /// Confirming an authenticator app that was not started (or was replaced meanwhile).
    #[error("no totp enrolment pending")]
    TotpNotPending,
    /// No WebAuthn relying party: the public URL is an IP address and no id was configured.
    #[error("passkeys unavailable")]
    WebauthnUnavailable,
    /// A WebAuthn ceremony for a user without a passkey.
    #[error("no passkey")]
    PasskeyNotEnrolled,
    /// Finishing a passkey registration that was not started (or was finished or expired).
    #[error("no passkey registration pending")]
    WebauthnNotPending,
    /// The authenticator's credential is registered already.
    #[error("passkey already registered")]
    PasskeyExists,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("cross-site request")]
    Csrf,
    #[error("bad path")]
    BadPath,
    #[error("bad gateway")]
    BadGateway,
    #[error("gateway timeout")]
    GatewayTimeout,
    #[error("request timeout")]
    RequestTimeout,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// More sign-ins are waiting for bcrypt than it can serve soon: shed, not queued.
    #[error("too many sign-ins at once")]
    Busy,
    #[error("internal: {0}")]
    Internal(String),
}

/// What the client is told.
pub struct Described {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Headers the status needs: `WWW-Authenticate` on every 401 (RFC 9110 §15.5.2),
    /// `Retry-After` on 429 and a shed 503, `Allow` on 405.
    pub headers: Vec<(&'static str, String)>,
}

/// The challenge every 401 carries (docs/contract.md §5).
pub const CHALLENGE: &str = "Bearer realm=\"gatehouse\"";

impl Error {
    pub fn describe(&self) -> Described {
        let mut d = self.describe_body();
        if d.status == 401 {
            d.headers.push(("www-authenticate", CHALLENGE.into()));
        }
        match self {
            Error::RateLimited { retry_after_secs } => {
                d.headers
                    .push(("retry-after", retry_after_secs.to_string()));
            }
            Error::MethodNotAllowed { allow } => d.headers.push(("allow", (*allow).into())),
            Error::Busy => d.headers.push(("retry-after", "1".into())),
            _ => {}
        }
        d
    }

    fn describe_body(&self) -> Described {
        let d = |status, code, message: &str| Described {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        };
        match self {
            Error::Malformed(m) => d(400, "invalid_request", m),
            Error::Invalid(m) => d(422, "invalid_request", m),
            Error::UsernameTaken => d(409, "username_taken", "That username is already taken."),
            Error::RegistrationClosed => d(
                403,
                "registration_closed",
                "Registration is closed on this gateway.",
            ),
            Error::InviteRequired => d(
                403,
                "registration_closed",
                "Sign-up on this gateway needs an invite link.",
            ),
            Error::InvalidInvite => d(
                403,
                "invalid_invite",
                "This invite is not valid: it is unknown, used up, expired or revoked.",
            ),
            Error::InvalidCredentials => d(
                401,
                "invalid_credentials",
                "The username or password is incorrect.",
            ),
            Error::RateLimited { retry_after_secs } => d(
                429,
                "rate_limited",
                &format!(
                    "Too many failed attempts; try again in {}.",
                    crate::clock::in_words(std::time::Duration::from_secs(*retry_after_secs))
                ),
            ),
            Error::InvalidToken => d(401, "invalid_token", "The refresh token is not valid."),
            Error::TokenReused => d(
                401,
                "token_reused",
                "The refresh token was already used; the session has been signed out.",
            ),
            Error::Unauthorized => d(401, "unauthorized", "Sign-in is required."),
            Error::NotFound => d(404, "not_found", "Nothing is here."),
            Error::Forbidden => d(403, "forbidden", "You do not have access to this page."),
            Error::MfaRequired => d(
                403,
                "mfa_required",
                "This page needs a sign-in with a second factor.",
            ),
            Error::InvalidCode => d(401, "invalid_code", "The code is not valid."),
            Error::SignInExpired => d(
                401,
                "sign_in_expired",
                "No sign-in is waiting for a second factor (it expired or had too many wrong \
                 codes); sign in with your password again.",
            ),
            Error::MfaNotEnrolled => d(
                409,
                "mfa_not_enrolled",
                "This account has no second factor set up.",
            ),
            Error::TotpEnabled => d(
                409,
                "totp_enabled",
                "An authenticator app is already set up; remove it before adding another.",
            ),
            Error::TotpNotPending => d(
                409,
                "totp_not_pending",
                "No authenticator app is being set up; start again with POST /auth/mfa/totp.",
            ),
            Error::WebauthnUnavailable => d(
                404,
                "webauthn_unavailable",
                "Passkeys are not available: the gateway's public URL is an IP address (set \
                 GATEHOUSE_PUBLIC_URL to a host name, or GATEHOUSE_WEBAUTHN_RP_ID).",
            ),
            Error::PasskeyNotEnrolled => d(
                409,
                "passkey_not_enrolled",
                "This account has no passkey or security key.",
            ),
            Error::WebauthnNotPending => d(
                409,
                "webauthn_not_pending",
                "No passkey registration is waiting (it expired or was finished); start again.",
            ),
            Error::PasskeyExists => d(
                409,
                "passkey_exists",
                "This passkey or security key is registered already.",
            ),
            Error::MethodNotAllowed { .. } => d(
                405,
                "method_not_allowed",
                "This method is not allowed on this route.",
            ),
            Error::PayloadTooLarge => d(
                413,
                "payload_too_large",
                "The request body is larger than 16 KiB.",
            ),
            Error::UnsupportedMediaType => d(
                415,
                "unsupported_media_type",
                "Send application/json or application/x-www-form-urlencoded.",
            ),
            Error::Csrf => d(403, "csrf", "Cross-site requests are not allowed here."),
            Error::BadPath => d(400, "bad_path", "The request path is not acceptable."),
            Error::BadGateway => d(502, "bad_gateway", "The upstream service did not answer."),
            Error::RequestTimeout => d(
                408,
                "request_timeout",
                "The request did not arrive in time.",
            ),
            Error::GatewayTimeout => d(
                504,
                "gateway_timeout",
                "The upstream service did not answer in time.",
            ),
            Error::Store(StoreError::Unavailable(_)) => d(
                503,
                "unavailable",
                "The service is temporarily unavailable; try again shortly.",
            ),
            Error::Busy => d(
                503,
                "unavailable",
                "Too many sign-ins at once; try again in a moment.",
            ),
            Error::Store(StoreError::Query(_)) | Error::Internal(_) => {
                d(500, "internal", "Something went wrong on our side.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_outages_are_503_and_say_nothing_internal() {
        let e = Error::Store(StoreError::unavailable("connect 10.0.0.7:5432 refused"));
        let d = e.describe();
        assert_eq!((d.status, d.code), (503, "unavailable"));
        assert!(!d.message.contains("10.0.0.7"));
    }

    #[test]
    fn every_401_carries_a_challenge_and_the_other_headers_come_from_the_table() {
        for e in [
            Error::Unauthorized,
            Error::InvalidCredentials,
            Error::InvalidToken,
            Error::TokenReused,
            Error::InvalidCode,
            Error::SignInExpired,
        ] {
            let d = e.describe();
            assert_eq!(d.status, 401);
            assert_eq!(d.headers, [("www-authenticate", CHALLENGE.to_string())]);
        }
        let d = Error::RateLimited {
            retry_after_secs: 7,
        }
        .describe();
        assert_eq!(d.headers, [("retry-after", "7".to_string())]);
        assert_eq!(
            d.message,
            "Too many failed attempts; try again in 7 seconds."
        );
        let d = Error::MethodNotAllowed { allow: "GET, HEAD" }.describe();
        assert_eq!(d.headers, [("allow", "GET, HEAD".to_string())]);
        assert!(Error::NotFound.describe().headers.is_empty());
    }
}
