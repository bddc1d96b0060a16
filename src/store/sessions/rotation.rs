//! The refresh rotation rule of docs/contract.md §3: pure, with `now` passed in.

use std::time::Duration;

use time::OffsetDateTime;

/// What a presented refresh token is worth, given the session's rotation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The current generation: rotate to the next one.
    Rotate,
    /// The previous generation inside the grace window: hand out the current one again.
    Replay,
    /// An older generation, or the previous one after the window: the token was stolen or
    /// replayed, so the whole session dies.
    Reuse,
}

/// The rotation rule of docs/contract.md §3, with `now` passed in.
pub fn decide_refresh(
    token_gen: i64,
    current_gen: i64,
    rotated_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    grace: Duration,
) -> RefreshDecision {
    if token_gen == current_gen {
        return RefreshDecision::Rotate;
    }
    let in_grace =
        rotated_at.is_some_and(|at| now - at <= grace && now >= at - Duration::from_secs(5));
    if token_gen + 1 == current_gen && in_grace {
        RefreshDecision::Replay
    } else {
        RefreshDecision::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn the_current_generation_rotates() {
        let now = datetime!(2026-01-01 12:00 UTC);
        assert_eq!(
            decide_refresh(3, 3, None, now, GRACE),
            RefreshDecision::Rotate
        );
    }

    #[test]
    fn the_previous_generation_inside_the_grace_window_replays() {
        let now = datetime!(2026-01-01 12:00:05 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(
            decide_refresh(2, 3, at, now, GRACE),
            RefreshDecision::Replay
        );
    }

    #[test]
    fn the_previous_generation_after_the_grace_window_is_reuse() {
        let now = datetime!(2026-01-01 12:00:11 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(decide_refresh(2, 3, at, now, GRACE), RefreshDecision::Reuse);
    }

    #[test]
    fn an_older_generation_is_reuse_even_inside_the_window() {
        let now = datetime!(2026-01-01 12:00:01 UTC);
        let at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(decide_refresh(1, 3, at, now, GRACE), RefreshDecision::Reuse);
    }
}
