//! Batched reads. One describe call lists every resource of a kind in the environment (all
//! subnets, all alarms, every tag of every resource), and the reads of single resources take
//! their item from that list instead of one call each: a converged `up`, `verify` and
//! `destroy`'s first pass read the stack in a few dozen calls.
//!
//! Lists serve a run's reading phase: one is fetched on first demand only while the run has
//! changed nothing yet, and trusted only until it does (any mutating call, by any step) or
//! watches AWS change something (any poll of a wait); after that, reads go back to their own
//! describe. A repair, a create, a retry after a lost response or the read after a resource
//! settled therefore never sees a stale item, and a run that is busy creating does not pay for
//! lists it would use once.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::aws::{CallCounter, ErrorKind};
use crate::error::Error;

/// A batched list: its name (the call that fetches it, for logs) and the type it holds. A read
/// that asks with another type does not compile, rather than missing the list at run time.
pub(crate) struct ListKey<T> {
    name: &'static str,
    holds: PhantomData<fn() -> T>,
}

impl<T> ListKey<T> {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            holds: PhantomData,
        }
    }
}

/// What fetches a list: called once, on first demand, by whichever read asks first. Named so
/// that the cache and `Ctx::listed`, which hands it on, state one bound.
pub(crate) trait Fetch<T>: FnOnce() -> Self::Listing {
    type Listing: Future<Output = Result<T, Error>>;
}

impl<T, F, Fut> Fetch<T> for F
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    type Listing = Fut;
}

/// A list's name and type: two lists of one name cannot be mistaken for each other.
type Slot = (&'static str, TypeId);

#[derive(Default)]
pub(super) struct Listings {
    cells: Mutex<HashMap<Slot, Arc<OnceCell<Listed>>>>,
}

struct Listed {
    /// `CallCounter::mutations` when the fetch began.
    mutations: u64,
    /// `None`: the batched call is not available here (denied by the caller's IAM policy, or not
    /// offered by the endpoint); reads go one by one.
    value: Option<Arc<dyn Any + Send + Sync>>,
}

impl Listings {
    /// The list under `key`, fetched by `fetch` on first demand (concurrent callers share one
    /// fetch); `None` once the run has changed something (before the fetch or since).
    pub(super) async fn get<T: Send + Sync + 'static>(
        &self,
        calls: &CallCounter,
        key: &ListKey<T>,
        fetch: impl Fetch<T>,
    ) -> Result<Option<Arc<T>>, Error> {
        let cell = Arc::clone(
            self.cells
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((key.name, TypeId::of::<T>()))
                .or_default(),
        );
        if !cell.initialized() && calls.mutations() > 0 {
            return Ok(None);
        }
        let listed = cell
            .get_or_try_init(|| async {
                let mutations = calls.mutations();
                let value = match fetch().await {
                    Ok(value) => Some(Arc::new(value) as Arc<dyn Any + Send + Sync>),
                    Err(e) if !e.aws_kind().is_some_and(ErrorKind::is_retryable) => {
                        tracing::debug!(key = key.name, error = %e, "batched read unavailable; reading one by one");
                        None
                    }
                    Err(e) => return Err(e),
                };
                Ok::<_, Error>(Listed { mutations, value })
            })
            .await?;
        if listed.mutations != calls.mutations() {
            return Ok(None);
        }
        Ok(listed
            .value
            .as_ref()
            .and_then(|value| Arc::clone(value).downcast::<T>().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A run's lists and its call count, every read asking for the same list.
    #[derive(Default)]
    struct Run {
        listings: Listings,
        calls: CallCounter,
    }

    impl Run {
        async fn get<T: Send + Sync + 'static>(
            &self,
            fetch: impl Fetch<T>,
        ) -> Result<Option<Arc<T>>, Error> {
            self.listings
                .get(&self.calls, &ListKey::new("k"), fetch)
                .await
        }

        /// A read whose fetch fails with an AWS error of `kind`.
        async fn get_failing(&self, kind: ErrorKind) -> Result<Option<Arc<u8>>, Error> {
            self.get(|| async {
                let mut e = crate::aws::AwsError::unexpected("tag:GetResources", "no");
                e.kind = kind;
                Err(Error::Aws(e))
            })
            .await
        }

        /// Whether a read now takes its item from the list.
        async fn reads_from_the_list(&self) -> bool {
            self.get(|| async { Ok(1u8) }).await.unwrap().is_some()
        }
    }

    #[tokio::test]
    async fn one_fetch_serves_every_reader() {
        let run = Run::default();
        let fetches = AtomicUsize::new(0);
        for _ in 0..3 {
            let got = run
                .get(|| async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok(vec!["subnet-1".to_owned()])
                })
                .await
                .unwrap();
            assert_eq!(got.unwrap().as_slice(), ["subnet-1".to_owned()]);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// Whether a list fetched before `operation` was sent (`polling`: by a wait) still serves
    /// reads after it.
    async fn outlives(operation: &str, polling: bool) -> bool {
        let run = Run::default();
        assert!(run.reads_from_the_list().await);
        run.calls.count(operation.to_owned(), polling);
        run.reads_from_the_list().await
    }

    #[tokio::test]
    async fn a_change_after_the_fetch_retires_the_list() {
        assert!(outlives("EC2:DescribeVpcs", false).await);
        assert!(!outlives("EC2:CreateTags", false).await);
    }

    /// A wait that saw a resource settle (a pending endpoint now available) must not be
    /// followed by a read from the list fetched while it was pending.
    #[tokio::test]
    async fn a_poll_after_the_fetch_retires_the_list() {
        assert!(!outlives("EC2:DescribeVpcEndpoints", true).await);
    }

    #[tokio::test]
    async fn nothing_is_listed_once_the_run_has_changed_something() {
        let run = Run::default();
        run.calls.count("EC2:CreateVpc".to_owned(), false);
        let got = run
            .get(|| async { panic!("a list fetched after a change") })
            .await;
        assert!(matches!(got, Ok(None::<Arc<u8>>)));
    }

    #[tokio::test]
    async fn a_fetch_failed_for_now_is_tried_again() {
        let run = Run::default();
        assert!(run.get_failing(ErrorKind::Throttled).await.is_err());
        let second = run.get(|| async { Ok(7u8) }).await;
        assert_eq!(*second.unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_denied_list_sends_reads_one_by_one_without_asking_again() {
        let run = Run::default();
        assert!(matches!(run.get_failing(ErrorKind::Other).await, Ok(None)));
        let again = run
            .get(|| async { panic!("asked again after a denial") })
            .await;
        assert!(matches!(again, Ok(None::<Arc<u8>>)));
    }
}
