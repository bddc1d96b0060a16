//! The signed identity assertion (docs/contract.md §11): `X-Auth-Assertion`, a short JWT that
//! tells the upstream who a request is in a form only the gateway can make, and the JWKS that
//! publishes the keys to check it with. Keys are read once at start (`GATEHOUSE_ASSERTION_KEYS`);
//! the first signs, every one is published, so a key is rotated by listing the new one first.
//!
//! Signing costs tens of microseconds, so an assertion is minted once per session and audience
//! and reused until half its lifetime has passed ([`Minted`], kept on the cached session:
//! when the session's groups or second factor change, the session is read again and its
//! assertions go with the old copy).

use std::path::{Path, PathBuf};

use http::HeaderValue;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::identity::Identity;
use crate::error::Error;

/// How long an assertion is valid: long enough for a slow upstream to read it, short enough
/// that a copy leaked from a log is soon worthless.
pub const LIFETIME_SECS: i64 = 60;
/// An assertion is reused until it is this old; an upstream then always gets one with at
/// least half its lifetime left.
const REUSE_SECS: i64 = LIFETIME_SECS / 2;

/// One configured key: its signing half and its public JWK.
struct Key {
    path: PathBuf,
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    /// The public JWK as published.
    jwk: serde_json::Value,
}

/// The configured assertion keys. `Debug` shows paths and key ids only.
pub struct AssertionKeys {
    keys: Vec<Key>,
    /// The header of every assertion: the first key's `alg` and `kid`.
    header: Header,
    /// `{"keys":[…]}`, serialised once.
    jwks: String,
}

impl std::fmt::Debug for AssertionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.path.display(), &k.kid)))
            .finish()
    }
}

/// The claims of docs/contract.md §11.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: uuid::Uuid,
    name: &'a str,
    sid: uuid::Uuid,
    groups: Vec<&'a str>,
    mfa: bool,
    iat: i64,
    exp: i64,
}

impl AssertionKeys {
    /// Reads every file of `paths`, in order. The error names the file and what is wrong with
    /// it, and never quotes what it holds.
    pub fn load(paths: &[PathBuf]) -> Result<Self, String> {
        let mut keys: Vec<Key> = Vec::with_capacity(paths.len());
        for path in paths {
            let key = read_key(path)?;
            if let Some(same) = keys.iter().find(|k| k.kid == key.kid) {
                return Err(format!(
                    "{} is the same key as {}",
                    path.display(),
                    same.path.display()
                ));
            }
            keys.push(key);
        }
        let first = keys.first().ok_or("names no key file")?;
        let mut header = Header::new(first.alg);
        header.kid = Some(first.kid.clone());
        let jwks = serde_json::json!({ "keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>() })
            .to_string();
        Ok(Self { keys, header, jwks })
    }

    /// The keys `config` names, or `None` when it names none; a file that cannot be used is
    /// a configuration error naming it (exit 2).
    pub fn from_config(
        config: &crate::config::Config,
    ) -> Result<Option<Self>, crate::config::ConfigError> {
        match config.assertion_keys.as_slice() {
            [] => Ok(None),
            paths => Self::load(paths).map(Some).map_err(|m| {
                crate::config::ConfigError::new("GATEHOUSE_ASSERTION_KEYS (assertion_keys)", m)
            }),
        }
    }

    /// The key ids, signing key first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The published key set.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// A fresh assertion of `identity` for `aud`, issued by `iss` at `now`.
    fn sign(&self, identity: &Identity, iss: &str, aud: &str, now: i64) -> Result<String, Error> {
        let claims = Claims {
            iss,
            aud,
            sub: identity.user_id,
            name: identity.username(),
            sid: identity.session_id,
            groups: identity.groups().collect(),
            mfa: identity.mfa,
            iat: now,
            exp: now + LIFETIME_SECS,
        };
        let key = &self.keys[0].encoding;
        jsonwebtoken::encode(&self.header, &claims, key)
            .map_err(|e| Error::Internal(format!("cannot sign the assertion: {e}")))
    }

    /// The assertion for `identity` towards `aud` (already normalised: port dropped, lower
    /// case): the one minted for its session and audience when it is young enough, else a
    /// new one, remembered.
    pub fn assert(
        &self,
        identity: &Identity,
        iss: &str,
        aud: &str,
        now: i64,
    ) -> Result<HeaderValue, Error> {
        let minted = identity.minted();
        if let Some(value) = minted.and_then(|m| m.get(aud, now, REUSE_SECS)) {
            return Ok(value);
        }
        let token = self.sign(identity, iss, aud, now)?;
        let value = HeaderValue::try_from(token)
            .map_err(|_| Error::Internal("the assertion is not a header value".into()))?;
        if let Some(m) = minted {
            m.put(aud, now, value.clone());
        }
        Ok(value)
    }
}

/// `GET /.well-known/jwks.json`: every configured public key; `{"keys":[]}` when none is
/// configured, so a verifier reads "no key" rather than an error. Caches may keep it five
/// minutes, which is why a new key is published before it signs (README: rotation).
pub fn jwks_reply(app: &crate::App) -> crate::reply::Reply {
    let body = app
        .assertions
        .as_ref()
        .map_or(r#"{"keys":[]}"#, AssertionKeys::jwks);
    crate::reply::Reply::raw_json(200, body).header("cache-control", "max-age=300")
}

/// A file's key: PEM, PKCS#8, Ed25519 or P-256.
fn read_key(path: &Path) -> Result<Key, String> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let (label, der) = pem_rfc7468::decode_vec(&text)
        .map_err(|_| format!("{shown} is not a PEM file holding one key"))?;
    match label {
        "PRIVATE KEY" => {}
        "EC PRIVATE KEY" => {
            return Err(format!(
                "{shown} holds a SEC1 EC key; convert it to PKCS#8 \
                 (openssl pkcs8 -topk8 -nocrypt -in old.pem -out new.pem)"
            ))
        }
        "ENCRYPTED PRIVATE KEY" => {
            return Err(format!(
                "{shown} is encrypted; the gateway reads unencrypted PKCS#8"
            ))
        }
        other => return Err(format!("{shown} holds a {other}, not a PKCS#8 private key")),
    }
    let not_ours = || format!("{shown} is not an Ed25519 or P-256 private key");
    let (alg, encoding) = [
        (Algorithm::EdDSA, EncodingKey::from_ed_der(&der)),
        (Algorithm::ES256, EncodingKey::from_ec_der(&der)),
    ]
    .into_iter()
    // Deriving the public half parses the key: a file that is not one of ours fails here.
    .find(|(alg, key)| Jwk::from_encoding_key(key, *alg).is_ok())
    .ok_or_else(not_ours)?;
    let public = Jwk::from_encoding_key(&encoding, alg).map_err(|_| not_ours())?;
    let kid = thumbprint(&public).ok_or_else(not_ours)?;
    let mut jwk = match &public.algorithm {
        AlgorithmParameters::OctetKeyPair(p) => {
            serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": p.x })
        }
        AlgorithmParameters::EllipticCurve(p) => {
            serde_json::json!({ "kty": "EC", "crv": "P-256", "x": p.x, "y": p.y })
        }
        _ => return Err(not_ours()),
    };
    jwk["kid"] = kid.clone().into();
    jwk["alg"] = if alg == Algorithm::EdDSA {
        "EdDSA"
    } else {
        "ES256"
    }
    .into();
    jwk["use"] = "sig".into();
    Ok(Key {
        path: path.to_path_buf(),
        kid,
        alg,
        encoding,
        jwk,
    })
}

/// The RFC 7638 thumbprint (SHA-256 of the key's required members in canonical JSON).
fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and its thumbprint.
    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    /// RFC 8037 appendix A.3: the Ed25519 key of A.1 and its RFC 7638 thumbprint.
    #[test]
    fn the_thumbprint_of_an_ed25519_key_is_rfc_8037s() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
    }

    fn pem_file(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gatehouse-assertion-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// RFC 8032 §7.1 test 1's secret key in PKCS#8 (RFC 8410 §10.3).
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn a_known_ed25519_key_publishes_its_public_half_under_its_thumbprint() {
        let keys = AssertionKeys::load(&[pem_file("ed.pem", ED25519_PEM)]).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(keys.jwks()).unwrap();
        let key = &jwks["keys"][0];
        // RFC 8032's public key for that secret.
        assert_eq!(key["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key["kid"], "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(
            (key["kty"].as_str(), key["alg"].as_str()),
            (Some("OKP"), Some("EdDSA"))
        );
        assert!(key.get("d").is_none(), "never the private half");
        assert!(!format!("{keys:?}").contains("MC4C"));
    }

    #[test]
    fn files_that_are_not_our_keys_are_refused_by_name() {
        let missing = PathBuf::from("/nonexistent/key.pem");
        let e = AssertionKeys::load(std::slice::from_ref(&missing)).unwrap_err();
        assert!(e.contains("/nonexistent/key.pem"), "{e}");
        let garbage = pem_file("bad.pem", "not a key\n");
        let e = AssertionKeys::load(std::slice::from_ref(&garbage)).unwrap_err();
        assert!(e.contains("bad.pem") && e.contains("PEM"), "{e}");
        let cert = pem_file(
            "c.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = AssertionKeys::load(&[cert]).unwrap_err();
        assert!(e.contains("CERTIFICATE"), "{e}");
        let e = AssertionKeys::load(&[]).unwrap_err();
        assert!(e.contains("no key"), "{e}");
        let twice = [
            pem_file("a.pem", ED25519_PEM),
            pem_file("b.pem", ED25519_PEM),
        ];
        let e = AssertionKeys::load(&twice).unwrap_err();
        assert!(e.contains("same key"), "{e}");
        assert!(!e.contains("MC4C"));
    }
}
