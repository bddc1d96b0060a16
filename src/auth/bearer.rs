//! Where the gateway's own tokens travel in a request: `Authorization: Bearer` as the gateway
//! reads it (strictly), and every other spelling, which is withheld from the upstream
//! (docs/contract.md §6).

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// `Authorization: Bearer <token>`, the scheme matched without case.
pub fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Removes every `name` header in which one of the gateway's tokens appears, however the
/// client spelled it: another scheme (`Token <t>`), trailing words (`Bearer <t> junk`), a bare
/// token, a token inside `Basic` credentials or percent-encoded. A strict reading of
/// `Bearer <t>` would leave those to reach the upstream, which may read them more loosely.
/// Values that carry only the upstream's own credentials stay, in their order.
pub fn withhold_ours(
    headers: &mut HeaderMap,
    name: HeaderName,
    is_our_token: &impl Fn(&str) -> bool,
) {
    if !headers.contains_key(&name) {
        return;
    }
    let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
    if !values
        .iter()
        .any(|v| carries_token(v.as_bytes(), is_our_token))
    {
        return;
    }
    headers.remove(&name);
    for v in values {
        if !carries_token(v.as_bytes(), is_our_token) {
            headers.append(name.clone(), v);
        }
    }
}

/// Whether `value` holds a token `is_ours` accepts, in any of the spellings above. A JWS in
/// compact form is a run of base64url characters with exactly two dots, so only such runs are
/// checked (each check is an HMAC).
fn carries_token(value: &[u8], is_ours: &impl Fn(&str) -> bool) -> bool {
    let jws = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let holds = |text: &[u8]| {
        text.split(|b| !jws(b)).any(|run| {
            run.iter().filter(|b| **b == b'.').count() == 2
                && std::str::from_utf8(run).is_ok_and(is_ours)
        })
    };
    if holds(value) {
        return true;
    }
    // The same value read the ways a lenient upstream might: percent-decoded, and each word
    // base64-decoded (`Basic` credentials). One level deep: a token hidden deeper is not one
    // any upstream would accept either.
    let decoded = percent_encoding::percent_decode(value).collect::<Vec<u8>>();
    if decoded != value && holds(&decoded) {
        return true;
    }
    value.split(u8::is_ascii_whitespace).any(|word| {
        use base64::Engine;
        let word = word.strip_suffix(b",").unwrap_or(word);
        base64::engine::general_purpose::STANDARD
            .decode(word)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(word))
            .is_ok_and(|d| holds(&d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{AUTHORIZATION, PROXY_AUTHORIZATION};

    /// A token shaped like a JWS; the tests' `is_our_token` accepts only it.
    const OURS: &str = "eyJh.eyJz.c2ln";

    proptest::proptest! {
        #[test]
        fn bearer_extraction_never_panics_and_returns_part_of_the_header(v in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(value) = http::HeaderValue::from_bytes(&v) {
                let mut h = HeaderMap::new();
                h.insert("authorization", value.clone());
                if let Some(token) = from_headers(&h) {
                    proptest::prop_assert!(!token.is_empty());
                    proptest::prop_assert!(value.to_str().unwrap().ends_with(token));
                }
            }
        }
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(from_headers(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(from_headers(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(from_headers(&h), None);
        h.insert("authorization", "Bearer a".parse().unwrap());
        h.append("authorization", "Bearer b".parse().unwrap());
        assert_eq!(from_headers(&h), None);
    }

    #[test]
    fn a_gateway_token_is_withheld_however_the_authorization_is_spelled() {
        use base64::Engine;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("user:{OURS}"))
        );
        for value in [
            format!("Bearer {OURS}"),
            format!("bearer  {OURS}"),
            format!("Bearer {OURS} junk"),
            format!("Token {OURS}"),
            format!("JWT token=\"{OURS}\""),
            OURS.to_string(),
            format!("Bearer,{OURS}"),
            basic,
            "Bearer eyJh%2EeyJz%2Ec2ln".to_string(),
        ] {
            let mut h = HeaderMap::new();
            h.append(
                AUTHORIZATION,
                HeaderValue::from_str("Basic dXNlcjpwdw==").unwrap(),
            );
            h.append(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
            h.append(PROXY_AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
            withhold_ours(&mut h, AUTHORIZATION, &|t: &str| t == OURS);
            withhold_ours(&mut h, PROXY_AUTHORIZATION, &|t: &str| t == OURS);
            let left: Vec<&str> = h
                .get_all(AUTHORIZATION)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(left, ["Basic dXNlcjpwdw=="], "{value}");
            assert!(h.get(PROXY_AUTHORIZATION).is_none(), "{value}");
        }
    }
}
