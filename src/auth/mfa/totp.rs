//! TOTP (docs/contract.md §10; RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! skew either way) through the `totp-rs` crate: a new secret, its `otpauth://` URI and QR code
//! (inline SVG, by the `qrcode` crate), and the time step a code matches at `now`. Pure apart
//! from the secret's random bytes; that each step is accepted once per user is the store's
//! part (`store/mfa.rs`), since only the database is shared by every instance.

use totp_rs::{Algorithm, TOTP};

pub const DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW: i64 = 1;
/// 160 bits, the HMAC-SHA-1 key length RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// A TOTP secret. Its `Debug` shows nothing, so it cannot reach a log by accident.
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The secret as authenticator apps take it typed in: base32 without padding.
    pub fn base32(&self) -> String {
        totp(&self.0, "gatehouse", "").get_secret_base32()
    }
}

/// `issuer` names the gateway in the app's list; `account` is the username.
fn totp(secret: &[u8], issuer: &str, account: &str) -> TOTP {
    // `new_unchecked`: the parameters are this module's constants, the secret is ours (or one
    // read back from the database, never shorter than 16 bytes), and neither name holds `:`
    // (see `issuer`; usernames are letters, digits and `. _ - @`).
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    )
}

/// The issuer shown in authenticator apps: the public URL's host, so that two gateways are told
/// apart; `gatehouse` when the host cannot be one (an IPv6 literal holds `:`).
pub fn issuer(public_host: &str) -> &str {
    let host = public_host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(':') {
        "gatehouse"
    } else {
        host
    }
}

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` (Google Authenticator's key URI
/// format; SHA-1, 6 digits and 30 s are its defaults, so they are not spelled out).
pub fn otpauth_uri(secret: &Secret, issuer: &str, account: &str) -> String {
    totp(&secret.0, issuer, account).get_url()
}

/// The QR code of `uri` as an SVG element to put inline in a page (no XML declaration, and a
/// text alternative for screen readers), black modules on white with the quiet zone the
/// standard asks for.
pub fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let element = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
    Ok(element.replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code to scan with an authenticator app\" ",
        1,
    ))
}

/// Whether `code` can be a code at all: exactly six ASCII digits. Anything else is refused
/// before any secret is read or any attempt counted.
pub fn well_formed(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The time step (Unix seconds / 30) whose code is `code`, among the current one and one
/// either side at `now` (Unix seconds); the latest when two match. Every candidate is computed
/// and compared in constant time, so the answer's timing does not say which step matched.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    use subtle::ConstantTimeEq;
    let t = totp(secret, "gatehouse", "");
    let current = now.div_euclid(STEP as i64);
    let mut found = None;
    for step in current - SKEW..=current + SKEW {
        let Ok(at) = u64::try_from(step) else {
            continue;
        };
        let candidate = t.generate(at * STEP);
        if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key: "12345678901234567890".
    const RFC_KEY: &[u8] = b"12345678901234567890";

    /// The RFC's 8-digit values, cut to the 6 digits used here (the same HOTP value mod 10^6).
    #[test]
    fn codes_match_rfc_6238s_test_vectors() {
        for (time, eight) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let six = &eight[2..];
            assert_eq!(
                matching_step(RFC_KEY, six, time),
                Some(time.div_euclid(30)),
                "{time}"
            );
        }
    }

    fn code_at(step: i64) -> String {
        totp(RFC_KEY, "x", "").generate(u64::try_from(step).unwrap() * STEP)
    }

    #[test]
    fn one_step_of_skew_either_way_is_accepted_and_two_are_not() {
        let now = 1_700_000_015; // the middle of step 56_666_667
        let step = now / 30;
        for skew in -1..=1 {
            assert_eq!(
                matching_step(RFC_KEY, &code_at(step + skew), now),
                Some(step + skew),
                "skew {skew}"
            );
        }
        for skew in [-2, 2, -3, 3] {
            assert_eq!(
                matching_step(RFC_KEY, &code_at(step + skew), now),
                None,
                "skew {skew}"
            );
        }
    }

    #[test]
    fn the_edges_of_a_step_belong_to_it() {
        let step = 56_666_667_i64;
        let (first, last) = (step * 30, step * 30 + 29);
        // At the step's last second the next step is one ahead; at its first, the previous one
        // is one behind; the step two ahead is not accepted at either.
        assert_eq!(
            matching_step(RFC_KEY, &code_at(step + 1), last),
            Some(step + 1)
        );
        assert_eq!(
            matching_step(RFC_KEY, &code_at(step - 1), first),
            Some(step - 1)
        );
        assert_eq!(matching_step(RFC_KEY, &code_at(step + 2), last), None);
        assert_eq!(matching_step(RFC_KEY, &code_at(step - 2), first), None);
        // One second later the old previous step is two behind.
        assert_eq!(matching_step(RFC_KEY, &code_at(step - 1), last + 1), None);
    }

    #[test]
    fn the_clock_near_zero_does_not_underflow() {
        assert_eq!(matching_step(RFC_KEY, &code_at(0), 0), Some(0));
        assert_eq!(matching_step(RFC_KEY, &code_at(1), 0), Some(1));
        assert_eq!(matching_step(RFC_KEY, "000000", -100), None);
    }

    #[test]
    fn only_six_digits_are_well_formed() {
        assert!(well_formed("012345"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12 345",
            "123 456",
            "12345a",
            "１２３４５６",
            " 123456",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_uri_carries_the_secret_in_base32_with_issuer_and_account() {
        let secret = Secret(RFC_KEY.to_vec());
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            otpauth_uri(&secret, "auth.example.com", "alice"),
            "otpauth://totp/auth.example.com:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=auth.example.com"
        );
        assert!(otpauth_uri(&secret, "gatehouse", "zoë@x").contains("gatehouse:zo%C3%AB%40x?"));
        assert!(!format!("{secret:?}").contains("GEZ"));
    }

    #[test]
    fn the_issuer_is_the_public_host_unless_it_cannot_be() {
        assert_eq!(issuer("auth.example.com"), "auth.example.com");
        assert_eq!(issuer("[::1]"), "gatehouse");
        assert_eq!(issuer(""), "gatehouse");
    }

    #[test]
    fn a_generated_secret_is_160_random_bits() {
        let (a, b) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        assert_eq!(a.0.len(), 20);
        assert_ne!(a.0, b.0);
        assert_eq!(a.base32().len(), 32);
    }

    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg = qr_svg("otpauth://totp/a:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label="),
            "{}",
            &svg[..60]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<path"), "modules are drawn as one path");
        assert!(!svg.contains("<?xml"));
    }
}
