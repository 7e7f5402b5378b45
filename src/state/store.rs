//! Where an environment's state lives, and what guards it: a local file under an OS lock, or
//! an S3 object under a lock object taken with a conditional write (`lease`). Commands see one
//! `Store`, and record every step through its `Writer`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::lease::S3Lock;
use super::local::{StateLock, StatePaths};
use super::location::S3Location;
use super::s3::S3Store;
use super::{State, StateError};
use crate::naming::EnvName;

/// How long a run holds the S3 lock without renewing it: a run killed without releasing it
/// blocks the environment this long at most (it renews every third of it while alive).
pub(crate) const LEASE: Duration = Duration::from_secs(120);

/// The shortest lease: renewals every third of it must fit between a busy machine's pauses.
const MIN_LEASE: Duration = Duration::from_secs(3);

/// How often a run waiting for a local lock tries again (a lock on one disk frees at once).
const LOCAL_POLL: Duration = Duration::from_millis(500);

pub(crate) enum Store {
    Local(StatePaths),
    S3(Arc<S3Store>),
}

/// A lock held until dropped (local) or released (S3: `Store::release`).
pub(crate) enum Held {
    Local { _lock: StateLock },
    S3(Arc<S3Lock>),
}

/// A lock just taken on `store`: named in the log, on every state version the run writes,
/// and renewed until released.
fn hold(store: &S3Store, command: &str, lock: S3Lock) -> Held {
    tracing::info!(
        lock = %store.location().url(&store.location().lock_key(store.env())),
        lock_id = lock.lock_id(),
        "took the state lock"
    );
    store.label(command, lock.lock_id());
    let lock = Arc::new(lock);
    S3Lock::spawn_renewal(Arc::clone(&lock));
    Held::S3(lock)
}

impl Held {
    /// Fails once an S3 lock is found to be another run's (taken over, or broken by hand).
    pub(crate) fn check(&self) -> Result<(), StateError> {
        match self {
            Self::Local { .. } => Ok(()),
            Self::S3(lock) => lock.check(),
        }
    }
}

impl Store {
    pub(crate) fn local(dir: &std::path::Path, env: &EnvName) -> Self {
        Self::Local(StatePaths::new(dir, env))
    }

    /// The S3 store, once its bucket is found fit for state.
    pub(crate) async fn s3(
        client: aws_sdk_s3::Client,
        location: S3Location,
        env: &EnvName,
    ) -> Result<Self, StateError> {
        let store = S3Store::open(client, location, env.clone()).await?;
        Ok(Self::S3(Arc::new(store)))
    }

    /// Where the state is, as messages name it.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Local(paths) => paths.file.display().to_string(),
            Self::S3(store) => store.url(),
        }
    }

    /// Takes the environment's lock, waiting up to `wait` for its holder to finish, or says
    /// who holds it.
    pub(crate) async fn lock(&self, command: &str, wait: Duration) -> Result<Held, StateError> {
        match self {
            Self::Local(paths) => {
                let deadline = tokio::time::Instant::now() + wait;
                loop {
                    match StateLock::acquire(paths, command) {
                        Err(StateError::Locked { .. })
                            if tokio::time::Instant::now() < deadline =>
                        {
                            tokio::time::sleep(LOCAL_POLL).await;
                        }
                        result => return result.map(|lock| Held::Local { _lock: lock }),
                    }
                }
            }
            Self::S3(store) => {
                let lock = S3Lock::acquire(
                    store.client(),
                    store.location(),
                    store.env(),
                    command,
                    LEASE,
                    wait,
                )
                .await?;
                Ok(hold(store, command, lock))
            }
        }
    }

    /// `s3` and `lock` at once: the bucket's checks and the lock's conditional write together
    /// cost one round trip, not two. A lock taken for a bucket found unfit is given back. The
    /// lease is `lease`, at least `MIN_LEASE`: the tests' time scale shortens it, so that a
    /// killed run's lock runs out within a test.
    pub(crate) async fn s3_locked(
        client: aws_sdk_s3::Client,
        location: S3Location,
        env: &EnvName,
        command: &str,
        wait: Duration,
        lease: Duration,
    ) -> Result<(Self, Held), StateError> {
        let (opened, locked) = tokio::join!(
            S3Store::open(client.clone(), location.clone(), env.clone()),
            S3Lock::acquire(&client, &location, env, command, lease.max(MIN_LEASE), wait),
        );
        match (opened, locked) {
            (Ok(store), Ok(lock)) => {
                let store = Arc::new(store);
                let held = hold(&store, command, lock);
                Ok((Self::S3(store), held))
            }
            (Err(unfit), Ok(lock)) => {
                if let Err(e) = Arc::new(lock).release().await {
                    tracing::warn!(error = %e, "the state lock was not released; it expires by itself");
                }
                Err(unfit)
            }
            // What is wrong with the bucket explains a refused lock better than the refusal.
            (Err(e), Err(_)) | (Ok(_), Err(e)) => Err(e),
        }
    }

    /// Gives the lock back; a local lock goes with its file descriptor.
    pub(crate) async fn release(held: Held) -> Result<(), StateError> {
        match held {
            Held::Local { .. } => Ok(()),
            Held::S3(lock) => lock.release().await,
        }
    }

    /// The state, without checking whose it is.
    pub(crate) async fn read(&self) -> Result<Option<State>, StateError> {
        match self {
            Self::Local(paths) => paths.read(),
            Self::S3(store) => Ok(store.read().await?.map(|(state, _)| state)),
        }
    }

    pub(crate) async fn save(&self, state: &State) -> Result<(), StateError> {
        match self {
            Self::Local(paths) => paths.save(state),
            Self::S3(store) => store.save(state).await,
        }
    }

    /// Removes the state (after a complete `destroy`); an S3 object keeps its versions.
    pub(crate) async fn clear(&self) -> Result<(), StateError> {
        match self {
            Self::Local(paths) => paths.clear(),
            Self::S3(store) => store.clear().await,
        }
    }

    /// Records every step: a local file is written at once; an S3 object in the background,
    /// the latest state winning and one write in flight, so recording never slows a step.
    /// Under `held`, an S3 write is made only while the lock is still this run's.
    pub(crate) fn writer(&self, held: Option<&Held>) -> Writer {
        match self {
            Self::Local(paths) => Writer::Local(paths.clone()),
            Self::S3(store) => {
                let lock = match held {
                    Some(Held::S3(lock)) => Some(Arc::clone(lock)),
                    _ => None,
                };
                let (tx, mut rx) = watch::channel::<Option<State>>(None);
                let failed: Arc<Mutex<Option<StateError>>> = Arc::default();
                let store = Arc::clone(store);
                let failure = Arc::clone(&failed);
                let task = tokio::spawn(async move {
                    // A state sent before the sender closed is still seen: `changed` reports
                    // an unseen value before it reports the close.
                    while rx.changed().await.is_ok() {
                        let Some(state) = rx.borrow_and_update().clone() else {
                            continue;
                        };
                        let saved = match &lock {
                            Some(lock) => lock.check(),
                            None => Ok(()),
                        };
                        if let Err(e) = async {
                            saved?;
                            store.save(&state).await
                        }
                        .await
                        {
                            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                            return;
                        }
                    }
                });
                Writer::S3 {
                    tx: Mutex::new(Some(tx)),
                    failed,
                    task: Mutex::new(Some(task)),
                }
            }
        }
    }
}

pub(crate) enum Writer {
    Local(StatePaths),
    S3 {
        /// Dropped by `finish`: the writer ends once it has written what is queued.
        tx: Mutex<Option<watch::Sender<Option<State>>>>,
        /// The first write that failed (someone else wrote): the run stops at its next record.
        failed: Arc<Mutex<Option<StateError>>>,
        task: Mutex<Option<JoinHandle<()>>>,
    },
}

impl Writer {
    /// Records `state`: written (local) or queued (S3). Once an S3 write has failed, every
    /// record fails with what went wrong, so the run stops instead of carrying on unrecorded;
    /// `finish` reports the failure itself.
    pub(crate) fn record(&self, state: State) -> Result<(), StateError> {
        match self {
            Self::Local(paths) => paths.save(&state),
            Self::S3 { tx, failed, .. } => {
                if let Some(e) = failed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                {
                    return Err(StateError::Halted(e.to_string()));
                }
                if let Some(tx) = tx.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                    tx.send_replace(Some(state));
                }
                Ok(())
            }
        }
    }

    /// Waits for the last queued state to be written, and reports a write that failed.
    pub(crate) async fn finish(&self) -> Result<(), StateError> {
        let Self::S3 { tx, failed, task } = self else {
            return Ok(());
        };
        drop(tx.lock().unwrap_or_else(PoisonError::into_inner).take());
        let task = task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            // A writer that panicked wrote nothing more; what it failed on is reported below.
            let _ = task.await;
        }
        match failed.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
