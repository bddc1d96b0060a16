//! Brute-force limits on sign-in (docs/contract.md §1 `GATEHOUSE_LOGIN_RATE`): failed logins are
//! counted per client IP and per canonical username in token buckets. A bucket refills at the
//! configured rate, so a lock-out ends `period / count` after the failures stop: nobody can be
//! locked out for good, and spreading guesses over many addresses still meets the username's
//! bucket.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Rate;
use crate::error::Error;

/// The bucket of a client address. A password, a second-factor code and a passkey answer all
/// count against it, so its key is spelt here once: two spellings would be two buckets.
pub fn ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".into(),
    }
}

/// The bucket of a user, by canonical username.
pub fn user_key(canonical_username: &str) -> String {
    format!("user:{canonical_username}")
}

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

    fn bucket(&self, key: &str, now: Instant) -> Arc<Mutex<Bucket>> {
        self.buckets.get_with(key.to_string(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: f64::from(self.rate.count),
                updated: now,
            }))
        })
    }

    /// Takes one attempt from each of `keys` before the password is checked, or says how long
    /// to wait when any of them has none left (and then takes nothing). Reserving first is what
    /// bounds concurrent guesses: counting a failure only after bcrypt let every guess already
    /// in flight through. The attempt is given back when the [`Attempt`] is dropped without
    /// [`Attempt::failed`]: a successful sign-in, or one that ended for another reason (the
    /// database was down), costs nothing.
    pub fn reserve(&self, keys: &[&str], now: Instant) -> Result<Attempt, Duration> {
        let mut buckets: Vec<(&str, Arc<Mutex<Bucket>>)> =
            keys.iter().map(|k| (*k, self.bucket(k, now))).collect();
        // One order for every caller, so two sign-ins sharing keys cannot deadlock.
        buckets.sort_by(|a, b| a.0.cmp(b.0));
        buckets.dedup_by(|a, b| a.0 == b.0);
        let mut guards = Vec::with_capacity(buckets.len());
        for (_, bucket) in &buckets {
            match bucket.lock() {
                Ok(g) => guards.push(g),
                // A poisoned bucket cannot be read: fail closed.
                Err(_) => return Err(self.period_per_attempt()),
            }
        }
        let wait = guards
            .iter_mut()
            .map(|g| self.level(g, now))
            .filter(|tokens| *tokens < 1.0)
            .map(|tokens| {
                Duration::from_secs_f64(((1.0 - tokens) / self.refill_per_sec()).max(1.0))
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for g in &mut guards {
            g.tokens -= 1.0;
        }
        drop(guards);
        Ok(Attempt {
            buckets: buckets.into_iter().map(|(_, b)| b).collect(),
            max: f64::from(self.rate.count),
            failed: false,
        })
    }

    /// [`reserve`](Self::reserve) now; a refusal is the 429 that says how long to wait.
    pub fn reserve_now(&self, keys: &[&str]) -> Result<Attempt, Error> {
        self.reserve(keys, Instant::now())
            .map_err(|wait| Error::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            })
    }

    fn period_per_attempt(&self) -> Duration {
        Duration::from_secs_f64((1.0 / self.refill_per_sec()).max(1.0))
    }
}

/// One sign-in attempt, reserved against its keys' buckets; see [`LoginLimiter::reserve`].
pub struct Attempt {
    buckets: Vec<Arc<Mutex<Bucket>>>,
    max: f64,
    failed: bool,
}

impl Attempt {
    /// The attempt failed: it keeps counting against every key.
    pub fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.failed {
            return;
        }
        for bucket in &self.buckets {
            if let Ok(mut b) = bucket.lock() {
                b.tokens = (b.tokens + 1.0).min(self.max);
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
            l.reserve(&["ip:1"], t0).unwrap().failed();
        }
        let wait = l.reserve(&["ip:1"], t0).err().expect("limited");
        assert!(
            wait >= Duration::from_secs(19) && wait <= Duration::from_secs(21),
            "{wait:?}"
        );
        assert!(
            l.reserve(&["ip:1"], t0 + Duration::from_secs(21)).is_ok(),
            "one attempt back"
        );
        assert!(l.reserve(&["ip:2"], t0).is_ok(), "other keys are untouched");
    }

    #[test]
    fn any_limited_key_limits_the_attempt() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..3 {
            l.reserve(&[&format!("ip:{i}"), "user:alice"], t0)
                .unwrap()
                .failed();
        }
        assert!(l.reserve(&["ip:9", "user:alice"], t0).is_err());
        assert!(l.reserve(&["ip:9", "user:bob"], t0).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_their_outcome_is_known() {
        let l = limiter();
        let t0 = Instant::now();
        let in_flight: Vec<Attempt> = (0..3)
            .map(|_| l.reserve(&["ip:1", "user:alice"], t0).unwrap())
            .collect();
        assert!(
            l.reserve(&["ip:1", "user:alice"], t0).is_err(),
            "a fourth concurrent guess waits"
        );
        drop(in_flight);
        assert!(
            l.reserve(&["ip:1", "user:alice"], t0).is_ok(),
            "attempts that did not fail are given back"
        );
    }

    #[test]
    fn a_refused_reservation_takes_nothing_from_the_other_keys() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.reserve(&["user:alice"], t0).unwrap().failed();
        }
        assert!(l.reserve(&["ip:1", "user:alice"], t0).is_err());
        for _ in 0..3 {
            l.reserve(&["ip:1"], t0).unwrap().failed();
        }
        assert!(l.reserve(&["ip:1"], t0).is_err());
    }
}
