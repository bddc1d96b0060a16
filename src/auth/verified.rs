//! Access tokens already verified, remembered so a client's repeated requests skip the base64,
//! JSON and HMAC work: the first of the cheap checks on the hot path.

use super::tokens::{self, Kind};
use uuid::Uuid;

/// What a verified access token says; all the hot path needs of it.
#[derive(Debug, Clone, Copy)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub exp: i64,
}

/// Access tokens whose signature and claims were already verified, so a client's repeated
/// requests skip the base64, JSON and HMAC work. A fixed table of slots: no allocation per
/// entry, bounded memory, and a lock per slot (no lock that all requests share). A collision
/// only evicts. Expiry is still checked on every hit, and the session behind the token on
/// every request.
///
/// A token is remembered under its signature segment alone. The signature is an HMAC over the
/// rest of the token under our key, so the only way to present a remembered signature is to
/// hold the token it came from, and that already grants the remembered claims: whatever else
/// is sent beside it, the answer is the claims that were verified. This replaces hashing the
/// whole token on every request.
pub struct VerifiedTokens {
    slots: Box<[std::sync::Mutex<Slot>]>,
}

#[derive(Clone, Copy)]
struct Slot {
    signature: [u8; SIGNATURE_LEN],
    claims: Option<AccessClaims>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            signature: [0; SIGNATURE_LEN],
            claims: None,
        }
    }
}

/// An HS256 signature in unpadded base64url.
const SIGNATURE_LEN: usize = 43;

/// 2^17 slots (about 12 MiB): room for the active tokens of well over 100,000 sessions.
const SLOTS: usize = 1 << 17;

/// The signature segment, when it has the one length HS256 produces.
fn signature(token: &str) -> Option<&[u8; SIGNATURE_LEN]> {
    // `memrchr`: `rsplit_once` walks back a byte at a time, on every proxied request.
    let dot = memchr::memrchr(b'.', token.as_bytes())?;
    token.as_bytes().get(dot + 1..)?.try_into().ok()
}

impl VerifiedTokens {
    pub fn new() -> Self {
        Self {
            slots: (0..SLOTS)
                .map(|_| std::sync::Mutex::new(Slot::default()))
                .collect(),
        }
    }

    fn slot(&self, sig: &[u8; SIGNATURE_LEN]) -> &std::sync::Mutex<Slot> {
        // Signatures of our tokens are uniformly random; a forged one only picks the slot it
        // misses in, and nothing unverified is ever stored.
        let index = u64::from_le_bytes([
            sig[0], sig[1], sig[2], sig[3], sig[4], sig[5], sig[6], sig[7],
        ])
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.slots[(index >> (64 - SLOTS.trailing_zeros())) as usize]
    }

    pub fn access(&self, keys: &tokens::Keys, token: &str, now: i64) -> Option<AccessClaims> {
        let sig = signature(token);
        if let Some(sig) = sig {
            if let Ok(s) = self.slot(sig).lock() {
                if s.signature == *sig {
                    if let Some(c) = s.claims {
                        return (c.exp > now - tokens::LEEWAY_SECS).then_some(c);
                    }
                }
            }
        }
        let c = keys.verify(token, Kind::Access, now).ok()?;
        let claims = AccessClaims {
            sub: c.sub,
            sid: c.sid,
            exp: c.exp,
        };
        // A token with an `nbf` is not remembered: its start must be checked again.
        if let Some(sig) = sig.filter(|_| c.nbf.is_none()) {
            if let Ok(mut s) = self.slot(sig).lock() {
                *s = Slot {
                    signature: *sig,
                    claims: Some(claims),
                };
            }
        }
        Some(claims)
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_tokens_still_expire_and_strangers_are_verified() {
        let keys = tokens::Keys::new(b"0123456789abcdef0123456789abcdef");
        let verified = VerifiedTokens::new();
        let now = 1_800_000_000;
        let sid = Uuid::new_v4();
        let t = keys
            .mint(Kind::Access, Uuid::nil(), sid, None, now, now + 60)
            .unwrap();
        assert_eq!(verified.access(&keys, &t, now).map(|c| c.sid), Some(sid));
        assert!(
            verified.access(&keys, &t, now + 30).is_some(),
            "served from memory"
        );
        assert!(
            verified.access(&keys, &t, now + 66).is_none(),
            "expiry still applies"
        );
        let mut forged = t;
        forged.pop();
        assert!(verified.access(&keys, &forged, now).is_none());
    }

    #[test]
    fn a_remembered_signature_never_vouches_for_other_claims() {
        let keys = tokens::Keys::new(b"0123456789abcdef0123456789abcdef");
        let verified = VerifiedTokens::new();
        let now = 1_800_000_000;
        let (alice, mallory) = (Uuid::new_v4(), Uuid::new_v4());
        let t = keys
            .mint(Kind::Access, alice, Uuid::new_v4(), None, now, now + 60)
            .unwrap();
        assert_eq!(verified.access(&keys, &t, now).map(|c| c.sub), Some(alice));
        // Mallory's own, properly signed claims with alice's signature glued on.
        let other = keys
            .mint(Kind::Access, mallory, Uuid::new_v4(), None, now, now + 600)
            .unwrap();
        let (body, _) = other.rsplit_once('.').unwrap();
        let (_, sig) = t.rsplit_once('.').unwrap();
        let glued = format!("{body}.{sig}");
        let got = verified.access(&keys, &glued, now).unwrap();
        assert_eq!(
            (got.sub, got.exp),
            (alice, now + 60),
            "only what was verified"
        );
        // A token the cache has never seen still goes through full verification.
        let wrong_key = tokens::Keys::new(b"another-key-another-key-another-k");
        let foreign = wrong_key
            .mint(Kind::Access, mallory, Uuid::new_v4(), None, now, now + 60)
            .unwrap();
        assert!(verified.access(&keys, &foreign, now).is_none());
    }
}
