//! An environment's state: which AWS ids belong to which logical resource. Typed and versioned,
//! written after every step, and guarded by a lock so two runs cannot interleave. It never holds
//! a secret value: only ids, ARNs and names. It lives either in a local file (`local`) or, for a
//! team, in an S3 object written by compare-and-swap (`s3`) under a leased lock (`lease`).

pub(crate) mod bootstrap;
pub(crate) mod history;
pub(crate) mod lease;
mod local;
pub(crate) mod rotation;
pub(crate) mod s3;
pub(crate) mod store;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, UnderPolicy};
use crate::naming::EnvName;

/// What the person who runs `state bootstrap` needs.
const BOOTSTRAP_POLICY_DOC: &str = "docs/iam-policy-bootstrap.json";

/// 2 added `rotations`; a version-1 document reads as one with none in progress.
pub(crate) const SCHEMA_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub schema_version: u32,
    pub environment: String,
    pub region: String,
    pub account_id: String,
    pub updated_at: DateTime<Utc>,
    pub resources: BTreeMap<String, Record>,
    /// Credential rotations `medtech rotate` has begun and not finished, by secret: their
    /// step and version id, never a value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rotations: BTreeMap<String, rotation::Rotation>,
}

/// One logical resource's identity in AWS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Record {
    pub id: String,
    /// Further non-secret identifiers (ARNs, association ids, endpoints).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

impl Record {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            attrs: BTreeMap::new(),
        }
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path} is locked by {holder}; {}", lock_advice(.path))]
    Locked { path: String, holder: String },
    #[error(
        "{path} is not a readable medtech state file ({detail}); it was left untouched: {}, or move it aside and run again to adopt the resources by their tags",
        restore_advice(.path)
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "{path} has schema version {found}, newer than this medtech understands ({SCHEMA_VERSION}); upgrade medtech"
    )]
    NewerSchema { path: String, found: u32 },
    #[error(
        "{path} belongs to {field} {found:?}, not {expected:?}; point {} elsewhere or use the matching {field}",
        if is_s3(.path) { "--state-backend" } else { "--state-dir" }
    )]
    Mismatch {
        path: String,
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "someone else wrote the state object {location} since this run read it; nothing was overwritten: {detail}"
    )]
    Conflict { location: String, detail: String },
    #[error(
        "{path}: this run's lock was lost ({detail}); another run may be changing this environment: let it finish, then run the command again"
    )]
    LockLost { path: String, detail: String },
    /// A record refused because an earlier background write failed with this message.
    #[error("{0}")]
    Halted(String),
    #[error("--state-backend {location}: {problem}")]
    Unfit { location: String, problem: String },
    #[error("{path}: {detail}")]
    Migrate { path: String, detail: String },
    /// A call of `state bootstrap` failed: a refusal names its own policy document.
    #[error("{location}: {}", UnderPolicy(.source, BOOTSTRAP_POLICY_DOC))]
    Bootstrap {
        location: String,
        #[source]
        source: AwsError,
    },
    #[error("cannot unlock {path}: {detail}")]
    Unlock { path: String, detail: String },
    #[error("{location}: {source}")]
    Aws {
        location: String,
        #[source]
        source: AwsError,
    },
}

impl StateError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A document (the state, a lock's body) that could not be serialized for `place`: nothing
    /// was written there.
    fn unserializable(place: impl fmt::Display, source: serde_json::Error) -> Self {
        Self::Io {
            path: place.to_string(),
            source: io::Error::new(io::ErrorKind::InvalidData, source),
        }
    }
}

// A local file and an S3 object are recovered differently: the file has its `.bak` copy and a
// lock the kernel drops with a dead process; the object has its versions and a lease.
fn is_s3(path: &str) -> bool {
    path.starts_with("s3://")
}

fn lock_advice(path: &str) -> &'static str {
    if is_s3(path) {
        "wait for that run to finish (--lock-timeout waits for it), or, if that run is gone, let its lease run out or break the lock with `medtech state unlock` and the lock id above"
    } else {
        "wait for that run to finish (a lock held by a process that died is released by the system)"
    }
}

fn restore_advice(path: &str) -> String {
    if is_s3(path) {
        "restore an earlier version of the object (the bucket keeps them)".to_owned()
    } else {
        format!("restore {path}.bak")
    }
}

impl State {
    pub(crate) fn new(env: &EnvName, region: &str, account_id: &str) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            environment: env.to_string(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            updated_at: Utc::now(),
            resources: BTreeMap::new(),
            rotations: BTreeMap::new(),
        }
    }

    /// Parses a state document; `shown` names where it came from in errors.
    pub(crate) fn parse(text: &str, shown: &str) -> Result<Self, StateError> {
        // Read the version first, so a newer file is named as such rather than as corrupt.
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: shown.to_owned(),
            detail: e.to_string(),
        };
        let version: Version = serde_json::from_str(text).map_err(corrupt)?;
        if version.schema_version > SCHEMA_VERSION {
            return Err(StateError::NewerSchema {
                path: shown.to_owned(),
                found: version.schema_version,
            });
        }
        serde_json::from_str(text).map_err(corrupt)
    }

    /// Refuses a state that belongs to another environment, region or account.
    pub(crate) fn check_owner(
        &self,
        shown: &str,
        env: &EnvName,
        region: &str,
        account_id: &str,
    ) -> Result<(), StateError> {
        for (field, expected, found) in [
            ("environment", env.as_str(), self.environment.as_str()),
            ("region", region, self.region.as_str()),
            ("account", account_id, self.account_id.as_str()),
        ] {
            if expected != found {
                return Err(StateError::Mismatch {
                    path: shown.to_owned(),
                    field,
                    expected: expected.to_owned(),
                    found: found.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The document as written, to a file or an object alike: pretty JSON and a final newline.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        Ok(json)
    }
}

/// Who holds a lock, so that a blocked run can name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub started_at: DateTime<Utc>,
}

impl Holder {
    fn this_process(command: &str, started_at: DateTime<Utc>) -> Self {
        Self {
            pid: std::process::id(),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown host".into()),
            command: command.to_owned(),
            started_at,
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on {} (medtech {}, started {})",
            self.pid,
            self.host,
            self.command,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// An in-memory S3 behind the real client, for the backend's unit tests: conditional writes
/// and deletes as S3 answers them, answers it can lose after applying the call, and calls it
/// can deny.
#[cfg(test)]
mod fake_s3 {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use aws_config::retry::RetryConfig;
    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use crate::aws::CallCounter;

    #[derive(Clone, Debug, Default)]
    pub(crate) struct FakeS3 {
        inner: Arc<Mutex<Inner>>,
        calls: CallCounter,
    }

    #[derive(Debug, Default)]
    struct Inner {
        /// Key to body and ETag.
        objects: BTreeMap<String, (Vec<u8>, String)>,
        writes: u64,
        lose: Vec<&'static str>,
        denied: Vec<&'static str>,
        /// Method and headers of every request.
        seen: Vec<(String, Vec<(String, String)>)>,
    }

    impl FakeS3 {
        pub(crate) fn client(&self) -> aws_sdk_s3::Client {
            let fake = self.clone();
            let sdk = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url("http://s3.fake")
                .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                    "AKIDFAKE", "secret", None, None, "fake",
                )))
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(Duration::from_millis(1)),
                )
                .http_client(http_client_fn(move |_, _| {
                    SharedHttpConnector::new(fake.clone())
                }))
                .build();
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .interceptor(self.calls.clone())
                    .force_path_style(true)
                    .build(),
            )
        }

        pub(crate) fn calls(&self) -> &CallCounter {
            &self.calls
        }

        fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.inner.lock().unwrap()
        }

        pub(crate) fn object(&self, key: &str) -> Option<(Vec<u8>, String)> {
            self.inner().objects.get(key).cloned()
        }

        /// A write by someone else (another run, a person in the console).
        pub(crate) fn put_raw(&self, key: &str, body: &[u8]) -> String {
            self.inner().write(key, body.to_vec())
        }

        /// The next request with `method` is applied, and then answered with a 500.
        pub(crate) fn lose_next_answer(&self, method: &'static str) {
            self.inner().lose.push(method);
        }

        /// Every request with `method` is refused with 403 AccessDenied.
        pub(crate) fn deny(&self, method: &'static str) {
            self.inner().denied.push(method);
        }

        pub(crate) fn requests(&self, method: &str) -> usize {
            self.inner()
                .seen
                .iter()
                .filter(|(call, _)| call.split(' ').next() == Some(method))
                .count()
        }

        /// Every write of a state object (`.json`; a lock is left to the bucket's default).
        pub(crate) fn every_state_put_was_kms_encrypted_json(&self) -> bool {
            let has = |headers: &[(String, String)], name: &str, value: &str| {
                headers.iter().any(|(n, v)| n == name && v == value)
            };
            self.inner()
                .seen
                .iter()
                .filter(|(call, _)| call.starts_with("PUT ") && call.contains(".json"))
                .all(|(_, headers)| {
                    has(headers, "x-amz-server-side-encryption", "aws:kms")
                        && has(headers, "content-type", "application/json")
                })
        }
    }

    impl Inner {
        fn write(&mut self, key: &str, body: Vec<u8>) -> String {
            self.writes += 1;
            let etag = format!("\"etag-{}\"", self.writes);
            self.objects.insert(key.to_owned(), (body, etag.clone()));
            etag
        }

        fn answer(&mut self, request: &HttpRequest) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
            let method = request.method().to_owned();
            let header = |name: &str| request.headers().get(name).map(str::to_owned);
            self.seen.push((
                format!("{method} {}", request.uri()),
                request
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
                    .collect(),
            ));
            if self.denied.contains(&method.as_str()) {
                return error(403, "AccessDenied");
            }
            // http://s3.fake/BUCKET/KEY?QUERY, path style.
            let path = request.uri().trim_start_matches("http://s3.fake/");
            let path = path.split('?').next().unwrap_or_default();
            let (_bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let current = self.objects.get(key).map(|(_, etag)| etag.clone());
            let precondition = match (header("if-none-match"), header("if-match"), &current) {
                (Some(_), _, Some(_)) => Some(412),
                (_, Some(_), None) => Some(404),
                (_, Some(expected), Some(etag)) if &expected != etag => Some(412),
                _ => None,
            };
            match (method.as_str(), precondition) {
                (_, Some(404)) => error(404, "NoSuchKey"),
                (_, Some(_)) => error(412, "PreconditionFailed"),
                ("GET", None) => match self.objects.get(key) {
                    Some((body, etag)) => (200, vec![("etag", etag.clone())], body.clone()),
                    None => error(404, "NoSuchKey"),
                },
                ("PUT", None) => {
                    let body = request.body().bytes().expect("an in-memory body").to_vec();
                    let etag = self.write(key, body);
                    (200, vec![("etag", etag)], Vec::new())
                }
                ("DELETE", None) => {
                    self.objects.remove(key);
                    (204, Vec::new(), Vec::new())
                }
                (other, None) => panic!("the fake S3 has no {other}"),
            }
        }
    }

    fn error(status: u16, code: &str) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        let body = format!("<Error><Code>{code}</Code><Message>fake</Message></Error>");
        (status, Vec::new(), body.into_bytes())
    }

    impl HttpConnector for FakeS3 {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let mut inner = self.inner();
            let (mut status, mut headers, mut body) = inner.answer(&request);
            let method = request.method();
            if let Some(at) = inner.lose.iter().position(|m| *m == method) {
                inner.lose.remove(at);
                (status, headers, body) = error(500, "InternalError");
            }
            headers.push(("content-type", "application/xml".to_owned()));
            let mut response = HttpResponse::new(
                StatusCode::try_from(status).expect("a valid status"),
                SdkBody::from(body),
            );
            for (name, value) in headers {
                response.headers_mut().insert(name, value);
            }
            HttpConnectorFuture::ready(Ok(response))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::env;

    #[test]
    fn parse_names_the_source_and_owner_checks_every_field() {
        let state = State::new(&env(), "us-east-1", "123456789012");
        let text = String::from_utf8(state.to_json().unwrap()).unwrap();
        assert!(text.ends_with("}\n"), "{text}");
        let parsed = State::parse(&text, "s3://b/dev.json").unwrap();
        assert_eq!(parsed, state);
        parsed
            .check_owner("s3://b/dev.json", &env(), "us-east-1", "123456789012")
            .unwrap();

        let err = State::parse("{", "s3://b/dev.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("s3://b/dev.json is not a readable"),
            "{err}"
        );
        assert!(err.contains("earlier version of the object"), "{err}");
        let err = state
            .check_owner("s3://b/dev.json", &env(), "us-east-1", "999")
            .unwrap_err()
            .to_string();
        assert!(err.contains("point --state-backend elsewhere"), "{err}");
        let err = state
            .check_owner(
                "state/dev.json",
                &EnvName::parse("prod").unwrap(),
                "us-east-1",
                "1",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("environment \"dev\", not \"prod\""), "{err}");
        assert!(err.contains("point --state-dir elsewhere"), "{err}");
    }
}
