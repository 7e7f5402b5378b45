//! Where an environment's state lives, and what guards it: a local file under an OS lock, or
//! an S3 object under a lock object taken with a conditional write (`lease`). Commands see one
//! `Store`, and record every step through its `Writer`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::lease::S3Lock;
use super::local::{StateLock, StatePaths};
use super::s3::S3Store;
use super::{State, StateError};
use crate::config::location::S3Location;
use crate::naming::EnvName;

/// How long a run holds the S3 lock without renewing it: a run killed without releasing it
/// blocks the environment this long at most (it renews every third of it while alive).
pub(crate) const LEASE: Duration = Duration::from_secs(120);

/// The shortest lease: renewals every third of it must fit between a busy machine's pauses.
const MIN_LEASE: Duration = Duration::from_secs(3);

/// Whether the state read before the lock was this run's still holds (`Store::confirm`):
/// `Err` carries what to tell the user. Every step about to change AWS, and the state writer,
/// wait for it.
pub(crate) type Confirmation = Shared<BoxFuture<'static, Result<(), String>>>;

/// How long the S3 writer lets records gather before it writes the latest. Steps that end
/// together (a resource's id, then its read-back attributes; several resources at once) then
/// cost one write, not one each behind each other, and above all at the end of a run, where
/// `finish` writes at once and would otherwise wait for a write already in flight. A killed
/// run loses at most this much more, and re-adopts it by tags as before.
const SETTLE: Duration = Duration::from_millis(100);

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
    /// killed run's lock runs out within a test. With `read_early`, the state is read in the
    /// same round trip, before the lock is known to be this run's: `read` returns that read,
    /// and `confirm` must then say it still holds before anything relies on it.
    pub(crate) async fn s3_locked(
        client: aws_sdk_s3::Client,
        location: S3Location,
        env: &EnvName,
        command: &str,
        wait: Duration,
        lease: Duration,
        read_early: bool,
    ) -> Result<(Self, Held), StateError> {
        let early = async {
            if read_early {
                let reader = S3Store::new(client.clone(), location.clone(), env.clone());
                Some(reader.read().await)
            } else {
                None
            }
        };
        let (opened, locked, early) = tokio::join!(
            S3Store::open(client.clone(), location.clone(), env.clone()),
            S3Lock::acquire(&client, &location, env, command, lease.max(MIN_LEASE), wait),
            early,
        );
        match (opened, locked) {
            (Ok(store), Ok(lock)) => {
                match early {
                    Some(Ok(read)) => store.keep_early_read(read),
                    // An unreadable state: the lock goes back as for an unfit bucket.
                    Some(Err(unreadable)) => {
                        if let Err(e) = Arc::new(lock).release().await {
                            tracing::warn!(error = %e, "the state lock was not released; it expires by itself");
                        }
                        return Err(unreadable);
                    }
                    None => {}
                }
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

    /// Checks, in the background, that the state read beside the lock (`s3_locked` with
    /// `read_early`) is still the object S3 holds now that the lock is this run's: a run that
    /// released the lock in the meantime may have written it last. Until the answer, nothing
    /// may change AWS or the state: `Confirmation` is what they wait for.
    pub(crate) fn confirm(&self) -> Option<Confirmation> {
        let Self::S3(store) = self else {
            return None;
        };
        let store = Arc::clone(store);
        let check = tokio::spawn(async move {
            match store.unchanged().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(StateError::Conflict {
                    location: store.url(),
                    detail: "it changed as this run took the lock (another run had just finished); nothing was changed in AWS; run the command again".into(),
                }
                .to_string()),
                Err(e) => Err(e.to_string()),
            }
        });
        Some(
            async move { check.await.unwrap_or_else(|e| Err(e.to_string())) }
                .boxed()
                .shared(),
        )
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
    pub(crate) fn writer(&self, held: Option<&Held>, confirmation: Option<Confirmation>) -> Writer {
        match self {
            Self::Local(paths) => Writer::Local(paths.clone()),
            Self::S3(store) => {
                let lock = match held {
                    Some(Held::S3(lock)) => Some(Arc::clone(lock)),
                    _ => None,
                };
                let (tx, rx) = watch::channel::<Option<State>>(None);
                let failed: Arc<Mutex<Option<StateError>>> = Arc::default();
                let store = Arc::clone(store);
                let failure = Arc::clone(&failed);
                let task = tokio::spawn(async move {
                    let written = drain(rx, SETTLE, |state| {
                        let (store, lock) = (Arc::clone(&store), lock.clone());
                        let confirmation = confirmation.clone();
                        async move {
                            if let Some(confirmation) = confirmation {
                                confirmation.await.map_err(StateError::Halted)?;
                            }
                            if let Some(lock) = &lock {
                                lock.check()?;
                            }
                            store.save(&state).await
                        }
                    })
                    .await;
                    if let Err(e) = written {
                        *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
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

/// Writes what `rx` is sent, the latest winning and one write at a time: a write goes out
/// `settle` after the first record it carries (a steady stream of records still gets written),
/// or at once when the sender closes. Returns the first failed write. A state sent before the sender closed is still written: `changed` reports an
/// unseen value before it reports the close.
async fn drain<W, F>(
    mut rx: watch::Receiver<Option<State>>,
    settle: Duration,
    mut write: W,
) -> Result<(), StateError>
where
    W: FnMut(State) -> F,
    F: std::future::Future<Output = Result<(), StateError>>,
{
    while rx.changed().await.is_ok() {
        let quiet_until = tokio::time::Instant::now() + settle;
        while let Ok(Ok(())) = tokio::time::timeout_at(quiet_until, rx.changed()).await {}
        let Some(state) = rx.borrow_and_update().clone() else {
            continue;
        };
        write(state).await?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: u32) -> State {
        let mut state = State::new(
            &crate::naming::EnvName::parse("dev").unwrap(),
            "us-east-1",
            "123456789012",
        );
        state.updated_at = chrono::DateTime::from_timestamp(i64::from(n), 0).unwrap();
        state
    }

    type Written = Arc<Mutex<Vec<State>>>;

    /// Runs `drain` in the background, recording what it writes.
    fn spawn_drain(
        settle: Duration,
    ) -> (
        watch::Sender<Option<State>>,
        Written,
        JoinHandle<Result<(), StateError>>,
    ) {
        let (tx, rx) = watch::channel(None);
        let written: Arc<Mutex<Vec<State>>> = Arc::default();
        let sink = Arc::clone(&written);
        let task = tokio::spawn(drain(rx, settle, move |state| {
            sink.lock().unwrap().push(state);
            std::future::ready(Ok(()))
        }));
        (tx, written, task)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn records_that_end_together_are_written_once_and_at_once_when_the_run_finishes() {
        let (tx, written, task) = spawn_drain(Duration::from_secs(3600));
        tx.send_replace(Some(state(1)));
        // The writer takes the first record and starts waiting for the rest.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        tx.send_replace(Some(state(2)));
        tx.send_replace(Some(state(3)));
        drop(tx);
        // An hour's settling is cut short by the close: the test would time out otherwise.
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the close ends the wait")
            .unwrap()
            .unwrap();
        let written = written.lock().unwrap();
        assert_eq!(
            written
                .iter()
                .map(|s| s.updated_at.timestamp())
                .collect::<Vec<_>>(),
            [3],
            "one write, of the latest record"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_record_is_written_after_settling_while_the_run_goes_on() {
        let (tx, written, task) = spawn_drain(Duration::from_millis(20));
        tx.send_replace(Some(state(1)));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            written.lock().unwrap().len(),
            1,
            "written without the close"
        );
        tx.send_replace(Some(state(2)));
        drop(tx);
        task.await.unwrap().unwrap();
        let stamps: Vec<_> = written
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.updated_at.timestamp())
            .collect();
        assert_eq!(stamps, [1, 2]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_write_ends_the_writer_with_its_error() {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(drain(rx, Duration::ZERO, |_| {
            std::future::ready(Err(StateError::Halted("someone else wrote".into())))
        }));
        tx.send_replace(Some(state(1)));
        let err = task.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("someone else wrote"), "{err}");
    }
}
