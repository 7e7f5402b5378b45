//! One describe call serving several waiters. Waiters of one kind that poll within a moment
//! of each other (the three VPC endpoints, created or deleted together) share a single call's
//! answer instead of sending one call each.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use crate::aws::AwsError;

type Answer = Result<Arc<dyn Any + Send + Sync>, AwsError>;

#[derive(Default)]
pub struct Coalescer {
    calls: Mutex<HashMap<&'static str, (Instant, Shared<BoxFuture<'static, Answer>>)>>,
}

impl Coalescer {
    /// The answer of a call under `key` started at most `window` ago (or still in flight), else
    /// of a new call made by `fetch`.
    pub async fn get<T, F, Fut>(
        &self,
        key: &'static str,
        window: Duration,
        fetch: F,
    ) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>> + Send + 'static,
    {
        let call = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            match calls.get(key) {
                Some((started, call)) if started.elapsed() <= window => call.clone(),
                _ => {
                    let fut = fetch();
                    let call = async move {
                        fut.await
                            .map(|value| Arc::new(value) as Arc<dyn Any + Send + Sync>)
                    }
                    .boxed()
                    .shared();
                    calls.insert(key, (Instant::now(), call.clone()));
                    call
                }
            }
        };
        let answer = call.await?;
        answer
            .downcast::<T>()
            .map_err(|_| AwsError::unexpected(key, "two kinds of answer were shared under one key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn waiters_polling_together_share_one_call() {
        let coalescer = Coalescer::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = || {
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<_, AwsError>(vec!["vpce-1", "vpce-2"])
            }
        };
        let window = Duration::from_millis(500);
        let (a, b, c) = tokio::join!(
            coalescer.get("endpoints", window, fetch),
            coalescer.get("endpoints", window, fetch),
            coalescer.get("endpoints", window, fetch),
        );
        assert_eq!(a.unwrap().len(), 2);
        assert!(b.is_ok() && c.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_poll_after_the_window_makes_a_new_call() {
        let coalescer = Coalescer::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = || {
            let calls = Arc::clone(&calls);
            async move { Ok::<_, AwsError>(calls.fetch_add(1, Ordering::SeqCst)) }
        };
        let window = Duration::from_millis(10);
        assert_eq!(*coalescer.get("k", window, fetch).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(*coalescer.get("k", window, fetch).await.unwrap(), 1);
    }
}
