//! `X-Request-Id`: the client's, when it is short and plain, or a new one; it goes upstream, back
//! to the client and into the access log.

use uuid::Uuid;

/// A client-sent request id is kept when it is short and plain; otherwise a new one is made.
pub fn request_id(sent: Option<&http::HeaderValue>) -> http::HeaderValue {
    let plain = |v: &&http::HeaderValue| {
        !v.is_empty()
            && v.len() <= 128
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    sent.filter(plain).cloned().unwrap_or_else(fast_id)
}

/// A random UUID-shaped request id. Not a secret, so a per-thread xorshift seeded once from the
/// OS stands in for a system call per request.
fn fast_id() -> http::HeaderValue {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u128> = Cell::new(Uuid::new_v4().as_u128() | 1);
    }
    let n = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 35;
        x ^= x >> 59;
        x ^= x << 43;
        s.set(x);
        x
    });
    let mut buf = [0u8; 36];
    let id = Uuid::from_u128(n)
        .hyphenated()
        .encode_lower(&mut buf)
        .as_bytes();
    http::HeaderValue::from_bytes(id).unwrap_or(http::HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        let ok = http::HeaderValue::from_static("abc-123");
        assert_eq!(request_id(Some(&ok)), "abc-123");
        assert_eq!(request_id(None).len(), 36);
        let bad = http::HeaderValue::from_static("abc 123<script>");
        assert_ne!(request_id(Some(&bad)), "abc 123<script>");
    }
}
