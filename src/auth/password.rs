//! bcrypt, kept off the proxy threads: every hash and verify runs on the blocking pool behind a
//! semaphore, so a login storm queues here instead of stalling proxied traffic.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// bcrypt reads at most this many bytes of a password.
pub const MAX_BYTES: usize = 72;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing is shutting down")]
    Closed,
    /// More logins are waiting for bcrypt than it can serve soon: shed instead of queueing.
    #[error("too many password checks waiting")]
    Busy,
}

pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
    /// Verified against when the user does not exist, so timing does not reveal it.
    dummy_hash: String,
}

impl Hasher {
    /// `concurrency` bounds how many bcrypt computations run at once.
    pub fn new(cost: u32, concurrency: usize) -> Result<Self, PasswordError> {
        let dummy_hash = bcrypt::hash("gatehouse-dummy-password", cost)
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let concurrency = concurrency.max(1);
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            // A few seconds of work at cost 12 (~250 ms each); beyond that, answer at once.
            max_waiting: 16 * concurrency,
            dummy_hash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PasswordError::Busy);
        }
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|_| PasswordError::Closed)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Hashes a password of at most 72 bytes; longer ones are an error, never a prefix.
    ///
    /// bcrypt's `non_truncating_*` functions count the NUL terminator and so refuse exactly 72
    /// bytes, which the contract allows. The limit is enforced here instead; at 72 bytes or
    /// fewer the standard functions use every byte of the password.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        if password.len() > MAX_BYTES {
            return Err(PasswordError::Hash("password longer than 72 bytes".into()));
        }
        let password = password.to_owned();
        let cost = self.cost;
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no user, so
    /// both paths cost one bcrypt verification.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, PasswordError> {
        // An over-long password cannot match; it still pays for one verification.
        let real = hash.is_some() && password.len() <= MAX_BYTES;
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let ok = self
            .run(move || {
                let password = &password.as_bytes()[..password.len().min(MAX_BYTES)];
                bcrypt::verify(password, &hash).unwrap_or(false)
            })
            .await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = Hasher::new(4, 2).unwrap();
        let hash = h.hash("correct horse").await.unwrap();
        assert!(h.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!h.verify("correct horsf", Some(&hash)).await.unwrap());
    }

    #[tokio::test]
    async fn no_user_never_verifies_even_with_the_dummy_password() {
        let h = Hasher::new(4, 2).unwrap();
        assert!(!h.verify("gatehouse-dummy-password", None).await.unwrap());
    }

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_are_not_truncated() {
        let h = Hasher::new(4, 2).unwrap();
        let long = "a".repeat(73);
        assert!(h.hash(&long).await.is_err());
        let hash = h.hash(&"a".repeat(72)).await.unwrap();
        assert!(!h.verify(&long, Some(&hash)).await.unwrap());
    }
}
