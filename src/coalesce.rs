//! One describe call serving several waiters. Waiters of one kind that poll within a moment
//! of each other (the three VPC endpoints, created or deleted together) share a single call's
//! answer instead of sending one call each. A call asks for the waiters that are about to
//! poll, not for every resource of the kind: a look at a resource whose own poll is far off
//! would only be an extra look.

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
    calls: Mutex<HashMap<&'static str, Call>>,
    /// When each waiting resource polls next, by name.
    next_polls: Mutex<HashMap<String, Instant>>,
}

struct Call {
    started: Instant,
    /// The ids the call asked for: it serves only waiters for one of them (a resource created
    /// after the call was sent is not in its answer).
    ids: Vec<String>,
    answer: Shared<BoxFuture<'static, Answer>>,
}

impl Coalescer {
    /// `resource`'s waiter polls next at `at`; `None` once it is done waiting.
    pub fn next_poll(&self, resource: &str, at: Option<Instant>) {
        let mut next = self
            .next_polls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match at {
            Some(at) => next.insert(resource.to_owned(), at),
            None => next.remove(resource),
        };
    }

    /// Whether `resource`'s waiter polls within `window` from now.
    pub fn polls_within(&self, resource: &str, window: Duration) -> bool {
        let next = self
            .next_polls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        next.get(resource)
            .is_some_and(|&at| at <= Instant::now() + window)
    }

    /// For the waiter of `id`: the answer of a call under `key` that asked for `id` and started
    /// at most `window` ago (or is still in flight), else of a new call `fetch(ids)` asking
    /// for `ids` (which must include `id`).
    pub async fn get<T, F, Fut>(
        &self,
        key: &'static str,
        window: Duration,
        id: &str,
        ids: Vec<String>,
        fetch: F,
    ) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<T, AwsError>> + Send + 'static,
    {
        let call = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            match calls.get(key) {
                Some(call)
                    if call.started.elapsed() <= window && call.ids.iter().any(|i| i == id) =>
                {
                    call.answer.clone()
                }
                _ => {
                    let fut = fetch(ids.clone());
                    let answer = async move {
                        fut.await
                            .map(|value| Arc::new(value) as Arc<dyn Any + Send + Sync>)
                    }
                    .boxed()
                    .shared();
                    calls.insert(
                        key,
                        Call {
                            started: Instant::now(),
                            ids,
                            answer: answer.clone(),
                        },
                    );
                    answer
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
        let fetch = |ids: Vec<String>| {
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<_, AwsError>(ids)
            }
        };
        let ids = || vec!["vpce-1".to_owned(), "vpce-2".to_owned()];
        let window = Duration::from_millis(500);
        let (a, b) = tokio::join!(
            coalescer.get("endpoints", window, "vpce-1", ids(), fetch),
            coalescer.get("endpoints", window, "vpce-2", ids(), fetch),
        );
        assert_eq!(a.unwrap().len(), 2);
        assert!(b.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A resource the shared call did not ask for (created since) gets a call of its own.
        let c = coalescer
            .get(
                "endpoints",
                window,
                "vpce-3",
                vec!["vpce-3".to_owned()],
                fetch,
            )
            .await;
        assert_eq!(c.unwrap().as_slice(), ["vpce-3".to_owned()]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn only_waiters_about_to_poll_are_due_within_the_window() {
        let coalescer = Coalescer::default();
        let window = Duration::from_millis(100);
        let now = Instant::now();
        coalescer.next_poll("soon", Some(now + Duration::from_millis(50)));
        coalescer.next_poll("later", Some(now + Duration::from_secs(10)));
        assert!(coalescer.polls_within("soon", window));
        assert!(!coalescer.polls_within("later", window));
        assert!(!coalescer.polls_within("not waiting", window));
        coalescer.next_poll("soon", None);
        assert!(!coalescer.polls_within("soon", window));
    }

    #[tokio::test]
    async fn a_poll_after_the_window_makes_a_new_call() {
        let coalescer = Coalescer::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = |_: Vec<String>| {
            let calls = Arc::clone(&calls);
            async move { Ok::<_, AwsError>(calls.fetch_add(1, Ordering::SeqCst)) }
        };
        let window = Duration::from_millis(10);
        let ids = || vec!["a".to_owned()];
        assert_eq!(
            *coalescer.get("k", window, "a", ids(), fetch).await.unwrap(),
            0
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            *coalescer.get("k", window, "a", ids(), fetch).await.unwrap(),
            1
        );
    }
}
