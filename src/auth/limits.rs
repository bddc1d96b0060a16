//! Brute-force limits on sign-in (CONTRACT §1 `GATEHOUSE_LOGIN_RATE`): failed logins are
//! counted per client IP and per canonical username in token buckets. A bucket refills at the
//! configured rate, so a lock-out ends `period / count` after the failures stop: nobody can be
//! locked out for good, and spreading guesses over many addresses still meets the username's
//! bucket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Rate;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct LoginLimiter {
    rate: Rate,
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
}

impl LoginLimiter {
    pub fn new(rate: Rate) -> Self {
        // An idle bucket is full again after one period; forgetting it then changes nothing.
        let buckets = moka::sync::Cache::builder()
            .max_capacity(200_000)
            .time_to_idle(rate.period)
            .build();
        Self { rate, buckets }
    }

    fn refill_per_sec(&self) -> f64 {
        f64::from(self.rate.count) / self.rate.period.as_secs_f64().max(0.001)
    }

    fn level(&self, bucket: &mut Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * self.refill_per_sec()).min(f64::from(self.rate.count));
        bucket.updated = now;
        bucket.tokens
    }

    /// `Some(wait)` when any of `keys` has no failed attempt left.
    pub fn check(&self, keys: &[&str], now: Instant) -> Option<Duration> {
        keys.iter()
            .filter_map(|key| {
                let bucket = self.buckets.get(*key)?;
                let tokens = {
                    let mut guard = bucket.lock().ok()?;
                    self.level(&mut guard, now)
                };
                (tokens < 1.0).then(|| {
                    Duration::from_secs_f64(((1.0 - tokens) / self.refill_per_sec()).max(1.0))
                })
            })
            .max()
    }

    /// Counts one failed attempt against each of `keys`.
    pub fn failed(&self, keys: &[&str], now: Instant) {
        for key in keys {
            let bucket = self.buckets.get_with((*key).to_string(), || {
                Arc::new(Mutex::new(Bucket {
                    tokens: f64::from(self.rate.count),
                    updated: now,
                }))
            });
            let mut guard = bucket.lock();
            if let Ok(b) = guard.as_mut() {
                self.level(b, now);
                b.tokens = (b.tokens - 1.0).max(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(Rate {
            count: 3,
            period: Duration::from_secs(60),
        })
    }

    #[test]
    fn the_limit_applies_after_count_failures_and_lifts_as_the_bucket_refills() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check(&["ip:1"], t0), None);
            l.failed(&["ip:1"], t0);
        }
        let wait = l.check(&["ip:1"], t0).expect("limited");
        assert!(
            wait >= Duration::from_secs(19) && wait <= Duration::from_secs(21),
            "{wait:?}"
        );
        assert!(
            l.check(&["ip:1"], t0 + Duration::from_secs(21)).is_none(),
            "one attempt back"
        );
        assert!(l.check(&["ip:2"], t0).is_none(), "other keys are untouched");
    }

    #[test]
    fn any_limited_key_limits_the_attempt() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..3 {
            l.failed(&[&format!("ip:{i}"), "user:alice"], t0);
        }
        assert!(l.check(&["ip:9", "user:alice"], t0).is_some());
        assert!(l.check(&["ip:9", "user:bob"], t0).is_none());
    }
}
