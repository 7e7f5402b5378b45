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
    pub(super) async fn get<T, F, Fut>(
        &self,
        calls: &CallCounter,
        key: &ListKey<T>,
        fetch: F,
    ) -> Result<Option<Arc<T>>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
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

    #[tokio::test]
    async fn one_fetch_serves_every_reader() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        let fetches = AtomicUsize::new(0);
        for _ in 0..3 {
            let got = listings
                .get(&calls, &ListKey::new("subnets"), || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok(vec!["subnet-1".to_owned()])
                })
                .await
                .unwrap();
            assert_eq!(got.unwrap().as_slice(), ["subnet-1".to_owned()]);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_change_after_the_fetch_retires_the_list() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        let fetch = || async { Ok(1u8) };
        assert!(
            listings
                .get(&calls, &ListKey::new("k"), fetch)
                .await
                .unwrap()
                .is_some()
        );
        calls.count("EC2:DescribeVpcs".to_owned(), false);
        assert!(
            listings
                .get(&calls, &ListKey::new("k"), fetch)
                .await
                .unwrap()
                .is_some()
        );
        calls.count("EC2:CreateTags".to_owned(), false);
        assert!(
            listings
                .get(&calls, &ListKey::new("k"), fetch)
                .await
                .unwrap()
                .is_none()
        );
    }

    /// A wait that saw a resource settle (a pending endpoint now available) must not be
    /// followed by a read from the list fetched while it was pending.
    #[tokio::test]
    async fn a_poll_after_the_fetch_retires_the_list() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        let fetch = || async { Ok(1u8) };
        assert!(
            listings
                .get(&calls, &ListKey::new("k"), fetch)
                .await
                .unwrap()
                .is_some()
        );
        calls.count("EC2:DescribeVpcEndpoints".to_owned(), true);
        assert!(
            listings
                .get(&calls, &ListKey::new("k"), fetch)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn nothing_is_listed_once_the_run_has_changed_something() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        calls.count("EC2:CreateVpc".to_owned(), false);
        let got = listings
            .get(&calls, &ListKey::new("k"), || async {
                panic!("a list fetched after a change")
            })
            .await;
        assert!(matches!(got, Ok(None::<Arc<u8>>)));
    }

    fn aws(kind: ErrorKind) -> Error {
        let mut e = crate::aws::AwsError::unexpected("tag:GetResources", "no");
        e.kind = kind;
        Error::Aws(e)
    }

    #[tokio::test]
    async fn a_fetch_failed_for_now_is_tried_again() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        let first: Result<Option<Arc<u8>>, Error> = listings
            .get(&calls, &ListKey::new("k"), || async {
                Err(aws(ErrorKind::Throttled))
            })
            .await;
        assert!(first.is_err());
        let second = listings
            .get(&calls, &ListKey::new("k"), || async { Ok(7u8) })
            .await;
        assert_eq!(*second.unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_denied_list_sends_reads_one_by_one_without_asking_again() {
        let listings = Listings::default();
        let calls = CallCounter::default();
        let denied = listings
            .get(&calls, &ListKey::new("k"), || async {
                Err::<u8, _>(aws(ErrorKind::Other))
            })
            .await;
        assert!(matches!(denied, Ok(None)));
        let again = listings
            .get(&calls, &ListKey::new("k"), || async {
                panic!("asked again after a denial")
            })
            .await;
        assert!(matches!(again, Ok(None::<Arc<u8>>)));
    }
}
