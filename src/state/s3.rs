//! The S3 backend's state object, `s3://BUCKET/PREFIX/<env>.json`: every write is a
//! compare-and-swap on the ETag this run last read or wrote, so a write by anyone else in
//! between (a broken lock, a manual edit) stops the run instead of being overwritten.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{State, StateError};
use crate::aws::{AwsError, AwsResultExt, ErrorKind};
use crate::config::location::S3Location;
use crate::naming::EnvName;

/// User metadata keys on each version of the state object (S3 sends them as
/// `x-amz-meta-<key>`): the command that wrote it, from which host, under which lock.
pub(crate) const LABEL_COMMAND: &str = "medtech-command";
pub(crate) const LABEL_HOST: &str = "medtech-host";
pub(crate) const LABEL_LOCK_ID: &str = "medtech-lock-id";

/// One environment's state object.
#[derive(Debug)]
pub(crate) struct S3Store {
    object: Object,
    location: S3Location,
    env: EnvName,
    /// The ETag this run last read or wrote; `None` while it has seen no object.
    etag: Mutex<Option<String>>,
    /// Metadata on every version this run writes: its command, host and lock id.
    labels: Mutex<Option<HashMap<String, String>>>,
    /// The state read beside the lock's conditional write (`Store::s3_locked`), handed out
    /// once by `read`; trusted only once `unchanged` says the object is still the one read.
    early: Mutex<Option<Option<State>>>,
}

impl S3Store {
    pub(crate) fn new(client: Client, location: S3Location, env: EnvName) -> Self {
        Self {
            object: Object::new(client, &location, location.state_key(&env))
                .encrypted(Some(ServerSideEncryption::AwsKms)),
            location,
            env,
            etag: Mutex::new(None),
            labels: Mutex::new(None),
            early: Mutex::new(None),
        }
    }

    /// Names the run in the metadata of every version it writes (`LABEL_*` keys).
    pub(crate) fn label(&self, command: &str, lock_id: &str) {
        let host = hostname::get().map_or_else(
            |_| "unknown".to_owned(),
            |h| h.to_string_lossy().into_owned(),
        );
        *self.labels.lock().unwrap_or_else(PoisonError::into_inner) = Some(HashMap::from([
            (LABEL_COMMAND.to_owned(), command.to_owned()),
            (LABEL_HOST.to_owned(), host),
            (LABEL_LOCK_ID.to_owned(), lock_id.to_owned()),
        ]));
    }

    /// The store, once its bucket is found fit for state: versioned, so that every write can
    /// be undone, and read for its default encryption, which decides how writes ask for KMS.
    pub(crate) async fn open(
        client: Client,
        location: S3Location,
        env: EnvName,
    ) -> Result<Self, StateError> {
        let mut store = Self::new(client, location, env);
        let (versioning, encryption) = futures::join!(
            store
                .client()
                .get_bucket_versioning()
                .bucket(store.location.bucket())
                .send(),
            store
                .client()
                .get_bucket_encryption()
                .bucket(store.location.bucket())
                .send(),
        );
        let versioning = match versioning {
            Err(e) if e.code() == Some("NoSuchBucket") => {
                return Err(store.unfit(format!(
                    "the bucket {} does not exist; create it with `medtech state bootstrap {}`, or fix the bucket name",
                    store.location.bucket(),
                    store.location
                )));
            }
            versioning => versioning
                .op("s3:GetBucketVersioning")
                .map_err(|e| store.object.aws(e))?,
        };
        if versioning.status() != Some(&BucketVersioningStatus::Enabled) {
            return Err(store.unfit(format!(
                "the bucket {bucket} does not keep versions, so a bad write could not be undone; turn versioning on (`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`, or `medtech state bootstrap {}`)",
                store.location,
                bucket = store.location.bucket(),
            )));
        }
        let default_kms = match encryption {
            // Buckets made before 2023 can have no default encryption at all.
            Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => false,
            encryption => encryption
                // Named by its IAM action, as a refusal names what to allow.
                .op("s3:GetEncryptionConfiguration")
                .map_err(|e| store.object.aws(e))?
                .server_side_encryption_configuration()
                .is_some_and(|c| {
                    c.rules().iter().any(|r| {
                        r.apply_server_side_encryption_by_default()
                            .is_some_and(|d| {
                                matches!(
                                    d.sse_algorithm(),
                                    ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse
                                )
                            })
                    })
                }),
        };
        if default_kms {
            store.object = store.object.encrypted(None);
        }
        Ok(store)
    }

    fn unfit(&self, problem: String) -> StateError {
        StateError::Unfit {
            location: self.location.to_string(),
            problem,
        }
    }

    /// `s3://BUCKET/PREFIX/E.json`, for messages and `State::check_owner`.
    pub(crate) fn url(&self) -> String {
        self.object.url.clone()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.object.client
    }

    pub(crate) fn location(&self) -> &S3Location {
        &self.location
    }

    pub(crate) fn env(&self) -> &EnvName {
        &self.env
    }

    /// Reads the state and remembers its ETag as the one the next write must replace.
    pub(crate) async fn read(&self) -> Result<Option<(State, String)>, StateError> {
        let early = self
            .early
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(early) = early {
            let etag = self.remembered().clone();
            return Ok(early.zip(etag));
        }
        let found = self.object.get().await?;
        *self.remembered() = found.as_ref().map(|(_, etag)| etag.clone());
        let Some((body, etag)) = found else {
            return Ok(None);
        };
        let text = String::from_utf8(body).map_err(|e| StateError::Corrupt {
            path: self.object.url.clone(),
            detail: e.to_string(),
        })?;
        Ok(Some((State::parse(&text, &self.object.url)?, etag)))
    }

    /// Keeps `read`, made by another store of the same object before this one was opened,
    /// as this run's read.
    pub(crate) fn keep_early_read(&self, read: Option<(State, String)>) {
        let (state, etag) = read.unzip();
        *self.remembered() = etag;
        *self.early.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
    }

    /// Whether the object is still the one this run last read or wrote (or still absent).
    pub(crate) async fn unchanged(&self) -> Result<bool, StateError> {
        let now = self.object.etag().await?;
        Ok(now == *self.remembered())
    }

    /// Replaces the object only if it is still the one this run last read or wrote.
    pub(crate) async fn save(&self, state: &State) -> Result<(), StateError> {
        let body = state
            .to_json()
            .map_err(|e| StateError::unserializable(&self.object.url, e))?;
        let expected = self.remembered().clone();
        let condition = match &expected {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        let labels = self
            .labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Outcome::Done(etag) = self
            .object
            .put_labelled(body.clone(), condition, labels)
            .await?
        {
            *self.remembered() = Some(etag);
            return Ok(());
        }
        // The SDK retries a put whose answer was lost; if the first attempt landed, the retry
        // is refused although the object holds exactly what this run sent.
        match self.object.get().await? {
            Some((current, etag)) if current == body => {
                *self.remembered() = Some(etag);
                Ok(())
            }
            found => Err(self.conflict(expected.as_deref(), found.map(|(_, etag)| etag))),
        }
    }

    /// Deletes the object after a complete `destroy`; a versioned bucket keeps its history.
    /// Only the object this run last read or wrote is deleted.
    pub(crate) async fn clear(&self) -> Result<(), StateError> {
        let Some(expected) = self.remembered().clone() else {
            return Ok(());
        };
        if let Outcome::Refused = self.object.delete(&expected).await? {
            // Refused also when a retried delete finds its first attempt's delete marker.
            if let Some((_, etag)) = self.object.get().await? {
                return Err(self.conflict(Some(&expected), Some(etag)));
            }
        }
        *self.remembered() = None;
        Ok(())
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.etag.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conflict(&self, expected: Option<&str>, found: Option<String>) -> StateError {
        let what = match (expected, found) {
            (Some(expected), Some(found)) => {
                format!("its ETag is now {found}, where this run last saw {expected}")
            }
            (Some(_), None) => "it was deleted".to_owned(),
            (None, _) => "it was created after this run found none".to_owned(),
        };
        StateError::Conflict {
            location: self.object.url.clone(),
            detail: format!(
                "{what}; see who wrote it in the object's versions, make sure no other run is working on this environment, then run the command again"
            ),
        }
    }
}

/// What a write or delete must find for it to apply.
#[derive(Clone, Copy, Debug)]
pub(super) enum Condition<'a> {
    /// No object at the key (`If-None-Match: *`).
    Absent,
    /// The object with this ETag (`If-Match`).
    Matches(&'a str),
}

/// A conditional call's result: applied, or refused because the condition did not hold (412,
/// or 404 for `If-Match` on a missing object).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome<T> {
    Done(T),
    Refused,
}

/// One object, and the conditional calls the store and the lock make on it.
#[derive(Clone, Debug)]
pub(super) struct Object {
    client: Client,
    bucket: String,
    key: String,
    pub(super) url: String,
    /// What each write asks for: for state, SSE-KMS, unless the bucket's default encryption is
    /// KMS already, whose key (the bucket's own) is better than the account's `aws/s3`.
    encryption: Option<ServerSideEncryption>,
}

/// Attempts at a call that S3 answers 409 `ConditionalRequestConflict`: another conditional
/// write to the key was in flight; S3 asks for a retry, which the SDK does not make.
const CONFLICT_ATTEMPTS: u32 = 4;

impl Object {
    pub(super) fn new(client: Client, location: &S3Location, key: String) -> Self {
        Self {
            url: location.url(&key),
            client,
            bucket: location.bucket().to_owned(),
            key,
            encryption: None,
        }
    }

    /// The object, written with `encryption` asked for: state is encrypted with KMS; a lock
    /// (who holds it, until when) is left to the bucket's default.
    pub(super) fn encrypted(self, encryption: Option<ServerSideEncryption>) -> Self {
        Self { encryption, ..self }
    }

    /// The object's ETag, `None` when there is none.
    pub(super) async fn etag(&self) -> Result<Option<String>, StateError> {
        let head = self.read(HeadObjectError::is_not_found, |s3, bucket, key| {
            s3.head_object().bucket(bucket).key(key).send()
        });
        let Some(output) = head.await? else {
            return Ok(None);
        };
        self.etag_in("s3:GetObject", output.e_tag()).map(Some)
    }

    /// The object's body and ETag, or `None` if there is none.
    pub(super) async fn get(&self) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let get = self.read(GetObjectError::is_no_such_key, |s3, bucket, key| {
            s3.get_object().bucket(bucket).key(key).send()
        });
        let Some(output) = get.await? else {
            return Ok(None);
        };
        let etag = self.etag_in("s3:GetObject", output.e_tag())?;
        let body = read_body(output.body, "s3:GetObject")
            .await
            .map_err(|e| self.aws(e))?;
        Ok(Some((body, etag)))
    }

    /// What S3 answers `request` made on the object, `None` where the error is one that
    /// `absent` takes for no object.
    async fn read<'a, T, E, R>(
        &'a self,
        absent: fn(&E) -> bool,
        request: impl FnOnce(&'a Client, &'a str, &'a str) -> R,
    ) -> Result<Option<T>, StateError>
    where
        R: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match request(&self.client, &self.bucket, &self.key).await {
            Err(e) if e.as_service_error().is_some_and(absent) => Ok(None),
            // A HeadObject is authorised as GetObject, and named so, as a refusal names what
            // to allow.
            result => result.op("s3:GetObject").map(Some).map_err(|e| self.aws(e)),
        }
    }

    /// Writes `body`, encrypted with KMS, if `condition` holds; the new ETag when it was
    /// written.
    pub(super) async fn put(
        &self,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<Outcome<String>, StateError> {
        self.put_labelled(body, condition, None).await
    }

    /// `put`, with user metadata on the new version (which run wrote it, for `state history`).
    pub(super) async fn put_labelled(
        &self,
        body: Vec<u8>,
        condition: Condition<'_>,
        labels: Option<HashMap<String, String>>,
    ) -> Result<Outcome<String>, StateError> {
        let sent = conditionally(|| {
            let request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type("application/json")
                .set_server_side_encryption(self.encryption.clone())
                .set_metadata(labels.clone())
                .body(ByteStream::from(body.clone()));
            let request = match condition {
                Condition::Absent => request.if_none_match("*"),
                Condition::Matches(etag) => request.if_match(etag),
            };
            request.send()
        })
        .await;
        let Some(result) = sent else {
            return Ok(Outcome::Refused);
        };
        let output = result.op("s3:PutObject").map_err(|e| self.aws(e))?;
        self.etag_in("s3:PutObject", output.e_tag())
            .map(Outcome::Done)
    }

    /// Deletes the object if its ETag is `etag`. In a versioned bucket this adds a delete
    /// marker and keeps the versions.
    pub(super) async fn delete(&self, etag: &str) -> Result<Outcome<()>, StateError> {
        let sent = conditionally(|| {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .if_match(etag)
                .send()
        })
        .await;
        let Some(result) = sent else {
            return Ok(Outcome::Refused);
        };
        result.op("s3:DeleteObject").map_err(|e| self.aws(e))?;
        Ok(Outcome::Done(()))
    }

    /// The ETag in the answer to `operation`, which S3 always gives.
    fn etag_in(&self, operation: &'static str, etag: Option<&str>) -> Result<String, StateError> {
        etag.map(str::to_owned)
            .ok_or_else(|| self.aws(AwsError::missing(operation, "ETag")))
    }

    fn aws(&self, source: AwsError) -> StateError {
        StateError::Aws {
            location: self.url.clone(),
            source,
        }
    }
}

enum Refusal {
    /// 412, or 404 for a key that is not there (a missing bucket is an error, not a refusal).
    Condition,
    /// 409 `ConditionalRequestConflict`.
    Busy,
}

fn refusal<T, E: ProvideErrorMetadata>(
    result: &Result<T, SdkError<E, HttpResponse>>,
) -> Option<Refusal> {
    let Err(SdkError::ServiceError(failure)) = result else {
        return None;
    };
    match failure.raw().status().as_u16() {
        412 => Some(Refusal::Condition),
        404 if failure.err().code() != Some("NoSuchBucket") => Some(Refusal::Condition),
        409 if failure.err().code() == Some("ConditionalRequestConflict") => Some(Refusal::Busy),
        _ => None,
    }
}

/// An object's body, read to the end; a read that breaks off is worth another try.
pub(super) async fn read_body(
    body: ByteStream,
    operation: &'static str,
) -> Result<Vec<u8>, AwsError> {
    let body = body.collect().await.map_err(|e| AwsError {
        operation,
        kind: ErrorKind::Transient,
        code: None,
        detail: format!("reading the object's body: {e}"),
    })?;
    Ok(body.to_vec())
}

/// Sends a conditional request, again after a pause while S3 answers that another
/// conditional write to the key is in flight; `None` when the condition refused it.
async fn conditionally<T, E, F>(
    mut send: impl FnMut() -> F,
) -> Option<Result<T, SdkError<E, HttpResponse>>>
where
    E: ProvideErrorMetadata,
    F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempt = 0;
    loop {
        let result = send().await;
        match refusal(&result) {
            Some(Refusal::Condition) => return None,
            Some(Refusal::Busy) if attempt + 1 < CONFLICT_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(busy_pause(attempt)).await;
            }
            _ => return Some(result),
        }
    }
}

fn busy_pause(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.min(4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fake_s3::FakeS3;
    use crate::state::lease::S3Lock;
    use crate::state::testing::{env, with_vpc};

    #[tokio::test]
    async fn writes_compare_and_swap_and_a_foreign_write_is_a_conflict() {
        let s3 = FakeS3::default();
        let at = S3Location::parse("s3://team-state/medtech").unwrap();
        let store = S3Store::new(s3.client(), at.clone(), env());
        assert_eq!(store.url(), "s3://team-state/medtech/dev.json");
        assert_eq!((store.location(), store.env()), (&at, &env()));
        let took = S3Lock::acquire(
            store.client(),
            store.location(),
            store.env(),
            "up",
            Duration::from_secs(60),
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert!(!took.lock_id().is_empty());
        assert!(store.read().await.unwrap().is_none());

        store.save(&with_vpc("vpc-1")).await.unwrap();
        let second = with_vpc("vpc-2");
        store.save(&second).await.unwrap();
        let (read, etag) = store.read().await.unwrap().unwrap();
        assert_eq!(read, second);
        let (body, stored) = s3.object("medtech/dev.json").unwrap();
        assert_eq!((body, stored), (second.to_json().unwrap(), etag));
        assert!(s3.every_state_put_was_kms_encrypted_json());

        // Someone else writes in between: the next write stops and leaves theirs in place.
        s3.put_raw("medtech/dev.json", b"{\"edited\": true}");
        let err = store.save(&with_vpc("vpc-3")).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StateError::Conflict { .. }), "{text}");
        assert!(
            text.starts_with(
                "someone else wrote the state object s3://team-state/medtech/dev.json"
            ),
            "{text}"
        );
        assert!(text.contains("nothing was overwritten"), "{text}");
        assert_eq!(
            s3.object("medtech/dev.json").unwrap().0,
            b"{\"edited\": true}"
        );

        // A store that saw no object must not replace one created since.
        let late = S3Store::new(s3.client(), at.clone(), env());
        let err = late.save(&with_vpc("vpc-4")).await.unwrap_err().to_string();
        assert!(err.contains("created after this run found none"), "{err}");
    }

    #[tokio::test]
    async fn a_lost_answer_to_a_write_is_no_conflict() {
        let s3 = FakeS3::default();
        let at = S3Location::parse("s3://team-state").unwrap();
        let store = S3Store::new(s3.client(), at.clone(), env());
        assert!(store.read().await.unwrap().is_none());
        s3.lose_next_answer("PUT");
        store.save(&with_vpc("vpc-1")).await.unwrap();
        s3.lose_next_answer("PUT");
        store.save(&with_vpc("vpc-2")).await.unwrap();
        // The adopted ETag is the object's: the next write goes through.
        let third = with_vpc("vpc-3");
        store.save(&third).await.unwrap();
        assert_eq!(s3.object("dev.json").unwrap().0, third.to_json().unwrap());
        assert_eq!(s3.requests("PUT"), 5);
    }

    #[tokio::test]
    async fn clear_deletes_only_the_object_this_run_wrote() {
        let s3 = FakeS3::default();
        let at = S3Location::parse("s3://team-state").unwrap();
        let store = S3Store::new(s3.client(), at.clone(), env());
        store.clear().await.unwrap();
        store.save(&with_vpc("vpc-1")).await.unwrap();
        s3.lose_next_answer("DELETE");
        store.clear().await.unwrap();
        assert!(s3.object("dev.json").is_none());

        store.save(&with_vpc("vpc-1")).await.unwrap();
        s3.put_raw("dev.json", b"{}");
        let err = store.clear().await.unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert!(s3.object("dev.json").is_some());
    }

    #[tokio::test]
    async fn access_problems_name_the_object_and_the_action() {
        let s3 = FakeS3::default();
        s3.deny("GET");
        let at = S3Location::parse("s3://team-state").unwrap();
        let store = S3Store::new(s3.client(), at.clone(), env());
        let err = store.read().await.unwrap_err();
        let StateError::Aws { location, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(location, "s3://team-state/dev.json");
        assert_eq!(source.kind, ErrorKind::AccessDenied);
        assert!(
            err.to_string().contains("may not call s3:GetObject"),
            "{err}"
        );
        // Every call went through the counter given to `client`.
        assert_eq!(
            s3.calls().totals().by_operation.get("S3:GetObject"),
            Some(&1)
        );
    }
}
