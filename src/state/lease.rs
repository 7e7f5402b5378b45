//! The S3 backend's lock, as Terraform's S3 backend takes it: the object `PREFIX/<env>.lock`,
//! created only if absent (`If-None-Match: *`). Unlike a local file lock, nothing releases it
//! when its holder dies, so it is a lease: the holder renews it in the background, and a lock
//! whose lease has run out may be taken over, with `If-Match` on its ETag so that of two runs
//! taking it over at once only one wins.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::s3::{Condition, Object, Outcome};
use super::{Holder, StateError};
use crate::config::location::S3Location;
use crate::naming::EnvName;

/// How often a run waiting for a lock (`--lock-timeout`) looks at it again, at most; a short
/// wait looks twenty times.
const POLL: Duration = Duration::from_secs(5);

/// The lock object's body: who holds it and until when, so that a blocked run can name the
/// holder and tell a live lease from a dead one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct LockBody {
    lock_id: String,
    host: String,
    pid: u32,
    command: String,
    started_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl LockBody {
    fn new(lock_id: &str, command: &str, now: DateTime<Utc>, lease: Duration) -> Self {
        let holder = Holder::this_process(command, now);
        Self {
            lock_id: lock_id.to_owned(),
            host: holder.host,
            pid: holder.pid,
            command: holder.command,
            started_at: now,
            expires_at: expiry(now, lease),
        }
    }

    fn holder(&self) -> Holder {
        Holder {
            pid: self.pid,
            host: self.host.clone(),
            command: self.command.clone(),
            started_at: self.started_at,
        }
    }

    /// A lease that has run out by `now` (by this machine's clock: a holder renews when a third
    /// of the lease has passed, so only a clock off by more than two thirds of it misjudges).
    fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    fn describe(&self) -> String {
        format!(
            "{}, lease until {}, lock id {}",
            self.holder(),
            self.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.lock_id
        )
    }

    /// The lock object's body; never an empty one, should serializing ever fail.
    fn to_json(&self, url: &str) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(self).map_err(|e| StateError::unserializable(url, e))
    }
}

fn expiry(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A random version-4 UUID, as Terraform's lock ids are.
fn new_lock_id() -> Result<String, getrandom::Error> {
    crate::secret_value::random_uuid()
}

/// What the lock object holds now.
struct Seen {
    /// The body, or why it is not a medtech lock.
    lock: Result<LockBody, String>,
    etag: String,
}

async fn look(object: &Object) -> Result<Option<Seen>, StateError> {
    Ok(object.get().await?.map(|(body, etag)| Seen {
        lock: serde_json::from_slice(&body).map_err(|e| e.to_string()),
        etag,
    }))
}

fn unreadable(object: &Object, detail: &str) -> String {
    format!(
        "an object that is not a medtech lock ({detail}); if no run holds the lock, delete {}",
        object.url
    )
}

/// A held lock on one environment's state object.
#[derive(Debug)]
pub(crate) struct S3Lock {
    object: Object,
    /// The state object's URL, which errors name as the thing locked.
    state_url: String,
    lease: Duration,
    body: LockBody,
    /// The lock object's ETag as last written; held across a renewal so that a release waits
    /// for it.
    current: tokio::sync::Mutex<Current>,
    /// Why the renewal found the lock no longer this run's.
    lost: Mutex<Option<String>>,
    renewal: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Debug)]
struct Current {
    etag: String,
    released: bool,
}

impl S3Lock {
    /// Takes the lock, waiting up to `wait` for a live holder to let go; a holder whose lease
    /// ran out is taken over at once.
    pub(crate) async fn acquire(
        client: &Client,
        location: &S3Location,
        env: &EnvName,
        command: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Self, StateError> {
        let object = Object::new(client.clone(), location, location.lock_key(env));
        let state_url = location.url(&location.state_key(env));
        let lock_id = new_lock_id().map_err(|e| StateError::Io {
            path: object.url.clone(),
            source: std::io::Error::other(e),
        })?;
        let deadline = Instant::now() + wait;
        loop {
            let body = LockBody::new(&lock_id, command, Utc::now(), lease);
            let held = |body: LockBody, etag: String| Self {
                object: object.clone(),
                state_url: state_url.clone(),
                lease,
                body,
                current: tokio::sync::Mutex::new(Current {
                    etag,
                    released: false,
                }),
                lost: Mutex::new(None),
                renewal: Mutex::new(None),
            };
            if let Outcome::Done(etag) = object
                .put(body.to_json(&object.url)?, Condition::Absent)
                .await?
            {
                return Ok(held(body, etag));
            }
            let Some(seen) = look(&object).await? else {
                // Released between the two calls: try again at once.
                continue;
            };
            let holder = match seen.lock {
                // The SDK retried an acquire whose first attempt landed.
                Ok(theirs) if theirs.lock_id == lock_id => return Ok(held(theirs, seen.etag)),
                Ok(theirs) if theirs.is_expired(Utc::now()) => {
                    let taken = object
                        .put(body.to_json(&object.url)?, Condition::Matches(&seen.etag))
                        .await?;
                    if let Outcome::Done(etag) = taken {
                        tracing::warn!(
                            lock = %object.url,
                            "took over a lock whose lease had run out: {}",
                            theirs.describe()
                        );
                        return Ok(held(body, etag));
                    }
                    // Another run took it over first, or it was released; or a lost answer
                    // to this takeover, which the next look recognises by the lock id.
                    continue;
                }
                Ok(theirs) => theirs.describe(),
                Err(detail) => unreadable(&object, &detail),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StateError::Locked {
                    path: state_url,
                    holder,
                });
            }
            tracing::info!(lock = %object.url, "waiting for the lock held by {holder}");
            let pace = (wait / 20).clamp(Duration::from_millis(200), POLL);
            tokio::time::sleep(pace.min(left)).await;
        }
    }

    pub(crate) fn lock_id(&self) -> &str {
        &self.body.lock_id
    }

    /// Extends the lease from now.
    pub(crate) async fn renew(&self) -> Result<(), StateError> {
        let mut current = self.current.lock().await;
        if current.released {
            return Ok(());
        }
        let mut body = self.body.clone();
        body.expires_at = expiry(Utc::now(), self.lease);
        let written = self
            .object
            .put(
                body.to_json(&self.object.url)?,
                Condition::Matches(&current.etag),
            )
            .await?;
        if let Outcome::Done(etag) = written {
            current.etag = etag;
            return Ok(());
        }
        let detail = match look(&self.object).await? {
            // The SDK retried a renewal whose first attempt landed.
            Some(Seen {
                lock: Ok(held),
                etag,
            }) if held.lock_id == self.body.lock_id => {
                current.etag = etag;
                return Ok(());
            }
            Some(Seen { lock: Ok(held), .. }) => format!("it is now held by {}", held.describe()),
            Some(Seen {
                lock: Err(detail), ..
            }) => format!("it was replaced by {}", unreadable(&self.object, &detail)),
            None => "the lock object was deleted, by `medtech state unlock` or by hand".to_owned(),
        };
        *lock(&self.lost) = Some(detail.clone());
        Err(self.lost_error(detail))
    }

    /// Fails once the renewal has found the lock no longer this run's.
    pub(crate) fn check(&self) -> Result<(), StateError> {
        match lock(&self.lost).clone() {
            Some(detail) => Err(self.lost_error(detail)),
            None => Ok(()),
        }
    }

    fn lost_error(&self, detail: String) -> StateError {
        StateError::LockLost {
            path: self.state_url.clone(),
            detail,
        }
    }

    /// Renews the lease every third of it until the lock is released or dropped. A renewal
    /// that fails for a while is tried again at the next turn; one that finds the lock taken
    /// ends the renewals (see `check`).
    pub(crate) fn spawn_renewal(self: Arc<Self>) {
        let period = (self.lease / 3).max(Duration::from_millis(10));
        // A weak reference, so that dropping the lock ends the renewals.
        let weak = Arc::downgrade(&self);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now() + period;
            let mut ticks = tokio::time::interval_at(start, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(held) = weak.upgrade() else {
                    return;
                };
                match held.renew().await {
                    Ok(()) => {}
                    Err(e @ StateError::LockLost { .. }) => {
                        tracing::error!("{e}");
                        return;
                    }
                    Err(e) => tracing::warn!("renewing the state lock failed: {e}"),
                }
            }
        });
        if let Some(earlier) = lock(&self.renewal).replace(task.abort_handle()) {
            earlier.abort();
        }
    }

    /// Deletes the lock object if it is still this run's: a lock taken over after its lease
    /// ran out belongs to another run now.
    pub(crate) async fn release(self: Arc<Self>) -> Result<(), StateError> {
        if let Some(renewal) = lock(&self.renewal).take() {
            renewal.abort();
        }
        let mut current = self.current.lock().await;
        current.released = true;
        if let Outcome::Done(()) = self.object.delete(&current.etag).await? {
            return Ok(());
        }
        // Refused: a renewal aborted in flight may have landed with an ETag this run never
        // saw, or the lock was taken over. Look whose it is now.
        match look(&self.object).await? {
            Some(Seen {
                lock: Ok(held),
                etag,
            }) if held.lock_id == self.body.lock_id => {
                // Refused: taken over between the look and the delete, or a retried delete
                // whose first attempt landed; either way, nothing of this run's is left.
                self.object.delete(&etag).await?;
            }
            _ => tracing::warn!(
                lock = %self.object.url,
                "the lock was no longer this run's when it finished; left it as it is"
            ),
        }
        Ok(())
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if let Some(renewal) = lock(&self.renewal).take() {
            renewal.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Breaks the lock whose id is `lock_id` and says whose it was. Any other id is refused with
/// the actual holder, so that a person breaks only the lock they looked at.
pub(crate) async fn unlock(
    client: &Client,
    location: &S3Location,
    env: &EnvName,
    lock_id: &str,
) -> Result<Holder, StateError> {
    let object = Object::new(client.clone(), location, location.lock_key(env));
    let refuse = |detail: String| StateError::Unlock {
        path: location.url(&location.state_key(env)),
        detail,
    };
    // A live holder renews between the look and the delete now and then: look again.
    for _ in 0..3 {
        let Some(seen) = look(&object).await? else {
            return Err(refuse(format!(
                "it is not locked ({} does not exist)",
                object.url
            )));
        };
        match seen.lock {
            Err(detail) => {
                return Err(refuse(format!(
                    "the lock is {}",
                    unreadable(&object, &detail)
                )));
            }
            Ok(held) if held.lock_id != lock_id => {
                return Err(refuse(format!(
                    "its lock id is {}, not {lock_id}: it is held by {}",
                    held.lock_id,
                    held.holder()
                )));
            }
            Ok(held) => {
                // Refused with the object gone is a retried delete whose first attempt landed.
                if let Outcome::Done(()) = object.delete(&seen.etag).await? {
                    return Ok(held.holder());
                }
                if look(&object).await?.is_none() {
                    return Ok(held.holder());
                }
            }
        }
    }
    Err(refuse(
        "the lock kept changing while medtech tried to break it; run the command again".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fake_s3::FakeS3;
    use crate::state::testing::env;

    const LEASE: Duration = Duration::from_secs(60);

    fn at() -> S3Location {
        S3Location::parse("s3://team-state/medtech").unwrap()
    }

    async fn take(s3: &FakeS3, command: &str, wait: Duration) -> Result<S3Lock, StateError> {
        S3Lock::acquire(&s3.client(), &at(), &env(), command, LEASE, wait).await
    }

    fn body_of(s3: &FakeS3) -> LockBody {
        serde_json::from_slice(&s3.object("medtech/dev.lock").unwrap().0).unwrap()
    }

    #[test]
    fn the_body_round_trips_with_the_documented_fields() {
        let now = Utc::now();
        let body = LockBody::new("id-1", "up", now, LEASE);
        let json: serde_json::Value =
            serde_json::from_slice(&body.to_json("s3://b/k").unwrap()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "command",
                "expires_at",
                "host",
                "lock_id",
                "pid",
                "started_at"
            ]
        );
        assert_eq!(serde_json::from_value::<LockBody>(json).unwrap(), body);
        assert_eq!(body.holder().pid, std::process::id());
        assert!(
            body.describe().contains("medtech up"),
            "{}",
            body.describe()
        );
        assert!(
            body.describe().ends_with("lock id id-1"),
            "{}",
            body.describe()
        );
    }

    #[test]
    fn a_lease_expires_at_its_end_and_never_overflows() {
        let now = Utc::now();
        let body = LockBody::new("id", "up", now, LEASE);
        assert!(!body.is_expired(now));
        assert!(!body.is_expired(now + TimeDelta::seconds(59)));
        assert!(body.is_expired(now + TimeDelta::seconds(60)));
        assert_eq!(expiry(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn lock_ids_are_random_version_4_uuids() {
        let (a, b) = (new_lock_id().unwrap(), new_lock_id().unwrap());
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }

    #[tokio::test]
    async fn a_second_run_is_refused_naming_the_holder_until_release() {
        let s3 = FakeS3::default();
        let first = Arc::new(take(&s3, "up", Duration::ZERO).await.unwrap());
        assert_eq!(body_of(&s3).lock_id, first.lock_id());

        let err = take(&s3, "destroy", Duration::ZERO).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StateError::Locked { .. }), "{text}");
        assert!(
            text.starts_with("s3://team-state/medtech/dev.json is locked by pid"),
            "{text}"
        );
        assert!(text.contains("medtech up"), "{text}");
        assert!(
            text.contains(&format!("lock id {}", first.lock_id())),
            "{text}"
        );
        assert!(text.contains("medtech state unlock"), "{text}");

        first.release().await.unwrap();
        assert!(s3.object("medtech/dev.lock").is_none());
        take(&s3, "destroy", Duration::ZERO).await.unwrap();
    }

    #[tokio::test]
    async fn a_waiting_run_gets_the_lock_when_it_is_released() {
        let s3 = FakeS3::default();
        let first = Arc::new(take(&s3, "up", Duration::ZERO).await.unwrap());
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            first.release().await.unwrap();
        });
        let second = take(&s3, "destroy", Duration::from_secs(4)).await.unwrap();
        releaser.await.unwrap();
        assert_eq!(body_of(&s3).lock_id, second.lock_id());
        assert_eq!(body_of(&s3).command, "destroy");
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_and_its_holder_learns_it() {
        let s3 = FakeS3::default();
        let dead = take(&s3, "up", Duration::ZERO).await.unwrap();
        let mut expired = body_of(&s3);
        expired.expires_at = Utc::now() - TimeDelta::seconds(1);
        // The dead run's last renewal, as if its lease had run out.
        *dead.current.lock().await = Current {
            etag: s3.put_raw("medtech/dev.lock", &expired.to_json("s3://b/k").unwrap()),
            released: false,
        };
        let next = take(&s3, "up", Duration::ZERO).await.unwrap();
        assert_eq!(body_of(&s3).lock_id, next.lock_id());

        dead.check().unwrap();
        let err = dead.renew().await.unwrap_err().to_string();
        assert!(err.contains("this run's lock was lost"), "{err}");
        assert!(
            err.contains(&format!("lock id {}", next.lock_id())),
            "{err}"
        );
        assert!(dead.check().is_err());
        // Its release leaves the new holder's lock alone.
        Arc::new(dead).release().await.unwrap();
        assert_eq!(body_of(&s3).lock_id, next.lock_id());
    }

    #[tokio::test]
    async fn lost_answers_to_acquire_renew_and_release_are_recognised() {
        let s3 = FakeS3::default();
        s3.lose_next_answer("PUT");
        let held = Arc::new(take(&s3, "up", Duration::ZERO).await.unwrap());
        let before = body_of(&s3).expires_at;
        tokio::time::sleep(Duration::from_millis(5)).await;
        s3.lose_next_answer("PUT");
        held.renew().await.unwrap();
        assert!(body_of(&s3).expires_at > before);
        held.renew().await.unwrap();
        held.check().unwrap();
        s3.lose_next_answer("DELETE");
        held.release().await.unwrap();
        assert!(s3.object("medtech/dev.lock").is_none());
    }

    #[tokio::test]
    async fn the_renewal_extends_the_lease_until_release() {
        let s3 = FakeS3::default();
        let lease = Duration::from_millis(300);
        let held = S3Lock::acquire(&s3.client(), &at(), &env(), "up", lease, Duration::ZERO)
            .await
            .unwrap();
        let held = Arc::new(held);
        let first = body_of(&s3).expires_at;
        Arc::clone(&held).spawn_renewal();
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(body_of(&s3).expires_at > first);
        assert!(s3.requests("PUT") >= 3, "{}", s3.requests("PUT"));
        held.release().await.unwrap();
        let puts = s3.requests("PUT");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(s3.requests("PUT"), puts);
        assert!(s3.object("medtech/dev.lock").is_none());
    }

    #[tokio::test]
    async fn unlock_breaks_only_the_named_lock_and_says_whose_it_was() {
        let s3 = FakeS3::default();
        let client = s3.client();
        let err = unlock(&client, &at(), &env(), "nope")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("it is not locked"), "{err}");

        let held = take(&s3, "up", Duration::ZERO).await.unwrap();
        let err = unlock(&client, &at(), &env(), "nope")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot unlock s3://team-state/medtech/dev.json: its lock id is"),
            "{err}"
        );
        assert!(
            err.contains(&format!("{}, not nope", held.lock_id())),
            "{err}"
        );
        assert!(err.contains("medtech up"), "{err}");

        let holder = unlock(&client, &at(), &env(), held.lock_id())
            .await
            .unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.command, "up");
        assert!(s3.object("medtech/dev.lock").is_none());
        let err = held.renew().await.unwrap_err().to_string();
        assert!(err.contains("was deleted"), "{err}");

        s3.put_raw("medtech/dev.lock", b"not json");
        let err = take(&s3, "up", Duration::ZERO)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a medtech lock"), "{err}");
        assert!(
            err.contains("delete s3://team-state/medtech/dev.lock"),
            "{err}"
        );
    }
}
