//! A value read from somewhere slow (a secret) and read again while the function lives:
//! after `every`, and sooner (at most once per `recheck_after`) when a caller met something
//! the value does not know, such as a key added by a rotation a moment ago.

use futures::future::BoxFuture;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Reads the value again; the error is logged and the value there is stays.
pub type Loader<T> = Arc<dyn Fn() -> BoxFuture<'static, Result<T, String>> + Send + Sync>;

pub struct Refreshing<T> {
    load: Option<Loader<T>>,
    current: RwLock<State<T>>,
    every: Duration,
    recheck_after: Duration,
    /// After reads have failed for this long since the last good one, this value instead
    /// (credentials: a key removed from a secret that cannot be read any more must not stay
    /// valid for the life of the instance).
    closed: Option<(Duration, Arc<T>)>,
}

struct State<T> {
    value: Arc<T>,
    /// The last read, good or failed: the next is `every` after it.
    attempted: Instant,
    /// The last good read.
    loaded: Instant,
}

impl<T> State<T> {
    fn new(value: T) -> Self {
        let now = Instant::now();
        Self {
            value: Arc::new(value),
            attempted: now,
            loaded: now,
        }
    }
}

impl<T: Send + Sync + 'static> Refreshing<T> {
    /// A value never read again (tests, and functions whose value is fixed per instance).
    pub fn fixed(value: T) -> Self {
        Self {
            load: None,
            current: RwLock::new(State::new(value)),
            every: Duration::MAX,
            recheck_after: Duration::MAX,
            closed: None,
        }
    }

    pub fn new(value: T, load: Loader<T>, every: Duration, recheck_after: Duration) -> Self {
        Self {
            load: Some(load),
            current: RwLock::new(State::new(value)),
            every,
            recheck_after,
            closed: None,
        }
    }

    /// Once reads have failed for `after` since the last good one, `closed` is the value
    /// until a read succeeds again.
    pub fn failing_closed(mut self, after: Duration, closed: T) -> Self {
        self.closed = Some((after, Arc::new(closed)));
        self
    }

    /// The value, read again first if it is older than `every`.
    pub async fn current(&self) -> Arc<T> {
        self.older_than(self.every).await
    }

    /// The value read again if the last read is older than `recheck_after` (a caller met
    /// something it did not know); `None` if it was read too recently or is fixed.
    pub async fn recheck(&self) -> Option<Arc<T>> {
        if self.load.is_none() || self.age() < self.recheck_after {
            return None;
        }
        Some(self.older_than(self.recheck_after).await)
    }

    fn age(&self) -> Duration {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .attempted
            .elapsed()
    }

    async fn older_than(&self, age: Duration) -> Arc<T> {
        if let Some(load) = &self.load
            && self.age() >= age
        {
            match load().await {
                Ok(value) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = State::new(value);
                }
                Err(err) => {
                    // A failed read keeps what there is: a caller is better off with the
                    // value of a minute ago than with an error; the next read is `every` away.
                    let mut state = self.current.write().unwrap_or_else(|p| p.into_inner());
                    state.attempted = Instant::now();
                    match &self.closed {
                        Some((after, closed)) if state.loaded.elapsed() >= *after => {
                            tracing::error!(error = %err, failing_for_s = state.loaded.elapsed().as_secs(), "could not read the value again for too long; failing closed");
                            state.value = closed.clone();
                        }
                        _ => {
                            tracing::warn!(error = %err, "could not read the value again; the one loaded before stays in use");
                        }
                    }
                }
            }
        }
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .value
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_value_is_read_again_when_old_and_a_recheck_is_rate_limited() {
        let reads = Arc::new(AtomicU32::new(0));
        let counter = reads.clone();
        let load: Loader<u32> = Arc::new(move || {
            let counter = counter.clone();
            Box::pin(async move { Ok(counter.fetch_add(1, Ordering::SeqCst) + 1) })
        });
        let value = Refreshing::new(0, load, Duration::from_secs(3600), Duration::ZERO);
        assert_eq!(*value.current().await, 0, "fresh: not read again");
        assert_eq!(value.recheck().await.as_deref(), Some(&1));
        let slow = Refreshing::new(
            0,
            Arc::new(|| Box::pin(async { Ok(7) }) as BoxFuture<'static, _>),
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        assert_eq!(slow.recheck().await, None, "read a moment ago");
        assert_eq!(*slow.current().await, 7, "older than `every`");
        let failing = Refreshing::new(
            5,
            Arc::new(|| Box::pin(async { Err("down".to_string()) }) as BoxFuture<'static, _>),
            Duration::ZERO,
            Duration::ZERO,
        );
        assert_eq!(*failing.current().await, 5, "a failed read keeps the value");
        assert_eq!(Refreshing::fixed(1).recheck().await, None);
        let closing = Refreshing::new(
            5,
            Arc::new(|| Box::pin(async { Err("down".to_string()) }) as BoxFuture<'static, _>),
            Duration::ZERO,
            Duration::ZERO,
        )
        .failing_closed(Duration::ZERO, 0);
        assert_eq!(*closing.current().await, 0, "failed for too long: closed");
    }
}
