//! Recovery codes (docs/contract.md §10): ten single-use codes `xxxx-xxxx-xxxx`, each 60 bits
//! from the operating system's CSPRNG written in Crockford's base32 (lower case; no `i`, `l`,
//! `o` or `u`, and those typed by mistake read as `1`, `1`, `0`), stored as the SHA-256 of a
//! per-code random salt and the code. Pure apart from the random bytes.
//!
//! Why a fast hash: a code has 60 bits of entropy, so even a stolen table leaves an attacker
//! ~2^59 SHA-256 evaluations per code (years on a GPU, separately for each salted code), while
//! bcrypt would make every second step cost ten bcrypt runs (one per unused code). The salt
//! keeps equal codes from showing and one precomputation from serving every user.

use sha2::{Digest, Sha256};

pub use crate::store::mfa::StoredCode as Stored;

/// Codes per set.
pub const COUNT: usize = 10;
/// Symbols per code, 5 bits each.
const SYMBOLS: usize = 12;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new set: the codes to show once, and what to store for each.
pub struct Set {
    pub codes: Vec<String>,
    pub stored: Vec<Stored>,
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Set({} codes, ***)", self.codes.len())
    }
}

pub fn generate() -> Result<Set, getrandom::Error> {
    let mut codes = Vec::with_capacity(COUNT);
    let mut stored = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let mut bits = [0u8; 8];
        getrandom::fill(&mut bits)?;
        let value = u64::from_be_bytes(bits);
        let symbols: Vec<u8> = (0..SYMBOLS)
            .map(|i| ALPHABET[((value >> (5 * i)) & 31) as usize])
            .collect();
        let canonical = String::from_utf8_lossy(&symbols).into_owned();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)?;
        stored.push(Stored {
            salt,
            hash: digest(&salt, &canonical),
        });
        codes.push(format!(
            "{}-{}-{}",
            &canonical[..4],
            &canonical[4..8],
            &canonical[8..]
        ));
    }
    Ok(Set { codes, stored })
}

/// The code as hashed (12 symbols, no dashes), from what a user typed: `xxxx-xxxx-xxxx` or the
/// 12 symbols alone, in either case, with Crockford's readings of `i`, `l` and `o`. `None`
/// when it cannot be a code (refused before anything is read or counted).
pub fn canonical(typed: &str) -> Option<String> {
    let bytes = typed.as_bytes();
    let symbols: Vec<u8> = match bytes.len() {
        14 if bytes[4] == b'-' && bytes[9] == b'-' => bytes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 4 && *i != 9)
            .map(|(_, b)| *b)
            .collect(),
        12 => bytes.to_vec(),
        _ => return None,
    };
    symbols
        .into_iter()
        .map(|b| match b.to_ascii_lowercase() {
            b'i' | b'l' => Some('1'),
            b'o' => Some('0'),
            c if ALPHABET.contains(&c) => Some(char::from(c)),
            _ => None,
        })
        .collect()
}

fn digest(salt: &[u8; 16], canonical: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(canonical.as_bytes());
    h.finalize().into()
}

/// The position of the stored code that `canonical` is, if any. Every candidate is hashed and
/// compared in constant time, so the time taken does not say which one (or whether one) matched.
pub fn find(candidates: &[Stored], canonical: &str) -> Option<usize> {
    use subtle::ConstantTimeEq;
    let mut found = None;
    for (i, c) in candidates.iter().enumerate() {
        if bool::from(digest(&c.salt, canonical).ct_eq(&c.hash)) {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_in_groups_of_four() {
        let set = generate().unwrap();
        assert_eq!((set.codes.len(), set.stored.len()), (COUNT, COUNT));
        for code in &set.codes {
            let b = code.as_bytes();
            assert_eq!(b.len(), 14, "{code}");
            assert_eq!((b[4], b[9]), (b'-', b'-'), "{code}");
            assert!(code
                .bytes()
                .filter(|b| *b != b'-')
                .all(|b| ALPHABET.contains(&b)));
        }
        let mut unique = set.codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        assert!(!format!("{set:?}").contains(&set.codes[0]));
    }

    #[test]
    fn every_code_finds_its_own_stored_hash_and_no_other() {
        let set = generate().unwrap();
        for (i, code) in set.codes.iter().enumerate() {
            let c = canonical(code).unwrap();
            assert_eq!(find(&set.stored, &c), Some(i));
        }
        assert_eq!(find(&set.stored, "000000000000"), None);
        assert_eq!(find(&[], "000000000000"), None);
    }

    #[test]
    fn equal_codes_hash_differently_under_their_salts() {
        let a = Stored {
            salt: [1; 16],
            hash: digest(&[1; 16], "abcdabcdabcd"),
        };
        let b = digest(&[2; 16], "abcdabcdabcd");
        assert_ne!(a.hash, b);
        assert_eq!(find(&[a], "abcdabcdabcd"), Some(0));
    }

    #[test]
    fn typed_codes_are_read_leniently_but_only_as_codes() {
        assert_eq!(canonical("abcd-efgh-jk23").as_deref(), Some("abcdefghjk23"));
        assert_eq!(canonical("ABCD-EFGH-JK23").as_deref(), Some("abcdefghjk23"));
        assert_eq!(canonical("abcdefghjk23").as_deref(), Some("abcdefghjk23"));
        assert_eq!(canonical("oIl0-0000-0000").as_deref(), Some("011000000000"));
        for bad in [
            "",
            "abcd-efgh-jk2",
            "abcd-efgh-jk234",
            "abcd efgh jk23",
            "abcd-efgh-jku3",
            "abcd_efgh_jk23",
            " abcd-efgh-jk23",
            "abcd-efgh-jk2é",
            "abcdefghjk2",
        ] {
            assert_eq!(canonical(bad), None, "{bad:?}");
        }
    }
}
