//! The S3 state object's history (`state history`, `state show --version`): its versions,
//! newest first, each with the run that wrote it, and the state one version holds. Every
//! medtech write labels its version with user metadata (`LABEL_*` in `s3`); S3 lists versions
//! without their metadata, so each version shown is asked for it with a HeadObject.

use std::collections::HashMap;

use aws_sdk_s3::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::s3::{LABEL_COMMAND, LABEL_HOST, LABEL_LOCK_ID, read_body};
use super::{State, StateError};
use crate::aws::{AwsError, AwsResultExt};
use crate::config::location::S3Location;
use crate::naming::EnvName;

/// HeadObject calls in flight at once: a history of 20 is read in three round trips.
const HEADS_AT_ONCE: usize = 8;

/// One version of the state object, or a delete marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Version {
    pub version_id: String,
    pub time: DateTime<Utc>,
    /// The object's current version (or marker): what `state show` reads.
    pub latest: bool,
    /// A delete marker: the state was removed (by `destroy` or `migrate`), its versions kept.
    pub deleted: bool,
    /// `None` for a delete marker, which carries no metadata, and for a version written
    /// outside medtech (by hand, by another tool).
    pub written_by: Option<Writer>,
}

/// The run that wrote a version, from the version's labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Writer {
    pub command: String,
    pub host: String,
    pub lock_id: String,
}

impl Writer {
    /// The writer a version's metadata names; all three labels or none, as medtech writes them.
    fn from_labels(metadata: Option<&HashMap<String, String>>) -> Option<Self> {
        // Metadata is whatever the writer sent; keep control characters off the terminal.
        let label = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .map(|value| value.chars().filter(|c| !c.is_control()).collect())
        };
        Some(Self {
            command: label(LABEL_COMMAND)?,
            host: label(LABEL_HOST)?,
            lock_id: label(LABEL_LOCK_ID)?,
        })
    }
}

/// The newest versions of the state object, and how many older ones were left out.
#[derive(Debug)]
pub(crate) struct History {
    pub versions: Vec<Version>,
    pub older: usize,
}

/// A listed version before its labels are read.
struct Listed {
    version_id: String,
    time: DateTime<Utc>,
    latest: bool,
    deleted: bool,
}

/// The state object of one environment, as the calls here address it and their errors name it.
struct StateObject<'a> {
    bucket: &'a str,
    key: String,
    url: String,
}

impl<'a> StateObject<'a> {
    fn new(location: &'a S3Location, env: &EnvName) -> Self {
        let key = location.state_key(env);
        Self {
            bucket: location.bucket(),
            url: location.url(&key),
            key,
        }
    }

    /// A failed call, as the state error that names the object.
    fn aws(&self, source: AwsError) -> StateError {
        StateError::Aws {
            location: self.url.clone(),
            source,
        }
    }
}

/// The newest `shown` versions of the state object of `env`, newest first.
pub(crate) async fn list(
    client: &Client,
    location: &S3Location,
    env: &EnvName,
    shown: usize,
) -> Result<History, StateError> {
    let object = StateObject::new(location, env);
    let mut listed = Vec::new();
    let mut marker: Option<(Option<String>, Option<String>)> = None;
    loop {
        let mut request = client
            .list_object_versions()
            .bucket(object.bucket)
            .prefix(&object.key);
        if let Some((key_marker, version_marker)) = marker.take() {
            request = request
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker);
        }
        let page = request
            .send()
            .await
            .op("s3:ListBucketVersions")
            .map_err(|e| object.aws(e))?;
        let versions = page.versions().iter().map(|v| {
            (
                v.key(),
                v.version_id(),
                v.last_modified(),
                v.is_latest(),
                false,
            )
        });
        let markers = page.delete_markers().iter().map(|m| {
            (
                m.key(),
                m.version_id(),
                m.last_modified(),
                m.is_latest(),
                true,
            )
        });
        // The prefix also matches longer keys (`dev.json2`); they sort after the state key.
        let mut past_the_key = false;
        for (at, version_id, time, latest, deleted) in versions.chain(markers) {
            if at != Some(object.key.as_str()) {
                past_the_key = true;
                continue;
            }
            let missing = |field| object.aws(AwsError::missing("s3:ListBucketVersions", field));
            let time = time.ok_or_else(|| missing("LastModified"))?;
            listed.push(Listed {
                version_id: version_id.ok_or_else(|| missing("VersionId"))?.to_owned(),
                time: DateTime::from_timestamp(time.secs(), time.subsec_nanos())
                    .ok_or_else(|| missing("LastModified in range"))?,
                latest: latest.unwrap_or(false),
                deleted,
            });
        }
        if past_the_key || page.is_truncated() != Some(true) {
            break;
        }
        marker = Some((
            page.next_key_marker().map(str::to_owned),
            page.next_version_id_marker().map(str::to_owned),
        ));
    }
    newest_first(&mut listed);
    let older = listed.len().saturating_sub(shown);
    listed.truncate(shown);
    let versions = futures::stream::iter(listed)
        .map(|listed| labelled(client, &object, listed))
        .buffered(HEADS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(History { versions, older })
}

/// Sorts by time, newest first. S3 lists a key's versions newest first, but versions and
/// delete markers apart; a stable sort keeps S3's order among versions written within the
/// timestamps' resolution, and the current one first among equals.
fn newest_first(listed: &mut [Listed]) {
    listed.sort_by(|a, b| b.time.cmp(&a.time).then(b.latest.cmp(&a.latest)));
}

/// The listed version with the run that wrote it (none for a delete marker, which has no
/// metadata and answers HeadObject with 405).
async fn labelled(
    client: &Client,
    object: &StateObject<'_>,
    listed: Listed,
) -> Result<Version, StateError> {
    let written_by = if listed.deleted {
        None
    } else {
        let head = client
            .head_object()
            .bucket(object.bucket)
            .key(&object.key)
            .version_id(&listed.version_id)
            .send()
            .await
            // HeadObject of a version is authorised as GetObjectVersion.
            .op("s3:GetObjectVersion")
            .map_err(|e| object.aws(e))?;
        Writer::from_labels(head.metadata())
    };
    Ok(Version {
        version_id: listed.version_id,
        time: listed.time,
        latest: listed.latest,
        deleted: listed.deleted,
        written_by,
    })
}

/// What one version id of the state object holds.
#[derive(Debug)]
pub(crate) enum VersionRead {
    State(State),
    /// The object has no version with that id.
    Unknown,
    /// The id is a delete marker's: it holds no state.
    DeleteMarker,
}

/// The state that version `version` of the state object of `env` holds.
pub(crate) async fn read_version(
    client: &Client,
    location: &S3Location,
    env: &EnvName,
    version: &str,
) -> Result<VersionRead, StateError> {
    let object = StateObject::new(location, env);
    let result = client
        .get_object()
        .bucket(object.bucket)
        .key(&object.key)
        .version_id(version)
        .send()
        .await;
    let output = match result {
        // S3 answers an id that is not one of the key's versions with NoSuchVersion, and one
        // that is not a version id at all with InvalidArgument.
        Err(e)
            if matches!(
                e.code(),
                Some("NoSuchVersion" | "NoSuchKey" | "InvalidArgument")
            ) =>
        {
            return Ok(VersionRead::Unknown);
        }
        Err(e) if e.code() == Some("MethodNotAllowed") => return Ok(VersionRead::DeleteMarker),
        result => result
            .op("s3:GetObjectVersion")
            .map_err(|e| object.aws(e))?,
    };
    let body = read_body(output.body, "s3:GetObjectVersion")
        .await
        .map_err(|e| object.aws(e))?;
    let shown = format!("{} version {version}", object.url);
    let text = String::from_utf8(body).map_err(|e| StateError::Corrupt {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    State::parse(&text, &shown).map(VersionRead::State)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn listed(id: &str, seconds: i64, latest: bool, deleted: bool) -> Listed {
        Listed {
            version_id: id.into(),
            time: at(seconds),
            latest,
            deleted,
        }
    }

    #[test]
    fn versions_and_markers_merge_newest_first_keeping_s3_order_among_equals() {
        // As S3 lists them: versions newest first, then the delete markers apart.
        let mut all = vec![
            listed("v3", 20, false, false),
            listed("v2", 10, false, false),
            listed("v1", 10, false, false),
            listed("m2", 30, true, true),
            listed("m1", 20, false, true),
        ];
        newest_first(&mut all);
        let ids: Vec<&str> = all.iter().map(|l| l.version_id.as_str()).collect();
        assert_eq!(ids, ["m2", "v3", "m1", "v2", "v1"]);

        // Within one timestamp, the current version comes first.
        let mut tied = vec![listed("old", 5, false, false), listed("cur", 5, true, true)];
        newest_first(&mut tied);
        assert_eq!(tied[0].version_id, "cur");
    }

    #[test]
    fn a_writer_needs_all_three_labels_and_loses_control_characters() {
        let labels = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let full = labels(&[
            (LABEL_COMMAND, "up"),
            (LABEL_HOST, "ci-7\u{1b}[2J"),
            (LABEL_LOCK_ID, "3f1c"),
        ]);
        assert_eq!(
            Writer::from_labels(Some(&full)),
            Some(Writer {
                command: "up".into(),
                host: "ci-7[2J".into(),
                lock_id: "3f1c".into(),
            })
        );
        let partial = labels(&[(LABEL_COMMAND, "up"), (LABEL_HOST, "ci-7")]);
        assert_eq!(Writer::from_labels(Some(&partial)), None);
        assert_eq!(Writer::from_labels(None), None);
    }
}
