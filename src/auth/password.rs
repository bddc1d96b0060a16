//! bcrypt, kept off the proxy threads: every hash and verify runs on a small pool of threads of
//! its own, behind a semaphore, so a login storm queues here instead of stalling proxied traffic.
//!
//! Those threads run in Linux's idle scheduling class. bcrypt is slow on purpose and a sign-in
//! can wait a few milliseconds; a proxied request should not. On a busy machine the scheduler
//! gives the proxy threads the CPU first and bcrypt the time they leave; sign-ins beyond what
//! that time can serve are shed with 503 (see `Hasher::run`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use tokio::sync::{oneshot, Semaphore};

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

impl From<PasswordError> for crate::error::Error {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => crate::error::Error::Busy,
            other => crate::error::Error::Internal(other.to_string()),
        }
    }
}

pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// Jobs for the bcrypt threads. A job only arrives with a permit, so one is always free.
    jobs: mpsc::Sender<Job>,
    waiting: AtomicUsize,
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
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..concurrency {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("gatehouse-bcrypt-{i}"))
                .spawn(move || work(&queue))
                .map_err(|e| PasswordError::Hash(format!("cannot start a bcrypt thread: {e}")))?;
        }
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency)),
            jobs,
            waiting: AtomicUsize::new(0),
            // A few seconds of work at cost 12 (~250 ms each); beyond that, answer at once.
            max_waiting: 16 * concurrency,
            dummy_hash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let waiting = Waiting::enter(&self.waiting, self.max_waiting).ok_or(PasswordError::Busy)?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Closed)?;
        drop(waiting);
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Held until the work is done, even when the caller has gone (deadline passed,
            // client left): the permits count computations, not callers.
            let _permit = permit;
            if done.is_closed() {
                return;
            }
            let _ = done.send(f());
        });
        self.jobs.send(job).map_err(|_| PasswordError::Closed)?;
        result
            .await
            .map_err(|_| PasswordError::Hash("a bcrypt thread stopped".into()))
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

/// A place in the queue for a permit; given back however the caller leaves it.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A bcrypt thread: lowest priority, then jobs until the `Hasher` is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    yield_cpu_to_proxy_threads();
    loop {
        // The lock is held while waiting, which is fine: whoever holds it takes the next job,
        // and the others wait their turn for the lock instead of for the channel.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        // A panicking job must not take the thread with it: its caller sees a dropped reply.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// Puts the calling thread in `SCHED_IDLE`, the class Linux keeps for background work: it
/// runs when the proxy threads leave a core free, and a waking proxy thread takes the core back
/// at once. Scheduling policy belongs to the thread, and lowering one's own needs no privilege.
/// Where that is refused, nice 19; where that is too, normal priority, as bcrypt ran before.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // The crate's one unsafe spot: two libc calls with no pointers kept.
fn yield_cpu_to_proxy_threads() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` outlives the call, which only reads it; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return;
    }
    // SAFETY: plain integers in and out.
    let niced = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
    if niced != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "bcrypt threads keep normal CPU priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_cpu_to_proxy_threads() {}

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

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn own_policy() -> i32 {
        // SAFETY: pid 0 is the calling thread; nothing else is read or written.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn bcrypt_runs_in_the_idle_scheduling_class_and_nothing_else_does() {
        let before = own_policy();
        let h = Hasher::new(4, 2).unwrap();
        assert_eq!(h.run(own_policy).await.unwrap(), libc::SCHED_IDLE);
        assert_eq!(own_policy(), before);
        assert_ne!(before, libc::SCHED_IDLE);
    }

    /// Callers that give up (the route deadline, a client gone) must neither keep their place in
    /// the queue, which would end in every sign-in refused as busy, nor leave work behind.
    #[tokio::test]
    async fn callers_that_give_up_leave_no_place_taken_and_no_work_behind() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::time::Duration;
        let h = Hasher::new(4, 1).unwrap();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let mut blocker = Box::pin(h.run(move || {
            let _ = started.send(());
            let _ = hold.recv();
        }));
        tokio::select! {
            _ = &mut blocker => panic!("the blocker cannot finish before it is released"),
            _ = running => {}
        }
        // The only bcrypt thread is busy, and its caller is gone.
        drop(blocker);
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 * h.max_waiting {
            let ran = Arc::clone(&ran);
            let work = h.run(move || {
                ran.fetch_add(1, SeqCst);
            });
            match tokio::time::timeout(Duration::from_millis(2), work).await {
                Err(_) | Ok(Err(PasswordError::Busy)) => {}
                Ok(other) => panic!("{other:?}"),
            }
        }
        release.send(()).unwrap();
        assert_eq!(h.run(|| 7).await.unwrap(), 7);
        assert_eq!(ran.load(SeqCst), 0, "work of callers that gave up ran");
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
