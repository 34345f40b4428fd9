//! What a function must fetch over the network before it can serve (its secrets), loaded
//! in the background from init on instead of blocking it: Lambda's first `next` request and
//! the event's delivery overlap the fetch, and the first invocation awaits what is left.
//! A failed load fails that invocation (visible as a function error, as a failed init
//! would be) and the next invocation loads again.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

type Load<T, E> = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, E>> + Send>> + Send + Sync>;

pub struct Prefetch<T, E> {
    value: OnceCell<T>,
    first: Mutex<Option<JoinHandle<Result<T, E>>>>,
    load: Load<T, E>,
}

impl<T: Send + Sync + 'static, E: Send + 'static> Prefetch<T, E> {
    /// Starts `load` at once on the runtime; [`Prefetch::get`] awaits it.
    pub fn start<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let load: Load<T, E> = Arc::new(move || Box::pin(load()));
        let first = tokio::spawn(load());
        Self {
            value: OnceCell::new(),
            first: Mutex::new(Some(first)),
            load,
        }
    }

    /// The loaded value: the background load's result the first time, a new load after a
    /// failure.
    pub async fn get(&self) -> Result<&T, E> {
        self.value
            .get_or_try_init(|| async {
                let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(first) = first
                    && let Ok(result) = first.await
                {
                    return result;
                }
                (self.load)().await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_failed_load_is_retried_by_the_next_caller_and_a_success_kept() {
        let attempts = Arc::new(AtomicU32::new(0));
        let counted = attempts.clone();
        let prefetch = Prefetch::start(move || {
            let attempt = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt == 0 {
                    Err("secrets unavailable")
                } else {
                    Ok(attempt)
                }
            }
        });
        assert_eq!(prefetch.get().await, Err("secrets unavailable"));
        assert_eq!(prefetch.get().await, Ok(&1));
        assert_eq!(prefetch.get().await, Ok(&1));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}
