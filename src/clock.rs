//! Time as the gateway reads and writes it: `now()` at PostgreSQL's precision, and RFC 3339 for
//! every time a response carries (docs/contract.md §5). Callers pass `now` down, so tests
//! control it.

use std::time::Duration;

use time::OffsetDateTime;

/// Postgres keeps microseconds; so do we, so a time we return equals the one we list later.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Durations as settings and routes write them (docs/contract.md §1): `900`, `30s`, `15m`,
/// `1h`, `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    // Refuse durations that overflow token arithmetic (a century is plenty).
    let secs = n.checked_mul(mult).filter(|s| *s <= 100 * 365 * 86_400)?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_has_microsecond_precision_and_times_print_as_rfc3339() {
        assert_eq!(now().nanosecond() % 1_000, 0);
        let t = time::macros::datetime!(2026-11-30 17:33:46.123456 UTC);
        assert_eq!(rfc3339(t), "2026-11-30T17:33:46.123456Z");
    }
}
