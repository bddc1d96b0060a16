//! Invite tokens (docs/contract.md §9): 32 bytes from the operating system's CSPRNG, written
//! as base64url without padding, and the SHA-256 of that text, which is all the database
//! keeps. Pure apart from the random bytes; no I/O.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The length of a token's text: 32 bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;

/// A new invite: the token for the link, shown once, and the fingerprint that is stored.
pub struct Minted {
    pub token: String,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minted(***)")
    }
}

pub fn mint() -> Result<Minted, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = digest(&token);
    Ok(Minted { token, hash })
}

/// The stored fingerprint of `token`, or `None` when it cannot be a token at all, so that
/// garbage costs no database query.
pub fn fingerprint(token: &str) -> Option<[u8; 32]> {
    let shaped = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| digest(token))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_is_43_url_safe_characters_whose_fingerprint_is_the_stored_hash() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        assert_eq!(a.token.len(), TOKEN_LEN);
        assert_ne!(a.token, b.token);
        assert_eq!(fingerprint(&a.token), Some(a.hash));
        assert_ne!(a.hash, b.hash);
        assert!(!format!("{a:?}").contains(&a.token));
    }

    #[test]
    fn the_fingerprint_is_sha256_of_the_text() {
        let token = "A".repeat(TOKEN_LEN);
        let expected: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        assert_eq!(fingerprint(&token), Some(expected));
    }

    #[test]
    fn text_that_cannot_be_a_token_has_no_fingerprint() {
        let ok = "a".repeat(TOKEN_LEN);
        for bad in [
            String::new(),
            "a".repeat(TOKEN_LEN - 1),
            "a".repeat(TOKEN_LEN + 1),
            format!("{}=", "a".repeat(TOKEN_LEN - 1)),
            format!("{}+", "a".repeat(TOKEN_LEN - 1)),
            format!("{}é", "a".repeat(TOKEN_LEN - 2)),
            format!(" {}", "a".repeat(TOKEN_LEN - 1)),
        ] {
            assert_eq!(fingerprint(&bad), None, "{bad:?}");
        }
        assert!(fingerprint(&ok).is_some());
    }
}
