//! Minting and verifying the gateway's JWTs (docs/contract.md §3). Pure: no I/O, `now` passed in.
//! Only HS256 is accepted, and every claim is checked for presence, type and value.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "gatehouse";
pub const AUDIENCE: &str = "gatehouse";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Access,
    Refresh,
}

/// The claims of both token kinds. Unknown fields are ignored; the types of known ones are
/// strict, so `"exp": "9999999999"` fails to parse instead of counting as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub sid: Uuid,
    pub typ: Kind,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed or its signature does not verify")]
    Invalid,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is of the wrong kind")]
    WrongKind,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>();
        // Time is checked below against the caller's `now`, so tests control it.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs a token of `kind` for session `sid`, valid from `now` until `exp`.
    pub fn mint(
        &self,
        kind: Kind,
        sub: Uuid,
        sid: Uuid,
        gen: Option<i64>,
        now: i64,
        exp: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub,
            sid,
            typ: kind,
            iat: now,
            exp,
            nbf: None,
            jti: Uuid::new_v4(),
            gen,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies signature, algorithm, issuer, audience, claim types, time and kind.
    pub fn verify(&self, token: &str, kind: Kind, now: i64) -> Result<Claims, TokenError> {
        let claims = self.verify_signature(token)?;
        if claims.exp <= now - LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(TokenError::NotYetValid);
        }
        if claims.typ != kind || (kind == Kind::Refresh) != claims.gen.is_some() {
            return Err(TokenError::WrongKind);
        }
        Ok(claims)
    }

    /// Whether `token` was signed by this gateway at all (used to strip it before forwarding).
    pub fn is_ours(&self, token: &str) -> bool {
        self.verify_signature(token).is_ok()
    }

    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        // A token is three base64url parts; anything far larger is not ours.
        if token.len() > 4096 {
            return Err(TokenError::Invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

/// Seconds since the epoch of a duration added to `now`, saturating.
pub fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn keys() -> Keys {
        Keys::new(SECRET)
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn signed(header: serde_json::Value, claims: serde_json::Value, alg: Algorithm) -> String {
        let _ = header;
        let mut h = Header::new(alg);
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    fn claims(kind: &str) -> serde_json::Value {
        serde_json::json!({
            "iss": "gatehouse", "aud": "gatehouse", "sub": Uuid::nil(), "sid": Uuid::nil(),
            "typ": kind, "iat": NOW, "exp": NOW + 60, "jti": Uuid::nil(),
        })
    }

    #[test]
    fn a_minted_access_token_verifies() {
        let k = keys();
        let sid = Uuid::new_v4();
        let t = k
            .mint(Kind::Access, Uuid::nil(), sid, None, NOW, NOW + 60)
            .unwrap();
        let c = k.verify(&t, Kind::Access, NOW).unwrap();
        assert_eq!(c.sid, sid);
        assert_eq!(k.verify(&t, Kind::Refresh, NOW), Err(TokenError::WrongKind));
    }

    #[test]
    fn a_refresh_token_carries_its_generation() {
        let k = keys();
        let t = k
            .mint(
                Kind::Refresh,
                Uuid::nil(),
                Uuid::nil(),
                Some(4),
                NOW,
                NOW + 60,
            )
            .unwrap();
        assert_eq!(k.verify(&t, Kind::Refresh, NOW).unwrap().gen, Some(4));
        assert_eq!(k.verify(&t, Kind::Access, NOW), Err(TokenError::WrongKind));
    }

    #[test]
    fn expiry_allows_five_seconds_of_leeway_and_no_more() {
        let k = keys();
        let t = k
            .mint(Kind::Access, Uuid::nil(), Uuid::nil(), None, NOW, NOW + 60)
            .unwrap();
        assert!(k.verify(&t, Kind::Access, NOW + 64).is_ok());
        assert_eq!(
            k.verify(&t, Kind::Access, NOW + 65),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_future_nbf_is_refused() {
        let mut c = claims("access");
        c["nbf"] = (NOW + 30).into();
        let t = signed(serde_json::Value::Null, c, Algorithm::HS256);
        assert_eq!(
            keys().verify(&t, Kind::Access, NOW),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_string_exp_is_invalid() {
        let mut c = claims("access");
        c["exp"] = serde_json::Value::String((NOW + 60).to_string());
        let t = signed(serde_json::Value::Null, c, Algorithm::HS256);
        assert_eq!(
            keys().verify(&t, Kind::Access, NOW),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_missing_exp_is_invalid() {
        let mut c = claims("access");
        c.as_object_mut().unwrap().remove("exp");
        let t = signed(serde_json::Value::Null, c, Algorithm::HS256);
        assert_eq!(
            keys().verify(&t, Kind::Access, NOW),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn other_algorithms_issuers_and_audiences_are_refused() {
        let k = keys();
        let hs512 = signed(serde_json::Value::Null, claims("access"), Algorithm::HS512);
        assert_eq!(
            k.verify(&hs512, Kind::Access, NOW),
            Err(TokenError::Invalid)
        );
        let mut c = claims("access");
        c["iss"] = "someone-else".into();
        let t = signed(serde_json::Value::Null, c, Algorithm::HS256);
        assert_eq!(k.verify(&t, Kind::Access, NOW), Err(TokenError::Invalid));
        let mut c = claims("access");
        c["aud"] = "someone-else".into();
        let t = signed(serde_json::Value::Null, c, Algorithm::HS256);
        assert_eq!(k.verify(&t, Kind::Access, NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let header = b64(&serde_json::json!({"alg": "none", "typ": "JWT"}));
        let t = format!("{header}.{}.", b64(&claims("access")));
        assert_eq!(
            keys().verify(&t, Kind::Access, NOW),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn another_key_is_refused() {
        let other = Keys::new(b"another-secret-another-secret-xx");
        let t = other
            .mint(Kind::Access, Uuid::nil(), Uuid::nil(), None, NOW, NOW + 60)
            .unwrap();
        assert_eq!(
            keys().verify(&t, Kind::Access, NOW),
            Err(TokenError::Invalid)
        );
        assert!(!keys().is_ours(&t));
    }

    #[test]
    fn garbage_never_panics() {
        for t in ["", ".", "..", "a.b.c", "\u{0}", &"x".repeat(10_000)] {
            assert_eq!(
                keys().verify(t, Kind::Access, NOW),
                Err(TokenError::Invalid)
            );
        }
    }
}
