//! Values derived from one cached session and dropped with it: the signed assertions
//! (auth/assertion.rs) minted for it, by audience. Kept here, on the cached copy, so a change
//! of the session's groups or second factor (which makes every instance read the session
//! again) or its revocation leaves none behind.

use std::sync::Mutex;

use http::HeaderValue;

/// Audiences remembered per session: a user reaches a handful of hosts through one gateway.
const AUDIENCES_PER_SESSION: usize = 8;

/// Assertions already minted for one session, by audience. Lives on the cached session, so it
/// is dropped with it: a change of groups or second factor, a revocation, or the cache TTL.
#[derive(Default)]
pub struct Minted(Mutex<Vec<(Box<str>, i64, HeaderValue)>>);

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minted(***)")
    }
}

impl Minted {
    /// The value minted for `aud` less than `max_age` seconds before `now`.
    pub(crate) fn get(&self, aud: &str, now: i64, max_age: i64) -> Option<HeaderValue> {
        let list = self.0.lock().ok()?;
        list.iter()
            .find(|(a, iat, _)| &**a == aud && (*iat..*iat + max_age).contains(&now))
            .map(|(_, _, v)| v.clone())
    }

    pub(crate) fn put(&self, aud: &str, now: i64, value: HeaderValue) {
        let Ok(mut list) = self.0.lock() else {
            return;
        };
        list.retain(|(a, ..)| &**a != aud);
        if list.len() >= AUDIENCES_PER_SESSION {
            // The oldest goes: it is the nearest to being re-signed anyway.
            if let Some(oldest) = (0..list.len()).min_by_key(|&i| list[i].1) {
                list.swap_remove(oldest);
            }
        }
        list.push((aud.into(), now, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_reused_until_its_age_then_forgotten_and_audiences_are_bounded() {
        let m = Minted::default();
        let v = HeaderValue::from_static("a.b.c");
        m.put("app.example.com", 100, v.clone());
        assert_eq!(m.get("app.example.com", 129, 30), Some(v));
        assert_eq!(m.get("app.example.com", 130, 30), None);
        assert_eq!(m.get("other.example.com", 100, 30), None);
        for i in 0..20 {
            m.put(&format!("h{i}"), 100 + i, HeaderValue::from_static("x"));
        }
        assert!(m.0.lock().unwrap().len() <= AUDIENCES_PER_SESSION);
        assert!(m.get("h19", 119, 30).is_some(), "the newest stays");
    }
}
