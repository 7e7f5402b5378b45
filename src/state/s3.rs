//! The S3 backend's state object, `s3://BUCKET/PREFIX/<env>.json`: every write is a
//! compare-and-swap on the ETag this run last read or wrote, so a write by anyone else in
//! between (a broken lock, a manual edit) stops the run instead of being overwritten.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{State, StateError};
use crate::aws::{AwsError, AwsResultExt, CallCounter, ErrorKind};
use crate::naming::EnvName;

/// An S3 object key is at most 1,024 bytes; this leaves room for `/<env>.json`.
const MAX_PREFIX_LEN: usize = 990;

/// Where a team keeps its state: a bucket and a key prefix (empty for the bucket's root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct S3Location {
    bucket: String,
    prefix: String,
}

impl S3Location {
    /// Validates `value`; the error completes "FIELD \"VALUE\": ..." with what is wrong and
    /// how to write it, as `EnvName::parse` does.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        const FIX: &str =
            "give it as s3://BUCKET or s3://BUCKET/PREFIX, e.g. s3://acme-medtech-state/teams/data";
        let rest = value
            .strip_prefix("s3://")
            .ok_or_else(|| format!("does not start with s3://; {FIX}"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|p| format!("the bucket name {bucket:?} {p}; {FIX}"))?;
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && prefix.split('/').any(str::is_empty) {
            return Err(format!(
                "the prefix {prefix:?} has an empty path segment (two slashes in a row); {FIX}"
            ));
        }
        if prefix.chars().any(char::is_control) {
            return Err(format!("the prefix holds a control character; {FIX}"));
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(format!(
                "the prefix is {} bytes long; S3 keys leave at most {MAX_PREFIX_LEN} for it here",
                prefix.len()
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `PREFIX/E.json`: other tools look for exactly this key.
    pub(crate) fn state_key(&self, env: &EnvName) -> String {
        self.key(&format!("{env}.json"))
    }

    /// `PREFIX/E.lock`: other tools look for exactly this key.
    pub(crate) fn lock_key(&self, env: &EnvName) -> String {
        self.key(&format!("{env}.lock"))
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// `s3://BUCKET/KEY`, how a person names an object of this location.
    pub(crate) fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// S3's naming rules for general purpose buckets; the problem completes "the bucket name X ...".
fn check_bucket(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "is {} characters long; S3 bucket names have 3 to 63",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "holds {c:?}; S3 bucket names have only lowercase letters, digits, dots and hyphens"
        ));
    }
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alphanumeric(name.chars().next()) || !alphanumeric(name.chars().last()) {
        return Err("must start and end with a lowercase letter or a digit".into());
    }
    if name.contains("..") {
        return Err("has two dots in a row, which S3 does not allow".into());
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Err("is an IP address, which S3 does not allow as a bucket name".into());
    }
    Ok(())
}

/// The S3 client for the state backend, from the shared SDK configuration. Give it a counter of
/// its own: the run's counter takes every call that is not a read as a change to the stack,
/// which would make each state write discard the run's batched listings.
pub(crate) fn client(sdk: &SdkConfig, calls: &CallCounter) -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .interceptor(calls.clone())
            // An emulator or proxy behind --endpoint-url serves buckets as paths, not host names.
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// One environment's state object.
#[derive(Debug)]
pub(crate) struct S3Store {
    object: Object,
    location: S3Location,
    env: EnvName,
    /// The ETag this run last read or wrote; `None` while it has seen no object.
    etag: Mutex<Option<String>>,
}

impl S3Store {
    pub(crate) fn new(client: Client, location: S3Location, env: EnvName) -> Self {
        Self {
            object: Object::new(client, &location, location.state_key(&env)),
            location,
            env,
            etag: Mutex::new(None),
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

    /// Replaces the object only if it is still the one this run last read or wrote.
    pub(crate) async fn save(&self, state: &State) -> Result<(), StateError> {
        let body = state.to_json().map_err(|e| StateError::Corrupt {
            path: self.object.url.clone(),
            detail: e.to_string(),
        })?;
        let expected = self.remembered().clone();
        let condition = match &expected {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        if let Outcome::Done(etag) = self.object.put(body.clone(), condition).await? {
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
}

/// Attempts at a call that S3 answers 409 `ConditionalRequestConflict`: another conditional
/// write to the key was in flight; S3 asks for a retry, which the SDK does not make.
const CONFLICT_ATTEMPTS: u32 = 4;

impl Object {
    pub(super) fn new(client: Client, location: &S3Location, key: String) -> Self {
        Self {
            url: location.url(&key),
            client,
            bucket: location.bucket.clone(),
            key,
        }
    }

    /// The object's body and ETag, or `None` if there is none.
    pub(super) async fn get(&self) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        let output = match result {
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            result => result.op("s3:GetObject").map_err(|e| self.aws(e))?,
        };
        let etag = output
            .e_tag()
            .ok_or_else(|| self.aws(AwsError::missing("s3:GetObject", "ETag")))?
            .to_owned();
        let body = output.body.collect().await.map_err(|e| {
            self.aws(AwsError {
                operation: "s3:GetObject",
                kind: ErrorKind::Transient,
                code: None,
                detail: format!("reading the object's body: {e}"),
            })
        })?;
        Ok(Some((body.to_vec(), etag)))
    }

    /// Writes `body` (SSE-KMS, as the issue requires of state) if `condition` holds; the new
    /// ETag when it was written.
    pub(super) async fn put(
        &self,
        body: Vec<u8>,
        condition: Condition<'_>,
    ) -> Result<Outcome<String>, StateError> {
        let mut attempt = 0;
        loop {
            let request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type("application/json")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .body(ByteStream::from(body.clone()));
            let request = match condition {
                Condition::Absent => request.if_none_match("*"),
                Condition::Matches(etag) => request.if_match(etag),
            };
            let result = request.send().await;
            match refusal(&result) {
                Some(Refusal::Condition) => return Ok(Outcome::Refused),
                Some(Refusal::Busy) if attempt + 1 < CONFLICT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(busy_pause(attempt)).await;
                    continue;
                }
                _ => {}
            }
            let output = result.op("s3:PutObject").map_err(|e| self.aws(e))?;
            let etag = output
                .e_tag()
                .ok_or_else(|| self.aws(AwsError::missing("s3:PutObject", "ETag")))?;
            return Ok(Outcome::Done(etag.to_owned()));
        }
    }

    /// Deletes the object if its ETag is `etag`. In a versioned bucket this adds a delete
    /// marker and keeps the versions.
    pub(super) async fn delete(&self, etag: &str) -> Result<Outcome<()>, StateError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .if_match(etag)
                .send()
                .await;
            match refusal(&result) {
                Some(Refusal::Condition) => return Ok(Outcome::Refused),
                Some(Refusal::Busy) if attempt + 1 < CONFLICT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(busy_pause(attempt)).await;
                    continue;
                }
                _ => {}
            }
            result.op("s3:DeleteObject").map_err(|e| self.aws(e))?;
            return Ok(Outcome::Done(()));
        }
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

fn busy_pause(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.min(4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Record;
    use crate::state::fake_s3::FakeS3;
    use crate::state::lease::S3Lock;

    fn env() -> EnvName {
        EnvName::parse("dev").unwrap()
    }

    #[test]
    fn locations_parse_into_keys_and_display_without_a_trailing_slash() {
        let at = S3Location::parse("s3://acme-state.team-1/medtech/teams/").unwrap();
        assert_eq!(at.bucket(), "acme-state.team-1");
        assert_eq!(at.to_string(), "s3://acme-state.team-1/medtech/teams");
        assert_eq!(at.state_key(&env()), "medtech/teams/dev.json");
        assert_eq!(at.lock_key(&env()), "medtech/teams/dev.lock");
        assert_eq!(
            at.url(&at.state_key(&env())),
            "s3://acme-state.team-1/medtech/teams/dev.json"
        );
        for root in ["s3://abc", "s3://abc/", "s3://abc///"] {
            let at = S3Location::parse(root).unwrap();
            assert_eq!(at.to_string(), "s3://abc");
            assert_eq!(at.state_key(&env()), "dev.json");
            assert_eq!(at.lock_key(&env()), "dev.lock");
        }
    }

    #[test]
    fn bad_locations_are_one_line_naming_the_value_and_the_fix() {
        for (value, problem) in [
            ("acme-state/x", "does not start with s3://"),
            ("S3://acme-state", "does not start with s3://"),
            ("s3://", "is 0 characters long"),
            ("s3://ab", "is 2 characters long"),
            (&format!("s3://{}", "a".repeat(64)), "is 64 characters long"),
            ("s3://Acme-State", "holds 'A'"),
            ("s3://acme_state", "holds '_'"),
            ("s3://-acme", "must start and end"),
            ("s3://acme.", "must start and end"),
            ("s3://acme..state", "two dots in a row"),
            ("s3://192.168.1.10", "IP address"),
            ("s3://acme-state//x", "empty path segment"),
            ("s3://acme-state/a//b", "empty path segment"),
            ("s3://acme-state/a\tb", "control character"),
            (
                &format!("s3://acme-state/{}", "p".repeat(991)),
                "991 bytes long",
            ),
        ] {
            let text = S3Location::parse(value).unwrap_err();
            assert!(text.contains(problem), "{value}: {text}");
            assert!(
                text.contains("s3://BUCKET/PREFIX") || text.contains("bytes long"),
                "{text}"
            );
            assert!(!text.contains('\n'), "{text}");
        }
    }

    fn sample(vpc: &str) -> State {
        let mut state = State::new(&env(), "us-east-1", "123456789012");
        state.resources.insert("vpc".into(), Record::new(vpc));
        state
    }

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

        store.save(&sample("vpc-1")).await.unwrap();
        let second = sample("vpc-2");
        store.save(&second).await.unwrap();
        let (read, etag) = store.read().await.unwrap().unwrap();
        assert_eq!(read, second);
        let (body, stored) = s3.object("medtech/dev.json").unwrap();
        assert_eq!((body, stored), (second.to_json().unwrap(), etag));
        assert!(s3.every_put_was_kms_encrypted_json());

        // Someone else writes in between: the next write stops and leaves theirs in place.
        s3.put_raw("medtech/dev.json", b"{\"edited\": true}");
        let err = store.save(&sample("vpc-3")).await.unwrap_err();
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
        let err = late.save(&sample("vpc-4")).await.unwrap_err().to_string();
        assert!(err.contains("created after this run found none"), "{err}");
    }

    #[tokio::test]
    async fn a_lost_answer_to_a_write_is_no_conflict() {
        let s3 = FakeS3::default();
        let at = S3Location::parse("s3://team-state").unwrap();
        let store = S3Store::new(s3.client(), at.clone(), env());
        assert!(store.read().await.unwrap().is_none());
        s3.lose_next_answer("PUT");
        store.save(&sample("vpc-1")).await.unwrap();
        s3.lose_next_answer("PUT");
        store.save(&sample("vpc-2")).await.unwrap();
        // The adopted ETag is the object's: the next write goes through.
        let third = sample("vpc-3");
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
        store.save(&sample("vpc-1")).await.unwrap();
        s3.lose_next_answer("DELETE");
        store.clear().await.unwrap();
        assert!(s3.object("dev.json").is_none());

        store.save(&sample("vpc-1")).await.unwrap();
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
