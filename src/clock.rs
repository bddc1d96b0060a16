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

/// How long before `now` `then` was, as people say it: "just now", "5 minutes ago",
/// "2 hours ago" (the largest whole unit). A `then` after `now` (clock skew) is "just now".
pub fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let elapsed = Duration::try_from(now - then).unwrap_or(Duration::ZERO);
    let mut f = timeago::Formatter::new();
    f.min_unit(timeago::TimeUnit::Minutes).too_low("just now");
    f.convert(elapsed)
}

/// A wait in words, to the second: "45 seconds", "1 minute 30 seconds", "2 hours".
pub fn in_words(d: Duration) -> String {
    let mut f = timeago::Formatter::new();
    f.num_items(2).ago("").too_low("1 second");
    f.convert(d).trim_end().to_string()
}

/// A time as people read it, to the minute, in UTC: "30 Nov 2026, 17:33 UTC".
pub fn readable(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    ))
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

    #[test]
    fn times_read_as_people_say_them() {
        let now = time::macros::datetime!(2026-11-30 17:33:46 UTC);
        let ago_ = |secs: i64| ago(now - time::Duration::seconds(secs), now);
        assert_eq!(ago_(20), "just now");
        assert_eq!(ago_(-5), "just now");
        assert_eq!(ago_(5 * 60 + 10), "5 minutes ago");
        assert_eq!(ago_(2 * 3600 + 59 * 60), "2 hours ago");
        assert_eq!(ago_(3 * 86_400), "3 days ago");
        assert_eq!(in_words(Duration::from_secs(1)), "1 second");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
        assert_eq!(in_words(Duration::from_secs(90)), "1 minute 30 seconds");
        assert_eq!(in_words(Duration::from_secs(3600)), "1 hour");
        assert_eq!(readable(now), "30 Nov 2026, 17:33 UTC");
    }
}
